/*
 * capi.h - the IoT Central-shaped application REST API under /api/ (docs/API.md).
 *
 * Hooks for the HTTPS server (http_server.c): capi_start after the listener is up, capi_stop
 * before it goes away, and capi_dispatch for every request whose first path segment is "api"
 * (before the service-SAS check: /api/ has its own tokens). Loop thread only.
 */
#ifndef CENTRAL_CAPI_H
#define CENTRAL_CAPI_H

#include <stdbool.h>

#include "central/base/app.h"

struct http_ctx;

/** Open the application layer (appl.h). @return 0 or -1 (logged). */
int capi_start(struct app *app);
/** Close live streams and the application layer. Safe when not started. */
void capi_stop(struct app *app);
/** True when @p c belongs to this API (path starts with /api). */
bool capi_owns(const struct http_ctx *c);
/** Authenticate, validate api-version, route and answer (or go async) one request. */
void capi_dispatch(struct http_ctx *c);

#endif /* CENTRAL_CAPI_H */
