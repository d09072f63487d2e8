/*
 * events.c - the event bus (see events.h). A small array of subscribers per app: there are a
 * handful (the application layer plus one per live event stream), so a linear scan is the
 * right structure.
 */
#include "central/base/events.h"

#include <stdlib.h>

struct sub {
    struct app *app;
    events_fn fn;
    void *ctx;
    int id;
};

static struct sub *g_subs;
static size_t g_n, g_cap;
static int g_next_id;

int events_subscribe(struct app *app, events_fn fn, void *ctx)
{
    if (g_n == g_cap) {
        size_t cap = g_cap ? g_cap * 2 : 16;
        struct sub *s = realloc(g_subs, cap * sizeof *s);
        if (s == NULL)
            return CE_NOMEM;
        g_subs = s;
        g_cap = cap;
    }
    g_subs[g_n] = (struct sub){app, fn, ctx, ++g_next_id};
    g_n++;
    return g_next_id;
}

void events_unsubscribe(struct app *app, int id)
{
    for (size_t i = 0; i < g_n; i++) {
        if (g_subs[i].id == id && g_subs[i].app == app) {
            for (size_t j = i + 1; j < g_n; j++)
                g_subs[j - 1] = g_subs[j];
            g_n--;
            break;
        }
    }
    if (g_n == 0) {
        free(g_subs);
        g_subs = NULL;
        g_cap = 0;
    }
}

void events_publish(struct app *app, const struct central_event *ev)
{
    for (size_t i = 0; i < g_n; i++) {
        if (g_subs[i].app == app)
            g_subs[i].fn(g_subs[i].ctx, ev);
    }
}

void events_device(struct app *app, enum ev_type type, const char *device_id)
{
    struct central_event ev = {.type = type, .device_id = device_id, .time_ms = app_now_ms()};
    events_publish(app, &ev);
}

void events_telemetry(struct app *app, const char *device_id, int64_t time_ms,
                      const char *component, const char *props_json, const void *payload,
                      size_t len)
{
    struct central_event ev = {.type = EV_TELEMETRY,
                               .device_id = device_id,
                               .time_ms = time_ms,
                               .component = component,
                               .props_json = props_json,
                               .body = payload,
                               .body_len = len};
    events_publish(app, &ev);
}

void events_patch(struct app *app, enum ev_type type, const char *device_id, const char *json,
                  size_t len, int64_t version)
{
    struct central_event ev = {.type = type,
                               .device_id = device_id,
                               .time_ms = app_now_ms(),
                               .body = json,
                               .body_len = len,
                               .version = version};
    events_publish(app, &ev);
}
