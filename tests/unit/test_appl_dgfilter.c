/*
 * test_appl_dgfilter.c - device group filters (src/central/app/appl_dgfilter.c): the SELECT form
 * of IoT Central's device groups API, with the documented example as a vector, its translation
 * to the device-list matcher, what is refused (the message names the refused part), limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "central/app/appl_dgfilter.h"

/* device1: enabled, provisioned, real, "Thermostat device1", template T1 */
static const struct devfilter_device dev1 = {
    .id = "device1",
    .display_name = "Thermostat device1",
    .template_id = "dtmi:modelDefinition:dtdlv2",
    .enabled = true,
    .provisioned = true,
    .simulated = false,
};

/* sensor-2: disabled, not provisioned, simulated, shown by its id, unassociated */
static const struct devfilter_device dev2 = {
    .id = "sensor-2",
    .display_name = "sensor-2",
    .template_id = NULL,
    .enabled = false,
    .provisioned = false,
    .simulated = true,
};

/* device3: like device1 but not provisioned yet */
static const struct devfilter_device dev3 = {
    .id = "device3",
    .display_name = "device3",
    .template_id = "dtmi:modelDefinition:dtdlv2",
    .enabled = true,
    .provisioned = false,
    .simulated = false,
};

struct vector {
    const char *filter;
    bool d1, d2, d3;
};

static const struct vector vectors[] = {
    /* the example of IoT Central's device groups REST how-to */
    {"SELECT * FROM devices WHERE $template = \"dtmi:modelDefinition:dtdlv2\" AND $provisioned = "
     "true",
     true, false, false},
    /* the rest of the subset */
    {"SELECT * FROM devices", true, true, true},
    {"select * from DEVICES where $TEMPLATE = \"dtmi:modelDefinition:dtdlv2\"", true, false, true},
    {"SELECT * FROM devices WHERE $template = 'dtmi:modelDefinition:dtdlv2'", true, false, true},
    {"SELECT * FROM devices WHERE $template != \"dtmi:modelDefinition:dtdlv2\"", false, true,
     false},
    {"SELECT * FROM devices WHERE $template <> \"dtmi:modelDefinition:dtdlv2\"", false, true,
     false},
    {"SELECT * FROM devices WHERE $template = null", false, true, false},
    {"SELECT * FROM devices WHERE $template != null", true, false, true},
    {"SELECT * FROM devices WHERE $provisioned = false", false, true, true},
    {"SELECT * FROM devices WHERE $simulated = true", false, true, false},
    {"SELECT * FROM devices WHERE $enabled = false", false, true, false},
    {"SELECT * FROM devices WHERE $id = \"sensor-2\" OR $id = \"device3\"", false, true, true},
    {"SELECT * FROM devices WHERE $displayName = \"Thermostat device1\"", true, false, false},
    {"SELECT * FROM devices WHERE $id = \"device1\" OR $id = \"device3\" AND $provisioned = true",
     true, false, false}, /* AND binds tighter */
    {"SELECT * FROM devices WHERE ($id = \"device1\" OR $id = \"device3\") AND $provisioned = "
     "false",
     false, false, true},
    {"SELECT*FROM devices WHERE($id=\"device1\")", true, false, false},
    {"SELECT * FROM devices WHERE $id = \"DEVICE1\"", false, false, false}, /* case-sensitive */
    {"SELECT * FROM devices WHERE $displayName = \"it\"\"s\"", false, false, false},
    {"SELECT * FROM devices WHERE $displayName = \"it's\"", false, false, false},
};

static void test_vectors(void **state)
{
    (void)state;
    static struct devfilter f;
    char err[256];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        if (dgfilter_parse(&f, v->filter, strlen(v->filter), err, sizeof err) != 0)
            fail_msg("'%s' refused: %s", v->filter, err);
        if (devfilter_match(&f, &dev1) != v->d1 || devfilter_match(&f, &dev2) != v->d2 ||
            devfilter_match(&f, &dev3) != v->d3)
            fail_msg("'%s': expected %d %d %d", v->filter, v->d1, v->d2, v->d3);
    }
}

/* Quotes inside literals: "" and '' stand for themselves, and a ' inside "..." survives the
 * translation into the OData text. */
static void test_quotes(void **state)
{
    (void)state;
    static struct devfilter f;
    char err[256];
    struct devfilter_device d = dev2;
    const char *const texts[] = {"SELECT * FROM devices WHERE $displayName = \"it's\"",
                                 "SELECT * FROM devices WHERE $displayName = 'it''s'"};
    d.display_name = "it's";
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(dgfilter_parse(&f, texts[i], strlen(texts[i]), err, sizeof err), 0);
        assert_true(devfilter_match(&f, &d));
        assert_false(devfilter_match(&f, &dev2));
    }
    const char *q = "SELECT * FROM devices WHERE $displayName = \"say \"\"hi\"\"\"";
    d.display_name = "say \"hi\"";
    assert_int_equal(dgfilter_parse(&f, q, strlen(q), err, sizeof err), 0);
    assert_true(devfilter_match(&f, &d));
}

struct refusal {
    const char *filter;
    const char *names; /* the message must contain this */
};

static const struct refusal refusals[] = {
    {"", "expected SELECT"},
    {"$template = \"x\"", "expected SELECT"},
    {"SELECT $id FROM devices", "only SELECT *"},
    {"SELECT * FROM dtmi:x:y;1", "only FROM devices"},
    {"SELECT * FROM devices WHERE", "at the end"},
    {"SELECT * FROM devices ORDER BY $id", "only WHERE"},
    {"SELECT * FROM devices WHERE $status = \"x\"", "unsupported field at position 29: '$status'"},
    {"SELECT * FROM devices WHERE temperature > 5", "expected a $field"},
    {"SELECT * FROM devices WHERE $id > \"a\"", "unsupported operator"},
    {"SELECT * FROM devices WHERE $id LIKE \"a%\"", "unsupported operator"},
    {"SELECT * FROM devices WHERE NOT $provisioned = true", "unsupported operator NOT"},
    {"SELECT * FROM devices WHERE $provisioned = \"true\"", "true or false"},
    {"SELECT * FROM devices WHERE $id = 3", "quoted string"},
    {"SELECT * FROM devices WHERE $id = null", "quoted string"},
    {"SELECT * FROM devices WHERE $id = \"open", "quoted string"},
    {"SELECT * FROM devices WHERE ($id = \"a\"", "expected ')'"},
    {"SELECT * FROM devices WHERE $id = \"a\")", "unexpected text"},
    {"SELECT * FROM devices WHERE $id = \"a\" AND", "at the end"},
    {"SELECT * FROM devices WHERE $id = \"a\" XOR $id = \"b\"", "unexpected text"},
    {"SELECT * FROM devices WHERE $id = \"a\" LIMIT 5", "unsupported clause"},
};

static void test_refused(void **state)
{
    (void)state;
    static struct devfilter f;
    char err[256];
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *r = &refusals[i];
        if (dgfilter_parse(&f, r->filter, strlen(r->filter), err, sizeof err) == 0)
            fail_msg("'%s' was accepted", r->filter);
        if (strstr(err, r->names) == NULL)
            fail_msg("'%s': message \"%s\" does not name \"%s\"", r->filter, err, r->names);
    }
}

static void test_limits(void **state)
{
    (void)state;
    static struct devfilter f;
    static char text[DGFILTER_MAX_TEXT * 2];
    char err[256];
    size_t len = (size_t)snprintf(text, sizeof text, "SELECT * FROM devices WHERE ");

    /* too many conditions: the matcher's limit, reported as such */
    for (int i = 0; i < DEVFILTER_MAX_NODES && len + 40 < DGFILTER_MAX_TEXT; i++)
        len +=
            (size_t)snprintf(text + len, sizeof text - len, "%s$id = \"d%d\"", i ? " OR " : "", i);
    assert_int_equal(dgfilter_parse(&f, text, len, err, sizeof err), -1);
    assert_non_null(strstr(err, "conditions"));

    /* deep nesting */
    len = (size_t)snprintf(text, sizeof text, "SELECT * FROM devices WHERE ");
    for (int i = 0; i < 40; i++)
        text[len++] = '(';
    len += (size_t)snprintf(text + len, sizeof text - len, "$id = \"a\"");
    for (int i = 0; i < 40; i++)
        text[len++] = ')';
    assert_int_equal(dgfilter_parse(&f, text, len, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested"));

    /* too long, and a NUL inside */
    memset(text, ' ', sizeof text);
    assert_int_equal(dgfilter_parse(&f, text, DGFILTER_MAX_TEXT + 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer"));
    const char nul[] = "SELECT * FROM devices\0 WHERE $id = \"a\"";
    assert_int_equal(dgfilter_parse(&f, nul, sizeof nul - 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));

    /* the text is not read past len */
    const char *q = "SELECT * FROM devices WHERE $id = \"device1\" garbage";
    assert_int_equal(dgfilter_parse(&f, q, strlen(q) - strlen(" garbage"), err, sizeof err), 0);
    assert_true(devfilter_match(&f, &dev1));
    assert_false(devfilter_match(&f, &dev3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
