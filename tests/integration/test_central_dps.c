/*
 * test_central_dps.c - DPS over MQTT/TLS against a real iotc-central (docs/PROTOCOL.md §4).
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

#include "../lib/harness.h"
#include "iotc/sas.h"

static struct th_central srv;

static int setup(void **state)
{
    (void)state;
    return th_central_start(&srv, NULL);
}

static int teardown(void **state)
{
    (void)state;
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

static void expected_hub(char *out, size_t size)
{
    snprintf(out, size, "%s:%u", srv.hub_host, srv.mqtt_port);
}

/* Every SDK's token spelling (§2.4) provisions a group device with its derived key. */
static void test_group_all_token_styles(void **state)
{
    (void)state;
    static const struct {
        int style;
        const char *reg;
    } cases[] = {
        {IOTC_SAS_DPS_CSDK, "grp-csdk-01"},
        {IOTC_SAS_DPS_PY, "grp-py-01"},
        {IOTC_SAS_DPS_NODE, "grp-node-01"},
    };
    char hub[300];
    expected_hub(hub, sizeof hub);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[64];
        struct th_dps_result r;
        assert_int_equal(th_derive_key(&srv, cases[i].reg, key, sizeof key), 0);
        assert_int_equal(th_dps_register(&srv, cases[i].reg, key, cases[i].style,
                                         "{\"modelId\":\"dtmi:com:example:Thermostat;1\"}", &r),
                         0);
        assert_int_equal(r.connack, 0);
        assert_int_equal(r.register_status, 202);
        assert_int_equal(r.retry_after, 1);
        assert_int_equal(r.final_status, 200);
        assert_string_equal(r.status, "assigned");
        assert_string_equal(r.assigned_hub, hub);
        assert_string_equal(r.device_id, cases[i].reg);

        /* The self-registered device now connects to the hub with the same derived key. */
        struct th_mqtt m;
        assert_int_equal(th_hub_connect(&m, &srv, cases[i].reg, key), 0);
        th_mqtt_close(&m);
    }
    /* modelId of the payload is recorded on the device (service API view). */
    struct th_http_response resp;
    assert_int_equal(th_https(&srv, "GET", "/devices/grp-py-01?api-version=2021-04-12", NULL, NULL,
                              true, 5000, &resp),
                     0);
    assert_int_equal(resp.status, 200);
    cJSON *o = cJSON_Parse(resp.body);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "modelId");
    assert_true(cJSON_IsString(model));
    assert_string_equal(model->valuestring, "dtmi:com:example:Thermostat;1");
    cJSON_Delete(o);
    free(resp.body);
    assert_true(th_central_log_contains(&srv, "dps: registration grp-node-01 -> assigned", 2000));
}

static void test_bad_key_refused(void **state)
{
    (void)state;
    static const char *const wrong_keys[] = {
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", /* valid base64, wrong key */
        "bm90IHRoZSBrZXkgYXQgYWxs",
    };
    for (size_t i = 0; i < 2; i++) {
        struct th_dps_result r;
        assert_int_equal(
            th_dps_register(&srv, "grp-bad-01", wrong_keys[i], IOTC_SAS_DPS_PY, NULL, &r), 0);
        assert_int_equal(r.connack, 5);
    }
    /* A derived key for another registration id does not work either. */
    char other[64];
    struct th_dps_result r;
    assert_int_equal(th_derive_key(&srv, "someone-else", other, sizeof other), 0);
    assert_int_equal(th_dps_register(&srv, "grp-bad-02", other, IOTC_SAS_DPS_CSDK, NULL, &r), 0);
    assert_int_equal(r.connack, 5);
    assert_true(th_central_log_contains(&srv, "SAS signature does not verify", 2000));
}

static void test_wrong_scope_and_expired(void **state)
{
    (void)state;
    char key[64], token[600];
    assert_int_equal(th_derive_key(&srv, "grp-scope-01", key, sizeof key), 0);
    struct th_mqtt m;
    /* Expired token. */
    assert_int_equal(th_dps_token(&srv, "grp-scope-01", key, IOTC_SAS_DPS_PY, th_now() - 10, token,
                                  sizeof token),
                     0);
    char user[300];
    snprintf(user, sizeof user, "%s/registrations/grp-scope-01/api-version=2019-03-31",
             srv.id_scope);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "grp-scope-01", user, token, 60, true), 5);
    assert_true(th_mqtt_wait_closed(&m, 3000));
    th_mqtt_close(&m);
    /* Another ID scope. */
    assert_int_equal(th_dps_token(&srv, "grp-scope-01", key, IOTC_SAS_DPS_PY, th_now() + 600, token,
                                  sizeof token),
                     0);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(
        th_mqtt_connect(&m, "grp-scope-01",
                        "0ne00000000/registrations/grp-scope-01/api-version=2019-03-31", token, 60,
                        true),
        5);
    th_mqtt_close(&m);
    assert_true(th_central_log_contains(&srv, "SAS token expired", 2000));
}

static int create_device(const char *id, const char *pk, const char *sk, bool enabled)
{
    return th_put_device(&srv, id, pk, sk, enabled);
}

static const char k1[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
static const char k2[] = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/* Individual enrollment: a registered device provisions with its own primary or secondary key. */
static void test_individual_enrollment(void **state)
{
    (void)state;
    assert_int_equal(create_device("ind-01", k1, k2, true), 200);
    char hub[300];
    expected_hub(hub, sizeof hub);
    const char *keys[] = {k1, k2};
    for (int i = 0; i < 2; i++) {
        struct th_dps_result r;
        assert_int_equal(th_dps_register(&srv, "ind-01", keys[i], IOTC_SAS_DPS_NODE, NULL, &r), 0);
        assert_int_equal(r.connack, 0);
        assert_int_equal(r.final_status, 200);
        assert_string_equal(r.status, "assigned");
        assert_string_equal(r.device_id, "ind-01");
        assert_string_equal(r.assigned_hub, hub);
    }
    struct th_dps_result r;
    assert_int_equal(th_dps_register(&srv, "ind-01", "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc=",
                                     IOTC_SAS_DPS_NODE, NULL, &r),
                     0);
    assert_int_equal(r.connack, 5);
}

static int device_status(const char *id)
{
    char path[200];
    struct th_http_response resp;
    snprintf(path, sizeof path, "/devices/%s?api-version=2021-04-12", id);
    assert_int_equal(th_https(&srv, "GET", path, NULL, NULL, true, 5000, &resp), 0);
    free(resp.body);
    return resp.status;
}

/* DPS compares registration ids ignoring case and lower-cases them (§4.2): Dev-Case and then
 * dev-case are one device, dev-case, and each spelling's derived key reaches the hub. An
 * individual enrollment with capitals resolves to that device whatever case the device sends. */
static void test_registration_id_case(void **state)
{
    (void)state;
    static const char *const spellings[] = {"Dev-Case", "dev-case", "DEV-CASE"};
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        char key[64];
        struct th_dps_result r;
        assert_int_equal(th_derive_key(&srv, spellings[i], key, sizeof key), 0);
        assert_int_equal(th_dps_register(&srv, spellings[i], key, IOTC_SAS_DPS_NODE, NULL, &r), 0);
        assert_int_equal(r.connack, 0);
        assert_int_equal(r.final_status, 200);
        assert_string_equal(r.status, "assigned");
        assert_string_equal(r.device_id, "dev-case");
        struct th_mqtt m;
        assert_int_equal(th_hub_connect(&m, &srv, r.device_id, key), 0);
        th_mqtt_close(&m);
    }
    assert_int_equal(device_status("dev-case"), 200);
    assert_int_equal(device_status("Dev-Case"), 404);
    assert_int_equal(device_status("DEV-CASE"), 404);

    assert_int_equal(create_device("Ind-Upper", k1, k2, true), 200);
    struct th_dps_result r;
    assert_int_equal(th_dps_register(&srv, "ind-upper", k1, IOTC_SAS_DPS_NODE, NULL, &r), 0);
    assert_int_equal(r.connack, 0);
    assert_string_equal(r.status, "assigned");
    assert_string_equal(r.device_id, "Ind-Upper");
    assert_int_equal(device_status("ind-upper"), 404);
}

/* A blocked (disabled) device authenticates but its registration ends "disabled". */
static void test_blocked_device(void **state)
{
    (void)state;
    assert_int_equal(create_device("blocked-01", k1, k2, false), 200);
    struct th_dps_result r;
    assert_int_equal(th_dps_register(&srv, "blocked-01", k1, IOTC_SAS_DPS_PY, NULL, &r), 0);
    assert_int_equal(r.connack, 0);
    assert_int_equal(r.register_status, 202);
    assert_int_equal(r.final_status, 200);
    assert_string_equal(r.status, "disabled");
    assert_string_equal(r.assigned_hub, "");
    /* ... and the hub refuses it. */
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &srv, "blocked-01", k1), 5);
    th_mqtt_close(&m);
}

/* Poll for an unknown operation: 404 with DPS's JSON error body; bad topics close. */
static void test_unknown_operation_and_topic(void **state)
{
    (void)state;
    char key[64], token[600], user[300];
    assert_int_equal(th_derive_key(&srv, "grp-op-01", key, sizeof key), 0);
    assert_int_equal(th_dps_token(&srv, "grp-op-01", key, IOTC_SAS_DPS_CSDK, th_now() + 600, token,
                                  sizeof token),
                     0);
    snprintf(user, sizeof user, "%s/registrations/grp-op-01/api-version=2019-03-31", srv.id_scope);
    struct th_mqtt m;
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "grp-op-01", user, token, 60, true), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$dps/registrations/res/#", 2), 1);
    const char *poll =
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId=4.nope.nope";
    assert_true(th_mqtt_publish(&m, poll, "", 0, 0) >= 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_int_equal(p.publish.topic.len, strlen("$dps/registrations/res/404/?$rid=7"));
    assert_memory_equal(p.publish.topic.ptr, "$dps/registrations/res/404/?$rid=7",
                        p.publish.topic.len);
    cJSON *o = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    assert_non_null(o);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "errorCode")));
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "trackingId")));
    cJSON_Delete(o);
    /* A hub topic on a DPS connection is refused by closing. */
    assert_true(th_mqtt_publish(&m, "devices/grp-op-01/messages/events/", "x", 1, 0) >= 0);
    assert_true(th_mqtt_wait_closed(&m, 3000));
    th_mqtt_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_all_token_styles),
        cmocka_unit_test(test_bad_key_refused),
        cmocka_unit_test(test_wrong_scope_and_expired),
        cmocka_unit_test(test_individual_enrollment),
        cmocka_unit_test(test_registration_id_case),
        cmocka_unit_test(test_blocked_device),
        cmocka_unit_test(test_unknown_operation_and_topic),
    };
    return cmocka_run_group_tests_name("central_dps", tests, setup, teardown);
}
