/*
 * http_ws.h - MQTT over WebSockets on the HTTPS listener (docs/DEVICE_PLANE.md "MQTT over
 * WebSockets"): GET /$iothub/websocket with the `mqtt` subprotocol is upgraded before any API
 * authorisation, and its binary frames carry the MQTT bytes through a socket pair to the sink
 * main.c installed (hub/broker.h broker_adopt()). Loop thread only.
 */
#ifndef CENTRAL_HTTP_WS_H
#define CENTRAL_HTTP_WS_H

#include <stdbool.h>

#include "central/base/app.h"
#include "central/http/http_server.h"

struct evhttp_request;
struct ws_conn;

/** True when @p path (the request's, undecoded) is the WebSocket endpoint. */
bool http_ws_is_endpoint(const char *path);

/**
 * Answer the request: 101 and the connection becomes an MQTT connection, or an HTTP error
 * (400 not an upgrade, 426 another WebSocket version, 503 the sink refused). @p list holds the open
 * WebSocket connections (for http_ws_close_all()).
 */
void http_ws_upgrade(struct app *app, struct evhttp_request *req, http_mqtt_sink_fn sink,
                     struct ws_conn **list);

/** Close every WebSocket connection (before the HTTP server is freed). */
void http_ws_close_all(struct ws_conn **list);

#endif /* CENTRAL_HTTP_WS_H */
