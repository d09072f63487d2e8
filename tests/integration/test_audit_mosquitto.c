/*
 * test_audit_mosquitto.c - unmodified MQTT clients against iotc-central's IoT Hub: the Debian
 * mosquitto_pub / mosquitto_sub binaries connect over TLS with only --cafile, the device id as
 * client id, the hub username and a SAS password (docs/PROTOCOL.md §5.2), publish telemetry, get
 * refused for another device's topic or a wrong key, and receive a cloud-to-device message.
 * Skipped (not passed) when the clients are not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "../lib/harness.h"

static struct th_central srv;
static const char KEY[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
static const char WRONG[] = "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc=";

static bool have_clients(void)
{
    return system("command -v mosquitto_pub >/dev/null 2>&1 && "
                  "command -v mosquitto_sub >/dev/null 2>&1") == 0;
}

static int create_device(const char *id)
{
    return th_put_device(&srv, id, KEY, KEY, true) == 200 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    if (!have_clients())
        return 0; /* each test skips */
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    return create_device("mq-1") == 0 && create_device("mq-2") == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (srv.pid == 0 && srv.root[0] == '\0')
        return 0;
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/*
 * Run a mosquitto client: @p tool ("pub" or "sub") as device @p id with a token signed by
 * @p key, the username query @p query, then @p args. Output (stdout+stderr) into @p out.
 * @return the exit status.
 */
static int run_client(const char *tool, const char *id, const char *key, const char *query,
                      const char *args, char *out, size_t size)
{
    char token[600], cmd[4096];
    if (th_hub_token(&srv, id, key, th_now() + 600, token, sizeof token) != 0)
        return -1;
    snprintf(cmd, sizeof cmd,
             "timeout 20 mosquitto_%s -h localhost -p %u --cafile '%s' -V mqttv311 -i '%s' "
             "-u '%s/%s/?%s' -P '%s' %s 2>&1",
             tool, srv.mqtt_port, srv.ca_path, id, srv.hub_host, id, query, token, args);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The stored row of @p device: its props JSON and payload (both copied into the buffers). */
static int last_row(const char *device, char *props, size_t psize, char *payload, size_t size)
{
    char path[400];
    snprintf(path, sizeof path, "%s/central.db", srv.data_dir);
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT props, payload FROM telemetry WHERE device_id=? ORDER BY seq "
                           "DESC LIMIT 1",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            snprintf(props, psize, "%s", (const char *)sqlite3_column_text(s, 0));
            snprintf(payload, size, "%.*s", sqlite3_column_bytes(s, 1),
                     (const char *)sqlite3_column_blob(s, 1));
            rc = 0;
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return rc;
}

#define SKIP_WITHOUT_CLIENTS()                                                                    \
    do {                                                                                          \
        if (!have_clients()) {                                                                    \
            print_message("mosquitto_pub/mosquitto_sub not installed (apt mosquitto-clients)\n"); \
            skip();                                                                               \
        }                                                                                         \
    } while (0)

/* Telemetry at QoS 1 with a property bag; the model id of the username is recorded. */
static void test_mosquitto_pub_telemetry(void **state)
{
    (void)state;
    SKIP_WITHOUT_CLIENTS();
    char out[4096];
    int rc = run_client("pub", "mq-1", KEY,
                        "api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3AMosq%3B1",
                        "-q 1 -t 'devices/mq-1/messages/events/%24.ct=application%2Fjson&"
                        "%24.ce=utf-8&origin=mosquitto' -m '{\"temperature\":19.5}'",
                        out, sizeof out);
    if (rc != 0)
        fail_msg("mosquitto_pub exited %d: %s", rc, out);
    char props[1024], payload[256];
    assert_int_equal(th_count_telemetry(&srv, "mq-1"), 1);
    assert_int_equal(last_row("mq-1", props, sizeof props, payload, sizeof payload), 0);
    assert_string_equal(payload, "{\"temperature\":19.5}");
    cJSON *o = cJSON_Parse(props);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "$.ct")->valuestring,
                        "application/json");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "origin")->valuestring, "mosquitto");
    cJSON_Delete(o);

    /* Registry and twin show the model id announced in the username. */
    static const char *const paths[] = {"/devices/mq-1?api-version=2021-04-12",
                                        "/twins/mq-1?api-version=2021-04-12"};
    for (size_t i = 0; i < 2; i++) {
        struct th_http_response r;
        assert_int_equal(th_https(&srv, "GET", paths[i], NULL, NULL, true, 5000, &r), 0);
        o = cJSON_Parse(r.body);
        const cJSON *mid = cJSON_GetObjectItemCaseSensitive(o, "modelId");
        if (!cJSON_IsString(mid) || strcmp(mid->valuestring, "dtmi:com:example:Mosq;1") != 0)
            fail_msg("%s: %s", paths[i], r.body);
        cJSON_Delete(o);
        free(r.body);
    }
}

/* Another device's topic: the hub closes the connection, nothing is stored. */
static void test_mosquitto_pub_foreign_topic_refused(void **state)
{
    (void)state;
    SKIP_WITHOUT_CLIENTS();
    char out[4096];
    int before = th_count_telemetry(&srv, "mq-1");
    int rc = run_client("pub", "mq-1", KEY, "api-version=2021-04-12",
                        "-q 1 -t 'devices/mq-2/messages/events/' -m 'not mine'", out, sizeof out);
    print_message("mosquitto_pub to a foreign topic: exit %d: %s", rc, out);
    assert_true(rc != 0);
    assert_true(th_central_log_contains(
        &srv, "mq-1 published to an unauthorized topic devices/mq-2/messages/events/", 2000));
    assert_true(th_central_log_contains(&srv, "disconnect mq-1", 2000));
    assert_int_equal(th_count_telemetry(&srv, "mq-2"), 0);
    assert_int_equal(th_count_telemetry(&srv, "mq-1"), before);
}

/* A token signed with the wrong key: CONNACK 5, which mosquitto reports as "not authorised". */
static void test_mosquitto_pub_wrong_key(void **state)
{
    (void)state;
    SKIP_WITHOUT_CLIENTS();
    char out[4096];
    int rc = run_client("pub", "mq-1", WRONG, "api-version=2021-04-12",
                        "-q 1 -t 'devices/mq-1/messages/events/' -m 'x'", out, sizeof out);
    assert_true(rc != 0);
    if (strstr(out, "not authorised") == NULL)
        fail_msg("unexpected mosquitto_pub output: %s", out);
}

/* MQTT 5 is not what the hub serves (§5.1): CONNACK 1 "unacceptable protocol version". */
static void test_mosquitto_mqtt5_refused(void **state)
{
    (void)state;
    SKIP_WITHOUT_CLIENTS();
    char out[4096];
    /* The later -V wins in mosquitto's option parsing. */
    int rc =
        run_client("pub", "mq-1", KEY, "api-version=2021-04-12",
                   "-V mqttv5 -q 1 -t 'devices/mq-1/messages/events/' -m 'x'", out, sizeof out);
    print_message("mosquitto_pub -V mqttv5: exit %d: %s", rc, out);
    assert_true(rc != 0);
    /* mosquitto 2.0 words CONNACK 1 as "Unsupported Protocol Version". */
    if (strstr(out, "Protocol Version") == NULL && strstr(out, "protocol version") == NULL)
        fail_msg("unexpected mosquitto_pub output: %s", out);
}

/* A C2D message queued while the device is away reaches mosquitto_sub; once PUBACKed it is
 * gone. */
static void test_mosquitto_sub_c2d(void **state)
{
    (void)state;
    SKIP_WITHOUT_CLIENTS();
    struct th_http_response r;
    assert_int_equal(th_https(&srv, "POST",
                              "/devices/mq-2/messages/deviceBound?api-version=2021-04-12",
                              "iothub-messageid: mq-c2d-1\r\n", "lights on", true, 5000, &r),
                     0);
    assert_int_equal(r.status / 100, 2);
    free(r.body);
    char out[4096];
    int rc =
        run_client("sub", "mq-2", KEY, "api-version=2021-04-12",
                   "-q 1 -C 1 -W 10 -v -t 'devices/mq-2/messages/devicebound/#'", out, sizeof out);
    if (rc != 0 || strncmp(out, "devices/mq-2/messages/devicebound/", 34) != 0 ||
        strstr(out, "%24.mid=mq-c2d-1") == NULL || strstr(out, " lights on") == NULL)
        fail_msg("mosquitto_sub exited %d: %s", rc, out);
    /* Acknowledged: a second subscriber gets nothing within 2 s (exit 27 = timed out). */
    rc = run_client("sub", "mq-2", KEY, "api-version=2021-04-12",
                    "-q 1 -C 1 -W 2 -v -t 'devices/mq-2/messages/devicebound/#'", out, sizeof out);
    if (rc == 0)
        fail_msg("C2D delivered again after its PUBACK: %s", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mosquitto_pub_telemetry),
        cmocka_unit_test(test_mosquitto_pub_foreign_topic_refused),
        cmocka_unit_test(test_mosquitto_pub_wrong_key),
        cmocka_unit_test(test_mosquitto_mqtt5_refused),
        cmocka_unit_test(test_mosquitto_sub_c2d),
    };
    return cmocka_run_group_tests_name("audit_mosquitto", tests, setup, teardown);
}
