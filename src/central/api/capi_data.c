/*
 * capi_data.c - telemetry (last value, time-range history), raw data and the conformance
 * report of a device. Raw data pages are read on a reader thread (capi_read_start): the rows
 * are copied there and turned into JSON, classified against the template, back on the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"
#include "central/base/events.h"
#include "central/store/store_app.h"

#define LAST_SCAN_ROWS 10000    /* rows searched for a last value not in memory */
#define HISTORY_SCAN_ROWS 20000 /* rows one page may read: bounds the time the loop spends */
#define BATCH 1000

static bool same_comp(const char *row_comp, const char *comp)
{
    return strcmp(row_comp ? row_comp : "", comp) == 0;
}

/* ---------------------------------------------------------------- last value */

struct last_ctx {
    const char *comp, *name;
    cJSON *found;
};

static int last_row(void *ctx, const struct store_app_telemetry *row)
{
    struct last_ctx *l = ctx;
    if (!same_comp(row->component, l->comp))
        return 0;
    cJSON *p = cJSON_ParseWithLength(row->payload, row->payload_len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, l->name);
    if (cJSON_IsObject(p) && v != NULL) {
        char ts[32];
        appl_time(row->time_ms, ts);
        l->found = cJSON_CreateObject();
        cJSON_AddStringToObject(l->found, "timestamp", ts);
        cJSON_AddItemToObject(l->found, "value", cJSON_Duplicate(v, 1));
    }
    cJSON_Delete(p);
    return l->found != NULL;
}

static void last_value(struct http_ctx *c, struct appl *a, struct appl_device *d, const char *comp,
                       const char *name)
{
    struct last_ctx l = {comp, name, NULL};
    /* the latest message of the component usually carries the name */
    for (size_t i = 0; i < APPL_LAST_SLOTS; i++) {
        const struct appl_last *s = &d->last[i];
        if (s->component == NULL || strcmp(s->component, comp) != 0 || s->len == 0)
            continue;
        struct store_app_telemetry row = {
            .time_ms = s->time_ms, .component = comp, .payload = s->payload, .payload_len = s->len};
        last_row(&l, &row);
    }
    if (l.found == NULL)
        store_app_scan_telemetry(a->db, d->id, 0, INT64_MAX, 0, true, LAST_SCAN_ROWS, last_row, &l);
    if (l.found == NULL) {
        capi_error(c, 404, "TelemetryNotFound", "Device %s has not sent telemetry \"%s\"%s%s.",
                   d->id, name, comp[0] ? " in component " : "", comp);
        return;
    }
    capi_reply(c, 200, l.found);
}

/* ---------------------------------------------------------------- history */

struct hist_ctx {
    const char *comp, *name;
    const struct dtdl_capability *cap;
    cJSON *arr;
    size_t want, got;
    int64_t last_seq; /* last row consumed */
    bool full;        /* want items collected and one more exists */
};

static int hist_row(void *ctx, const struct store_app_telemetry *row)
{
    struct hist_ctx *h = ctx;
    if (!same_comp(row->component, h->comp)) {
        h->last_seq = row->seq;
        return 0;
    }
    cJSON *p = cJSON_ParseWithLength(row->payload, row->payload_len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, h->name);
    if (cJSON_IsObject(p) && v != NULL) {
        if (h->got == h->want) {
            h->full = true; /* this row belongs to the next page */
            cJSON_Delete(p);
            return 1;
        }
        char ts[32], why[300];
        cJSON *o = cJSON_CreateObject();
        appl_time(row->time_ms, ts);
        cJSON_AddStringToObject(o, "timestamp", ts);
        cJSON_AddItemToObject(o, "value", cJSON_Duplicate(v, 1));
        if (h->cap != NULL && h->cap->schema != NULL) {
            bool ok = dtdl_check_value(h->cap->schema, v, why, sizeof why);
            cJSON_AddBoolToObject(o, "valid", ok);
            if (!ok)
                cJSON_AddStringToObject(o, "error", why);
        }
        cJSON_AddItemToArray(h->arr, o);
        h->got++;
    }
    h->last_seq = row->seq;
    cJSON_Delete(p);
    return 0;
}

static int skiptoken_seq(struct http_ctx *c, int64_t *out)
{
    uint64_t v;
    int rc = capi_skiptoken(c, INT64_MAX, &v);
    *out = (int64_t)v;
    return rc;
}

/* "from=..&to=.." (encoded) for nextLink, from the request's own parameters. */
static void range_query(struct http_ctx *c, char *out, size_t size)
{
    char from[64] = "", to[64] = "";
    out[0] = '\0';
    int hf = http_query_param(c, "from", from, sizeof from) == 1;
    int ht = http_query_param(c, "to", to, sizeof to) == 1;
    /* the values were validated as RFC 3339: only '+' and ':' need encoding */
    char ef[128] = "", et[128] = "";
    for (size_t i = 0, o = 0; from[i] && o + 4 < sizeof ef; i++)
        o += (size_t)snprintf(ef + o, sizeof ef - o, from[i] == '+' ? "%%2B" : "%c", from[i]);
    for (size_t i = 0, o = 0; to[i] && o + 4 < sizeof et; i++)
        o += (size_t)snprintf(et + o, sizeof et - o, to[i] == '+' ? "%%2B" : "%c", to[i]);
    snprintf(out, size, "%s%s%s%s%s", hf ? "from=" : "", hf ? ef : "", hf && ht ? "&" : "",
             ht ? "to=" : "", ht ? et : "");
}

static void history(struct http_ctx *c, struct appl *a, struct appl_device *d, const char *comp,
                    const char *name)
{
    size_t top;
    int64_t from, to, after;
    char extra[300], tok[32];
    if (capi_top(c, &top) < 0 || capi_time_param(c, "from", 0, &from) < 0 ||
        capi_time_param(c, "to", INT64_MAX, &to) < 0 || skiptoken_seq(c, &after) < 0)
        return;
    struct appl_template *t = appl_device_template(a, d);
    const struct dtdl_capability *cap = t ? dtdl_find(t->model, comp, name) : NULL;
    struct hist_ctx h = {
        comp,  name, cap && cap->kind == DTDL_TELEMETRY ? cap : NULL, cJSON_CreateArray(), top, 0,
        after, false};
    size_t scanned = 0;
    bool exhausted = false;
    while (!h.full && scanned < HISTORY_SCAN_ROWS) {
        long n = store_app_scan_telemetry(a->db, d->id, from, to, h.last_seq, false, BATCH,
                                          hist_row, &h);
        if (n < 0) {
            cJSON_Delete(h.arr);
            capi_error(c, 500, "InternalError", "The telemetry store failed.");
            return;
        }
        scanned += (size_t)n;
        if (n < BATCH && !h.full) {
            exhausted = true;
            break;
        }
    }
    range_query(c, extra, sizeof extra);
    snprintf(tok, sizeof tok, "%lld", (long long)h.last_seq);
    capi_page(c, h.arr, top, exhausted ? NULL : tok, extra);
}

bool capi_telemetry_path(const struct http_ctx *c, const char **comp, const char **name)
{
    bool comp_path = strcmp(c->seg[3], "components") == 0;
    *comp = comp_path ? c->seg[4] : "";
    *name = comp_path ? c->seg[6] : c->seg[4];
    return comp_path;
}

void capi_telemetry(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    const char *comp, *name;
    bool comp_path = capi_telemetry_path(c, &comp, &name);
    bool hist = strcmp(c->seg[c->nseg - 1], "history") == 0 && c->nseg == (comp_path ? 8u : 6u);
    if (dev == NULL)
        return;
    if (hist)
        history(c, a, d, comp, name);
    else
        last_value(c, a, d, comp, name);
}

/* ---------------------------------------------------------------- raw data */

struct raw_item {
    int64_t time_ms, seq;
    bool tel;
    cJSON *json;
};

struct raw_ctx {
    const struct dtdl_model *m;
    struct raw_item *items;
    size_t n, cap;
};

static cJSON *parse_or_text(const char *p, size_t len, bool *is_json)
{
    cJSON *v = cJSON_ParseWithLength(p, len);
    *is_json = v != NULL;
    if (v != NULL)
        return v;
    char *text = app_strndup(p, len);
    if (text == NULL)
        return NULL;
    v = cJSON_CreateString(text);
    free(text);
    return v;
}

static void classify_into(cJSON *o, const struct dtdl_model *m, int kind, const char *comp,
                          const cJSON *payload, bool is_json)
{
    cJSON *mo = cJSON_CreateObject(), *un = cJSON_CreateObject(), *errs = cJSON_CreateArray();
    if (!is_json)
        cJSON_AddItemToArray(errs, cJSON_CreateString("the payload is not JSON"));
    else
        appl_classify(m, kind, comp, payload, mo, un, errs);
    cJSON_AddItemToObject(o, "modeled", mo);
    cJSON_AddItemToObject(o, "unmodeled", un);
    cJSON_AddItemToObject(o, "errors", errs);
}

static int push(struct raw_ctx *r, int64_t time_ms, int64_t seq, bool tel, cJSON *json)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct raw_item *v = realloc(r->items, cap * sizeof *v);
        if (v == NULL) {
            cJSON_Delete(json);
            return 1;
        }
        r->items = v;
        r->cap = cap;
    }
    r->items[r->n++] = (struct raw_item){time_ms, seq, tel, json};
    return 0;
}

/* {"time","type"} of one raw item. */
static cJSON *raw_item(int64_t time_ms, const char *type)
{
    char ts[32];
    cJSON *o = cJSON_CreateObject();
    appl_time(time_ms, ts);
    cJSON_AddStringToObject(o, "time", ts);
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

/* "payload" (JSON, or the text) and its classification against the model. */
static void add_payload(cJSON *o, const struct dtdl_model *m, int kind, const char *comp,
                        const char *p, size_t len)
{
    bool is_json;
    cJSON *payload = parse_or_text(p, len, &is_json);
    cJSON_AddItemToObject(o, "payload", payload ? payload : cJSON_CreateNull());
    classify_into(o, m, kind, comp, payload, is_json);
}

static int raw_tel(void *ctx, const struct store_app_telemetry *row)
{
    struct raw_ctx *r = ctx;
    const char *comp = row->component ? row->component : "";
    cJSON *o = raw_item(row->time_ms, "telemetry");
    cJSON_AddStringToObject(o, "component", comp);
    cJSON *props = row->props_json ? cJSON_Parse(row->props_json) : NULL;
    cJSON_AddItemToObject(o, "messageProperties", props ? props : cJSON_CreateObject());
    add_payload(o, r->m, EV_TELEMETRY, comp, row->payload, row->payload_len);
    return push(r, row->time_ms, row->seq, true, o);
}

static int raw_ev(void *ctx, const struct store_app_raw *row)
{
    struct raw_ctx *r = ctx;
    cJSON *o = raw_item(row->time_ms, row->kind);
    if (row->data != NULL)
        add_payload(o, r->m, EV_REPORTED, "", row->data, strlen(row->data));
    return push(r, row->time_ms, row->seq, false, o);
}

static int parse_raw_token(struct http_ctx *c, int64_t *tseq, int64_t *rseq)
{
    char buf[80];
    int rc = capi_param(c, "$skiptoken", buf, sizeof buf);
    *tseq = *rseq = 0;
    if (rc <= 0)
        return rc;
    long long a = -1, b = -1;
    char *end;
    if (buf[0] == 't') {
        a = strtoll(buf + 1, &end, 10);
        if (*end == '.' && end[1] == 'r')
            b = strtoll(end + 2, &end, 10);
        else
            end = buf; /* force the error below */
    } else {
        end = buf;
    }
    if (a < 0 || b < 0 || *end != '\0') {
        capi_error(c, 400, "InvalidParameter", "$skiptoken is not valid here.");
        return CE_INVALID;
    }
    *tseq = a;
    *rseq = b;
    return 0;
}

static int item_cmp(const void *x, const void *y)
{
    const struct raw_item *a = x, *b = y;
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    if (a->tel != b->tel)
        return a->tel ? 1 : -1; /* connect events before the messages of the same ms */
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int item_cmp_desc(const void *x, const void *y)
{
    return item_cmp(y, x);
}

/* order=asc (default, oldest first) or order=desc (newest first). 0, or CE_INVALID replied. */
static int parse_order(struct http_ctx *c, bool *desc)
{
    char buf[8];
    int rc = capi_param(c, "order", buf, sizeof buf);
    *desc = false;
    if (rc <= 0)
        return rc;
    if (strcmp(buf, "desc") == 0 || strcmp(buf, "asc") == 0) {
        *desc = buf[0] == 'd';
        return 0;
    }
    capi_error(c, 400, "InvalidParameter", "order must be asc or desc.");
    return CE_INVALID;
}

/* The query's copy of one row (filled on a reader thread; text fields NUL-terminated). */
struct raw_copy {
    int64_t seq, time_ms;
    bool tel;
    char *component, *props, *kind; /* NULL when the column was */
    char *data;                     /* telemetry payload or raw event data; may be NULL */
    size_t data_len;
};

struct raw_job {
    struct capi_read base;
    char *device_id;
    int64_t from, to, tseq, rseq;
    bool desc;
    size_t top;
    struct raw_copy *rows;
    size_t n, cap;
    bool oom;
};

static char *dup_or_null(const char *s, size_t len, bool *oom)
{
    if (s == NULL)
        return NULL;
    char *d = app_strndup(s, len);
    if (d == NULL)
        *oom = true;
    return d;
}

/* A new zeroed row of @p j with its sequence and time; NULL when out of memory. */
static struct raw_copy *raw_add(struct raw_job *j, int64_t seq, int64_t time_ms)
{
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        struct raw_copy *v = realloc(j->rows, cap * sizeof *v);
        if (v == NULL) {
            j->oom = true;
            return NULL;
        }
        j->rows = v;
        j->cap = cap;
    }
    struct raw_copy *r = &j->rows[j->n++];
    memset(r, 0, sizeof *r);
    r->seq = seq;
    r->time_ms = time_ms;
    return r;
}

/* Reader thread: copy a telemetry row. */
static int copy_tel(void *ctx, const struct store_app_telemetry *row)
{
    struct raw_job *j = ctx;
    struct raw_copy *r = raw_add(j, row->seq, row->time_ms);
    if (r == NULL)
        return 1;
    r->tel = true;
    r->component =
        row->component ? dup_or_null(row->component, strlen(row->component), &j->oom) : NULL;
    r->props =
        row->props_json ? dup_or_null(row->props_json, strlen(row->props_json), &j->oom) : NULL;
    r->data = dup_or_null(row->payload, row->payload_len, &j->oom);
    r->data_len = row->payload_len;
    return j->oom;
}

/* Reader thread: copy a raw-event row. */
static int copy_ev(void *ctx, const struct store_app_raw *row)
{
    struct raw_job *j = ctx;
    struct raw_copy *r = raw_add(j, row->seq, row->time_ms);
    if (r == NULL)
        return 1;
    r->kind = dup_or_null(row->kind, strlen(row->kind), &j->oom);
    r->data = row->data ? dup_or_null(row->data, strlen(row->data), &j->oom) : NULL;
    r->data_len = row->data ? strlen(row->data) : 0;
    return j->oom;
}

/* Reader thread: both scans (each may walk far: ORDER BY seq with a time filter). */
static long raw_run(struct store_app *sa, void *arg)
{
    struct raw_job *j = arg;
    /* descending, a token's seq 0 means "from the newest": nothing of that table was taken yet,
     * so everything of it is older than what the pages before held */
    if (store_app_scan_telemetry(sa, j->device_id, j->from, j->to, j->tseq, j->desc, j->top + 1,
                                 copy_tel, j) < 0 ||
        store_app_scan_raw(sa, j->device_id, j->from, j->to, j->rseq, j->desc, j->top + 1, copy_ev,
                           j) < 0)
        return CE_STORE;
    return j->oom ? CE_NOMEM : CE_OK;
}

static void raw_release(struct capi_read *job)
{
    struct raw_job *j = (struct raw_job *)job;
    for (size_t i = 0; i < j->n; i++) {
        free(j->rows[i].component);
        free(j->rows[i].props);
        free(j->rows[i].kind);
        free(j->rows[i].data);
    }
    free(j->rows);
    free(j->device_id);
    free(j);
}

/* Loop thread: classify the rows against the device's template (as it is now) and answer. */
static void raw_finish(struct capi_read *job, struct http_ctx *c, long rc)
{
    struct raw_job *j = (struct raw_job *)job;
    struct appl *a = c->app->appl;
    struct appl_device *d;
    char extra[320], tok[80];
    if (capi_read_failed(c, rc, "data"))
        return;
    if (capi_device(c, a, &d) == NULL) /* deleted meanwhile: replied 404 */
        return;
    struct appl_template *t = appl_device_template(a, d);
    struct raw_ctx r = {.m = t ? t->model : NULL};
    for (size_t i = 0; i < j->n; i++) {
        const struct raw_copy *w = &j->rows[i];
        int stop;
        if (w->tel) {
            struct store_app_telemetry row = {
                w->seq, w->time_ms, w->component, w->props, w->data ? w->data : "", w->data_len};
            stop = raw_tel(&r, &row);
        } else {
            struct store_app_raw row = {w->seq, w->time_ms, w->kind, w->data};
            stop = row.kind != NULL ? raw_ev(&r, &row) : 0;
        }
        if (stop)
            break;
    }
    if (r.n > 1)
        qsort(r.items, r.n, sizeof *r.items, j->desc ? item_cmp_desc : item_cmp);
    int64_t tseq = j->tseq, rseq = j->rseq;
    size_t top = j->top;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < r.n; i++) {
        if (i < top) {
            char id[32];
            snprintf(id, sizeof id, "%c%lld", r.items[i].tel ? 't' : 'r',
                     (long long)r.items[i].seq);
            cJSON_AddStringToObject(r.items[i].json, "id", id);
            cJSON_AddItemToArray(arr, r.items[i].json);
            if (r.items[i].tel)
                tseq = r.items[i].seq;
            else
                rseq = r.items[i].seq;
        } else {
            cJSON_Delete(r.items[i].json);
        }
    }
    bool more = r.n > top;
    free(r.items);
    range_query(c, extra, sizeof extra);
    if (j->desc)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "%sorder=desc",
                 extra[0] ? "&" : "");
    snprintf(tok, sizeof tok, "t%lld.r%lld", (long long)tseq, (long long)rseq);
    capi_page(c, arr, top, more ? tok : NULL, extra);
}

void capi_raw(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    size_t top;
    int64_t from, to, tseq, rseq;
    bool desc;
    if (dev == NULL || capi_top(c, &top) < 0 || capi_time_param(c, "from", 0, &from) < 0 ||
        capi_time_param(c, "to", INT64_MAX, &to) < 0 || parse_raw_token(c, &tseq, &rseq) < 0 ||
        parse_order(c, &desc) < 0)
        return;
    struct raw_job *j = capi_read_new(sizeof *j, raw_finish, raw_release);
    if (j != NULL) {
        j->device_id = strdup(d->id);
        j->from = from;
        j->to = to;
        j->tseq = tseq;
        j->rseq = rseq;
        j->desc = desc;
        j->top = top;
    }
    /* the scans may walk many rows to fill a page: a reader thread runs them */
    capi_read_go(c, j ? &j->base : NULL, j && j->device_id, raw_run);
}

void capi_conformance(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    if (dev == NULL)
        return;
    if (appl_device_template(a, d) == NULL) {
        capi_error(c, 409, "Conflict",
                   "Device %s has no template: associate it (PATCH {\"template\":..}) or let it "
                   "announce a published template's model id.",
                   d->id);
        return;
    }
    capi_reply(c, 200, appl_conformance(a, d, dev));
}
