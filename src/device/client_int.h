/*
 * client_int.h - internals of struct iotc_client shared by client.c (lifecycle, loop, timers),
 * dps.c (provisioning) and hub.c (the IoT Hub session). Not installed.
 *
 * Concurrency model: every public entry point takes c->lock (recursive), so callbacks that call
 * back into the API re-enter it. libmosquitto runs in its non-threaded mode: only the thread
 * holding the lock touches c->mosq. libmosquitto callbacks (on_connect, on_message, ...) never
 * destroy the mosquitto object; they record a "teardown" which the loop performs once the
 * libmosquitto call has returned.
 */
#ifndef IOTC_DEVICE_CLIENT_INT_H
#define IOTC_DEVICE_CLIENT_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include <iotc/client.h>

#include "device/queue.h"

/* Unacknowledged telemetry PUBLISHes allowed at once; libmosquitto's own limit is set a little
 * higher (iotc__mosq_open) so that it never keeps a second queue of its own. */
#define TELEMETRY_WINDOW 32u

struct mosquitto;
struct mosquitto_message;

/* What the connection in c->mosq is for. */
enum iotc__phase {
    PH_IDLE = 0, /* not started */
    PH_WAIT,     /* no connection; next attempt at c->next_attempt_ms */
    PH_DPS,      /* connection to DPS */
    PH_HUB,      /* connection to the hub */
    PH_STOPPED,
};

enum iotc__dps_step {
    DPS_CONNECTING = 0, /* waiting for CONNACK */
    DPS_WAIT_ANSWER,    /* a register or status request is out */
    DPS_WAIT_POLL,      /* waiting until c->dps_poll_ms to poll */
};

/* A command handler (on c->cmd_handlers, component always NULL) or a writable-property handler
 * (on c->prop_handlers, fn.prop). */
struct iotc__handler {
    struct iotc__handler *next;
    char *component; /* NULL: root */
    char *name;      /* NULL: default handler / catch-all of the component */
    union {
        iotc_command_fn cmd;
        iotc_property_fn prop;
    } fn;
    void *user;
};

/* The handler registered for exactly (component, name), else the component's default. */
struct iotc__handler *iotc__handler_find(struct iotc__handler *list, const char *component,
                                         const char *name);
void iotc__handlers_free(struct iotc__handler **list);

/* Last desired version delivered per property, so nothing is delivered twice. */
struct iotc__prop_seen {
    struct iotc__prop_seen *next;
    uint64_t version;
    size_t comp_len; /* 0 at the root */
    size_t name_len;
    char key[]; /* comp bytes then name bytes (escaped contents as in the twin JSON) */
};

struct iotc_client {
    pthread_mutex_t lock;

    /* identity and endpoints (owned copies) */
    bool use_dps;
    char *id_scope;
    char *registration_id;
    char *device_key;
    char *dps_host;
    uint16_t dps_port;
    bool dps_port_explicit;
    char *hub_host; /* assigned by DPS or configured; NULL until known */
    uint16_t hub_port;
    uint16_t hub_port_cfg;
    char *device_id;        /* assigned by DPS or configured */
    char *assignment_file;  /* iotc_config.assignment_file, or NULL */
    bool assignment_cached; /* hub_host/device_id come from it; not yet connected once */
    char *model_id;
    char *ca_file;
    char *cert_file; /* X.509: client certificate (NULL: SAS keys) */
    char *key_file;  /* its key (the certificate file when the key is in it) */
    char *key_pass;  /* pass phrase of the key, or NULL */

    uint32_t sas_lifetime_s;
    uint32_t keepalive_s;
    uint32_t backoff_base_ms;
    uint32_t backoff_max_ms;
    uint32_t op_timeout_ms;

    /* callbacks */
    iotc_log_fn log_fn;
    void *log_user;
    enum iotc_log_level log_level;
    iotc_state_fn state_fn;
    void *state_user;
    struct iotc__handler *cmd_handlers;
    iotc_c2d_fn c2d_fn;
    void *c2d_user;
    struct iotc__handler *prop_handlers;
    struct iotc__prop_seen *seen;

    /* state machine */
    enum iotc__phase phase;
    enum iotc_state state;
    struct mosquitto *mosq;
    bool mosq_connected; /* CONNACK 0 received on c->mosq */
    bool tls_logged;     /* the end of c->mosq's TLS handshake was logged (debug) */
    bool teardown;       /* close c->mosq after the current libmosquitto call */
    enum iotc_reason teardown_reason;
    bool teardown_retry_now; /* reconnect without backoff (renewal, provisioned) */
    uint32_t attempt;        /* consecutive failures, drives the backoff */
    uint64_t next_attempt_ms;
    uint64_t deadline_ms; /* CONNACK / DPS answer / twin GET deadline, 0 = none */
    uint64_t renew_ms;    /* planned token-renewal reconnect, 0 = none */
    uint64_t resend_ms;   /* retry of reported patches the hub throttled, 0 = none */
    bool config_error;

    /* DPS */
    enum iotc__dps_step dps_step;
    char *dps_operation_id;
    uint64_t dps_poll_ms;
    char dps_rid[16];

    /* hub */
    uint32_t next_rid;
    uint32_t tele_in_flight;   /* telemetry PUBLISHes awaiting PUBACK on this connection */
    uint32_t twin_get_rid;     /* 0 = no GET outstanding */
    uint64_t desired_version;  /* desired $version of the last full twin read */
    bool twin_synced;          /* the full twin was read on this connection */
    bool twin_get_needed;      /* a GET failed: ask again at resend_ms */
    uint64_t token_created_ms; /* monotonic time the current hub token was made */

    struct iotc__queue queue;
    struct iotc_stats stats;
    char *topic_buf; /* scratch for topics, grown on demand */
    size_t topic_cap;

    int wake_fd;
    atomic_int wake_pending; /* wake_fd was written since it was last drained */
    volatile sig_atomic_t stop_requested;
    bool running;    /* inside iotc_client_run() */
    bool in_process; /* inside iotc_client_process(): no nested loop calls */
    pthread_t loop_thread;
    bool loop_thread_set;
    uint32_t rng;
};

/* client.c */
uint64_t iotc__now_ms(void);
uint32_t iotc__random(struct iotc_client *c);
void iotc__log(struct iotc_client *c, enum iotc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void iotc__set_state(struct iotc_client *c, enum iotc_state s, enum iotc_reason r);
/* Ask the loop to close the current connection; first reason wins. */
void iotc__request_teardown(struct iotc_client *c, enum iotc_reason r, bool retry_now);
/* Create c->mosq with the given identity, TLS set up, and start connecting to host:port. */
int iotc__mosq_open(struct iotc_client *c, const char *client_id, bool clean_session,
                    const char *username, const char *password, const char *host, uint16_t port);
/* Make c->topic_buf at least @p n bytes. */
int iotc__topic_reserve(struct iotc_client *c, size_t n);
/* An API call queued or wrote something: outside process() send what TLS buffered, and wake
 * the loop when called from a thread other than the one running it. */
void iotc__wake(struct iotc_client *c);
/* Send what the TLS layer has buffered (see client.c); 0, or -1 when the socket failed. */
int iotc__net_flush(struct iotc_client *c);

/* dps.c */
int iotc__dps_begin(struct iotc_client *c);
void iotc__dps_on_connect(struct iotc_client *c, int rc);
void iotc__dps_on_message(struct iotc_client *c, const struct mosquitto_message *msg);
void iotc__dps_timers(struct iotc_client *c, uint64_t now);
void iotc__dps_reset(struct iotc_client *c);

/* hub.c */
int iotc__hub_begin(struct iotc_client *c);
void iotc__hub_on_connect(struct iotc_client *c, int rc);
void iotc__hub_on_message(struct iotc_client *c, const struct mosquitto_message *msg);
void iotc__hub_on_publish(struct iotc_client *c, int mid);
void iotc__hub_timers(struct iotc_client *c, uint64_t now);
/* Send every queued entry not yet in flight (no-op unless connected to the hub). */
void iotc__hub_flush(struct iotc_client *c);
/* Connection closed: everything in flight becomes unsent. */
void iotc__hub_on_close(struct iotc_client *c);
/* Client freed: fail every queued entry with IOTC_E_STATE. */
void iotc__hub_fail_all(struct iotc_client *c);
/* Unlink @p e, count it, call its callback with the outcome and free it. */
void iotc__hub_finish_entry(struct iotc_client *c, struct iotc__qentry *e, int result,
                            unsigned status, uint64_t version);

#endif
