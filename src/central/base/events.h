/*
 * events.h - the in-process event bus of iotc-central: the device plane (broker, DPS) publishes
 * what devices do, the application layer (appl_*.c) and live streams subscribe.
 *
 * Loop thread only. Publishing calls every subscriber synchronously, in subscription order;
 * event fields are borrowed for the duration of the call. A subscriber must not subscribe or
 * unsubscribe from inside its callback.
 */
#ifndef CENTRAL_EVENTS_H
#define CENTRAL_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"

enum ev_type {
    EV_TELEMETRY = 1,  /**< a device-to-cloud message was accepted (and queued for storage) */
    EV_REPORTED,       /**< a reported-properties patch was applied (body = the patch) */
    EV_DESIRED,        /**< desired properties were written (body = the patch) */
    EV_CONNECTED,      /**< a hub session was attached */
    EV_DISCONNECTED,   /**< the device's hub session went away */
    EV_COMMAND,        /**< a command was sent, answered, queued, failed (body = DeviceCommand) */
    EV_PROVISIONED,    /**< DPS assigned the device to the hub */
    EV_DEVICE_DELETED, /**< the device identity was removed */
    EV_TOKEN_REVOKED,  /**< an API token was deleted (token_id; no device) */
    /* the application layer's changes (appl_*.c), for data export */
    EV_DEVICE_REGISTERED,       /**< a device was created in the application */
    EV_DEVICE_ENABLED,          /**< the device was unblocked */
    EV_DEVICE_DISABLED,         /**< the device was blocked */
    EV_DEVICE_RENAMED,          /**< its display name changed */
    EV_DEVICE_TEMPLATE_CHANGED, /**< it was assigned another (or no) template */
    EV_CLOUD_PROPERTIES,        /**< cloud properties set (body = {"name": value}, component) */
    EV_TEMPLATE_CREATED,        /**< a device template was created (template_id; no device) */
    EV_TEMPLATE_UPDATED,        /**< a device template was replaced or changed (template_id) */
    EV_TEMPLATE_DELETED,        /**< a device template was deleted (template_id) */
};

/** One event; every pointer is borrowed and may be NULL when not applicable. */
struct central_event {
    enum ev_type type;
    const char *device_id;
    int64_t time_ms;
    const char *component;  /**< telemetry: "$.sub" value or NULL */
    const char *props_json; /**< telemetry: message properties as a JSON object text */
    const char *body; /**< telemetry payload / patch JSON / command JSON (not NUL-terminated) */
    size_t body_len;
    int64_t version;         /**< reported/desired $version after the change */
    const char *token_id;    /**< EV_TOKEN_REVOKED: the id of the API token */
    const char *template_id; /**< EV_TEMPLATE_*: the device template's id */
};

/** Create app->bus. @return CE_OK or CE_NOMEM. */
int events_open(struct app *app);

/** Free app->bus (every subscription must be gone). Safe when not open. */
void events_close(struct app *app);

/** Subscriber callback. */
typedef void (*events_fn)(void *ctx, const struct central_event *ev);

/**
 * Subscribe @p fn with @p ctx to the events of @p app; subscribers are called in the order
 * they subscribed.
 * @return a positive subscription id, CE_NOMEM, or CE_INVALID when app->bus is not open.
 */
int events_subscribe(struct app *app, events_fn fn, void *ctx);

/** Remove a subscription by id (unknown ids are ignored). */
void events_unsubscribe(struct app *app, int id);

/** Deliver @p ev to every subscriber of @p app (no-op when there are none or no bus). */
void events_publish(struct app *app, const struct central_event *ev);

/** Convenience for the device plane: publish an event that carries only type, device and time. */
void events_device(struct app *app, enum ev_type type, const char *device_id);

/** Telemetry: @p payload / @p len as received, @p component and @p props_json may be NULL. */
void events_telemetry(struct app *app, const char *device_id, int64_t time_ms,
                      const char *component, const char *props_json, const void *payload,
                      size_t len);

/** A device template's lifecycle (@p type EV_TEMPLATE_CREATED / _UPDATED / _DELETED). */
void events_template(struct app *app, enum ev_type type, const char *template_id);

/** A reported or desired patch (@p type EV_REPORTED / EV_DESIRED) now at @p version. */
void events_patch(struct app *app, enum ev_type type, const char *device_id, const char *json,
                  size_t len, int64_t version);

#endif /* CENTRAL_EVENTS_H */
