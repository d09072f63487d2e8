/*
 * service_http.h - the IoT Hub service REST API over HTTPS (docs/PROTOCOL.md §6), for the official
 * `azure-iothub` SDK and for our own tools.
 *
 * Hook called by main.c (see the comment in central/app.h). Loop thread only.
 *
 * Endpoints (paths relative to https://{hub}:{https_port}; any api-version is accepted):
 *   PUT    /devices/{id}                 create (no If-Match) or update (If-Match: etag or "*")
 *   GET    /devices/{id}                 device identity JSON
 *   GET    /devices[/][?top=N]           JSON array of devices (N 1..1000, default 1000)
 *   POST   /devices                      bulk create/update/delete (see service_bulk.c)
 *   DELETE /devices/{id}                 204; If-Match optional
 *   POST   /devices/query                {"query":"SELECT * FROM devices [WHERE ...]"} or
 *                                        SELECT COUNT() AS n ...; x-ms-max-item-count and
 *                                        x-ms-continuation paging (see service_query.c)
 *   GET    /statistics/devices           totalDeviceCount, enabledDeviceCount,
 *                                        disabledDeviceCount
 *   GET    /twins/{id}                   full twin (deviceId, etag, tags, properties, ...)
 *   PATCH  /twins/{id}                   merge tags / properties.desired; If-Match etag or "*"
 *   PUT    /twins/{id}                   replace tags / properties.desired; If-Match etag or "*"
 *   POST   /twins/{id}/methods           direct method: 200 {"status","payload"}, 404 (404103),
 *                                        504 (504101)
 *   POST   /devices/{id}/messages/deviceBound
 *                                        our own cloud-to-device send (the SDK uses AMQP for
 *                                        this): body = payload; headers iothub-messageid,
 *                                        iothub-correlationid, iothub-userid, iothub-contenttype,
 *                                        iothub-contentencoding, iothub-ack, iothub-ttl (seconds),
 *                                        iothub-app-{name}: {value}; 204 + iothub-messageid.
 * Authorization: `SharedAccessSignature sr={hub host[:port]}&sig=...&se=...&skn=iothubowner`
 * signed with the service policy key. Errors: `{"Message":"ErrorCode:{Code};{text}",
 * "ExceptionMessage":"Tracking ID:..."}` with header `iothub-errorcode: {Code}`.
 */
#ifndef CENTRAL_SERVICE_HTTP_H
#define CENTRAL_SERVICE_HTTP_H

#include "central/base/app.h"

/**
 * Start serving HTTPS on app->https_fd (already bound and listening) with app->ssl_ctx.
 * Takes ownership of the fd: it is closed by service_http_stop (which then sets
 * app->https_fd to -1), or here on failure. While serving, app->https_fd keeps its value.
 * Does nothing and returns 0 when app->https_fd is -1 (HTTPS disabled).
 * @return 0, or -1 (logged) when the HTTP server cannot be created.
 */
int service_http_start(struct app *app);

/**
 * Stop: answer pending asynchronous requests (method calls) with 503, cancel their
 * operations, close every HTTP connection and the listener. Safe to call when not started.
 */
void service_http_stop(struct app *app);

#endif /* CENTRAL_SERVICE_HTTP_H */
