/*
 * rules.h - iotc's own rules (docs/API.md "Rules"; IoT Central has no rules REST API): a
 * telemetry condition on the devices of a device group or a template, optionally aggregated
 * over a window, evaluated per device as telemetry arrives (rules_eval.h), with a fired/cleared
 * state per (rule, device) that survives a restart, an entry in the alerts list for every
 * firing, and webhook actions sent through data export's webhook destination (export_dest.h)
 * with its retry classification and backoff.
 *
 * app->rules, created by rules_open after data export (export_open); loop thread only. It is a
 * bus subscriber: a telemetry event costs a JSON parse of the payload when an enabled rule
 * covers the device, and no SQLite on the loop; a state change or an alert is written through
 * the store's writer (store_app_put, queued).
 */
#ifndef CENTRAL_RULES_H
#define CENTRAL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "central/base/app.h"

#define RULES_MAX 200           /**< rules per application */
#define RULES_ALERTS_MAX 10000  /**< alerts kept; the oldest leave first */
#define RULES_WEBHOOK_TRIES 10  /**< attempts of one webhook POST before it is failed */
#define RULES_STATES_MAX 100000 /**< (device) states per rule */

/** Open: load rules, states and alerts (app_rules, app_rule_states, app_alerts), subscribe to
 * the bus, requeue webhook posts not yet delivered. CE_OK, CE_NOMEM or CE_STORE. */
int rules_open(struct app *app);

/** Unsubscribe and free (posts in flight are sent again after the next start). */
void rules_close(struct app *app);

/**
 * Create or replace (@p patch false) or merge into (@p patch true) rule @p id. On success
 * *@p out is the rule as GET answers it (caller frees) and *@p out_created tells whether it is
 * new. A changed scope or condition starts every device over (their active alerts are closed).
 * @return CE_OK; CE_INVALID with a message naming the field in @p err; CE_NOTFOUND (PATCH of
 * a missing rule); CE_EXISTS (too many rules); CE_NOMEM.
 */
int rules_put(struct app *app, const char *id, const cJSON *body, bool patch, cJSON **out,
              bool *out_created, char *err, size_t err_size);

/** The rule as GET answers it (caller frees), or NULL (absent or out of memory). */
cJSON *rules_get(struct app *app, const char *id);

/** Every rule, in creation order (caller frees), or NULL when out of memory. */
cJSON *rules_list(struct app *app);

/** Delete rule @p id, its device states, and close its active alerts. CE_OK / CE_NOTFOUND. */
int rules_delete(struct app *app, const char *id);

/**
 * The per-device states of rule @p id, by device id: [{"deviceId", "state" ("fired" /
 * "normal"), "since", "value", "alertId"}] (caller frees). CE_OK, CE_NOTFOUND or CE_NOMEM.
 */
int rules_devices(struct app *app, const char *id, cJSON **out);

/** Which alerts to list. NULL/empty members: any. */
struct rules_alert_query {
    const char *rule_id;
    const char *device_id;
    const char *state; /**< "active" or "cleared" */
};

/**
 * The alerts matching @p q, newest first, from @p skip, at most @p top (caller frees);
 * *@p out_more tells whether more follow. CE_OK or CE_NOMEM.
 */
int rules_alerts(struct app *app, const struct rules_alert_query *q, size_t skip, size_t top,
                 cJSON **out, bool *out_more);

/** Alert @p id (caller frees), or NULL. */
cJSON *rules_alert_get(struct app *app, const char *id);

/** Mark alert @p id acknowledged (again: no change). CE_OK, CE_NOTFOUND or CE_NOMEM; *@p out
 * as GET answers it (caller frees). */
int rules_alert_ack(struct app *app, const char *id, cJSON **out);

#endif /* CENTRAL_RULES_H */
