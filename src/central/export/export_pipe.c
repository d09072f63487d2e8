/*
 * export_pipe.c - the pipes of data export (see export.c for the design): a window of rows read
 * from the source after the cursor, filtered, enriched and formatted, sent as the destination
 * has room but one at a time per device, retried with backoff, and the cursor moved over the
 * done prefix of the window.
 */
#include "central/export/export_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/app/appl.h"
#include "central/base/log.h"
#include "central/hub/registry.h"

enum store_export_log export_log_of(enum export_source s)
{
    return s == EXPORT_SRC_TELEMETRY ? STORE_EXPORT_TELEMETRY : STORE_EXPORT_EVENTS;
}

static uint32_t rnd(struct exporter *e)
{
    e->rng ^= e->rng << 13;
    e->rng ^= e->rng >> 7;
    e->rng ^= e->rng << 17;
    return (uint32_t)(e->rng >> 16);
}

void export_kick(struct exporter *e)
{
    if (e->kick != NULL)
        event_active(e->kick, EV_READ, 0);
}

void export_record_error(struct xport *x, const char *msg)
{
    struct err_entry *en = &x->errs[x->err_next];
    app_format_time(app_now_ms(), en->time);
    snprintf(en->message, sizeof en->message, "%s", msg);
    x->err_next = (x->err_next + 1) % EXPORT_ERRORS_MAX;
    if (x->n_errs < EXPORT_ERRORS_MAX)
        x->n_errs++;
}

/* ---------------------------------------------------------------- pipes */

static struct slot *slot_at(struct pipe *p, size_t i)
{
    return &p->win[(p->head + i) % EXPORT_WINDOW];
}

static void slot_clear(struct pipe *p, struct slot *s)
{
    p->bytes -= s->len;
    free(s->body);
    free(s->device);
    memset(s, 0, sizeof *s);
}

void export_pipe_free(struct pipe *p)
{
    if (p->dest != NULL)
        p->dest->ops->free(p->dest); /* no callbacks after this */
    for (size_t i = 0; i < p->n; i++)
        slot_clear(p, slot_at(p, i));
    export_transform_free(p->xf);
    free(p->dest_id);
    free(p);
}

static struct exporter *ex_of(struct pipe *p)
{
    return p->x->e;
}

/*
 * The destination acknowledged after failures and a while without any acknowledgement (an
 * outage, not one message it keeps refusing while others pass): each slot waiting out its
 * backoff is due now, so the window drains at once instead of each device's first message
 * waiting for its own timer (up to EXPORT_BACKOFF_MAX_MS). The attempts are kept: a slot that
 * fails again backs off further.
 */
static void destination_back(struct pipe *p, int64_t now)
{
    for (size_t i = 0; i < p->n; i++) {
        struct slot *s = slot_at(p, i);
        if (s->st == SLOT_PENDING && s->next_ms > now)
            s->next_ms = now;
    }
}

static void on_sent(void *ctx, enum export_outcome out, const char *error)
{
    struct slot *s = ctx;
    struct pipe *p = s->p;
    struct exporter *e = ex_of(p);
    int64_t now = app_now_ms();
    if (out == EXPORT_OUT_OK) {
        s->st = SLOT_DONE;
        p->delivered++;
        if (p->retrying && now - p->last_ok_ms >= EXPORT_BACK_AFTER_MS)
            destination_back(p, now);
        p->retrying = false;
        p->last_ok_ms = now;
    } else if (out == EXPORT_OUT_RETRY || out == EXPORT_OUT_RETRY_NOW) {
        s->st = SLOT_PENDING;
        s->attempts++;
        s->next_ms =
            out == EXPORT_OUT_RETRY_NOW ? now : now + export_backoff_ms(s->attempts, rnd(e));
        if (!p->retrying || s->attempts == 1) {
            char msg[200];
            snprintf(msg, sizeof msg, "destination %s: %s (retrying)", p->dest_id, error);
            export_record_error(p->x, msg);
        }
        p->retrying = true;
    } else {
        char msg[200];
        s->st = SLOT_DONE;
        p->failed++;
        snprintf(msg, sizeof msg, "destination %s: %s: message of %s (row %lld) refused",
                 p->dest_id, error, s->device, (long long)s->seq);
        export_record_error(p->x, msg);
        log_warn("export %s: %s", p->x->id, msg);
    }
    if (s->st == SLOT_DONE) {
        p->bytes -= s->len;
        free(s->body);
        s->body = NULL;
        s->len = 0;
    }
    export_kick(e);
}

/* Enrichments of the export for one device, resolved now: {"name": value}. */
static cJSON *enrich(struct exporter *e, const struct xport *x, const char *device_id,
                     const char *template_id)
{
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(x->def, "enrichments"), *en;
    cJSON *out = cJSON_CreateObject();
    if (out == NULL || !cJSON_IsObject(spec))
        return out;
    struct appl *a = e->app->appl;
    struct appl_device *d = a != NULL ? appl_device_find(a, device_id) : NULL;
    struct appl_template *t =
        a != NULL && template_id != NULL ? appl_template_get(a, template_id) : NULL;
    cJSON_ArrayForEach(en, spec)
    {
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(en, "value");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(en, "path");
        const cJSON *target = cJSON_GetObjectItemCaseSensitive(en, "target");
        const char *text = NULL;
        const cJSON *item = NULL;
        if (value != NULL) {
            item = value;
        } else if (!cJSON_IsString(path)) {
            continue;
        } else if (target == NULL) {
            const char *ps = path->valuestring;
            if (strcmp(ps, "$templateDisplayName") == 0)
                text = t != NULL ? (t->display_name ? t->display_name : t->id) : NULL;
            else if (strcmp(ps, "$templateId") == 0)
                text = template_id;
            else if (strcmp(ps, "$displayName") == 0)
                text = d != NULL && d->display_name ? d->display_name : device_id;
            else if (strcmp(ps, "$id") == 0)
                text = device_id;
        } else if (cJSON_IsString(target) && template_id != NULL &&
                   strcmp(target->valuestring, template_id) == 0) {
            struct device *dev = registry_get(e->app, device_id);
            item = dev != NULL ? cJSON_GetObjectItemCaseSensitive(dev->reported, path->valuestring)
                               : NULL;
            if (item == NULL && d != NULL && d->cloud != NULL) {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(d->cloud, path->valuestring);
                item = cJSON_GetObjectItemCaseSensitive(c, "value");
            }
            if (cJSON_IsObject(item) && cJSON_GetObjectItemCaseSensitive(item, "ac") != NULL)
                item = cJSON_GetObjectItemCaseSensitive(item, "value");
        }
        if (text != NULL)
            cJSON_AddStringToObject(out, en->string, text);
        else if (item != NULL)
            cJSON_AddItemToObject(out, en->string, cJSON_Duplicate(item, true));
    }
    return out;
}

const char *export_device_template(struct exporter *e, const char *device_id)
{
    struct appl_device *d = e->app->appl ? appl_device_find(e->app->appl, device_id) : NULL;
    return d != NULL ? d->template_id : NULL;
}

/* A row through the destination's transform (export_transform.h): each output becomes a slot of
 * the row's device, in order. Every output but the last carries the previous row's seq, so the
 * cursor passes the row only once its last output is done. A transform error, or more outputs
 * than allowed, fails that message for good (counted, shown in errors): it would fail the same
 * way on every retry, and holding the pipe for it would stop the export. No output: nothing to
 * send, like a message the filter drops. A run stopped at its budget also ends this read, so the
 * loop gives at most one budget to runaways per pipe and pump. Takes @p body and @p device. */
static int transform_row(struct pipe *p, const struct store_export_row *row, char *body,
                         char *device)
{
    struct export_transform_out out;
    char why[160];
    int rc = export_transform_run(p->xf, body, strlen(body), &out, why, sizeof why);
    free(body);
    if (rc == 0 && p->n + (out.n > 0 ? out.n : 1) > EXPORT_WINDOW) {
        export_transform_out_free(&out); /* no room for all of them: read again later */
        free(device);
        return 1;
    }
    if (rc != 0) {
        char msg[512];
        p->failed++;
        snprintf(msg, sizeof msg, "destination %s: transform: %s: message of %s (row %lld)",
                 p->dest_id, why, device, (long long)row->seq);
        export_record_error(p->x, msg);
        log_warn("export %s: %s", p->x->id, msg);
    }
    size_t n = rc == 0 && out.n > 0 ? out.n : 1;
    for (size_t i = 0; i < n; i++) {
        struct slot *s = slot_at(p, p->n);
        memset(s, 0, sizeof *s);
        s->p = p;
        s->seq = i + 1 < n ? p->read_to : row->seq;
        s->device = i + 1 < n ? strdup(device) : device;
        s->dev_hash = app_hash_str(device);
        s->body = rc == 0 && out.n > 0 ? out.text[i] : NULL;
        s->len = s->body != NULL ? strlen(s->body) : 0;
        s->st = s->body != NULL && s->device != NULL ? SLOT_PENDING : SLOT_DONE;
        p->n++;
        p->bytes += s->len;
    }
    p->read_to = row->seq;
    return rc == EXPORT_TRANSFORM_STOPPED || p->n == EXPORT_WINDOW ||
           p->bytes >= EXPORT_WINDOW_BYTES;
}

struct fill_ctx {
    struct exporter *e;
    struct pipe *p;
};

/* One row of the source into the window: formatted, or done at once when filtered out. */
static int on_row(void *arg, const struct store_export_row *row)
{
    struct fill_ctx *fc = arg;
    struct pipe *p = fc->p;
    struct xport *x = p->x;
    const char *tid = x->src == EXPORT_SRC_TELEMETRY ? export_device_template(fc->e, row->device_id)
                                                     : row->template_id;
    bool match = true;
    if (match && x->filter != NULL) {
        cJSON *fields = NULL;
        if (x->src == EXPORT_SRC_TELEMETRY && row->payload != NULL)
            fields = cJSON_ParseWithLength(row->payload, row->payload_len);
        match = export_filter_match(x->filter, tid, row->device_id, fields);
        cJSON_Delete(fields);
    }
    char *body = NULL, *device = strdup(row->device_id);
    if (device == NULL)
        return 1;
    if (match) {
        /* no enrichments: no object to build (the message writes {}) */
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(x->def, "enrichments");
        bool has_enr = cJSON_IsObject(spec) && spec->child != NULL;
        cJSON *enr = has_enr ? enrich(fc->e, x, row->device_id, tid) : NULL;
        struct export_msg_in in = {
            .source = x->src,
            .app_id = fc->e->app->facts.id_scope,
            .device_id = row->device_id,
            .template_id = tid,
            .type = row->type,
            .component = row->component,
            .time_ms = row->time_ms,
            .props_json = row->props_json,
            .payload = row->payload,
            .payload_len = row->payload_len,
            .enrichments = enr,
        };
        body = enr != NULL || !has_enr ? export_message_text(&in) : NULL;
        cJSON_Delete(enr);
        if (body == NULL) { /* out of memory: stop here, this row is read again later */
            free(device);
            return 1;
        }
        if (p->xf != NULL)
            return transform_row(p, row, body, device);
    }
    struct slot *s = slot_at(p, p->n);
    memset(s, 0, sizeof *s);
    s->p = p;
    s->seq = row->seq;
    s->device = device;
    s->dev_hash = app_hash_str(device);
    s->body = body;
    s->len = body != NULL ? strlen(body) : 0;
    s->st = match ? SLOT_PENDING : SLOT_DONE;
    p->n++;
    p->bytes += s->len;
    p->read_to = row->seq;
    return p->n == EXPORT_WINDOW || p->bytes >= EXPORT_WINDOW_BYTES;
}

static void fill(struct exporter *e, struct pipe *p)
{
    /* read in batches: only once half the window is free (not one query per acknowledgement) */
    if (p->n > EXPORT_WINDOW / 2 || p->bytes >= EXPORT_WINDOW_BYTES / 2)
        return;
    struct fill_ctx fc = {e, p};
    store_export_scan(e->se, export_log_of(p->x->src), export_source_name(p->x->src), p->read_to,
                      EXPORT_WINDOW - p->n, on_row, &fc);
}

/* The devices with an unacknowledged row earlier in the window: an open-addressing set of their
 * hashes (twice the window's size, so never full; 0 marks a free place). */
#define BUSY_SLOTS (2 * EXPORT_WINDOW)

/* Add @p h; @return true when it was there already. */
static bool busy_test_add(uint64_t *set, uint64_t h)
{
    h = h != 0 ? h : 1;
    for (size_t i = (size_t)(h % BUSY_SLOTS);; i = (i + 1) % BUSY_SLOTS) {
        if (set[i] == h)
            return true;
        if (set[i] == 0) {
            set[i] = h;
            return false;
        }
    }
}

/*
 * A destination that failed and acknowledged nothing for a while gets the window's first
 * unfinished message every EXPORT_PROBE_MS even if its backoff is longer (it is its device's
 * first too, so order holds). Each device's backoff grows to EXPORT_BACKOFF_MAX_MS during an
 * outage; without this, the destination's return would be noticed only at the earliest of
 * those timers. Its acknowledgement then releases the rest (destination_back()).
 */
static void probe(struct pipe *p, int64_t now)
{
    if (!p->retrying || now < p->next_probe_ms || now - p->last_ok_ms < EXPORT_BACK_AFTER_MS)
        return;
    for (size_t i = 0; i < p->n; i++) {
        struct slot *s = slot_at(p, i);
        if (s->st == SLOT_DONE)
            continue;
        if (s->st == SLOT_PENDING && s->next_ms > now) {
            s->next_ms = now;
            p->next_probe_ms = now + EXPORT_PROBE_MS;
        }
        return; /* in flight already: that request is the probe */
    }
}

static void dispatch(struct pipe *p, int64_t now)
{
    uint64_t busy[BUSY_SLOTS] = {0};
    probe(p, now);
    for (size_t i = 0; i < p->n; i++) {
        struct slot *s = slot_at(p, i);
        if (s->st == SLOT_DONE)
            continue;
        bool blocked = busy_test_add(busy, s->dev_hash);
        if (blocked || s->st != SLOT_PENDING || s->next_ms > now)
            continue;
        if (p->dest->ops->room(p->dest) == 0)
            break;
        int rc = p->dest->ops->send(p->dest, s->device, s->body, s->len, on_sent, s);
        if (rc == CE_OK) {
            s->st = SLOT_INFLIGHT;
            continue;
        }
        if (rc != CE_BUSY) { /* kept pending: shown in the status, tried again later */
            s->attempts++;
            s->next_ms = now + export_backoff_ms(s->attempts, rnd(p->x->e));
            if (!p->retrying) {
                char msg[200];
                snprintf(msg, sizeof msg, "destination %s: cannot send (%s, retrying)", p->dest_id,
                         rc == CE_NOMEM ? "out of memory" : "destination refused the message");
                export_record_error(p->x, msg);
            }
            p->retrying = true;
        }
        break;
    }
}

/* Move the cursor over the done prefix; write it through the store when @p save (the timer:
 * at most one cursor write per pipe and tick, not one per acknowledgement). */
void export_advance(struct exporter *e, struct pipe *p, bool save)
{
    while (p->n > 0 && slot_at(p, 0)->st == SLOT_DONE) {
        struct slot *s = slot_at(p, 0);
        p->cursor = s->seq;
        slot_clear(p, s);
        p->head = (p->head + 1) % EXPORT_WINDOW;
        p->n--;
    }
    if (save && p->cursor != p->saved &&
        store_export_put_cursor(e->se, p->x->id, p->dest_id, p->cursor) == CE_OK)
        p->saved = p->cursor;
}

static void pump(struct exporter *e, struct pipe *p, int64_t now, bool save)
{
    fill(e, p);
    dispatch(p, now);
    export_advance(e, p, save);
}

static void pump_all(struct exporter *e, bool save)
{
    int64_t now = app_now_ms();
    for (struct xport *x = e->exports; x != NULL; x = x->next) {
        for (struct pipe *p = x->pipes; x->enabled && p != NULL; p = p->next)
            pump(e, p, now, save);
    }
}

void export_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct exporter *e = arg;
    pump_all(e, true);
    int64_t now = app_now_ms();
    if (now >= e->next_prune_ms) {
        e->next_prune_ms = now + EXPORT_PRUNE_MS;
        export_prune_events(e);
    }
}

void export_on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump_all(arg, false);
}
