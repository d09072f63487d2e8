/*
 * store_app.h - the application layer's tables in the server's SQLite database.
 *
 * Choice: writes go through store_exec() (store.h), so they share the store's writer thread,
 * its ordering and its group commit, and the event loop never waits for the disk. Reads use a
 * second, read-only-by-convention connection to the same WAL database (busy_timeout 5 s) held by
 * the loop thread: WAL readers never block the writer and see every committed transaction. A
 * write queued a moment ago may not be visible yet to a read; the application layer keeps what
 * must be read back at once (templates, devices, tokens, command history) in memory.
 *
 * Tables (created at open): app_templates, app_devices, app_tokens (id, data JSON),
 * app_enrollment_groups (id, data JSON), app_commands (id, device_id, seq, data JSON), app_raw
 * (seq, device_id, time_ms, kind, data): property reports and connect/disconnect events,
 * app_dashboards (id, data JSON: iotc's own dashboards, docs/API.md), app_rules,
 * app_rule_states and app_alerts (id, data JSON: iotc's own rules). Telemetry is the store's
 * `telemetry` table. Loop thread only, except handles from store_app_open_readonly: each belongs
 * to one reader thread (store_read.h), which runs long reads (series, raw data pages) so the loop
 * never waits for them.
 */
#ifndef CENTRAL_STORE_APP_H
#define CENTRAL_STORE_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"

struct store_app;

/** Open DATA_DIR/central.db a second time and create the tables.
 * @return CE_OK, CE_NOMEM or CE_STORE (logged). */
int store_app_open(struct app *app, struct store_app **out);
void store_app_close(struct store_app *sa);

/**
 * Open DATA_DIR/central.db read-only (no schema work): a handle for one reader thread
 * (store_read.c), usable with the scan and series readers below from that thread only.
 * @return CE_OK, CE_NOMEM or CE_STORE (logged).
 */
int store_app_open_readonly(struct app *app, struct store_app **out);

/**
 * Make queries on @p sa stop (failing: the readers return CE_STORE) as soon as @p stop(@p arg)
 * returns non-zero; SQLite asks every few thousand steps, from the thread running the query.
 */
void store_app_set_stop(struct store_app *sa, int (*stop)(void *arg), void *arg);

/** Row callback of the loaders: return non-zero to stop. */
typedef int (*store_app_row_fn)(void *ctx, const char *id, const char *data);

/** Call @p fn for every row of @p table ("app_templates", ...) in insertion order.
 * @return CE_OK, CE_INVALID (not one of the tables) or CE_STORE. */
int store_app_load(struct store_app *sa, const char *table, store_app_row_fn fn, void *ctx);

/** Upsert (id, data) into @p table (queued). */
void store_app_put(struct store_app *sa, const char *table, const char *id, const char *data);
/**
 * Upsert (id, data) into @p table now, on this connection (committed when it returns): for the
 * few writes that must be durable before the loop acts on them (a job's "started" mark).
 * CE_OK, CE_INVALID (table), CE_STORE.
 */
int store_app_put_sync(struct store_app *sa, const char *table, const char *id, const char *data);
/** Delete row @p id of @p table (queued). */
void store_app_delete(struct store_app *sa, const char *table, const char *id);

/** Upsert a command history entry (queued). */
void store_app_put_command(struct store_app *sa, const char *id, const char *device_id, int64_t seq,
                           const char *data);
/** Load the last @p per_device commands of every device, oldest first. CE_OK / CE_STORE. */
int store_app_load_commands(struct store_app *sa, size_t per_device, store_app_row_fn fn,
                            void *ctx);

/** Append a raw event (kind "property", "connected", "disconnected"), queued. */
void store_app_add_raw(struct store_app *sa, const char *device_id, int64_t time_ms,
                       const char *kind, const char *data);

/** Delete everything stored about a device (commands, raw events, telemetry), queued. */
void store_app_forget_device(struct store_app *sa, const char *device_id);

/** One telemetry row (borrowed during the callback). */
struct store_app_telemetry {
    int64_t seq;
    int64_t time_ms;
    const char *component;  /**< NULL for the root */
    const char *props_json; /**< may be NULL */
    const char *payload;
    size_t payload_len;
};

/** One raw-event row (borrowed during the callback). */
struct store_app_raw {
    int64_t seq;
    int64_t time_ms;
    const char *kind;
    const char *data; /**< may be NULL */
};

typedef int (*store_app_tel_fn)(void *ctx, const struct store_app_telemetry *row);
typedef int (*store_app_raw_fn)(void *ctx, const struct store_app_raw *row);

/**
 * Telemetry rows of @p device_id with from_ms <= time < to_ms and seq > @p after_seq
 * (ascending), or seq < @p after_seq when @p descending (after_seq 0 = from the newest),
 * at most @p limit rows; @p fn may stop early. @return rows visited, or CE_STORE.
 */
long store_app_scan_telemetry(struct store_app *sa, const char *device_id, int64_t from_ms,
                              int64_t to_ms, int64_t after_seq, bool descending, size_t limit,
                              store_app_tel_fn fn, void *ctx);

/** Raw events, same rules (ascending only). @return rows visited, or CE_STORE. */
long store_app_scan_raw(struct store_app *sa, const char *device_id, int64_t from_ms, int64_t to_ms,
                        int64_t after_seq, bool descending, size_t limit, store_app_raw_fn fn,
                        void *ctx);

/** What store_app_series() computes per bucket. */
enum store_agg { STORE_AGG_AVG, STORE_AGG_MIN, STORE_AGG_MAX };

/** One bucket of a series (borrowed during the callback). */
struct store_app_bucket {
    int64_t
        index; /**< 0 .. buckets-1: [from + index*w, from + (index+1)*w), w = (to-from)/buckets */
    int64_t count; /**< numeric values in the bucket (>= 1) */
    double value;  /**< their avg, min or max */
};
typedef int (*store_app_bucket_fn)(void *ctx, const struct store_app_bucket *b);

/**
 * Aggregate the numeric values of telemetry @p name (a DTDL name: letters, digits, '_') of
 * @p component ("" = the root) sent by @p device_id with from_ms <= time < to_ms into
 * @p buckets equal time buckets (1..STORE_SERIES_MAX_BUCKETS), one SQL GROUP BY over the
 * (device_id, enqueued_ms) index: the work is the rows in the range, the answer at most
 * @p buckets rows. Empty buckets are not reported; @p fn is called in bucket order and may stop.
 * Rows whose payload is not JSON or whose value is not a number are left out.
 * @return buckets reported, CE_INVALID (bad name, range or bucket count) or CE_STORE.
 */
#define STORE_SERIES_MAX_BUCKETS 5000
long store_app_series(struct store_app *sa, const char *device_id, const char *component,
                      const char *name, int64_t from_ms, int64_t to_ms, int buckets,
                      enum store_agg agg, store_app_bucket_fn fn, void *ctx);

#endif /* CENTRAL_STORE_APP_H */
