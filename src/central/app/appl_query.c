/*
 * appl_query.c - running a compiled /api/query (appl_query.h) over the stored telemetry of the
 * devices of one template: scan each device's messages in the window, keep those that carry a
 * selected value and pass WHERE, order, cut at TOP.
 */
#include "central/app/appl_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/app/appl.h"
#include "central/store/store_app.h"

#define DEFAULT_WINDOW_MS (30LL * 86400000) /* without WITHIN_WINDOW: the last 30 days */

struct hit {
    const struct aq_query *q; /* for the sort (qsort has no context argument) */
    cJSON *obj;
    int64_t time_ms;
    const char *device_id; /* borrowed from the appl device */
    const cJSON *key;      /* ORDER BY a telemetry value: in obj, or NULL */
};

struct run {
    const struct aq_query *q;
    const struct aq_device *d;
    struct hit *hits;
    size_t n, cap;
    bool oom;
};

static bool same_component(const char *row_comp, const char *want)
{
    return (row_comp == NULL || row_comp[0] == '\0') ? want[0] == '\0'
                                                     : strcmp(row_comp, want) == 0;
}

static int on_row(void *ctx, const struct store_app_telemetry *row)
{
    struct run *r = ctx;
    const struct aq_query *q = r->q;
    cJSON *p = cJSON_ParseWithLength(row->payload, row->payload_len);
    struct aq_row view = {.device_id = r->d->id,
                          .time_ms = row->time_ms,
                          .provisioned = r->d->provisioned,
                          .simulated = r->d->simulated};
    bool selected = false;
    for (size_t i = 0; cJSON_IsObject(p) && i < q->n_refs; i++) {
        if (same_component(row->component, q->refs[i].component))
            view.values[i] = cJSON_GetObjectItemCaseSensitive(p, q->refs[i].name);
    }
    for (size_t i = 0; i < q->n_items; i++)
        selected = selected || (q->items[i].kind == AQ_TELEMETRY && view.values[q->items[i].ref]);
    if (!selected || !aq_match(q, &view)) {
        cJSON_Delete(p);
        return 0;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        struct hit *h = realloc(r->hits, cap * sizeof *h);
        if (h == NULL) {
            r->oom = true;
            cJSON_Delete(p);
            return 1;
        }
        r->hits = h;
        r->cap = cap;
    }
    cJSON *o = cJSON_CreateObject();
    struct hit *h = &r->hits[r->n];
    *h = (struct hit){q, o, row->time_ms, r->d->id, NULL};
    for (size_t i = 0; o != NULL && i < q->n_items; i++) {
        const struct aq_item *it = &q->items[i];
        char ts[32];
        switch (it->kind) {
        case AQ_ID:
            cJSON_AddStringToObject(o, it->label, r->d->id);
            break;
        case AQ_TS:
            appl_time(row->time_ms, ts);
            cJSON_AddStringToObject(o, it->label, ts);
            break;
        case AQ_PROVISIONED:
            cJSON_AddBoolToObject(o, it->label, r->d->provisioned);
            break;
        case AQ_SIMULATED:
            cJSON_AddBoolToObject(o, it->label, r->d->simulated);
            break;
        default:
            if (view.values[it->ref] != NULL) {
                cJSON *v = cJSON_Duplicate(view.values[it->ref], 1);
                cJSON_AddItemToObject(o, it->label, v);
                if (q->has_order && q->order_kind == AQ_TELEMETRY && q->order_ref == it->ref)
                    h->key = v;
            }
            break;
        }
    }
    cJSON_Delete(p);
    if (o == NULL) {
        r->oom = true;
        return 1;
    }
    r->n++;
    return 0;
}

static int by_order(const void *x, const void *y)
{
    const struct hit *a = x, *b = y;
    const struct aq_query *q = a->q;
    int c = 0;
    if (q->has_order && q->order_kind == AQ_ID) {
        c = strcmp(a->device_id, b->device_id);
    } else if (q->has_order && q->order_kind == AQ_TELEMETRY) {
        /* numbers before other values, which keep their time order */
        bool na = cJSON_IsNumber(a->key), nb = cJSON_IsNumber(b->key);
        if (na && nb)
            c = a->key->valuedouble < b->key->valuedouble
                    ? -1
                    : a->key->valuedouble > b->key->valuedouble;
        else if (cJSON_IsString(a->key) && cJSON_IsString(b->key))
            c = strcmp(a->key->valuestring, b->key->valuestring);
        else
            c = na ? -1 : nb ? 1 : 0;
    }
    if (c == 0)
        c = a->time_ms < b->time_ms ? -1 : a->time_ms > b->time_ms;
    if (c == 0)
        c = strcmp(a->device_id, b->device_id);
    return q->desc ? -c : c;
}

void appl_query_plan_free(struct aq_plan *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_devs; i++)
        free(p->devs[i].id);
    free(p->devs);
    cJSON_Delete(p->out);
    free(p);
}

int appl_query_plan(struct appl *a, const struct aq_query *q, int64_t now_ms, struct aq_plan **out,
                    struct appl_error *err)
{
    *out = NULL;
    struct appl_template *t = appl_template_get(a, q->from);
    if (t == NULL)
        return CE_NOTFOUND;
    /* every name must be telemetry of the template (property queries are not supported) */
    for (size_t i = 0; i < q->n_refs; i++) {
        const struct aq_ref *ref = &q->refs[i];
        const struct dtdl_capability *cap = dtdl_find(t->model, ref->component, ref->name);
        if (cap == NULL || cap->kind != DTDL_TELEMETRY) {
            bool other = cap != NULL;
            err->code = "InvalidQuery";
            snprintf(err->message, sizeof err->message,
                     other ? "%s%s%s is not telemetry of %s (property queries are not supported)"
                           : "%s%s%s: no telemetry of that name in %s",
                     ref->component, ref->component[0] ? "." : "", ref->name, q->from);
            return CE_INVALID;
        }
    }
    struct aq_plan *p = calloc(1, sizeof *p);
    if (p == NULL)
        return CE_NOMEM;
    p->q = *q;
    p->from = q->window_absolute ? q->from_ms
                                 : now_ms - (q->has_window ? q->window_ms : DEFAULT_WINDOW_MS);
    p->to = q->window_absolute ? q->to_ms : now_ms + 1;
    /* the devices of the template as they are now: the scan must not touch the loop's state */
    size_t cap = 0;
    for (size_t b = 0; b < a->n_buckets; b++) {
        for (struct appl_device *d = a->buckets[b]; d != NULL; d = d->hash_next) {
            if (registry_get(a->app, d->id) == NULL || d->template_id == NULL ||
                strcmp(d->template_id, q->from) != 0)
                continue;
            if (p->n_devs == cap) {
                cap = cap ? cap * 2 : 16;
                struct aq_device *nd = realloc(p->devs, cap * sizeof *nd);
                if (nd == NULL) {
                    appl_query_plan_free(p);
                    return CE_NOMEM;
                }
                p->devs = nd;
            }
            struct aq_device *ad = &p->devs[p->n_devs];
            *ad = (struct aq_device){strdup(d->id), d->provisioned, d->simulated};
            if (ad->id == NULL) {
                appl_query_plan_free(p);
                return CE_NOMEM;
            }
            p->n_devs++;
        }
    }
    *out = p;
    return CE_OK;
}

int appl_query_scan(struct store_app *sa, struct aq_plan *p)
{
    const struct aq_query *q = &p->q;
    struct run r = {.q = q};
    for (size_t i = 0; i < p->n_devs && !r.oom; i++) {
        r.d = &p->devs[i];
        if (store_app_scan_telemetry(sa, r.d->id, p->from, p->to, 0, false, AQ_MAX_RESULTS, on_row,
                                     &r) < 0 &&
            !r.oom) {
            for (size_t k = 0; k < r.n; k++)
                cJSON_Delete(r.hits[k].obj);
            free(r.hits);
            return CE_STORE;
        }
    }
    cJSON *res = r.oom ? NULL : cJSON_CreateArray();
    if (res != NULL && r.n > 1)
        qsort(r.hits, r.n, sizeof *r.hits, by_order);
    for (size_t i = 0; i < r.n; i++) {
        if (res != NULL && i < q->top)
            cJSON_AddItemToArray(res, r.hits[i].obj);
        else
            cJSON_Delete(r.hits[i].obj);
    }
    free(r.hits);
    cJSON *o = res != NULL ? cJSON_CreateObject() : NULL;
    if (o == NULL) {
        cJSON_Delete(res);
        return CE_NOMEM;
    }
    cJSON_AddItemToObject(o, "results", res);
    cJSON_Delete(p->out);
    p->out = o;
    return CE_OK;
}
