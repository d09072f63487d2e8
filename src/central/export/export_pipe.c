/*
 * export_pipe.c - the pipes of data export (see export.c for the design): a window of rows read
 * from the source after the cursor, filtered, enriched and formatted (on the reader thread,
 * export_reader.h; see "reading on the reader thread" below), sent as the destination
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

/* ---------------------------------------------------------------- reading on the reader thread */

/*
 * A pipe's read (one at a time per pipe) goes to the reader thread (export_reader.h) in up to
 * two rounds:
 *   1. reader: the rows after read_to, copied out of SQLite; the distinct devices among them.
 *      loop (only when the rows need what the loop owns: the template of a telemetry row's
 *      device, or enrichments): each device's facts resolved now, as a fill on the loop did.
 *   2. reader: filter, message text, transform, one entry per slot to be.
 *      loop: the entries become slots of the window, read_to moves, the pipe is pumped.
 * A pipe freed meanwhile leaves the read an orphan (p NULL) that owns the transform and filter
 * the reader may be using; it is freed when it comes back.
 */

struct rd_row {
    int64_t seq;
    int64_t time_ms;
    char *device, *component, *props, *payload, *type, *tid; /* one allocation: the row */
    size_t payload_len;
    size_t fact; /* index into facts */
};

struct rd_fact {
    const char *device; /* borrowed from a row */
    const char *tid_in; /* events: the row's template; telemetry: NULL */
    char *tid;          /* resolved on the loop */
    cJSON *enr;         /* resolved on the loop when the export has enrichments */
    bool enr_failed;    /* out of memory resolving them */
};

#define RD_FAILED ((size_t)-1) /* rd_entry.len of a message the transform failed */

struct rd_entry {
    int64_t seq;
    char *device;
    uint64_t dev_hash;
    char *body; /* NULL: done at once (filtered out, no output, failed) */
    size_t len;
    char *fail; /* a transform's error for this message, reported on the loop */
};

struct read_job {
    struct export_work w;
    struct pipe *p; /* loop only; NULL once the pipe was freed */
    /* what the reader uses: set on the loop before posting, unchanged while it runs */
    enum export_source src;
    const struct export_filter *filter;
    struct export_transform *xf;
    const char *app_id;
    bool has_enr;
    int64_t after;
    size_t limit, bytes_room;
    int round;
    /* results */
    struct rd_row **rows;
    size_t n_rows, scanned;
    struct rd_fact *facts;
    size_t n_facts;
    struct rd_entry *ents;
    size_t n_ents;
    int64_t read_to;
};

void export_pipe_free(struct pipe *p)
{
    if (p->dest != NULL)
        p->dest->ops->free(p->dest); /* no callbacks after this */
    for (size_t i = 0; i < p->n; i++)
        slot_clear(p, slot_at(p, i));
    if (p->reading != NULL) {
        p->reading->p = NULL; /* the orphan frees the transform and filter the reader may use */
    } else {
        export_transform_free(p->xf);
        free(p->filter);
    }
    free(p->dest_id);
    free(p);
}

/* The rows and facts (the entries borrow nothing from them). */
static void free_rows(struct read_job *j)
{
    for (size_t i = 0; i < j->n_rows; i++)
        free(j->rows[i]);
    for (size_t i = 0; i < j->n_facts; i++) {
        free(j->facts[i].tid);
        cJSON_Delete(j->facts[i].enr);
    }
    free(j->rows);
    free(j->facts);
    j->rows = NULL;
    j->facts = NULL;
    j->n_rows = j->n_facts = 0;
}

static void job_free(struct read_job *j)
{
    free_rows(j);
    for (size_t i = 0; i < j->n_ents; i++) {
        free(j->ents[i].device);
        free(j->ents[i].body);
        free(j->ents[i].fail);
    }
    free(j->ents);
    if (j->p == NULL) { /* an orphan owns what its pipe lent it */
        export_transform_free(j->xf);
        free((void *)j->filter);
    }
    free(j);
}

static size_t slen(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static char *put(char **at, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *r = *at;
    memcpy(r, s, n);
    *at += n;
    return r;
}

/* Copy one row out of SQLite (reader thread). */
static int copy_row(void *arg, const struct store_export_row *row)
{
    struct read_job *j = arg;
    size_t nd = slen(row->device_id), nc = slen(row->component), np = slen(row->props_json),
           nt = slen(row->type), ntid = slen(row->template_id);
    size_t npl = row->payload != NULL ? row->payload_len + 1 : 0;
    struct rd_row *r = malloc(sizeof *r + nd + nc + np + nt + ntid + npl);
    if (r == NULL)
        return 1; /* out of memory: this batch ends here */
    char *at = (char *)(r + 1);
    r->seq = row->seq;
    r->time_ms = row->time_ms;
    r->device = put(&at, row->device_id, nd);
    r->component = put(&at, row->component, nc);
    r->props = put(&at, row->props_json, np);
    r->type = put(&at, row->type, nt);
    r->tid = put(&at, row->template_id, ntid);
    r->payload = NULL;
    r->payload_len = 0;
    if (row->payload != NULL) {
        r->payload = at;
        memcpy(at, row->payload, row->payload_len);
        at[row->payload_len] = '\0';
        r->payload_len = row->payload_len;
    }
    r->fact = 0;
    j->rows[j->n_rows++] = r;
    return 0;
}

static bool same(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The distinct (device, template) pairs of the rows: one fact each (reader thread). */
static int collect_facts(struct read_job *j)
{
    size_t cap = 2 * j->n_rows + 1;
    size_t *set = calloc(cap, sizeof *set); /* fact index + 1; 0 marks a free place */
    j->facts = calloc(j->n_rows, sizeof *j->facts);
    if (set == NULL || j->facts == NULL) {
        free(set);
        return -1;
    }
    for (size_t i = 0; i < j->n_rows; i++) {
        struct rd_row *r = j->rows[i];
        const char *tid = j->src == EXPORT_SRC_TELEMETRY ? NULL : r->tid;
        uint64_t h = app_hash_str(r->device) ^ (tid != NULL ? app_hash_str(tid) * 31 : 0);
        size_t k = (size_t)(h % cap);
        while (set[k] != 0) {
            struct rd_fact *f = &j->facts[set[k] - 1];
            if (strcmp(f->device, r->device) == 0 && same(f->tid_in, tid))
                break;
            k = (k + 1) % cap;
        }
        if (set[k] == 0) {
            j->facts[j->n_facts].device = r->device;
            j->facts[j->n_facts].tid_in = tid;
            set[k] = ++j->n_facts;
        }
        r->fact = set[k] - 1;
    }
    free(set);
    return 0;
}

static struct rd_entry *add_entry(struct read_job *j, int64_t seq, const char *device, char *body,
                                  size_t *bytes)
{
    struct rd_entry *en = &j->ents[j->n_ents];
    memset(en, 0, sizeof *en);
    en->device = strdup(device);
    if (en->device == NULL) {
        free(body);
        return NULL;
    }
    en->seq = seq;
    en->dev_hash = app_hash_str(device);
    en->body = body;
    en->len = body != NULL ? strlen(body) : 0;
    *bytes += en->len;
    j->n_ents++;
    return en;
}

/* One row through the destination's transform (export_transform.h): each output becomes an
 * entry of the row's device, in order. Every output but the last carries the previous row's seq,
 * so the cursor passes the row only once its last output is done. A transform error, or more
 * outputs than allowed, fails that message for good (counted and shown on the loop): it would
 * fail the same way on every retry, and holding the pipe for it would stop the export. No
 * output: nothing to send, like a message the filter drops. Takes @p body. @return 0, 1 to
 * stop the batch before this row (no room, out of memory), or 2 to stop it after this row: a run
 * stopped at its budget ends the read, so that runaways of one pipe take at most one budget of the
 * reader thread, which every pipe shares, per read. */
static int transform_row(struct read_job *j, const struct rd_row *r, char *body, int64_t *read_to,
                         size_t *bytes)
{
    struct export_transform_out out = {0};
    char why[160];
    int rc = export_transform_run(j->xf, body, strlen(body), &out, why, sizeof why);
    free(body);
    if (rc != 0)
        out.n = 0;
    size_t n = out.n > 0 ? out.n : 1, added = 0;
    if (j->n_ents + n > j->limit) {
        export_transform_out_free(&out); /* no room for all of them: read again later */
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char *text = out.n > 0 ? out.text[i] : NULL;
        if (out.n > 0)
            out.text[i] = NULL; /* the entry's now */
        struct rd_entry *en = add_entry(j, i + 1 < n ? *read_to : r->seq, r->device, text, bytes);
        if (en == NULL)
            break;
        added++;
        if (rc != 0) {
            en->fail = strdup(why); /* NULL when out of memory: counted without its reason */
            en->len = RD_FAILED;
        }
    }
    export_transform_out_free(&out);
    if (added < n) { /* out of memory: drop this row's entries, it is read again later */
        while (added-- > 0) {
            struct rd_entry *x = &j->ents[--j->n_ents];
            *bytes -= x->len != RD_FAILED ? x->len : 0;
            free(x->device);
            free(x->body);
            free(x->fail);
            memset(x, 0, sizeof *x);
        }
        return 1;
    }
    *read_to = r->seq;
    return rc == EXPORT_TRANSFORM_STOPPED ? 2 : 0;
}

/* Round 2 on the reader thread: filter, format, transform (export_fmt.c, export_transform.c). */
static void format_rows(struct read_job *j)
{
    j->ents = calloc(j->limit, sizeof *j->ents);
    if (j->ents == NULL)
        return;
    int64_t read_to = j->after;
    size_t bytes = 0;
    for (size_t i = 0; i < j->n_rows && j->n_ents < j->limit && bytes < j->bytes_room; i++) {
        const struct rd_row *r = j->rows[i];
        const struct rd_fact *f = j->n_facts > 0 ? &j->facts[r->fact] : NULL;
        const char *tid = j->src == EXPORT_SRC_TELEMETRY ? (f != NULL ? f->tid : NULL) : r->tid;
        bool match = true;
        if (j->filter != NULL) {
            cJSON *fields = NULL;
            if (j->src == EXPORT_SRC_TELEMETRY && r->payload != NULL)
                fields = cJSON_ParseWithLength(r->payload, r->payload_len);
            match = export_filter_match(j->filter, tid, r->device, fields);
            cJSON_Delete(fields);
        }
        char *body = NULL;
        if (match) {
            if (j->has_enr && (f == NULL || f->enr_failed))
                break; /* out of memory on the loop: read again later */
            struct export_msg_in in = {
                .source = j->src,
                .app_id = j->app_id,
                .device_id = r->device,
                .template_id = tid,
                .type = r->type,
                .component = r->component,
                .time_ms = r->time_ms,
                .props_json = r->props,
                .payload = r->payload,
                .payload_len = r->payload_len,
                .enrichments = j->has_enr ? f->enr : NULL,
            };
            body = export_message_text(&in);
            if (body == NULL) /* out of memory: stop here, this row is read again later */
                break;
            if (j->xf != NULL) {
                if (transform_row(j, r, body, &read_to, &bytes) != 0)
                    break; /* read_to is past this row when it was stopped at its budget */
                continue;
            }
        }
        if (add_entry(j, r->seq, r->device, body, &bytes) == NULL)
            break;
        read_to = r->seq;
    }
    j->read_to = read_to;
}

static void job_run(struct export_work *w, struct store_export *se)
{
    struct read_job *j = (struct read_job *)w;
    if (j->round == 0) {
        j->rows = calloc(j->limit, sizeof *j->rows);
        if (j->rows != NULL)
            store_export_scan(se, export_log_of(j->src), export_source_name(j->src), j->after,
                              j->limit, copy_row, j);
        j->scanned = j->n_rows;
        j->round = 1;
        if (j->n_rows > 0 && (j->src == EXPORT_SRC_TELEMETRY || j->has_enr)) {
            if (collect_facts(j) != 0) { /* out of memory: nothing this time, read again */
                for (size_t i = 0; i < j->n_rows; i++)
                    free(j->rows[i]);
                j->n_rows = 0;
            }
            return; /* round 1 on the loop: the facts */
        }
    }
    j->round = 2;
    format_rows(j);
    free_rows(j); /* here rather than on the loop */
}

/* Round 1 on the loop: each device's template and enrichments as they are now. */
static void resolve_facts(struct read_job *j)
{
    struct pipe *p = j->p;
    struct exporter *e = p->x->e;
    for (size_t i = 0; i < j->n_facts; i++) {
        struct rd_fact *f = &j->facts[i];
        const char *tid =
            j->src == EXPORT_SRC_TELEMETRY ? export_device_template(e, f->device) : f->tid_in;
        if (j->src == EXPORT_SRC_TELEMETRY && tid != NULL)
            f->tid = strdup(tid); /* NULL when out of memory: like no template */
        if (j->has_enr) {
            f->enr = enrich(e, p->x, f->device, tid);
            f->enr_failed = f->enr == NULL;
        }
    }
}

/* Round 2 on the loop: the entries become slots of the window. */
static void take_entries(struct read_job *j)
{
    struct pipe *p = j->p;
    for (size_t i = 0; i < j->n_ents; i++) {
        struct rd_entry *en = &j->ents[i];
        if (en->len == RD_FAILED) {
            char msg[512];
            p->failed++;
            snprintf(msg, sizeof msg, "destination %s: transform: %s: message of %s (row %lld)",
                     p->dest_id, en->fail != NULL ? en->fail : "out of memory", en->device,
                     (long long)en->seq);
            export_record_error(p->x, msg);
            log_warn("export %s: %s", p->x->id, msg);
            en->len = 0;
        }
        struct slot *s = slot_at(p, p->n);
        memset(s, 0, sizeof *s);
        s->p = p;
        s->seq = en->seq;
        s->device = en->device;
        s->dev_hash = en->dev_hash;
        s->body = en->body;
        s->len = en->len;
        s->st = s->body != NULL ? SLOT_PENDING : SLOT_DONE;
        p->n++;
        p->bytes += s->len;
        en->device = NULL;
        en->body = NULL;
    }
    p->read_to = j->read_to;
}

static void fill(struct exporter *e, struct pipe *p);
static void dispatch(struct pipe *p, int64_t now);

static void job_done(struct export_work *w, bool ran)
{
    struct read_job *j = (struct read_job *)w;
    struct pipe *p = j->p;
    if (p == NULL || !ran) {
        if (p != NULL)
            p->reading = NULL;
        job_free(j);
        return;
    }
    struct exporter *e = p->x->e;
    if (j->round == 1 && j->n_rows > 0 && !export_reader_closing(e->reader)) {
        resolve_facts(j);
        export_reader_post(e->reader, &j->w); /* round 2 */
        return;
    }
    /* a full batch: more may be waiting (else the tick and the kicks read again) */
    bool more = j->round == 2 && j->scanned == j->limit && j->read_to > j->after;
    if (j->round == 2)
        take_entries(j);
    p->idle = j->scanned == 0;
    p->reading = NULL;
    job_free(j);
    if (export_reader_closing(e->reader))
        return;
    dispatch(p, app_now_ms());
    export_advance(e, p, false);
    if (more)
        fill(e, p);
}

static void fill(struct exporter *e, struct pipe *p)
{
    /* read in batches: only once half the window is free (not one query per acknowledgement);
     * one read per pipe at a time, on the reader thread */
    if (p->reading != NULL || p->n > EXPORT_WINDOW / 2 || p->bytes >= EXPORT_WINDOW_BYTES / 2)
        return;
    struct read_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return; /* read at the next tick */
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(p->x->def, "enrichments");
    j->w.run = job_run;
    j->w.done = job_done;
    j->p = p;
    j->src = p->x->src;
    j->filter = p->filter;
    j->xf = p->xf;
    j->app_id = e->app->facts.id_scope;
    j->has_enr = cJSON_IsObject(spec) && spec->child != NULL;
    j->after = p->read_to;
    j->limit = EXPORT_WINDOW - p->n;
    j->bytes_room = EXPORT_WINDOW_BYTES - p->bytes;
    p->reading = j;
    export_reader_post(e->reader, &j->w);
}
/* The devices with an unacknowledged row earlier in the window: an open-addressing set of their
 * hashes in the pipe (twice the window's size, so never full). A place is taken when its
 * generation is this dispatch's, so nothing is cleared between dispatches. */
#define BUSY_SLOTS (2 * EXPORT_WINDOW)

/* Add @p h; @return true when it was there already. */
static bool busy_test_add(struct pipe *p, uint64_t h)
{
    for (size_t i = (size_t)(h % BUSY_SLOTS);; i = (i + 1) % BUSY_SLOTS) {
        if (p->busy_gen[i] != p->busy_now) {
            p->busy_gen[i] = p->busy_now;
            p->busy_h[i] = h;
            return false;
        }
        if (p->busy_h[i] == h)
            return true;
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
    probe(p, now);
    if (++p->busy_now == 0) { /* once in 2^32 dispatches */
        memset(p->busy_gen, 0, sizeof p->busy_gen);
        p->busy_now = 1;
    }
    size_t n_blocked = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct slot *s = slot_at(p, i);
        if (s->st == SLOT_DONE)
            continue;
        bool blocked = busy_test_add(p, s->dev_hash);
        /* a deep window of few devices: stop after so many rows waiting for their device (they
         * go once the rows before them are done) rather than scan the whole window every time */
        if (blocked && ++n_blocked >= EXPORT_DISPATCH_BLOCKED_MAX)
            break;
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
    if (p->xf_broken) { /* held (see rebuild()); its cursor is still saved, so that a restart
                         * resumes from it instead of the source's end */
        export_advance(e, p, save);
        return;
    }
    /* after a read that found nothing, only the tick reads again: a kick per acknowledgement
     * would query an idle source once per message (new rows commit through the writer, so a
     * kick rarely sees them earlier than the tick) */
    if (save || !p->idle)
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
