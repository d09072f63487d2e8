/*
 * hub.c - the IoT Hub session (docs/PROTOCOL.md §5, §7): connect with a fresh SAS token, subscribe,
 * ask for the full twin, flush the outgoing queue and match PUBACKs to it, renew the token;
 * plus the public telemetry and reported-property calls. Messages coming from the hub
 * (commands, twin responses, desired pushes) are handled in hub_inbound.c.
 */
#include "device/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include <iotc/central.h>
#include <iotc/codec.h>
#include <iotc/hub.h>
#include <iotc/json.h>
#include <iotc/sas.h>

#include "device/alloc.h"
#include "device/twin_sync.h"

#ifndef IOTC_VERSION
#define IOTC_VERSION "0"
#endif
#define IOTC_CLIENT_TYPE "iotc/" IOTC_VERSION
#define TOKEN_MAX 512
#define USERNAME_MAX 1024
#define TELEMETRY_MAX (256u * 1024u)
#define RETRY_LATER_MS 2000u

/* ---------------------------------------------------------------------------------------- */
/* Connection                                                                                */
/* ---------------------------------------------------------------------------------------- */

int iotc__hub_begin(struct iotc_client *c)
{
    char user[USERNAME_MAX], token[TOKEN_MAX];
    size_t n;
    int rc;

    c->twin_synced = false;
    c->twin_get_rid = 0;
    c->twin_get_needed = false;
    rc =
        iotc_hub_username_build(iotc_span_from_cstr(c->hub_host), iotc_span_from_cstr(c->device_id),
                                IOTC_SPAN_NULL, IOTC_SPAN_NULL, IOTC_SPAN_LIT(IOTC_CLIENT_TYPE),
                                iotc_span_from_cstr(c->model_id), user, sizeof(user), &n);
    if (rc != IOTC_OK)
        return IOTC_E_ARG;
    c->token_created_ms = iotc__now_ms();
    if (c->cert_file != NULL) /* X.509: no token, nothing to renew */
        return iotc__mosq_open(c, c->device_id, false, user, NULL, c->hub_host, c->hub_port);
    rc = iotc_sas_token_hub(iotc_span_from_cstr(c->device_key), iotc_span_from_cstr(c->hub_host),
                            iotc_span_from_cstr(c->device_id), IOTC_SPAN_NULL, IOTC_SPAN_NULL,
                            (uint64_t)time(NULL) + c->sas_lifetime_s, token, sizeof(token), &n);
    if (rc != IOTC_OK)
        return IOTC_E_ARG;
    c->token_created_ms = iotc__now_ms();
    /* CleanSession 0 like every Azure SDK: the hub keeps subscriptions and C2D across drops. */
    return iotc__mosq_open(c, c->device_id, false, user, token, c->hub_host, c->hub_port);
}

static uint32_t take_rid(struct iotc_client *c)
{
    uint32_t rid = c->next_rid++;
    if (c->next_rid == 0)
        c->next_rid = 1;
    return rid;
}

static void send_twin_get(struct iotc_client *c)
{
    char rid[16], topic[64];
    size_t n;
    uint32_t r = take_rid(c);

    snprintf(rid, sizeof(rid), "%u", (unsigned)r);
    if (iotc_hub_twin_get_topic_build(iotc_span_from_cstr(rid), topic, sizeof(topic), &n) !=
        IOTC_OK)
        return;
    if (mosquitto_publish(c->mosq, NULL, topic, 0, NULL, 0, false) != MOSQ_ERR_SUCCESS) {
        iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
        return;
    }
    c->twin_get_rid = r;
    c->twin_get_needed = false;
    c->deadline_ms = iotc__now_ms() + c->op_timeout_ms;
}

static uint64_t renewal_margin_ms(const struct iotc_client *c)
{
    uint64_t m = (uint64_t)c->sas_lifetime_s * 1000u / 4u;
    return m < 1000u ? 1000u : m;
}

void iotc__hub_on_connect(struct iotc_client *c, int rc)
{
    static const char *const subs[] = {IOTC_HUB_METHODS_SUBSCRIBE_TOPIC,
                                       IOTC_HUB_TWIN_RES_SUBSCRIBE_TOPIC,
                                       IOTC_HUB_TWIN_DESIRED_SUBSCRIBE_TOPIC};

    if (rc != 0) {
        bool auth = rc == 4 || rc == 5;
        iotc__log(c, IOTC_LOG_WARN, "hub refused the connection: %s", mosquitto_connack_string(rc));
        /* Refused credentials usually mean the device moved or its keys changed: ask DPS. */
        iotc__request_teardown(c,
                               auth ? (c->use_dps ? IOTC_REASON_REPROVISION : IOTC_REASON_AUTH)
                                    : IOTC_REASON_REFUSED,
                               false);
        return;
    }
    c->mosq_connected = true;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (mosquitto_subscribe(c->mosq, NULL, subs[i], 1) != MOSQ_ERR_SUCCESS) {
            iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
            return;
        }
    }
    /* Cloud-to-device messages: IoT Central's queued ("queue if offline") commands. */
    char c2d[300];
    size_t n;
    if (iotc_hub_c2d_subscribe_topic_build(iotc_span_from_cstr(c->device_id), c2d, sizeof(c2d),
                                           &n) != IOTC_OK ||
        mosquitto_subscribe(c->mosq, NULL, c2d, 1) != MOSQ_ERR_SUCCESS) {
        iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
        return;
    }
    c->attempt = 0;
    c->assignment_cached = false; /* it worked: later failures are the network's */
    c->stats.connects++;
    /* se is whole seconds, so the token may live up to 1 s less than its lifetime; renew a
     * margin before that, but never in the first half of its life (no reconnect storm). */
    uint64_t life = c->sas_lifetime_s > 1 ? (uint64_t)(c->sas_lifetime_s - 1) * 1000u : 500u;
    uint64_t margin = renewal_margin_ms(c);
    uint64_t at = life > margin ? life - margin : 0;
    c->renew_ms = c->token_created_ms + (at > life / 2 ? at : life / 2);
    if (c->cert_file != NULL)
        c->renew_ms = 0; /* a certificate does not expire with a token lifetime */
    iotc__set_state(c, IOTC_STATE_CONNECTED, IOTC_REASON_CONNECTED);
    send_twin_get(c);
    iotc__hub_flush(c);
}

void iotc__hub_on_close(struct iotc_client *c)
{
    iotc__queue_mark_all_unsent(&c->queue);
    c->tele_in_flight = 0;
    c->twin_get_rid = 0;
    c->twin_synced = false;
    c->resend_ms = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Outgoing queue                                                                            */
/* ---------------------------------------------------------------------------------------- */

static int publish_entry(struct iotc_client *c, struct iotc__qentry *e)
{
    size_t n;
    int rc, mid = 0;

    if (e->kind == IOTC__Q_TELEMETRY) {
        rc = iotc_hub_telemetry_topic_build(iotc_span_from_cstr(c->device_id), IOTC_SPAN_NULL, NULL,
                                            0, NULL, 0, &n);
        if (rc != IOTC_OK && rc != IOTC_E_NOSPACE)
            return rc;
        rc = iotc__topic_reserve(c, n + e->aux_len + 1);
        if (rc != IOTC_OK)
            return rc;
        rc = iotc_hub_telemetry_topic_build(iotc_span_from_cstr(c->device_id), IOTC_SPAN_NULL, NULL,
                                            0, c->topic_buf, c->topic_cap, &n);
        if (rc != IOTC_OK)
            return rc;
        memcpy(c->topic_buf + n, iotc__qentry_aux(e), e->aux_len + 1);
        rc = mosquitto_publish(c->mosq, &mid, c->topic_buf, (int)e->body_len, iotc__qentry_body(e),
                               1, false);
        if (rc != MOSQ_ERR_SUCCESS)
            return IOTC_E_IO;
        e->mid = mid;
        c->tele_in_flight++;
        iotc__log(c, IOTC_LOG_DEBUG, "PUBLISH telemetry %d", mid);
    } else {
        char rid[16];
        uint32_t r = take_rid(c);
        snprintf(rid, sizeof(rid), "%u", (unsigned)r);
        rc = iotc__topic_reserve(c, 128);
        if (rc != IOTC_OK)
            return rc;
        rc = iotc_hub_twin_patch_topic_build(iotc_span_from_cstr(rid), c->topic_buf, c->topic_cap,
                                             &n);
        if (rc != IOTC_OK)
            return rc;
        /* QoS 0 like the Node SDK: the twin response is the acknowledgement. */
        rc = mosquitto_publish(c->mosq, NULL, c->topic_buf, (int)e->body_len, iotc__qentry_body(e),
                               0, false);
        if (rc != MOSQ_ERR_SUCCESS)
            return IOTC_E_IO;
        e->rid = r;
    }
    if (e->sent_once)
        c->stats.resent++;
    e->sent_once = true;
    e->in_flight = true;
    return IOTC_OK;
}

void iotc__hub_flush(struct iotc_client *c)
{
    struct iotc__qentry *e;

    if (c->phase != PH_HUB || !c->mosq_connected || c->teardown)
        return;
    for (e = iotc__queue_next_unsent(&c->queue); e != NULL;
         e = iotc__queue_next_unsent(&c->queue)) {
        /* A bounded window of unacknowledged PUBLISHes: the rest waits in our queue (one copy)
         * instead of in libmosquitto's (a second copy); FIFO order is kept. */
        if (e->kind == IOTC__Q_TELEMETRY && c->tele_in_flight >= TELEMETRY_WINDOW)
            return;
        int rc = publish_entry(c, e);
        if (rc == IOTC_E_IO) {
            iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
            return;
        }
        if (rc != IOTC_OK) {
            /* Cannot happen with a validated entry; stop rather than spin. */
            iotc__log(c, IOTC_LOG_ERROR, "cannot send queued entry %u: %s", (unsigned)e->id,
                      iotc_strerror(rc));
            return;
        }
    }
}

void iotc__hub_finish_entry(struct iotc_client *c, struct iotc__qentry *e, int result,
                            unsigned status, uint64_t version)
{
    iotc__queue_unlink(&c->queue, e);
    if (e->kind == IOTC__Q_TELEMETRY && e->in_flight && c->tele_in_flight > 0)
        c->tele_in_flight--;
    if (e->kind == IOTC__Q_TELEMETRY) {
        if (result == IOTC_OK)
            c->stats.telemetry_acked++;
        if (e->cb != NULL)
            ((iotc_telemetry_fn)e->cb)(e->cb_user, e->id, result);
    } else {
        if (result == IOTC_OK)
            c->stats.reports_acked++;
        if (e->cb != NULL)
            ((iotc_report_fn)e->cb)(e->cb_user, e->id, result, status, version);
    }
    free(e);
}

void iotc__hub_on_publish(struct iotc_client *c, int mid)
{
    struct iotc__qentry *e = iotc__queue_find_mid(&c->queue, mid);
    if (e != NULL) {
        if (e->kind == IOTC__Q_TELEMETRY) /* QoS 1: a PUBACK (QoS 0 reports come here once sent) */
            iotc__log(c, IOTC_LOG_DEBUG, "PUBACK telemetry %d", mid);
        iotc__hub_finish_entry(c, e, IOTC_OK, 0, 0);
        iotc__hub_flush(c); /* the window moved */
    }
}

void iotc__hub_fail_all(struct iotc_client *c)
{
    while (c->queue.head != NULL)
        iotc__hub_finish_entry(c, c->queue.head, IOTC_E_STATE, 0, 0);
}

static bool accepting(struct iotc_client *c)
{
    return c->phase != PH_STOPPED && !c->stop_requested;
}

static int enqueue(struct iotc_client *c, enum iotc__qkind kind, const char *aux, size_t aux_len,
                   const char *body, size_t body_len, iotc__qfn cb, void *user, uint32_t *out_id)
{
    struct iotc__qentry *e = NULL;
    int rc = iotc__queue_push(&c->queue, kind, aux, aux_len, body, body_len, cb, user, &e);

    if (rc == IOTC_E_NOSPACE || rc == IOTC_E_TOOBIG) {
        iotc__log(c, IOTC_LOG_WARN,
                  "outgoing queue full (%zu entries, %zu bytes): %s refused, "
                  "%llu refused so far",
                  c->queue.count, c->queue.bytes,
                  kind == IOTC__Q_TELEMETRY ? "telemetry" : "reported patch",
                  (unsigned long long)c->queue.overflowed);
        return rc;
    }
    if (rc != IOTC_OK)
        return rc;
    if (out_id)
        *out_id = e->id;
    if (kind == IOTC__Q_TELEMETRY)
        c->stats.telemetry_queued++;
    iotc__hub_flush(c);
    iotc__wake(c);
    return IOTC_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Public: telemetry and reported properties                                                 */
/* ---------------------------------------------------------------------------------------- */

static size_t collect_props(const struct iotc_msg_props *p, struct iotc_prop *out, size_t cap)
{
    size_t n = 0;
#define ADD(key, val)                                                                    \
    do {                                                                                 \
        if ((val) != NULL && n < cap)                                                    \
            out[n++] = (struct iotc_prop){IOTC_SPAN_LIT(key), iotc_span_from_cstr(val)}; \
    } while (0)
    ADD(IOTC_HUB_PROP_MESSAGE_ID, p->message_id);
    ADD(IOTC_HUB_PROP_CORRELATION_ID, p->correlation_id);
    ADD(IOTC_HUB_PROP_CONTENT_TYPE, p->content_type);
    ADD(IOTC_HUB_PROP_CONTENT_ENCODING, p->content_encoding);
    ADD(IOTC_HUB_PROP_COMPONENT, p->component);
#undef ADD
    for (size_t i = 0; i < p->n_custom && n < cap; i++) {
        out[n++] = (struct iotc_prop){iotc_span_from_cstr(p->custom[i].name),
                                      iotc_span_from_cstr(p->custom[i].value)};
    }
    return n;
}

int iotc_client_send_telemetry(struct iotc_client *c, const void *payload, size_t len,
                               const struct iotc_msg_props *props, iotc_telemetry_fn cb, void *user,
                               uint32_t *out_id)
{
    struct iotc_prop *bag_props = NULL;
    char *bag = NULL;
    size_t nprops = 0, bag_len = 0;
    int rc = IOTC_OK;

    if (payload == NULL && len != 0)
        return IOTC_E_ARG;
    if (len > TELEMETRY_MAX)
        return IOTC_E_TOOBIG;
    if (props != NULL) {
        if (props->n_custom > 0 && props->custom == NULL)
            return IOTC_E_ARG;
        size_t cap = 5 + props->n_custom;
        bag_props = iotc__calloc(cap, sizeof(*bag_props));
        if (bag_props == NULL)
            return IOTC_E_NOMEM;
        nprops = collect_props(props, bag_props, cap);
        for (size_t i = 0; i < nprops; i++) {
            if (bag_props[i].key.ptr == NULL || bag_props[i].key.len == 0)
                rc = IOTC_E_ARG;
        }
        if (rc == IOTC_OK) {
            rc = iotc_bag_build(bag_props, nprops, NULL, 0, &bag_len);
            if (rc == IOTC_E_NOSPACE || (rc == IOTC_OK && bag_len == 0))
                rc = IOTC_OK;
        }
        if (rc == IOTC_OK && bag_len > 0) {
            bag = iotc__malloc(bag_len + 1);
            rc = bag ? iotc_bag_build(bag_props, nprops, bag, bag_len + 1, &bag_len) : IOTC_E_NOMEM;
        }
        free(bag_props);
        if (rc != IOTC_OK) {
            free(bag);
            return rc;
        }
    }
    pthread_mutex_lock(&c->lock);
    if (!accepting(c))
        rc = IOTC_E_STATE;
    else
        rc = enqueue(c, IOTC__Q_TELEMETRY, bag ? bag : "", bag_len, payload, len, (iotc__qfn)cb,
                     user, out_id);
    pthread_mutex_unlock(&c->lock);
    free(bag);
    return rc;
}

static int enqueue_report(struct iotc_client *c, const char *json, size_t len, iotc_report_fn cb,
                          void *user, uint32_t *out_id)
{
    int rc;

    pthread_mutex_lock(&c->lock);
    if (!accepting(c))
        rc = IOTC_E_STATE;
    else
        rc = enqueue(c, IOTC__Q_REPORTED, "", 0, json, len, (iotc__qfn)cb, user, out_id);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int iotc_client_report(struct iotc_client *c, const char *json_patch, iotc_report_fn cb, void *user,
                       uint32_t *out_id)
{
    struct iotc_json_value v;
    struct iotc_span s = iotc_span_from_cstr(json_patch);

    if (json_patch == NULL || iotc_json_parse(s, &v) != IOTC_OK || v.type != IOTC_JSON_OBJECT)
        return IOTC_E_ARG;
    return enqueue_report(c, s.ptr, s.len, cb, user, out_id);
}

/* A reported-property patch that one of the Central builders of the core writes. name (the
 * command for PATCH_COMPLETE) and val (its text) are required. */
struct patch {
    enum { PATCH_PROPERTY, PATCH_COMPLETE, PATCH_ACK } kind;
    const char *comp, *name, *val, *desc;
    int ac;
    uint64_t av;
};

static int patch_build(const struct patch *p, char *out, size_t out_size, size_t *out_len)
{
    struct iotc_span comp = iotc_span_from_cstr(p->comp), name = iotc_span_from_cstr(p->name);
    struct iotc_span val = iotc_span_from_cstr(p->val);

    switch (p->kind) {
    case PATCH_PROPERTY:
        return iotc_central_property_build(comp, name, val, out, out_size, out_len);
    case PATCH_COMPLETE:
        return iotc_central_command_complete_build(comp, name, val, out, out_size, out_len);
    case PATCH_ACK:
        break;
    }
    return iotc_central_ack_build(comp, name, val, p->ac, p->av, iotc_span_from_cstr(p->desc), out,
                                  out_size, out_len);
}

/* The core builders are size-first: a NULL/0 call reports the length (IOTC_E_NOSPACE). */
static int enqueue_patch(struct iotc_client *c, const struct patch *p, iotc_report_fn cb,
                         void *user, uint32_t *out_id)
{
    size_t len = 0;
    char *json;
    int rc;

    if (p->name == NULL || p->val == NULL)
        return IOTC_E_ARG;
    rc = patch_build(p, NULL, 0, &len);
    if (rc != IOTC_E_NOSPACE && rc != IOTC_OK)
        return rc;
    json = iotc__malloc(len + 1);
    if (json == NULL)
        return IOTC_E_NOMEM;
    rc = patch_build(p, json, len + 1, &len);
    if (rc == IOTC_OK)
        rc = enqueue_report(c, json, len, cb, user, out_id);
    free(json);
    return rc;
}

int iotc_client_report_property(struct iotc_client *c, const char *component, const char *name,
                                const char *value_json, iotc_report_fn cb, void *user,
                                uint32_t *out_id)
{
    const struct patch p = {PATCH_PROPERTY, component, name, value_json, NULL, 0, 0};
    return enqueue_patch(c, &p, cb, user, out_id);
}

int iotc_client_complete_command(struct iotc_client *c, const char *component, const char *command,
                                 const char *text, iotc_report_fn cb, void *user, uint32_t *out_id)
{
    const struct patch p = {PATCH_COMPLETE, component, command, text, NULL, 0, 0};
    return enqueue_patch(c, &p, cb, user, out_id);
}

int iotc_client_ack_property(struct iotc_client *c, const char *component, const char *name,
                             const char *value_json, int ac, uint64_t version,
                             const char *description, iotc_report_fn cb, void *user,
                             uint32_t *out_id)
{
    const struct patch p = {PATCH_ACK, component, name, value_json, description, ac, version};
    return enqueue_patch(c, &p, cb, user, out_id);
}

void iotc__hub_timers(struct iotc_client *c, uint64_t now)
{
    if (!c->mosq_connected)
        return;
    if (c->renew_ms != 0 && now >= c->renew_ms) {
        /* Prefer a moment with nothing in flight (no resend), but never past half the margin. */
        bool idle = iotc__queue_in_flight(&c->queue) == 0;
        if (idle || now >= c->renew_ms + renewal_margin_ms(c) / 2) {
            iotc__log(c, IOTC_LOG_INFO, "renewing the SAS token (reconnecting)");
            c->stats.token_renewals++;
            iotc__request_teardown(c, IOTC_REASON_TOKEN_RENEWAL, true);
            return;
        }
    }
    if (c->resend_ms != 0 && now >= c->resend_ms) {
        c->resend_ms = 0;
        if (c->twin_get_needed)
            send_twin_get(c);
        iotc__hub_flush(c);
    }
}
