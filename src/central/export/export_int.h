/*
 * export_int.h - what export.c (definitions, REST answers, event recording, start and stop) and
 * export_pipe.c (the pipes: window, delivery, cursor) share. Not an interface for other modules.
 * Loop thread only, but for what a pipe lends its read on the reader thread (export_pipe.c:
 * the filter copy and the transform, unchanged while the read is out).
 */
#ifndef CENTRAL_EXPORT_INT_H
#define CENTRAL_EXPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "central/base/app.h"
#include "central/export/export_dest.h"
#include "central/export/export_fmt.h"
#include "central/export/export_reader.h"
#include "central/export/export_transform.h"
#include "central/store/store_export.h"

#define EXPORT_WINDOW 1024 /* rows read ahead per pipe (reads take a round trip to the reader) */
#define EXPORT_DISPATCH_BLOCKED_MAX 256 /* dispatch looks this far past rows of busy devices */
#define EXPORT_WINDOW_BYTES (4u << 20)
#define EXPORT_TICK_MS 100
#define EXPORT_ERRORS_MAX 5
#define EXPORT_PRUNE_MS 1000
/* An acknowledgement after failures and at least this long without one: the destination is
 * back, and the slots waiting out their backoff are sent at once (export_pipe.c on_sent()). */
#define EXPORT_BACK_AFTER_MS 1000
/* While the destination fails and nothing was acknowledged for EXPORT_BACK_AFTER_MS, the
 * window's first message is tried at least this often whatever its backoff (one request per
 * pipe), so a destination that returns is seen within this time, not after the longest
 * backoff (export_pipe.c probe()). */
#define EXPORT_PROBE_MS 5000

enum slot_state { SLOT_PENDING = 0, SLOT_INFLIGHT, SLOT_DONE };

struct pipe;
struct read_job;

struct slot {
    struct pipe *p;
    int64_t seq;
    uint64_t dev_hash;
    char *device;
    char *body;
    size_t len;
    enum slot_state st;
    unsigned attempts;
    int64_t next_ms;
};

struct pipe {
    struct xport *x;
    char *dest_id;
    struct export_dest *dest;
    struct export_transform *xf;  /* the destination's `transform`, or NULL */
    struct export_filter *filter; /* a copy of the export's filter, or NULL */
    bool xf_broken; /* its transform does not compile here: nothing is read or sent (lag grows) */
    struct read_job *reading;           /* the read on the reader thread, or NULL */
    bool idle;                          /* the last read found no row: read again on the tick */
    uint64_t busy_h[2 * EXPORT_WINDOW]; /* dispatch's set of busy devices (export_pipe.c) */
    uint32_t busy_gen[2 * EXPORT_WINDOW];
    uint32_t busy_now;
    int64_t cursor; /* every row <= cursor is acknowledged */
    int64_t saved;  /* the cursor last queued for the store */
    int64_t read_to;
    struct slot win[EXPORT_WINDOW];
    size_t head, n, bytes;
    uint64_t delivered, failed;
    uint64_t dropped; /* rows deleted with their device before they were read */
    bool retrying;
    int64_t last_ok_ms;    /* the last acknowledgement (0: none yet) */
    int64_t next_probe_ms; /* probe(): not before */
    struct pipe *next;
};

struct err_entry {
    char time[32];
    char message[200];
};

struct xport {
    struct exporter *e;
    char *id;
    cJSON *def;
    bool enabled;
    enum export_source src;
    struct export_filter *filter; /* NULL: every message */
    struct pipe *pipes;
    struct err_entry errs[EXPORT_ERRORS_MAX];
    size_t n_errs, err_next;
    struct xport *next;
};

struct dest_def {
    char *id;
    cJSON *def;
    struct dest_def *next;
};

struct saved_cursor {
    char *export_id, *dest_id;
    int64_t seq;
    struct saved_cursor *next;
};

struct exporter {
    struct app *app;
    struct store_export *se;
    struct dest_def *dests;
    struct xport *exports;
    struct saved_cursor *cursors; /* loaded at start, consumed as pipes are made */
    struct event *tick, *kick;
    struct export_sender *sender; /* the thread webhook@v1 requests run on */
    struct export_reader *reader; /* the thread the pipes read and format on */
    int sub;
    uint64_t rng;
    int64_t pruned[EXPORT_SRC_COUNT]; /* export_events: rows up to this were deleted (queued) */
    int64_t next_prune_ms;
};

/** The log a source is read from. */
enum store_export_log export_log_of(enum export_source s);
/** Run the pipes soon (after the current callback). */
void export_kick(struct exporter *e);
/** Keep @p msg (with the time) among the export's last errors. */
void export_record_error(struct xport *x, const char *msg);
/** Free a pipe and its destination instance (what was in flight is dropped without callbacks). */
void export_pipe_free(struct pipe *p);
/** The template of a device now, or NULL. Borrowed from the application layer. */
const char *export_device_template(struct exporter *e, const char *device_id);
/** Move the cursor over the done prefix of the window; write it through the store if @p save. */
void export_advance(struct exporter *e, struct pipe *p, bool save);
/**
 * Delete the export_events rows that no export of their source still needs: those up to the
 * lowest cursor among that source's exports (enabled or disabled: a disabled export resumes from
 * its cursor), and every row of a source no export reads.
 */
void export_prune_events(struct exporter *e);
/** Event callbacks: the tick timer (pumps and saves cursors) and the kick (pumps). */
void export_on_tick(evutil_socket_t fd, short what, void *arg);
void export_on_kick(evutil_socket_t fd, short what, void *arg);

#endif /* CENTRAL_EXPORT_INT_H */
