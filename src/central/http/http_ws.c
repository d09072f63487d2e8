/*
 * http_ws.c - MQTT over WebSockets (see http_ws.h). RFC 6455 framing is the pure core's
 * (proto/ws.h); this file is the I/O: it takes the connection over from evhttp after the
 * upgrade request, decodes the client's frames and hands their bytes to the MQTT sink (a broker
 * session, hub/broker.h broker_adopt()) through a socket pair, and frames what the broker writes
 * back as binary messages.
 *
 * Why a socket pair: the broker's sessions own a socket (and its TLS) directly
 * (hub/broker_io.c); giving one a socket end keeps every rule of the MQTT listener for
 * WebSocket clients without a second transport inside the broker, for two descriptors and one
 * copy per connection.
 */
#include "central/http/http_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "central/base/log.h"
#include "iotc/codec.h"
#include "proto/ws.h"

#define WS_FRAME_MAX (512 * 1024)       /* one frame's payload; MQTT packets are ≤ 258 KB */
#define WS_BUFFER_MAX (4 * 1024 * 1024) /* queued in either direction before reading pauses */
#define WS_CLOSE_WAIT_S 2

struct ws_conn {
    struct ws_conn *prev, *next, **list;
    struct evhttp_connection *evcon; /* owns the client's bufferevent (TLS) */
    struct bufferevent *client;
    struct bufferevent *pair; /* our end of the socket pair; the broker has the other */
    struct iotc_ws_stream stream;
    char peer[64];
    bool closing; /* a close frame was sent: waiting for the output to drain */
};

bool http_ws_is_endpoint(const char *path)
{
    return path != NULL &&
           (strcmp(path, "/$iothub/websocket") == 0 || strcmp(path, "/%24iothub/websocket") == 0);
}

/* True when the comma-separated header value @p v holds @p token (any case). */
static bool has_token(const char *v, const char *token)
{
    size_t n = strlen(token);
    while (v != NULL && *v != '\0') {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t len = strcspn(v, ",");
        size_t end = len;
        while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end == n && strncasecmp(v, token, n) == 0)
            return true;
        v += len;
    }
    return false;
}

static void ws_free(struct ws_conn *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else if (*w->list == w)
        *w->list = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    if (w->pair != NULL)
        bufferevent_free(w->pair); /* the broker sees the end of its connection */
    if (w->evcon != NULL)
        evhttp_connection_free(w->evcon); /* frees the client bufferevent and the request */
    free(w);
}

/* Send a close frame with @p code and close once it is written (at most WS_CLOSE_WAIT_S). */
static void ws_close(struct ws_conn *w, uint16_t code, const char *why)
{
    if (w->closing)
        return;
    log_info("ws: closing %s (%s)", w->peer, why);
    w->closing = true;
    if (w->pair != NULL) {
        bufferevent_free(w->pair);
        w->pair = NULL;
    }
    unsigned char frame[4];
    size_t n = 0;
    (void)iotc_ws_encode_header(IOTC_WS_CLOSE, true, 2, frame, sizeof frame, &n);
    frame[n] = (unsigned char)(code >> 8);
    frame[n + 1] = (unsigned char)code;
    bufferevent_write(w->client, frame, n + 2);
    struct timeval tv = {WS_CLOSE_WAIT_S, 0};
    bufferevent_set_timeouts(w->client, NULL, &tv);
    bufferevent_disable(w->client, EV_READ);
}

static void write_frame(struct ws_conn *w, uint8_t op, const void *data, size_t len)
{
    unsigned char hdr[IOTC_WS_HEADER_MAX];
    size_t n = 0;
    if (iotc_ws_encode_header(op, true, len, hdr, sizeof hdr, &n) != IOTC_OK)
        return;
    bufferevent_write(w->client, hdr, n);
    if (len > 0)
        bufferevent_write(w->client, data, len);
}

/* One frame from the client. Returns false when the connection is closing. */
static bool on_frame(struct ws_conn *w, const struct iotc_ws_frame *f, unsigned char *scratch)
{
    int code = iotc_ws_stream_next(&w->stream, f);
    if (code != 0) {
        ws_close(w, (uint16_t)code,
                 code == IOTC_WS_CLOSE_UNSUPPORTED ? "text frame (MQTT needs binary)"
                                                   : "frames out of order");
        return false;
    }
    iotc_ws_unmask(f, scratch);
    switch (f->opcode) {
    case IOTC_WS_PING:
        write_frame(w, IOTC_WS_PONG, scratch, f->payload.len);
        return true;
    case IOTC_WS_PONG:
        return true;
    case IOTC_WS_CLOSE: {
        uint16_t peer_code = 0;
        bool ok = iotc_ws_close_payload_ok(
            (struct iotc_span){(const char *)scratch, f->payload.len}, &peer_code);
        ws_close(w, ok ? IOTC_WS_CLOSE_NORMAL : IOTC_WS_CLOSE_PROTOCOL,
                 ok ? "client closed" : "malformed close frame");
        return false;
    }
    default: /* binary data and its continuations: MQTT bytes */
        if (f->payload.len > 0)
            bufferevent_write(w->pair, scratch, f->payload.len);
        if (evbuffer_get_length(bufferevent_get_output(w->pair)) > WS_BUFFER_MAX)
            bufferevent_disable(w->client, EV_READ); /* resumed by pair_write */
        return true;
    }
}

static void client_read(struct bufferevent *bev, void *arg)
{
    struct ws_conn *w = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned char *scratch;
    while (!w->closing && evbuffer_get_length(in) > 0) {
        size_t avail = evbuffer_get_length(in);
        const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)avail);
        struct iotc_ws_frame f;
        size_t used = 0;
        int rc = iotc_ws_decode((struct iotc_span){p, avail}, WS_FRAME_MAX, true, &f, &used);
        if (rc == IOTC_E_AGAIN)
            break;
        if (rc == IOTC_E_TOOBIG) {
            ws_close(w, IOTC_WS_CLOSE_TOOBIG, "frame too large");
            break;
        }
        if (rc != IOTC_OK) {
            ws_close(w, IOTC_WS_CLOSE_PROTOCOL, "malformed frame");
            break;
        }
        /* unmasked copy, sized to the frame (most are a packet or two) */
        scratch = malloc(f.payload.len > 0 ? f.payload.len : 1);
        if (scratch == NULL) {
            ws_close(w, IOTC_WS_CLOSE_GOING_AWAY, "out of memory");
            break;
        }
        bool go_on = on_frame(w, &f, scratch);
        free(scratch);
        scratch = NULL;
        evbuffer_drain(in, used);
        if (!go_on)
            break;
    }
}

static void client_write(struct bufferevent *bev, void *arg)
{
    struct ws_conn *w = arg;
    if (w->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        ws_free(w);
        return;
    }
    if (w->pair != NULL && evbuffer_get_length(bufferevent_get_output(bev)) < WS_BUFFER_MAX / 2)
        bufferevent_enable(w->pair, EV_READ);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct ws_conn *w = arg;
    if (!w->closing)
        log_info("ws: %s went away (%s)", w->peer,
                 (what & BEV_EVENT_EOF) ? "end of stream" : "error or timeout");
    ws_free(w);
}

/* The broker wrote: one binary frame per read. */
static void pair_read(struct bufferevent *bev, void *arg)
{
    struct ws_conn *w = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    unsigned char hdr[IOTC_WS_HEADER_MAX];
    size_t n = 0;
    if (len == 0 ||
        iotc_ws_encode_header(IOTC_WS_BINARY, true, len, hdr, sizeof hdr, &n) != IOTC_OK)
        return;
    bufferevent_write(w->client, hdr, n);
    bufferevent_write_buffer(w->client, in); /* moves the bytes, no copy */
    if (evbuffer_get_length(bufferevent_get_output(w->client)) > WS_BUFFER_MAX)
        bufferevent_disable(bev, EV_READ); /* resumed by client_write */
}

static void pair_write(struct bufferevent *bev, void *arg)
{
    struct ws_conn *w = arg;
    if (!w->closing && evbuffer_get_length(bufferevent_get_output(bev)) < WS_BUFFER_MAX / 2)
        bufferevent_enable(w->client, EV_READ);
}

static void pair_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    struct ws_conn *w = arg;
    pair_read(w->pair, w); /* what the broker wrote last (a CONNACK refusing, say) */
    ws_close(w, IOTC_WS_CLOSE_NORMAL, "MQTT connection closed by the server");
}

/* An HTTP answer to a request that is not upgraded (evhttp_send_error() would drop headers). */
static void refuse(struct evhttp_request *req, int code, const char *reason)
{
    struct evbuffer *body = evbuffer_new();
    if (body != NULL)
        evbuffer_add_printf(body, "%s\n", reason);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, reason, body);
    if (body != NULL)
        evbuffer_free(body);
}

static const char *header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

void http_ws_upgrade(struct app *app, struct evhttp_request *req, http_mqtt_sink_fn sink,
                     struct ws_conn **list)
{
    const char *key = header(req, "Sec-WebSocket-Key");
    const char *version = header(req, "Sec-WebSocket-Version");
    char accept[IOTC_WS_ACCEPT_LEN + 1];
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
        !has_token(header(req, "Upgrade"), "websocket") ||
        !has_token(header(req, "Connection"), "upgrade") || key == NULL ||
        iotc_ws_accept_key(iotc_span_from_cstr(key), accept, sizeof accept) != IOTC_OK) {
        refuse(req, 400, "WebSocket upgrade expected");
        return;
    }
    if (version == NULL || strcmp(version, "13") != 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Sec-WebSocket-Version", "13");
        refuse(req, 426, "Upgrade Required");
        return;
    }
    if (!has_token(header(req, "Sec-WebSocket-Protocol"), "mqtt")) {
        refuse(req, 400, "The mqtt subprotocol is required");
        return;
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *client = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct ws_conn *w = calloc(1, sizeof *w);
    int sp[2] = {-1, -1};
    if (client == NULL || w == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) != 0) {
        free(w);
        refuse(req, 503, "Service Unavailable");
        return;
    }
    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evcon, &addr, &port);
    snprintf(w->peer, sizeof w->peer, "%s:%u", addr ? addr : "?", (unsigned)port);
    char peer[80];
    snprintf(peer, sizeof peer, "ws:%s", w->peer);
    w->pair = bufferevent_socket_new(app->base, sp[0], BEV_OPT_CLOSE_ON_FREE);
    if (w->pair == NULL) {
        close(sp[0]);
        close(sp[1]);
        free(w);
        refuse(req, 503, "Service Unavailable");
        return;
    }
    /* the HTTPS handshake's client certificate (X.509 devices) and the peer's address (the MQTT
     * pre-authentication budget) go with the bytes to the broker session */
    SSL *ssl = bufferevent_openssl_get_ssl(client);
    X509 *cert = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
    const struct mqtt_peer bp = {.name = peer,
                                 .addr = evhttp_connection_get_addr(evcon),
                                 .cert = cert,
                                 .chain = ssl != NULL ? SSL_get_peer_cert_chain(ssl) : NULL};
    int sunk = sink(app, sp[1], &bp);
    X509_free(cert);
    if (sunk != CE_OK) { /* closed sp[1] */
        bufferevent_free(w->pair);
        free(w);
        refuse(req, 503, "Service Unavailable");
        return;
    }
    /* From here the connection is ours: evhttp keeps the (never answered) request and the
     * connection object until ws_free() frees them. */
    w->evcon = evcon;
    w->client = client;
    w->list = list;
    w->next = *list;
    if (*list != NULL)
        (*list)->prev = w;
    *list = w;
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
                     accept);
    bufferevent_setcb(client, client_read, client_write, client_event, w);
    bufferevent_set_timeouts(client, NULL, NULL);
    bufferevent_write(client, resp, (size_t)n);
    bufferevent_enable(client, EV_READ | EV_WRITE);
    bufferevent_setcb(w->pair, pair_read, pair_write, pair_event, w);
    bufferevent_enable(w->pair, EV_READ | EV_WRITE);
    log_info("ws: %s upgraded to MQTT over WebSockets", w->peer);
    if (evbuffer_get_length(bufferevent_get_input(client)) > 0)
        client_read(client, w); /* frames sent right behind the request */
}

void http_ws_close_all(struct ws_conn **list)
{
    while (*list != NULL)
        ws_free(*list);
}
