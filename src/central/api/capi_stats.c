/*
 * capi_stats.c - GET /api/stats, iotc's own (not IoT Central's): the per-stage counters of the
 * device-to-cloud path for operators (docs/OPERATIONS.md#counters), read on the loop thread
 * from the broker's plain counters and the store writer's (one lock).
 */
#include "central/api/capi_int.h"
#include "central/hub/broker.h"
#include "central/store/store.h"

static void add(cJSON *o, const char *name, double v)
{
    cJSON_AddNumberToObject(o, name, v);
}

void capi_stats(struct http_ctx *c)
{
    struct broker_stats b;
    struct store_stats s = {0};
    broker_stats_get(c->app, &b);
    if (c->app->store != NULL)
        store_stats_get(c->app->store, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON *hub = cJSON_AddObjectToObject(o, "hub");
    cJSON *st = cJSON_AddObjectToObject(o, "store");
    if (hub == NULL || st == NULL) {
        cJSON_Delete(o);
        capi_error(c, 500, "InternalError", "out of memory");
        return;
    }
    add(hub, "connections", (double)broker_connection_count(c->app));
    add(hub, "parsed", (double)b.parsed);
    add(hub, "handedOff", (double)b.handed_off);
    add(hub, "bagCacheHits", (double)b.bag_hits);
    add(hub, "acksReleased", (double)b.acks_released);
    add(hub, "flushTurns", (double)b.flush_turns);
    add(hub, "writes", (double)b.writes);
    add(st, "committed", (double)s.committed);
    add(st, "commits", (double)s.commits);
    add(st, "rowsPerCommit", s.commits ? (double)s.committed / (double)s.commits : 0);
    add(st, "batchMax", (double)s.batch_max);
    add(st, "commitMs", (double)s.commit_ns / 1e6);
    add(st, "commitMsPerCommit", s.commits ? (double)s.commit_ns / 1e6 / (double)s.commits : 0);
    add(st, "queueDepth", (double)s.queue_depth);
    add(st, "queueMax", (double)s.queue_max);
    add(st, "wakeups", (double)s.wakeups);
    add(st, "completions", (double)s.completions);
    add(st, "delayedCommits", (double)s.delayed);
    add(st, "sqliteBytes", (double)s.sqlite_bytes);
    add(st, "sqliteBytesMax", (double)s.sqlite_bytes_max);
    capi_reply(c, 200, o);
}
