/*
 * test_capi_assoc.c - /api/ devices and templates meeting the device plane: association by the
 * model id announced in the DPS payload or the hub username, publishing a template for waiting
 * devices, multi-component models (component properties, comp*cmd commands, $.sub telemetry,
 * wrong-component conformance), and devices managed through the IoT Hub service API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "capi_device_util.h"

/* ---------------------------------------------------------------- association */

static void test_association_by_model_id(void **state)
{
    (void)state;
    static const struct {
        const char *reg;
        const char *model;
        const char *status;
    } cases[] = {
        {"auto-01", TID, "provisioned"},
        {"auto-02", "dtmi:nobody:Thing;1", "unassociated"},
        {"auto-03", "dtmi:late:Thing;1", "unassociated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[64], payload[200], path[128];
        struct th_dps_result r;
        assert_int_equal(th_derive_key(&srv, cases[i].reg, key, sizeof key), 0);
        snprintf(payload, sizeof payload, "{\"modelId\":\"%s\"}", cases[i].model);
        assert_int_equal(th_dps_register(&srv, cases[i].reg, key, IOTC_SAS_DPS_CSDK, payload, &r),
                         0);
        assert_string_equal(r.status, "assigned");
        snprintf(path, sizeof path, "/api/devices/%s", cases[i].reg);
        assert_int_equal(admin("GET", path, NULL), 200);
        assert_string_equal(capi_jstr(R.json, "status"), cases[i].status);
        assert_true(cJSON_IsTrue(capi_jget(R.json, "provisioned")));
        assert_string_equal(capi_jstr(R.json, "modelId"), cases[i].model);
        snprintf(path, sizeof path, "/api/devices/%s/credentials", cases[i].reg);
        assert_int_equal(admin("GET", path, NULL), 200);
        assert_string_equal(capi_jstr(R.json, "symmetricKey.primaryKey"), key);
    }
    assert_int_equal(admin("GET", "/api/devices/auto-01", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "template"), TID);
    /* publishing a template with the announced id associates the waiting device (a draft,
     * "published":false, does not; PUT alone publishes, test_capi_fidelity) */
    assert_int_equal(admin("PUT", "/api/deviceTemplates/dtmi:late:Thing;1",
                           "{\"capabilityModel\":{\"@context\":\"dtmi:dtdl:context;2\","
                           "\"@id\":\"dtmi:late:Thing;1\",\"@type\":\"Interface\","
                           "\"contents\":[{\"@type\":\"Telemetry\",\"name\":\"t\","
                           "\"schema\":\"double\"}]},\"published\":false}"),
                     200);
    assert_int_equal(admin("GET", "/api/devices/auto-03", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "unassociated"); /* draft: not yet */
    assert_int_equal(admin("POST", "/api/deviceTemplates/dtmi:late:Thing;1/publish", NULL), 200);
    assert_int_equal(admin("GET", "/api/devices/auto-03", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "template"), "dtmi:late:Thing;1");
    assert_string_equal(capi_jstr(R.json, "status"), "provisioned");
}

/* The hub username's model-id associates a device that was created without a template. */
static void test_association_by_username(void **state)
{
    (void)state;
    struct th_mqtt m;
    char user[512], token[512], key[128];
    assert_int_equal(admin("PUT", "/api/devices/mqtt-model", "{}"), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "unassociated");
    assert_int_equal(admin("GET", "/api/devices/mqtt-model/credentials", NULL), 200);
    snprintf(key, sizeof key, "%s", capi_jstr(R.json, "symmetricKey.primaryKey"));
    snprintf(user, sizeof user, "%s/mqtt-model/?api-version=2021-04-12&model-id=%s", srv.hub_host,
             TID_URL);
    assert_int_equal(th_hub_token(&srv, "mqtt-model", key, th_now() + 3600, token, sizeof token),
                     0);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "mqtt-model", user, token, 60, true), 0);
    assert_int_equal(admin("GET", "/api/devices/mqtt-model", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "template"), TID);
    assert_string_equal(capi_jstr(R.json, "modelId"), TID);
    assert_string_equal(capi_jstr(R.json, "status"), "provisioned");
    assert_true(cJSON_IsTrue(capi_jget(R.json, "connected")));
    assert_non_null(capi_jstr(R.json, "lastActivity"));
    th_mqtt_close(&m);
    /* an explicit template is never replaced by the announced one */
    assert_int_equal(
        admin("PATCH", "/api/devices/mqtt-model", "{\"template\":\"dtmi:late:Thing;1\"}"), 200);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "mqtt-model", user, token, 60, true), 0);
    assert_int_equal(admin("GET", "/api/devices/mqtt-model", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "template"), "dtmi:late:Thing;1");
    th_mqtt_close(&m);
}

/* ---------------------------------------------------------------- components */

/* The tutorial's model with Components (tests/data/README.md). */
static void test_components(void **state)
{
    (void)state;
    char topic[300], payload[1024], req[256];
    char *doc = th_repo_file("tests/data/environmental-sensor.components.dtdlv2.json");
    if (doc == NULL)
        fail_msg("cannot read tests/data/environmental-sensor.components.dtdlv2.json");
    assert_int_equal(admin("PUT", "/api/deviceTemplates/dtmi:com:example:sample_device;2", doc),
                     200);
    free(doc);
    assert_int_equal(
        admin("PUT", "/api/devices/comp-01", "{\"template\":\"dtmi:com:example:sample_device;2\"}"),
        200);
    assert_int_equal(admin("GET", "/api/devices/comp-01/credentials", NULL), 200);
    char saved_key[128];
    snprintf(saved_key, sizeof saved_key, "%s", KEY);
    snprintf(KEY, sizeof KEY, "%s", capi_jstr(R.json, "symmetricKey.primaryKey"));
    device_close();
    dev_id = "comp-01";
    device_connect();
    assert_int_equal(admin("GET", "/api/devices/comp-01/components", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(capi_jget(R.json, "value")), 2);
    /* component property write: desired patch marked with __t */
    assert_int_equal(
        admin("PATCH", "/api/devices/comp-01/components/nosuch/properties", "{\"brightness\":3}"),
        404);
    assert_int_equal(
        admin("PATCH", "/api/devices/comp-01/components/sensor/properties", "{\"brightness\":3}"),
        202);
    int ver = (int)jnum(R.json, "$metadata.brightness.desiredVersion");
    assert_true(ver >= 1);
    assert_int_equal(next_publish("$iothub/twin/PATCH/properties/desired/", topic, sizeof topic,
                                  payload, sizeof payload),
                     0);
    cJSON *patch = cJSON_Parse(payload);
    assert_string_equal(capi_jstr(patch, "sensor.__t"), "c");
    assert_int_equal((int)jnum(patch, "sensor.brightness"), 3);
    cJSON_Delete(patch);
    char ack[256];
    snprintf(ack, sizeof ack,
             "{\"sensor\":{\"__t\":\"c\",\"brightness\":{\"value\":3,\"ac\":200,\"av\":%d}}}", ver);
    report(ack);
    struct prop_want synced = {"brightness", "synced"};
    assert_true(
        poll_get("/api/devices/comp-01/components/sensor/properties", prop_state_is, &synced));
    assert_int_equal((int)jnum(R.json, "brightness"), 3);
    assert_int_equal(admin("GET", "/api/devices/comp-01/properties", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "sensor.$metadata.brightness.state"), "synced");
    assert_null(capi_jget(R.json, "sensor.__t"));
    /* root-level body with a component object */
    assert_int_equal(
        admin("PATCH", "/api/devices/comp-01/properties", "{\"sensor\":{\"name\":\"Contoso\"}}"),
        202);
    assert_string_equal(capi_jstr(R.json, "sensor.$metadata.name.desiredValue"), "Contoso");
    assert_int_equal(admin("PATCH", "/api/devices/comp-01/properties", "{\"name\":\"x\"}"), 400);
    /* component command: method name sensor*blink */
    struct bg b;
    bg_start(&b, "POST", "/api/devices/comp-01/components/sensor/commands/blink",
             "{\"request\":1,\"responseTimeout\":10}");
    answer_method("sensor*blink", 200, "{\"description\":\"ok\"}", req, sizeof req);
    bg_join(&b);
    assert_int_equal(b.status, 201);
    assert_string_equal(capi_jstr(b.json, "component"), "sensor");
    cJSON_Delete(b.json);
    assert_int_equal(admin("POST", "/api/devices/comp-01/commands/blink", "{\"request\":1}"), 404);
    /* component telemetry, and the same name at the root (wrong component) */
    telemetry_c("{\"temp\":5}", "sensor");
    telemetry_c("{\"temp\":6}", NULL);
    assert_int_equal(admin("GET", "/api/devices/comp-01/components/sensor/telemetry/temp", NULL),
                     200);
    assert_int_equal((int)jnum(R.json, "value"), 5);
    bool found = false;
    for (int i = 0; i < 50 && !found; i++) {
        assert_int_equal(admin("GET", "/api/devices/comp-01/conformance", NULL), 200);
        found = find_mismatch(R.json, "wrongComponent", "temp") != NULL;
        if (!found)
            usleep(100 * 1000);
    }
    assert_true(found);
    device_close();
    dev_id = DEV;
    snprintf(KEY, sizeof KEY, "%s", saved_key);
}

/* Devices made or removed through the IoT Hub service API show up in /api/ as they are. */
static void test_service_api_devices(void **state)
{
    (void)state;
    struct th_http_response r;
    const char *body = "{\"deviceId\":\"svc-01\"}";
    assert_int_equal(th_https(&srv, "PUT", "/devices/svc-01?api-version=2021-04-12", NULL, body,
                              true, 10000, &r),
                     0);
    free(r.body);
    assert_int_equal(r.status, 200);
    assert_int_equal(admin("GET", "/api/devices/svc-01", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "unassociated");
    assert_int_equal(admin("PATCH", "/api/devices/svc-01", "{\"displayName\":\"From the hub\"}"),
                     200);
    /* connected while it is deleted: nothing of it may remain */
    struct th_mqtt m;
    char key[128];
    assert_int_equal(admin("GET", "/api/devices/svc-01/credentials", NULL), 200);
    snprintf(key, sizeof key, "%s", capi_jstr(R.json, "symmetricKey.primaryKey"));
    assert_int_equal(th_hub_connect(&m, &srv, "svc-01", key), 0);
    assert_int_equal(th_https(&srv, "DELETE", "/devices/svc-01?api-version=2021-04-12",
                              "If-Match: \"*\"\r\n", NULL, true, 10000, &r),
                     0);
    free(r.body);
    assert_int_equal(r.status / 100, 2);
    assert_int_equal(admin("GET", "/api/devices/svc-01", NULL), 404);
    /* the same id again starts from scratch, without the old application data */
    assert_int_equal(admin("PUT", "/api/devices/svc-01", "{}"), 200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "svc-01");
    th_mqtt_close(&m);
    bool empty = false;
    for (int i = 0; i < 50 && !empty; i++) {
        assert_int_equal(admin("GET", "/api/devices/svc-01/rawData", NULL), 200);
        empty = cJSON_GetArraySize(capi_jget(R.json, "value")) == 0;
        if (!empty)
            usleep(100 * 1000);
    }
    assert_true(empty);
}

/* Cloud properties stay in the application: never pushed to the device. */
static void test_cloud_properties(void **state)
{
    (void)state;
    char topic[300], payload[1024], saved_key[128];
    assert_int_equal(
        admin(
            "PUT", "/api/deviceTemplates/dtmi:t:cloud;1",
            "{\"@context\":[\"dtmi:dtdl:context;2\",\"dtmi:iotcentral:context;2\"],"
            "\"@id\":\"dtmi:t:cloud;1\",\"@type\":\"Interface\",\"contents\":["
            "{\"@type\":[\"Property\",\"Cloud\"],\"name\":\"customerName\",\"schema\":\"string\"},"
            "{\"@type\":\"Property\",\"name\":\"level\",\"schema\":\"long\",\"writable\":true}]}"),
        200);
    assert_int_equal(admin("PUT", "/api/devices/cloud-01", "{\"template\":\"dtmi:t:cloud;1\"}"),
                     200);
    assert_int_equal(admin("GET", "/api/devices/cloud-01/credentials", NULL), 200);
    snprintf(saved_key, sizeof saved_key, "%s", KEY);
    snprintf(KEY, sizeof KEY, "%s", capi_jstr(R.json, "symmetricKey.primaryKey"));
    device_close();
    dev_id = "cloud-01";
    device_connect();
    assert_int_equal(
        admin("PATCH", "/api/devices/cloud-01/properties", "{\"customerName\":\"Contoso\"}"), 202);
    assert_non_null(capi_jstr(R.json, "$metadata.customerName.lastUpdateTime"));
    assert_int_equal(admin("PATCH", "/api/devices/cloud-01/properties", "{\"customerName\":5}"),
                     400);
    assert_int_equal(admin("PATCH", "/api/devices/cloud-01/properties", "{\"level\":7}"), 202);
    /* the first desired patch the device sees is the level, without the cloud value */
    assert_int_equal(next_publish("$iothub/twin/PATCH/properties/desired/", topic, sizeof topic,
                                  payload, sizeof payload),
                     0);
    assert_non_null(strstr(payload, "\"level\":7"));
    assert_null(strstr(payload, "customerName"));
    assert_int_equal(admin("GET", "/api/devices/cloud-01/properties", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "customerName"), "Contoso");
    assert_string_equal(capi_jstr(R.json, "$metadata.level.state"), "pending");
    /* payloads that are empty or not JSON are kept as text and flagged */
    telemetry_c("", NULL);
    telemetry_c("hello", NULL);
    assert_int_equal(admin("GET", "/api/devices/cloud-01/rawData", NULL), 200);
    int flagged = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, capi_jget(R.json, "value"))
    {
        const cJSON *err0 = cJSON_GetArrayItem(capi_jget(it, "errors"), 0);
        if (strcmp(capi_jstr(it, "type"), "telemetry") == 0 &&
            cJSON_IsString(capi_jget(it, "payload")) && cJSON_IsString(err0) &&
            strstr(err0->valuestring, "not JSON") != NULL)
            flagged++;
    }
    assert_int_equal(flagged, 2);
    assert_int_equal(admin("GET", "/api/devices/cloud-01/telemetry/level", NULL), 404);
    device_close();
    dev_id = DEV;
    snprintf(KEY, sizeof KEY, "%s", saved_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_association_by_model_id),
        cmocka_unit_test(test_association_by_username),
        cmocka_unit_test(test_components),
        cmocka_unit_test(test_service_api_devices),
        cmocka_unit_test(test_cloud_properties),
    };
    return cmocka_run_group_tests_name("capi_assoc", tests, setup, teardown);
}
