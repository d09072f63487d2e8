/*
 * export.c - data export: definitions and their REST answers, the pipes' set-up and cursors,
 * recording device events, start and stop (see export.h and docs/EXPORT.md); the pipes run in
 * export_pipe.c.
 *
 * A pipe (one export, one destination) holds a window of rows read from the export's source
 * after its cursor. Rows go to the destination as the destination has room, but never a row
 * while an earlier row of the same device is unacknowledged (per-device order); a retried row
 * keeps its place. The cursor is the row id below which every row is acknowledged (or refused
 * for good): it only moves over a done prefix of the window, and is written through the store
 * after that, so a restart resends what was in flight and skips nothing.
 */
#include "central/export/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/app/appl.h"
#include "central/base/events.h"
#include "central/base/log.h"
#include "central/export/export_int.h"
#include "central/export/export_sender.h"
#include "central/store/store.h"

/* ---------------------------------------------------------------- definitions */

static struct dest_def *find_dest(struct exporter *e, const char *id)
{
    for (struct dest_def *d = e->dests; d != NULL; d = d->next) {
        if (strcmp(d->id, id) == 0)
            return d;
    }
    return NULL;
}

static struct xport *find_export(struct exporter *e, const char *id)
{
    for (struct xport *x = e->exports; x != NULL; x = x->next) {
        if (strcmp(x->id, id) == 0)
            return x;
    }
    return NULL;
}

static int64_t take_saved_cursor(struct exporter *e, const char *export_id, const char *dest_id,
                                 bool *found)
{
    for (struct saved_cursor **pp = &e->cursors; *pp != NULL; pp = &(*pp)->next) {
        struct saved_cursor *c = *pp;
        if (strcmp(c->export_id, export_id) == 0 && strcmp(c->dest_id, dest_id) == 0) {
            int64_t seq = c->seq;
            *pp = c->next;
            free(c->export_id);
            free(c->dest_id);
            free(c);
            *found = true;
            return seq;
        }
    }
    *found = false;
    return 0;
}

/* The pipes of @p x, one per destination it names; cursors carry over from its old pipes to the
 * same destination when @p keep (same source), else come from the store, else start at the
 * current end of the source. */
static int rebuild(struct exporter *e, struct xport *x, bool keep)
{
    struct pipe *old = x->pipes, **tail = &x->pipes;
    const cJSON *dests = cJSON_GetObjectItemCaseSensitive(x->def, "destinations"), *dd;
    int rc = CE_OK;
    x->pipes = NULL;
    cJSON_ArrayForEach(dd, dests)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(dd, "id");
        struct dest_def *d = cJSON_IsString(id) ? find_dest(e, id->valuestring) : NULL;
        if (d == NULL) {
            log_warn("export %s: destination %s does not exist", x->id,
                     cJSON_IsString(id) ? id->valuestring : "?");
            continue;
        }
        struct pipe *p = calloc(1, sizeof *p), *o;
        if (p == NULL || (p->dest_id = strdup(d->id)) == NULL) {
            free(p);
            rc = CE_NOMEM;
            break;
        }
        p->x = x;
        if (x->filter != NULL) { /* the reader thread's own copy (x->filter changes on the loop) */
            p->filter = malloc(sizeof *p->filter);
            if (p->filter == NULL) {
                export_pipe_free(p);
                rc = CE_NOMEM;
                break;
            }
            *p->filter = *x->filter;
        }
        bool found = false;
        for (o = old; keep && o != NULL && !found; o = o->next) {
            if (strcmp(o->dest_id, d->id) == 0) {
                p->cursor = o->cursor;
                p->saved = o->saved;
                found = true;
            }
        }
        if (!found) {
            p->cursor = take_saved_cursor(e, x->id, d->id, &found);
            p->saved = p->cursor;
        }
        if (!found) {
            store_export_tail(e->se, export_log_of(x->src), export_source_name(x->src), &p->cursor);
            p->saved = -1; /* written by the first export_advance() */
        }
        p->read_to = p->cursor;
        /* A transform was checked when saved; one that does not compile now (another libjq, a
         * store written by other means, the watchdog thread not starting) holds the pipe: sending
         * untransformed messages would hand the consumer another format. The rows wait (lag
         * grows, the status is error) until the export is saved again. */
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(dd, "transform");
        char why[160] = "";
        if (cJSON_IsString(tr) && tr->valuestring[0] != '\0' &&
            export_transform_new(tr->valuestring, &p->xf, why, sizeof why) != 0) {
            char msg[200];
            p->xf_broken = true;
            snprintf(msg, sizeof msg,
                     "destination %s: the transform does not compile (%s); nothing is sent until "
                     "the export is saved again",
                     d->id, why);
            export_record_error(x, msg);
            log_error("export %s: %s", x->id, msg);
        }
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(d->def, "type");
        rc = cJSON_IsString(type) && strcmp(type->valuestring, "webhook@v1") == 0
                 ? export_webhook_new(e->sender, d->def, &p->dest)
                 : export_kafka_new(e->app, d->def, &p->dest);
        if (rc != CE_OK) {
            export_pipe_free(p);
            break;
        }
        *tail = p;
        tail = &p->next;
    }
    for (struct pipe *o = old, *next; o != NULL; o = next) {
        next = o->next;
        export_pipe_free(o);
    }
    export_kick(e);
    return rc;
}

static void xport_free(struct xport *x)
{
    for (struct pipe *p = x->pipes, *next; p != NULL; p = next) {
        next = p->next;
        export_pipe_free(p);
    }
    cJSON_Delete(x->def);
    free(x->filter);
    free(x->id);
    free(x);
}

/* Apply a checked definition to @p x (new or existing). */
static int xport_set(struct exporter *e, struct xport *x, cJSON *def)
{
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(def, "source");
    const cJSON *filter = cJSON_GetObjectItemCaseSensitive(def, "filter");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(def, "enabled");
    enum export_source s = EXPORT_SRC_TELEMETRY;
    export_source_parse(cJSON_IsString(src) ? src->valuestring : NULL, &s);
    bool keep = x->def != NULL && s == x->src;
    struct export_filter *f = NULL;
    if (cJSON_IsString(filter)) {
        f = malloc(sizeof *f);
        if (f == NULL || export_filter_parse(filter->valuestring, f, NULL, 0) < 0) {
            int rc = f == NULL ? CE_NOMEM : CE_INVALID;
            free(f);
            cJSON_Delete(def);
            return rc;
        }
    }
    cJSON_Delete(x->def);
    free(x->filter);
    x->def = def;
    x->filter = f;
    x->src = s;
    x->enabled = en == NULL || cJSON_IsTrue(en);
    return rebuild(e, x, keep);
}

static bool names_dest(const struct xport *x, const char *dest_id)
{
    const cJSON *dests = cJSON_GetObjectItemCaseSensitive(x->def, "destinations"), *dd;
    cJSON_ArrayForEach(dd, dests)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(dd, "id");
        if (cJSON_IsString(id) && strcmp(id->valuestring, dest_id) == 0)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- JSON answers */

static int rank(const char *status)
{
    static const char *const order[] = {"disabled", "starting", "healthy", "warning", "error"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(status, order[i]) == 0)
            return i;
    }
    return 0;
}

static const char *pipe_status(const struct pipe *p)
{
    if (p->xf_broken && p->x->enabled)
        return "error";
    return export_status_name(p->x->enabled, p->delivered, p->failed + p->dropped, p->retrying);
}

static void mask_secrets(cJSON *o)
{
    cJSON *auth = cJSON_GetObjectItemCaseSensitive(o, "authorization");
    static const char *const secret[] = {"value", "password", "connectionString", "clientSecret"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        if (cJSON_GetObjectItemCaseSensitive(auth, secret[i]) != NULL)
            cJSON_ReplaceItemInObjectCaseSensitive(auth, secret[i], cJSON_CreateString("*****"));
    }
    cJSON *hc = cJSON_GetObjectItemCaseSensitive(o, "headerCustomizations"), *h;
    cJSON_ArrayForEach(h, hc)
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "secret")))
            cJSON_ReplaceItemInObjectCaseSensitive(h, "value", cJSON_CreateString("*****"));
    }
}

/* The destination's own errors, as IoT Central answers them on a destination: those of the
 * exports' errors that name it (a token request that failed, a refused message), newest first. */
static void add_dest_errors(struct exporter *e, const char *dest_id, cJSON *o)
{
    char prefix[160];
    snprintf(prefix, sizeof prefix, "destination %s: ", dest_id);
    size_t plen = strlen(prefix), n = 0;
    const struct err_entry *pick[EXPORT_ERRORS_MAX];
    for (const struct xport *x = e->exports; x != NULL; x = x->next) {
        for (size_t i = 0; i < x->n_errs; i++) {
            const struct err_entry *en =
                &x->errs[(x->err_next + EXPORT_ERRORS_MAX - 1 - i) % EXPORT_ERRORS_MAX];
            if (strncmp(en->message, prefix, plen) != 0)
                continue;
            /* keep the newest EXPORT_ERRORS_MAX, newest first (times sort as text) */
            size_t at = n;
            while (at > 0 && strcmp(pick[at - 1]->time, en->time) < 0)
                at--;
            if (at == EXPORT_ERRORS_MAX)
                continue;
            if (n < EXPORT_ERRORS_MAX)
                n++;
            memmove(&pick[at + 1], &pick[at], (n - 1 - at) * sizeof pick[0]);
            pick[at] = en;
        }
    }
    cJSON *errs = cJSON_AddArrayToObject(o, "errors");
    for (size_t i = 0; errs != NULL && i < n; i++) {
        cJSON *eo = cJSON_CreateObject();
        cJSON_AddStringToObject(eo, "time", pick[i]->time);
        cJSON_AddStringToObject(eo, "message", pick[i]->message);
        cJSON_AddItemToArray(errs, eo);
    }
}

static cJSON *dest_json(struct exporter *e, const struct dest_def *d)
{
    cJSON *o = cJSON_Duplicate(d->def, true);
    if (o == NULL)
        return NULL;
    mask_secrets(o);
    cJSON_AddStringToObject(o, "id", d->id);
    const char *status = "waiting";
    for (struct xport *x = e->exports; x != NULL; x = x->next) {
        for (struct pipe *p = x->pipes; x->enabled && p != NULL; p = p->next) {
            if (strcmp(p->dest_id, d->id) != 0)
                continue;
            const char *ps = pipe_status(p);
            if (strcmp(status, "waiting") == 0 || rank(ps) > rank(status))
                status = ps;
        }
    }
    cJSON_AddStringToObject(o, "status", status);
    add_dest_errors(e, d->id, o);
    return o;
}

static cJSON *export_json(struct exporter *e, const struct xport *x)
{
    cJSON *o = cJSON_Duplicate(x->def, true);
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "id", x->id);
    const char *status = x->enabled ? "starting" : "disabled";
    uint64_t delivered = 0, failed = 0, dropped = 0;
    int64_t lag_n = 0, lag_s = 0, now = app_now_ms();
    for (const struct pipe *p = x->pipes; p != NULL; p = p->next) {
        const char *ps = pipe_status(p);
        if (rank(ps) > rank(status))
            status = ps;
        delivered += p->delivered;
        failed += p->failed;
        dropped += p->dropped;
        int64_t n = 0, oldest = 0;
        if (store_export_lag(e->se, export_log_of(x->src), export_source_name(x->src), p->cursor,
                             &n, &oldest) == CE_OK) {
            if (n > lag_n)
                lag_n = n;
            if (n > 0 && oldest > 0 && (now - oldest) / 1000 > lag_s)
                lag_s = (now - oldest) / 1000;
        }
    }
    cJSON_AddStringToObject(o, "status", status);
    cJSON *errs = cJSON_AddArrayToObject(o, "errors");
    for (size_t i = 0; errs != NULL && i < x->n_errs; i++) {
        /* newest first */
        const struct err_entry *en =
            &x->errs[(x->err_next + EXPORT_ERRORS_MAX - 1 - i) % EXPORT_ERRORS_MAX];
        cJSON *eo = cJSON_CreateObject();
        cJSON_AddStringToObject(eo, "time", en->time);
        cJSON_AddStringToObject(eo, "message", en->message);
        cJSON_AddItemToArray(errs, eo);
    }
    cJSON *st = cJSON_AddObjectToObject(o, "stats");
    cJSON_AddNumberToObject(st, "delivered", (double)delivered);
    cJSON_AddNumberToObject(st, "failed", (double)failed);
    cJSON_AddNumberToObject(st, "deletedBeforeExport", (double)dropped);
    cJSON_AddNumberToObject(st, "lagMessages", (double)lag_n);
    cJSON_AddNumberToObject(st, "lagSeconds", (double)lag_s);
    return o;
}

/* ---------------------------------------------------------------- REST entry points */

/* Read-only members a client may send back from a GET. */
static void strip_read_only(cJSON *o)
{
    static const char *const ro[] = {"id", "status", "errors", "stats", "lastExportTime"};
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(o, ro[i]);
}

static cJSON *merged(const cJSON *base, const cJSON *patch)
{
    cJSON *o = base != NULL ? cJSON_Duplicate(base, true) : cJSON_CreateObject();
    const cJSON *m;
    if (o == NULL || !cJSON_IsObject(patch))
        return o;
    cJSON_ArrayForEach(m, patch)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(o, m->string);
        if (!cJSON_IsNull(m))
            cJSON_AddItemToObject(o, m->string, cJSON_Duplicate(m, true));
    }
    return o;
}

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 128)
        return false;
    for (const char *p = id; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    }
    return true;
}

static void save_def(struct exporter *e, enum export_kind kind, const char *id, const cJSON *def)
{
    char *text = cJSON_PrintUnformatted(def);
    if (text == NULL ||
        store_export_put_def(e->se, kind == EXPORT_KIND_EXPORT ? "export" : "destination", id,
                             text) != CE_OK)
        log_error("export: cannot queue the definition of %s", id);
    free(text);
}

static int put_destination(struct exporter *e, const char *id, cJSON *def, bool *created)
{
    struct dest_def *d = find_dest(e, id);
    *created = d == NULL;
    if (d == NULL) {
        d = calloc(1, sizeof *d);
        if (d == NULL || (d->id = strdup(id)) == NULL) {
            free(d);
            cJSON_Delete(def);
            return CE_NOMEM;
        }
        d->next = e->dests;
        e->dests = d;
    }
    cJSON_Delete(d->def);
    d->def = def;
    /* the pipes to it pick up the new URL and headers; their cursors stay */
    for (struct xport *x = e->exports; x != NULL; x = x->next) {
        if (names_dest(x, id))
            rebuild(e, x, true);
    }
    return CE_OK;
}

static int put_export(struct exporter *e, const char *id, cJSON *def, bool *created)
{
    struct xport *x = find_export(e, id);
    *created = x == NULL;
    if (x == NULL) {
        x = calloc(1, sizeof *x);
        if (x == NULL || (x->id = strdup(id)) == NULL) {
            free(x);
            cJSON_Delete(def);
            return CE_NOMEM;
        }
        x->e = e;
        x->next = e->exports;
        e->exports = x;
    }
    return xport_set(e, x, def);
}

/* A destination's transform compiles now, or the export is refused with jq's message. */
static int check_transform(const cJSON *tr, int i, char *err, size_t err_size)
{
    if (!cJSON_IsString(tr) || tr->valuestring[0] == '\0')
        return 0;
    struct export_transform *t = NULL;
    char why[256];
    if (export_transform_new(tr->valuestring, &t, why, sizeof why) != 0) {
        snprintf(err, err_size, "destinations[%d].transform: %s", i, why);
        return -1;
    }
    export_transform_free(t);
    return 0;
}

int export_def_put(struct app *app, enum export_kind kind, const char *id, const cJSON *body,
                   bool patch, cJSON **out, bool *out_created, char *err, size_t err_size)
{
    struct exporter *e = app->exporter;
    *out = NULL;
    *out_created = false;
    if (e == NULL)
        return CE_BUSY;
    if (!id_ok(id)) {
        snprintf(err, err_size, "id: 1-128 letters, digits, '-', '_' or '.'");
        return CE_INVALID;
    }
    if (!cJSON_IsObject(body)) {
        snprintf(err, err_size, "body: a JSON object is required");
        return CE_INVALID;
    }
    const cJSON *base = NULL;
    if (kind == EXPORT_KIND_DESTINATION && find_dest(e, id) != NULL)
        base = find_dest(e, id)->def;
    if (kind == EXPORT_KIND_EXPORT && find_export(e, id) != NULL)
        base = find_export(e, id)->def;
    if (patch && base == NULL)
        return CE_NOTFOUND;
    cJSON *def = patch ? merged(base, body) : cJSON_Duplicate(body, true);
    if (def == NULL)
        return CE_NOMEM;
    strip_read_only(def);
    int rc = kind == EXPORT_KIND_DESTINATION ? export_check_destination(def, err, err_size)
                                             : export_check_export(def, err, err_size);
    if (rc == 0 && kind == EXPORT_KIND_EXPORT) {
        const cJSON *dd;
        int i = 0;
        cJSON_ArrayForEach(dd, cJSON_GetObjectItemCaseSensitive(def, "destinations"))
        {
            const cJSON *did = cJSON_GetObjectItemCaseSensitive(dd, "id");
            if (find_dest(e, did->valuestring) == NULL) {
                snprintf(err, err_size, "destinations[%d].id: no destination '%.128s'", i,
                         did->valuestring);
                rc = -1;
                break;
            }
            if (check_transform(cJSON_GetObjectItemCaseSensitive(dd, "transform"), i, err,
                                err_size) != 0) {
                rc = -1;
                break;
            }
            i++;
        }
    }
    if (rc != 0) {
        cJSON_Delete(def);
        return CE_INVALID;
    }
    save_def(e, kind, id, def);
    rc = kind == EXPORT_KIND_DESTINATION ? put_destination(e, id, def, out_created)
                                         : put_export(e, id, def, out_created);
    if (rc != CE_OK)
        return rc;
    *out = export_def_get(app, kind, id);
    return *out != NULL ? CE_OK : CE_NOMEM;
}

cJSON *export_def_get(struct app *app, enum export_kind kind, const char *id)
{
    struct exporter *e = app->exporter;
    if (e == NULL)
        return NULL;
    if (kind == EXPORT_KIND_DESTINATION) {
        struct dest_def *d = find_dest(e, id);
        return d != NULL ? dest_json(e, d) : NULL;
    }
    struct xport *x = find_export(e, id);
    return x != NULL ? export_json(e, x) : NULL;
}

cJSON *export_def_list(struct app *app, enum export_kind kind)
{
    struct exporter *e = app->exporter;
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL || e == NULL)
        return arr;
    /* oldest first: the lists are newest first */
    size_t n = 0;
    if (kind == EXPORT_KIND_DESTINATION) {
        for (struct dest_def *d = e->dests; d != NULL; d = d->next)
            n++;
        for (size_t i = n; i-- > 0;) {
            struct dest_def *d = e->dests;
            for (size_t k = 0; k < i; k++)
                d = d->next;
            cJSON_AddItemToArray(arr, dest_json(e, d));
        }
    } else {
        for (struct xport *x = e->exports; x != NULL; x = x->next)
            n++;
        for (size_t i = n; i-- > 0;) {
            struct xport *x = e->exports;
            for (size_t k = 0; k < i; k++)
                x = x->next;
            cJSON_AddItemToArray(arr, export_json(e, x));
        }
    }
    return arr;
}

int export_def_delete(struct app *app, enum export_kind kind, const char *id, char *err,
                      size_t err_size)
{
    struct exporter *e = app->exporter;
    if (e == NULL)
        return CE_BUSY;
    if (kind == EXPORT_KIND_DESTINATION) {
        struct dest_def **pp = &e->dests;
        while (*pp != NULL && strcmp((*pp)->id, id) != 0)
            pp = &(*pp)->next;
        if (*pp == NULL)
            return CE_NOTFOUND;
        for (struct xport *x = e->exports; x != NULL; x = x->next) {
            if (names_dest(x, id)) {
                snprintf(err, err_size, "destination %.128s is used by export %.128s", id, x->id);
                return CE_EXISTS;
            }
        }
        struct dest_def *d = *pp;
        *pp = d->next;
        store_export_delete_def(e->se, "destination", id);
        cJSON_Delete(d->def);
        free(d->id);
        free(d);
        return CE_OK;
    }
    struct xport **pp = &e->exports;
    while (*pp != NULL && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    if (*pp == NULL)
        return CE_NOTFOUND;
    struct xport *x = *pp;
    *pp = x->next;
    store_export_delete_def(e->se, "export", id);
    store_export_delete_cursors(e->se, id, NULL);
    xport_free(x);
    return CE_OK;
}

/* ---------------------------------------------------------------- recording events */

/* A disabled export keeps its cursor and resumes from it, so its events are recorded too. */
static bool wanted(struct exporter *e, enum export_source s)
{
    for (struct xport *x = e->exports; x != NULL; x = x->next) {
        if (x->src == s)
            return true;
    }
    return false;
}

/* Property changes, connectivity and lifecycle go to export_events in the same loop turn as
 * the change, in the same seal group as its own write (docs/EXPORT.md). Only while an export of
 * that source exists: a new export starts at the end of its source anyway. */
/* Deleting a device deletes its telemetry (store_app_forget_device), queued by the application
 * layer in this same callback and not committed yet: count what each telemetry pipe had not read,
 * so that the loss is reported rather than silent (docs/EXPORT.md, "Retention"). */
static void count_deleted(struct exporter *e, const char *device_id)
{
    for (struct xport *x = e->exports; x != NULL; x = x->next) {
        for (struct pipe *p = x->pipes; x->src == EXPORT_SRC_TELEMETRY && p != NULL; p = p->next) {
            int64_t n = 0;
            if (store_export_count_device(e->se, device_id, p->read_to, &n) != CE_OK || n == 0)
                continue;
            char msg[200];
            p->dropped += (uint64_t)n;
            snprintf(msg, sizeof msg,
                     "destination %s: %lld telemetry messages of %s were deleted with the device "
                     "before they were exported",
                     p->dest_id, (long long)n, device_id);
            export_record_error(x, msg);
            log_warn("export %s: %s", x->id, msg);
        }
    }
    /* new rows are numbered above every row ever numbered (store.c, telemetry_seq), so the
     * pipes' cursors stay valid after the deletion */
}

/* deviceLifecycle's messageType for a bus event (IoT Central's names). */
static const char *lifecycle_type(enum ev_type t)
{
    switch (t) {
    case EV_PROVISIONED:
        return "provisioned";
    case EV_DEVICE_REGISTERED:
        return "registered";
    case EV_DEVICE_ENABLED:
        return "enabled";
    case EV_DEVICE_DISABLED:
        return "disabled";
    case EV_DEVICE_RENAMED:
        return "displayNameChanged";
    case EV_DEVICE_TEMPLATE_CHANGED:
        return "deviceTemplateChanged";
    default:
        return "deleted";
    }
}

static void on_event(void *ctx, const struct central_event *ev)
{
    struct exporter *e = ctx;
    if (ev->type == EV_DEVICE_DELETED && ev->device_id != NULL)
        count_deleted(e, ev->device_id);
    enum export_source s;
    const char *type;
    char *data = NULL;
    switch (ev->type) {
    case EV_TELEMETRY:
        return;
    case EV_REPORTED:
    case EV_DESIRED:
        s = EXPORT_SRC_PROPERTIES;
        type = ev->type == EV_REPORTED ? "devicePropertyReportedChange"
                                       : "devicePropertyDesiredChange";
        break;
    case EV_CONNECTED:
    case EV_DISCONNECTED:
        s = EXPORT_SRC_CONNECTIVITY;
        type = ev->type == EV_CONNECTED ? "connected" : "disconnected";
        break;
    case EV_CLOUD_PROPERTIES:
        s = EXPORT_SRC_PROPERTIES;
        type = "cloudPropertyChange";
        break;
    case EV_PROVISIONED:
    case EV_DEVICE_DELETED:
    case EV_DEVICE_REGISTERED:
    case EV_DEVICE_ENABLED:
    case EV_DEVICE_DISABLED:
    case EV_DEVICE_RENAMED:
    case EV_DEVICE_TEMPLATE_CHANGED:
        s = EXPORT_SRC_LIFECYCLE;
        type = lifecycle_type(ev->type);
        break;
    case EV_TEMPLATE_CREATED:
    case EV_TEMPLATE_UPDATED:
    case EV_TEMPLATE_DELETED:
        if (ev->template_id == NULL || !wanted(e, EXPORT_SRC_TEMPLATE_LIFECYCLE))
            return;
        /* no device: the events log's device column is empty, one lane for all templates */
        if (store_export_add_event(e->se, export_source_name(EXPORT_SRC_TEMPLATE_LIFECYCLE),
                                   ev->type == EV_TEMPLATE_CREATED   ? "created"
                                   : ev->type == EV_TEMPLATE_UPDATED ? "updated"
                                                                     : "deleted",
                                   "", ev->template_id,
                                   ev->time_ms > 0 ? ev->time_ms : app_now_ms(), NULL) != CE_OK)
            log_error("export: cannot record a template event of %s", ev->template_id);
        export_kick(e);
        return;
    default:
        return;
    }
    if (ev->device_id == NULL || !wanted(e, s))
        return;
    if (ev->body != NULL && ev->body_len > 0) {
        data = app_strndup(ev->body, ev->body_len);
        if (data == NULL) {
            log_error("export: out of memory recording a %s event of %s", type, ev->device_id);
            return;
        }
    }
    if (store_export_add_event(e->se, export_source_name(s), type, ev->device_id,
                               export_device_template(e, ev->device_id),
                               ev->time_ms > 0 ? ev->time_ms : app_now_ms(), data) != CE_OK)
        log_error("export: cannot record a %s event of %s", type, ev->device_id);
    free(data);
    export_kick(e);
}

void export_prune_events(struct exporter *e)
{
    for (int s = 0; s < EXPORT_SRC_COUNT; s++) {
        if (s == EXPORT_SRC_TELEMETRY) /* telemetry is the device data itself: never pruned here */
            continue;
        int64_t upto = INT64_MAX;
        for (const struct xport *x = e->exports; x != NULL; x = x->next) {
            for (const struct pipe *p = x->pipes; x->src == (enum export_source)s && p != NULL;
                 p = p->next) {
                if (p->cursor < upto)
                    upto = p->cursor;
            }
        }
        if (upto == e->pruned[s]) /* unchanged (a lower bound than last time deletes nothing) */
            continue;
        if (store_export_prune_events(e->se, export_source_name((enum export_source)s), upto) ==
            CE_OK)
            e->pruned[s] = upto;
    }
}

/* ---------------------------------------------------------------- open / close */

struct load_ctx {
    struct exporter *e;
    bool exports; /* second pass */
};

static int load_def(void *arg, const char *kind, const char *id, const char *data)
{
    struct load_ctx *lc = arg;
    bool is_export = strcmp(kind, "export") == 0;
    if (is_export != lc->exports)
        return 0;
    cJSON *def = cJSON_Parse(data);
    bool created;
    int rc = def == NULL ? CE_INVALID
             : is_export ? put_export(lc->e, id, def, &created)
                         : put_destination(lc->e, id, def, &created);
    if (rc != CE_OK)
        log_error("export: cannot load %s %s: %s", kind, id, central_strerror(rc));
    return 0;
}

static int load_cursor(void *arg, const char *export_id, const char *dest_id, int64_t seq)
{
    struct exporter *e = arg;
    struct saved_cursor *c = calloc(1, sizeof *c);
    if (c == NULL)
        return 1;
    c->export_id = strdup(export_id);
    c->dest_id = strdup(dest_id);
    c->seq = seq;
    c->next = e->cursors;
    e->cursors = c;
    return 0;
}

static void free_cursors(struct exporter *e)
{
    for (struct saved_cursor *c = e->cursors, *next; c != NULL; c = next) {
        next = c->next;
        free(c->export_id);
        free(c->dest_id);
        free(c);
    }
    e->cursors = NULL;
}

struct export_sender *export_sender_of(const struct exporter *e)
{
    return e->sender;
}

int export_open(struct app *app)
{
    struct exporter *e = calloc(1, sizeof *e);
    if (e == NULL)
        return CE_NOMEM;
    e->app = app;
    e->sub = -1;
    e->rng = (uint64_t)app_now_ms() * 0x9E3779B97F4A7C15ull | 1;
    app->exporter = e;
    int rc = export_webhook_global_init();
    if (rc == CE_OK)
        rc = export_sender_open(app, &e->sender);
    if (rc == CE_OK)
        rc = store_export_open(app, &e->se);
    if (rc == CE_OK)
        rc = export_reader_open(app, &e->reader);
    if (rc == CE_OK) {
        e->tick = event_new(app->base, -1, EV_PERSIST, export_on_tick, e);
        e->kick = event_new(app->base, -1, 0, export_on_kick, e);
        rc = e->tick != NULL && e->kick != NULL ? CE_OK : CE_NOMEM;
    }
    if (rc == CE_OK)
        rc = store_export_load_cursors(e->se, load_cursor, e);
    struct load_ctx lc = {e, false};
    if (rc == CE_OK)
        rc = store_export_load_defs(e->se, load_def, &lc);
    lc.exports = true;
    if (rc == CE_OK)
        rc = store_export_load_defs(e->se, load_def, &lc);
    free_cursors(e);
    if (rc == CE_OK) {
        e->sub = events_subscribe(app, on_event, e);
        rc = e->sub > 0 ? CE_OK : e->sub;
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = EXPORT_TICK_MS * 1000};
    if (rc == CE_OK && event_add(e->tick, &tv) != 0)
        rc = CE_NOMEM;
    if (rc != CE_OK) {
        log_error("export: cannot start data export: %s", central_strerror(rc));
        export_close(app);
    }
    return rc;
}

void export_close(struct app *app)
{
    struct exporter *e = app->exporter;
    if (e == NULL)
        return;
    if (e->sub > 0)
        events_unsubscribe(app, e->sub);
    /* a clean stop keeps the last acknowledged position (the store commits it before exiting) */
    for (struct xport *x = e->exports; x != NULL; x = x->next) {
        for (struct pipe *p = x->pipes; p != NULL; p = p->next)
            export_advance(e, p, true);
    }
    for (struct xport *x = e->exports, *next; x != NULL; x = next) {
        next = x->next;
        xport_free(x);
    }
    for (struct dest_def *d = e->dests, *next; d != NULL; d = next) {
        next = d->next;
        cJSON_Delete(d->def);
        free(d->id);
        free(d);
    }
    free_cursors(e);
    if (e->tick != NULL)
        event_free(e->tick);
    if (e->kick != NULL)
        event_free(e->kick);
    export_sender_close(e->sender); /* after the pipes: joins once their instances are freed */
    export_reader_close(e->reader); /* after the pipes: their reads are orphans, freed here */
    store_export_close(e->se);
    export_webhook_global_cleanup();
    free(e);
    app->exporter = NULL;
}
