/*
 * test_central_hub.c - IoT Hub device plane over MQTT/TLS against a real iotc-central
 * (docs/PROTOCOL.md §5): CONNECT codes, telemetry, twin, methods, C2D, authorization, limits.
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
#include <sqlite3.h>

#include "../lib/capi_http.h"
#include "../lib/harness.h"
#include "cli_util.h"
#include "iotc/codec.h"

static struct th_central srv;
static const char KEY[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
static const char KEY2[] = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

static int create_device(const char *id, bool enabled)
{
    return th_put_device(&srv, id, KEY, KEY2, enabled) == 200 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    static const char *const ids[] = {"dev-a",   "dev-b",   "dev-twin", "dev-m1",   "dev-m2",
                                      "dev-m3",  "dev-m4",  "dev-c2d",  "dev-exp",  "dev-auth",
                                      "dev-big", "dev-dup", "dev-ka",   "dev-will", "dev-s1",
                                      "dev-s2",  "dev-k1",  "dev-k2",   "dev-k60",  "dev-kp"};
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (create_device(ids[i], true) != 0)
            return -1;
    return create_device("dev-off", false);
}

static int teardown(void **state)
{
    (void)state;
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

static bool topic_is(const struct iotc_mqtt_packet *p, const char *topic)
{
    return p->publish.topic.len == strlen(topic) &&
           memcmp(p->publish.topic.ptr, topic, p->publish.topic.len) == 0;
}

/* The server's database, read-only, on another connection, and @p sql prepared on it. */
static sqlite3_stmt *db_query(sqlite3 **db, const char *sql)
{
    char path[400];
    sqlite3_stmt *s = NULL;
    snprintf(path, sizeof path, "%s/central.db", srv.data_dir);
    assert_int_equal(sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(*db, sql, -1, &s, NULL), SQLITE_OK);
    return s;
}

/* ------------------------------------------------------------------ CONNECT */

static void test_connect_codes(void **state)
{
    (void)state;
    char user[600], token[600], other[600];
    snprintf(user, sizeof user,
             "%s/dev-a/?api-version=2021-04-12&model-id=dtmi%%3Acom%%3Aexample%%3AX%%3B1",
             srv.hub_host);
    assert_int_equal(th_hub_token(&srv, "dev-a", KEY, th_now() + 600, token, sizeof token), 0);
    assert_int_equal(th_hub_token(&srv, "dev-a", "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc=", th_now() + 600,
                                  other, sizeof other),
                     0);
    char unknown_user[300], unknown_token[600], off_user[300], off_token[600];
    snprintf(unknown_user, sizeof unknown_user, "%s/nobody/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(
        th_hub_token(&srv, "nobody", KEY, th_now() + 600, unknown_token, sizeof unknown_token), 0);
    snprintf(off_user, sizeof off_user, "%s/dev-off/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(
        th_hub_token(&srv, "dev-off", KEY, th_now() + 600, off_token, sizeof off_token), 0);
    const struct {
        const char *client_id, *user, *pass;
        int code;
    } cases[] = {
        {"dev-a", user, token, 0},
        {"dev-b", user, token, 2},                  /* client id != device id */
        {"dev-a", user, other, 5},                  /* wrong key */
        {"nobody", unknown_user, unknown_token, 5}, /* not registered */
        {"dev-off", off_user, off_token, 5},        /* disabled */
        {"dev-a", "otherhub.example/dev-a/?api-version=2021-04-12", token, 5},
        {"dev-a", user, "SharedAccessSignature sr=x", 5},
        {"dev-a", user, NULL, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct th_mqtt m;
        assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
        int code = th_mqtt_connect(&m, cases[i].client_id, cases[i].user, cases[i].pass, 60, true);
        if (code != cases[i].code)
            fail_msg("case %zu: CONNACK %d, expected %d", i, code, cases[i].code);
        if (code != 0)
            assert_true(th_mqtt_wait_closed(&m, 3000));
        th_mqtt_close(&m);
    }
    /* The secondary key works too, and the model id from the username was recorded. */
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &srv, "dev-a", KEY2), 0);
    th_mqtt_close(&m);
    struct th_http_response r;
    assert_int_equal(
        th_https(&srv, "GET", "/twins/dev-a?api-version=2021-04-12", NULL, NULL, true, 5000, &r),
        0);
    assert_non_null(strstr(r.body, "\"modelId\":\"dtmi:com:example:X;1\""));
    free(r.body);
    assert_true(th_central_log_contains(&srv, "client id differs from the device id", 2000));
    assert_true(th_central_log_contains(&srv, "device disabled", 2000));
}

/* ------------------------------------------------------------------ telemetry */

static void test_telemetry_stored(void **state)
{
    (void)state;
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &srv, "dev-b", KEY), 0);
    const char *topic =
        "devices/dev-b/messages/events/"
        "%24.ct=application%2Fjson&%24.ce=utf-8&%24.sub=thermostat1&note=a%20b%2Bc&flag";
    const char *body = "{\"temperature\":21.5}";
    assert_true(th_mqtt_publish(&m, "devices/dev-b/messages/events/", "q0", 2, 0) == 0);
    int pid = th_mqtt_publish(&m, topic, body, strlen(body), 1);
    assert_true(pid > 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 5000), 0);
    assert_int_equal(p.packet_id, pid);
    th_mqtt_close(&m);

    /* PUBACK means durable: the row is visible to another reader right now. */
    sqlite3 *db;
    sqlite3_stmt *s = db_query(&db, "SELECT component, props, payload FROM telemetry WHERE "
                                    "device_id='dev-b' ORDER BY seq");
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(s, 0), SQLITE_NULL);
    assert_int_equal(sqlite3_column_bytes(s, 2), 2);
    assert_memory_equal(sqlite3_column_blob(s, 2), "q0", 2);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "thermostat1");
    cJSON *props = cJSON_Parse((const char *)sqlite3_column_text(s, 1));
    assert_non_null(props);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(props, "$.ct")->valuestring,
                        "application/json");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(props, "$.ce")->valuestring, "utf-8");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(props, "note")->valuestring, "a b+c");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(props, "flag")));
    cJSON_Delete(props);
    assert_int_equal(sqlite3_column_bytes(s, 2), (int)strlen(body));
    assert_memory_equal(sqlite3_column_blob(s, 2), body, strlen(body));
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* Properties only the hub sets (§5.3) cannot be spoofed from the bag: dropped, and the hub's
 * own iothub-connection-device-id is the authenticated device. */
static void test_telemetry_hub_set_properties(void **state)
{
    (void)state;
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &srv, "dev-b", KEY), 0);
    const char *topic =
        "devices/dev-b/messages/events/"
        "%24.cdid=evil&iothub-connection-device-id=evil&%24.cmid=evil&"
        "IoTHub-Connection-Auth-Method=evil&iothub-connection-auth-generation-id="
        "evil&iothub-enqueuedtime=evil&iothub-message-source=evil&%24.sub=c1&app=ok";
    int pid = th_mqtt_publish(&m, topic, "{}", 2, 1);
    assert_true(pid > 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 5000), 0);
    th_mqtt_close(&m);
    sqlite3 *db;
    sqlite3_stmt *s = db_query(&db, "SELECT props FROM telemetry WHERE device_id='dev-b' AND "
                                    "component='c1'");
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    const char *text = (const char *)sqlite3_column_text(s, 0);
    assert_null(strstr(text, "evil"));
    cJSON *props = cJSON_Parse(text);
    assert_non_null(props);
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItemCaseSensitive(props, "iothub-connection-device-id")),
                        "dev-b");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(props, "app")), "ok");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(props, "$.sub")),
                        "c1");
    assert_null(cJSON_GetObjectItemCaseSensitive(props, "$.cdid"));
    cJSON_Delete(props);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* GET /api/stats (administrator) into @p out: the counters by "group.name". */
static void get_stats(struct capi_resp *out)
{
    assert_int_equal(capi_call(srv.ca_path, srv.https_port, srv.admin_token, "GET", "/api/stats",
                               NULL, 10000, out),
                     200);
    assert_non_null(out->json);
}

static double counter(const struct capi_resp *r, const char *path)
{
    const cJSON *v = capi_jget(r->json, path);
    if (!cJSON_IsNumber(v))
        fail_msg("no number at %s in %s", path, r->body);
    return v->valuedouble;
}

/* Devices send the same property bag with every message and the broker keeps the bag's JSON
 * (hub/broker_hub.c bag_object()): each row still carries its own device id, and the counters
 * of GET /api/stats count every stage of the path. */
static void test_bag_cache_and_stats(void **state)
{
    (void)state;
    struct capi_resp r0 = {0}, r1 = {0};
    get_stats(&r0);
    /* A value that JSON must escape: %22 is '"', %5C is '\'. */
    const char *bag = "%24.ct=application%2Fjson&%24.ce=utf-8&%24.sub=c7&q=%22x%5C";
    static const char *const devs[] = {"dev-s1", "dev-s2"};
    for (size_t d = 0; d < 2; d++) {
        struct th_mqtt m;
        char topic[300];
        snprintf(topic, sizeof topic, "devices/%s/messages/events/%s", devs[d], bag);
        assert_int_equal(th_hub_connect(&m, &srv, devs[d], KEY), 0);
        for (int i = 0; i < 3; i++) {
            int pid = th_mqtt_publish(&m, topic, "{\"t\":1}", 7, 1);
            assert_true(pid > 0);
            struct iotc_mqtt_packet p;
            assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 5000), 0);
            assert_int_equal(p.packet_id, pid);
        }
        th_mqtt_close(&m);
    }
    sqlite3 *db;
    sqlite3_stmt *s = db_query(&db, "SELECT device_id, component, props FROM telemetry WHERE "
                                    "component='c7' ORDER BY seq");
    for (int i = 0; i < 6; i++) {
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        const char *dev = (const char *)sqlite3_column_text(s, 0);
        assert_string_equal(dev, devs[i / 3]);
        assert_string_equal((const char *)sqlite3_column_text(s, 1), "c7");
        char want[300];
        snprintf(want, sizeof want,
                 "{\"$.ct\":\"application/json\",\"$.ce\":\"utf-8\",\"$.sub\":\"c7\","
                 "\"q\":\"\\\"x\\\\\",\"iothub-connection-device-id\":\"%s\"}",
                 dev);
        assert_string_equal((const char *)sqlite3_column_text(s, 2), want);
    }
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);

    get_stats(&r1);
    assert_true(counter(&r1, "hub.parsed") - counter(&r0, "hub.parsed") == 6);
    assert_true(counter(&r1, "hub.handedOff") - counter(&r0, "hub.handedOff") == 6);
    /* the first message decoded the bag; the other five, of either device, found it */
    assert_true(counter(&r1, "hub.bagCacheHits") - counter(&r0, "hub.bagCacheHits") == 5);
    assert_true(counter(&r1, "hub.acksReleased") - counter(&r0, "hub.acksReleased") == 6);
    assert_true(counter(&r1, "hub.writes") - counter(&r0, "hub.writes") >= 6);
    assert_true(counter(&r1, "hub.flushTurns") - counter(&r0, "hub.flushTurns") >= 1);
    assert_true(counter(&r1, "store.committed") - counter(&r0, "store.committed") >= 6);
    assert_true(counter(&r1, "store.commits") - counter(&r0, "store.commits") >= 1);
    assert_true(counter(&r1, "store.wakeups") - counter(&r0, "store.wakeups") >= 1);
    assert_true(counter(&r1, "store.completions") - counter(&r0, "store.completions") >= 6);
    assert_true(counter(&r1, "store.commitMs") > counter(&r0, "store.commitMs"));
    assert_true(counter(&r1, "store.queueMax") >= 1);
    assert_true(counter(&r1, "store.rowsPerCommit") >= 1);
    assert_true(counter(&r1, "store.batchMax") >= counter(&r1, "store.rowsPerCommit"));
    /* SQLite's heap: the writer's and readers' caches hold pages of a store that has rows now */
    assert_true(counter(&r1, "store.sqliteBytes") > 0);
    assert_true(counter(&r1, "store.sqliteBytesMax") >= counter(&r1, "store.sqliteBytes"));
    /* `iotc stats` prints the same counters, one row each */
    struct cu_out o;
    assert_int_equal(cu_iotc(&o, "stats", "--data-dir", srv.data_dir, NULL), 0);
    assert_non_null(strstr(o.out, "COUNTER"));
    assert_non_null(strstr(o.out, "hub.parsed"));
    assert_non_null(strstr(o.out, "store.rowsPerCommit"));
    cu_free(&o);
    assert_int_equal(cu_iotc(&o, "stats", "--data-dir", srv.data_dir, "-o", "json", NULL), 0);
    cJSON *j = cJSON_Parse(o.out);
    assert_true(cJSON_IsNumber(capi_jget(j, "hub.handedOff")));
    assert_true(capi_jget(j, "hub.handedOff")->valuedouble >= counter(&r1, "hub.handedOff"));
    cJSON_Delete(j);
    cu_free(&o);
    /* not without a token */
    assert_int_equal(
        capi_call(srv.ca_path, srv.https_port, NULL, "GET", "/api/stats", NULL, 10000, &r0), 401);
    capi_resp_free(&r0);
    capi_resp_free(&r1);
}

/* ------------------------------------------------------------------ twin */

static void test_twin(void **state)
{
    (void)state;
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &srv, "dev-twin", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/twin/res/#", 0), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/twin/PATCH/properties/desired/#", 2), 1);

    assert_true(th_mqtt_publish(&m, "$iothub/twin/GET/?$rid=g1", " ", 1, 0) >= 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_true(topic_is(&p, "$iothub/twin/res/200/?$rid=g1"));
    cJSON *o = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "desired"), "$version")
            ->valueint,
        1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(o, "reported"), "$version")
                         ->valueint,
                     1);
    cJSON_Delete(o);

    const char *patch1 = "{\"a\":1,\"b\":{\"c\":2,\"d\":\"x\"}}";
    assert_true(th_mqtt_publish(&m, "$iothub/twin/PATCH/properties/reported/?$rid=p1", patch1,
                                strlen(patch1), 1) > 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_true(topic_is(&p, "$iothub/twin/res/204/?$rid=p1&$version=2"));
    assert_int_equal(p.publish.payload.len, 0);
    const char *patch2 = "{\"a\":null,\"b\":{\"d\":null}}";
    assert_true(th_mqtt_publish(&m, "$iothub/twin/PATCH/properties/reported/?$rid=p2", patch2,
                                strlen(patch2), 0) >= 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_true(topic_is(&p, "$iothub/twin/res/204/?$rid=p2&$version=3"));
    /* Not JSON: 400 with an errorCode body (NODE looks only at the body). */
    assert_true(
        th_mqtt_publish(&m, "$iothub/twin/PATCH/properties/reported/?$rid=p3", "{nope", 5, 0) >= 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_true(topic_is(&p, "$iothub/twin/res/400/?$rid=p3"));
    o = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "errorCode")->valueint, 400004);
    cJSON_Delete(o);

    assert_true(th_mqtt_publish(&m, "$iothub/twin/GET/?$rid=g2", "", 0, 0) >= 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    o = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    cJSON *rep = cJSON_GetObjectItemCaseSensitive(o, "reported");
    assert_null(cJSON_GetObjectItemCaseSensitive(rep, "a"));
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rep, "b"), "c")->valueint,
        2);
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rep, "b"), "d"));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rep, "$version")->valueint, 3);
    cJSON_Delete(o);

    /* Desired update from the service side is pushed with $version last. */
    struct th_http_response r;
    const char *desired = "{\"properties\":{\"desired\":{\"thermostat1\":{\"targetTemperature\":"
                          "50,\"__t\":\"c\"}}}}";
    assert_int_equal(th_https(&srv, "PATCH", "/twins/dev-twin?api-version=2021-04-12",
                              "If-Match: \"*\"\r\n", desired, true, 5000, &r),
                     0);
    assert_int_equal(r.status, 200);
    free(r.body);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_true(topic_is(&p, "$iothub/twin/PATCH/properties/desired/?$version=2"));
    const char *expect =
        "{\"thermostat1\":{\"targetTemperature\":50,\"__t\":\"c\"},\"$version\":2}";
    assert_int_equal(p.publish.payload.len, strlen(expect));
    assert_memory_equal(p.publish.payload.ptr, expect, strlen(expect));
    th_mqtt_close(&m);

    /* The service view has both sections with versions and metadata. */
    assert_int_equal(
        th_https(&srv, "GET", "/twins/dev-twin?api-version=2021-04-12", NULL, NULL, true, 5000, &r),
        0);
    o = cJSON_Parse(r.body);
    cJSON *props = cJSON_GetObjectItemCaseSensitive(o, "properties");
    cJSON *d = cJSON_GetObjectItemCaseSensitive(props, "desired");
    cJSON *rp = cJSON_GetObjectItemCaseSensitive(props, "reported");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(d, "$version")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rp, "$version")->valueint, 3);
    assert_non_null(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rp, "$metadata"), "b"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "deviceId")->valuestring, "dev-twin");
    cJSON_Delete(o);
    free(r.body);
}

/* ------------------------------------------------------------------ methods */

struct call {
    const char *path;
    const char *body;
    struct th_http_response resp;
    int rc;
};

static void *call_thread(void *arg)
{
    struct call *c = arg;
    c->rc = th_https(&srv, "POST", c->path, NULL, c->body, true, 20000, &c->resp);
    return NULL;
}

static void test_method_answered(void **state)
{
    (void)state;
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &srv, "dev-m1", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/methods/POST/#", 0), 0);
    struct call c = {"/twins/dev-m1/methods?api-version=2021-04-12",
                     "{\"methodName\":\"thermostat1*getMaxMinReport\",\"responseTimeoutInSeconds\""
                     ":10,\"connectTimeoutInSeconds\":0,\"payload\":{\"since\":\"x\"}}",
                     {0},
                     -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_int_equal(p.publish.qos, 0);
    char topic[256];
    snprintf(topic, sizeof topic, "%.*s", (int)p.publish.topic.len, p.publish.topic.ptr);
    const char *prefix = "$iothub/methods/POST/thermostat1*getMaxMinReport/?$rid=";
    assert_int_equal(strncmp(topic, prefix, strlen(prefix)), 0);
    assert_int_equal(p.publish.payload.len, strlen("{\"since\":\"x\"}"));
    char res[300];
    snprintf(res, sizeof res, "$iothub/methods/res/201/?$rid=%s", topic + strlen(prefix));
    assert_true(th_mqtt_publish(&m, res, "{\"ok\":true}", 11, 1) > 0);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.resp.status, 200);
    cJSON *o = cJSON_Parse(c.resp.body);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "status")->valueint, 201);
    assert_true(cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "payload"), "ok")));
    cJSON_Delete(o);
    free(c.resp.body);
    th_mqtt_close(&m);
}

static void test_method_offline_and_timeout(void **state)
{
    (void)state;
    /* Offline, connectTimeout 0: 404 DeviceNotOnline / 404103 right away. */
    struct call c = {"/twins/dev-m2/methods?api-version=2021-04-12",
                     "{\"methodName\":\"reboot\",\"responseTimeoutInSeconds\":5,"
                     "\"connectTimeoutInSeconds\":0,\"payload\":null}",
                     {0},
                     -1};
    call_thread(&c);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.resp.status, 404);
    assert_non_null(strstr(c.resp.body, "404103"));
    free(c.resp.body);

    /* Connected and subscribed, never answers: 504 / 504101 after the response timeout. */
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &srv, "dev-m3", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/methods/POST/#", 1), 1);
    struct call c2 = {"/twins/dev-m3/methods?api-version=2021-04-12",
                      "{\"methodName\":\"reboot\",\"responseTimeoutInSeconds\":5,"
                      "\"connectTimeoutInSeconds\":0}",
                      {0},
                      -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_thread, &c2), 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_int_equal(p.publish.payload.len, 4); /* "null" */
    pthread_join(t, NULL);
    assert_int_equal(c2.rc, 0);
    assert_int_equal(c2.resp.status, 504);
    assert_non_null(strstr(c2.resp.body, "504101"));
    free(c2.resp.body);
    th_mqtt_close(&m);
    assert_true(th_central_log_contains(&srv, "method: reboot on dev-m3", 1000));
}

/* connectTimeout: the call waits for the device to connect and subscribe. */
static void test_method_connect_timeout(void **state)
{
    (void)state;
    struct call c = {"/twins/dev-m4/methods?api-version=2021-04-12",
                     "{\"methodName\":\"ping\",\"responseTimeoutInSeconds\":10,"
                     "\"connectTimeoutInSeconds\":10,\"payload\":7}",
                     {0},
                     -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
    usleep(500000);
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &srv, "dev-m4", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/methods/POST/#", 0), 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_memory_equal(p.publish.payload.ptr, "7", 1);
    char topic[256];
    snprintf(topic, sizeof topic, "%.*s", (int)p.publish.topic.len, p.publish.topic.ptr);
    char res[300];
    snprintf(res, sizeof res, "$iothub/methods/res/200/?$rid=%s", strstr(topic, "$rid=") + 5);
    assert_true(th_mqtt_publish(&m, res, "", 0, 0) >= 0);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.resp.status, 200);
    assert_non_null(strstr(c.resp.body, "\"payload\":null"));
    free(c.resp.body);
    th_mqtt_close(&m);
}

/* ------------------------------------------------------------------ C2D */

static int send_c2d(const char *id, const char *body, const char *mid)
{
    char path[200], hdr[300];
    snprintf(path, sizeof path, "/devices/%s/messages/deviceBound?api-version=2021-04-12", id);
    snprintf(hdr, sizeof hdr, "iothub-messageid: %s\r\niothub-app-color: red\r\n", mid);
    struct th_http_response r;
    if (th_https(&srv, "POST", path, hdr, body, true, 5000, &r) != 0)
        return -1;
    free(r.body);
    return r.status;
}

static void test_c2d(void **state)
{
    (void)state;
    assert_int_equal(send_c2d("dev-c2d", "hello", "m1") / 100, 2);
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &srv, "dev-c2d", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "devices/dev-c2d/messages/devicebound/#", 1), 1);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_int_equal(p.publish.qos, 1);
    char topic[512];
    snprintf(topic, sizeof topic, "%.*s", (int)p.publish.topic.len, p.publish.topic.ptr);
    assert_int_equal(strncmp(topic, "devices/dev-c2d/messages/devicebound/", 37), 0);
    assert_null(strchr(topic + 37, '/')); /* the bag is one topic level */
    assert_non_null(strstr(topic, "%24.mid=m1"));
    assert_non_null(strstr(topic, "color=red"));
    assert_memory_equal(p.publish.payload.ptr, "hello", 5);
    /* Not acknowledged: delivered again on the next session. */
    th_mqtt_close(&m);
    assert_int_equal(th_hub_connect(&m, &srv, "dev-c2d", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "devices/+/messages/devicebound/#", 1), 1);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_memory_equal(p.publish.payload.ptr, "hello", 5);
    struct iotc_mqtt_packet ack = {.type = IOTC_MQTT_PUBACK};
    ack.packet_id = p.publish.packet_id;
    assert_int_equal(th_mqtt_send(&m, &ack), 0);
    /* Sent while connected and subscribed: delivered at once. */
    assert_int_equal(send_c2d("dev-c2d", "second", "m2") / 100, 2);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_memory_equal(p.publish.payload.ptr, "second", 6);
    ack.packet_id = p.publish.packet_id;
    assert_int_equal(th_mqtt_send(&m, &ack), 0);
    th_mqtt_close(&m);
    /* Both acknowledged: nothing comes back. */
    assert_int_equal(th_hub_connect(&m, &srv, "dev-c2d", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "devices/dev-c2d/messages/devicebound/#", 1), 1);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 1000), -1);
    th_mqtt_close(&m);
}

/* ------------------------------------------------------------------ limits and refusals */

static void test_token_expiry_closes(void **state)
{
    (void)state;
    char user[300], token[600];
    snprintf(user, sizeof user, "%s/dev-exp/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(th_hub_token(&srv, "dev-exp", KEY, th_now() + 2, token, sizeof token), 0);
    struct th_mqtt m;
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "dev-exp", user, token, 60, true), 0);
    assert_true(th_mqtt_wait_closed(&m, 5000));
    th_mqtt_close(&m);
    assert_true(th_central_log_contains(&srv, "disconnect dev-exp", 1000));
    assert_true(th_central_log_contains(&srv, "SAS token expired", 1000));
}

static void test_authorization_refusals(void **state)
{
    (void)state;
    static const struct {
        bool subscribe;
        const char *topic;
        uint8_t qos;
    } cases[] = {
        {false, "devices/dev-a/messages/events/", 0},         /* another device's telemetry */
        {false, "devices/dev-auth/messages/devicebound/", 0}, /* server-to-device topic */
        {false, "$iothub/methods/POST/x/?$rid=1", 0},
        {false, "some/other/topic", 1},
        {false, "devices/dev-auth/messages/events/", 2},   /* QoS 2 */
        {true, "devices/dev-a/messages/devicebound/#", 1}, /* another device's C2D */
        {true, "#", 0},
        {true, "$iothub/#", 0},
        {true, "devices/dev-auth/modules/m1/#", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct th_mqtt m;
        assert_int_equal(th_hub_connect(&m, &srv, "dev-auth", KEY), 0);
        if (cases[i].subscribe) {
            struct iotc_mqtt_subscription sub = {iotc_span_from_cstr(cases[i].topic), cases[i].qos};
            struct iotc_mqtt_packet s = {.type = IOTC_MQTT_SUBSCRIBE};
            s.subscribe.packet_id = 9;
            s.subscribe.count = 1;
            s.subscribe.list = &sub;
            assert_int_equal(th_mqtt_send(&m, &s), 0);
        } else {
            struct iotc_mqtt_packet s = {.type = IOTC_MQTT_PUBLISH};
            s.publish.qos = cases[i].qos;
            s.publish.packet_id = cases[i].qos ? 3 : 0;
            s.publish.topic = iotc_span_from_cstr(cases[i].topic);
            s.publish.payload = IOTC_SPAN_LIT("x");
            assert_int_equal(th_mqtt_send(&m, &s), 0);
        }
        if (!th_mqtt_wait_closed(&m, 3000))
            fail_msg("case %zu (%s) did not close the connection", i, cases[i].topic);
        th_mqtt_close(&m);
    }
    assert_true(th_central_log_contains(&srv, "publish not authorized", 1000));
    assert_true(th_central_log_contains(&srv, "subscription not authorized", 1000));
    assert_true(th_central_log_contains(&srv, "QoS 2 PUBLISH is not supported", 1000));
}

static void test_malformed_and_oversized(void **state)
{
    (void)state;
    struct th_mqtt m;
    /* Remaining Length with five bytes. */
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_send_raw(&m, "\x10\xff\xff\xff\xff\x01", 6), 0);
    assert_true(th_mqtt_wait_closed(&m, 3000));
    th_mqtt_close(&m);
    /* After CONNECT: reserved packet type 0. */
    assert_int_equal(th_hub_connect(&m, &srv, "dev-big", KEY), 0);
    assert_int_equal(th_mqtt_send_raw(&m, "\x00\x00", 2), 0);
    assert_true(th_mqtt_wait_closed(&m, 3000));
    th_mqtt_close(&m);
    /* A PUBLISH before CONNECT. */
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_true(th_mqtt_publish(&m, "devices/dev-big/messages/events/", "x", 1, 0) >= 0);
    assert_true(th_mqtt_wait_closed(&m, 3000));
    th_mqtt_close(&m);

    /* 200 KB telemetry is fine; 300 KB is over the 256 KB limit and closes. */
    size_t big = 300 * 1024;
    char *payload = calloc(1, big);
    assert_non_null(payload);
    memset(payload, 'x', big);
    assert_int_equal(th_hub_connect(&m, &srv, "dev-big", KEY), 0);
    int pid = th_mqtt_publish(&m, "devices/dev-big/messages/events/", payload, 200 * 1024, 1);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 5000), 0);
    assert_int_equal(p.packet_id, pid);
    /* The server may close while we are still writing: either way the connection ends. */
    if (th_mqtt_publish(&m, "devices/dev-big/messages/events/", payload, big, 1) > 0)
        assert_true(th_mqtt_wait_closed(&m, 5000));
    th_mqtt_close(&m);
    free(payload);
    assert_true(th_central_log_contains(&srv, "packet too large", 1000));
    assert_true(th_central_log_contains(&srv, "malformed packet", 1000));
}

static void test_second_connection_drops_first(void **state)
{
    (void)state;
    struct th_mqtt a, b;
    assert_int_equal(th_hub_connect(&a, &srv, "dev-dup", KEY), 0);
    assert_int_equal(th_hub_connect(&b, &srv, "dev-dup", KEY), 0);
    assert_true(th_mqtt_wait_closed(&a, 3000));
    struct iotc_mqtt_packet ping = {.type = IOTC_MQTT_PINGREQ}, p;
    assert_int_equal(th_mqtt_send(&b, &ping), 0);
    assert_int_equal(th_mqtt_expect(&b, IOTC_MQTT_PINGRESP, &p, 3000), 0);
    th_mqtt_close(&a);
    th_mqtt_close(&b);
    assert_true(th_central_log_contains(&srv, "ConnectionForcefullyClosedOnNewConnection", 1000));
}

static void test_keepalive_enforced(void **state)
{
    (void)state;
    char user[300], token[600];
    snprintf(user, sizeof user, "%s/dev-ka/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(th_hub_token(&srv, "dev-ka", KEY, th_now() + 600, token, sizeof token), 0);
    struct th_mqtt m;
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "dev-ka", user, token, 1, true), 0);
    /* 1.5 x 1 s without a packet: closed. */
    assert_true(th_mqtt_wait_closed(&m, 4000));
    th_mqtt_close(&m);
    assert_true(th_central_log_contains(&srv, "keep-alive timeout", 1000));
}

static void connect_ka(struct th_mqtt *m, const char *id, uint16_t keepalive)
{
    char user[300], token[600];
    snprintf(user, sizeof user, "%s/%s/?api-version=2021-04-12", srv.hub_host, id);
    assert_int_equal(th_hub_token(&srv, id, KEY, th_now() + 600, token, sizeof token), 0);
    assert_int_equal(th_mqtt_open(m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(m, id, user, token, keepalive, true), 0);
}

static void ping(struct th_mqtt *m)
{
    struct iotc_mqtt_packet req = {.type = IOTC_MQTT_PINGREQ}, p;
    assert_int_equal(th_mqtt_send(m, &req), 0);
    assert_int_equal(th_mqtt_expect(m, IOTC_MQTT_PINGRESP, &p, 3000), 0);
}

/* The sessions' deadlines share one timer: each fires on its own, a packet moves one later,
 * and the sessions whose deadline is far stay. */
static void test_keepalive_deadlines_shared(void **state)
{
    (void)state;
    struct th_mqtt k60, k2, k1, kp;
    connect_ka(&k60, "dev-k60", 60);
    connect_ka(&k2, "dev-k2", 2);
    connect_ka(&k1, "dev-k1", 1);
    connect_ka(&kp, "dev-kp", 1);
    /* 4 s of a packet every 0.5 s keeps kp (1.5 s without one would close it) ... */
    for (int i = 0; i < 8; i++) {
        ping(&kp);
        usleep(500 * 1000);
    }
    /* ... while k1 (1.5 s) and k2 (3 s) were closed meanwhile, */
    assert_true(th_mqtt_wait_closed(&k1, 1000));
    assert_true(th_mqtt_wait_closed(&k2, 1000));
    /* and k60 is still there. */
    ping(&k60);
    ping(&kp);
    th_mqtt_close(&k1);
    th_mqtt_close(&k2);
    th_mqtt_close(&kp);
    th_mqtt_close(&k60);
}

/* ------------------------------------------------------------------ will */

static int will_rows(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/central.db", srv.data_dir);
    sqlite3 *db;
    sqlite3_stmt *s;
    int n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(
            db,
            "SELECT count(*) FROM telemetry WHERE device_id='dev-will' AND "
            "json_extract(props, '$.\"iothub-MessageType\"')='Will' AND "
            "json_extract(props, '$.\"$.ct\"')='text/plain' AND CAST(payload AS TEXT)='gone'",
            -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return n;
}

static void connect_with_will(struct th_mqtt *m)
{
    char user[300], token[600];
    snprintf(user, sizeof user, "%s/dev-will/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(th_hub_token(&srv, "dev-will", KEY, th_now() + 600, token, sizeof token), 0);
    assert_int_equal(th_mqtt_open(m, srv.mqtt_port, srv.ca_path), 0);
    struct iotc_mqtt_packet c = {.type = IOTC_MQTT_CONNECT}, p;
    c.connect.protocol_level = 4;
    c.connect.clean_session = true;
    c.connect.keep_alive = 60;
    c.connect.client_id = IOTC_SPAN_LIT("dev-will");
    c.connect.has_username = c.connect.has_password = true;
    c.connect.username = iotc_span_from_cstr(user);
    c.connect.password = iotc_span_from_cstr(token);
    c.connect.has_will = true;
    c.connect.will_qos = 1;
    c.connect.will_topic = IOTC_SPAN_LIT("devices/dev-will/messages/events/%24.ct=text%2Fplain");
    c.connect.will_payload = IOTC_SPAN_LIT("gone");
    assert_int_equal(th_mqtt_send(m, &c), 0);
    assert_int_equal(th_mqtt_expect(m, IOTC_MQTT_CONNACK, &p, 5000), 0);
    assert_int_equal(p.connack.return_code, 0);
}

/* The will is recorded as telemetry (iothub-MessageType=Will) on an ungraceful close only. */
static void test_will_message(void **state)
{
    (void)state;
    struct th_mqtt m;
    connect_with_will(&m);
    struct iotc_mqtt_packet d = {.type = IOTC_MQTT_DISCONNECT};
    assert_int_equal(th_mqtt_send(&m, &d), 0);
    assert_true(th_mqtt_wait_closed(&m, 3000));
    th_mqtt_close(&m);
    assert_true(th_central_log_contains(&srv, "disconnect dev-will from", 2000));
    assert_int_equal(will_rows(), 0);

    connect_with_will(&m);
    th_mqtt_close(&m); /* no DISCONNECT */
    assert_true(th_central_log_contains(&srv, "recorded the will message of dev-will", 3000));
    int n = 0;
    for (int i = 0; i < 100 && (n = will_rows()) == 0; i++)
        usleep(20000);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_codes),
        cmocka_unit_test(test_telemetry_stored),
        cmocka_unit_test(test_telemetry_hub_set_properties),
        cmocka_unit_test(test_bag_cache_and_stats),
        cmocka_unit_test(test_twin),
        cmocka_unit_test(test_method_answered),
        cmocka_unit_test(test_method_offline_and_timeout),
        cmocka_unit_test(test_method_connect_timeout),
        cmocka_unit_test(test_c2d),
        cmocka_unit_test(test_token_expiry_closes),
        cmocka_unit_test(test_authorization_refusals),
        cmocka_unit_test(test_malformed_and_oversized),
        cmocka_unit_test(test_second_connection_drops_first),
        cmocka_unit_test(test_keepalive_enforced),
        cmocka_unit_test(test_keepalive_deadlines_shared),
        cmocka_unit_test(test_will_message),
    };
    return cmocka_run_group_tests_name("central_hub", tests, setup, teardown);
}
