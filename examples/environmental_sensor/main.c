/*
 * environmental-sensor - the IoT Central tutorial's device (mid-2020 Python sample), in C on
 * libiotc, behaviour for behaviour:
 *   - at start-up it reports {"state":"true","processorArchitecture":"ARM","swVersion":"1.0.0"}
 *     (the tutorial sends the STRING "true" although the model says boolean; kept as is);
 *   - every 2 s it sends {"temp":1..74,"humid":30..98};
 *   - commands: blink (200 + {"description":"Blinking LED every N seconds"}), turnon and
 *     turnoff (200), rundiagnostics (202, then ~6 s later the reported property
 *     {"rundiagnostics":{"value":"Diagnostics run complete at <datetime>."}});
 *   - writable properties name and brightness are acknowledged after 1 s and 5 s
 *     ({"value":..,"ac":200,"ad":"completed","av":<version>});
 *   - Q or q + Enter on standard input quits, so do SIGINT and SIGTERM.
 * Configured by flags or the Azure sample environment variables; no secret in the source.
 * It runs its own poll() loop around the library's (iotc_client_poll_info/process) so that
 * standard input and its timers share one thread.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iotc/client.h>
#include <iotc/codec.h>
#include <iotc/json.h>

#include "util/opt.h"

#define MAX_PENDING 32

enum pending_kind { ACK_PROPERTY, DIAG_COMPLETE };

/* A deferred action: a property acknowledgement or a long-running command's completion. */
struct pending {
    bool used;
    enum pending_kind kind;
    uint64_t due_ms;
    char *name;
    char *value;
    uint64_t version;
};

struct app {
    struct iotc_client *client;
    uint64_t interval_ms; /* 0: burst, keep `window` messages unacknowledged */
    long window;
    bool quiet; /* no line per message */
    uint64_t next_telemetry_ms;
    long count; /* stop after this many acknowledged messages; <= 0: never */
    long sent, acked, failed;
    const char *temp_name;
    uint64_t name_delay_ms, brightness_delay_ms, diag_delay_ms;
    int verbose;
    bool stdin_open;
    const char *state_dir;       /* --state-dir or $STATE_DIRECTORY */
    const char *assignment_file; /* --assignment-file, or assignment_path */
    bool no_cache;
    char assignment_path[4096];
    struct pending pending[MAX_PENDING];
    unsigned rand_state;
};

static struct iotc_client *g_client; /* for the signal handler only */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_signal(int sig)
{
    (void)sig;
    if (g_client != NULL)
        iotc_client_stop(g_client); /* async-signal-safe */
}

static int rand_between(struct app *a, int lo, int hi)
{
    a->rand_state = a->rand_state * 1103515245u + 12345u;
    return lo + (int)((a->rand_state >> 8) % (unsigned)(hi - lo + 1));
}

/* IOTC_START_TIME (seconds since the epoch, e.g. bash's $EPOCHREALTIME taken just before the
 * start): log lines then carry the milliseconds since that moment (bench/device_start.sh). */
static double g_t0;

static void log_cb(void *user, enum iotc_log_level level, const char *msg)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    (void)user;
    if (g_t0 > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double ms = ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - g_t0) * 1000.0;
        fprintf(stderr, "+%.2f ms iotc %s: %s\n", ms, names[level], msg);
        return;
    }
    fprintf(stderr, "iotc %s: %s\n", names[level], msg);
}

static void state_cb(void *user, enum iotc_state s, enum iotc_reason r)
{
    (void)user;
    printf("Connection state: %s (%s)\n", iotc_state_str(s), iotc_reason_str(r));
    fflush(stdout);
}

static bool schedule(struct app *a, enum pending_kind kind, uint64_t delay_ms, const char *name,
                     const char *value, uint64_t version)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &a->pending[i];
        if (p->used)
            continue;
        p->name = strdup(name);
        p->value = value ? strdup(value) : NULL;
        if (p->name == NULL || (value != NULL && p->value == NULL)) {
            free(p->name);
            free(p->value);
            return false;
        }
        p->used = true;
        p->kind = kind;
        p->due_ms = now_ms() + delay_ms;
        p->version = version;
        return true;
    }
    return false;
}

static void release(struct pending *p)
{
    free(p->name);
    free(p->value);
    memset(p, 0, sizeof(*p));
}

static void run_pending(struct app *a, uint64_t now)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &a->pending[i];
        if (!p->used || now < p->due_ms)
            continue;
        if (p->kind == ACK_PROPERTY) {
            printf("Acknowledging %s = %s (version %llu)\n", p->name, p->value,
                   (unsigned long long)p->version);
            iotc_client_ack_property(a->client, NULL, p->name, p->value, 200, p->version,
                                     "completed", NULL, NULL, NULL);
        } else {
            char when[64], text[128];
            time_t t = time(NULL);
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
            snprintf(text, sizeof(text), "Diagnostics run complete at %s.", when);
            printf("%s\n", text);
            iotc_client_complete_command(a->client, NULL, p->name, text, NULL, NULL, NULL);
        }
        fflush(stdout);
        release(p);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Commands                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static char blink_reply[256];

static int on_blink(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                    const char **out_json)
{
    char interval[64], text[128];
    struct iotc_json_value v;
    size_t n = 0;
    (void)user;
    (void)c;

    /* The tutorial formats the request value: a JSON string loses its quotes, others stay. */
    snprintf(interval, sizeof(interval), "%s", cmd->payload);
    if (iotc_json_parse((struct iotc_span){cmd->payload, cmd->payload_len}, &v) == IOTC_OK &&
        v.type == IOTC_JSON_STRING &&
        iotc_json_string_get(v, interval, sizeof(interval), &n) != IOTC_OK)
        snprintf(interval, sizeof(interval), "?");
    snprintf(text, sizeof(text), "Blinking LED every %s seconds", interval);
    printf("Received command blink: %s\n", text);
    fflush(stdout);
    char esc[200];
    if (iotc_json_escape(iotc_span_from_cstr(text), esc, sizeof(esc), &n) != IOTC_OK)
        return 500;
    snprintf(blink_reply, sizeof(blink_reply), "{\"description\":%s}", esc);
    *out_json = blink_reply;
    return 200;
}

static int on_turn(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                   const char **out_json)
{
    (void)user;
    (void)c;
    (void)out_json;
    printf("Received command %s: %s the LED\n", cmd->name,
           strcmp(cmd->name, "turnon") == 0 ? "turning on" : "turning off");
    fflush(stdout);
    return 200;
}

static int on_rundiagnostics(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                             const char **out_json)
{
    struct app *a = user;
    (void)c;
    (void)out_json;
    printf("Received command rundiagnostics: starting (answer 202)\n");
    fflush(stdout);
    if (!schedule(a, DIAG_COMPLETE, a->diag_delay_ms, cmd->name, NULL, 0))
        return 503;
    return 202;
}

/* ------------------------------------------------------------------------------------------ */
/* Writable properties                                                                         */
/* ------------------------------------------------------------------------------------------ */

static int on_writable(void *user, struct iotc_client *c, const struct iotc_property *p,
                       const char **out_desc)
{
    struct app *a = user;
    uint64_t delay = strcmp(p->name, "name") == 0 ? a->name_delay_ms : a->brightness_delay_ms;
    (void)c;
    (void)out_desc;
    printf("Desired property %s = %s (version %llu)%s\n", p->name, p->value,
           (unsigned long long)p->version, p->from_twin ? " [changed while offline]" : "");
    fflush(stdout);
    if (!schedule(a, ACK_PROPERTY, delay, p->name, p->value, p->version))
        return 200; /* no slot free: acknowledge at once rather than never */
    return IOTC_PROPERTY_DEFER;
}

/* ------------------------------------------------------------------------------------------ */
/* Telemetry                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void top_up(struct app *a);

static void on_telemetry_done(void *user, uint32_t id, int result)
{
    struct app *a = user;
    (void)id;
    if (result == IOTC_OK)
        a->acked++;
    else
        a->failed++;
    if (a->verbose)
        printf("Message %u acknowledged (%ld/%ld)\n", (unsigned)id, a->acked, a->sent);
    if (a->count > 0 && a->acked >= a->count) {
        printf("Sent and acknowledged %ld messages; quitting\n", a->acked);
        fflush(stdout);
        iotc_client_stop(a->client);
        return;
    }
    if (a->interval_ms == 0)
        top_up(a);
}

static bool send_telemetry(struct app *a)
{
    char body[96];
    int n = snprintf(body, sizeof(body), "{\"%s\":%d,\"humid\":%d}", a->temp_name,
                     rand_between(a, 1, 74), rand_between(a, 30, 98));
    int rc =
        iotc_client_send_telemetry(a->client, body, (size_t)n, NULL, on_telemetry_done, a, NULL);
    if (rc == IOTC_OK) {
        a->sent++;
        if (a->quiet)
            return true;
        printf("Sending message: %s\n", body);
    } else {
        printf("Message not queued (%s): %s\n", iotc_strerror(rc), body);
    }
    fflush(stdout);
    return rc == IOTC_OK;
}

static bool want_more(const struct app *a)
{
    return a->count <= 0 || a->sent < a->count;
}

/* Burst mode: the next message goes out as soon as one is acknowledged (from the outcome
 * callback, so the library writes a whole window's worth with one system call). */
static void top_up(struct app *a)
{
    while (want_more(a) && a->sent - a->acked - a->failed < a->window) {
        if (!send_telemetry(a))
            break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Main loop                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void read_stdin(struct app *a)
{
    char buf[256];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n <= 0) {
        /* EOF (e.g. started from a script): keep running, just stop watching stdin. */
        a->stdin_open = false;
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == 'q' || buf[i] == 'Q') {
            printf("Quitting...\n");
            fflush(stdout);
            iotc_client_stop(a->client);
            return;
        }
    }
}

static int loop(struct app *a)
{
    struct iotc_poll_info pi;
    struct pollfd fds[3];
    int rc = IOTC_OK;

    a->next_telemetry_ms = now_ms(); /* the first reading at once (queued until connected) */
    while (rc == IOTC_OK) {
        uint64_t now = now_ms();
        bool more = want_more(a) && a->interval_ms > 0;
        if (a->interval_ms == 0) {
            top_up(a);
        } else if (more && now >= a->next_telemetry_ms) {
            send_telemetry(a);
            a->next_telemetry_ms += a->interval_ms;
            if (a->next_telemetry_ms < now)
                a->next_telemetry_ms = now + a->interval_ms;
        }
        run_pending(a, now);

        iotc_client_poll_info(a->client, &pi);
        int timeout = pi.timeout_ms;
        uint64_t next = more ? a->next_telemetry_ms : UINT64_MAX;
        for (int i = 0; i < MAX_PENDING; i++) {
            if (a->pending[i].used && a->pending[i].due_ms < next)
                next = a->pending[i].due_ms;
        }
        if (next != UINT64_MAX) {
            int64_t d = (int64_t)(next - now);
            if (d < 0)
                d = 0;
            if (d < timeout)
                timeout = (int)d;
        }
        nfds_t nfd = 0;
        fds[nfd++] = (struct pollfd){.fd = pi.wake_fd, .events = POLLIN};
        int net = -1, in = -1;
        if (pi.fd >= 0) {
            net = (int)nfd;
            fds[nfd++] = (struct pollfd){.fd = pi.fd,
                                         .events = (short)(POLLIN | (pi.want_write ? POLLOUT : 0))};
        }
        if (a->stdin_open) {
            in = (int)nfd;
            fds[nfd++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        }
        int prc = poll(fds, nfd, timeout);
        if (prc < 0 && errno != EINTR)
            return OPT_EXIT_FAILED;
        if (prc > 0 && in >= 0 && (fds[in].revents & (POLLIN | POLLHUP | POLLERR)))
            read_stdin(a);
        bool readable =
            prc > 0 && ((fds[0].revents & POLLIN) ||
                        (net >= 0 && (fds[net].revents & (POLLIN | POLLHUP | POLLERR))));
        bool writable = prc > 0 && net >= 0 && (fds[net].revents & POLLOUT);
        rc = iotc_client_process(a->client, readable, writable);
    }
    return rc == IOTC_E_ARG ? OPT_EXIT_FAILED : OPT_EXIT_OK;
}

static const char help_intro[] =
    "The IoT Central tutorial's environmental sensor. Identity from the options or from\n"
    "IOTHUB_DEVICE_SECURITY_TYPE, IOTHUB_DEVICE_DPS_ID_SCOPE, IOTHUB_DEVICE_DPS_DEVICE_ID,\n"
    "IOTHUB_DEVICE_DPS_DEVICE_KEY, IOTHUB_DEVICE_DPS_ENDPOINT, IOTHUB_DEVICE_CONNECTION_STRING\n"
    "(plus IOTC_GROUP_KEY and IOTC_CA_FILE). Press Q and Enter to quit.\n\n";

static const struct opt_prog prog = {
    .name = "environmental-sensor",
    .synopsis = "[options]",
    .intro = help_intro,
    .outro = "\nexit codes: 0 ok, 1 usage error or configuration refused, 2 stopped on an error\n"
             "(docs/CLI.md, \"Exit codes\")\n",
};

/* DPS and a connection string exclude each other: the last one given wins. */
static const char *opt_scope(void *dest, const char *v)
{
    struct iotc_config *cfg = dest;
    cfg->id_scope = v;
    cfg->connection_string = NULL;
    return NULL;
}

static const char *opt_conn(void *dest, const char *v)
{
    struct iotc_config *cfg = dest;
    cfg->connection_string = v;
    cfg->id_scope = NULL;
    return NULL;
}

/* OPT_CONTINUE to run, else the exit code. */
static int parse_args(int argc, char **argv, struct app *a, struct iotc_config *cfg)
{
    double interval = -1;
    long name_delay = (long)a->name_delay_ms, bright_delay = (long)a->brightness_delay_ms;
    long diag_delay = (long)a->diag_delay_ms, sas = -1, queue = -1;
    const struct opt specs[] = {
        {"id-scope", 0, OPT_FUNC, cfg, .arg = "SCOPE", .fn = opt_scope, .help = "DPS ID scope"},
        {"device-id", 0, OPT_STR, &cfg->registration_id, .arg = "ID",
         .help = "DPS registration / device id"},
        {"device-key", 0, OPT_STR, &cfg->device_key, .arg = "KEY", .help = "device key (base64)"},
        {"group-key", 0, OPT_STR, &cfg->group_key, .arg = "KEY",
         .help = "enrollment group key: the device key is derived from it"},
        {"dps-endpoint", 0, OPT_STR, &cfg->dps_endpoint, .arg = "HOST[:PORT]",
         .help = "DPS host (default global.azure-devices-provisioning.net)"},
        {"connection-string", 0, OPT_FUNC, cfg, .arg = "STR", .fn = opt_conn,
         .help = "connect to a hub directly\n(HostName=..;DeviceId=..;SharedAccessKey=..)"},
        {"model-id", 0, OPT_STR, &cfg->model_id, .arg = "DTMI",
         .help = "model id announced to DPS and the hub"},
        {"ca-file", 0, OPT_STR, &cfg->ca_file, .arg = "FILE",
         .help = "trusted CA certificates (default: the system store)"},
        {"cert-file", 0, OPT_STR, &cfg->cert_file, .arg = "FILE",
         .help = "X.509: the device certificate (PEM) instead of a key;\n"
                 "the certificate's CN is the device id"},
        {"key-file", 0, OPT_STR, &cfg->key_file, .arg = "FILE",
         .help = "X.509: the certificate's private key (PEM; default:\nin --cert-file)"},
        {"key-pass", 0, OPT_STR, &cfg->key_pass, .arg = "PHRASE",
         .help = "X.509: pass phrase of an encrypted key"},
        {"hub-host", 0, OPT_STR, &cfg->hub_host, .arg = "HOST[:PORT]",
         .help = "X.509 without DPS: the hub (with --device-id, --cert-file)"},
        {"state-dir", 0, OPT_STR, &a->state_dir, .arg = "DIR",
         .help = "keep the DPS assignment in DIR/dps-assignment-ID and\n"
                 "connect straight to that hub at the next start\n"
                 "(default $STATE_DIRECTORY, as systemd sets it)"},
        {"assignment-file", 0, OPT_STR, &a->assignment_file, .arg = "FILE",
         .help = "keep the DPS assignment in FILE instead"},
        {"no-assignment-cache", 0, OPT_FLAG, &a->no_cache,
         .help = "provision through DPS at every start"},
        {"interval", 0, OPT_NUM, &interval, 0, 86400, .arg = "SECONDS",
         .help = "telemetry period (default 2, fractions allowed); 0: send\n"
                 "as fast as acknowledgements come (see --window)"},
        {"window", 0, OPT_LONG, &a->window, 1, 100000,
         .help = "with --interval 0: messages kept unacknowledged\n(default 16)"},
        {"count", 0, OPT_LONG, &a->count, 1, LONG_MAX,
         .help = "stop once N messages have been acknowledged"},
        {"quiet", 'q', OPT_FLAG, &a->quiet, .help = "no line per message sent"},
        {"misspell-telemetry", 0, OPT_STR, &a->temp_name, .arg = "NAME",
         .help = "send the temperature as NAME instead of \"temp\" (tests\n"
                 "IoT Central's unmodeled data)"},
        {"name-delay", 0, OPT_LONG, &name_delay, .arg = "MS",
         .help = "delay before acknowledging 'name' (default 1000)"},
        {"brightness-delay", 0, OPT_LONG, &bright_delay, .arg = "MS",
         .help = "delay before acknowledging 'brightness' (default 5000)"},
        {"diagnostics-delay", 0, OPT_LONG, &diag_delay, .arg = "MS",
         .help = "delay before completing rundiagnostics (default 6000)"},
        {"sas-lifetime", 0, OPT_LONG, &sas, 1, 365L * 86400, .arg = "SECONDS",
         .help = "SAS token lifetime (default 3600; renewed ahead of expiry)"},
        {"queue", 0, OPT_LONG, &queue, 1, 100000,
         .help = "outgoing queue size in messages (default 64)"},
        {"verbose", 'v', OPT_COUNT, &a->verbose,
         .help = "more output (repeat for library debug logs)"},
        {0},
    };
    int rc = opt_parse(&prog, specs, argc - 1, argv + 1, NULL);
    if (rc != OPT_CONTINUE)
        return rc;
    if (interval >= 0) {
        a->interval_ms = (uint64_t)(interval * 1000.0 + 0.5);
        if (a->interval_ms == 0 && interval > 0)
            a->interval_ms = 1;
    }
    a->name_delay_ms = (uint64_t)name_delay;
    a->brightness_delay_ms = (uint64_t)bright_delay;
    a->diag_delay_ms = (uint64_t)diag_delay;
    if (sas > 0)
        cfg->sas_lifetime_s = (uint32_t)sas;
    if (queue > 0)
        cfg->queue_max_msgs = (size_t)queue;
    /* The DPS assignment, kept as the SDKs advise (iotc_config.assignment_file). */
    if (a->state_dir == NULL)
        a->state_dir = getenv("STATE_DIRECTORY");
    if (a->state_dir != NULL && strchr(a->state_dir, ':') != NULL)
        a->state_dir = NULL; /* systemd joins several directories with ':' */
    if (!a->no_cache && a->assignment_file == NULL && a->state_dir != NULL &&
        a->state_dir[0] != '\0' && cfg->registration_id != NULL &&
        strchr(cfg->registration_id, '/') == NULL) {
        snprintf(a->assignment_path, sizeof a->assignment_path, "%s/dps-assignment-%s",
                 a->state_dir, cfg->registration_id);
        a->assignment_file = a->assignment_path;
    }
    cfg->assignment_file = a->no_cache ? NULL : a->assignment_file;
    if (cfg->hub_host != NULL) { /* a hub without DPS: the device id names the identity */
        cfg->id_scope = NULL;
        if (cfg->registration_id != NULL)
            cfg->device_id = cfg->registration_id;
    }
    return OPT_CONTINUE;
}

int main(int argc, char **argv)
{
    struct app a;
    struct iotc_config cfg;
    int rc;

    const char *t0 = getenv("IOTC_START_TIME");
    if (t0 != NULL)
        g_t0 = strtod(t0, NULL);
    if (g_t0 > 0)
        log_cb(NULL, IOTC_LOG_DEBUG, "main");
    memset(&a, 0, sizeof(a));
    a.interval_ms = 2000;
    a.window = 16;
    a.temp_name = "temp";
    a.name_delay_ms = 1000;
    a.brightness_delay_ms = 5000;
    a.diag_delay_ms = 6000;
    a.stdin_open = true;
    a.rand_state = (unsigned)time(NULL) ^ (unsigned)getpid();

    iotc_config_init(&cfg);
    rc = iotc_config_from_env(&cfg);
    if (rc == IOTC_E_ARG) {
        fprintf(stderr, "environmental-sensor: IOTHUB_DEVICE_SECURITY_TYPE must be DPS, "
                        "connectionString or x509\n");
        return OPT_EXIT_USAGE;
    }
    rc = parse_args(argc, argv, &a, &cfg);
    if (rc != OPT_CONTINUE)
        return rc;

    rc = iotc_client_new(&cfg, &a.client);
    if (rc != IOTC_OK) {
        return opt_error(&prog,
                         "configuration refused (%s): give --id-scope, --device-id and "
                         "--device-key/--group-key/--cert-file, --hub-host, --device-id and "
                         "--cert-file, or --connection-string",
                         iotc_strerror(rc));
    }
    iotc_client_set_log(a.client, log_cb, NULL,
                        a.verbose >= 2 ? IOTC_LOG_DEBUG
                                       : (a.verbose ? IOTC_LOG_INFO : IOTC_LOG_WARN));
    if (a.verbose >= 2)
        log_cb(NULL, IOTC_LOG_DEBUG, "client created (configuration, keys, kept assignment)");
    iotc_client_set_state_cb(a.client, state_cb, NULL);
    iotc_client_on_command(a.client, "blink", on_blink, &a);
    iotc_client_on_command(a.client, "turnon", on_turn, &a);
    iotc_client_on_command(a.client, "turnoff", on_turn, &a);
    iotc_client_on_command(a.client, "rundiagnostics", on_rundiagnostics, &a);
    iotc_client_on_property(a.client, NULL, "name", on_writable, &a);
    iotc_client_on_property(a.client, NULL, "brightness", on_writable, &a);

    /* Start-up reported properties; queued now, sent as soon as the hub session is up. */
    iotc_client_report(
        a.client, "{\"state\":\"true\",\"processorArchitecture\":\"ARM\",\"swVersion\":\"1.0.0\"}",
        NULL, NULL, NULL);

    g_client = a.client;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("Press Q to quit\n");
    fflush(stdout);
    iotc_client_start(a.client);
    rc = loop(&a);

    struct iotc_stats st;
    iotc_client_get_stats(a.client, &st);
    printf("Stopped: %llu sent, %llu acknowledged, %llu refused (queue full), %llu reconnects\n",
           (unsigned long long)st.telemetry_queued, (unsigned long long)st.telemetry_acked,
           (unsigned long long)st.dropped,
           (unsigned long long)(st.connects > 0 ? st.connects - 1 : 0));
    fflush(stdout);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    g_client = NULL;
    iotc_client_free(a.client);
    for (int i = 0; i < MAX_PENDING; i++)
        release(&a.pending[i]);
    return rc;
}
