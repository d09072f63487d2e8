/*
 * test_audit_dps.c - DPS answers in DPS's own shape (docs/PROTOCOL.md §4.5, §4.6): error bodies
 * {errorCode (status * 1000 + n), trackingId, message, timestampUtc} on a status topic with
 * $rid first; a registration id outside DPS's rules is refused with 400004 and creates nothing.
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

/* CONNECT to DPS as @p reg with its group-derived key (Node token style) and subscribe. */
static void dps_open(struct th_mqtt *m, const char *reg)
{
    char key[64], token[600], user[400];
    assert_int_equal(th_derive_key(&srv, reg, key, sizeof key), 0);
    assert_int_equal(
        th_dps_token(&srv, reg, key, IOTC_SAS_DPS_NODE, th_now() + 600, token, sizeof token), 0);
    snprintf(user, sizeof user,
             "%s/registrations/%s/api-version=2019-03-31&ClientVersion=azure-iot-provisioning-"
             "device%%2F1.9.2",
             srv.id_scope, reg);
    assert_int_equal(th_mqtt_open(m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(m, reg, user, token, 60, true), 0);
    assert_int_equal(th_mqtt_subscribe(m, "$dps/registrations/res/#", 1), 1);
}

/* Publish @p body to @p topic, read the response: its topic into @p topic_out, body parsed. */
static cJSON *exchange(struct th_mqtt *m, const char *topic, const char *body, char *topic_out,
                       size_t size)
{
    struct iotc_mqtt_packet p;
    assert_true(th_mqtt_publish(m, topic, body, strlen(body), 1) > 0);
    assert_int_equal(th_mqtt_expect(m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    snprintf(topic_out, size, "%.*s", (int)p.publish.topic.len, p.publish.topic.ptr);
    cJSON *o = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    if (o == NULL)
        fail_msg("response to %s is not JSON: %.*s", topic, (int)p.publish.payload.len,
                 p.publish.payload.ptr);
    return o;
}

static void check_error_body(const cJSON *o, int status)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "errorCode");
    assert_true(cJSON_IsNumber(code));
    assert_int_equal(code->valueint / 1000, status); /* C-SDK: status = errorCode / 1000 */
    static const char *const strings[] = {"trackingId", "message", "timestampUtc"};
    for (size_t i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, strings[i]);
        if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
            fail_msg("error body lacks %s", strings[i]);
    }
    const char *ts = cJSON_GetObjectItemCaseSensitive(o, "timestampUtc")->valuestring;
    assert_true(strlen(ts) >= 20 && ts[4] == '-' && ts[10] == 'T' && ts[strlen(ts) - 1] == 'Z');
}

static void test_dps_error_shapes(void **state)
{
    (void)state;
    struct th_mqtt m;
    char topic[300];
    dps_open(&m, "aud-dps-err");
    /* Malformed register body: 400 / 400004. */
    cJSON *o = exchange(&m, "$dps/registrations/PUT/iotdps-register/?$rid=e1", "{nope", topic,
                        sizeof topic);
    assert_string_equal(topic, "$dps/registrations/res/400/?$rid=e1");
    check_error_body(o, 400);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "errorCode")->valueint, 400004);
    cJSON_Delete(o);
    /* Unknown operation id: 404 in the same shape, the UUID-like rid echoed verbatim. */
    o = exchange(&m,
                 "$dps/registrations/GET/iotdps-get-operationstatus/"
                 "?$rid=6f1c1f3e-5a2b-4c3d-9e8f-0a1b2c3d4e5f&operationId=4.0000000000000000.x",
                 " ", topic, sizeof topic);
    assert_string_equal(topic,
                        "$dps/registrations/res/404/?$rid=6f1c1f3e-5a2b-4c3d-9e8f-0a1b2c3d4e5f");
    check_error_body(o, 404);
    cJSON_Delete(o);
    th_mqtt_close(&m);
}

/* The ids of every device the service API lists, as one ", "-separated string. */
static void list_devices(char *out, size_t size)
{
    struct th_http_response resp;
    assert_int_equal(
        th_https(&srv, "GET", "/devices?api-version=2021-04-12", NULL, NULL, true, 5000, &resp), 0);
    assert_int_equal(resp.status, 200);
    cJSON *arr = cJSON_Parse(resp.body);
    assert_true(cJSON_IsArray(arr));
    size_t len = 0;
    out[0] = '\0';
    const cJSON *d;
    cJSON_ArrayForEach(d, arr)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "deviceId"));
        assert_non_null(id);
        int n = snprintf(out + len, size - len, "%s%s", len ? ", " : "", id);
        assert_true(n > 0 && (size_t)n < size - len);
        len += (size_t)n;
    }
    cJSON_Delete(arr);
    free(resp.body);
}

/* A registration id outside DPS's rules (§4.2) gets DPS's own answer, 400 with errorCode
 * 400004, even with a valid group-derived key, and no device is created. */
static void test_dps_invalid_registration_id(void **state)
{
    (void)state;
    char long_id[130];
    memset(long_id, 'x', 129);
    long_id[129] = '\0';
    const char *const ids[] = {"aud~tilde", "..",     "bad..",       "aud.",
                               "aud:",      "aud:b_", "caf\xc3\xa9", long_id};
    char before[4096], after[4096];
    list_devices(before, sizeof before);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct th_mqtt m;
        char topic[300], body[400];
        dps_open(&m, ids[i]);
        snprintf(body, sizeof body, "{\"registrationId\":\"%s\"}", ids[i]);
        cJSON *o = exchange(&m, "$dps/registrations/PUT/iotdps-register/?$rid=r1", body, topic,
                            sizeof topic);
        assert_string_equal(topic, "$dps/registrations/res/400/?$rid=r1");
        check_error_body(o, 400);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "errorCode")->valueint, 400004);
        assert_null(cJSON_GetObjectItemCaseSensitive(o, "operationId"));
        cJSON_Delete(o);
        th_mqtt_close(&m);
    }
    list_devices(after, sizeof after);
    assert_string_equal(after, before);
    assert_true(
        th_central_log_contains(&srv, "dps: aud~tilde is not a valid registration id", 2000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dps_error_shapes),
        cmocka_unit_test(test_dps_invalid_registration_id),
    };
    return cmocka_run_group_tests_name("audit_dps", tests, setup, teardown);
}
