/*
 * sim.h - iotc-sim: many simulated devices in one event-driven process.
 *
 * One libevent loop drives every device: each one is a small state machine (DPS registration,
 * then IoT Hub over TLS, or a plain MQTT broker) on top of one bufferevent (bufferevent_openssl
 * for TLS). MQTT packets are encoded and decoded with the pure core's codec (proto/mqtt.h);
 * SAS tokens, usernames, topics and bodies come from include/iotc/. No thread per device.
 *
 * Modules: main.c (options, run, summary), conn.c (MQTT over a bufferevent), device.c (the
 * state machine), inbound.c (methods, twin, writable-property acks), payload.c + expr.c
 * (telemetry values from a DTDL model or expressions), stats.c (counters, histograms,
 * progress line, JSON summary), rest.c (service-side method calls for the round-trip bench).
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "iotc/codec.h"
#include "proto/mqtt.h"

struct sim;
struct sim_device;

/* ------------------------------------------------------------------ configuration */

enum sim_mode {
    SIM_MODE_CENTRAL = 0, /* DPS, then the assigned IoT Hub (default) */
    SIM_MODE_DPS_ONLY,    /* register and disconnect (registration throughput) */
    SIM_MODE_BROKER,      /* plain MQTT broker, fixed username/password, no DPS */
    SIM_MODE_SUBSCRIBER,  /* one connection that subscribes and counts (broker mode) */
};

struct sim_config {
    enum sim_mode mode;
    int devices;
    int start_index;    /* first device number (ids are PREFIX + number) */
    const char *prefix; /* device/registration id prefix */
    double ramp;        /* connections started per second; 0 = all at once */
    int concurrency;    /* most devices connecting/registering at once; 0 = no limit */
    int source_addrs;   /* > 1: bind device k to 127.0.0.(2 + k mod source_addrs) */
    double rate;        /* telemetry messages per second per device; 0 = none (idle) */
    bool rate_max;      /* closed loop: keep `inflight` messages outstanding per device */
    int inflight;       /* QoS 1 window per device */
    double duration_s;
    double warmup_s;  /* measurement window starts this long after every device is up */
    double measure_s; /* > 0: end the run this long after the window opened */
    char hub[160];    /* --hub: skip DPS, connect to this assigned hub (host:port) */
    int qos;
    int keepalive;
    int token_ttl_s; /* SAS token lifetime; renewed by reconnecting before it ends */
    int max_retries;
    const char *group_key;
    const char *keys_file;
    const char *scope;
    char dps_host[256];
    int dps_port;
    const char *ca_file;
    bool tls;
    bool insecure; /* skip certificate verification (broker mode only) */
    size_t payload_size;
    const char *model_id;
    const char *template_path;
    const char *exprs[32];
    int n_exprs;
    /* broker mode */
    char broker_host[256];
    int broker_port;
    const char *username;
    const char *password;
    const char *topic_fmt; /* "%s" is replaced by the device id */
    const char *subscribe_filter;
    /* reporting */
    const char *status_file;
    int server_pid;
    bool quiet;
    /* service-side method calls (round-trip bench) */
    const char *service_cs;
    char https_host[256];
    int https_port;
    int invoke_conns;
    long invoke_count;
    const char *invoke_method;
    int threads;    /* event loops (shards); 1 = everything on the main thread */
    int key_skip;   /* --keys-file: entries before this shard's first device */
    char *owned[8]; /* strings read from --app, freed at exit */
    int n_owned;
};

/* ------------------------------------------------------------------ statistics */

#define SIM_HIST_SUB 64
#define SIM_HIST_POW 40
/* Log-linear histogram of microsecond values (about 1.5% resolution). */
struct sim_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint32_t b[SIM_HIST_POW * SIM_HIST_SUB];
};

enum sim_err {
    SIM_ERR_TCP = 0,
    SIM_ERR_TLS,
    SIM_ERR_CLOSED,
    SIM_ERR_CONNACK,
    SIM_ERR_TIMEOUT,
    SIM_ERR_PROTOCOL,
    SIM_ERR_DPS_FAILED,
    SIM_ERR_DPS_STATUS,
    SIM_ERR_SUBACK,
    SIM_ERR_WINDOW_FULL,
    SIM_ERR_TOKEN,
    SIM_ERR_REST,
    SIM_ERR__COUNT,
};

struct sim_stats {
    uint64_t started;     /* devices started */
    uint64_t provisioned; /* DPS assigned */
    uint64_t connected;   /* current hub/broker connections (CONNACK 0, subscribed) */
    uint64_t connected_total;
    uint64_t reconnects;
    uint64_t failed; /* devices that gave up */
    uint64_t sent;
    uint64_t acked;
    uint64_t received; /* subscriber mode, C2D */
    uint64_t methods;
    uint64_t twin_patches;
    uint64_t twin_responses;
    uint64_t desired;
    uint64_t errors[SIM_ERR__COUNT];
    uint64_t rest_ok;
    uint64_t rest_status[6]; /* by first digit */
    struct sim_hist puback;
    struct sim_hist dps;
    struct sim_hist connect;
    struct sim_hist dps_connect; /* DPS: start to CONNACK (TCP + TLS + auth) */
    struct sim_hist rest;
    double first_reg_s, last_reg_s; /* registration completion times (rate) */
    /* The connect storm: seconds from the start to the moment every device was up (or had
     * given up) for the first time, and how many were connected then; 0 until it happened. */
    double storm_s;
    uint64_t storm_connected;
    /* Acknowledged telemetry per device, filled when the loop ends: the fewest any device
     * got, and how many devices got none, one, two or more. */
    bool have_dev_acked;
    uint64_t dev_acked_min;
    uint64_t dev_acked_0, dev_acked_1, dev_acked_2plus;
};

void hist_add(struct sim_hist *h, uint64_t us);
uint64_t hist_percentile(const struct sim_hist *h, double p);

/* ------------------------------------------------------------------ connections */

struct sim_conn {
    struct bufferevent *bev;
    bool tls;
    bool up;      /* TCP+TLS established */
    uint32_t gen; /* bumped on every open/close: callbacks detect a replaced connection */
};

/* conn.c */
int conn_open(struct sim_device *d, const struct sockaddr *sa, socklen_t salen, const char *sni);
void conn_close(struct sim_device *d);
void conn_disconnect(struct sim_device *d);
int conn_send(struct sim_device *d, const struct iotc_mqtt_packet *pkt);
int conn_publish(struct sim_device *d, const char *topic, size_t topic_len, const void *payload,
                 size_t len, int qos, uint16_t pid);
int conn_connect(struct sim_device *d, const char *client_id, const char *username,
                 const char *password, bool clean, int keepalive);
SSL_CTX *conn_ssl_ctx(const char *ca_file, bool verify);

/* ------------------------------------------------------------------ devices */

enum dev_state {
    DEV_IDLE = 0,
    DEV_DPS_CONNECTING,
    DEV_DPS_CONNACK,
    DEV_DPS_SUBACK,
    DEV_DPS_WAIT, /* waiting for a response or for retry-after */
    DEV_HUB_CONNECTING,
    DEV_HUB_CONNACK,
    DEV_HUB_SUBACK,
    DEV_RUNNING,
    DEV_BACKOFF,
    DEV_DONE,
    DEV_FAILED,
};

struct sim_device {
    struct sim *sim;
    int index;
    enum dev_state state;
    struct sim_conn conn;
    struct event *timer;     /* state timeouts, retry-after, backoff */
    struct event *tel_timer; /* telemetry pacing */
    char id[64];
    char key[96];
    char hub[160]; /* assigned hub host[:port] */
    char op_id[160];
    char *topic; /* telemetry topic (without component) */
    uint16_t next_pid;
    uint16_t inflight;
    uint16_t *win_pid; /* QoS 1 window: pid and send time per slot */
    uint64_t *win_t;
    uint32_t seq;
    uint32_t acked; /* PUBACKs received over the whole run */
    uint32_t rid;
    uint32_t twin_get_rid;
    bool tel_phased; /* the telemetry timer already runs at its period */
    bool renewing;   /* token renewal: no new telemetry until the window drains */
    int renew_polls;
    uint32_t group; /* round robin over telemetry groups (components) */
    int attempts;
    bool provisioned;
    bool reprovisioned;    /* --hub refused us once: went through DPS again */
    bool counted;          /* included in stats.connected */
    uint64_t t_start_ns;   /* DPS start (registration latency) */
    uint64_t t_connect_ns; /* hub connect start */
    uint64_t desired_version;
    uint64_t token_expiry; /* wall-clock seconds: the hub token must be renewed before */
};

void dev_start(struct sim_device *d);
void dev_stop(struct sim_device *d);
void dev_free(struct sim_device *d);
void dev_on_up(struct sim_device *d);
void dev_on_closed(struct sim_device *d, enum sim_err why);
void dev_on_packet(struct sim_device *d, const struct iotc_mqtt_packet *pkt);
void dev_fail(struct sim_device *d, enum sim_err why, const char *detail);
void dev_send_telemetry(struct sim_device *d);
int dev_init(struct sim *s, struct sim_device *d, int index);
void dev_disconnect(struct sim_device *d);
void tel_start(struct sim_device *d);

/* inbound.c */
void inbound_publish(struct sim_device *d, const struct iotc_mqtt_publish *pub);
void inbound_after_subscribe(struct sim_device *d);

/* ------------------------------------------------------------------ payloads */

struct sim_payload;
struct sim_payload *payload_new(void);
void payload_free(struct sim_payload *p);
int payload_load_model(struct sim_payload *p, const char *path, char *err, size_t errcap);
int payload_add_expr(struct sim_payload *p, const char *spec, char *err, size_t errcap);
void payload_finish(struct sim_payload *p);
size_t payload_groups(const struct sim_payload *p);
/* The loaded model's id (DTMI or URN), NULL without a model; valid until payload_free(). */
const char *payload_model_id(const struct sim_payload *p);
const char *payload_group_component(const struct sim_payload *p, size_t g);
/* Render one telemetry body of group g; returns its length (<= cap), 0 on failure. */
size_t payload_render(const struct sim_payload *p, size_t g, int dev_index, double t, uint32_t seq,
                      size_t pad_to, char *out, size_t cap);
/* Method response body for `name` (component*command); returns length. */
size_t payload_method_response(const struct sim_payload *p, const char *name, size_t name_len,
                               int dev_index, double t, char *out, size_t cap);
/* Reported (read-only) properties to send once after connecting; 0 when the model has none. */
size_t payload_reported(const struct sim_payload *p, int dev_index, double t, char *out,
                        size_t cap);

/* expr.c: tiny arithmetic expressions over t (s), i (device index), n (message number). */
struct sim_expr;
struct sim_expr *expr_parse(const char *text, char *err, size_t errcap);
double expr_eval(const struct sim_expr *e, double t, double i, double n);
void expr_free(struct sim_expr *e);

/* ------------------------------------------------------------------ the simulator */

struct sim_addr {
    char hostport[160];
    struct sockaddr_storage sa;
    socklen_t len;
};

struct sim {
    struct sim_config cfg;
    struct event_base *base;
    SSL_CTX *ssl;
    struct sim_device *devs;
    struct sim_payload *payload;
    struct sim_stats st;
    struct sim_addr dps_addr;
    struct sim_addr hub_addr; /* last resolved hub (all devices normally share it) */
    struct event *tick;
    struct event *ramp_ev;
    struct event *end_ev;
    int next_to_start;
    uint64_t t0_ns;
    bool stopping;
    bool finished;
    bool window_open;
    bool window_closed;
    double window_start_s, window_end_s;
    int win_connected;
    uint64_t win_acked0, win_sent0, win_acked1, win_sent1, win_recv0, win_recv1;
    double srv_cpu0, srv_cpu1;
    double srv_cpu_start, srv_cpu_end; /* whole run */
    long srv_rss_base_kb, srv_rss0_kb, srv_rss1_kb, srv_hwm_kb;
    long self_rss_kb;
    uint64_t last_acked, last_sent;
    double last_tick_s;
    double rate_now;
    int pending; /* devices started and neither up nor finished */
    int running;
    struct sim_rest *rest;
    char *txbuf; /* telemetry body scratch buffer (one loop, one buffer) */
    size_t txcap;
    int n_finished;
    /* per-loop state that would otherwise be static */
    int drain_rounds;
    double next_print;
    double window_at;
    /* --threads: this loop's shard of the devices (shard.c) */
    struct sim_group *group;
    int shard;
    bool shard_ready;
    int run_rc;
    int total_devices;
};

uint64_t sim_now_ns(void);
/* strtol without the error reporting: 0 for text that is not a number (option values). */
static inline long sim_long(const char *v)
{
    return v != NULL ? strtol(v, NULL, 10) : 0;
}
static inline int sim_int(const char *v)
{
    return (int)sim_long(v);
}
double sim_elapsed_s(const struct sim *s);
int sim_resolve(const char *host, int port, struct sim_addr *out);
void sim_device_up(struct sim *s, struct sim_device *d);
void sim_device_down(struct sim *s, struct sim_device *d);
void sim_device_finished(struct sim *s, struct sim_device *d);
void sim_maybe_finish(struct sim *s);
void sim_finish(struct sim *s);
const char *sim_err_name(enum sim_err e);

int sim_setup(struct sim *s);
int sim_run(struct sim *s);
void sim_free(struct sim *s);

/* shard.c (--threads) */
struct sim_group;
bool shard_all_ready(struct sim *s, bool local_ready, double now, double *out_t);
void shard_publish(struct sim *s);
void shard_request_stop(struct sim *s);
bool shard_stop_requested(struct sim *s);
void shard_sum_stats(struct sim *s, struct sim_stats *out);
int shard_run_all(struct sim *proto, int n, struct sim **out);

/* stats.c */
void stats_add(struct sim_stats *dst, const struct sim_stats *src);
void stats_progress(struct sim *s, bool final);
void stats_summary(struct sim *s, FILE *out);
void stats_status_file(struct sim *s);
int proc_cpu_rss(int pid, double *cpu_s, long *rss_kb, long *hwm_kb);

/* rest.c */
struct sim_rest;
struct sim_rest *rest_start(struct sim *s);
void rest_free(struct sim_rest *r);
bool rest_done(const struct sim_rest *r);

#endif /* SIM_SIM_H */
