/*
 * test_capi_api.c - the /api/ application API against a real iotc-central (docs/API.md):
 * authentication and roles, api-version, API tokens, device templates (the project's models,
 * the published tutorial models, malformed models, views, customizations, paging) and devices.
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

#define V "api-version=2022-07-31"
#define TID "dtmi:iotc:example:EnvironmentalSensor;1"
#define TID_URL "dtmi%3Aiotc%3Aexample%3AEnvironmentalSensor%3B1"

static struct th_central srv;
static struct capi_resp R;

static long req(const char *auth, const char *method, const char *path, const char *body)
{
    return capi_call(srv.ca_path, srv.https_port, auth, method, path, body, 15000, &R);
}

static long admin(const char *method, const char *path, const char *body)
{
    return req(srv.admin_token, method, path, body);
}

static void assert_error(long status, long want_status, const char *code)
{
    assert_int_equal(status, want_status);
    assert_non_null(R.json);
    assert_string_equal(capi_jstr(R.json, "error.code"), code);
    assert_string_equal(R.error_code, code);
    assert_non_null(capi_jstr(R.json, "error.message"));
    assert_non_null(capi_jstr(R.json, "error.requestId"));
    assert_non_null(capi_jstr(R.json, "error.time"));
}

static const cJSON *find_by(const cJSON *arr, const char *key, const char *value)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const char *v = capi_jstr(it, key);
        if (v != NULL && strcmp(v, value) == 0)
            return it;
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    return th_central_start(&srv, NULL);
}

static int teardown(void **state)
{
    (void)state;
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- auth */

static void test_auth_and_api_version(void **state)
{
    (void)state;
    static const struct {
        const char *auth;
        const char *path;
        long status;
        const char *code;
    } cases[] = {
        {NULL, "/api/devices", 401, "Unauthorized"},
        {"", "/api/devices", 401, "Unauthorized"},
        {"Bearer nonsense", "/api/devices", 401, "Unauthorized"},
        {"iotc-admin.wrong", "/api/devices", 401, "Unauthorized"},
        {"SharedAccessSignature sr=x&sig=y&skn=nobody&se=99999999999999", "/api/devices", 401,
         "Unauthorized"},
        {"SharedAccessSignature sr=x", "/api/devices", 401, "Unauthorized"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error(req(cases[i].auth, "GET", cases[i].path, NULL), cases[i].status,
                     cases[i].code);
    capi_resp_free(&R);
    assert_int_equal(capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", "/api/devices",
                               NULL, 10000, &R),
                     0);
    assert_error(R.status, 400, "MissingApiVersionParameter");
    capi_resp_free(&R);
    assert_int_equal(capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET",
                               "/api/devices?api-version=2099-01-01", NULL, 10000, &R),
                     0);
    assert_error(R.status, 400, "InvalidApiVersionParameter");
    assert_int_equal(admin("GET", "/api/devices", NULL), 200);
    assert_non_null(strstr(R.content_type, "application/json"));
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(R.json, "value")));
    /* "Bearer" form of the admin token */
    char bearer[200];
    snprintf(bearer, sizeof bearer, "Bearer %s", srv.admin_token);
    assert_int_equal(req(bearer, "GET", "/api/devices", NULL), 200);
    assert_error(admin("GET", "/api/nothing", NULL), 404, "NotFound");
    assert_error(admin("POST", "/api/devices", "{}"), 405, "MethodNotAllowed");
}

/* Every route: no token -> 401; an operator token -> 403 exactly on the administrator routes. */
static void test_every_endpoint_auth(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        const char *path;
        bool admin_only;
    } routes[] = {
        {"GET", "/api/apiTokens", true},
        {"GET", "/api/apiTokens/x", true},
        {"PUT", "/api/apiTokens/x", true},
        {"DELETE", "/api/apiTokens/x", true},
        {"GET", "/api/deviceTemplates", false},
        {"GET", "/api/deviceTemplates/x", false},
        {"PUT", "/api/deviceTemplates/x", true},
        {"PATCH", "/api/deviceTemplates/x", true},
        {"DELETE", "/api/deviceTemplates/x", true},
        {"POST", "/api/deviceTemplates/x/publish", true},
        {"GET", "/api/devices", false},
        {"GET", "/api/devices/x", false},
        {"PUT", "/api/devices/x", false},
        {"PATCH", "/api/devices/x", false},
        {"DELETE", "/api/devices/x", false},
        {"GET", "/api/devices/x/credentials", false},
        {"GET", "/api/devices/x/components", false},
        {"GET", "/api/devices/x/properties", false},
        {"PUT", "/api/devices/x/properties", false},
        {"PATCH", "/api/devices/x/properties", false},
        {"GET", "/api/devices/x/components/c/properties", false},
        {"PATCH", "/api/devices/x/components/c/properties", false},
        {"GET", "/api/devices/x/commands", false},
        {"GET", "/api/devices/x/commands/c", false},
        {"POST", "/api/devices/x/commands/c", false},
        {"GET", "/api/devices/x/components/c/commands/c", false},
        {"POST", "/api/devices/x/components/c/commands/c", false},
        {"GET", "/api/devices/x/telemetry/t", false},
        {"GET", "/api/devices/x/telemetry/t/history", false},
        {"GET", "/api/devices/x/components/c/telemetry/t", false},
        {"GET", "/api/devices/x/components/c/telemetry/t/history", false},
        {"GET", "/api/devices/x/rawData", false},
        {"GET", "/api/devices/x/conformance", false},
        {"GET", "/api/devices/x/events", false},
    };
    char op[600];
    assert_int_equal(admin("PUT", "/api/apiTokens/every", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    snprintf(op, sizeof op, "%s", capi_jstr(R.json, "token"));
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const char *body =
            strcmp(routes[i].method, "GET") && strcmp(routes[i].method, "DELETE") ? "{}" : NULL;
        long st = req(NULL, routes[i].method, routes[i].path, body);
        if (st != 401 || strcmp(R.error_code, "Unauthorized") != 0)
            fail_msg("%s %s without a token: %ld", routes[i].method, routes[i].path, st);
        st = req(op, routes[i].method, routes[i].path, body);
        if (routes[i].admin_only ? st != 403 : (st == 401 || st == 403 || st == 405))
            fail_msg("%s %s as operator: %ld %s", routes[i].method, routes[i].path, st, R.body);
    }
    assert_int_equal(admin("DELETE", "/api/apiTokens/every", NULL), 204);
}

/* ---------------------------------------------------------------- tokens */

static void test_api_tokens(void **state)
{
    (void)state;
    char op_token[600], admin2[600];
    /* validation */
    assert_error(admin("PUT", "/api/apiTokens/t1", "{}"), 400, "InvalidBody");
    assert_error(admin("PUT", "/api/apiTokens/t1", "{\"roles\":[{\"role\":\"king\"}]}"), 400,
                 "InvalidBody");
    assert_error(admin("PUT", "/api/apiTokens/t1",
                       "{\"roles\":[{\"role\":\"operator\"}],\"expiry\":\"2001-01-01T00:00:00Z\"}"),
                 400, "InvalidBody");
    assert_error(admin("PUT", "/api/apiTokens/bad%20id", "{\"roles\":[{\"role\":\"operator\"}]}"),
                 400, "InvalidParameter");
    assert_error(admin("PUT", "/api/apiTokens/t1", "{not json"), 400, "InvalidBody");
    /* an operator token */
    assert_int_equal(admin("PUT", "/api/apiTokens/op1", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "id"), "op1");
    const char *tok = capi_jstr(R.json, "token");
    assert_non_null(tok);
    assert_true(strncmp(tok, "SharedAccessSignature sr=", 25) == 0);
    assert_non_null(strstr(tok, "&skn=op1&se="));
    snprintf(op_token, sizeof op_token, "%s", tok);
    assert_error(admin("PUT", "/api/apiTokens/op1", "{\"roles\":[{\"role\":\"operator\"}]}"), 409,
                 "Conflict");
    /* an administrator token by IoT Central's role id */
    assert_int_equal(admin("PUT", "/api/apiTokens/ad1",
                           "{\"roles\":[{\"role\":\"ca310b8d-2f4a-44e0-a36e-957c202cd8d4\"}]}"),
                     200);
    snprintf(admin2, sizeof admin2, "%s", capi_jstr(R.json, "token"));
    assert_int_equal(req(admin2, "GET", "/api/apiTokens", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "value")), 2);
    assert_null(capi_jstr(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(R.json, "value"), 0),
                          "token"));
    /* roles: operator reads devices, may not manage tokens or templates */
    assert_int_equal(req(op_token, "GET", "/api/devices", NULL), 200);
    assert_int_equal(req(op_token, "GET", "/api/deviceTemplates", NULL), 200);
    assert_error(req(op_token, "GET", "/api/apiTokens", NULL), 403, "Forbidden");
    assert_error(req(op_token, "PUT", "/api/apiTokens/x", "{\"roles\":[{\"role\":\"operator\"}]}"),
                 403, "Forbidden");
    assert_error(req(op_token, "PUT", "/api/deviceTemplates/x", "{}"), 403, "Forbidden");
    assert_error(req(op_token, "DELETE", "/api/deviceTemplates/x", NULL), 403, "Forbidden");
    /* a tampered signature */
    char bad[600];
    snprintf(bad, sizeof bad, "%s", op_token);
    char *sig = strstr(bad, "sig=") + 4;
    *sig = *sig == 'A' ? 'B' : 'A';
    assert_error(req(bad, "GET", "/api/devices", NULL), 401, "Unauthorized");
    /* delete revokes at once */
    assert_int_equal(admin("GET", "/api/apiTokens/op1", NULL), 200);
    assert_string_equal(
        capi_jstr(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(R.json, "roles"), 0), "role"),
        "ae2c9854-393b-4f97-8c42-479d70ce626e"); /* IoT Central's App Operator role id */
    assert_int_equal(admin("DELETE", "/api/apiTokens/op1", NULL), 204);
    assert_error(req(op_token, "GET", "/api/devices", NULL), 401, "Unauthorized");
    assert_error(admin("GET", "/api/apiTokens/op1", NULL), 404, "ApiTokenNotFound");
    assert_error(admin("DELETE", "/api/apiTokens/op1", NULL), 404, "ApiTokenNotFound");
    /* re-creating the id gives a new token; the old text stays invalid */
    assert_int_equal(admin("PUT", "/api/apiTokens/op1", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    assert_error(req(op_token, "GET", "/api/devices", NULL), 401, "Unauthorized");
    assert_int_equal(admin("DELETE", "/api/apiTokens/op1", NULL), 204);
    assert_int_equal(admin("DELETE", "/api/apiTokens/ad1", NULL), 204);
}

/* ---------------------------------------------------------------- templates */

static void check_sensor_caps(const cJSON *t, const char *comp)
{
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(t, "capabilities");
    int n_temp = 0, n_blink = 0, n_name = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, caps)
    {
        const char *name = capi_jstr(it, "name"), *kind = capi_jstr(it, "kind"),
                   *c = capi_jstr(it, "component");
        if (c == NULL || strcmp(c, comp) != 0)
            continue;
        if (strcmp(name, "temp") == 0 && strcmp(kind, "telemetry") == 0)
            n_temp++;
        if (strcmp(name, "blink") == 0 && strcmp(kind, "command") == 0)
            n_blink++;
        if (strcmp(name, "name") == 0 && strcmp(kind, "property") == 0 &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "writable")))
            n_name++;
    }
    assert_int_equal(n_temp, 1);
    assert_int_equal(n_blink, 1);
    assert_int_equal(n_name, 1);
    const cJSON *views = cJSON_GetObjectItemCaseSensitive(t, "views");
    assert_non_null(find_by(views, "id", "overview"));
    assert_non_null(find_by(views, "id", "about"));
    const cJSON *ov = find_by(views, "id", "overview");
    assert_string_equal(capi_jstr(ov, "displayName"), "Overview");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ov, "tiles")), 2);
}

static void test_templates_import_models(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *id;
        int version;
        const char *comp; /* component holding the sensor capabilities */
    } cases[] = {
        {"models/environmental-sensor.dtdlv2.json", TID_URL, 2, ""},
        {"models/environmental-sensor.dcm.v1.json", "urn:iotc:env:v1", 1, ""},
        {"tests/data/environmental-sensor.inline.dcm.v1.json", "urn:tutorial:dcm", 1, ""},
        {"tests/data/environmental-sensor.flat.dtdlv2.json", "dtmi:com:example:flat;1", 2, ""},
        {"tests/data/environmental-sensor.components.dtdlv2.json", "dtmi:com:example:comp;1", 2,
         "sensor"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[300];
        char *doc = th_repo_file(cases[i].file);
        if (doc == NULL)
            fail_msg("cannot read %s", cases[i].file);
        snprintf(path, sizeof path, "/api/deviceTemplates/%s", cases[i].id);
        long st = admin("PUT", path, doc);
        if (st != 200)
            fail_msg("%s: %ld %s", cases[i].file, st, R.body);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(R.json, "dtdlVersion")->valueint,
                         cases[i].version);
        /* PUT creates and publishes, as IoT Central's does */
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "published")));
        check_sensor_caps(R.json, cases[i].comp);
        assert_non_null(cJSON_GetObjectItemCaseSensitive(R.json, "capabilityModel"));
        /* GET returns the same */
        assert_int_equal(admin("GET", path, NULL), 200);
        check_sensor_caps(R.json, cases[i].comp);
        free(doc);
    }
    /* the tutorial file as an IoT Central DeviceTemplate wrapper, with the tutorial's views */
    char *dcm = th_repo_file("tests/data/environmental-sensor.inline.dcm.v1.json");
    assert_non_null(dcm);
    size_t len = strlen(dcm) + 1024;
    char *body = malloc(len);
    snprintf(body, len,
             "{\"@id\":\"urn:tutorial:wrapped\",\"@type\":[\"ModelDefinition\",\"DeviceModel\"],"
             "\"displayName\":\"Environmental sensor\",\"capabilityModel\":%s,"
             "\"customizations\":{\"state\":{\"trueName\":\"Online\",\"falseName\":\"Offline\"}}}",
             dcm);
    assert_int_equal(admin("PUT", "/api/deviceTemplates/urn:tutorial:wrapped", body), 200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "Environmental sensor");
    assert_string_equal(capi_jstr(R.json, "customizations.state.trueName"), "Online");
    free(body);
    free(dcm);
}

static void test_templates_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        long status;
        const char *code;
        const char *in_message;
    } cases[] = {
        {"{not json", 400, "InvalidBody", "not valid JSON"},
        {"42", 400, "InvalidBody", "$"},
        {"{}", 400, "InvalidModel", "$"},
        {"{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:x:y;1\",\"@type\":\"Interface\","
         "\"contents\":[{\"@type\":\"Telemetry\",\"name\":\"t\",\"schema\":\"doubel\"}]}",
         400, "InvalidModel", "$.contents[0].schema"},
        {"{\"@type\":[\"ModelDefinition\",\"DeviceModel\"],\"capabilityModel\":{\"@context\":"
         "\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:x:y;1\",\"@type\":\"Interface\",\"contents\":"
         "[{\"@type\":\"Telemetry\",\"name\":\"t\",\"schema\":\"doubel\"}]}}",
         400, "InvalidModel", "$.capabilityModel.contents[0].schema"},
        {"{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:x:y;1\",\"@type\":\"Interface\","
         "\"contents\":[{\"@type\":\"Property\",\"name\":\"on\",\"schema\":\"string\"}]}",
         200, NULL, NULL},
        {"{\"capabilityModel\":{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:x:y;1\","
         "\"@type\":\"Interface\",\"contents\":[{\"@type\":\"Property\",\"name\":\"on\","
         "\"schema\":\"string\"}]},\"customizations\":{\"on\":{\"trueName\":\"Yes\"}}}",
         400, "InvalidTemplate", "$.customizations[\"on\"].trueName"},
        {"{\"capabilityModel\":{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:x:y;1\","
         "\"@type\":\"Interface\",\"contents\":[{\"@type\":\"Property\",\"name\":\"level\","
         "\"schema\":\"long\",\"writable\":true}]},\"views\":[{\"id\":\"f\",\"displayName\":\"F\","
         "\"type\":\"form\",\"sections\":[{\"displayName\":\"S\",\"fields\":[{\"name\":\"levle\"}]}"
         "]}]}",
         400, "InvalidTemplate", "$.views[0].sections[0].fields[0]: no property \"levle\""},
        {"{\"capabilityModel\":{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:x:y;1\","
         "\"@type\":\"Interface\",\"contents\":[]},\"views\":[{\"id\":\"a "
         "b\",\"displayName\":\"F\","
         "\"type\":\"form\",\"sections\":[]}]}",
         400, "InvalidTemplate", "$.views[0].id"},
        {"{\"capabilityModel\":{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:x:y;1\","
         "\"@type\":\"Interface\",\"contents\":[]},\"published\":\"yes\"}",
         400, "InvalidTemplate", "$.published"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long st = admin("PUT", "/api/deviceTemplates/dtmi:x:y;1", cases[i].body);
        if (st != cases[i].status)
            fail_msg("case %zu: %ld %s", i, st, R.body);
        if (cases[i].code == NULL)
            continue;
        assert_error(st, cases[i].status, cases[i].code);
        if (strstr(capi_jstr(R.json, "error.message"), cases[i].in_message) == NULL)
            fail_msg("case %zu: message %s lacks %s", i, capi_jstr(R.json, "error.message"),
                     cases[i].in_message);
    }
    /* the suggestion names the closest property */
    admin("PUT", "/api/deviceTemplates/dtmi:x:y;1", cases[7].body);
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "did you mean \"level\""));
    /* bodies are bounded */
    size_t big = 1100 * 1024;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = '\0';
    /* above the server's 1 MiB cap the HTTPS layer refuses it before routing */
    /* evhttp may answer 413 and close while curl is still sending: a reset is a refusal too */
    long st = admin("PUT", "/api/deviceTemplates/dtmi:x:y;1", huge);
    free(huge);
    assert_true(st == 413 || st == -1);
    assert_int_equal(admin("GET", "/api/deviceTemplates/dtmi:x:y;1", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "capabilities")),
                     1); /* still the model of the last good PUT */
    assert_int_equal(admin("DELETE", "/api/deviceTemplates/dtmi:x:y;1", NULL), 204);
    assert_error(admin("GET", "/api/deviceTemplates/dtmi:x:y;1", NULL), 404,
                 "DeviceTemplateNotFound");
}

static void test_templates_views_roundtrip_and_paging(void **state)
{
    (void)state;
    char *doc = th_repo_file("models/environmental-sensor.dtdlv2.json");
    assert_non_null(doc);
    size_t len = strlen(doc) + 2048;
    char *body = malloc(len);
    snprintf(body, len,
             "{\"displayName\":\"Environmental sensor\",\"capabilityModel\":%s,"
             "\"views\":[{\"id\":\"overview\",\"displayName\":\"Overview\",\"type\":\"dashboard\","
             "\"tiles\":[{\"displayName\":\"Temperature\",\"type\":\"lineChart\",\"capabilities\":"
             "[{\"component\":\"\",\"name\":\"temp\"}]}]},"
             "{\"id\":\"properties\",\"displayName\":\"Properties\",\"type\":\"form\",\"sections\":"
             "[{\"displayName\":\"Settings\",\"fields\":[{\"component\":\"\",\"name\":\"name\"},"
             "{\"component\":\"\",\"name\":\"brightness\"}]}]}],"
             "\"customizations\":{\"state\":{\"trueName\":\"Online\",\"falseName\":\"Offline\"},"
             "\"turnoff\":{\"queueIfOffline\":true}}}",
             doc);
    assert_int_equal(admin("PUT", "/api/deviceTemplates/tpl-a", body), 200);
    /* a read-only property in an editable form is refused */
    assert_int_equal(
        admin("PATCH", "/api/deviceTemplates/tpl-a",
              "{\"views\":[{\"id\":\"p\",\"displayName\":\"P\",\"type\":\"form\","
              "\"sections\":[{\"displayName\":\"S\",\"fields\":[{\"name\":\"state\"}]}]}]}"),
        400);
    assert_string_equal(R.error_code, "InvalidTemplate");
    /* export, then import the export under another id: views and customizations survive */
    assert_int_equal(admin("GET", "/api/deviceTemplates/tpl-a", NULL), 200);
    char *exported = cJSON_PrintUnformatted(R.json);
    assert_int_equal(admin("PUT", "/api/deviceTemplates/tpl-b", exported), 200);
    const cJSON *views = cJSON_GetObjectItemCaseSensitive(R.json, "views");
    assert_int_equal(cJSON_GetArraySize(views), 2);
    const cJSON *form = find_by(views, "id", "properties");
    assert_non_null(form);
    assert_string_equal(capi_jstr(form, "displayName"), "Properties");
    assert_string_equal(capi_jstr(R.json, "customizations.state.falseName"), "Offline");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(R.json, "customizations"),
                                         "turnoff"),
        "queueIfOffline")));
    cJSON_free(exported);
    /* publish: extension endpoint and PATCH field */
    assert_int_equal(admin("POST", "/api/deviceTemplates/tpl-a/publish", NULL), 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "published")));
    assert_int_equal(admin("PATCH", "/api/deviceTemplates/tpl-b", "{\"published\":true}"), 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "published")));
    /* paging: every template exactly once, through nextLink */
    int total = 0, pages = 0;
    char *next = NULL;
    assert_int_equal(admin("GET", "/api/deviceTemplates?$top=2", NULL), 200);
    for (;;) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(R.json, "value");
        assert_true(cJSON_GetArraySize(v) <= 2);
        total += cJSON_GetArraySize(v);
        pages++;
        const char *nl = capi_jstr(R.json, "nextLink");
        if (nl == NULL)
            break;
        free(next);
        next = strdup(nl);
        capi_resp_free(&R);
        assert_int_equal(
            capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", next, NULL, 10000, &R),
            0);
        assert_int_equal(R.status, 200);
    }
    free(next);
    assert_int_equal(admin("GET", "/api/deviceTemplates?$top=1000", NULL), 200);
    assert_int_equal(total, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "value")));
    assert_true(total >= 3);
    assert_true(pages >= 2);
    assert_error(admin("GET", "/api/deviceTemplates?$top=0", NULL), 400, "InvalidParameter");
    assert_error(admin("GET", "/api/deviceTemplates?$top=abc", NULL), 400, "InvalidParameter");
    free(body);
    free(doc);
}

/* ---------------------------------------------------------------- devices */

static void test_devices(void **state)
{
    (void)state;
    char *doc = th_repo_file("models/environmental-sensor.dtdlv2.json");
    assert_non_null(doc);
    assert_int_equal(admin("PUT", "/api/deviceTemplates/" TID_URL, doc), 200);
    free(doc);
    /* validation */
    assert_error(admin("PUT", "/api/devices/d1", "{\"template\":\"nope\"}"), 400, "InvalidBody");
    assert_error(admin("PUT", "/api/devices/d1", "{\"color\":\"red\"}"), 400, "InvalidBody");
    assert_error(admin("PUT", "/api/devices/d1", "{\"enabled\":\"yes\"}"), 400, "InvalidBody");
    assert_error(admin("PUT", "/api/devices/d1", "[1]"), 400, "InvalidBody");
    assert_error(admin("PUT", "/api/devices/bad%23id", "{}"), 400, "InvalidParameter");
    assert_error(admin("GET", "/api/devices/d1", NULL), 404, "DeviceNotFound");
    /* create with template */
    assert_int_equal(admin("PUT", "/api/devices/d1",
                           "{\"displayName\":\"Sensor 1\",\"template\":\"" TID "\","
                           "\"simulated\":false,\"organizations\":[\"lab\"]}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "id"), "d1");
    assert_string_equal(capi_jstr(R.json, "displayName"), "Sensor 1");
    assert_string_equal(capi_jstr(R.json, "template"), TID);
    assert_string_equal(capi_jstr(R.json, "status"), "registered");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "enabled")));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "provisioned")));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "connected")));
    /* unassociated */
    assert_int_equal(admin("PUT", "/api/devices/d2", "{}"), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "unassociated");
    assert_null(capi_jstr(R.json, "template"));
    /* credentials */
    assert_int_equal(admin("GET", "/api/devices/d1/credentials", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "idScope"), srv.id_scope);
    assert_non_null(capi_jstr(R.json, "symmetricKey.primaryKey"));
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "%s:%u", srv.hub_host, (unsigned)srv.mqtt_port);
    assert_string_equal(capi_jstr(R.json, "provisioningEndpoint"), endpoint);
    assert_non_null(capi_jstr(R.json, "symmetricKey.secondaryKey"));
    /* block / unblock */
    assert_int_equal(admin("PATCH", "/api/devices/d1", "{\"enabled\":false}"), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "blocked");
    assert_int_equal(admin("PATCH", "/api/devices/d1", "{\"enabled\":true}"), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "registered");
    assert_string_equal(capi_jstr(R.json, "displayName"), "Sensor 1"); /* PATCH keeps the rest */
    /* associate / unassociate by PATCH */
    assert_int_equal(admin("PATCH", "/api/devices/d2", "{\"template\":\"" TID "\"}"), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "registered");
    assert_int_equal(admin("PATCH", "/api/devices/d2", "{\"template\":null}"), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "unassociated");
    /* a template in use cannot be deleted */
    assert_error(admin("DELETE", "/api/deviceTemplates/" TID_URL, NULL), 409, "Conflict");
    /* components of a flat model: none */
    assert_int_equal(admin("GET", "/api/devices/d1/components", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "value")), 0);
    /* paging over 7 devices with $top=3 */
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/devices/page-%d", i);
        assert_int_equal(admin("PUT", path, "{}"), 200);
    }
    int seen = 0, pages = 0;
    char *next = NULL;
    assert_int_equal(admin("GET", "/api/devices?$top=3", NULL), 200);
    for (;;) {
        seen += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "value"));
        pages++;
        const char *nl = capi_jstr(R.json, "nextLink");
        if (nl == NULL)
            break;
        assert_non_null(strstr(nl, "$skiptoken="));
        free(next);
        next = strdup(nl);
        capi_resp_free(&R);
        assert_int_equal(
            capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET", next, NULL, 10000, &R),
            0);
        assert_int_equal(R.status, 200);
    }
    free(next);
    assert_int_equal(admin("GET", "/api/devices?$top=1000", NULL), 200);
    int all = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(R.json, "value"));
    assert_int_equal(seen, all);
    assert_true(all >= 7);
    assert_int_equal(pages, (all + 2) / 3);
    /* delete */
    assert_int_equal(admin("DELETE", "/api/devices/page-0", NULL), 204);
    assert_error(admin("GET", "/api/devices/page-0", NULL), 404, "DeviceNotFound");
    assert_error(admin("DELETE", "/api/devices/page-0", NULL), 404, "DeviceNotFound");
    /* an operator can manage devices */
    assert_int_equal(admin("PUT", "/api/apiTokens/op2", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    char op[600];
    snprintf(op, sizeof op, "%s", capi_jstr(R.json, "token"));
    assert_int_equal(req(op, "PUT", "/api/devices/op-made", "{\"template\":\"" TID "\"}"), 200);
    assert_int_equal(req(op, "DELETE", "/api/devices/op-made", NULL), 204);
    /* bounded bodies outside templates: 256 KiB */
    size_t big = 300 * 1024;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = '\0';
    assert_error(admin("PATCH", "/api/devices/d1", huge), 413, "RequestEntityTooLarge");
    free(huge);
}

/* ---------------------------------------------------------------- restart */

static void test_restart_keeps_application_data(void **state)
{
    (void)state;
    char op[600];
    assert_int_equal(admin("PUT", "/api/apiTokens/keep", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    snprintf(op, sizeof op, "%s", capi_jstr(R.json, "token"));
    assert_int_equal(admin("PUT", "/api/devices/keep-1",
                           "{\"displayName\":\"Kept\",\"template\":\"" TID
                           "\",\"simulated\":true}"),
                     200);
    assert_int_equal(admin("GET", "/api/deviceTemplates/tpl-a", NULL), 200);
    char *before = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(R.json, "views"));
    /* the writer thread commits within milliseconds; stop waits for it anyway */
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(req(op, "GET", "/api/devices/keep-1", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "Kept");
    assert_string_equal(capi_jstr(R.json, "template"), TID);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "simulated")));
    assert_int_equal(admin("GET", "/api/deviceTemplates/tpl-a", NULL), 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(R.json, "published")));
    char *after = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(R.json, "views"));
    assert_string_equal(before, after);
    assert_string_equal(capi_jstr(R.json, "customizations.state.trueName"), "Online");
    cJSON_free(before);
    cJSON_free(after);
    /* deleted tokens stay deleted */
    assert_int_equal(admin("DELETE", "/api/apiTokens/keep", NULL), 204);
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_error(req(op, "GET", "/api/devices", NULL), 401, "Unauthorized");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_and_api_version),
        cmocka_unit_test(test_every_endpoint_auth),
        cmocka_unit_test(test_api_tokens),
        cmocka_unit_test(test_templates_import_models),
        cmocka_unit_test(test_templates_malformed),
        cmocka_unit_test(test_templates_views_roundtrip_and_paging),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_restart_keeps_application_data),
    };
    return cmocka_run_group_tests_name("capi_api", tests, setup, teardown);
}
