/*
 * harness.h - test helpers for iotc-central integration tests:
 *   th_central_*  start iotc-central as a subprocess on free loopback ports with a temporary
 *                 data dir, read the chosen ports and the application facts, stop it;
 *   th_mqtt_*     a tiny blocking MQTT 3.1.1 client over TLS (OpenSSL) on the iotc codec;
 *   th_https_*    a one-shot HTTPS/1.1 request for the service REST API;
 *   th_*_token    SAS tokens for devices, DPS and the service.
 * Every wait is bounded. Not thread-safe; one server per test file is the intended use.
 */
#ifndef IOTC_TESTS_HARNESS_H
#define IOTC_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "proto/mqtt.h"

/* ---------------------------------------------------------------- server process */

struct th_central {
    pid_t pid;
    char root[256];     /**< temporary directory (removed by th_central_cleanup) */
    char data_dir[300]; /**< root/app */
    char log_path[300]; /**< root/server.log: the server's stderr */
    char ca_path[320];
    uint16_t mqtt_port;
    uint16_t https_port;
    uint16_t plain_port; /**< plain MQTT port when started with --plain-mqtt-port, else 0 */
    char id_scope[16];
    char hub_host[256];
    char group_primary_key[96];
    char group_secondary_key[96];
    char service_key[96];
    char admin_token[128]; /**< from DIR/admin-token, read at each start */
    bool default_bind;     /**< started without --bind (th_central_start_default_bind) */
};

/** Path of the iotc-central binary: $IOTC_CENTRAL_BIN or <test dir>/../iotc-central. */
const char *th_central_bin(void);

/** When > 0, the servers started from now on run with RLIMIT_NOFILE (soft and hard) at this:
 * the flood tests keep the descriptor table small. */
extern unsigned long th_central_nofile;

/**
 * Create a temporary data dir and start `iotc-central serve` on 127.0.0.1 with free ports,
 * plus @p extra_args (NULL-terminated, may be NULL). Waits up to 15 s for "ready".
 * @return 0 or -1 (the reason is printed on stderr).
 */
int th_central_start(struct th_central *c, const char *const *extra_args);

/**
 * th_central_start() without `--bind 127.0.0.1`: the server's own default listen address
 * (loopback), or the --bind in @p extra_args. 0 / -1.
 */
int th_central_start_default_bind(struct th_central *c, const char *const *extra_args);

/** Start again on the same data dir (after th_central_stop); new ports. 0 / -1. */
int th_central_restart(struct th_central *c, const char *const *extra_args);

/** SIGTERM and wait up to 10 s (then SIGKILL). @return the exit status, or -1 if killed. */
int th_central_stop(struct th_central *c);

/** Stop if running and remove the temporary directory. */
void th_central_cleanup(struct th_central *c);

/** True when the server log contains @p needle (waits up to @p timeout_ms for it). */
bool th_central_log_contains(const struct th_central *c, const char *needle, int timeout_ms);

/** Telemetry rows of @p device_id committed in the data dir's database (read-only). -1 on error. */
int th_count_telemetry(const struct th_central *c, const char *device_id);

/* ---------------------------------------------------------------- tokens */

/** Device -> hub token for @p device_id with @p key_b64, expiring at @p se. 0 / -1. */
int th_hub_token(const struct th_central *c, const char *device_id, const char *key_b64,
                 uint64_t se, char *out, size_t size);
/** Device -> DPS token in one of the iotc_sas_dps_style spellings. 0 / -1. */
int th_dps_token(const struct th_central *c, const char *reg_id, const char *key_b64, int style,
                 uint64_t se, char *out, size_t size);
/** Group-derived device key (from the default group's primary key). 0 / -1. */
int th_derive_key(const struct th_central *c, const char *reg_id, char *out, size_t size);
/** Seconds since the epoch. */
uint64_t th_now(void);

/* The whole of a file, NUL-terminated, malloc'd; NULL when it cannot be read. */
char *th_read_file(const char *path);

/* A file of the repository by its path from the top (run-tests.sh runs tests there; else the top
 * is asked of git), as th_read_file(). */
char *th_repo_file(const char *rel);

/* ---------------------------------------------------------------- MQTT client */

struct th_mqtt {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    unsigned char *buf; /* received bytes */
    size_t len;
    size_t consumed; /* bytes of the packet returned last time */
    size_t cap;
    uint16_t next_pid;
};

/** TCP + TLS (verifying "localhost" against @p ca_path) to 127.0.0.1:@p port. 0 / -1.
 * With @p ca_path NULL: plain TCP (for --plain-mqtt-port). */
int th_mqtt_open(struct th_mqtt *m, uint16_t port, const char *ca_path);
/** th_mqtt_open() presenting a client certificate: @p cert_path (PEM, the chain after the leaf)
 * and its key @p key_path. 0 / -1. */
int th_mqtt_open_cert(struct th_mqtt *m, uint16_t port, const char *ca_path, const char *cert_path,
                      const char *key_path);
void th_mqtt_close(struct th_mqtt *m);

/** Send raw bytes. 0 / -1. */
int th_mqtt_send_raw(struct th_mqtt *m, const void *data, size_t len);
/** Encode and send a packet. 0 / -1. */
int th_mqtt_send(struct th_mqtt *m, const struct iotc_mqtt_packet *pkt);

/**
 * Read the next packet (views valid until the next read).
 * @return 0; -1 on timeout; -2 when the server closed the connection (or TLS failed);
 *         -3 on bytes that do not decode.
 */
int th_mqtt_read(struct th_mqtt *m, struct iotc_mqtt_packet *out, int timeout_ms);

/** Read packets until one of @p type arrives (others are skipped). Same returns. */
int th_mqtt_expect(struct th_mqtt *m, enum iotc_mqtt_type type, struct iotc_mqtt_packet *out,
                   int timeout_ms);

/** True when the server closes the connection within @p timeout_ms (packets are skipped). */
bool th_mqtt_wait_closed(struct th_mqtt *m, int timeout_ms);

/**
 * CONNECT and wait for CONNACK. @return the CONNACK return code (0..5), or a negative value
 * (-1 timeout, -2 closed without CONNACK).
 */
int th_mqtt_connect(struct th_mqtt *m, const char *client_id, const char *username,
                    const char *password, uint16_t keepalive, bool clean);

/** SUBSCRIBE one filter and wait for SUBACK. @return the granted code, or negative. */
int th_mqtt_subscribe(struct th_mqtt *m, const char *filter, uint8_t qos);

/** PUBLISH (QoS 0 or 1; returns the packet id used, 0 for QoS 0). Negative on error. */
int th_mqtt_publish(struct th_mqtt *m, const char *topic, const void *payload, size_t len,
                    uint8_t qos);

/** Open + CONNECT as a hub device with a fresh 1-hour token. @return CONNACK code or <0. */
int th_hub_connect(struct th_mqtt *m, const struct th_central *c, const char *device_id,
                   const char *key_b64);

/* ---------------------------------------------------------------- HTTPS */

struct th_http_response {
    int status;
    char headers[4096];
    char *body; /**< NUL-terminated, caller frees with free() */
    size_t body_len;
};

/**
 * One request to https://localhost:@p port with `Authorization` = a fresh service SAS (when
 * @p with_auth), optional extra header lines (each ending in "\r\n") and body.
 * Waits up to @p timeout_ms. @return 0 (response filled) or -1.
 */
int th_https(const struct th_central *c, const char *method, const char *path,
             const char *extra_headers, const char *body, bool with_auth, int timeout_ms,
             struct th_http_response *out);

/**
 * A raw TLS connection to the HTTPS port, for requests th_https cannot send (malformed headers,
 * a body never sent) and for streams: what arrives is appended to @p text (NUL-terminated).
 */
struct th_tls {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char *text;
    size_t len, cap;
    bool closed; /**< the server closed the connection */
};

/** Connect and handshake (verified against the application's CA). @return 0 or -1. */
int th_tls_open(const struct th_central *c, struct th_tls *t);

/** th_tls_open() from local address @p src (an IPv4 loopback address such as "127.0.0.3";
 * NULL: the kernel's choice). */
int th_tls_open_from(const struct th_central *c, struct th_tls *t, const char *src);

/** th_tls_open_from() presenting the client certificate @p cert_path (chain file) with its key
 * @p key_path (NULL: none). */
int th_tls_open_cert(const struct th_central *c, struct th_tls *t, const char *src,
                     const char *cert_path, const char *key_path);

/** Send @p len bytes. @return 0 or -1. */
int th_tls_send(struct th_tls *t, const void *data, size_t len);

/**
 * Read until @p until appears in t->text (NULL: until the server closes) or @p timeout_ms
 * passes. @return 1 when it appeared (or, for NULL, the server closed), 0 otherwise.
 */
int th_tls_wait(struct th_tls *t, const char *until, int timeout_ms);

/** Close and free. */
void th_tls_close(struct th_tls *t);

/**
 * Create or replace device @p id with SAS keys through the service API
 * (PUT /devices/{id}, status enabled or disabled). @return the HTTP status, or -1.
 */
int th_put_device(const struct th_central *c, const char *id, const char *primary_key,
                  const char *secondary_key, bool enabled);

/* ---------------------------------------------------------------- DPS flow */

struct th_dps_result {
    int connack;         /**< CONNACK code of the DPS connection (or negative) */
    int register_status; /**< topic status of the register answer (202 expected) */
    int retry_after;     /**< retry-after of the register answer (0 when absent) */
    int final_status;    /**< topic status of the poll answer (200 expected) */
    char status[32];     /**< body "status" of the final answer (assigned, disabled, ...) */
    char assigned_hub[300];
    char device_id[130];
    char operation_id[128];
};

/**
 * Full DPS registration over MQTT: CONNECT as @p reg_id with a token of @p style signed by
 * @p key_b64, subscribe, register (body with @p payload_json when non-NULL), poll once by
 * operationId. @return 0 when the flow ran (inspect @p out), -1 on transport failure.
 */
int th_dps_register(const struct th_central *c, const char *reg_id, const char *key_b64, int style,
                    const char *payload_json, struct th_dps_result *out);

#endif /* IOTC_TESTS_HARNESS_H */
