/*
 * store.h - durable state in SQLite (WAL) behind one writer thread with group commit.
 *
 * The store module (store.c and store_app.c) is the only code that touches sqlite3. It knows
 * tables and rows, not the device plane's objects: the registry (hub/) serialises a device into
 * a row and builds its objects from the rows the loaders hand it. Every write is queued by the
 * loop thread and executed by the writer thread in FIFO order; whatever is queued while a
 * transaction commits goes into the next transaction, so the fsync cost is shared by a whole batch
 * (group commit) and the event loop never waits for the disk. The writer takes a write only once
 * the loop callback that queued it has returned, and never splits what one callback queued
 * between two transactions (store.c, seal groups). An optional completion callback runs
 * back on the loop thread once the write is durable (synchronous=FULL): that is when QoS 1
 * telemetry is PUBACKed.
 *
 * Telemetry is committed into telemetry_staging, a table without secondary indexes, and moved by
 * the writer thread in large batches (one transaction each) into telemetry_main, which carries
 * the per-device indexes; readers query the view `telemetry` (both tables, the old name and
 * columns). A row keeps its seq through the move, and a committed row is on disk in one of the
 * two tables whether or not a crash came before its move. docs/PERFORMANCE.md has the figures.
 */
#ifndef CENTRAL_STORE_H
#define CENTRAL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"

/** Completion on the loop thread: rc is CE_OK or CE_STORE; @p tag is passed through. */
typedef void (*store_done_cb)(void *ctx, uint32_t tag, int rc);

/** A telemetry record handed to store_add_telemetry (everything is copied). */
struct store_telemetry {
    const char *device_id;
    int64_t enqueued_ms;
    const char *component;  /**< "$.sub" value or NULL */
    const char *props_json; /**< decoded property bag as a JSON object text, or NULL */
    const void *payload;
    size_t payload_len;
};

/** Open DATA_DIR/central.db and migrate (the loop thread calls it; the writer thread is not
 * started yet). @return CE_OK, CE_NOMEM or CE_STORE (logged). */
int store_open(struct app *app);

/** One row of the devices table: the device id and the record text its owner wrote. */
typedef int (*store_row_fn)(void *ctx, const char *id, const char *data);

/** One row of the c2d table (borrowed during the callback). */
struct store_c2d_row {
    int64_t seq; /**< unique and increasing */
    const char *device_id;
    int64_t enqueued_ms;
    int64_t expiry_ms;
    const char *bag; /**< never NULL ("" when none) */
    const void *payload;
    size_t payload_len;
};
typedef int (*store_c2d_row_fn)(void *ctx, const struct store_c2d_row *row);

/**
 * Loaders (loop thread, after store_open and before store_start): call @p fn for every row, in
 * insertion order (devices) or sequence order (c2d); @p fn returns non-zero to stop.
 * @return CE_OK or CE_STORE.
 */
int store_load_devices(struct store *st, store_row_fn fn, void *ctx);
int store_load_c2d(struct store *st, store_c2d_row_fn fn, void *ctx);
/** The x509_cas rows (name, JSON record), oldest first; written with store_exec(). */
int store_load_cas(struct store *st, store_row_fn fn, void *ctx);

/** Start the writer thread (after loading). @return CE_OK or CE_STORE (logged). */
int store_start(struct app *app);

/** Commit everything queued, stop the writer thread, run pending completions, close. */
void store_close(struct app *app);

/**
 * When staged telemetry moves into the indexed table: once @p rows rows are staged or the oldest
 * is @p age_ms old (defaults 8192 and 10,000 ms); @p rows 0 stops moving (tests: rows stay staged,
 * as after a crash right after their commit). Any thread.
 */
void store_set_move(struct store *st, size_t rows, int64_t age_ms);

/** Moves completed since store_open (tests). Any thread. */
uint64_t store_moves(const struct store *st);

/**
 * Rows per move transaction (default 1,536; 0 restores it): a move is done in slices of about
 * this many rows (all the rows of a range of devices, in device id order), and what was queued
 * meanwhile is committed between two slices, so no commit waits longer than one slice. Any
 * thread.
 */
void store_set_move_slice(struct store *st, size_t rows);

/** The move slices since store_open: each one is a time the writer commits nothing. */
struct store_move_stats {
    uint64_t slices;   /**< slice transactions committed */
    uint64_t rows;     /**< rows they moved */
    uint64_t total_us; /**< their time, summed */
    uint64_t max_us;   /**< the longest: the longest any commit waited behind a move */
};

/** Copy the move statistics. Any thread. */
void store_move_stats(const struct store *st, struct store_move_stats *out);

/** Number of writes queued but not yet committed (for overload decisions). */
size_t store_backlog(const struct store *st);

/** The writer's counters since the store opened (operators', docs/OPERATIONS.md). */
struct store_stats {
    uint64_t committed;    /**< writes (telemetry rows, barriers, ...) in committed transactions */
    uint64_t commits;      /**< transactions committed (each one fsync in WAL mode) */
    uint64_t batch_max;    /**< the most writes one transaction carried */
    uint64_t commit_ns;    /**< writer time from BEGIN to the end of COMMIT, summed */
    uint64_t wakeups;      /**< loop wake-ups that ran completions (PUBACKs) of commits */
    uint64_t completions;  /**< completions (callbacks) those wake-ups ran */
    uint64_t queue_max;    /**< the longest the hand-off queue was (queued + in the writer) */
    uint64_t queue_depth;  /**< queued + in the writer now */
    uint64_t delayed;      /**< transactions that waited --commit-delay for more writes */
    uint64_t sqlite_bytes; /**< heap SQLite holds now, every connection of the process (page
                                caches, statements): bounded by the caches' sizes */
    uint64_t sqlite_bytes_max; /**< the most it held */
};

/** Copy the writer's counters. Loop thread (completions is the loop's own); takes the queue's
 * lock once. */
void store_stats_get(const struct store *st, struct store_stats *out);

/**
 * Call @p cb(@p ctx) once on the loop thread as soon as at most @p level writes are queued
 * (immediately, i.e. on the next loop iteration, if that is already the case). One pending
 * notification at a time; a new call replaces the previous one. Used to resume throttled
 * publishers.
 */
void store_notify_drain(struct store *st, size_t level, void (*cb)(void *ctx), void *ctx);

/** Queue a telemetry row; @p cb (may be NULL) runs once it is durable. @return CE_OK/CE_NOMEM. */
int store_add_telemetry(struct store *st, const struct store_telemetry *t, store_done_cb cb,
                        void *ctx, uint32_t tag);

/**
 * Queue a no-op whose callback runs once everything queued before it is durable: used to
 * acknowledge (PUBACK) in order and only after the state change the packet caused is on disk.
 */
int store_barrier(struct store *st, store_done_cb cb, void *ctx, uint32_t tag);

/** A bound parameter of store_exec (text/blob bytes are copied when queued). */
struct store_arg {
    enum { STORE_ARG_NULL = 0, STORE_ARG_INT, STORE_ARG_TEXT, STORE_ARG_BLOB } type;
    int64_t i;
    const char *s; /**< TEXT: NUL-terminated (NULL binds NULL); BLOB: bytes */
    size_t len;    /**< BLOB length */
};

/**
 * Queue one SQL write (for the application layer's own tables, store_app.c): executed by the
 * writer thread in order with every other write, inside its group-commit transaction.
 * @p sql and the arguments are copied. @return CE_OK or CE_NOMEM; a failing statement is
 * logged by the writer thread.
 */
int store_exec(struct store *st, const char *sql, const struct store_arg *args, size_t n);

/** The number of queued writes not sealed yet (loop thread): taken at the start of a loop
 * callback, it tells store_defer_seal() whether that callback's writes are the only ones. */
size_t store_unsealed(struct store *st);

/**
 * Let the writes the current loop callback queued (@p unsealed_before == 0: no one else's are
 * unsealed) wait to commit in the transaction of the next write that is not deferred, or
 * within 100 ms. For writes nothing is acknowledged after, e.g. a hub connection's bookkeeping:
 * a device's first telemetry then waits for one fsync, not for that one's and then its own.
 * Loop thread; a no-op without an event loop.
 */
void store_defer_seal(struct store *st, size_t unsealed_before);

/** Queue an upsert of the device row @p id with its record text @p data (copied). */
int store_put_device(struct store *st, const char *id, const char *data);

/** Queue the deletion of a device row and its pending C2D messages. */
int store_delete_device(struct store *st, const char *id);

/** Queue an insert of a pending C2D message row (copied). */
int store_put_c2d(struct store *st, const struct store_c2d_row *row);

/** Queue the deletion of a C2D message by sequence number. */
int store_delete_c2d(struct store *st, int64_t seq);

#endif /* CENTRAL_STORE_H */
