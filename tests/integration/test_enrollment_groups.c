/*
 * test_enrollment_groups.c - /api/enrollmentGroups against a real iotc-central (docs/API.md):
 * the SAS-IoT-Devices group and its keys for administrators only, regenerating a key, what a
 * new key means for DPS (new registrations need it, old derived keys are refused) and for the
 * hub (devices already registered keep connecting), and that the new key survives a restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "../lib/harness.h"
#include "iotc/codec.h"
#include "iotc/sas.h"

#define V "api-version=2022-07-31"
#define GROUP "SAS-IoT-Devices"
#define GROUP_PATH "/api/enrollmentGroups/" GROUP

static struct th_central srv;
static struct capi_resp R;
static char operator_token[512];

static long req(const char *auth, const char *method, const char *path)
{
    char target[1024];
    capi_resp_free(&R);
    snprintf(target, sizeof target, "%s%s" V, path, strchr(path, '?') ? "&" : "?");
    if (capi_http(srv.ca_path, srv.https_port, auth, method, target, NULL, 15000, &R) < 0)
        return -1;
    return R.status;
}

static void assert_error(long status, long want_status, const char *code)
{
    assert_int_equal(status, want_status);
    assert_non_null(R.json);
    assert_string_equal(capi_jstr(R.json, "error.code"), code);
    assert_string_equal(R.error_code, code);
    assert_non_null(capi_jstr(R.json, "error.message"));
}

/* The group object as docs/PROTOCOL.md §8 shapes it, with the keys the test expects. */
static void assert_group(const cJSON *g, const char *primary, const char *secondary)
{
    assert_non_null(g);
    assert_string_equal(capi_jstr(g, "id"), GROUP);
    assert_string_equal(capi_jstr(g, "displayName"), GROUP);
    assert_string_equal(capi_jstr(g, "type"), "iot");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "enabled")));
    assert_string_equal(capi_jstr(g, "attestation.type"), "symmetricKey");
    assert_string_equal(capi_jstr(g, "attestation.symmetricKey.primaryKey"), primary);
    assert_string_equal(capi_jstr(g, "attestation.symmetricKey.secondaryKey"), secondary);
    assert_non_null(capi_jstr(g, "etag"));
}

/* A generated group key: base64 of 64 bytes, as IoT Central's (and DPS's) own. */
static void assert_key_shape(const char *key)
{
    unsigned char raw[80];
    size_t len = 0;
    assert_non_null(key);
    assert_int_equal(iotc_base64_decode(iotc_span_from_cstr(key), raw, sizeof raw, &len), IOTC_OK);
    assert_int_equal(len, 64);
}

static void derive(const char *group_key, const char *reg_id, char *out, size_t size)
{
    size_t len;
    assert_int_equal(iotc_sas_derive_device_key(iotc_span_from_cstr(group_key),
                                                iotc_span_from_cstr(reg_id), out, size, &len),
                     IOTC_OK);
}

/* DPS registration of @p reg_id signed with @p key: the CONNACK code, and "assigned" checked
 * when it is 0. */
static int dps(const char *reg_id, const char *key)
{
    struct th_dps_result r;
    assert_int_equal(th_dps_register(&srv, reg_id, key, IOTC_SAS_DPS_CSDK, NULL, &r), 0);
    if (r.connack == 0) {
        assert_int_equal(r.final_status, 200);
        assert_string_equal(r.status, "assigned");
        assert_string_equal(r.device_id, reg_id);
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

static int setup(void **state)
{
    (void)state;
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    /* an operator token */
    char target[256];
    snprintf(target, sizeof target, "/api/apiTokens/ops?" V);
    if (capi_http(srv.ca_path, srv.https_port, srv.admin_token, "PUT", target,
                  "{\"roles\":[{\"role\":\"operator\"}]}", 15000, &R) < 0 ||
        R.status != 200 || capi_jstr(R.json, "token") == NULL)
        return -1;
    snprintf(operator_token, sizeof operator_token, "%s", capi_jstr(R.json, "token"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* Administrators read the group with its keys; operators and anonymous callers do not. */
static void test_get_and_roles(void **state)
{
    (void)state;
    assert_int_equal(req(srv.admin_token, "GET", "/api/enrollmentGroups"), 200);
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(R.json, "value");
    assert_int_equal(cJSON_GetArraySize(value), 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(R.json, "nextLink"));
    assert_group(cJSON_GetArrayItem(value, 0), srv.group_primary_key, srv.group_secondary_key);
    assert_key_shape(srv.group_primary_key);
    assert_key_shape(srv.group_secondary_key);

    assert_int_equal(req(srv.admin_token, "GET", GROUP_PATH), 200);
    assert_group(R.json, srv.group_primary_key, srv.group_secondary_key);
    assert_error(req(srv.admin_token, "GET", "/api/enrollmentGroups/sas-iot-devices"), 404,
                 "EnrollmentGroupNotFound");
    assert_error(req(srv.admin_token, "POST",
                     "/api/enrollmentGroups/other/regenerateKey"
                     "?keyType=primary"),
                 404, "EnrollmentGroupNotFound");

    static const struct {
        const char *method;
        const char *path;
    } admin_only[] = {
        {"GET", "/api/enrollmentGroups"},
        {"GET", GROUP_PATH},
        {"POST", GROUP_PATH "/regenerateKey?keyType=primary"},
        {"POST", GROUP_PATH "/regenerateKey?keyType=secondary"},
    };
    for (size_t i = 0; i < sizeof admin_only / sizeof admin_only[0]; i++) {
        assert_error(req(operator_token, admin_only[i].method, admin_only[i].path), 403,
                     "Forbidden");
        assert_error(req(NULL, admin_only[i].method, admin_only[i].path), 401, "Unauthorized");
    }
    /* the refused regenerations changed nothing */
    assert_int_equal(req(srv.admin_token, "GET", GROUP_PATH), 200);
    assert_group(R.json, srv.group_primary_key, srv.group_secondary_key);

    /* bad requests */
    assert_error(req(srv.admin_token, "POST", GROUP_PATH "/regenerateKey"), 400,
                 "InvalidParameter");
    assert_error(req(srv.admin_token, "POST", GROUP_PATH "/regenerateKey?keyType=tertiary"), 400,
                 "InvalidParameter");
    assert_error(req(srv.admin_token, "GET", GROUP_PATH "/regenerateKey?keyType=primary"), 405,
                 "MethodNotAllowed");
    assert_error(req(srv.admin_token, "POST", GROUP_PATH), 405, "MethodNotAllowed");
    assert_int_equal(req(srv.admin_token, "GET", GROUP_PATH), 200);
    assert_group(R.json, srv.group_primary_key, srv.group_secondary_key);
}

/* Regenerating the primary key: new DPS registrations need the new key, a device registered
 * before keeps its hub connection and its stored key, and re-registers with the new key. */
static void test_regenerate_primary(void **state)
{
    (void)state;
    char old_primary[96], old_etag[64], k_old[64], k_new[64], k_sec[64];
    snprintf(old_primary, sizeof old_primary, "%s", srv.group_primary_key);

    /* a device registered through the group before the change, connected to the hub */
    derive(old_primary, "before-1", k_old, sizeof k_old);
    assert_int_equal(dps("before-1", k_old), 0);
    struct th_mqtt live;
    assert_int_equal(th_hub_connect(&live, &srv, "before-1", k_old), 0);

    assert_int_equal(req(srv.admin_token, "GET", GROUP_PATH), 200);
    snprintf(old_etag, sizeof old_etag, "%s", capi_jstr(R.json, "etag"));
    assert_int_equal(req(srv.admin_token, "POST", GROUP_PATH "/regenerateKey?keyType=primary"),
                     200);
    const char *np = capi_jstr(R.json, "attestation.symmetricKey.primaryKey");
    assert_non_null(np);
    assert_string_not_equal(np, old_primary);
    assert_key_shape(np);
    assert_group(R.json, np, srv.group_secondary_key);
    assert_string_not_equal(capi_jstr(R.json, "etag"), old_etag);
    snprintf(srv.group_primary_key, sizeof srv.group_primary_key, "%s", np);
    assert_int_equal(req(srv.admin_token, "GET", GROUP_PATH), 200);
    assert_group(R.json, srv.group_primary_key, srv.group_secondary_key);

    /* the web UI's Administration endpoint shows it too */
    capi_resp_free(&R);
    assert_int_equal(capi_http(srv.ca_path, srv.https_port, srv.admin_token, "GET",
                               "/ui/api/application", NULL, 15000, &R),
                     0);
    assert_int_equal(R.status, 200);
    assert_string_equal(capi_jstr(R.json, "enrollmentGroup.primaryKey"), srv.group_primary_key);

    /* app.json holds the new key, mode 0600, no temporary file left */
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/app.json", srv.data_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_non_null(strstr(buf, srv.group_primary_key));
    assert_null(strstr(buf, old_primary));
    snprintf(path, sizeof path, "%s/app.json.tmp", srv.data_dir);
    assert_int_not_equal(access(path, F_OK), 0);

    /* the hub connection made before the change is still served */
    int pid = th_mqtt_publish(&live, "devices/before-1/messages/events/", "{\"t\":1}", 7, 1);
    assert_true(pid > 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&live, IOTC_MQTT_PUBACK, &p, 5000), 0);
    assert_int_equal(p.packet_id, pid);
    th_mqtt_close(&live);
    /* and the device connects again with its stored (old-derived) key */
    assert_int_equal(hub("before-1", k_old), 0);

    /* new registrations: the old group key is refused, the new one assigns */
    derive(old_primary, "after-1", k_old, sizeof k_old);
    assert_int_equal(dps("after-1", k_old), 5);
    assert_true(th_central_log_contains(&srv, "SAS signature does not verify", 5000));
    derive(srv.group_primary_key, "after-1", k_new, sizeof k_new);
    assert_int_equal(dps("after-1", k_new), 0);
    assert_int_equal(hub("after-1", k_new), 0);
    assert_int_equal(hub("after-1", k_old), 5);
    /* the secondary key did not change and still registers devices */
    derive(srv.group_secondary_key, "after-2", k_sec, sizeof k_sec);
    assert_int_equal(dps("after-2", k_sec), 0);
    assert_int_equal(hub("after-2", k_sec), 0);

    /* the device registered before: re-registering needs the new key, and then its hub
     * identity takes the new derived keys */
    derive(old_primary, "before-1", k_old, sizeof k_old);
    assert_int_equal(dps("before-1", k_old), 5);
    assert_int_equal(hub("before-1", k_old), 0);
    derive(srv.group_primary_key, "before-1", k_new, sizeof k_new);
    assert_int_equal(dps("before-1", k_new), 0);
    assert_int_equal(hub("before-1", k_new), 0);
    assert_int_equal(hub("before-1", k_old), 5);
}

/* Regenerating the secondary key; both keys survive a restart. */
static void test_regenerate_secondary_persists(void **state)
{
    (void)state;
    char old_secondary[96], primary[96], secondary[96], k[64];
    snprintf(old_secondary, sizeof old_secondary, "%s", srv.group_secondary_key);
    snprintf(primary, sizeof primary, "%s", srv.group_primary_key);
    assert_int_equal(req(srv.admin_token, "POST", GROUP_PATH "/regenerateKey?keyType=Secondary"),
                     200);
    const char *ns = capi_jstr(R.json, "attestation.symmetricKey.secondaryKey");
    assert_non_null(ns);
    assert_string_not_equal(ns, old_secondary);
    assert_key_shape(ns);
    assert_group(R.json, primary, ns);
    snprintf(secondary, sizeof secondary, "%s", ns);

    assert_int_equal(th_central_restart(&srv, NULL), 0);
    /* the harness re-read app.json */
    assert_string_equal(srv.group_primary_key, primary);
    assert_string_equal(srv.group_secondary_key, secondary);
    assert_int_equal(req(srv.admin_token, "GET", GROUP_PATH), 200);
    assert_group(R.json, primary, secondary);

    derive(old_secondary, "restart-1", k, sizeof k);
    assert_int_equal(dps("restart-1", k), 5);
    derive(secondary, "restart-1", k, sizeof k);
    assert_int_equal(dps("restart-1", k), 0);
    assert_int_equal(hub("restart-1", k), 0);
    /* devices registered before both changes still connect after the restart */
    derive(old_secondary, "after-2", k, sizeof k);
    assert_int_equal(hub("after-2", k), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_roles),
        cmocka_unit_test(test_regenerate_primary),
        cmocka_unit_test(test_regenerate_secondary_persists),
    };
    return cmocka_run_group_tests_name("enrollment_groups", tests, setup, teardown);
}
