/*
 * test_appl_query.c - the /api/query language subset (src/central/app/appl_query_lang.c): the
 * queries of IoT Central's query how-to that the subset covers, what it refuses (naming the
 * part), and WHERE matching on fixed rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "central/app/appl_query.h"

static struct aq_query q;

static void parse_ok(const char *text)
{
    char err[300];
    if (aq_parse(&q, text, strlen(text), err, sizeof err) != 0)
        fail_msg("'%s' refused: %s", text, err);
}

static void test_docs_examples(void **state)
{
    (void)state;
    parse_ok("SELECT $id, $ts, temperature, humidity FROM dtmi:azurertos:devkit:hlby5jgib2o "
             "WHERE WITHIN_WINDOW(P1D)");
    assert_int_equal(q.n_items, 4);
    assert_string_equal(q.from, "dtmi:azurertos:devkit:hlby5jgib2o");
    assert_true(q.has_window);
    assert_int_equal(q.window_ms, 86400000);
    assert_int_equal(q.n_refs, 2);
    assert_string_equal(q.items[2].label, "temperature");
    assert_int_equal(q.top, AQ_MAX_RESULTS);

    parse_ok("SELECT $id as ID, $ts as timestamp, temperature as t, pressure as p FROM "
             "dtmi:azurertos:devkit:hlby5jgib2o WHERE WITHIN_WINDOW(P1D) AND t > 0 AND p > 50");
    assert_string_equal(q.items[0].label, "ID");
    assert_string_equal(q.items[3].label, "p");

    parse_ok("SELECT TOP 10 $id as ID, $ts as timestamp, temperature, humidity FROM "
             "dtmi:azurertos:devkit:hlby5jgib2o");
    assert_int_equal(q.top, 10);
    assert_false(q.has_window);

    parse_ok("SELECT $id, $ts, temperature AS t, pressure AS p FROM dtmi:azurertos:devkit:x "
             "WHERE WITHIN_WINDOW(P1D) AND t > 0 AND p > 50 AND $id IN ['sample-002', "
             "'sample-003']");

    parse_ok("SELECT $id as ID, $ts as timestamp, temperature, humidity FROM "
             "dtmi:azurertos:devkit:hlby5jgib2o ORDER BY timestamp DESC");
    assert_true(q.has_order);
    assert_true(q.desc);
    assert_int_equal(q.order_kind, AQ_TS);

    parse_ok("SELECT deviceInformation.model, temp FROM dtmi:x;1 WHERE WITHIN_WINDOW(PT10M)");
    assert_string_equal(q.refs[0].component, "deviceInformation");
    assert_string_equal(q.refs[0].name, "model");
    assert_string_equal(q.refs[1].component, "");
    assert_int_equal(q.window_ms, 600000);

    /* the durations and the absolute range of the how-to's table */
    const struct {
        const char *d;
        int64_t ms;
    } dur[] = {{"PT10M", 600000},
               {"P1D", 86400000},
               {"P2DT12H", 2 * 86400000LL + 12 * 3600000LL},
               {"P1W", 7 * 86400000LL},
               {"PT5H", 5 * 3600000LL}};
    char text[200];
    for (size_t i = 0; i < sizeof dur / sizeof dur[0]; i++) {
        snprintf(text, sizeof text, "SELECT t FROM m WHERE WITHIN_WINDOW(%s)", dur[i].d);
        parse_ok(text);
        assert_int_equal(q.window_ms, dur[i].ms);
    }
    parse_ok("SELECT t FROM m WHERE WITHIN_WINDOW('2021-06-13T13:00:00Z/2021-06-13T15:30:00Z')");
    assert_true(q.window_absolute);
    assert_int_equal(q.to_ms - q.from_ms, 9000000);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text, *names;
    } bad[] = {
        {"SELECT AVG(temperature), AVG(pressure) FROM m WHERE WITHIN_WINDOW(P1D) GROUP BY "
         "WINDOW(PT10M)",
         "aggregation"},
        {"SELECT temperature FROM m WHERE WITHIN_WINDOW(P1D) GROUP BY x", "GROUP BY"},
        {"SELECT * FROM m", "wildcard"},
        {"SELECT $id FROM m", "telemetry value"},
        {"SELECT t FROM m WHERE WITHIN_WINDOW(P1X)", "ISO 8601"},
        {"SELECT t FROM m WHERE WITHIN_WINDOW(P1D) OR t > 1", "not under OR"},
        {"SELECT t FROM m WHERE (t > 1)", "parentheses"},
        {"SELECT t FROM m WHERE t ~ 1", "'~'"},
        {"SELECT t FROM m WHERE $ts > 1", "WITHIN_WINDOW"},
        {"SELECT t FROM m WHERE $color = 'x'", "'$color'"},
        {"SELECT t FROM", "template id"},
        {"SELECT t, $id AS t FROM m", "alias"},
        {"SELECT TOP 0 t FROM m", "TOP"},
        {"SELECT t FROM m ORDER BY", "expected $ts"},
        {"SELECT t FROM m WHERE $id IN [1]", "list of strings"},
        {"SELECT t FROM m WHERE $id = 3", "string"},
        {"SELECT t FROM m extra", "unexpected text"},
        {"DELETE FROM m", "SELECT"},
        {"SELECT a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p FROM x", "15"},
        {"SELECT t FROM m WHERE t>1 AND t>1 AND t>1 AND t>1 AND t>1 AND t>1 AND t>1 AND t>1 AND "
         "t>1 AND t>1 AND t>1 AND t>1",
         "10 logical"},
    };
    char err[300];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (aq_parse(&q, bad[i].text, strlen(bad[i].text), err, sizeof err) == 0)
            fail_msg("'%s' was accepted", bad[i].text);
        if (strstr(err, bad[i].names) == NULL)
            fail_msg("'%s': \"%s\" does not name \"%s\"", bad[i].text, err, bad[i].names);
    }
    char longer[AQ_TEXT_MAX + 20];
    memset(longer, ' ', sizeof longer);
    memcpy(longer, "SELECT t FROM m", 15);
    assert_int_equal(aq_parse(&q, longer, AQ_TEXT_MAX + 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "350"));
}

static void test_match(void **state)
{
    (void)state;
    cJSON *t = cJSON_CreateNumber(21.5), *p = cJSON_CreateNumber(40), *s = cJSON_CreateString("ok");
    struct aq_row row = {.device_id = "sample-002", .time_ms = 1000, .provisioned = true};
    const struct {
        const char *where;
        bool want;
    } cases[] = {
        {"t > 0 AND p > 50", false},
        {"t > 0 AND p >= 40", true},
        {"t > 30 OR p = 40", true},
        {"t <> 21.5", false},
        {"t != 21", true},
        {"$id IN ['sample-002', 'sample-003']", true},
        {"$id IN ['sample-001']", false},
        {"$id = 'sample-002' AND WITHIN_WINDOW(P1D)", true},
        {"$provisioned = true", true},
        {"$simulated != false", false},
        {"state = 'ok'", true},
        {"state = 1", false},
        {"state != 1", true},
        {"missing > 1", false},
        {"t > 0 OR t < 0 AND p > 100", true}, /* AND binds tighter */
    };
    char text[300], err[300];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text,
                 "SELECT temperature AS t, pressure AS p, state, missing FROM m WHERE %s",
                 cases[i].where);
        if (aq_parse(&q, text, strlen(text), err, sizeof err) != 0)
            fail_msg("'%s' refused: %s", cases[i].where, err);
        memset(row.values, 0, sizeof row.values);
        row.values[0] = t;
        row.values[1] = p;
        row.values[2] = s;
        if (aq_match(&q, &row) != cases[i].want)
            fail_msg("'%s': expected %d", cases[i].where, cases[i].want);
    }
    cJSON_Delete(t);
    cJSON_Delete(p);
    cJSON_Delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_examples),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
