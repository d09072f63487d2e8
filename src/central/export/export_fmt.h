/*
 * export_fmt.h - the pure part of data export (docs/EXPORT.md): IoT Central's export message
 * formats, the export filter query, checks of destination and export definitions, retry
 * classification and backoff. No I/O, no clock, no application state: everything comes in as
 * arguments, so tests/unit/test_export.c and the fuzz target drive it directly.
 */
#ifndef CENTRAL_EXPORT_FMT_H
#define CENTRAL_EXPORT_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum export_source {
    EXPORT_SRC_TELEMETRY = 0,
    EXPORT_SRC_PROPERTIES,
    EXPORT_SRC_CONNECTIVITY,
    EXPORT_SRC_LIFECYCLE,
    EXPORT_SRC_TEMPLATE_LIFECYCLE, /**< deviceTemplateLifecycle: no deviceId in its messages */
    EXPORT_SRC_COUNT
};

/** The `messageSource` value of @p s ("telemetry", "properties", ...). */
const char *export_source_name(enum export_source s);

/** Parse an export's `source` ("propertyChanges" is accepted for "properties"). 0 / -1. */
int export_source_parse(const char *s, enum export_source *out);

/* ---------------------------------------------------------------- filter */

#define EXPORT_FILTER_MAX_CONDS 8
#define EXPORT_FILTER_NAME_MAX 128
#define EXPORT_FILTER_STR_MAX 256
#define EXPORT_TEMPLATE_ID_MAX 512

enum export_op {
    EXPORT_OP_EQ,
    EXPORT_OP_NE,
    EXPORT_OP_LT,
    EXPORT_OP_LE,
    EXPORT_OP_GT,
    EXPORT_OP_GE
};
enum export_lit { EXPORT_LIT_NUM, EXPORT_LIT_STR, EXPORT_LIT_BOOL };

struct export_cond {
    char name[EXPORT_FILTER_NAME_MAX]; /**< a telemetry field, or "$id" (the device id) */
    enum export_op op;
    enum export_lit kind;
    double num;
    bool b;
    char str[EXPORT_FILTER_STR_MAX];
};

/** A parsed filter: messages of devices of one template that meet every condition. */
struct export_filter {
    char template_id[EXPORT_TEMPLATE_ID_MAX];
    size_t n;
    struct export_cond cond[EXPORT_FILTER_MAX_CONDS];
};

/**
 * Parse `SELECT * FROM <template> [WHERE <name> <op> <literal> [AND ...]]` (keywords in any
 * case). @return 0, or -1 with a one-line reason in @p err ("expected FROM at offset 9").
 */
int export_filter_parse(const char *text, struct export_filter *out, char *err, size_t err_size);

/**
 * Does a message match? @p template_id is the device's template (NULL: none), @p fields the
 * telemetry object (NULL for other sources: only `$id` conditions can hold then).
 */
bool export_filter_match(const struct export_filter *f, const char *template_id,
                         const char *device_id, const cJSON *fields);

/* ---------------------------------------------------------------- definitions */

/**
 * Check a destination body as PUT (or as merged by PATCH): displayName, type (webhook@v1,
 * eventhubs@v1, kafka@v1) and that type's fields (webhook: url, headerCustomizations,
 * authorization; Kafka: export_kafka_conf_of). @return 0, or -1 with a message naming the field.
 */
int export_check_destination(const cJSON *body, char *err, size_t err_size);

/**
 * Check an export body: displayName, enabled, source, filter, enrichments, destinations
 * (an array of {"id", "transform"?}). Whether the destination ids exist is the caller's
 * business. @return 0, or -1 with a message naming the field.
 */
int export_check_export(const cJSON *body, char *err, size_t err_size);

/** How to reach a Kafka topic: from an eventhubs@v1 or a kafka@v1 destination. */
struct export_kafka_conf {
    char bootstrap[1024]; /**< "host:port[,host:port]..." */
    char topic[256];
    bool tls;  /**< security.protocol SSL / SASL_SSL */
    bool sasl; /**< SASL PLAIN with the user and password below */
    char user[256];
    char password[2048];
};

/**
 * The Kafka settings of a destination body: eventhubs@v1 with a connection-string
 * authorization (the namespace's Kafka endpoint {namespace}:9093, SASL PLAIN over TLS, user
 * "$ConnectionString", the connection string as password, topic = EntityPath or
 * authorization.eventHubName), or iotc's kafka@v1 (bootstrapServers, topic, tls,
 * authorization none / saslPlain). @return 0, or -1 with a message naming the field.
 */
int export_kafka_conf_of(const cJSON *body, struct export_kafka_conf *out, char *err,
                         size_t err_size);

/** True for an absolute http:// or https:// URL with a host and no spaces or controls. */
bool export_url_ok(const char *url);

/* ---------------------------------------------------------------- messages */

/** What one exported message is made of (borrowed). */
struct export_msg_in {
    enum export_source source;
    const char *app_id;
    const char *device_id;
    const char *template_id; /**< NULL: omitted */
    const char *type;        /**< messageType of events ("connected", ...); NULL for telemetry */
    const char *component;   /**< telemetry "$.sub", NULL when absent */
    int64_t time_ms;
    const char *props_json; /**< telemetry message properties (JSON object text) or NULL */
    const char *payload;    /**< telemetry body (JSON), or the event's data (a patch) */
    size_t payload_len;
    const cJSON *enrichments; /**< resolved {"name": "value"} or NULL (then {}) */
};

/**
 * Build the message object in IoT Central's default@v1 shape for @p in->source.
 * @return a new object (caller frees with cJSON_Delete) or NULL when out of memory.
 */
cJSON *export_message(const struct export_msg_in *in);

/**
 * The same message as compact JSON text (caller frees), the device's telemetry object and the
 * message properties spliced in as received when each is one valid JSON object (else as
 * export_message() writes them). NULL when out of memory.
 */
char *export_message_text(const struct export_msg_in *in);

/**
 * The `properties` array of a twin patch: [{"name","value","component"?}], top-level `$`-names
 * skipped, components (objects marked "__t":"c") flattened, a writable-property
 * acknowledgement {"value","ac",...} unwrapped to its value. NULL when out of memory.
 */
cJSON *export_patch_properties(const cJSON *patch);

/* ---------------------------------------------------------------- delivery */

/*
 * EXPORT_OUT_RETRY_NOW: retry without a backoff of the pipe's, since the destination waited
 * already (a Kafka message that timed out after librdkafka's own retries for
 * message.timeout.ms); a backoff on top would leave nothing queued at the destination, which
 * then learns late that its brokers are back.
 */
enum export_outcome {
    EXPORT_OUT_OK = 0,
    EXPORT_OUT_RETRY,
    EXPORT_OUT_PERMANENT,
    EXPORT_OUT_RETRY_NOW
};

/**
 * How a delivery attempt ended: @p transport_ok false (connection refused, reset, timeout) or
 * HTTP 408, 429, 5xx: retry; 2xx: acknowledged; anything else: permanent error.
 */
enum export_outcome export_classify(bool transport_ok, long http_status);

#define EXPORT_BACKOFF_BASE_MS 500
#define EXPORT_BACKOFF_MAX_MS 60000

/**
 * Delay before retry number @p attempt (1 = first retry): EXPORT_BACKOFF_BASE_MS doubling up to
 * EXPORT_BACKOFF_MAX_MS, times a jitter factor in [0.5, 1] taken from @p rnd (any 32 bits).
 */
int64_t export_backoff_ms(unsigned attempt, uint32_t rnd);

/** Write the message into @p err (@p n bytes, may be NULL/0) and return -1: the check and parse
 * functions of export_fmt.c, export_oauth.c and export_transform.c report errors this way. */
int export_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** The `status` of an export from its counters (IoT Central's names). */
const char *export_status_name(bool enabled, uint64_t delivered, uint64_t failed, bool retrying);

#endif /* CENTRAL_EXPORT_FMT_H */
