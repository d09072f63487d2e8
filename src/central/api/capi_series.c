/*
 * capi_series.c - iotc's own telemetry series endpoint (not in IoT Central's API):
 * GET /api/devices/{id}[/components/{c}]/telemetry/{name}/series?from=&to=&buckets=&agg=
 * answers at most `buckets` aggregated points over the time range, whatever the number of rows
 * in it, from one SQL GROUP BY in the store (store_app_series()). The web UI's charts use it.
 * The query runs on a reader thread (capi_read_start, store_read.h); the request is answered
 * when it ends, and meanwhile the loop serves devices and other requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"
#include "central/store/store_app.h"

#define SERIES_DEFAULT_BUCKETS 200

/* The query's copy of the request and its result (capi_read.h: filled on a reader thread). */
struct series_job {
    struct capi_read base;
    char *device_id, *comp, *name;
    int64_t from, to;
    int buckets;
    enum store_agg agg;
    const char *agg_name; /* static */
    struct store_app_bucket *b;
    size_t n, cap;
    bool oom;
};

static int64_t bucket_start(const struct series_job *s, int64_t i)
{
    return s->from + i * (s->to - s->from) / s->buckets;
}

/* Reader thread: keep the bucket (at most s->buckets of them). */
static int collect(void *ctx, const struct store_app_bucket *b)
{
    struct series_job *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct store_app_bucket *v = realloc(s->b, cap * sizeof *v);
        if (v == NULL) {
            s->oom = true;
            return 1;
        }
        s->b = v;
        s->cap = cap;
    }
    s->b[s->n++] = *b;
    return 0;
}

/* Reader thread. */
static long series_run(struct store_app *sa, void *arg)
{
    struct series_job *s = arg;
    return store_app_series(sa, s->device_id, s->comp, s->name, s->from, s->to, s->buckets, s->agg,
                            collect, s);
}

static cJSON *bucket_json(const struct series_job *s, const struct store_app_bucket *b)
{
    char ts[32], te[32];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    appl_time(bucket_start(s, b->index), ts);
    appl_time(bucket_start(s, b->index + 1), te);
    cJSON_AddStringToObject(o, "timestamp", ts);
    cJSON_AddStringToObject(o, "end", te);
    cJSON_AddNumberToObject(o, "count", (double)b->count);
    cJSON_AddNumberToObject(o, "value", b->value);
    return o;
}

/* Loop thread: the answer. */
static void series_finish(struct capi_read *job, struct http_ctx *c, long n)
{
    struct series_job *s = (struct series_job *)job;
    if (n == CE_INVALID) {
        capi_error(c, 400, "InvalidParameter",
                   "The telemetry name or the time range cannot be used for a series.");
        return;
    }
    if (capi_read_failed(c, n, "telemetry"))
        return;
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (o == NULL || arr == NULL || s->oom) {
        cJSON_Delete(o);
        cJSON_Delete(arr);
        capi_oom(c);
        return;
    }
    for (size_t i = 0; i < s->n; i++)
        cJSON_AddItemToArray(arr, bucket_json(s, &s->b[i]));
    char tf[32], tt[32];
    appl_time(s->from, tf);
    appl_time(s->to, tt);
    cJSON_AddStringToObject(o, "from", tf);
    cJSON_AddStringToObject(o, "to", tt);
    cJSON_AddNumberToObject(o, "buckets", s->buckets);
    cJSON_AddNumberToObject(o, "bucketMs", (double)(s->to - s->from) / s->buckets);
    cJSON_AddStringToObject(o, "agg", s->agg_name);
    cJSON_AddItemToObject(o, "value", arr);
    capi_reply(c, 200, o);
}

static void series_release(struct capi_read *job)
{
    struct series_job *s = (struct series_job *)job;
    free(s->device_id);
    free(s->comp);
    free(s->name);
    free(s->b);
    free(s);
}

static int parse_buckets(struct http_ctx *c, int *out)
{
    char buf[16], *end;
    int rc = capi_param(c, "buckets", buf, sizeof buf);
    *out = SERIES_DEFAULT_BUCKETS;
    if (rc <= 0)
        return rc;
    long v = strtol(buf, &end, 10);
    if (*end != '\0' || end == buf || v < 1 || v > STORE_SERIES_MAX_BUCKETS) {
        capi_error(c, 400, "InvalidParameter", "buckets must be a whole number from 1 to %d.",
                   STORE_SERIES_MAX_BUCKETS);
        return CE_INVALID;
    }
    *out = (int)v;
    return 0;
}

static int parse_agg(struct http_ctx *c, enum store_agg *out, const char **name)
{
    static const char *const names[] = {"avg", "min", "max"};
    char buf[16];
    int rc = capi_param(c, "agg", buf, sizeof buf);
    *out = STORE_AGG_AVG;
    *name = names[0];
    if (rc < 0)
        return rc;
    if (rc == 0)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(buf, names[i]) == 0) {
            *out = (enum store_agg)i;
            *name = names[i];
            return 0;
        }
    }
    capi_error(c, 400, "InvalidParameter", "agg must be avg, min or max.");
    return CE_INVALID;
}

void capi_series(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    const char *comp, *name;
    capi_telemetry_path(c, &comp, &name);
    int64_t now = app_now_ms(), from, to;
    int buckets;
    enum store_agg agg;
    const char *agg_name;
    if (dev == NULL || capi_time_param(c, "to", now, &to) < 0 ||
        capi_time_param(c, "from", to - 30 * 60 * 1000, &from) < 0 ||
        parse_buckets(c, &buckets) < 0 || parse_agg(c, &agg, &agg_name) < 0)
        return;
    if (from >= to || from < 0) {
        capi_error(c, 400, "InvalidParameter", "from must be before to.");
        return;
    }
    struct appl_template *t = appl_device_template(a, d);
    const struct dtdl_capability *cap = t ? dtdl_find(t->model, comp, name) : NULL;
    if (t != NULL && (cap == NULL || cap->kind != DTDL_TELEMETRY)) {
        capi_error(c, 404, "TelemetryNotFound",
                   "The template of device %s has no telemetry \"%s\"%s%s.", d->id, name,
                   comp[0] ? " in component " : "", comp);
        return;
    }
    struct series_job *s = capi_read_new(sizeof *s, series_finish, series_release);
    if (s != NULL) {
        s->device_id = strdup(d->id);
        s->comp = strdup(comp);
        s->name = strdup(name);
        s->from = from;
        s->to = to;
        s->buckets = buckets;
        s->agg = agg;
        s->agg_name = agg_name;
    }
    /* the query visits every row in the range: a reader thread runs it, the loop goes on */
    capi_read_go(c, s ? &s->base : NULL, s && s->device_id && s->comp && s->name, series_run);
}
