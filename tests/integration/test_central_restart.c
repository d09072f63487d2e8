/*
 * test_central_restart.c - what the server acknowledged survives a restart: registry (incl.
 * self-registered group devices and model ids), twins with versions, telemetry, pending C2D,
 * persistent-session subscriptions; and SIGTERM exits 0.
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
#include <sqlite3.h>

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
    th_central_cleanup(&srv);
    return 0;
}

static void test_state_survives_restart(void **state)
{
    (void)state;
    const char *id = "persist-01";
    char key[64];
    struct th_dps_result r;
    assert_int_equal(th_derive_key(&srv, id, key, sizeof key), 0);
    assert_int_equal(th_dps_register(&srv, id, key, IOTC_SAS_DPS_PY,
                                     "{\"modelId\":\"dtmi:com:example:TemperatureController;2\"}",
                                     &r),
                     0);
    assert_string_equal(r.status, "assigned");

    /* Persistent session (CleanSession=0) with a C2D subscription, 50 QoS 1 messages, a
     * reported patch. */
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    char user[300], token[600];
    snprintf(user, sizeof user, "%s/%s/?api-version=2021-04-12", srv.hub_host, id);
    assert_int_equal(th_hub_token(&srv, id, key, th_now() + 3600, token, sizeof token), 0);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, id, user, token, 60, false), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/twin/res/#", 1), 1);
    assert_int_equal(th_mqtt_subscribe(&m, "devices/persist-01/messages/devicebound/#", 1), 1);
    int last = 0;
    for (int i = 0; i < 50; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"i\":%d}", i);
        last = th_mqtt_publish(&m, "devices/persist-01/messages/events/", body, (size_t)n, 1);
        assert_true(last > 0);
    }
    int acked = 0;
    while (acked < 50) {
        assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 5000), 0);
        acked++;
    }
    assert_int_equal(p.packet_id, last); /* PUBACKs come in order */
    const char *patch = "{\"serialNumber\":\"SN-1\"}";
    assert_true(th_mqtt_publish(&m, "$iothub/twin/PATCH/properties/reported/?$rid=1", patch,
                                strlen(patch), 0) >= 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    th_mqtt_close(&m);

    /* A C2D message queued while the device is away. */
    struct th_http_response h;
    assert_int_equal(th_https(&srv, "POST",
                              "/devices/persist-01/messages/deviceBound?api-version=2021-04-12",
                              NULL, "kept", true, 5000, &h),
                     0);
    assert_int_equal(h.status / 100, 2);
    free(h.body);

    assert_int_equal(th_central_stop(&srv), 0); /* SIGTERM: clean exit */
    assert_int_equal(th_count_telemetry(&srv, id), 50);
    assert_int_equal(th_central_restart(&srv, NULL), 0);

    /* The device, its model id and twin are back. */
    assert_int_equal(th_https(&srv, "GET", "/twins/persist-01?api-version=2021-04-12", NULL, NULL,
                              true, 5000, &h),
                     0);
    assert_int_equal(h.status, 200);
    cJSON *o = cJSON_Parse(h.body);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "modelId")->valuestring,
                        "dtmi:com:example:TemperatureController;2");
    cJSON *rep = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "properties"),
                                                  "reported");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(rep, "serialNumber")->valuestring, "SN-1");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rep, "$version")->valueint, 2);
    cJSON_Delete(o);
    free(h.body);

    /* Same key still authenticates; the persistent session delivers the pending C2D without a
     * new SUBSCRIBE and reports session present. */
    assert_int_equal(th_hub_token(&srv, id, key, th_now() + 3600, token, sizeof token), 0);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    struct iotc_mqtt_packet c = {.type = IOTC_MQTT_CONNECT};
    c.connect.protocol_level = 4;
    c.connect.clean_session = false;
    c.connect.keep_alive = 60;
    c.connect.client_id = IOTC_SPAN_LIT("persist-01");
    c.connect.has_username = c.connect.has_password = true;
    c.connect.username = (struct iotc_span){user, strlen(user)};
    c.connect.password = (struct iotc_span){token, strlen(token)};
    assert_int_equal(th_mqtt_send(&m, &c), 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_CONNACK, &p, 5000), 0);
    assert_int_equal(p.connack.return_code, 0);
    assert_true(p.connack.session_present);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_int_equal(p.publish.payload.len, 4);
    assert_memory_equal(p.publish.payload.ptr, "kept", 4);
    th_mqtt_close(&m);
    assert_int_equal(th_central_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_survives_restart),
    };
    return cmocka_run_group_tests_name("central_restart", tests, setup, teardown);
}
