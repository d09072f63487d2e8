/*
 * export_sender.h - the export's sender thread: one per process, with its own event_base, on
 * which destination instances that do network work of their own run (webhook@v1's curl multi
 * handle). The pipes on the loop thread keep talking to an export_dest: a proxy that hands each
 * send to the sender thread and brings its completion back to the loop, so the window, the
 * cursor, retries and status stay on the loop thread as before. Internal to src/central/export.
 */
#ifndef CENTRAL_EXPORT_SENDER_H
#define CENTRAL_EXPORT_SENDER_H

#include <stddef.h>

#include <event2/event.h>

#include "central/base/app.h"
#include "central/export/export_dest.h"

struct export_sender;

/** Start the sender thread; completions come back on @p app's loop. Loop thread. */
int export_sender_open(struct app *app, struct export_sender **out);

/**
 * Stop: every instance handed over must have been freed (export_dest free) before; the sender
 * runs what is still queued (those frees), the thread is joined, and @p s is freed. NULL is a
 * no-op. Loop thread.
 */
void export_sender_close(struct export_sender *s);

/**
 * The sender's event_base. An instance for export_sender_wrap is made on it (from the loop
 * thread, before it is wrapped: nothing on the sender knows of it yet).
 */
struct event_base *export_sender_base(struct export_sender *s);

/**
 * A proxy for @p inner (takes ownership; freed on the sender thread). The proxy's send copies
 * the message and queues it for the sender thread, which calls inner's send there; inner's
 * completion runs the caller's callback on the loop thread. At most @p room sends are in flight.
 * The proxy's free drops what is in flight without callbacks, as every export_dest's does.
 * @return CE_OK or CE_NOMEM (then @p inner is freed).
 */
int export_sender_wrap(struct export_sender *s, struct export_dest *inner, size_t room,
                       struct export_dest **out);

#endif /* CENTRAL_EXPORT_SENDER_H */
