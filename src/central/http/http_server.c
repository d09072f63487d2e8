/*
 * http_server.c - the HTTP server (http_server.h): evhttp over bufferevent_openssl on the HTTPS
 * socket, plain evhttp on the loopback socket, and the routing of every request to the sites
 * the upper modules registered.
 */
#include "central/http/http_server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <iotc/codec.h>

#include "central/base/admit.h"
#include "central/base/log.h"
#include "central/http/http_ws.h"

#define HTTP_MAX_HEADERS 65536
#define HTTP_MAX_PATH 2048
/* evhttp's own timeout, started again by every byte read or written: a connection that
 * neither reads nor writes is closed after this. While a handler works on a request evhttp
 * does not read from the connection, so long method calls are not cut short. The deadline of
 * a request (--auth-timeout, which also ends idle keep-alive connections) is the guard's. */
#define HTTP_TIMEOUT_S 120
#define HTTP_MAX_SITES 4

/* One per accepted connection while app->admit is in use: its place in the HTTP budget and
 * the deadline of its next request (evhttp's own timeout starts again with every byte read,
 * so a request trickling in one byte at a time would never end). */
struct http_guard {
    struct admit_slot slot;
    struct http_server *srv;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until guard_init_cb */
    struct event *ev; /* first made active to finish the setup, then the request deadline */
    struct http_guard *prev, *next;
    void (*user_closecb)(struct evhttp_connection *, void *); /* http_conn_set_closecb */
    void *user_arg;
    char peer[64];
    bool busy; /* a request is being answered: no deadline */
};

struct http_server {
    struct app *app;
    struct http_guard *guards;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct evhttp *plain;        /* plain HTTP on loopback (--http-port), or NULL */
    SSL *spare_ssl;              /* see make_bev() */
    struct http_ctx *async_head; /* contexts waiting for an asynchronous completion */
    struct ws_conn *ws_head;     /* MQTT over WebSockets connections (http_ws.c) */
    http_mqtt_sink_fn mqtt_sink; /* who serves them; NULL: no WebSocket endpoint */
    const struct http_site *sites[HTTP_MAX_SITES];
    size_t n_sites;
};

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

/* Split the raw path into percent-decoded segments. CE_OK, CE_INVALID (malformed), CE_NOMEM. */
static int split_path(struct http_ctx *c, const char *path)
{
    size_t plen = strlen(path), o = 0;
    const char *p = path;

    if (plen == 0 || plen > HTTP_MAX_PATH || path[0] != '/')
        return CE_INVALID;
    c->seg_buf = malloc(plen + 1);
    if (c->seg_buf == NULL)
        return CE_NOMEM;
    p++;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p), dlen = 0;
        int rc;

        if (end == NULL && len == 0 && c->nseg > 0)
            break; /* "/devices/" == "/devices" (the SDK's list call) */
        if (c->nseg == HTTP_MAX_SEGS)
            return CE_INVALID;
        rc = iotc_pct_decode((struct iotc_span){p, len}, c->seg_buf + o, plen + 1 - o, &dlen);
        if (rc != IOTC_OK || memchr(c->seg_buf + o, '\0', dlen) != NULL)
            return CE_INVALID;
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

void http_peer(const struct http_ctx *c, char *out, size_t size)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
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

/* Does segment @p i.. of @p c match the pattern @p path ("/a/{x}/{*rest}")? */
static bool path_matches(const char *path, const struct http_ctx *c, bool case_sensitive)
{
    const char *p = path + 1;
    size_t i = 0;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len >= 2 && p[0] == '{' && p[1] == '*')
            return i < c->nseg; /* the rest: one or more segments */
        if (i == c->nseg)
            return false;
        if (len >= 2 && p[0] == '{') {
            if (c->seg[i][0] == '\0')
                return false;
        } else if (strlen(c->seg[i]) != len ||
                   (case_sensitive ? strncmp(p, c->seg[i], len) : strncasecmp(p, c->seg[i], len)) !=
                       0) {
            return false;
        }
        i++;
        if (end == NULL)
            return i == c->nseg;
        p = end + 1;
    }
}

const struct http_route *http_route_find(const struct http_route *v, size_t n,
                                         const struct http_ctx *c, bool case_sensitive,
                                         bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < n; i++) {
        if (!path_matches(v[i].path, c, case_sensitive))
            continue;
        *path_known = true;
        if (v[i].methods & c->method)
            return &v[i];
    }
    return NULL;
}

static bool site_owns(const struct http_site *site, const struct http_ctx *c)
{
    switch (site->scope) {
    case HTTP_SCOPE_PREFIX:
        return c->nseg >= 1 && strcmp(c->seg[0], site->prefix) == 0;
    case HTTP_SCOPE_ROUTES:
        for (size_t i = 0; i < site->n_routes; i++) {
            if (path_matches(site->routes[i].path, c, site->case_sensitive))
                return true;
        }
        return false;
    case HTTP_SCOPE_ALL:
        return true;
    }
    return false;
}

static void dispatch(struct http_ctx *c)
{
    const struct http_server *srv = c->srv;
    for (size_t i = 0; i < srv->n_sites; i++) {
        const struct http_site *site = srv->sites[i];
        bool path_known;
        if (!site_owns(site, c))
            continue;
        if (site->gate != NULL && !site->gate(c))
            return;
        const struct http_route *r =
            http_route_find(site->routes, site->n_routes, c, site->case_sensitive, &path_known);
        if (r == NULL)
            site->no_route(c, path_known);
        else if (site->allow == NULL || site->allow(c, r))
            r->fn(c);
        return;
    }
    http_reply_error(c, 404, "NotFound", "No such resource.");
}

static int content_lengths(struct evhttp_request *req)
{
    int n = 0;
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    for (const struct evkeyval *kv = h != NULL ? h->tqh_first : NULL; kv != NULL;
         kv = kv->next.tqe_next) {
        if (strcasecmp(kv->key, "Content-Length") == 0)
            n++;
    }
    return n;
}

static void guard_request(struct http_server *srv, struct evhttp_request *req);

static void on_request(struct evhttp_request *req, void *arg)
{
    struct http_server *srv = arg;
    struct http_ctx *c;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t body_len = evbuffer_get_length(in);
    int rc;

    guard_request(srv, req);
    /* MQTT over WebSockets: before any site's gate, as the SDKs send no API credentials. The
     * connection keeps its HTTP slot (open, no longer pending) until the tunnel ends; the
     * broker's session behind it has the MQTT deadline for its CONNECT. */
    if (srv->mqtt_sink != NULL && http_ws_is_endpoint(path) &&
        evhttp_request_get_connection(req) != NULL) {
        http_ws_upgrade(srv->app, req, srv->mqtt_sink, &srv->ws_head);
        return;
    }
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

    if (content_lengths(req) > 1) {
        /* evhttp frames the body by the first one; a proxy may use another */
        http_add_header(c, "Connection", "close");
        http_reply_error(c, 400, "ArgumentInvalid",
                         "The request has more than one Content-Length.");
    } else if (body_len > HTTP_MAX_BODY) {
        /* evhttp normally refuses these itself (max body size); chunked bodies end here */
        http_reply_error(c, 413, "RequestEntityTooLarge", "The request body exceeds %d bytes.",
                         HTTP_MAX_BODY);
    } else if (c->method == 0) {
        http_reply_error(c, 405, "MethodNotAllowed", "The method is not allowed.");
    } else if ((rc = path != NULL ? split_path(c, path) : CE_INVALID) != CE_OK) {
        if (rc == CE_NOMEM)
            http_reply_error(c, 500, "ServerError", "Out of memory.");
        else
            http_reply_error(c, 400, "ArgumentInvalid", "The request path is malformed.");
    } else {
        c->body = body_len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
        c->body_len = body_len;
        if (c->body == NULL) {
            http_reply_error(c, 500, "ServerError", "Out of memory.");
        } else {
            log_debug("https: %s %s", method_name(c->method), LOG_STR(evhttp_request_get_uri(req)));
            dispatch(c);
        }
    }
    if (c->async)
        return; /* the handler replies later (and frees c) */
    if (!c->replied)
        http_reply_error(c, 500, "ServerError", "The request was not answered.");
    http_ctx_free(c);
}

/* ---------------------------------------------------------------- connection budget */

static struct http_guard *guard_of(const struct http_server *srv,
                                   const struct evhttp_connection *evcon)
{
    for (struct http_guard *g = srv->guards; g != NULL; g = g->next) {
        if (g->evcon == evcon && evcon != NULL)
            return g;
    }
    return NULL;
}

static void guard_free(struct http_guard *g)
{
    struct http_server *srv = g->srv;
    if (srv->app->admit != NULL)
        admit_leave(srv->app->admit, &g->slot);
    if (g->prev != NULL)
        g->prev->next = g->next;
    else
        srv->guards = g->next;
    if (g->next != NULL)
        g->next->prev = g->prev;
    if (g->ev != NULL)
        event_free(g->ev);
    free(g);
}

static void guard_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    struct http_guard *g = arg;
    if (g->user_closecb != NULL)
        g->user_closecb(evcon, g->user_arg);
    guard_free(g);
}

void http_conn_set_closecb(struct app *app, struct evhttp_connection *evcon,
                           void (*cb)(struct evhttp_connection *evcon, void *arg), void *arg)
{
    struct http_guard *g = app->http != NULL ? guard_of(app->http, evcon) : NULL;
    if (g == NULL) {
        evhttp_connection_set_closecb(evcon, cb, arg);
        return;
    }
    g->user_closecb = cb; /* guard_closed_cb calls it */
    g->user_arg = arg;
}

static void guard_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_guard *g = arg;
    struct admit *a = g->srv->app->admit;
    if (g->busy || g->evcon == NULL || a == NULL)
        return;
    admit_report(a, ADMIT_R_DEADLINE, ADMIT_HTTP, g->peer, app_now_ms());
    evhttp_connection_free(g->evcon); /* guard_closed_cb frees g */
}

static void guard_arm(struct http_guard *g)
{
    int64_t ms = admit_wait_ms(g->srv->app->admit, &g->slot, app_now_ms());
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(g->ev, &tv);
}

/* Runs once evhttp has set the connection up around the bufferevent make_bev gave it. */
static void guard_init_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_guard *g = arg;
    struct http_server *srv = g->srv;
    struct admit *a = srv->app->admit;
    bufferevent_event_cb eventcb = NULL;
    void *cbarg = NULL;
    bufferevent_getcb(g->bev, NULL, NULL, &eventcb, &cbarg);
    bool gone = eventcb == NULL || cbarg == NULL; /* evhttp gave it up already */
    bufferevent_decref(g->bev);                   /* make_bev's reference */
    if (gone || a == NULL) {
        guard_free(g);
        return;
    }
    g->evcon = cbarg; /* evhttp's argument to its bufferevent callbacks is the connection */
    evhttp_connection_set_closecb(g->evcon, guard_closed_cb, g);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(bufferevent_getfd(g->bev), (struct sockaddr *)&ss, &len) != 0)
        ss.ss_family = AF_UNSPEC;
    char *host = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(g->evcon, &host, &port);
    snprintf(g->peer, sizeof g->peer, "%s:%u", host != NULL ? host : "?", (unsigned)port);
    struct admit_key key = admit_key_of((const struct sockaddr *)&ss);
    struct admit_slot *victim;
    int64_t now = app_now_ms();
    enum admit_verdict v = admit_decide(a, &key, ADMIT_HTTP, &victim);
    if (v == ADMIT_REFUSE_ADDR || v == ADMIT_REFUSE_FULL) {
        admit_report(a, v == ADMIT_REFUSE_ADDR ? ADMIT_R_REFUSED_ADDR : ADMIT_R_REFUSED_FULL,
                     ADMIT_HTTP, g->peer, now);
        evhttp_connection_free(g->evcon); /* guard_closed_cb frees g */
        return;
    }
    if (v == ADMIT_EVICT) {
        struct http_guard *old =
            (struct http_guard *)(void *)((char *)victim - offsetof(struct http_guard, slot));
        admit_report(a, ADMIT_R_EVICTED, ADMIT_HTTP, old->peer, now);
        evhttp_connection_free(old->evcon);
    }
    (void)admit_enter(a, &g->slot, &key, ADMIT_HTTP, now); /* NOMEM: not counted, still timed */
    event_assign(g->ev, srv->app->base, -1, 0, guard_deadline_cb, g);
    guard_arm(g);
}

/* A guard for @p bev, a new connection's; @p bev as it is when there are no limits. */
static struct bufferevent *guard_bev(struct http_server *srv, struct bufferevent *bev)
{
    if (bev == NULL || srv->app->admit == NULL)
        return bev;
    struct http_guard *g = calloc(1, sizeof *g);
    if (g == NULL)
        return bev;
    g->srv = srv;
    g->bev = bev;
    g->ev = event_new(srv->app->base, -1, 0, guard_init_cb, g);
    if (g->ev == NULL) {
        free(g);
        return bev;
    }
    /* evhttp makes the connection around bev once this returns; guard_init_cb runs after that,
     * in this loop iteration. The reference keeps bev while evhttp could give it up first. */
    bufferevent_incref(bev);
    g->next = srv->guards;
    if (g->next != NULL)
        g->next->prev = g;
    srv->guards = g;
    event_active(g->ev, EV_TIMEOUT, 1);
    return bev;
}

/* The response to a request is out: the next request's deadline starts. */
static void guard_answered_cb(struct evhttp_request *req, void *arg)
{
    (void)req;
    struct http_guard *g = arg;
    g->busy = false;
    (void)admit_again(g->srv->app->admit, &g->slot, app_now_ms());
    guard_arm(g);
}

/* A request has arrived (headers and body): no deadline while it is answered. */
static void guard_request(struct http_server *srv, struct evhttp_request *req)
{
    struct http_guard *g = guard_of(srv, evhttp_request_get_connection(req));
    if (g == NULL || srv->app->admit == NULL)
        return;
    g->busy = true;
    event_del(g->ev);
    admit_done(srv->app->admit, &g->slot);
    evhttp_request_set_on_complete_cb(req, guard_answered_cb, g);
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
    /* X.509 devices over WebSockets: ask for (never require) a client certificate; the broker
     * judges it at CONNECT (http_ws.c hands it over) */
    app_request_client_cert(ssl, "iotc-https");
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
    return guard_bev(srv, bev);
}

/* The plain HTTP listener's bufferevents (what evhttp would make itself), guarded the same. */
static struct bufferevent *make_plain_bev(struct event_base *base, void *arg)
{
    return guard_bev(arg, bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE));
}

/* The listener settings both evhttps share. */
static struct evhttp *new_evhttp(struct http_server *srv)
{
    struct evhttp *http = evhttp_new(srv->app->base);
    if (http == NULL)
        return NULL;
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_POST |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(http, HTTP_MAX_BODY);
    evhttp_set_max_headers_size(http, HTTP_MAX_HEADERS);
    evhttp_set_timeout(http, HTTP_TIMEOUT_S);
    /* A Content-Length above the maximum gets 413 as soon as the headers are read, and the
     * connection closes: no lingering close, which would read the whole declared body first. */
    evhttp_set_gencb(http, on_request, srv);
    return http;
}

/* Plain HTTP for local use on app->http_fd (bound to 127.0.0.1 by main.c). */
static int plain_listen(struct http_server *srv)
{
    struct app *app = srv->app;
    srv->plain = new_evhttp(srv);
    if (srv->plain == NULL)
        return CE_NOMEM;
    evhttp_set_bevcb(srv->plain, make_plain_bev, srv);
    if (evhttp_accept_socket_with_handle(srv->plain, app->http_fd) == NULL) {
        log_error("http: cannot accept on 127.0.0.1:%u", (unsigned)app->http_port);
        return CE_NOMEM;
    }
    log_info("http: web UI and APIs on http://127.0.0.1:%u/ (loopback only)",
             (unsigned)app->http_port);
    return CE_OK;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int http_server_start(struct app *app)
{
    struct http_server *srv;
    int one = 1, rc = CE_NOMEM;

    CENTRAL_ASSERT_LOOP(app);
    if (app->https_fd < 0 || app->ssl_ctx == NULL || app->http != NULL) {
        log_error("https: cannot start (no socket or TLS context, or already started)");
        close_fd(&app->http_fd);
        close_fd(&app->wss_fd);
        return CE_INVALID;
    }
    /* Accepted sockets inherit TCP_NODELAY from the listener (Linux). Without it a response
     * written as several TLS records waits for the client's delayed ACK (~40 ms each). */
    if (setsockopt(app->https_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        (app->wss_fd >= 0 &&
         setsockopt(app->wss_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0))
        log_warn("https: cannot set TCP_NODELAY on the listener");
    srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        goto fail;
    srv->app = app;
    srv->http = new_evhttp(srv);
    if (srv->http == NULL)
        goto fail;
    srv->spare_ssl = SSL_new(app->ssl_ctx);
    evhttp_set_bevcb(srv->http, make_bev, srv);
    if (app->http_fd >= 0) {
        rc = plain_listen(srv);
        if (rc != CE_OK)
            goto fail;
        app->http_fd = -1; /* the plain evhttp owns it now */
    }
    srv->sock = evhttp_accept_socket_with_handle(srv->http, app->https_fd);
    if (srv->sock == NULL) {
        rc = CE_NOMEM;
        goto fail;
    }
    /* The fd now belongs to the evhttp listener (closed by evhttp_free). */
    app->https_fd = -1;
    /* The second port (--wss-port, 443 by default): the same evhttp, so the same sites, the
     * WebSocket endpoint and the same guards; Azure serves its APIs and WebSockets on 443. */
    if (app->wss_fd >= 0) {
        if (evhttp_accept_socket_with_handle(srv->http, app->wss_fd) == NULL) {
            rc = CE_NOMEM;
            goto fail; /* evhttp_free closes the HTTPS socket it took */
        }
        app->wss_fd = -1;
    }
    app->http = srv;
    log_info("https: service API listening on port %u", (unsigned)app->https_port);
    if (app->wss_port != 0)
        log_info("https: also on port %u, where the Azure SDKs dial MQTT over WebSockets "
                 "(wss://HOST/$iothub/websocket)",
                 (unsigned)app->wss_port);
    return CE_OK;

fail:
    log_error("https: cannot start the HTTP server");
    if (srv != NULL) {
        if (srv->http != NULL)
            evhttp_free(srv->http);
        if (srv->plain != NULL)
            evhttp_free(srv->plain);
        SSL_free(srv->spare_ssl);
        free(srv);
    }
    close_fd(&app->https_fd);
    close_fd(&app->http_fd);
    close_fd(&app->wss_fd);
    return rc;
}

void http_server_set_mqtt_sink(struct http_server *srv, http_mqtt_sink_fn sink)
{
    srv->mqtt_sink = sink;
}

int http_server_add_site(struct http_server *srv, const struct http_site *site)
{
    CENTRAL_ASSERT(site->no_route != NULL && (site->scope != HTTP_SCOPE_PREFIX || site->prefix));
    if (srv->n_sites == HTTP_MAX_SITES)
        return CE_BUSY;
    srv->sites[srv->n_sites++] = site;
    return CE_OK;
}

void http_server_drain(struct app *app)
{
    struct http_server *srv = app->http;
    size_t pending = 0;

    if (srv == NULL)
        return;
    CENTRAL_ASSERT_LOOP(app);
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
}

void http_server_free(struct app *app)
{
    struct http_server *srv = app->http;
    if (srv == NULL)
        return;
    CENTRAL_ASSERT(srv->async_head == NULL);
    http_ws_close_all(&srv->ws_head);
    evhttp_free(srv->http); /* closes the listener and every connection */
    if (srv->plain != NULL)
        evhttp_free(srv->plain);
    while (srv->guards != NULL) { /* accepted as the loop ended: guard_init_cb never ran */
        struct http_guard *g = srv->guards;
        if (g->evcon == NULL)
            bufferevent_decref(g->bev);
        guard_free(g);
    }
    SSL_free(srv->spare_ssl);
    free(srv);
    app->http = NULL;
}
