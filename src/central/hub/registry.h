/*
 * registry.h - the IoT Hub identity registry: devices with their keys, status, twin and
 * pending cloud-to-device messages. Section numbers (§) refer to docs/PROTOCOL.md.
 *
 * The whole registry lives in memory (loaded from the store at startup) and every change is
 * written through to SQLite by the store's writer thread, in order. Loop thread only.
 *
 * Ownership: struct device objects are owned by the registry. A `struct device *` returned by
 * registry_get/registry_list/registry_create is borrowed and valid until the device is deleted
 * (registry_delete) or the application stops; do not keep it across event-loop iterations
 * unless you look it up again by id.
 */
#ifndef CENTRAL_REGISTRY_H
#define CENTRAL_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>

#include "central/base/app.h"
#include "central/base/check.h"
#include "central/hub/auth.h"

#define DEVICE_ID_MAX 128
#define DEVICE_KEY_MAX 96 /* base64 of up to 64 bytes + NUL */

struct session;
struct c2d_msg;

enum device_status { DEVICE_ENABLED = 0, DEVICE_DISABLED = 1 };

/** One registered device. Read fields freely; change them only through the functions below. */
struct device {
    char id[DEVICE_ID_MAX + 1];
    char primary_key[DEVICE_KEY_MAX]; /**< base64 symmetric keys */
    char secondary_key[DEVICE_KEY_MAX];
    enum device_status status;
    enum auth_type auth_type;               /**< sas, selfSigned, certificateAuthority */
    char thumb_primary[AUTH_THUMB_MAX + 1]; /**< selfSigned: normalised hex, "" = none */
    char thumb_secondary[AUTH_THUMB_MAX + 1];
    char *status_reason; /**< heap, may be NULL */
    char generation_id[24];
    uint64_t etag_version;  /**< device etag counter (bumped on every identity change) */
    char *model_id;         /**< heap, NULL until announced (DPS payload or username) */
    char *enrollment_group; /**< heap; NULL for individual enrollments */
    int64_t created_ms;
    int64_t status_updated_ms;
    int64_t last_activity_ms; /**< last packet from the device (0 = never) */
    int64_t connection_state_updated_ms;
    bool connected;       /**< an authenticated hub connection exists */
    uint32_t sub_mask;    /**< persistent-session subscriptions (broker's bits) */
    bool session_present; /**< a CleanSession=0 session exists */

    /* Twin (twin.h). desired/reported are objects without $version/$metadata; *_meta mirror
     * their trees with "$lastUpdated" (and "$lastUpdatedVersion" on desired). */
    cJSON *tags;
    cJSON *desired;
    cJSON *desired_meta;
    cJSON *reported;
    cJSON *reported_meta;
    int64_t desired_version;
    int64_t reported_version;
    uint64_t twin_version; /**< whole-twin etag counter */

    /* Pending cloud-to-device messages, oldest first (c2d.h). */
    STAILQ_HEAD(c2d_queue, c2d_msg) c2d;
    size_t c2d_count;

    struct session *session; /**< live hub session or NULL (broker.c) */

    /* registry internals */
    struct device *hash_next;
    TAILQ_ENTRY(device) link; /* the registry's list, oldest first */
};

/** An identity's X.509 settings (borrowed strings). */
struct device_x509 {
    enum auth_type type;
    const char *primary; /**< selfSigned thumbprints, any case, colons allowed; NULL or "" = none */
    const char *secondary;
};

/** Fields of registry_update; a NULL pointer / negative value leaves the field unchanged. */
struct device_update {
    const char *primary_key; /**< new base64 key ("" = generate) */
    const char *secondary_key;
    int status; /**< DEVICE_ENABLED / DEVICE_DISABLED, or -1 */
    const char *status_reason;
    const struct device_x509 *x509; /**< authentication type and thumbprints, or NULL */
};

/** True if @p id is a valid IoT Hub device id (§6.3: ≤128 of alnum and -.%_*?!(),:=@$'). */
bool registry_id_is_valid(const char *id);

/** True if @p key is valid base64 decoding to 16..64 bytes. */
bool registry_key_is_valid(const char *key);

/** Find a device by exact (case-sensitive) id; borrowed pointer or NULL. */
struct device *registry_get(struct app *app, const char *id);

/**
 * Find a device by id ignoring ASCII case, as DPS compares registration ids
 * (docs/PROTOCOL.md §4.2): the exact id when it exists, else one that differs only in case
 * (IoT Hub ids are case-sensitive, so the registry may hold several). Borrowed pointer or NULL.
 */
struct device *registry_get_nocase(struct app *app, const char *id);

/** Number of registered devices. */
size_t registry_count(struct app *app);

/**
 * Create a device. Keys NULL or "" are generated (32 random bytes, base64).
 * @p group names the enrollment group for DPS group self-registration (NULL = individual).
 * @return CE_OK (and *out_dev if non-NULL), CE_EXISTS, CE_INVALID (bad id or key), CE_NOMEM.
 */
int registry_create(struct app *app, const char *id, const char *primary_key,
                    const char *secondary_key, bool enabled, const char *group,
                    struct device **out_dev);

/**
 * Update keys, authentication and/or status. Disabling a device, or changing its keys,
 * authentication type or thumbprints, closes its live connection. A selfSigned identity needs
 * a valid primary thumbprint (and a valid secondary, when given).
 * @return CE_OK, CE_INVALID, CE_NOMEM.
 */
int registry_update(struct app *app, struct device *dev, const struct device_update *upd);

/** Record the model id a device announced (DPS payload or hub username); NULL clears. */
void registry_set_model_id(struct app *app, struct device *dev, const char *model_id);

/** Record that a group-registered device now registered through group @p group. CE_OK/CE_NOMEM. */
int registry_set_group(struct app *app, struct device *dev, const char *group);

/** Delete a device, its twin and pending C2D; closes its live connection. CE_OK/CE_NOTFOUND. */
int registry_delete(struct app *app, const char *id);

/**
 * Page through devices in creation order: fills up to @p cap pointers starting at the
 * @p offset-th device. @return the number written.
 */
size_t registry_list(struct app *app, size_t offset, struct device **out, size_t cap);

/**
 * Device JSON of the IoT Hub service API (§6.3): deviceId, generationId, etag,
 * connectionState, status, statusReason, connectionStateUpdatedTime, statusUpdatedTime,
 * lastActivityTime, cloudToDeviceMessageCount, authentication{type,symmetricKey,x509Thumbprint},
 * capabilities, modelId. @return a new object the caller frees with cJSON_Delete, or NULL.
 */
cJSON *registry_device_to_json(const struct device *dev);

/** IoT Hub's name of an authentication type: "sas", "selfSigned", "certificateAuthority". */
const char *registry_auth_type_name(enum auth_type t);

/** The device etag string (quoted form is the caller's business), e.g. "MTI=" style. */
void registry_device_etag(const struct device *dev, char out[32]);

/** Persist the device row (identity + twin + session) through the store. Loop thread. */
void registry_persist(struct app *app, struct device *dev);

/** The device's store record (JSON text; caller frees) and the device built from one
 * (NULL when @p id or @p json is not usable). */
char *registry_device_to_store_json(const struct device *dev);
struct device *registry_device_from_store_json(const char *id, const char *json);

/* Lifecycle (main.c / tests). */
/** Create the empty registry; the calling thread becomes the loop thread. CE_OK / CE_NOMEM. */
int registry_new(struct app *app);
/**
 * Build the devices and their pending C2D messages from the store's rows (after store_open,
 * before store_start); sets app->c2d_seq to the highest C2D sequence number stored.
 * @return CE_OK or CE_STORE.
 */
int registry_load(struct app *app);
void registry_free(struct app *app);
/** Free a device that is not (or no longer) in the registry. */
void registry_device_free(struct device *dev);

#endif /* CENTRAL_REGISTRY_H */
