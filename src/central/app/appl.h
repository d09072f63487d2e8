/*
 * appl.h - the IoT Central application layer: device templates (model + views +
 * customizations + published flag), the application's view of devices (display name, template,
 * provisioned, ...), API tokens, command history, last telemetry values and live event streams.
 *
 * One struct appl per struct app, created by capi_start (capi.h). Everything lives in memory and
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
#include "dtdl/dtdl.h"
#include "central/hub/registry.h"

#define APPL_ID_MAX 128 /* token ids */
#define APPL_TEMPLATE_ID_MAX 512
#define APPL_CMD_HISTORY_MAX 1000 /* commands kept in memory per device (all are stored) */

struct store_app;
struct appl_sse;

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
};

struct appl {
    struct app *app;
    struct store_app *db;
    struct appl_template *templates;
    struct appl_device **buckets; /* hash of devices */
    size_t n_buckets;
    struct appl_token *tokens;
    int64_t next_cmd_seq;
    int events_sub;
    struct appl_sse *streams;
    size_t n_streams;
    int sse_busy; /* > 0 while writing to streams: closes are deferred (capi_sse.c) */
};

/** The appl of @p app, or NULL before appl_open. */
struct appl *appl_of(const struct app *app);

/** Create the application layer: open its tables, load them, subscribe to events. 0 / -1. */
int appl_open(struct app *app);
/** Close streams, unsubscribe, free everything. */
void appl_close(struct app *app);

/* ---------------------------------------------------------------- templates (appl_template.c) */

struct appl_template *appl_template_get(struct appl *a, const char *id);
/** Template a device with announced model id @p model_id is associated with (published only). */
struct appl_template *appl_template_for_model(struct appl *a, const char *model_id);

/** Error of a template import: HTTP-style code text and message with the JSON path. */
struct appl_error {
    const char *code; /**< "InvalidModel", "InvalidTemplate", "InvalidBody", ... */
    char message[600];
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

/* ---------------------------------------------------------------- tokens (appl.c) */

const char *appl_role_name(enum appl_role r);
/** Parse a role id (name or IoT Central GUID); ROLE_NONE when unknown. */
enum appl_role appl_role_parse(const char *s);
struct appl_token *appl_token_get(struct appl *a, const char *id);
/**
 * Create a token; writes the token text ("SharedAccessSignature sr=..") into @p out_text.
 * @return CE_OK, CE_EXISTS, CE_INVALID (bad id), CE_NOMEM.
 */
int appl_token_create(struct appl *a, const char *id, enum appl_role role, int64_t expiry_ms,
                      char *out_text, size_t size);
int appl_token_delete(struct appl *a, const char *id);
cJSON *appl_token_to_json(const struct appl_token *t);
/**
 * Authenticate an Authorization header value.
 * @return the role (ROLE_NONE when it does not authenticate; then *out_why says why).
 */
enum appl_role appl_authenticate(struct appl *a, const char *header, const char **out_why);
/** store_app_load row callback for app_tokens (ctx = struct appl). */
int appl_token_load(void *ctx, const char *id, const char *data);

/* ---------------------------------------------------------------- commands (appl_cmd.c) */

/** New history entry for @p device_id (added to its history, persisted). NULL on OOM. */
struct appl_command *appl_command_new(struct appl *a, struct appl_device *d, const char *component,
                                      const char *name, const cJSON *request, int conn_timeout,
                                      int resp_timeout);
/** Record a state change of @p c: persist and publish an EV_COMMAND event. */
void appl_command_changed(struct appl *a, struct appl_command *c);
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

/* ---------------------------------------------------------------- live streams (capi_sse.c) */

/** Deliver an event to the streams of its device. */
void appl_sse_publish(struct appl *a, const char *device_id, const char *event, const cJSON *data);
/** Close every stream (shutdown). */
void appl_sse_close_all(struct appl *a);
/** Iteration over a->streams (the struct is private to capi_sse.c). */
const struct appl_sse *appl_sse_next(const struct appl_sse *s);
const char *appl_sse_device(const struct appl_sse *s);

/* helpers */
/** Format @p ms as RFC 3339 with milliseconds into @p out. */
void appl_time(int64_t ms, char out[32]);
/** Parse RFC 3339 ("2026-11-26T08:00:00Z", fractional seconds and offsets allowed). 0 / -1. */
int appl_parse_time(const char *s, int64_t *out_ms);
/** strdup that accepts NULL. */
char *appl_strdup(const char *s);

#endif /* CENTRAL_APPL_H */
