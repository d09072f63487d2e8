/*
 * appl.c - the application layer's state: lifecycle, devices, API tokens, and the event
 * subscriber that turns device-plane events into application facts (provisioned, association,
 * raw events, last telemetry values, async command completion).
 */
#include "central/app/appl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "central/base/events.h"
#include "central/base/log.h"
#include "central/hub/groups.h"
#include "central/store/store_app.h"
#include "central/store/store_read.h"

char *appl_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

void appl_time(int64_t ms, char out[32])
{
    app_format_time(ms, out);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (**p < '0' || **p > '9')
            return CE_INVALID;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int appl_parse_time(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec, ms = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return CE_INVALID;
    h = mi = sec = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return CE_INVALID;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return CE_INVALID;
        }
        if (*p == '.') {
            int scale = 100;
            p++;
            if (*p < '0' || *p > '9')
                return CE_INVALID;
            while (*p >= '0' && *p <= '9') {
                ms += (*p - '0') * scale;
                scale /= 10;
                p++;
            }
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return CE_INVALID;
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
            return CE_INVALID;
        off_min = sign * (oh * 60 + om);
    } else if (*p != '\0') {
        return CE_INVALID;
    }
    if (*p != '\0')
        return CE_INVALID;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out_ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + ms;
    return 0;
}

/* ---------------------------------------------------------------- devices */

struct appl_device *appl_device_find(struct appl *a, const char *id)
{
    struct appl_device *d = a->buckets[app_hash_str(id) & (a->n_buckets - 1)];
    for (; d != NULL; d = d->hash_next) {
        if (strcmp(d->id, id) == 0)
            return d;
    }
    return NULL;
}

static struct appl_device *device_new(struct appl *a, const char *id)
{
    struct appl_device *d = calloc(1, sizeof *d);
    if (d == NULL || strlen(id) > DEVICE_ID_MAX) {
        free(d);
        return NULL;
    }
    memcpy(d->id, id, strlen(id) + 1);
    d->organizations = cJSON_CreateArray();
    d->cloud = cJSON_CreateObject();
    d->etag = 1;
    d->created_ms = app_now_ms();
    if (d->organizations == NULL || d->cloud == NULL) {
        cJSON_Delete(d->organizations);
        cJSON_Delete(d->cloud);
        free(d);
        return NULL;
    }
    size_t b = app_hash_str(id) & (a->n_buckets - 1);
    d->hash_next = a->buckets[b];
    a->buckets[b] = d;
    return d;
}

static void device_free(struct appl_device *d)
{
    free(d->display_name);
    free(d->template_id);
    cJSON_Delete(d->organizations);
    cJSON_Delete(d->cloud);
    for (size_t i = 0; i < APPL_LAST_SLOTS; i++) {
        free(d->last[i].component);
        free(d->last[i].payload);
    }
    for (size_t i = 0; i < d->n_cmds; i++)
        appl_command_free(d->cmds[i]);
    free(d->cmds);
    free(d);
}

struct appl_device *appl_device_get(struct appl *a, const char *id)
{
    struct appl_device *d = appl_device_find(a, id);
    if (d != NULL)
        return d;
    if (registry_get(a->app, id) == NULL)
        return NULL;
    return device_new(a, id);
}

void appl_device_forget(struct appl *a, const char *id)
{
    struct appl_device **pp = &a->buckets[app_hash_str(id) & (a->n_buckets - 1)];
    for (; *pp != NULL; pp = &(*pp)->hash_next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct appl_device *d = *pp;
            *pp = d->hash_next;
            device_free(d);
            break;
        }
    }
    store_app_forget_device(a->db, id);
}

void appl_device_save(struct appl *a, struct appl_device *d)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return;
    if (d->display_name)
        cJSON_AddStringToObject(o, "displayName", d->display_name);
    if (d->template_id)
        cJSON_AddStringToObject(o, "template", d->template_id);
    cJSON_AddBoolToObject(o, "simulated", d->simulated);
    cJSON_AddBoolToObject(o, "provisioned", d->provisioned);
    cJSON_AddNumberToObject(o, "etag", (double)d->etag);
    cJSON_AddNumberToObject(o, "created", (double)d->created_ms);
    cJSON_AddItemToObject(o, "organizations", cJSON_Duplicate(d->organizations, 1));
    cJSON_AddItemToObject(o, "cloud", cJSON_Duplicate(d->cloud, 1));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text != NULL)
        store_app_put(a->db, "app_devices", d->id, text);
    free(text);
}

static int load_device(void *ctx, const char *id, const char *data)
{
    struct appl *a = ctx;
    cJSON *o = cJSON_Parse(data);
    struct appl_device *d = o != NULL ? device_new(a, id) : NULL;
    if (d == NULL) {
        log_warn("appl: skipping unreadable device row %s", LOG_STR(id));
        cJSON_Delete(o);
        return 0;
    }
    const cJSON *v;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "displayName")))
        d->display_name = strdup(v->valuestring);
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "template")))
        d->template_id = strdup(v->valuestring);
    d->simulated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "simulated"));
    d->provisioned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "provisioned"));
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "etag")))
        d->etag = (uint64_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "created")))
        d->created_ms = (int64_t)v->valuedouble;
    if (cJSON_IsArray(v = cJSON_GetObjectItemCaseSensitive(o, "organizations"))) {
        cJSON_Delete(d->organizations);
        d->organizations = cJSON_Duplicate(v, 1);
    }
    if (cJSON_IsObject(v = cJSON_GetObjectItemCaseSensitive(o, "cloud"))) {
        cJSON_Delete(d->cloud);
        d->cloud = cJSON_Duplicate(v, 1);
    }
    cJSON_Delete(o);
    return 0;
}

struct appl_template *appl_device_template(struct appl *a, const struct appl_device *d)
{
    return d != NULL && d->template_id != NULL ? appl_template_get(a, d->template_id) : NULL;
}

const char *appl_device_status(struct appl *a, const struct appl_device *d,
                               const struct device *dev)
{
    if (dev->status != DEVICE_ENABLED)
        return "blocked";
    if (appl_device_template(a, d) == NULL)
        return "unassociated";
    if (d->provisioned)
        return "provisioned";
    return "registered";
}

cJSON *appl_device_to_json(struct appl *a, const struct appl_device *d, const struct device *dev)
{
    cJSON *o = cJSON_CreateObject();
    char etag[40], t[32];
    if (o == NULL)
        return NULL;
    snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)(d->etag + dev->etag_version));
    cJSON_AddStringToObject(o, "id", d->id);
    cJSON_AddStringToObject(o, "etag", etag);
    cJSON_AddStringToObject(o, "displayName", d->display_name ? d->display_name : d->id);
    if (d->template_id)
        cJSON_AddStringToObject(o, "template", d->template_id);
    cJSON_AddBoolToObject(o, "enabled", dev->status == DEVICE_ENABLED);
    cJSON_AddBoolToObject(o, "provisioned", d->provisioned);
    cJSON_AddBoolToObject(o, "simulated", d->simulated);
    cJSON_AddItemToObject(o, "organizations", cJSON_Duplicate(d->organizations, 1));
    cJSON_AddStringToObject(o, "status", appl_device_status(a, d, dev));
    cJSON_AddBoolToObject(o, "connected", dev->connected);
    if (dev->last_activity_ms > 0) {
        appl_time(dev->last_activity_ms, t);
        cJSON_AddStringToObject(o, "lastActivity", t);
    } else {
        cJSON_AddNullToObject(o, "lastActivity");
    }
    if (dev->model_id)
        cJSON_AddStringToObject(o, "modelId", dev->model_id);
    else
        cJSON_AddNullToObject(o, "modelId");
    if (dev->enrollment_group)
        cJSON_AddStringToObject(o, "enrollmentGroup", dev->enrollment_group);
    return o;
}

void appl_device_associate(struct appl *a, struct appl_device *d, const struct device *dev)
{
    if (d->template_id != NULL || dev->model_id == NULL)
        return;
    struct appl_template *t = appl_template_for_model(a, dev->model_id);
    if (t == NULL)
        return;
    d->template_id = strdup(t->id);
    d->etag++;
    appl_device_save(a, d);
    log_info("appl: device %s associated with template %s (announced model id)", LOG_STR(d->id),
             LOG_STR(t->id));
}

size_t appl_devices_using(struct appl *a, const char *template_id)
{
    size_t n = 0;
    for (size_t b = 0; b < a->n_buckets; b++) {
        for (struct appl_device *d = a->buckets[b]; d != NULL; d = d->hash_next) {
            if (d->template_id != NULL && strcmp(d->template_id, template_id) == 0 &&
                registry_get(a->app, d->id) != NULL)
                n++;
        }
    }
    return n;
}

static void set_str(char **dst, const cJSON *v)
{
    free(*dst);
    *dst = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static bool str_differs(const char *x, const char *y)
{
    return (x == NULL) != (y == NULL) || (x != NULL && strcmp(x, y) != 0);
}

/* The update of a device, publishing what changed (data export's deviceLifecycle types) unless
 * the device was only just @p created (then it is "registered" alone). */
static int device_update(struct appl *a, struct appl_device *d, struct device *dev,
                         const cJSON *body, bool replace, bool created)
{
    const cJSON *v;
    char *old_name = appl_strdup(d->display_name), *old_tpl = appl_strdup(d->template_id);
    int old_status = (int)dev->status;
    int rc = CE_OK;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "displayName")) != NULL || replace)
        set_str(&d->display_name, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "template")) != NULL || replace)
        set_str(&d->template_id, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "simulated")) != NULL || replace)
        d->simulated = cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "organizations")) != NULL || replace) {
        cJSON *o = v ? cJSON_Duplicate(v, 1) : cJSON_CreateArray();
        if (o != NULL) {
            cJSON_Delete(d->organizations);
            d->organizations = o;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "enabled");
    if (v != NULL || replace) {
        int want = v == NULL || cJSON_IsTrue(v) ? DEVICE_ENABLED : DEVICE_DISABLED;
        if ((int)dev->status != want) {
            struct device_update upd = {.status = want};
            rc = registry_update(a->app, dev, &upd);
        }
    }
    if (rc == CE_OK) {
        d->etag++;
        appl_device_save(a, d);
    }
    if (rc == CE_OK && created) {
        events_device(a->app, EV_DEVICE_REGISTERED, d->id);
    } else if (rc == CE_OK) {
        if (str_differs(old_name, d->display_name))
            events_device(a->app, EV_DEVICE_RENAMED, d->id);
        if (str_differs(old_tpl, d->template_id))
            events_device(a->app, EV_DEVICE_TEMPLATE_CHANGED, d->id);
        if ((int)dev->status != old_status)
            events_device(a->app,
                          dev->status == DEVICE_ENABLED ? EV_DEVICE_ENABLED : EV_DEVICE_DISABLED,
                          d->id);
    }
    free(old_name);
    free(old_tpl);
    return rc;
}

int appl_device_update(struct appl *a, struct appl_device *d, struct device *dev, const cJSON *body,
                       bool replace)
{
    return device_update(a, d, dev, body, replace, false);
}

int appl_device_put(struct appl *a, const char *id, const cJSON *body, struct appl_device **out_d,
                    struct device **out_dev)
{
    struct device *dev = registry_get(a->app, id);
    bool created = dev == NULL;
    if (dev == NULL) {
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(body, "enabled");
        /* As in IoT Central, the keys are derived from the application's SAS enrollment group
         * (what `az iot central device compute-device-key` computes), so a device can be given
         * the group key alone; the identity stores them, so later group key changes leave them. */
        char pk[64], sk[64];
        bool derived = appl_derive_device_keys(a, id, pk, sk);
        int rc = registry_create(a->app, id, derived ? pk : NULL, derived ? sk : NULL,
                                 en == NULL || cJSON_IsTrue(en), NULL, &dev);
        if (rc != CE_OK)
            return rc;
        /* a record left behind by a device deleted through the service API */
        if (appl_device_find(a, dev->id) != NULL)
            appl_device_forget(a, dev->id);
    }
    struct appl_device *d = appl_device_get(a, dev->id);
    if (d == NULL)
        return CE_NOMEM;
    *out_d = d;
    *out_dev = dev;
    return device_update(a, d, dev, body, true, created);
}

int appl_device_delete(struct appl *a, const char *id)
{
    char copy[DEVICE_ID_MAX + 1];
    if (registry_get(a->app, id) == NULL)
        return CE_NOTFOUND;
    snprintf(copy, sizeof copy, "%s", id); /* @p id may be the record's own storage */
    /* its EV_DEVICE_DELETED makes on_event drop the application's record */
    return registry_delete(a->app, copy);
}

/* ---------------------------------------------------------------- events */

static void raw_event(struct appl *a, const struct central_event *ev, const char *kind,
                      const char *data)
{
    store_app_add_raw(a->db, ev->device_id, ev->time_ms, kind, data);
}

/* Remember the message as the latest of its component (no parsing on this hot path). */
static void keep_last(struct appl_device *d, const struct central_event *ev)
{
    const char *comp = ev->component ? ev->component : "";
    struct appl_last *slot = NULL;
    for (size_t i = 0; i < APPL_LAST_SLOTS && slot == NULL; i++) {
        if (d->last[i].component != NULL && strcmp(d->last[i].component, comp) == 0)
            slot = &d->last[i];
    }
    if (slot == NULL) {
        /* a free slot, else the one updated longest ago */
        slot = &d->last[0];
        for (size_t i = 0; i < APPL_LAST_SLOTS; i++) {
            if (d->last[i].component == NULL || d->last[i].time_ms < slot->time_ms) {
                slot = &d->last[i];
                if (slot->component == NULL)
                    break;
            }
        }
        free(slot->component);
        slot->component = strdup(comp);
        slot->len = 0;
        if (slot->component == NULL)
            return;
    }
    if (ev->body_len + 1 > slot->cap) {
        char *p = realloc(slot->payload, ev->body_len + 1);
        if (p == NULL) {
            slot->len = 0;
            return;
        }
        slot->payload = p;
        slot->cap = ev->body_len + 1;
    }
    if (ev->body_len > 0) /* an empty payload may come with a NULL pointer */
        memcpy(slot->payload, ev->body, ev->body_len);
    slot->payload[ev->body_len] = '\0';
    slot->len = ev->body_len;
    slot->time_ms = ev->time_ms;
}

static void on_patch(struct appl *a, struct appl_device *d, const struct central_event *ev)
{
    if (ev->type != EV_REPORTED)
        return;
    char *text = app_strndup(ev->body, ev->body_len);
    if (text != NULL) {
        raw_event(a, ev, "property", text);
        free(text);
    }
    cJSON *patch = cJSON_ParseWithLength(ev->body, ev->body_len);
    if (cJSON_IsObject(patch))
        appl_commands_on_reported(a, d, patch);
    cJSON_Delete(patch);
}

static void on_event(void *ctx, const struct central_event *ev)
{
    struct appl *a = ctx;
    struct device *dev = ev->device_id ? registry_get(a->app, ev->device_id) : NULL;
    struct appl_device *d;

    if (ev->type == EV_DEVICE_DELETED) {
        appl_device_forget(a, ev->device_id);
        return;
    }
    if (dev == NULL || ev->type == EV_COMMAND)
        return; /* commands are published by appl_cmd.c itself */
    d = appl_device_get(a, ev->device_id);
    if (d == NULL)
        return;
    switch (ev->type) {
    case EV_TELEMETRY:
        keep_last(d, ev);
        break;
    case EV_REPORTED:
    case EV_DESIRED:
        on_patch(a, d, ev);
        break;
    case EV_PROVISIONED:
    case EV_CONNECTED:
        if (!d->provisioned) {
            d->provisioned = true;
            d->etag++;
            appl_device_save(a, d);
        }
        appl_device_associate(a, d, dev);
        if (ev->type == EV_PROVISIONED)
            break;
        /* fall through */
    case EV_DISCONNECTED:
        raw_event(a, ev, ev->type == EV_CONNECTED ? "connected" : "disconnected", NULL);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- lifecycle */

static int load_template(void *ctx, const char *id, const char *data)
{
    struct appl *a = ctx;
    struct appl_template *t = appl_template_from_store(id, data);
    if (t == NULL)
        return 0;
    t->next = a->templates;
    a->templates = t;
    return 0;
}

static int load_command(void *ctx, const char *device_id, const char *data)
{
    struct appl *a = ctx;
    struct appl_command *c = appl_command_from_store(data);
    struct appl_device *d = c != NULL ? appl_device_find(a, device_id) : NULL;
    if (d == NULL && c != NULL && registry_get(a->app, device_id) != NULL)
        d = device_new(a, device_id);
    if (d == NULL) {
        appl_command_free(c);
        return 0;
    }
    if (c->seq >= a->next_cmd_seq)
        a->next_cmd_seq = c->seq + 1;
    appl_device_add_command(d, c);
    return 0;
}

int appl_open(struct app *app)
{
    CENTRAL_ASSERT_LOOP(app);
    CENTRAL_ASSERT(app->appl == NULL);
    struct appl *a = calloc(1, sizeof *a);
    if (a == NULL)
        return CE_NOMEM;
    a->app = app;
    a->n_buckets = 4096;
    a->buckets = calloc(a->n_buckets, sizeof *a->buckets);
    a->next_cmd_seq = 1;
    a->dashboards = cJSON_CreateArray();
    a->device_groups = cJSON_CreateArray();
    if (a->buckets == NULL || a->dashboards == NULL || a->device_groups == NULL) {
        cJSON_Delete(a->dashboards);
        cJSON_Delete(a->device_groups);
        free(a->buckets);
        free(a);
        return CE_NOMEM;
    }
    if (store_app_open(app, &a->db) < 0) {
        cJSON_Delete(a->dashboards);
        cJSON_Delete(a->device_groups);
        free(a->buckets);
        free(a);
        return CE_STORE;
    }
    app->appl = a;
    if (app->base != NULL &&
        store_read_open(app, app->cfg.read_threads, (size_t)app->cfg.max_read_jobs, &a->reader) < 0)
        log_error("appl: no reader threads: long reads (series) run on the loop thread");
    /* Templates first: devices and commands refer to them. */
    if (store_app_load(a->db, "app_templates", load_template, a) < 0 ||
        store_app_load(a->db, "app_devices", load_device, a) < 0 ||
        store_app_load(a->db, "app_tokens", appl_token_load, a) < 0 ||
        store_app_load(a->db, "app_dashboards", appl_dashboard_load, a) < 0 ||
        store_app_load(a->db, "app_device_groups", appl_devgroups_load, a) < 0 ||
        store_app_load_commands(a->db, APPL_CMD_HISTORY_MAX, load_command, a) < 0 ||
        appl_groups_load(a) != CE_OK || appl_jobs_load(a) != CE_OK) {
        appl_close(app);
        return CE_STORE;
    }
    a->events_sub = events_subscribe(app, on_event, a);
    if (a->events_sub < 0) {
        int rc = a->events_sub;
        appl_close(app);
        return rc;
    }
    return CE_OK;
}

void appl_close(struct app *app)
{
    struct appl *a = app->appl;
    if (a == NULL)
        return;
    CENTRAL_ASSERT_LOOP(app);
    if (a->events_sub > 0)
        events_unsubscribe(app, a->events_sub);
    appl_jobs_free(a); /* first: commands in flight are cancelled while their devices exist */
    while (a->templates != NULL) {
        struct appl_template *t = a->templates;
        a->templates = t->next;
        appl_template_free(t);
    }
    for (size_t b = 0; b < a->n_buckets; b++) {
        while (a->buckets[b] != NULL) {
            struct appl_device *d = a->buckets[b];
            a->buckets[b] = d->hash_next;
            device_free(d);
        }
    }
    free(a->buckets);
    cJSON_Delete(a->dashboards);
    cJSON_Delete(a->device_groups);
    while (a->tokens != NULL) {
        struct appl_token *t = a->tokens;
        a->tokens = t->next;
        free(t);
    }
    store_read_close(a->reader); /* before the devices' memory goes: done callbacks run */
    egroups_free(app);
    store_app_close(a->db);
    app->appl = NULL;
    free(a);
}
