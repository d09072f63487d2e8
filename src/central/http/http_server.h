/*
 * http_server.h - plumbing shared by the HTTPS service handlers (service_*.c): the request
 * context, reply helpers that produce IoT Hub-shaped errors, and small parsing helpers.
 *
 * Lifecycle of a request context: http_server.c creates it, authenticates the request, routes
 * it and calls the handler. A handler either replies before returning (synchronous), or calls
 * http_ctx_go_async() and replies later from an event-loop callback; every reply helper sends
 * exactly one response and, for an asynchronous context, frees it. Loop thread only.
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

/** One request being served. Fields are read-only for handlers. */
struct http_ctx {
    struct app *app;
    struct http_server *srv;
    struct evhttp_request *req;
    enum http_method method;
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

/** Map a central_err (CE_*) to the REST status and error code; @p what names the subject. */
void http_reply_central_err(struct http_ctx *c, int err, const char *what);

/**
 * Parse the body as JSON (must be an object unless @p any_type). On failure replies 400 and
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
 * @return 1 found, 0 absent, -1 malformed or too long.
 */
int http_query_param(const struct http_ctx *c, const char *name, char *out, size_t size);

/** What a device JSON body asks for (service_devices.c); NULL / -1 = not given. */
struct service_dev_body {
    const char *primary_key; /**< borrowed from the parsed JSON */
    const char *secondary_key;
    int status; /**< DEVICE_ENABLED / DEVICE_DISABLED / -1 */
    const char *status_reason;
};

/**
 * Validate a device identity JSON object. @p id_field names the member that, when present,
 * must equal @p id ("deviceId" for PUT /devices, "id" for bulk). Unknown members are ignored.
 * @return 0, or -1 with a message for the client in @p err.
 */
int service_parse_device(const cJSON *j, const char *id_field, const char *id,
                         struct service_dev_body *out, char *err, size_t size);

struct device;

/**
 * Create (@p create) or update the device @p id as @p b asks; logs the change.
 * @return CE_OK (*out_dev set when non-NULL), CE_EXISTS, CE_NOTFOUND, CE_INVALID, CE_NOMEM.
 */
int service_apply_device(struct app *app, const char *id, const struct service_dev_body *b,
                         bool create, struct device **out_dev);

/* Handlers (service_*.c). Each replies or goes async; c->seg[] holds the route's segments. */
void service_device_put(struct http_ctx *c);
void service_device_get(struct http_ctx *c);
void service_device_list(struct http_ctx *c);
void service_device_delete(struct http_ctx *c);
void service_device_stats(struct http_ctx *c);
void service_device_query(struct http_ctx *c);
void service_device_bulk(struct http_ctx *c);
void service_twin_get(struct http_ctx *c);
void service_twin_patch(struct http_ctx *c);
void service_twin_put(struct http_ctx *c);
void service_method_invoke(struct http_ctx *c);
void service_c2d_send(struct http_ctx *c);

#endif /* CENTRAL_HTTP_SERVER_H */
