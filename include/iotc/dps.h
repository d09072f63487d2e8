/*
 * iotc/dps.h - Device Provisioning Service over MQTT: username, topics, JSON bodies
 * (docs/PROTOCOL.md §4).
 *
 * Device side builds the CONNECT username, the register/poll topics and the register body and
 * parses response topics and bodies; the server side (iotc-central) does the reverse.
 *
 * Writers follow iotc/codec.h (size first, IOTC_E_NOSPACE writes nothing, *out_len excludes
 * the NUL, NUL-terminated when room). Parsers return borrowed spans into their input (valid
 * while the input lives) and never allocate. Spans taken from JSON strings are the text
 * between the quotes, STILL JSON-escaped: unescape with iotc_json_unescape() when the exact
 * value matters. Spans from topics/usernames are still percent-encoded: decode with
 * iotc_pct_decode(). Absent optional fields are spans with ptr == NULL.
 */
#ifndef IOTC_DPS_H
#define IOTC_DPS_H

#include <iotc/common.h>
#include <iotc/json.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOTC_DPS_API_VERSION "2019-03-31"
#define IOTC_DPS_GLOBAL_HOST "global.azure-devices-provisioning.net"
/** The only filter a DPS client subscribes to. */
#define IOTC_DPS_SUBSCRIBE_TOPIC "$dps/registrations/res/#"
#define IOTC_DPS_REGISTER_TOPIC_PREFIX "$dps/registrations/PUT/iotdps-register/?$rid="
#define IOTC_DPS_STATUS_TOPIC_PREFIX "$dps/registrations/GET/iotdps-get-operationstatus/?$rid="
#define IOTC_DPS_RESPONSE_TOPIC_PREFIX "$dps/registrations/res/"

/* ----------------------------------- CONNECT username ----------------------------------- */

/**
 * `{idScope}/registrations/{registrationId}/api-version={v}[&ClientVersion={enc(ua)}]`
 * (no '?', unlike the hub). Scope and registration id are written raw, like every SDK.
 * @param api_version    optional (ptr NULL: IOTC_DPS_API_VERSION)
 * @param client_version optional user agent, percent-encoded by this function
 * @return IOTC_OK; IOTC_E_ARG (empty scope/regId, or one containing '/'); IOTC_E_NOSPACE.
 */
IOTC_API int iotc_dps_username_build(struct iotc_span id_scope, struct iotc_span registration_id,
                                     struct iotc_span api_version, struct iotc_span client_version,
                                     char *out, size_t out_size, size_t *out_len);

/** Parsed DPS username; spans borrowed from the username, query values still encoded. */
struct iotc_dps_username {
    struct iotc_span id_scope;
    struct iotc_span registration_id;
    struct iotc_span query;          /**< everything after the third '/', may be empty */
    struct iotc_span api_version;    /**< ptr NULL when absent */
    struct iotc_span client_version; /**< ptr NULL when absent (encoded) */
};

/**
 * Parse a DPS username. Requires `{scope}/registrations/{regId}/` with non-empty scope and
 * regId ("registrations" matched case-insensitively); the rest is a query in any order whose
 * escapes must be valid. A rest starting with '?' is refused: that is a hub username shape.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_dps_username_parse(struct iotc_span username, struct iotc_dps_username *out);

/* --------------------------------------- topics ----------------------------------------- */

/**
 * `$dps/registrations/PUT/iotdps-register/?$rid={rid}`.
 * @param rid request id, written raw; must be non-empty and free of `& = ? # + /` and bytes
 *            below 0x21 (IOTC_E_ARG otherwise), so every SDK's topic parser can read it back.
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_dps_register_topic_build(struct iotc_span rid, char *out, size_t out_size,
                                           size_t *out_len);

/**
 * `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={enc(opId)}`.
 * @return IOTC_OK, IOTC_E_ARG (bad rid or empty operation id), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_dps_status_topic_build(struct iotc_span rid, struct iotc_span operation_id,
                                         char *out, size_t out_size, size_t *out_len);

enum iotc_dps_request_kind {
    IOTC_DPS_REQ_REGISTER = 1, /**< PUT iotdps-register */
    IOTC_DPS_REQ_STATUS = 2,   /**< GET iotdps-get-operationstatus */
};

/** A parsed device -> DPS publish topic. Spans borrowed, still encoded. */
struct iotc_dps_request_topic {
    enum iotc_dps_request_kind kind;
    struct iotc_span rid;          /**< verbatim, echo it back unchanged */
    struct iotc_span operation_id; /**< STATUS only (required there); ptr NULL for REGISTER */
};

/**
 * Server side: classify and parse a PUBLISH topic from a DPS client. The query may hold the
 * pairs in any order; `$rid` is required (non-empty), unknown pairs are ignored.
 * @return IOTC_OK; IOTC_E_MALFORMED (not a DPS request topic, missing rid/operationId,
 *         bad escape, duplicate $rid).
 */
IOTC_API int iotc_dps_request_topic_parse(struct iotc_span topic,
                                          struct iotc_dps_request_topic *out);

/**
 * Server side: `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]` - `$rid` FIRST,
 * retry-after without '$' (PY splits the topic on '$').
 * @param status       100..999
 * @param retry_after  seconds; 0 = omit
 * @return IOTC_OK, IOTC_E_ARG (status out of range, bad rid), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_dps_response_topic_build(unsigned status, struct iotc_span rid,
                                           uint32_t retry_after, char *out, size_t out_size,
                                           size_t *out_len);

/** A parsed DPS -> device response topic. */
struct iotc_dps_response_topic {
    unsigned status;      /**< 100..999 */
    struct iotc_span rid; /**< verbatim; ptr NULL if the topic had none */
    uint32_t retry_after; /**< 0 when absent */
    bool has_retry_after;
};

/**
 * Device side: parse a response topic. Query pairs in any order (C SDK tests also send
 * `?retry-after=120&$rid=1`); `retry-after` must be a decimal fitting uint32_t.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_dps_response_topic_parse(struct iotc_span topic,
                                           struct iotc_dps_response_topic *out);

/** True when @p filter is exactly IOTC_DPS_SUBSCRIBE_TOPIC. */
IOTC_API bool iotc_dps_is_subscribe_filter(struct iotc_span filter);

/**
 * True when @p registration_id follows DPS's rules (docs/PROTOCOL.md §4.2): 1 to 128 ASCII
 * alphanumerics and `-._:`, the last one alphanumeric or `-`. DPS compares registration ids
 * case-insensitively (it lower-cases them); this check accepts either case.
 */
IOTC_API bool iotc_dps_registration_id_is_valid(struct iotc_span registration_id);

/* ------------------------------------ register body ------------------------------------- */

/**
 * Device side: `{"registrationId":"...","payload":<payload_json>}`; payload omitted when
 * @p payload_json is absent (ptr NULL). payload_json must be valid JSON (IOTC_E_ARG).
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_dps_register_body_build(struct iotc_span registration_id,
                                          struct iotc_span payload_json, char *out, size_t out_size,
                                          size_t *out_len);

/**
 * Device side convenience: `{"registrationId":"...","payload":{"modelId":"..."}}`
 * (the IoT Central model announcement, §7.1).
 * @return IOTC_OK, IOTC_E_ARG (empty regId or modelId), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_dps_register_body_build_model(struct iotc_span registration_id,
                                                struct iotc_span model_id, char *out,
                                                size_t out_size, size_t *out_len);

/** A parsed register body (server side). */
struct iotc_dps_register_body {
    struct iotc_span registration_id; /**< string contents, escaped; ptr NULL when absent */
    struct iotc_json_value payload;   /**< type NONE when absent; may be NULL (PY) */
    struct iotc_span model_id;        /**< payload.modelId contents if payload is an object
                                           holding a string modelId; ptr NULL otherwise */
};

/**
 * Server side: parse a register body. An empty or whitespace-only body (some clients) gives
 * all fields absent. registrationId, if present, must be a string; modelId, if present in an
 * object payload, must be a string.
 * @return IOTC_OK or IOTC_E_MALFORMED (invalid JSON, not an object, wrong member types).
 */
IOTC_API int iotc_dps_register_body_parse(struct iotc_span body,
                                          struct iotc_dps_register_body *out);

/* ------------------------------------ response bodies ----------------------------------- */

enum iotc_dps_status {
    IOTC_DPS_STATUS_UNKNOWN = 0, /**< absent or an unrecognised word */
    IOTC_DPS_STATUS_UNASSIGNED,
    IOTC_DPS_STATUS_ASSIGNING,
    IOTC_DPS_STATUS_ASSIGNED,
    IOTC_DPS_STATUS_FAILED,
    IOTC_DPS_STATUS_DISABLED,
};

/** Wire word ("assigned", ...) of @p s; "unknown" for IOTC_DPS_STATUS_UNKNOWN. Static. */
IOTC_API const char *iotc_dps_status_str(enum iotc_dps_status s);

/** Parse a wire word, case-insensitively; IOTC_DPS_STATUS_UNKNOWN when not recognised. */
IOTC_API enum iotc_dps_status iotc_dps_status_parse(struct iotc_span word);

/**
 * registrationState for the server's response body. Optional spans (ptr NULL) are omitted.
 * Timestamps are arguments (ISO 8601 text); the core never reads the clock.
 */
struct iotc_dps_registration_state {
    struct iotc_span registration_id; /**< required */
    struct iotc_span created_utc;     /**< createdDateTimeUtc */
    struct iotc_span assigned_hub;
    struct iotc_span device_id;
    enum iotc_dps_status status;       /**< required (not UNKNOWN) */
    struct iotc_span substatus;        /**< e.g. "initialAssignment" */
    struct iotc_span last_updated_utc; /**< lastUpdatedDateTimeUtc */
    struct iotc_span etag;
    bool has_error_code;
    int64_t error_code; /**< e.g. 400209 */
    struct iotc_span error_message;
    struct iotc_span payload_json; /**< raw JSON returned to the device; validated */
};

/** The server's RegistrationOperationStatus (§4.5). */
struct iotc_dps_operation {
    struct iotc_span operation_id;                   /**< required */
    enum iotc_dps_status status;                     /**< required (not UNKNOWN) */
    const struct iotc_dps_registration_state *state; /**< NULL: no registrationState */
};

/**
 * Server side: `{"operationId":..,"status":..,"registrationState":{"registrationId":..,
 * "createdDateTimeUtc":..,"assignedHub":..,"deviceId":..,"status":..,"substatus":..,
 * "errorCode":..,"errorMessage":..,"lastUpdatedDateTimeUtc":..,"etag":..,"payload":..}}`
 * with absent optional fields omitted and every string JSON-escaped.
 * @return IOTC_OK, IOTC_E_ARG (missing required field, invalid payload JSON or UTF-8),
 *         IOTC_E_NOSPACE.
 */
IOTC_API int iotc_dps_response_body_build(const struct iotc_dps_operation *op, char *out,
                                          size_t out_size, size_t *out_len);

/**
 * Error body shared by DPS and the hub twin: `{"errorCode":N,"trackingId":"..","message":"..",
 * "timestampUtc":".."}`. tracking_id/timestamp optional (omitted when ptr NULL).
 * @return IOTC_OK, IOTC_E_ARG (invalid UTF-8), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_dps_error_body_build(int64_t error_code, struct iotc_span tracking_id,
                                       struct iotc_span message, struct iotc_span timestamp_utc,
                                       char *out, size_t out_size, size_t *out_len);

/** Device-side view of any DPS response body (success, failure or error body). */
struct iotc_dps_response_view {
    struct iotc_span operation_id; /**< escaped contents; ptr NULL when absent */
    enum iotc_dps_status status;   /**< top-level status; UNKNOWN when absent/unknown */
    struct iotc_span status_text;  /**< the raw word (escaped), ptr NULL when absent */
    bool has_registration_state;
    struct iotc_span registration_id;
    struct iotc_span assigned_hub;
    struct iotc_span device_id;
    struct iotc_span substatus;
    bool has_error_code;
    int64_t error_code;             /**< registrationState.errorCode, else top-level errorCode */
    struct iotc_span error_message; /**< registrationState.errorMessage, else top-level message */
    struct iotc_span tracking_id;   /**< error bodies */
    struct iotc_json_value payload; /**< registrationState.payload, type NONE when absent */
};

/**
 * Device side: parse a response body. The body must be a JSON object holding at least one of
 * operationId, status or errorCode (as the C SDK requires); listed fields of the wrong JSON
 * type (e.g. a numeric operationId) are IOTC_E_MALFORMED; unknown members are ignored.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_dps_response_body_parse(struct iotc_span body,
                                          struct iotc_dps_response_view *out);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_DPS_H */
