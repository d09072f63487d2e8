/*
 * twin_sync.h - which writable properties to deliver, as pure functions over twin JSON.
 *
 * After every (re)connect the client reads the whole twin and must hand the application the
 * desired values that changed while it was away, and nothing it already handled. The rule
 * (IoT Plug and Play convention, docs/PROTOCOL.md §7.4): a desired property is delivered when its
 * version is newer than both the version the device last acknowledged for it (the "av" of its
 * reported ack) and the version this process already delivered. A property's version is
 * $metadata.<name>.$lastUpdatedVersion when the service provides it, else the document's
 * $version (so, without metadata, every property is re-delivered after any desired change:
 * the convention's documented behaviour).
 *
 * Components: a desired member whose value is an object marked "__t":"c", or whose name the
 * caller declares a component, is descended into one level. Members starting with '$' and the
 * "__t" marker are never properties.
 *
 * No I/O, no allocation; spans passed to callbacks are borrowed from the input text and are
 * the member names' contents (between the quotes, still JSON-escaped).
 */
#ifndef IOTC_DEVICE_TWIN_SYNC_H
#define IOTC_DEVICE_TWIN_SYNC_H

#include <iotc/json.h>

struct iotc__twin_ops {
    /* True when @p name (escaped contents) is a component known to the caller. May be NULL. */
    bool (*is_component)(void *ctx, struct iotc_span name);
    /* Version this process already delivered for the property, 0 when none. May be NULL. */
    uint64_t (*delivered)(void *ctx, struct iotc_span component, struct iotc_span name);
    /* Deliver: component ptr NULL at the root. A negative return stops the walk and is returned. */
    int (*deliver)(void *ctx, struct iotc_span component, struct iotc_span name,
                   struct iotc_json_value value, uint64_t version);
    void *ctx;
};

/*
 * Reconcile a full twin as returned by GET: {"desired":{...,"$version":n},"reported":{...}}.
 * @param processed  desired $version this process already handled completely (pushes and earlier
 *                   reads), 0 when none: a document at or below it has nothing new, so nothing
 *                   is delivered (this is what avoids re-deliveries after a reconnect when the
 *                   service gives no per-property metadata)
 * @param out_desired_version  receives desired.$version (0 when absent); may be NULL
 * @return IOTC_OK; IOTC_E_MALFORMED (not JSON, not an object, desired not an object or
 *         $version not a non-negative integer); a negative value from ops->deliver.
 */
int iotc__twin_reconcile(struct iotc_span twin, const struct iotc__twin_ops *ops,
                         uint64_t processed, uint64_t *out_desired_version);

/*
 * Walk a desired-properties push {...,"$version":n} at @p version (taken from the topic, which
 * IoT Hub always sets; a $version member of the body is skipped like any '$' member). Every
 * property is offered with that version; the "delivered" check still applies so that a push already
 * covered by the twin read is skipped.
 * @return IOTC_OK; IOTC_E_MALFORMED; a negative value from ops->deliver.
 */
int iotc__twin_desired_patch(struct iotc_span patch, uint64_t version,
                             const struct iotc__twin_ops *ops);

/*
 * The "av" of reported.[component.]name when it is an object holding an integer "av" >= 0;
 * 0 otherwise. @p reported is the reported section (type NONE allowed: gives 0).
 */
uint64_t iotc__twin_acked_version(struct iotc_json_value reported, struct iotc_span component,
                                  struct iotc_span name);

#endif
