/*
 * main.c - iotc-sim: options, device set-up, ramp, measurement window, summary.
 *
 *   iotc-sim --app app.json --devices 100 --rate 1 --duration 60
 *   iotc-sim --scope 0ne... --group-key K --dps localhost:8883 --ca-file ca.pem --devices 1000
 *   iotc-sim --broker 127.0.0.1:8883 --tls --ca-file ca.pem --devices 1000 --rate max
 *
 * A progress line goes to stderr every second; the JSON summary goes to stdout at the end.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "iotc/sas.h"
#include "sim/sim.h"
#include "util/opt.h"

uint64_t sim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double sim_elapsed_s(const struct sim *s)
{
    return (double)(sim_now_ns() - s->t0_ns) / 1e9;
}

const char *sim_err_name(enum sim_err e)
{
    static const char *names[SIM_ERR__COUNT] = {
        "tcp",        "tls",        "closed_by_server", "connack_refused", "timeout", "protocol",
        "dps_failed", "dps_status", "suback_refused",   "window_full",     "token",   "rest",
    };
    return (int)e >= 0 && e < SIM_ERR__COUNT ? names[e] : "?";
}

int sim_resolve(const char *host, int port, struct sim_addr *out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *pick = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || res == NULL)
        return -1;
    /* Prefer IPv4: "localhost" may list ::1 first while the server listens on 0.0.0.0. */
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next)
        if (pick == NULL || (a->ai_family == AF_INET && pick->ai_family != AF_INET))
            pick = a;
    memcpy(&out->sa, pick->ai_addr, pick->ai_addrlen);
    out->len = pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int split_hostport(const char *v, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || (size_t)(colon - v) >= cap)
        return -1;
    memcpy(host, v, (size_t)(colon - v));
    host[colon - v] = '\0';
    *port = sim_int(colon + 1);
    return *port > 0 && *port < 65536 ? 0 : -1;
}

/* ------------------------------------------------------------------ lifecycle */

static void sample_server(struct sim *s, double *cpu, long *rss)
{
    long hwm = 0;
    if (s->cfg.server_pid > 0 && proc_cpu_rss(s->cfg.server_pid, cpu, rss, &hwm) == 0 &&
        hwm > s->srv_hwm_kb)
        s->srv_hwm_kb = hwm;
}

static void open_window(struct sim *s)
{
    s->window_open = true;
    s->window_start_s = sim_elapsed_s(s);
    s->win_connected = s->running;
    s->win_acked0 = s->st.acked;
    s->win_sent0 = s->st.sent;
    s->win_recv0 = s->st.received;
    sample_server(s, &s->srv_cpu0, &s->srv_rss0_kb);
    if (s->cfg.measure_s > 0) {
        struct timeval tv = {(time_t)s->cfg.measure_s,
                             (suseconds_t)((s->cfg.measure_s - floor(s->cfg.measure_s)) * 1e6)};
        event_add(s->end_ev, &tv); /* replaces the --duration deadline */
    }
    if (s->cfg.invoke_count > 0 && s->rest == NULL) {
        s->rest = rest_start(s);
        if (s->rest == NULL)
            sim_finish(s);
    }
}

static void close_window(struct sim *s)
{
    if (!s->window_open || s->window_closed)
        return;
    s->window_closed = true;
    s->window_end_s = sim_elapsed_s(s);
    s->win_acked1 = s->st.acked;
    s->win_sent1 = s->st.sent;
    s->win_recv1 = s->st.received;
    sample_server(s, &s->srv_cpu1, &s->srv_rss1_kb);
}

/* The first moment every device of this loop is up or has given up ends the connect storm. */
static void note_storm(struct sim *s)
{
    if (s->st.storm_s > 0 || s->next_to_start < s->cfg.devices ||
        s->running + s->n_finished < s->cfg.devices)
        return;
    s->st.storm_s = sim_elapsed_s(s);
    s->st.storm_connected = (uint64_t)s->running;
}

void sim_device_up(struct sim *s, struct sim_device *d)
{
    s->st.connected++;
    s->st.connected_total++;
    s->running++;
    d->counted = true;
    d->renewing = false;
    note_storm(s);
    tel_start(d);
}

void sim_device_down(struct sim *s, struct sim_device *d)
{
    s->st.connected--;
    s->running--;
    d->counted = false;
}

void sim_device_finished(struct sim *s, struct sim_device *d)
{
    (void)d;
    s->n_finished++;
    note_storm(s);
    sim_maybe_finish(s);
}

void sim_maybe_finish(struct sim *s)
{
    if (s->finished || s->stopping)
        return;
    if (s->n_finished >= s->cfg.devices)
        sim_finish(s);
    else if (s->cfg.invoke_count > 0 && s->rest != NULL && rest_done(s->rest)) {
        sim_finish(s);
        shard_request_stop(s); /* the calls were the point of the run: stop every shard */
    }
}

static void on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sim *s = arg;
    (void)fd;
    (void)what;
    for (int i = 0; i < s->cfg.devices; i++)
        dev_disconnect(&s->devs[i]);
    rest_free(s->rest);
    s->rest = NULL;
    /* Give the DISCONNECTs (and TLS close_notify) a moment to leave. */
    struct timeval tv = {0, 200000};
    event_base_loopexit(s->base, &tv);
}

static uint64_t total_inflight(const struct sim *s)
{
    uint64_t n = 0;
    for (int i = 0; i < s->cfg.devices; i++)
        if (s->devs[i].state == DEV_RUNNING)
            n += s->devs[i].inflight;
    return n;
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct sim *s = arg;
    (void)fd;
    (void)what;
    /* Wait up to 3 s for outstanding PUBACKs so that acked can equal sent. */
    if (total_inflight(s) > 0 && ++s->drain_rounds < 60) {
        struct timeval tv = {0, 50000};
        event_base_once(s->base, -1, EV_TIMEOUT, on_drain, s, &tv);
        return;
    }
    on_exit_timer(-1, 0, s);
}

void sim_finish(struct sim *s)
{
    if (s->finished)
        return;
    s->finished = true;
    close_window(s);
    if (s->cfg.server_pid > 0)
        proc_cpu_rss(s->cfg.server_pid, &s->srv_cpu_end, NULL, NULL);
    s->stopping = true;
    for (int i = 0; i < s->cfg.devices && s->next_to_start > 0; i++)
        dev_stop(&s->devs[i]);
    if (s->ramp_ev != NULL)
        event_del(s->ramp_ev);
    struct timeval tv = {0, 1000};
    event_base_once(s->base, -1, EV_TIMEOUT, on_drain, s, &tv);
}

static void on_ramp(evutil_socket_t fd, short what, void *arg)
{
    struct sim *s = arg;
    (void)fd;
    (void)what;
    int target = s->cfg.devices;
    if (s->cfg.ramp > 0) {
        double want = floor(sim_elapsed_s(s) * s->cfg.ramp) + 1;
        if (want < target)
            target = (int)want;
    }
    while (s->next_to_start < target && !s->stopping) {
        int pending = (int)s->st.started - s->running - s->n_finished;
        if (s->cfg.concurrency > 0 && pending >= s->cfg.concurrency)
            break; /* closed loop: the server sets the pace */
        struct sim_device *d = &s->devs[s->next_to_start++];
        s->st.started++;
        dev_start(d);
    }
    if (s->next_to_start >= s->cfg.devices)
        event_del(s->ramp_ev);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sim *s = arg;
    (void)fd;
    (void)what;
    double now = sim_elapsed_s(s), t_all;
    bool local_ready = s->next_to_start >= s->cfg.devices &&
                       s->running + s->n_finished >= s->cfg.devices && s->running > 0;
    /* With --threads every shard opens its window when the last shard is ready. */
    if (!s->window_open && !s->stopping && shard_all_ready(s, local_ready, now, &t_all)) {
        if (s->window_at < 0)
            s->window_at = t_all + s->cfg.warmup_s;
        if (now >= s->window_at)
            open_window(s);
    }
    shard_publish(s);
    if (!s->stopping && shard_stop_requested(s))
        sim_finish(s);
    if (s->cfg.server_pid > 0) {
        double cpu;
        long rss;
        sample_server(s, &cpu, &rss);
    }
    if (s->shard == 0 && now >= s->next_print) {
        s->next_print = now + (isatty(STDERR_FILENO) ? 1.0 : 5.0);
        stats_progress(s, false);
        stats_status_file(s);
    }
}

static void on_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sim_finish(arg);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sim_finish(arg);
    shard_request_stop(arg);
}

/* ------------------------------------------------------------------ options */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf != NULL ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

static const char *keep(struct sim_config *c, const char *v)
{
    char *copy = c->n_owned < 8 ? strdup(v) : NULL;
    if (copy != NULL)
        c->owned[c->n_owned++] = copy;
    return copy;
}

/* Facts printed by `iotc-central show --json`; strings are kept for the whole run. */
static int load_app(struct sim_config *c, const char *path)
{
    char *text = read_file(path);
    cJSON *j = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    if (j == NULL)
        return -1;
    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(j, "idScope");
    const cJSON *dps = cJSON_GetObjectItemCaseSensitive(j, "dpsEndpoint");
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(j, "caFile");
    const cJSON *grp = cJSON_GetObjectItemCaseSensitive(j, "enrollmentGroup");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(grp, "primaryKey");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "serviceConnectionString");
    if (cJSON_IsString(scope) && c->scope == NULL)
        c->scope = keep(c, scope->valuestring);
    if (cJSON_IsString(dps) && c->dps_host[0] == '\0' &&
        split_hostport(dps->valuestring, c->dps_host, sizeof c->dps_host, &c->dps_port) != 0)
        c->dps_host[0] = '\0';
    if (cJSON_IsString(ca) && c->ca_file == NULL)
        c->ca_file = keep(c, ca->valuestring);
    if (cJSON_IsString(key) && c->group_key == NULL && c->keys_file == NULL)
        c->group_key = keep(c, key->valuestring);
    if (cJSON_IsString(cs) && c->service_cs == NULL)
        c->service_cs = keep(c, cs->valuestring);
    cJSON_Delete(j);
    return 0;
}

struct rate_arg {
    struct sim_config *c;
    bool total;
};

static const char *opt_rate(void *dest, const char *v)
{
    struct rate_arg *r = dest;
    char *end;
    if (strcmp(v, "max") == 0) {
        r->c->rate_max = true;
        return NULL;
    }
    errno = 0;
    double rate = strtod(v, &end);
    if (errno != 0 || end == v || !(rate >= 0))
        return "R, R/total or max";
    if (strcmp(end, "/total") == 0)
        r->total = true;
    else if (*end != '\0' && strcmp(end, "/device") != 0)
        return "R, R/total or max";
    r->c->rate = rate;
    return NULL;
}

/* --dps, --broker, --https: where one HOST:PORT option stores its host and port. */
struct hostport_arg {
    char *host;
    size_t cap;
    int *port;
};

static const char *opt_hostport(void *dest, const char *v)
{
    const struct hostport_arg *h = dest;
    return split_hostport(v, h->host, h->cap, h->port) == 0 ? NULL : "a HOST:PORT address";
}

static const char *opt_hub(void *dest, const char *v)
{
    struct sim_config *c = dest;
    if (strlen(v) >= sizeof c->hub)
        return "a HOST:PORT address of at most 159 characters";
    snprintf(c->hub, sizeof c->hub, "%s", v);
    return NULL;
}

/* In command-line order: what --app does not fill stays as given before it. */
static const char *opt_app(void *dest, const char *v)
{
    return load_app(dest, v) == 0 ? NULL : "a readable JSON file (from iotc-central show --json)";
}

static const struct opt_prog prog = {
    .name = "iotc-sim",
    .synopsis = "[options]",
    .outro = "\nexit codes: 0 ok, 1 usage error, 2 the run failed (set-up, or a device failed)\n"
             "(docs/CLI.md, \"Exit codes\")\n",
};

static int parse_args(int argc, char **argv, struct sim_config *c)
{
    struct rate_arg rate = {c, false};
    struct hostport_arg dps = {c->dps_host, sizeof c->dps_host, &c->dps_port};
    struct hostport_arg broker = {c->broker_host, sizeof c->broker_host, &c->broker_port};
    struct hostport_arg https = {c->https_host, sizeof c->https_host, &c->https_port};
    struct opt_list exprs = {0};
    const char *subscribe = NULL;
    bool dps_only = false;
    long payload_size = -1, seed = -1;
    const struct opt specs[] = {
        {.kind = OPT_HEADING, .help = "devices and load:"},
        {"devices", 0, OPT_INT, &c->devices, 1, 10000000,
         .help = "number of simulated devices (default 10)"},
        {"prefix", 0, OPT_STR, &c->prefix, .arg = "P",
         .help = "id prefix (default sim-); ids are P0, P1, ..."},
        {"start-index", 0, OPT_INT, &c->start_index, .arg = "K",
         .help = "first device number (default 0)"},
        {"ramp", 0, OPT_NUM, &c->ramp, .arg = "R",
         .help = "connections started per second (default 100; 0 = all at once)"},
        {"concurrency", 0, OPT_INT, &c->concurrency, .arg = "K",
         .help = "at most K devices connecting or registering at once"},
        {"source-addrs", 0, OPT_INT, &c->source_addrs, 0, 250, .arg = "N",
         .help = "bind device k to 127.0.0.(2 + k mod N) (loopback targets;\n"
                 "one source address holds about 28,000 connections)"},
        {"threads", 0, OPT_INT, &c->threads, 0, 1024,
         .help = "event loops (one per core), devices split between them"},
        {"rate", 0, OPT_FUNC, &rate, .arg = "R[/total]|max", .fn = opt_rate,
         .help = "telemetry msg/s per device (or in total); 0 = idle;\n"
                 "max = closed loop with --inflight messages outstanding"},
        {"inflight", 0, OPT_INT, &c->inflight, 1, 65535, .arg = "W",
         .help = "QoS 1 window per device (default 16)"},
        {"duration", 0, OPT_NUM, &c->duration_s, .arg = "S",
         .help = "run time in seconds (default 10; 0 = until Ctrl-C)"},
        {"warmup", 0, OPT_NUM, &c->warmup_s, .arg = "S",
         .help = "measurement window opens S after all are up (default 1)"},
        {"measure", 0, OPT_NUM, &c->measure_s, .arg = "S",
         .help = "end S after the window opened (--duration stays a cap)"},
        {"qos", 0, OPT_INT, &c->qos, 0, 1, .arg = "0|1", .help = "telemetry QoS (default 1)"},
        {"payload-size", 0, OPT_LONG, &payload_size, .help = "pad bodies to N bytes"},
        {"template", 0, OPT_STR, &c->template_path, .arg = "FILE",
         .help = "DTDL model: telemetry values from its schemas"},
        {"telemetry", 0, OPT_LIST, &exprs, .arg = "NAME=EXPR",
         .help = "value from an expression of t, i, n (repeatable)"},
        {"model-id", 0, OPT_STR, &c->model_id, .arg = "DTMI",
         .help = "model id announced to DPS and the hub (default: the\n--template's id)"},
        {"keepalive", 0, OPT_INT, &c->keepalive, 0, 65535, .arg = "S",
         .help = "MQTT keep-alive (default 240)"},
        {"token-ttl", 0, OPT_INT, &c->token_ttl_s, 4, 31536000, .arg = "S",
         .help = "SAS token lifetime (default 3600; renewed before expiry)"},
        {"retries", 0, OPT_INT, &c->max_retries,
         .help = "reconnect attempts per device (default 3)"},
        {"seed", 0, OPT_LONG, &seed, 0, 4294967295LL,
         .help = "seed of the random numbers (default: time and process id)"},
        {.kind = OPT_HEADING, .help = "IoT Central (DPS + hub):"},
        {"app", 0, OPT_FUNC, c, .arg = "FILE", .fn = opt_app,
         .help = "facts from `iotc-central show --json` (scope, DPS, CA, key)"},
        {"scope", 0, OPT_STR, &c->scope, .arg = "ID", .help = "ID scope"},
        {"dps", 0, OPT_FUNC, &dps, .arg = "HOST:PORT", .fn = opt_hostport, .help = "DPS endpoint"},
        {"ca-file", 0, OPT_STR, &c->ca_file, .arg = "FILE", .help = "CA certificates to trust"},
        {"group-key", 0, OPT_STR, &c->group_key, .arg = "KEY",
         .help = "enrollment group key (device keys are derived)"},
        {"keys-file", 0, OPT_STR, &c->keys_file, .arg = "FILE",
         .help = "individual keys, one 'deviceId key' per line"},
        {"dps-only", 0, OPT_FLAG, &dps_only,
         .help = "register, then disconnect (registration throughput)"},
        {"hub", 0, OPT_FUNC, c, .arg = "HOST:PORT", .fn = opt_hub,
         .help = "skip DPS: devices already provisioned to this hub"},
        {.kind = OPT_HEADING, .help = "plain MQTT broker:"},
        {"broker", 0, OPT_FUNC, &broker, .arg = "HOST:PORT", .fn = opt_hostport,
         .help = "connect to this broker instead"},
        {"tls", 0, OPT_FLAG, &c->tls, .help = "TLS to the broker"},
        {"insecure", 0, OPT_FLAG, &c->insecure, .help = "do not verify its certificate"},
        {"username", 0, OPT_STR, &c->username, .arg = "U", .help = "MQTT user name"},
        {"password", 0, OPT_STR, &c->password, .arg = "P", .help = "MQTT password"},
        {"topic", 0, OPT_STR, &c->topic_fmt, .arg = "FMT",
         .help = "telemetry topic, %s = device id\n(default devices/%s/messages/events/)"},
        {"subscribe", 0, OPT_STR, &subscribe, .arg = "FILTER",
         .help = "one subscriber connection that counts messages"},
        {.kind = OPT_HEADING, .help = "commands (service side):"},
        {"service", 0, OPT_STR, &c->service_cs, .arg = "CS",
         .help = "IoT Hub service connection string"},
        {"https", 0, OPT_FUNC, &https, .arg = "HOST:PORT", .fn = opt_hostport,
         .help = "where the service API listens (default: CS HostName)"},
        {"invoke", 0, OPT_LONG, &c->invoke_count,
         .help = "call N direct methods once all devices are up"},
        {"invoke-conns", 0, OPT_INT, &c->invoke_conns, .arg = "K",
         .help = "keep-alive HTTPS connections (default 1)"},
        {"invoke-method", 0, OPT_STR, &c->invoke_method, .arg = "NAME",
         .help = "method name (default ping)"},
        {.kind = OPT_HEADING, .help = "reporting:"},
        {"server-pid", 0, OPT_INT, &c->server_pid, .arg = "PID",
         .help = "sample the server's CPU and RSS in the window"},
        {"status-file", 0, OPT_STR, &c->status_file, .arg = "FILE",
         .help = "JSON snapshot rewritten every second"},
        {"quiet", 0, OPT_FLAG, &c->quiet, .help = "no progress line"},
        {0},
    };
    int rc = opt_parse(&prog, specs, argc - 1, argv + 1, NULL);
    if (rc == OPT_CONTINUE && exprs.n > (int)(sizeof c->exprs / sizeof c->exprs[0]))
        rc =
            opt_error(&prog, "at most %d --telemetry", (int)(sizeof c->exprs / sizeof c->exprs[0]));
    for (int i = 0; rc == OPT_CONTINUE && i < exprs.n; i++)
        c->exprs[c->n_exprs++] = exprs.v[i];
    opt_list_free(&exprs);
    if (rc != OPT_CONTINUE)
        return rc;
    if (payload_size >= 0)
        c->payload_size = (size_t)payload_size;
    if (seed >= 0)
        srand((unsigned)seed);
    if (subscribe != NULL) {
        c->subscribe_filter = subscribe;
        c->mode = SIM_MODE_SUBSCRIBER;
        c->devices = 1;
    } else if (c->broker_host[0] != '\0') {
        c->mode = SIM_MODE_BROKER;
    } else if (dps_only) {
        c->mode = SIM_MODE_DPS_ONLY;
    }
    if (rate.total)
        c->rate /= c->devices;
    if (c->mode == SIM_MODE_CENTRAL || c->mode == SIM_MODE_DPS_ONLY) {
        if (c->scope == NULL || c->dps_host[0] == '\0' ||
            (c->group_key == NULL && c->keys_file == NULL))
            return opt_error(&prog, "need --scope, --dps and --group-key or --keys-file "
                                    "(or --app FILE), or --broker");
        c->tls = true;
    }
    return OPT_CONTINUE;
}

static int load_keys(struct sim *s)
{
    struct sim_config *c = &s->cfg;
    if (c->keys_file != NULL) {
        FILE *f = fopen(c->keys_file, "r");
        char line[512];
        int n = 0, skipped = 0;
        if (f == NULL) {
            fprintf(stderr, "iotc-sim: cannot open %s\n", c->keys_file);
            return -1;
        }
        while (n < c->devices && fgets(line, sizeof line, f) != NULL) {
            char *save = NULL;
            char *id = strtok_r(line, " \t\r\n", &save);
            char *key = id != NULL ? strtok_r(NULL, " \t\r\n", &save) : NULL;
            if (id == NULL || key == NULL || id[0] == '#')
                continue;
            if (skipped < c->key_skip) {
                skipped++;
                continue;
            }
            snprintf(s->devs[n].id, sizeof s->devs[n].id, "%s", id);
            snprintf(s->devs[n].key, sizeof s->devs[n].key, "%s", key);
            n++;
        }
        fclose(f);
        if (n < c->devices) {
            fprintf(stderr, "iotc-sim: %s holds %d devices, --devices is %d\n", c->keys_file, n,
                    c->devices);
            c->devices = n;
        }
        return n > 0 ? 0 : -1;
    }
    for (int i = 0; i < c->devices; i++) {
        struct sim_device *d = &s->devs[i];
        size_t len;
        snprintf(d->id, sizeof d->id, "%s%d", c->prefix, c->start_index + i);
        if (c->group_key != NULL && iotc_sas_derive_device_key(iotc_span_from_cstr(c->group_key),
                                                               iotc_span_from_cstr(d->id), d->key,
                                                               sizeof d->key, &len) != IOTC_OK) {
            fprintf(stderr, "iotc-sim: the group key is not valid base64\n");
            return -1;
        }
    }
    return 0;
}

int sim_setup(struct sim *s)
{
    s->window_at = -1;
    if (s->total_devices == 0)
        s->total_devices = s->cfg.devices;
    s->base = event_base_new();
    if (s->base == NULL)
        return -1;
    struct sim_config *c = &s->cfg;
    char err[256];
    const char *host =
        c->mode == SIM_MODE_BROKER || c->mode == SIM_MODE_SUBSCRIBER ? c->broker_host : c->dps_host;
    int port = host == c->broker_host ? c->broker_port : c->dps_port;
    if (sim_resolve(host, port, &s->dps_addr) != 0) {
        fprintf(stderr, "iotc-sim: cannot resolve %s\n", host);
        return -1;
    }
    if (c->tls || c->service_cs != NULL) {
        s->ssl = conn_ssl_ctx(c->ca_file, !c->insecure);
        if (s->ssl == NULL) {
            fprintf(stderr, "iotc-sim: cannot load the CA file %s\n",
                    c->ca_file ? c->ca_file : "(system)");
            return -1;
        }
    }
    s->payload = payload_new();
    if (s->payload == NULL)
        return -1;
    if (c->template_path != NULL &&
        payload_load_model(s->payload, c->template_path, err, sizeof err) != 0) {
        fprintf(stderr, "iotc-sim: template: %s\n", err);
        return -1;
    }
    for (int i = 0; i < c->n_exprs; i++) {
        if (payload_add_expr(s->payload, c->exprs[i], err, sizeof err) != 0) {
            fprintf(stderr, "iotc-sim: --telemetry %s: %s\n", c->exprs[i], err);
            return -1;
        }
    }
    payload_finish(s->payload);
    /* A device of a template announces that template's model unless told otherwise. */
    if (c->model_id == NULL)
        c->model_id = payload_model_id(s->payload);
    s->txcap = c->payload_size + 16384;
    s->txbuf = malloc(s->txcap);
    s->devs = calloc((size_t)c->devices, sizeof *s->devs);
    if (s->txbuf == NULL || s->devs == NULL)
        return -1;
    if (load_keys(s) != 0)
        return -1;
    if (s->group == NULL)
        s->total_devices = c->devices; /* a short keys file may have lowered it */
    for (int i = 0; i < c->devices; i++) {
        if (dev_init(s, &s->devs[i], c->start_index + i) != 0)
            return -1;
        if (c->hub[0] != '\0' && c->mode == SIM_MODE_CENTRAL) {
            /* What a real device caches after its first registration. */
            snprintf(s->devs[i].hub, sizeof s->devs[i].hub, "%s", c->hub);
            s->devs[i].provisioned = true;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct sim sim;
    struct sim *s = &sim;
    struct sim_config *c = &s->cfg;
    c->devices = 10;
    c->prefix = "sim-";
    c->ramp = 100;
    c->rate = 1;
    c->inflight = 16;
    c->duration_s = 10;
    c->warmup_s = 1;
    c->qos = 1;
    c->keepalive = 240;
    c->token_ttl_s = 3600;
    c->max_retries = 3;
    c->topic_fmt = "devices/%s/messages/events/";
    c->invoke_method = "ping";
    c->invoke_conns = 1;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    signal(SIGPIPE, SIG_IGN);
    int prc = parse_args(argc, argv, c);
    if (prc != OPT_CONTINUE)
        return prc;
    int rc;
    struct sim *shards = NULL;
    if (c->threads > 1 && c->devices >= c->threads) {
        s->total_devices = c->devices;
        rc = shard_run_all(s, c->threads, &shards);
        if (shards == NULL)
            return OPT_EXIT_FAILED;
        s = &shards[0]; /* holds the merged counters; total_devices is the whole run */
    } else {
        s->cfg.threads = 1;
        if (sim_setup(s) != 0)
            return OPT_EXIT_FAILED;
        s->t0_ns = sim_now_ns();
        rc = sim_run(s);
    }
    stats_progress(s, true);
    stats_status_file(s);
    stats_summary(s, stdout);
    fflush(stdout);
    bool ok = rc == 0 && s->st.failed == 0 && s->st.connected_total + s->st.provisioned > 0;
    if (shards != NULL) {
        for (int i = 0; i < c->threads; i++)
            sim_free(&shards[i]);
        for (int i = 0; i < shards[0].cfg.n_owned; i++)
            free(shards[0].cfg.owned[i]);
        free(shards);
    } else {
        sim_free(s);
        for (int i = 0; i < c->n_owned; i++)
            free(c->owned[i]);
    }
    return ok ? OPT_EXIT_OK : OPT_EXIT_FAILED;
}

/* Acknowledged messages per device, once the loop has ended (the run's summary). */
static void tally_acked(struct sim *s)
{
    if (s->cfg.mode != SIM_MODE_CENTRAL && s->cfg.mode != SIM_MODE_BROKER)
        return;
    for (int i = 0; i < s->cfg.devices; i++) {
        uint64_t a = s->devs[i].acked;
        if (!s->st.have_dev_acked || a < s->st.dev_acked_min)
            s->st.dev_acked_min = a;
        s->st.have_dev_acked = true;
        if (a == 0)
            s->st.dev_acked_0++;
        else if (a == 1)
            s->st.dev_acked_1++;
        else
            s->st.dev_acked_2plus++;
    }
}

/* Run one event loop until the run ends (the whole run, or one shard of it). */
int sim_run(struct sim *s)
{
    struct sim_config *c = &s->cfg;
    struct event *sigint = NULL, *sigterm = NULL;
    if (c->server_pid > 0 &&
        proc_cpu_rss(c->server_pid, &s->srv_cpu_start, &s->srv_rss_base_kb, NULL) != 0) {
        fprintf(stderr, "iotc-sim: cannot read /proc/%d\n", c->server_pid);
        c->server_pid = 0;
    }
    struct timeval ramp_tv = {0, 10000}, tick_tv = {0, 100000};
    struct timeval end_tv = {(time_t)c->duration_s,
                             (suseconds_t)((c->duration_s - floor(c->duration_s)) * 1e6)};
    s->ramp_ev = event_new(s->base, -1, EV_PERSIST, on_ramp, s);
    s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
    s->end_ev = evtimer_new(s->base, on_end, s);
    if (s->shard == 0) { /* signals are handled by one loop only */
        sigint = evsignal_new(s->base, SIGINT, on_signal, s);
        sigterm = evsignal_new(s->base, SIGTERM, on_signal, s);
        if (sigint == NULL || sigterm == NULL)
            return -1;
        event_add(sigint, NULL);
        event_add(sigterm, NULL);
    }
    if (s->ramp_ev == NULL || s->tick == NULL || s->end_ev == NULL)
        return -1;
    event_add(s->ramp_ev, &ramp_tv);
    event_add(s->tick, &tick_tv);
    if (c->duration_s > 0)
        event_add(s->end_ev, &end_tv); /* 0: run until interrupted */
    on_ramp(-1, 0, s);
    event_base_dispatch(s->base);
    tally_acked(s);
    if (sigint != NULL)
        event_free(sigint);
    if (sigterm != NULL)
        event_free(sigterm);
    return 0;
}

void sim_free(struct sim *s)
{
    if (s->devs != NULL)
        for (int i = 0; i < s->cfg.devices; i++)
            dev_free(&s->devs[i]);
    free(s->devs);
    free(s->txbuf);
    payload_free(s->payload);
    if (s->ramp_ev != NULL)
        event_free(s->ramp_ev);
    if (s->tick != NULL)
        event_free(s->tick);
    if (s->end_ev != NULL)
        event_free(s->end_ev);
    if (s->ssl != NULL)
        SSL_CTX_free(s->ssl);
    if (s->base != NULL)
        event_base_free(s->base);
}
