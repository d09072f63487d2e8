/*
 * test_capi_doc_examples.c - a script written against IoT Central's REST how-to pages, run
 * unchanged against iotc-central (only the base URL and the token differ): the requests those
 * pages show for device templates, devices, enrollment groups, device groups and jobs, in their
 * documented shapes (api-version 2022-07-31 on every call, the bodies' members as the pages
 * name them, PropertyJobData with a number sent as a string), and the members of the answers
 * such a script reads (id, etag, @id/@type, attestation.symmetricKey, value/nextLink, status);
 * and the API reference's job path "component.property".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "../lib/harness.h"

#define V "api-version=2022-07-31"
#define TID "dtmi:docs:Thermostat;1"
#define TID_URL "dtmi%3Adocs%3AThermostat%3B1"

static struct th_central srv;
static struct capi_resp R;

/* One call as a script makes it: the path with ?api-version=2022-07-31. */
static long call(const char *method, const char *path, const char *body)
{
    char target[4096];
    capi_resp_free(&R);
    snprintf(target, sizeof target, "%s%s" V, path, strchr(path, '?') ? "&" : "?");
    if (capi_http(srv.ca_path, srv.https_port, srv.admin_token, method, target, body, 15000, &R) <
        0)
        return -1;
    if (R.status >= 300 && R.status != 404)
        fprintf(stderr, "%s %s: %ld %s\n", method, path, R.status, R.body ? R.body : "");
    return R.status;
}

static bool value_has_id(const char *id)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, capi_jget(R.json, "value"))
    {
        const char *s = capi_jstr(v, "id");
        if (s == NULL)
            s = capi_jstr(v, "@id");
        if (s != NULL && strcmp(s, id) == 0)
            return true;
    }
    return false;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return th_central_start(&srv, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* The device templates how-to: PUT with @id, @type, @context and a capabilityModel, GET, list,
 * PATCH the display name. */
static void test_device_templates(void **state)
{
    (void)state;
    assert_int_equal(
        call("PUT", "/api/deviceTemplates/" TID_URL,
             "{\"displayName\":\"Docs thermostat\",\"@id\":\"" TID "\","
             "\"@type\":[\"ModelDefinition\",\"DeviceModel\"],"
             "\"@context\":[\"dtmi:iotcentral:context;2\",\"dtmi:dtdl:context;2\"],"
             "\"capabilityModel\":{\"@id\":\"dtmi:docs:Thermostat:cm;1\",\"@type\":\"Interface\","
             "\"displayName\":\"Thermostat\",\"contents\":["
             "{\"@type\":[\"Telemetry\",\"Temperature\"],\"name\":\"temperature\","
             "\"schema\":\"double\",\"unit\":\"degreeCelsius\"},"
             "{\"@type\":\"Property\",\"name\":\"targetTemperature\",\"schema\":\"double\","
             "\"writable\":true},"
             "{\"@type\":\"Command\",\"name\":\"reboot\",\"request\":{\"name\":\"delay\","
             "\"schema\":\"integer\"}},"
             "{\"@type\":\"Component\",\"name\":\"settings\",\"schema\":{"
             "\"@id\":\"dtmi:docs:Settings;1\",\"@type\":\"Interface\",\"contents\":["
             "{\"@type\":\"Property\",\"name\":\"mode\",\"schema\":\"string\","
             "\"writable\":true}]}}]}}"),
        200);
    assert_string_equal(capi_jstr(R.json, "@id"), TID);
    assert_string_equal(capi_jstr(R.json, "@type.0"), "ModelDefinition");
    assert_string_equal(capi_jstr(R.json, "displayName"), "Docs thermostat");
    assert_non_null(capi_jget(R.json, "capabilityModel.contents"));
    assert_non_null(capi_jstr(R.json, "etag"));
    assert_int_equal(call("GET", "/api/deviceTemplates/" TID_URL, NULL), 200);
    assert_string_equal(capi_jstr(R.json, "@id"), TID);
    assert_int_equal(call("GET", "/api/deviceTemplates", NULL), 200);
    assert_true(value_has_id(TID));
    assert_int_equal(call("PATCH", "/api/deviceTemplates/" TID_URL,
                          "{\"displayName\":\"Docs thermostat (renamed)\"}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "Docs thermostat (renamed)");
}

/* The devices how-to: PUT {displayName, template, simulated, enabled}, GET, PATCH, the list and
 * its $top paging, the credentials, $filter and $orderby, DELETE. */
static void test_devices(void **state)
{
    (void)state;
    for (int i = 1; i <= 3; i++) {
        char path[64], body[256];
        snprintf(path, sizeof path, "/api/devices/docs-therm-%d", i);
        snprintf(body, sizeof body,
                 "{\"displayName\":\"CheckoutThermostat %d\",\"template\":\"" TID "\","
                 "\"simulated\":false,\"enabled\":true}",
                 i);
        assert_int_equal(call("PUT", path, body), 200);
        assert_string_equal(capi_jstr(R.json, "id"), path + strlen("/api/devices/"));
        assert_string_equal(capi_jstr(R.json, "template"), TID);
        assert_true(cJSON_IsFalse(capi_jget(R.json, "simulated")));
        assert_true(cJSON_IsTrue(capi_jget(R.json, "enabled")));
        assert_true(cJSON_IsFalse(capi_jget(R.json, "provisioned")));
        assert_non_null(capi_jstr(R.json, "etag"));
    }
    assert_int_equal(call("GET", "/api/devices/docs-therm-1", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "CheckoutThermostat 1");
    assert_int_equal(call("PATCH", "/api/devices/docs-therm-1", "{\"enabled\":false}"), 200);
    assert_true(cJSON_IsFalse(capi_jget(R.json, "enabled")));
    assert_int_equal(call("PATCH", "/api/devices/docs-therm-1", "{\"enabled\":true}"), 200);
    assert_int_equal(call("GET", "/api/devices/docs-therm-1/credentials", NULL), 200);
    assert_non_null(capi_jstr(R.json, "idScope"));
    assert_non_null(capi_jstr(R.json, "symmetricKey.primaryKey"));
    assert_non_null(capi_jstr(R.json, "symmetricKey.secondaryKey"));
    assert_int_equal(call("GET", "/api/devices", NULL), 200);
    assert_true(value_has_id("docs-therm-2"));
    /* $top pages; the nextLink is followed as it is */
    assert_int_equal(call("GET", "/api/devices?$top=2", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 2);
    const char *next = capi_jstr(R.json, "nextLink");
    assert_non_null(next);
    char url[1024];
    snprintf(url, sizeof url, "%s", next);
    capi_resp_free(&R);
    assert_int_equal(
        capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", url, NULL, 15000, &R), 0);
    assert_int_equal(R.status, 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 1);
    /* the filter and order forms the page shows */
    assert_int_equal(
        call("GET", "/api/devices?$filter=contains(displayName,%20'Thermostat%202')", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 1);
    assert_string_equal(capi_jstr(R.json, "value.0.id"), "docs-therm-2");
    assert_int_equal(call("GET",
                          "/api/devices?$filter=template%20eq%20'" TID_URL
                          "'%20and%20enabled%20eq%20true&$orderby=displayName%20desc",
                          NULL),
                     200);
    assert_string_equal(capi_jstr(R.json, "value.0.id"), "docs-therm-3");
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 3);
    assert_int_equal(call("PUT", "/api/devices/docs-gone",
                          "{\"displayName\":\"Gone\",\"template\":\"" TID "\",\"simulated\":false,"
                          "\"enabled\":true}"),
                     200);
    assert_int_equal(call("DELETE", "/api/devices/docs-gone", NULL), 204);
    assert_int_equal(call("GET", "/api/devices/docs-gone", NULL), 404);
}

/* The enrollment groups section: a SAS group {displayName, enabled, type, attestation}, its
 * keys in the answer, PATCH, the list, DELETE. */
static void test_enrollment_groups(void **state)
{
    (void)state;
    assert_int_equal(call("PUT", "/api/enrollmentGroups/docs-group",
                          "{\"displayName\":\"Docs enrollment group\",\"enabled\":true,"
                          "\"type\":\"iot\",\"attestation\":{\"type\":\"symmetricKey\"}}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "id"), "docs-group");
    assert_string_equal(capi_jstr(R.json, "type"), "iot");
    assert_string_equal(capi_jstr(R.json, "attestation.type"), "symmetricKey");
    assert_non_null(capi_jstr(R.json, "attestation.symmetricKey.primaryKey"));
    assert_non_null(capi_jstr(R.json, "attestation.symmetricKey.secondaryKey"));
    assert_non_null(capi_jstr(R.json, "etag"));
    assert_int_equal(call("GET", "/api/enrollmentGroups/docs-group", NULL), 200);
    assert_true(cJSON_IsTrue(capi_jget(R.json, "enabled")));
    assert_int_equal(call("PATCH", "/api/enrollmentGroups/docs-group", "{\"enabled\":false}"), 200);
    assert_true(cJSON_IsFalse(capi_jget(R.json, "enabled")));
    assert_int_equal(call("GET", "/api/enrollmentGroups", NULL), 200);
    assert_true(value_has_id("docs-group"));
    assert_int_equal(call("DELETE", "/api/enrollmentGroups/docs-group", NULL), 204);
    assert_int_equal(call("GET", "/api/enrollmentGroups/docs-group", NULL), 404);
}

/* The device groups how-to: PUT {displayName, description, filter, organizations}, GET, its
 * devices, PATCH, the list, DELETE. */
static void test_device_groups(void **state)
{
    (void)state;
    assert_int_equal(call("PUT", "/api/deviceGroups/docs-provisioned",
                          "{\"displayName\":\"Provisioned thermostats\",\"description\":\"Every "
                          "provisioned thermostat\",\"filter\":\"SELECT * FROM devices WHERE "
                          "$template = \\\"" TID
                          "\\\" AND $provisioned = true\",\"organizations\":[\"seattle\"]}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "id"), "docs-provisioned");
    assert_non_null(capi_jstr(R.json, "filter"));
    assert_string_equal(capi_jstr(R.json, "organizations.0"), "seattle");
    assert_int_equal(call("GET", "/api/deviceGroups/docs-provisioned/devices", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 0); /* none provisioned */
    assert_int_equal(call("PUT", "/api/deviceGroups/docs-thermostats",
                          "{\"displayName\":\"Thermostats\",\"filter\":\"SELECT * FROM devices "
                          "WHERE $template = \\\"" TID "\\\"\"}"),
                     200);
    assert_int_equal(call("GET", "/api/deviceGroups/docs-thermostats/devices", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 3);
    assert_true(value_has_id("docs-therm-1"));
    assert_int_equal(
        call("PATCH", "/api/deviceGroups/docs-provisioned", "{\"description\":\"Changed\"}"), 200);
    assert_string_equal(capi_jstr(R.json, "description"), "Changed");
    assert_int_equal(call("GET", "/api/deviceGroups", NULL), 200);
    assert_true(value_has_id("docs-thermostats"));
    assert_int_equal(call("DELETE", "/api/deviceGroups/docs-provisioned", NULL), 204);
    assert_int_equal(call("GET", "/api/deviceGroups/docs-provisioned", NULL), 404);
}

/* The jobs how-to: the job-014 shape (batch and threshold as percentages, PropertyJobData whose
 * value is a string), GET until complete, its devices, the list, stop/resume refused on a
 * finished job, a rerun. */
static void test_jobs(void **state)
{
    (void)state;
    assert_int_equal(call("PUT", "/api/jobs/docs-job-1",
                          "{\"id\":\"docs-job-1\",\"displayName\":\"Set target temperature\","
                          "\"description\":\"Set target temperature for every thermostat\","
                          "\"group\":\"docs-thermostats\","
                          "\"batch\":{\"type\":\"percentage\",\"value\":25},"
                          "\"cancellationThreshold\":{\"type\":\"percentage\",\"value\":10,"
                          "\"batch\":false},"
                          "\"data\":[{\"type\":\"PropertyJobData\",\"target\":\"" TID "\","
                          "\"path\":\"targetTemperature\",\"value\":\"56\"},"
                          "{\"type\":\"property\",\"target\":\"" TID "\","
                          "\"path\":\"settings.mode\",\"value\":\"eco\"}]}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "id"), "docs-job-1");
    assert_string_equal(capi_jstr(R.json, "group"), "docs-thermostats");
    assert_string_equal(capi_jstr(R.json, "batch.type"), "percentage");
    const char *st = capi_jstr(R.json, "status");
    assert_true(strcmp(st, "running") == 0 || strcmp(st, "complete") == 0);
    for (int t = 0; t < 200; t++) {
        assert_int_equal(call("GET", "/api/jobs/docs-job-1", NULL), 200);
        if (strcmp(capi_jstr(R.json, "status"), "running") != 0)
            break;
        usleep(50 * 1000);
    }
    assert_string_equal(capi_jstr(R.json, "status"), "complete");
    assert_int_equal(call("GET", "/api/jobs/docs-job-1/devices", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 3);
    const cJSON *d;
    cJSON_ArrayForEach(d, capi_jget(R.json, "value"))
    {
        assert_non_null(capi_jstr(d, "id"));
        assert_string_equal(capi_jstr(d, "status"), "completed");
    }
    assert_int_equal(call("GET", "/api/devices/docs-therm-2/properties", NULL), 200);
    const cJSON *v = capi_jget(R.json, "targetTemperature");
    assert_true(cJSON_IsNumber(v) && v->valuedouble == 56);
    /* the API reference's "component.property" path */
    assert_int_equal(call("GET", "/api/devices/docs-therm-2/components/settings/properties", NULL),
                     200);
    assert_string_equal(capi_jstr(R.json, "mode"), "eco");
    assert_int_equal(call("GET", "/api/jobs", NULL), 200);
    assert_true(value_has_id("docs-job-1"));
    assert_int_equal(call("POST", "/api/jobs/docs-job-1/stop", NULL), 409);
    assert_int_equal(call("POST", "/api/jobs/docs-job-1/resume", NULL), 409);
    assert_int_equal(call("PUT", "/api/jobs/docs-job-1/rerun/docs-job-1-rerun", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "id"), "docs-job-1-rerun");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_templates),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_enrollment_groups),
        cmocka_unit_test(test_device_groups),
        cmocka_unit_test(test_jobs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
