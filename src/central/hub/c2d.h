/*
 * c2d.h - cloud-to-device messages (docs/PROTOCOL.md §5.4). Loop thread only.
 *
 * Messages are queued per device (max 50), persisted, delivered at QoS 1 on
 * devices/{id}/messages/devicebound/{property-bag} while the device is subscribed, and removed
 * once the device PUBACKs them or they expire.
 */
#ifndef CENTRAL_C2D_H
#define CENTRAL_C2D_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "central/hub/registry.h"

#define C2D_MAX_QUEUE 50
#define C2D_MAX_SIZE (64 * 1024)

/** One property of a C2D message: wire name (e.g. "$.mid", "$.ct", "method-name") and value. */
struct c2d_prop {
    const char *key;
    const char *value; /**< NULL = bare key (null value) */
};

/** A queued message (internal to c2d.c and the broker). */
struct c2d_msg {
    STAILQ_ENTRY(c2d_msg) link; /**< the device's queue (registry.h) */
    int64_t seq;                /**< store row id, unique and increasing */
    int64_t enqueued_ms;
    int64_t expiry_ms; /**< 0 = never */
    char *bag;         /**< encoded property bag (no leading '/'), may be "" */
    char *payload;
    size_t payload_len;
    uint16_t packet_id; /**< non-zero while in flight on the live session */
};

/**
 * Queue a message for @p dev (copies everything) and deliver it now if the device is subscribed.
 * @param ttl_ms 0 = 2 days (the IoT Hub maximum).
 * @return CE_OK, CE_TOOBIG (> 64 KB), CE_BUSY (queue holds 50), CE_NOMEM.
 */
int c2d_send(struct app *app, struct device *dev, const char *payload, size_t len,
             const struct c2d_prop *props, size_t n_props, int64_t ttl_ms);

/* Internal (broker / registry). Nothing here sends: c2d_send announces the new message
 * (plane_c2d_queued) and the broker delivers it. */
void c2d_msg_free(struct c2d_msg *m);
/** Remove @p m (must be in dev's queue) after the device acknowledged it; frees it. */
void c2d_complete(struct app *app, struct device *dev, struct c2d_msg *m);
/** Drop expired messages of @p dev. */
void c2d_expire(struct app *app, struct device *dev, int64_t now_ms);
struct store_c2d_row;
/** Append the message of a store row to @p dev's queue (registry_load). CE_OK / CE_NOMEM. */
int c2d_load_row(struct device *dev, const struct store_c2d_row *row);

#endif /* CENTRAL_C2D_H */
