/*
 * export.h - data export (docs/EXPORT.md): destinations and exports defined through the REST
 * API, one pipe per (export, destination) that reads the export's source from the store after
 * its durable cursor, filters, enriches and formats each row (export_fmt.h), hands it to the
 * destination (export_dest.h) and moves the cursor once the destination acknowledged.
 *
 * app->exporter, created by export_open after the application layer (appl_open); loop thread
 * only. It subscribes to the event bus to record property changes, connectivity and lifecycle
 * events in export_events (store_export.h).
 */
#ifndef CENTRAL_EXPORT_H
#define CENTRAL_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "central/base/app.h"

enum export_kind { EXPORT_KIND_DESTINATION = 0, EXPORT_KIND_EXPORT };

/** Open the tables, load definitions and cursors, start the pipes. CE_OK/CE_NOMEM/CE_STORE. */
int export_open(struct app *app);

/** Stop every pipe (what is in flight is sent again after the next start) and free. */
void export_close(struct app *app);

struct export_sender;
/** The sender thread webhook@v1 instances run on; rules' webhook actions (rules.c) share it. */
struct export_sender *export_sender_of(const struct exporter *e);

/**
 * Create or replace (@p patch false) or merge into (@p patch true) the definition @p id of
 * @p kind with @p body. On success *@p out is the definition as GET answers it (caller frees
 * with cJSON_Delete) and *@p out_created tells whether it is new.
 * @return CE_OK; CE_INVALID with a message naming the field in @p err; CE_NOTFOUND (PATCH of a
 * missing one); CE_NOMEM.
 */
int export_def_put(struct app *app, enum export_kind kind, const char *id, const cJSON *body,
                   bool patch, cJSON **out, bool *out_created, char *err, size_t err_size);

/** One definition as GET answers it (with status), or NULL (absent or out of memory). */
cJSON *export_def_get(struct app *app, enum export_kind kind, const char *id);

/** Every definition of @p kind as an array (caller frees), or NULL when out of memory. */
cJSON *export_def_list(struct app *app, enum export_kind kind);

/**
 * Delete a definition. @return CE_OK, CE_NOTFOUND, or CE_EXISTS for a destination an export
 * still names (@p err says which).
 */
int export_def_delete(struct app *app, enum export_kind kind, const char *id, char *err,
                      size_t err_size);

#endif /* CENTRAL_EXPORT_H */
