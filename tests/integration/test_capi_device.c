/*
 * test_capi_device.c - the /api/ application API with a real device on MQTT (the harness's
 * minimal client): writable properties pending -> synced / failed, commands (synchronous,
 * asynchronous with completion property, timeout, offline error, queued as C2D), command
 * history, telemetry last value and history, raw data with unmodeled fields, the conformance
 * report (a misspelt telemetry name), association by announced model id, the event stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "../lib/harness.h"
#include "iotc/sas.h"

#define V "api-version=2022-07-31"
#define TID "dtmi:iotc:example:EnvironmentalSensor;1"
#define TID_URL "dtmi%3Aiotc%3Aexample%3AEnvironmentalSensor%3B1"
#define DEV "env-01"

static struct th_central srv;
static struct capi_resp R;
static struct th_mqtt M;
static bool M_open;
static char KEY[128];
static int RID;
static const char *dev_id = DEV;

/* ---------------------------------------------------------------- REST helpers */

static long admin(const char *method, const char *path, const char *body)
{
    char target[2048];
    capi_resp_free(&R);
    snprintf(target, sizeof target, "%s%s" V, path, strchr(path, '?') ? "&" : "?");
    if (capi_http(srv.ca_path, srv.https_port, srv.admin_token, method, target, body, 40000, &R) <
        0)
        return -1;
    return R.status;
}

static const cJSON *jget(const cJSON *o, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *k = strtok_r(buf, ".", &save); k != NULL && cur != NULL;
         k = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    return cur;
}

static const char *jstr(const cJSON *o, const char *path)
{
    const cJSON *v = jget(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *path)
{
    const cJSON *v = jget(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* A REST call in a helper thread while the test thread plays the device. */
struct bg {
    char method[8], path[512], body[1024];
    long status;
    cJSON *json;
    char code[96];
    pthread_t t;
};

static void *bg_main(void *arg)
{
    struct bg *b = arg;
    struct capi_resp r;
    char target[700];
    snprintf(target, sizeof target, "%s?" V, b->path);
    if (capi_http(srv.ca_path, srv.https_port, srv.admin_token, b->method, target,
                  b->body[0] ? b->body : NULL, 40000, &r) == 0) {
        b->status = r.status;
        b->json = r.json;
        r.json = NULL;
        snprintf(b->code, sizeof b->code, "%s", r.error_code);
    }
    capi_resp_free(&r);
    return NULL;
}

static void bg_start(struct bg *b, const char *method, const char *path, const char *body)
{
    memset(b, 0, sizeof *b);
    snprintf(b->method, sizeof b->method, "%s", method);
    snprintf(b->path, sizeof b->path, "%s", path);
    snprintf(b->body, sizeof b->body, "%s", body ? body : "");
    assert_int_equal(pthread_create(&b->t, NULL, bg_main, b), 0);
}

static void bg_join(struct bg *b)
{
    pthread_join(b->t, NULL);
}

/* GET @p path until @p ok says yes (or 10 s pass); the last answer stays in R. */
static bool poll_get(const char *path, bool (*ok)(const cJSON *o, const void *arg), const void *arg)
{
    for (int i = 0; i < 100; i++) {
        if (admin("GET", path, NULL) == 200 && ok(R.json, arg))
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* ---------------------------------------------------------------- device helpers */

static void device_connect(void)
{
    assert_int_equal(th_hub_connect(&M, &srv, dev_id, KEY), 0);
    M_open = true;
    assert_int_equal(th_mqtt_subscribe(&M, "$iothub/twin/res/#", 0), 0);
    assert_int_equal(th_mqtt_subscribe(&M, "$iothub/methods/POST/#", 0), 0);
    assert_int_equal(th_mqtt_subscribe(&M, "$iothub/twin/PATCH/properties/desired/#", 0), 0);
}

static void device_close(void)
{
    if (M_open)
        th_mqtt_close(&M);
    M_open = false;
}

/* Next PUBLISH whose topic starts with @p prefix; copies topic and payload. */
static int next_publish(const char *prefix, char *topic, size_t tsize, char *payload, size_t psize)
{
    for (int i = 0; i < 50; i++) {
        struct iotc_mqtt_packet p;
        int rc = th_mqtt_expect(&M, IOTC_MQTT_PUBLISH, &p, 8000);
        if (rc != 0)
            return rc;
        if (p.publish.topic.len < strlen(prefix) ||
            memcmp(p.publish.topic.ptr, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(topic, tsize, "%.*s", (int)p.publish.topic.len, p.publish.topic.ptr);
        snprintf(payload, psize, "%.*s", (int)p.publish.payload.len, p.publish.payload.ptr);
        if (p.publish.qos == 1) {
            struct iotc_mqtt_packet ack = {.type = IOTC_MQTT_PUBACK};
            ack.packet_id = p.publish.packet_id;
            th_mqtt_send(&M, &ack);
        }
        return 0;
    }
    return -1;
}

static void report(const char *json)
{
    char topic[128];
    snprintf(topic, sizeof topic, "$iothub/twin/PATCH/properties/reported/?$rid=r%d", ++RID);
    assert_true(th_mqtt_publish(&M, topic, json, strlen(json), 0) >= 0);
}

static void telemetry_c(const char *json, const char *comp)
{
    char topic[200];
    snprintf(topic, sizeof topic, "devices/%s/messages/events/%%24.ct=application%%2Fjson%s%s",
             dev_id, comp ? "&%24.sub=" : "", comp ? comp : "");
    assert_true(th_mqtt_publish(&M, topic, json, strlen(json), 1) > 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&M, IOTC_MQTT_PUBACK, &p, 5000), 0);
}

static void telemetry(const char *json)
{
    char topic[160];
    snprintf(topic, sizeof topic, "devices/%s/messages/events/%%24.ct=application%%2Fjson", DEV);
    assert_true(th_mqtt_publish(&M, topic, json, strlen(json), 1) > 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&M, IOTC_MQTT_PUBACK, &p, 5000), 0);
}

/* Answer the next method request named @p name with @p status and @p body. */
static void answer_method(const char *name, int status, const char *body, char *req_payload,
                          size_t size)
{
    char prefix[128], topic[300], res[160];
    snprintf(prefix, sizeof prefix, "$iothub/methods/POST/%s/?$rid=", name);
    assert_int_equal(next_publish(prefix, topic, sizeof topic, req_payload, size), 0);
    snprintf(res, sizeof res, "$iothub/methods/res/%d/?$rid=%s", status, topic + strlen(prefix));
    assert_true(th_mqtt_publish(&M, res, body, strlen(body), 0) >= 0);
}

/* ---------------------------------------------------------------- setup */

static char *read_path(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s != NULL && fread(s, 1, (size_t)n, f) == (size_t)n) {
        s[n] = '\0';
    } else {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

static char *repo_file(const char *rel)
{
    char root[1024] = "", path[1300];
    FILE *p = popen("git rev-parse --show-toplevel 2>/dev/null", "r");
    if (p != NULL) {
        if (fgets(root, sizeof root, p) == NULL)
            root[0] = '\0';
        pclose(p);
    }
    root[strcspn(root, "\n")] = '\0';
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return read_path(path);
}

static int setup(void **state)
{
    (void)state;
    if (th_central_start(&srv, NULL) < 0)
        return -1;
    char *doc = repo_file("models/environmental-sensor.dtdlv2.json");
    if (doc == NULL)
        return -1;
    size_t len = strlen(doc) + 512;
    char *body = malloc(len);
    snprintf(body, len,
             "{\"displayName\":\"Environmental sensor\",\"capabilityModel\":%s,\"published\":true,"
             "\"customizations\":{\"turnoff\":{\"queueIfOffline\":true}}}",
             doc);
    long st = admin("PUT", "/api/deviceTemplates/" TID_URL, body);
    free(body);
    free(doc);
    if (st != 200)
        return -1;
    if (admin("PUT", "/api/devices/" DEV,
              "{\"displayName\":\"Env 01\",\"template\":\"" TID "\"}") != 200 ||
        admin("GET", "/api/devices/" DEV "/credentials", NULL) != 200)
        return -1;
    snprintf(KEY, sizeof KEY, "%s", jstr(R.json, "symmetricKey.primaryKey"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    device_close();
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- properties */

struct prop_want {
    const char *name;
    const char *state;
};

static bool prop_state_is(const cJSON *o, const void *arg)
{
    const struct prop_want *w = arg;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(jget(o, "$metadata"), w->name);
    const char *st = jstr(md, "state");
    return st != NULL && strcmp(st, w->state) == 0;
}

static void test_properties_pending_then_synced(void **state)
{
    (void)state;
    char topic[300], payload[1024];
    device_connect();
    /* validation against the template */
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties", "{\"nmae\":\"x\"}"), 400);
    assert_non_null(strstr(jstr(R.json, "error.message"), "did you mean \"name\""));
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties", "{\"brightness\":\"high\"}"),
                     400);
    assert_non_null(strstr(jstr(R.json, "error.message"), "$.brightness"));
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties", "{\"state\":true}"), 400);
    assert_int_equal(admin("PATCH", "/api/devices/nobody/properties", "{\"name\":\"x\"}"), 404);
    /* write: 202 pending, the device gets the desired patch */
    assert_int_equal(admin("PATCH", "/api/devices/" DEV "/properties",
                           "{\"name\":\"Contoso\",\"brightness\":2}"),
                     202);
    double ver = jnum(R.json, "$metadata.name.desiredVersion");
    assert_true(ver >= 1);
    assert_string_equal(jstr(R.json, "$metadata.name.state"), "pending");
    assert_int_equal(next_publish("$iothub/twin/PATCH/properties/desired/", topic, sizeof topic,
                                  payload, sizeof payload),
                     0);
    cJSON *patch = cJSON_Parse(payload);
    assert_string_equal(jstr(patch, "name"), "Contoso");
    assert_int_equal((int)jnum(patch, "$version"), (int)ver);
    cJSON_Delete(patch);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/properties", NULL), 200);
    assert_string_equal(jstr(R.json, "$metadata.name.state"), "pending");
    assert_string_equal(jstr(R.json, "$metadata.name.desiredValue"), "Contoso");
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
    assert_string_equal(jstr(R.json, "name"), "Contoso");
    assert_string_equal(jstr(R.json, "$metadata.brightness.state"), "failed");
    assert_int_equal((int)jnum(R.json, "$metadata.brightness.ackCode"), 500);
    assert_string_equal(jstr(R.json, "$metadata.brightness.ackDescription"), "LED driver error");
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
    assert_string_equal(jstr(R.json, "$metadata.name.state"), "pending");
    snprintf(ack, sizeof ack, "{\"name\":{\"value\":\"Fabrikam\",\"ac\":200,\"av\":%d}}",
             (int)ver2);
    report(ack);
    assert_true(poll_get("/api/devices/" DEV "/properties", prop_state_is, &synced));
    assert_string_equal(jstr(R.json, "name"), "Fabrikam");
    /* reported read-only properties appear with their update time */
    report("{\"manufacturer\":\"iotc\",\"state\":true}");
    struct prop_want dummy = {"manufacturer", NULL};
    (void)dummy;
    for (int i = 0; i < 50; i++) {
        admin("GET", "/api/devices/" DEV "/properties", NULL);
        if (jstr(R.json, "manufacturer") != NULL)
            break;
        usleep(100 * 1000);
    }
    assert_string_equal(jstr(R.json, "manufacturer"), "iotc");
    assert_non_null(jstr(R.json, "$metadata.manufacturer.lastUpdateTime"));
    assert_null(jget(R.json, "$metadata.manufacturer.state"));
}

/* ---------------------------------------------------------------- commands */

static bool last_cmd_completed(const cJSON *o, const void *arg)
{
    (void)arg;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    const cJSON *last = cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1);
    const char *st = jstr(last, "status");
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
    assert_non_null(strstr(jstr(R.json, "error.message"), "did you mean \"blink\""));
    /* synchronous */
    bg_start(&b, "POST", "/api/devices/" DEV "/commands/blink",
             "{\"request\":3,\"responseTimeout\":10}");
    answer_method("blink", 200, "{\"description\":\"Blinking LED every 3 seconds\"}", req,
                  sizeof req);
    bg_join(&b);
    assert_string_equal(req, "3");
    assert_int_equal(b.status, 201);
    assert_int_equal((int)jnum(b.json, "responseCode"), 200);
    assert_string_equal(jstr(b.json, "response.description"), "Blinking LED every 3 seconds");
    assert_string_equal(jstr(b.json, "status"), "completed");
    assert_int_equal((int)jnum(b.json, "request"), 3);
    cJSON_Delete(b.json);
    /* asynchronous: 202 now, completion property later */
    bg_start(&b, "POST", "/api/devices/" DEV "/commands/rundiagnostics", NULL);
    answer_method("rundiagnostics", 202, "\"Diagnostics run started\"", req, sizeof req);
    bg_join(&b);
    assert_int_equal(b.status, 201);
    assert_int_equal((int)jnum(b.json, "responseCode"), 202);
    assert_string_equal(jstr(b.json, "status"), "pending");
    cJSON_Delete(b.json);
    report("{\"rundiagnostics\":{\"value\":\"Diagnostics run complete\"}}");
    assert_true(poll_get("/api/devices/" DEV "/commands/rundiagnostics", last_cmd_completed, NULL));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(R.json, "value");
    const cJSON *last = cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1);
    assert_string_equal(jstr(last, "completion"), "Diagnostics run complete");
    assert_non_null(jstr(last, "completedTime"));
    /* the completion is a command, not a property */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/properties", NULL), 200);
    assert_null(jget(R.json, "rundiagnostics"));
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
    assert_non_null(jstr(R.json, "nextLink"));
    char next[1024];
    snprintf(next, sizeof next, "%s", jstr(R.json, "nextLink"));
    capi_resp_free(&R);
    assert_int_equal(
        capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", next, NULL, 10000, &R), 0);
    v = cJSON_GetObjectItemCaseSensitive(R.json, "value");
    assert_true(cJSON_GetArraySize(v) >= 1);
    const cJSON *failed = cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1);
    assert_string_equal(jstr(failed, "name"), "turnon");
    assert_string_equal(jstr(failed, "status"), "failed");
}

static void test_commands_offline(void **state)
{
    (void)state;
    char topic[300], payload[256];
    device_close();
    for (int i = 0; i < 50; i++) {
        admin("GET", "/api/devices/" DEV, NULL);
        if (cJSON_IsFalse(jget(R.json, "connected")))
            break;
        usleep(100 * 1000);
    }
    assert_true(cJSON_IsFalse(jget(R.json, "connected")));
    assert_int_equal(admin("POST", "/api/devices/" DEV "/commands/turnon", "{}"), 409);
    assert_string_equal(R.error_code, "DeviceNotConnected");
    /* turnoff is queue-if-offline (template customization): a C2D message */
    assert_int_equal(admin("POST", "/api/devices/" DEV "/commands/turnoff", NULL), 201);
    assert_string_equal(jstr(R.json, "status"), "queued");
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

static bool raw_has_unmodeled(const cJSON *o, const void *arg)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "value"))
    {
        if (jget(it, arg) != NULL)
            return true;
    }
    return false;
}

static int count_pages(const char *first, int *out_pages)
{
    int total = 0, pages = 0;
    char next[2048];
    assert_int_equal(admin("GET", first, NULL), 200);
    for (;;) {
        total += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "value"));
        pages++;
        const char *nl = jstr(R.json, "nextLink");
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

static const cJSON *find_mismatch(const cJSON *rep, const char *kind, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "mismatches"))
    {
        if (strcmp(jstr(it, "kind"), kind) == 0 && strcmp(jstr(it, "name"), name) == 0)
            return it;
    }
    return NULL;
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
    assert_non_null(jstr(R.json, "timestamp"));
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp", NULL), 200);
    assert_string_equal(jstr(R.json, "value"), "hot");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/nosuch", NULL), 404);
    assert_string_equal(R.error_code, "TelemetryNotFound");
    /* the latest message lacks temp: the last value comes from the stored messages */
    telemetry("{\"humid\":43}");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/humid", NULL), 200);
    assert_int_equal((int)jnum(R.json, "value"), 43);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp", NULL), 200);
    assert_string_equal(jstr(R.json, "value"), "hot");
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
    assert_string_equal(jstr(hot, "value"), "hot");
    assert_true(cJSON_IsFalse(jget(hot, "valid")));
    assert_non_null(jstr(hot, "error"));
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp/history?$top=2", NULL), 200);
    assert_true(cJSON_IsTrue(jget(cJSON_GetArrayItem(jget(R.json, "value"), 0), "valid")));
    assert_int_equal(
        admin("GET", "/api/devices/" DEV "/telemetry/temp/history?from=2100-01-01T00:00:00Z", NULL),
        200);
    assert_int_equal(cJSON_GetArraySize(jget(R.json, "value")), 0);
    assert_null(jstr(R.json, "nextLink"));
    assert_int_equal(
        admin("GET", "/api/devices/" DEV "/telemetry/temp/history?from=yesterday", NULL), 400);
    /* raw data: the misspelt name is unmodeled, the reported extra property too */
    assert_true(poll_get("/api/devices/" DEV "/rawData?$top=1000", raw_has_unmodeled,
                         "unmodeled.temperature"));
    assert_true(raw_has_unmodeled(R.json, "unmodeled.colour"));
    assert_true(raw_has_unmodeled(R.json, "modeled.processorArchitecture"));
    int all = cJSON_GetArraySize(jget(R.json, "value"));
    bool connected = false, bad_state = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, jget(R.json, "value"))
    {
        if (strcmp(jstr(it, "type"), "connected") == 0)
            connected = true;
        if (strcmp(jstr(it, "type"), "property") == 0 &&
            cJSON_GetArraySize(jget(it, "errors")) > 0 &&
            strstr(cJSON_GetArrayItem(jget(it, "errors"), 0)->valuestring, "state") != NULL)
            bad_state = true;
    }
    assert_true(connected);
    assert_true(bad_state);
    int raw_pages = 0;
    assert_int_equal(count_pages("/api/devices/" DEV "/rawData?$top=3", &raw_pages), all);
    assert_true(raw_pages >= 3);
    /* conformance */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/conformance", NULL), 200);
    assert_false(cJSON_IsTrue(jget(R.json, "conformant")));
    const cJSON *mm = find_mismatch(R.json, "unmodeledTelemetry", "temperature");
    assert_non_null(mm);
    assert_string_equal(jstr(mm, "suggestion"), "temp");
    assert_non_null(strstr(jstr(mm, "message"), "did you mean \"temp\""));
    assert_non_null(find_mismatch(R.json, "schema", "temp"));
    assert_non_null(find_mismatch(R.json, "schema", "state"));
    assert_non_null(find_mismatch(R.json, "unmodeledProperty", "colour"));
    assert_non_null(find_mismatch(R.json, "ackFailed", "brightness"));
    assert_non_null(find_mismatch(R.json, "commandTimeout", "turnon"));
    assert_null(find_mismatch(R.json, "unmodeledTelemetry", "humid"));
    const cJSON *cap;
    bool humid_ok = false, blink_ok = false, name_ok = false;
    cJSON_ArrayForEach(cap, jget(R.json, "capabilities"))
    {
        const char *n = jstr(cap, "name"), *st = jstr(cap, "status");
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

/* ---------------------------------------------------------------- association */

static void test_association_by_model_id(void **state)
{
    (void)state;
    static const struct {
        const char *reg;
        const char *model;
        const char *status;
    } cases[] = {
        {"auto-01", TID, "provisioned"},
        {"auto-02", "dtmi:nobody:Thing;1", "unassociated"},
        {"auto-03", "dtmi:late:Thing;1", "unassociated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[64], payload[200], path[128];
        struct th_dps_result r;
        assert_int_equal(th_derive_key(&srv, cases[i].reg, key, sizeof key), 0);
        snprintf(payload, sizeof payload, "{\"modelId\":\"%s\"}", cases[i].model);
        assert_int_equal(th_dps_register(&srv, cases[i].reg, key, IOTC_SAS_DPS_CSDK, payload, &r),
                         0);
        assert_string_equal(r.status, "assigned");
        snprintf(path, sizeof path, "/api/devices/%s", cases[i].reg);
        assert_int_equal(admin("GET", path, NULL), 200);
        assert_string_equal(jstr(R.json, "status"), cases[i].status);
        assert_true(cJSON_IsTrue(jget(R.json, "provisioned")));
        assert_string_equal(jstr(R.json, "modelId"), cases[i].model);
        snprintf(path, sizeof path, "/api/devices/%s/credentials", cases[i].reg);
        assert_int_equal(admin("GET", path, NULL), 200);
        assert_string_equal(jstr(R.json, "symmetricKey.primaryKey"), key);
    }
    assert_int_equal(admin("GET", "/api/devices/auto-01", NULL), 200);
    assert_string_equal(jstr(R.json, "template"), TID);
    /* publishing a template with the announced id associates the waiting device */
    assert_int_equal(admin("PUT", "/api/deviceTemplates/dtmi:late:Thing;1",
                           "{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:late:Thing;1\","
                           "\"@type\":\"Interface\",\"contents\":[{\"@type\":\"Telemetry\","
                           "\"name\":\"t\",\"schema\":\"double\"}]}"),
                     200);
    assert_int_equal(admin("GET", "/api/devices/auto-03", NULL), 200);
    assert_string_equal(jstr(R.json, "status"), "unassociated"); /* draft: not yet */
    assert_int_equal(admin("POST", "/api/deviceTemplates/dtmi:late:Thing;1/publish", NULL), 200);
    assert_int_equal(admin("GET", "/api/devices/auto-03", NULL), 200);
    assert_string_equal(jstr(R.json, "template"), "dtmi:late:Thing;1");
    assert_string_equal(jstr(R.json, "status"), "provisioned");
}

/* The hub username's model-id associates a device that was created without a template. */
static void test_association_by_username(void **state)
{
    (void)state;
    struct th_mqtt m;
    char user[512], token[512], key[128];
    assert_int_equal(admin("PUT", "/api/devices/mqtt-model", "{}"), 200);
    assert_string_equal(jstr(R.json, "status"), "unassociated");
    assert_int_equal(admin("GET", "/api/devices/mqtt-model/credentials", NULL), 200);
    snprintf(key, sizeof key, "%s", jstr(R.json, "symmetricKey.primaryKey"));
    snprintf(user, sizeof user, "%s/mqtt-model/?api-version=2021-04-12&model-id=%s", srv.hub_host,
             TID_URL);
    assert_int_equal(th_hub_token(&srv, "mqtt-model", key, th_now() + 3600, token, sizeof token),
                     0);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "mqtt-model", user, token, 60, true), 0);
    assert_int_equal(admin("GET", "/api/devices/mqtt-model", NULL), 200);
    assert_string_equal(jstr(R.json, "template"), TID);
    assert_string_equal(jstr(R.json, "modelId"), TID);
    assert_string_equal(jstr(R.json, "status"), "provisioned");
    assert_true(cJSON_IsTrue(jget(R.json, "connected")));
    assert_non_null(jstr(R.json, "lastActivity"));
    th_mqtt_close(&m);
    /* an explicit template is never replaced by the announced one */
    assert_int_equal(
        admin("PATCH", "/api/devices/mqtt-model", "{\"template\":\"dtmi:late:Thing;1\"}"), 200);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "mqtt-model", user, token, 60, true), 0);
    assert_int_equal(admin("GET", "/api/devices/mqtt-model", NULL), 200);
    assert_string_equal(jstr(R.json, "template"), "dtmi:late:Thing;1");
    th_mqtt_close(&m);
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

/* ---------------------------------------------------------------- components */

static char *shared_model(const char *name)
{
    char path[1300];
    const char *dir = getenv("IOTC_SHARED_DIR");
    if (dir != NULL && dir[0] != '\0') {
        snprintf(path, sizeof path, "%s/models/%s", dir, name);
        return read_path(path);
    }
    snprintf(path, sizeof path, "../shared/models/%s", name);
    return repo_file(path);
}

static void test_components(void **state)
{
    (void)state;
    char topic[300], payload[1024], req[256];
    char *doc = shared_model("EnvironmentalSensor.dtdlv2.components.json");
    if (doc == NULL)
        fail_msg("cannot read the shared components model (set IOTC_SHARED_DIR)");
    assert_int_equal(admin("PUT", "/api/deviceTemplates/dtmi:com:example:sample_device;2", doc),
                     200);
    free(doc);
    assert_int_equal(
        admin("PUT", "/api/devices/comp-01", "{\"template\":\"dtmi:com:example:sample_device;2\"}"),
        200);
    assert_int_equal(admin("GET", "/api/devices/comp-01/credentials", NULL), 200);
    char saved_key[128];
    snprintf(saved_key, sizeof saved_key, "%s", KEY);
    snprintf(KEY, sizeof KEY, "%s", jstr(R.json, "symmetricKey.primaryKey"));
    device_close();
    dev_id = "comp-01";
    device_connect();
    assert_int_equal(admin("GET", "/api/devices/comp-01/components", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(jget(R.json, "value")), 2);
    /* component property write: desired patch marked with __t */
    assert_int_equal(
        admin("PATCH", "/api/devices/comp-01/components/nosuch/properties", "{\"brightness\":3}"),
        404);
    assert_int_equal(
        admin("PATCH", "/api/devices/comp-01/components/sensor/properties", "{\"brightness\":3}"),
        202);
    int ver = (int)jnum(R.json, "$metadata.brightness.desiredVersion");
    assert_true(ver >= 1);
    assert_int_equal(next_publish("$iothub/twin/PATCH/properties/desired/", topic, sizeof topic,
                                  payload, sizeof payload),
                     0);
    cJSON *patch = cJSON_Parse(payload);
    assert_string_equal(jstr(patch, "sensor.__t"), "c");
    assert_int_equal((int)jnum(patch, "sensor.brightness"), 3);
    cJSON_Delete(patch);
    char ack[256];
    snprintf(ack, sizeof ack,
             "{\"sensor\":{\"__t\":\"c\",\"brightness\":{\"value\":3,\"ac\":200,\"av\":%d}}}", ver);
    report(ack);
    struct prop_want synced = {"brightness", "synced"};
    assert_true(
        poll_get("/api/devices/comp-01/components/sensor/properties", prop_state_is, &synced));
    assert_int_equal((int)jnum(R.json, "brightness"), 3);
    assert_int_equal(admin("GET", "/api/devices/comp-01/properties", NULL), 200);
    assert_string_equal(jstr(R.json, "sensor.$metadata.brightness.state"), "synced");
    assert_null(jget(R.json, "sensor.__t"));
    /* root-level body with a component object */
    assert_int_equal(
        admin("PATCH", "/api/devices/comp-01/properties", "{\"sensor\":{\"name\":\"Contoso\"}}"),
        202);
    assert_string_equal(jstr(R.json, "sensor.$metadata.name.desiredValue"), "Contoso");
    assert_int_equal(admin("PATCH", "/api/devices/comp-01/properties", "{\"name\":\"x\"}"), 400);
    /* component command: method name sensor*blink */
    struct bg b;
    bg_start(&b, "POST", "/api/devices/comp-01/components/sensor/commands/blink",
             "{\"request\":1,\"responseTimeout\":10}");
    answer_method("sensor*blink", 200, "{\"description\":\"ok\"}", req, sizeof req);
    bg_join(&b);
    assert_int_equal(b.status, 201);
    assert_string_equal(jstr(b.json, "component"), "sensor");
    cJSON_Delete(b.json);
    assert_int_equal(admin("POST", "/api/devices/comp-01/commands/blink", "{\"request\":1}"), 404);
    /* component telemetry, and the same name at the root (wrong component) */
    telemetry_c("{\"temp\":5}", "sensor");
    telemetry_c("{\"temp\":6}", NULL);
    assert_int_equal(admin("GET", "/api/devices/comp-01/components/sensor/telemetry/temp", NULL),
                     200);
    assert_int_equal((int)jnum(R.json, "value"), 5);
    bool found = false;
    for (int i = 0; i < 50 && !found; i++) {
        assert_int_equal(admin("GET", "/api/devices/comp-01/conformance", NULL), 200);
        found = find_mismatch(R.json, "wrongComponent", "temp") != NULL;
        if (!found)
            usleep(100 * 1000);
    }
    assert_true(found);
    device_close();
    dev_id = DEV;
    snprintf(KEY, sizeof KEY, "%s", saved_key);
}

/* Devices made or removed through the IoT Hub service API show up in /api/ as they are. */
static void test_service_api_devices(void **state)
{
    (void)state;
    struct th_http_response r;
    const char *body = "{\"deviceId\":\"svc-01\"}";
    assert_int_equal(th_https(&srv, "PUT", "/devices/svc-01?api-version=2021-04-12", NULL, body,
                              true, 10000, &r),
                     0);
    free(r.body);
    assert_int_equal(r.status, 200);
    assert_int_equal(admin("GET", "/api/devices/svc-01", NULL), 200);
    assert_string_equal(jstr(R.json, "status"), "unassociated");
    assert_int_equal(admin("PATCH", "/api/devices/svc-01", "{\"displayName\":\"From the hub\"}"),
                     200);
    assert_int_equal(th_https(&srv, "DELETE", "/devices/svc-01?api-version=2021-04-12",
                              "If-Match: \"*\"\r\n", NULL, true, 10000, &r),
                     0);
    free(r.body);
    assert_int_equal(r.status / 100, 2);
    assert_int_equal(admin("GET", "/api/devices/svc-01", NULL), 404);
    /* the same id again starts from scratch, without the old application data */
    assert_int_equal(admin("PUT", "/api/devices/svc-01", "{}"), 200);
    assert_string_equal(jstr(R.json, "displayName"), "svc-01");
}

/* ---------------------------------------------------------------- restart */

static void test_restart_keeps_history_and_data(void **state)
{
    (void)state;
    device_close();
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/commands/blink", NULL), 200);
    const cJSON *v = jget(R.json, "value");
    assert_int_equal(cJSON_GetArraySize(v), 1);
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "status"), "completed");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "response.description"),
                        "Blinking LED every 3 seconds");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/commands/rundiagnostics", NULL), 200);
    v = jget(R.json, "value");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1), "completion"),
                        "Diagnostics run complete");
    /* last values come from the stored messages now */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp", NULL), 200);
    assert_true(jget(R.json, "value") != NULL);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/properties", NULL), 200);
    assert_string_equal(jstr(R.json, "$metadata.name.state"), "synced");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/rawData?$top=1000", NULL), 200);
    assert_true(raw_has_unmodeled(R.json, "unmodeled.temperature"));
    assert_int_equal(admin("GET", "/api/devices/" DEV, NULL), 200);
    assert_string_equal(jstr(R.json, "status"), "provisioned");
    /* new commands continue the id sequence */
    assert_int_equal(admin("POST", "/api/devices/" DEV "/commands/turnoff", NULL), 201);
    assert_string_equal(jstr(R.json, "status"), "queued");
    assert_int_equal(admin("GET", "/api/devices/" DEV "/commands?$top=1000", NULL), 200);
    v = jget(R.json, "value");
    const char *prev = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        const char *id = jstr(it, "id");
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
        cmocka_unit_test(test_association_by_model_id),
        cmocka_unit_test(test_association_by_username),
        cmocka_unit_test(test_event_stream),
        cmocka_unit_test(test_components),
        cmocka_unit_test(test_service_api_devices),
        cmocka_unit_test(test_restart_keeps_history_and_data),
    };
    return cmocka_run_group_tests_name("capi_device", tests, setup, teardown);
}
