/*
 * broker_hub.c - the IoT Hub side of a connection (docs/PROTOCOL.md §5): session attach/detach,
 * authorization of topics and filters, telemetry, twin, methods, C2D delivery.
 */
#include "central/hub/broker_int.h"

#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "central/base/events.h"
#include "central/base/log.h"
#include "central/hub/c2d.h"
#include "central/hub/twin.h"
#include "central/store/store.h"
#include "iotc/codec.h"
#include "iotc/dps.h"
#include "iotc/hub.h"
#include "iotc/json.h"

enum { SUBI_C2D, SUBI_METHODS, SUBI_TWIN_RES, SUBI_TWIN_DESIRED };

static void deliver_c2d(struct session *s);
static const char *record_telemetry(struct session *s, struct iotc_span bag, size_t msg_len,
                                    struct iotc_span payload, const char *xkey, const char *xval,
                                    uint16_t pid, int64_t now_ms);

void hub_on_connect(struct session *s, const struct iotc_mqtt_connect *c,
                    const struct auth_result *ar)
{
    struct app *app = s->app;
    CENTRAL_ASSERT(s->kind == S_HUB && s->dev == NULL);
    size_t unsealed = app->store != NULL ? store_unsealed(app->store) : 0;
    struct device *dev = registry_get(app, s->ident);
    if (dev == NULL) { /* cannot happen: auth just looked it up */
        session_close(s, "device vanished", false);
        return;
    }
    if (dev->session != NULL)
        session_close(dev->session, "ConnectionForcefullyClosedOnNewConnection (400027)", false);
    s->dev = dev;
    dev->session = s;
    dev->connected = true;
    dev->connection_state_updated_ms = broker_now_ms(app);
    dev->last_activity_ms = dev->connection_state_updated_ms;
    bool present = !c->clean_session && dev->session_present;
    if (present) {
        s->subs = dev->sub_mask;
        for (int i = 0; i < 4; i++)
            s->sub_qos[i] = 1;
    } else {
        dev->sub_mask = 0;
    }
    dev->session_present = !c->clean_session;
    char model[512] = "";
    if (ar->model_id.ptr != NULL) {
        size_t mlen;
        if (iotc_pct_decode(ar->model_id, model, sizeof model, &mlen) != IOTC_OK ||
            mlen >= sizeof model || memchr(model, '\0', mlen) != NULL)
            model[0] = '\0';
    }
    if (model[0] != '\0')
        registry_set_model_id(app, dev, model); /* persists */
    else
        registry_persist(app, dev);
    if (c->has_will) {
        /* Only the device's own telemetry topic is a valid will (§5.1). */
        enum iotc_hub_topic_kind wk = IOTC_HUB_TOPIC_UNKNOWN;
        if (iotc_hub_topic_classify(c->will_topic, iotc_span_from_cstr(dev->id), IOTC_SPAN_NULL,
                                    &wk) == IOTC_OK &&
            wk == IOTC_HUB_TOPIC_TELEMETRY && c->will_payload.len <= BROKER_MSG_MAX) {
            s->will_topic = app_strndup(c->will_topic.ptr, c->will_topic.len);
            s->will_payload = app_strndup(c->will_payload.ptr, c->will_payload.len);
            if (s->will_topic != NULL && s->will_payload != NULL) {
                s->will_len = c->will_payload.len;
            } else {
                free(s->will_topic);
                free(s->will_payload);
                s->will_topic = s->will_payload = NULL;
            }
        } else {
            log_warn("hub: ignoring the will of %s: not its telemetry topic", LOG_STR(dev->id));
        }
    }
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_CONNACK};
    p.connack.session_present = present;
    session_send(s, &p);
    log_info("hub: connect %s from %s (clean=%d keepalive=%u%s%s)", LOG_STR(dev->id), s->peer,
             c->clean_session, c->keep_alive, model[0] ? " model=" : "", LOG_STR(model));
    if (s->subs & SUB_C2D)
        deliver_c2d(s);
    if (s->subs & SUB_METHODS)
        method_device_ready(app, dev);
    events_device(app, EV_CONNECTED, dev->id);
    /* The connection's bookkeeping (device row, connected event) acknowledges nothing: it commits
     * with the device's first telemetry instead of making it wait for a commit of its own. */
    if (app->store != NULL)
        store_defer_seal(app->store, unsealed);
}

void hub_detach(struct session *s, const char *reason)
{
    struct device *dev = s->dev;
    log_info("hub: disconnect %s from %s (%s)", LOG_STR(s->ident), s->peer, reason);
    if (dev == NULL)
        return;
    if (s->will_topic != NULL && !s->graceful && dev->session == s) {
        /* §5.1: on an ungraceful close the will is routed as telemetry. */
        struct iotc_span topic = {s->will_topic, strlen(s->will_topic)}, wdev, wmod, bag;
        const char *err = "malformed telemetry topic";
        if (iotc_hub_telemetry_topic_parse(topic, &wdev, &wmod, &bag) == IOTC_OK)
            err = record_telemetry(s, bag, topic.len + s->will_len,
                                   (struct iotc_span){s->will_payload, s->will_len},
                                   "iothub-MessageType", "Will", 0, broker_now_ms(s->app));
        if (err == NULL)
            log_info("hub: recorded the will message of %s", LOG_STR(s->ident));
    }
    s->dev = NULL;
    if (dev->session != s)
        return;
    dev->session = NULL;
    dev->connected = false;
    dev->connection_state_updated_ms = broker_now_ms(s->app);
    struct c2d_msg *m;
    STAILQ_FOREACH(m, &dev->c2d, link)
    m->packet_id = 0;              /* unacknowledged: redeliver on the next session */
    registry_persist(s->app, dev); /* lastActivityTime, connection state */
    events_device(s->app, EV_DISCONNECTED, dev->id);
}

/* ---------------------------------------------------------------- subscriptions */

static void set_persistent_subs(struct session *s)
{
    struct device *dev = s->dev;
    if (dev->session_present && dev->sub_mask != s->subs) {
        dev->sub_mask = s->subs;
        registry_persist(s->app, dev);
    }
}

void hub_on_subscribe(struct session *s, const struct iotc_mqtt_packet *pkt)
{
    uint8_t codes[16];
    size_t n = 0;
    uint32_t added = 0;
    CENTRAL_ASSERT(s->kind == S_HUB && s->dev != NULL);
    struct iotc_span it = pkt->subscribe.raw;
    struct iotc_mqtt_subscription sub;
    while (iotc_mqtt_subscribe_next(&it, &sub)) {
        enum iotc_hub_sub_kind kind = IOTC_HUB_SUB_UNKNOWN;
        int rc = iotc_hub_subscription_classify(sub.filter, iotc_span_from_cstr(s->dev->id),
                                                IOTC_SPAN_NULL, &kind);
        int bit = -1;
        switch (rc == IOTC_OK ? kind : IOTC_HUB_SUB_UNKNOWN) {
        case IOTC_HUB_SUB_C2D:
            bit = SUBI_C2D;
            break;
        case IOTC_HUB_SUB_METHODS:
            bit = SUBI_METHODS;
            break;
        case IOTC_HUB_SUB_TWIN_RES:
            bit = SUBI_TWIN_RES;
            break;
        case IOTC_HUB_SUB_TWIN_DESIRED:
            bit = SUBI_TWIN_DESIRED;
            break;
        default:
            break;
        }
        if (bit < 0 || n == sizeof codes) {
            /* IoT Hub terminates the connection instead of a failure SUBACK (§5.1). */
            log_warn("hub: %s subscribed to %s filter %s", LOG_STR(s->ident),
                     rc == IOTC_E_AUTH ? "another identity's" : "unsupported",
                     LOG_SPAN(sub.filter.ptr, sub.filter.len));
            session_close(
                s, rc == IOTC_E_AUTH ? "subscription not authorized" : "unsupported subscription",
                false);
            return;
        }
        uint8_t q = sub.qos > 1 ? 1 : sub.qos;
        s->sub_qos[bit] = q;
        if (!(s->subs & (1u << bit)))
            added |= 1u << bit;
        s->subs |= 1u << bit;
        codes[n++] = q;
    }
    struct iotc_mqtt_packet r = {.type = IOTC_MQTT_SUBACK};
    r.suback.packet_id = pkt->subscribe.packet_id;
    r.suback.count = n;
    r.suback.codes = codes;
    if (session_send(s, &r) != CE_OK)
        return;
    set_persistent_subs(s);
    if (s->subs & SUB_C2D)
        deliver_c2d(s); /* also re-sends after a re-subscribe */
    if (added & SUB_METHODS)
        method_device_ready(s->app, s->dev);
}

void hub_on_unsubscribe(struct session *s, const struct iotc_mqtt_packet *pkt)
{
    struct iotc_span it = pkt->unsubscribe.raw, filter;
    while (iotc_mqtt_unsubscribe_next(&it, &filter)) {
        enum iotc_hub_sub_kind kind = IOTC_HUB_SUB_UNKNOWN;
        if (iotc_hub_subscription_classify(filter, iotc_span_from_cstr(s->dev->id), IOTC_SPAN_NULL,
                                           &kind) != IOTC_OK)
            continue;
        if (kind == IOTC_HUB_SUB_C2D)
            s->subs &= ~(uint32_t)SUB_C2D;
        else if (kind == IOTC_HUB_SUB_METHODS)
            s->subs &= ~(uint32_t)SUB_METHODS;
        else if (kind == IOTC_HUB_SUB_TWIN_RES)
            s->subs &= ~(uint32_t)SUB_TWIN_RES;
        else if (kind == IOTC_HUB_SUB_TWIN_DESIRED)
            s->subs &= ~(uint32_t)SUB_TWIN_DESIRED;
    }
    struct iotc_mqtt_packet r = {.type = IOTC_MQTT_UNSUBACK};
    r.packet_id = pkt->unsubscribe.packet_id;
    if (session_send(s, &r) == CE_OK)
        set_persistent_subs(s);
}

/* ---------------------------------------------------------------- telemetry */

/* Decode the property bag into a JSON object of its pairs, "{...}"; component gets the "$.sub"
 * value. Properties only the hub sets are dropped (§5.3): a device cannot pass for another. The
 * result depends on the bag's bytes alone, so it is kept in the broker's bag cache. */
static int bag_to_json(struct iotc_span bag, char *out, size_t size, size_t *out_len,
                       char *component, size_t comp_size)
{
    struct iotc_json_writer w;
    iotc_json_writer_init(&w, out, size);
    iotc_json_write_object_begin(&w);
    struct iotc_bag_iter it;
    struct iotc_bag_pair pair;
    iotc_bag_iter_init(&it, bag);
    int rc;
    component[0] = '\0';
    while ((rc = iotc_bag_next(&it, &pair)) == IOTC_OK) {
        char key[256], val[4096];
        size_t klen, vlen;
        if (iotc_bag_pair_decode(&pair, key, sizeof key, &klen, val, sizeof val, &vlen) != IOTC_OK)
            return IOTC_E_MALFORMED;
        if (iotc_hub_property_is_hub_set((struct iotc_span){key, klen}))
            continue;
        iotc_json_write_key(&w, (struct iotc_span){key, klen});
        if (pair.has_value)
            iotc_json_write_string(&w, (struct iotc_span){val, vlen});
        else
            iotc_json_write_null(&w);
        if (strcmp(key, "$.sub") == 0 && pair.has_value && vlen < comp_size &&
            memchr(val, '\0', vlen) == NULL)
            memcpy(component, val, vlen + 1);
    }
    if (rc != IOTC_E_NOTFOUND)
        return IOTC_E_MALFORMED;
    iotc_json_write_object_end(&w);
    return iotc_json_writer_finish(&w, out_len);
}

/* Append @p s to out[*len] as a JSON string; @p size was checked by the caller to hold the
 * longest escape. Plain ASCII (device ids) is copied as is. */
static void put_json_string(char *out, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s), i = 0, w;
    while (i < n && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x80 && s[i] != '"' &&
           s[i] != '\\')
        i++;
    if (i == n) {
        out[(*len)++] = '"';
        memcpy(out + *len, s, n);
        *len += n;
        out[(*len)++] = '"';
    } else if (iotc_json_escape(iotc_span_from_cstr(s), out + *len, size - *len, &w) == IOTC_OK) {
        *len += w;
    } else {
        memcpy(out + *len, "null", 4); /* not UTF-8: cannot happen for ids the registry took */
        *len += 4;
    }
}

/* The message's properties: the bag's object @p obj ("{...}") with the hub's
 * iothub-connection-device-id, @p device_id, appended, and an extra property (mqtt-retain,
 * iothub-MessageType) when @p xkey is non-NULL. @p out (@p size bytes) holds obj_len +
 * PROPS_EXTRA; @p obj may be @p out itself. */
#define PROPS_EXTRA (6 * DEVICE_ID_MAX + 160)
static size_t props_finish(const char *obj, size_t obj_len, const char *device_id, const char *xkey,
                           const char *xval, char *out, size_t size)
{
    static const char hub_key[] = "\"iothub-connection-device-id\":";
    size_t len = obj_len - 1; /* without the closing brace */
    memmove(out, obj, len);
    if (obj_len > 2)
        out[len++] = ',';
    memcpy(out + len, hub_key, sizeof hub_key - 1);
    len += sizeof hub_key - 1;
    put_json_string(out, size, &len, device_id);
    if (xkey != NULL) {
        out[len++] = ',';
        put_json_string(out, size, &len, xkey);
        out[len++] = ':';
        put_json_string(out, size, &len, xval);
    }
    out[len++] = '}';
    out[len] = '\0';
    return len;
}

/* Devices send the same property bag with every message (content type and encoding, a
 * component), so the JSON of the last few bags is kept: a message whose bag was seen costs a
 * hash and a compare instead of decoding and escaping every pair (docs/PERFORMANCE.md). */
static struct bag_entry *bag_lookup(struct broker *b, struct iotc_span bag, bool *out_hit)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < bag.len; i++)
        h = (h ^ (unsigned char)bag.ptr[i]) * 16777619u;
    struct bag_entry *e = &b->bags[(h ^ h >> 16) % BROKER_BAG_SLOTS];
    *out_hit = e->used && e->bag_len == bag.len && memcmp(e->bag, bag.ptr, bag.len) == 0;
    return e;
}

/* The bag's "{...}" and component, from the cache or decoded (and then cached when it fits).
 * @p obj holds @p size bytes; *out_obj points at the result (the cache's or @p obj). */
static int bag_object(struct broker *b, struct iotc_span bag, char *obj, size_t size,
                      const char **out_obj, size_t *out_len, const char **out_component)
{
    bool hit = false;
    struct bag_entry *e = b != NULL && bag.len <= BROKER_BAG_MAX ? bag_lookup(b, bag, &hit) : NULL;
    if (hit) {
        b->stats.bag_hits++;
        *out_obj = e->json;
        *out_len = e->json_len;
        *out_component = e->component[0] ? e->component : NULL;
        return IOTC_OK;
    }
    char component[256];
    size_t len = 0;
    if (bag_to_json(bag, obj, size, &len, component, sizeof component) != IOTC_OK)
        return IOTC_E_MALFORMED;
    *out_obj = obj;
    *out_len = len;
    *out_component = NULL;
    if (e != NULL && len < sizeof e->json && strlen(component) < sizeof e->component) {
        memcpy(e->bag, bag.ptr, bag.len);
        e->bag_len = (uint16_t)bag.len;
        memcpy(e->json, obj, len + 1);
        e->json_len = (uint16_t)len;
        memcpy(e->component, component, strlen(component) + 1);
        e->used = true;
        *out_obj = e->json;
        *out_component = e->component[0] ? e->component : NULL;
        return IOTC_OK;
    }
    if (component[0] != '\0') { /* not cached: keep the component beside the object */
        size_t clen = strlen(component);
        if (len + 1 + clen + 1 <= size) {
            memcpy(obj + len + 1, component, clen + 1);
            *out_component = obj + len + 1;
        }
    }
    return IOTC_OK;
}

/*
 * Queue one device-to-cloud message for the store. QoS 1 (@p pid != 0) is PUBACKed by the
 * store once durable. @p bag is the topic's property bag, @p msg_len the topic's and payload's
 * length; @p now_ms the message's enqueued time. @return NULL or the reason the connection must
 * close (not closed here, because the will message is recorded from a session that is already
 * closing).
 */
static const char *record_telemetry(struct session *s, struct iotc_span bag, size_t msg_len,
                                    struct iotc_span payload, const char *xkey, const char *xval,
                                    uint16_t pid, int64_t now_ms)
{
    struct broker *b = s->app->broker;
    if (msg_len > BROKER_MSG_MAX) {
        log_warn("hub: %s sent a %zu-byte message (limit %u)", LOG_STR(s->ident), msg_len,
                 (unsigned)BROKER_MSG_MAX);
        return "message too large";
    }
    /* The decoded JSON is at most ~6x the encoded bag (\u00XX escapes) plus quotes/commas,
     * plus the component kept beside it and the hub's device id property. */
    char stack[4096];
    size_t cap = bag.len * 6 + 128 + 256 + PROPS_EXTRA;
    char *props = cap <= sizeof stack ? stack : malloc(cap);
    if (props == NULL)
        return "out of memory";
    const char *obj, *component;
    size_t obj_len;
    if (bag_object(b, bag, props, cap, &obj, &obj_len, &component) != IOTC_OK) {
        if (props != stack)
            free(props);
        log_warn("hub: %s sent an undecodable property bag", LOG_STR(s->ident));
        return "malformed property bag";
    }
    /* A component kept in props (not cached) moves out of the way of the finished object. */
    char comp_copy[256];
    if (component != NULL && component >= props && component < props + cap) {
        memcpy(comp_copy, component, strlen(component) + 1);
        component = comp_copy;
    }
    props_finish(obj, obj_len, s->dev->id, xkey, xval, props, cap);
    struct store_telemetry t = {
        .device_id = s->dev->id,
        .enqueued_ms = now_ms,
        .component = component,
        .props_json = props,
        .payload = payload.ptr,
        .payload_len = payload.len,
    };
    const char *err = NULL;
    if (s->app->store == NULL) {
        if (pid != 0)
            session_ack_durable(s, pid);
    } else if (pid != 0) {
        session_ref(s);
        s->pending_acks++;
        if (store_add_telemetry(s->app->store, &t, session_ack_done, s, pid) != CE_OK) {
            s->pending_acks--;
            session_unref(s);
            err = "out of memory";
        }
    } else if (store_add_telemetry(s->app->store, &t, NULL, NULL, 0) != CE_OK) {
        err = "out of memory";
    }
    if (err == NULL) {
        if (b != NULL)
            b->stats.handed_off++;
        events_telemetry(s->app, s->dev->id, t.enqueued_ms, t.component, props, payload.ptr,
                         payload.len);
    }
    if (props != stack)
        free(props);
    return err;
}

static void on_telemetry(struct session *s, const struct iotc_hub_topic *t,
                         const struct iotc_mqtt_publish *pub)
{
    /* A retained D2C message is forwarded with mqtt-retain=true (§5.1). The enqueued time is
     * the loop's time of the read that brought the message (no clock read per message). */
    if (s->app->broker != NULL)
        s->app->broker->stats.parsed++;
    const char *err = record_telemetry(s, t->bag, pub->topic.len + pub->payload.len, pub->payload,
                                       pub->retain ? "mqtt-retain" : NULL, "true",
                                       pub->qos == 1 ? pub->packet_id : 0, s->last_rx_ms);
    if (err != NULL)
        session_close(s, err, false);
}

/* ---------------------------------------------------------------- twin */

static void twin_respond(struct session *s, unsigned status, struct iotc_span rid, bool has_version,
                         int64_t version, const char *body, size_t len)
{
    if (!(s->subs & SUB_TWIN_RES))
        return;
    char topic[256];
    size_t tlen;
    if (iotc_hub_twin_response_topic_build(status, rid, has_version, (uint64_t)version, topic,
                                           sizeof topic, &tlen) != IOTC_OK) {
        session_close(s, "unusable $rid", false);
        return;
    }
    session_publish(s, topic, tlen, body, len, s->sub_qos[SUBI_TWIN_RES], NULL);
}

/* A 204 for a reported patch is sent once the patched twin is on disk, like a PUBACK. */
struct twin_ack {
    struct session *s;
    size_t len;
    char topic[];
};

static void twin_ack_done(void *ctx, uint32_t tag, int rc)
{
    struct twin_ack *a = ctx;
    (void)tag;
    if (!a->s->closing) {
        if (rc != CE_OK)
            session_close(a->s, "store write failed", false);
        else
            session_publish(a->s, a->topic, a->len, NULL, 0, a->s->sub_qos[SUBI_TWIN_RES], NULL);
    }
    session_unref(a->s);
    free(a);
}

static void twin_respond_durable(struct session *s, struct iotc_span rid, int64_t version)
{
    char topic[256];
    size_t tlen;
    if (!(s->subs & SUB_TWIN_RES))
        return;
    if (iotc_hub_twin_response_topic_build(204, rid, true, (uint64_t)version, topic, sizeof topic,
                                           &tlen) != IOTC_OK) {
        session_close(s, "unusable $rid", false);
        return;
    }
    struct twin_ack *a = s->app->store ? malloc(sizeof *a + tlen) : NULL;
    if (a == NULL) {
        session_publish(s, topic, tlen, NULL, 0, s->sub_qos[SUBI_TWIN_RES], NULL);
        return;
    }
    a->s = s;
    a->len = tlen;
    memcpy(a->topic, topic, tlen);
    session_ref(s);
    if (store_barrier(s->app->store, twin_ack_done, a, 0) != CE_OK) {
        session_unref(s);
        free(a);
        session_close(s, "out of memory", false);
    }
}

static void twin_error(struct session *s, struct iotc_span rid, unsigned status, int64_t code,
                       const char *message)
{
    char body[512], now[32];
    size_t len;
    app_format_time(app_now_ms(), now);
    if (iotc_dps_error_body_build(code, IOTC_SPAN_LIT("00000000-0000-0000-0000-000000000000"),
                                  iotc_span_from_cstr(message), iotc_span_from_cstr(now), body,
                                  sizeof body, &len) != IOTC_OK)
        len = (size_t)snprintf(body, sizeof body, "{\"errorCode\":%lld}", (long long)code);
    twin_respond(s, status, rid, false, 0, body, len);
}

static void on_twin(struct session *s, enum iotc_hub_topic_kind kind, struct iotc_span rid,
                    const struct iotc_mqtt_publish *pub)
{
    struct device *dev = s->dev;
    if (kind == IOTC_HUB_TOPIC_TWIN_GET) {
        char *text = twin_device_get_text(dev);
        if (text == NULL) {
            twin_error(s, rid, 500, 500001, "Internal error");
            return;
        }
        twin_respond(s, 200, rid, false, 0, text, strlen(text));
        free(text);
        return;
    }
    int64_t version = 0;
    int rc = twin_patch_reported(s->app, dev, pub->payload.ptr, pub->payload.len, &version);
    if (rc == CE_OK) {
        twin_respond_durable(s, rid, version);
        events_patch(s->app, EV_REPORTED, dev->id, pub->payload.ptr, pub->payload.len, version);
    } else if (rc == CE_NOMEM)
        twin_error(s, rid, 500, 500001, "Internal error");
    else
        twin_error(s, rid, 400, 400004, "Invalid reported properties patch");
}

/* ---------------------------------------------------------------- dispatch */

void hub_on_publish(struct session *s, const struct iotc_mqtt_publish *pub)
{
    CENTRAL_ASSERT(s->kind == S_HUB && s->dev != NULL && !s->closing);
    /* One parse gives the kind, the identity to authorize and the fields (the bag). */
    struct iotc_hub_topic t;
    int rc = iotc_hub_topic_parse(pub->topic, &t);
    if (rc == IOTC_OK)
        rc = iotc_hub_topic_authorize(&t, iotc_span_from_cstr(s->dev->id), IOTC_SPAN_NULL);
    else
        rc = IOTC_E_MALFORMED;
    if (rc != IOTC_OK) {
        log_warn("hub: %s published to %s topic %s", LOG_STR(s->ident),
                 rc == IOTC_E_AUTH ? "an unauthorized" : "an unsupported",
                 LOG_SPAN(pub->topic.ptr, pub->topic.len));
        session_close(s, rc == IOTC_E_AUTH ? "publish not authorized" : "unsupported topic", false);
        return;
    }
    s->dev->last_activity_ms = s->last_rx_ms;
    if (t.kind == IOTC_HUB_TOPIC_TELEMETRY) {
        on_telemetry(s, &t, pub);
        return; /* PUBACK comes from the store once durable */
    }
    if (t.kind == IOTC_HUB_TOPIC_TWIN_GET || t.kind == IOTC_HUB_TOPIC_TWIN_PATCH_REPORTED) {
        on_twin(s, t.kind, t.rid, pub);
    } else if (t.kind == IOTC_HUB_TOPIC_METHOD_RESPONSE) {
        method_device_response(s->app, s->dev, t.rid.ptr, t.rid.len, (int)t.status,
                               pub->payload.ptr, pub->payload.len);
    }
    if (pub->qos == 1 && !s->closing)
        session_ack_durable(s, pub->packet_id);
}

/* ---------------------------------------------------------------- cloud to device */

static void deliver_c2d(struct session *s)
{
    struct device *dev = s->dev;
    if (dev == NULL || !(s->subs & SUB_C2D))
        return;
    c2d_expire(s->app, dev, broker_now_ms(s->app));
    struct c2d_msg *m;
    STAILQ_FOREACH(m, &dev->c2d, link)
    {
        if (m->packet_id != 0)
            continue;
        char topic[1200];
        int n = snprintf(topic, sizeof topic, "devices/%s/messages/devicebound/%s", dev->id,
                         m->bag ? m->bag : "");
        if (n < 0 || (size_t)n >= sizeof topic) {
            log_warn("c2d: message %lld for %s has an oversized property bag", (long long)m->seq,
                     LOG_STR(dev->id));
            continue;
        }
        uint16_t pid = 0;
        if (session_publish(s, topic, (size_t)n, m->payload, m->payload_len, 1, &pid) != CE_OK)
            return;
        m->packet_id = pid;
    }
}

void hub_on_puback(struct session *s, uint16_t pid)
{
    struct device *dev = s->dev;
    if (dev == NULL)
        return;
    struct c2d_msg *m;
    STAILQ_FOREACH(m, &dev->c2d, link)
    {
        if (m->packet_id == pid) {
            c2d_complete(s->app, dev, m);
            return;
        }
    }
}

/* ---------------------------------------------------------------- plane announcements */

static void on_device_blocked(struct app *app, struct device *dev, const char *reason)
{
    (void)app;
    if (dev->session != NULL)
        session_close(dev->session, reason, false);
}

static void on_c2d_queued(struct app *app, struct device *dev)
{
    (void)app;
    if (dev->session != NULL && !dev->session->closing)
        deliver_c2d(dev->session);
}

static void on_desired_changed(struct app *app, struct device *dev, const char *json, size_t len,
                               int64_t version)
{
    (void)app;
    struct session *s = dev->session;
    if (s == NULL || s->closing || !(s->subs & SUB_TWIN_DESIRED))
        return;
    char topic[128];
    size_t tlen;
    if (iotc_hub_twin_desired_topic_build((uint64_t)version, topic, sizeof topic, &tlen) != IOTC_OK)
        return;
    session_publish(s, topic, tlen, json, len, s->sub_qos[SUBI_TWIN_DESIRED], NULL);
}

static int on_method_requested(struct app *app, struct device *dev,
                               const struct plane_method_request *req)
{
    (void)app;
    struct session *s = dev->session;
    if (s == NULL || s->closing || !(s->subs & SUB_METHODS))
        return CE_OFFLINE;
    char topic[1200];
    size_t tlen;
    if (iotc_hub_method_request_topic_build(iotc_span_from_cstr(req->name),
                                            iotc_span_from_cstr(req->rid), topic, sizeof topic,
                                            &tlen) != IOTC_OK)
        return CE_INVALID;
    /* Method requests travel at QoS 0 (direct-methods doc). */
    if (session_publish(s, topic, tlen, req->payload, req->payload_len, 0, NULL) != CE_OK)
        return CE_OFFLINE;
    return CE_OK;
}

const struct plane_listener hub_plane_listener = {
    .device_blocked = on_device_blocked,
    .desired_changed = on_desired_changed,
    .c2d_queued = on_c2d_queued,
    .method_requested = on_method_requested,
};
