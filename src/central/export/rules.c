/*
 * rules.c - rules kept, evaluated and acted on (rules.h): definitions in memory and in
 * app_rules; one evaluator state per (rule, device) in a hash per rule, its fired/cleared flag
 * written to app_rule_states when it changes; alerts newest first in memory and in app_alerts;
 * webhook posts through export_webhook_new (one destination instance per webhook action),
 * classified and retried as data export does (export_classify, export_backoff_ms).
 */
#include "central/export/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <iotc/codec.h>
#include <iotc/json.h>

#include "central/app/appl.h"
#include "central/app/appl_docs.h"
#include "central/app/appl_filter.h"
#include "central/base/events.h"
#include "central/base/log.h"
#include "central/export/export.h"
#include "central/export/export_dest.h"
#include "central/export/export_fmt.h"
#include "central/export/rules_eval.h"
#include "central/hub/registry.h"
#include "central/store/store_app.h"

#define T_RULES "app_rules"
#define T_STATES "app_rule_states"
#define T_ALERTS "app_alerts"
#define TICK_MS 250
#define STATE_BUCKETS 256

struct rstate {
    char *device;
    struct rule_state st;
    char alert_id[24]; /* the active alert while fired */
    struct rstate *next;
};

struct rule {
    char *id;
    cJSON *body; /* the checked definition, without id */
    struct rule_def def;
    struct export_dest *hooks[RULE_ACTIONS_MAX];
    struct devfilter *filter; /* the group's, compiled for filter_etag */
    char filter_etag[40];
    bool filter_ok;
    struct rstate *buckets[STATE_BUCKETS];
    size_t n_states;
    int64_t next_tick;
    struct rule *next;
};

struct delivery {
    struct rules *rs;
    char alert_id[24];
    char event[8]; /* "fired" / "cleared" */
    size_t action;
    unsigned attempts;
    int64_t next_ms;
    bool inflight;
    struct delivery *next;
};

struct rules {
    struct app *app;
    struct store_app *db;
    struct rule *rules;
    cJSON *alerts; /* newest first */
    uint64_t next_alert;
    struct delivery *deliveries;
    struct event *tick;
    int sub;
    bool curl;
    uint64_t rng;
};

/* ---------------------------------------------------------------- helpers */

static uint32_t rnd(struct rules *rs)
{
    rs->rng ^= rs->rng << 13;
    rs->rng ^= rs->rng >> 7;
    rs->rng ^= rs->rng << 17;
    return (uint32_t)(rs->rng >> 32);
}

static void put_json(struct rules *rs, const char *table, const char *id, const cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    if (text == NULL) {
        log_error("rules: out of memory writing %s %s", table, LOG_STR(id));
        return;
    }
    store_app_put(rs->db, table, id, text);
    free(text);
}

static struct rule *rule_find(struct rules *rs, const char *id)
{
    for (struct rule *r = rs->rules; r != NULL; r = r->next) {
        if (strcmp(r->id, id) == 0)
            return r;
    }
    return NULL;
}

static cJSON *alert_find(struct rules *rs, const char *id)
{
    cJSON *a;
    cJSON_ArrayForEach(a, rs->alerts)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0)
            return a;
    }
    return NULL;
}

static void set_member(cJSON *o, const char *name, cJSON *v)
{
    if (v == NULL)
        return;
    if (cJSON_GetObjectItemCaseSensitive(o, name) != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(o, name, v);
    else
        cJSON_AddItemToObject(o, name, v);
}

static void set_time(cJSON *o, const char *name, int64_t ms)
{
    char t[32];
    app_format_time(ms, t);
    set_member(o, name, cJSON_CreateString(t));
}

static void state_key(char *out, size_t size, const char *rule, const char *device)
{
    snprintf(out, size, "%s/%s", rule, device);
}

/* ---------------------------------------------------------------- states */

static size_t bucket_of(const char *device)
{
    return (size_t)(app_hash_str(device) % STATE_BUCKETS);
}

static struct rstate *state_find(struct rule *r, const char *device)
{
    for (struct rstate *s = r->buckets[bucket_of(device)]; s != NULL; s = s->next) {
        if (strcmp(s->device, device) == 0)
            return s;
    }
    return NULL;
}

static void state_free(struct rstate *s)
{
    free(s->st.ring);
    free(s->device);
    free(s);
}

static struct rstate *state_new(struct rule *r, const char *device, bool fired, int64_t changed)
{
    if (r->n_states >= RULES_STATES_MAX)
        return NULL;
    struct rstate *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->device = strdup(device);
    struct rule_sample *ring = NULL;
    size_t cap = 0;
    if (r->def.cond.agg != RULE_AGG_NONE && r->def.cond.window == RULE_WIN_SLIDING) {
        cap = RULE_SLIDING_SAMPLES;
        ring = malloc(cap * sizeof *ring);
    }
    if (s->device == NULL || (cap > 0 && ring == NULL)) {
        free(ring);
        state_free(s);
        return NULL;
    }
    rules_state_init(&s->st, fired, changed, ring, cap);
    size_t b = bucket_of(device);
    s->next = r->buckets[b];
    r->buckets[b] = s;
    r->n_states++;
    return s;
}

static void state_save(struct rules *rs, const struct rule *r, const struct rstate *s)
{
    char key[APPL_ID_MAX + DEVICE_ID_MAX + 4];
    state_key(key, sizeof key, r->id, s->device);
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return;
    cJSON_AddStringToObject(o, "rule", r->id);
    cJSON_AddStringToObject(o, "device", s->device);
    cJSON_AddBoolToObject(o, "fired", s->st.fired);
    cJSON_AddNumberToObject(o, "changedMs", (double)s->st.changed_ms);
    if (s->st.has_value)
        cJSON_AddNumberToObject(o, "value", s->st.value);
    if (s->alert_id[0] != '\0')
        cJSON_AddStringToObject(o, "alertId", s->alert_id);
    put_json(rs, T_STATES, key, o);
    cJSON_Delete(o);
}

/* ---------------------------------------------------------------- alerts and webhooks */

static void delivery_unlink(struct rules *rs, struct delivery *d)
{
    for (struct delivery **pp = &rs->deliveries; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            return;
        }
    }
}

/* The delivery record of @p event / @p action in the alert's "webhooks" array. */
static cJSON *hook_record(cJSON *alert, const char *event, size_t action)
{
    cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(alert, "webhooks"))
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(h, "event");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(h, "action");
        if (cJSON_IsString(e) && strcmp(e->valuestring, event) == 0 && cJSON_IsNumber(a) &&
            (size_t)a->valuedouble == action)
            return h;
    }
    return NULL;
}

static void record_hook(struct rules *rs, const struct delivery *d, const char *status,
                        const char *error)
{
    cJSON *a = alert_find(rs, d->alert_id);
    cJSON *h = a != NULL ? hook_record(a, d->event, d->action) : NULL;
    if (h == NULL)
        return;
    set_member(h, "status", cJSON_CreateString(status));
    set_member(h, "attempts", cJSON_CreateNumber(d->attempts));
    set_member(h, "error", error != NULL ? cJSON_CreateString(error) : cJSON_CreateNull());
    put_json(rs, T_ALERTS, d->alert_id, a);
}

/* The documented payload of one webhook post (docs/API.md "Rule webhooks"). */
static char *payload_of(struct rules *rs, const cJSON *alert, const char *event)
{
    static const char *const copied[] = {"ruleId",    "ruleDisplayName", "deviceId",
                                         "telemetry", "component",       "operator",
                                         "threshold", "aggregation",     "window"};
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "schema", "iotc-rule-alert@v1");
    cJSON_AddStringToObject(o, "event", event);
    cJSON_AddStringToObject(o, "applicationId", rs->app->facts.id_scope);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(alert, "id");
    cJSON_AddItemToObject(o, "alertId", cJSON_Duplicate(v, true));
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(alert, copied[i]);
        if (v != NULL)
            cJSON_AddItemToObject(o, copied[i], cJSON_Duplicate(v, true));
    }
    bool fired = strcmp(event, "fired") == 0;
    v = cJSON_GetObjectItemCaseSensitive(alert, fired ? "value" : "clearedValue");
    cJSON_AddItemToObject(o, "value", v != NULL ? cJSON_Duplicate(v, true) : cJSON_CreateNull());
    v = cJSON_GetObjectItemCaseSensitive(alert, fired ? "firedAt" : "clearedAt");
    cJSON_AddItemToObject(o, "timestamp",
                          v != NULL ? cJSON_Duplicate(v, true) : cJSON_CreateNull());
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void on_sent(void *ctx, enum export_outcome out, const char *error)
{
    struct delivery *d = ctx;
    struct rules *rs = d->rs;
    d->inflight = false;
    if (out == EXPORT_OUT_OK) {
        record_hook(rs, d, "delivered", NULL);
    } else if ((out == EXPORT_OUT_RETRY || out == EXPORT_OUT_RETRY_NOW) &&
               d->attempts < RULES_WEBHOOK_TRIES) {
        d->next_ms = app_now_ms() +
                     (out == EXPORT_OUT_RETRY_NOW ? 0 : export_backoff_ms(d->attempts, rnd(rs)));
        if (d->attempts == 1)
            log_warn("rules: webhook of alert %s: %s (retrying)", d->alert_id, error);
        record_hook(rs, d, "pending", error);
        return;
    } else {
        log_warn("rules: webhook of alert %s failed: %s", d->alert_id, error);
        record_hook(rs, d, "failed", error);
    }
    delivery_unlink(rs, d);
    free(d);
}

/* Send what is due. A delivery whose alert or action is gone is failed. */
static void pump(struct rules *rs, int64_t now)
{
    for (struct delivery *d = rs->deliveries, *next; d != NULL; d = next) {
        next = d->next;
        if (d->inflight || d->next_ms > now)
            continue;
        cJSON *a = alert_find(rs, d->alert_id);
        const cJSON *rid = a != NULL ? cJSON_GetObjectItemCaseSensitive(a, "ruleId") : NULL;
        struct rule *r = cJSON_IsString(rid) ? rule_find(rs, rid->valuestring) : NULL;
        struct export_dest *dest =
            r != NULL && d->action < r->def.n_webhooks ? r->hooks[d->action] : NULL;
        if (dest == NULL) {
            if (a != NULL)
                record_hook(rs, d, "failed", "the rule or its webhook action is gone");
            delivery_unlink(rs, d);
            free(d);
            continue;
        }
        if (dest->ops->room(dest) == 0)
            continue;
        char *body = payload_of(rs, a, d->event);
        if (body == NULL)
            continue;
        d->attempts++;
        const cJSON *dev = cJSON_GetObjectItemCaseSensitive(a, "deviceId");
        int rc = dest->ops->send(dest, cJSON_IsString(dev) ? dev->valuestring : "", body,
                                 strlen(body), on_sent, d);
        free(body);
        if (rc == CE_OK)
            d->inflight = true;
        else
            d->next_ms = now + export_backoff_ms(d->attempts, rnd(rs));
    }
}

static void queue_delivery(struct rules *rs, const char *alert_id, const char *event, size_t action,
                           unsigned attempts)
{
    struct delivery *d = calloc(1, sizeof *d);
    if (d == NULL) {
        log_error("rules: out of memory queueing the webhook of alert %s", alert_id);
        return;
    }
    d->rs = rs;
    snprintf(d->alert_id, sizeof d->alert_id, "%s", alert_id);
    snprintf(d->event, sizeof d->event, "%s", event);
    d->action = action;
    d->attempts = attempts;
    /* appended: older posts go first */
    struct delivery **pp = &rs->deliveries;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = d;
}

static void add_hook_records(struct rules *rs, cJSON *alert, const struct rule *r,
                             const char *event)
{
    cJSON *hooks = cJSON_GetObjectItemCaseSensitive(alert, "webhooks");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(alert, "id");
    for (size_t i = 0; i < r->def.n_webhooks && hooks != NULL; i++) {
        cJSON *h = cJSON_CreateObject();
        if (h == NULL)
            return;
        cJSON_AddStringToObject(h, "event", event);
        cJSON_AddNumberToObject(h, "action", (double)i);
        cJSON_AddStringToObject(h, "status", "pending");
        cJSON_AddNumberToObject(h, "attempts", 0);
        cJSON_AddNullToObject(h, "error");
        cJSON_AddItemToArray(hooks, h);
        queue_delivery(rs, id->valuestring, event, i, 0);
    }
}

/* Drop alerts beyond RULES_ALERTS_MAX (the oldest, at the end). */
static void trim_alerts(struct rules *rs)
{
    while (cJSON_GetArraySize(rs->alerts) > RULES_ALERTS_MAX) {
        cJSON *last = cJSON_DetachItemFromArray(rs->alerts, cJSON_GetArraySize(rs->alerts) - 1);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(last, "id");
        if (cJSON_IsString(id))
            store_app_delete(rs->db, T_ALERTS, id->valuestring);
        cJSON_Delete(last);
    }
}

static void on_fired(struct rules *rs, struct rule *r, struct rstate *s)
{
    const struct rule_cond *c = &r->def.cond;
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)rs->next_alert++);
    cJSON *a = cJSON_CreateObject();
    if (a == NULL)
        return;
    cJSON_AddStringToObject(a, "id", id);
    cJSON_AddStringToObject(a, "ruleId", r->id);
    cJSON_AddStringToObject(a, "ruleDisplayName", r->def.display_name);
    cJSON_AddStringToObject(a, "deviceId", s->device);
    cJSON_AddStringToObject(a, "telemetry", c->telemetry);
    if (c->component[0] != '\0')
        cJSON_AddStringToObject(a, "component", c->component);
    cJSON_AddStringToObject(a, "operator", rules_op_text(c->op));
    cJSON_AddNumberToObject(a, "threshold", c->value);
    if (c->agg != RULE_AGG_NONE) {
        const cJSON *cond = cJSON_GetObjectItemCaseSensitive(r->body, "condition");
        cJSON_AddStringToObject(a, "aggregation", rules_agg_text(c->agg));
        cJSON_AddItemToObject(
            a, "window", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cond, "window"), true));
    }
    cJSON_AddNumberToObject(a, "value", s->st.value);
    cJSON_AddStringToObject(a, "state", "active");
    set_time(a, "firedAt", s->st.changed_ms);
    cJSON_AddNullToObject(a, "clearedAt");
    cJSON_AddBoolToObject(a, "acknowledged", false);
    cJSON_AddArrayToObject(a, "webhooks");
    cJSON_InsertItemInArray(rs->alerts, 0, a);
    snprintf(s->alert_id, sizeof s->alert_id, "%s", id);
    add_hook_records(rs, a, r, "fired");
    put_json(rs, T_ALERTS, id, a);
    trim_alerts(rs);
    log_info("rules: rule %s fired for device %s (%s %s %g: %g), alert %s", LOG_STR(r->id),
             LOG_STR(s->device), c->telemetry, rules_op_text(c->op), c->value, s->st.value, id);
}

/* Close alert @p id: cleared at @p ms (with @p value when @p has_value) for @p reason (NULL:
 * the condition became false; then the webhooks are told). */
static void close_alert(struct rules *rs, struct rule *r, const char *id, int64_t ms,
                        bool has_value, double value, const char *reason)
{
    cJSON *a = alert_find(rs, id);
    const cJSON *st = a != NULL ? cJSON_GetObjectItemCaseSensitive(a, "state") : NULL;
    if (!cJSON_IsString(st) || strcmp(st->valuestring, "active") != 0)
        return;
    set_member(a, "state", cJSON_CreateString("cleared"));
    set_time(a, "clearedAt", ms);
    if (has_value)
        set_member(a, "clearedValue", cJSON_CreateNumber(value));
    if (reason != NULL)
        set_member(a, "clearReason", cJSON_CreateString(reason));
    else if (r != NULL)
        add_hook_records(rs, a, r, "cleared");
    put_json(rs, T_ALERTS, id, a);
}

static void apply(struct rules *rs, struct rule *r, struct rstate *s, enum rule_change ch)
{
    if (ch == RULE_SAME)
        return;
    if (ch == RULE_FIRED) {
        on_fired(rs, r, s);
    } else {
        if (s->alert_id[0] != '\0')
            close_alert(rs, r, s->alert_id, s->st.changed_ms, true, s->st.value, NULL);
        log_info("rules: rule %s cleared for device %s", LOG_STR(r->id), LOG_STR(s->device));
        s->alert_id[0] = '\0';
    }
    state_save(rs, r, s);
}

/* ---------------------------------------------------------------- evaluation */

static bool in_scope(struct rules *rs, struct rule *r, const struct appl_device *ad,
                     const struct device *dev)
{
    if (!r->def.scope_group)
        return ad->template_id != NULL && strcmp(ad->template_id, r->def.scope) == 0;
    const cJSON *g = appl_devgroup_get(rs->app->appl, r->def.scope);
    if (g == NULL || dev == NULL)
        return false;
    const cJSON *etag = cJSON_GetObjectItemCaseSensitive(g, "etag");
    const char *e = cJSON_IsString(etag) ? etag->valuestring : "";
    if (r->filter == NULL || strcmp(e, r->filter_etag) != 0) {
        if (r->filter == NULL)
            r->filter = malloc(sizeof *r->filter);
        if (r->filter == NULL)
            return false;
        r->filter_ok = appl_devgroup_filter(g, r->filter) == CE_OK;
        snprintf(r->filter_etag, sizeof r->filter_etag, "%s", e);
    }
    return r->filter_ok && appl_device_passes(r->filter, ad, dev);
}

/* A telemetry message's top-level members, listed once per message (the rules look theirs
 * up here): views into the payload, no allocation. */
#define MSG_MEMBERS_MAX 64
struct msg_members {
    struct iotc_json_value key[MSG_MEMBERS_MAX], val[MSG_MEMBERS_MAX];
    double num[MSG_MEMBERS_MAX];
    signed char parsed[MSG_MEMBERS_MAX]; /* 0: not yet, 1: num holds it, -1: not a number */
    size_t n;
};

static bool members_of(const char *body, size_t len, struct msg_members *m)
{
    struct iotc_json_value obj;
    struct iotc_json_iter it;
    m->n = 0;
    if (iotc_json_parse((struct iotc_span){body, len}, &obj) != IOTC_OK ||
        obj.type != IOTC_JSON_OBJECT || iotc_json_iter_init(&it, obj) != IOTC_OK)
        return false;
    while (m->n < MSG_MEMBERS_MAX &&
           iotc_json_iter_next(&it, &m->key[m->n], &m->val[m->n]) == IOTC_OK)
        m->parsed[m->n++] = 0;
    return true;
}

/* Member @p i as a number (booleans as 1/0), converted once per message. */
static bool member_number(struct msg_members *m, size_t i, double *out)
{
    const struct iotc_json_value *v = &m->val[i];
    if (m->parsed[i] == 0) {
        char text[64], *end;
        m->parsed[i] = -1;
        if (v->type == IOTC_JSON_TRUE || v->type == IOTC_JSON_FALSE) {
            m->num[i] = v->type == IOTC_JSON_TRUE ? 1 : 0;
            m->parsed[i] = 1;
        } else if (v->type == IOTC_JSON_NUMBER && v->raw.len < sizeof text) {
            memcpy(text, v->raw.ptr, v->raw.len);
            text[v->raw.len] = '\0';
            m->num[i] = strtod(text, &end);
            m->parsed[i] = *end == '\0' ? 1 : -1;
        }
    }
    *out = m->num[i];
    return m->parsed[i] == 1;
}

/* The number member @p name, the first of that name. */
static bool number_of(struct msg_members *m, const char *name, double *out)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < m->n; i++) {
        const struct iotc_json_value *k = &m->key[i];
        /* names are DTDL names (no escapes): compare the text between the quotes */
        if (k->raw.len == len + 2 && memcmp(k->raw.ptr + 1, name, len) == 0)
            return member_number(m, i, out);
    }
    return false;
}

/* noinline: bench/ingest_callgrind.sh RULES=N counts it by name */
__attribute__((noinline)) static void rules_telemetry(struct rules *rs,
                                                      const struct central_event *ev)
{
    struct appl_device *ad = NULL;
    struct device *dev = NULL;
    static struct msg_members members; /* loop thread only */
    bool parsed = false;
    for (struct rule *r = rs->rules; r != NULL; r = r->next) {
        if (!r->def.enabled)
            continue;
        const char *comp = ev->component != NULL ? ev->component : "";
        if (strcmp(comp, r->def.cond.component) != 0)
            continue;
        if (ad == NULL) {
            ad = appl_device_find(rs->app->appl, ev->device_id);
            dev = registry_get(rs->app, ev->device_id);
            if (ad == NULL)
                break;
        }
        if (!in_scope(rs, r, ad, dev))
            continue;
        if (!parsed) {
            parsed = true;
            if (!members_of(ev->body, ev->body_len, &members))
                break;
        }
        double v;
        if (!number_of(&members, r->def.cond.telemetry, &v))
            continue;
        struct rstate *s = state_find(r, ev->device_id);
        if (s == NULL)
            s = state_new(r, ev->device_id, false, 0);
        if (s == NULL)
            continue;
        apply(rs, r, s, rules_on_value(&r->def.cond, &s->st, ev->time_ms, v));
        int64_t nt = rules_next_tick(&r->def.cond, &s->st);
        if (nt < r->next_tick)
            r->next_tick = nt;
    }
}

/* Windows closing and values leaving, for every rule due. */
static void tick_rules(struct rules *rs, int64_t now)
{
    for (struct rule *r = rs->rules; r != NULL; r = r->next) {
        if (!r->def.enabled || r->def.cond.agg == RULE_AGG_NONE || r->next_tick > now)
            continue;
        int64_t next = INT64_MAX;
        for (size_t b = 0; b < STATE_BUCKETS; b++) {
            for (struct rstate *s = r->buckets[b]; s != NULL; s = s->next) {
                if (rules_next_tick(&r->def.cond, &s->st) <= now)
                    apply(rs, r, s, rules_tick(&r->def.cond, &s->st, now));
                int64_t nt = rules_next_tick(&r->def.cond, &s->st);
                if (nt < next)
                    next = nt;
            }
        }
        r->next_tick = next;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rules *rs = arg;
    int64_t now = app_now_ms();
    tick_rules(rs, now);
    pump(rs, now);
}

static void forget_device(struct rules *rs, const char *device)
{
    for (struct rule *r = rs->rules; r != NULL; r = r->next) {
        for (struct rstate **pp = &r->buckets[bucket_of(device)]; *pp != NULL; pp = &(*pp)->next) {
            struct rstate *s = *pp;
            if (strcmp(s->device, device) != 0)
                continue;
            if (s->alert_id[0] != '\0')
                close_alert(rs, r, s->alert_id, app_now_ms(), false, 0, "device deleted");
            char key[APPL_ID_MAX + DEVICE_ID_MAX + 4];
            state_key(key, sizeof key, r->id, device);
            store_app_delete(rs->db, T_STATES, key);
            *pp = s->next;
            r->n_states--;
            state_free(s);
            break;
        }
    }
}

static void on_event(void *ctx, const struct central_event *ev)
{
    struct rules *rs = ctx;
    if (ev->device_id == NULL)
        return;
    if (ev->type == EV_TELEMETRY)
        rules_telemetry(rs, ev);
    else if (ev->type == EV_DEVICE_DELETED)
        forget_device(rs, ev->device_id);
}

/* ---------------------------------------------------------------- rules kept */

/* Every state dropped (rows too); active alerts closed for @p reason. */
static void drop_states(struct rules *rs, struct rule *r, const char *reason)
{
    int64_t now = app_now_ms();
    for (size_t b = 0; b < STATE_BUCKETS; b++) {
        for (struct rstate *s = r->buckets[b], *next; s != NULL; s = next) {
            next = s->next;
            if (s->alert_id[0] != '\0')
                close_alert(rs, r, s->alert_id, now, false, 0, reason);
            char key[APPL_ID_MAX + DEVICE_ID_MAX + 4];
            state_key(key, sizeof key, r->id, s->device);
            store_app_delete(rs->db, T_STATES, key);
            state_free(s);
        }
        r->buckets[b] = NULL;
    }
    r->n_states = 0;
}

static void rule_free(struct rule *r)
{
    for (size_t i = 0; i < RULE_ACTIONS_MAX; i++) {
        if (r->hooks[i] != NULL)
            r->hooks[i]->ops->free(r->hooks[i]);
    }
    for (size_t b = 0; b < STATE_BUCKETS; b++) {
        for (struct rstate *s = r->buckets[b], *next; s != NULL; s = next) {
            next = s->next;
            state_free(s);
        }
    }
    cJSON_Delete(r->body);
    free(r->filter);
    free(r->id);
    free(r);
}

/* Destination instances for the webhook actions of @p r (r->def checked). */
static int make_hooks(struct rules *rs, struct rule *r)
{
    for (size_t i = 0; i < r->def.n_webhooks; i++) {
        cJSON *def = cJSON_Duplicate(r->def.webhooks[i], true);
        if (def == NULL)
            return CE_NOMEM;
        struct export_sender *snd = rs->app->exporter ? export_sender_of(rs->app->exporter) : NULL;
        int rc = snd ? export_webhook_new(snd, def, &r->hooks[i]) : CE_INVALID;
        cJSON_Delete(def);
        if (rc != CE_OK)
            return rc;
    }
    return CE_OK;
}

/* A rule from a checked @p body (owned from here on). */
static int rule_make(struct rules *rs, const char *id, cJSON *body, struct rule **out)
{
    char err[300];
    struct rule *r = calloc(1, sizeof *r);
    if (r == NULL) {
        cJSON_Delete(body);
        return CE_NOMEM;
    }
    r->body = body;
    r->id = strdup(id);
    r->next_tick = INT64_MAX;
    if (r->id == NULL) {
        rule_free(r);
        return CE_NOMEM;
    }
    if (rules_check(body, &r->def, err, sizeof err) < 0) {
        rule_free(r);
        return CE_INVALID;
    }
    int rc = make_hooks(rs, r);
    if (rc != CE_OK) {
        rule_free(r);
        return rc;
    }
    *out = r;
    return CE_OK;
}

static cJSON *rule_json(const struct rule *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "id", r->id) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    for (const cJSON *it = r->body->child; it != NULL; it = it->next)
        cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, true));
    if (cJSON_GetObjectItemCaseSensitive(o, "enabled") == NULL)
        cJSON_AddBoolToObject(o, "enabled", true);
    size_t fired = 0;
    for (size_t b = 0; b < STATE_BUCKETS; b++) {
        for (const struct rstate *s = r->buckets[b]; s != NULL; s = s->next)
            fired += s->st.fired;
    }
    cJSON_AddNumberToObject(o, "firedDevices", (double)fired);
    return o;
}

static bool same_member(const cJSON *a, const cJSON *b, const char *name)
{
    return cJSON_Compare(cJSON_GetObjectItemCaseSensitive(a, name),
                         cJSON_GetObjectItemCaseSensitive(b, name), true);
}

int rules_put(struct app *app, const char *id, const cJSON *body, bool patch, cJSON **out,
              bool *out_created, char *err, size_t err_size)
{
    struct rules *rs = app->rules;
    *out = NULL;
    *out_created = false;
    if (rs == NULL)
        return CE_BUSY;
    struct rule *old = rule_find(rs, id);
    if (!cJSON_IsObject(body)) {
        snprintf(err, err_size, "$: expected a rule object.");
        return CE_INVALID;
    }
    const cJSON *bid = cJSON_GetObjectItemCaseSensitive(body, "id");
    if (!appl_id_ok(id, APPL_ID_MAX, "-_.") ||
        (bid != NULL && (!cJSON_IsString(bid) || strcmp(bid->valuestring, id) != 0))) {
        snprintf(err, err_size,
                 "$.id: a rule id is 1 to %d of A-Za-z0-9 -_. and the same as in the path.",
                 APPL_ID_MAX);
        return CE_INVALID;
    }
    if (patch && old == NULL)
        return CE_NOTFOUND;
    if (old == NULL) {
        size_t n = 0;
        for (struct rule *r = rs->rules; r != NULL; r = r->next)
            n++;
        if (n >= RULES_MAX) {
            snprintf(err, err_size, "An application has at most %d rules; delete one first.",
                     RULES_MAX);
            return CE_EXISTS;
        }
    }
    cJSON *merged = old != NULL && patch ? cJSON_Duplicate(old->body, true) : cJSON_CreateObject();
    if (merged == NULL)
        return CE_NOMEM;
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        if (strcmp(it->string, "id") == 0 || strcmp(it->string, "firedDevices") == 0)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(merged, it->string);
        if (!cJSON_IsNull(it))
            cJSON_AddItemToObject(merged, it->string, cJSON_Duplicate(it, true));
    }
    struct rule_def def;
    if (rules_check(merged, &def, err, err_size) < 0) {
        cJSON_Delete(merged);
        return CE_INVALID;
    }
    if (def.scope_group && appl_devgroup_get(app->appl, def.scope) == NULL) {
        snprintf(err, err_size, "$.scope.deviceGroup: there is no device group %.200s.", def.scope);
        cJSON_Delete(merged);
        return CE_INVALID;
    }
    if (!def.scope_group && appl_template_get(app->appl, def.scope) == NULL) {
        snprintf(err, err_size, "$.scope.template: there is no device template %.200s.", def.scope);
        cJSON_Delete(merged);
        return CE_INVALID;
    }
    struct rule *r = NULL;
    int rc = rule_make(rs, id, merged, &r);
    if (rc != CE_OK)
        return rc;
    char *text = cJSON_PrintUnformatted(r->body);
    if (text == NULL) {
        rule_free(r);
        return CE_NOMEM;
    }
    cJSON *answer = NULL;
    if (old != NULL) {
        /* same scope and condition: the devices' states carry over (the webhooks may change) */
        if (same_member(old->body, r->body, "scope") &&
            same_member(old->body, r->body, "condition")) {
            memcpy(r->buckets, old->buckets, sizeof r->buckets);
            memset(old->buckets, 0, sizeof old->buckets);
            r->n_states = old->n_states;
            r->next_tick = old->next_tick;
        } else {
            drop_states(rs, old, "rule changed");
        }
        /* the new rule takes the old one's place in the list */
        struct rule **pp = &rs->rules;
        while (*pp != old)
            pp = &(*pp)->next;
        r->next = old->next;
        *pp = r;
        rule_free(old);
    } else {
        struct rule **pp = &rs->rules;
        while (*pp != NULL)
            pp = &(*pp)->next;
        *pp = r;
        *out_created = true;
    }
    store_app_put(rs->db, T_RULES, id, text);
    free(text);
    answer = rule_json(r);
    *out = answer;
    return answer != NULL ? CE_OK : CE_NOMEM;
}

cJSON *rules_get(struct app *app, const char *id)
{
    struct rule *r = app->rules != NULL ? rule_find(app->rules, id) : NULL;
    return r != NULL ? rule_json(r) : NULL;
}

cJSON *rules_list(struct app *app)
{
    cJSON *arr = cJSON_CreateArray();
    for (struct rule *r = app->rules ? app->rules->rules : NULL; r != NULL && arr != NULL;
         r = r->next) {
        cJSON *o = rule_json(r);
        if (o == NULL) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

int rules_delete(struct app *app, const char *id)
{
    struct rules *rs = app->rules;
    if (rs == NULL)
        return CE_NOTFOUND;
    for (struct rule **pp = &rs->rules; *pp != NULL; pp = &(*pp)->next) {
        struct rule *r = *pp;
        if (strcmp(r->id, id) != 0)
            continue;
        drop_states(rs, r, "rule deleted");
        *pp = r->next;
        store_app_delete(rs->db, T_RULES, id);
        rule_free(r);
        return CE_OK;
    }
    return CE_NOTFOUND;
}

static int cmp_device(const void *a, const void *b)
{
    const struct rstate *x = *(const struct rstate *const *)a;
    const struct rstate *y = *(const struct rstate *const *)b;
    return strcmp(x->device, y->device);
}

int rules_devices(struct app *app, const char *id, cJSON **out)
{
    struct rule *r = app->rules != NULL ? rule_find(app->rules, id) : NULL;
    *out = NULL;
    if (r == NULL)
        return CE_NOTFOUND;
    struct rstate **v = malloc((r->n_states + 1) * sizeof *v);
    cJSON *arr = cJSON_CreateArray();
    if (v == NULL || arr == NULL) {
        free(v);
        cJSON_Delete(arr);
        return CE_NOMEM;
    }
    size_t n = 0;
    for (size_t b = 0; b < STATE_BUCKETS; b++) {
        for (struct rstate *s = r->buckets[b]; s != NULL; s = s->next)
            v[n++] = s;
    }
    qsort(v, n, sizeof *v, cmp_device);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL)
            break;
        cJSON_AddStringToObject(o, "deviceId", v[i]->device);
        cJSON_AddStringToObject(o, "state", v[i]->st.fired ? "fired" : "normal");
        if (v[i]->st.changed_ms > 0)
            set_time(o, "since", v[i]->st.changed_ms);
        else
            cJSON_AddNullToObject(o, "since");
        if (v[i]->st.has_value)
            cJSON_AddNumberToObject(o, "value", v[i]->st.value);
        else
            cJSON_AddNullToObject(o, "value");
        if (v[i]->alert_id[0] != '\0')
            cJSON_AddStringToObject(o, "alertId", v[i]->alert_id);
        cJSON_AddItemToArray(arr, o);
    }
    free(v);
    *out = arr;
    return CE_OK;
}

static bool member_is(const cJSON *o, const char *name, const char *want)
{
    if (want == NULL || want[0] == '\0')
        return true;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

int rules_alerts(struct app *app, const struct rules_alert_query *q, size_t skip, size_t top,
                 cJSON **out, bool *out_more)
{
    *out = cJSON_CreateArray();
    *out_more = false;
    if (*out == NULL)
        return CE_NOMEM;
    if (app->rules == NULL)
        return CE_OK;
    size_t seen = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, app->rules->alerts)
    {
        if (!member_is(a, "ruleId", q->rule_id) || !member_is(a, "deviceId", q->device_id) ||
            !member_is(a, "state", q->state))
            continue;
        if (seen++ < skip)
            continue;
        if ((size_t)cJSON_GetArraySize(*out) == top) {
            *out_more = true;
            break;
        }
        cJSON *copy = cJSON_Duplicate(a, true);
        if (copy == NULL) {
            cJSON_Delete(*out);
            *out = NULL;
            return CE_NOMEM;
        }
        cJSON_AddItemToArray(*out, copy);
    }
    return CE_OK;
}

cJSON *rules_alert_get(struct app *app, const char *id)
{
    cJSON *a = app->rules != NULL ? alert_find(app->rules, id) : NULL;
    return a != NULL ? cJSON_Duplicate(a, true) : NULL;
}

int rules_alert_ack(struct app *app, const char *id, cJSON **out)
{
    cJSON *a = app->rules != NULL ? alert_find(app->rules, id) : NULL;
    *out = NULL;
    if (a == NULL)
        return CE_NOTFOUND;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "acknowledged"))) {
        set_member(a, "acknowledged", cJSON_CreateTrue());
        set_time(a, "acknowledgedAt", app_now_ms());
        put_json(app->rules, T_ALERTS, id, a);
    }
    *out = cJSON_Duplicate(a, true);
    return *out != NULL ? CE_OK : CE_NOMEM;
}

/* ---------------------------------------------------------------- open and close */

static int load_rule(void *ctx, const char *id, const char *data)
{
    struct rules *rs = ctx;
    cJSON *body = cJSON_Parse(data);
    struct rule *r = NULL;
    int rc = body != NULL ? rule_make(rs, id, body, &r) : CE_INVALID;
    if (rc != CE_OK) {
        log_warn("rules: stored rule %s cannot be used (%s); skipped", LOG_STR(id),
                 central_strerror(rc));
        return 0;
    }
    struct rule **pp = &rs->rules;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = r;
    return 0;
}

static int load_state(void *ctx, const char *id, const char *data)
{
    struct rules *rs = ctx;
    cJSON *o = cJSON_Parse(data);
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(o, "rule");
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "device");
    struct rule *r = cJSON_IsString(rule) ? rule_find(rs, rule->valuestring) : NULL;
    if (r == NULL || !cJSON_IsString(dev)) {
        store_app_delete(rs->db, T_STATES, id); /* its rule is gone */
        cJSON_Delete(o);
        return 0;
    }
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "changedMs");
    struct rstate *s =
        state_new(r, dev->valuestring, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "fired")),
                  cJSON_IsNumber(ch) ? (int64_t)ch->valuedouble : 0);
    if (s != NULL) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
        if (cJSON_IsNumber(v)) {
            s->st.has_value = true;
            s->st.value = v->valuedouble;
        }
        const cJSON *aid = cJSON_GetObjectItemCaseSensitive(o, "alertId");
        if (cJSON_IsString(aid) && s->st.fired)
            snprintf(s->alert_id, sizeof s->alert_id, "%s", aid->valuestring);
    }
    cJSON_Delete(o);
    return 0;
}

static int load_alert(void *ctx, const char *id, const char *data)
{
    struct rules *rs = ctx;
    cJSON *a = cJSON_Parse(data);
    if (!cJSON_IsObject(a)) {
        cJSON_Delete(a);
        log_warn("rules: stored alert %s is not JSON; skipped", LOG_STR(id));
        return 0;
    }
    uint64_t n = strtoull(id, NULL, 10);
    if (n >= rs->next_alert)
        rs->next_alert = n + 1;
    cJSON_AddItemToArray(rs->alerts, a);
    return 0;
}

static int cmp_alert_desc(const void *x, const void *y)
{
    const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
    const cJSON *ia = cJSON_GetObjectItemCaseSensitive(a, "id");
    const cJSON *ib = cJSON_GetObjectItemCaseSensitive(b, "id");
    unsigned long long na = cJSON_IsString(ia) ? strtoull(ia->valuestring, NULL, 10) : 0;
    unsigned long long nb = cJSON_IsString(ib) ? strtoull(ib->valuestring, NULL, 10) : 0;
    return na < nb ? 1 : na > nb ? -1 : 0;
}

/* Newest first, then requeue the posts not yet delivered (oldest first). */
static int order_alerts(struct rules *rs)
{
    size_t n = (size_t)cJSON_GetArraySize(rs->alerts);
    cJSON **v = malloc((n + 1) * sizeof *v);
    if (v == NULL)
        return CE_NOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = cJSON_DetachItemFromArray(rs->alerts, 0);
    qsort(v, n, sizeof *v, cmp_alert_desc);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(rs->alerts, v[i]);
    for (size_t i = n; i-- > 0;) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(v[i], "id");
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(v[i], "webhooks"))
        {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(h, "status");
            const cJSON *ev = cJSON_GetObjectItemCaseSensitive(h, "event");
            const cJSON *ac = cJSON_GetObjectItemCaseSensitive(h, "action");
            const cJSON *at = cJSON_GetObjectItemCaseSensitive(h, "attempts");
            if (cJSON_IsString(id) && cJSON_IsString(st) &&
                strcmp(st->valuestring, "pending") == 0 && cJSON_IsString(ev) && cJSON_IsNumber(ac))
                queue_delivery(rs, id->valuestring, ev->valuestring, (size_t)ac->valuedouble,
                               cJSON_IsNumber(at) ? (unsigned)at->valuedouble : 0);
        }
    }
    free(v);
    trim_alerts(rs);
    return CE_OK;
}

int rules_open(struct app *app)
{
    struct rules *rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        return CE_NOMEM;
    rs->app = app;
    rs->sub = -1;
    rs->next_alert = 1;
    rs->rng = (uint64_t)app_now_ms() * 0x9E3779B97F4A7C15ull | 1;
    rs->db = app->appl != NULL ? app->appl->db : NULL;
    rs->alerts = cJSON_CreateArray();
    app->rules = rs;
    int rc = rs->db != NULL ? CE_OK : CE_STORE;
    if (rc == CE_OK && rs->alerts == NULL)
        rc = CE_NOMEM;
    if (rc == CE_OK) {
        rc = export_webhook_global_init();
        rs->curl = rc == CE_OK;
    }
    if (rc == CE_OK) {
        rs->tick = event_new(app->base, -1, EV_PERSIST, on_tick, rs);
        rc = rs->tick != NULL ? CE_OK : CE_NOMEM;
    }
    if (rc == CE_OK)
        rc = store_app_load(rs->db, T_RULES, load_rule, rs);
    if (rc == CE_OK)
        rc = store_app_load(rs->db, T_STATES, load_state, rs);
    if (rc == CE_OK)
        rc = store_app_load(rs->db, T_ALERTS, load_alert, rs);
    if (rc == CE_OK)
        rc = order_alerts(rs);
    if (rc == CE_OK) {
        rs->sub = events_subscribe(app, on_event, rs);
        rc = rs->sub > 0 ? CE_OK : rs->sub;
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = TICK_MS * 1000};
    if (rc == CE_OK && event_add(rs->tick, &tv) != 0)
        rc = CE_NOMEM;
    if (rc != CE_OK) {
        log_error("rules: cannot start rules: %s", central_strerror(rc));
        rules_close(app);
    }
    return rc;
}

void rules_close(struct app *app)
{
    struct rules *rs = app->rules;
    if (rs == NULL)
        return;
    if (rs->sub > 0)
        events_unsubscribe(app, rs->sub);
    if (rs->tick != NULL)
        event_free(rs->tick);
    /* rules first: their destinations drop what is in flight without calling back */
    for (struct rule *r = rs->rules, *next; r != NULL; r = next) {
        next = r->next;
        rule_free(r);
    }
    for (struct delivery *d = rs->deliveries, *next; d != NULL; d = next) {
        next = d->next;
        free(d);
    }
    cJSON_Delete(rs->alerts);
    if (rs->curl)
        export_webhook_global_cleanup();
    free(rs);
    app->rules = NULL;
}
