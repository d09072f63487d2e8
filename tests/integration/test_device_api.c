/*
 * libiotc API features against a real iotc-central, beyond the tutorial: telemetry message
 * properties (content type/encoding, component, custom), component commands and a deferred
 * answer from another thread, component writable properties through a catch-all handler,
 * reported-patch outcomes, a direct hub connection from a connection string, and driving the
 * client from the caller's own single-threaded poll loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>

#include "device_util.h"

static struct th_central srv;

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    /* DPS asks devices to wait 2 s before polling: test_dps_retry_after checks we do. */
    const char *const extra[] = {"--dps-retry-after", "2", NULL};
    return th_central_start(&srv, extra);
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

/* Read the component and property columns of the telemetry iotc-central stored. */
static int stored_meta(const char *device_id, char *component, size_t csize, char *props,
                       size_t psize)
{
    char path[400];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rows = 0;

    snprintf(path, sizeof(path), "%s/central.db", srv.data_dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT component, props FROM telemetry WHERE device_id = ?", -1,
                           &st, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        const char *p = (const char *)sqlite3_column_text(st, 1);
        snprintf(component, csize, "%s", c ? c : "");
        snprintf(props, psize, "%s", p ? p : "");
        rows++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

static void test_message_properties(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64], comp[64] = "", props[1024] = "";
    (void)state;

    du_dps_config(&cfg, &srv, "api-props-1", ep, sizeof(ep));
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));

    const struct iotc_msg_prop custom[] = {{"alert level", "high & rising"}, {"flag", NULL}};
    const struct iotc_msg_props mp = {
        .content_type = "application/json",
        .content_encoding = "utf-8",
        .component = "thermostat1",
        .message_id = "m-1",
        .custom = custom,
        .n_custom = 2,
    };
    const char body[] = "{\"temperature\":21.5}";
    uint32_t id = 0;
    assert_int_equal(iotc_client_send_telemetry(d.c, body, sizeof(body) - 1, &mp, NULL, NULL, &id),
                     IOTC_OK);
    assert_int_not_equal(id, 0);
    /* Bad arguments are refused up front. */
    const struct iotc_msg_props bad = {.custom = NULL, .n_custom = 1};
    assert_int_equal(iotc_client_send_telemetry(d.c, body, 4, &bad, NULL, NULL, NULL), IOTC_E_ARG);
    const struct iotc_msg_prop empty_name[] = {{"", "x"}};
    const struct iotc_msg_props bad2 = {.custom = empty_name, .n_custom = 1};
    assert_int_equal(iotc_client_send_telemetry(d.c, body, 4, &bad2, NULL, NULL, NULL), IOTC_E_ARG);
    assert_int_equal(iotc_client_send_telemetry(d.c, NULL, 3, NULL, NULL, NULL, NULL), IOTC_E_ARG);

    int64_t end = du_now_ms() + 10000;
    while (du_now_ms() < end &&
           stored_meta("api-props-1", comp, sizeof(comp), props, sizeof(props)) < 1)
        du_sleep_ms(50);
    fprintf(stderr, "stored component '%s' props %s\n", comp, props);
    assert_string_equal(comp, "thermostat1");
    assert_non_null(strstr(props, "alert level"));
    assert_non_null(strstr(props, "high & rising"));
    assert_non_null(strstr(props, "application/json"));
    du_stop(&d);
}

/* ----------------------------------------------------------------- deferred command answer */

static pthread_mutex_t cmd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cmd_cv = PTHREAD_COND_INITIALIZER;
static char saved_rid[40];
static char seen_component[64], seen_name[64], seen_payload[128];

static int on_deferred(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                       const char **out_json)
{
    (void)user;
    (void)c;
    (void)out_json;
    pthread_mutex_lock(&cmd_mu);
    snprintf(saved_rid, sizeof(saved_rid), "%s", cmd->rid);
    snprintf(seen_component, sizeof(seen_component), "%s", cmd->component ? cmd->component : "");
    snprintf(seen_name, sizeof(seen_name), "%s", cmd->name);
    snprintf(seen_payload, sizeof(seen_payload), "%s", cmd->payload);
    pthread_cond_signal(&cmd_cv);
    pthread_mutex_unlock(&cmd_mu);
    return IOTC_COMMAND_DEFER;
}

static void *responder(void *arg)
{
    struct iotc_client *c = arg;
    pthread_mutex_lock(&cmd_mu);
    while (saved_rid[0] == '\0')
        pthread_cond_wait(&cmd_cv, &cmd_mu);
    char rid[40];
    snprintf(rid, sizeof(rid), "%s", saved_rid);
    pthread_mutex_unlock(&cmd_mu);
    du_sleep_ms(300); /* answered later, from another thread */
    iotc_client_command_respond(c, "bad rid with spaces", 200, NULL); /* refused, ignored */
    int rc = iotc_client_command_respond(c, rid, 200, "{\"maxTemp\":30.5,\"minTemp\":20}");
    return (void *)(intptr_t)rc;
}

static int on_root_answer(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                          const char **out_json)
{
    (void)user;
    (void)c;
    (void)cmd;
    *out_json = "not json";
    return 200;
}

static void test_component_command_deferred(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    pthread_t th;
    char ep[64];
    int status, http;
    void *ret;
    (void)state;

    du_dps_config(&cfg, &srv, "api-cmd-1", ep, sizeof(ep));
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(iotc_client_on_command(d.c, "thermostat1*getMaxMinReport", on_deferred, NULL),
                     IOTC_OK);
    assert_int_equal(iotc_client_on_command(d.c, "broken", on_root_answer, NULL), IOTC_OK);
    /* Not connected: a deferred answer cannot be sent. */
    assert_int_equal(iotc_client_command_respond(d.c, "1", 200, NULL), IOTC_E_STATE);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));
    assert_int_equal(pthread_create(&th, NULL, responder, d.c), 0);

    cJSON *p = du_invoke(&srv, "api-cmd-1", "thermostat1*getMaxMinReport",
                         "\"2021-03-24T12:55:20.789Z\"", &status, &http);
    pthread_join(th, &ret);
    assert_int_equal((int)(intptr_t)ret, IOTC_OK);
    assert_int_equal(http, 200);
    assert_int_equal(status, 200);
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(p, "maxTemp");
    assert_true(cJSON_IsNumber(mx));
    cJSON_Delete(p);
    assert_string_equal(seen_component, "thermostat1");
    assert_string_equal(seen_name, "getMaxMinReport");
    assert_string_equal(seen_payload, "\"2021-03-24T12:55:20.789Z\"");

    /* A handler returning invalid JSON makes the library answer 500 rather than garbage. */
    p = du_invoke(&srv, "api-cmd-1", "broken", "null", &status, &http);
    assert_int_equal(status, 500);
    cJSON_Delete(p);
    /* Removing a handler: the command becomes unknown. */
    assert_int_equal(iotc_client_on_command(d.c, "broken", NULL, NULL), IOTC_OK);
    p = du_invoke(&srv, "api-cmd-1", "broken", "null", &status, &http);
    assert_int_equal(status, 404);
    cJSON_Delete(p);
    du_stop(&d);
}

/* ----------------------------------------------------------------- component properties */

static int on_comp_prop(void *user, struct iotc_client *c, const struct iotc_property *p,
                        const char **out_desc)
{
    int *calls = user;
    (void)c;
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
    if (p->component == NULL || strcmp(p->component, "thermostat1") != 0)
        return 400;
    *out_desc = "applied";
    return 200;
}

static void test_component_writable_property(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    int calls = 0;
    (void)state;

    du_dps_config(&cfg, &srv, "api-prop-1", ep, sizeof(ep));
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(iotc_client_on_property(d.c, "thermostat1", NULL, on_comp_prop, &calls),
                     IOTC_OK);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));

    long v = du_patch_desired(&srv, "api-prop-1",
                              "{\"thermostat1\":{\"__t\":\"c\",\"targetTemperature\":42}}");
    assert_true(v > 0);
    const cJSON *ack = NULL;
    cJSON *twin = NULL;
    int64_t end = du_now_ms() + 10000;
    while (du_now_ms() < end) {
        cJSON_Delete(twin);
        twin = du_get_twin(&srv, "api-prop-1");
        const cJSON *comp = du_twin_prop(twin, "reported", "thermostat1");
        ack = cJSON_GetObjectItemCaseSensitive(comp, "targetTemperature");
        const cJSON *av = cJSON_GetObjectItemCaseSensitive(ack, "av");
        if (cJSON_IsNumber(av) && (long)av->valuedouble == v)
            break;
        ack = NULL;
        du_sleep_ms(50);
    }
    assert_non_null(ack);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(ack, "value")->valuedouble, 42);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(ack, "ac")->valuedouble, 200);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ack, "ad")),
                        "applied");
    const cJSON *comp = du_twin_prop(twin, "reported", "thermostat1");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(comp, "__t")), "c");
    cJSON_Delete(twin);
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_SEQ_CST), 1);

    /* The report API: component property, validation of the patch. */
    assert_int_equal(iotc_client_report_property(d.c, "thermostat1", "maxTempSinceLastReboot",
                                                 "38.7", NULL, NULL, NULL),
                     IOTC_OK);
    assert_int_equal(iotc_client_report(d.c, "[1,2]", NULL, NULL, NULL), IOTC_E_ARG);
    assert_int_equal(iotc_client_report(d.c, "{bad", NULL, NULL, NULL), IOTC_E_ARG);
    assert_int_equal(iotc_client_report_property(d.c, NULL, "x", "not json", NULL, NULL, NULL),
                     IOTC_E_ARG);
    end = du_now_ms() + 10000;
    const cJSON *m = NULL;
    twin = NULL;
    while (du_now_ms() < end && m == NULL) {
        cJSON_Delete(twin);
        twin = du_get_twin(&srv, "api-prop-1");
        m = cJSON_GetObjectItemCaseSensitive(du_twin_prop(twin, "reported", "thermostat1"),
                                             "maxTempSinceLastReboot");
        if (m == NULL)
            du_sleep_ms(50);
    }
    assert_non_null(m);
    assert_true(m->valuedouble > 38.6 && m->valuedouble < 38.8);
    cJSON_Delete(twin);
    du_stop(&d);
}

/* ----------------------------------------------------------------- connection string */

static void test_connection_string(void **state)
{
    struct th_http_response r;
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char cs[512];
    const char *key = "c2VjcmV0LWtleS1mb3ItY3MtZGV2aWNlLTAxMjM0NTY=";
    char body[512];
    (void)state;

    snprintf(body, sizeof(body),
             "{\"deviceId\":\"api-cs-1\",\"authentication\":{\"type\":\"sas\",\"symmetricKey\":"
             "{\"primaryKey\":\"%s\",\"secondaryKey\":\"%s\"}}}",
             key, key);
    assert_int_equal(th_https(&srv, "PUT", "/devices/api-cs-1?api-version=2021-04-12", NULL, body,
                              true, 10000, &r),
                     0);
    free(r.body);
    assert_int_equal(r.status, 200);

    snprintf(cs, sizeof(cs), "HostName=localhost:%u;DeviceId=api-cs-1;SharedAccessKey=%s",
             (unsigned)srv.mqtt_port, key);
    iotc_config_init(&cfg);
    cfg.connection_string = cs;
    cfg.ca_file = srv.ca_path;
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));
    assert_int_equal(du_send_seq(&d, 0), IOTC_OK);
    assert_true(du_wait_acked(&d, 1, 10000));
    struct iotc_stats st;
    iotc_client_get_stats(d.c, &st);
    assert_int_equal(st.provisionings, 0); /* no DPS involved */
    assert_int_equal(du_store_count(&srv, "api-cs-1", 1, NULL), 1);
    du_stop(&d);
}

/* ----------------------------------------------------------------- the caller's own loop */

static void on_ack_count(void *user, uint32_t id, int result)
{
    (void)id;
    if (result == IOTC_OK)
        (*(int *)user)++;
}

static void test_callers_own_loop(void **state)
{
    struct iotc_config cfg;
    struct iotc_client *c;
    char ep[64];
    int acked = 0;
    (void)state;

    du_dps_config(&cfg, &srv, "api-loop-1", ep, sizeof(ep));
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_OK);
    assert_int_equal(iotc_client_start(c), IOTC_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(
            iotc_client_send_telemetry(c, "{\"n\":1}", 7, NULL, on_ack_count, &acked, NULL),
            IOTC_OK);
    int64_t end = du_now_ms() + 20000;
    int rc = IOTC_OK;
    bool stop_sent = false;
    while (rc == IOTC_OK && du_now_ms() < end) {
        struct iotc_poll_info pi;
        struct pollfd fds[2];
        nfds_t n = 0;
        assert_int_equal(iotc_client_poll_info(c, &pi), IOTC_OK);
        assert_true(pi.timeout_ms >= 0 && pi.timeout_ms <= 1000);
        assert_true(pi.wake_fd >= 0);
        fds[n++] = (struct pollfd){.fd = pi.wake_fd, .events = POLLIN};
        if (pi.fd >= 0)
            fds[n++] = (struct pollfd){pi.fd, (short)(POLLIN | (pi.want_write ? POLLOUT : 0)), 0};
        int prc = poll(fds, n, pi.timeout_ms);
        bool rd = prc > 0 && ((fds[0].revents & POLLIN) || (n > 1 && (fds[1].revents & POLLIN)));
        bool wr = prc > 0 && n > 1 && (fds[1].revents & POLLOUT);
        rc = iotc_client_process(c, rd, wr);
        if (acked == 5 && !stop_sent) {
            iotc_client_stop(c);
            stop_sent = true;
        }
    }
    assert_int_equal(acked, 5);
    assert_int_equal(rc, IOTC_E_STATE); /* the loop ends when the client stopped */
    assert_int_equal(iotc_client_state(c), IOTC_STATE_STOPPED);
    assert_int_equal(iotc_client_start(c), IOTC_E_STATE);
    assert_int_equal(iotc_client_send_telemetry(c, "{}", 2, NULL, NULL, NULL, NULL), IOTC_E_STATE);
    iotc_client_free(c);
}

/* ----------------------------------------------------------------- cloud-to-device */

static pthread_mutex_t c2d_mu = PTHREAD_MUTEX_INITIALIZER;
static int queued_calls, c2d_calls;
static char queued_payload[8][64];
static bool queued_flag_ok = true;
static char c2d_payload[64], c2d_color[32];

static int on_queued(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                     const char **out_json)
{
    (void)user;
    (void)c;
    (void)out_json;
    pthread_mutex_lock(&c2d_mu);
    if (!cmd->queued || cmd->rid[0] != '\0' || strcmp(cmd->name, "reboot") != 0 ||
        cmd->component == NULL || strcmp(cmd->component, "sensor") != 0)
        queued_flag_ok = false;
    if (queued_calls < 8)
        snprintf(queued_payload[queued_calls], sizeof(queued_payload[0]), "%s", cmd->payload);
    queued_calls++;
    pthread_mutex_unlock(&c2d_mu);
    return 200; /* ignored: nobody waits for a queued command */
}

static void on_c2d(void *user, struct iotc_client *c, const struct iotc_c2d_message *m)
{
    (void)user;
    (void)c;
    pthread_mutex_lock(&c2d_mu);
    snprintf(c2d_payload, sizeof(c2d_payload), "%.*s", (int)m->len, (const char *)m->payload);
    for (size_t i = 0; i < m->n_props; i++) {
        if (strcmp(m->props[i].name, "color") == 0 && m->props[i].value)
            snprintf(c2d_color, sizeof(c2d_color), "%s", m->props[i].value);
    }
    c2d_calls++;
    pthread_mutex_unlock(&c2d_mu);
}

static int send_c2d(const char *device_id, const char *headers, const char *body)
{
    char path[256];
    struct th_http_response r;
    snprintf(path, sizeof(path), "/devices/%s/messages/deviceBound?api-version=2021-04-12",
             device_id);
    if (th_https(&srv, "POST", path, headers, body, true, 10000, &r) != 0)
        return -1;
    free(r.body);
    return r.status;
}

static bool wait_calls(int *counter, int want)
{
    int64_t end = du_now_ms() + 10000;
    for (;;) {
        pthread_mutex_lock(&c2d_mu);
        int v = *counter;
        pthread_mutex_unlock(&c2d_mu);
        if (v >= want)
            return true;
        if (du_now_ms() > end)
            return false;
        du_sleep_ms(20);
    }
}

static void test_queued_commands_and_c2d(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    (void)state;

    du_dps_config(&cfg, &srv, "api-c2d-1", ep, sizeof(ep));
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(iotc_client_on_command(d.c, "sensor*reboot", on_queued, NULL), IOTC_OK);
    assert_int_equal(iotc_client_on_c2d(d.c, on_c2d, NULL), IOTC_OK);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));
    du_sleep_ms(200); /* subscriptions in place */

    /* IoT Central's queued commands: method-name + the raw request value (or "@" for none). */
    const char *hdr = "iothub-app-method-name: sensor*reboot\r\niothub-ack: none\r\n";
    assert_int_equal(send_c2d("api-c2d-1", hdr, "{\"delay\":5}"), 204);
    assert_int_equal(send_c2d("api-c2d-1", hdr, "@"), 204);
    assert_int_equal(send_c2d("api-c2d-1", hdr, "soon please"), 204);
    assert_true(wait_calls(&queued_calls, 3));
    assert_true(queued_flag_ok);
    assert_string_equal(queued_payload[0], "{\"delay\":5}");
    assert_string_equal(queued_payload[1], "null");
    assert_string_equal(queued_payload[2], "\"soon please\"");

    /* A plain cloud-to-device message with an application property. */
    assert_int_equal(send_c2d("api-c2d-1", "iothub-app-color: blue\r\n", "ping"), 204);
    assert_true(wait_calls(&c2d_calls, 1));
    assert_string_equal(c2d_payload, "ping");
    assert_string_equal(c2d_color, "blue");
    du_stop(&d);
}

/* Messages still queued when the client is freed are reported, not lost silently. */
static void on_fail_count(void *user, uint32_t id, int result)
{
    (void)id;
    if (result == IOTC_E_STATE)
        (*(int *)user)++;
}

static void test_free_reports_pending(void **state)
{
    struct iotc_config cfg;
    struct iotc_client *c;
    char ep[64];
    int failed = 0;
    (void)state;

    du_dps_config(&cfg, &srv, "api-free-1", ep, sizeof(ep));
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(iotc_client_send_telemetry(c, "{}", 2, NULL, on_fail_count, &failed, NULL),
                         IOTC_OK);
    iotc_client_free(c);
    assert_int_equal(failed, 3);
}

/* Provisioning honours DPS's retry-after (2 s here) between register and status poll. */
static void test_dps_retry_after(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    (void)state;

    du_dps_config(&cfg, &srv, "api-retry-1", ep, sizeof(ep));
    assert_int_equal(du_start(&d, &cfg, false), 0);
    int64_t t0 = du_now_ms();
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));
    int64_t took = du_now_ms() - t0;
    fprintf(stderr, "provisioned and connected in %lld ms with retry-after 2\n", (long long)took);
    assert_true(took >= 1900);
    assert_true(took < 8000);
    assert_int_equal(du_reason_count(&d, IOTC_REASON_PROVISIONED), 1);
    du_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dps_retry_after),
        cmocka_unit_test(test_message_properties),
        cmocka_unit_test(test_component_command_deferred),
        cmocka_unit_test(test_component_writable_property),
        cmocka_unit_test(test_connection_string),
        cmocka_unit_test(test_callers_own_loop),
        cmocka_unit_test(test_queued_commands_and_c2d),
        cmocka_unit_test(test_free_reports_pending),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
