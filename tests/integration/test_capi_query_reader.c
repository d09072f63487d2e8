/*
 * test_capi_query_reader.c - POST /api/query scans stored telemetry on the store's reader
 * thread (store_read.h, capi_read.c), not on the event loop: with DEVS devices of the template
 * and ROWS_PER telemetry rows each in the window,
 * - while the query runs, GET /api/devices is answered before the query's answer arrives, and
 *   the query's answer is still right (the TOP values computed here);
 * - with one reader thread and --max-read-jobs 1, a second query gets 503 + Retry-After.
 * Ordering, not timing, as in test_capi_series_reader.c: "not answered yet" is whether the
 * query's response bytes are in the client's socket when the other answer came back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "capi_device_util.h"
#include "telemetry_fill.h"

#define DEVS 40
#define ROWS_PER 10000 /* the scan's limit per device (AQ_MAX_RESULTS) */
#define QV "api-version=2022-10-31-preview"
#define QUERY                                                                                     \
    "SELECT TOP 3 $id, temp FROM " TID " WHERE WITHIN_WINDOW(P1D) AND temp > -100 ORDER BY temp " \
    "DESC"

static double BEST[3]; /* the three largest temps inserted, largest first */

/* POST /api/query with its api-version (capi_call would add 2022-07-31). */
static long post_query(const char *body)
{
    capi_resp_free(&R);
    if (capi_http(srv.ca_path, srv.https_port, srv.admin_token, "POST", "/api/query?" QV, body,
                  40000, &R) < 0)
        return -1;
    return R.status;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void keep_best(double v)
{
    for (int i = 0; i < 3; i++) {
        if (v > BEST[i]) {
            for (int k = 2; k > i; k--)
                BEST[k] = BEST[k - 1];
            BEST[i] = v;
            return;
        }
    }
}

/* DEVS devices of the template (through the API), ROWS_PER rows each straight into the
 * database, an hour ago. */
static int make_fleet(void)
{
    for (int d = 0; d < DEVS; d++) {
        char path[80];
        snprintf(path, sizeof path, "/api/devices/q-%02d", d);
        if (admin("PUT", path, "{\"template\":\"" TID "\"}") != 200)
            return -1;
    }
    struct tfill f;
    if (tfill_begin(&f, srv.data_dir) != 0)
        return tfill_end(&f);
    int64_t t0 = (int64_t)time(NULL) * 1000 - 3600 * 1000;
    for (int d = 0; d < DEVS && f.rc == SQLITE_OK; d++) {
        char id[16];
        snprintf(id, sizeof id, "q-%02d", d);
        for (long i = 0; f.rc == SQLITE_OK && i < ROWS_PER; i++) {
            char payload[64];
            long k = (long)d * ROWS_PER + i;
            double v = (double)((k * 7919L) % 100003L) / 100.0 - 50.0;
            snprintf(payload, sizeof payload, "{\"temp\":%.2f,\"humid\":40}", v);
            keep_best(strtod(payload + 8, NULL));
            tfill_add(&f, id, t0 + i * 100, NULL, payload);
        }
    }
    return tfill_end(&f);
}

/* Send the query on a raw TLS connection (Connection: close); wait until the server's log
 * shows the request (--log-level debug); @p n counts the query requests sent so far. */
static void query_send(struct th_tls *t, int n)
{
    char body[400], req[1600];
    snprintf(body, sizeof body, "{\"query\":\"%s\"}", QUERY);
    snprintf(req, sizeof req,
             "POST /api/query?" QV "&n=%d HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n"
             "%s",
             n, srv.admin_token, strlen(body), body);
    assert_int_equal(th_tls_open(&srv, t), 0);
    assert_int_equal(th_tls_send(t, req, strlen(req)), 0);
    char needle[40];
    snprintf(needle, sizeof needle, "&n=%d", n);
    assert_true(th_central_log_contains(&srv, needle, 10000));
}

static bool answered(struct th_tls *t)
{
    th_tls_wait(t, "HTTP/1.1 ", 1);
    return strstr(t->text, "HTTP/1.1 ") != NULL || t->closed;
}

static int query_recv(struct th_tls *t, cJSON **out)
{
    *out = NULL;
    th_tls_wait(t, NULL, 60000);
    if (strncmp(t->text, "HTTP/1.1 ", 9) != 0)
        return -1;
    int status = (int)strtol(t->text + 9, NULL, 10);
    const char *body = strstr(t->text, "\r\n\r\n");
    if (body != NULL)
        *out = cJSON_Parse(body + 4);
    return status;
}

static void check_results(const cJSON *o)
{
    const cJSON *res = capi_jget(o, "results");
    assert_int_equal(cJSON_GetArraySize(res), 3);
    for (int i = 0; i < 3; i++) {
        char p[40];
        snprintf(p, sizeof p, "results.%d.temp", i);
        assert_true(jnum(o, p) > BEST[i] - 1e-9 && jnum(o, p) < BEST[i] + 1e-9);
    }
}

static void test_others_answered_first(void **state)
{
    (void)state;
    struct th_tls t;
    cJSON *o;
    for (int i = 0; i < 3; i++)
        BEST[i] = -1e9;
    assert_int_equal(make_fleet(), 0);
    double t0 = mono_ms();
    query_send(&t, 1);
    assert_int_equal(admin("GET", "/api/devices", NULL), 200);
    assert_non_null(capi_jget(R.json, "value.0.id"));
    double t1 = mono_ms();
    bool early = answered(&t);
    if (early)
        print_error("the query was answered before GET /api/devices:\n%.300s\n", t.text);
    assert_false(early);
    assert_int_equal(query_recv(&t, &o), 200);
    print_message("query over %d devices x %d rows: answered after %.0f ms; GET /api/devices "
                  "came %.0f ms after the query was sent\n",
                  DEVS, ROWS_PER, mono_ms() - t0, t1 - t0);
    assert_non_null(o);
    check_results(o);
    cJSON_Delete(o);
    th_tls_close(&t);
}

/* --read-threads 1 --max-read-jobs 1: a second query while one runs is refused. */
static void test_full_queue_503(void **state)
{
    (void)state;
    struct th_tls t;
    cJSON *o;
    query_send(&t, 2);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "query", QUERY);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    long st = post_query(body);
    bool early = answered(&t);
    assert_int_equal(st, 503);
    assert_string_equal(R.error_code, "ServiceUnavailable");
    assert_false(early);
    assert_int_equal(query_recv(&t, &o), 200);
    check_results(o);
    cJSON_Delete(o);
    th_tls_close(&t);
    /* free again */
    assert_int_equal(post_query(body), 200);
    check_results(R.json);
    free(body);
}

static int teardown_query(void **state)
{
    (void)state;
    device_close();
    capi_resp_free(&R);
    int rc = srv.pid > 0 ? th_central_stop(&srv) : 0;
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

int main(void)
{
    static const char *const args[] = {"--read-threads", "1", "--max-read-jobs", "1", "--log-level",
                                       "debug",          NULL};
    SRV_ARGS = args;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_others_answered_first),
        cmocka_unit_test(test_full_queue_503),
    };
    return cmocka_run_group_tests(tests, setup, teardown_query);
}
