/*
 * store.h - durable state in SQLite (WAL) behind one writer thread with group commit.
 *
 * Only store.c touches sqlite3. Every write is queued by the loop thread and executed by the
 * writer thread in FIFO order; whatever is queued while a transaction commits goes into the
 * next transaction, so the fsync cost is shared by a whole batch (group commit) and the
 * event loop never waits for the disk. An optional completion callback runs back on the loop
 * thread once the write is durable (synchronous=FULL): that is when QoS 1 telemetry is
 * PUBACKed.
 */
#ifndef CENTRAL_STORE_H
#define CENTRAL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"

struct device;
struct c2d_msg;

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

/** Open DATA_DIR/central.db, migrate, start the writer thread. @return 0 or -1 (logged). */
int store_open(struct app *app);

/** Load devices and pending C2D into the registry (loop thread, before serving). 0 / -1. */
int store_load(struct app *app);

/** Commit everything queued, stop the writer thread, run pending completions, close. */
void store_close(struct app *app);

/** Number of writes queued but not yet committed (for overload decisions). */
size_t store_backlog(const struct store *st);

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

/** Queue an upsert of the device row (identity, twin, session); serialised now. */
int store_put_device(struct store *st, const struct device *dev);

/** Queue the deletion of a device row and its pending C2D messages. */
int store_delete_device(struct store *st, const char *id);

/** Queue an insert of a pending C2D message of @p device_id. */
int store_put_c2d(struct store *st, const char *device_id, const struct c2d_msg *m);

/** Queue the deletion of a C2D message by sequence number. */
int store_delete_c2d(struct store *st, int64_t seq);

/** Highest C2D sequence number loaded at startup (the next one is this + 1). */
int64_t store_max_c2d_seq(const struct store *st);

/** Serialize / parse the persisted device record (registry.c implements these). */
char *registry_device_to_store_json(const struct device *dev);
struct device *registry_device_from_store_json(const char *id, const char *json);

#endif /* CENTRAL_STORE_H */
