/*
 * capi_sse.c - GET /api/devices/{id}/events: a server-sent events stream per device.
 *
 * The stream is an evhttp chunked reply that never ends on its own. Ownership of the request:
 * while the connection lives, libevent owns it; when the client goes away libevent detaches the
 * request (evhttp_connection_incoming_fail: req->evcon = NULL, not freed) and frees the
 * connection, whose close callback is ours: the request is then ours to free. At shutdown
 * (capi_stop) we end every stream with evhttp_send_reply_end, which hands the request back.
 *
 * What a stream shows comes from the event bus (events.h), as for any other consumer:
 * telemetry, property and desired patches and connections from the device plane, commands
 * (EV_COMMAND) from the application layer. app->capi subscribes after the application layer.
 *
 * A stream belongs to the API token that opened it: it ends when the token is deleted (the
 * application layer's EV_TOKEN_REVOKED) or reaches its expiry (a timer per stream). Ending a
 * stream sends the last chunk; the stream's reply says "Connection: close", so libevent then
 * closes the connection.
 *
 * A write may fail synchronously and make libevent free the connection (and call on_close)
 * from inside evhttp_send_reply_chunk; so while we write (cp->busy), a closed stream is only
 * marked dead and freed afterwards by sweep().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "central/api/capi.h"
#include "central/api/capi_int.h"
#include "central/app/appl.h"
#include "central/base/events.h"
#include "central/base/log.h"
#include "central/setup/appdata.h"

#define SSE_MAX_STREAMS 64
#define SSE_MAX_PER_TOKEN 16 /* one token (the administrator token counts as one) */
#define SSE_PING_S 15
#define SSE_MAX_BACKLOG (1024 * 1024) /* unsent bytes above which events are dropped */

struct sse_stream {
    struct capi *cp;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct event *ping;
    struct event *expire; /* at the token's expiry; NULL for the administrator token */
    char device_id[DEVICE_ID_MAX + 1];
    char token_id[APPL_ID_MAX + 1]; /* "" = the administrator token */
    size_t dropped;
    bool dead;     /* the connection is gone; free at the next sweep */
    bool orphaned; /* libevent detached the request: we free it */
    struct sse_stream *next;
};

/* app->capi: the live streams of every device. */
struct capi {
    struct app *app;
    int events_sub;
    struct sse_stream *streams;
    size_t n_streams;
    int busy; /* > 0 while writing to streams: closes are deferred */
};

static void sweep(struct capi *cp)
{
    struct sse_stream **pp = &cp->streams;
    while (*pp != NULL) {
        struct sse_stream *s = *pp;
        if (!s->dead) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        cp->n_streams--;
        if (s->ping != NULL)
            event_free(s->ping);
        if (s->expire != NULL)
            event_free(s->expire);
        if (s->orphaned)
            evhttp_request_free(s->req);
        free(s);
    }
}

/* @p s takes no more events: its timers stop; orphaned when libevent no longer holds its
 * request (the connection went away), and then it is ours to free. */
static void mark_dead(struct sse_stream *s)
{
    s->dead = true;
    s->orphaned = evhttp_request_get_connection(s->req) == NULL;
    if (s->ping != NULL)
        event_del(s->ping);
    if (s->expire != NULL)
        event_del(s->expire);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct sse_stream *s = arg;
    (void)evcon;
    log_debug("capi: event stream of %s closed", LOG_STR(s->device_id));
    /* Detached by libevent (client went away): the request is ours now. */
    mark_dead(s);
    if (s->cp->busy == 0)
        sweep(s->cp);
}

static size_t backlog(const struct sse_stream *s)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
    return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void send_text(struct sse_stream *s, const char *text, size_t len)
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
    struct sse_stream *s = arg;
    struct capi *cp = s->cp;
    cp->busy++;
    send_text(s, ping, sizeof ping - 1);
    cp->busy--;
    if (cp->busy == 0)
        sweep(cp);
}

/* End @p s from our side: a last comment saying @p why, then the end of the reply (the
 * connection closes). The caller holds cp->busy and sweeps. */
static void end_stream(struct sse_stream *s, const char *why)
{
    char text[96];
    int n = snprintf(text, sizeof text, ": closed: %s\n\n", why);
    if (n > 0 && (size_t)n < sizeof text)
        send_text(s, text, (size_t)n);
    if (s->dead) /* the write failed and libevent closed the connection */
        return;
    log_info("capi: event stream of %s ended: %s", LOG_STR(s->device_id), why);
    mark_dead(s);
    if (!s->orphaned) {
        http_conn_set_closecb(s->cp->app, s->evcon, NULL, NULL);
        evhttp_send_reply_end(s->req); /* the request goes back to libevent */
    }
}

static void on_expire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sse_stream *s = arg;
    struct capi *cp = s->cp;
    cp->busy++;
    end_stream(s, "the API token has expired");
    cp->busy--;
    if (cp->busy == 0)
        sweep(cp);
}

/* The token @p token_id was deleted ("": the administrator token was replaced): end its
 * streams with @p why. */
static void end_token_streams(struct capi *cp, const char *token_id, const char *why)
{
    cp->busy++;
    for (struct sse_stream *s = cp->streams; s != NULL; s = s->next) {
        if (!s->dead && strcmp(s->token_id, token_id) == 0)
            end_stream(s, why);
    }
    cp->busy--;
    if (cp->busy == 0)
        sweep(cp);
}

static void on_token_revoked(struct capi *cp, const char *token_id)
{
    if (token_id[0] != '\0') /* "" is the administrator token's streams, not an API token */
        end_token_streams(cp, token_id, "the API token was deleted");
}

void capi_admin_token_replaced(struct app *app)
{
    if (app->capi != NULL)
        end_token_streams(app->capi, "", "the administrator token was replaced");
}

static size_t token_streams(const struct capi *cp, const char *token_id)
{
    size_t n = 0;
    for (const struct sse_stream *s = cp->streams; s != NULL; s = s->next) {
        if (!s->dead && strcmp(s->token_id, token_id) == 0)
            n++;
    }
    return n;
}

static bool has_stream(const struct capi *cp, const char *device_id)
{
    for (const struct sse_stream *s = cp->streams; s != NULL; s = s->next) {
        if (!s->dead && strcmp(s->device_id, device_id) == 0)
            return true;
    }
    return false;
}

/* Send "event: @p event / data: @p json" to the streams of @p device_id. */
static void publish_text(struct capi *cp, const char *device_id, const char *event,
                         const char *json, size_t json_len)
{
    /* cJSON escapes control characters, so the data is one line */
    size_t len = json_len + strlen(event) + 32;
    char *text = malloc(len);
    if (text == NULL)
        return;
    int n = snprintf(text, len, "event: %s\ndata: %.*s\n\n", event, (int)json_len, json);
    cp->busy++;
    for (struct sse_stream *s = cp->streams; s != NULL && n > 0; s = s->next) {
        if (!s->dead && strcmp(s->device_id, device_id) == 0)
            send_text(s, text, (size_t)n);
    }
    cp->busy--;
    free(text);
    if (cp->busy == 0)
        sweep(cp);
}

static void publish(struct capi *cp, const char *device_id, const char *event, cJSON *data)
{
    char *json = data != NULL ? cJSON_PrintUnformatted(data) : NULL;
    cJSON_Delete(data);
    if (json != NULL)
        publish_text(cp, device_id, event, json, strlen(json));
    free(json);
}

/* {"time": ...} */
static cJSON *timed(int64_t time_ms)
{
    char ts[32];
    cJSON *o = cJSON_CreateObject();
    appl_time(time_ms, ts);
    cJSON_AddStringToObject(o, "time", ts);
    return o;
}

static void on_telemetry(struct capi *cp, const struct central_event *ev)
{
    cJSON *o = timed(ev->time_ms);
    cJSON *payload = cJSON_ParseWithLength(ev->body, ev->body_len);
    if (o == NULL) {
        cJSON_Delete(payload);
        return;
    }
    cJSON_AddStringToObject(o, "component", ev->component ? ev->component : "");
    if (payload != NULL) {
        cJSON_AddItemToObject(o, "payload", payload);
    } else {
        char *text = app_strndup(ev->body, ev->body_len);
        if (text != NULL)
            cJSON_AddStringToObject(o, "payload", text);
        free(text);
    }
    publish(cp, ev->device_id, "telemetry", o);
}

static void on_patch(struct capi *cp, const struct central_event *ev)
{
    cJSON *patch = cJSON_ParseWithLength(ev->body, ev->body_len);
    if (patch == NULL)
        return;
    cJSON *o = timed(ev->time_ms);
    cJSON_AddItemToObject(o, "payload", patch);
    cJSON_AddNumberToObject(o, "version", (double)ev->version);
    publish(cp, ev->device_id, ev->type == EV_REPORTED ? "property" : "desired", o);
}

static void on_event(void *ctx, const struct central_event *ev)
{
    struct capi *cp = ctx;
    if (ev->type == EV_TOKEN_REVOKED && ev->token_id != NULL) {
        on_token_revoked(cp, ev->token_id);
        return;
    }
    if (ev->device_id == NULL || !has_stream(cp, ev->device_id))
        return;
    switch (ev->type) {
    case EV_TELEMETRY:
        on_telemetry(cp, ev);
        break;
    case EV_REPORTED:
    case EV_DESIRED:
        on_patch(cp, ev);
        break;
    case EV_CONNECTED:
    case EV_DISCONNECTED: {
        cJSON *o = timed(ev->time_ms);
        cJSON_AddBoolToObject(o, "connected", ev->type == EV_CONNECTED);
        publish(cp, ev->device_id, "connection", o);
        break;
    }
    case EV_COMMAND: /* body = the DeviceCommand JSON (appl_cmd.c) */
        publish_text(cp, ev->device_id, "command", ev->body, ev->body_len);
        break;
    default:
        break;
    }
}

int capi_start(struct app *app)
{
    CENTRAL_ASSERT_LOOP(app);
    CENTRAL_ASSERT(app->capi == NULL);
    struct capi *cp = calloc(1, sizeof *cp);
    if (cp == NULL)
        return CE_NOMEM;
    cp->app = app;
    cp->events_sub = events_subscribe(app, on_event, cp);
    if (cp->events_sub < 0) {
        int rc = cp->events_sub;
        free(cp);
        return rc;
    }
    app->capi = cp;
    if (app->appl != NULL) /* the application layer may not write app.json itself */
        app->appl->save_group_keys = app_group_keys_set;
    if (app->appl != NULL) /* jobs interrupted by a restart go on */
        appl_jobs_start(app->appl);
    log_info("capi: application API ready under /api/ (api-version %s)", CAPI_API_VERSION);
    return CE_OK;
}

void capi_stop(struct app *app)
{
    struct capi *cp = app->capi;
    if (cp == NULL)
        return;
    CENTRAL_ASSERT(cp->busy == 0);
    for (struct sse_stream *s = cp->streams; s != NULL; s = s->next) {
        if (s->dead)
            continue;
        s->dead = true;
        s->orphaned = evhttp_request_get_connection(s->req) == NULL;
        if (!s->orphaned) {
            http_conn_set_closecb(s->cp->app, s->evcon, NULL, NULL);
            evhttp_send_reply_end(s->req); /* the request goes back to libevent */
        }
    }
    sweep(cp);
    events_unsubscribe(app, cp->events_sub);
    app->capi = NULL;
    free(cp);
}

void capi_events(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct capi *cp = c->app->capi;
    struct appl_device *d;
    const struct appl_token *tok = NULL;
    const char *why = NULL;
    struct device *dev = capi_device(c, a, &d);
    if (dev == NULL)
        return;
    /* the gate authenticated the request; this finds the token it names */
    if (appl_authenticate(a, http_header(c, "Authorization"), &why, &tok) == ROLE_NONE) {
        capi_error(c, 401, "Unauthorized", "Unauthorized: %s.", why);
        return;
    }
    if (cp == NULL) {
        capi_error(c, 503, "ServiceUnavailable", "The application API is not running.");
        return;
    }
    if (cp->n_streams >= SSE_MAX_STREAMS) {
        capi_error(c, 503, "ServiceUnavailable", "Too many open event streams (%d).",
                   SSE_MAX_STREAMS);
        return;
    }
    if (token_streams(cp, tok != NULL ? tok->id : "") >= SSE_MAX_PER_TOKEN) {
        capi_error(c, 503, "ServiceUnavailable", "Too many open event streams for this token (%d).",
                   SSE_MAX_PER_TOKEN);
        return;
    }
    struct sse_stream *s = calloc(1, sizeof *s);
    struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
    if (s == NULL || evcon == NULL) {
        free(s);
        capi_error(c, 500, "InternalError", "Cannot open the stream.");
        return;
    }
    s->cp = cp;
    s->req = c->req;
    s->evcon = evcon;
    snprintf(s->device_id, sizeof s->device_id, "%s", dev->id);
    s->ping = event_new(c->app->base, -1, EV_PERSIST, on_ping, s);
    if (s->ping != NULL) {
        struct timeval tv = {SSE_PING_S, 0};
        event_add(s->ping, &tv);
    }
    if (tok != NULL) {
        int64_t left = tok->expiry_ms - app_now_ms();
        snprintf(s->token_id, sizeof s->token_id, "%s", tok->id);
        s->expire = evtimer_new(c->app->base, on_expire, s);
        if (s->expire == NULL) {
            if (s->ping != NULL)
                event_free(s->ping);
            free(s);
            capi_error(c, 500, "InternalError", "Cannot open the stream.");
            return;
        }
        struct timeval tv = {(time_t)(left > 0 ? left / 1000 : 0),
                             (suseconds_t)(left > 0 ? (left % 1000) * 1000 : 0)};
        event_add(s->expire, &tv);
    }
    http_add_header(c, "Content-Type", "text/event-stream");
    http_add_header(c, "Cache-Control", "no-cache");
    /* after the last chunk (capi_stop, token revoked or expired) libevent closes */
    http_add_header(c, "Connection", "close");
    evhttp_send_reply_start(c->req, 200, "OK");
    http_conn_set_closecb(cp->app, evcon, on_close, s);
    s->next = cp->streams;
    cp->streams = s;
    cp->n_streams++;
    /* The reply is ours from here on: the server frees the context but not the request. */
    c->replied = true;
    static const char hello[] = ": connected\n\n";
    cp->busy++;
    send_text(s, hello, sizeof hello - 1);
    cp->busy--;
    if (cp->busy == 0)
        sweep(cp);
}
