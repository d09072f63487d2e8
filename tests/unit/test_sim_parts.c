/*
 * test_sim_parts.c - the pure pieces of iotc-sim: value expressions, telemetry bodies made from a
 * DTDL model (and their padding), and the latency histogram's percentiles.
 * The sim's sources are compiled into this test directly (they are not part of a library).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sim/expr.c"
#include "sim/hist.c"
#include "sim/payload.c"

/* ------------------------------------------------------------------ expressions */

struct expr_case {
    const char *text;
    double t, i, n;
    double want;
};

static void test_expr_values(void **state)
{
    (void)state;
    static const struct expr_case cases[] = {
        {"1+2*3", 0, 0, 0, 7},
        {"(1+2)*3", 0, 0, 0, 9},
        {"-(2^3)", 0, 0, 0, -8},
        {"2^3^2", 0, 0, 0, 512}, /* right-associative */
        {"10 % 4", 0, 0, 0, 2},
        {"7/2", 0, 0, 0, 3.5},
        {"sin(0) + cos(0)", 0, 0, 0, 1},
        {"t*2 + i - n", 1.5, 10, 4, 9},
        {"min(3, max(1, 2))", 0, 0, 0, 2},
        {"round(2.6) + floor(2.6) + ceil(2.1) + abs(-1)", 0, 0, 0, 9},
        {"  21 + 4*sin(t/30 + i)  ", 0, 0, 0, 21},
        {"sqrt(16) + exp(0) + log(1)", 0, 0, 0, 5},
        {"2*pi", 0, 0, 0, 2 * M_PI},
        {".5 + 1e2", 0, 0, 0, 100.5},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char err[128] = "";
        struct sim_expr *e = expr_parse(cases[k].text, err, sizeof err);
        if (e == NULL)
            fail_msg("%s: %s", cases[k].text, err);
        double v = expr_eval(e, cases[k].t, cases[k].i, cases[k].n);
        if (fabs(v - cases[k].want) > 1e-9)
            fail_msg("%s = %g, want %g", cases[k].text, v, cases[k].want);
        expr_free(e);
    }
}

static void test_expr_errors(void **state)
{
    (void)state;
    static const char *bad[] = {"",  "1+",     "foo(1)",  "sin 1", "(1",   "1 2",
                                "x", "min(1)", "rand(1)", "2**3",  "sin(", ")"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char err[128] = "";
        struct sim_expr *e = expr_parse(bad[k], err, sizeof err);
        if (e != NULL)
            fail_msg("\"%s\" parsed", bad[k]);
        assert_true(err[0] != '\0');
    }
}

static void test_expr_rand_range(void **state)
{
    (void)state;
    char err[64];
    struct sim_expr *e = expr_parse("rand()", err, sizeof err);
    assert_non_null(e);
    for (int k = 0; k < 1000; k++) {
        double v = expr_eval(e, 0, 0, 0);
        assert_true(v >= 0 && v < 1);
    }
    expr_free(e);
}

/* ------------------------------------------------------------------ payloads */

static cJSON *render(struct sim_payload *p, size_t g, size_t pad, size_t *len)
{
    static char buf[70000];
    *len = payload_render(p, g, 3, 12.5, 7, pad, buf, sizeof buf);
    assert_true(*len > 0);
    cJSON *j = cJSON_ParseWithLength(buf, *len);
    if (j == NULL)
        fail_msg("not JSON: %.*s", (int)*len, buf);
    return j;
}

static void test_payload_default_and_padding(void **state)
{
    (void)state;
    struct sim_payload *p = payload_new();
    size_t len;
    assert_non_null(p);
    payload_finish(p);
    assert_int_equal(payload_groups(p), 1);
    assert_string_equal(payload_group_component(p, 0), "");
    cJSON *j = render(p, 0, 0, &len);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "temperature")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "humidity")));
    cJSON_Delete(j);
    static const size_t sizes[] = {200, 1024, 65536};
    for (size_t k = 0; k < 3; k++) {
        j = render(p, 0, sizes[k], &len);
        assert_int_equal(len, sizes[k]);
        assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "_pad")));
        cJSON_Delete(j);
    }
    /* Smaller than the body: no padding, body unchanged. */
    j = render(p, 0, 5, &len);
    assert_null(cJSON_GetObjectItem(j, "_pad"));
    cJSON_Delete(j);
    payload_free(p);
}

static void test_payload_expressions(void **state)
{
    (void)state;
    struct sim_payload *p = payload_new();
    char err[128];
    size_t len;
    assert_int_equal(payload_add_expr(p, "pressure=1000 + i", err, sizeof err), 0);
    assert_int_equal(payload_add_expr(p, "count=n*2", err, sizeof err), 0);
    assert_int_equal(payload_add_expr(p, "count=n*3", err, sizeof err), 0); /* replaces */
    assert_int_not_equal(payload_add_expr(p, "nameonly", err, sizeof err), 0);
    assert_int_not_equal(payload_add_expr(p, "=1", err, sizeof err), 0);
    assert_int_not_equal(payload_add_expr(p, "x=1+", err, sizeof err), 0);
    payload_finish(p); /* expressions present: no default values added */
    cJSON *j = render(p, 0, 0, &len);
    assert_int_equal(cJSON_GetArraySize(j), 2);
    assert_true(cJSON_GetObjectItem(j, "pressure")->valuedouble == 1003);
    assert_true(cJSON_GetObjectItem(j, "count")->valuedouble == 21);
    cJSON_Delete(j);
    payload_free(p);
}

static const char *model_path(void)
{
    static const char path[] = "models/environmental-sensor.dtdlv2.json";
    return access(path, R_OK) == 0 ? path : NULL;
}

static void test_payload_from_model(void **state)
{
    (void)state;
    const char *path = model_path();
    if (path == NULL)
        skip();
    struct sim_payload *p = payload_new();
    char err[256] = "";
    size_t len;
    if (payload_load_model(p, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    payload_finish(p);
    assert_true(payload_groups(p) >= 1);
    /* Every telemetry capability of the model appears once, in its component's group. */
    size_t n_tel = 0, n_seen = 0;
    for (size_t k = 0; k < p->model->n_caps; k++)
        n_tel += p->model->caps[k].kind == DTDL_TELEMETRY;
    for (size_t g = 0; g < payload_groups(p); g++) {
        cJSON *j = render(p, g, 0, &len);
        const cJSON *m;
        cJSON_ArrayForEach(m, j)
        {
            const struct dtdl_capability *c =
                dtdl_find(p->model, payload_group_component(p, g), m->string);
            assert_non_null(c);
            assert_int_equal(c->kind, DTDL_TELEMETRY);
            assert_true(dtdl_check_value(c->schema, m, NULL, 0));
            n_seen++;
        }
        cJSON_Delete(j);
    }
    assert_int_equal(n_seen, n_tel);
    /* Read-only properties, if any, form a valid reported patch. */
    static char buf[8192];
    len = payload_reported(p, 1, 0, buf, sizeof buf);
    if (len > 0) {
        cJSON *j = cJSON_ParseWithLength(buf, len);
        assert_non_null(j);
        cJSON_Delete(j);
    }
    /* Unknown commands still get a JSON answer. */
    len = payload_method_response(p, "nope", 4, 0, 0, buf, sizeof buf);
    assert_true(len > 0);
    cJSON *j = cJSON_ParseWithLength(buf, len);
    assert_non_null(j);
    cJSON_Delete(j);
    payload_free(p);
}

static void test_payload_bad_model(void **state)
{
    (void)state;
    struct sim_payload *p = payload_new();
    char err[256] = "";
    assert_int_not_equal(payload_load_model(p, "no/such/file.json", err, sizeof err), 0);
    assert_true(err[0] != '\0');
    payload_free(p);
}

/* ------------------------------------------------------------------ histogram */

static void test_hist_percentiles(void **state)
{
    (void)state;
    static struct sim_hist h;
    memset(&h, 0, sizeof h);
    assert_int_equal(hist_percentile(&h, 50), 0);
    for (uint64_t v = 1; v <= 1000; v++)
        hist_add(&h, v * 1000); /* 1 ms .. 1 s */
    assert_int_equal(h.count, 1000);
    assert_int_equal(h.min, 1000);
    assert_int_equal(h.max, 1000000);
    double p50 = (double)hist_percentile(&h, 50), p99 = (double)hist_percentile(&h, 99);
    assert_true(fabs(p50 - 500000) / 500000 < 0.02);
    assert_true(fabs(p99 - 990000) / 990000 < 0.02);
    assert_int_equal(hist_percentile(&h, 100), 1000000);
    /* Small values are exact; huge ones land in the last bucket without overflow. */
    memset(&h, 0, sizeof h);
    hist_add(&h, 7);
    assert_int_equal(hist_percentile(&h, 50), 7);
    hist_add(&h, UINT64_MAX / 2);
    assert_int_equal(hist_percentile(&h, 100), UINT64_MAX / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expr_values),
        cmocka_unit_test(test_expr_errors),
        cmocka_unit_test(test_expr_rand_range),
        cmocka_unit_test(test_payload_default_and_padding),
        cmocka_unit_test(test_payload_expressions),
        cmocka_unit_test(test_payload_from_model),
        cmocka_unit_test(test_payload_bad_model),
        cmocka_unit_test(test_hist_percentiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
