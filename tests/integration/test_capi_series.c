/*
 * test_capi_series.c - iotc's own telemetry series endpoint
 * (GET /api/devices/{id}/telemetry/{name}/series, store_app_series()): 100 000 rows in the
 * server's telemetry table, aggregated into buckets by the server and checked against the same
 * aggregates computed here; rows of another device, another component, non-numbers and
 * non-JSON payloads left out; a message sent over MQTT counted; the errors in words.
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

#define ROWS 100000
#define NB 60
#define SPAN (3600 * 1000)

static int64_t T_FROM; /* the rows cover [T_FROM, T_FROM + SPAN) */

struct agg {
    long count;
    double sum, min, max;
};

static void iso(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Row i belongs to another device every 500 rows. */
static const char *row_device(long i)
{
    return i % 500 == 12 ? "other-device" : DEV;
}

/* Value of row i: spread over [-50, 50) with a fraction, so avg/min/max differ per bucket. */
static double row_value(long i)
{
    return (double)((i * 7919L) % 10007L) / 100.0 - 50.0;
}

static int insert_rows(int64_t from, int64_t span, struct agg want[NB])
{
    struct tfill f;
    if (tfill_begin(&f, srv.data_dir) != 0)
        return tfill_end(&f);
    for (long i = 0; f.rc == SQLITE_OK && i < ROWS; i++) {
        char payload[96];
        const char *dev = row_device(i), *comp = NULL;
        int64_t t = from + (int64_t)i * span / ROWS;
        double v = row_value(i);
        bool counted = strcmp(dev, DEV) == 0;
        if (i % 1000 == 7) {
            snprintf(payload, sizeof payload, "{\"temp\":\"%.2f\",\"humid\":1}", v); /* text */
            counted = false;
        } else if (i % 1000 == 8) {
            snprintf(payload, sizeof payload, "{\"temp\":%.2f", v); /* not JSON */
            counted = false;
        } else if (i % 1000 == 9) {
            snprintf(payload, sizeof payload, "{\"humid\":%.2f}", v); /* no temp */
            counted = false;
        } else {
            snprintf(payload, sizeof payload, "{\"temp\":%.2f,\"humid\":40}", v);
        }
        if (i % 500 == 11) {
            comp = "sensor1"; /* another component's temp */
            counted = false;
        }
        if (counted) {
            double pv = strtod(strchr(payload, ':') + 1, NULL);
            struct agg *a = &want[(t - from) * NB / span];
            if (a->count == 0 || pv < a->min)
                a->min = pv;
            if (a->count == 0 || pv > a->max)
                a->max = pv;
            a->sum += pv;
            a->count++;
        }
        tfill_add(&f, dev, t, comp, payload);
    }
    return tfill_end(&f);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void check_agg(const char *q, const char *agg, const struct agg want[NB], int64_t from,
                      int64_t span)
{
    char path[400];
    snprintf(path, sizeof path, "/api/devices/" DEV "/telemetry/temp/series?%s&agg=%s", q, agg);
    double t0 = mono_ms();
    assert_int_equal(admin("GET", path, NULL), 200);
    print_message("series of %d rows into %d buckets (%s): %.0f ms\n", ROWS, NB, agg,
                  mono_ms() - t0);
    assert_string_equal(capi_jstr(R.json, "agg"), agg);
    assert_int_equal((int)jnum(R.json, "buckets"), NB);
    const cJSON *arr = capi_jget(R.json, "value");
    assert_true(cJSON_IsArray(arr));
    int got = 0;
    long total = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        int64_t ts;
        assert_int_equal(appl_parse_time(capi_jstr(it, "timestamp"), &ts), 0);
        int64_t b = (ts - from) * NB / span;
        assert_true(b >= 0 && b < NB);
        const struct agg *a = &want[b];
        double v = jnum(it, "value");
        double expect = strcmp(agg, "min") == 0   ? a->min
                        : strcmp(agg, "max") == 0 ? a->max
                                                  : a->sum / (double)a->count;
        assert_int_equal((long)jnum(it, "count"), a->count);
        assert_true(fabs(v - expect) < 1e-6);
        total += a->count;
        got++;
    }
    long all = 0;
    int nonempty = 0;
    for (int b = 0; b < NB; b++) {
        all += want[b].count;
        nonempty += want[b].count > 0;
    }
    assert_int_equal(got, nonempty);
    assert_int_equal(total, all);
}

static void test_series_aggregates(void **state)
{
    (void)state;
    static struct agg want[NB];
    int64_t from = T_FROM, span = SPAN;
    char q[160], f[40], t[40];
    assert_int_equal(insert_rows(from, span, want), 0);
    iso(from, f);
    iso(from + span, t);
    snprintf(q, sizeof q, "from=%s&to=%s&buckets=%d", f, t, NB);
    check_agg(q, "avg", want, from, span);
    check_agg(q, "min", want, from, span);
    check_agg(q, "max", want, from, span);
}

/* Raw data newest first, page by page (order=desc, nextLink): every row once, in order. */
static void test_raw_pages_newest_first(void **state)
{
    (void)state;
    int64_t from = T_FROM, win = 90 * 1000;
    /* row i of the generator lands at from + i * SPAN / ROWS */
    long want = 0;
    for (long i = 0; i < ROWS && i * SPAN / ROWS < win; i++)
        want += strcmp(row_device(i), DEV) == 0;
    char f[40], t[40], path[600];
    iso(from, f);
    iso(from + win, t);
    snprintf(path, sizeof path, "/api/devices/" DEV "/rawData?from=%s&to=%s&$top=1000&order=desc",
             f, t);
    long got = 0;
    int pages = 0;
    int64_t prev = INT64_MAX;
    cJSON *seen = cJSON_CreateObject();
    for (;;) {
        assert_int_equal(admin("GET", path, NULL), 200);
        pages++;
        const cJSON *it;
        cJSON_ArrayForEach(it, capi_jget(R.json, "value"))
        {
            int64_t ts;
            const char *id = capi_jstr(it, "id");
            assert_non_null(id);
            assert_null(cJSON_GetObjectItemCaseSensitive(seen, id));
            cJSON_AddTrueToObject(seen, id);
            assert_int_equal(appl_parse_time(capi_jstr(it, "time"), &ts), 0);
            assert_true(ts <= prev);
            prev = ts;
            got++;
        }
        const char *next = capi_jstr(R.json, "nextLink");
        if (next == NULL)
            break;
        assert_non_null(strstr(next, "order=desc"));
        const char *p = strstr(next, "/api/");
        assert_non_null(p);
        snprintf(path, sizeof path, "%s", p);
        assert_true(pages < 10);
    }
    cJSON_Delete(seen);
    assert_int_equal(got, want);
    assert_int_equal(pages, (int)(want + 999) / 1000);
}

/* A message that came the ordinary way (MQTT, the store's writer) is in the series. */
static void test_series_live_message(void **state)
{
    (void)state;
    char path[300], f[40], t[40];
    int64_t now = (int64_t)time(NULL) * 1000;
    device_connect();
    telemetry("{\"temp\":1000.25,\"humid\":40}");
    iso(now - 120 * 1000, f);
    iso(now + 120 * 1000, t);
    snprintf(path, sizeof path,
             "/api/devices/" DEV "/telemetry/temp/series?from=%s&to=%s&buckets=1&agg=max", f, t);
    assert_int_equal(admin("GET", path, NULL), 200);
    const cJSON *arr = capi_jget(R.json, "value");
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    assert_true(fabs(jnum(cJSON_GetArrayItem(arr, 0), "value") - 1000.25) < 1e-9);
    /* without from/to: the past 30 minutes, to now */
    assert_int_equal(
        admin("GET", "/api/devices/" DEV "/telemetry/temp/series?buckets=3&agg=max", NULL), 200);
    int64_t a, b;
    assert_int_equal(appl_parse_time(capi_jstr(R.json, "from"), &a), 0);
    assert_int_equal(appl_parse_time(capi_jstr(R.json, "to"), &b), 0);
    assert_int_equal(b - a, 30 * 60 * 1000);
    device_close();
}

struct bad {
    const char *path;
    long status;
    const char *code;
};

static void test_series_errors(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"/api/devices/" DEV "/telemetry/temp/series?from=2026-01-02T00:00:00Z"
         "&to=2026-01-01T00:00:00Z",
         400, "InvalidParameter"},
        {"/api/devices/" DEV "/telemetry/temp/series?from=2026-01-01T00:00:00Z"
         "&to=2026-01-01T00:00:00Z",
         400, "InvalidParameter"},
        {"/api/devices/" DEV "/telemetry/temp/series?from=yesterday", 400, "InvalidParameter"},
        {"/api/devices/" DEV "/telemetry/temp/series?buckets=0", 400, "InvalidParameter"},
        {"/api/devices/" DEV "/telemetry/temp/series?buckets=5001", 400, "InvalidParameter"},
        {"/api/devices/" DEV "/telemetry/temp/series?buckets=12x", 400, "InvalidParameter"},
        {"/api/devices/" DEV "/telemetry/temp/series?agg=median", 400, "InvalidParameter"},
        {"/api/devices/" DEV "/telemetry/nosuch/series", 404, "TelemetryNotFound"},
        {"/api/devices/" DEV "/telemetry/state/series", 404, "TelemetryNotFound"},
        {"/api/devices/" DEV "/components/nosuch/telemetry/temp/series", 404, "TelemetryNotFound"},
        {"/api/devices/nosuch-device/telemetry/temp/series", 404, "DeviceNotFound"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long st = admin("GET", cases[i].path, NULL);
        if (st != cases[i].status || strcmp(R.error_code, cases[i].code) != 0)
            print_error("%s: %ld %s\n", cases[i].path, st, R.error_code);
        assert_int_equal(st, cases[i].status);
        assert_string_equal(R.error_code, cases[i].code);
        assert_non_null(capi_jstr(R.json, "error.message"));
    }
}

int main(void)
{
    T_FROM = (int64_t)time(NULL) * 1000 - SPAN;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_aggregates),
        cmocka_unit_test(test_raw_pages_newest_first),
        cmocka_unit_test(test_series_live_message),
        cmocka_unit_test(test_series_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
