/*
 * test_capi_dashboards.c - iotc's own /api/dashboards (docs/API.md "Dashboards") against a
 * real iotc-central: create, read, list, replace and delete a dashboard, the refusals of bad
 * bodies in words, an operator's writes, a dashboard kept across a restart, and the limit of
 * 100 dashboards.
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

#define HOME                                                                           \
    "{\"displayName\":\"Home\",\"tiles\":["                                            \
    "{\"type\":\"deviceCounts\",\"displayName\":\"Devices\"},"                         \
    "{\"type\":\"lastValue\",\"device\":\"env-01\",\"telemetry\":\"temp\"},"           \
    "{\"type\":\"templateChart\",\"template\":\"dtmi:x:y;1\",\"telemetry\":\"temp\"}," \
    "{\"type\":\"groupChart\"}]}"

static int array_size(const char *path)
{
    const cJSON *v = capi_jget(R.json, path);
    return cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
}

static void test_dashboard_crud(void **state)
{
    (void)state;
    assert_int_equal(admin("GET", "/api/dashboards", NULL), 200);
    assert_int_equal(array_size("value"), 0);
    assert_int_equal(admin("GET", "/api/dashboards/home", NULL), 404);
    assert_int_equal(admin("PUT", "/api/dashboards/home", HOME), 200);
    assert_string_equal(capi_jstr(R.json, "id"), "home");
    assert_string_equal(capi_jstr(R.json, "displayName"), "Home");
    assert_int_equal(array_size("tiles"), 4);
    assert_int_equal(admin("GET", "/api/dashboards/home", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "tiles.1.device"), "env-01");
    assert_string_equal(capi_jstr(R.json, "tiles.2.template"), "dtmi:x:y;1");
    /* replace: fewer tiles, no name (the id is the name) */
    assert_int_equal(
        admin("PUT", "/api/dashboards/home", "{\"tiles\":[{\"type\":\"deviceCounts\"}]}"), 200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "home");
    assert_int_equal(admin("GET", "/api/dashboards", NULL), 200);
    assert_int_equal(array_size("value"), 1);
    assert_int_equal(array_size("value.0.tiles"), 1);
    assert_int_equal(admin("DELETE", "/api/dashboards/home", NULL), 204);
    assert_int_equal(admin("GET", "/api/dashboards/home", NULL), 404);
    assert_int_equal(admin("DELETE", "/api/dashboards/home", NULL), 404);
    assert_int_equal(admin("PATCH", "/api/dashboards/home", "{}"), 405);
}

static void test_dashboard_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *path, *body, *says;
    } cases[] = {
        {"/api/dashboards/a", "[]", "$: expected a dashboard object"},
        {"/api/dashboards/a", "{\"color\":1}", "$.color: unknown dashboard field"},
        {"/api/dashboards/a", "{\"displayName\":5}", "$.displayName"},
        {"/api/dashboards/a", "{\"tiles\":{}}", "$.tiles: expected an array"},
        {"/api/dashboards/a", "{\"tiles\":[{\"type\":\"pie\"}]}", "$.tiles[0].type"},
        {"/api/dashboards/a",
         "{\"tiles\":[{\"type\":\"deviceCounts\"},{\"type\":\"lastValue\","
         "\"telemetry\":\"temp\"}]}",
         "$.tiles[1].device: required"},
        {"/api/dashboards/a", "{\"tiles\":[{\"type\":\"templateChart\",\"template\":\"t\"}]}",
         "$.tiles[0].telemetry: required"},
        {"/api/dashboards/a", "{\"tiles\":[{\"type\":\"lastValue\",\"device\":3}]}",
         "$.tiles[0].device: expected a string"},
        {"/api/dashboards/a", "{\"tiles\":[{\"type\":\"deviceCounts\",\"x\":\"y\"}]}",
         "$.tiles[0].x: unknown tile field"},
        {"/api/dashboards/a", "{\"id\":\"b\"}", "$.id"},
        {"/api/dashboards/a%20b", "{}", "$.id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(admin("PUT", cases[i].path, cases[i].body), 400);
        assert_string_equal(capi_jstr(R.json, "error.code"), "InvalidBody");
        const char *msg = capi_jstr(R.json, "error.message");
        assert_non_null(msg);
        if (strstr(msg, cases[i].says) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, msg, cases[i].says);
    }
    assert_int_equal(admin("GET", "/api/dashboards", NULL), 200);
    assert_int_equal(array_size("value"), 0);
}

static void test_dashboard_operator_and_restart(void **state)
{
    (void)state;
    char op[600];
    assert_int_equal(admin("PUT", "/api/apiTokens/ops", "{\"roles\":[{\"role\":\"operator\"}]}"),
                     200);
    snprintf(op, sizeof op, "%s", capi_jstr(R.json, "token"));
    assert_int_equal(req(op, "PUT", "/api/dashboards/home", HOME), 200);
    assert_int_equal(req(op, "GET", "/api/dashboards/home", NULL), 200);
    assert_int_equal(req("iotc-admin.wrong", "GET", "/api/dashboards/home", NULL), 401);
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(admin("GET", "/api/dashboards/home", NULL), 200);
    assert_int_equal(array_size("tiles"), 4);
    assert_string_equal(capi_jstr(R.json, "tiles.0.type"), "deviceCounts");
    /* a deletion is kept too */
    assert_int_equal(admin("DELETE", "/api/dashboards/home", NULL), 204);
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(admin("GET", "/api/dashboards/home", NULL), 404);
}

static void test_dashboard_limit(void **state)
{
    (void)state;
    char path[64];
    for (int i = 0; i < 100; i++) {
        snprintf(path, sizeof path, "/api/dashboards/d%d", i);
        assert_int_equal(admin("PUT", path, "{}"), 200);
    }
    assert_int_equal(admin("PUT", "/api/dashboards/one-more", "{}"), 409);
    assert_string_equal(capi_jstr(R.json, "error.code"), "Conflict");
    assert_non_null(strstr(capi_jstr(R.json, "error.message"), "at most 100 dashboards"));
    /* replacing one is not a new one; after a deletion there is room again */
    assert_int_equal(admin("PUT", "/api/dashboards/d7", HOME), 200);
    assert_int_equal(admin("DELETE", "/api/dashboards/d0", NULL), 204);
    assert_int_equal(admin("PUT", "/api/dashboards/one-more", "{}"), 200);
    assert_int_equal(admin("GET", "/api/dashboards", NULL), 200);
    assert_int_equal(array_size("value"), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dashboard_crud),
        cmocka_unit_test(test_dashboard_refusals),
        cmocka_unit_test(test_dashboard_operator_and_restart),
        cmocka_unit_test(test_dashboard_limit),
    };
    return cmocka_run_group_tests_name("capi_dashboards", tests, setup, teardown);
}
