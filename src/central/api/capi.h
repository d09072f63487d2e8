/*
 * capi.h - the IoT Central-shaped application REST API under /api/ (docs/API.md).
 *
 * capi_site (capi_router.c) is the route table main.c adds to the HTTP server: requests whose
 * first path segment is "api", with their own tokens (no service SAS). capi_start opens the
 * live event streams (capi_sse.c), which follow the event bus; capi_stop ends them before the
 * HTTP server goes away. Loop thread only.
 */
#ifndef CENTRAL_CAPI_H
#define CENTRAL_CAPI_H

#include "central/base/app.h"
#include "central/http/http_server.h"

/** The routes of /api/, behind API-token authentication and the api-version check. */
extern const struct http_site capi_site;

/**
 * Open app->capi (the live event streams) and subscribe it to the bus; call after appl_open,
 * so that a stream sees what the application layer made of an event first.
 * @return CE_OK, CE_NOMEM, or the bus's error.
 */
int capi_start(struct app *app);

/** The administrator token was replaced (rotate-admin-token, SIGHUP): end the live streams
 * opened with the old one. Safe when not started. */
void capi_admin_token_replaced(struct app *app);

/** End every live stream, unsubscribe, free app->capi. Safe when not started. */
void capi_stop(struct app *app);

#endif /* CENTRAL_CAPI_H */
