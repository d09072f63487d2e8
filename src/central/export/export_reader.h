/*
 * export_reader.h - the export's reader thread: one per process, with its own connection to the
 * database (store_export.h; WAL lets it read while the store's writer commits). The pipes
 * (export_pipe.c) hand it work items: a work item's run() is called on the reader thread, then
 * its done() on the loop thread, in the order they were posted. The pipes use it to read their
 * source and format (and transform) the messages off the loop thread that serves the devices.
 * Internal to src/central/export.
 */
#ifndef CENTRAL_EXPORT_READER_H
#define CENTRAL_EXPORT_READER_H

#include <stdbool.h>

#include "central/base/app.h"
#include "central/store/store_export.h"

struct export_reader;
struct export_work;

struct export_work {
    /** Reader thread: the work itself, reading through @p se (the reader's own connection). */
    void (*run)(struct export_work *w, struct store_export *se);
    /**
     * Loop thread: after run(), or without it (@p ran false) when the reader is closed before it
     * ran. May post @p w again (unless the reader is closing) or free it.
     */
    void (*done)(struct export_work *w, bool ran);
    struct export_work *next; /* the reader's queues */
};

/** Open the reader's connection and start the thread; done() runs on @p app's loop. Loop thread. */
int export_reader_open(struct app *app, struct export_reader **out);

/**
 * Stop: the work running finishes, the thread is joined, and done() is called for every work
 * item still queued (ran true or false), which must free it. NULL is a no-op. Loop thread.
 */
void export_reader_close(struct export_reader *r);

/** Queue @p w for the reader thread (FIFO). Loop thread. */
void export_reader_post(struct export_reader *r, struct export_work *w);

/** True while export_reader_close() runs the last done() calls: post nothing more. */
bool export_reader_closing(const struct export_reader *r);

#endif /* CENTRAL_EXPORT_READER_H */
