/*
 * hub.c - the IoT Hub session (PROTOCOL.md §5, §7): connect with a fresh SAS token, subscribe,
 * read the full twin and reconcile writable properties, flush the outgoing queue, dispatch
 * commands and desired-property pushes, and match acknowledgements to queued entries.
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
#define NAME_MAX_LEN 256
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
    rc = iotc_hub_username_build(iotc_span_from_cstr(c->hub_host),
                                 iotc_span_from_cstr(c->device_id), IOTC_SPAN_NULL,
                                 IOTC_SPAN_NULL, IOTC_SPAN_LIT(IOTC_CLIENT_TYPE),
                                 iotc_span_from_cstr(c->model_id), user, sizeof(user), &n);
    if (rc != IOTC_OK)
        return IOTC_E_ARG;
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
        iotc__log(c, IOTC_LOG_WARN, "hub refused the connection: %s",
                  mosquitto_connack_string(rc));
        /* Refused credentials usually mean the device moved or its keys changed: ask DPS. */
        iotc__request_teardown(c, auth ? (c->use_dps ? IOTC_REASON_REPROVISION : IOTC_REASON_AUTH)
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
    c->attempt = 0;
    c->stats.connects++;
    /* se is whole seconds, so the token may live up to 1 s less than its lifetime; renew a
     * margin before that, but never in the first half of its life (no reconnect storm). */
    uint64_t life = c->sas_lifetime_s > 1 ? (uint64_t)(c->sas_lifetime_s - 1) * 1000u : 500u;
    uint64_t margin = renewal_margin_ms(c);
    uint64_t at = life > margin ? life - margin : 0;
    c->renew_ms = c->token_created_ms + (at > life / 2 ? at : life / 2);
    iotc__set_state(c, IOTC_STATE_CONNECTED, IOTC_REASON_CONNECTED);
    send_twin_get(c);
    iotc__hub_flush(c);
}

void iotc__hub_on_close(struct iotc_client *c)
{
    iotc__queue_mark_all_unsent(&c->queue);
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
        rc = iotc_hub_telemetry_topic_build(iotc_span_from_cstr(c->device_id), IOTC_SPAN_NULL,
                                            NULL, 0, NULL, 0, &n);
        if (rc != IOTC_OK && rc != IOTC_E_NOSPACE)
            return rc;
        rc = iotc__topic_reserve(c, n + e->aux_len + 1);
        if (rc != IOTC_OK)
            return rc;
        rc = iotc_hub_telemetry_topic_build(iotc_span_from_cstr(c->device_id), IOTC_SPAN_NULL,
                                            NULL, 0, c->topic_buf, c->topic_cap, &n);
        if (rc != IOTC_OK)
            return rc;
        memcpy(c->topic_buf + n, iotc__qentry_aux(e), e->aux_len + 1);
        rc = mosquitto_publish(c->mosq, &mid, c->topic_buf, (int)e->body_len,
                               iotc__qentry_body(e), 1, false);
        if (rc != MOSQ_ERR_SUCCESS)
            return IOTC_E_IO;
        e->mid = mid;
    } else {
        char rid[16];
        uint32_t r = take_rid(c);
        snprintf(rid, sizeof(rid), "%u", (unsigned)r);
        rc = iotc__topic_reserve(c, 128);
        if (rc != IOTC_OK)
            return rc;
        rc = iotc_hub_twin_patch_topic_build(iotc_span_from_cstr(rid), c->topic_buf,
                                             c->topic_cap, &n);
        if (rc != IOTC_OK)
            return rc;
        /* QoS 0 like the Node SDK: the twin response is the acknowledgement. */
        rc = mosquitto_publish(c->mosq, NULL, c->topic_buf, (int)e->body_len,
                               iotc__qentry_body(e), 0, false);
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
    while ((e = iotc__queue_next_unsent(&c->queue)) != NULL) {
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

static void finish_entry(struct iotc_client *c, struct iotc__qentry *e, int result,
                         unsigned status, uint64_t version)
{
    iotc__queue_unlink(&c->queue, e);
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
    if (e != NULL)
        finish_entry(c, e, IOTC_OK, 0, 0);
}

void iotc__hub_fail_all(struct iotc_client *c)
{
    struct iotc__qentry *e;
    while ((e = c->queue.head) != NULL)
        finish_entry(c, e, IOTC_E_STATE, 0, 0);
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
        iotc__log(c, IOTC_LOG_WARN, "outgoing queue full (%zu entries, %zu bytes): %s refused, "
                  "%llu refused so far", c->queue.count, c->queue.bytes,
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
#define ADD(key, val)                                                                          \
    do {                                                                                       \
        if ((val) != NULL && n < cap)                                                          \
            out[n++] = (struct iotc_prop){IOTC_SPAN_LIT(key), iotc_span_from_cstr(val)};       \
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
                               const struct iotc_msg_props *props, iotc_telemetry_fn cb,
                               void *user, uint32_t *out_id)
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
            rc = bag ? iotc_bag_build(bag_props, nprops, bag, bag_len + 1, &bag_len)
                     : IOTC_E_NOMEM;
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
        rc = enqueue(c, IOTC__Q_TELEMETRY, bag ? bag : "", bag_len, payload, len,
                     (iotc__qfn)cb, user, out_id);
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

int iotc_client_report(struct iotc_client *c, const char *json_patch, iotc_report_fn cb,
                       void *user, uint32_t *out_id)
{
    struct iotc_json_value v;
    struct iotc_span s = iotc_span_from_cstr(json_patch);

    if (json_patch == NULL || iotc_json_parse(s, &v) != IOTC_OK || v.type != IOTC_JSON_OBJECT)
        return IOTC_E_ARG;
    return enqueue_report(c, s.ptr, s.len, cb, user, out_id);
}

/* The core builders are size-first: a NULL/0 call reports the length (IOTC_E_NOSPACE). */
static int heap_for(int size_rc, const size_t *need, char **out)
{
    if (size_rc != IOTC_E_NOSPACE && size_rc != IOTC_OK)
        return size_rc;
    *out = iotc__malloc(*need + 1);
    return *out ? IOTC_OK : IOTC_E_NOMEM;
}

int iotc_client_report_property(struct iotc_client *c, const char *component, const char *name,
                                const char *value_json, iotc_report_fn cb, void *user,
                                uint32_t *out_id)
{
    struct iotc_span comp = iotc_span_from_cstr(component), nm = iotc_span_from_cstr(name);
    struct iotc_span val = iotc_span_from_cstr(value_json);
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (name == NULL || value_json == NULL)
        return IOTC_E_ARG;
    rc = heap_for(iotc_central_property_build(comp, nm, val, NULL, 0, &len), &len, &json);
    if (rc == IOTC_OK)
        rc = iotc_central_property_build(comp, nm, val, json, len + 1, &len);
    if (rc == IOTC_OK)
        rc = enqueue_report(c, json, len, cb, user, out_id);
    free(json);
    return rc;
}

int iotc_client_complete_command(struct iotc_client *c, const char *component,
                                 const char *command, const char *text, iotc_report_fn cb,
                                 void *user, uint32_t *out_id)
{
    struct iotc_span comp = iotc_span_from_cstr(component), cmd = iotc_span_from_cstr(command);
    struct iotc_span txt = iotc_span_from_cstr(text);
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (command == NULL || text == NULL)
        return IOTC_E_ARG;
    rc = heap_for(iotc_central_command_complete_build(comp, cmd, txt, NULL, 0, &len), &len, &json);
    if (rc == IOTC_OK)
        rc = iotc_central_command_complete_build(comp, cmd, txt, json, len + 1, &len);
    if (rc == IOTC_OK)
        rc = enqueue_report(c, json, len, cb, user, out_id);
    free(json);
    return rc;
}

int iotc_client_ack_property(struct iotc_client *c, const char *component, const char *name,
                             const char *value_json, int ac, uint64_t version,
                             const char *description, iotc_report_fn cb, void *user,
                             uint32_t *out_id)
{
    struct iotc_span comp = iotc_span_from_cstr(component), nm = iotc_span_from_cstr(name);
    struct iotc_span val = iotc_span_from_cstr(value_json);
    struct iotc_span ad = iotc_span_from_cstr(description);
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (name == NULL || value_json == NULL)
        return IOTC_E_ARG;
    rc = heap_for(iotc_central_ack_build(comp, nm, val, ac, version, ad, NULL, 0, &len), &len,
                  &json);
    if (rc == IOTC_OK)
        rc = iotc_central_ack_build(comp, nm, val, ac, version, ad, json, len + 1, &len);
    if (rc == IOTC_OK)
        rc = enqueue_report(c, json, len, cb, user, out_id);
    free(json);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Commands                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static bool rid_ok(const char *rid)
{
    size_t n = rid ? strlen(rid) : 0;
    if (n == 0 || n >= sizeof(((struct iotc_command *)0)->rid))
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)rid[i] <= 0x20 || strchr("&=?#+/", rid[i]) != NULL)
            return false;
    }
    return true;
}

static int respond_locked(struct iotc_client *c, const char *rid, int status, const char *json)
{
    char topic[96];
    size_t n;
    struct iotc_json_value v;
    struct iotc_span body = IOTC_SPAN_LIT("null");

    if (!rid_ok(rid) || status < 0 || status > 65535)
        return IOTC_E_ARG;
    if (json != NULL) {
        body = iotc_span_from_cstr(json);
        if (iotc_json_parse(body, &v) != IOTC_OK)
            return IOTC_E_ARG;
    }
    if (c->phase != PH_HUB || !c->mosq_connected || c->teardown)
        return IOTC_E_STATE;
    if (iotc_hub_method_response_topic_build((unsigned)status, iotc_span_from_cstr(rid), topic,
                                             sizeof(topic), &n) != IOTC_OK)
        return IOTC_E_ARG;
    if (mosquitto_publish(c->mosq, NULL, topic, (int)body.len, body.ptr, 0, false) !=
        MOSQ_ERR_SUCCESS)
        return IOTC_E_IO;
    iotc__wake(c);
    return IOTC_OK;
}

int iotc_client_command_respond(struct iotc_client *c, const char *rid, int status,
                                const char *json)
{
    pthread_mutex_lock(&c->lock);
    int rc = respond_locked(c, rid, status, json);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static struct iotc__cmd_handler *find_cmd(struct iotc_client *c, const char *full)
{
    struct iotc__cmd_handler *def = NULL;
    for (struct iotc__cmd_handler *h = c->cmd_handlers; h; h = h->next) {
        if (h->name == NULL)
            def = h;
        else if (strcmp(h->name, full) == 0)
            return h;
    }
    return def;
}

static void handle_method(struct iotc_client *c, struct iotc_span name, struct iotc_span rid,
                          const struct mosquitto_message *msg)
{
    char full[NAME_MAX_LEN], comp[NAME_MAX_LEN], cmdname[NAME_MAX_LEN];
    struct iotc_span sc, sn;
    struct iotc_command cmd;
    const char *out_json = NULL;

    memset(&cmd, 0, sizeof(cmd));
    if (rid.len == 0 || rid.len >= sizeof(cmd.rid)) {
        iotc__log(c, IOTC_LOG_WARN, "method request with an unusable $rid ignored");
        return;
    }
    memcpy(cmd.rid, rid.ptr, rid.len);
    if (name.len >= sizeof(full)) {
        respond_locked(c, cmd.rid, 400, "{\"error\":\"command name too long\"}");
        return;
    }
    memcpy(full, name.ptr, name.len);
    full[name.len] = '\0';
    if (iotc_central_command_split(name, &sc, &sn) != IOTC_OK) {
        sc = IOTC_SPAN_NULL;
        sn = name;
    }
    if (sc.ptr != NULL) {
        memcpy(comp, sc.ptr, sc.len);
        comp[sc.len] = '\0';
    }
    memcpy(cmdname, sn.ptr, sn.len);
    cmdname[sn.len] = '\0';

    struct iotc__cmd_handler *h = find_cmd(c, full);
    if (h == NULL) {
        iotc__log(c, IOTC_LOG_INFO, "no handler for command %s", full);
        respond_locked(c, cmd.rid, 404, "{\"error\":\"unknown command\"}");
        return;
    }
    size_t plen = msg->payload ? (size_t)msg->payloadlen : 0;
    char *payload = iotc__malloc(plen ? plen + 1 : 5);
    if (payload == NULL) {
        respond_locked(c, cmd.rid, 500, "{\"error\":\"out of memory\"}");
        return;
    }
    if (plen) {
        memcpy(payload, msg->payload, plen);
        payload[plen] = '\0';
    } else {
        memcpy(payload, "null", 5);
        plen = 4;
    }
    cmd.component = sc.ptr ? comp : NULL;
    cmd.name = cmdname;
    cmd.payload = payload;
    cmd.payload_len = plen;
    iotc__log(c, IOTC_LOG_INFO, "command %s (%zu bytes)", full, plen);
    int status = h->fn(h->user, c, &cmd, &out_json);
    if (status != IOTC_COMMAND_DEFER) {
        /* out_json may point into the request (an echo): answer before freeing it. */
        int rc = respond_locked(c, cmd.rid, status, out_json);
        if (rc == IOTC_E_ARG) {
            iotc__log(c, IOTC_LOG_ERROR, "command %s: handler returned invalid JSON or status",
                      full);
            respond_locked(c, cmd.rid, 500, NULL);
        }
    }
    free(payload);
}

/* ---------------------------------------------------------------------------------------- */
/* Writable properties                                                                       */
/* ---------------------------------------------------------------------------------------- */

static struct iotc__prop_seen *find_seen(struct iotc_client *c, struct iotc_span comp,
                                         struct iotc_span name)
{
    size_t cl = comp.ptr ? comp.len : 0;
    for (struct iotc__prop_seen *s = c->seen; s; s = s->next) {
        if (s->comp_len == cl && s->name_len == name.len &&
            (cl == 0 || memcmp(s->key, comp.ptr, cl) == 0) &&
            memcmp(s->key + cl, name.ptr, name.len) == 0)
            return s;
    }
    return NULL;
}

static void mark_seen(struct iotc_client *c, struct iotc_span comp, struct iotc_span name,
                      uint64_t version)
{
    struct iotc__prop_seen *s = find_seen(c, comp, name);
    size_t cl = comp.ptr ? comp.len : 0;

    if (s == NULL) {
        s = iotc__malloc(sizeof(*s) + cl + name.len);
        if (s == NULL)
            return; /* worst case the property is delivered again: harmless */
        s->comp_len = cl;
        s->name_len = name.len;
        if (cl)
            memcpy(s->key, comp.ptr, cl);
        memcpy(s->key + cl, name.ptr, name.len);
        s->next = c->seen;
        c->seen = s;
    }
    s->version = version;
}

static struct iotc__prop_handler *find_prop(struct iotc_client *c, const char *comp,
                                            const char *name)
{
    struct iotc__prop_handler *def = NULL;
    for (struct iotc__prop_handler *h = c->prop_handlers; h; h = h->next) {
        bool same_comp = (h->component == NULL && comp == NULL) ||
                         (h->component && comp && strcmp(h->component, comp) == 0);
        if (!same_comp)
            continue;
        if (h->name == NULL)
            def = h;
        else if (strcmp(h->name, name) == 0)
            return h;
    }
    return def;
}

struct deliver_ctx {
    struct iotc_client *c;
    bool from_twin;
};

static bool ops_is_component(void *ctx, struct iotc_span name)
{
    struct iotc_client *c = ((struct deliver_ctx *)ctx)->c;
    for (struct iotc__prop_handler *h = c->prop_handlers; h; h = h->next) {
        if (h->component && iotc_span_eq(iotc_span_from_cstr(h->component), name))
            return true;
    }
    return false;
}

static uint64_t ops_delivered(void *ctx, struct iotc_span comp, struct iotc_span name)
{
    struct iotc__prop_seen *s = find_seen(((struct deliver_ctx *)ctx)->c, comp, name);
    return s ? s->version : 0;
}

static bool unescape_into(struct iotc_span s, char *out, size_t size)
{
    size_t n;
    return iotc_json_unescape(s, out, size, &n) == IOTC_OK && n < size && memchr(out, 0, n) == NULL;
}

static int ops_deliver(void *ctx, struct iotc_span comp, struct iotc_span name,
                       struct iotc_json_value value, uint64_t version)
{
    struct deliver_ctx *d = ctx;
    struct iotc_client *c = d->c;
    char cbuf[NAME_MAX_LEN], nbuf[NAME_MAX_LEN];
    const char *desc = NULL;

    if ((comp.ptr && !unescape_into(comp, cbuf, sizeof(cbuf))) ||
        !unescape_into(name, nbuf, sizeof(nbuf))) {
        iotc__log(c, IOTC_LOG_WARN, "desired property with an unusable name skipped");
        return IOTC_OK;
    }
    mark_seen(c, comp, name, version);
    const char *cname = comp.ptr ? cbuf : NULL;
    struct iotc__prop_handler *h = find_prop(c, cname, nbuf);
    if (h == NULL) {
        iotc__log(c, IOTC_LOG_INFO, "no handler for desired property %s%s%s (version %llu)",
                  cname ? cname : "", cname ? "." : "", nbuf, (unsigned long long)version);
        return IOTC_OK;
    }
    char *val = iotc__strndup(value.raw.ptr, value.raw.len);
    if (val == NULL)
        return IOTC_OK;
    struct iotc_property p = {cname, nbuf, val, value.raw.len, version, d->from_twin};
    iotc__log(c, IOTC_LOG_INFO, "desired %s%s%s = %s (version %llu%s)", cname ? cname : "",
              cname ? "." : "", nbuf, val, (unsigned long long)version,
              d->from_twin ? ", from twin" : "");
    int code = h->fn(h->user, c, &p, &desc);
    if (code != IOTC_PROPERTY_DEFER) {
        if (desc == NULL && code == IOTC_CENTRAL_ACK_COMPLETED)
            desc = "completed";
        int rc = iotc_client_ack_property(c, cname, nbuf, val, code, version, desc, NULL, NULL,
                                          NULL);
        if (rc != IOTC_OK)
            iotc__log(c, IOTC_LOG_WARN, "cannot acknowledge %s: %s", nbuf, iotc_strerror(rc));
    }
    free(val);
    return IOTC_OK;
}

static void handle_twin_get(struct iotc_client *c, unsigned status, struct iotc_span body)
{
    struct deliver_ctx d = {c, true};
    struct iotc__twin_ops ops = {ops_is_component, ops_delivered, ops_deliver, &d};
    uint64_t v = 0;

    c->twin_get_rid = 0;
    c->deadline_ms = 0;
    if (status != 200) {
        iotc__log(c, IOTC_LOG_WARN, "twin GET answered %u; asking again", status);
        c->twin_get_needed = true;
        c->resend_ms = iotc__now_ms() + RETRY_LATER_MS;
        return;
    }
    if (iotc__twin_reconcile(body, &ops, &v) != IOTC_OK) {
        iotc__log(c, IOTC_LOG_WARN, "twin document unreadable; writable properties not synced");
        return;
    }
    c->twin_synced = true;
    if (v > c->desired_version)
        c->desired_version = v;
}

static void handle_twin_response(struct iotc_client *c, const struct iotc_hub_topic *t,
                                 struct iotc_span body)
{
    char ridbuf[16];
    unsigned long rid;
    char *end;

    if (t->rid.len == 0 || t->rid.len >= sizeof(ridbuf))
        return;
    memcpy(ridbuf, t->rid.ptr, t->rid.len);
    ridbuf[t->rid.len] = '\0';
    rid = strtoul(ridbuf, &end, 10);
    if (*end != '\0' || rid == 0 || rid > UINT32_MAX)
        return;
    if (rid == c->twin_get_rid) {
        handle_twin_get(c, t->status, body);
        return;
    }
    struct iotc__qentry *e = iotc__queue_find_rid(&c->queue, (uint32_t)rid);
    if (e == NULL)
        return;
    if (t->status >= 200 && t->status < 300) {
        finish_entry(c, e, IOTC_OK, t->status, t->version);
    } else if (t->status == 429 || t->status >= 500) {
        e->in_flight = false;
        c->resend_ms = iotc__now_ms() + RETRY_LATER_MS;
    } else {
        iotc__log(c, IOTC_LOG_WARN, "reported patch %u refused with %u", (unsigned)e->id,
                  t->status);
        finish_entry(c, e, IOTC_E_REFUSED, t->status, 0);
    }
}

static void handle_desired(struct iotc_client *c, uint64_t version, struct iotc_span body)
{
    struct deliver_ctx d = {c, false};
    struct iotc__twin_ops ops = {ops_is_component, ops_delivered, ops_deliver, &d};

    if (c->twin_synced && version <= c->desired_version) {
        iotc__log(c, IOTC_LOG_DEBUG, "desired push %llu already covered by the twin read",
                  (unsigned long long)version);
        return;
    }
    if (iotc__twin_desired_patch(body, version, &ops) != IOTC_OK)
        iotc__log(c, IOTC_LOG_WARN, "malformed desired-properties push ignored");
    if (version > c->desired_version)
        c->desired_version = version;
}

void iotc__hub_on_message(struct iotc_client *c, const struct mosquitto_message *msg)
{
    struct iotc_hub_topic t;
    struct iotc_span body = {msg->payload, msg->payload ? (size_t)msg->payloadlen : 0};

    if (iotc_hub_topic_parse(iotc_span_from_cstr(msg->topic), &t) != IOTC_OK) {
        iotc__log(c, IOTC_LOG_WARN, "ignoring message on unknown topic %s", msg->topic);
        return;
    }
    switch (t.kind) {
    case IOTC_HUB_TOPIC_METHOD_REQUEST:
        handle_method(c, t.method_name, t.rid, msg);
        break;
    case IOTC_HUB_TOPIC_TWIN_RESPONSE:
        handle_twin_response(c, &t, body);
        break;
    case IOTC_HUB_TOPIC_TWIN_DESIRED:
        handle_desired(c, t.version, body);
        break;
    default:
        iotc__log(c, IOTC_LOG_DEBUG, "ignoring %s message", iotc_hub_topic_kind_str(t.kind));
        break;
    }
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
