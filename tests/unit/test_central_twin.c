/*
 * test_central_twin.c - twin semantics without a server: registry in memory (no store, no
 * broker), reported merges with null deletes and versions, desired updates with etags,
 * limits, $metadata, and the registry's id/key rules and device JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "central/hub/registry.h"
#include "central/hub/twin.h"
#include "central/store/store.h"

static struct app app;

static int setup(void **state)
{
    (void)state;
    memset(&app, 0, sizeof app);
    return registry_new(&app);
}

static int teardown(void **state)
{
    (void)state;
    registry_free(&app);
    return 0;
}

static cJSON *device_get(struct device *dev)
{
    char *text = twin_device_get_text(dev);
    assert_non_null(text);
    cJSON *o = cJSON_Parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static void test_reported_merge(void **state)
{
    (void)state;
    struct device *dev;
    assert_int_equal(registry_create(&app, "t1", NULL, NULL, true, NULL, &dev), CE_OK);
    int64_t v = 0;
    static const struct {
        const char *patch;
        int rc;
        const char *expect; /* reported after the patch, without $version */
    } steps[] = {
        {"{\"a\":1,\"b\":{\"c\":2,\"d\":[1,2]}}", CE_OK, "{\"a\":1,\"b\":{\"c\":2,\"d\":[1,2]}}"},
        {"{\"b\":{\"c\":null,\"e\":\"x\"}}", CE_OK, "{\"a\":1,\"b\":{\"d\":[1,2],\"e\":\"x\"}}"},
        {"{\"a\":null,\"$version\":99}", CE_OK, "{\"b\":{\"d\":[1,2],\"e\":\"x\"}}"},
        {"{\"b\":7}", CE_OK, "{\"b\":7}"},
        {"[1,2]", CE_INVALID, NULL},
        {"{\"bad.key\":1}", CE_INVALID, NULL},
        {"{\"bad key\":1}", CE_INVALID, NULL},
        {"{\"$x\":{\"$y\":1}}", CE_OK, "{\"b\":7}"},
        {"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":1}}}}}}}}}}"
         "}",
         CE_INVALID, NULL},
        {"{\"big\":4503599627370496}", CE_INVALID, NULL},
        {"not json", CE_INVALID, NULL},
    };
    int64_t expect_version = 1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int rc = twin_patch_reported(&app, dev, steps[i].patch, strlen(steps[i].patch), &v);
        if (rc != steps[i].rc)
            fail_msg("step %zu: rc %d, expected %d", i, rc, steps[i].rc);
        if (rc != CE_OK)
            continue;
        expect_version++;
        assert_int_equal(v, expect_version);
        cJSON *o = device_get(dev);
        cJSON *rep = cJSON_DetachItemFromObject(o, "reported");
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(rep, "$version")->valueint,
                         expect_version);
        cJSON_DeleteItemFromObject(rep, "$version");
        cJSON *want = cJSON_Parse(steps[i].expect);
        if (!cJSON_Compare(rep, want, 1)) {
            char *got = cJSON_PrintUnformatted(rep);
            fail_msg("step %zu: reported %s, expected %s", i, got, steps[i].expect);
        }
        cJSON_Delete(want);
        cJSON_Delete(rep);
        cJSON_Delete(o);
    }
    /* Each string is under the 4 KB limit, but together they pass the 32 KB section limit;
     * 7 of them (28 KB) still fit. */
    for (int count = 7; count <= 10; count += 3) {
        cJSON *o = cJSON_CreateObject();
        char *s4k = malloc(4001);
        assert_non_null(s4k);
        memset(s4k, 'x', 4000);
        s4k[4000] = '\0';
        for (int i = 0; i < count; i++) {
            char key[16];
            snprintf(key, sizeof key, "k%d", i);
            cJSON_AddStringToObject(o, key, s4k);
        }
        char *text = cJSON_PrintUnformatted(o);
        assert_int_equal(twin_patch_reported(&app, dev, text, strlen(text), &v),
                         count == 7 ? CE_OK : CE_INVALID);
        free(text);
        free(s4k);
        cJSON_Delete(o);
    }
}

static void test_desired_and_etag(void **state)
{
    (void)state;
    struct device *dev;
    assert_int_equal(registry_create(&app, "t2", NULL, NULL, true, NULL, &dev), CE_OK);
    char etag[32], etag2[32];
    twin_etag(dev, etag);
    cJSON *patch = cJSON_Parse("{\"thermostat1\":{\"targetTemperature\":50,\"__t\":\"c\"}}");
    assert_int_equal(twin_update(&app, dev, NULL, patch, "\"not-the-etag\"", false), CE_ETAG);
    assert_int_equal(dev->desired_version, 1);
    char quoted[40];
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    assert_int_equal(twin_update(&app, dev, NULL, patch, quoted, false), CE_OK);
    assert_int_equal(dev->desired_version, 2);
    twin_etag(dev, etag2);
    assert_string_not_equal(etag, etag2);
    /* The old etag is stale now; "*" always matches. */
    assert_int_equal(twin_update(&app, dev, NULL, patch, quoted, false), CE_ETAG);
    cJSON *tags = cJSON_Parse("{\"site\":\"lab\"}");
    assert_int_equal(twin_update(&app, dev, tags, NULL, "*", false), CE_OK);
    assert_int_equal(dev->desired_version, 2);
    cJSON *bad = cJSON_Parse("[1]");
    assert_int_equal(twin_update(&app, dev, NULL, bad, NULL, false), CE_INVALID);

    /* Service view: ids, etag, versions, $metadata with $lastUpdatedVersion on desired. */
    cJSON *tw = twin_to_service_json(dev);
    assert_non_null(tw);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(tw, "deviceId")->valuestring, "t2");
    twin_etag(dev, etag2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(tw, "etag")->valuestring, etag2);
    cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tw, "properties"),
                                                "desired");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(d, "$version")->valueint, 2);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "$metadata"),
                                                   "thermostat1");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(meta, "$lastUpdated"));
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(meta, "targetTemperature"), "$lastUpdatedVersion")
            ->valueint,
        2);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tw, "tags"), "site")
            ->valuestring,
        "lab");
    cJSON_Delete(tw);
    cJSON_Delete(patch);
    cJSON_Delete(tags);
    cJSON_Delete(bad);
}

static void test_registry_rules(void **state)
{
    (void)state;
    static const struct {
        const char *id;
        bool ok;
    } ids[] = {{"abc-DEF_0.9", true}, {"a:b=c@d$e'f(g)h,i*j?k!l%m", true},
               {"", false},           {"has space", false},
               {"slash/no", false},   {"hash#no", false},
               {"plus+no", false}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        assert_int_equal(registry_id_is_valid(ids[i].id), ids[i].ok);
    char long_id[130];
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    assert_false(registry_id_is_valid(long_id));
    long_id[128] = '\0';
    assert_true(registry_id_is_valid(long_id));

    assert_true(registry_key_is_valid("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="));
    assert_false(registry_key_is_valid("c2hvcnQ=")); /* 5 bytes */
    assert_false(registry_key_is_valid("not base64!"));

    struct device *dev;
    assert_int_equal(registry_create(&app, "r1", "c2hvcnQ=", NULL, true, NULL, &dev), CE_INVALID);
    assert_int_equal(registry_create(&app, "r1", NULL, NULL, true, "SAS-IoT-Devices", &dev), CE_OK);
    assert_true(registry_key_is_valid(dev->primary_key)); /* generated */
    assert_int_equal(registry_create(&app, "r1", NULL, NULL, true, NULL, NULL), CE_EXISTS);
    assert_ptr_equal(registry_get(&app, "r1"), dev);
    assert_null(registry_get(&app, "R1")); /* case-sensitive */

    cJSON *j = registry_device_to_json(dev);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "deviceId")->valuestring, "r1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "status")->valuestring, "enabled");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "connectionState")->valuestring,
                        "Disconnected");
    cJSON *sk = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "authentication"), "symmetricKey");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(sk, "primaryKey")->valuestring,
                        dev->primary_key);
    cJSON_Delete(j);

    struct device_update upd = {NULL, NULL, DEVICE_DISABLED, "maintenance", NULL};
    uint64_t etag_before = dev->etag_version;
    assert_int_equal(registry_update(&app, dev, &upd), CE_OK);
    assert_int_equal(dev->status, DEVICE_DISABLED);
    assert_true(dev->etag_version > etag_before);

    /* Store round trip of the persisted record. */
    char *rec = registry_device_to_store_json(dev);
    assert_non_null(rec);
    struct device *back = registry_device_from_store_json("r1", rec);
    free(rec);
    assert_non_null(back);
    assert_string_equal(back->primary_key, dev->primary_key);
    assert_int_equal(back->status, DEVICE_DISABLED);
    assert_string_equal(back->status_reason, "maintenance");
    assert_string_equal(back->enrollment_group, "SAS-IoT-Devices");
    assert_null(registry_device_from_store_json("r1", "{\"pk\":1}"));
    registry_device_free(back);

    size_t count = registry_count(&app);
    struct device *page[2];
    assert_int_equal(registry_list(&app, 0, page, 2), 2);
    assert_int_equal(registry_delete(&app, "r1"), CE_OK);
    assert_int_equal(registry_delete(&app, "r1"), CE_NOTFOUND);
    assert_int_equal(registry_count(&app), count - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reported_merge),
        cmocka_unit_test(test_desired_and_etag),
        cmocka_unit_test(test_registry_rules),
    };
    return cmocka_run_group_tests_name("central_twin", tests, setup, teardown);
}
