/*
 * broker.c - MQTT/TLS listener, connection lifecycle, packet framing and CONNECT handling.
 * DPS and IoT Hub semantics live in broker_dps.c and broker_hub.c.
 *
 * Life of a connection: accept (if app->admit lets it in, admit.h) -> TLS handshake
 * (broker_io.c) -> CONNECT within --auth-timeout of the accept -> authenticated DPS or hub
 * session -> close. A session is reference counted because durable-ack callbacks from the
 * store may outlive it.
 */
#include "central/hub/broker_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "central/base/log.h"
#include "central/hub/x509.h"
#include "central/store/store.h"
#include "iotc/codec.h"

int64_t broker_now_ms(struct app *app)
{
    struct timeval tv;
    if (app->base == NULL || event_base_gettimeofday_cached(app->base, &tv) != 0)
        return app_now_ms();
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void broker_stats_get(const struct app *app, struct broker_stats *out)
{
    if (app->broker != NULL)
        *out = app->broker->stats;
    else
        *out = (struct broker_stats){0};
}

size_t broker_connection_count(const struct app *app)
{
    return app->broker ? app->broker->count : 0;
}

/* ---------------------------------------------------------------- lifetime */

void session_ref(struct session *s)
{
    CENTRAL_ASSERT(s->refs > 0); /* no resurrection of a freed session */
    s->refs++;
}

/* The client certificate of the HTTPS handshake a WebSocket session came through. */
struct ws_cert {
    X509 *cert;
    STACK_OF(X509) * chain;
};

static void ws_cert_free(struct ws_cert *w)
{
    if (w == NULL)
        return;
    X509_free(w->cert);
    sk_X509_pop_free(w->chain, X509_free);
    free(w);
}

/* s->ident before CONNECT, and when the id is empty: not freed. */
static const char no_ident[] = "";

/* s->ident becomes a copy of @p id, cut at DEVICE_ID_MAX: made to its length, as most ids are
 * far shorter than the most a session could otherwise hold for each. */
static int set_ident(struct session *s, struct iotc_span id)
{
    size_t len = id.ptr == NULL ? 0 : id.len < DEVICE_ID_MAX ? id.len : DEVICE_ID_MAX;
    if (s->ident != no_ident)
        free((void *)(uintptr_t)s->ident);
    s->ident = no_ident;
    if (len == 0)
        return CE_OK;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return CE_NOMEM;
    memcpy(copy, id.ptr, len);
    copy[len] = '\0';
    s->ident = copy;
    return CE_OK;
}

/* ---------------------------------------------------------------- deadlines */

static void timer_place(struct broker *b, uint32_t i, struct session *s)
{
    b->timers[i] = s;
    s->timer_pos = i + 1;
}

/* Moves the session at @p i up or down the heap to where its due_ms belongs. */
static void timer_fix(struct broker *b, uint32_t i)
{
    struct session *s = b->timers[i];
    while (i > 0 && b->timers[(i - 1) / 2]->due_ms > s->due_ms) {
        timer_place(b, i, b->timers[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= b->n_timers)
            break;
        if (c + 1 < b->n_timers && b->timers[c + 1]->due_ms < b->timers[c]->due_ms)
            c++;
        if (b->timers[c]->due_ms >= s->due_ms)
            break;
        timer_place(b, i, b->timers[c]);
        i = c;
    }
    timer_place(b, i, s);
}

/* Arms the broker's timer for the earliest deadline (none: disarmed). */
static void timer_arm(struct app *app)
{
    struct broker *b = app->broker;
    if (b->n_timers == 0) {
        event_del(b->timer_ev);
        return;
    }
    int64_t now = broker_now_ms(app);
    int64_t due = b->timers[0]->due_ms;
    int64_t left = due > now ? due - now : 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
    event_add(b->timer_ev, &tv);
}

/* Sets when session_tick() is to be called for @p s (Unix ms, broker_now_ms()'s clock); 0: not
 * at all. CE_NOMEM when the heap cannot grow (only when the session had no deadline). */
static int timer_set(struct session *s, int64_t due_ms)
{
    struct broker *b = s->app->broker;
    if (b == NULL || b->timer_ev == NULL)
        return due_ms == 0 ? CE_OK : CE_NOMEM;
    struct session *top = b->n_timers > 0 ? b->timers[0] : NULL;
    int64_t top_due = top != NULL ? top->due_ms : 0;
    if (due_ms == 0) {
        if (s->timer_pos == 0)
            return CE_OK;
        uint32_t i = s->timer_pos - 1;
        s->timer_pos = 0;
        struct session *last = b->timers[--b->n_timers];
        if (i < b->n_timers) {
            b->timers[i] = last;
            last->timer_pos = i + 1;
            timer_fix(b, i);
        }
    } else if (s->timer_pos != 0) {
        s->due_ms = due_ms;
        timer_fix(b, s->timer_pos - 1);
    } else {
        if (b->n_timers == b->cap_timers) {
            uint32_t cap = b->cap_timers ? b->cap_timers * 2 : 256;
            struct session **t = realloc(b->timers, cap * sizeof *t);
            if (t == NULL)
                return CE_NOMEM;
            b->timers = t;
            b->cap_timers = cap;
        }
        s->due_ms = due_ms;
        timer_place(b, b->n_timers++, s);
        timer_fix(b, b->n_timers - 1);
    }
    if (b->n_timers == 0 || b->timers[0] != top || b->timers[0]->due_ms != top_due)
        timer_arm(s->app);
    return CE_OK;
}

static void session_tick(struct session *s);

/* The broker's timer: calls every session whose deadline has come, earliest first. */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct app *app = arg;
    struct broker *b = app->broker;
    int64_t now = broker_now_ms(app);
    /* A session's tick sets a later deadline or none; the bound only guards against one that
     * would be due again at once. */
    for (uint32_t n = b->n_timers; n > 0 && b->n_timers > 0 && b->timers[0]->due_ms <= now; n--) {
        struct session *s = b->timers[0];
        session_ref(s);
        timer_set(s, 0);
        session_tick(s);
        session_unref(s);
    }
    timer_arm(app);
}

void session_unref(struct session *s)
{
    CENTRAL_ASSERT(s->refs > 0);
    if (--s->refs > 0)
        return;
    ws_cert_free(s->ws_cert);
    conn_release(&s->conn);
    timer_set(s, 0);
    if (s->ident != no_ident)
        free((void *)(uintptr_t)s->ident);
    free(s->will_topic);
    free(s->will_payload);
    free(s);
}

void session_finish(struct session *s)
{
    struct broker *b = s->app->broker;
    CENTRAL_ASSERT(s->closing); /* session_close() comes first, once */
    conn_close(&s->conn);
    timer_set(s, 0);
    if (b != NULL && s->throttled) {
        s->throttled = false;
        b->n_throttled--;
    }
    if (b != NULL) {
        if (s->prev)
            s->prev->next = s->next;
        else if (b->head == s)
            b->head = s->next;
        if (s->next)
            s->next->prev = s->prev;
        b->count--;
    }
    if (s->app->admit != NULL)
        admit_leave(s->app->admit, &s->admit);
    s->prev = s->next = NULL;
    struct event_base *base = s->app->base;
    session_unref(s);
    if (b != NULL && b->draining && b->count == 0)
        event_base_loopexit(base, NULL);
}

void session_close(struct session *s, const char *reason, bool flush)
{
    if (s->closing)
        return;
    s->closing = true;
    if (s->kind == S_HUB)
        hub_detach(s, reason);
    else if (s->kind == S_DPS)
        log_info("dps: disconnect %s from %s (%s)", LOG_STR(s->ident), s->peer, reason);
    else
        log_debug("mqtt: closing connection from %s before CONNECT (%s)", s->peer, reason);
    if (s->kind == S_DPS)
        dps_free_ops(s);
    if (flush && s->conn.open && conn_pending_output(&s->conn) > 0) {
        /* Let the CONNACK (or last response) reach the peer, but not forever. */
        s->conn.flushing = true;
        conn_update(&s->conn); /* stops reading */
        timer_set(s, broker_now_ms(s->app) + 2000);
        return;
    }
    session_finish(s);
}

/* ---------------------------------------------------------------- output */

/* CE_OK; CE_OFFLINE (the connection is gone); CE_BUSY (the peer does not read: closed). */
static int check_output(struct session *s)
{
    if (!s->conn.open)
        return CE_OFFLINE;
    if (conn_pending_output(&s->conn) > BROKER_OUT_MAX) {
        session_close(s, "output queue full (slow consumer)", false);
        return CE_BUSY;
    }
    return CE_OK;
}

int session_send(struct session *s, const struct iotc_mqtt_packet *pkt)
{
    unsigned char buf[512];
    size_t len = 0;
    CENTRAL_ASSERT_LOOP(s->app);
    if (s->closing && !s->conn.open)
        return CE_OFFLINE;
    if (iotc_mqtt_encode(pkt, buf, sizeof buf, &len) != IOTC_OK) {
        log_error("mqtt: cannot encode %s for %s", iotc_mqtt_type_name(pkt->type), s->peer);
        return CE_INVALID;
    }
    int rc = conn_write(&s->conn, buf, len);
    return rc != CE_OK ? rc : check_output(s);
}

uint16_t session_next_pid(struct session *s)
{
    if (++s->next_pid == 0)
        s->next_pid = 1;
    return s->next_pid;
}

int session_publish(struct session *s, const char *topic, size_t topic_len, const void *payload,
                    size_t payload_len, uint8_t qos, uint16_t *out_pid)
{
    if (s->closing || !s->conn.open)
        return CE_OFFLINE;
    struct iotc_mqtt_publish pub = {0};
    pub.qos = qos > 1 ? 1 : qos;
    pub.packet_id = pub.qos ? session_next_pid(s) : 0;
    pub.topic = (struct iotc_span){topic, topic_len};
    pub.payload = (struct iotc_span){payload, payload_len};
    unsigned char hdr[IOTC_MQTT_PUBLISH_HEADER_MAX(1024)];
    size_t hlen;
    if (topic_len > 1024 ||
        iotc_mqtt_encode_publish_header(&pub, hdr, sizeof hdr, &hlen) != IOTC_OK) {
        log_error("mqtt: cannot encode PUBLISH %s", LOG_SPAN(topic, topic_len));
        return CE_INVALID;
    }
    int rc = conn_write(&s->conn, hdr, hlen);
    if (rc == CE_OK && payload_len)
        rc = conn_write(&s->conn, payload, payload_len);
    if (rc != CE_OK)
        return rc;
    if (out_pid)
        *out_pid = pub.packet_id;
    return check_output(s);
}

/* Read again after a pause; bytes that were read before it are processed now, because
 * waiting for the socket alone would wait for the next bytes from the peer. */
static void session_resume(struct session *s)
{
    if (!s->read_paused || s->closing || !s->conn.open || s->app->stopping)
        return;
    s->read_paused = false;
    conn_update(&s->conn);
    conn_process_buffered(&s->conn);
    conn_kick_read(&s->conn);
}

/* The store backlog is low again: resume every throttled connection. */
static void throttle_resume(void *arg)
{
    struct app *app = arg;
    struct broker *b = app->broker;
    if (b == NULL || b->n_throttled == 0)
        return;
    /* Collect first: resuming runs packet handlers that may close other sessions. */
    size_t n = 0, cap = b->n_throttled;
    struct session **list = malloc(cap * sizeof *list);
    if (list == NULL) {
        store_notify_drain(app->store, app->cfg.max_store_backlog / 2, throttle_resume, app);
        return;
    }
    for (struct session *s = b->head; s != NULL && n < cap; s = s->next) {
        if (s->throttled) {
            s->throttled = false;
            b->n_throttled--;
            session_ref(s);
            list[n++] = s;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i]->pending_acks < BROKER_ACK_RESUME)
            session_resume(list[i]);
        session_unref(list[i]);
    }
    free(list);
    log_debug("store backlog drained: resumed %zu connections", n);
}

static void pause_reading(struct session *s, bool throttle)
{
    struct app *app = s->app;
    struct broker *b = app->broker;
    s->read_paused = true;
    conn_update(&s->conn);
    if (!throttle || s->throttled)
        return;
    s->throttled = true;
    if (b->n_throttled++ > 0)
        return;
    int64_t now = broker_now_ms(app);
    if (now - b->throttle_logged_ms > 10000) { /* one line per episode, not per pause */
        b->throttle_logged_ms = now;
        log_warn("store backlog over %zu writes: throttling publishers",
                 app->cfg.max_store_backlog);
    }
    store_notify_drain(app->store, app->cfg.max_store_backlog / 2, throttle_resume, app);
}

void session_ack_done(void *ctx, uint32_t tag, int rc)
{
    struct session *s = ctx;
    CENTRAL_ASSERT_LOOP(s->app);
    CENTRAL_ASSERT(s->pending_acks > 0);
    s->pending_acks--;
    if (!s->closing) {
        if (rc != CE_OK) {
            session_close(s, "store write failed", false);
        } else {
            struct iotc_mqtt_packet ack = {.type = IOTC_MQTT_PUBACK};
            ack.packet_id = (uint16_t)tag;
            if (session_send(s, &ack) == CE_OK && s->app->broker != NULL)
                s->app->broker->stats.acks_released++;
            if (s->read_paused && !s->throttled && s->pending_acks < BROKER_ACK_RESUME)
                session_resume(s);
        }
    }
    session_unref(s);
}

/* PUBACK once everything this publish caused is durable (and after earlier PUBACKs). */
void session_ack_durable(struct session *s, uint16_t pid)
{
    if (s->app->store == NULL) {
        struct iotc_mqtt_packet ack = {.type = IOTC_MQTT_PUBACK};
        ack.packet_id = pid;
        session_send(s, &ack);
        return;
    }
    session_ref(s);
    s->pending_acks++;
    if (store_barrier(s->app->store, session_ack_done, s, pid) != CE_OK) {
        s->pending_acks--;
        session_unref(s);
        session_close(s, "out of memory", false);
    }
}

/* ---------------------------------------------------------------- CONNECT */

static bool lookup_cb(void *ctx, struct iotc_span id, bool any_case, struct auth_identity *out)
{
    struct app *app = ctx;
    char buf[DEVICE_ID_MAX + 1];
    if (id.len > DEVICE_ID_MAX)
        return false;
    memcpy(buf, id.ptr, id.len);
    buf[id.len] = '\0';
    struct device *dev = any_case ? registry_get_nocase(app, buf) : registry_get(app, buf);
    if (dev == NULL)
        return false;
    out->primary_key = dev->primary_key;
    out->secondary_key = dev->secondary_key;
    out->type = dev->auth_type;
    out->thumb_primary = dev->thumb_primary;
    out->thumb_secondary = dev->thumb_secondary;
    out->enabled = dev->status == DEVICE_ENABLED;
    out->from_group = dev->enrollment_group != NULL;
    return true;
}

/* The TLS client certificate's facts (SHA-1/SHA-256 thumbprints, CN, validity, where its
 * chain leads among the application's CAs). False when the peer sent none. */
static bool peer_cert(struct session *s, struct x509_facts *f, struct auth_cert *out)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    if (s->conn.ssl != NULL) {
        leaf = SSL_get1_peer_certificate(s->conn.ssl);
        chain = SSL_get_peer_cert_chain(s->conn.ssl);
    } else if (s->ws_cert != NULL && X509_up_ref(s->ws_cert->cert) == 1) {
        leaf = s->ws_cert->cert; /* from the HTTPS handshake (MQTT over WebSockets) */
        chain = s->ws_cert->chain;
    }
    if (leaf == NULL)
        return false;
    bool ok = x509_facts_of(leaf, f) == 0;
    if (ok) {
        *out = (struct auth_cert){.sha1 = f->sha1,
                                  .sha256 = f->sha256,
                                  .cn = f->cn,
                                  .not_before_s = f->not_before_s,
                                  .not_after_s = f->not_after_s};
        /* the peer's chain, as sent (its leaf included): intermediates for the CA check */
        out->chain = x509_ca_chain(s->app, leaf, chain);
        egroups_cert_match(s->app, leaf, chain, out);
        log_debug("mqtt: %s presented a certificate CN=%s sha1=%s", s->peer, LOG_STR(f->cn),
                  f->sha1);
    }
    X509_free(leaf);
    return ok;
}

static void connack(struct session *s, uint8_t code, bool session_present)
{
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_CONNACK};
    p.connack.return_code = code;
    p.connack.session_present = session_present && code == 0;
    session_send(s, &p);
}

/* Both deadlines of a connected session, the keep-alive and the SAS token's expiry, share its
 * place in the broker's timer heap: sets it to whichever comes first; neither: no deadline. */
static void arm_tick(struct session *s, int64_t now)
{
    int64_t due = s->expiry_ms; /* 0: the token does not expire */
    if (s->keepalive != 0) {
        int64_t limit = (int64_t)s->keepalive * 1500; /* MQTT 3.1.1 §3.1.2.10: 1.5 x */
        if (due == 0 || s->last_rx_ms + limit < due)
            due = s->last_rx_ms + limit;
    }
    (void)now;
    timer_set(s, due);
}

/* The keep-alive a session lives by. Keep-alive 0 would turn the check off (MQTT 3.1.1
 * §3.1.2.10) and let a silent connection hold its socket forever; as IoT Hub caps the
 * keep-alive at 1767 s (docs/PROTOCOL.md §5.1), 0 and anything above the cap count as the cap. */
static uint16_t effective_keepalive(const struct app *app, uint16_t asked)
{
    int cap = app->cfg.max_keep_alive_s > 0 ? app->cfg.max_keep_alive_s : BROKER_KEEPALIVE_CAP_S;
    if (cap > UINT16_MAX)
        cap = UINT16_MAX;
    return asked == 0 || asked > cap ? (uint16_t)cap : asked;
}

static void on_connect(struct session *s, const struct iotc_mqtt_connect *c)
{
    struct app *app = s->app;
    CENTRAL_ASSERT(s->kind == S_NEW && !s->closing);
    if (!c->protocol_ok) {
        /* paho clients (the Azure SDKs' C samples) retry with MQTT 3.1 after a refused
         * CONNECT: that retry is a fallback, the reason is the refusal logged before it */
        bool v31 = c->protocol_level == 3 && c->protocol_name.len == 6 &&
                   memcmp(c->protocol_name.ptr, "MQIsdp", 6) == 0;
        if (v31)
            log_info("mqtt: %s fell back to MQTT 3.1 (MQIsdp) after a refused CONNECT, as paho "
                     "clients do; only MQTT 3.1.1 is served (CONNACK 1)",
                     s->peer);
        else
            log_warn("mqtt: %s asked for MQTT protocol level %u; only MQTT 3.1.1 (level 4) is "
                     "served (CONNACK 1)",
                     s->peer, (unsigned)c->protocol_level);
        connack(s, IOTC_MQTT_CONNACK_BAD_PROTOCOL, false);
        session_close(s, v31 ? "MQTT 3.1 fallback" : "unsupported MQTT protocol level", true);
        return;
    }
    struct egroup_keys gk[EGROUP_MAX];
    struct auth_group ag[EGROUP_MAX];
    size_t n_groups = egroups_sas_keys(app, gk, EGROUP_MAX);
    for (size_t i = 0; i < n_groups; i++)
        ag[i] = (struct auth_group){gk[i].primary_key, gk[i].secondary_key};
    struct auth_config cfg = {
        .id_scope = app->facts.id_scope,
        .hub_host = app->facts.hub_host,
        .groups = ag,
        .n_groups = n_groups,
        .service_policy = app->facts.service_policy,
        .service_key = app->facts.service_key,
    };
    struct auth_result ar;
    uint64_t now_s = (uint64_t)(broker_now_ms(app) / 1000);
    struct x509_facts cf;
    struct auth_cert cert;
    if ((!c->has_password || c->password.len == 0) && peer_cert(s, &cf, &cert))
        auth_decide_cert(&cfg, c->client_id, c->username, &cert, now_s, lookup_cb, app, &ar);
    else
        auth_decide(&cfg, c->client_id, c->username, c->password, c->has_password, now_s, lookup_cb,
                    app, &ar);
    if (set_ident(s, ar.id) != CE_OK) {
        session_close(s, "out of memory", false);
        return;
    }
    const char *svc = ar.kind == AUTH_DPS ? "dps" : "hub";
    if (ar.connack != 0) {
        log_warn("%s: authentication failed for '%s' from %s: %s (CONNACK %u)", svc,
                 LOG_STR(s->ident), s->peer, ar.reason, ar.connack);
        connack(s, ar.connack, false);
        session_close(s, "authentication failed", true);
        return;
    }
    if (app->stopping || app->broker->count > app->cfg.max_connections ||
        (app->store && store_backlog(app->store) > app->cfg.max_store_backlog)) {
        log_warn("%s: refusing '%s' from %s: server overloaded (CONNACK 3)", svc, LOG_STR(s->ident),
                 s->peer);
        connack(s, IOTC_MQTT_CONNACK_UNAVAILABLE, false);
        session_close(s, "server unavailable", true);
        return;
    }
    if (app->admit != NULL)
        admit_done(app->admit, &s->admit); /* authenticated: off the pending budget */
    s->keepalive = effective_keepalive(app, c->keep_alive);
    s->expiry_ms = ar.expiry > 0 ? (int64_t)ar.expiry * 1000 : 0;
    arm_tick(s, broker_now_ms(app));
    broker_note_burst(app->broker);
    if (ar.kind == AUTH_DPS) {
        s->kind = S_DPS;
        s->dps_known = ar.known;
        s->dps_group = ar.key == AUTH_KEY_CERT_GROUP ? ar.group_serial
                       : ar.group >= 0               ? gk[ar.group].serial
                                                     : UINT32_MAX;
        connack(s, 0, false);
        dps_on_connect(s, &ar);
    } else {
        s->kind = S_HUB;
        hub_on_connect(s, c, &ar);
    }
}

/* ---------------------------------------------------------------- input */

static void dispatch(struct session *s, const struct iotc_mqtt_packet *pkt)
{
    if (s->kind == S_NEW) {
        if (pkt->type != IOTC_MQTT_CONNECT) {
            session_close(s, "first packet is not CONNECT", false);
            return;
        }
        on_connect(s, &pkt->connect);
        return;
    }
    switch (pkt->type) {
    case IOTC_MQTT_CONNECT:
        session_close(s, "second CONNECT", false);
        break;
    case IOTC_MQTT_PINGREQ: {
        struct iotc_mqtt_packet r = {.type = IOTC_MQTT_PINGRESP};
        session_send(s, &r);
        break;
    }
    case IOTC_MQTT_DISCONNECT:
        s->graceful = true;
        session_close(s, "client disconnected", false);
        break;
    case IOTC_MQTT_PUBLISH:
        if (pkt->publish.qos == 2) {
            session_close(s, "QoS 2 PUBLISH is not supported", false);
            break;
        }
        if (s->kind == S_DPS)
            dps_on_publish(s, &pkt->publish);
        else
            hub_on_publish(s, &pkt->publish);
        break;
    case IOTC_MQTT_PUBACK:
        if (s->kind == S_HUB)
            hub_on_puback(s, pkt->packet_id);
        break;
    case IOTC_MQTT_SUBSCRIBE:
        if (s->kind == S_DPS)
            dps_on_subscribe(s, pkt);
        else
            hub_on_subscribe(s, pkt);
        break;
    case IOTC_MQTT_UNSUBSCRIBE:
        if (s->kind == S_HUB) {
            hub_on_unsubscribe(s, pkt);
        } else {
            struct iotc_mqtt_packet r = {.type = IOTC_MQTT_UNSUBACK};
            r.packet_id = pkt->unsubscribe.packet_id;
            session_send(s, &r);
        }
        break;
    default:
        session_close(s, "unexpected packet type", false);
        break;
    }
}

size_t session_process(struct session *s, const unsigned char *p, size_t len)
{
    size_t off = 0;
    while (!s->closing && !s->read_paused && off < len) {
        size_t avail = len - off;
        size_t hlen = avail < 5 ? avail : 5;
        enum iotc_mqtt_type type;
        size_t total = 0;
        int rc = iotc_mqtt_frame((struct iotc_span){(const char *)p + off, hlen}, BROKER_PACKET_MAX,
                                 &type, &total);
        if (rc == IOTC_E_AGAIN)
            break;
        if (rc == IOTC_E_TOOBIG) {
            log_warn("mqtt: %s '%s' sent a packet over %u bytes", s->peer, LOG_STR(s->ident),
                     (unsigned)BROKER_PACKET_MAX);
            session_close(s, "packet too large", false);
            break;
        }
        if (rc != IOTC_OK) {
            log_warn("mqtt: malformed packet header from %s '%s'", s->peer, LOG_STR(s->ident));
            session_close(s, "malformed packet", false);
            break;
        }
        if (total > avail)
            break;
        struct iotc_mqtt_packet pkt;
        size_t used = 0;
        rc = iotc_mqtt_decode((struct iotc_span){(const char *)p + off, total}, BROKER_PACKET_MAX,
                              &pkt, &used);
        if (rc != IOTC_OK || used != total) {
            log_warn("mqtt: malformed %s from %s '%s'", iotc_mqtt_type_name(type), s->peer,
                     LOG_STR(s->ident));
            session_close(s, "malformed packet", false);
            break;
        }
        dispatch(s, &pkt);
        off += total;
        if (!s->conn.open || s->closing || s->kind != S_HUB)
            continue;
        /* Back-pressure: too many acks waiting for the disk on this connection, or too many
         * writes queued overall (QoS 0 has no ack to wait for). */
        if (s->pending_acks > BROKER_ACK_PAUSE) {
            pause_reading(s, false);
            break;
        }
        if (s->app->store != NULL && store_backlog(s->app->store) > s->app->cfg.max_store_backlog) {
            pause_reading(s, true);
            break;
        }
    }
    return off;
}

/* The session's deadline has come (timer_cb() took it off the heap). */
static void session_tick(struct session *s)
{
    if (s->closing) {
        session_finish(s); /* flush did not complete in time */
        return;
    }
    if (s->kind == S_NEW) {
        if (s->app->admit != NULL)
            admit_report(s->app->admit, ADMIT_R_DEADLINE, ADMIT_MQTT, s->peer,
                         broker_now_ms(s->app));
        session_close(s, "no CONNECT in time", false);
        return;
    }
    int64_t now = broker_now_ms(s->app);
    if (s->expiry_ms != 0 && now >= s->expiry_ms) {
        session_close(s, "SAS token expired", false);
        return;
    }
    if (s->keepalive != 0) {
        int64_t limit = (int64_t)s->keepalive * 1500;
        if (now - s->last_rx_ms >= limit) {
            session_close(s, "keep-alive timeout", false);
            return;
        }
    }
    arm_tick(s, now);
}

static void format_peer(const struct sockaddr *sa, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, size, "%s:%u", host, port);
}

/* app->admit's word on a new connection from @p sa: true to go on (after closing the
 * connection it evicted), false when it was refused (and @p fd closed). */
static bool admit_connection(struct app *app, evutil_socket_t fd, struct sockaddr *sa,
                             struct admit_key *key)
{
    *key = admit_key_of(sa);
    if (app->admit == NULL)
        return true;
    struct admit_slot *victim;
    enum admit_verdict v = admit_decide(app->admit, key, ADMIT_MQTT, &victim);
    if (v == ADMIT_OK)
        return true;
    char peer[56];
    format_peer(sa, peer, sizeof peer);
    int64_t now = broker_now_ms(app);
    if (v == ADMIT_EVICT) {
        struct session *old =
            (struct session *)(void *)((char *)victim - offsetof(struct session, admit));
        admit_report(app->admit, ADMIT_R_EVICTED, ADMIT_MQTT, old->peer, now);
        if (old->closing)
            session_finish(old); /* flushing a refusal: no need to wait for it */
        else
            session_close(old, "evicted: too many connections before CONNECT", false);
        return true;
    }
    admit_report(app->admit, v == ADMIT_REFUSE_ADDR ? ADMIT_R_REFUSED_ADDR : ADMIT_R_REFUSED_FULL,
                 ADMIT_MQTT, peer, now);
    evutil_closesocket(fd);
    return false;
}

/* A new session on @p fd (which it owns from here), named @p peer in logs. @p key: its source
 * address, admitted by admit_connection() (for MQTT over WebSockets, the HTTP peer's; NULL when
 * unknown: the same deadline but no MQTT slot). CE_OK or an error (then fd is closed). */
static int adopt(struct app *app, evutil_socket_t fd, const struct admit_key *key, const char *peer,
                 bool tls)
{
    struct broker *b = app->broker;
    /* TCP_NODELAY came from the listener (listen_on). */
    CENTRAL_ASSERT_LOOP(app);
    struct session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        evutil_closesocket(fd);
        return CE_NOMEM;
    }
    s->app = app;
    s->refs = 1;
    s->ident = no_ident;
    s->id = ++b->next_id;
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    s->last_rx_ms = broker_now_ms(app);
    s->conn.fd = fd;
    if (tls) {
        s->conn.ssl = SSL_new(app->ssl_ctx);
        if (s->conn.ssl == NULL) {
            session_unref(s); /* closes fd */
            return CE_NOMEM;
        }
        app_request_client_cert(s->conn.ssl, "iotc-mqtt");
    }
    if (conn_open(&s->conn, app->base) != CE_OK ||
        (app->admit != NULL && key != NULL &&
         admit_enter(app->admit, &s->admit, key, ADMIT_MQTT, s->last_rx_ms) != CE_OK)) {
        session_unref(s);
        return CE_NOMEM;
    }
    s->next = b->head;
    if (b->head)
        b->head->prev = s;
    b->head = s;
    b->count++;
    /* from the accept, whatever trickles in meanwhile (the timer is not touched by reads) */
    int64_t wait_ms = app->admit != NULL ? admit_wait_ms(app->admit, &s->admit, s->last_rx_ms)
                                         : (int64_t)ADMIT_DEFAULT_AUTH_TIMEOUT_S * 1000;
    if (timer_set(s, s->last_rx_ms + wait_ms) != CE_OK) {
        s->closing = true; /* nothing to announce: not even a CONNECT yet */
        session_finish(s);
        return CE_NOMEM;
    }
    if (tls)
        broker_note_burst(b);
    log_debug("mqtt: accepted %s (%s)", s->peer, tls ? "TLS" : "plain");
    return CE_OK;
}

static void accept_common(struct app *app, evutil_socket_t fd, struct sockaddr *sa, bool tls)
{
    struct admit_key key;
    if (!admit_connection(app, fd, sa, &key))
        return;
    char peer[sizeof((struct session *)NULL)->peer];
    format_peer(sa, peer, sizeof peer);
    (void)adopt(app, fd, &key, peer, tls);
}

int broker_adopt(struct app *app, int fd, const struct mqtt_peer *peer)
{
    if (app->broker == NULL || app->broker->draining) {
        evutil_closesocket(fd);
        return CE_BUSY;
    }
    struct ws_cert *wc = NULL;
    if (peer->cert != NULL) {
        wc = calloc(1, sizeof *wc);
        if (wc == NULL || X509_up_ref(peer->cert) != 1) {
            free(wc);
            evutil_closesocket(fd);
            return CE_NOMEM;
        }
        wc->cert = peer->cert;
        wc->chain = peer->chain != NULL ? X509_chain_up_ref(peer->chain) : NULL;
    }
    /* the HTTP peer's address counts in the MQTT budget, as a listener's connection does */
    struct admit_key key = {0};
    bool keyed = peer->addr != NULL;
    if (keyed && !admit_connection(app, fd, (struct sockaddr *)(uintptr_t)peer->addr, &key)) {
        ws_cert_free(wc);
        return CE_BUSY; /* fd closed, reported */
    }
    int rc = adopt(app, fd, keyed ? &key : NULL, peer->name, false);
    if (rc == CE_OK)
        app->broker->head->ws_cert = wc; /* adopt() put the new session first */
    else
        ws_cert_free(wc);
    return rc;
}

static void accept_tls(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                       void *arg)
{
    (void)l;
    (void)len;
    accept_common(arg, fd, sa, true);
}

static void accept_plain(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                         void *arg)
{
    (void)l;
    (void)len;
    accept_common(arg, fd, sa, false);
}

static void report_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct app *app = arg;
    if (app->admit != NULL)
        admit_flush(app->admit, broker_now_ms(app));
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker *b = ((struct app *)arg)->broker;
    if (b->tls)
        evconnlistener_enable(b->tls);
    if (b->plain)
        evconnlistener_enable(b->plain);
}

static void accept_error(struct evconnlistener *l, void *arg)
{
    struct app *app = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_error("mqtt: accept failed: %s", evutil_socket_error_to_string(err));
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        /* Out of descriptors: stop accepting for a second instead of spinning on accept(). */
        evconnlistener_disable(l);
        struct timeval tv = {1, 0};
        if (app->broker->accept_ev != NULL)
            event_add(app->broker->accept_ev, &tv);
    }
}

/* The accept queue of the MQTT and HTTPS listeners: as long as the kernel allows
 * (net.core.somaxconn, which caps whatever listen() asks for; 4096 by default since Linux 5.4),
 * at least 1024, so that a connect storm waits in the queue for the handshakes instead of
 * overflowing it (dropped SYNs are retransmitted after 1 s, 3 s...: handshake timeouts). */
#define LISTEN_BACKLOG_MIN 1024
#define LISTEN_BACKLOG_MAX 65535

static int listen_backlog(void)
{
    static int backlog;
    if (backlog > 0)
        return backlog;
    long v = 0;
    char line[32];
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    if (f != NULL) {
        if (fgets(line, sizeof line, f) != NULL)
            v = strtol(line, NULL, 10);
        fclose(f);
    }
    backlog = v < LISTEN_BACKLOG_MIN   ? LISTEN_BACKLOG_MIN
              : v > LISTEN_BACKLOG_MAX ? LISTEN_BACKLOG_MAX
                                       : (int)v;
    if (v > 0 && v < 4096)
        log_info("listen backlog %d (net.core.somaxconn %ld caps it; raise it for connect storms)",
                 backlog, v);
    return backlog;
}

int broker_bind_socket_quiet(const char *addr, int port, uint16_t *out_port, int *out_errno)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    *out_errno = 0;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sslen = sizeof *in4;
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *in6;
    } else {
        *out_errno = EINVAL;
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *out_errno = errno;
        return -1;
    }
    evutil_make_listen_socket_reuseable(fd);
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, listen_backlog()) != 0) {
        *out_errno = errno;
        close(fd);
        return -1;
    }
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? in6->sin6_port : in4->sin_port);
    return fd;
}

int broker_bind_socket(const char *addr, int port, uint16_t *out_port)
{
    int err = 0;
    int fd = broker_bind_socket_quiet(addr, port, out_port, &err);
    if (fd < 0 && err == EINVAL)
        log_error("bad listen address %s (give a numeric IPv4 or IPv6 address)", addr);
    else if (fd < 0)
        log_error("cannot listen on %s port %d: %s", addr, port, strerror(err));
    return fd;
}

static struct evconnlistener *listen_on(struct app *app, const char *addr, int port, bool tls,
                                        uint16_t *out_port)
{
    int fd = broker_bind_socket(addr, port, out_port);
    if (fd < 0)
        return NULL;
    /* Accepted sockets inherit TCP_NODELAY from the listener (Linux): one system call per
     * listener instead of one per connection. Without it, a packet written while the
     * previous one is unacknowledged would wait for the ACK (Nagle). */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        log_warn("mqtt: cannot set TCP_NODELAY on the listener");
    struct evconnlistener *l = evconnlistener_new(
        app->base, tls ? accept_tls : accept_plain, app,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, -1, fd);
    if (l == NULL) {
        close(fd);
        return NULL;
    }
    evconnlistener_set_error_cb(l, accept_error);
    return l;
}

int broker_start(struct app *app)
{
    struct broker *b = calloc(1, sizeof *b);
    if (b == NULL)
        return CE_NOMEM;
    app->broker = b;
    if (app->reg != NULL)
        plane_listen(app, &hub_plane_listener);
    b->accept_ev = evtimer_new(app->base, accept_resume_cb, app);
    b->report_ev = event_new(app->base, -1, EV_PERSIST, report_cb, app);
    b->timer_ev = evtimer_new(app->base, timer_cb, app);
    if (b->accept_ev == NULL || b->report_ev == NULL || b->timer_ev == NULL ||
        broker_io_init(b, app->base) != CE_OK)
        return CE_NOMEM;
    struct timeval every = {1, 0};
    event_add(b->report_ev, &every);
    /* a listener that cannot be made is logged by broker_bind_socket (address, port in use) */
    const char *bind_addr = app->cfg.bind_addr ? app->cfg.bind_addr : APP_DEFAULT_BIND;
    b->tls = listen_on(app, bind_addr, app->cfg.mqtt_port, true, &app->mqtt_port);
    if (b->tls == NULL)
        return CE_IO;
    if (app->cfg.plain_mqtt_port >= 0) {
        /* Without TLS, SAS tokens cross the network in clear text: on the --bind address
         * like the others, loopback by default. */
        b->plain =
            listen_on(app, bind_addr, app->cfg.plain_mqtt_port, false, &app->plain_mqtt_port);
        if (b->plain == NULL)
            return CE_IO;
        log_info("mqtt: plain MQTT (no TLS) listening on %s port %u", bind_addr,
                 (unsigned)app->plain_mqtt_port);
    }
    return CE_OK;
}

void broker_stop_accepting(struct app *app)
{
    struct broker *b = app->broker;
    if (b == NULL)
        return;
    if (b->tls)
        evconnlistener_free(b->tls);
    if (b->plain)
        evconnlistener_free(b->plain);
    b->tls = b->plain = NULL;
    if (b->accept_ev)
        event_del(b->accept_ev);
    if (b->report_ev)
        event_del(b->report_ev);
    if (b->trim_ev)
        event_del(b->trim_ev);
}

/* Shutdown, step 2: everything queued before broker_shutdown() is committed and its PUBACKs
 * are in the output buffers; close with flush so they reach the peers. */
static void shutdown_flushed(void *ctx, uint32_t tag, int rc)
{
    (void)tag;
    (void)rc;
    struct app *app = ctx;
    struct broker *b = app->broker;
    if (b == NULL || !b->draining)
        return; /* broker_free() already closed everything */
    for (struct session *s = b->head, *next; s != NULL; s = next) {
        next = s->next;
        session_close(s, "server shutting down", true);
    }
    if (b->count == 0)
        event_base_loopexit(app->base, NULL);
}

void broker_shutdown(struct app *app)
{
    struct broker *b = app->broker;
    struct timeval backstop = {10, 0};
    broker_stop_accepting(app);
    event_base_loopexit(app->base, &backstop);
    if (b == NULL) {
        event_base_loopexit(app->base, NULL);
        return;
    }
    b->draining = true;
    for (struct session *s = b->head; s != NULL; s = s->next)
        if (!s->closing && s->conn.open)
            pause_reading(s, false);
    if (app->store == NULL || store_barrier(app->store, shutdown_flushed, app, 0) != CE_OK)
        shutdown_flushed(app, 0, CE_OK);
}

void broker_free(struct app *app)
{
    struct broker *b = app->broker;
    if (b == NULL)
        return;
    b->draining = false; /* the loop has ended */
    if (app->reg != NULL)
        plane_listen(app, NULL);
    broker_stop_accepting(app);
    while (b->head != NULL) {
        struct session *s = b->head;
        if (s->closing) {
            session_finish(s);
            continue;
        }
        session_close(s, "server shutting down", false);
    }
    if (b->accept_ev)
        event_free(b->accept_ev);
    if (b->report_ev)
        event_free(b->report_ev);
    if (b->timer_ev)
        event_free(b->timer_ev);
    free(b->timers);
    broker_io_free(b);
    free(b);
    app->broker = NULL;
}
