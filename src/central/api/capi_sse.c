/*
 * capi_sse.c - GET /api/devices/{id}/events: a server-sent events stream per device.
 *
 * The stream is an evhttp chunked reply that never ends on its own. Ownership of the request:
 * while the connection lives, libevent owns it; when the client goes away libevent detaches the
 * request (evhttp_connection_incoming_fail: req->evcon = NULL, not freed) and frees the
 * connection, whose close callback is ours: the request is then ours to free. At shutdown
 * (capi_stop) we end every stream with evhttp_send_reply_end, which hands the request back.
 *
 * A write may fail synchronously and make libevent free the connection (and call on_close)
 * from inside evhttp_send_reply_chunk; so while we write (a->sse_busy), a closed stream is only
 * marked dead and freed afterwards by sweep().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "central/api/capi_int.h"
#include "central/base/log.h"

#define SSE_MAX_STREAMS 64
#define SSE_PING_S 15
#define SSE_MAX_BACKLOG (1024 * 1024) /* unsent bytes above which events are dropped */

struct appl_sse {
    struct appl *a;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct event *ping;
    char device_id[DEVICE_ID_MAX + 1];
    size_t dropped;
    bool dead;     /* the connection is gone; free at the next sweep */
    bool orphaned; /* libevent detached the request: we free it */
    struct appl_sse *next;
};

const struct appl_sse *appl_sse_next(const struct appl_sse *s)
{
    return s->next;
}

const char *appl_sse_device(const struct appl_sse *s)
{
    return s->device_id;
}

static void sweep(struct appl *a)
{
    struct appl_sse **pp = &a->streams;
    while (*pp != NULL) {
        struct appl_sse *s = *pp;
        if (!s->dead) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        a->n_streams--;
        if (s->ping != NULL)
            event_free(s->ping);
        if (s->orphaned)
            evhttp_request_free(s->req);
        free(s);
    }
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct appl_sse *s = arg;
    (void)evcon;
    log_debug("capi: event stream of %s closed", s->device_id);
    s->dead = true;
    /* Detached by libevent (client went away): the request is ours now. */
    s->orphaned = evhttp_request_get_connection(s->req) == NULL;
    if (s->ping != NULL)
        event_del(s->ping);
    if (s->a->sse_busy == 0)
        sweep(s->a);
}

static size_t backlog(const struct appl_sse *s)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
    return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void send_text(struct appl_sse *s, const char *text, size_t len)
{
    struct evbuffer *b;
    if (s->dead || evhttp_request_get_connection(s->req) == NULL)
        return;
    if (backlog(s) > SSE_MAX_BACKLOG) {
        s->dropped++;
        return;
    }
    b = evbuffer_new();
    if (b == NULL)
        return;
    evbuffer_add(b, text, len);
    evhttp_send_reply_chunk(s->req, b);
    evbuffer_free(b);
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    static const char ping[] = ": keep-alive\n\n";
    struct appl_sse *s = arg;
    struct appl *a = s->a;
    a->sse_busy++;
    send_text(s, ping, sizeof ping - 1);
    a->sse_busy--;
    if (a->sse_busy == 0)
        sweep(a);
}

void appl_sse_publish(struct appl *a, const char *device_id, const char *event, const cJSON *data)
{
    char *json = NULL;
    a->sse_busy++;
    for (struct appl_sse *s = a->streams; s != NULL; s = s->next) {
        if (s->dead || strcmp(s->device_id, device_id) != 0)
            continue;
        if (json == NULL) {
            json = cJSON_PrintUnformatted(data);
            if (json == NULL)
                break;
        }
        /* cJSON escapes control characters, so the data is one line */
        size_t len = strlen(json) + strlen(event) + 32;
        char *text = malloc(len);
        if (text == NULL)
            break;
        int n = snprintf(text, len, "event: %s\ndata: %s\n\n", event, json);
        if (n > 0)
            send_text(s, text, (size_t)n);
        free(text);
    }
    free(json);
    a->sse_busy--;
    if (a->sse_busy == 0)
        sweep(a);
}

void appl_sse_close_all(struct appl *a)
{
    for (struct appl_sse *s = a->streams; s != NULL; s = s->next) {
        if (s->dead)
            continue;
        s->dead = true;
        s->orphaned = evhttp_request_get_connection(s->req) == NULL;
        if (!s->orphaned) {
            evhttp_connection_set_closecb(s->evcon, NULL, NULL);
            evhttp_send_reply_end(s->req); /* the request goes back to libevent */
        }
    }
    sweep(a);
}

void capi_events(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    (void)role;
    if (dev == NULL)
        return;
    if (a->n_streams >= SSE_MAX_STREAMS) {
        capi_error(c, 503, "ServiceUnavailable", "Too many open event streams (%d).",
                   SSE_MAX_STREAMS);
        return;
    }
    struct appl_sse *s = calloc(1, sizeof *s);
    struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
    if (s == NULL || evcon == NULL) {
        free(s);
        capi_error(c, 500, "InternalError", "Cannot open the stream.");
        return;
    }
    s->a = a;
    s->req = c->req;
    s->evcon = evcon;
    snprintf(s->device_id, sizeof s->device_id, "%s", dev->id);
    s->ping = event_new(a->app->base, -1, EV_PERSIST, on_ping, s);
    if (s->ping != NULL) {
        struct timeval tv = {SSE_PING_S, 0};
        event_add(s->ping, &tv);
    }
    http_add_header(c, "Content-Type", "text/event-stream");
    http_add_header(c, "Cache-Control", "no-cache");
    evhttp_send_reply_start(c->req, 200, "OK");
    evhttp_connection_set_closecb(evcon, on_close, s);
    s->next = a->streams;
    a->streams = s;
    a->n_streams++;
    /* The reply is ours from here on: the server frees the context but not the request. */
    c->replied = true;
    static const char hello[] = ": connected\n\n";
    a->sse_busy++;
    send_text(s, hello, sizeof hello - 1);
    a->sse_busy--;
    if (a->sse_busy == 0)
        sweep(a);
}
