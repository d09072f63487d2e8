/*
 * test_appl.c - the application layer's pure parts: time parsing, closest-name suggestions,
 * modeled/unmodeled classification, the properties view with its sync states, and the
 * validation of property writes. No server: models come from dtdl_import, twins are built here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "central/app/appl.h"
#include "central/base/events.h"

static const char MODEL[] =
    "{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:t:env;1\",\"@type\":\"Interface\","
    "\"contents\":["
    "{\"@type\":\"Telemetry\",\"name\":\"temp\",\"schema\":\"double\"},"
    "{\"@type\":\"Telemetry\",\"name\":\"humid\",\"schema\":\"double\"},"
    "{\"@type\":\"Property\",\"name\":\"state\",\"schema\":\"boolean\"},"
    "{\"@type\":\"Property\",\"name\":\"name\",\"schema\":\"string\",\"writable\":true},"
    "{\"@type\":\"Property\",\"name\":\"brightness\",\"schema\":\"long\",\"writable\":true},"
    "{\"@type\":\"Command\",\"name\":\"rundiagnostics\"},"
    "{\"@type\":\"Component\",\"name\":\"sensor\",\"schema\":{\"@type\":\"Interface\","
    "\"contents\":[{\"@type\":\"Property\",\"name\":\"level\",\"schema\":\"long\",\"writable\":"
    "true},"
    "{\"@type\":\"Telemetry\",\"name\":\"temp\",\"schema\":\"double\"}]}}]}";

static struct dtdl_model *model(void)
{
    struct dtdl_model *m = NULL;
    struct dtdl_error err;
    assert_int_equal(dtdl_import(MODEL, strlen(MODEL), &m, &err), 0);
    return m;
}

static void test_parse_time(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        int64_t ms;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"1970-01-01T00:00:01.5Z", 0, 1500},
        {"1970-01-01T00:00:00.123456Z", 0, 123},
        {"2026-11-26T08:00:00Z", 0, 1795680000000},
        {"2026-11-26T09:00:00+01:00", 0, 1795680000000},
        {"2026-11-26T07:30:00-00:30", 0, 1795680000000},
        {"2026-11-26", 0, 1795651200000},
        {"2026-11-26T08:00Z", 0, 1795680000000},
        {"yesterday", CE_INVALID, 0},
        {"2026CE_INVALID3-01T00:00:00Z", CE_INVALID, 0},
        {"2026-11-26T08:00:00", 0, 1795680000000},
        {"2026CE_INVALID1-26T08:00:00Zjunk", CE_INVALID, 0},
        {"2026CE_INVALID1-26T08:00:00.Z", CE_INVALID, 0},
        {"", CE_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -7;
        int rc = appl_parse_time(cases[i].in, &ms);
        if (rc != cases[i].rc || (rc == 0 && ms != cases[i].ms))
            fail_msg("%s: rc %d ms %lld", cases[i].in, rc, (long long)ms);
    }
}

static void test_closest_name(void **state)
{
    (void)state;
    struct dtdl_model *m = model();
    static const struct {
        const char *comp;
        enum dtdl_kind kind;
        const char *name;
        const char *want;
    } cases[] = {
        {"", DTDL_TELEMETRY, "temperature", "temp"},
        {"", DTDL_TELEMETRY, "humidity", "humid"},
        {"", DTDL_TELEMETRY, "TEMP", "temp"},
        {"", DTDL_TELEMETRY, "hmid", "humid"},
        {"", DTDL_TELEMETRY, "pressure", NULL},
        {"", DTDL_PROPERTY, "nmae", "name"},
        {"", DTDL_PROPERTY, "brightnes", "brightness"},
        {"", DTDL_PROPERTY, "temperature", NULL}, /* only telemetry is called temp */
        {"sensor", DTDL_PROPERTY, "levle", "level"},
        {"sensor", 0, "tmp", "temp"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = appl_closest_name(m, cases[i].comp, cases[i].kind, cases[i].name);
        if ((got == NULL) != (cases[i].want == NULL) ||
            (got != NULL && strcmp(got, cases[i].want) != 0))
            fail_msg("%s: got %s, want %s", cases[i].name, got ? got : "NULL",
                     cases[i].want ? cases[i].want : "NULL");
    }
    dtdl_model_free(m);
}

static void test_classify(void **state)
{
    (void)state;
    struct dtdl_model *m = model();
    static const struct {
        int kind;
        const char *comp;
        const char *payload;
        const char *modeled;
        const char *unmodeled;
        int n_errors;
    } cases[] = {
        {EV_TELEMETRY, "", "{\"temp\":1.5,\"humid\":2}", "{\"temp\":1.5,\"humid\":2}", "{}", 0},
        {EV_TELEMETRY, "", "{\"temperature\":21,\"humid\":2}", "{\"humid\":2}",
         "{\"temperature\":21}", 0},
        {EV_TELEMETRY, "", "{\"temp\":\"hot\"}", "{\"temp\":\"hot\"}", "{}", 1},
        {EV_TELEMETRY, "", "{\"_private\":1,\"EventEnqueuedUtcTime\":2}", "{}", "{}", 0},
        {EV_TELEMETRY, "", "{\"state\":true}", "{}", "{\"state\":true}", 0}, /* a property */
        {EV_TELEMETRY, "sensor", "{\"temp\":3}", "{\"temp\":3}", "{}", 0},
        {EV_TELEMETRY, "", "[1,2]", "{}", "{}", 1},
        {EV_REPORTED, "", "{\"state\":\"true\",\"colour\":\"red\"}", "{\"state\":\"true\"}",
         "{\"colour\":\"red\"}", 1},
        {EV_REPORTED, "", "{\"name\":{\"value\":\"x\",\"ac\":200,\"av\":2}}",
         "{\"name\":{\"value\":\"x\",\"ac\":200,\"av\":2}}", "{}", 0},
        {EV_REPORTED, "", "{\"brightness\":{\"value\":\"high\",\"ac\":200,\"av\":2}}",
         "{\"brightness\":{\"value\":\"high\",\"ac\":200,\"av\":2}}", "{}", 1},
        {EV_REPORTED, "", "{\"rundiagnostics\":{\"value\":\"done\"}}",
         "{\"rundiagnostics\":{\"value\":\"done\"}}", "{}", 0},
        {EV_REPORTED, "",
         "{\"sensor\":{\"__t\":\"c\",\"level\":{\"value\":1,\"av\":1,\"ac\":200},"
         "\"lvl\":2}}",
         "{\"sensor\":{\"level\":{\"value\":1,\"av\":1,\"ac\":200}}}", "{\"sensor\":{\"lvl\":2}}",
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *payload = cJSON_Parse(cases[i].payload);
        cJSON *mo = cJSON_CreateObject(), *un = cJSON_CreateObject(), *errs = cJSON_CreateArray();
        cJSON *want_mo = cJSON_Parse(cases[i].modeled), *want_un = cJSON_Parse(cases[i].unmodeled);
        appl_classify(m, cases[i].kind, cases[i].comp, payload, mo, un, errs);
        if (!cJSON_Compare(mo, want_mo, true) || !cJSON_Compare(un, want_un, true) ||
            cJSON_GetArraySize(errs) != cases[i].n_errors) {
            char *a = cJSON_PrintUnformatted(mo), *b = cJSON_PrintUnformatted(un);
            char *c = cJSON_PrintUnformatted(errs);
            fail_msg("case %zu: modeled %s unmodeled %s errors %s", i, a, b, c);
        }
        cJSON_Delete(payload);
        cJSON_Delete(mo);
        cJSON_Delete(un);
        cJSON_Delete(errs);
        cJSON_Delete(want_mo);
        cJSON_Delete(want_un);
    }
    /* without a template everything is unmodeled */
    cJSON *payload = cJSON_Parse("{\"temp\":1}");
    cJSON *mo = cJSON_CreateObject(), *un = cJSON_CreateObject(), *errs = cJSON_CreateArray();
    appl_classify(NULL, EV_TELEMETRY, "", payload, mo, un, errs);
    assert_null(mo->child);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(un, "temp"));
    cJSON_Delete(payload);
    cJSON_Delete(mo);
    cJSON_Delete(un);
    cJSON_Delete(errs);
    dtdl_model_free(m);
}

/* A device whose twin is given as JSON texts. */
static struct device *twin_device(const char *desired, const char *desired_meta,
                                  const char *reported)
{
    struct device *d = calloc(1, sizeof *d);
    d->desired = cJSON_Parse(desired);
    d->desired_meta = cJSON_Parse(desired_meta);
    d->reported = cJSON_Parse(reported);
    d->reported_meta = cJSON_CreateObject();
    return d;
}

static void free_twin_device(struct device *d)
{
    cJSON_Delete(d->desired);
    cJSON_Delete(d->desired_meta);
    cJSON_Delete(d->reported);
    cJSON_Delete(d->reported_meta);
    free(d);
}

static void test_properties_view_states(void **state)
{
    (void)state;
    struct dtdl_model *m = model();
    static const struct {
        const char *reported;
        const char *state; /* of "name"; NULL = no state */
        const char *value; /* shown value of "name" */
    } cases[] = {
        {"{}", "pending", "Contoso"},
        {"{\"name\":{\"value\":\"Old\",\"ac\":200,\"av\":2}}", "pending", "Old"},
        {"{\"name\":{\"value\":\"Contoso\",\"ac\":200,\"av\":3}}", "synced", "Contoso"},
        {"{\"name\":{\"value\":\"Contoso\",\"ac\":200,\"av\":4}}", "synced", "Contoso"},
        {"{\"name\":{\"value\":\"Contoso\",\"ac\":202,\"av\":3}}", "pending", "Contoso"},
        {"{\"name\":{\"value\":\"Old\",\"ac\":400,\"av\":3,\"ad\":\"bad\"}}", "failed", "Old"},
        {"{\"name\":{\"value\":\"Old\",\"ac\":500,\"av\":3}}", "failed", "Old"},
        {"{\"name\":{\"value\":\"Contoso\",\"av\":3}}", "pending", "Contoso"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct device *d = twin_device("{\"name\":\"Contoso\"}",
                                       "{\"name\":{\"$lastUpdated\":\"2026-11-26T08:00:00.000Z\","
                                       "\"$lastUpdatedVersion\":3}}",
                                       cases[i].reported);
        cJSON *v = appl_properties_view(m, d, "", NULL);
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(v, "$metadata"), "name");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(md, "state");
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(v, "name");
        if (!cJSON_IsString(st) || strcmp(st->valuestring, cases[i].state) != 0 ||
            !cJSON_IsString(val) || strcmp(val->valuestring, cases[i].value) != 0)
            fail_msg("case %zu: %s", i, cJSON_PrintUnformatted(v));
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(md, "desiredVersion")->valueint, 3);
        cJSON_Delete(v);
        free_twin_device(d);
    }
    /* components nest, __t disappears, command completions are not properties */
    struct device *d = twin_device("{\"sensor\":{\"__t\":\"c\",\"level\":4}}",
                                   "{\"sensor\":{\"level\":{\"$lastUpdatedVersion\":5}}}",
                                   "{\"state\":true,\"rundiagnostics\":{\"value\":\"x\"},"
                                   "\"sensor\":{\"__t\":\"c\",\"level\":{\"value\":4,\"ac\":200,"
                                   "\"av\":5}}}");
    cJSON *v = appl_properties_view(m, d, "", NULL);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "state")));
    assert_null(cJSON_GetObjectItemCaseSensitive(v, "rundiagnostics"));
    const cJSON *sensor = cJSON_GetObjectItemCaseSensitive(v, "sensor");
    assert_null(cJSON_GetObjectItemCaseSensitive(sensor, "__t"));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(sensor, "level")->valueint, 4);
    const cJSON *lm = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(sensor, "$metadata"), "level");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(lm, "state")->valuestring, "synced");
    cJSON_Delete(v);
    v = appl_properties_view(m, d, "sensor", NULL);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(v, "level")->valueint, 4);
    cJSON_Delete(v);
    free_twin_device(d);
    dtdl_model_free(m);
}

static void test_properties_patch_validation(void **state)
{
    (void)state;
    struct dtdl_model *m = model();
    struct device *d = twin_device("{\"name\":\"a\",\"brightness\":1,\"sensor\":{\"__t\":\"c\","
                                   "\"level\":2}}",
                                   "{}", "{}");
    static const struct {
        const char *comp;
        const char *body;
        bool replace;
        int rc;
        const char *patch; /* expected desired patch, or the error text fragment */
    } cases[] = {
        {"", "{\"name\":\"x\"}", false, CE_OK, "{\"name\":\"x\"}"},
        {"", "{\"name\":\"x\"}", true, CE_OK, "{\"name\":\"x\",\"brightness\":null}"},
        {"", "{\"sensor\":{\"level\":3}}", false, CE_OK,
         "{\"sensor\":{\"__t\":\"c\",\"level\":3}}"},
        {"sensor", "{\"level\":3}", false, CE_OK, "{\"sensor\":{\"__t\":\"c\",\"level\":3}}"},
        {"sensor", "{\"level\":3}", true, CE_OK, "{\"sensor\":{\"__t\":\"c\",\"level\":3}}"},
        {"", "{\"nmae\":\"x\"}", false, CE_INVALID, "did you mean \"name\""},
        {"", "{\"state\":true}", false, CE_INVALID, "read-only"},
        {"", "{\"brightness\":1.5}", false, CE_INVALID, "$.brightness"},
        {"", "{\"sensor\":5}", false, CE_INVALID, "$.sensor"},
        {"", "{\"$version\":5}", false, CE_INVALID, "reserved"},
        {"", "[]", false, CE_INVALID, "expected an object"},
        {"", "{}", false, CE_INVALID, "no property"},
        {"nosuch", "{\"level\":1}", false, CE_INVALID, "no component"},
        {"sensor", "{\"name\":\"x\"}", false, CE_INVALID, "$.name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *body = cJSON_Parse(cases[i].body), *patch = NULL;
        struct appl_error err = {0};
        int rc = appl_properties_patch(m, d, cases[i].comp, body, cases[i].replace, &patch, &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, rc, err.message);
        if (rc == CE_OK) {
            cJSON *want = cJSON_Parse(cases[i].patch);
            if (!cJSON_Compare(patch, want, true))
                fail_msg("case %zu: patch %s", i, cJSON_PrintUnformatted(patch));
            cJSON_Delete(want);
        } else if (strstr(err.message, cases[i].patch) == NULL) {
            fail_msg("case %zu: message %s", i, err.message);
        }
        cJSON_Delete(patch);
        cJSON_Delete(body);
    }
    free_twin_device(d);
    dtdl_model_free(m);
}

static void test_cloud_properties(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"@context\":[\"dtmi:dtdl:context;2\",\"dtmi:iotcentral:context;2\"],"
        "\"@id\":\"dtmi:t:cloud;1\",\"@type\":\"Interface\",\"contents\":["
        "{\"@type\":[\"Property\",\"Cloud\"],\"name\":\"customerName\",\"schema\":\"string\"},"
        "{\"@type\":\"Property\",\"name\":\"level\",\"schema\":\"long\",\"writable\":true}]}";
    struct dtdl_model *m = NULL;
    struct dtdl_error derr;
    assert_int_equal(dtdl_import(doc, strlen(doc), &m, &derr), 0);
    struct appl_error err = {0};
    cJSON *body = cJSON_Parse("{\"customerName\":\"Contoso\",\"level\":2}");
    cJSON *cloud = cJSON_CreateObject();
    assert_int_equal(appl_properties_take_cloud(m, "", body, cloud, &err), CE_OK);
    cJSON *want_body = cJSON_Parse("{\"level\":2}");
    cJSON *want_cloud = cJSON_Parse("{\"customerName\":\"Contoso\"}");
    assert_true(cJSON_Compare(body, want_body, true));
    assert_true(cJSON_Compare(cloud, want_cloud, true));
    /* stored, then shown beside the device's properties */
    struct appl_device ad;
    memset(&ad, 0, sizeof ad);
    ad.cloud = cJSON_CreateObject();
    appl_properties_store_cloud(&ad, cloud, 0);
    struct device *d = twin_device("{}", "{}", "{\"level\":{\"value\":2,\"ac\":200,\"av\":1}}");
    cJSON *v = appl_properties_view(m, d, "", ad.cloud);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(v, "customerName")->valuestring,
                        "Contoso");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(v, "$metadata"), "customerName");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(md, "lastUpdateTime")->valuestring,
                        "1970-01-01T00:00:00.000Z");
    assert_null(cJSON_GetObjectItemCaseSensitive(md, "state"));
    cJSON_Delete(v);
    /* null deletes */
    cJSON *del = cJSON_Parse("{\"customerName\":null}");
    appl_properties_store_cloud(&ad, del, 1);
    assert_null(ad.cloud->child);
    /* values are checked */
    cJSON *bad = cJSON_Parse("{\"customerName\":5}");
    cJSON *c2 = cJSON_CreateObject();
    assert_int_equal(appl_properties_take_cloud(m, "", bad, c2, &err), CE_INVALID);
    assert_non_null(strstr(err.message, "$.customerName"));
    cJSON_Delete(bad);
    cJSON_Delete(c2);
    cJSON_Delete(del);
    cJSON_Delete(ad.cloud);
    free_twin_device(d);
    cJSON_Delete(body);
    cJSON_Delete(cloud);
    cJSON_Delete(want_body);
    cJSON_Delete(want_cloud);
    dtdl_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_closest_name),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_properties_view_states),
        cmocka_unit_test(test_properties_patch_validation),
        cmocka_unit_test(test_cloud_properties),
    };
    return cmocka_run_group_tests_name("appl", tests, NULL, NULL);
}
