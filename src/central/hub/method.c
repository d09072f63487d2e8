/*
 * method.c - direct method calls with IoT Hub's connect/response timeout semantics (method.h).
 *
 * Every call owns one timer. WAITING: the timer is the connect timeout; the broker calls
 * method_device_ready() when the device subscribes to methods, which sends the request and
 * re-arms the timer as the response timeout (SENT). A result that is known immediately is
 * still delivered from the timer (zero timeout), so callbacks never run inside
 * method_invoke() or inside registry_delete().
 */
#include "central/hub/method.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "central/base/log.h"
#include "central/hub/plane.h"
#include "central/hub/registry.h"
#include "iotc/json.h"

#define METHOD_PAYLOAD_MAX (128 * 1024)

enum call_state { CALL_WAITING, CALL_SENT, CALL_DONE };

struct method_call {
    LIST_ENTRY(method_call) link; /* the app's table */
    struct app *app;
    enum call_state state;
    char device_id[DEVICE_ID_MAX + 1];
    char rid[24];
    char *name;
    char *payload;
    size_t payload_len;
    int response_timeout_s;
    struct event *timer;
    method_done_cb cb;
    void *ctx;
    /* result once DONE */
    int result;
    int status;
    char *resp;
    size_t resp_len;
};

struct method_table {
    LIST_HEAD(method_list, method_call) calls;
    uint64_t next_rid;
};

static struct method_table *table(struct app *app)
{
    if (app->methods == NULL)
        app->methods = calloc(1, sizeof *app->methods);
    return app->methods;
}

static void free_call(struct method_call *c)
{
    if (c->timer)
        event_free(c->timer);
    free(c->name);
    free(c->payload);
    free(c->resp);
    free(c);
}

static void arm(struct method_call *c, int seconds)
{
    struct timeval tv = {seconds, 0};
    event_add(c->timer, &tv);
}

/* Record a result and let the timer deliver it on the next loop iteration. */
static void finish_later(struct method_call *c, int result)
{
    CENTRAL_ASSERT(c->state != CALL_DONE); /* one result per call */
    c->state = CALL_DONE;
    c->result = result;
    event_del(c->timer);
    event_active(c->timer, EV_TIMEOUT, 0);
}

static void deliver(struct method_call *c)
{
    LIST_REMOVE(c, link);
    const char *what = c->result == CE_OK ? "answered" : central_strerror(c->result);
    if (c->result == CE_OK)
        log_info("method: %s on %s (rid %s) answered %d", LOG_STR(c->name), LOG_STR(c->device_id),
                 c->rid, c->status);
    else
        log_info("method: %s on %s (rid %s) failed: %s", LOG_STR(c->name), LOG_STR(c->device_id),
                 c->rid, what);
    if (c->result == CE_OK)
        c->cb(c->ctx, CE_OK, c->status, c->resp ? c->resp : "null", c->resp ? c->resp_len : 4);
    else
        c->cb(c->ctx, c->result, 0, NULL, 0);
    free_call(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct method_call *c = arg;
    if (c->state == CALL_WAITING) {
        c->result = CE_OFFLINE;
    } else if (c->state == CALL_SENT) {
        c->result = CE_TIMEOUT;
    }
    c->state = CALL_DONE;
    deliver(c);
}

static bool name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 1024)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '+')
            return false;
    }
    return true;
}

/* Announce the request; the broker sends it when the device has a subscribed connection. */
static int try_send(struct method_call *c, struct device *dev)
{
    struct plane_method_request req = {c->name, c->rid, c->payload, c->payload_len};
    CENTRAL_ASSERT(c->state == CALL_WAITING);
    int rc = plane_method_requested(c->app, dev, &req);
    if (rc == CE_OK) {
        c->state = CALL_SENT;
        event_del(c->timer);
        arm(c, c->response_timeout_s);
    }
    return rc;
}

struct method_call *method_invoke(struct app *app, const char *device_id, const char *method_name,
                                  const char *payload_json, size_t payload_len,
                                  int connect_timeout_s, int response_timeout_s, method_done_cb cb,
                                  void *ctx, int *out_err)
{
    int err_dummy;
    CENTRAL_ASSERT_LOOP(app);
    if (out_err == NULL)
        out_err = &err_dummy;
    struct device *dev = registry_get(app, device_id);
    if (dev == NULL) {
        *out_err = CE_NOTFOUND;
        return NULL;
    }
    if (!name_ok(method_name) || cb == NULL) {
        *out_err = CE_INVALID;
        return NULL;
    }
    if (payload_json == NULL || payload_len == 0) {
        payload_json = "null";
        payload_len = 4;
    }
    struct iotc_json_value v;
    if (payload_len > METHOD_PAYLOAD_MAX ||
        iotc_json_parse((struct iotc_span){payload_json, payload_len}, &v) != IOTC_OK) {
        *out_err = payload_len > METHOD_PAYLOAD_MAX ? CE_TOOBIG : CE_INVALID;
        return NULL;
    }
    if (connect_timeout_s < 0)
        connect_timeout_s = 0;
    if (connect_timeout_s > 300)
        connect_timeout_s = 300;
    if (response_timeout_s < 5)
        response_timeout_s = 5;
    if (response_timeout_s > 300)
        response_timeout_s = 300;
    struct method_table *t = table(app);
    struct method_call *c = calloc(1, sizeof *c);
    if (t == NULL || c == NULL || (c->name = strdup(method_name)) == NULL ||
        (c->payload = malloc(payload_len)) == NULL ||
        (c->timer = evtimer_new(app->base, timer_cb, c)) == NULL) {
        if (c)
            free_call(c);
        *out_err = CE_NOMEM;
        return NULL;
    }
    memcpy(c->payload, payload_json, payload_len);
    c->payload_len = payload_len;
    c->app = app;
    c->cb = cb;
    c->ctx = ctx;
    c->response_timeout_s = response_timeout_s;
    memcpy(c->device_id, dev->id, strlen(dev->id) + 1);
    snprintf(c->rid, sizeof c->rid, "%llu", (unsigned long long)++t->next_rid);
    LIST_INSERT_HEAD(&t->calls, c, link);
    c->state = CALL_WAITING;
    log_info("method: invoke %s on %s (rid %s, connect %ds, response %ds)", LOG_STR(c->name),
             LOG_STR(c->device_id), c->rid, connect_timeout_s, response_timeout_s);
    int rc = try_send(c, dev);
    if (rc == CE_NOMEM)
        finish_later(c, CE_NOMEM);
    else if (rc != CE_OK && connect_timeout_s == 0)
        finish_later(c, CE_OFFLINE);
    else if (rc != CE_OK)
        arm(c, connect_timeout_s);
    return c;
}

void method_cancel(struct method_call *call)
{
    if (call == NULL)
        return;
    LIST_REMOVE(call, link);
    free_call(call);
}

void method_device_ready(struct app *app, struct device *dev)
{
    if (app->methods == NULL)
        return;
    for (struct method_call *c = LIST_FIRST(&app->methods->calls), *next; c != NULL; c = next) {
        next = LIST_NEXT(c, link);
        if (c->state == CALL_WAITING && strcmp(c->device_id, dev->id) == 0)
            (void)try_send(c, dev);
    }
}

void method_device_response(struct app *app, struct device *dev, const char *rid, size_t rid_len,
                            int status, const char *payload, size_t len)
{
    if (app->methods == NULL)
        return;
    struct method_call *c;
    LIST_FOREACH(c, &app->methods->calls, link)
    {
        if (c->state != CALL_SENT || strlen(c->rid) != rid_len ||
            memcmp(c->rid, rid, rid_len) != 0 || strcmp(c->device_id, dev->id) != 0)
            continue;
        /* The REST result embeds the payload as JSON: a device that sends nothing or non-JSON
         * gets null (IoT Hub refuses non-JSON method responses). */
        struct iotc_json_value v;
        if (len > 0 && iotc_json_parse((struct iotc_span){payload, len}, &v) == IOTC_OK) {
            c->resp = app_strndup(payload, len);
            if (c->resp != NULL)
                c->resp_len = len;
        }
        c->status = status;
        finish_later(c, CE_OK);
        return;
    }
    log_warn("method: response from %s for unknown rid %s", LOG_STR(dev->id),
             LOG_SPAN(rid, rid_len));
}

void method_device_removed(struct app *app, const char *device_id)
{
    if (app->methods == NULL)
        return;
    struct method_call *c;
    LIST_FOREACH(c, &app->methods->calls, link)
    if (c->state != CALL_DONE && strcmp(c->device_id, device_id) == 0)
        finish_later(c, CE_NOTFOUND);
}

void method_free_all(struct app *app)
{
    if (app->methods == NULL)
        return;
    while (!LIST_EMPTY(&app->methods->calls)) {
        struct method_call *c = LIST_FIRST(&app->methods->calls);
        c->result = c->state == CALL_DONE ? c->result : CE_OFFLINE;
        c->state = CALL_DONE;
        deliver(c);
    }
    free(app->methods);
    app->methods = NULL;
}
