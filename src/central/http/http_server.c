/*
 * http_server.c - the HTTPS listener of the IoT Hub service API: evhttp over
 * bufferevent_openssl, service-SAS authentication, routing (docs/PROTOCOL.md §6).
 */
#include "central/service/service_http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <iotc/codec.h>
#include <iotc/sas.h>

#include "central/api/capi.h"
#include "central/http/http_server.h"
#include "central/base/log.h"
#include "central/api/web.h"

#define HTTP_MAX_HEADERS 65536
#define HTTP_MAX_PATH 2048
/* Idle keep-alive connections are closed after this; while a handler works on a request
 * evhttp does not read from the connection, so long method calls are not cut short. */
#define HTTP_TIMEOUT_S 120

struct http_server {
    struct app *app;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct evhttp *plain;        /* plain HTTP on loopback (--http-port, web.h), or NULL */
    SSL *spare_ssl;              /* see make_bev() */
    struct http_ctx *async_head; /* contexts waiting for an asynchronous completion */
    struct http_server *next;
};

/* One server per app; a process normally has one app, tests may create several. */
static struct http_server *g_servers;

struct route {
    unsigned methods;
    size_t n;
    const char *pat[HTTP_MAX_SEGS]; /* literal (case-insensitive) or "*" = any one segment */
    void (*fn)(struct http_ctx *c);
};

static const struct route routes[] = {
    {HTTP_GET, 1, {"devices"}, service_device_list},
    {HTTP_POST, 1, {"devices"}, service_device_bulk},
    {HTTP_POST, 2, {"devices", "query"}, service_device_query},
    {HTTP_GET, 2, {"devices", "*"}, service_device_get},
    {HTTP_PUT, 2, {"devices", "*"}, service_device_put},
    {HTTP_DELETE, 2, {"devices", "*"}, service_device_delete},
    {HTTP_POST, 4, {"devices", "*", "messages", "deviceBound"}, service_c2d_send},
    {HTTP_GET, 2, {"statistics", "devices"}, service_device_stats},
    {HTTP_GET, 2, {"twins", "*"}, service_twin_get},
    {HTTP_PATCH, 2, {"twins", "*"}, service_twin_patch},
    {HTTP_PUT, 2, {"twins", "*"}, service_twin_put},
    {HTTP_POST, 3, {"twins", "*", "methods"}, service_method_invoke},
};

static struct http_server *server_of(const struct app *app)
{
    struct http_server *s;
    for (s = g_servers; s != NULL; s = s->next) {
        if (s->app == app)
            return s;
    }
    return NULL;
}

void http_ctx_go_async(struct http_ctx *c, void (*cancel)(struct http_ctx *c))
{
    c->async = true;
    c->cancel = cancel;
    c->prev = NULL;
    c->next = c->srv->async_head;
    if (c->next != NULL)
        c->next->prev = c;
    c->srv->async_head = c;
}

void http_ctx_free(struct http_ctx *c)
{
    if (c == NULL)
        return;
    if (c->async) {
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            c->srv->async_head = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
    }
    free(c->seg_buf);
    free(c);
}

static void make_tracking_id(char out[40])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16];
    size_t i, o = 0;
    if (RAND_bytes(r, sizeof r) != 1)
        memset(r, 0, sizeof r);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* UUID v4 shape, like the hub's ids */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[r[i] >> 4];
        out[o++] = hex[r[i] & 15];
    }
    out[o] = '\0';
}

/* Split the raw path into percent-decoded segments. Returns 0, or -1 (malformed). */
static int split_path(struct http_ctx *c, const char *path)
{
    size_t plen = strlen(path), o = 0;
    const char *p = path;

    if (plen == 0 || plen > HTTP_MAX_PATH || path[0] != '/')
        return -1;
    c->seg_buf = malloc(plen + 1);
    if (c->seg_buf == NULL)
        return -1;
    p++;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p), dlen = 0;
        int rc;

        if (end == NULL && len == 0 && c->nseg > 0)
            break; /* "/devices/" == "/devices" (the SDK's list call) */
        if (c->nseg == HTTP_MAX_SEGS)
            return -1;
        rc = iotc_pct_decode((struct iotc_span){p, len}, c->seg_buf + o, plen + 1 - o, &dlen);
        if (rc != IOTC_OK || memchr(c->seg_buf + o, '\0', dlen) != NULL)
            return -1;
        c->seg_buf[o + dlen] = '\0';
        c->seg[c->nseg++] = c->seg_buf + o;
        o += dlen + 1;
        if (end == NULL)
            break;
        p = end + 1;
    }
    /* "/" alone gives one empty segment: no route has it, so it ends in 404. */
    return 0;
}

/* True when the decoded sr names this hub: its host, optionally with a ":port" suffix
 * (the SDK signs its HostName verbatim, and a local HostName carries the port). */
static bool sr_names_hub(const struct app *app, struct iotc_span sr)
{
    char buf[320];
    size_t len = 0, i;
    const char *host = app->facts.hub_host;
    size_t hlen = strlen(host);

    if (iotc_pct_decode(sr, buf, sizeof buf, &len) != IOTC_OK || len >= sizeof buf)
        return false;
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL)
        return false;
    if (strcasecmp(buf, host) == 0 || strcasecmp(buf, app->assigned_hub) == 0)
        return true;
    if (len < hlen + 2 || strncasecmp(buf, host, hlen) != 0 || buf[hlen] != ':')
        return false;
    for (i = hlen + 1; i < len; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return false;
    }
    return len - hlen - 1 <= 5;
}

/* Returns NULL when the Authorization header grants service access, else the reason. */
static const char *auth_failure(const struct http_ctx *c)
{
    const struct app *app = c->app;
    const char *h = http_header(c, "Authorization");
    struct iotc_sas_token tok;
    int rc;

    if (h == NULL || *h == '\0')
        return "the Authorization header is missing";
    if (iotc_sas_parse(iotc_span_from_cstr(h), &tok) != IOTC_OK)
        return "the Authorization header is not a SharedAccessSignature token";
    if (tok.skn.ptr == NULL)
        return "the token has no skn: a service policy token is required";
    if (!iotc_pct_equal(tok.skn, iotc_span_from_cstr(app->facts.service_policy)))
        return "unknown shared access policy (skn)";
    if (!sr_names_hub(app, tok.sr))
        return "the token's sr does not name this hub";
    rc = iotc_sas_verify(&tok, iotc_span_from_cstr(app->facts.service_key),
                         (uint64_t)(app_now_ms() / 1000));
    if (rc == IOTC_E_EXPIRED)
        return "the token has expired";
    if (rc != IOTC_OK)
        return "the token's signature does not verify";
    return NULL;
}

static void peer_text(struct evhttp_request *req, char *out, size_t size)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (evcon != NULL)
        evhttp_connection_get_peer(evcon, &addr, &port);
    snprintf(out, size, "%s:%u", addr != NULL ? addr : "?", (unsigned)port);
}

static enum http_method method_of(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return HTTP_GET;
    case EVHTTP_REQ_PUT:
        return HTTP_PUT;
    case EVHTTP_REQ_POST:
        return HTTP_POST;
    case EVHTTP_REQ_DELETE:
        return HTTP_DELETE;
    case EVHTTP_REQ_PATCH:
        return HTTP_PATCH;
    default:
        return 0;
    }
}

static const char *method_name(enum http_method m)
{
    switch (m) {
    case HTTP_GET:
        return "GET";
    case HTTP_PUT:
        return "PUT";
    case HTTP_POST:
        return "POST";
    case HTTP_DELETE:
        return "DELETE";
    case HTTP_PATCH:
        return "PATCH";
    }
    return "?";
}

static bool route_matches(const struct route *r, const struct http_ctx *c)
{
    size_t i;
    if (r->n != c->nseg)
        return false;
    for (i = 0; i < r->n; i++) {
        if (strcmp(r->pat[i], "*") == 0) {
            if (c->seg[i][0] == '\0')
                return false;
        } else if (strcasecmp(r->pat[i], c->seg[i]) != 0) {
            return false;
        }
    }
    return true;
}

static void dispatch(struct http_ctx *c)
{
    size_t i;
    bool path_known = false;
    const char *why;

    if (web_owns(c)) { /* the web UI's files (web.h) */
        web_dispatch(c);
        return;
    }
    if (capi_owns(c)) { /* /api/: IoT Central data plane with its own tokens (capi.h) */
        capi_dispatch(c);
        return;
    }
    why = auth_failure(c);
    if (why != NULL) {
        char peer[80];
        peer_text(c->req, peer, sizeof peer);
        log_warn("https: %s: authentication failed: %s", peer, why);
        http_reply_error(c, 401, "IotHubUnauthorizedAccess", "Unauthorized: %s", why);
        return;
    }
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!route_matches(&routes[i], c))
            continue;
        path_known = true;
        if (routes[i].methods & c->method) {
            routes[i].fn(c);
            return;
        }
    }
    if (path_known)
        http_reply_error(c, 405, "MethodNotAllowed", "The method is not allowed on this resource.");
    else
        http_reply_error(c, 404, "NotFound", "No such resource.");
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct http_server *srv = arg;
    struct http_ctx *c;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t body_len = evbuffer_get_length(in);

    c = calloc(1, sizeof *c);
    if (c == NULL) {
        evhttp_send_error(req, 500, "Out of memory");
        return;
    }
    c->app = srv->app;
    c->srv = srv;
    c->req = req;
    c->method = method_of(evhttp_request_get_command(req));
    c->query = query != NULL ? query : "";
    make_tracking_id(c->tracking_id);

    if (body_len > HTTP_MAX_BODY) {
        /* evhttp normally refuses these itself (max body size); chunked bodies end here */
        http_reply_error(c, 413, "RequestEntityTooLarge", "The request body exceeds %d bytes.",
                         HTTP_MAX_BODY);
    } else if (c->method == 0) {
        http_reply_error(c, 405, "MethodNotAllowed", "The method is not allowed.");
    } else if (path == NULL || split_path(c, path) != 0) {
        http_reply_error(c, 400, "ArgumentInvalid", "The request path is malformed.");
    } else {
        c->body = body_len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
        c->body_len = body_len;
        if (c->body == NULL) {
            http_reply_error(c, 500, "ServerError", "Out of memory.");
        } else {
            log_debug("https: %s %s", method_name(c->method), evhttp_request_get_uri(req));
            dispatch(c);
        }
    }
    if (c->async)
        return; /* the handler replies later (and frees c) */
    if (!c->replied)
        http_reply_error(c, 500, "ServerError", "The request was not answered.");
    http_ctx_free(c);
}

/* evhttp asks for a bufferevent per accepted connection. A NULL return would make evhttp fall
 * back to a plain-TCP bufferevent, so keep one spare SSL object for when SSL_new fails. */
static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
    struct http_server *srv = arg;
    struct bufferevent *bev;
    SSL *ssl = SSL_new(srv->app->ssl_ctx);

    if (ssl == NULL) {
        ssl = srv->spare_ssl;
        srv->spare_ssl = NULL;
        log_error("https: SSL_new failed%s", ssl != NULL ? "; using the spare" : "");
    }
    if (ssl == NULL)
        return NULL;
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* Clients (Node's agent) often close without a TLS close_notify; that is not an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    if (srv->spare_ssl == NULL)
        srv->spare_ssl = SSL_new(srv->app->ssl_ctx);
    return bev;
}

int service_http_start(struct app *app)
{
    struct http_server *srv;
    int one = 1;

    if (app->https_fd < 0)
        return 0;
    if (app->ssl_ctx == NULL || server_of(app) != NULL) {
        log_error("https: cannot start (no TLS context, or already started)");
        return -1;
    }
    /* Accepted sockets inherit TCP_NODELAY from the listener (Linux). Without it a response
     * written as several TLS records waits for the client's delayed ACK (~40 ms each). */
    if (setsockopt(app->https_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        log_warn("https: cannot set TCP_NODELAY on the listener");
    srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        goto fail;
    srv->app = app;
    srv->http = evhttp_new(app->base);
    if (srv->http == NULL)
        goto fail;
    srv->spare_ssl = SSL_new(app->ssl_ctx);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_POST |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(srv->http, HTTP_MAX_BODY);
    evhttp_set_max_headers_size(srv->http, HTTP_MAX_HEADERS);
    evhttp_set_timeout(srv->http, HTTP_TIMEOUT_S);
    /* On 413, read and drop the rest of the body before closing, so the client sees the
     * answer instead of a reset while it is still sending. */
    evhttp_set_flags(srv->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_bevcb(srv->http, make_bev, srv);
    evhttp_set_gencb(srv->http, on_request, srv);
    if (app->cfg.http_on && (srv->plain = web_plain_listen(app, on_request, srv)) == NULL)
        goto fail;
    srv->sock = evhttp_accept_socket_with_handle(srv->http, app->https_fd);
    if (srv->sock == NULL)
        goto fail;
    /* The fd now belongs to the evhttp listener (closed by evhttp_free). app->https_fd keeps
     * its value so main.c knows the API is running and calls service_http_stop. */
    srv->next = g_servers;
    g_servers = srv;
    if (capi_start(app) < 0)
        log_error("https: the application API (/api/) is not available");
    log_info("https: service API listening on port %u", (unsigned)app->https_port);
    return 0;

fail:
    log_error("https: cannot start the service API");
    if (srv != NULL) {
        if (srv->http != NULL)
            evhttp_free(srv->http);
        if (srv->plain != NULL)
            evhttp_free(srv->plain);
        SSL_free(srv->spare_ssl);
        free(srv);
    }
    if (app->https_fd >= 0) {
        close(app->https_fd);
        app->https_fd = -1;
    }
    return -1;
}

void service_http_stop(struct app *app)
{
    struct http_server *srv = server_of(app), **pp;
    size_t pending = 0;

    if (srv == NULL)
        return;
    /* Pending method calls: cancel the operation, then answer so evhttp can release the
     * request (a reply is what frees a request whose client already went away). */
    while (srv->async_head != NULL) {
        struct http_ctx *c = srv->async_head;
        if (c->deferred != NULL) {
            http_ctx_flush_deferred(c);
            continue;
        }
        if (c->cancel != NULL)
            c->cancel(c);
        c->cancel = NULL;
        http_reply_error(c, 503, "ServiceUnavailable", "The server is shutting down.");
        pending++;
    }
    log_info("https: service API stopped (%zu pending requests answered 503)", pending);
    capi_stop(app);         /* after the pending commands above were answered */
    evhttp_free(srv->http); /* closes the listener and every connection */
    if (srv->plain != NULL)
        evhttp_free(srv->plain);
    app->https_fd = -1;
    SSL_free(srv->spare_ssl);
    for (pp = &g_servers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == srv) {
            *pp = srv->next;
            break;
        }
    }
    free(srv);
}
