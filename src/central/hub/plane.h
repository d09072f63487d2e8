/*
 * plane.h - what the device plane's records announce to the connections. Loop thread only.
 *
 * registry.c, twin.c, method.c and c2d.c keep the state of devices, twins, method calls and
 * cloud-to-device messages; they never send anything to a connection. When a change concerns
 * a device's live connection they announce it once, through the plane_* functions below, and
 * the listener the broker installed at start (plane_listen) decides what to send to which
 * session. Without a listener (unit tests, before the broker starts, after it is freed) the
 * announcements reach only the event bus: a method request then finds no connection.
 *
 * None of this is on the telemetry path.
 */
#ifndef CENTRAL_PLANE_H
#define CENTRAL_PLANE_H

#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"

struct device;

/** A direct-method request of method.c (all fields borrowed during the call). */
struct plane_method_request {
    const char *name;
    const char *rid;
    const char *payload;
    size_t payload_len;
};

/** The broker's side of the announcements (every member set). */
struct plane_listener {
    /** @p dev may no longer use its connection (deleted, disabled, keys changed). */
    void (*device_blocked)(struct app *app, struct device *dev, const char *reason);
    /** The desired properties of @p dev changed: @p patch is the device-side push body. */
    void (*desired_changed)(struct app *app, struct device *dev, const char *patch, size_t len,
                            int64_t version);
    /** A cloud-to-device message was queued for @p dev. */
    void (*c2d_queued)(struct app *app, struct device *dev);
    /** A method call waits for @p dev: CE_OK when it was sent to a subscribed connection,
     * CE_OFFLINE when there is none (the call keeps waiting), CE_INVALID, CE_NOMEM. */
    int (*method_requested)(struct app *app, struct device *dev,
                            const struct plane_method_request *req);
};

/** Install @p l (static storage) as the listener; NULL removes it. */
void plane_listen(struct app *app, const struct plane_listener *l);

/* Announcements (registry.c implements them: the listener lives in the registry). */
void plane_device_blocked(struct app *app, struct device *dev, const char *reason);
/** Also published on the event bus as EV_DESIRED: the one announcement of the change. */
void plane_desired_changed(struct app *app, struct device *dev, const char *patch, size_t len,
                           int64_t version);
void plane_c2d_queued(struct app *app, struct device *dev);
int plane_method_requested(struct app *app, struct device *dev,
                           const struct plane_method_request *req);

#endif /* CENTRAL_PLANE_H */
