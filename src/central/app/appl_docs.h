/*
 * appl_docs.h - what the application's small JSON collections share (dashboards, device groups;
 * the id and error helpers also serve jobs, tokens, enrollment groups and templates): a cJSON
 * array of objects with an "id" member, kept in memory on the loop and written through to one
 * store_app table (id, JSON text).
 */
#ifndef CENTRAL_APPL_DOCS_H
#define CENTRAL_APPL_DOCS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "central/app/appl.h"

/** True when @p id is 1 to @p max characters of A-Za-z0-9 and those in @p extra. */
bool appl_id_ok(const char *id, size_t max, const char *extra);

/** Fill @p err with @p code and the formatted message; returns CE_INVALID. */
int appl_refuse(struct appl_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The object of @p docs whose "id" is @p id, or NULL. */
cJSON *appl_docs_find(const cJSON *docs, const char *id);

/**
 * Put @p doc (owned from here on) into @p docs in place of the object with the same @p id and
 * write it to @p table. CE_NOMEM (and @p doc freed) when it cannot be printed.
 */
int appl_docs_put(struct appl *a, cJSON *docs, const char *table, const char *id, cJSON *doc);

/** Remove the object @p id from @p docs and from @p table; CE_NOTFOUND when there is none. */
int appl_docs_delete(struct appl *a, cJSON *docs, const char *table, const char *id);

/**
 * A store_app load callback's body: parse @p data, check it with @p check and append it to
 * @p docs. A row that is not JSON or fails the check is logged (naming @p what) and skipped.
 */
void appl_docs_load(cJSON *docs, const char *what, const char *id, const char *data,
                    int (*check)(const cJSON *doc, struct appl_error *err));

#endif
