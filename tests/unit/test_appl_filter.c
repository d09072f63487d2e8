/*
 * test_appl_filter.c - the device-list $filter / $orderby subset (src/central/app/appl_filter.c):
 * the examples of IoT Central's "manage devices with the REST API" page as test vectors, what is
 * refused (and that the message names the refused part), limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "central/app/appl_filter.h"

static const char *const orgs_redmond[] = {"redmond", "seattle"};

/* device1: enabled, provisioned, real, "Thermostat device1", template T1, in redmond */
static const struct devfilter_device dev1 = {
    .id = "device1",
    .display_name = "Thermostat device1",
    .template_id = "dtmi:contoso:Thermostat;1",
    .enabled = true,
    .provisioned = true,
    .simulated = false,
    .orgs = orgs_redmond,
    .n_orgs = 2,
};

/* sensor-2: disabled, not provisioned, simulated, no display name set (shown as its id),
 * unassociated, no organization */
static const struct devfilter_device dev2 = {
    .id = "sensor-2",
    .display_name = "sensor-2",
    .template_id = NULL,
    .enabled = false,
    .provisioned = false,
    .simulated = true,
};

struct vector {
    const char *filter;
    bool dev1, dev2;
};

static const struct vector vectors[] = {
    /* the operator tables of IoT Central's devices REST how-to */
    {"id eq 'device1' and scopes eq 'redmond'", true, false},
    {"Enabled ne true", false, true},
    {"indexof(displayName, 'device1') le -1", false, true},
    {"indexof(displayName, 'device1') lt 0", false, true},
    {"indexof(displayName, 'device1') ge 0", true, false},
    {"indexof(displayName, 'device1') gt 0", true, false},
    {"id eq 'device1' and enabled eq true", true, false},
    {"id eq 'device1' or simulated eq false", true, false},
    {"contains(displayName, 'thermostat')", false, false}, /* case-sensitive, as OData */
    {"contains(displayName, 'Thermostat')", true, false},
    {"template eq 'dtmi:contoso:Thermostat;1'", true, false},
    {"contains(displayName, 'device1') and template eq 'dtmi:contoso:Thermostat;1'", true, false},
    /* the rest of the subset */
    {"", true, true},
    {"   ", true, true},
    {"id eq 'DEVICE1'", false, false},
    {"id ne 'device1'", false, true},
    {"id lt 'e'", true, false},
    {"id le 'device1'", true, false},
    {"id gt 'device1'", false, true},
    {"id ge 'sensor-2'", false, true},
    {"template eq null", false, true},
    {"template ne null", true, false},
    {"template ne 'x'", true, true},
    {"template lt 'z'", true, false}, /* an absent template orders with nothing */
    {"displayName eq 'sensor-2'", false, true},
    {"provisioned eq false", false, true},
    {"simulated eq true", false, true},
    {"scopes ne 'redmond'", false, true},
    {"scopes eq 'seattle'", true, false},
    {"indexof(id, 'sor') eq 3", false, true},
    {"indexof(template, 'x') eq -1", true, true},
    {"contains(id, '-')", false, true},
    {"id eq 'device1' or id eq 'sensor-2' and enabled eq true", true,
     false}, /* and binds tighter */
    {"(id eq 'device1' or id eq 'sensor-2') and enabled eq false", false, true},
    {"((id eq 'device1'))", true, false},
    {"ID EQ 'device1' AND ENABLED EQ TRUE", true, false},
    {"displayName eq 'it''s'", false, false},
    {"id eq'device1'and(enabled eq true)", true, false},
};

static void test_vectors(void **state)
{
    (void)state;
    static struct devfilter f;
    char err[256];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        int rc = devfilter_parse(&f, v->filter, strlen(v->filter), err, sizeof err);
        if (rc != 0)
            fail_msg("'%s' refused: %s", v->filter, err);
        if (devfilter_match(&f, &dev1) != v->dev1 || devfilter_match(&f, &dev2) != v->dev2)
            fail_msg("'%s': expected dev1 %d dev2 %d", v->filter, v->dev1, v->dev2);
    }
}

static void test_quote_escape(void **state)
{
    (void)state;
    static struct devfilter f;
    char err[128];
    struct devfilter_device d = dev2;
    d.display_name = "it's";
    const char *q = "displayName eq 'it''s'";
    assert_int_equal(devfilter_parse(&f, q, strlen(q), err, sizeof err), 0);
    assert_true(devfilter_match(&f, &d));
    assert_false(devfilter_match(&f, &dev2));
}

struct refusal {
    const char *filter;
    const char *names; /* the message must contain this */
};

static const struct refusal refusals[] = {
    /* the how-to's typo: index() is no OData function */
    {"index(displayName, 'thermostat')", "'index'"},
    {"startswith(displayName, 'x')", "unsupported function"},
    {"status eq 'provisioned'", "unsupported field"},
    {"status eq 'x'", "position 1: 'status'"},
    {"id eq 'a' xor id eq 'b'", "'xor'"},
    {"not enabled eq true", "unsupported operator"},
    {"id has 'a'", "'has'"},
    {"enabled gt true", "eq or ne"},
    {"enabled eq 'yes'", "true or false"},
    {"id eq 3", "string"},
    {"id eq 'unterminated", "'unterminated"},
    {"(id eq 'a'", "expected ')'"},
    {"id eq 'a')", "unexpected text"},
    {"indexof(displayName, 'x')", "after indexof()"},
    {"indexof(displayName, 'x') eq 'a'", "integer"},
    {"indexof(enabled, 'x') eq 0", "string field"},
    {"contains(displayName)", "expected ','"},
    {"scopes lt 'a'", "eq or ne"},
    {"id eq 'a' and", "at the end"},
    {"id eq 'a' # x", "'#'"},
    {"id eq 1.5", "string"},
};

static void test_refused(void **state)
{
    (void)state;
    static struct devfilter f;
    char err[256];
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *r = &refusals[i];
        if (devfilter_parse(&f, r->filter, strlen(r->filter), err, sizeof err) == 0)
            fail_msg("'%s' was accepted", r->filter);
        if (strstr(err, r->names) == NULL)
            fail_msg("'%s': message \"%s\" does not name \"%s\"", r->filter, err, r->names);
    }
}

static void test_limits(void **state)
{
    (void)state;
    static struct devfilter f;
    static char text[DEVFILTER_MAX_TEXT * 2];
    char err[256];
    size_t len = 0;

    /* too many conditions */
    for (int i = 0; i < DEVFILTER_MAX_NODES && len + 40 < sizeof text; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%sid eq 'd%d'", i ? " or " : "", i);
    assert_int_equal(devfilter_parse(&f, text, len, err, sizeof err), -1);
    assert_non_null(strstr(err, "conditions"));

    /* deep nesting */
    len = 0;
    for (int i = 0; i < 40; i++)
        text[len++] = '(';
    len += (size_t)snprintf(text + len, sizeof text - len, "id eq 'a'");
    for (int i = 0; i < 40; i++)
        text[len++] = ')';
    assert_int_equal(devfilter_parse(&f, text, len, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested"));

    /* too long */
    memset(text, ' ', sizeof text);
    assert_int_equal(devfilter_parse(&f, text, DEVFILTER_MAX_TEXT + 1, err, sizeof err), -1);
    assert_int_equal(devfilter_parse(&f, text, DEVFILTER_MAX_TEXT, err, sizeof err), 0);
    assert_true(devfilter_match(&f, &dev1));

    /* the text is not read past len */
    const char *q = "id eq 'device1' garbage";
    assert_int_equal(devfilter_parse(&f, q, strlen("id eq 'device1'"), err, sizeof err), 0);
    assert_true(devfilter_match(&f, &dev1));
}

static void test_orderby(void **state)
{
    (void)state;
    bool desc = true;
    char err[256];
    const char *ok[] = {"displayName", "displayName asc", "  displayname  DESC ",
                        "displayName desc"};
    const bool want[] = {false, false, true, true};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(devorder_parse(ok[i], strlen(ok[i]), &desc, err, sizeof err), 0);
        assert_int_equal(desc, want[i]);
    }
    const char *bad[] = {"id", "displayName up", "displayName desc, id", ""};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(devorder_parse(bad[i], strlen(bad[i]), &desc, err, sizeof err), -1);
        assert_non_null(strstr(err, "only displayName"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors), cmocka_unit_test(test_quote_escape),
        cmocka_unit_test(test_refused), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_orderby),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
