/*
 * broker_int.h - internals shared by broker.c (connections, CONNECT), broker_dps.c and
 * broker_hub.c. Not an interface for other modules.
 */
#ifndef CENTRAL_BROKER_INT_H
#define CENTRAL_BROKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "central/base/admit.h"
#include "central/base/app.h"
#include "central/hub/auth.h"
#include "central/hub/broker.h"
#include "central/hub/groups.h"
#include "central/hub/plane.h"
#include "central/hub/registry.h"
#include "proto/mqtt.h"

/* IoT Hub: 256 KB per device-to-cloud message; the packet adds its topic and a few bytes. */
#define BROKER_MSG_MAX (256 * 1024)
#define BROKER_PACKET_MAX (BROKER_MSG_MAX + 2 * 1024)
#define BROKER_OUT_MAX (4 * 1024 * 1024)
#define BROKER_KEEPALIVE_CAP_S 1767
#define BROKER_ACK_PAUSE 2000 /* pending durable acks above which reading pauses */
#define BROKER_ACK_RESUME 500

struct dps_op;
struct ssl_st;

/** A connection's socket, TLS state and buffers: what broker_io.c works on. Embedded in its
 * session (conn_session() gets back to it); the session's reference count keeps both. */
struct conn {
    struct ssl_st *ssl;   /* NULL: plain TCP */
    struct event *io;     /* the socket, for what conn_update() says it waits for */
    struct evbuffer *out; /* output not written yet; NULL when there is none */
    unsigned char *in;    /* input not handled yet (a partial packet); NULL when none */
    size_t in_len, in_cap;
    size_t out_retry;        /* length of the TLS write to repeat; 0: none */
    struct conn *dirty_next; /* broker's list of connections with output to write */
    const char *io_reason;   /* why the last read or write failed, for the close */
    evutil_socket_t fd;      /* -1 once closed */
    short io_events;         /* what io is registered for */
    /* One bit each, so that small[] fits in the bytes they took as bools. */
    bool open : 1; /* socket open (until session_finish()) */
    bool handshaking : 1;
    bool hs_wants_write : 1;
    bool flushing : 1;   /* closing as soon as the output is written */
    bool dirty : 1;      /* on the broker's dirty list */
    bool processing : 1; /* handling input: conn_process_buffered() is not re-entered */
    bool read_wants_write : 1;
    bool write_wants_read : 1;
    bool write_blocked : 1; /* the socket is full: waiting for EV_WRITE */
    bool rx_drained : 1;    /* the last read of the socket got less than it asked for */
    /* Output of a few bytes (a PUBACK, a PINGRESP) waits here instead of in an evbuffer,
     * which would be made, filled and freed for every acknowledgement; `out` takes over
     * when more comes. */
    uint8_t small_len;
    unsigned char small[7];
};

/* Where a session is in its life: NEW until CONNECT is accepted, then DPS or HUB for good;
 * `closing` is set once, after which the kind no longer changes. */
enum session_kind { S_NEW = 0, S_DPS, S_HUB };

/** One MQTT connection (the `struct session` of registry.h). There is one per connection, so
 * fields are grouped by size to leave no holes between them. */
struct session {
    struct app *app;
    struct session *prev, *next;
    uint64_t id;
    int64_t last_rx_ms;
    int64_t expiry_ms; /* SAS token expiry (Unix ms); 0: none */
    /* CONNECT timeout, then keep-alive and SAS expiry; flush timeout while closing: when the
     * broker's one timer (broker.c timer_set()) calls the session next (Unix ms) */
    int64_t due_ms;
    uint32_t timer_pos; /* 1 + its place in the broker's timer heap; 0: no deadline */
    int refs;
    uint32_t pending_acks;
    uint32_t subs; /* hub */
    uint32_t
        dps_group; /* dps: serial of the group whose key it proved (groups.h); UINT32_MAX none */
    uint16_t keepalive;
    uint16_t next_pid;
    uint8_t kind; /* enum session_kind */
    bool closing;
    bool read_paused;
    bool throttled; /* paused because the store backlog is over its cap */
    /* hub */
    bool graceful; /* DISCONNECT received: the will is discarded */
    uint8_t sub_qos[4];
    /* dps */
    bool dps_known;
    bool dps_id_ok; /* the registration id follows DPS's rules (§4.2) */
    bool dps_subscribed;
    uint8_t dps_qos;
    char peer[56]; /* "address:port"; the longest, IPv6, takes 45 + 1 + 5 + 1 */
    /* device or registration id, for logs: a heap copy of its length (at most DEVICE_ID_MAX)
     * from CONNECT on, "" before */
    const char *ident;
    /* hub */
    struct device *dev;
    char *will_topic; /* heap, NUL-terminated; NULL without a (valid) will */
    char *will_payload;
    size_t will_len;
    struct dps_op *ops;      /* dps */
    struct ws_cert *ws_cert; /* MQTT over WebSockets: the HTTPS client certificate, or NULL */
    struct admit_slot admit; /* pending (before CONNECT) and open, in app->admit */
    struct conn conn;        /* socket, TLS, buffers (broker_io.c) */
};

static inline struct session *conn_session(struct conn *c)
{
    return (struct session *)(void *)((char *)c - offsetof(struct session, conn));
}

/* The broker's cache of property bags and their JSON (broker_hub.c bag_object()). */
#define BROKER_BAG_SLOTS 8
#define BROKER_BAG_MAX 192
struct bag_entry {
    uint16_t bag_len, json_len;
    bool used;
    char component[64];
    char bag[BROKER_BAG_MAX];
    char json[448];
};

struct broker {
    struct evconnlistener *tls;
    struct evconnlistener *plain;
    struct session *head;
    size_t count;
    uint64_t next_id;
    size_t n_throttled;
    int64_t throttle_logged_ms;
    struct event *accept_ev; /* re-enables accepting after EMFILE */
    struct event *trim_ev;   /* returns freed heap pages after a burst of handshakes */
    struct event *flush_ev;  /* made active when a session has output to write */
    struct event *report_ev; /* each second: admit_flush() of refusals counted meanwhile */
    /* Every session's deadline in one min-heap on due_ms, served by one timer: a libevent
     * timer per session would take ~150 bytes of each idle connection. */
    struct event *timer_ev;
    struct session **timers;
    uint32_t n_timers, cap_timers;
    struct conn *dirty;    /* connections with output to write (each holds a session ref) */
    uint32_t burst_total;  /* handshakes and CONNECTs since the last trim */
    uint32_t burst_recent; /* ... since trim_ev last fired */
    bool draining;         /* broker_shutdown(): leave the loop once the last one closes */
    struct broker_stats stats;
    struct bag_entry bags[BROKER_BAG_SLOTS];
};

/* broker.c */
void session_close(struct session *s, const char *reason, bool flush);
/** Closes the connection and drops the broker's reference (after session_close()). */
void session_finish(struct session *s);
/** Handles the complete packets at the start of @p p (borrowed); returns how many bytes they
 * took. Stops early when the session closes or pauses reading; the caller holds a reference
 * and checks s->open before touching the session's buffers again. */
size_t session_process(struct session *s, const unsigned char *p, size_t len);
void session_ref(struct session *s);
void session_unref(struct session *s);
int session_send(struct session *s, const struct iotc_mqtt_packet *pkt);
int session_publish(struct session *s, const char *topic, size_t topic_len, const void *payload,
                    size_t payload_len, uint8_t qos, uint16_t *out_pid);
uint16_t session_next_pid(struct session *s);
void session_ack_durable(struct session *s, uint16_t pid);
/** store_done_cb that PUBACKs packet id @p tag; the caller took a session ref and counted
 * s->pending_acks before queueing the store op. */
void session_ack_done(void *ctx, uint32_t tag, int rc);
int64_t broker_now_ms(struct app *app);

/* broker_io.c: the connection's socket, TLS and buffers; heap trimming after bursts */
int broker_io_init(struct broker *b, struct event_base *base);
void broker_io_free(struct broker *b);
/** A TLS handshake or CONNECT happened: counts toward a burst, after which the heap is trimmed. */
void broker_note_burst(struct broker *b);
/** Starts I/O on s->fd (and s->ssl: the handshake); both are the session's from then on, and
 * conn_release() closes them even when this fails. */
int conn_open(struct conn *c, struct event_base *base);
/** Closes the socket and TLS; the buffers stay until conn_release(). */
void conn_close(struct conn *c);
void conn_release(struct conn *c);
/** Queues @p len bytes (copied) for writing later in this event-loop iteration. */
int conn_write(struct conn *c, const void *data, size_t len);
size_t conn_pending_output(const struct conn *c);
/** Registers the socket event again after s->read_paused, closing or flushing changed. */
void conn_update(struct conn *c);
/** Handles input kept while reading was paused. */
void conn_process_buffered(struct conn *c);
/** After a pause: reads what TLS holds already (read ahead), which the socket will not report. */
void conn_kick_read(struct conn *c);

/* broker_dps.c */
void dps_on_connect(struct session *s, const struct auth_result *ar);
void dps_on_subscribe(struct session *s, const struct iotc_mqtt_packet *pkt);
void dps_on_publish(struct session *s, const struct iotc_mqtt_publish *pub);
void dps_free_ops(struct session *s);

/* broker_hub.c */
void hub_on_connect(struct session *s, const struct iotc_mqtt_connect *c,
                    const struct auth_result *ar);
void hub_on_subscribe(struct session *s, const struct iotc_mqtt_packet *pkt);
void hub_on_unsubscribe(struct session *s, const struct iotc_mqtt_packet *pkt);
void hub_on_publish(struct session *s, const struct iotc_mqtt_publish *pub);
void hub_on_puback(struct session *s, uint16_t pid);
void hub_detach(struct session *s, const char *reason);
/** What the broker does with the device plane's announcements (installed by broker_start). */
extern const struct plane_listener hub_plane_listener;

#endif /* CENTRAL_BROKER_INT_H */
