/*
 * device_util.h - helpers shared by the device-client integration tests (test_device_*.c):
 * run an iotc client on its own thread, wait for conditions with a deadline, read the
 * telemetry iotc-central stored, read twins through the service REST API.
 * Header-only (static functions) so that each test binary stays one file.
 * Tests keep their struct du_client in static storage: when an assertion fails, cmocka leaves
 * the test function while the client thread may still run, and it must not write into a dead
 * stack frame.
 */
#ifndef IOTC_TESTS_DEVICE_UTIL_H
#define IOTC_TESTS_DEVICE_UTIL_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <iotc/client.h>

#include "../lib/harness.h"

static inline int64_t du_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void du_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ a client on a thread */

struct du_client {
    struct iotc_client *c;
    pthread_t thread;
    bool thread_running;
    int run_rc;
    pthread_mutex_t mu;
    /* observed from callbacks (client thread), read under mu */
    enum iotc_state state;
    unsigned connected_count;
    unsigned reasons[IOTC_REASON_CONFIG + 1]; /* how often each reason was reported */
    uint64_t acked, failed;
    unsigned char *seen; /* per telemetry seq: acknowledged at least once */
    size_t seen_cap;
    bool verbose;
};

static void du_state_cb(void *user, enum iotc_state s, enum iotc_reason r)
{
    struct du_client *d = user;
    pthread_mutex_lock(&d->mu);
    d->state = s;
    if (s == IOTC_STATE_CONNECTED)
        d->connected_count++;
    if ((unsigned)r <= IOTC_REASON_CONFIG)
        d->reasons[r]++;
    pthread_mutex_unlock(&d->mu);
    if (d->verbose)
        fprintf(stderr, "[device] %s (%s)\n", iotc_state_str(s), iotc_reason_str(r));
}

static void du_log_cb(void *user, enum iotc_log_level level, const char *msg)
{
    (void)user;
    fprintf(stderr, "[iotc %d] %s\n", (int)level, msg);
}

static void *du_thread(void *arg)
{
    struct du_client *d = arg;
    d->run_rc = iotc_client_run(d->c);
    return NULL;
}

/* Create the client from @p cfg and run it on a new thread. 0 / -1. */
static inline int du_start(struct du_client *d, const struct iotc_config *cfg, bool verbose)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    d->verbose = verbose || getenv("IOTC_TEST_VERBOSE") != NULL;
    if (iotc_client_new(cfg, &d->c) != IOTC_OK)
        return -1;
    iotc_client_set_state_cb(d->c, du_state_cb, d);
    if (d->verbose)
        iotc_client_set_log(d->c, du_log_cb, NULL,
                            getenv("IOTC_TEST_DEBUG") ? IOTC_LOG_DEBUG : IOTC_LOG_INFO);
    return 0;
}

static inline int du_run(struct du_client *d)
{
    if (pthread_create(&d->thread, NULL, du_thread, d) != 0)
        return -1;
    d->thread_running = true;
    return 0;
}

/* Stop the loop, join the thread, free the client. */
static inline void du_stop(struct du_client *d)
{
    if (d->c == NULL)
        return;
    iotc_client_stop(d->c);
    if (d->thread_running)
        pthread_join(d->thread, NULL);
    d->thread_running = false;
    iotc_client_free(d->c);
    d->c = NULL;
    free(d->seen);
    d->seen = NULL;
    pthread_mutex_destroy(&d->mu);
}

/* Telemetry callback: user = du_client, message seq encoded in the id map by the sender. */
struct du_msg {
    struct du_client *d;
    size_t seq;
};

static void du_telemetry_cb(void *user, uint32_t id, int result)
{
    struct du_msg *m = user;
    struct du_client *d = m->d;
    (void)id;
    pthread_mutex_lock(&d->mu);
    if (result == IOTC_OK) {
        d->acked++;
        if (m->seq < d->seen_cap)
            d->seen[m->seq] = 1;
    } else {
        d->failed++;
    }
    pthread_mutex_unlock(&d->mu);
    free(m);
}

/* Queue telemetry {"seq":N,"temp":..} with a callback that records the ack. Returns the rc. */
static inline int du_send_seq(struct du_client *d, size_t seq)
{
    char body[96];
    struct du_msg *m = malloc(sizeof(*m));
    if (m == NULL)
        return IOTC_E_NOMEM;
    m->d = d;
    m->seq = seq;
    pthread_mutex_lock(&d->mu);
    if (seq >= d->seen_cap) {
        size_t cap = d->seen_cap ? d->seen_cap * 2 : 1024;
        while (cap <= seq)
            cap *= 2;
        unsigned char *p = realloc(d->seen, cap);
        if (p != NULL) {
            memset(p + d->seen_cap, 0, cap - d->seen_cap);
            d->seen = p;
            d->seen_cap = cap;
        }
    }
    pthread_mutex_unlock(&d->mu);
    int n = snprintf(body, sizeof(body), "{\"seq\":%zu,\"temp\":%zu}", seq, 20 + seq % 50);
    int rc = iotc_client_send_telemetry(d->c, body, (size_t)n, NULL, du_telemetry_cb, m, NULL);
    if (rc != IOTC_OK)
        free(m);
    return rc;
}

static inline uint64_t du_acked(struct du_client *d)
{
    pthread_mutex_lock(&d->mu);
    uint64_t v = d->acked;
    pthread_mutex_unlock(&d->mu);
    return v;
}

static inline enum iotc_state du_state(struct du_client *d)
{
    pthread_mutex_lock(&d->mu);
    enum iotc_state s = d->state;
    pthread_mutex_unlock(&d->mu);
    return s;
}

static inline unsigned du_reason_count(struct du_client *d, enum iotc_reason r)
{
    pthread_mutex_lock(&d->mu);
    unsigned v = d->reasons[r];
    pthread_mutex_unlock(&d->mu);
    return v;
}

/* Wait until the client is connected (and at least @p min_connects sessions were made). */
static inline bool du_wait_connected(struct du_client *d, unsigned min_connects, int timeout_ms)
{
    int64_t end = du_now_ms() + timeout_ms;
    while (du_now_ms() < end) {
        pthread_mutex_lock(&d->mu);
        bool ok = d->state == IOTC_STATE_CONNECTED && d->connected_count >= min_connects;
        pthread_mutex_unlock(&d->mu);
        if (ok)
            return true;
        du_sleep_ms(20);
    }
    return false;
}

static inline bool du_wait_acked(struct du_client *d, uint64_t n, int timeout_ms)
{
    int64_t end = du_now_ms() + timeout_ms;
    while (du_now_ms() < end) {
        if (du_acked(d) >= n)
            return true;
        du_sleep_ms(20);
    }
    return false;
}

/* ------------------------------------------------------------------ iotc-central facts */

/* A DPS config for @p reg_id with the application's group key, endpoint and CA. */
static inline void du_dps_config(struct iotc_config *cfg, const struct th_central *srv,
                                 const char *reg_id, char *endpoint_buf, size_t ep_size)
{
    iotc_config_init(cfg);
    snprintf(endpoint_buf, ep_size, "localhost:%u", (unsigned)srv->mqtt_port);
    cfg->id_scope = srv->id_scope;
    cfg->registration_id = reg_id;
    cfg->group_key = srv->group_primary_key;
    cfg->dps_endpoint = endpoint_buf;
    cfg->ca_file = srv->ca_path;
    /* Fast retries so that the tests stay short. */
    cfg->backoff_base_ms = 200;
    cfg->backoff_max_ms = 2000;
    cfg->op_timeout_ms = 10000;
}

/*
 * Count the distinct seq values (0..n-1) of {"seq":N,...} telemetry that iotc-central stored for
 * @p device_id, and the total number of stored rows (duplicates included). -1 on error.
 */
static inline int du_store_count(const struct th_central *srv, const char *device_id, size_t n,
                                 size_t *out_rows)
{
    char path[400];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    unsigned char *seen = calloc(n ? n : 1, 1);
    int distinct = 0;
    size_t rows = 0;

    snprintf(path, sizeof(path), "%s/central.db", srv->data_dir);
    if (seen == NULL || sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, "SELECT payload FROM telemetry WHERE device_id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        rows++;
        cJSON *j = cJSON_ParseWithLength(p, (size_t)len);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "seq");
        if (cJSON_IsNumber(s) && s->valuedouble >= 0 && (size_t)s->valuedouble < n &&
            !seen[(size_t)s->valuedouble]) {
            seen[(size_t)s->valuedouble] = 1;
            distinct++;
        }
        cJSON_Delete(j);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(seen);
    if (out_rows)
        *out_rows = rows;
    return distinct;
fail:
    if (db)
        sqlite3_close(db);
    free(seen);
    return -1;
}

/* Does any stored telemetry of @p device_id contain @p needle? -1 on error. */
static inline int du_store_contains(const struct th_central *srv, const char *device_id,
                                    const char *needle)
{
    char path[400];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int found = 0;

    snprintf(path, sizeof(path), "%s/central.db", srv->data_dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, "SELECT payload FROM telemetry WHERE device_id = ?", -1, &st,
                           NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    while (!found && sqlite3_step(st) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        char *copy = strndup(p ? p : "", (size_t)len);
        found = copy && strstr(copy, needle) != NULL;
        free(copy);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/* GET /twins/{id} -> parsed JSON (caller cJSON_Delete), NULL on failure. */
static inline cJSON *du_get_twin(const struct th_central *srv, const char *device_id)
{
    char path[256];
    struct th_http_response r;
    snprintf(path, sizeof(path), "/twins/%s?api-version=2021-04-12", device_id);
    if (th_https(srv, "GET", path, NULL, NULL, true, 10000, &r) != 0)
        return NULL;
    cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
    free(r.body);
    return j;
}

/* properties.<section>.<name> of a twin (borrowed from @p twin), NULL when absent. */
static inline const cJSON *du_twin_prop(const cJSON *twin, const char *section, const char *name)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(twin, "properties");
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(props, section);
    return cJSON_GetObjectItemCaseSensitive(sec, name);
}

/* PATCH /twins/{id} with desired @p desired_json; returns the new desired $version or -1. */
static inline long du_patch_desired(const struct th_central *srv, const char *device_id,
                                    const char *desired_json)
{
    char path[256], body[1024];
    struct th_http_response r;
    long version = -1;
    snprintf(path, sizeof(path), "/twins/%s?api-version=2021-04-12", device_id);
    snprintf(body, sizeof(body), "{\"properties\":{\"desired\":%s}}", desired_json);
    if (th_https(srv, "PATCH", path, "If-Match: \"*\"\r\n", body, true, 10000, &r) != 0)
        return -1;
    if (r.status == 200) {
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *v = du_twin_prop(j, "desired", "$version");
        if (cJSON_IsNumber(v))
            version = (long)v->valuedouble;
        cJSON_Delete(j);
    }
    free(r.body);
    return version;
}

/*
 * POST /twins/{id}/methods; fills *out_status with the device status and returns the payload
 * JSON (caller cJSON_Delete; may be a JSON null) or NULL on an HTTP failure (*out_http set).
 */
static inline cJSON *du_invoke(const struct th_central *srv, const char *device_id,
                               const char *method, const char *payload_json, int *out_status,
                               int *out_http)
{
    char path[256], body[1024];
    struct th_http_response r;
    cJSON *result = NULL;
    *out_status = -1;
    *out_http = -1;
    snprintf(path, sizeof(path), "/twins/%s/methods?api-version=2021-04-12", device_id);
    snprintf(body, sizeof(body),
             "{\"methodName\":\"%s\",\"responseTimeoutInSeconds\":10,"
             "\"connectTimeoutInSeconds\":0,\"payload\":%s}",
             method, payload_json);
    if (th_https(srv, "POST", path, NULL, body, true, 15000, &r) != 0)
        return NULL;
    *out_http = r.status;
    if (r.status == 200) {
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "status");
        if (cJSON_IsNumber(s))
            *out_status = (int)s->valuedouble;
        cJSON *p = cJSON_DetachItemFromObjectCaseSensitive(j, "payload");
        result = p ? p : cJSON_CreateNull();
        cJSON_Delete(j);
    }
    free(r.body);
    return result;
}

/* Print the end of the server's log on stderr (diagnostics for a failed expectation). */
static inline void du_dump_server_log(const struct th_central *srv, int lines)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "tail -n %d '%s' >&2", lines, srv->log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no server log)\n");
}

/* Kill iotc-central abruptly (SIGKILL, no flush, no goodbye) and reap it. */
static inline void du_kill_server(struct th_central *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, NULL, 0);
        srv->pid = 0;
    }
}

/* Restart iotc-central on the same data dir AND the same ports (devices keep their endpoint). */
static inline int du_restart_same_ports(struct th_central *srv)
{
    char mqtt[16], https[16];
    snprintf(mqtt, sizeof(mqtt), "%u", (unsigned)srv->mqtt_port);
    snprintf(https, sizeof(https), "%u", (unsigned)srv->https_port);
    const char *extra[] = {"--mqtt-port", mqtt, "--https-port", https, NULL};
    /* The old listening port may linger for a moment; retry a few times. */
    for (int i = 0; i < 20; i++) {
        if (th_central_restart(srv, extra) == 0)
            return 0;
        du_sleep_ms(250);
    }
    return -1;
}

#endif /* IOTC_TESTS_DEVICE_UTIL_H */
