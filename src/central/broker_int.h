/*
 * broker_int.h - internals shared by broker.c (connections, CONNECT), broker_dps.c and
 * broker_hub.c. Not an interface for other modules.
 */
#ifndef CENTRAL_BROKER_INT_H
#define CENTRAL_BROKER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "central/app.h"
#include "central/auth.h"
#include "central/broker.h"
#include "central/registry.h"
#include "proto/mqtt.h"

/* IoT Hub: 256 KB per device-to-cloud message; the packet adds its topic and a few bytes. */
#define BROKER_MSG_MAX (256 * 1024)
#define BROKER_PACKET_MAX (BROKER_MSG_MAX + 2 * 1024)
#define BROKER_OUT_MAX (4 * 1024 * 1024)
#define BROKER_CONNECT_TIMEOUT_S 30
#define BROKER_KEEPALIVE_CAP_S 1767
#define BROKER_ACK_PAUSE 2000 /* pending durable acks above which reading pauses */
#define BROKER_ACK_RESUME 500

enum session_kind { S_NEW = 0, S_DPS, S_HUB };

struct dps_op;

/** One MQTT connection (the `struct session` of registry.h). Fields are ordered by size so that
 * the struct packs without holes: there is one per connection. */
struct session {
    struct app *app;
    struct bufferevent *bev;
    struct session *prev, *next;
    struct event *tick; /* CONNECT timeout, then keep-alive and SAS expiry; flush timeout while closing */
    uint64_t id;
    int64_t last_rx_ms;
    int64_t expiry_ms; /* SAS token expiry (Unix ms); 0: none */
    enum session_kind kind;
    int refs;
    uint32_t pending_acks;
    uint16_t keepalive;
    uint16_t next_pid;
    bool closing;
    bool read_paused;
    bool throttled; /* paused because the store backlog is over its cap */
    /* hub */
    bool graceful; /* DISCONNECT received: the will is discarded */
    uint8_t sub_qos[4];
    /* dps */
    bool dps_known;
    bool dps_subscribed;
    uint8_t dps_qos;
    /* hub */
    uint32_t subs;
    struct device *dev;
    char *will_topic; /* heap, NUL-terminated; NULL without a (valid) will */
    char *will_payload;
    size_t will_len;
    struct dps_op *ops; /* dps */
    char peer[56];      /* "address:port"; the longest, IPv6, takes 45 + 1 + 5 + 1 */
    char ident[DEVICE_ID_MAX + 1]; /* device or registration id, for logs */
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
    uint32_t burst_total;    /* handshakes and CONNECTs since the last trim */
    uint32_t burst_recent;   /* ... since trim_ev last fired */
    bool draining;           /* broker_shutdown(): leave the loop once the last one closes */
};

/* broker.c */
void session_close(struct session *s, const char *reason, bool flush);
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

#endif /* CENTRAL_BROKER_INT_H */
