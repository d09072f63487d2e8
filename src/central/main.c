/*
 * main.c - iotc-central: a local DPS + IoT Hub (+ service API) in one process.
 *
 *   iotc-central init  --data-dir DIR [--hub-host NAME] [--dns-name NAME]...
 *   iotc-central serve --data-dir DIR [--mqtt-port N] [--https-port N] [--plain-mqtt-port N] ...
 *   iotc-central show  --data-dir DIR [--json]
 *   iotc-central rotate-admin-token --data-dir DIR
 *   iotc-central backup --data-dir DIR --to FILE [--force]
 *   iotc-central restore --from FILE --data-dir NEWDIR
 *   iotc-central certs root|device|verify-code|thumbprint ...   (setup/certs.c)
 *
 * `serve` locks DIR/serve.pid (one server per data dir), prints one line per listener and then
 * "ready" on stdout (and writes DIR/ports.json first, removed on a clean stop), so scripts and
 * tests can wait for it:
 *     mqtts-port 8883
 *     https-port 8443
 *     wss-port 443          (the HTTPS listener's second port: --wss-port, wssport.h)
 *     mqtt-port 1883        (only with --plain-mqtt-port)
 *     http-port 8080        (only with --http-port: web UI + APIs, plain HTTP, 127.0.0.1)
 *     ready
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "central/api/capi.h"
#include "central/api/web.h"
#include "central/app/appl.h"
#include "central/base/admit.h"
#include "central/base/app.h"
#include "central/base/events.h"
#include "central/base/log.h"
#include "central/base/wssport.h"
#include "central/export/export.h"
#include "central/export/rules.h"
#include "central/http/http_server.h"
#include "central/hub/broker.h"
#include "central/hub/registry.h"
#include "central/service/service_http.h"
#include "central/setup/appdata.h"
#include "central/setup/certs.h"
#include "central/setup/tls_alloc.h"
#include "central/store/store.h"
#include "central/store/store_backup.h"
#include "util/opt.h"

static const char help_intro[] =
    "\n"
    "commands:\n"
    "  init    create the application (ID scope, enrollment group keys, local CA,\n"
    "          server certificate, service connection string, admin token)\n"
    "  serve   initialise if needed, then run DPS + IoT Hub (MQTT/TLS) and the HTTPS API\n"
    "  show    print what devices and tools need (ID scope, endpoint, keys, CA file)\n"
    "  rotate-admin-token\n"
    "          replace the admin token in DIR/admin-token; a running server refuses\n"
    "          the old one at once (docs/OPERATIONS.md, \"Admin token\")\n"
    "  backup  --to FILE: copy DIR (database, keys, certificates, admin token) into\n"
    "          one file, consistently, while the server runs or not\n"
    "  restore --from FILE: make DIR (new or empty) from a backup; then serve it\n"
    "  certs   development certificates for X.509 devices (see iotc-central certs --help)\n"
    "\n"
    "options:\n";

static const char help_outro[] = "\nexit codes: 0 ok, 1 usage error, 2 failed to start or serve "
                                 "(docs/CLI.md, \"Exit codes\")\n";

static const struct opt_prog prog = {
    .name = "iotc-central",
    .synopsis = "COMMAND --data-dir DIR [options]",
    .intro = help_intro,
    .outro = help_outro,
};

static const char *set_log_level(void *dest, const char *v)
{
    (void)dest;
    enum log_level lvl;
    if (log_parse_level(v, &lvl) < 0)
        return "one of error, warn, info, debug";
    log_set_level(lvl);
    return NULL;
}

static const char *set_wss_port(void *dest, const char *v)
{
    return wssport_parse(v, dest);
}

/* --log-file: where `serve` logs (the other commands talk to the terminal) */
static char *g_log_file;

static char *dup_or_keep(char *old, const char *v)
{
    if (v == NULL)
        return old;
    free(old);
    return strdup(v);
}

/* The command line after the program name: COMMAND and options, in any order. */
/* The options of backup and restore. */
struct copy_opts {
    const char *to, *from;
    bool force;
};

static const char *const commands[] = {"init",   "serve",  "show", "rotate-admin-token",
                                       "backup", "restore"};

static bool known_command(const char *cmd)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i]) == 0)
            return true;
    return false;
}

/* --config FILE: values read from it (copy->to, copy->from) point into its text, which lives
 * until main() ends. */
static struct opt_config g_config;

static int parse_args(int argc, char **argv, struct app *app, bool *json, const char **cmd,
                      struct copy_opts *copy)
{
    struct app_config *cfg = &app->cfg;
    const char *data_dir = NULL, *bind = NULL, *hub_host = NULL, *log_file = NULL;
    struct opt_list dns = {0};
    int http_port = -1;
    long max_conn = (long)cfg->max_connections, max_backlog = (long)cfg->max_store_backlog;
    long max_pending = 0, max_per_addr = 0, max_http = 0;
    const struct opt specs[] = {
        {"config", 0, OPT_CONFIG, &g_config, .arg = "FILE",
         .help = "read settings from FILE first: one 'key = value' a line,\n"
                 "every option below a key (without --); options on the\n"
                 "command line win (docs/OPERATIONS.md)"},
        {"data-dir", 0, OPT_STR, &data_dir, .arg = "DIR",
         .help = "application data directory (required)"},
        {"mqtt-port", 0, OPT_INT, &cfg->mqtt_port, 0, 65535,
         .help = "MQTT over TLS port, DPS and IoT Hub (default 8883; 0 = any)"},
        {"https-port", 0, OPT_INT, &cfg->https_port, -1, 65535,
         .help = "HTTPS service API port (default 8443; 0 = any; -1 = off)"},
        {"wss-port", 0, OPT_FUNC, &cfg->wss_port, .arg = "auto|off|N", .fn = set_wss_port,
         .help = "a second port of the HTTPS listener, the one the Azure\n"
                 "SDKs dial for MQTT over WebSockets (and the web UI and\n"
                 "APIs, as on Azure): auto (default) 443 when the process\n"
                 "may bind it (root, CAP_NET_BIND_SERVICE), else none; off\n"
                 "none; N that port, or the server does not start"},
        {"plain-mqtt-port", 0, OPT_INT, &cfg->plain_mqtt_port, 0, 65535,
         .help = "also serve MQTT without TLS on N (off by default)"},
        {"http-port", 0, OPT_INT, &http_port, 0, 65535,
         .help = "also serve the web UI and APIs over plain HTTP on\n"
                 "127.0.0.1:N only (off by default; 0 = any)"},
        {"bind", 0, OPT_STR, &bind, .arg = "ADDR",
         .help = "listen address of MQTT/TLS, HTTPS and plain MQTT\n"
                 "(default 127.0.0.1: this machine only; 0.0.0.0: every\n"
                 "interface, to serve a network)"},
        {"hub-host", 0, OPT_STR, &hub_host, .arg = "NAME",
         .help = "IoT Hub host name given to devices (default localhost)"},
        {"dns-name", 0, OPT_LIST, &dns, .arg = "NAME",
         .help = "extra name for the server certificate (repeatable)"},
        {"dps-retry-after", 0, OPT_INT, &cfg->dps_retry_after_s, 1, 60, .arg = "S",
         .help = "retry-after DPS asks devices to wait (default 1)"},
        {"max-connections", 0, OPT_LONG, &max_conn, 1, 10000000,
         .help = "refuse (CONNACK 3) above N MQTT connections (default\n"
                 "100000, at most what the descriptor limit allows)"},
        {"auth-timeout", 0, OPT_INT, &cfg->auth_timeout_s, 1, 3600, .arg = "S",
         .help = "close an MQTT connection without TLS handshake and\n"
                 "CONNECT S seconds after accept, an HTTP connection\n"
                 "whose request has not arrived S seconds after accept\n"
                 "or its last response; bytes trickling in do not\n"
                 "extend it (default 10)"},
        {"max-pending", 0, OPT_LONG, &max_pending, 1, 10000000,
         .help = "MQTT connections before CONNECT at once; beyond, the\n"
                 "busiest address's oldest is closed (default half the\n"
                 "MQTT share of the descriptor limit)"},
        {"max-pending-per-address", 0, OPT_LONG, &max_per_addr, 1, 10000000,
         .help = "unauthenticated connections from one address (MQTT\n"
                 "and HTTP each; default half of --max-pending and\n"
                 "half of --max-http-connections)"},
        {"max-http-connections", 0, OPT_LONG, &max_http, 1, 1000000,
         .help = "HTTP(S) connections at once, a budget of their own\n"
                 "(default 256 or 1/8 of the descriptors, the smaller)"},
        {"max-store-backlog", 0, OPT_LONG, &max_backlog, 2, 100000000,
         .help = "queued writes above which publishers are paused and new\n"
                 "connections refused with CONNACK 3 (default 200000)"},
        {"max-keep-alive", 0, OPT_INT, &cfg->max_keep_alive_s, 1, 65535, .arg = "S",
         .help = "keep-alive cap: a CONNECT asking 0 or more than S seconds\n"
                 "gets S; idle connections close after 1.5 x keep-alive\n"
                 "(default 1767, as IoT Hub)"},
        {"read-threads", 0, OPT_INT, &cfg->read_threads, 1, 64,
         .help = "threads running long read-only queries (chart series,\n"
                 "raw data pages, /api/query) off the event loop (default 2)"},
        {"max-read-jobs", 0, OPT_INT, &cfg->max_read_jobs, 1, 100000,
         .help = "such queries at once, queued or running; more are\n"
                 "answered 503 with Retry-After (default 32)"},
        {"commit-delay", 0, OPT_INT, &cfg->commit_delay_us, 0, 100000, .arg = "US",
         .help = "a commit of fewer than 64 writes first waits US\n"
                 "microseconds for more: fewer fsyncs and wake-ups per\n"
                 "message at low rates, PUBACKs up to US later (default 0)"},
        {"log-level", 0, OPT_FUNC, NULL, .arg = "LEVEL", .fn = set_log_level,
         .help = "error | warn | info | debug (default info)"},
        {"log-file", 0, OPT_STR, &log_file, .arg = "FILE",
         .help = "append the log to FILE (created 0600) instead of stderr;\n"
                 "SIGHUP reopens it (logrotate)"},
        {"json", 0, OPT_FLAG, json, .help = "(show) print JSON"},
        {"to", 0, OPT_STR, &copy->to, .arg = "FILE", .help = "(backup) the backup file to write"},
        {"force", 0, OPT_FLAG, &copy->force, .help = "(backup) replace an existing --to FILE"},
        {"from", 0, OPT_STR, &copy->from, .arg = "FILE", .help = "(restore) the backup file"},
        {0},
    };
    int first = 0;
    int rc = opt_parse(&prog, specs, argc, argv, &first);
    if (rc == OPT_CONTINUE && argc - first != 1)
        rc = opt_error(&prog, argc == first ? "which command? init, serve, show, "
                                              "rotate-admin-token, backup or restore"
                                            : "one COMMAND only (init, serve, show, "
                                              "rotate-admin-token, backup or restore)");
    if (rc == OPT_CONTINUE) {
        *cmd = argv[first];
        if (strcmp(*cmd, "help") == 0) {
            opt_print_help(&prog, specs, stdout);
            rc = OPT_EXIT_OK;
        } else if (!known_command(*cmd)) {
            rc = opt_error(&prog, "unknown command '%s'", *cmd);
        } else if (data_dir == NULL) {
            rc = opt_error(&prog, "--data-dir DIR is required");
        } else if (strcmp(*cmd, "backup") == 0 && copy->to == NULL) {
            rc = opt_error(&prog, "backup needs --to FILE");
        } else if (strcmp(*cmd, "restore") == 0 && copy->from == NULL) {
            rc = opt_error(&prog, "restore needs --from FILE");
        } else if (cfg->wss_port > 0 && cfg->https_port < 0) {
            rc = opt_error(&prog,
                           "--wss-port %d needs the HTTPS listener (--https-port -1 "
                           "turns it off)",
                           cfg->wss_port);
        }
    }
    if (rc == OPT_CONTINUE) {
        cfg->data_dir = dup_or_keep(cfg->data_dir, data_dir);
        cfg->bind_addr = dup_or_keep(cfg->bind_addr, bind);
        cfg->hub_host = dup_or_keep(cfg->hub_host, hub_host);
        if (log_file != NULL)
            g_log_file = strdup(log_file);
        if (http_port >= 0) {
            cfg->http_on = true;
            cfg->http_port = http_port;
        }
        cfg->max_connections = (size_t)max_conn;
        cfg->max_pending = (size_t)max_pending;
        cfg->max_pending_per_addr = (size_t)max_per_addr;
        cfg->max_http = (size_t)max_http;
        cfg->max_store_backlog = (size_t)max_backlog;
        if (dns.n > 0) {
            cfg->dns_names = calloc((size_t)dns.n, sizeof *cfg->dns_names);
            for (int i = 0; cfg->dns_names != NULL && i < dns.n; i++)
                cfg->dns_names[cfg->n_dns_names++] = strdup(dns.v[i]);
        }
    }
    opt_list_free(&dns);
    return rc;
}

/* The token itself is never printed or logged: it is in DIR/admin-token, for its owner. */
static void print_token_file(const struct app *app)
{
    printf("admin-token-file %s/admin-token\n"
           "  (the admin API token, mode 0600; app.json keeps only its hash)\n",
           app->cfg.data_dir);
}

static void ports_path(const struct app *app, char *out, size_t size)
{
    snprintf(out, size, "%s/ports.json", app->cfg.data_dir);
}

static int write_ports(const struct app *app)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mqtts", app->mqtt_port);
    cJSON_AddNumberToObject(o, "https", app->https_port);
    cJSON_AddNumberToObject(o, "mqtt", app->plain_mqtt_port);
    cJSON_AddNumberToObject(o, "http", app->http_port);
    cJSON_AddNumberToObject(o, "wss", app->wss_port); /* 0: WebSockets on "https" only */
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddStringToObject(o, "assignedHub", app->assigned_hub);
    /* which admin token is in force, for rotate-admin-token to see the server took it */
    char id[9];
    app_admin_token_id(&app->facts, id);
    cJSON_AddStringToObject(o, "adminTokenId", id);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char path[1200], tmp[1300];
    ports_path(app, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f != NULL && text != NULL) {
        rc = fprintf(f, "%s\n", text) > 0 ? 0 : -1;
        if (fclose(f) != 0)
            rc = -1;
        if (rc == 0 && rename(tmp, path) != 0)
            rc = -1;
    } else if (f != NULL) {
        fclose(f);
    }
    free(text);
    return rc;
}

/* What wssport_decide() needs to know about this process: CAP_NET_BIND_SERVICE (bit 10) in
 * the effective set, and the lowest port anyone may bind in its network namespace. */
static void wss_facts(struct wssport_in *in)
{
    char buf[4096];
    in->cap_net_bind = false;
    in->unprivileged_port_start = -1;
    if (app_read_file("/proc/self/status", buf, sizeof buf) == 0) {
        const char *eff = strstr(buf, "\nCapEff:");
        if (eff != NULL) {
            unsigned long long caps = strtoull(eff + 8, NULL, 16);
            in->cap_net_bind = (caps >> 10) & 1u;
        }
    }
    if (app_read_file("/proc/sys/net/ipv4/ip_unprivileged_port_start", buf, 64) == 0) {
        char *end = NULL;
        long v = strtol(buf, &end, 10);
        if (end != buf && v >= 0 && v <= 65536)
            in->unprivileged_port_start = (int)v;
    }
}

/* The HTTPS listener's second port (443 by default, where the Azure SDKs' WebSocket transports
 * dial): bound now, served by the same evhttp (http_server_start). CE_OK also when auto could
 * not have it (logged once); CE_INVALID when a port named by --wss-port cannot be bound. */
static int wss_bind(struct app *app, const char *bind)
{
    struct wssport_in in = {.option = app->cfg.wss_port, .https_port = app->https_port};
    int port = 0, err = 0;
    char why[512];
    wss_facts(&in);
    enum wssport_action act = wssport_decide(&in, &port, why, sizeof why);
    if (act == WSSPORT_NONE) {
        if (why[0] != '\0')
            log_warn("%s", why);
        return CE_OK;
    }
    if (act == WSSPORT_MUST) {
        app->wss_fd = broker_bind_socket(bind, port, &app->wss_port);
        return app->wss_fd >= 0 ? CE_OK : CE_INVALID;
    }
    app->wss_fd = broker_bind_socket_quiet(bind, port, &app->wss_port, &err);
    if (app->wss_fd < 0) {
        app->wss_port = 0;
        wssport_try_failed(port, app->https_port, bind, err == EADDRINUSE, strerror(err), why,
                           sizeof why);
        log_warn("%s", why);
    }
    return CE_OK;
}

/*
 * The HTTP side: bind the sockets, start the server, the application layer and the live
 * streams, and route to the web UI, /api/ and the service API (in that order: the service API
 * owns whatever the others do not).
 */
static int http_start(struct app *app)
{
    const char *bind = app->cfg.bind_addr ? app->cfg.bind_addr : APP_DEFAULT_BIND;
    app->https_fd = broker_bind_socket(bind, app->cfg.https_port, &app->https_port);
    if (app->https_fd < 0)
        return CE_INVALID;
    if (wss_bind(app, bind) != CE_OK) {
        close(app->https_fd);
        app->https_fd = -1;
        return CE_INVALID;
    }
    if (app->cfg.http_on) {
        /* Loopback only, whatever --bind says: plain HTTP carries tokens in clear text. */
        app->http_fd = broker_bind_socket("127.0.0.1", app->cfg.http_port, &app->http_port);
        if (app->http_fd < 0) {
            log_error("http: cannot listen on 127.0.0.1:%d", app->cfg.http_port);
            close(app->https_fd);
            app->https_fd = -1;
            if (app->wss_fd >= 0)
                close(app->wss_fd);
            app->wss_fd = -1;
            return CE_INVALID;
        }
    }
    int rc = http_server_start(app);
    if (rc != CE_OK)
        return rc;
    http_server_set_mqtt_sink(app->http, broker_adopt); /* MQTT over WebSockets */
    if (appl_open(app) != CE_OK || capi_start(app) != CE_OK)
        log_error("https: the application API (/api/) is not available");
    else if (export_open(app) != CE_OK)
        log_error("data export is not available");
    if (app->appl != NULL && rules_open(app) != CE_OK)
        log_error("rules are not available");
    if (http_server_add_site(app->http, &web_site) != CE_OK ||
        http_server_add_site(app->http, &capi_site) != CE_OK ||
        http_server_add_site(app->http, &service_site) != CE_OK)
        return CE_BUSY;
    return CE_OK;
}

/* Pending requests answered first (their operations need the application layer), then the
 * live streams end, then the layer closes and the listeners with their connections go. */
static void http_stop(struct app *app)
{
    http_server_drain(app);
    capi_stop(app);
    rules_close(app);
    export_close(app);
    appl_close(app);
    http_server_free(app);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct app *app = arg;
    if (app->stopping)
        return;
    log_info("received %s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    app->stopping = true;
    http_stop(app);
    /* Stop accepting, flush the store (PUBACKs go out), close connections, leave the loop. */
    broker_shutdown(app);
}

/* One server per data dir: the lock on DIR/serve.pid is held until the process ends. */
static int lock_data_dir(const struct app *app)
{
    long holder = 0;
    int fd = app_data_lock(app->cfg.data_dir, &holder);
    if (fd == -1) {
        if (holder > 0)
            log_error("another iotc-central (pid %ld) is serving %s: stop it first", holder,
                      app->cfg.data_dir);
        else
            log_error("another iotc-central is serving %s (%s/serve.pid is locked)",
                      app->cfg.data_dir, app->cfg.data_dir);
    }
    return fd;
}

/* The connection budgets from the descriptor limit (raised to the hard limit in main()) and
 * the options; logged once. docs/OPERATIONS.md "Limits and flood protection". */
static int admit_start(struct app *app)
{
    struct rlimit rl;
    struct admit_plan_in in = {
        .nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                      ? (uint64_t)rl.rlim_cur
                      : UINT64_MAX,
        .max_connections = app->cfg.max_connections,
        .max_pending = app->cfg.max_pending,
        .max_per_address = app->cfg.max_pending_per_addr,
        .max_http = app->cfg.max_http,
        .auth_timeout_s = app->cfg.auth_timeout_s,
    };
    struct admit_limits lim;
    size_t cap = admit_plan(&in, &lim);
    if (cap < app->cfg.max_connections)
        log_warn("limits: %zu MQTT connections at most (--max-connections %zu does not fit in the "
                 "descriptor limit %llu)",
                 cap, app->cfg.max_connections, (unsigned long long)in.nofile);
    app->cfg.max_connections = cap;
    log_info("limits: descriptors %llu; MQTT %zu connections (CONNACK 3 above %zu), %zu before "
             "CONNECT, %zu per address; HTTP %zu connections, %zu unanswered per address; %lld s "
             "to authenticate",
             (unsigned long long)in.nofile, lim.open[ADMIT_MQTT], cap, lim.pending[ADMIT_MQTT],
             lim.per_address[ADMIT_MQTT], lim.open[ADMIT_HTTP], lim.per_address[ADMIT_HTTP],
             (long long)(lim.deadline_ms / 1000));
    app->admit = admit_new(&lim);
    return app->admit != NULL ? CE_OK : CE_NOMEM;
}

/* SIGHUP: reopen the log file (logrotate moved it), and `rotate-admin-token` may have replaced
 * the admin token in app.json: adopt its hash and say so in ports.json, which the command
 * waits for. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct app *app = arg;
    if (app->stopping)
        return;
    if (log_reopen() > 0)
        log_info("SIGHUP: log file reopened");
    int rc = app_admin_token_reload(app);
    if (rc > 0) {
        log_info("admin token replaced (SIGHUP): the previous one is refused from now on");
        capi_admin_token_replaced(app); /* its open event streams end too */
    } else if (rc == 0)
        log_info("SIGHUP: admin token unchanged");
    if (rc >= 0 && write_ports(app) < 0)
        log_warn("cannot write %s/ports.json", app->cfg.data_dir);
}

static bool is_loopback_name(const char *h)
{
    return strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0;
}

/* DPS hands devices assignedHub (the hub host name): it must name this server as they see it. */
static void warn_hub_host(const struct app *app, const char *bind)
{
    const char *host = app->facts.hub_host;
    if (!is_loopback_name(bind) && is_loopback_name(host))
        log_warn("listening on %s but DPS tells devices to connect to %s: devices on other "
                 "machines need --hub-host NAME (a name or address of this machine)",
                 bind, host);
    else if (is_loopback_name(bind) && !is_loopback_name(host))
        log_warn("listening on %s only: devices told to connect to %s cannot reach this server "
                 "from other machines (--bind ADDR)",
                 bind, host);
}

static int cmd_serve(struct app *app)
{
    bool created = false, ports_written = false;
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
    int rc = OPT_EXIT_FAILED;
    if (g_log_file != NULL && log_open_file(g_log_file) < 0) {
        fprintf(stderr, "iotc-central: cannot open the log file %s: %s\n", g_log_file,
                strerror(errno));
        return OPT_EXIT_FAILED;
    }
    int lock_fd = lock_data_dir(app);
    if (lock_fd < 0)
        return OPT_EXIT_FAILED;
    /* until on_hup is in place, a rotation's SIGHUP must not end the server (the hash is
     * re-read once the handler is installed) */
    signal(SIGHUP, SIG_IGN);
    if (evthread_use_pthreads() != 0 || (app->base = event_base_new()) == NULL) {
        log_error("cannot create the event loop");
        app_data_unlock(lock_fd);
        return OPT_EXIT_FAILED;
    }
    app_bind_loop(app);
    if (app_data_open(app, &created) < 0 || app_tls_init(app) < 0 || events_open(app) != CE_OK ||
        registry_new(app) < 0 || store_open(app) < 0 || registry_load(app) < 0 ||
        store_start(app) < 0)
        goto out;
    if (created)
        print_token_file(app);
    if (admit_start(app) != CE_OK)
        goto out;
    if (broker_start(app) < 0)
        goto out;
    if (app->cfg.https_port >= 0 && http_start(app) != CE_OK)
        goto out;
    app_set_assigned_hub(app);
    sigterm = evsignal_new(app->base, SIGTERM, on_signal, app);
    sigint = evsignal_new(app->base, SIGINT, on_signal, app);
    sighup = evsignal_new(app->base, SIGHUP, on_hup, app);
    if (sigterm == NULL || sigint == NULL || sighup == NULL || evsignal_add(sigterm, NULL) != 0 ||
        evsignal_add(sigint, NULL) != 0 || evsignal_add(sighup, NULL) != 0)
        goto out;
    (void)app_admin_token_reload(app); /* a rotation while starting */
    if (write_ports(app) < 0)
        log_warn("cannot write %s/ports.json", app->cfg.data_dir);
    else
        ports_written = true;
    const char *bind = app->cfg.bind_addr ? app->cfg.bind_addr : APP_DEFAULT_BIND;
    log_info("serving application %s on %s: MQTT/TLS on port %u (DPS + IoT Hub %s)%s",
             app->facts.id_scope, bind, app->mqtt_port, app->assigned_hub,
             app->https_port ? ", HTTPS API" : "");
    warn_hub_host(app, bind);
    printf("mqtts-port %u\n", app->mqtt_port);
    if (app->https_port)
        printf("https-port %u\n", app->https_port);
    if (app->wss_port)
        printf("wss-port %u\n", app->wss_port);
    if (app->plain_mqtt_port)
        printf("mqtt-port %u\n", app->plain_mqtt_port);
    if (app->http_port)
        printf("http-port %u\n", app->http_port);
    printf("ready\n");
    fflush(stdout);
    event_base_dispatch(app->base);
    rc = OPT_EXIT_OK;
out:
    app->stopping = true;
    http_stop(app); /* no-op after on_signal */
    broker_free(app);
    admit_free(app->admit); /* after the listeners' connections, which leave it as they close */
    app->admit = NULL;
    method_free_all(app);
    store_close(app);
    registry_free(app);
    events_close(app);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sighup)
        event_free(sighup);
    if (ports_written) {
        /* no server behind it any more: `iotc --data-dir` must not try its ports */
        char path[1200];
        ports_path(app, path, sizeof path);
        (void)unlink(path);
    }
    app_data_unlock(lock_fd);
    if (rc == 0)
        log_info("stopped");
    return rc;
}

static int cmd_init(struct app *app)
{
    bool created = false;
    if (app_data_open(app, &created) < 0)
        return OPT_EXIT_FAILED;
    app_set_assigned_hub(app);
    if (created)
        print_token_file(app);
    else
        printf("application already exists in %s\n", app->cfg.data_dir);
    app_show(app, stdout, false);
    return 0;
}

static int cmd_show(struct app *app, bool json)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/app.json", app->cfg.data_dir);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "iotc-central: no application in %s (run init)\n", app->cfg.data_dir);
        return OPT_EXIT_USAGE; /* a missing file named on the command line */
    }
    bool created;
    if (app_data_open(app, &created) < 0)
        return OPT_EXIT_FAILED;
    /* A running server wrote its actual ports. */
    snprintf(path, sizeof path, "%s/ports.json", app->cfg.data_dir);
    char buf[1024];
    if (app_read_file(path, buf, sizeof buf) == 0) {
        cJSON *o = cJSON_Parse(buf);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "mqtts");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "https");
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wss");
        if (cJSON_IsNumber(m))
            app->mqtt_port = (uint16_t)m->valueint;
        if (cJSON_IsNumber(h))
            app->https_port = (uint16_t)h->valueint;
        if (cJSON_IsNumber(w))
            app->wss_port = (uint16_t)w->valueint;
        cJSON_Delete(o);
    }
    app_set_assigned_hub(app);
    app_show(app, stdout, json);
    return 0;
}

/* Wait (bounded) until the server @p pid says in ports.json that admin token @p id is in force. */
static bool server_took_token(const struct app *app, const char *id)
{
    char path[1200], buf[2048];
    ports_path(app, path, sizeof path);
    for (int i = 0; i < 500; i++) { /* 10 s */
        bool ok = false;
        if (app_read_file(path, buf, sizeof buf) == 0) {
            cJSON *o = cJSON_Parse(buf);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "adminTokenId");
            ok = cJSON_IsString(t) && strcmp(t->valuestring, id) == 0;
            cJSON_Delete(o);
        }
        if (ok)
            return true;
        usleep(20000);
    }
    return false;
}

/*
 * rotate-admin-token: a new token in app.json (hash) and DIR/admin-token, on a stopped server
 * (holding the data dir's lock meanwhile, so none starts half-way) or a running one (told with
 * SIGHUP; the command returns once the server says it took the new token).
 */
static int cmd_rotate(struct app *app)
{
    const char *dir = app->cfg.data_dir;
    char path[1200], id[9];
    snprintf(path, sizeof path, "%s/app.json", dir);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "iotc-central: no application in %s (run init)\n", dir);
        return OPT_EXIT_USAGE;
    }
    long holder = 0;
    int lock_fd = app_data_lock(dir, &holder);
    if (lock_fd == -2)
        return OPT_EXIT_FAILED;
    if (lock_fd == -1 && holder <= 0) {
        log_error("a server holds %s/serve.pid but its pid is unknown: not rotating", dir);
        return OPT_EXIT_FAILED;
    }
    if (app_admin_token_rotate(dir, id) < 0) {
        app_data_unlock(lock_fd);
        return OPT_EXIT_FAILED;
    }
    if (lock_fd >= 0) {
        app_data_unlock(lock_fd);
        printf("new admin token in %s/admin-token (the server is stopped: in force when it "
               "starts)\n",
               dir);
        return OPT_EXIT_OK;
    }
    if (kill((pid_t)holder, SIGHUP) != 0 || !server_took_token(app, id)) {
        log_error("the server (pid %ld) did not take the new admin token; it is in %s/admin-token "
                  "and in force from the server's next start",
                  holder, dir);
        return OPT_EXIT_FAILED;
    }
    printf("new admin token in %s/admin-token (in force now; the server, pid %ld, refuses the "
           "old one)\n",
           dir, holder);
    return OPT_EXIT_OK;
}

/* backup: the data dir into one file, while the server runs or not (store_backup.h). */
static int cmd_backup(struct app *app, const struct copy_opts *copy)
{
    struct store_backup_info info;
    char err[1500];
    int rc = store_backup(app->cfg.data_dir, copy->to, copy->force, &info, err, sizeof err);
    if (rc != CE_OK) {
        fprintf(stderr, "iotc-central backup: %s\n", err);
        return rc == CE_INVALID ? OPT_EXIT_USAGE : OPT_EXIT_FAILED;
    }
    printf("backup of %s in %s (%s): database %lld pages, %lld bytes (%lld devices, %lld "
           "telemetry messages), %d other files\n",
           app->cfg.data_dir, copy->to, info.created, info.db_pages, info.db_bytes, info.devices,
           info.telemetry, info.files);
    return OPT_EXIT_OK;
}

/* restore: a new data dir from a backup file. */
static int cmd_restore(struct app *app, const struct copy_opts *copy)
{
    struct store_backup_info info;
    char err[1500];
    int rc = store_restore(copy->from, app->cfg.data_dir, &info, err, sizeof err);
    if (rc != CE_OK) {
        fprintf(stderr, "iotc-central restore: %s\n", err);
        return rc == CE_INVALID ? OPT_EXIT_USAGE : OPT_EXIT_FAILED;
    }
    printf("restored %s (taken %s) into %s: %lld devices, %lld telemetry messages, %d other "
           "files\n"
           "serve it with: iotc-central serve --data-dir %s\n",
           copy->from, info.created, app->cfg.data_dir, info.devices, info.telemetry, info.files,
           app->cfg.data_dir);
    return OPT_EXIT_OK;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    (void)tls_alloc_install(); /* before anything uses OpenSSL (setup/tls_alloc.c) */
    /* Everything the server creates (database and its -wal/-shm, keys, app.json, ports.json)
     * is for its owner only, whatever umask it was started with (docs/OPERATIONS.md). */
    umask(077);
    /* One descriptor per device connection: use the hard limit, not the default 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (argc >= 2 && strcmp(argv[1], "certs") == 0)
        return certs_main(argc - 2, argv + 2); /* needs no application */
    static struct app app;
    app_config_defaults(&app.cfg);
    app.https_fd = -1;
    app.http_fd = -1;
    app.wss_fd = -1;
    bool json = false;
    const char *cmd = NULL;
    struct copy_opts copy = {0};
    int rc = parse_args(argc - 1, argv + 1, &app, &json, &cmd, &copy);
    if (rc != OPT_CONTINUE) {
        app_release(&app);
        opt_config_free(&g_config);
        return rc;
    }
    if (strcmp(cmd, "init") == 0)
        rc = cmd_init(&app);
    else if (strcmp(cmd, "serve") == 0)
        rc = cmd_serve(&app);
    else if (strcmp(cmd, "rotate-admin-token") == 0)
        rc = cmd_rotate(&app);
    else if (strcmp(cmd, "backup") == 0)
        rc = cmd_backup(&app, &copy);
    else if (strcmp(cmd, "restore") == 0)
        rc = cmd_restore(&app, &copy);
    else
        rc = cmd_show(&app, json);
    if (app.base)
        event_base_free(app.base);
    free(g_log_file);
    opt_config_free(&g_config);
    app_release(&app);
    return rc;
}
