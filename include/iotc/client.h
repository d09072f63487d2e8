/*
 * iotc/client.h - libiotc's device client: DPS provisioning, IoT Hub MQTT/TLS session, telemetry,
 * commands, writable and reported properties, with the IoT Central conventions built in.
 *
 * Built on the pure protocol core (iotc/proto.h), libmosquitto and OpenSSL.
 *
 * Life of a client:
 *     struct iotc_config cfg;
 *     iotc_config_init(&cfg);              // defaults
 *     iotc_config_from_env(&cfg);          // or set cfg.id_scope, cfg.registration_id, ...
 *     struct iotc_client *c;
 *     if (iotc_client_new(&cfg, &c) < 0) ...
 *     iotc_client_on_command(c, "blink", on_blink, NULL);
 *     iotc_client_on_property(c, NULL, "brightness", on_brightness, NULL);
 *     iotc_client_run(c);                  // blocks until iotc_client_stop()
 *     iotc_client_free(c);
 * or, instead of iotc_client_run(), drive it from your own loop with iotc_client_start(),
 * iotc_client_poll_info() and iotc_client_process().
 *
 * THREAD SAFETY. Every function taking a client may be called from any thread: each call takes
 * the client's (recursive) lock, so calls are serialised. Callbacks run on the thread that
 * drives the client (iotc_client_run() or iotc_client_process()), with that lock held: a
 * callback may call any client function (they re-enter the lock) except iotc_client_free(),
 * iotc_client_run() and iotc_client_process(); a callback that blocks stalls the client.
 * Exceptions: the log callback may also run on a thread calling the API (e.g. to log a refused
 * message), and iotc_client_free() calls pending outcome callbacks on the thread freeing.
 * iotc_client_stop() is also async-signal-safe (it only sets a flag and writes to an eventfd).
 * iotc_client_new() and iotc_client_free() must not race with any other call on that client.
 *
 * BLOCKING. Opening a connection resolves the host name and performs the TCP connect
 * synchronously (libmosquitto does); the TLS handshake and everything after it is driven by
 * the loop. On loopback and LAN this is immediate; on a WAN it can take a round trip or, for
 * an unreachable host, as long as the system's TCP connect timeout.
 *
 * RETURN CODES are enum iotc_result values from iotc/common.h: IOTC_OK (0) or negative.
 * Strings passed in are copied unless stated otherwise; pointers handed to callbacks are
 * borrowed and valid only during the callback.
 */
#ifndef IOTC_CLIENT_H
#define IOTC_CLIENT_H

#include <iotc/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque client handle. */
struct iotc_client;

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */
/* ------------------------------------------------------------------------------------------ */

/** Default SAS token lifetime (seconds): one hour, like the Azure SDKs. */
#define IOTC_DEFAULT_SAS_LIFETIME_S 3600u

/**
 * Client configuration. Every string is borrowed only for the duration of iotc_client_new(),
 * which copies them. Fields left NULL/0 take the default shown.
 *
 * Identity: either DPS (id_scope + registration_id + one of device_key / group_key) or a direct
 * hub connection (connection_string, or hub_host + device_id + device_key).
 */
struct iotc_config {
    /* --- DPS provisioning --- */
    const char *id_scope;        /**< e.g. "0ne0012ABCD"; selects DPS mode */
    const char *registration_id; /**< DPS registration id (the device id in IoT Central) */
    const char *device_key;      /**< base64 device key (DPS individual/derived, or hub key) */
    const char
        *group_key; /**< base64 group enrollment key; used (derived) when device_key is NULL */
    const char *dps_endpoint; /**< "host[:port]"; default "global.azure-devices-provisioning.net"
                                 (port 8883) */

    /* --- direct hub connection (no DPS) --- */
    const char *connection_string; /**< "HostName=..;DeviceId=..;SharedAccessKey=.." */
    const char *hub_host;          /**< "host[:port]" when not using DPS or a connection string */
    const char *device_id;         /**< with hub_host */

    /* --- common --- */
    const char *model_id; /**< DTDL model id, sent in the DPS payload and the hub username */
    const char *ca_file;  /**< PEM file of trusted CAs; NULL: the system trust store */
    /**
     * Port of the assigned hub when the DPS answer carries none. 0: the DPS endpoint's explicit
     * port if it had one (a local emulator serves both on one port), else 8883.
     */
    uint16_t hub_port;

    uint32_t sas_lifetime_s;  /**< token lifetime; default IOTC_DEFAULT_SAS_LIFETIME_S */
    uint32_t keepalive_s;     /**< MQTT keep-alive; default 60 */
    uint32_t backoff_base_ms; /**< first retry delay ceiling; default 1000 */
    uint32_t backoff_max_ms;  /**< maximum retry delay; default 60000 */
    uint32_t op_timeout_ms;   /**< CONNACK / DPS answer / twin GET timeout; default 30000 */
    size_t queue_max_msgs; /**< outgoing queue cap in messages (telemetry + reported); default 64 */
    size_t queue_max_bytes; /**< outgoing queue cap in payload bytes; default 65536 */

    /* --- X.509 (instead of a key): DPS with id_scope + registration_id, or hub_host +
     * device_id; the registration id / device id is the certificate's CN for DPS and for
     * certificateAuthority devices --- */
    const char *cert_file; /**< PEM client certificate (chain after it allowed); selects X.509 */
    const char *key_file;  /**< PEM private key; NULL: the key is in cert_file (Embedded C SDK) */
    const char *key_pass;  /**< pass phrase of an encrypted key, or NULL */

    /**
     * DPS mode: a file that keeps the assignment (assigned hub, port, device id) between runs,
     * as the Azure SDKs advise. When it holds this scope's and registration id's assignment the
     * client connects straight to that hub, without DPS; it provisions again when the hub
     * refuses the device, or when the first attempt on a cached assignment fails. Written
     * (replaced) after every successful registration. NULL: provision at every start.
     */
    const char *assignment_file;
};

/** Fill @p cfg with zeros, i.e. every default. Never fails. */
IOTC_API void iotc_config_init(struct iotc_config *cfg);

/**
 * Read the Azure IoT sample environment variables into @p cfg (pointers into the environment:
 * borrowed, valid while the environment is not modified):
 * IOTHUB_DEVICE_SECURITY_TYPE ("DPS" or "connectionString"; when absent, DPS is chosen if
 * IOTHUB_DEVICE_DPS_ID_SCOPE is set), IOTHUB_DEVICE_DPS_ID_SCOPE, IOTHUB_DEVICE_DPS_DEVICE_ID,
 * IOTHUB_DEVICE_DPS_DEVICE_KEY, IOTHUB_DEVICE_DPS_ENDPOINT, IOTHUB_DEVICE_CONNECTION_STRING;
 * plus two iotc extensions, IOTC_GROUP_KEY (group key to derive from) and IOTC_CA_FILE.
 * X.509 as the samples set it: X509_CERT_FILE, X509_KEY_FILE and PASS_PHRASE (Python SDK
 * samples), or AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH (Embedded C SDK samples: certificate and
 * key in one PEM file); for a hub without DPS, IOTHUB_DEVICE_SECURITY_TYPE=x509 with
 * IOTHUB_HOSTNAME (or AZ_IOT_HUB_HOSTNAME) and IOTHUB_DEVICE_ID (or AZ_IOT_HUB_DEVICE_ID).
 * Only variables that are set overwrite fields.
 * @return IOTC_OK; IOTC_E_NOTFOUND when no identity variable is set at all; IOTC_E_ARG when
 *         IOTHUB_DEVICE_SECURITY_TYPE has an unknown value.
 */
IOTC_API int iotc_config_from_env(struct iotc_config *cfg);

/* ------------------------------------------------------------------------------------------ */
/* Callbacks                                                                                   */
/* ------------------------------------------------------------------------------------------ */

enum iotc_log_level {
    IOTC_LOG_ERROR = 0,
    IOTC_LOG_WARN = 1,
    IOTC_LOG_INFO = 2,
    IOTC_LOG_DEBUG = 3,
};

/** Log sink; @p msg is borrowed, NUL-terminated, without a trailing newline. */
typedef void (*iotc_log_fn)(void *user, enum iotc_log_level level, const char *msg);

enum iotc_state {
    IOTC_STATE_IDLE = 0,         /**< created, not started */
    IOTC_STATE_PROVISIONING = 1, /**< talking to DPS */
    IOTC_STATE_CONNECTING = 2,   /**< opening the hub session */
    IOTC_STATE_CONNECTED = 3,    /**< hub session up: subscribed, twin requested */
    IOTC_STATE_WAITING = 4,      /**< disconnected, waiting out a backoff delay */
    IOTC_STATE_STOPPED = 5,      /**< iotc_client_stop() took effect */
};

enum iotc_reason {
    IOTC_REASON_NONE = 0,
    IOTC_REASON_START,         /**< the client was started */
    IOTC_REASON_PROVISIONED,   /**< DPS assigned a hub */
    IOTC_REASON_CONNECTED,     /**< CONNACK accepted */
    IOTC_REASON_NETWORK,       /**< connect failed or the connection dropped */
    IOTC_REASON_TIMEOUT,       /**< no answer in op_timeout_ms (CONNACK, DPS, twin) */
    IOTC_REASON_AUTH,          /**< credentials refused (hub CONNACK 4/5, DPS 401) */
    IOTC_REASON_REFUSED,       /**< other refusal (CONNACK 1-3, DPS failed/disabled/4xx) */
    IOTC_REASON_TOKEN_RENEWAL, /**< planned reconnect with a fresh SAS token */
    IOTC_REASON_REPROVISION,   /**< the hub refused us: provisioning again */
    IOTC_REASON_STOP,          /**< iotc_client_stop() */
    IOTC_REASON_CONFIG,        /**< unusable configuration (bad key...); client stops */
};

/** Short English name of a state / reason; static storage, never NULL. */
IOTC_API const char *iotc_state_str(enum iotc_state s);
IOTC_API const char *iotc_reason_str(enum iotc_reason r);

/** Connection state change. Called on every transition. */
typedef void (*iotc_state_fn)(void *user, enum iotc_state state, enum iotc_reason reason);

/**
 * Outcome of one telemetry message: @p result is IOTC_OK once the hub acknowledged it (PUBACK),
 * IOTC_E_STATE when the client was freed before it could be delivered.
 * @p id is the id iotc_client_send_telemetry() returned.
 */
typedef void (*iotc_telemetry_fn)(void *user, uint32_t id, int result);

/**
 * Outcome of a reported-properties patch: @p result IOTC_OK with @p status 204 and the new
 * reported @p version; IOTC_E_REFUSED with the hub's @p status (4xx/5xx); IOTC_E_STATE when
 * the client was freed first.
 */
typedef void (*iotc_report_fn)(void *user, uint32_t id, int result, unsigned status,
                               uint64_t version);

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/**
 * Create a client from @p cfg (copied; @p cfg may be discarded afterwards). Does no I/O.
 * A group key is turned into the device key here.
 * @param out  receives the client; the caller frees it with iotc_client_free()
 * @return IOTC_OK; IOTC_E_ARG (missing identity, bad endpoint, bad key, unparsable connection
 *         string); IOTC_E_NOMEM; IOTC_E_IO (eventfd or libmosquitto initialisation failed).
 */
IOTC_API int iotc_client_new(const struct iotc_config *cfg, struct iotc_client **out);

/**
 * Disconnect (best effort, without waiting), call every pending telemetry/report callback with
 * IOTC_E_STATE, and free everything. NULL is a no-op. Must not be called from a callback.
 */
IOTC_API void iotc_client_free(struct iotc_client *c);

/** Set the log sink and the most verbose level delivered (default: none, level WARN). */
IOTC_API void iotc_client_set_log(struct iotc_client *c, iotc_log_fn fn, void *user,
                                  enum iotc_log_level max_level);

/** Set the connection-state callback (NULL to remove). */
IOTC_API void iotc_client_set_state_cb(struct iotc_client *c, iotc_state_fn fn, void *user);

/** Current state. */
IOTC_API enum iotc_state iotc_client_state(struct iotc_client *c);

/**
 * Begin: schedule provisioning (or the hub connection) to happen on the next
 * iotc_client_process(). Idempotent while running.
 * @return IOTC_OK; IOTC_E_STATE after iotc_client_stop().
 */
IOTC_API int iotc_client_start(struct iotc_client *c);

/**
 * Run the client until iotc_client_stop(): starts it if needed, then polls and processes.
 * When stopped, the session is closed gracefully (MQTT DISCONNECT) before returning.
 * @return IOTC_OK after a stop; IOTC_E_STATE if called re-entrantly or concurrently;
 *         IOTC_E_ARG when the configuration proved unusable (see IOTC_REASON_CONFIG);
 *         IOTC_E_IO when poll() itself fails.
 */
IOTC_API int iotc_client_run(struct iotc_client *c);

/**
 * Ask iotc_client_run() to return, or make the client close its session on the next
 * iotc_client_process(). Safe from any thread and from a signal handler. Pending messages stay
 * queued (iotc_client_free() reports them).
 */
IOTC_API void iotc_client_stop(struct iotc_client *c);

/* ------------------------------------------------------------------------------------------ */
/* Integration into the caller's event loop                                                    */
/* ------------------------------------------------------------------------------------------ */

/** What to wait for before calling iotc_client_process(). */
struct iotc_poll_info {
    int fd;         /**< network socket, -1 when none (between connections); changes on reconnect */
    bool want_read; /**< poll fd for input (always true while fd >= 0) */
    bool want_write; /**< poll fd for output too */
    int wake_fd;     /**< always valid: readable when another thread or a signal needs the loop */
    int timeout_ms;  /**< call iotc_client_process() after at most this long (0..1000) */
};

/**
 * Fill @p out. Call it before every wait: the socket and the timeout change as the client
 * works.
 * @return IOTC_OK.
 */
IOTC_API int iotc_client_poll_info(struct iotc_client *c, struct iotc_poll_info *out);

/**
 * Do all pending work: read/write the socket as indicated, run timers (keep-alive, backoff,
 * retry-after, token renewal, timeouts), and invoke callbacks. Always safe to call (spurious
 * wakeups are harmless); pass false/false on a timeout.
 * @param readable  the socket (or the wake fd) polled readable
 * @param writable  the socket polled writable
 * @return IOTC_OK; IOTC_E_STATE after the client stopped (the caller should leave its loop),
 *         or when called from inside a client callback (nothing is done then);
 *         IOTC_E_ARG when the configuration proved unusable (the client stopped).
 */
IOTC_API int iotc_client_process(struct iotc_client *c, bool readable, bool writable);

/* ------------------------------------------------------------------------------------------ */
/* Telemetry                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** A custom application property of a message. */
struct iotc_msg_prop {
    const char *name;  /**< raw, encoded by the library */
    const char *value; /**< raw; NULL for a property without value */
};

/** Optional message properties; every field may be NULL/0. Strings are raw (not encoded). */
struct iotc_msg_props {
    const char *content_type;           /**< $.ct, e.g. "application/json" */
    const char *content_encoding;       /**< $.ce, e.g. "utf-8" */
    const char *component;              /**< $.sub: IoT Central component name */
    const char *message_id;             /**< $.mid */
    const char *correlation_id;         /**< $.cid */
    const struct iotc_msg_prop *custom; /**< array of n_custom application properties */
    size_t n_custom;
};

/**
 * Queue one telemetry message (QoS 1). It is sent at once when connected and kept in the
 * bounded outgoing queue until the hub acknowledges it; after a reconnect every
 * unacknowledged message is sent again (at-least-once: a message whose PUBACK was lost in a
 * disconnect can arrive twice). "At once": called outside the client's callbacks, the message
 * is on the socket when the call returns; called from a callback (e.g. the previous message's
 * outcome), it goes out at the end of that loop turn together with everything else the turn
 * produced, in one write.
 * @param payload   bytes (copied); usually JSON like {"temp":21}
 * @param props     optional (NULL: no properties)
 * @param cb        optional outcome callback (see iotc_telemetry_fn)
 * @param out_id    optional: receives the message id passed to @p cb (never 0)
 * @return IOTC_OK; IOTC_E_NOSPACE when the queue is full (the message is NOT queued; the
 *         refusal is counted in iotc_stats.dropped and logged); IOTC_E_TOOBIG when the message
 *         alone exceeds the queue's byte cap or 256 KiB; IOTC_E_ARG (bad property);
 *         IOTC_E_NOMEM; IOTC_E_STATE after iotc_client_stop().
 */
IOTC_API int iotc_client_send_telemetry(struct iotc_client *c, const void *payload, size_t len,
                                        const struct iotc_msg_props *props, iotc_telemetry_fn cb,
                                        void *user, uint32_t *out_id);

/* ------------------------------------------------------------------------------------------ */
/* Reported properties                                                                         */
/* ------------------------------------------------------------------------------------------ */

/**
 * Queue a reported-properties patch (a JSON object, validated and copied), e.g.
 * {"state":"true","swVersion":"1.0.0"}. Queued like telemetry (same caps) until the hub
 * answers; resent after a reconnect.
 * @return IOTC_OK; IOTC_E_ARG (not a JSON object); IOTC_E_NOSPACE (queue full, counted);
 *         IOTC_E_TOOBIG; IOTC_E_NOMEM; IOTC_E_STATE after stop.
 */
IOTC_API int iotc_client_report(struct iotc_client *c, const char *json_patch, iotc_report_fn cb,
                                void *user, uint32_t *out_id);

/**
 * Report one property value: `{"name":value}` or, with @p component, the component form
 * `{"component":{"__t":"c","name":value}}`. @p value_json is JSON text (a string needs quotes).
 * @return as iotc_client_report().
 */
IOTC_API int iotc_client_report_property(struct iotc_client *c, const char *component,
                                         const char *name, const char *value_json,
                                         iotc_report_fn cb, void *user, uint32_t *out_id);

/* ------------------------------------------------------------------------------------------ */
/* Commands (direct methods)                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** Return value of a command handler meaning "I will answer later with
 * iotc_client_command_respond()". */
#define IOTC_COMMAND_DEFER 0

/** A command request. All pointers are borrowed, valid only during the handler. */
struct iotc_command {
    const char *component; /**< NULL for a root command; else the part before '*' */
    const char *name;      /**< command name (after '*' if any) */
    const char *payload;   /**< request JSON text, NUL-terminated ("null" when empty) */
    size_t payload_len;
    char rid[40]; /**< request id: copy it to answer later (IOTC_COMMAND_DEFER) */
    /**
     * true for a command IoT Central queued while the device was offline ("queue if offline"),
     * delivered as a cloud-to-device message with the property method-name: nobody waits for an
     * answer, rid is empty and the handler's return value is ignored.
     */
    bool queued;
};

/**
 * Command handler. Return the status to answer at once (e.g. 200, or 202 for IoT Central's
 * long-running commands, followed later by iotc_client_complete_command()), with an optional
 * JSON response in *out_json (borrowed: copied by the library after the return; NULL means no
 * payload). Return IOTC_COMMAND_DEFER to answer later with iotc_client_command_respond().
 */
typedef int (*iotc_command_fn)(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                               const char **out_json);

/**
 * Register @p fn for @p name: a root command ("blink"), a component command
 * ("thermostat1*getMaxMinReport"), or NULL for every command without a specific handler.
 * Re-registering a name replaces its handler; fn NULL removes it. Without any matching handler
 * the library answers 404 {"error":"unknown command"}.
 * @return IOTC_OK, IOTC_E_NOMEM.
 */
IOTC_API int iotc_client_on_command(struct iotc_client *c, const char *name, iotc_command_fn fn,
                                    void *user);

/**
 * Answer a deferred command. Method responses are bound to the connection the request came
 * in on; if it was lost in between, the answer cannot be delivered.
 * @param rid        the request's rid (copied from struct iotc_command)
 * @param status     the status the service caller sees (e.g. 200)
 * @param json       optional JSON response (validated); NULL for none
 * @return IOTC_OK; IOTC_E_ARG (bad rid or JSON); IOTC_E_STATE when not connected;
 *         IOTC_E_IO when the publish failed.
 */
IOTC_API int iotc_client_command_respond(struct iotc_client *c, const char *rid, int status,
                                         const char *json);

/**
 * Complete an IoT Central long-running command (answered 202 earlier): reports
 * {"<command>":{"value":"<text>"}} (inside the component with "__t":"c" when @p component is
 * not NULL). @p text is plain text (escaped here). Queued like iotc_client_report().
 * @return as iotc_client_report().
 */
IOTC_API int iotc_client_complete_command(struct iotc_client *c, const char *component,
                                          const char *command, const char *text, iotc_report_fn cb,
                                          void *user, uint32_t *out_id);

/** A cloud-to-device message (other than a queued command). Borrowed during the callback. */
struct iotc_c2d_message {
    const void *payload; /**< body bytes, NUL-terminated for convenience */
    size_t len;
    const struct iotc_msg_prop *props; /**< decoded properties ($.mid, $.ct, custom, ...) */
    size_t n_props;
};

/** Cloud-to-device message handler. The message is acknowledged (PUBACK) after it returns. */
typedef void (*iotc_c2d_fn)(void *user, struct iotc_client *c, const struct iotc_c2d_message *m);

/**
 * Receive cloud-to-device messages (NULL removes the handler; messages are then logged and
 * dropped). Messages carrying a method-name property are IoT Central's queued commands and go to
 * the command handlers instead (struct iotc_command.queued), whether or not this is set.
 * @return IOTC_OK.
 */
IOTC_API int iotc_client_on_c2d(struct iotc_client *c, iotc_c2d_fn fn, void *user);

/* ------------------------------------------------------------------------------------------ */
/* Writable properties                                                                         */
/* ------------------------------------------------------------------------------------------ */

/** Return value of a property handler meaning "I will acknowledge later with
 * iotc_client_ack_property()". */
#define IOTC_PROPERTY_DEFER 0

/** A desired (writable) property value. Pointers borrowed, valid only during the handler. */
struct iotc_property {
    const char *component; /**< NULL at the root */
    const char *name;
    const char *value; /**< the desired value as JSON text, NUL-terminated */
    size_t value_len;
    uint64_t version; /**< desired $version to acknowledge (the ack's "av") */
    bool from_twin;   /**< true when found by the full-twin read after a (re)connect */
};

/**
 * Writable-property handler. Return the ack code to acknowledge at once (200 completed,
 * 202 pending, 4xx invalid, 5xx failed), optionally with a description in *out_desc (borrowed,
 * copied after return; for 200 without a description the library writes "completed"); the
 * library then reports {"name":{"value":<value>,"ac":code,"av":version,"ad":desc}} with the
 * desired value as "value". Return IOTC_PROPERTY_DEFER to acknowledge later with
 * iotc_client_ack_property().
 */
typedef int (*iotc_property_fn)(void *user, struct iotc_client *c, const struct iotc_property *p,
                                const char **out_desc);

/**
 * Register @p fn for the writable property @p name of @p component (NULL: root). name NULL
 * registers a catch-all for properties of that component without a specific handler.
 * Properties without any handler are logged and not acknowledged.
 * @return IOTC_OK, IOTC_E_NOMEM.
 */
IOTC_API int iotc_client_on_property(struct iotc_client *c, const char *component, const char *name,
                                     iotc_property_fn fn, void *user);

/**
 * Acknowledge a writable property (IoT Central shows it synced once ac is 200 and av is the
 * current desired version). @p value_json is the value now in effect.
 * @param description  optional "ad" text
 * @return as iotc_client_report().
 */
IOTC_API int iotc_client_ack_property(struct iotc_client *c, const char *component,
                                      const char *name, const char *value_json, int ac,
                                      uint64_t version, const char *description, iotc_report_fn cb,
                                      void *user, uint32_t *out_id);

/* ------------------------------------------------------------------------------------------ */
/* Introspection                                                                               */
/* ------------------------------------------------------------------------------------------ */

/** Counters since iotc_client_new(). */
struct iotc_stats {
    uint64_t telemetry_queued; /**< accepted by iotc_client_send_telemetry() */
    uint64_t telemetry_acked;  /**< acknowledged by the hub */
    uint64_t reports_acked;    /**< reported patches answered 2xx */
    uint64_t dropped;          /**< refused because the queue was full (never silent) */
    uint64_t resent;           /**< publishes repeated after a reconnect */
    uint64_t connects;         /**< hub sessions established */
    uint64_t disconnects;      /**< hub sessions lost or closed */
    uint64_t token_renewals;   /**< reconnects made to renew the SAS token */
    uint64_t provisionings;    /**< successful DPS registrations */
    size_t queue_len;          /**< messages + patches waiting or in flight now */
    size_t queue_bytes;        /**< their payload bytes */
};

/** Copy the counters into @p out. @return IOTC_OK. */
IOTC_API int iotc_client_get_stats(struct iotc_client *c, struct iotc_stats *out);

/**
 * The device id and hub host in use (after provisioning), copied into the buffers
 * (NUL-terminated). Either buffer may be NULL.
 * @return IOTC_OK; IOTC_E_NOTFOUND before the hub is known; IOTC_E_NOSPACE if a buffer is
 *         too small.
 */
IOTC_API int iotc_client_get_identity(struct iotc_client *c, char *device_id, size_t id_size,
                                      char *hub_host, size_t host_size);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_CLIENT_H */
