/*
 * inbound.c - what a running device sends and answers:
 *  - telemetry on a timer (or closed loop), QoS 0/1, one JSON body per message;
 *  - direct methods: status 200 and a JSON body (the model's response schema when known);
 *  - twin: GET on connect, then an ack per writable property ({"value","ac":200,"av","ad"})
 *    for the desired state found there and for every desired patch pushed later, the way
 *    IoT Central devices acknowledge (docs/PROTOCOL.md §7.4);
 *  - C2D and broker-forwarded messages are counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "iotc/hub.h"
#include "sim/sim.h"

static uint16_t next_pid(struct sim_device *d)
{
    if (++d->next_pid == 0)
        d->next_pid = 1;
    return d->next_pid;
}

static int build_topic(struct sim_device *d, const char *component, char *out, size_t cap,
                       size_t *len)
{
    struct sim *s = d->sim;
    if (s->cfg.mode == SIM_MODE_BROKER) {
        const char *fmt = s->cfg.topic_fmt;
        const char *pct = strstr(fmt, "%s");
        int n = pct != NULL ? snprintf(out, cap, "%.*s%s%s", (int)(pct - fmt), fmt, d->id, pct + 2)
                            : snprintf(out, cap, "%s", fmt);
        if (n < 0 || (size_t)n >= cap)
            return -1;
        *len = (size_t)n;
        return 0;
    }
    struct iotc_prop props[3] = {
        {IOTC_SPAN_LIT(IOTC_HUB_PROP_CONTENT_TYPE), IOTC_SPAN_LIT("application/json")},
        {IOTC_SPAN_LIT(IOTC_HUB_PROP_CONTENT_ENCODING), IOTC_SPAN_LIT("utf-8")},
        {IOTC_SPAN_LIT(IOTC_HUB_PROP_COMPONENT), iotc_span_from_cstr(component)},
    };
    size_t n = component != NULL && component[0] != '\0' ? 3 : 2;
    return iotc_hub_telemetry_topic_build(iotc_span_from_cstr(d->id), IOTC_SPAN_NULL, props, n, out,
                                          cap, len) == IOTC_OK
               ? 0
               : -1;
}

void tel_start(struct sim_device *d)
{
    struct sim *s = d->sim;
    char topic[512];
    size_t len;

    if (d->tel_timer == NULL)
        return;
    if (d->topic == NULL) {
        if (build_topic(d, NULL, topic, sizeof topic, &len) != 0)
            return;
        d->topic = strdup(topic);
        if (d->topic == NULL)
            return;
    }
    if (s->cfg.rate_max) {
        for (int i = 0; i < s->cfg.inflight && d->state == DEV_RUNNING; i++)
            dev_send_telemetry(d);
        return;
    }
    if (s->cfg.rate <= 0)
        return;
    /* Random phase so that devices do not all publish in the same tick. */
    double period = 1.0 / s->cfg.rate;
    double first = period * (double)(rand() % 1000) / 1000.0;
    struct timeval tv = {(time_t)first, (suseconds_t)((first - (double)(time_t)first) * 1e6)};
    d->tel_phased = false;
    event_add(d->tel_timer, &tv);
}

void dev_send_telemetry(struct sim_device *d)
{
    struct sim *s = d->sim;
    char topic[512];
    const char *t = d->topic;
    size_t tlen = 0;
    uint16_t pid = 0;

    if (!d->tel_phased && !s->cfg.rate_max && s->cfg.rate > 0) {
        double period = 1.0 / s->cfg.rate;
        struct timeval tv = {(time_t)period,
                             (suseconds_t)((period - (double)(time_t)period) * 1e6)};
        d->tel_phased = true;
        event_add(d->tel_timer, &tv);
    }
    if (d->state != DEV_RUNNING || s->stopping || d->renewing || t == NULL)
        return;
    if (s->cfg.qos > 0) {
        pid = (uint16_t)(d->next_pid + 1 == 0x10000 ? 1 : d->next_pid + 1);
        size_t slot = pid % (unsigned)s->cfg.inflight;
        if (d->win_pid[slot] != 0) {
            s->st.errors[SIM_ERR_WINDOW_FULL]++;
            return;
        }
        next_pid(d);
        d->win_pid[slot] = pid;
        d->inflight++;
    }
    size_t groups = payload_groups(s->payload);
    size_t g = groups > 1 ? d->group++ % groups : 0;
    const char *comp = payload_group_component(s->payload, g);
    if (comp != NULL && comp[0] != '\0' && s->cfg.mode == SIM_MODE_CENTRAL) {
        if (build_topic(d, comp, topic, sizeof topic, &tlen) != 0)
            return;
        t = topic;
    } else {
        tlen = strlen(t);
    }
    size_t blen = payload_render(s->payload, g, d->index, sim_elapsed_s(s), d->seq++,
                                 s->cfg.payload_size, s->txbuf, s->txcap);
    if (s->cfg.qos > 0)
        d->win_t[pid % (unsigned)s->cfg.inflight] = sim_now_ns();
    if (conn_publish(d, t, tlen, s->txbuf, blen, s->cfg.qos, pid) != 0) {
        dev_fail(d, SIM_ERR_TCP, "write failed");
        return;
    }
    s->st.sent++;
}

static void publish_json(struct sim_device *d, const char *topic, size_t tlen, const char *body,
                         size_t blen)
{
    if (conn_publish(d, topic, tlen, body, blen, 0, 0) != 0)
        dev_fail(d, SIM_ERR_TCP, "write failed");
}

static void send_reported(struct sim_device *d, const char *body, size_t len)
{
    char topic[128], rid[16];
    size_t tlen;
    snprintf(rid, sizeof rid, "%u", ++d->rid);
    if (iotc_hub_twin_patch_topic_build(iotc_span_from_cstr(rid), topic, sizeof topic, &tlen) !=
        IOTC_OK)
        return;
    d->sim->st.twin_patches++;
    publish_json(d, topic, tlen, body, len);
}

void inbound_after_subscribe(struct sim_device *d)
{
    struct sim *s = d->sim;
    char topic[128], rid[16];
    size_t tlen;

    d->twin_get_rid = ++d->rid;
    snprintf(rid, sizeof rid, "%u", d->twin_get_rid);
    if (iotc_hub_twin_get_topic_build(iotc_span_from_cstr(rid), topic, sizeof topic, &tlen) ==
        IOTC_OK)
        publish_json(d, topic, tlen, " ", 1);
    if (d->state != DEV_RUNNING)
        return;
    size_t n = payload_reported(s->payload, d->index, sim_elapsed_s(s), s->txbuf, s->txcap);
    if (n > 0)
        send_reported(d, s->txbuf, n);
}

static void add_ack(cJSON *parent, const cJSON *prop, uint64_t version)
{
    cJSON *a = cJSON_AddObjectToObject(parent, prop->string);
    if (a == NULL)
        return;
    cJSON_AddItemToObject(a, "value", cJSON_Duplicate(prop, true));
    cJSON_AddNumberToObject(a, "ac", 200);
    cJSON_AddNumberToObject(a, "av", (double)version);
    cJSON_AddStringToObject(a, "ad", "completed");
}

static bool is_component(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "__t");
    return cJSON_IsObject(o) && cJSON_IsString(t) && strcmp(t->valuestring, "c") == 0;
}

/* Acknowledge every writable property of a desired document (or patch) at `version`. */
static void ack_desired(struct sim_device *d, const cJSON *desired, uint64_t version)
{
    cJSON *rep = cJSON_CreateObject();
    const cJSON *c;
    int n = 0;

    if (rep == NULL)
        return;
    cJSON_ArrayForEach(c, desired)
    {
        if (c->string == NULL || c->string[0] == '$')
            continue;
        if (is_component(c)) {
            cJSON *comp = cJSON_AddObjectToObject(rep, c->string);
            const cJSON *p;
            cJSON_AddStringToObject(comp, "__t", "c");
            cJSON_ArrayForEach(p, c)
            {
                if (p->string != NULL && p->string[0] != '$' && strcmp(p->string, "__t") != 0) {
                    add_ack(comp, p, version);
                    n++;
                }
            }
        } else {
            add_ack(rep, c, version);
            n++;
        }
    }
    if (n > 0) {
        char *text = cJSON_PrintUnformatted(rep);
        if (text != NULL)
            send_reported(d, text, strlen(text));
        cJSON_free(text);
    }
    cJSON_Delete(rep);
    if (version > d->desired_version)
        d->desired_version = version;
}

static void on_twin_response(struct sim_device *d, const struct iotc_hub_topic *t,
                             struct iotc_span body)
{
    struct sim *s = d->sim;
    char rid[16];
    s->st.twin_responses++;
    snprintf(rid, sizeof rid, "%u", d->twin_get_rid);
    if (t->status != 200 || !iotc_span_eq(t->rid, iotc_span_from_cstr(rid)))
        return;
    cJSON *doc = cJSON_ParseWithLength(body.ptr, body.len);
    const cJSON *desired = cJSON_GetObjectItemCaseSensitive(doc, "desired");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(desired, "$version");
    if (cJSON_IsObject(desired) && cJSON_IsNumber(ver) && ver->valuedouble > 0 &&
        (uint64_t)ver->valuedouble > d->desired_version)
        ack_desired(d, desired, (uint64_t)ver->valuedouble);
    cJSON_Delete(doc);
}

static void on_method(struct sim_device *d, const struct iotc_hub_topic *t)
{
    struct sim *s = d->sim;
    char topic[128];
    size_t tlen;
    s->st.methods++;
    size_t blen = payload_method_response(s->payload, t->method_name.ptr, t->method_name.len,
                                          d->index, sim_elapsed_s(s), s->txbuf, s->txcap);
    if (iotc_hub_method_response_topic_build(200, t->rid, topic, sizeof topic, &tlen) != IOTC_OK)
        return;
    publish_json(d, topic, tlen, s->txbuf, blen);
}

void inbound_publish(struct sim_device *d, const struct iotc_mqtt_publish *pub)
{
    struct sim *s = d->sim;
    struct iotc_hub_topic t;

    if (s->cfg.mode != SIM_MODE_CENTRAL || iotc_hub_topic_parse(pub->topic, &t) != IOTC_OK) {
        s->st.received++;
        return;
    }
    switch (t.kind) {
    case IOTC_HUB_TOPIC_METHOD_REQUEST:
        on_method(d, &t);
        break;
    case IOTC_HUB_TOPIC_TWIN_RESPONSE:
        on_twin_response(d, &t, pub->payload);
        break;
    case IOTC_HUB_TOPIC_TWIN_DESIRED: {
        s->st.desired++;
        cJSON *doc = cJSON_ParseWithLength(pub->payload.ptr, pub->payload.len);
        if (cJSON_IsObject(doc) && t.version > d->desired_version)
            ack_desired(d, doc, t.version);
        cJSON_Delete(doc);
        break;
    }
    default:
        s->st.received++;
        break;
    }
}
