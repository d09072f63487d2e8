/*
 * capi_device_util.h - shared by test_capi_device.c and test_capi_assoc.c: the server, the
 * /api/ REST helpers (admin token, background requests, polling) and a minimal MQTT device.
 * Header-only: each test binary has exactly one translation unit that includes it.
 */
#ifndef IOTC_TESTS_CAPI_DEVICE_UTIL_H
#define IOTC_TESTS_CAPI_DEVICE_UTIL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "../lib/harness.h"
#include "iotc/sas.h"

#define V "api-version=2022-07-31"
#define TID "dtmi:iotc:example:EnvironmentalSensor;1"
#define TID_URL "dtmi%3Aiotc%3Aexample%3AEnvironmentalSensor%3B1"
#define DEV "env-01"

static struct th_central srv;
static struct capi_resp R;
static struct th_mqtt M;
static bool M_open;
static char KEY[128];
static int RID;
static const char *dev_id = DEV;
static const char *const *SRV_ARGS; /* extra iotc-central options for setup(), or NULL */

/* ---------------------------------------------------------------- REST helpers */

static inline long admin(const char *method, const char *path, const char *body)
{
    return capi_call(srv.ca_path, srv.https_port, srv.admin_token, method, path, body, 40000, &R);
}

static inline double jnum(const cJSON *o, const char *path)
{
    const cJSON *v = capi_jget(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* A REST call in a helper thread while the test thread plays the device. */
struct bg {
    char method[8], path[512], body[1024];
    long status;
    cJSON *json;
    char code[96];
    pthread_t t;
};

static inline void *bg_main(void *arg)
{
    struct bg *b = arg;
    struct capi_resp r;
    char target[700];
    snprintf(target, sizeof target, "%s?" V, b->path);
    if (capi_http(srv.ca_path, srv.https_port, srv.admin_token, b->method, target,
                  b->body[0] ? b->body : NULL, 40000, &r) == 0) {
        b->status = r.status;
        b->json = r.json;
        r.json = NULL;
        snprintf(b->code, sizeof b->code, "%s", r.error_code);
    }
    capi_resp_free(&r);
    return NULL;
}

static inline void bg_start(struct bg *b, const char *method, const char *path, const char *body)
{
    memset(b, 0, sizeof *b);
    snprintf(b->method, sizeof b->method, "%s", method);
    snprintf(b->path, sizeof b->path, "%s", path);
    snprintf(b->body, sizeof b->body, "%s", body ? body : "");
    assert_int_equal(pthread_create(&b->t, NULL, bg_main, b), 0);
}

static inline void bg_join(struct bg *b)
{
    pthread_join(b->t, NULL);
}

/* GET @p path until @p ok says yes (or 10 s pass); the last answer stays in R. */
static inline bool poll_get(const char *path, bool (*ok)(const cJSON *o, const void *arg),
                            const void *arg)
{
    for (int i = 0; i < 100; i++) {
        if (admin("GET", path, NULL) == 200 && ok(R.json, arg))
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* ---------------------------------------------------------------- device helpers */

static inline void device_connect(void)
{
    assert_int_equal(th_hub_connect(&M, &srv, dev_id, KEY), 0);
    M_open = true;
    assert_int_equal(th_mqtt_subscribe(&M, "$iothub/twin/res/#", 0), 0);
    assert_int_equal(th_mqtt_subscribe(&M, "$iothub/methods/POST/#", 0), 0);
    assert_int_equal(th_mqtt_subscribe(&M, "$iothub/twin/PATCH/properties/desired/#", 0), 0);
}

static inline void device_close(void)
{
    if (M_open)
        th_mqtt_close(&M);
    M_open = false;
}

/* Next PUBLISH whose topic starts with @p prefix; copies topic and payload. */
static inline int next_publish(const char *prefix, char *topic, size_t tsize, char *payload,
                               size_t psize)
{
    for (int i = 0; i < 50; i++) {
        struct iotc_mqtt_packet p;
        int rc = th_mqtt_expect(&M, IOTC_MQTT_PUBLISH, &p, 8000);
        if (rc != 0)
            return rc;
        if (p.publish.topic.len < strlen(prefix) ||
            memcmp(p.publish.topic.ptr, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(topic, tsize, "%.*s", (int)p.publish.topic.len, p.publish.topic.ptr);
        snprintf(payload, psize, "%.*s", (int)p.publish.payload.len, p.publish.payload.ptr);
        if (p.publish.qos == 1) {
            struct iotc_mqtt_packet ack = {.type = IOTC_MQTT_PUBACK};
            ack.packet_id = p.publish.packet_id;
            th_mqtt_send(&M, &ack);
        }
        return 0;
    }
    return -1;
}

static inline void report(const char *json)
{
    char topic[128];
    snprintf(topic, sizeof topic, "$iothub/twin/PATCH/properties/reported/?$rid=r%d", ++RID);
    assert_true(th_mqtt_publish(&M, topic, json, strlen(json), 0) >= 0);
}

static inline void telemetry_c(const char *json, const char *comp)
{
    char topic[200];
    snprintf(topic, sizeof topic, "devices/%s/messages/events/%%24.ct=application%%2Fjson%s%s",
             dev_id, comp ? "&%24.sub=" : "", comp ? comp : "");
    assert_true(th_mqtt_publish(&M, topic, json, strlen(json), 1) > 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&M, IOTC_MQTT_PUBACK, &p, 5000), 0);
}

static inline void telemetry(const char *json)
{
    char topic[160];
    snprintf(topic, sizeof topic, "devices/%s/messages/events/%%24.ct=application%%2Fjson", DEV);
    assert_true(th_mqtt_publish(&M, topic, json, strlen(json), 1) > 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&M, IOTC_MQTT_PUBACK, &p, 5000), 0);
}

/* Answer the next method request named @p name with @p status and @p body. */
static inline void answer_method(const char *name, int status, const char *body, char *req_payload,
                                 size_t size)
{
    char prefix[128], topic[300], res[160];
    snprintf(prefix, sizeof prefix, "$iothub/methods/POST/%s/?$rid=", name);
    assert_int_equal(next_publish(prefix, topic, sizeof topic, req_payload, size), 0);
    snprintf(res, sizeof res, "$iothub/methods/res/%d/?$rid=%s", status, topic + strlen(prefix));
    assert_true(th_mqtt_publish(&M, res, body, strlen(body), 0) >= 0);
}

/* ---------------------------------------------------------------- setup */

static inline int setup(void **state)
{
    (void)state;
    if (th_central_start(&srv, SRV_ARGS) < 0)
        return -1;
    char *doc = th_repo_file("models/environmental-sensor.dtdlv2.json");
    if (doc == NULL)
        return -1;
    size_t len = strlen(doc) + 512;
    char *body = malloc(len);
    snprintf(body, len,
             "{\"displayName\":\"Environmental sensor\",\"capabilityModel\":%s,\"published\":true,"
             "\"customizations\":{\"turnoff\":{\"queueIfOffline\":true}}}",
             doc);
    long st = admin("PUT", "/api/deviceTemplates/" TID_URL, body);
    free(body);
    free(doc);
    if (st != 200)
        return -1;
    if (admin("PUT", "/api/devices/" DEV,
              "{\"displayName\":\"Env 01\",\"template\":\"" TID "\"}") != 200 ||
        admin("GET", "/api/devices/" DEV "/credentials", NULL) != 200)
        return -1;
    snprintf(KEY, sizeof KEY, "%s", capi_jstr(R.json, "symmetricKey.primaryKey"));
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    device_close();
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- shared checks */

struct prop_want {
    const char *name;
    const char *state;
};

static inline bool prop_state_is(const cJSON *o, const void *arg)
{
    const struct prop_want *w = arg;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(capi_jget(o, "$metadata"), w->name);
    const char *st = capi_jstr(md, "state");
    return st != NULL && strcmp(st, w->state) == 0;
}

static inline const cJSON *find_mismatch(const cJSON *rep, const char *kind, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "mismatches"))
    {
        if (strcmp(capi_jstr(it, "kind"), kind) == 0 && strcmp(capi_jstr(it, "name"), name) == 0)
            return it;
    }
    return NULL;
}

static inline bool raw_has_unmodeled(const cJSON *o, const void *arg)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "value"))
    {
        if (capi_jget(it, arg) != NULL)
            return true;
    }
    return false;
}

#endif /* IOTC_TESTS_CAPI_DEVICE_UTIL_H */
