/*
 * test_export_webhook.c - data export to a webhook (docs/EXPORT.md), end to end: MQTT devices ->
 * iotc-central -> a libevent HTTP receiver on loopback in this process. Every source arrives in
 * IoT Central's format; a receiver that is down and then answers 503 gets everything once it is
 * back, each device's messages in order; after kill -9 of iotc-central mid-stream and a restart,
 * every acknowledged telemetry message is delivered at least once. Plus the REST checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "capi_device_util.h"
#include "cli_util.h"

#define XV "api-version=2022-10-31-preview"
#define AUTHV "Bearer export-test"

/* ---------------------------------------------------------------- the receiver */

static struct {
    pthread_mutex_t mu;
    char **bodies; /* accepted POST bodies, in arrival order */
    size_t n, cap;
    int fail_next; /* answer 503 to this many requests */
    bool fail_all; /* answer 503 to every request */
    int bad_auth;  /* requests without the expected Authorization / custom header */
    struct {
        const char *dev; /* telemetry of this device ("\"deviceId\":\"...\"", or NULL): */
        int refused;     /* how many requests were answered 503 */
        int64_t no_ms;   /* when the last of those was answered (monotonic ms) */
        int64_t ok_ms;   /* when the first was accepted (0: not yet) */
    } watch[2];
    uint16_t port; /* fixed after the first start */
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    bool running;
} rx = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void rx_handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *auth = evhttp_find_header(h, "Authorization");
    const char *custom = evhttp_find_header(h, "x-export-test");
    int status = 200;
    char *text = calloc(1, len + 1);
    if (text != NULL && len > 0)
        evbuffer_copyout(in, text, len);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    pthread_mutex_lock(&rx.mu);
    int watched = -1;
    bool tel = text != NULL && strstr(text, "\"messageSource\":\"telemetry\"") != NULL;
    for (int i = 0; i < 2 && tel; i++) {
        if (rx.watch[i].dev != NULL && strstr(text, rx.watch[i].dev) != NULL)
            watched = i;
    }
    free(text);
    if (rx.fail_all || rx.fail_next > 0) {
        if (rx.fail_next > 0)
            rx.fail_next--;
        status = 503;
        if (watched >= 0) {
            rx.watch[watched].refused++;
            rx.watch[watched].no_ms = now_ms;
        }
    } else {
        if (auth == NULL || strcmp(auth, AUTHV) != 0 || custom == NULL ||
            strcmp(custom, "abc") != 0)
            rx.bad_auth++;
        if (watched >= 0 && rx.watch[watched].ok_ms == 0)
            rx.watch[watched].ok_ms = now_ms;
        if (rx.n == rx.cap) {
            rx.cap = rx.cap ? rx.cap * 2 : 256;
            rx.bodies = realloc(rx.bodies, rx.cap * sizeof *rx.bodies);
        }
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

/* Listen on 127.0.0.1 (a free port the first time, the same port after a stop). */
static void rx_start(void)
{
    rx.base = event_base_new();
    rx.http = evhttp_new(rx.base);
    assert_non_null(rx.http);
    evhttp_set_gencb(rx.http, rx_handle, NULL);
    struct evhttp_bound_socket *bs = NULL;
    for (int i = 0; i < 50 && bs == NULL; i++) {
        bs = evhttp_bind_socket_with_handle(rx.http, "127.0.0.1", rx.port);
        if (bs == NULL)
            usleep(100 * 1000);
    }
    assert_non_null(bs);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl), 0);
    rx.port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&rx.thread, NULL, rx_main, NULL), 0);
    rx.running = true;
}

/* Stop listening and drop every connection: the receiver is "down" (connection refused). */
static void rx_stop(void)
{
    if (!rx.running)
        return;
    event_base_loopbreak(rx.base);
    pthread_join(rx.thread, NULL);
    evhttp_free(rx.http);
    event_base_free(rx.base);
    rx.running = false;
}

static void rx_set(int fail_next, bool fail_all)
{
    pthread_mutex_lock(&rx.mu);
    rx.fail_next = fail_next;
    rx.fail_all = fail_all;
    pthread_mutex_unlock(&rx.mu);
}

/* Accepted messages as JSON, in arrival order (caller frees with cJSON_Delete). */
static cJSON *rx_messages(void)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&rx.mu);
    for (size_t i = 0; i < rx.n; i++) {
        cJSON *m = cJSON_Parse(rx.bodies[i]);
        if (m == NULL)
            fail_msg("the receiver got a body that is not JSON: %s", rx.bodies[i]);
        cJSON_AddItemToArray(arr, m);
    }
    pthread_mutex_unlock(&rx.mu);
    return arr;
}

/* ---------------------------------------------------------------- helpers */

static long dx(const char *method, const char *path, const char *body)
{
    char target[600];
    snprintf(target, sizeof target, "%s%s" XV, path, strchr(path, '?') ? "&" : "?");
    capi_resp_free(&R);
    int rc =
        capi_http(srv.ca_path, srv.https_port, srv.admin_token, method, target, body, 20000, &R);
    return rc == 0 ? R.status : -1;
}

static void put_destination(const char *id)
{
    char body[600], path[200];
    snprintf(body, sizeof body,
             "{\"displayName\":\"Receiver\",\"type\":\"webhook@v1\","
             "\"url\":\"http://127.0.0.1:%u/hook\","
             "\"headerCustomizations\":{\"x-export-test\":{\"value\":\"abc\",\"secret\":true}},"
             "\"authorization\":{\"type\":\"header\",\"value\":\"" AUTHV "\"}}",
             rx.port);
    snprintf(path, sizeof path, "/api/dataExport/destinations/%s", id);
    if (dx("PUT", path, body) != 200)
        fail_msg("PUT destination: %ld %s", R.status, R.body ? R.body : "");
    assert_string_equal(capi_jstr(R.json, "authorization.value"), "*****");
}

static void put_export(const char *id, const char *source, const char *dest, const char *extra)
{
    char body[1200], path[200];
    snprintf(body, sizeof body,
             "{\"displayName\":\"%s\",\"source\":\"%s\"%s,"
             "\"destinations\":[{\"id\":\"%s\"}]}",
             id, source, extra ? extra : "", dest);
    snprintf(path, sizeof path, "/api/dataExport/exports/%s", id);
    if (dx("PUT", path, body) != 200)
        fail_msg("PUT export %s: %ld %s", id, R.status, R.body ? R.body : "");
    assert_string_equal(capi_jstr(R.json, "id"), id);
}

static void make_device(const char *id, char *key, size_t size)
{
    char path[200];
    snprintf(path, sizeof path, "/api/devices/%s", id);
    assert_int_equal(admin("PUT", path, "{\"displayName\":\"x\",\"template\":\"" TID "\"}"), 200);
    snprintf(path, sizeof path, "/api/devices/%s/credentials", id);
    assert_int_equal(admin("GET", path, NULL), 200);
    snprintf(key, size, "%s", capi_jstr(R.json, "symmetricKey.primaryKey"));
}

/* Publish {"n": from..to-1} at QoS 1 and wait for every PUBACK. */
static void pub_many(struct th_mqtt *m, const char *dev, int from, int to)
{
    char topic[160], payload[64];
    snprintf(topic, sizeof topic, "devices/%s/messages/events/%%24.ct=application%%2Fjson", dev);
    for (int i = from; i < to; i++) {
        int n = snprintf(payload, sizeof payload, "{\"n\":%d}", i);
        assert_true(th_mqtt_publish(m, topic, payload, (size_t)n, 1) > 0);
    }
    struct iotc_mqtt_packet p;
    for (int i = from; i < to; i++)
        assert_int_equal(th_mqtt_expect(m, IOTC_MQTT_PUBACK, &p, 10000), 0);
}

/* Telemetry "n" values of @p dev in arrival order into @p out (at most @p max). */
static size_t telemetry_ns(const cJSON *msgs, const char *dev, int *out, size_t max)
{
    size_t k = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *src = capi_jstr(m, "messageSource"), *d = capi_jstr(m, "deviceId");
        const cJSON *n = capi_jget(m, "telemetry.n");
        if (src && d && strcmp(src, "telemetry") == 0 && strcmp(d, dev) == 0 && cJSON_IsNumber(n) &&
            k < max)
            out[k++] = n->valueint;
    }
    return k;
}

/* Wait (bounded) until every n in [0, count) of @p dev arrived; then check first arrivals are in
 * order. @return the number of distinct values seen. */
static int wait_all(const char *dev, int count, int timeout_s, bool check_order)
{
    int *ns = calloc(100000, sizeof *ns);
    char *seen = NULL;
    int distinct = 0;
    for (int t = 0;; t++) {
        cJSON *msgs = rx_messages();
        size_t k = telemetry_ns(msgs, dev, ns, 100000);
        cJSON_Delete(msgs);
        free(seen);
        seen = calloc((size_t)count, 1);
        distinct = 0;
        int last_first = -1;
        bool ordered = true;
        for (size_t i = 0; i < k; i++) {
            if (ns[i] < 0 || ns[i] >= count)
                fail_msg("%s: unexpected n %d", dev, ns[i]);
            if (!seen[ns[i]]) {
                seen[ns[i]] = 1;
                distinct++;
                /* a new value never arrives before a smaller one that is still missing */
                if (ns[i] < last_first)
                    ordered = false;
                last_first = ns[i];
            }
        }
        if (check_order && !ordered)
            fail_msg("%s: messages out of order", dev);
        if (distinct == count || t >= timeout_s * 10)
            break;
        usleep(100 * 1000);
    }
    free(seen);
    free(ns);
    return distinct;
}

static const cJSON *find_msg(const cJSON *msgs, const char *source, const char *type,
                             const char *dev)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *s = capi_jstr(m, "messageSource"), *t = capi_jstr(m, "messageType");
        const char *d = capi_jstr(m, "deviceId");
        if (s && strcmp(s, source) == 0 && d && strcmp(d, dev) == 0 &&
            (type == NULL || (t && strcmp(t, type) == 0)))
            return m;
    }
    return NULL;
}

/* ---------------------------------------------------------------- tests */

static void test_rest_checks(void **state)
{
    (void)state;
    static const struct {
        const char *path, *body, *field;
    } bad[] = {
        {"/api/dataExport/destinations/d1",
         "{\"displayName\":\"x\",\"type\":\"kinesis@v1\",\"url\":\"https://e/\"}", "type:"},
        {"/api/dataExport/destinations/d1",
         "{\"displayName\":\"x\",\"type\":\"webhook@v1\",\"url\":\"not a url\","
         "\"authorization\":{\"type\":\"header\",\"value\":\"v\"}}",
         "url:"},
        {"/api/dataExport/destinations/d1",
         "{\"displayName\":\"x\",\"type\":\"webhook@v1\",\"url\":\"https://e/\"}",
         "authorization:"},
        {"/api/dataExport/exports/e1",
         "{\"displayName\":\"x\",\"source\":\"telemetry\",\"filter\":\"SELECT * FROM\","
         "\"destinations\":[{\"id\":\"rx\"}]}",
         "filter:"},
        {"/api/dataExport/exports/e1",
         "{\"displayName\":\"x\",\"source\":\"telemetry\",\"destinations\":[{\"id\":\"nope\"}]}",
         "destinations[0].id:"},
        {"/api/dataExport/exports/e1",
         "{\"displayName\":\"x\",\"source\":\"weather\",\"destinations\":[{\"id\":\"rx\"}]}",
         "source:"},
    };
    put_destination("rx");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dx("PUT", bad[i].path, bad[i].body), 400);
        const char *msg = capi_jstr(R.json, "error.message");
        if (msg == NULL || strncmp(msg, bad[i].field, strlen(bad[i].field)) != 0)
            fail_msg("%s: message '%s' does not name %s", bad[i].body, msg ? msg : "",
                     bad[i].field);
    }
    /* 2022-07-31 is refused here; 2022-10-31-preview also serves the other routes (their shapes
     * agree with 2022-07-31's) */
    assert_int_equal(admin("GET", "/api/dataExport/destinations", NULL), 400);
    assert_string_equal(R.error_code, "InvalidApiVersionParameter");
    assert_int_equal(dx("GET", "/api/devices", NULL), 200);
    /* list, get, status, patch, delete */
    assert_int_equal(dx("GET", "/api/dataExport/destinations", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 1);
    assert_int_equal(dx("GET", "/api/dataExport/destinations/rx", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "waiting");
    assert_string_equal(capi_jstr(R.json, "headerCustomizations.x-export-test.value"), "*****");
    put_export("e1", "telemetry", "rx", ",\"enabled\":false");
    assert_string_equal(capi_jstr(R.json, "status"), "disabled");
    assert_int_equal(dx("PATCH", "/api/dataExport/exports/e1", "{\"displayName\":\"renamed\"}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "renamed");
    assert_string_equal(capi_jstr(R.json, "source"), "telemetry");
    assert_int_equal(dx("PATCH", "/api/dataExport/exports/none", "{\"displayName\":\"x\"}"), 404);
    assert_int_equal(dx("DELETE", "/api/dataExport/destinations/rx", NULL), 409);
    assert_int_equal(dx("DELETE", "/api/dataExport/exports/e1", NULL), 204);
    assert_int_equal(dx("GET", "/api/dataExport/exports/e1", NULL), 404);
    assert_int_equal(dx("DELETE", "/api/dataExport/destinations/rx", NULL), 204);
    /* an operator may not manage exports */
    assert_int_equal(admin("PUT", "/api/apiTokens/op1", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    char tok[512];
    snprintf(tok, sizeof tok, "%s", capi_jstr(R.json, "token"));
    struct capi_resp r = {0};
    assert_int_equal(capi_http(srv.ca_path, srv.https_port, tok, "PUT",
                               "/api/dataExport/destinations/op?" XV, "{}", 10000, &r),
                     0);
    assert_int_equal(r.status, 403);
    capi_resp_free(&r);
}

/* `iotc destinations ...` and `iotc exports ...` against the same server. */
static void test_cli(void **state)
{
    (void)state;
    struct cu_out o;
    char body[600];
    cu_env_for(&srv);
    snprintf(body, sizeof body,
             "{\"displayName\":\"Cli\",\"type\":\"webhook@v1\",\"url\":\"http://127.0.0.1:%u/\","
             "\"authorization\":{\"type\":\"header\",\"value\":\"" AUTHV "\"}}",
             rx.port);
    assert_int_equal(cu_iotc(&o, "destinations", "put", "cli-d", "--body", body, NULL), 0);
    assert_non_null(strstr(o.out, "saved destination cli-d: waiting"));
    cu_free(&o);
    assert_int_equal(cu_iotc(&o, "exports", "put", "cli-x", "--body",
                             "{\"displayName\":\"Cli\",\"source\":\"deviceConnectivity\","
                             "\"destinations\":[{\"id\":\"cli-d\"}]}",
                             NULL),
                     0);
    cu_free(&o);
    assert_int_equal(
        cu_iotc(&o, "exports", "put", "cli-x", "--patch", "--body", "{\"enabled\":false}", NULL),
        0);
    assert_non_null(strstr(o.out, "saved export cli-x: disabled"));
    cu_free(&o);
    assert_int_equal(cu_iotc(&o, "exports", "list", NULL), 0);
    assert_non_null(strstr(o.out, "cli-x"));
    assert_non_null(strstr(o.out, "deviceConnectivity"));
    assert_non_null(strstr(o.out, "LAG MSG"));
    cu_free(&o);
    assert_int_equal(cu_iotc(&o, "destinations", "put", "bad", "--body",
                             "{\"displayName\":\"x\",\"type\":\"nope@v1\"}", NULL),
                     2);
    assert_non_null(strstr(o.err, "type:"));
    cu_free(&o);
    assert_int_equal(cu_rc("exports", "delete", "cli-x", NULL), 0);
    assert_int_equal(cu_rc("exports", "show", "cli-x", NULL), 3);
    assert_int_equal(cu_rc("destinations", "delete", "cli-d", NULL), 0);
}

static void test_every_source(void **state)
{
    (void)state;
    put_destination("all");
    put_export("tel", "telemetry", "all",
               ",\"filter\":\"SELECT * FROM " TID " WHERE temperature > 20\","
               "\"enrichments\":{\"site\":{\"value\":\"lab\"},"
               "\"tpl\":{\"path\":\"$templateDisplayName\"},"
               "\"fw\":{\"target\":\"" TID "\",\"path\":\"fwVersion\"}}");
    put_export("props", "properties", "all", NULL);
    put_export("conn", "deviceConnectivity", "all", NULL);
    put_export("life", "deviceLifecycle", "all", NULL);

    device_connect();
    report("{\"fwVersion\":\"1.2.3\"}");
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&M, IOTC_MQTT_PUBLISH, &p, 5000), 0); /* the 204 */
    telemetry("{\"temperature\":25.5,\"humidity\":40}");
    telemetry("{\"temperature\":10}"); /* filtered out */
    telemetry_c("{\"temperature\":30}", "sensor2");
    device_close();
    char key[128];
    make_device("ex-gone", key, sizeof key);
    assert_int_equal(admin("DELETE", "/api/devices/ex-gone", NULL), 204);

    cJSON *msgs = NULL;
    for (int t = 0; t < 150; t++) {
        cJSON_Delete(msgs);
        msgs = rx_messages();
        if (find_msg(msgs, "deviceConnectivity", "disconnected", DEV) &&
            find_msg(msgs, "deviceLifecycle", "deleted", "ex-gone") &&
            find_msg(msgs, "properties", "devicePropertyReportedChange", DEV) &&
            cJSON_GetArraySize(msgs) >= 6)
            break;
        usleep(100 * 1000);
    }
    /* telemetry: the documented members, enrichments resolved, the filter applied */
    int tel = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *src = capi_jstr(m, "messageSource");
        if (src == NULL || strcmp(src, "telemetry") != 0)
            continue;
        tel++;
        assert_string_equal(capi_jstr(m, "applicationId"), srv.id_scope);
        assert_string_equal(capi_jstr(m, "deviceId"), DEV);
        assert_string_equal(capi_jstr(m, "schema"), "default@v1");
        assert_string_equal(capi_jstr(m, "templateId"), TID);
        assert_non_null(capi_jstr(m, "enqueuedTime"));
        assert_true(cJSON_IsObject(capi_jget(m, "messageProperties")));
        assert_string_equal(capi_jstr(m, "enrichments.site"), "lab");
        assert_string_equal(capi_jstr(m, "enrichments.tpl"), "Environmental sensor");
        assert_string_equal(capi_jstr(m, "enrichments.fw"), "1.2.3");
        assert_true(jnum(m, "telemetry.temperature") > 20);
        const char *comp = capi_jstr(m, "component");
        if (jnum(m, "telemetry.temperature") == 30)
            assert_string_equal(comp, "sensor2");
        else
            assert_null(comp);
    }
    assert_int_equal(tel, 2);
    const cJSON *pm = find_msg(msgs, "properties", "devicePropertyReportedChange", DEV);
    assert_non_null(pm);
    assert_string_equal(capi_jstr(pm, "schema"), "default@v1");
    assert_string_equal(capi_jstr(pm, "templateId"), TID);
    const cJSON *pr = cJSON_GetArrayItem(capi_jget(pm, "properties"), 0);
    assert_string_equal(capi_jstr(pr, "name"), "fwVersion");
    assert_string_equal(capi_jstr(pr, "value"), "1.2.3");
    const cJSON *cm = find_msg(msgs, "deviceConnectivity", "connected", DEV);
    assert_non_null(cm);
    assert_string_equal(capi_jstr(cm, "applicationId"), srv.id_scope);
    assert_non_null(find_msg(msgs, "deviceConnectivity", "disconnected", DEV));
    assert_non_null(find_msg(msgs, "deviceLifecycle", "deleted", "ex-gone"));
    cJSON_Delete(msgs);
    pthread_mutex_lock(&rx.mu);
    assert_int_equal(rx.bad_auth, 0);
    pthread_mutex_unlock(&rx.mu);
    /* status after deliveries */
    assert_int_equal(dx("GET", "/api/dataExport/exports/tel", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "healthy");
    assert_int_equal((int)jnum(R.json, "stats.delivered"), 2);
    assert_int_equal((int)jnum(R.json, "stats.lagMessages"), 0);
    assert_int_equal(dx("GET", "/api/dataExport/destinations/all", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "healthy");
    for (const char *const *id = (const char *const[]){"tel", "props", "conn", "life", NULL}; *id;
         id++) {
        char path[100];
        snprintf(path, sizeof path, "/api/dataExport/exports/%s", *id);
        assert_int_equal(dx("DELETE", path, NULL), 204);
    }
}

/* The application's own changes (IoT Central's other deviceLifecycle types, cloud properties,
 * device template lifecycle): each operator action through the REST API arrives once, in the
 * documented shape (a template message has no deviceId). */
static void test_app_changes(void **state)
{
    (void)state;
    static const char tpl[] =
        "{\"@context\":[\"dtmi:dtdl:context;2\",\"dtmi:iotcentral:context;2\"],"
        "\"@id\":\"dtmi:t:exp;1\",\"@type\":\"Interface\",\"displayName\":\"Exp\",\"contents\":["
        "{\"@type\":[\"Property\",\"Cloud\"],\"name\":\"customerName\",\"schema\":\"string\"}]}";
    put_destination("app");
    put_export("life2", "deviceLifecycle", "app", NULL);
    put_export("props2", "properties", "app", NULL);
    put_export("tpls", "deviceTemplateLifecycle", "app", NULL);

    assert_int_equal(admin("PUT", "/api/deviceTemplates/dtmi:t:exp;1", tpl), 200);
    assert_int_equal(admin("PUT", "/api/deviceTemplates/dtmi:t:exp;1", tpl), 200);
    assert_int_equal(admin("PUT", "/api/devices/ex-app", "{\"displayName\":\"A\"}"), 200);
    assert_int_equal(admin("PATCH", "/api/devices/ex-app", "{\"displayName\":\"B\"}"), 200);
    assert_int_equal(admin("PATCH", "/api/devices/ex-app", "{\"enabled\":false}"), 200);
    assert_int_equal(admin("PATCH", "/api/devices/ex-app", "{\"enabled\":true}"), 200);
    assert_int_equal(admin("PATCH", "/api/devices/ex-app", "{\"template\":\"dtmi:t:exp;1\"}"), 200);
    assert_int_equal(
        admin("PATCH", "/api/devices/ex-app/properties", "{\"customerName\":\"Contoso\"}"), 202);
    assert_int_equal(admin("DELETE", "/api/devices/ex-app", NULL), 204);
    assert_int_equal(admin("DELETE", "/api/deviceTemplates/dtmi:t:exp;1", NULL), 204);

    static const char *const types[] = {"registered", "displayNameChanged",    "disabled",
                                        "enabled",    "deviceTemplateChanged", "deleted"};
    cJSON *msgs = NULL;
    int tpl_msgs = 0;
    for (int t = 0; t < 150; t++) {
        cJSON_Delete(msgs);
        msgs = rx_messages();
        tpl_msgs = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs)
        {
            const char *src = capi_jstr(m, "messageSource");
            tpl_msgs += src != NULL && strcmp(src, "deviceTemplateLifecycle") == 0;
        }
        if (tpl_msgs >= 3 && find_msg(msgs, "deviceLifecycle", "deleted", "ex-app") &&
            find_msg(msgs, "properties", "cloudPropertyChange", "ex-app"))
            break;
        usleep(100 * 1000);
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        int n = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs)
        {
            const char *src = capi_jstr(m, "messageSource"), *ty = capi_jstr(m, "messageType");
            const char *d = capi_jstr(m, "deviceId");
            n += src && ty && d && strcmp(src, "deviceLifecycle") == 0 &&
                 strcmp(ty, types[i]) == 0 && strcmp(d, "ex-app") == 0;
        }
        if (n != 1)
            fail_msg("deviceLifecycle %s of ex-app arrived %d times", types[i], n);
    }
    const cJSON *cp = find_msg(msgs, "properties", "cloudPropertyChange", "ex-app");
    assert_non_null(cp);
    assert_string_equal(capi_jstr(cp, "templateId"), "dtmi:t:exp;1");
    assert_string_equal(capi_jstr(cp, "properties.0.name"), "customerName");
    assert_string_equal(capi_jstr(cp, "properties.0.value"), "Contoso");
    /* created, updated, deleted in this order, no deviceId */
    static const char *const tt[] = {"created", "updated", "deleted"};
    int k = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *src = capi_jstr(m, "messageSource");
        if (src == NULL || strcmp(src, "deviceTemplateLifecycle") != 0)
            continue;
        if (k >= 3)
            fail_msg("more than three template messages");
        assert_string_equal(capi_jstr(m, "messageType"), tt[k]);
        assert_string_equal(capi_jstr(m, "templateId"), "dtmi:t:exp;1");
        assert_string_equal(capi_jstr(m, "schema"), "default@v1");
        assert_string_equal(capi_jstr(m, "applicationId"), srv.id_scope);
        assert_non_null(capi_jstr(m, "enqueuedTime"));
        assert_null(capi_jget(m, "deviceId"));
        k++;
    }
    assert_int_equal(k, 3);
    cJSON_Delete(msgs);
    for (const char *const *id = (const char *const[]){"life2", "props2", "tpls", NULL}; *id;
         id++) {
        char path[100];
        snprintf(path, sizeof path, "/api/dataExport/exports/%s", *id);
        assert_int_equal(dx("DELETE", path, NULL), 204);
    }
}

/* Receiver down (connection refused), then 503 for a while, then back: every message of two
 * devices arrives, each device's in order; meanwhile the export reports error and lag. */
static void test_outage(void **state)
{
    (void)state;
    enum { N = 60 };
    char key2[128];
    struct th_mqtt m2;
    make_device("ex-two", key2, sizeof key2);
    put_destination("out");
    put_export("outage", "telemetry", "out", NULL);
    rx_stop();
    device_connect();
    assert_int_equal(th_hub_connect(&m2, &srv, "ex-two", key2), 0);
    for (int i = 0; i < N; i += 10) {
        pub_many(&M, DEV, i, i + 10);
        pub_many(&m2, "ex-two", i, i + 10);
    }
    device_close();
    th_mqtt_close(&m2);
    usleep(1500 * 1000);
    assert_int_equal(dx("GET", "/api/dataExport/exports/outage", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "error");
    assert_true(jnum(R.json, "stats.lagMessages") >= 2 * N - 16);
    assert_non_null(capi_jstr(cJSON_GetArrayItem(capi_jget(R.json, "errors"), 0), "message"));
    rx_set(3, false);
    rx_start();
    assert_int_equal(wait_all(DEV, N, 60, true), N);
    assert_int_equal(wait_all("ex-two", N, 30, true), N);
    rx_set(0, false);
    for (int t = 0; t < 50; t++) {
        assert_int_equal(dx("GET", "/api/dataExport/exports/outage", NULL), 200);
        if (jnum(R.json, "stats.lagMessages") == 0)
            break;
        usleep(100 * 1000);
    }
    assert_int_equal((int)jnum(R.json, "stats.lagMessages"), 0);
    assert_string_equal(capi_jstr(R.json, "status"), "healthy");
    assert_int_equal(dx("DELETE", "/api/dataExport/exports/outage", NULL), 204);
}

/* The fewest 503 answers to a watched device's telemetry so far. */
static int watch_refused_min(void)
{
    pthread_mutex_lock(&rx.mu);
    int n = rx.watch[0].refused < rx.watch[1].refused ? rx.watch[0].refused : rx.watch[1].refused;
    pthread_mutex_unlock(&rx.mu);
    return n;
}

/*
 * A receiver that returns after an outage long enough for the backoff to grow: two devices'
 * first messages are refused (503) at least 6 times each, so the next try of each is 8-16 s
 * away (export_backoff_ms) at the earliest, then the receiver accepts again. Both must go well
 * before that: the pipe tries its first message every EXPORT_PROBE_MS while nothing is
 * acknowledged (probe()), and the first acknowledgement releases the other device's message
 * (destination_back()).
 */
static void test_back_after_outage(void **state)
{
    (void)state;
    enum { N = 5, FAILS = 6 };
    static const char *const devs[2] = {"ex-wait-a", "ex-wait-b"};
    char keys[2][128];
    struct th_mqtt m[2];
    put_destination("back");
    put_export("back", "telemetry", "back", NULL);
    pthread_mutex_lock(&rx.mu);
    memset(rx.watch, 0, sizeof rx.watch);
    rx.watch[0].dev = "\"deviceId\":\"ex-wait-a\"";
    rx.watch[1].dev = "\"deviceId\":\"ex-wait-b\"";
    rx.fail_all = true;
    pthread_mutex_unlock(&rx.mu);
    for (int i = 0; i < 2; i++) {
        make_device(devs[i], keys[i], sizeof keys[i]);
        assert_int_equal(th_hub_connect(&m[i], &srv, devs[i], keys[i]), 0);
        pub_many(&m[i], devs[i], 0, N);
    }
    for (int t = 0; t < 600 && watch_refused_min() < FAILS; t++) /* ~8-16 s of backoff */
        usleep(100 * 1000);
    assert_true(watch_refused_min() >= FAILS);
    rx_set(0, false);
    for (int i = 0; i < 2; i++)
        assert_int_equal(wait_all(devs[i], N, 30, true), N);
    for (int i = 0; i < 2; i++) {
        pthread_mutex_lock(&rx.mu);
        int64_t waited = rx.watch[i].ok_ms - rx.watch[i].no_ms;
        pthread_mutex_unlock(&rx.mu);
        if (waited >= 8000)
            fail_msg("%s: accepted %lld ms after its last refusal, at its backoff timer", devs[i],
                     (long long)waited);
        th_mqtt_close(&m[i]);
    }
    pthread_mutex_lock(&rx.mu);
    memset(rx.watch, 0, sizeof rx.watch);
    pthread_mutex_unlock(&rx.mu);
    assert_int_equal(dx("DELETE", "/api/dataExport/exports/back", NULL), 204);
}

/* kill -9 while the export is part way through (the receiver takes some, then refuses), restart:
 * every acknowledged message arrives at least once. */
static void test_kill9(void **state)
{
    (void)state;
    enum { N = 200 };
    char key3[128];
    make_device("ex-kill", key3, sizeof key3);
    put_destination("k");
    put_export("kill", "telemetry", "k", NULL);
    struct th_mqtt m3;
    assert_int_equal(th_hub_connect(&m3, &srv, "ex-kill", key3), 0);
    pub_many(&m3, "ex-kill", 0, N / 2);
    /* wait until some of them were delivered, then refuse the rest */
    for (int t = 0; t < 100 && wait_all("ex-kill", N, 0, false) < 10; t++)
        usleep(20 * 1000);
    rx_set(0, true);
    pub_many(&m3, "ex-kill", N / 2, N);
    int before = wait_all("ex-kill", N, 0, false);
    assert_true(before > 0 && before < N);
    int status;
    assert_int_equal(kill(srv.pid, SIGKILL), 0);
    assert_int_equal(waitpid(srv.pid, &status, 0), srv.pid);
    srv.pid = 0;
    th_mqtt_close(&m3);
    rx_set(0, false);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(wait_all("ex-kill", N, 60, true), N);
}

/* Deleting a device deletes its stored telemetry: what an export had not read yet is counted
 * and reported, and what it had read is still delivered. */
static void test_device_deleted_counted(void **state)
{
    (void)state;
    enum { N = 1100 }; /* more than a pipe's window (EXPORT_WINDOW, 1024 rows) */
    char key[128];
    struct th_mqtt m;
    make_device("ex-del", key, sizeof key);
    put_destination("del");
    put_export("del", "telemetry", "del", NULL);
    rx_set(0, true);
    assert_int_equal(th_hub_connect(&m, &srv, "ex-del", key), 0);
    for (int i = 0; i < N; i += 50)
        pub_many(&m, "ex-del", i, i + 50);
    th_mqtt_close(&m);
    usleep(500 * 1000); /* the pipe reads what fits in its window */
    assert_int_equal(admin("DELETE", "/api/devices/ex-del", NULL), 204);
    rx_set(0, false);
    int got = 0;
    double deleted = 0;
    for (int t = 0; t < 100; t++) {
        assert_int_equal(dx("GET", "/api/dataExport/exports/del", NULL), 200);
        deleted = jnum(R.json, "stats.deletedBeforeExport");
        got = wait_all("ex-del", N, 0, true);
        const char *st = capi_jstr(R.json, "status");
        if (got + (int)deleted == N && st != NULL && strcmp(st, "warning") == 0)
            break;
        usleep(100 * 1000);
    }
    assert_true(deleted > 0);
    assert_int_equal(got + (int)deleted, N);
    assert_string_equal(capi_jstr(R.json, "status"), "warning");
    const char *msg = capi_jstr(cJSON_GetArrayItem(capi_jget(R.json, "errors"), 0), "message");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "deleted with the device"));
    assert_int_equal(dx("DELETE", "/api/dataExport/exports/del", NULL), 204);
}

/* The real device program: examples/environmental_sensor registers through DPS (deviceLifecycle
 * provisioned), connects (deviceConnectivity connected), reports its properties (properties) and
 * sends telemetry until N are acknowledged; every source reaches the webhook. */
static void test_sensor_every_source(void **state)
{
    (void)state;
    enum { N = 20 };
    const char *sources[] = {"telemetry", "properties", "deviceConnectivity", "deviceLifecycle"};
    put_destination("sensor");
    for (size_t i = 0; i < 4; i++) {
        char id[40];
        snprintf(id, sizeof id, "sensor-%zu", i);
        put_export(id, sources[i], "sensor", NULL);
    }
    char bin[700], ep[64], count[16];
    snprintf(bin, sizeof bin, "%s/environmental-sensor", cu_builddir());
    snprintf(ep, sizeof ep, "localhost:%u", (unsigned)srv.mqtt_port);
    snprintf(count, sizeof count, "%d", N);
    int in[2];
    assert_int_equal(pipe(in), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(in[0], 0);
        dup2(null, 1);
        dup2(null, 2);
        close(in[1]);
        execl(bin, bin, "--id-scope", srv.id_scope, "--device-id", "exp-sensor", "--group-key",
              srv.group_primary_key, "--dps-endpoint", ep, "--ca-file", srv.ca_path, "--model-id",
              TID, "--interval", "0", "--count", count, "-q", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    int status = -1;
    for (int t = 0; t < 300 && waitpid(pid, &status, WNOHANG) != pid; t++)
        usleep(100 * 1000);
    close(in[1]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("environmental-sensor did not finish its %d messages", N);
    }
    cJSON *msgs = NULL;
    int tel = 0;
    for (int t = 0; t < 100; t++) {
        cJSON_Delete(msgs);
        msgs = rx_messages();
        tel = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs)
        {
            const char *src = capi_jstr(m, "messageSource"), *d = capi_jstr(m, "deviceId");
            if (src && d && strcmp(src, "telemetry") == 0 && strcmp(d, "exp-sensor") == 0)
                tel++;
        }
        if (tel >= N && find_msg(msgs, "deviceLifecycle", "provisioned", "exp-sensor") &&
            find_msg(msgs, "deviceConnectivity", "disconnected", "exp-sensor") &&
            find_msg(msgs, "properties", "devicePropertyReportedChange", "exp-sensor"))
            break;
        usleep(100 * 1000);
    }
    assert_true(tel >= N);
    const cJSON *tm = NULL, *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *d = capi_jstr(m, "deviceId"), *src = capi_jstr(m, "messageSource");
        if (d && src && strcmp(d, "exp-sensor") == 0 && strcmp(src, "telemetry") == 0)
            tm = m;
    }
    assert_non_null(tm);
    if (capi_jstr(tm, "templateId") == NULL || strcmp(capi_jstr(tm, "templateId"), TID) != 0)
        fail_msg("telemetry of the sensor: %s", cJSON_PrintUnformatted(tm));
    assert_true(cJSON_IsNumber(capi_jget(tm, "telemetry.temp")));
    assert_non_null(find_msg(msgs, "deviceLifecycle", "provisioned", "exp-sensor"));
    assert_non_null(find_msg(msgs, "deviceConnectivity", "connected", "exp-sensor"));
    assert_non_null(find_msg(msgs, "deviceConnectivity", "disconnected", "exp-sensor"));
    assert_non_null(find_msg(msgs, "properties", "devicePropertyReportedChange", "exp-sensor"));
    cJSON_Delete(msgs);
    for (size_t i = 0; i < 4; i++) {
        char path[100];
        snprintf(path, sizeof path, "/api/dataExport/exports/sensor-%zu", i);
        assert_int_equal(dx("DELETE", path, NULL), 204);
    }
}

/* Deleting the device whose rows are the newest of the telemetry table must not make later rows
 * reuse row numbers the export has passed (SQLite numbers a row after the highest present): the
 * next device's messages all arrive. */
static void test_delete_newest_no_gap(void **state)
{
    (void)state;
    enum { N = 20 };
    char key[128];
    struct th_mqtt m;
    put_destination("gap");
    put_export("gap", "telemetry", "gap", NULL);
    make_device("ex-gap1", key, sizeof key);
    assert_int_equal(th_hub_connect(&m, &srv, "ex-gap1", key), 0);
    pub_many(&m, "ex-gap1", 0, N);
    th_mqtt_close(&m);
    assert_int_equal(wait_all("ex-gap1", N, 30, true), N);
    assert_int_equal(admin("DELETE", "/api/devices/ex-gap1", NULL), 204);
    make_device("ex-gap2", key, sizeof key);
    assert_int_equal(th_hub_connect(&m, &srv, "ex-gap2", key), 0);
    pub_many(&m, "ex-gap2", 0, N);
    th_mqtt_close(&m);
    assert_int_equal(wait_all("ex-gap2", N, 30, true), N);
    assert_int_equal(dx("GET", "/api/dataExport/exports/gap", NULL), 200);
    assert_int_equal((int)jnum(R.json, "stats.lagMessages"), 0);
    assert_int_equal((int)jnum(R.json, "stats.deletedBeforeExport"), 0);
    assert_int_equal(dx("DELETE", "/api/dataExport/exports/gap", NULL), 204);
}

/* Rows of @p source in export_events, read through SQLite as another reader of the WAL. */
static long events_rows(const char *source)
{
    char path[400];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;
    snprintf(path, sizeof path, "%s/central.db", srv.data_dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM export_events WHERE source=?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Wait (bounded) until export_events holds @p want rows of @p source; @return the last count. */
static long wait_rows(const char *source, long want, int timeout_s)
{
    long n = -1;
    for (int t = 0; t <= timeout_s * 10; t++) {
        n = events_rows(source);
        if (n == want)
            break;
        usleep(100 * 1000);
    }
    return n;
}

static size_t count_src(const char *source, const char *dev)
{
    cJSON *msgs = rx_messages();
    size_t k = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *s = capi_jstr(m, "messageSource"), *d = capi_jstr(m, "deviceId");
        if (s && d && strcmp(s, source) == 0 && strcmp(d, dev) == 0)
            k++;
    }
    cJSON_Delete(msgs);
    return k;
}

/* export_events is pruned up to the lowest cursor of its source's exports: rows an export has
 * not delivered stay (receiver refusing, export disabled) and go once delivered; a source that
 * no export reads keeps no rows. The table's newest row always stays (row ids must not go back),
 * and the connectivity events of this test are the newest: 1 is "pruned". */
static void test_events_pruned(void **state)
{
    (void)state;
    const char *src = "deviceConnectivity";
    char key[128];
    struct th_mqtt m;
    make_device("ex-prune", key, sizeof key);
    put_destination("prune");
    put_export("prune", src, "prune", NULL);
    /* delivered: pruned (connected + disconnected, twice) */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(th_hub_connect(&m, &srv, "ex-prune", key), 0);
        th_mqtt_close(&m);
    }
    for (int t = 0; t < 100 && count_src(src, "ex-prune") < 4; t++)
        usleep(100 * 1000);
    assert_int_equal((int)count_src(src, "ex-prune"), 4);
    assert_int_equal(wait_rows(src, 1, 10), 1);
    /* the receiver refuses: the rows stay while they are retried, and go once delivered */
    rx_set(0, true);
    assert_int_equal(th_hub_connect(&m, &srv, "ex-prune", key), 0);
    th_mqtt_close(&m);
    usleep(2500 * 1000);                /* more than two prune periods */
    assert_true(events_rows(src) >= 2); /* the two undelivered, perhaps the older kept row */
    rx_set(0, false);
    assert_int_equal(wait_rows(src, 1, 30), 1);
    assert_int_equal((int)count_src(src, "ex-prune"), 6);
    /* a disabled export resumes from its cursor (docs/EXPORT.md): its rows stay */
    assert_int_equal(dx("PATCH", "/api/dataExport/exports/prune", "{\"enabled\":false}"), 200);
    assert_int_equal(th_hub_connect(&m, &srv, "ex-prune", key), 0);
    th_mqtt_close(&m);
    usleep(2500 * 1000);
    assert_true(events_rows(src) >= 2); /* the two undelivered, perhaps the older kept row */
    assert_int_equal((int)count_src(src, "ex-prune"), 6);
    assert_int_equal(dx("PATCH", "/api/dataExport/exports/prune", "{\"enabled\":true}"), 200);
    assert_int_equal(wait_rows(src, 1, 30), 1);
    assert_int_equal((int)count_src(src, "ex-prune"), 8);
    /* undelivered rows of a deleted export: no export of the source is left, nothing is kept */
    rx_set(0, true);
    assert_int_equal(th_hub_connect(&m, &srv, "ex-prune", key), 0);
    th_mqtt_close(&m);
    usleep(500 * 1000);
    assert_true(events_rows(src) > 0);
    assert_int_equal(dx("DELETE", "/api/dataExport/exports/prune", NULL), 204);
    assert_int_equal(wait_rows(src, 1, 10), 1);
    rx_set(0, false);
}

static int setup_all(void **state)
{
    rx_start();
    return setup(state);
}

static int teardown_all(void **state)
{
    int rc = teardown(state);
    rx_stop();
    for (size_t i = 0; i < rx.n; i++)
        free(rx.bodies[i]);
    free(rx.bodies);
    return rc;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads(); /* rx_stop breaks the receiver's loop from the test thread */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_checks),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_every_source),
        cmocka_unit_test(test_app_changes),
        cmocka_unit_test(test_sensor_every_source),
        cmocka_unit_test(test_outage),
        cmocka_unit_test(test_back_after_outage),
        cmocka_unit_test(test_device_deleted_counted),
        cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_events_pruned),
        cmocka_unit_test(test_delete_newest_no_gap),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
