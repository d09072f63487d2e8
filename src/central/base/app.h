/*
 * app.h - the iotc-central application context shared by every module of the server.
 *
 * One struct app exists per process. Everything in it is owned by the event-loop thread:
 * call the functions of registry.h, twin.h, method.h and c2d.h only from libevent callbacks
 * running on app->base (the store's writer thread never touches these structures).
 *
 * main.c creates every module and keeps its pointer here (the bus, the registry, the broker,
 * the HTTP server, the application layer, the live streams); a module gets what it needs from
 * this struct, never from a table of its own keyed by the app.
 */
#ifndef CENTRAL_APP_H
#define CENTRAL_APP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "central/base/check.h"

struct event_base;
struct event;
struct store;
struct admit;
struct registry;
struct broker;
struct method_table;
struct event_bus;
struct http_server;
struct appl;
struct egroups;
struct capi;
struct exporter;
struct rules;

/** Check that the caller runs on the event-loop thread (see app_in_loop); check.h says when
 *  checks are compiled in. */
#define CENTRAL_ASSERT_LOOP(app) CENTRAL_ASSERT(app_in_loop(app))

/** Error codes of the central internal API (0 = success, negative = error). */
enum central_err {
    CE_OK = 0,
    CE_NOTFOUND = -1, /**< no such device / entry (REST 404 DeviceNotFound) */
    CE_EXISTS = -2,   /**< already exists (REST 409 DeviceAlreadyExists) */
    CE_INVALID = -3,  /**< malformed argument: bad id, bad key, bad JSON (REST 400) */
    CE_ETAG = -4,     /**< If-Match etag mismatch (REST 412) */
    CE_OFFLINE = -5,  /**< device did not connect in time (IoT Hub 404103) */
    CE_TIMEOUT = -6,  /**< device did not answer in time (IoT Hub 504101) */
    CE_NOMEM = -7,    /**< allocation failed (REST 500) */
    CE_STORE = -8,    /**< the database failed (REST 500) */
    CE_BUSY = -9,     /**< overloaded or queue full (REST 429 / 503) */
    CE_TOOBIG = -10,  /**< payload exceeds a documented size limit (REST 400 / 413) */
    CE_IO = -11,      /**< a system call failed: socket, bind, listen, file (errno logged) */
};

/** Short text for a central_err; never NULL. */
const char *central_strerror(int err);

/** Where the listeners listen without --bind: loopback only, as Mosquitto 2 does. */
#define APP_DEFAULT_BIND "127.0.0.1"

/** Command-line configuration (owned strings are heap copies freed by app_release). */
struct app_config {
    char *data_dir;
    char *bind_addr;     /**< --bind: listen address of every listener but plain HTTP;
                              NULL: APP_DEFAULT_BIND */
    int mqtt_port;       /**< MQTT over TLS; 0 = pick a free port; default 8883 */
    int https_port;      /**< HTTPS service API; 0 = free port; -1 = disabled; default 8443 */
    int plain_mqtt_port; /**< plain TCP MQTT; -1 = disabled (default); 0 = free port */
    bool http_on;        /**< --http-port given: plain HTTP (web UI + APIs) on 127.0.0.1 */
    int http_port;       /**< its port when http_on; 0 = free port */
    int wss_port;        /**< --wss-port: WSSPORT_AUTO (default), WSSPORT_OFF or a port
                              (wssport.h): the HTTPS listener's second port */
    char *hub_host;      /**< assigned hub host name; default "localhost" */
    char **dns_names;    /**< extra SANs for the server certificate */
    size_t n_dns_names;
    int dps_retry_after_s;    /**< retry-after DPS asks for; default 1 */
    size_t max_connections;   /**< above this CONNACK 3 (server unavailable); default 100000 */
    size_t max_store_backlog; /**< queued store writes above which new telemetry gets CONNACK 3 */
    int max_keep_alive_s;     /**< keep-alive cap; a CONNECT asking 0 or more gets this; 0: 1767 */
    int read_threads;         /**< reader threads for long queries (store_read.h); default 2 */
    int max_read_jobs;        /**< reader jobs at once; more get 503 + Retry-After; default 32 */
    int commit_delay_us;      /**< a small telemetry batch waits this long for more; default 0 */
    /* flood protection (admit.h); 0: the default admit_plan() derives */
    int auth_timeout_s;          /**< --auth-timeout: TLS + CONNECT, or an HTTP request */
    size_t max_pending;          /**< --max-pending: MQTT connections before CONNECT */
    size_t max_pending_per_addr; /**< --max-pending-per-address */
    size_t max_http;             /**< --max-http-connections */
};

/** Facts created by `init` and persisted in DATA_DIR/app.json (mode 0600). */
struct app_facts {
    char id_scope[16];          /**< "0ne" + 8 upper-case hex digits */
    char group_id[64];          /**< default SAS enrollment group, "SAS-IoT-Devices" */
    char group_primary_key[96]; /**< base64 of 64 random bytes */
    char group_secondary_key[96];
    char service_policy[32];     /**< "iothubowner" */
    char service_key[96];        /**< base64 of 32 random bytes */
    char hub_host[256];          /**< host name devices use in usernames and SAS `sr` */
    char admin_token_sha256[65]; /**< lower-case hex SHA-256 of the admin API token */
    int64_t created_ms;
};

/** The process-wide application context. */
struct app {
    struct app_config cfg;
    struct app_facts facts;
    char assigned_hub[300]; /**< what DPS returns as assignedHub: host or host:port */
    char ca_path[1024];     /**< DATA_DIR/ca.pem */
    struct event_base *base;
    SSL_CTX *ssl_ctx;             /**< server TLS context (server.pem + server-key.pem) */
    struct store *store;          /**< SQLite + writer thread; NULL in pure unit tests */
    struct registry *reg;         /**< devices, twins and pending C2D, in memory, write-through */
    struct x509_cas *cas;         /**< x509.h: the application's CA certificates */
    struct broker *broker;        /**< MQTT listener + sessions */
    struct method_table *methods; /**< pending direct-method calls (method.c) */
    int64_t c2d_seq;              /**< last C2D sequence number handed out */
    struct event_bus *bus;        /**< events.h: who hears what devices and the application do */
    struct http_server *http;     /**< http_server.h: HTTPS (+ loopback HTTP) listeners, or NULL */
    struct appl *appl;            /**< appl.h: the IoT Central application layer, or NULL */
    struct egroups *groups;       /**< groups.h: enrollment groups; NULL: app.json's one group */
    struct capi *capi;            /**< capi.h: the /api/ live event streams, or NULL */
    struct admit *admit;          /**< admit.h: pre-authentication budgets, or NULL (no limits) */
    struct exporter *exporter;    /**< export.h: data export, or NULL */
    struct rules *rules;          /**< export/rules.h: rules and alerts, or NULL */
    int https_fd;                 /**< bound, listening socket for the HTTPS API, or -1 */
    int http_fd;                  /**< bound loopback socket for plain HTTP (--http-port), or -1 */
    int wss_fd;                   /**< bound socket of the HTTPS listener's second port, or -1 */
    pthread_t loop_thread;        /**< the thread that runs app->base (see app_bind_loop) */
    bool loop_bound;
    uint16_t mqtt_port; /**< actual ports after binding (0 = not listening) */
    uint16_t https_port;
    uint16_t plain_mqtt_port;
    uint16_t http_port; /**< plain HTTP loopback listener (web.h), 0 = off */
    uint16_t wss_port;  /**< the HTTPS listener's second port (443 by default), 0 = none */
    bool stopping;
};

/** Record the calling thread as the event-loop thread (main.c, before the loop runs). */
void app_bind_loop(struct app *app);

/** True on the event-loop thread, or when no thread was bound (unit tests). */
bool app_in_loop(const struct app *app);

/**
 * A NUL-terminated heap copy of @p len bytes at @p p (which may be NULL when @p len is 0).
 * Bytes after an embedded NUL are kept but invisible to C string functions. NULL on OOM.
 */
char *app_strndup(const void *p, size_t len);

/** FNV-1a hash of the string @p s: the device tables (registry, application) bucket ids by it. */
uint64_t app_hash_str(const char *s);

/** Lower-case hex of the @p n bytes at @p d into @p out (2 * n + 1 bytes with the NUL). */
void app_hex(const void *d, size_t n, char *out);

/** Current wall-clock time in milliseconds since the epoch. */
int64_t app_now_ms(void);

/** Format @p ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes incl. NUL) into @p out. */
void app_format_time(int64_t ms, char out[32]);

/**
 * Ask the peer of @p ssl (a server side) for a TLS client certificate without requiring one
 * (X.509 devices; SAS devices and browsers send none): any chain passes the handshake, the
 * certificate is judged at MQTT CONNECT (hub/auth.h) where a refusal can say why. @p sid_ctx:
 * the session id context resumption needs once a certificate is asked for (one per listener).
 * Used by the MQTT/TLS listener and the HTTPS listener (MQTT over WebSockets).
 */
void app_request_client_cert(SSL *ssl, const char *sid_ctx);

struct x509_st;
struct stack_st_X509;
/** Who is behind an MQTT connection the HTTPS listener hands to the broker (MQTT over
 * WebSockets: http/http_ws.c to hub/broker.h broker_adopt()). Borrowed for the call. */
struct mqtt_peer {
    const char *name;            /**< for logs, e.g. "ws:127.0.0.1:41000" */
    const struct sockaddr *addr; /**< the HTTP peer's address (admission budget); NULL unknown */
    struct x509_st *cert;        /**< its TLS client certificate, or NULL */
    struct stack_st_X509 *chain; /**< the chain it sent, or NULL */
};

#endif /* CENTRAL_APP_H */
