/*
 * events.c - the event bus (see events.h). A small array of subscribers in app->bus: there
 * are a handful (the application layer plus the live streams), so a linear scan is the right
 * structure.
 */
#include "central/base/events.h"

#include <stdlib.h>

struct sub {
    events_fn fn;
    void *ctx;
    int id;
};

struct event_bus {
    struct sub *subs;
    size_t n, cap;
    int next_id;
    int publishing; /* > 0 while subscribers run: (un)subscribing then is a bug */
};

int events_open(struct app *app)
{
    CENTRAL_ASSERT(app->bus == NULL);
    app->bus = calloc(1, sizeof *app->bus);
    return app->bus != NULL ? CE_OK : CE_NOMEM;
}

void events_close(struct app *app)
{
    struct event_bus *bus = app->bus;
    if (bus == NULL)
        return;
    CENTRAL_ASSERT(bus->n == 0 && bus->publishing == 0);
    free(bus->subs);
    free(bus);
    app->bus = NULL;
}

int events_subscribe(struct app *app, events_fn fn, void *ctx)
{
    struct event_bus *bus = app->bus;
    CENTRAL_ASSERT_LOOP(app);
    if (bus == NULL)
        return CE_INVALID;
    CENTRAL_ASSERT(bus->publishing == 0);
    if (bus->n == bus->cap) {
        size_t cap = bus->cap ? bus->cap * 2 : 16;
        struct sub *s = realloc(bus->subs, cap * sizeof *s);
        if (s == NULL)
            return CE_NOMEM;
        bus->subs = s;
        bus->cap = cap;
    }
    bus->subs[bus->n++] = (struct sub){fn, ctx, ++bus->next_id};
    return bus->next_id;
}

void events_unsubscribe(struct app *app, int id)
{
    struct event_bus *bus = app->bus;
    if (bus == NULL)
        return;
    CENTRAL_ASSERT(bus->publishing == 0);
    for (size_t i = 0; i < bus->n; i++) {
        if (bus->subs[i].id == id) {
            for (size_t j = i + 1; j < bus->n; j++)
                bus->subs[j - 1] = bus->subs[j];
            bus->n--;
            break;
        }
    }
}

void events_publish(struct app *app, const struct central_event *ev)
{
    struct event_bus *bus = app->bus;
    if (bus == NULL)
        return;
    CENTRAL_ASSERT_LOOP(app);
    bus->publishing++; /* a subscriber may publish in turn (EV_COMMAND from EV_REPORTED) */
    for (size_t i = 0; i < bus->n; i++)
        bus->subs[i].fn(bus->subs[i].ctx, ev);
    bus->publishing--;
}

void events_device(struct app *app, enum ev_type type, const char *device_id)
{
    struct central_event ev = {.type = type, .device_id = device_id, .time_ms = app_now_ms()};
    events_publish(app, &ev);
}

void events_template(struct app *app, enum ev_type type, const char *template_id)
{
    struct central_event ev = {.type = type, .template_id = template_id, .time_ms = app_now_ms()};
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
