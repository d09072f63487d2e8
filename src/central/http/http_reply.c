/*
 * http_reply.c - replies in the shapes the IoT Hub service API uses (docs/PROTOCOL.md §6.2, §6.4),
 * the CE_* -> HTTP status mapping of both APIs, and small request helpers.
 */
#include "central/http/http_server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <iotc/codec.h>

#include "proto/strbuf.h"

#include "central/base/log.h"
#include "central/store/store.h"

#define JSON_CT "application/json; charset=utf-8"

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 304:
        return "Not Modified";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

/* Send the reply (body may be NULL) and release an asynchronous context. */
static void send_now(struct http_ctx *c, int status, struct evbuffer *body)
{
    evhttp_send_reply(c->req, status, reason_of(status), body);
    if (c->async)
        http_ctx_free(c);
}

/* A success reply to a request that may have changed state waits until everything the request
 * queued for the store is committed: what a client was told succeeded is on disk, as for
 * PUBACKs. The barrier completes on the loop thread; c is NULL when the server stopped first. */
struct http_deferred {
    struct http_ctx *c;
    int status;
    struct evbuffer *body;
};

static void deferred_done(void *arg, uint32_t tag, int rc)
{
    struct http_deferred *d = arg;
    struct http_ctx *c = d->c;
    (void)tag;
    if (c != NULL) {
        c->deferred = NULL;
        if (rc == CE_OK) {
            send_now(c, d->status, d->body);
        } else {
            static const char msg[] = "{\"error\":{\"code\":\"StoreFailed\",\"message\":\"The "
                                      "change could not be saved.\"}}";
            log_error("https: store commit failed; answering 500 instead of %d", d->status);
            evbuffer_drain(d->body, evbuffer_get_length(d->body));
            evbuffer_add(d->body, msg, sizeof msg - 1);
            send_now(c, 500, d->body);
        }
    }
    evbuffer_free(d->body);
    free(d);
}

void http_ctx_flush_deferred(struct http_ctx *c)
{
    struct http_deferred *d = c->deferred;
    if (d == NULL)
        return;
    c->deferred = NULL;
    d->c = NULL; /* the store's completion frees d later */
    send_now(c, d->status, d->body);
}

static bool wants_durable_reply(const struct http_ctx *c, int status)
{
    return c->method != HTTP_GET && status >= 200 && status < 300 && c->app != NULL &&
           c->app->store != NULL;
}

static void finish(struct http_ctx *c, int status, struct evbuffer *body)
{
    if (c->replied) {
        log_error("https: second reply to one request (status %d) ignored", status);
        return;
    }
    c->replied = true;
    if (wants_durable_reply(c, status)) {
        struct http_deferred *d = calloc(1, sizeof *d);
        struct evbuffer *copy = d != NULL ? evbuffer_new() : NULL;
        if (copy != NULL && (body == NULL || evbuffer_add_buffer(copy, body) == 0)) {
            d->c = c;
            d->status = status;
            d->body = copy;
            c->deferred = d;
            if (!c->async)
                http_ctx_go_async(c, NULL);
            if (store_barrier(c->app->store, deferred_done, d, 0) == CE_OK)
                return;
            c->deferred = NULL;
            body = copy; /* could not queue the barrier: answer now, as before */
            send_now(c, status, body);
            evbuffer_free(copy);
            free(d);
            return;
        }
        if (copy != NULL)
            evbuffer_free(copy);
        free(d);
    }
    send_now(c, status, body);
}

const char *http_header(const struct http_ctx *c, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(c->req), name);
}

void http_add_header(struct http_ctx *c, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(c->req), name, value);
}

int http_each_header(const struct http_ctx *c, int (*fn)(void *arg, const char *k, const char *v),
                     void *arg)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(c->req);
    const struct evkeyval *kv;
    for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        int rc = fn(arg, kv->key, kv->value);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void http_reply_json_text(struct http_ctx *c, int status, const char *text, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (b == NULL || evbuffer_add(b, text, len) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        finish(c, 500, NULL);
        return;
    }
    http_add_header(c, "Content-Type", JSON_CT);
    finish(c, status, b);
    evbuffer_free(b);
}

void http_reply_json(struct http_ctx *c, int status, const cJSON *value)
{
    char *text = value != NULL ? cJSON_PrintUnformatted(value) : NULL;
    if (text == NULL) {
        http_reply_error(c, 500, "ServerError", "Out of memory.");
        return;
    }
    http_reply_json_text(c, status, text, strlen(text));
    cJSON_free(text);
}

void http_reply_empty(struct http_ctx *c, int status)
{
    finish(c, status, NULL);
}

/* "MM/DD/YYYY HH:MM:SS" (UTC), the hub's ExceptionMessage timestamp format. */
static void hub_timestamp(char out[32])
{
    time_t t = (time_t)(app_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%m/%d/%Y %H:%M:%S", &tm);
}

/* Last resort when even the error body cannot be built. */
static void reply_bare(struct http_ctx *c, int status, const char *code)
{
    http_add_header(c, "iothub-errorcode", code);
    finish(c, status, NULL);
}

void http_reply_error(struct http_ctx *c, int status, const char *code, const char *fmt, ...)
{
    char text[512], msg[700], exc[128], ts[32];
    cJSON *o = cJSON_CreateObject();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* The SDK splits Message on ';' and takes the second piece as the text. */
    for (char *p = text; *p != '\0'; p++) {
        if (*p == ';')
            *p = ',';
    }
    snprintf(msg, sizeof msg, "ErrorCode:%s;%s", code, text);
    hub_timestamp(ts);
    snprintf(exc, sizeof exc, "Tracking ID:%s-G:0-TimeStamp:%s", c->tracking_id, ts);
    if (o == NULL || cJSON_AddStringToObject(o, "Message", msg) == NULL ||
        cJSON_AddStringToObject(o, "ExceptionMessage", exc) == NULL) {
        cJSON_Delete(o);
        reply_bare(c, status, code);
        return;
    }
    http_add_header(c, "iothub-errorcode", code);
    http_reply_json(c, status, o);
    cJSON_Delete(o);
}

void http_reply_error_v2(struct http_ctx *c, int status, const char *code, long num,
                         const char *message, const char *info_json)
{
    char ts[32];
    char *inner_text = NULL;
    cJSON *inner = cJSON_CreateObject(), *outer = cJSON_CreateObject();
    cJSON *info = cJSON_Parse(info_json != NULL ? info_json : "{}");

    app_format_time(app_now_ms(), ts);
    if (inner == NULL || outer == NULL || info == NULL ||
        cJSON_AddNumberToObject(inner, "errorCode", (double)num) == NULL ||
        cJSON_AddStringToObject(inner, "trackingId", c->tracking_id) == NULL ||
        cJSON_AddStringToObject(inner, "message", message) == NULL)
        goto fail;
    cJSON_AddItemToObject(inner, "info", info);
    info = NULL;
    if (cJSON_AddStringToObject(inner, "timestampUtc", ts) == NULL)
        goto fail;
    inner_text = cJSON_PrintUnformatted(inner);
    if (inner_text == NULL || cJSON_AddStringToObject(outer, "Message", inner_text) == NULL ||
        cJSON_AddStringToObject(outer, "ExceptionMessage", "") == NULL)
        goto fail;
    http_add_header(c, "iothub-errorcode", code);
    http_reply_json(c, status, outer);
    cJSON_free(inner_text);
    cJSON_Delete(inner);
    cJSON_Delete(outer);
    return;

fail:
    cJSON_free(inner_text);
    cJSON_Delete(info);
    cJSON_Delete(inner);
    cJSON_Delete(outer);
    reply_bare(c, status, code);
}

/* The one CE_* -> HTTP mapping; each API keeps the codes of the service it emulates. */
static const struct {
    int err;
    int hub_status;
    const char *hub_code;
    int central_status;
    const char *central_code;
} ce_map[] = {
    {CE_NOTFOUND, 404, "DeviceNotFound", 404, "NotFound"},
    {CE_EXISTS, 409, "DeviceAlreadyExists", 409, "Conflict"},
    {CE_INVALID, 400, "ArgumentInvalid", 400, "InvalidBody"},
    {CE_ETAG, 412, "PreconditionFailed", 500, "InternalError"},
    {CE_OFFLINE, 404, "DeviceNotOnline", 500, "InternalError"},
    {CE_TIMEOUT, 504, "GatewayTimeout", 500, "InternalError"},
    {CE_BUSY, 429, "ThrottlingException", 503, "ServiceUnavailable"},
    {CE_TOOBIG, 413, "MessageTooLarge", 413, "RequestEntityTooLarge"},
};

int http_status_of(int err, enum http_dialect dialect, const char **out_code)
{
    bool hub = dialect == HTTP_DIALECT_HUB;
    for (size_t i = 0; i < sizeof ce_map / sizeof ce_map[0]; i++) {
        if (ce_map[i].err == err) {
            *out_code = hub ? ce_map[i].hub_code : ce_map[i].central_code;
            return hub ? ce_map[i].hub_status : ce_map[i].central_status;
        }
    }
    *out_code = hub ? "ServerError" : "InternalError";
    return 500;
}

void http_reply_central_err(struct http_ctx *c, int err, const char *what)
{
    const char *w = what != NULL ? what : "", *code;
    int status = http_status_of(err, HTTP_DIALECT_HUB, &code);
    switch (err) {
    case CE_NOTFOUND:
        http_reply_error(c, status, code, "Device '%s' is not registered.", w);
        break;
    case CE_EXISTS:
        http_reply_error(c, status, code, "A device with ID '%s' is already registered.", w);
        break;
    case CE_INVALID:
        http_reply_error(c, status, code, "Invalid argument: %s.", w);
        break;
    case CE_ETAG:
        http_reply_error(c, status, code,
                         "Precondition failed: the If-Match etag does not match '%s'.", w);
        break;
    case CE_OFFLINE:
        http_reply_error_v2(c, status, code, 404103, "Timed out waiting for device to connect.",
                            "{}");
        break;
    case CE_TIMEOUT:
        http_reply_error_v2(c, status, code, 504101,
                            "Timed out waiting for the response from device.", "{}");
        break;
    case CE_BUSY:
        http_reply_error(c, status, code, "The hub is busy, retry later.");
        break;
    case CE_TOOBIG:
        http_reply_error(c, status, code, "The %s is too large.", *w != '\0' ? w : "request");
        break;
    default:
        http_reply_error(c, status, code, "Internal error (%s).", central_strerror(err));
        break;
    }
}

const char *http_json_text_problem(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    while (p < end) {
        size_t n = iotc__utf8_seq(p, (size_t)(end - p));
        if (n == 0)
            return "is not valid UTF-8";
        if (*p == '\0')
            return "contains a NUL character";
        /* outside strings a backslash is invalid JSON anyway */
        if (*p == '\\' && end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return "contains a NUL character (\\u0000)";
        n = *p == '\\' && end - p >= 2 && p[1] == '\\' ? 2 : n;
        p += n;
    }
    return NULL;
}

cJSON *http_body_json(struct http_ctx *c, bool any_type)
{
    cJSON *j;
    const char *why;
    if (c->body_len == 0) {
        http_reply_error(c, 400, "ArgumentNull", "The request body is required.");
        return NULL;
    }
    if ((why = http_json_text_problem(c->body, c->body_len)) != NULL) {
        http_reply_error(c, 400, "ArgumentInvalid", "The request body %s.", why);
        return NULL;
    }
    j = cJSON_ParseWithLength(c->body, c->body_len);
    if (j == NULL) {
        http_reply_error(c, 400, "ArgumentInvalid", "The request body is not valid JSON.");
        return NULL;
    }
    if (!any_type && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        http_reply_error(c, 400, "ArgumentInvalid", "The request body must be a JSON object.");
        return NULL;
    }
    return j;
}

const char *http_if_match(const struct http_ctx *c, char *buf, size_t size)
{
    const char *h = http_header(c, "If-Match");
    size_t len;

    if (h == NULL || size == 0)
        return NULL;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncmp(h, "W/", 2) == 0)
        h += 2;
    len = strlen(h);
    while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (len >= 2 && h[0] == '"' && h[len - 1] == '"') {
        h++;
        len -= 2;
    }
    if (len == 0 || (len == 1 && h[0] == '*'))
        return NULL;
    if (len >= size)
        len = size - 1;
    memcpy(buf, h, len);
    buf[len] = '\0';
    return buf;
}

int http_query_param(const struct http_ctx *c, const char *name, char *out, size_t size)
{
    struct iotc_bag_pair pair;
    size_t len = 0;
    int rc = iotc_bag_find(iotc_span_from_cstr(c->query), iotc_span_from_cstr(name), &pair);

    if (rc == IOTC_E_NOTFOUND)
        return 0;
    if (rc != IOTC_OK)
        return CE_INVALID;
    if (!pair.has_value) {
        if (size == 0)
            return CE_INVALID;
        out[0] = '\0';
        return 1;
    }
    rc = iotc_pct_decode(pair.value, out, size, &len);
    if (rc != IOTC_OK || len >= size)
        return CE_INVALID;
    out[len] = '\0';
    return 1;
}
