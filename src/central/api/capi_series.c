/*
 * capi_series.c - iotc's own telemetry series endpoint (not in IoT Central's API):
 * GET /api/devices/{id}[/components/{c}]/telemetry/{name}/series?from=&to=&buckets=&agg=
 * answers at most `buckets` aggregated points over the time range, whatever the number of rows
 * in it, from one SQL GROUP BY in the store (store_app_series()). The web UI's charts use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"
#include "central/store/store_app.h"

#define SERIES_DEFAULT_BUCKETS 200

struct series_ctx {
    cJSON *arr;
    int64_t from, width_num; /* bucket i starts at from + i * width_num / buckets */
    int buckets;
};

static int64_t bucket_start(const struct series_ctx *s, int64_t i)
{
    return s->from + i * s->width_num / s->buckets;
}

static int series_row(void *ctx, const struct store_app_bucket *b)
{
    struct series_ctx *s = ctx;
    char ts[32], te[32];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return 1;
    appl_time(bucket_start(s, b->index), ts);
    appl_time(bucket_start(s, b->index + 1), te);
    cJSON_AddStringToObject(o, "timestamp", ts);
    cJSON_AddStringToObject(o, "end", te);
    cJSON_AddNumberToObject(o, "count", (double)b->count);
    cJSON_AddNumberToObject(o, "value", b->value);
    cJSON_AddItemToArray(s->arr, o);
    return 0;
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
    bool comp_path = strcmp(c->seg[3], "components") == 0;
    const char *comp = comp_path ? c->seg[4] : "";
    const char *name = comp_path ? c->seg[6] : c->seg[4];
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
    struct series_ctx s = {cJSON_CreateArray(), from, to - from, buckets};
    cJSON *o = cJSON_CreateObject();
    if (s.arr == NULL || o == NULL) {
        cJSON_Delete(s.arr);
        cJSON_Delete(o);
        capi_oom(c);
        return;
    }
    long n = store_app_series(a->db, d->id, comp, name, from, to, buckets, agg, series_row, &s);
    if (n == CE_INVALID) {
        cJSON_Delete(s.arr);
        cJSON_Delete(o);
        capi_error(c, 400, "InvalidParameter",
                   "The telemetry name or the time range cannot be used for a series.");
        return;
    }
    if (n < 0) {
        cJSON_Delete(s.arr);
        cJSON_Delete(o);
        capi_error(c, 500, "InternalError", "The telemetry store failed.");
        return;
    }
    char tf[32], tt[32];
    appl_time(from, tf);
    appl_time(to, tt);
    cJSON_AddStringToObject(o, "from", tf);
    cJSON_AddStringToObject(o, "to", tt);
    cJSON_AddNumberToObject(o, "buckets", buckets);
    cJSON_AddNumberToObject(o, "bucketMs", (double)(to - from) / buckets);
    cJSON_AddStringToObject(o, "agg", agg_name);
    cJSON_AddItemToObject(o, "value", s.arr);
    capi_reply(c, 200, o);
}
