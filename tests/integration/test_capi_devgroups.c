/*
 * test_capi_devgroups.c - /api/deviceGroups as IoT Central's 2022-07-31 API has them, against a
 * real iotc-central and real libiotc devices: the documented example group, its devices as they
 * change (a device joins once it provisioned over DPS, one that announces the model joins
 * itself, one leaves when its template changes), paging with nextLink, PATCH and DELETE, the
 * refusals in words (the unsupported part named), an operator's rights, a group across a restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../lib/capi_http.h"
#include "device_util.h"

#define TID "dtmi:iotc:example:EnvironmentalSensor;1"
#define TID_URL "dtmi%3Aiotc%3Aexample%3AEnvironmentalSensor%3B1"
#define EXAMPLE                                                                        \
    "{\"displayName\":\"Environmental sensors\",\"description\":\"provisioned ones\"," \
    "\"filter\":\"SELECT * FROM devices WHERE $template = \\\"" TID "\\\" AND "        \
    "$provisioned = true\",\"organizations\":[]}"

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

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (th_central_start(&srv, NULL) < 0)
        return -1;
    char *doc = th_repo_file("models/environmental-sensor.dtdlv2.json");
    if (doc == NULL)
        return -1;
    size_t len = strlen(doc) + 256;
    char *body = malloc(len);
    snprintf(body, len, "{\"displayName\":\"Environmental sensor\",\"capabilityModel\":%s}", doc);
    long st = admin("PUT", "/api/deviceTemplates/" TID_URL, body);
    free(body);
    free(doc);
    return st == 200 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* The ids of GET /api/deviceGroups/{id}/devices, every page followed, sorted, comma-joined. */
static void members(const char *group, char *out, size_t size)
{
    char path[512], ids[64][64];
    size_t n = 0;
    snprintf(path, sizeof path, "/api/deviceGroups/%s/devices", group);
    out[0] = '\0';
    for (int page = 0; page < 64; page++) {
        assert_int_equal(admin("GET", path, NULL), 200);
        const cJSON *v;
        cJSON_ArrayForEach(v, capi_jget(R.json, "value"))
        {
            if (n < 64)
                snprintf(ids[n++], sizeof ids[0], "%s", capi_jstr(v, "id"));
        }
        const char *next = capi_jstr(R.json, "nextLink");
        if (next == NULL)
            break;
        /* the nextLink is absolute: keep its path and query, drop the api-version (re-added) */
        const char *p = strstr(next, "/api/");
        assert_non_null(p);
        const char *q = strstr(p, "&$top");
        assert_non_null(q);
        snprintf(path, sizeof path, "%.*s?%s", (int)(strchr(p, '?') - p), p, q + 1);
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort */
        for (size_t j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0; j--) {
            char t[64];
            memcpy(t, ids[j], sizeof t);
            memcpy(ids[j], ids[j - 1], sizeof t);
            memcpy(ids[j - 1], t, sizeof t);
        }
    }
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", ids[i]);
}

/* Wait until the group's members are @p want (devices provision asynchronously). */
static bool members_become(const char *group, const char *want)
{
    char got[1024];
    for (int i = 0; i < 100; i++) {
        members(group, got, sizeof got);
        if (strcmp(got, want) == 0)
            return true;
        du_sleep_ms(100);
    }
    fprintf(stderr, "group %s: members '%s', wanted '%s'\n", group, got, want);
    return false;
}

static void test_devgroup_crud(void **state)
{
    (void)state;
    assert_int_equal(admin("PUT", "/api/deviceGroups/env-group", EXAMPLE), 200);
    assert_string_equal(capi_jstr(R.json, "id"), "env-group");
    assert_string_equal(capi_jstr(R.json, "displayName"), "Environmental sensors");
    assert_string_equal(capi_jstr(R.json, "filter"),
                        "SELECT * FROM devices WHERE $template = \"" TID
                        "\" AND $provisioned = true");
    assert_string_equal(capi_jstr(R.json, "description"), "provisioned ones");
    assert_true(cJSON_IsArray(capi_jget(R.json, "organizations")));
    assert_int_equal(admin("GET", "/api/deviceGroups/env-group", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "Environmental sensors");
    assert_int_equal(admin("GET", "/api/deviceGroups", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "value.0.id"), "env-group");
    assert_null(capi_jget(R.json, "value.1"));
    /* PATCH changes what it names, keeps the rest; null removes a member */
    assert_int_equal(admin("PATCH", "/api/deviceGroups/env-group",
                           "{\"displayName\":\"Sensors\",\"description\":null}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "Sensors");
    assert_null(capi_jget(R.json, "description"));
    assert_non_null(strstr(capi_jstr(R.json, "filter"), "$provisioned = true"));
    assert_int_equal(admin("PATCH", "/api/deviceGroups/nope", "{\"displayName\":\"x\"}"), 404);
    assert_string_equal(capi_jstr(R.json, "error.code"), "DeviceGroupNotFound");
    assert_int_equal(admin("DELETE", "/api/deviceGroups/env-group", NULL), 204);
    assert_int_equal(admin("GET", "/api/deviceGroups/env-group", NULL), 404);
    assert_int_equal(admin("GET", "/api/deviceGroups/env-group/devices", NULL), 404);
    assert_int_equal(admin("DELETE", "/api/deviceGroups/env-group", NULL), 404);
}

static void start_device(struct du_client *d, const char *id, const char *model)
{
    struct iotc_config cfg;
    static char ep[4][64];
    static int k;
    du_dps_config(&cfg, &srv, id, ep[k++ % 4], sizeof ep[0]);
    cfg.model_id = model;
    assert_int_equal(du_start(d, &cfg, false), 0);
    assert_int_equal(du_run(d), 0);
    assert_true(du_wait_connected(d, 1, 15000));
}

static void test_devgroup_membership(void **state)
{
    (void)state;
    static struct du_client a, b; /* static: see device_util.h */
    char got[1024];
    assert_int_equal(admin("PUT", "/api/deviceGroups/env-group", EXAMPLE), 200);
    assert_int_equal(admin("PUT", "/api/deviceGroups/sim",
                           "{\"displayName\":\"Simulated\",\"filter\":\"SELECT * FROM devices "
                           "WHERE $simulated = true OR $id = 'zz-9'\"}"),
                     200);
    /* created through the API with the template: not provisioned yet, not a member */
    assert_int_equal(admin("PUT", "/api/devices/grp-a", "{\"template\":\"" TID "\"}"), 200);
    assert_int_equal(admin("PUT", "/api/devices/zz-9", "{\"displayName\":\"nine\"}"), 200);
    members("env-group", got, sizeof got);
    assert_string_equal(got, "");
    members("sim", got, sizeof got);
    assert_string_equal(got, "zz-9");
    /* grp-a provisions over DPS: it joins; grp-b announces the model: associated, joins */
    start_device(&a, "grp-a", NULL);
    assert_true(members_become("env-group", "grp-a"));
    start_device(&b, "grp-b", TID);
    assert_true(members_become("env-group", "grp-a,grp-b"));
    /* a change of the device moves it: simulated joins "sim", a template change leaves */
    assert_int_equal(admin("PATCH", "/api/devices/grp-b", "{\"simulated\":true}"), 200);
    members("sim", got, sizeof got);
    assert_string_equal(got, "grp-b,zz-9");
    assert_int_equal(admin("PATCH", "/api/devices/grp-a", "{\"template\":null}"), 200);
    members("env-group", got, sizeof got);
    assert_string_equal(got, "grp-b");
    /* paging: 1 per page, nextLink followed (members() does) */
    assert_int_equal(admin("GET", "/api/deviceGroups/sim/devices?$top=1", NULL), 200);
    assert_null(capi_jget(R.json, "value.1"));
    assert_non_null(capi_jstr(R.json, "nextLink"));
    assert_non_null(strstr(capi_jstr(R.json, "nextLink"), "/api/deviceGroups/sim/devices"));
    /* a deleted device leaves */
    du_stop(&a);
    assert_int_equal(admin("DELETE", "/api/devices/zz-9", NULL), 204);
    members("sim", got, sizeof got);
    assert_string_equal(got, "grp-b");
    du_stop(&b);
}

static void test_devgroup_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int status;
        const char *says;
    } cases[] = {
        {"{\"displayName\":\"x\",\"filter\":\"SELECT * FROM devices WHERE $status = 'a'\"}", 400,
         "unsupported field at position 29: '$status'"},
        {"{\"displayName\":\"x\",\"filter\":\"SELECT $id FROM devices\"}", 400, "only SELECT *"},
        {"{\"displayName\":\"x\",\"filter\":\"SELECT * FROM devices WHERE $id > 'a'\"}", 400,
         "unsupported operator"},
        {"{\"displayName\":\"x\",\"filter\":\"SELECT * FROM devices WHERE $provisioned = 1\"}", 400,
         "true or false"},
        {"{\"displayName\":\"x\"}", 400, "$.filter: required"},
        {"{\"filter\":\"SELECT * FROM devices\"}", 400, "$.displayName: required"},
        {"{\"displayName\":\"x\",\"filter\":\"SELECT * FROM devices\",\"color\":1}", 400,
         "$.color: unknown"},
        {"{\"displayName\":\"x\",\"filter\":\"SELECT * FROM devices\",\"organizations\":[1]}", 400,
         "$.organizations"},
        {"[]", 400, "device group object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(admin("PUT", "/api/deviceGroups/bad", cases[i].body), cases[i].status);
        const char *msg = capi_jstr(R.json, "error.message");
        if (msg == NULL || strstr(msg, cases[i].says) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, msg ? msg : "(none)",
                     cases[i].says);
    }
    assert_int_equal(admin("PUT", "/api/deviceGroups/a%20b",
                           "{\"displayName\":\"x\",\"filter\":\"SELECT * FROM devices\"}"),
                     400);
    assert_int_equal(admin("GET", "/api/deviceGroups/bad", NULL), 404);
}

static void test_devgroup_operator_and_restart(void **state)
{
    (void)state;
    char op[600];
    assert_int_equal(admin("PUT", "/api/apiTokens/ops", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    snprintf(op, sizeof op, "%s", capi_jstr(R.json, "token"));
    assert_int_equal(admin("PUT", "/api/deviceGroups/all",
                           "{\"displayName\":\"All\",\"filter\":\"SELECT * FROM devices\"}"),
                     200);
    assert_int_equal(req(op, "GET", "/api/deviceGroups/all", NULL), 200);
    assert_int_equal(req(op, "GET", "/api/deviceGroups/all/devices", NULL), 200);
    assert_int_equal(req(op, "PUT", "/api/deviceGroups/mine",
                         "{\"displayName\":\"x\",\"filter\":\"SELECT * FROM devices\"}"),
                     403);
    assert_int_equal(req(op, "DELETE", "/api/deviceGroups/all", NULL), 403);
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(admin("GET", "/api/deviceGroups/all", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "filter"), "SELECT * FROM devices");
    assert_string_equal(capi_jstr(R.json, "etag"), "\"1\"");
    assert_int_equal(admin("GET", "/api/deviceGroups/env-group", NULL), 200);
    assert_int_equal(admin("DELETE", "/api/deviceGroups/all", NULL), 204);
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(admin("GET", "/api/deviceGroups/all", NULL), 404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devgroup_crud),
        cmocka_unit_test(test_devgroup_membership),
        cmocka_unit_test(test_devgroup_refusals),
        cmocka_unit_test(test_devgroup_operator_and_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
