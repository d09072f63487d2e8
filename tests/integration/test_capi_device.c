/*
 * test_capi_device.c - the /api/ application API with a real device on MQTT (the harness's
 * minimal client): writable properties pending -> synced / failed, commands (synchronous,
 * asynchronous with completion property, timeout, offline error, queued as C2D), command
 * history, telemetry last value and history, raw data with unmodeled fields, the conformance
 * report (a misspelt telemetry name), the event stream, and persistence across a restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "capi_device_util.h"

/* ---------------------------------------------------------------- properties */

static void test_properties_pending_then_synced(void **state)
{
    (void)state;
    char topic[300], payload[1024];
    device_connect();
    /* validation against the template */
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties", "{\"nmae\":\"x\"}"), 400);
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "did you mean \"name\""));
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties", "{\"brightness\":\"high\"}"),
                     400);
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "$.brightness"));
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties", "{\"state\":true}"), 400);
    assert_int_equal(admin("PATCH", "/api/devices/nobody/properties", "{\"name\":\"x\"}"), 404);
    /* write: 202 pending, the device gets the desired patch */
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties",
                           "{\"name\":\"Contoso\",\"brightness\":2}"),
                     202);
    double ver = jnum(R.json, "$metadata.name.desiredVersion");
    assert_true(ver >= 1);
    assert_string_equal(capi_jstr(R.json, "$metadata.name.state"), "pending");
    assert_int_equal(next_publish("$iothub/twin/PATCH/properties/desired/", topic, sizeof topic,
                                  payload, sizeof payload),
                     0);
    cJSON *patch = cJSON_Parse(payload);
    assert_string_equal(capi_jstr(patch, "name"), "Contoso");
    assert_int_equal((int)jnum(patch, "$version"), (int)ver);
    cJSON_Delete(patch);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/properties", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "$metadata.name.state"), "pending");
    assert_string_equal(capi_jstr(R.json, "$metadata.name.desiredValue"), "Contoso");
    /* the device acknowledges name, refuses brightness */
    char ack[300];
    snprintf(ack, sizeof ack,
             "{\"name\":{\"value\":\"Contoso\",\"ac\":200,\"av\":%d,\"ad\":\"completed\"},"
             "\"brightness\":{\"value\":2,\"ac\":500,\"av\":%d,\"ad\":\"LED driver error\"}}",
             (int)ver, (int)ver);
    report(ack);
    struct prop_want synced = {"name", "synced"};
    assert_true(poll_get("/api/devices/" DEV "/properties", prop_state_is, &synced));
    assert_int_equal((int)jnum(R.json, "$metadata.name.ackVersion"), (int)ver);
    assert_int_equal((int)jnum(R.json, "$metadata.name.ackCode"), 200);
    assert_string_equal(capi_jstr(R.json, "name"), "Contoso");
    assert_string_equal(capi_jstr(R.json, "$metadata.brightness.state"), "failed");
    assert_int_equal((int)jnum(R.json, "$metadata.brightness.ackCode"), 500);
    assert_string_equal(capi_jstr(R.json, "$metadata.brightness.ackDescription"),
                        "LED driver error");
    /* a newer write: an ack of the older version keeps it pending */
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties", "{\"name\":\"Fabrikam\"}"),
                     202);
    double ver2 = jnum(R.json, "$metadata.name.desiredVersion");
    assert_true(ver2 > ver);
    assert_int_equal(next_publish("$iothub/twin/PATCH/properties/desired/", topic, sizeof topic,
                                  payload, sizeof payload),
                     0);
    report(ack);
    usleep(300 * 1000);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/properties", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "$metadata.name.state"), "pending");
    snprintf(ack, sizeof ack, "{\"name\":{\"value\":\"Fabrikam\",\"ac\":200,\"av\":%d}}",
             (int)ver2);
    report(ack);
    assert_true(poll_get("/api/devices/" DEV "/properties", prop_state_is, &synced));
    assert_string_equal(capi_jstr(R.json, "name"), "Fabrikam");
    /* reported read-only properties appear with their update time */
    report("{\"manufacturer\":\"iotc\",\"state\":true}");
    struct prop_want dummy = {"manufacturer", NULL};
    (void)dummy;
    for (int i = 0; i < 50; i++) {
        admin("GET", "/api/devices/" DEV "/properties", NULL);
        if (capi_jstr(R.json, "manufacturer") != NULL)
            break;
        usleep(100 * 1000);
    }
    assert_string_equal(capi_jstr(R.json, "manufacturer"), "iotc");
    assert_non_null(capi_jstr(R.json, "$metadata.manufacturer.lastUpdateTime"));
    assert_null(capi_jget(R.json, "$metadata.manufacturer.state"));
}

/* ---------------------------------------------------------------- commands */

static bool last_cmd_completed(const cJSON *o, const void *arg)
{
    (void)arg;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    const cJSON *last = cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1);
    const char *st = capi_jstr(last, "status");
    return st != NULL && strcmp(st, "completed") == 0;
}

static void test_commands_sync_async_timeout(void **state)
{
    (void)state;
    struct bg b;
    char req[256];
    if (!M_open)
        device_connect();
    /* validation */
    assert_int_equal(admin("POST", "/api/devices/" DEV "/commands/blink", "{\"request\":\"x\"}"),
                     400);
    assert_int_equal(
        admin("POST", "/api/devices/" DEV "/commands/blink", "{\"responseTimeout\":2}"), 400);
    assert_int_equal(
        admin("POST", "/api/devices/" DEV "/commands/blink", "{\"connectionTimeout\":31}"), 400);
    assert_int_equal(admin("POST", "/api/devices/" DEV "/commands/blinkk", "{\"request\":1}"), 404);
    assert_string_equal(R.error_code, "CapabilityNotFound");
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "did you mean \"blink\""));
    /* synchronous */
    bg_start(&b, "POST", "/api/devices/" DEV "/commands/blink",
             "{\"request\":3,\"responseTimeout\":10}");
    answer_method("blink", 200, "{\"description\":\"Blinking LED every 3 seconds\"}", req,
                  sizeof req);
    bg_join(&b);
    assert_string_equal(req, "3");
    assert_int_equal(b.status, 201);
    assert_int_equal((int)jnum(b.json, "responseCode"), 200);
    assert_string_equal(capi_jstr(b.json, "response.description"), "Blinking LED every 3 seconds");
    assert_string_equal(capi_jstr(b.json, "status"), "completed");
    assert_int_equal((int)jnum(b.json, "request"), 3);
    cJSON_Delete(b.json);
    /* asynchronous: 202 now, completion property later */
    bg_start(&b, "POST", "/api/devices/" DEV "/commands/rundiagnostics", NULL);
    answer_method("rundiagnostics", 202, "\"Diagnostics run started\"", req, sizeof req);
    bg_join(&b);
    assert_int_equal(b.status, 201);
    assert_int_equal((int)jnum(b.json, "responseCode"), 202);
    assert_string_equal(capi_jstr(b.json, "status"), "pending");
    cJSON_Delete(b.json);
    report("{\"rundiagnostics\":{\"value\":\"Diagnostics run complete\"}}");
    assert_true(poll_get("/api/devices/" DEV "/commands/rundiagnostics", last_cmd_completed, NULL));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(R.json, "value");
    const cJSON *last = cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1);
    assert_string_equal(capi_jstr(last, "completion"), "Diagnostics run complete");
    assert_non_null(capi_jstr(last, "completedTime"));
    /* the completion is a command, not a property */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/properties", NULL), 200);
    assert_null(capi_jget(R.json, "rundiagnostics"));
    /* the device does not answer: 504 after responseTimeout */
    bg_start(&b, "POST", "/api/devices/" DEV "/commands/turnon", "{\"responseTimeout\":5}");
    char topic[300];
    assert_int_equal(
        next_publish("$iothub/methods/POST/turnon/", topic, sizeof topic, req, sizeof req), 0);
    bg_join(&b);
    assert_int_equal(b.status, 504);
    assert_string_equal(b.code, "DeviceTimeout");
    cJSON_Delete(b.json);
    /* history: per command and for the device */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/commands/blink", NULL), 200);
    v = cJSON_GetObjectItemCaseSensitive(R.json, "value");
    assert_int_equal(cJSON_GetArraySize(v), 1);
    assert_int_equal((int)jnum(cJSON_GetArrayItem(v, 0), "responseCode"), 200);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/commands?$top=2", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "value")), 2);
    assert_non_null(capi_jstr(R.json, "nextLink"));
    char next[1024];
    snprintf(next, sizeof next, "%s", capi_jstr(R.json, "nextLink"));
    capi_resp_free(&R);
    assert_int_equal(
        capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", next, NULL, 10000, &R), 0);
    v = cJSON_GetObjectItemCaseSensitive(R.json, "value");
    assert_true(cJSON_GetArraySize(v) >= 1);
    const cJSON *failed = cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1);
    assert_string_equal(capi_jstr(failed, "name"), "turnon");
    assert_string_equal(capi_jstr(failed, "status"), "failed");
}

static void test_commands_offline(void **state)
{
    (void)state;
    char topic[300], payload[256];
    device_close();
    for (int i = 0; i < 50; i++) {
        admin("GET", "/api/devices/" DEV, NULL);
        if (cJSON_IsFalse(capi_jget(R.json, "connected")))
            break;
        usleep(100 * 1000);
    }
    assert_true(cJSON_IsFalse(capi_jget(R.json, "connected")));
    assert_int_equal(admin("POST", "/api/devices/" DEV "/commands/turnon", "{}"), 409);
    assert_string_equal(R.error_code, "DeviceNotConnected");
    /* turnoff is queue-if-offline (template customization): a C2D message */
    assert_int_equal(admin("POST", "/api/devices/" DEV "/commands/turnoff", NULL), 201);
    assert_string_equal(capi_jstr(R.json, "status"), "queued");
    device_connect();
    assert_int_equal(th_mqtt_subscribe(&M, "devices/" DEV "/messages/devicebound/#", 1), 1);
    assert_int_equal(next_publish("devices/" DEV "/messages/devicebound/", topic, sizeof topic,
                                  payload, sizeof payload),
                     0);
    assert_non_null(strstr(topic, "method-name=turnoff"));
    assert_non_null(strstr(topic, "iothub-ack=none"));
    assert_string_equal(payload, "@");
}

/* ---------------------------------------------------------------- telemetry, raw, conformance */

static bool has_humid_42(const cJSON *o, const void *arg)
{
    (void)arg;
    return jnum(o, "value") == 42;
}

static int count_pages(const char *first, int *out_pages)
{
    int total = 0, pages = 0;
    char next[2048];
    assert_int_equal(admin("GET", first, NULL), 200);
    for (;;) {
        total += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "value"));
        pages++;
        const char *nl = capi_jstr(R.json, "nextLink");
        if (nl == NULL)
            break;
        snprintf(next, sizeof next, "%s", nl);
        capi_resp_free(&R);
        assert_int_equal(
            capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", next, NULL, 10000, &R),
            0);
        assert_int_equal(R.status, 200);
    }
    *out_pages = pages;
    return total;
}

static void test_telemetry_raw_conformance(void **state)
{
    (void)state;
    if (!M_open)
        device_connect();
    telemetry("{\"temp\":70.5,\"humid\":40}");
    telemetry("{\"temp\":71.5,\"humid\":40}");
    telemetry("{\"temp\":72.5,\"humid\":40}");
    telemetry("{\"temperature\":21.5,\"humid\":41}");
    telemetry("{\"temp\":\"hot\",\"humid\":42}");
    report("{\"state\":\"true\",\"processorArchitecture\":\"ARM\",\"colour\":\"red\"}");
    assert_true(poll_get("/api/devices/" DEV "/telemetry/humid", has_humid_42, NULL));
    assert_non_null(capi_jstr(R.json, "timestamp"));
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "value"), "hot");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/nosuch", NULL), 404);
    assert_string_equal(R.error_code, "TelemetryNotFound");
    /* the latest message lacks temp: the last value comes from the stored messages */
    telemetry("{\"humid\":43}");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/humid", NULL), 200);
    assert_int_equal((int)jnum(R.json, "value"), 43);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "value"), "hot");
    /* history, paged by 2: four temp values, the string one flagged (wait for the writes) */
    int pages = 0, total = 0;
    for (int i = 0; i < 50 && total < 4; i++) {
        total = count_pages("/api/devices/" DEV "/telemetry/temp/history?$top=2", &pages);
        if (total < 4)
            usleep(100 * 1000);
    }
    assert_int_equal(total, 4);
    assert_int_equal(pages, 2);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(R.json, "value");
    const cJSON *hot = cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1);
    assert_string_equal(capi_jstr(hot, "value"), "hot");
    assert_true(cJSON_IsFalse(capi_jget(hot, "valid")));
    assert_non_null(capi_jstr(hot, "error"));
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp/history?$top=2", NULL), 200);
    assert_true(
        cJSON_IsTrue(capi_jget(cJSON_GetArrayItem(capi_jget(R.json, "value"), 0), "valid")));
    assert_int_equal(
        admin("GET", "/api/devices/" DEV "/telemetry/temp/history?from=2100-01-01T00:00:00Z", NULL),
        200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 0);
    assert_null(capi_jstr(R.json, "nextLink"));
    assert_int_equal(
        admin("GET", "/api/devices/" DEV "/telemetry/temp/history?from=yesterday", NULL), 400);
    /* raw data: the misspelt name is unmodeled, the reported extra property too */
    assert_true(poll_get("/api/devices/" DEV "/rawData?$top=1000", raw_has_unmodeled,
                         "unmodeled.temperature"));
    assert_true(raw_has_unmodeled(R.json, "unmodeled.colour"));
    assert_true(raw_has_unmodeled(R.json, "modeled.processorArchitecture"));
    int all = cJSON_GetArraySize(capi_jget(R.json, "value"));
    bool connected = false, bad_state = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, capi_jget(R.json, "value"))
    {
        if (strcmp(capi_jstr(it, "type"), "connected") == 0)
            connected = true;
        if (strcmp(capi_jstr(it, "type"), "property") == 0 &&
            cJSON_GetArraySize(capi_jget(it, "errors")) > 0 &&
            strstr(cJSON_GetArrayItem(capi_jget(it, "errors"), 0)->valuestring, "state") != NULL)
            bad_state = true;
    }
    assert_true(connected);
    assert_true(bad_state);
    int raw_pages = 0;
    assert_int_equal(count_pages("/api/devices/" DEV "/rawData?$top=3", &raw_pages), all);
    assert_true(raw_pages >= 3);
    /* conformance */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/conformance", NULL), 200);
    assert_false(cJSON_IsTrue(capi_jget(R.json, "conformant")));
    const cJSON *mm = find_mismatch(R.json, "unmodeledTelemetry", "temperature");
    assert_non_null(mm);
    assert_string_equal(capi_jstr(mm, "suggestion"), "temp");
    assert_non_null(strstr(capi_jstr(mm, "message"), "did you mean \"temp\""));
    assert_non_null(find_mismatch(R.json, "schema", "temp"));
    assert_non_null(find_mismatch(R.json, "schema", "state"));
    assert_non_null(find_mismatch(R.json, "unmodeledProperty", "colour"));
    assert_non_null(find_mismatch(R.json, "ackFailed", "brightness"));
    assert_non_null(find_mismatch(R.json, "commandTimeout", "turnon"));
    assert_null(find_mismatch(R.json, "unmodeledTelemetry", "humid"));
    const cJSON *cap;
    bool humid_ok = false, blink_ok = false, name_ok = false;
    cJSON_ArrayForEach(cap, capi_jget(R.json, "capabilities"))
    {
        const char *n = capi_jstr(cap, "name"), *st = capi_jstr(cap, "status");
        humid_ok |= strcmp(n, "humid") == 0 && strcmp(st, "ok") == 0;
        blink_ok |= strcmp(n, "blink") == 0 && strcmp(st, "ok") == 0;
        name_ok |= strcmp(n, "name") == 0 && strcmp(st, "ok") == 0;
    }
    assert_true(humid_ok);
    assert_true(blink_ok);
    assert_true(name_ok);
    /* unassociated devices have no report */
    assert_int_equal(admin("PUT", "/api/devices/loose", "{}"), 200);
    assert_int_equal(admin("GET", "/api/devices/loose/conformance", NULL), 409);
}

/* ---------------------------------------------------------------- event stream */

static void send_for_stream(void *arg)
{
    (void)arg;
    telemetry("{\"temp\":1.5,\"humid\":2}");
}

/* A desired write through the IoT Hub service API (not /api/) reaches the stream too. */
static void service_twin_write(void *arg)
{
    (void)arg;
    struct th_http_response r;
    const char *body = "{\"properties\":{\"desired\":{\"brightness\":1}}}";
    if (th_https(&srv, "PATCH", "/twins/" DEV "?api-version=2021-04-12", "If-Match: \"*\"\r\n",
                 body, true, 5000, &r) == 0)
        free(r.body);
}

static void test_event_stream(void **state)
{
    (void)state;
    if (!M_open)
        device_connect();
    char target[256];
    snprintf(target, sizeof target, "/api/devices/%s/events?" V, DEV);
    char *text = capi_stream(srv.ca_path, srv.https_port, srv.admin_token, target,
                             "event: telemetry", 10000, send_for_stream, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "event: telemetry\ndata: {"));
    assert_non_null(strstr(text, "\"temp\":1.5"));
    free(text);
    text = capi_stream(srv.ca_path, srv.https_port, srv.admin_token, target, "\"brightness\":1",
                       10000, service_twin_write, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "event: desired\ndata: {"));
    free(text);
    /* the stream is authenticated like everything else */
    capi_resp_free(&R);
    assert_int_equal(capi_http(srv.ca_path, srv.https_port, NULL, "GET", target, NULL, 5000, &R),
                     0);
    assert_int_equal(R.status, 401);
    /* the client went away: the next events find the stream closed, the server stays healthy */
    telemetry("{\"temp\":2.5,\"humid\":3}");
    usleep(200 * 1000);
    telemetry("{\"temp\":3.5,\"humid\":4}");
    usleep(200 * 1000);
    assert_int_equal(admin("GET", "/api/devices/" DEV, NULL), 200);
}

/* ---------------------------------------------------------------- restart */

static void test_restart_keeps_history_and_data(void **state)
{
    (void)state;
    device_close();
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/commands/blink", NULL), 200);
    const cJSON *v = capi_jget(R.json, "value");
    assert_int_equal(cJSON_GetArraySize(v), 1);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(v, 0), "status"), "completed");
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(v, 0), "response.description"),
                        "Blinking LED every 3 seconds");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/commands/rundiagnostics", NULL), 200);
    v = capi_jget(R.json, "value");
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1), "completion"),
                        "Diagnostics run complete");
    /* last values come from the stored messages now */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp", NULL), 200);
    assert_true(capi_jget(R.json, "value") != NULL);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/properties", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "$metadata.name.state"), "synced");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/rawData?$top=1000", NULL), 200);
    assert_true(raw_has_unmodeled(R.json, "unmodeled.temperature"));
    assert_int_equal(admin("GET", "/api/devices/" DEV, NULL), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "provisioned");
    /* new commands continue the id sequence */
    assert_int_equal(admin("POST", "/api/devices/" DEV "/commands/turnoff", NULL), 201);
    assert_string_equal(capi_jstr(R.json, "status"), "queued");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/commands?$top=1000", NULL), 200);
    v = capi_jget(R.json, "value");
    const char *prev = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        const char *id = capi_jstr(it, "id");
        if (prev != NULL)
            assert_true(strcmp(prev, id) < 0);
        prev = id;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties_pending_then_synced),
        cmocka_unit_test(test_commands_sync_async_timeout),
        cmocka_unit_test(test_commands_offline),
        cmocka_unit_test(test_telemetry_raw_conformance),
        cmocka_unit_test(test_event_stream),
        cmocka_unit_test(test_restart_keeps_history_and_data),
    };
    return cmocka_run_group_tests_name("capi_device", tests, setup, teardown);
}
