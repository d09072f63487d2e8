/*
 * test_rules.c - iotc's own rules and alerts (docs/API.md "Rules"), end to end: a real
 * iotc-central, real libiotc devices (DPS with the group key, announcing the environmental
 * sensor's model, members of a device group by that template), a libevent webhook receiver on
 * loopback in this process. A temperature crossing a threshold fires once (an alert and one
 * webhook POST), values still above do not fire again, a value below clears (the alert is
 * cleared and a second POST says so); a receiver answering 503 gets the POST again; sliding and
 * tumbling window aggregations; the fired state and the alert survive a restart (no second
 * firing, then the clear); acknowledging; bad input answered 400 naming the field; and the
 * same through `iotc rules ...` / `iotc alerts ...` (-o json|table|tsv, exit codes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "../lib/capi_http.h"
#include "cli_util.h"
#include "device_util.h"

#define TID "dtmi:iotc:example:EnvironmentalSensor;1"
#define TID_URL "dtmi%3Aiotc%3Aexample%3AEnvironmentalSensor%3B1"
#define N_DEV 2

static struct th_central srv;
static struct capi_resp R;
static struct du_client devs[N_DEV]; /* static: see device_util.h */
static char ids[N_DEV][32];

/* ---------------------------------------------------------------- the receiver */

static struct {
    pthread_mutex_t mu;
    char *bodies[256];
    size_t n;
    int fail_next; /* answer 503 to this many requests */
    int no_token;  /* requests without the configured header */
    uint16_t port;
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
} rx = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void rx_handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *tok = evhttp_find_header(evhttp_request_get_input_headers(req), "x-rule-test");
    int status = 200;
    pthread_mutex_lock(&rx.mu);
    if (rx.fail_next > 0) {
        rx.fail_next--;
        status = 503;
    } else if (rx.n < 256) {
        if (tok == NULL || strcmp(tok, "t1") != 0)
            rx.no_token++;
        char *b = malloc(len + 1);
        evbuffer_remove(in, b, len);
        b[len] = '\0';
        rx.bodies[rx.n++] = b;
    }
    pthread_mutex_unlock(&rx.mu);
    evhttp_send_reply(req, status, status == 200 ? "OK" : "Unavailable", NULL);
}

static void *rx_main(void *arg)
{
    (void)arg;
    event_base_dispatch(rx.base);
    return NULL;
}

static int rx_start(void)
{
    evthread_use_pthreads(); /* rx_stop breaks the receiver's loop from the test thread */
    rx.base = event_base_new();
    rx.http = rx.base ? evhttp_new(rx.base) : NULL;
    if (rx.http == NULL)
        return -1;
    evhttp_set_gencb(rx.http, rx_handle, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(rx.http, "127.0.0.1", 0);
    if (bs == NULL)
        return -1;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    rx.port = ntohs(sa.sin_port);
    return pthread_create(&rx.thread, NULL, rx_main, NULL) == 0 ? 0 : -1;
}

static void rx_stop(void)
{
    if (rx.base == NULL)
        return;
    event_base_loopbreak(rx.base);
    pthread_join(rx.thread, NULL);
    evhttp_free(rx.http);
    event_base_free(rx.base);
    rx.base = NULL;
    for (size_t i = 0; i < rx.n; i++)
        free(rx.bodies[i]);
}

/* The received POSTs of @p rule / @p device / @p event (NULL: any), as JSON, in order. */
static cJSON *rx_posts(const char *rule, const char *device, const char *event)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&rx.mu);
    for (size_t i = 0; i < rx.n; i++) {
        cJSON *m = cJSON_Parse(rx.bodies[i]);
        if (m == NULL)
            fail_msg("the receiver got a body that is not JSON: %s", rx.bodies[i]);
        const char *r = capi_jstr(m, "ruleId"), *d = capi_jstr(m, "deviceId");
        const char *e = capi_jstr(m, "event");
        if ((rule == NULL || (r && strcmp(r, rule) == 0)) &&
            (device == NULL || (d && strcmp(d, device) == 0)) &&
            (event == NULL || (e && strcmp(e, event) == 0)))
            cJSON_AddItemToArray(arr, m);
        else
            cJSON_Delete(m);
    }
    pthread_mutex_unlock(&rx.mu);
    return arr;
}

static int rx_count(const char *rule, const char *device, const char *event)
{
    cJSON *a = rx_posts(rule, device, event);
    int n = cJSON_GetArraySize(a);
    cJSON_Delete(a);
    return n;
}

static bool rx_wait(const char *rule, const char *device, const char *event, int n, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        if (rx_count(rule, device, event) >= n)
            return true;
        du_sleep_ms(50);
    }
    return false;
}

/* ---------------------------------------------------------------- helpers */

static long admin(const char *method, const char *path, const char *body)
{
    return capi_call(srv.ca_path, srv.https_port, srv.admin_token, method, path, body, 15000, &R);
}

/* Device @p i sends {"temp": v, "humid": 50} and the hub acknowledges it (the rules saw it
 * before the PUBACK: the bus runs in the turn that queues the row). */
static void send_temp(int i, double v)
{
    char payload[96];
    uint64_t before = du_acked(&devs[i]);
    struct du_msg *m = malloc(sizeof *m);
    assert_non_null(m);
    m->d = &devs[i];
    m->seq = SIZE_MAX; /* not tracked in seen[] */
    int n = snprintf(payload, sizeof payload, "{\"temp\":%g,\"humid\":50}", v);
    assert_int_equal(
        iotc_client_send_telemetry(devs[i].c, payload, (size_t)n, NULL, du_telemetry_cb, m, NULL),
        IOTC_OK);
    assert_true(du_wait_acked(&devs[i], before + 1, 15000));
}

static void put_rule(const char *id, const char *condition, bool webhook)
{
    char body[1500], path[200], hook[300] = "";
    if (webhook)
        snprintf(hook, sizeof hook,
                 ",\"actions\":[{\"type\":\"alert\"},{\"type\":\"webhook\",\"url\":"
                 "\"http://127.0.0.1:%u/hook\",\"headerCustomizations\":{\"x-rule-test\":{"
                 "\"value\":\"t1\"}}}]",
                 rx.port);
    snprintf(body, sizeof body,
             "{\"displayName\":\"Rule %s\",\"enabled\":true,\"scope\":{\"deviceGroup\":"
             "\"env\"},\"condition\":%s%s}",
             id, condition, hook);
    snprintf(path, sizeof path, "/api/rules/%s", id);
    if (admin("PUT", path, body) != 200)
        fail_msg("PUT rule %s: %ld %s", id, R.status, R.body ? R.body : "");
    assert_string_equal(capi_jstr(R.json, "id"), id);
}

/* The alerts of @p rule / @p device, newest first (R holds the page). */
static const cJSON *alerts_of(const char *rule, const char *device)
{
    char path[300];
    snprintf(path, sizeof path, "/api/alerts?ruleId=%s&deviceId=%s", rule, device);
    assert_int_equal(admin("GET", path, NULL), 200);
    return capi_jget(R.json, "value");
}

static const char *device_state(const char *rule, const char *device)
{
    static char st[16];
    char path[200];
    snprintf(path, sizeof path, "/api/rules/%s/devices", rule);
    assert_int_equal(admin("GET", path, NULL), 200);
    const cJSON *d;
    snprintf(st, sizeof st, "none");
    cJSON_ArrayForEach(d, capi_jget(R.json, "value"))
    {
        if (strcmp(capi_jstr(d, "deviceId"), device) == 0)
            snprintf(st, sizeof st, "%s", capi_jstr(d, "state"));
    }
    return st;
}

static int start_devices(void)
{
    static char eps[N_DEV][64];
    for (int i = 0; i < N_DEV; i++) {
        struct iotc_config cfg;
        snprintf(ids[i], sizeof ids[i], "rule-dev-%d", i);
        du_dps_config(&cfg, &srv, ids[i], eps[i], sizeof eps[i]);
        cfg.model_id = TID;
        if (du_start(&devs[i], &cfg, false) != 0 || du_run(&devs[i]) != 0)
            return -1;
    }
    for (int i = 0; i < N_DEV; i++) {
        if (!du_wait_connected(&devs[i], 1, 30000))
            return -1;
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (rx_start() != 0 || th_central_start(&srv, NULL) < 0)
        return -1;
    char *doc = th_repo_file("models/environmental-sensor.dtdlv2.json");
    if (doc == NULL)
        return -1;
    size_t len = strlen(doc) + 256;
    char *body = malloc(len);
    snprintf(body, len, "{\"displayName\":\"Environmental sensor\",\"capabilityModel\":%s}", doc);
    long st = admin("PUT", "/api/deviceTemplates/" TID_URL, body);
    free(body);
    free(doc);
    if (st != 200 ||
        admin("PUT", "/api/deviceGroups/env",
              "{\"displayName\":\"Sensors\",\"filter\":\"SELECT * FROM devices WHERE $template = "
              "\\\"" TID "\\\" AND $provisioned = true\"}") != 200)
        return -1;
    return start_devices();
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N_DEV; i++)
        du_stop(&devs[i]);
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    rx_stop();
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- tests */

static void test_rest_checks(void **state)
{
    (void)state;
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"scope\":{\"deviceGroup\":\"env\"},\"condition\":{\"telemetry\":\"temp\","
         "\"operator\":\">\",\"value\":1}}",
         "$.displayName"},
        {"{\"displayName\":\"x\",\"scope\":{\"deviceGroup\":\"nope\"},\"condition\":{"
         "\"telemetry\":\"temp\",\"operator\":\">\",\"value\":1}}",
         "$.scope.deviceGroup"},
        {"{\"displayName\":\"x\",\"scope\":{\"template\":\"dtmi:no:such;1\"},\"condition\":{"
         "\"telemetry\":\"temp\",\"operator\":\">\",\"value\":1}}",
         "$.scope.template"},
        {"{\"displayName\":\"x\",\"scope\":{\"deviceGroup\":\"env\"},\"condition\":{"
         "\"telemetry\":\"temp\",\"operator\":\"~\",\"value\":1}}",
         "$.condition.operator"},
        {"{\"displayName\":\"x\",\"scope\":{\"deviceGroup\":\"env\"},\"condition\":{"
         "\"telemetry\":\"temp\",\"operator\":\">\",\"value\":1,\"aggregation\":\"avg\"}}",
         "$.condition.window"},
        {"{\"displayName\":\"x\",\"scope\":{\"deviceGroup\":\"env\"},\"condition\":{"
         "\"telemetry\":\"temp\",\"operator\":\">\",\"value\":1},\"actions\":[{\"type\":"
         "\"webhook\",\"url\":\"nope\"}]}",
         "$.actions[0].url"},
        {"{\"displayName\":\"x\",\"colour\":1}", "$.colour"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(admin("PUT", "/api/rules/bad", bad[i].body), 400);
        const char *msg = capi_jstr(R.json, "error.message");
        if (msg == NULL || strncmp(msg, bad[i].field, strlen(bad[i].field)) != 0)
            fail_msg("%s: message '%s' does not name %s", bad[i].body, msg ? msg : "",
                     bad[i].field);
    }
    assert_int_equal(admin("PUT", "/api/rules/bad%20id", "{}"), 400);
    assert_int_equal(admin("GET", "/api/rules/bad", NULL), 404);
    assert_string_equal(R.error_code, "RuleNotFound");
    assert_int_equal(admin("PATCH", "/api/rules/bad", "{\"enabled\":false}"), 404);
    assert_int_equal(admin("DELETE", "/api/rules/bad", NULL), 404);
    assert_int_equal(admin("GET", "/api/alerts/999", NULL), 404);
    assert_int_equal(admin("GET", "/api/alerts?state=open", NULL), 400);
    /* the same api-version rule as the rest of /api */
    capi_resp_free(&R);
    assert_int_equal(capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", "/api/rules",
                               NULL, 15000, &R),
                     0);
    assert_int_equal(R.status, 400);
    assert_string_equal(R.error_code, "MissingApiVersionParameter");
    assert_int_equal(admin("GET", "/api/rules", NULL), 200);
}

/* Fires once, no re-firing, clears; the webhook posts both; a 503 is retried. */
static void test_threshold(void **state)
{
    (void)state;
    put_rule("hot", "{\"telemetry\":\"temp\",\"operator\":\">\",\"value\":30}", true);
    send_temp(0, 20);
    assert_string_equal(device_state("hot", ids[0]), "normal");
    assert_int_equal(cJSON_GetArraySize(alerts_of("hot", ids[0])), 0);
    pthread_mutex_lock(&rx.mu);
    rx.fail_next = 2; /* the first POST is refused twice, then accepted */
    pthread_mutex_unlock(&rx.mu);
    send_temp(0, 35);
    send_temp(0, 40);
    send_temp(0, 36);
    assert_string_equal(device_state("hot", ids[0]), "fired");
    const cJSON *al = alerts_of("hot", ids[0]);
    assert_int_equal(cJSON_GetArraySize(al), 1);
    const cJSON *a = cJSON_GetArrayItem(al, 0);
    assert_string_equal(capi_jstr(a, "state"), "active");
    assert_true(capi_jget(a, "value")->valuedouble == 35);
    assert_true(rx_wait("hot", ids[0], "fired", 1, 20000));
    /* delivered after two 503s: three attempts */
    al = alerts_of("hot", ids[0]);
    a = cJSON_GetArrayItem(al, 0);
    for (int t = 0; t < 100 && strcmp(capi_jstr(a, "webhooks.0.status"), "delivered") != 0; t++) {
        du_sleep_ms(50);
        al = alerts_of("hot", ids[0]);
        a = cJSON_GetArrayItem(al, 0);
    }
    assert_string_equal(capi_jstr(a, "webhooks.0.status"), "delivered");
    assert_int_equal(capi_jget(a, "webhooks.0.attempts")->valueint, 3);
    cJSON *posts = rx_posts("hot", ids[0], "fired");
    assert_int_equal(cJSON_GetArraySize(posts), 1);
    const cJSON *p = cJSON_GetArrayItem(posts, 0);
    assert_string_equal(capi_jstr(p, "schema"), "iotc-rule-alert@v1");
    assert_string_equal(capi_jstr(p, "telemetry"), "temp");
    assert_string_equal(capi_jstr(p, "operator"), ">");
    assert_true(capi_jget(p, "threshold")->valuedouble == 30);
    assert_true(capi_jget(p, "value")->valuedouble == 35);
    assert_string_equal(capi_jstr(p, "alertId"), capi_jstr(a, "id"));
    assert_non_null(capi_jstr(p, "timestamp"));
    cJSON_Delete(posts);
    /* the other device is not affected */
    assert_string_equal(device_state("hot", ids[1]), "none");
    /* below: cleared, one more POST */
    send_temp(0, 25);
    send_temp(0, 10);
    assert_string_equal(device_state("hot", ids[0]), "normal");
    assert_true(rx_wait("hot", ids[0], "cleared", 1, 10000));
    posts = rx_posts("hot", ids[0], "cleared");
    assert_true(capi_jget(cJSON_GetArrayItem(posts, 0), "value")->valuedouble == 25);
    cJSON_Delete(posts);
    al = alerts_of("hot", ids[0]);
    assert_int_equal(cJSON_GetArraySize(al), 1);
    a = cJSON_GetArrayItem(al, 0);
    assert_string_equal(capi_jstr(a, "state"), "cleared");
    assert_true(capi_jget(a, "clearedValue")->valuedouble == 25);
    assert_non_null(capi_jstr(a, "clearedAt"));
    /* crossing again is a new alert, newest first */
    send_temp(0, 50);
    al = alerts_of("hot", ids[0]);
    assert_int_equal(cJSON_GetArraySize(al), 2);
    assert_true(capi_jget(cJSON_GetArrayItem(al, 0), "value")->valuedouble == 50);
    assert_true(rx_wait("hot", ids[0], "fired", 2, 10000));
    assert_int_equal(rx_count("hot", ids[0], NULL), 3);
    assert_int_equal(rx.no_token, 0);
    /* acknowledged by an operator */
    char path[200];
    snprintf(path, sizeof path, "/api/alerts/%s/acknowledge",
             capi_jstr(cJSON_GetArrayItem(al, 0), "id"));
    assert_int_equal(admin("POST", path, NULL), 200);
    assert_true(cJSON_IsTrue(capi_jget(R.json, "acknowledged")));
    assert_non_null(capi_jstr(R.json, "acknowledgedAt"));
    /* paging: one per page, nextLink to the older one */
    assert_int_equal(admin("GET", "/api/alerts?ruleId=hot&$top=1", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 1);
    assert_non_null(strstr(capi_jstr(R.json, "nextLink"), "ruleId=hot"));
    send_temp(0, 0); /* leave it cleared */
}

/* avg over a sliding window, min over a tumbling one. */
static void test_windows(void **state)
{
    (void)state;
    put_rule("avg",
             "{\"telemetry\":\"temp\",\"operator\":\">\",\"value\":30,\"aggregation\":"
             "\"avg\",\"window\":\"PT30S\",\"windowType\":\"sliding\"}",
             false);
    send_temp(1, 20);
    send_temp(1, 38); /* avg 29 */
    assert_string_equal(device_state("avg", ids[1]), "normal");
    send_temp(1, 35); /* avg 31 */
    assert_string_equal(device_state("avg", ids[1]), "fired");
    const cJSON *al = alerts_of("avg", ids[1]);
    assert_int_equal(cJSON_GetArraySize(al), 1);
    assert_true(capi_jget(cJSON_GetArrayItem(al, 0), "value")->valuedouble == 31);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(al, 0), "aggregation"), "avg");
    assert_int_equal(admin("DELETE", "/api/rules/avg", NULL), 204);
    /* the deleted rule's alert is closed */
    al = alerts_of("avg", ids[1]);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(al, 0), "state"), "cleared");
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(al, 0), "clearReason"), "rule deleted");

    /* tumbling: evaluated when the 2 s window closes, not at the value */
    put_rule("min",
             "{\"telemetry\":\"humid\",\"operator\":\">=\",\"value\":50,"
             "\"aggregation\":\"min\",\"window\":\"PT2S\"}",
             false);
    send_temp(1, 0); /* humid 50 */
    bool fired = false;
    for (int t = 0; t < 80 && !fired; t++) {
        fired = strcmp(device_state("min", ids[1]), "fired") == 0;
        if (!fired)
            du_sleep_ms(100);
    }
    assert_true(fired);
    al = alerts_of("min", ids[1]);
    assert_int_equal(cJSON_GetArraySize(al), 1);
    assert_true(capi_jget(cJSON_GetArrayItem(al, 0), "value")->valuedouble == 50);
    /* PATCH disabling keeps the state; a changed condition starts over */
    assert_int_equal(admin("PATCH", "/api/rules/min", "{\"enabled\":false}"), 200);
    assert_false(cJSON_IsTrue(capi_jget(R.json, "enabled")));
    assert_string_equal(device_state("min", ids[1]), "fired");
    assert_int_equal(admin("PATCH", "/api/rules/min",
                           "{\"condition\":{\"telemetry\":\"humid\",\"operator\":\">\","
                           "\"value\":90}}"),
                     200);
    assert_string_equal(device_state("min", ids[1]), "none");
    assert_int_equal(admin("DELETE", "/api/rules/min", NULL), 204);
}

/* Fired before a restart: still fired after it (no second alert, no second POST), then the
 * clear arrives and is posted. */
static void test_restart_keeps_state(void **state)
{
    (void)state;
    put_rule("hot2", "{\"telemetry\":\"temp\",\"operator\":\">=\",\"value\":60}", true);
    send_temp(1, 70);
    assert_true(rx_wait("hot2", ids[1], "fired", 1, 10000));
    assert_int_equal(cJSON_GetArraySize(alerts_of("hot2", ids[1])), 1);
    for (int i = 0; i < N_DEV; i++)
        du_stop(&devs[i]);
    assert_int_equal(du_restart_same_ports(&srv), 0);
    assert_int_equal(start_devices(), 0);
    assert_string_equal(device_state("hot2", ids[1]), "fired");
    send_temp(1, 80);
    send_temp(1, 65);
    assert_string_equal(device_state("hot2", ids[1]), "fired");
    const cJSON *al = alerts_of("hot2", ids[1]);
    assert_int_equal(cJSON_GetArraySize(al), 1);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(al, 0), "state"), "active");
    send_temp(1, 20);
    assert_true(rx_wait("hot2", ids[1], "cleared", 1, 10000));
    assert_int_equal(rx_count("hot2", ids[1], "fired"), 1);
    al = alerts_of("hot2", ids[1]);
    assert_int_equal(cJSON_GetArraySize(al), 1);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(al, 0), "state"), "cleared");
    /* the earlier rule and its alerts are back too */
    assert_int_equal(admin("GET", "/api/rules/hot", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(alerts_of("hot", ids[0])), 2);
}

/* The CLI: create, show, list in every format, devices, alerts, ack, update, delete, errors. */
static void test_cli(void **state)
{
    (void)state;
    struct cu_out o;
    char url[100];
    cu_env_for(&srv);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/cli", rx.port);
    cu_expect(&o, 0, "rules", "create", "cli-hot", "--group", "env", "--telemetry", "temp",
              "--operator", ">", "--value", "90", "--webhook", url, "--name", "CLI hot", NULL);
    assert_non_null(strstr(o.out, "created rule cli-hot"));
    assert_non_null(strstr(o.out, "temp > 90"));
    cu_free(&o);
    cu_expect(&o, 0, "-o", "json", "rules", "show", "cli-hot", NULL);
    cJSON *j = cJSON_Parse(o.out);
    assert_string_equal(capi_jstr(j, "displayName"), "CLI hot");
    assert_string_equal(capi_jstr(j, "actions.1.url"), url);
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 0, "rules", "list", NULL);
    assert_non_null(strstr(o.out, "ID"));
    assert_non_null(strstr(o.out, "cli-hot"));
    assert_non_null(strstr(o.out, "group env"));
    cu_free(&o);
    cu_expect(&o, 0, "-o", "tsv", "rules", "list", NULL);
    assert_non_null(strstr(o.out, "cli-hot\tCLI hot\tyes\tgroup env\ttemp > 90\t0\n"));
    cu_free(&o);

    send_temp(0, 95);
    cu_expect(&o, 0, "--json", "rules", "devices", "cli-hot", NULL);
    j = cJSON_Parse(o.out);
    assert_string_equal(capi_jstr(j, "value.0.deviceId"), ids[0]);
    assert_string_equal(capi_jstr(j, "value.0.state"), "fired");
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 0, "rules", "devices", "cli-hot", NULL);
    assert_non_null(strstr(o.out, "fired"));
    cu_free(&o);
    cu_expect(&o, 0, "-o", "json", "alerts", "list", "--rule", "cli-hot", "--state", "active",
              NULL);
    j = cJSON_Parse(o.out);
    assert_int_equal(cJSON_GetArraySize(capi_jget(j, "value")), 1);
    char id[32];
    snprintf(id, sizeof id, "%s", capi_jstr(j, "value.0.id"));
    assert_true(capi_jget(j, "value.0.value")->valuedouble == 95);
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 0, "alerts", "list", "--device", ids[0], NULL);
    assert_non_null(strstr(o.out, "cli-hot"));
    assert_non_null(strstr(o.out, "ACK"));
    cu_free(&o);
    cu_expect(&o, 0, "alerts", "ack", id, NULL);
    assert_non_null(strstr(o.out, "acknowledged alert"));
    cu_free(&o);
    cu_expect(&o, 0, "-o", "tsv", "alerts", "list", "--rule", "cli-hot", NULL);
    assert_non_null(strstr(o.out, "\tyes\n"));
    cu_free(&o);
    assert_true(rx_wait("cli-hot", ids[0], "fired", 1, 10000));

    /* update: the threshold only (the rest stays), then disable */
    cu_expect(&o, 0, "rules", "update", "cli-hot", "--value", "99", NULL);
    assert_non_null(strstr(o.out, "temp > 99"));
    cu_free(&o);
    cu_expect(&o, 0, "--json", "rules", "update", "cli-hot", "--disable", NULL);
    j = cJSON_Parse(o.out);
    assert_false(cJSON_IsTrue(capi_jget(j, "enabled")));
    assert_true(capi_jget(j, "condition.value")->valuedouble == 99);
    assert_string_equal(capi_jstr(j, "scope.deviceGroup"), "env");
    cJSON_Delete(j);
    cu_free(&o);

    /* errors: usage 1, the API's refusal 2 naming the field, not found 3 */
    cu_expect(&o, 1, "rules", "create", "x", "--group", "env", "--telemetry", "temp", "--operator",
              ">", "--value", "abc", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "rules", "create", "x", "--telemetry", "temp", "--operator", ">", "--value",
              "1", NULL);
    cu_free(&o);
    cu_expect(&o, 2, "rules", "create", "x", "--group", "nope", "--telemetry", "temp", "--operator",
              ">", "--value", "1", NULL);
    assert_non_null(strstr(o.err, "$.scope.deviceGroup"));
    cu_free(&o);
    cu_expect(&o, 1, "alerts", "list", "--state", "open", NULL);
    cu_free(&o);
    cu_expect(&o, 0, "rules", "delete", "cli-hot", NULL);
    cu_free(&o);
    cu_iotc(&o, "rules", "show", "cli-hot", NULL);
    assert_int_equal(o.rc, 3);
    cu_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_checks), cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_windows),     cmocka_unit_test(test_restart_keeps_state),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
