/*
 * store_export.h - the data export tables (docs/EXPORT.md): export_events (the append-only log
 * of device events other than telemetry), export_defs (destinations and exports as JSON) and
 * export_cursors (one acknowledged position per export and destination), plus the reads an
 * export makes of its source: rows after its cursor, in row-id order.
 *
 * Writes are queued through store_exec() (the store's writer thread, FIFO, group commit); reads
 * use a connection of this module, which sees committed rows only (WAL). Row ids (seq) are
 * assigned by the one writer in commit order, so every committed row below a row a read returned
 * was visible to that read. Each struct store_export is used by one thread: the loop's, and the
 * export reader's own (export_reader.c, reads only); the writes need the loop thread.
 */
#ifndef CENTRAL_STORE_EXPORT_H
#define CENTRAL_STORE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"

struct store_export;

/** Which log a read walks: the telemetry table or export_events (of one source). */
enum store_export_log { STORE_EXPORT_TELEMETRY = 0, STORE_EXPORT_EVENTS };

/** Open the database once more and create the tables. CE_OK, CE_NOMEM or CE_STORE (logged). */
int store_export_open(struct app *app, struct store_export **out);
void store_export_close(struct store_export *se);

/** Row callback of the definition and cursor loaders; non-zero stops. */
typedef int (*store_export_def_fn)(void *ctx, const char *kind, const char *id, const char *data);
typedef int (*store_export_cursor_fn)(void *ctx, const char *export_id, const char *dest_id,
                                      int64_t seq);

int store_export_load_defs(struct store_export *se, store_export_def_fn fn, void *ctx);
int store_export_load_cursors(struct store_export *se, store_export_cursor_fn fn, void *ctx);

/** Queued writes (CE_OK / CE_NOMEM). */
int store_export_put_def(struct store_export *se, const char *kind, const char *id,
                         const char *data);
int store_export_delete_def(struct store_export *se, const char *kind, const char *id);
int store_export_put_cursor(struct store_export *se, const char *export_id, const char *dest_id,
                            int64_t seq);
/** Delete the cursors of an export (@p dest_id NULL: all of them). */
int store_export_delete_cursors(struct store_export *se, const char *export_id,
                                const char *dest_id);
/** Append an event to export_events. */
int store_export_add_event(struct store_export *se, const char *source, const char *type,
                           const char *device_id, const char *template_id, int64_t time_ms,
                           const char *data);

/**
 * Queue the deletion of @p source's rows of export_events up to @p upto_seq (inclusive), except
 * the table's newest row (kept so that row ids never go back below a cursor).
 */
int store_export_prune_events(struct store_export *se, const char *source, int64_t upto_seq);

/** One row of a log (borrowed during the callback). */
struct store_export_row {
    int64_t seq;
    const char *device_id;
    int64_t time_ms;
    const char *component;  /**< telemetry: "$.sub" or NULL */
    const char *props_json; /**< telemetry: message properties or NULL */
    const char *payload;    /**< telemetry body, or the event's data (may be NULL) */
    size_t payload_len;
    const char *type;        /**< events: messageType */
    const char *template_id; /**< events: the device's template when it happened, or NULL */
};
typedef int (*store_export_row_fn)(void *ctx, const struct store_export_row *row);

/**
 * Rows of @p log with seq > @p after_seq in seq order (events: of @p source only), at most
 * @p limit. @return rows visited, or CE_STORE.
 */
long store_export_scan(struct store_export *se, enum store_export_log log, const char *source,
                       int64_t after_seq, size_t limit, store_export_row_fn fn, void *ctx);

/** The highest committed seq of @p log (0 when empty). CE_OK / CE_STORE. */
int store_export_tail(struct store_export *se, enum store_export_log log, const char *source,
                      int64_t *out_seq);

/** Rows after @p after_seq and the time of the oldest of them (0 when none). CE_OK/CE_STORE. */
int store_export_lag(struct store_export *se, enum store_export_log log, const char *source,
                     int64_t after_seq, int64_t *out_count, int64_t *out_oldest_ms);

/** Telemetry rows of @p device_id with seq > @p after_seq (committed ones). CE_OK / CE_STORE. */
int store_export_count_device(struct store_export *se, const char *device_id, int64_t after_seq,
                              int64_t *out_count);

#endif /* CENTRAL_STORE_EXPORT_H */
