/*
 * appl.h - the IoT Central application layer: device templates (model + views +
 * customizations + published flag), the application's view of devices (display name, template,
 * provisioned, ...), API tokens, command history (and running commands), property writes and
 * last telemetry values. It hears the device plane on the event bus (events.h) and publishes
 * what it decides (EV_COMMAND) there too.
 *
 * One struct appl per struct app (app->appl), created by appl_open. Everything lives in memory and
 * is written through to SQLite (store_app.h). Loop thread only. Device identities, keys, twins
 * and connections stay in registry.h / twin.h; this layer only adds to them.
 *
 * Ownership: every struct returned by a lookup is owned by the appl and borrowed by the caller
 * until the next call that may delete it (appl_template_delete, appl_device_forget, ...).
 */
#ifndef CENTRAL_APPL_H
#define CENTRAL_APPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "central/base/app.h"
#include "central/hub/registry.h"
#include "dtdl/dtdl.h"

#define APPL_ID_MAX 128 /* token ids */
#define APPL_TEMPLATE_ID_MAX 512
#define APPL_CMD_HISTORY_MAX 1000 /* commands kept in memory per device (all are stored) */

struct store_app;
struct store_read;
struct appl_command_op;

struct appl_template {
    char *id;                /**< the template id (path id): usually the model's DTMI / URN */
    char *display_name;      /**< may be NULL */
    char *description;       /**< may be NULL */
    cJSON *capability_model; /**< the model document as imported */
    cJSON *views;            /**< array */
    cJSON *customizations;   /**< object */
    struct dtdl_model *model;
    bool published;
    uint64_t etag;
    int64_t created_ms;
    struct appl_template *next;
};

/* The latest telemetry message of one component, kept as received: parsing only happens when
 * somebody asks for a last value, not for every message. */
#define APPL_LAST_SLOTS 8
struct appl_last {
    char *component; /**< "" for the root; NULL = free slot */
    char *payload;
    size_t len, cap;
    int64_t time_ms;
};

struct appl_device {
    char id[DEVICE_ID_MAX + 1];
    char *display_name;   /**< may be NULL (then the id is shown) */
    char *template_id;    /**< NULL: unassociated */
    cJSON *organizations; /**< array of strings */
    cJSON *cloud;         /**< cloud properties: {"comp/name" or "name": {"value","time"}} */
    bool simulated;
    bool provisioned;
    uint64_t etag;
    int64_t created_ms;
    struct appl_last last[APPL_LAST_SLOTS]; /**< latest message per component (unparsed) */
    struct appl_command **cmds;             /**< newest last, at most APPL_CMD_HISTORY_MAX */
    size_t n_cmds, cap_cmds;
    struct appl_device *hash_next;
};

enum appl_role { ROLE_NONE = 0, ROLE_OPERATOR = 1, ROLE_ADMIN = 2 };

struct appl_token {
    char id[APPL_ID_MAX + 1];
    enum appl_role role;
    int64_t expiry_ms;
    char nonce[48]; /**< random per token: re-creating an id invalidates old texts */
    struct appl_token *next;
};

enum appl_cmd_status { CMD_SENT = 0, CMD_COMPLETED, CMD_FAILED, CMD_PENDING, CMD_QUEUED };

struct appl_command {
    char id[32];
    char device_id[DEVICE_ID_MAX + 1];
    char *component; /**< "" for the root */
    char *name;
    cJSON *request;    /**< may be NULL (no request) */
    cJSON *response;   /**< NULL until answered */
    cJSON *completion; /**< async completion property value */
    char *error;       /**< failure text (timeout, offline), may be NULL */
    int response_code; /**< 0 until answered */
    int connection_timeout;
    int response_timeout;
    enum appl_cmd_status status;
    int64_t time_ms;
    int64_t completed_ms;
    int64_t seq;
    bool queued; /**< delivered as a cloud-to-device message, not a direct method */
};

struct appl {
    struct app *app;
    struct store_app *db;
    struct store_read *reader; /**< long reads off the loop thread (store_read.h); may be NULL */
    struct appl_template *templates;
    struct appl_device **buckets; /* hash of devices */
    size_t n_buckets;
    struct appl_token *tokens;
    int64_t next_cmd_seq;
    int events_sub;
    cJSON *dashboards;     /**< array of iotc's own dashboards (appl_dashboard.c) */
    cJSON *device_groups;  /**< array of device groups (appl_devgroups.c) */
    struct appl_job *jobs; /**< jobs, newest first (appl_jobs.c) */
    /** Writes the keys of app.json's enrollment group (app->facts.group_id) before they take
     * effect; 0 or -1. Set by the layer that may write app.json (capi_start); NULL: those keys
     * cannot change (CE_IO). */
    int (*save_group_keys)(struct app *app, const char *primary, const char *secondary);
};

/**
 * Create app->appl: open its tables, load them, subscribe to the bus.
 * @return CE_OK, CE_NOMEM, CE_STORE, or the bus's error.
 */
int appl_open(struct app *app);
/** Unsubscribe and free everything; app->appl becomes NULL. Safe when not open. */
void appl_close(struct app *app);

/* ---------------------------------------------------------------- templates (appl_template.c) */

struct appl_template *appl_template_get(struct appl *a, const char *id);
/** Template a device with announced model id @p model_id is associated with (published only). */
struct appl_template *appl_template_for_model(struct appl *a, const char *model_id);

/** Error of a template import: HTTP-style code text and message with the JSON path. */
struct appl_error {
    const char *code; /**< "InvalidModel", "InvalidTemplate", "InvalidBody", ... */
    char message[1024];
};

/**
 * Create or replace template @p id from a request body (DeviceTemplate wrapper or bare model).
 * @return CE_OK (*out_t), CE_INVALID (@p err filled), CE_NOMEM.
 */
int appl_template_put(struct appl *a, const char *id, const cJSON *body,
                      struct appl_template **out_t, struct appl_error *err);
/** Merge displayName/description/views/customizations/published. Same returns. */
int appl_template_patch(struct appl *a, struct appl_template *t, const cJSON *body,
                        struct appl_error *err);
/** Publish (and associate waiting devices that announced its model id). */
void appl_template_publish(struct appl *a, struct appl_template *t);
/** Delete; CE_EXISTS when devices use it. */
int appl_template_delete(struct appl *a, const char *id);
/** The template as JSON (GET); @p full adds capabilityModel. Caller frees. */
cJSON *appl_template_to_json(const struct appl_template *t, bool full);
/** Customization object of a capability ("name" or "component/name"), or NULL. Borrowed. */
const cJSON *appl_template_custom(const struct appl_template *t, const char *component,
                                  const char *name);
/** True when the command should be queued as C2D when the device is offline. */
bool appl_template_queue_if_offline(const struct appl_template *t,
                                    const struct dtdl_capability *cap);
/** Closest name (edit distance ≤ 3 or case-insensitive equal) among capabilities of @p kind
 * (0 = any) in @p component, or NULL. Borrowed from the model. */
const char *appl_closest_name(const struct dtdl_model *m, const char *component,
                              enum dtdl_kind kind, const char *name);
/** Persist a template (store_app). */
void appl_template_save(struct appl *a, const struct appl_template *t);
void appl_template_free(struct appl_template *t);
/** Rebuild a template from its stored JSON (load at startup). NULL on error (logged). */
struct appl_template *appl_template_from_store(const char *id, const char *json);

/* ---------------------------------------------------------------- enrollment groups
 * (appl_groups.c; the list itself is app->groups, groups.h) */

struct egroup;
/** Build app->groups: app.json's group, then the stored rows. CE_OK, CE_NOMEM, CE_STORE. */
int appl_groups_load(struct appl *a);
/**
 * PUT /api/enrollmentGroups/{id}: create, or replace (keys kept unless given), from an
 * EnrollmentGroup body (displayName, type, attestation required; symmetricKey keys generated
 * when absent). @return CE_OK (*out), CE_INVALID (@p err filled), CE_NOMEM, CE_IO.
 */
int appl_group_put(struct appl *a, const char *id, const cJSON *body, struct egroup **out,
                   struct appl_error *err);
/** PATCH: change what the body has. Same returns. */
int appl_group_update(struct appl *a, struct egroup *g, const cJSON *body, struct appl_error *err);
/** Delete group @p id. CE_OK or CE_NOTFOUND. Devices it registered keep their keys. */
int appl_group_delete(struct appl *a, const char *id);
/** New random primary (or secondary) key. CE_OK, CE_IO (the old key stays), CE_NOMEM. */
int appl_group_regenerate(struct appl *a, struct egroup *g, bool secondary);
/** The EnrollmentGroup JSON of IoT Central (2022-07-31). Caller frees. */
cJSON *appl_group_to_json(struct app *app, const struct egroup *g);
/*
 * An X.509 group's CA certificates (slot primary / secondary), kept in the CA store (hub/x509.h,
 * x509_group_ca_name()): the SigningX509Certificate JSON {verified, certificate, info:
 * {sha1Thumbprint}, etag} or NULL when the slot is empty; set from {"certificate"} (PEM,
 * base64 DER, base64 of PEM; a new certificate is unverified); delete; a new verification
 * code; verify with a certificate signed by the CA's key whose CN is the code.
 * Returns CE_OK, CE_INVALID (@p err filled), CE_NOTFOUND (empty slot), CE_NOMEM.
 */
cJSON *appl_group_cert_json(struct app *app, const struct egroup *g, bool secondary);
int appl_group_cert_put(struct appl *a, struct egroup *g, bool secondary, const cJSON *body,
                        struct appl_error *err);
int appl_group_cert_delete(struct appl *a, struct egroup *g, bool secondary);
int appl_group_cert_code(struct appl *a, struct egroup *g, bool secondary, char code[33]);
int appl_group_cert_verify(struct appl *a, struct egroup *g, bool secondary, const cJSON *body,
                           struct appl_error *err);
/**
 * The SAS keys of device @p id derived (HMAC-SHA256 of the id, base64) from the keys of the
 * application's SAS enrollment group (app.json's; once deleted, the first enabled SAS group for
 * IoT devices). @return false when there is no such group.
 */
bool appl_derive_device_keys(struct appl *a, const char *id, char pk[64], char sk[64]);

/* ---------------------------------------------------------------- devices (appl.c) */

/** The appl record of an existing registry device, created on first use. NULL on OOM. */
struct appl_device *appl_device_get(struct appl *a, const char *id);
/** Look up without creating. */
struct appl_device *appl_device_find(struct appl *a, const char *id);
/** Drop the record and its stored data (device deleted). */
void appl_device_forget(struct appl *a, const char *id);
/** Persist the record. */
void appl_device_save(struct appl *a, struct appl_device *d);
/** The device's template or NULL (unassociated / template gone). */
struct appl_template *appl_device_template(struct appl *a, const struct appl_device *d);
/** "blocked", "unassociated", "provisioned" or "registered". */
const char *appl_device_status(struct appl *a, const struct appl_device *d,
                               const struct device *dev);
/** Device JSON of the API (see docs/API.md). Caller frees. */
cJSON *appl_device_to_json(struct appl *a, const struct appl_device *d, const struct device *dev);
/** Associate by announced model id if unassociated; persists when it changes. */
void appl_device_associate(struct appl *a, struct appl_device *d, const struct device *dev);
/** Number of devices whose template is @p template_id. */
size_t appl_devices_using(struct appl *a, const char *template_id);
/**
 * Apply a device body (fields already validated): displayName, template, simulated,
 * organizations, enabled; with @p replace (PUT) absent fields are reset. Bumps the etag and
 * persists. @return CE_OK or the registry's error (enabled).
 */
int appl_device_update(struct appl *a, struct appl_device *d, struct device *dev, const cJSON *body,
                       bool replace);
/**
 * PUT a device: create the identity @p id when it does not exist (enabled unless the body says
 * "enabled": false; keys from appl_derive_device_keys), then appl_device_update(replace).
 * @return CE_OK (*out_d, *out_dev), CE_INVALID (bad id), CE_NOMEM, the registry's errors.
 */
int appl_device_put(struct appl *a, const char *id, const cJSON *body, struct appl_device **out_d,
                    struct device **out_dev);
/** Delete the identity (the bus's EV_DEVICE_DELETED drops the record). CE_OK / CE_NOTFOUND. */
int appl_device_delete(struct appl *a, const char *id);

/* ---------------------------------------------------------------- tokens (appl.c) */

/** "administrator" / "operator": for messages and the web UI's session. */
const char *appl_role_name(enum appl_role r);
/** IoT Central's role id (GUID) of App Administrator / App Operator: what the API returns. */
const char *appl_role_id(enum appl_role r);
/** Parse a role id (name or IoT Central GUID); ROLE_NONE when unknown. */
enum appl_role appl_role_parse(const char *s);
struct appl_token *appl_token_get(struct appl *a, const char *id);
/**
 * Create a token; writes the token text ("SharedAccessSignature sr=..") into @p out_text.
 * @return CE_OK, CE_EXISTS, CE_INVALID (bad id), CE_NOMEM.
 */
int appl_token_create(struct appl *a, const char *id, enum appl_role role, int64_t expiry_ms,
                      char *out_text, size_t size);
/** Delete a token and announce it on the bus (EV_TOKEN_REVOKED). CE_OK / CE_NOTFOUND. */
int appl_token_delete(struct appl *a, const char *id);
cJSON *appl_token_to_json(const struct appl_token *t);
/**
 * Authenticate an Authorization header value. @p out_token (may be NULL) receives the API
 * token it names, NULL for the administrator token (borrowed: valid until the token is deleted).
 * @return the role (ROLE_NONE when it does not authenticate; then *out_why says why).
 */
enum appl_role appl_authenticate(struct appl *a, const char *header, const char **out_why,
                                 const struct appl_token **out_token);
/** store_app_load row callback for app_tokens (ctx = struct appl). */
int appl_token_load(void *ctx, const char *id, const char *data);

/* ---------------------------------------------------------------- commands (appl_cmd.c) */

/** New history entry for @p device_id (added to its history, persisted). NULL on OOM. */
struct appl_command *appl_command_new(struct appl *a, struct appl_device *d, const char *component,
                                      const char *name, const cJSON *request, int conn_timeout,
                                      int resp_timeout);
/** Record a state change of @p c: persist and publish an EV_COMMAND event. */
void appl_command_changed(struct appl *a, struct appl_command *c);

/**
 * How a command run ended, called once: @p rc CE_OK (@p cmd answered: completed, pending (202)
 * or failed by the device's status; or queued as C2D), CE_OFFLINE, CE_TIMEOUT, CE_BUSY (the
 * C2D queue is full), CE_NOMEM, ... (then @p cmd is failed with its error text), or
 * CE_NOTFOUND with @p cmd NULL (the device was deleted meanwhile).
 */
typedef void (*appl_command_done_fn)(void *ctx, int rc, const struct appl_command *cmd);

/**
 * Run command @p name of @p component on @p dev: checks it against the device's template
 * (capability, request schema), records it in the history, then either queues it as a
 * cloud-to-device message (the device is offline and the template marks the command
 * queue-if-offline; cmd->queued is set) or invokes the direct method and waits for the answer.
 * @return CE_OK: @p done has been called (synchronous outcome, *out_op NULL) or will be called
 *         from the loop (*out_op set: the call is in flight, see appl_command_cancel);
 *         CE_INVALID (@p err: CapabilityNotFound, InvalidBody, InvalidParameter) or CE_NOMEM:
 *         nothing was recorded and @p done is not called.
 */
int appl_command_run(struct appl *a, struct appl_device *d, struct device *dev,
                     const char *component, const char *name, const cJSON *request,
                     int conn_timeout, int resp_timeout, appl_command_done_fn done, void *ctx,
                     struct appl_command_op **out_op, struct appl_error *err);
/** Abandon a call in flight (shutdown): the command fails, @p done is not called. */
void appl_command_cancel(struct appl_command_op *op);
/** DeviceCommand JSON. Caller frees. */
cJSON *appl_command_to_json(const struct appl_command *c);
/** A reported patch arrived: complete pending async commands named in it. */
void appl_commands_on_reported(struct appl *a, struct appl_device *d, const cJSON *patch);
/** Rebuild from the stored JSON. NULL on error. */
struct appl_command *appl_command_from_store(const char *json);
void appl_command_free(struct appl_command *c);
/** Append to the device's in-memory history (takes ownership; drops the oldest above max). */
void appl_device_add_command(struct appl_device *d, struct appl_command *c);
const char *appl_cmd_status_name(enum appl_cmd_status s);

/* ---------------------------------------------------------------- data (appl_data.c) */

/**
 * Classify one device payload against the template (NULL = unassociated): fills @p modeled,
 * @p unmodeled (objects) and @p errors (array of strings).
 * @param kind EV_TELEMETRY (payload = message body, @p component its "$.sub") or EV_REPORTED.
 */
void appl_classify(const struct dtdl_model *m, int kind, const char *component,
                   const cJSON *payload, cJSON *modeled, cJSON *unmodeled, cJSON *errors);
/** True for telemetry names IoT Central ignores ("_x", EventEnqueuedUtcTime, ...). */
bool appl_name_ignored(const char *name);
/** The conformance report of a device (see docs/API.md). Caller frees; NULL on OOM. */
cJSON *appl_conformance(struct appl *a, struct appl_device *d, const struct device *dev);

/* ---------------------------------------------------------------- properties (appl_props.c) */

/**
 * Properties view of @p dev (GET .../properties): component "" = whole device with nested
 * components, or one component. Caller frees; NULL on OOM.
 */
cJSON *appl_properties_view(const struct dtdl_model *m, const struct device *dev,
                            const char *component, const cJSON *cloud);
/**
 * Move the cloud properties (DTDL co-type Cloud: kept by the application, never sent to the
 * device) of a write body for @p component out of @p body into @p out_cloud
 * ({"comp/name" or "name": value}), checking each value against its schema.
 * @return CE_OK or CE_INVALID (@p err filled).
 */
int appl_properties_take_cloud(const struct dtdl_model *m, const char *component, cJSON *body,
                               cJSON *out_cloud, struct appl_error *err);
/** Add stored cloud values ({"key":{"value","time"}}) of @p component's scope to a view. */
void appl_properties_add_cloud(cJSON *view, const char *component, const cJSON *cloud);
/** Store taken cloud values (null deletes) in @p d at @p now_ms; persisted by the caller. */
void appl_properties_store_cloud(struct appl_device *d, const cJSON *taken, int64_t now_ms);
/**
 * Write the properties of @p body for @p component ("" root): cloud properties are stored in
 * @p d (etag bumped, persisted), writable device properties are validated and pushed to the
 * device (twin_update, which publishes EV_DESIRED); with @p replace (PUT) omitted writable
 * values are reset. @p body is consumed in part (cloud members are taken out).
 * @return CE_OK (*out_answer: the 202 answer, caller frees), CE_INVALID (@p err filled;
 *         code CapabilityNotFound for unknown names), CE_NOMEM, or twin_update's error.
 */
int appl_properties_write(struct appl *a, struct appl_device *d, struct device *dev,
                          const char *component, cJSON *body, bool replace, cJSON **out_answer,
                          struct appl_error *err);
/**
 * Validate a writable-properties body for @p component ("" root) and build the desired patch
 * (component values wrapped with "__t":"c"). With @p replace, writable values of the scope
 * that the body omits are set to null.
 * @return CE_OK (*out_patch, caller frees), CE_INVALID (@p err filled), CE_NOMEM.
 */
int appl_properties_patch(const struct dtdl_model *m, const struct device *dev,
                          const char *component, const cJSON *body, bool replace, cJSON **out_patch,
                          struct appl_error *err);
/** The 202 answer for a write now at desired version @p version. Caller frees. */
cJSON *appl_properties_written(const char *component, const cJSON *body, int64_t version);

/* helpers */
/** Format @p ms as RFC 3339 with milliseconds into @p out. */
void appl_time(int64_t ms, char out[32]);
/** Parse RFC 3339 ("2026-11-26T08:00:00Z", fractional seconds and offsets allowed). CE_OK /
 * CE_INVALID. */
int appl_parse_time(const char *s, int64_t *out_ms);
/** strdup that accepts NULL. */
char *appl_strdup(const char *s);

/* ---------------------------------------------------------------- dashboards (appl_dashboard.c) */

/**
 * Check a dashboard body: {"id"?, "displayName"?, "tiles"?: [{"type", ...}]} with tile types
 * deviceCounts, lastValue (device, telemetry), templateChart (template, telemetry), groupChart.
 * Pure. @return CE_OK or CE_INVALID (@p err filled).
 */
int appl_dashboard_check(const cJSON *body, struct appl_error *err);
/** The dashboard @p id, or NULL. Borrowed until the next put/delete. */
const cJSON *appl_dashboard_get(struct appl *a, const char *id);
/**
 * Create or replace dashboard @p id from @p body and persist it; *out is the stored dashboard
 * (borrowed). @return CE_OK, CE_INVALID (@p err filled), CE_EXISTS (a new id beyond the 100
 * dashboards an application keeps; @p err filled), CE_NOMEM.
 */
int appl_dashboard_put(struct appl *a, const char *id, const cJSON *body, const cJSON **out,
                       struct appl_error *err);
/** Delete; CE_OK / CE_NOTFOUND. */
int appl_dashboard_delete(struct appl *a, const char *id);
/** store_app_load row callback for app_dashboards (ctx = struct appl). */
int appl_dashboard_load(void *ctx, const char *id, const char *data);

/* ---------------------------------------------------------------- device groups
 * (appl_devgroups.c; IoT Central's /api/deviceGroups) */

struct devfilter;
/** Check a DeviceGroup body without id/etag (displayName and filter required) and compile its
 * filter into @p f. CE_OK or CE_INVALID (@p err: InvalidBody, InvalidFilter). */
int appl_devgroup_check(const cJSON *g, struct devfilter *f, struct appl_error *err);
/** The group (its IoT Central JSON, borrowed), or NULL. */
const cJSON *appl_devgroup_get(struct appl *a, const char *id);
/**
 * PUT (create or replace) or, with @p patch, PATCH (merge into the stored group; null removes a
 * member) device group @p id. @return CE_OK (*out borrowed), CE_INVALID (@p err), CE_NOTFOUND
 * (PATCH of a missing group), CE_EXISTS (too many groups, @p err), CE_NOMEM.
 */
int appl_devgroup_put(struct appl *a, const char *id, const cJSON *body, bool patch,
                      const cJSON **out, struct appl_error *err);
/** Delete device group @p id. CE_OK or CE_NOTFOUND. */
int appl_devgroup_delete(struct appl *a, const char *id);
/** store_app_load row callback for app_device_groups (ctx = struct appl). */
int appl_devgroups_load(void *ctx, const char *id, const char *data);
/** Compile the filter of a stored group @p g into @p f. CE_OK or CE_INVALID. */
int appl_devgroup_filter(const cJSON *g, struct devfilter *f);
/** True when the device passes @p f (what the filter sees of it: appl_filter.h). */
bool appl_device_passes(const struct devfilter *f, const struct appl_device *d,
                        const struct device *dev);

/* ---------------------------------------------------------------- jobs
 * (appl_jobs.c; IoT Central's /api/jobs, state machine in appl_jobsm.h) */

struct appl_job;
struct appl_job *appl_job_get(struct appl *a, const char *id);
/** Iterate the jobs, newest first. */
struct appl_job *appl_jobs_first(struct appl *a);
struct appl_job *appl_job_next(struct appl_job *j);
/**
 * PUT /api/jobs/{id}: check a Job body, take the group's members now, store the job and start
 * it. @return CE_OK (*out borrowed), CE_INVALID (@p err), CE_EXISTS (the id is taken, @p err),
 * CE_NOMEM, CE_STORE.
 */
int appl_job_create(struct appl *a, const char *id, const cJSON *body, struct appl_job **out,
                    struct appl_error *err);
/** A new job @p rerun_id over the failed and cancelled devices of @p from (not running). */
int appl_job_rerun(struct appl *a, struct appl_job *from, const char *rerun_id,
                   struct appl_job **out, struct appl_error *err);
/** Stop a running job / resume a stopped one. CE_OK or CE_INVALID (not in that state). */
int appl_job_stop(struct appl *a, struct appl_job *j);
int appl_job_resume(struct appl *a, struct appl_job *j);
const char *appl_job_status(const struct appl_job *j);
/** The Job JSON (definition, status, iotc's progress). Caller frees. */
cJSON *appl_job_to_json(const struct appl_job *j);
size_t appl_job_count_devices(const struct appl_job *j);
/** {"id","status"[,"error"]} of the job's device @p i. Caller frees. */
cJSON *appl_job_device_json(const struct appl_job *j, size_t i);
/** Load the stored jobs (appl_open); devices in flight at the restart are settled. */
int appl_jobs_load(struct appl *a);
/** Run the running jobs (once the planes are up: capi_start). */
void appl_jobs_start(struct appl *a);
void appl_jobs_free(struct appl *a);

#endif /* CENTRAL_APPL_H */
