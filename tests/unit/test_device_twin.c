/*
 * Twin reconciliation of the device client: which desired values to deliver after a (re)connect
 * and on a desired push, given what the reported section acknowledges and what this process
 * already delivered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <iotc/codec.h>

#include "device/twin_sync.h"

/* Records deliveries as "comp.name=value@version;" (comp empty at the root). */
struct rec {
    char out[1024];
    const char *components; /* comma-separated names the app declares as components */
    const char *seen;       /* "comp.name@v;" entries already delivered */
    int fail_at;            /* make the Nth delivery fail (1-based), 0 = never */
    int n;
};

static bool is_comp(void *ctx, struct iotc_span name)
{
    struct rec *r = ctx;
    char buf[64];
    snprintf(buf, sizeof(buf), ",%.*s,", (int)name.len, name.ptr);
    char list[256];
    snprintf(list, sizeof(list), ",%s,", r->components ? r->components : "");
    return strstr(list, buf) != NULL;
}

static uint64_t delivered(void *ctx, struct iotc_span comp, struct iotc_span name)
{
    struct rec *r = ctx;
    char key[128];
    const char *p;
    snprintf(key, sizeof(key), "%.*s.%.*s@", (int)comp.len, comp.ptr ? comp.ptr : "", (int)name.len,
             name.ptr);
    if (r->seen == NULL || (p = strstr(r->seen, key)) == NULL)
        return 0;
    return (uint64_t)strtoull(p + strlen(key), NULL, 10);
}

static int deliver(void *ctx, struct iotc_span comp, struct iotc_span name,
                   struct iotc_json_value v, uint64_t version)
{
    struct rec *r = ctx;
    size_t len = strlen(r->out);
    r->n++;
    if (r->fail_at == r->n)
        return IOTC_E_NOMEM;
    snprintf(r->out + len, sizeof(r->out) - len, "%.*s.%.*s=%.*s@%llu;", (int)comp.len,
             comp.ptr ? comp.ptr : "", (int)name.len, name.ptr, (int)v.raw.len, v.raw.ptr,
             (unsigned long long)version);
    return IOTC_OK;
}

struct row {
    const char *twin;
    const char *components;
    const char *seen;
    int rc;
    uint64_t version;
    const char *want;
    uint64_t processed; /* desired version this process already handled */
};

static const struct row rows[] = {
    /* Fresh device: everything desired is delivered at the document version. */
    {"{\"desired\":{\"name\":\"A\",\"brightness\":3,\"$version\":4},\"reported\":{\"$version\":1}}",
     NULL, NULL, IOTC_OK, 4, ".name=\"A\"@4;.brightness=3@4;", 0},
    /* Acked at the current version: nothing to do. */
    {"{\"desired\":{\"name\":\"A\",\"$version\":4},\"reported\":{\"name\":{\"value\":\"A\",\"ac\":"
     "200,\"av\":4},\"$version\":2}}",
     NULL, NULL, IOTC_OK, 4, "", 0},
    /* Changed while away: the ack is older than the desired version. */
    {"{\"desired\":{\"name\":\"B\",\"$version\":6},\"reported\":{\"name\":{\"value\":\"A\",\"ac\":"
     "200,\"av\":4}}}",
     NULL, NULL, IOTC_OK, 6, ".name=\"B\"@6;", 0},
    /* Per-property metadata: only the property whose own version moved is re-delivered. */
    {"{\"desired\":{\"name\":\"A\",\"brightness\":9,\"$version\":7,\"$metadata\":{\"$lastUpdated\":"
     "\"x\","
     "\"name\":{\"$lastUpdated\":\"x\",\"$lastUpdatedVersion\":4},\"brightness\":{\"$"
     "lastUpdatedVersion\":7}}},"
     "\"reported\":{\"name\":{\"value\":\"A\",\"ac\":200,\"av\":4},\"brightness\":{\"value\":2,"
     "\"ac\":200,\"av\":5}}}",
     NULL, NULL, IOTC_OK, 7, ".brightness=9@7;", 0},
    /* Already delivered by this process (e.g. a push seen before the GET answer). */
    {"{\"desired\":{\"name\":\"A\",\"brightness\":1,\"$version\":5}}", NULL, ".name@5;", IOTC_OK, 5,
     ".brightness=1@5;", 0},
    /* Components: marked with __t, or declared by the app; __t and $ members are skipped. */
    {"{\"desired\":{\"thermostat1\":{\"__t\":\"c\",\"targetTemperature\":50},\"sensor\":{"
     "\"interval\":2},\"$version\":3},"
     "\"reported\":{\"thermostat1\":{\"__t\":\"c\",\"targetTemperature\":{\"value\":40,\"ac\":200,"
     "\"av\":2}}}}",
     "sensor", NULL, IOTC_OK, 3, "thermostat1.targetTemperature=50@3;sensor.interval=2@3;", 0},
    /* An object that is not a component is a plain (object-typed) property. */
    {"{\"desired\":{\"config\":{\"a\":1},\"$version\":2}}", NULL, NULL, IOTC_OK, 2,
     ".config={\"a\":1}@2;", 0},
    /* No desired section at all. */
    {"{\"reported\":{\"x\":1}}", NULL, NULL, IOTC_OK, 0, "", 0},
    /* Reported ack that is not an object / has a bad av: treated as not acked. */
    {"{\"desired\":{\"a\":1,\"b\":2,\"$version\":3},\"reported\":{\"a\":5,\"b\":{\"av\":\"3\"}}}",
     NULL, NULL, IOTC_OK, 3, ".a=1@3;.b=2@3;", 0},
    /* Reconnect, same process: nothing changed since version 6 was handled; without metadata
     * the document version alone says so and nothing is re-delivered. */
    {"{\"desired\":{\"name\":\"B\",\"brightness\":2,\"$version\":6},\"reported\":{\"name\":{\"av\":"
     "5}}}",
     NULL, NULL, IOTC_OK, 6, "", 6},
    /* ... but a newer document is reconciled as usual. */
    {"{\"desired\":{\"name\":\"C\",\"$version\":7},\"reported\":{\"name\":{\"av\":5}}}", NULL, NULL,
     IOTC_OK, 7, ".name=\"C\"@7;", 6},
    /* Malformed inputs. */
    {"", NULL, NULL, IOTC_E_MALFORMED, 0, "", 0},
    {"[1,2]", NULL, NULL, IOTC_E_MALFORMED, 0, "", 0},
    {"{\"desired\":5}", NULL, NULL, IOTC_E_MALFORMED, 0, "", 0},
    {"{\"desired\":{\"$version\":-1}}", NULL, NULL, IOTC_E_MALFORMED, 0, "", 0},
    {"{\"desired\":{\"$version\":\"7\"}}", NULL, NULL, IOTC_E_MALFORMED, 0, "", 0},
    {"{\"desired\":{\"a\":1,\"$version\":2}", NULL, NULL, IOTC_E_MALFORMED, 0, "", 0},
};

static void test_reconcile_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct rec rec = {.components = r->components, .seen = r->seen};
        struct iotc__twin_ops ops = {is_comp, delivered, deliver, &rec};
        uint64_t v = 99;
        int rc = iotc__twin_reconcile(iotc_span_from_cstr(r->twin), &ops, r->processed, &v);
        if (rc != r->rc)
            fail_msg("row %zu: rc %d want %d", i, rc, r->rc);
        if (strcmp(rec.out, r->want) != 0)
            fail_msg("row %zu: delivered '%s' want '%s'", i, rec.out, r->want);
        if (rc == IOTC_OK && v != r->version)
            fail_msg("row %zu: version %llu want %llu", i, (unsigned long long)v,
                     (unsigned long long)r->version);
    }
}

static void test_patch(void **state)
{
    (void)state;
    struct rec rec = {0};
    struct iotc__twin_ops ops = {is_comp, delivered, deliver, &rec};

    assert_int_equal(
        iotc__twin_desired_patch(IOTC_SPAN_LIT("{\"brightness\":4,\"route\":null,\"$version\":8}"),
                                 8, &ops),
        IOTC_OK);
    assert_string_equal(rec.out, ".brightness=4@8;.route=null@8;");

    /* A push already covered (delivered at >= its version) is skipped. */
    struct rec rec2 = {.seen = ".brightness@8;"};
    struct iotc__twin_ops ops2 = {is_comp, delivered, deliver, &rec2};
    assert_int_equal(
        iotc__twin_desired_patch(IOTC_SPAN_LIT("{\"brightness\":4,\"$version\":8}"), 8, &ops2),
        IOTC_OK);
    assert_string_equal(rec2.out, "");

    /* Component push as the PY tutorial helper expects it (component first, $version last). */
    struct rec rec3 = {0};
    struct iotc__twin_ops ops3 = {NULL, NULL, deliver, &rec3};
    assert_int_equal(
        iotc__twin_desired_patch(
            IOTC_SPAN_LIT(
                "{\"thermostat1\":{\"targetTemperature\":50,\"__t\":\"c\"},\"$version\":2}"),
            2, &ops3),
        IOTC_OK);
    assert_string_equal(rec3.out, "thermostat1.targetTemperature=50@2;");

    assert_int_equal(iotc__twin_desired_patch(IOTC_SPAN_LIT("not json"), 1, &ops3),
                     IOTC_E_MALFORMED);
    assert_int_equal(iotc__twin_desired_patch(IOTC_SPAN_LIT("[]"), 1, &ops3), IOTC_E_MALFORMED);
}

static void test_deliver_error_stops(void **state)
{
    (void)state;
    struct rec rec = {.fail_at = 2};
    struct iotc__twin_ops ops = {NULL, NULL, deliver, &rec};
    assert_int_equal(
        iotc__twin_reconcile(
            IOTC_SPAN_LIT("{\"desired\":{\"a\":1,\"b\":2,\"c\":3,\"$version\":1}}"), &ops, 0, NULL),
        IOTC_E_NOMEM);
    assert_string_equal(rec.out, ".a=1@1;");
}

static void test_acked_version(void **state)
{
    (void)state;
    struct iotc_json_value rep;
    assert_int_equal(
        iotc_json_parse(IOTC_SPAN_LIT("{\"n\":{\"av\":12},\"c\":{\"__t\":\"c\",\"p\":{\"av\":3}}}"),
                        &rep),
        IOTC_OK);
    assert_int_equal(iotc__twin_acked_version(rep, IOTC_SPAN_NULL, IOTC_SPAN_LIT("n")), 12);
    assert_int_equal(iotc__twin_acked_version(rep, IOTC_SPAN_LIT("c"), IOTC_SPAN_LIT("p")), 3);
    assert_int_equal(iotc__twin_acked_version(rep, IOTC_SPAN_LIT("x"), IOTC_SPAN_LIT("p")), 0);
    assert_int_equal(iotc__twin_acked_version(rep, IOTC_SPAN_NULL, IOTC_SPAN_LIT("p")), 0);
    struct iotc_json_value none = {IOTC_JSON_NONE, {NULL, 0}};
    assert_int_equal(iotc__twin_acked_version(none, IOTC_SPAN_NULL, IOTC_SPAN_LIT("n")), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconcile_table),
        cmocka_unit_test(test_patch),
        cmocka_unit_test(test_deliver_error_stops),
        cmocka_unit_test(test_acked_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
