/*
 * test_capi_fidelity.c - the REST API behaving as IoT Central's does, through a real
 * iotc-central: $filter / $orderby / $top paging on GET /api/devices (the forms of Microsoft's
 * devices how-to), PUT /api/deviceTemplates publishing (a device announcing the model id is
 * associated), device keys derived from the application's SAS enrollment group, enrollment
 * group create/update/delete/regenerateKey and DPS over every enabled group, role ids, the
 * api-versions accepted, and POST /api/query over stored telemetry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "../lib/harness.h"
#include "iotc/codec.h"
#include "iotc/sas.h"

#define V "api-version=2022-07-31"

static struct th_central srv;
static struct capi_resp R;

static long req_v(const char *version, const char *method, const char *path, const char *body)
{
    char target[8192];
    capi_resp_free(&R);
    snprintf(target, sizeof target, "%s%s%s", path, strchr(path, '?') ? "&" : "?", version);
    if (capi_http(srv.ca_path, srv.https_port, srv.admin_token, method, target, body, 15000, &R) <
        0)
        return -1;
    return R.status;
}

static long req(const char *method, const char *path, const char *body)
{
    return req_v(V, method, path, body);
}

/* GET @p url as it is (a nextLink). */
static long get_url(const char *url)
{
    capi_resp_free(&R);
    if (capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", url, NULL, 15000, &R) < 0)
        return -1;
    return R.status;
}

static void encode(const char *raw, char *out, size_t size)
{
    size_t n = 0;
    assert_int_equal(iotc_pct_encode(iotc_span_from_cstr(raw), out, size, &n), IOTC_OK);
    out[n] = '\0';
}

/* The ids of R's "value", comma-separated, in order. */
static void ids_of(char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(R.json, "value"))
    {
        n += (size_t)snprintf(out + n, size - n, "%s%s", n ? "," : "", capi_jstr(it, "id"));
    }
}

/* GET /api/devices?$filter=@p filter (encoded here) -> the ids it returned. */
static long filtered(const char *filter, const char *orderby, char *ids, size_t size)
{
    char path[4096], ef[2048], eo[256];
    encode(filter ? filter : "", ef, sizeof ef);
    encode(orderby ? orderby : "", eo, sizeof eo);
    snprintf(path, sizeof path, "/api/devices?%s%s%s%s%s", filter ? "$filter=" : "",
             filter ? ef : "", filter && orderby ? "&" : "", orderby ? "$orderby=" : "",
             orderby ? eo : "");
    long st = req("GET", path, NULL);
    if (st == 200)
        ids_of(ids, size);
    return st;
}

static int setup(void **state)
{
    (void)state;
    return th_central_start(&srv, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- $filter / $orderby / $top */

static void put_device(const char *id, const char *body)
{
    char path[256];
    snprintf(path, sizeof path, "/api/devices/%s", id);
    assert_int_equal(req("PUT", path, body), 200);
}

static void test_filter(void **state)
{
    (void)state;
    char ids[1024];
    put_device("f-thermo-1", "{\"displayName\":\"thermostat1\",\"simulated\":true,"
                             "\"organizations\":[\"redmond\"]}");
    put_device("f-thermo-2", "{\"displayName\":\"thermostat2\",\"enabled\":false}");
    put_device("f-device1", "{\"displayName\":\"RS40 Occupancy Sensor - device1\"}");
    put_device("f-zeta", "{\"displayName\":\"Alpha\",\"simulated\":true}");

    /* the forms of the how-to */
    assert_int_equal(filtered("contains(displayName, 'thermostat')", NULL, ids, sizeof ids), 200);
    assert_string_equal(ids, "f-thermo-1,f-thermo-2");
    assert_int_equal(filtered("id eq 'f-device1' and enabled eq true", NULL, ids, sizeof ids), 200);
    assert_string_equal(ids, "f-device1");
    assert_int_equal(filtered("id eq 'f-device1' or simulated eq true", NULL, ids, sizeof ids),
                     200);
    assert_string_equal(ids, "f-thermo-1,f-device1,f-zeta");
    assert_int_equal(filtered("Enabled ne true", NULL, ids, sizeof ids), 200);
    assert_string_equal(ids, "f-thermo-2");
    assert_int_equal(filtered("indexof(displayName, 'device1') ge 0", NULL, ids, sizeof ids), 200);
    assert_string_equal(ids, "f-device1");
    assert_int_equal(filtered("id eq 'f-thermo-1' and scopes eq 'redmond'", NULL, ids, sizeof ids),
                     200);
    assert_string_equal(ids, "f-thermo-1");
    assert_int_equal(filtered("(id eq 'f-zeta' or id eq 'f-thermo-2') and simulated eq true", NULL,
                              ids, sizeof ids),
                     200);
    assert_string_equal(ids, "f-zeta");
    assert_int_equal(filtered("startswith(id, 'f-') eq false", NULL, ids, sizeof ids), 400);
    assert_string_equal(capi_jstr(R.json, "error.code"), "InvalidParameter");
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "'startswith'"));
    assert_int_equal(filtered("status eq 'provisioned'", NULL, ids, sizeof ids), 400);
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "'status'"));

    /* $orderby */
    assert_int_equal(filtered("startswith", NULL, ids, sizeof ids), 400);
    assert_int_equal(filtered("contains(id, 'f-')", "displayName", ids, sizeof ids), 200);
    assert_string_equal(ids, "f-zeta,f-device1,f-thermo-1,f-thermo-2");
    assert_int_equal(filtered("contains(id, 'f-')", "displayName desc", ids, sizeof ids), 200);
    assert_string_equal(ids, "f-thermo-2,f-thermo-1,f-device1,f-zeta");
    assert_int_equal(filtered(NULL, "id", ids, sizeof ids), 400);
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "$orderby"));

    /* '+' for a space (form encoding) and the 2022-10-31-preview spelling without '$' */
    assert_int_equal(req_v("api-version=2022-10-31-preview", "GET",
                           "/api/devices?filter=simulated+eq+true&orderby=displayName", NULL),
                     200);
    ids_of(ids, sizeof ids);
    assert_string_equal(ids, "f-zeta,f-thermo-1");

    /* $top paging: nextLink keeps the filter, the order and the api-version */
    char path[512], ef[256], all[1024] = "";
    encode("contains(id, 'f-')", ef, sizeof ef);
    snprintf(path, sizeof path, "/api/devices?$top=3&$filter=%s&$orderby=displayName%%20desc", ef);
    assert_int_equal(req_v("api-version=2022-05-31", "GET", path, NULL), 200);
    ids_of(ids, sizeof ids);
    assert_string_equal(ids, "f-thermo-2,f-thermo-1,f-device1");
    const char *next = capi_jstr(R.json, "nextLink");
    assert_non_null(next);
    assert_non_null(strstr(next, "api-version=2022-05-31"));
    char link[2048];
    snprintf(link, sizeof link, "%s", next);
    assert_int_equal(get_url(link), 200);
    ids_of(all, sizeof all);
    assert_string_equal(all, "f-zeta");
    assert_null(capi_jstr(R.json, "nextLink"));
    /* maxpagesize, the 2022-10-31-preview name of $top */
    assert_int_equal(req_v("api-version=2022-10-31-preview", "GET",
                           "/api/devices?maxpagesize=1&filter=simulated%20eq%20true", NULL),
                     200);
    ids_of(ids, sizeof ids);
    assert_string_equal(ids, "f-thermo-1");
    assert_non_null(strstr(capi_jstr(R.json, "nextLink"), "filter=simulated"));
}

/* ---------------------------------------------------------------- device keys from the group */

static void derive(const char *group_key, const char *reg_id, char *out, size_t size)
{
    size_t len;
    assert_int_equal(iotc_sas_derive_device_key(iotc_span_from_cstr(group_key),
                                                iotc_span_from_cstr(reg_id), out, size, &len),
                     IOTC_OK);
}

/* DPS registration of @p reg_id signed with @p key (payload may be NULL): the CONNACK code;
 * when 0, the registration was assigned. */
static int dps(const char *reg_id, const char *key, const char *payload)
{
    struct th_dps_result r;
    assert_int_equal(th_dps_register(&srv, reg_id, key, IOTC_SAS_DPS_CSDK, payload, &r), 0);
    if (r.connack == 0) {
        assert_int_equal(r.final_status, 200);
        assert_string_equal(r.status, "assigned");
    }
    return r.connack;
}

static int hub(const char *device_id, const char *key)
{
    struct th_mqtt m;
    int rc = th_hub_connect(&m, &srv, device_id, key);
    th_mqtt_close(&m);
    return rc;
}

/* A device created through the REST API has the keys derived from the application's SAS group:
 * given the group key alone, it provisions and connects. A device that existed with its own
 * keys keeps them. */
static void test_device_keys_derived(void **state)
{
    (void)state;
    char pk[64], sk[64];
    put_device("Derived-1", "{\"displayName\":\"derived\"}");
    derive(srv.group_primary_key, "Derived-1", pk, sizeof pk);
    derive(srv.group_secondary_key, "Derived-1", sk, sizeof sk);
    assert_int_equal(req("GET", "/api/devices/Derived-1/credentials", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "symmetricKey.primaryKey"), pk);
    assert_string_equal(capi_jstr(R.json, "symmetricKey.secondaryKey"), sk);
    assert_int_equal(dps("Derived-1", pk, NULL), 0);
    assert_int_equal(hub("Derived-1", pk), 0);
    assert_int_equal(hub("Derived-1", sk), 0);
    /* a key derived from anything else is refused */
    derive(srv.group_primary_key, "derived-1", pk, sizeof pk);
    assert_int_equal(hub("Derived-1", pk), 5);

    /* an identity created earlier with its own keys keeps them when the API writes it */
    const char *own = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=";
    assert_int_equal(th_put_device(&srv, "legacy-1", own, own, true), 200);
    put_device("legacy-1", "{\"displayName\":\"legacy\"}");
    assert_int_equal(req("GET", "/api/devices/legacy-1/credentials", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "symmetricKey.primaryKey"), own);
    assert_int_equal(hub("legacy-1", own), 0);
}

/* ---------------------------------------------------------------- PUT template publishes */

#define MODEL_ID "dtmi:iotc:fidelity:Probe;1"
#define MODEL_ID_URL "dtmi%3Aiotc%3Afidelity%3AProbe%3B1"

static void test_template_put_publishes(void **state)
{
    (void)state;
    const char *model = "{\"@id\":\"" MODEL_ID "\",\"@type\":\"Interface\","
                        "\"@context\":\"dtmi:dtdl:context;2\",\"displayName\":\"Probe\","
                        "\"contents\":[{\"@type\":\"Telemetry\",\"name\":\"temp\","
                        "\"schema\":\"double\"}]}";
    assert_int_equal(req("PUT", "/api/deviceTemplates/" MODEL_ID_URL, model), 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "published")));
    /* a device announcing the model id after the PUT is associated with the template */
    char pk[64];
    derive(srv.group_primary_key, "probe-1", pk, sizeof pk);
    assert_int_equal(dps("probe-1", pk, "{\"modelId\":\"" MODEL_ID "\"}"), 0);
    assert_int_equal(req("GET", "/api/devices/probe-1", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "template"), MODEL_ID);
    assert_string_equal(capi_jstr(R.json, "status"), "provisioned");
    /* a body may still ask for a draft (the web UI's import) */
    char draft[1024];
    snprintf(draft, sizeof draft, "{\"capabilityModel\":%s,\"published\":false}", model);
    assert_int_equal(req("PUT", "/api/deviceTemplates/draft-1", draft), 200);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "published")));
}

/* ---------------------------------------------------------------- enrollment groups */

#define KEY_A "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
#define KEY_B "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="

static void test_enrollment_groups_crud(void **state)
{
    (void)state;
    char k[64], etag[64];
    /* create, with the keys given */
    assert_int_equal(req("PUT", "/api/enrollmentGroups/line-2",
                         "{\"displayName\":\"Line 2\",\"type\":\"iot\",\"enabled\":true,"
                         "\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{"
                         "\"primaryKey\":\"" KEY_A "\",\"secondaryKey\":\"" KEY_B "\"}}}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "id"), "line-2");
    assert_string_equal(capi_jstr(R.json, "displayName"), "Line 2");
    assert_string_equal(capi_jstr(R.json, "type"), "iot");
    assert_true(cJSON_IsTrue(capi_jget(R.json, "enabled")));
    assert_string_equal(capi_jstr(R.json, "attestation.type"), "symmetricKey");
    assert_string_equal(capi_jstr(R.json, "attestation.symmetricKey.primaryKey"), KEY_A);
    assert_string_equal(capi_jstr(R.json, "attestation.symmetricKey.secondaryKey"), KEY_B);
    snprintf(etag, sizeof etag, "%s", capi_jstr(R.json, "etag"));
    /* created without keys: generated */
    assert_int_equal(req("PUT", "/api/enrollmentGroups/edge-1",
                         "{\"displayName\":\"Edge\",\"type\":\"iotEdge\","
                         "\"attestation\":{\"type\":\"symmetricKey\"}}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "type"), "iotEdge");
    assert_non_null(capi_jstr(R.json, "attestation.symmetricKey.primaryKey"));
    assert_int_equal(req("GET", "/api/enrollmentGroups", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 3);

    /* a device registers with a key derived from either enabled group */
    derive(KEY_A, "line2-dev", k, sizeof k);
    assert_int_equal(dps("line2-dev", k, NULL), 0);
    assert_int_equal(hub("line2-dev", k), 0);
    assert_int_equal(req("GET", "/api/devices/line2-dev", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "enrollmentGroup"), "line-2");
    derive(KEY_B, "line2-dev-b", k, sizeof k);
    assert_int_equal(dps("line2-dev-b", k, NULL), 0);
    derive(srv.group_primary_key, "default-dev", k, sizeof k);
    assert_int_equal(dps("default-dev", k, NULL), 0);

    /* PATCH: disabled, the group's keys register nothing new; the device it registered keeps
     * its hub connection key */
    assert_int_equal(req("PATCH", "/api/enrollmentGroups/line-2", "{\"enabled\":false}"), 200);
    assert_false(cJSON_IsTrue(capi_jget(R.json, "enabled")));
    assert_string_equal(capi_jstr(R.json, "displayName"), "Line 2");
    assert_string_not_equal(capi_jstr(R.json, "etag"), etag);
    derive(KEY_A, "line2-new", k, sizeof k);
    assert_int_equal(dps("line2-new", k, NULL), 5);
    derive(KEY_A, "line2-dev", k, sizeof k);
    assert_int_equal(dps("line2-dev", k, NULL), 5);
    assert_int_equal(hub("line2-dev", k), 0);
    assert_int_equal(req("PATCH", "/api/enrollmentGroups/line-2", "{\"enabled\":true}"), 200);
    assert_int_equal(dps("line2-dev", k, NULL), 0);
    /* registering again through another group moves the device to that group's keys */
    char k2[64];
    derive(srv.group_primary_key, "line2-dev", k2, sizeof k2);
    assert_int_equal(dps("line2-dev", k2, NULL), 0);
    assert_int_equal(req("GET", "/api/devices/line2-dev", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "enrollmentGroup"), "SAS-IoT-Devices");
    assert_int_equal(hub("line2-dev", k2), 0);
    assert_int_equal(hub("line2-dev", k), 5);

    /* regenerateKey (iotc's own) on a created group */
    assert_int_equal(
        req("POST", "/api/enrollmentGroups/line-2/regenerateKey?keyType=primary", NULL), 200);
    assert_string_not_equal(capi_jstr(R.json, "attestation.symmetricKey.primaryKey"), KEY_A);
    assert_string_equal(capi_jstr(R.json, "attestation.symmetricKey.secondaryKey"), KEY_B);
    derive(KEY_A, "line2-after", k, sizeof k);
    assert_int_equal(dps("line2-after", k, NULL), 5);

    /* refused bodies name the field */
    static const struct {
        const char *body;
        const char *names;
    } bad[] = {
        {"{\"type\":\"iot\",\"attestation\":{\"type\":\"symmetricKey\"}}", "$.displayName"},
        {"{\"displayName\":\"x\",\"type\":\"edge\",\"attestation\":{\"type\":\"symmetricKey\"}}",
         "$.type"},
        {"{\"displayName\":\"x\",\"type\":\"iot\",\"attestation\":{\"type\":\"tpm\"}}",
         "unknown attestation"},
        {"{\"displayName\":\"x\",\"type\":\"iot\",\"attestation\":{\"type\":\"symmetricKey\","
         "\"symmetricKey\":{\"primaryKey\":\"short\",\"secondaryKey\":\"short\"}}}",
         "$.attestation.symmetricKey"},
        {"{\"displayName\":\"x\",\"type\":\"iot\",\"attestation\":{\"type\":\"symmetricKey\"},"
         "\"color\":1}",
         "$.color"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(req("PUT", "/api/enrollmentGroups/bad-1", bad[i].body), 400);
        if (strstr(capi_jstr(R.json, "error.message"), bad[i].names) == NULL)
            fail_msg("%s: %s", bad[i].body, capi_jstr(R.json, "error.message"));
    }
    assert_int_equal(req("GET", "/api/enrollmentGroups/bad-1", NULL), 404);

    /* DELETE, and the groups survive a restart */
    assert_int_equal(req("DELETE", "/api/enrollmentGroups/edge-1", NULL), 204);
    assert_int_equal(req("DELETE", "/api/enrollmentGroups/edge-1", NULL), 404);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(req("GET", "/api/enrollmentGroups", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 2);
    assert_int_equal(req("GET", "/api/enrollmentGroups/line-2", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "attestation.symmetricKey.secondaryKey"), KEY_B);
    derive(KEY_B, "line2-restart", k, sizeof k);
    assert_int_equal(dps("line2-restart", k, NULL), 0);

    /* the application's own group can be deleted too; its devices keep their keys */
    derive(srv.group_primary_key, "default-dev", k, sizeof k);
    assert_int_equal(req("DELETE", "/api/enrollmentGroups/SAS-IoT-Devices", NULL), 204);
    assert_int_equal(dps("default-dev", k, NULL), 5);
    assert_int_equal(hub("default-dev", k), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(req("GET", "/api/enrollmentGroups/SAS-IoT-Devices", NULL), 404);
    assert_int_equal(dps("default-dev", k, NULL), 5);
    /* and re-created */
    assert_int_equal(req("PUT", "/api/enrollmentGroups/SAS-IoT-Devices",
                         "{\"displayName\":\"SAS-IoT-Devices\",\"type\":\"iot\","
                         "\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{"
                         "\"primaryKey\":\"" KEY_A "\",\"secondaryKey\":\"" KEY_B "\"}}}"),
                     200);
    derive(KEY_A, "default-again", k, sizeof k);
    assert_int_equal(dps("default-again", k, NULL), 0);
    /* app.json has the keys again (what `iotc-central show` and the simulator read) */
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_string_equal(srv.group_primary_key, KEY_A);
}

/* ---------------------------------------------------------------- role ids, api-versions */

static void test_role_ids_and_versions(void **state)
{
    (void)state;
    /* a token created with the role's name or its id answers IoT Central's role id */
    assert_int_equal(req("PUT", "/api/apiTokens/ops-f", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(capi_jget(R.json, "roles"), 0), "role"),
                        "ae2c9854-393b-4f97-8c42-479d70ce626e");
    assert_int_equal(req("PUT", "/api/apiTokens/adm-f",
                         "{\"roles\":[{\"role\":\"ca310b8d-2f4a-44e0-a36e-957c202cd8d4\"}]}"),
                     200);
    assert_int_equal(req("GET", "/api/apiTokens/adm-f", NULL), 200);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(capi_jget(R.json, "roles"), 0), "role"),
                        "ca310b8d-2f4a-44e0-a36e-957c202cd8d4");
    /* App Builder has no equivalent here: refused, never silently mapped */
    assert_int_equal(req("PUT", "/api/apiTokens/bld-f",
                         "{\"roles\":[{\"role\":\"344138e9-8de4-4497-8c54-5237e96d6aaf\"}]}"),
                     400);

    /* the api-versions IoT Central scripts use; one clear 400 for the others */
    const char *ok[] = {"api-version=2022-07-31", "api-version=2022-05-31",
                        "api-version=2022-10-31-preview", "api-version=1.0"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(req_v(ok[i], "GET", "/api/devices/Derived-1", NULL), 200);
        assert_string_equal(capi_jstr(R.json, "id"), "Derived-1");
    }
    const char *bad[] = {"api-version=2023-01-01", "api-version=1.1-preview", "api-version="};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(req_v(bad[i], "GET", "/api/devices", NULL), 400);
        assert_string_equal(capi_jstr(R.json, "error.code"), "InvalidApiVersionParameter");
        assert_non_null(strstr(capi_jstr(R.json, "error.message"), "2022-10-31-preview"));
    }
}

/* ---------------------------------------------------------------- /api/query */

/* probe-1 (template MODEL_ID, test_template_put_publishes) sends three messages; queries over
 * them through POST /api/query?api-version=2022-10-31-preview. */
static long query(const char *text)
{
    char body[1024];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "query", text);
    assert_true(cJSON_PrintPreallocated(o, body, sizeof body, false));
    cJSON_Delete(o);
    return req_v("api-version=2022-10-31-preview", "POST", "/api/query", body);
}

static void test_query(void **state)
{
    (void)state;
    char pk[64];
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    derive(srv.group_primary_key, "probe-1", pk, sizeof pk);
    assert_int_equal(th_hub_connect(&m, &srv, "probe-1", pk), 0);
    const char *msgs[] = {"{\"temp\":20.5}", "{\"temp\":35}", "{\"other\":1}", "{\"temp\":28}"};
    for (size_t i = 0; i < 4; i++) {
        int pid =
            th_mqtt_publish(&m, "devices/probe-1/messages/events/", msgs[i], strlen(msgs[i]), 1);
        assert_true(pid > 0);
        assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 10000), 0);
    }
    th_mqtt_close(&m);

    assert_int_equal(query("SELECT $id, $ts, temp FROM " MODEL_ID " WHERE WITHIN_WINDOW(P1D)"),
                     200);
    const cJSON *res = capi_jget(R.json, "results");
    assert_int_equal(cJSON_GetArraySize(res), 3); /* the message without temp is not a result */
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(res, 0), "$id"), "probe-1");
    assert_non_null(capi_jstr(cJSON_GetArrayItem(res, 0), "$ts"));
    assert_true(capi_jget(cJSON_GetArrayItem(res, 1), "temp")->valuedouble == 35);

    assert_int_equal(query("SELECT TOP 2 $id AS ID, temp AS t FROM " MODEL_ID
                           " WHERE WITHIN_WINDOW(PT1H) AND t > 21 AND $id = 'probe-1' "
                           "ORDER BY t DESC"),
                     200);
    res = capi_jget(R.json, "results");
    assert_int_equal(cJSON_GetArraySize(res), 2);
    assert_true(capi_jget(cJSON_GetArrayItem(res, 0), "t")->valuedouble == 35);
    assert_true(capi_jget(cJSON_GetArrayItem(res, 1), "t")->valuedouble == 28);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(res, 0), "ID"), "probe-1");
    assert_int_equal(query("SELECT temp FROM " MODEL_ID " WHERE $id IN ['nobody']"), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "results")), 0);
    assert_int_equal(query("SELECT temp FROM " MODEL_ID
                           " WHERE WITHIN_WINDOW('2020-01-01T00:00:00Z/2020-01-02T00:00:00Z')"),
                     200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "results")), 0);

    /* clear errors */
    assert_int_equal(query("SELECT AVG(temp) FROM " MODEL_ID " GROUP BY WINDOW(PT10M)"), 400);
    assert_string_equal(capi_jstr(R.json, "error.code"), "InvalidQuery");
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "aggregation"));
    assert_int_equal(query("SELECT humidity FROM " MODEL_ID), 400);
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "humidity"));
    assert_int_equal(query("SELECT temp FROM dtmi:nobody:Thing;1"), 404);
    assert_string_equal(capi_jstr(R.json, "error.code"), "DeviceTemplateNotFound");
    assert_int_equal(req_v("api-version=2022-10-31-preview", "POST", "/api/query", "{}"), 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_device_keys_derived),
        cmocka_unit_test(test_template_put_publishes),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_role_ids_and_versions),
        cmocka_unit_test(test_enrollment_groups_crud),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
