/*
 * dps_flow.c - a complete DPS registration as an SDK performs it (harness.h).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static int topic_status(struct iotc_span topic, int *out_retry)
{
    static const char prefix[] = "$dps/registrations/res/";
    if (topic.len < sizeof prefix || memcmp(topic.ptr, prefix, sizeof prefix - 1) != 0)
        return -1;
    char t[512];
    size_t n = topic.len < sizeof t - 1 ? topic.len : sizeof t - 1;
    memcpy(t, topic.ptr, n);
    t[n] = '\0';
    const char *ra = strstr(t, "retry-after=");
    if (out_retry)
        *out_retry = ra ? (int)strtol(ra + 12, NULL, 10) : 0;
    return (int)strtol(t + sizeof prefix - 1, NULL, 10);
}

static void copy_str(const cJSON *o, const char *name, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsString(v))
        snprintf(out, size, "%s", v->valuestring);
}

int th_dps_register(const struct th_central *c, const char *reg_id, const char *key_b64, int style,
                    const char *payload_json, struct th_dps_result *out)
{
    memset(out, 0, sizeof *out);
    struct th_mqtt m;
    char user[512], token[600], body[2048], topic[512];
    snprintf(user, sizeof user, "%s/registrations/%s/api-version=2019-03-31", c->id_scope, reg_id);
    if (th_dps_token(c, reg_id, key_b64, style, th_now() + 3600, token, sizeof token) != 0 ||
        th_mqtt_open(&m, c->mqtt_port, c->ca_path) != 0)
        return -1;
    int rc = -1;
    out->connack = th_mqtt_connect(&m, reg_id, user, token, 60, true);
    if (out->connack != 0) {
        rc = 0;
        goto done;
    }
    if (th_mqtt_subscribe(&m, "$dps/registrations/res/#", 1) != 1)
        goto done;
    if (payload_json)
        snprintf(body, sizeof body, "{\"registrationId\":\"%s\",\"payload\":%s}", reg_id,
                 payload_json);
    else
        snprintf(body, sizeof body, "{\"registrationId\":\"%s\"}", reg_id);
    if (th_mqtt_publish(&m, "$dps/registrations/PUT/iotdps-register/?$rid=1", body, strlen(body),
                        1) < 0)
        goto done;
    struct iotc_mqtt_packet p;
    if (th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000) != 0)
        goto done;
    out->register_status = topic_status(p.publish.topic, &out->retry_after);
    cJSON *o = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    copy_str(o, "operationId", out->operation_id, sizeof out->operation_id);
    copy_str(o, "status", out->status, sizeof out->status);
    cJSON_Delete(o);
    if (out->register_status != 202 || out->operation_id[0] == '\0') {
        rc = 0;
        goto done;
    }
    snprintf(topic, sizeof topic,
             "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=%s",
             out->operation_id);
    if (th_mqtt_publish(&m, topic, " ", 1, 1) < 0 ||
        th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000) != 0)
        goto done;
    out->final_status = topic_status(p.publish.topic, NULL);
    o = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    copy_str(o, "status", out->status, sizeof out->status);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "registrationState");
    copy_str(st, "assignedHub", out->assigned_hub, sizeof out->assigned_hub);
    copy_str(st, "deviceId", out->device_id, sizeof out->device_id);
    cJSON_Delete(o);
    rc = 0;
done:
    th_mqtt_close(&m);
    return rc;
}
