/*
 * method.h - direct method invocation from the service side (docs/PROTOCOL.md §5.5, §6.4).
 * Loop thread only.
 *
 * Semantics follow IoT Hub: if the device is not connected and subscribed to
 * $iothub/methods/POST/# the call waits up to connect_timeout_s for it (0 = must already be
 * connected), else completes with CE_OFFLINE (404103, "Timed out waiting for device to
 * connect."). Once the request is sent, the device has response_timeout_s to answer, else
 * CE_TIMEOUT (504101, "Timed out waiting for the response from device.").
 */
#ifndef CENTRAL_METHOD_H
#define CENTRAL_METHOD_H

#include <stddef.h>

#include "central/base/app.h"

struct method_call;

/**
 * Completion callback, called exactly once (unless the call was cancelled), always from the
 * event loop and never from inside method_invoke.
 * @param result CE_OK (then @p status is the device's status and @p payload the device's
 *        JSON text, "null" when it sent none; borrowed, valid during the callback),
 *        CE_OFFLINE, CE_TIMEOUT, CE_NOTFOUND (device deleted meanwhile) or CE_NOMEM.
 */
typedef void (*method_done_cb)(void *ctx, int result, int status, const char *payload,
                               size_t payload_len);

/**
 * Start a method call.
 * @param payload_json JSON text (copied); NULL or "" means null.
 * @param connect_timeout_s 0..300, response_timeout_s 5..300 (clamped).
 * @param out_err on NULL return: CE_NOTFOUND (unknown device), CE_INVALID (bad name or
 *        payload not JSON or > 128 KB), CE_NOMEM.
 * @return a handle valid until the callback has run or method_cancel was called; NULL on error
 *         (then the callback is never called).
 */
struct method_call *method_invoke(struct app *app, const char *device_id, const char *method_name,
                                  const char *payload_json, size_t payload_len,
                                  int connect_timeout_s, int response_timeout_s, method_done_cb cb,
                                  void *ctx, int *out_err);

/** Cancel a pending call (e.g. the HTTP client went away): the callback will not be called. */
void method_cancel(struct method_call *call);

struct device;

/* What the broker and the registry tell method.c. */
/** @p dev subscribed to methods: send the calls that wait for it. */
void method_device_ready(struct app *app, struct device *dev);
/** The device answered request @p rid with @p status and @p payload (JSON or nothing). */
void method_device_response(struct app *app, struct device *dev, const char *rid, size_t rid_len,
                            int status, const char *payload, size_t len);
/** The device was deleted: its pending calls complete with CE_NOTFOUND. */
void method_device_removed(struct app *app, const char *device_id);
/** Complete every call (CE_OFFLINE) and free the table (shutdown). */
void method_free_all(struct app *app);

#endif /* CENTRAL_METHOD_H */
