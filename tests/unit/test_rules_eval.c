/*
 * test_rules_eval.c - rules' pure part (src/central/export/rules_eval.c): definition checks
 * naming the field, durations, and the evaluator: fire once, clear, no re-firing, tumbling and
 * sliding windows of every aggregation, ticks without values, a state restored as fired.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "central/export/rules_eval.h"

#define MIN_MS 60000LL

static struct rule_cond cond(enum rule_op op, double value, enum rule_agg agg, int64_t w,
                             enum rule_window kind)
{
    struct rule_cond c;
    memset(&c, 0, sizeof c);
    snprintf(c.telemetry, sizeof c.telemetry, "temperature");
    c.op = op;
    c.value = value;
    c.agg = agg;
    c.window_ms = w;
    c.window = kind;
    return c;
}

static void test_duration(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms; /* -1: refused */
    } v[] = {
        {"PT5M", 300000},
        {"PT30S", 30000},
        {"PT1H", 3600000},
        {"P1D", 86400000},
        {"P1DT2H", 93600000},
        {"PT1M30S", 90000},
        {"PT", -1},
        {"P", -1},
        {"5M", -1},
        {"PT5", -1},
        {"P5M", -1} /* months */,
        {"PTM", -1},
        {"", -1},
        {"PT1H1H", 7200000},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int64_t ms = 0;
        int rc = rules_duration_parse(v[i].s, &ms);
        if (v[i].ms < 0) {
            assert_int_equal(rc, -1);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(ms, v[i].ms);
        }
    }
}

static void test_check(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *err; /* NULL: accepted; else a prefix of the message */
    } v[] = {
        {"{\"displayName\":\"Hot\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"temperature\",\"operator\":\">\",\"value\":30}}",
         NULL},
        {"{\"displayName\":\"Hot\",\"scope\":{\"template\":\"dtmi:a:b;1\"},\"condition\":{"
         "\"telemetry\":\"t\",\"operator\":\"<=\",\"value\":1,\"aggregation\":\"avg\",\"window\":"
         "\"PT5M\",\"windowType\":\"sliding\"},\"actions\":[{\"type\":\"alert\"},{\"type\":"
         "\"webhook\",\"url\":\"http://127.0.0.1:9/x\"}]}",
         NULL},
        {"[]", "$: "},
        {"{\"scope\":{\"deviceGroup\":\"g\"}}", "$.displayName:"},
        {"{\"displayName\":\"a\",\"bogus\":1}", "$.bogus:"},
        {"{\"displayName\":\"a\",\"enabled\":1}", "$.enabled:"},
        {"{\"displayName\":\"a\"}", "$.scope:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\",\"template\":\"t\"}}",
         "$.scope:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":5}}", "$.scope.deviceGroup:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"}}", "$.condition:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"1x\",\"operator\":\">\",\"value\":1}}",
         "$.condition.telemetry:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\"=>\",\"value\":1}}",
         "$.condition.operator:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":\"1\"}}",
         "$.condition.value:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":1,\"aggregation\":\"median\",\"window\":\"PT1M\"}}",
         "$.condition.aggregation:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":1,\"aggregation\":\"avg\"}}",
         "$.condition.window:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":1,\"aggregation\":\"avg\",\"window\":\"PT0S\"}}",
         "$.condition.window:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":1,\"window\":\"PT1M\"}}",
         "$.condition.window:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":1,\"aggregation\":\"sum\",\"window\":\"PT1M\","
         "\"windowType\":\"hopping\"}}",
         "$.condition.windowType:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":1},\"actions\":[{\"type\":\"email\"}]}",
         "$.actions[0].type:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":1},\"actions\":[{\"type\":\"alert\"},{\"type\":"
         "\"webhook\",\"url\":\"ftp://x\"}]}",
         "$.actions[1].url:"},
        {"{\"displayName\":\"a\",\"scope\":{\"deviceGroup\":\"g\"},\"condition\":{\"telemetry\":"
         "\"t\",\"operator\":\">\",\"value\":1},\"actions\":{}}",
         "$.actions:"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        cJSON *b = cJSON_Parse(v[i].body);
        assert_non_null(b);
        struct rule_def d;
        char err[300] = "";
        int rc = rules_check(b, &d, err, sizeof err);
        if (v[i].err == NULL) {
            if (rc != 0)
                fail_msg("case %zu refused: %s", i, err);
        } else {
            assert_int_equal(rc, -1);
            if (strncmp(err, v[i].err, strlen(v[i].err)) != 0)
                fail_msg("case %zu: '%s' does not start with '%s'", i, err, v[i].err);
        }
        cJSON_Delete(b);
    }
    /* the accepted ones, as parsed */
    cJSON *b = cJSON_Parse(v[1].body);
    struct rule_def d;
    char err[300];
    assert_int_equal(rules_check(b, &d, err, sizeof err), 0);
    assert_false(d.scope_group);
    assert_string_equal(d.scope, "dtmi:a:b;1");
    assert_int_equal(d.cond.op, RULE_OP_LE);
    assert_int_equal(d.cond.agg, RULE_AGG_AVG);
    assert_int_equal(d.cond.window, RULE_WIN_SLIDING);
    assert_int_equal(d.cond.window_ms, 5 * MIN_MS);
    assert_true(d.alert);
    assert_true(d.enabled);
    assert_int_equal(d.n_webhooks, 1);
    cJSON_Delete(b);
    b = cJSON_Parse(v[0].body);
    assert_int_equal(rules_check(b, &d, err, sizeof err), 0);
    assert_true(d.alert); /* no actions: an alert */
    assert_int_equal(d.n_webhooks, 0);
    assert_int_equal(d.cond.agg, RULE_AGG_NONE);
    cJSON_Delete(b);
}

static void test_compare(void **state)
{
    (void)state;
    static const struct {
        enum rule_op op;
        double v;
        bool lt, eq, gt; /* value 10 against 9, 10, 11 */
    } t[] = {
        {RULE_OP_LT, 10, true, false, false}, {RULE_OP_LE, 10, true, true, false},
        {RULE_OP_GT, 10, false, false, true}, {RULE_OP_GE, 10, false, true, true},
        {RULE_OP_EQ, 10, false, true, false}, {RULE_OP_NE, 10, true, false, true},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct rule_cond c = cond(t[i].op, t[i].v, RULE_AGG_NONE, 0, RULE_WIN_TUMBLING);
        assert_int_equal(rules_compare(&c, 9), t[i].lt);
        assert_int_equal(rules_compare(&c, 10), t[i].eq);
        assert_int_equal(rules_compare(&c, 11), t[i].gt);
    }
}

/* No aggregation: fires once when crossing, stays quiet while above, clears when below. */
static void test_fire_once_and_clear(void **state)
{
    (void)state;
    struct rule_cond c = cond(RULE_OP_GT, 30, RULE_AGG_NONE, 0, RULE_WIN_TUMBLING);
    struct rule_state s;
    rules_state_init(&s, false, 0, NULL, 0);
    static const struct {
        double v;
        enum rule_change want;
    } seq[] = {
        {20, RULE_SAME}, {25, RULE_SAME},    {31, RULE_FIRED},
        {40, RULE_SAME}, {35, RULE_SAME},    {30, RULE_CLEARED},
        {10, RULE_SAME}, {30.5, RULE_FIRED}, {29, RULE_CLEARED},
    };
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        assert_int_equal(rules_on_value(&c, &s, 1000 + (int64_t)i, seq[i].v), seq[i].want);
        assert_true(s.has_value);
        assert_true(s.value == seq[i].v);
    }
    assert_false(s.fired);
    assert_int_equal(s.changed_ms, 1008);
    /* a NaN is no value */
    assert_int_equal(rules_on_value(&c, &s, 2000, 0.0 / 0.0), RULE_SAME);
    /* without aggregation there is nothing to tick */
    assert_int_equal(rules_tick(&c, &s, 1000000), RULE_SAME);
    assert_true(rules_next_tick(&c, &s) == INT64_MAX);
}

/* A state restored as fired (a restart) does not fire again for a value still above. */
static void test_restored_state(void **state)
{
    (void)state;
    struct rule_cond c = cond(RULE_OP_GT, 30, RULE_AGG_NONE, 0, RULE_WIN_TUMBLING);
    struct rule_state s;
    rules_state_init(&s, true, 500, NULL, 0);
    assert_int_equal(rules_on_value(&c, &s, 1000, 35), RULE_SAME);
    assert_int_equal(s.changed_ms, 500);
    assert_int_equal(rules_on_value(&c, &s, 1001, 20), RULE_CLEARED);
}

/* Tumbling average over 5 minutes: evaluated when the window closes, by a later value or by a
 * tick; windows are aligned to the epoch. */
static void test_tumbling_avg(void **state)
{
    (void)state;
    struct rule_cond c = cond(RULE_OP_GT, 30, RULE_AGG_AVG, 5 * MIN_MS, RULE_WIN_TUMBLING);
    struct rule_state s;
    rules_state_init(&s, false, 0, NULL, 0);
    int64_t t0 = 100 * 5 * MIN_MS; /* a window start */
    /* window 1: 20, 50 -> avg 35: fires when window 2 begins, not before */
    assert_int_equal(rules_on_value(&c, &s, t0 + 1000, 20), RULE_SAME);
    assert_int_equal(rules_on_value(&c, &s, t0 + 2 * MIN_MS, 50), RULE_SAME);
    assert_true(rules_next_tick(&c, &s) == t0 + 5 * MIN_MS);
    assert_int_equal(rules_tick(&c, &s, t0 + 5 * MIN_MS - 1), RULE_SAME);
    assert_int_equal(rules_on_value(&c, &s, t0 + 5 * MIN_MS, 10), RULE_FIRED);
    assert_true(s.value == 35);
    assert_int_equal(s.changed_ms, t0 + 5 * MIN_MS);
    /* window 2: 10, 40 -> 25: clears at the tick after its end */
    assert_int_equal(rules_on_value(&c, &s, t0 + 6 * MIN_MS, 40), RULE_SAME);
    assert_int_equal(rules_tick(&c, &s, t0 + 10 * MIN_MS + 5), RULE_CLEARED);
    assert_true(s.value == 25);
    /* window 3 is empty: an average of nothing changes nothing */
    assert_int_equal(rules_tick(&c, &s, t0 + 15 * MIN_MS), RULE_SAME);
    assert_false(s.fired);
}

static void test_tumbling_aggregations(void **state)
{
    (void)state;
    static const struct {
        enum rule_agg agg;
        enum rule_op op;
        double threshold, expect;
    } t[] = {
        {RULE_AGG_MIN, RULE_OP_LT, 5, 2},     {RULE_AGG_MAX, RULE_OP_GE, 9, 9},
        {RULE_AGG_SUM, RULE_OP_GT, 15, 18},   {RULE_AGG_COUNT, RULE_OP_EQ, 4, 4},
        {RULE_AGG_AVG, RULE_OP_EQ, 4.5, 4.5},
    };
    static const double values[] = {5, 2, 9, 2};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct rule_cond c = cond(t[i].op, t[i].threshold, t[i].agg, MIN_MS, RULE_WIN_TUMBLING);
        struct rule_state s;
        rules_state_init(&s, false, 0, NULL, 0);
        for (size_t k = 0; k < 4; k++)
            assert_int_equal(rules_on_value(&c, &s, (int64_t)k * 1000, values[k]), RULE_SAME);
        assert_int_equal(rules_tick(&c, &s, MIN_MS), RULE_FIRED);
        assert_true(s.value == t[i].expect);
    }
}

/* count < 1 over a minute: a device that goes silent fires at the end of an empty window. */
static void test_tumbling_count_silence(void **state)
{
    (void)state;
    struct rule_cond c = cond(RULE_OP_LT, 1, RULE_AGG_COUNT, MIN_MS, RULE_WIN_TUMBLING);
    struct rule_state s;
    rules_state_init(&s, false, 0, NULL, 0);
    assert_int_equal(rules_on_value(&c, &s, 10, 1), RULE_SAME);
    assert_int_equal(rules_tick(&c, &s, MIN_MS), RULE_SAME); /* count 1 */
    assert_int_equal(rules_tick(&c, &s, MIN_MS + 10), RULE_SAME);
    assert_int_equal(rules_tick(&c, &s, 2 * MIN_MS), RULE_FIRED); /* count 0 */
    assert_int_equal(rules_tick(&c, &s, 3 * MIN_MS), RULE_SAME);  /* still 0: no re-fire */
    assert_int_equal(rules_on_value(&c, &s, 3 * MIN_MS + 5, 1), RULE_SAME);
    assert_int_equal(rules_tick(&c, &s, 4 * MIN_MS), RULE_CLEARED);
}

/* Sliding max over one minute: evaluated at every value over (t - 1 min, t]; values leave. */
static void test_sliding_max(void **state)
{
    (void)state;
    struct rule_sample ring[8];
    struct rule_cond c = cond(RULE_OP_GT, 30, RULE_AGG_MAX, MIN_MS, RULE_WIN_SLIDING);
    struct rule_state s;
    rules_state_init(&s, false, 0, ring, 8);
    assert_int_equal(rules_on_value(&c, &s, 0, 20), RULE_SAME);
    assert_int_equal(rules_on_value(&c, &s, 10000, 35), RULE_FIRED);
    assert_int_equal(rules_on_value(&c, &s, 20000, 10), RULE_SAME); /* 35 still inside */
    assert_true(rules_next_tick(&c, &s) == MIN_MS);                 /* when 20 leaves */
    assert_int_equal(rules_on_value(&c, &s, 69999, 10), RULE_SAME);
    assert_int_equal(rules_on_value(&c, &s, 70000, 10), RULE_CLEARED); /* 35 left at 70000 */
    assert_true(s.value == 10);
    /* a tick drops values and re-evaluates what is left */
    assert_int_equal(rules_on_value(&c, &s, 80000, 50), RULE_FIRED);
    assert_int_equal(rules_on_value(&c, &s, 85000, 5), RULE_SAME);
    assert_int_equal(rules_tick(&c, &s, 140000), RULE_CLEARED); /* 50 left, 5 is the max */
    assert_int_equal(s.len, 1);
    /* an empty window leaves max alone */
    assert_int_equal(rules_on_value(&c, &s, 150000, 99), RULE_FIRED);
    assert_int_equal(rules_tick(&c, &s, 500000), RULE_SAME);
    assert_int_equal(s.len, 0);
    assert_true(s.fired);
}

/* Sliding average, and a full ring: the oldest value leaves early. */
static void test_sliding_avg_full_ring(void **state)
{
    (void)state;
    struct rule_sample ring[3];
    struct rule_cond c = cond(RULE_OP_GE, 20, RULE_AGG_AVG, MIN_MS, RULE_WIN_SLIDING);
    struct rule_state s;
    rules_state_init(&s, false, 0, ring, 3);
    assert_int_equal(rules_on_value(&c, &s, 1, 30), RULE_FIRED);  /* 30 */
    assert_int_equal(rules_on_value(&c, &s, 2, 0), RULE_CLEARED); /* 15 */
    assert_int_equal(rules_on_value(&c, &s, 3, 30), RULE_FIRED);  /* 20 */
    assert_int_equal(rules_on_value(&c, &s, 4, 30), RULE_SAME);   /* 30 dropped: 20 */
    assert_true(s.value == 20);
    assert_int_equal(rules_on_value(&c, &s, 5, 60), RULE_SAME); /* 0 dropped: 40 */
    assert_true(s.value == 40);
    assert_int_equal(s.len, 3);
}

/* Sliding count over a minute going to zero counts as 0 (fires "count < 1"). */
static void test_sliding_count_empty(void **state)
{
    (void)state;
    struct rule_sample ring[4];
    struct rule_cond c = cond(RULE_OP_LT, 1, RULE_AGG_COUNT, MIN_MS, RULE_WIN_SLIDING);
    struct rule_state s;
    rules_state_init(&s, false, 0, ring, 4);
    assert_int_equal(rules_on_value(&c, &s, 1000, 7), RULE_SAME);
    assert_int_equal(rules_tick(&c, &s, 30000), RULE_SAME);
    assert_int_equal(rules_tick(&c, &s, 61000), RULE_FIRED);
    assert_true(rules_next_tick(&c, &s) == INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_fire_once_and_clear),
        cmocka_unit_test(test_restored_state),
        cmocka_unit_test(test_tumbling_avg),
        cmocka_unit_test(test_tumbling_aggregations),
        cmocka_unit_test(test_tumbling_count_silence),
        cmocka_unit_test(test_sliding_max),
        cmocka_unit_test(test_sliding_avg_full_ring),
        cmocka_unit_test(test_sliding_count_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
