/*
 * service_query.h - the IoT Hub query language subset of POST /devices/query (service_query.c):
 *
 *   SELECT * FROM devices [WHERE cond]
 *   SELECT COUNT() AS name FROM devices [WHERE cond]
 *
 * cond combines comparisons `operand op operand` (op: = != <> < > <= >=), IS_DEFINED(path),
 * NOT, AND, OR and parentheses; an operand is a twin path (deviceId, status, tags.a.b,
 * properties.reported.x, ...) or a literal ('text', "text", number, true, false, null).
 * Comparisons of different types, or with an undefined path, are false (so NOT of them is
 * true). Keywords are case-insensitive; paths and strings are case-sensitive. Pure code.
 */
#ifndef CENTRAL_SERVICE_QUERY_H
#define CENTRAL_SERVICE_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "central/base/app.h"

struct service_query;

/**
 * Compile @p text (copied). On success *out is a query the caller frees with
 * service_query_free. On a syntax error *out_err is a static English reason and *out_pos the
 * byte offset where parsing stopped.
 * @return CE_OK, CE_INVALID (unsupported or malformed), CE_NOMEM.
 */
int service_query_compile(const char *text, struct service_query **out, const char **out_err,
                          size_t *out_pos);

/** True when the service-view twin @p twin satisfies the WHERE clause (always without one). */
bool service_query_match(const struct service_query *q, const cJSON *twin);

/** The alias of SELECT COUNT() AS alias, or NULL for SELECT *. Borrowed from @p q. */
const char *service_query_count_alias(const struct service_query *q);

/** Free a compiled query; NULL is fine. */
void service_query_free(struct service_query *q);

#endif /* CENTRAL_SERVICE_QUERY_H */
