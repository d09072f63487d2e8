/*
 * test_capi_series_reader.c - long series queries run on the store's reader thread
 * (store_read.h, capi_read.c), not on the event loop: with 500 000 rows in range,
 * - while a series query runs, GET /api/devices and a device's QoS 1 telemetry PUBACK are
 *   answered before the series answer arrives, and the series answer is still right;
 * - with one reader thread and --max-read-jobs 2, a third query gets 503 + Retry-After, and so
 *   does a raw data page (same reader);
 * - a client that closes its connection mid-query leaves the server serving;
 * - stopping the server with a query running answers it 503 and exits cleanly.
 * Ordering, not timing: "not answered yet" is whether the series response's bytes are in the
 * client's socket at the moment the other answers came back (on one loop thread that did the
 * query, they would be: it wrote the series answer before it could answer the others).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "capi_device_util.h"
#include "central/app/appl.h"
#include "telemetry_fill.h"

#define ROWS 500000
#define NB 60
#define SPAN (3600 * 1000)

static int64_t T_FROM; /* the rows cover [T_FROM, T_FROM + SPAN), an hour before the live ones */

struct agg {
    long count;
    double sum, min, max;
};
static struct agg WANT[NB];

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void iso(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ROWS rows of DEV straight into the server's database (as test_capi_series.c does). */
static int insert_rows(void)
{
    struct tfill f;
    if (tfill_begin(&f, srv.data_dir) != 0)
        return tfill_end(&f);
    for (long i = 0; f.rc == SQLITE_OK && i < ROWS; i++) {
        char payload[64];
        int64_t t = T_FROM + (int64_t)i * SPAN / ROWS;
        snprintf(payload, sizeof payload, "{\"temp\":%.2f,\"humid\":40}",
                 (double)((i * 7919L) % 10007L) / 100.0 - 50.0);
        double v = strtod(payload + 8, NULL);
        struct agg *a = &WANT[(t - T_FROM) * NB / SPAN];
        if (a->count == 0 || v < a->min)
            a->min = v;
        if (a->count == 0 || v > a->max)
            a->max = v;
        a->sum += v;
        a->count++;
        tfill_add(&f, DEV, t, NULL, payload);
    }
    return tfill_end(&f);
}

/* The series path over the whole range; @p tag (the bucket count, NB or NB + k) makes the
 * request's log line unique. */
static void series_path(char *out, size_t size, int buckets, const char *agg)
{
    char f[40], t[40];
    iso(T_FROM, f);
    iso(T_FROM + SPAN, t);
    snprintf(out, size,
             "/api/devices/" DEV "/telemetry/temp/series?from=%s&to=%s&buckets=%d&agg=%s&" V, f, t,
             buckets, agg);
}

/*
 * Send the series request on a raw TLS connection (Connection: close) and wait until the
 * server's log shows it was dispatched (started with --log-level debug).
 */
static void series_send(struct th_tls *t, int buckets, const char *agg)
{
    char path[400], req[1200], needle[80];
    series_path(path, sizeof path, buckets, agg);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
             "Connection: close\r\n\r\n",
             path, srv.admin_token);
    assert_int_equal(th_tls_open(&srv, t), 0);
    assert_int_equal(th_tls_send(t, req, strlen(req)), 0);
    snprintf(needle, sizeof needle, "&buckets=%d&agg=%s", buckets, agg);
    assert_true(th_central_log_contains(&srv, needle, 10000));
}

/* True when (part of) a response arrived on @p t: polls without waiting for one. */
static bool answered(struct th_tls *t)
{
    th_tls_wait(t, "HTTP/1.1 ", 1);
    return strstr(t->text, "HTTP/1.1 ") != NULL || t->closed;
}

/* The whole response (the server closes); its status, and its body parsed into *out. */
static int series_recv(struct th_tls *t, cJSON **out)
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

/* The avg series of @p o is the one computed here. */
static void check_avg(const cJSON *o)
{
    assert_int_equal((int)jnum(o, "buckets"), NB);
    const cJSON *arr = capi_jget(o, "value"), *it;
    assert_int_equal(cJSON_GetArraySize(arr), NB);
    long total = 0;
    cJSON_ArrayForEach(it, arr)
    {
        int64_t ts;
        assert_int_equal(appl_parse_time(capi_jstr(it, "timestamp"), &ts), 0);
        int64_t b = (ts - T_FROM) * NB / SPAN;
        assert_true(b >= 0 && b < NB);
        assert_int_equal((long)jnum(it, "count"), WANT[b].count);
        assert_true(fabs(jnum(it, "value") - WANT[b].sum / (double)WANT[b].count) < 1e-6);
        total += WANT[b].count;
    }
    assert_int_equal(total, ROWS);
}

static void test_others_answered_first(void **state)
{
    (void)state;
    struct th_tls t;
    cJSON *o;
    assert_int_equal(insert_rows(), 0);
    device_connect();
    double t0 = mono_ms();
    series_send(&t, NB, "avg");
    /* the loop is free: another request and a device's QoS 1 message are answered */
    assert_int_equal(admin("GET", "/api/devices", NULL), 200);
    assert_non_null(capi_jget(R.json, "value.0.id"));
    telemetry("{\"temp\":21.5,\"humid\":40}"); /* asserts the PUBACK */
    double t1 = mono_ms();
    bool early = answered(&t);
    if (early)
        print_error("the series was answered before the others:\n%.300s\n", t.text);
    assert_false(early);
    /* and the series answer, when it comes, is right */
    assert_int_equal(series_recv(&t, &o), 200);
    print_message("series of %d rows: answered after %.0f ms; GET /api/devices and a PUBACK "
                  "came %.0f ms after the series request\n",
                  ROWS, mono_ms() - t0, t1 - t0);
    assert_non_null(o);
    check_avg(o);
    cJSON_Delete(o);
    th_tls_close(&t);
    device_close();
}

/* --read-threads 1 --max-read-jobs 2: one running, one queued, the third refused. */
static void test_full_queue_503(void **state)
{
    (void)state;
    struct th_tls a, b, c;
    cJSON *o;
    series_send(&a, NB + 1, "min");
    series_send(&b, NB + 2, "max");
    series_send(&c, NB + 3, "avg");
    assert_true(th_tls_wait(&c, "\r\n\r\n", 10000));
    th_tls_wait(&c, NULL, 10000);
    assert_non_null(strstr(c.text, "HTTP/1.1 503"));
    assert_non_null(strstr(c.text, "Retry-After: 1"));
    assert_non_null(strstr(c.text, "ServiceUnavailable"));
    /* raw data pages go through the same reader */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/rawData?$top=5", NULL), 503);
    assert_string_equal(R.error_code, "ServiceUnavailable");
    bool early = answered(&a) || answered(&b);
    assert_false(early);
    th_tls_close(&c);
    assert_int_equal(series_recv(&a, &o), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(o, "value")), NB + 1);
    cJSON_Delete(o);
    assert_int_equal(series_recv(&b, &o), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(o, "value")), NB + 2);
    cJSON_Delete(o);
    th_tls_close(&a);
    th_tls_close(&b);
    /* the queue is free again */
    char path[400];
    series_path(path, sizeof path, 1, "max");
    assert_int_equal(admin("GET", path, NULL), 200);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/rawData?$top=5", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 5);
}

/* A client gone mid-query: its answer is dropped; the server goes on serving. */
static void test_client_gone(void **state)
{
    (void)state;
    struct th_tls t;
    series_send(&t, NB + 4, "avg");
    th_tls_close(&t);
    assert_int_equal(admin("GET", "/api/devices", NULL), 200);
    /* queued behind the abandoned one on the single reader thread, and right */
    char f[40], to[40], path[400];
    iso(T_FROM, f);
    iso(T_FROM + SPAN / NB, to);
    snprintf(path, sizeof path,
             "/api/devices/" DEV "/telemetry/temp/series?from=%s&to=%s&buckets=1&agg=max", f, to);
    assert_int_equal(admin("GET", path, NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 1);
    assert_int_equal((long)jnum(R.json, "value.0.count"), WANT[0].count);
    assert_true(fabs(jnum(R.json, "value.0.value") - WANT[0].max) < 1e-9);
}

/* SIGTERM while a query runs: the query is dropped, the exit clean (within th_central_stop's
 * 10 s), the connection closed without a series answer. */
static void test_stop_during_query(void **state)
{
    (void)state;
    struct th_tls t;
    cJSON *o;
    series_send(&t, NB + 5, "avg");
    assert_int_equal(th_central_stop(&srv), 0);
    assert_true(
        th_central_log_contains(&srv, "stopping the reader with 1 queries not answered", 100));
    assert_int_not_equal(series_recv(&t, &o), 200);
    assert_true(t.closed);
    cJSON_Delete(o);
    th_tls_close(&t);
}

static int teardown_reader(void **state)
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
    static const char *const args[] = {"--read-threads", "1", "--max-read-jobs", "2", "--log-level",
                                       "debug",          NULL};
    SRV_ARGS = args;
    T_FROM = (int64_t)time(NULL) * 1000 - 2 * SPAN;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_others_answered_first),
        cmocka_unit_test(test_full_queue_503),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_stop_during_query),
    };
    return cmocka_run_group_tests(tests, setup, teardown_reader);
}
