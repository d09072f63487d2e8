/*
 * test_service_query.c - the IoT Hub query language subset of POST /devices/query
 * (src/central/service/service_query_lang.c): what compiles, what is refused, and what matches a
 * fixed service-view twin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "central/service/service_query.h"

static const char twin_text[] =
    "{\"deviceId\":\"d1\",\"status\":\"enabled\",\"connectionState\":\"Connected\","
    "\"tags\":{\"site\":\"lab\",\"floor\":3,\"ok\":true,\"none\":null,"
    "\"nested\":{\"a\":{\"b\":\"deep\"}},\"my-key\":\"dash\"},"
    "\"properties\":{\"desired\":{\"fan\":{\"speed\":3},\"$version\":4},"
    "\"reported\":{\"fw\":\"1.2.3\",\"temp\":21.5,\"$version\":7}}}";

struct match_case {
    const char *where; /* appended to "SELECT * FROM devices WHERE " */
    bool expect;
};

static const struct match_case match_cases[] = {
    {"deviceId = 'd1'", true},
    {"deviceId = 'D1'", false}, /* strings are case-sensitive */
    {"tags.site = \"lab\"", true},
    {"'lab' = tags.site", true}, /* literal on the left */
    {"tags.floor = 3", true},
    {"tags.floor >= 3", true},
    {"tags.floor < 3.5", true},
    {"tags.floor > 3", false},
    {"tags.floor != 4", true},
    {"tags.floor <> 3", false},
    {"tags.floor = -3", false},
    {"tags.floor = '3'", false}, /* different types never compare */
    {"properties.reported.temp > 21", true},
    {"properties.reported.temp <= 2.15e1", true},
    {"properties.desired.fan.speed = 3", true},
    {"properties.desired.$version = 4", true},
    {"properties.reported.fw < '1.3'", true},
    {"properties.reported.fw > '1.2.3'", false},
    {"'ab' < 'abc'", true},
    {"'ab' > 'abc'", false},
    {"tags.ok = true", true},
    {"tags.ok = false", false},
    {"tags.ok < true", false}, /* booleans only compare for (in)equality */
    {"tags.none = null", true},
    {"tags.missing = null", false}, /* undefined is not null */
    {"tags.missing != 'x'", false},
    {"NOT tags.missing = 'x'", true},
    {"tags.nested.a.b = 'deep'", true},
    {"tags.nested = 'deep'", false}, /* an object is not a scalar */
    {"tags.my-key = 'dash'", true},
    {"IS_DEFINED(tags.site)", true},
    {"IS_DEFINED(tags.nested.a)", true},
    {"is_defined(tags.other)", false},
    {"NOT IS_DEFINED(tags.other)", true},
    {"tags.site = 'lab' AND status = 'disabled'", false},
    {"tags.site = 'lab' and (status = 'disabled' or connectionState = 'Connected')", true},
    {"status = 'disabled' OR tags.site = 'lab' AND tags.floor = 4", false}, /* AND binds tighter */
    {"(status = 'disabled' OR tags.site = 'lab') AND tags.floor = 3", true},
    {"NOT (tags.site = 'x' OR tags.floor = 9)", true},
    {"NOT NOT tags.ok = true", true},
    {"3 = 3", true},
    {"  tags.site='lab'  ", true},
};

static cJSON *twin(void)
{
    cJSON *j = cJSON_Parse(twin_text);
    assert_non_null(j);
    return j;
}

static void test_match_table(void **state)
{
    (void)state;
    cJSON *t = twin();
    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        char text[512];
        struct service_query *q = NULL;
        const char *why = NULL;
        size_t at = 0;
        snprintf(text, sizeof text, "SELECT * FROM devices WHERE %s", match_cases[i].where);
        int rc = service_query_compile(text, &q, &why, &at);
        if (rc != CE_OK)
            fail_msg("compile failed for \"%s\": %s at %zu", text, why, at);
        if (service_query_match(q, t) != match_cases[i].expect)
            fail_msg("\"%s\": expected %s", match_cases[i].where,
                     match_cases[i].expect ? "match" : "no match");
        assert_null(service_query_count_alias(q));
        service_query_free(q);
    }
    cJSON_Delete(t);
}

static const char *const refused[] = {
    "",
    "SELECT",
    "DELETE FROM devices",
    "SELECT deviceId FROM devices",
    "SELECT * FROM devices.modules",
    "SELECT * FROM jobs",
    "SELECT * FROM devices WHERE",
    "SELECT * FROM devices WHERE tags.site = 'lab",
    "SELECT * FROM devices WHERE (tags.site = 'lab'",
    "SELECT * FROM devices WHERE tags.site == 'lab'",
    "SELECT * FROM devices WHERE tags.site 'lab'",
    "SELECT * FROM devices WHERE tags.site = 'lab' extra",
    "SELECT * FROM devices WHERE NOT",
    "SELECT * FROM devices WHERE tags.x = 1 AND",
    "SELECT * FROM devices WHERE 1abc = 1",
    "SELECT * FROM devices WHERE tags..x = 1",
    "SELECT * FROM devices WHERE tags.x. = 1",
    "SELECT * FROM devices WHERE IS_DEFINED(1)",
    "SELECT * FROM devices WHERE IS_DEFINED tags.x",
    "SELECT COUNT() FROM devices",
    "SELECT COUNT() AS 1x FROM devices",
    "SELECT COUNT(*) AS n FROM devices",
    "SELECT * FROM devices GROUP BY status",
};

static void test_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        struct service_query *q = (struct service_query *)&q; /* must be reset to NULL */
        const char *why = NULL;
        size_t at = 999;
        int rc = service_query_compile(refused[i], &q, &why, &at);
        if (rc != CE_INVALID)
            fail_msg("\"%s\" was accepted", refused[i]);
        assert_null(q);
        assert_non_null(why);
        assert_true(at <= strlen(refused[i]));
    }
}

static void test_error_position(void **state)
{
    (void)state;
    static const char text[] = "SELECT * FROM devices WHERE tags.site = 'lab' junk";
    struct service_query *q = NULL;
    const char *why = NULL;
    size_t at = 0;
    assert_int_equal(service_query_compile(text, &q, &why, &at), CE_INVALID);
    assert_string_equal(text + at, "junk");
}

static void test_limits(void **state)
{
    (void)state;
    char text[4096];
    struct service_query *q = NULL;
    const char *why = NULL;
    size_t at = 0, n;

    /* 40 comparisons joined by OR need 79 nodes: more than the compiler keeps. */
    n = (size_t)snprintf(text, sizeof text, "SELECT * FROM devices WHERE a = 1");
    for (int i = 0; i < 39; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, " OR a = 1");
    assert_int_equal(service_query_compile(text, &q, &why, &at), CE_INVALID);
    assert_null(q);

    /* Deep nesting is refused instead of recursing without bound. */
    n = (size_t)snprintf(text, sizeof text, "SELECT * FROM devices WHERE ");
    for (int i = 0; i < 200; i++)
        text[n++] = '(';
    snprintf(text + n, sizeof text - n, "a = 1");
    assert_int_equal(service_query_compile(text, &q, &why, &at), CE_INVALID);
    assert_null(q);

    /* Ten ANDed comparisons are fine. */
    n = (size_t)snprintf(text, sizeof text, "SELECT * FROM devices WHERE tags.floor = 3");
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, " AND tags.site = 'lab'");
    assert_int_equal(service_query_compile(text, &q, &why, &at), CE_OK);
    cJSON *t = twin();
    assert_true(service_query_match(q, t));
    cJSON_Delete(t);
    service_query_free(q);
}

static void test_select_all_and_count(void **state)
{
    (void)state;
    cJSON *t = twin();
    struct service_query *q = NULL;
    const char *why = NULL;
    size_t at = 0;

    assert_int_equal(service_query_compile("select * from DEVICES", &q, &why, &at), CE_OK);
    assert_true(service_query_match(q, t));
    assert_null(service_query_count_alias(q));
    service_query_free(q);

    assert_int_equal(service_query_compile("SELECT COUNT() AS numberOfDevices FROM devices "
                                           "WHERE status = 'enabled'",
                                           &q, &why, &at),
                     CE_OK);
    assert_string_equal(service_query_count_alias(q), "numberOfDevices");
    assert_true(service_query_match(q, t));
    service_query_free(q);
    service_query_free(NULL);
    cJSON_Delete(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),          cmocka_unit_test(test_refused),
        cmocka_unit_test(test_error_position),       cmocka_unit_test(test_limits),
        cmocka_unit_test(test_select_all_and_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
