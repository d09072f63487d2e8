/*
 * http_server.h - the HTTP server of iotc-central: evhttp listeners (HTTPS on app->https_fd,
 * plain HTTP on loopback app->http_fd), one route matcher for every API, the request context,
 * reply helpers (IoT Hub-shaped errors, the CE_* -> HTTP status mapping) and small parsing
 * helpers. It knows no API: the modules above register their sites (http_server_add_site).
 *
 * Routing: a request goes to the first site that owns it (by its first path segment, by one
 * of its route paths, or every request); the site's gate runs (authentication), then the first
 * route whose method and path match is called; otherwise the site answers 404 (no route has
 * the path) or 405 (one has, for other methods).
 *
 * Lifecycle of a request context: http_server.c creates it, routes it and calls the handler. A
 * handler either replies before returning (synchronous), or calls http_ctx_go_async() and replies
 * later from an event-loop callback; every reply helper sends exactly one response and, for an
 * asynchronous context, frees it. Loop thread only.
 */
#ifndef CENTRAL_HTTP_SERVER_H
#define CENTRAL_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "central/base/app.h"

#define HTTP_MAX_BODY 1048576 /* 1 MiB: larger request bodies get 413 */
#define HTTP_MAX_SEGS 8       /* path segments we ever route on */

enum http_method {
    HTTP_GET = 1u << 0,
    HTTP_PUT = 1u << 1,
    HTTP_POST = 1u << 2,
    HTTP_DELETE = 1u << 3,
    HTTP_PATCH = 1u << 4,
};

struct evhttp_request;
struct http_server;
struct http_deferred;
struct http_ctx;

/**
 * One route: @p methods (mask of enum http_method) on @p path, a pattern like
 * "/api/devices/{id}/commands/{name}": a literal segment, "{name}" = any one non-empty segment,
 * or a last "{*name}" = one or more segments of any content. The handler finds the values in
 * c->seg[] at the same positions. @p flags mean what the site says (e.g. admin-only methods).
 */
struct http_route {
    unsigned methods;
    const char *path;
    void (*fn)(struct http_ctx *c);
    unsigned flags;
};

/** Which requests a site owns. */
enum http_scope {
    HTTP_SCOPE_PREFIX, /**< the first path segment equals prefix (case-sensitive) */
    HTTP_SCOPE_ROUTES, /**< the path matches one of its routes' paths */
    HTTP_SCOPE_ALL,    /**< every request (register it last) */
};

/** A set of routes with its own authentication and error shape (an API, the web UI). */
struct http_site {
    const char *name; /**< for logs */
    enum http_scope scope;
    const char *prefix;  /**< HTTP_SCOPE_PREFIX */
    bool case_sensitive; /**< literal segments compare exactly (else ignoring case) */
    const struct http_route *routes;
    size_t n_routes;
    /** Before routing (may be NULL): false = it replied (401, 503...). May set c->auth. */
    bool (*gate)(struct http_ctx *c);
    /** After matching, before the handler (may be NULL): false = it replied (403). */
    bool (*allow)(struct http_ctx *c, const struct http_route *r);
    /** No route: @p path_known true = 405 (the path exists for other methods), else 404. */
    void (*no_route)(struct http_ctx *c, bool path_known);
};

/**
 * Create app->http: HTTPS on app->https_fd (already bound and listening; app->ssl_ctx) and,
 * when app->http_fd >= 0, plain HTTP on it (loopback only). Takes ownership of both fds: they
 * are closed by http_server_free, or here on failure (then set to -1).
 * @return CE_OK, CE_INVALID (no fd or TLS context, or already started), CE_NOMEM.
 */
int http_server_start(struct app *app);

/** Route requests to @p site too (after the sites added before). @p site must outlive the server.
 */
int http_server_add_site(struct http_server *srv, const struct http_site *site);

/** Who serves the MQTT bytes of a WebSocket connection (http_ws.c): takes ownership of @p fd,
 * one end of a connected stream socket; CE_OK or an error (fd closed). */
typedef int (*http_mqtt_sink_fn)(struct app *app, int fd, const struct mqtt_peer *peer);

/** Serve MQTT over WebSockets at /$iothub/websocket with @p sink (main.c: broker_adopt); until
 * this is called, that path is an ordinary one. */
void http_server_set_mqtt_sink(struct http_server *srv, http_mqtt_sink_fn sink);

/**
 * First step of stopping: answer every pending asynchronous request (503, after cancelling its
 * operation; a reply waiting for the store is sent now). Connections stay open. Safe when not
 * started.
 */
void http_server_drain(struct app *app);

/** Close the listeners and every connection, free app->http. Safe when not started. */
void http_server_free(struct app *app);

/**
 * The first route of @p v[0..n) that matches the method and path of @p c, or NULL; then
 * *path_known tells whether some route has the path (for other methods).
 */
const struct http_route *http_route_find(const struct http_route *v, size_t n,
                                         const struct http_ctx *c, bool case_sensitive,
                                         bool *path_known);

/** One request being served. Fields are read-only for handlers. */
struct http_ctx {
    struct app *app;
    struct http_server *srv;
    struct evhttp_request *req;
    enum http_method method;
    int auth; /**< what the site's gate established (e.g. the caller's role) */
    /* Percent-decoded path segments ("/devices/a%2Ab" -> "devices", "a*b"); a trailing empty
     * segment ("/devices/") is dropped. Each is NUL-terminated and free of NUL bytes. */
    const char *seg[HTTP_MAX_SEGS];
    size_t nseg;
    const char *query; /**< raw query string (still encoded), "" when absent */
    const char *body;  /**< request body (borrowed from the input buffer), not NUL-terminated */
    size_t body_len;
    bool async; /**< set by http_ctx_go_async */
    bool replied;
    char tracking_id[40];
    void *op; /**< pending asynchronous operation (e.g. struct method_call) */
    void (*cancel)(struct http_ctx *c); /**< cancels op; called at shutdown */
    struct http_ctx *prev, *next;       /**< list of asynchronous contexts */
    char *seg_buf;                      /**< storage behind seg[] */
    struct http_deferred *deferred;     /**< a success reply waiting for the store's commit */
};

/**
 * Send now a success reply that is still waiting for the store's commit (shutdown only: the
 * store commits everything queued before the process exits). No-op without one.
 */
void http_ctx_flush_deferred(struct http_ctx *c);

/** Keep the context alive after the handler returns; @p cancel aborts c->op at shutdown. */
void http_ctx_go_async(struct http_ctx *c, void (*cancel)(struct http_ctx *c));

/** Internal (http_reply.c): unlink and free a context once its reply has been sent. */
void http_ctx_free(struct http_ctx *c);

/** Case-insensitive request header lookup; borrowed (valid while the request lives) or NULL. */
const char *http_header(const struct http_ctx *c, const char *name);

/** Add a response header (copied). */
void http_add_header(struct http_ctx *c, const char *name, const char *value);

/**
 * Call @p fn for every request header (borrowed strings). Stops early when fn returns
 * non-zero and then returns that value; otherwise 0.
 */
int http_each_header(const struct http_ctx *c, int (*fn)(void *arg, const char *k, const char *v),
                     void *arg);

/** Reply with JSON text (Content-Type: application/json; charset=utf-8). */
void http_reply_json_text(struct http_ctx *c, int status, const char *text, size_t len);

/** Reply with a cJSON value (serialised unformatted); 500 if it cannot be printed. */
void http_reply_json(struct http_ctx *c, int status, const cJSON *value);

/** Reply without a body (e.g. 204). */
void http_reply_empty(struct http_ctx *c, int status);

/**
 * Reply with the hub's classic error shape:
 * {"Message":"ErrorCode:{code};{text}","ExceptionMessage":"Tracking ID:...-TimeStamp:..."}
 * and header iothub-errorcode: {code}.
 */
void http_reply_error(struct http_ctx *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * Reply with the hub's newer error shape, used for direct methods:
 * {"Message":"{\"errorCode\":{num},\"trackingId\":...,\"message\":...,\"info\":{info},
 * \"timestampUtc\":...}","ExceptionMessage":""} and header iothub-errorcode: {code}.
 * @param info_json JSON object text for "info" (e.g. "{}").
 */
void http_reply_error_v2(struct http_ctx *c, int status, const char *code, long num,
                         const char *message, const char *info_json);

/** The error dialects of the two REST APIs. */
enum http_dialect {
    HTTP_DIALECT_HUB,     /**< IoT Hub service API: DeviceNotFound, ThrottlingException (429) */
    HTTP_DIALECT_CENTRAL, /**< IoT Central /api/: NotFound, ServiceUnavailable (503) */
};

/**
 * The one mapping of a central_err (CE_*) to an HTTP status and the dialect's error code
 * (*out_code, never NULL). Anything unknown is 500.
 */
int http_status_of(int err, enum http_dialect dialect, const char **out_code);

/** Reply with the hub's error for a central_err; @p what names the subject. */
void http_reply_central_err(struct http_ctx *c, int err, const char *what);

/** "address:port" of the client, for logs. */
void http_peer(const struct http_ctx *c, char *out, size_t size);

struct evhttp_connection;
/** evhttp_connection_set_closecb() for a connection of this server: the server keeps its own
 * close callback on each connection (its place in app->admit) and calls @p cb after it. */
void http_conn_set_closecb(struct app *app, struct evhttp_connection *evcon,
                           void (*cb)(struct evhttp_connection *evcon, void *arg), void *arg);

/**
 * Why JSON text @p text / @p len must be refused although a JSON parser would take it: a NUL
 * byte or a \u0000 escape (strings would be cut short), or bytes that are not UTF-8.
 * @return NULL when fine, else a sentence fragment for the error message.
 */
const char *http_json_text_problem(const char *text, size_t len);

/**
 * Parse the body as JSON (must be an object unless @p any_type; see http_json_text_problem).
 * On failure replies 400 and
 * returns NULL. The caller frees the result with cJSON_Delete.
 */
cJSON *http_body_json(struct http_ctx *c, bool any_type);

/**
 * The If-Match header normalised: NULL when absent or `*` / `"*"`; otherwise the etag without
 * surrounding quotes, copied into @p buf (returns buf). An etag longer than @p size is
 * truncated, which then simply fails to match.
 */
const char *http_if_match(const struct http_ctx *c, char *buf, size_t size);

/**
 * Find query parameter @p name and decode its value into @p out.
 * @return 1 found, 0 absent, CE_INVALID malformed or too long.
 */
int http_query_param(const struct http_ctx *c, const char *name, char *out, size_t size);

#endif /* CENTRAL_HTTP_SERVER_H */
