/*
 * device.c - the state machine of one simulated device:
 *   DPS: TLS connect, CONNECT (SAS), SUBSCRIBE $dps/registrations/res/#, PUBLISH register,
 *        202 + retry-after -> poll by operationId -> 200 assigned (assignedHub, deviceId);
 *   Hub: TLS connect to the assigned hub, CONNECT (device SAS, model-id), SUBSCRIBE methods and
 *        twin topics, then telemetry on a timer (or closed loop) and answers to the cloud;
 *   Broker: plain MQTT CONNECT with a fixed username/password, then telemetry (or subscribe).
 * Failures are counted by kind and retried after a randomised back-off, like real devices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "iotc/codec.h"
#include "iotc/dps.h"
#include "iotc/hub.h"
#include "iotc/sas.h"
#include "sim/sim.h"

#define STATE_TIMEOUT_S 30
/* Renew a quarter of the lifetime before expiry, at most 15 min before (Node SDK: 45 of 60). */
#define TOKEN_RENEW_MARGIN_S(s) ((s)->cfg.token_ttl_s / 4 < 900 ? (s)->cfg.token_ttl_s / 4 : 900)
#define USER_AGENT "iotc-sim/" IOTC_VERSION

static void set_timer(struct sim_device *d, double seconds)
{
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    event_add(d->timer, &tv);
}

static uint16_t take_pid(struct sim_device *d)
{
    if (++d->next_pid == 0)
        d->next_pid = 1;
    return d->next_pid;
}

static void begin_connect(struct sim_device *d, const struct sim_addr *a, const char *sni,
                          enum dev_state st)
{
    d->state = st;
    if (conn_open(d, (const struct sockaddr *)&a->sa, a->len, sni) != 0) {
        dev_fail(d, SIM_ERR_TCP, "cannot open a socket");
        return;
    }
    set_timer(d, STATE_TIMEOUT_S);
}

static void split_host(const char *hostport, char *host, size_t cap, int *port, int def_port)
{
    const char *colon = strrchr(hostport, ':');
    size_t n = colon != NULL ? (size_t)(colon - hostport) : strlen(hostport);
    if (n >= cap)
        n = cap - 1;
    memcpy(host, hostport, n);
    host[n] = '\0';
    *port = colon != NULL ? sim_int(colon + 1) : def_port;
}

static void hub_begin(struct sim_device *d)
{
    struct sim *s = d->sim;
    char host[160];
    int port;

    if (strcmp(s->hub_addr.hostport, d->hub) != 0) {
        split_host(d->hub, host, sizeof host, &port, 8883);
        if (sim_resolve(host, port, &s->hub_addr) != 0) {
            dev_fail(d, SIM_ERR_TCP, "cannot resolve the assigned hub");
            return;
        }
        snprintf(s->hub_addr.hostport, sizeof s->hub_addr.hostport, "%s", d->hub);
    }
    split_host(d->hub, host, sizeof host, &port, 8883);
    d->t_connect_ns = sim_now_ns();
    begin_connect(d, &s->hub_addr, host, DEV_HUB_CONNECTING);
}

void dev_start(struct sim_device *d)
{
    struct sim *s = d->sim;
    if (s->stopping)
        return;
    if (d->t_start_ns == 0)
        d->t_start_ns = sim_now_ns();
    d->op_id[0] = '\0';
    switch (s->cfg.mode) {
    case SIM_MODE_CENTRAL:
    case SIM_MODE_DPS_ONLY:
        if (d->provisioned)
            hub_begin(d);
        else {
            d->t_connect_ns = sim_now_ns();
            begin_connect(d, &s->dps_addr, s->cfg.dps_host, DEV_DPS_CONNECTING);
        }
        break;
    case SIM_MODE_BROKER:
    case SIM_MODE_SUBSCRIBER:
        d->t_connect_ns = sim_now_ns();
        begin_connect(d, &s->dps_addr, s->cfg.broker_host, DEV_HUB_CONNECTING);
        break;
    }
}

static void send_connect_dps(struct sim_device *d)
{
    struct sim *s = d->sim;
    char user[512], pass[512];
    size_t len;
    uint64_t se = (uint64_t)time(NULL) + (uint64_t)s->cfg.token_ttl_s;
    struct iotc_span id = iotc_span_from_cstr(d->id), scope = iotc_span_from_cstr(s->cfg.scope);

    if (iotc_dps_username_build(scope, id, IOTC_SPAN_NULL, IOTC_SPAN_LIT(USER_AGENT), user,
                                sizeof user, &len) != IOTC_OK ||
        iotc_sas_token_dps(iotc_span_from_cstr(d->key), scope, id, IOTC_SAS_DPS_CSDK, se, pass,
                           sizeof pass, &len) != IOTC_OK) {
        dev_fail(d, SIM_ERR_TOKEN, "cannot build the DPS username or token");
        return;
    }
    d->state = DEV_DPS_CONNACK;
    if (conn_connect(d, d->id, user, pass, true, s->cfg.keepalive) != 0)
        dev_fail(d, SIM_ERR_TCP, "write failed");
}

static void send_connect_hub(struct sim_device *d)
{
    struct sim *s = d->sim;
    char user[768], pass[512];
    size_t len;
    uint64_t se = (uint64_t)time(NULL) + (uint64_t)s->cfg.token_ttl_s;
    struct iotc_span id = iotc_span_from_cstr(d->id), hub = iotc_span_from_cstr(d->hub);

    if (iotc_hub_username_build(hub, id, IOTC_SPAN_NULL, IOTC_SPAN_NULL, IOTC_SPAN_LIT(USER_AGENT),
                                iotc_span_from_cstr(s->cfg.model_id), user, sizeof user,
                                &len) != IOTC_OK ||
        iotc_sas_token_hub(iotc_span_from_cstr(d->key), hub, id, IOTC_SPAN_NULL, IOTC_SPAN_NULL, se,
                           pass, sizeof pass, &len) != IOTC_OK) {
        dev_fail(d, SIM_ERR_TOKEN, "cannot build the hub username or token");
        return;
    }
    d->state = DEV_HUB_CONNACK;
    d->token_expiry = se;
    /* CleanSession 0 like the Azure SDKs. */
    if (conn_connect(d, d->id, user, pass, false, s->cfg.keepalive) != 0)
        dev_fail(d, SIM_ERR_TCP, "write failed");
}

void dev_on_up(struct sim_device *d)
{
    struct sim *s = d->sim;
    switch (d->state) {
    case DEV_DPS_CONNECTING:
        send_connect_dps(d);
        break;
    case DEV_HUB_CONNECTING:
        if (s->cfg.mode == SIM_MODE_BROKER || s->cfg.mode == SIM_MODE_SUBSCRIBER) {
            d->state = DEV_HUB_CONNACK;
            if (conn_connect(d, d->id, s->cfg.username, s->cfg.password, true, s->cfg.keepalive) !=
                0)
                dev_fail(d, SIM_ERR_TCP, "write failed");
        } else {
            send_connect_hub(d);
        }
        break;
    default:
        break;
    }
}

static void subscribe(struct sim_device *d, const struct iotc_mqtt_subscription *subs, size_t n)
{
    struct iotc_mqtt_packet pkt = {.type = IOTC_MQTT_SUBSCRIBE};
    pkt.subscribe.packet_id = take_pid(d);
    pkt.subscribe.count = n;
    pkt.subscribe.list = subs;
    if (conn_send(d, &pkt) != 0)
        dev_fail(d, SIM_ERR_TCP, "write failed");
}

static void on_connack(struct sim_device *d, const struct iotc_mqtt_connack *ack)
{
    struct sim *s = d->sim;
    if (ack->return_code == IOTC_MQTT_CONNACK_NOT_AUTHORIZED && d->state == DEV_HUB_CONNACK &&
        s->cfg.hub[0] != '\0' && !d->reprovisioned && s->cfg.mode == SIM_MODE_CENTRAL) {
        /* Not registered on that hub yet (--hub): provision through DPS, as devices do. */
        d->reprovisioned = true;
        d->provisioned = false;
        event_del(d->timer);
        conn_close(d);
        dev_start(d);
        return;
    }
    if (ack->return_code != 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "CONNACK %u", ack->return_code);
        dev_fail(d, SIM_ERR_CONNACK, detail);
        return;
    }
    if (d->state == DEV_DPS_CONNACK) {
        hist_add(&s->st.dps_connect, (sim_now_ns() - d->t_connect_ns) / 1000);
        const struct iotc_mqtt_subscription sub = {IOTC_SPAN_LIT(IOTC_DPS_SUBSCRIBE_TOPIC), 1};
        d->state = DEV_DPS_SUBACK;
        subscribe(d, &sub, 1);
        return;
    }
    if (s->cfg.mode == SIM_MODE_SUBSCRIBER) {
        struct iotc_mqtt_subscription sub = {iotc_span_from_cstr(s->cfg.subscribe_filter),
                                             (uint8_t)s->cfg.qos};
        d->state = DEV_HUB_SUBACK;
        subscribe(d, &sub, 1);
        return;
    }
    if (s->cfg.mode == SIM_MODE_BROKER) {
        d->state = DEV_RUNNING;
        hist_add(&s->st.connect, (sim_now_ns() - d->t_connect_ns) / 1000);
        sim_device_up(s, d);
        return;
    }
    const struct iotc_mqtt_subscription subs[3] = {
        {IOTC_SPAN_LIT(IOTC_HUB_METHODS_SUBSCRIBE_TOPIC), 0},
        {IOTC_SPAN_LIT(IOTC_HUB_TWIN_RES_SUBSCRIBE_TOPIC), 0},
        {IOTC_SPAN_LIT(IOTC_HUB_TWIN_DESIRED_SUBSCRIBE_TOPIC), 0},
    };
    d->state = DEV_HUB_SUBACK;
    subscribe(d, subs, 3);
}

static void send_register(struct sim_device *d)
{
    struct sim *s = d->sim;
    char topic[128], body[512];
    size_t tlen, blen;
    char rid[16];
    snprintf(rid, sizeof rid, "%u", ++d->rid);
    struct iotc_span id = iotc_span_from_cstr(d->id);
    int rc = iotc_dps_register_topic_build(iotc_span_from_cstr(rid), topic, sizeof topic, &tlen);
    if (rc == IOTC_OK) {
        if (s->cfg.model_id != NULL)
            rc = iotc_dps_register_body_build_model(id, iotc_span_from_cstr(s->cfg.model_id), body,
                                                    sizeof body, &blen);
        else
            rc = iotc_dps_register_body_build(id, IOTC_SPAN_NULL, body, sizeof body, &blen);
    }
    if (rc != IOTC_OK) {
        dev_fail(d, SIM_ERR_TOKEN, "cannot build the register request");
        return;
    }
    d->state = DEV_DPS_WAIT;
    if (conn_publish(d, topic, tlen, body, blen, 1, take_pid(d)) != 0)
        dev_fail(d, SIM_ERR_TCP, "write failed");
    set_timer(d, STATE_TIMEOUT_S);
}

static void send_poll(struct sim_device *d)
{
    char topic[384], rid[16];
    size_t tlen;
    snprintf(rid, sizeof rid, "%u", ++d->rid);
    if (iotc_dps_status_topic_build(iotc_span_from_cstr(rid), iotc_span_from_cstr(d->op_id), topic,
                                    sizeof topic, &tlen) != IOTC_OK) {
        dev_fail(d, SIM_ERR_PROTOCOL, "bad operation id");
        return;
    }
    d->op_id[sizeof d->op_id - 1] = '\0';
    if (conn_publish(d, topic, tlen, " ", 1, 1, take_pid(d)) != 0)
        dev_fail(d, SIM_ERR_TCP, "write failed");
    set_timer(d, STATE_TIMEOUT_S);
}

/* The running timer sends PINGREQ and renews the SAS token, whichever comes first. */
static double running_period(const struct sim_device *d)
{
    double period = d->sim->cfg.keepalive > 0 ? d->sim->cfg.keepalive * 0.75 : 3600;
    if (d->token_expiry > 0 && d->sim->cfg.mode == SIM_MODE_CENTRAL) {
        double due = (double)d->token_expiry - TOKEN_RENEW_MARGIN_S(d->sim) - (double)time(NULL);
        if (due < period)
            period = due < 1 ? 1 : due;
    }
    return period;
}

static bool token_due(const struct sim_device *d)
{
    /* Like the SDKs, reconnect with a fresh token well before the hub closes us at expiry. */
    return d->token_expiry > 0 &&
           (uint64_t)time(NULL) + (uint64_t)TOKEN_RENEW_MARGIN_S(d->sim) >= d->token_expiry;
}

static void start_running(struct sim_device *d)
{
    struct sim *s = d->sim;
    d->state = DEV_RUNNING;
    d->attempts = 0; /* a working connection resets the retry budget */
    hist_add(&s->st.connect, (sim_now_ns() - d->t_connect_ns) / 1000);
    sim_device_up(s, d);
    if (s->cfg.mode == SIM_MODE_CENTRAL)
        inbound_after_subscribe(d);
    set_timer(d, running_period(d));
}

static void on_suback(struct sim_device *d, const struct iotc_mqtt_suback *ack)
{
    for (size_t i = 0; i < ack->count; i++) {
        if (ack->codes[i] == IOTC_MQTT_SUBACK_FAILURE) {
            dev_fail(d, SIM_ERR_SUBACK, "subscription refused");
            return;
        }
    }
    if (d->state == DEV_DPS_SUBACK)
        send_register(d);
    else if (d->state == DEV_HUB_SUBACK)
        start_running(d);
}

static int copy_unescaped(struct iotc_span src, char *out, size_t cap)
{
    size_t len;
    if (src.ptr == NULL || iotc_json_unescape(src, out, cap, &len) != IOTC_OK || len >= cap)
        return -1;
    out[len] = '\0';
    return 0;
}

static void dps_assigned(struct sim_device *d, const struct iotc_dps_response_view *v)
{
    struct sim *s = d->sim;
    char devid[sizeof d->id];
    if (copy_unescaped(v->assigned_hub, d->hub, sizeof d->hub) != 0 ||
        copy_unescaped(v->device_id, devid, sizeof devid) != 0) {
        dev_fail(d, SIM_ERR_PROTOCOL, "assigned without assignedHub/deviceId");
        return;
    }
    /* The hub identity is the deviceId DPS returns (same as the registration id here). */
    memcpy(d->id, devid, sizeof d->id);
    d->provisioned = true;
    s->st.provisioned++;
    double t = sim_elapsed_s(s);
    if (s->st.provisioned == 1)
        s->st.first_reg_s = t;
    s->st.last_reg_s = t;
    hist_add(&s->st.dps, (sim_now_ns() - d->t_start_ns) / 1000);
    event_del(d->timer);
    conn_disconnect(d);
    if (s->cfg.mode == SIM_MODE_DPS_ONLY) {
        d->state = DEV_DONE;
        sim_device_finished(s, d);
        return;
    }
    hub_begin(d);
}

static void on_dps_publish(struct sim_device *d, const struct iotc_mqtt_publish *pub)
{
    struct iotc_dps_response_topic rt;
    struct iotc_dps_response_view v;
    char detail[96];

    if (iotc_dps_response_topic_parse(pub->topic, &rt) != IOTC_OK) {
        dev_fail(d, SIM_ERR_PROTOCOL, "unexpected DPS topic");
        return;
    }
    if (rt.status == 429 || (rt.status >= 500 && rt.has_retry_after)) {
        set_timer(d, rt.has_retry_after ? rt.retry_after : 2);
        return; /* throttled: poll (or re-register) later */
    }
    if (rt.status >= 300) {
        snprintf(detail, sizeof detail, "DPS status %u", rt.status);
        dev_fail(d, SIM_ERR_DPS_STATUS, detail);
        return;
    }
    if (iotc_dps_response_body_parse(pub->payload, &v) != IOTC_OK) {
        dev_fail(d, SIM_ERR_PROTOCOL, "malformed DPS body");
        return;
    }
    if (v.status == IOTC_DPS_STATUS_ASSIGNED) {
        dps_assigned(d, &v);
        return;
    }
    if (v.status == IOTC_DPS_STATUS_FAILED || v.status == IOTC_DPS_STATUS_DISABLED) {
        snprintf(detail, sizeof detail, "registration %s", iotc_dps_status_str(v.status));
        dev_fail(d, SIM_ERR_DPS_FAILED, detail);
        return;
    }
    if (copy_unescaped(v.operation_id, d->op_id, sizeof d->op_id) != 0) {
        dev_fail(d, SIM_ERR_PROTOCOL, "no operationId");
        return;
    }
    set_timer(d, rt.has_retry_after && rt.retry_after > 0 ? rt.retry_after : 2);
}

static void on_puback(struct sim_device *d, uint16_t pid)
{
    struct sim *s = d->sim;
    int w = s->cfg.inflight;
    if (d->state != DEV_RUNNING || d->win_pid == NULL)
        return;
    size_t slot = pid % (unsigned)w;
    if (d->win_pid[slot] != pid)
        return;
    d->win_pid[slot] = 0;
    d->inflight--;
    d->acked++;
    s->st.acked++;
    hist_add(&s->st.puback, (sim_now_ns() - d->win_t[slot]) / 1000);
    if (s->cfg.rate_max && !s->stopping)
        dev_send_telemetry(d);
}

void dev_on_packet(struct sim_device *d, const struct iotc_mqtt_packet *pkt)
{
    switch (pkt->type) {
    case IOTC_MQTT_CONNACK:
        if (d->state != DEV_DPS_CONNACK && d->state != DEV_HUB_CONNACK) {
            dev_fail(d, SIM_ERR_PROTOCOL, "unexpected CONNACK");
            return;
        }
        on_connack(d, &pkt->connack);
        break;
    case IOTC_MQTT_SUBACK:
        on_suback(d, &pkt->suback);
        break;
    case IOTC_MQTT_PUBACK:
        on_puback(d, pkt->packet_id);
        break;
    case IOTC_MQTT_PUBLISH:
        if (pkt->publish.qos == 1) {
            struct iotc_mqtt_packet ack = {.type = IOTC_MQTT_PUBACK,
                                           .packet_id = pkt->publish.packet_id};
            conn_send(d, &ack);
        }
        if (d->state == DEV_DPS_WAIT)
            on_dps_publish(d, &pkt->publish);
        else if (d->state == DEV_RUNNING)
            inbound_publish(d, &pkt->publish);
        break;
    case IOTC_MQTT_PINGRESP:
    case IOTC_MQTT_UNSUBACK:
        break;
    default:
        dev_fail(d, SIM_ERR_PROTOCOL, "unexpected packet type");
        break;
    }
}

static void reset_window(struct sim_device *d)
{
    if (d->win_pid != NULL)
        memset(d->win_pid, 0, sizeof *d->win_pid * (size_t)d->sim->cfg.inflight);
    d->inflight = 0;
}

static void go_down(struct sim_device *d)
{
    struct sim *s = d->sim;
    event_del(d->timer);
    if (d->tel_timer != NULL)
        event_del(d->tel_timer);
    conn_close(d);
    reset_window(d);
    if (d->counted)
        sim_device_down(s, d);
}

void dev_fail(struct sim_device *d, enum sim_err why, const char *detail)
{
    struct sim *s = d->sim;
    if (d->state == DEV_DONE || d->state == DEV_FAILED)
        return;
    s->st.errors[why]++;
    uint64_t total = 0;
    for (int i = 0; i < SIM_ERR__COUNT; i++)
        total += s->st.errors[i];
    if (total <= 5 && !s->cfg.quiet)
        fprintf(stderr, "iotc-sim: %s: %s (%s)\n", d->id, sim_err_name(why),
                detail != NULL ? detail : "");
    go_down(d);
    if (s->stopping) {
        d->state = DEV_DONE;
        return;
    }
    if (why != SIM_ERR_DPS_FAILED && d->attempts < s->cfg.max_retries) {
        d->attempts++;
        s->st.reconnects++;
        d->state = DEV_BACKOFF;
        set_timer(d, 1.0 + (double)(rand() % 2000) / 1000.0);
        return;
    }
    d->state = DEV_FAILED;
    s->st.failed++;
    sim_device_finished(s, d);
}

void dev_on_closed(struct sim_device *d, enum sim_err why)
{
    if (d->sim->stopping) {
        go_down(d);
        d->state = DEV_DONE;
        return;
    }
    dev_fail(d, why, why == SIM_ERR_CLOSED ? "connection closed by the server" : NULL);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sim_device *d = arg;
    (void)fd;
    (void)what;
    switch (d->state) {
    case DEV_BACKOFF:
        dev_start(d);
        break;
    case DEV_DPS_WAIT:
        if (d->op_id[0] != '\0')
            send_poll(d);
        else
            dev_fail(d, SIM_ERR_TIMEOUT, "no DPS answer");
        break;
    case DEV_RUNNING: {
        if (token_due(d) && d->sim->cfg.mode == SIM_MODE_CENTRAL) {
            /* Let outstanding PUBACKs arrive first (up to ~2 s) so no message is lost. */
            if (d->inflight > 0 && !d->renewing) {
                d->renewing = true;
                d->renew_polls = 0;
            }
            if (d->inflight > 0 && d->renew_polls++ < 40) {
                set_timer(d, 0.05);
                break;
            }
            conn_disconnect(d);
            go_down(d);
            d->sim->st.reconnects++;
            hub_begin(d);
            break;
        }
        struct iotc_mqtt_packet ping = {.type = IOTC_MQTT_PINGREQ};
        conn_send(d, &ping);
        set_timer(d, running_period(d));
        break;
    }
    case DEV_DONE:
    case DEV_FAILED:
    case DEV_IDLE:
        break;
    default:
        dev_fail(d, SIM_ERR_TIMEOUT, "no answer in time");
        break;
    }
}

static void on_tel_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sim_device *d = arg;
    (void)fd;
    (void)what;
    dev_send_telemetry(d);
}

int dev_init(struct sim *s, struct sim_device *d, int index)
{
    d->sim = s;
    d->index = index;
    d->timer = evtimer_new(s->base, on_timer, d);
    if (d->timer == NULL)
        return -1;
    if (s->cfg.mode == SIM_MODE_CENTRAL || s->cfg.mode == SIM_MODE_BROKER) {
        d->tel_timer = event_new(s->base, -1, EV_PERSIST, on_tel_timer, d);
        d->win_pid = calloc((size_t)s->cfg.inflight, sizeof *d->win_pid);
        d->win_t = calloc((size_t)s->cfg.inflight, sizeof *d->win_t);
        if (d->tel_timer == NULL || d->win_pid == NULL || d->win_t == NULL)
            return -1;
    }
    return 0;
}

void dev_stop(struct sim_device *d)
{
    if (d->tel_timer != NULL)
        event_del(d->tel_timer);
    if (d->state != DEV_RUNNING && d->state != DEV_DONE && d->state != DEV_FAILED) {
        go_down(d);
        d->state = DEV_DONE;
    }
}

/* Send DISCONNECT and close (end of run). */
void dev_disconnect(struct sim_device *d)
{
    if (d->state == DEV_RUNNING)
        conn_disconnect(d);
    go_down(d);
    if (d->state != DEV_FAILED)
        d->state = DEV_DONE;
}

void dev_free(struct sim_device *d)
{
    conn_close(d);
    if (d->timer != NULL)
        event_free(d->timer);
    if (d->tel_timer != NULL)
        event_free(d->tel_timer);
    free(d->win_pid);
    free(d->win_t);
    free(d->topic);
}
