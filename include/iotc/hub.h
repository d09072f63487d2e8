/*
 * iotc/hub.h - IoT Hub device-facing MQTT: username, topics and property bags
 * (docs/PROTOCOL.md §5).
 *
 * Builders for both directions (device: telemetry, method response, twin requests; server:
 * C2D, method request, twin response, desired patch) and parsers for both. Device and module
 * ids inside topics are raw and are NEVER percent-decoded: compare them byte-for-byte with the
 * authenticated identity (§1). Property bags and username queries are percent-encoded.
 *
 * Writers follow iotc/codec.h (size first, IOTC_E_NOSPACE writes nothing, *out_len excludes the
 * NUL, NUL-terminated when room). Parsers return borrowed spans into the topic (valid while it
 * lives), never allocate, and reject malformed input with IOTC_E_MALFORMED.
 */
#ifndef IOTC_HUB_H
#define IOTC_HUB_H

#include <iotc/codec.h>
#include <iotc/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** api-version our device sends (any version is accepted by parsers). */
#define IOTC_HUB_API_VERSION "2021-04-12"

/* System property wire names (§5.3), raw: iotc_bag_build() writes "$" as "%24". */
#define IOTC_HUB_PROP_MESSAGE_ID "$.mid"
#define IOTC_HUB_PROP_CORRELATION_ID "$.cid"
#define IOTC_HUB_PROP_USER_ID "$.uid"
#define IOTC_HUB_PROP_TO "$.to"
#define IOTC_HUB_PROP_CONTENT_TYPE "$.ct"
#define IOTC_HUB_PROP_CONTENT_ENCODING "$.ce"
#define IOTC_HUB_PROP_EXPIRY "$.exp"
#define IOTC_HUB_PROP_CREATION_TIME "$.ctime"
#define IOTC_HUB_PROP_OUTPUT_NAME "$.on"
#define IOTC_HUB_PROP_SCHEMA "$.schema"
#define IOTC_HUB_PROP_COMPONENT "$.sub"
#define IOTC_HUB_PROP_IOTHUB_CREATION_TIME "iothub-creation-time-utc"
#define IOTC_HUB_PROP_ACK "iothub-ack"
#define IOTC_HUB_PROP_METHOD_NAME "method-name"

/* Subscription filters (§5.4-§5.6). */
#define IOTC_HUB_METHODS_SUBSCRIBE_TOPIC "$iothub/methods/POST/#"
#define IOTC_HUB_TWIN_RES_SUBSCRIBE_TOPIC "$iothub/twin/res/#"
#define IOTC_HUB_TWIN_DESIRED_SUBSCRIBE_TOPIC "$iothub/twin/PATCH/properties/desired/#"
#define IOTC_HUB_C2D_WILDCARD_SUBSCRIBE_TOPIC "devices/+/messages/devicebound/#"

/* ----------------------------------- CONNECT username ----------------------------------- */

/**
 * `{host}/{deviceId}[/{moduleId}]/?api-version={v}[&DeviceClientType={enc}][&model-id={enc}]`
 * (C SDK order; device and module ids raw as every SDK sends them).
 * @param module_id    optional
 * @param api_version  optional (ptr NULL: IOTC_HUB_API_VERSION); written encoded
 * @param client_type  optional user agent, percent-encoded
 * @param model_id     optional DTDL model id, percent-encoded (`dtmi%3Acom%3A...%3B1`)
 * @return IOTC_OK; IOTC_E_ARG (empty host/device, '/' in host/device/module); IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_username_build(struct iotc_span host, struct iotc_span device_id,
                                     struct iotc_span module_id, struct iotc_span api_version,
                                     struct iotc_span client_type, struct iotc_span model_id,
                                     char *out, size_t out_size, size_t *out_len);

/** Parsed hub username; borrowed spans; query values still as sent (encoded or raw). */
struct iotc_hub_username {
    struct iotc_span host;
    struct iotc_span device_id;
    struct iotc_span module_id;   /**< ptr NULL for a device */
    struct iotc_span query;       /**< text after "/?"; ptr NULL when there was none */
    struct iotc_span api_version; /**< ptr NULL when absent */
    struct iotc_span client_type; /**< DeviceClientType; ptr NULL when absent */
    struct iotc_span model_id;    /**< model-id; ptr NULL when absent */
};

/**
 * Parse `{host}/{device}[/{module}][/][?{query}]`: the path ends at the first "/?" (or '?',
 * or the end; one trailing '/' is tolerated), the query's pairs may come in any order, encoded
 * (C SDK, PY) or raw (NODE's model-id); keys are compared after decoding, values returned as
 * sent: decode them with iotc_pct_decode() (e.g. model-id) — decoding raw text is a no-op
 * unless it contains '%'. Unknown pairs are ignored.
 * @return IOTC_OK; IOTC_E_MALFORMED (empty host/device, more than two path segments, bad
 *         escape in the query, a listed key given twice).
 */
IOTC_API int iotc_hub_username_parse(struct iotc_span username, struct iotc_hub_username *out);

/* ---------------------------------------- topics ---------------------------------------- */

/** Every topic family the hub and its devices exchange. */
enum iotc_hub_topic_kind {
    IOTC_HUB_TOPIC_UNKNOWN = 0,
    IOTC_HUB_TOPIC_TELEMETRY,           /**< devices/{d}[/modules/{m}]/messages/events/[bag] */
    IOTC_HUB_TOPIC_C2D,                 /**< devices/{d}/messages/devicebound/[bag] */
    IOTC_HUB_TOPIC_METHOD_REQUEST,      /**< $iothub/methods/POST/{name}/?$rid= */
    IOTC_HUB_TOPIC_METHOD_RESPONSE,     /**< $iothub/methods/res/{status}/?$rid= */
    IOTC_HUB_TOPIC_TWIN_GET,            /**< $iothub/twin/GET/?$rid= */
    IOTC_HUB_TOPIC_TWIN_PATCH_REPORTED, /**< $iothub/twin/PATCH/properties/reported/?$rid= */
    IOTC_HUB_TOPIC_TWIN_RESPONSE,       /**< $iothub/twin/res/{status}/?$rid=[&$version=] */
    IOTC_HUB_TOPIC_TWIN_DESIRED,        /**< $iothub/twin/PATCH/properties/desired/?$version= */
};

/** Short name of a kind ("telemetry", ...), static. */
IOTC_API const char *iotc_hub_topic_kind_str(enum iotc_hub_topic_kind kind);

/** Everything a hub topic can carry; fields not used by the kind are {NULL,0}/0/false. */
struct iotc_hub_topic {
    enum iotc_hub_topic_kind kind;
    struct iotc_span device_id;   /**< TELEMETRY, C2D; raw, never decoded */
    struct iotc_span module_id;   /**< TELEMETRY of a module; ptr NULL otherwise */
    struct iotc_span bag;         /**< TELEMETRY, C2D: property bag (may be empty) */
    struct iotc_span method_name; /**< METHOD_REQUEST: raw, '*' allowed */
    struct iotc_span rid;         /**< methods and twin except DESIRED: verbatim $rid */
    unsigned status;              /**< METHOD_RESPONSE, TWIN_RESPONSE: 0..65535 */
    bool has_version;
    uint64_t version; /**< TWIN_DESIRED (required), TWIN_RESPONSE (optional) */
};

/**
 * Parse any hub topic. Query pairs (`$rid`, `$version`) may be in any order; values of
 * `$version` must be decimal; `$rid` is required and non-empty for methods and twin
 * requests/responses. The events/devicebound bag is validated (bad escapes are
 * IOTC_E_MALFORMED) and may be absent with or without the trailing '/'.
 * @return IOTC_OK; IOTC_E_MALFORMED (unknown shape, empty ids, missing/invalid fields).
 */
IOTC_API int iotc_hub_topic_parse(struct iotc_span topic, struct iotc_hub_topic *out);

/**
 * Server authorisation of a PUBLISH from an authenticated device (or module when
 * @p module_id is present): classifies @p topic and checks it belongs to that identity.
 * Ids are compared byte-for-byte, never decoded. Allowed from a device: TELEMETRY (own
 * device/module id), METHOD_RESPONSE, TWIN_GET, TWIN_PATCH_REPORTED.
 * @param out_kind  receives the kind (also on IOTC_E_AUTH), may be NULL
 * @return IOTC_OK; IOTC_E_AUTH (another identity's topic, or a server->device kind);
 *         IOTC_E_MALFORMED (not a hub topic).
 */
IOTC_API int iotc_hub_topic_classify(struct iotc_span topic, struct iotc_span device_id,
                                     struct iotc_span module_id,
                                     enum iotc_hub_topic_kind *out_kind);

/**
 * The authorisation of iotc_hub_topic_classify() for a topic already parsed by
 * iotc_hub_topic_parse(): a server that needs the topic's fields parses once and asks this.
 * @return IOTC_OK; IOTC_E_AUTH (another identity's topic, or a server->device kind).
 */
IOTC_API int iotc_hub_topic_authorize(const struct iotc_hub_topic *t, struct iotc_span device_id,
                                      struct iotc_span module_id);

/** Subscription filters a hub client may use. */
enum iotc_hub_sub_kind {
    IOTC_HUB_SUB_UNKNOWN = 0,
    IOTC_HUB_SUB_C2D,          /**< devices/{own id}/messages/devicebound/# or devices/+/... */
    IOTC_HUB_SUB_MODULE,       /**< devices/{own id}/modules/{own module}/# */
    IOTC_HUB_SUB_METHODS,      /**< $iothub/methods/POST/# */
    IOTC_HUB_SUB_TWIN_RES,     /**< $iothub/twin/res/# */
    IOTC_HUB_SUB_TWIN_DESIRED, /**< $iothub/twin/PATCH/properties/desired/# */
};

/**
 * Server side: recognise a SUBSCRIBE filter of @p device_id (module optional).
 * @return IOTC_OK; IOTC_E_AUTH (a C2D/module filter naming another identity);
 *         IOTC_E_NOTFOUND (not a supported filter: the hub closes the connection).
 */
IOTC_API int iotc_hub_subscription_classify(struct iotc_span filter, struct iotc_span device_id,
                                            struct iotc_span module_id,
                                            enum iotc_hub_sub_kind *out_kind);

/* Telemetry and C2D */

/**
 * Device side: `devices/{d}[/modules/{m}]/messages/events/{bag}` where the bag is written by
 * iotc_bag_build() from @p props (keys/values raw, encoded here); n = 0 gives a trailing '/'.
 * @return IOTC_OK; IOTC_E_ARG (empty device id, '/', '+' or '#' in an id, empty prop key);
 *         IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_telemetry_topic_build(struct iotc_span device_id, struct iotc_span module_id,
                                            const struct iotc_prop *props, size_t n, char *out,
                                            size_t out_size, size_t *out_len);

/**
 * Parse a telemetry topic (server): like iotc_hub_topic_parse() restricted to TELEMETRY.
 * @param out_module  may be NULL; receives ptr NULL for a device
 * @param out_bag     receives the encoded bag (empty when none); iterate with iotc_bag_iter
 * @return IOTC_OK; IOTC_E_MALFORMED (not a telemetry topic or bad bag).
 */
IOTC_API int iotc_hub_telemetry_topic_parse(struct iotc_span topic, struct iotc_span *out_device,
                                            struct iotc_span *out_module,
                                            struct iotc_span *out_bag);

/**
 * True when @p key (a decoded property-bag key) names a property only the hub sets on a
 * device-to-cloud message (docs/PROTOCOL.md §5.3): `$.cdid`, `$.cmid`, `iothub-connection-*`,
 * `iothub-enqueuedtime`, `iothub-message-source` (names compared ignoring case). A device that
 * sends one must not be believed: the server drops it and sets its own.
 */
IOTC_API bool iotc_hub_property_is_hub_set(struct iotc_span key);

/**
 * Server side: `devices/{d}/messages/devicebound/{bag}`.
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_c2d_topic_build(struct iotc_span device_id, const struct iotc_prop *props,
                                      size_t n, char *out, size_t out_size, size_t *out_len);

/**
 * Device side: parse a C2D delivery topic.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_hub_c2d_topic_parse(struct iotc_span topic, struct iotc_span *out_device,
                                      struct iotc_span *out_bag);

/**
 * Write the device's C2D subscription filter `devices/{d}/messages/devicebound/#`.
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_c2d_subscribe_topic_build(struct iotc_span device_id, char *out,
                                                size_t out_size, size_t *out_len);

/* Direct methods */

/**
 * Server side: `$iothub/methods/POST/{name}/?$rid={rid}`; name raw ('*' allowed, '/', '?',
 * '#', '+' and control bytes refused).
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_method_request_topic_build(struct iotc_span method_name, struct iotc_span rid,
                                                 char *out, size_t out_size, size_t *out_len);

/**
 * Device side: parse a method request topic. The name is returned raw (no decoding).
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_hub_method_request_topic_parse(struct iotc_span topic, struct iotc_span *out_name,
                                                 struct iotc_span *out_rid);

/**
 * Device side: `$iothub/methods/res/{status}/?$rid={rid}`, status 0..65535.
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_method_response_topic_build(unsigned status, struct iotc_span rid, char *out,
                                                  size_t out_size, size_t *out_len);

/**
 * Server side: parse a method response topic.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_hub_method_response_topic_parse(struct iotc_span topic, unsigned *out_status,
                                                  struct iotc_span *out_rid);

/* Twin */

/** Device side: `$iothub/twin/GET/?$rid={rid}`. @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE. */
IOTC_API int iotc_hub_twin_get_topic_build(struct iotc_span rid, char *out, size_t out_size,
                                           size_t *out_len);

/**
 * Device side: `$iothub/twin/PATCH/properties/reported/?$rid={rid}`.
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_twin_patch_topic_build(struct iotc_span rid, char *out, size_t out_size,
                                             size_t *out_len);

/**
 * Server side: parse a twin request topic.
 * @param out_kind  IOTC_HUB_TOPIC_TWIN_GET or IOTC_HUB_TOPIC_TWIN_PATCH_REPORTED
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_hub_twin_request_topic_parse(struct iotc_span topic,
                                               enum iotc_hub_topic_kind *out_kind,
                                               struct iotc_span *out_rid);

/**
 * Server side: `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`.
 * @param has_version  write `&$version=` (PATCH reported responses)
 * @return IOTC_OK, IOTC_E_ARG (status > 65535, bad rid), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_twin_response_topic_build(unsigned status, struct iotc_span rid,
                                                bool has_version, uint64_t version, char *out,
                                                size_t out_size, size_t *out_len);

/**
 * Device side: parse a twin response topic.
 * @param out_has_version  set when `$version` is present (may be NULL)
 * @param out_version      the `$version` value, 0 when absent (may be NULL)
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_hub_twin_response_topic_parse(struct iotc_span topic, unsigned *out_status,
                                                struct iotc_span *out_rid, bool *out_has_version,
                                                uint64_t *out_version);

/**
 * Server side: `$iothub/twin/PATCH/properties/desired/?$version={v}`.
 * @return IOTC_OK, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_hub_twin_desired_topic_build(uint64_t version, char *out, size_t out_size,
                                               size_t *out_len);

/**
 * Device side: parse a desired-properties push topic; `$version` is required.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_hub_twin_desired_topic_parse(struct iotc_span topic, uint64_t *out_version);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_HUB_H */
