/*
 * dps.c - provisioning through the Device Provisioning Service over MQTT (docs/PROTOCOL.md §4):
 * connect with the registration SAS, subscribe to the responses, register (announcing the
 * model id), poll the operation honouring retry-after, and take the assigned hub and device id.
 * Every failure goes back to client.c as a teardown reason, which applies the backoff.
 */
#include "device/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include <iotc/codec.h>
#include <iotc/dps.h>
#include <iotc/json.h>
#include <iotc/sas.h>

#include "device/alloc.h"
#include "device/assignment.h"
#include "device/config.h"

#ifndef IOTC_VERSION
#define IOTC_VERSION "0"
#endif
#define IOTC_CLIENT_VERSION "iotc/" IOTC_VERSION
#define DPS_DEFAULT_RETRY_MS 2000u
#define TOKEN_MAX 512
#define USERNAME_MAX 512

void iotc__dps_reset(struct iotc_client *c)
{
    free(c->dps_operation_id);
    c->dps_operation_id = NULL;
    c->dps_step = DPS_CONNECTING;
    c->dps_rid[0] = '\0';
}

int iotc__dps_begin(struct iotc_client *c)
{
    char user[USERNAME_MAX], token[TOKEN_MAX];
    size_t n;
    int rc;

    iotc__dps_reset(c);
    rc = iotc_dps_username_build(iotc_span_from_cstr(c->id_scope),
                                 iotc_span_from_cstr(c->registration_id), IOTC_SPAN_NULL,
                                 IOTC_SPAN_LIT(IOTC_CLIENT_VERSION), user, sizeof(user), &n);
    if (rc != IOTC_OK)
        return IOTC_E_ARG;
    if (c->cert_file != NULL) /* X.509: the TLS handshake's certificate is the credential */
        return iotc__mosq_open(c, c->registration_id, true, user, NULL, c->dps_host, c->dps_port);
    rc = iotc_sas_token_dps(iotc_span_from_cstr(c->device_key), iotc_span_from_cstr(c->id_scope),
                            iotc_span_from_cstr(c->registration_id), IOTC_SAS_DPS_CSDK,
                            (uint64_t)time(NULL) + c->sas_lifetime_s, token, sizeof(token), &n);
    if (rc != IOTC_OK)
        return IOTC_E_ARG;
    return iotc__mosq_open(c, c->registration_id, true, user, token, c->dps_host, c->dps_port);
}

static void next_rid(struct iotc_client *c)
{
    snprintf(c->dps_rid, sizeof(c->dps_rid), "%u", (unsigned)c->next_rid++);
    if (c->next_rid == 0)
        c->next_rid = 1;
}

/* Publish the register request, or the status poll once an operation id is known. */
static void send_request(struct iotc_client *c)
{
    char topic[512], body[1024];
    size_t tlen, blen;
    int rc;

    next_rid(c);
    if (c->dps_operation_id == NULL) {
        rc = iotc_dps_register_topic_build(iotc_span_from_cstr(c->dps_rid), topic, sizeof(topic),
                                           &tlen);
        if (rc == IOTC_OK && c->model_id != NULL)
            rc = iotc_dps_register_body_build_model(iotc_span_from_cstr(c->registration_id),
                                                    iotc_span_from_cstr(c->model_id), body,
                                                    sizeof(body), &blen);
        else if (rc == IOTC_OK)
            rc = iotc_dps_register_body_build(iotc_span_from_cstr(c->registration_id),
                                              IOTC_SPAN_NULL, body, sizeof(body), &blen);
    } else {
        rc = iotc_dps_status_topic_build(iotc_span_from_cstr(c->dps_rid),
                                         iotc_span_from_cstr(c->dps_operation_id), topic,
                                         sizeof(topic), &tlen);
        body[0] = ' '; /* NODE and PY send one space; an empty body is as valid */
        blen = 1;
    }
    if (rc != IOTC_OK) {
        iotc__log(c, IOTC_LOG_ERROR, "cannot build the DPS request (%s)", iotc_strerror(rc));
        iotc__request_teardown(c, IOTC_REASON_CONFIG, false);
        return;
    }
    iotc__log(c, IOTC_LOG_DEBUG, "DPS -> %s", topic);
    rc = mosquitto_publish(c->mosq, NULL, topic, (int)blen, body, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
        return;
    }
    c->dps_step = DPS_WAIT_ANSWER;
    c->deadline_ms = iotc__now_ms() + c->op_timeout_ms;
}

void iotc__dps_on_connect(struct iotc_client *c, int rc)
{
    if (rc != 0) {
        iotc__log(c, IOTC_LOG_WARN, "DPS refused the connection: %s", mosquitto_connack_string(rc));
        iotc__request_teardown(c, (rc == 4 || rc == 5) ? IOTC_REASON_AUTH : IOTC_REASON_REFUSED,
                               false);
        return;
    }
    c->mosq_connected = true;
    if (mosquitto_subscribe(c->mosq, NULL, IOTC_DPS_SUBSCRIBE_TOPIC, 1) != MOSQ_ERR_SUCCESS) {
        iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
        return;
    }
    /* MQTT keeps the order of one client's packets: the SUBSCRIBE is handled first. */
    send_request(c);
}

static void wait_and_poll(struct iotc_client *c, uint32_t retry_after_s)
{
    uint64_t delay = retry_after_s ? (uint64_t)retry_after_s * 1000u : DPS_DEFAULT_RETRY_MS;

    c->dps_step = DPS_WAIT_POLL;
    c->dps_poll_ms = iotc__now_ms() + delay;
    c->deadline_ms = 0;
}

/* Copy a JSON-escaped span into a new string. */
static char *unescape_dup(struct iotc_span s)
{
    size_t need = 0;

    if (s.ptr == NULL)
        return NULL;
    if (iotc_json_unescape(s, NULL, 0, &need) != IOTC_E_NOSPACE && need != 0)
        return NULL;
    char *out = iotc__malloc(need + 1);
    if (out == NULL)
        return NULL;
    if (iotc_json_unescape(s, out, need + 1, &need) != IOTC_OK || memchr(out, '\0', need)) {
        free(out);
        return NULL;
    }
    return out;
}

static void on_assigned(struct iotc_client *c, const struct iotc_dps_response_view *v)
{
    char *hub = unescape_dup(v->assigned_hub);
    char *dev = unescape_dup(v->device_id);
    struct iotc_span host;
    uint16_t port;
    bool has_port;

    if (hub == NULL || dev == NULL || dev[0] == '\0' ||
        iotc__endpoint_parse(iotc_span_from_cstr(hub), &host, &port, &has_port) != IOTC_OK) {
        iotc__log(c, IOTC_LOG_ERROR, "DPS answer 'assigned' without a usable hub/device id");
        free(hub);
        free(dev);
        iotc__request_teardown(c, IOTC_REASON_REFUSED, false);
        return;
    }
    /* The hub's identity (SAS sr, username) is its host name; a port is only transport. */
    char *h = iotc__strndup(host.ptr, host.len);
    free(hub);
    if (h == NULL) {
        free(dev);
        iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
        return;
    }
    if (has_port)
        c->hub_port = port;
    else if (c->hub_port_cfg)
        c->hub_port = c->hub_port_cfg;
    else
        c->hub_port = c->dps_port_explicit ? c->dps_port : 8883;
    free(c->hub_host);
    free(c->device_id);
    c->hub_host = h;
    c->device_id = dev;
    c->stats.provisionings++;
    if (c->assignment_file != NULL)
        iotc__assignment_save(c);
    iotc__log(c, IOTC_LOG_INFO, "provisioned: device %s on hub %s:%u", dev, h,
              (unsigned)c->hub_port);
    iotc__set_state(c, IOTC_STATE_PROVISIONING, IOTC_REASON_PROVISIONED);
    iotc__request_teardown(c, IOTC_REASON_PROVISIONED, true);
}

static void on_answer(struct iotc_client *c, const struct iotc_dps_response_topic *t,
                      const struct iotc_dps_response_view *v)
{
    if (t->status == 429 || t->status >= 500) {
        iotc__log(c, IOTC_LOG_WARN, "DPS busy (%u), retrying", t->status);
        wait_and_poll(c, t->retry_after);
        return;
    }
    if (t->status == 401 || t->status == 403) {
        iotc__log(c, IOTC_LOG_ERROR, "DPS refused the credentials (%u, errorCode %lld)", t->status,
                  (long long)v->error_code);
        iotc__request_teardown(c, IOTC_REASON_AUTH, false);
        return;
    }
    if (t->status >= 300) {
        iotc__log(c, IOTC_LOG_ERROR, "DPS error %u (errorCode %lld)", t->status,
                  (long long)v->error_code);
        iotc__request_teardown(c, IOTC_REASON_REFUSED, false);
        return;
    }
    switch (v->status) {
    case IOTC_DPS_STATUS_ASSIGNED:
        on_assigned(c, v);
        return;
    case IOTC_DPS_STATUS_ASSIGNING:
    case IOTC_DPS_STATUS_UNASSIGNED:
        if (c->dps_operation_id == NULL) {
            c->dps_operation_id = unescape_dup(v->operation_id);
            if (c->dps_operation_id == NULL) {
                iotc__log(c, IOTC_LOG_ERROR, "DPS answer without an operationId");
                iotc__request_teardown(c, IOTC_REASON_REFUSED, false);
                return;
            }
        }
        wait_and_poll(c, t->retry_after);
        return;
    default:
        iotc__log(c, IOTC_LOG_ERROR, "DPS registration %.*s (errorCode %lld)",
                  (int)v->status_text.len, v->status_text.ptr ? v->status_text.ptr : "",
                  (long long)v->error_code);
        iotc__request_teardown(c, IOTC_REASON_REFUSED, false);
        return;
    }
}

void iotc__dps_on_message(struct iotc_client *c, const struct mosquitto_message *msg)
{
    struct iotc_dps_response_topic t;
    struct iotc_dps_response_view v;
    struct iotc_span topic = iotc_span_from_cstr(msg->topic);
    struct iotc_span body = {msg->payload, msg->payload ? (size_t)msg->payloadlen : 0};

    if (iotc_dps_response_topic_parse(topic, &t) != IOTC_OK) {
        iotc__log(c, IOTC_LOG_WARN, "ignoring DPS message on %s", msg->topic);
        return;
    }
    if (c->dps_step != DPS_WAIT_ANSWER || t.rid.ptr == NULL ||
        !iotc_span_eq(t.rid, iotc_span_from_cstr(c->dps_rid))) {
        iotc__log(c, IOTC_LOG_DEBUG, "ignoring DPS answer for another request");
        return;
    }
    memset(&v, 0, sizeof(v));
    /* For error statuses the topic alone decides; a success needs a readable body. */
    if (iotc_dps_response_body_parse(body, &v) != IOTC_OK && t.status < 300) {
        iotc__log(c, IOTC_LOG_ERROR, "malformed DPS answer (status %u)", t.status);
        iotc__request_teardown(c, IOTC_REASON_REFUSED, false);
        return;
    }
    iotc__log(c, IOTC_LOG_DEBUG, "DPS <- %u %.*s", t.status, (int)v.status_text.len,
              v.status_text.ptr ? v.status_text.ptr : "");
    on_answer(c, &t, &v);
}

void iotc__dps_timers(struct iotc_client *c, uint64_t now)
{
    if (c->mosq_connected && c->dps_step == DPS_WAIT_POLL && now >= c->dps_poll_ms)
        send_request(c);
}
