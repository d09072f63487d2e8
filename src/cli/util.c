/*
 * util.c - iotc CLI: command-line parsing, settings (flags, environment, data dir), numbers and
 * times, percent-encoding, files, and the text output helpers (tables, JSON).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"

volatile int cli_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_err(const struct cli *c, int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", c->prog ? c->prog : "iotc");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* ---------------------------------------------------------------- arguments */

void cli_global_opts(struct cli *c, struct opt out[CLI_GLOBAL_OPTS])
{
    const struct opt g[CLI_GLOBAL_OPTS] = {
        {"server", 0, OPT_STR, &c->opt_server, .arg = "URL", .help = "iotc-central's address"},
        {"token", 0, OPT_STR, &c->opt_token, .arg = "TOKEN", .help = "API token"},
        {"ca-file", 0, OPT_STR, &c->opt_ca, .arg = "FILE", .help = "CA certificates to trust"},
        {"data-dir", 0, OPT_STR, &c->opt_data_dir, .arg = "DIR", .help = "a local data dir"},
        {"json", 0, OPT_FLAG, &c->json, .help = "print JSON (-o json)"},
        {"output", 'o', OPT_STR, &c->opt_output, .arg = "FMT", .help = "json, table or tsv"},
        {"verbose", 'v', OPT_COUNT, &c->verbose, .help = "print requests"},
        {"help", 'h', OPT_FLAG, &c->help, .help = "help"},
        {0},
    };
    memcpy(out, g, sizeof g);
}

int cli_parse(struct cli *c, int argc, char **argv, const struct opt *opts, struct cli_args *a)
{
    struct opt all[40];
    size_t n = 0;
    for (const struct opt *o = opts; o != NULL && o->kind != OPT_END; o++) {
        if (n >= sizeof all / sizeof all[0] - CLI_GLOBAL_OPTS)
            return cli_err(c, CLI_USAGE, "too many options");
        all[n++] = *o;
    }
    cli_global_opts(c, all + n);
    const struct opt_prog prog = {.name = c->prog ? c->prog : "iotc"};
    int first = 0;
    a->n = 0;
    int rc = opt_parse(&prog, all, argc, argv, &first);
    if (rc != OPT_CONTINUE)
        return rc == OPT_EXIT_OK ? CLI_USAGE : rc; /* help and version: main() already did */
    if (argc - first > CLI_MAX_POS)
        return opt_error(&prog, "too many arguments");
    for (int i = first; i < argc; i++)
        a->pos[a->n++] = argv[i];
    if (cli_set_format(c) != 0)
        return CLI_USAGE;
    if (a->max == 0 && a->n > 0)
        return cli_err(c, CLI_USAGE, "unexpected argument '%s' (see --help)", a->pos[0]);
    if (a->n < a->min || (a->max >= 0 && a->n > a->max))
        return cli_err(c, CLI_USAGE, "expected %s (see --help)", a->usage);
    return 0;
}

static bool copy_str(char *out, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (n >= size)
        return false;
    memcpy(out, s, n + 1);
    return true;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* ports.json of a running (or last) server: {"mqtts":N,"https":N,"pid":N,...}.
 * *out_pid: the server's pid when the file names one, else 0. */
static int read_ports(struct cli *c, long *out_https, long *out_pid)
{
    *out_pid = 0;
    char path[1200];
    snprintf(path, sizeof path, "%s/ports.json", c->data_dir);
    char *text = cli_read_file(path, 65536, NULL);
    if (text == NULL)
        return -1;
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "https");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "mqtts");
    int rc = -1;
    if (cJSON_IsNumber(h) && h->valuedouble > 0 && h->valuedouble < 65536) {
        *out_https = (long)h->valuedouble;
        rc = 0;
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pid");
    if (cJSON_IsNumber(p) && p->valuedouble > 0 && p->valuedouble < 2147483648.0)
        *out_pid = (long)p->valuedouble;
    if (cJSON_IsNumber(m) && m->valuedouble > 0 && m->valuedouble < 65536)
        snprintf(c->dps_endpoint, sizeof c->dps_endpoint, "localhost:%ld", (long)m->valuedouble);
    cJSON_Delete(o);
    return rc;
}

int cli_setup(struct cli *c)
{
    const char *v;
    c->server[0] = c->token[0] = c->ca_file[0] = c->data_dir[0] = c->dps_endpoint[0] = '\0';
    v = c->opt_data_dir ? c->opt_data_dir : getenv("IOTC_DATA_DIR");
    if (v != NULL && v[0] != '\0' && !copy_str(c->data_dir, sizeof c->data_dir, v))
        return cli_err(c, CLI_USAGE, "data dir path too long");

    /* Server: --server, IOTC_SERVER, then the data dir's ports.json. */
    v = c->opt_server ? c->opt_server : getenv("IOTC_SERVER");
    if (v != NULL && v[0] != '\0') {
        if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
            return cli_err(c, CLI_USAGE, "server URL must start with https:// (got %s)", v);
        if (!copy_str(c->server, sizeof c->server, v))
            return cli_err(c, CLI_USAGE, "server URL too long");
        size_t n = strlen(c->server);
        while (n > 0 && c->server[n - 1] == '/')
            c->server[--n] = '\0';
        if (c->data_dir[0] != '\0') {
            long ignored, ignored_pid;
            (void)read_ports(c, &ignored, &ignored_pid); /* for the DPS endpoint only */
        }
    } else if (c->data_dir[0] != '\0') {
        long port = 0, pid = 0;
        if (read_ports(c, &port, &pid) < 0)
            return cli_err(c, CLI_USAGE,
                           "no server address in %s/ports.json (is `iotc-central serve "
                           "--data-dir %s` running?)",
                           c->data_dir, c->data_dir);
        /* A server stopped cleanly removes ports.json; one that was killed leaves it behind.
         * The data dir is local, so its pid can be checked here. */
        if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            return cli_err(c, CLI_API,
                           "the server of %s is not running: %s/ports.json names pid %ld, "
                           "which has exited (start it with `iotc-central serve --data-dir %s`)",
                           c->data_dir, c->data_dir, pid, c->data_dir);
        snprintf(c->server, sizeof c->server, "https://localhost:%ld", port);
    } else {
        return cli_err(c, CLI_USAGE,
                       "no server: give --server URL, set IOTC_SERVER, or use --data-dir DIR");
    }

    /* Token: --token, IOTC_TOKEN, then DATA_DIR/admin-token. */
    v = c->opt_token ? c->opt_token : getenv("IOTC_TOKEN");
    if (v != NULL && v[0] != '\0') {
        if (!copy_str(c->token, sizeof c->token, v))
            return cli_err(c, CLI_USAGE, "token too long");
    } else if (c->data_dir[0] != '\0') {
        char path[1200];
        snprintf(path, sizeof path, "%s/admin-token", c->data_dir);
        char *t = cli_read_file(path, 4096, NULL);
        if (t != NULL) {
            char *nl = strchr(t, '\n');
            if (nl != NULL)
                *nl = '\0';
            trim(t);
            bool ok = copy_str(c->token, sizeof c->token, t);
            free(t);
            if (!ok)
                return cli_err(c, CLI_USAGE, "token in %s too long", path);
        }
    }

    /* CA: --ca-file, IOTC_CA_FILE, then DATA_DIR/ca.pem; otherwise the system store. */
    v = c->opt_ca ? c->opt_ca : getenv("IOTC_CA_FILE");
    if (v != NULL && v[0] != '\0') {
        if (!copy_str(c->ca_file, sizeof c->ca_file, v))
            return cli_err(c, CLI_USAGE, "CA file path too long");
    } else if (c->data_dir[0] != '\0') {
        snprintf(c->ca_file, sizeof c->ca_file, "%s/ca.pem", c->data_dir);
    }
    if (c->ca_file[0] != '\0') {
        struct stat st;
        if (stat(c->ca_file, &st) != 0)
            return cli_err(c, CLI_USAGE, "cannot read CA file %s: %s", c->ca_file, strerror(errno));
    }
    return 0;
}

/* ---------------------------------------------------------------- values */

static void format_time(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int cli_parse_time(const char *s, char *out, size_t size)
{
    if (s == NULL || size < 32)
        return -1;
    time_t now = time(NULL);
    if (strcmp(s, "now") == 0) {
        format_time(now, out, size);
        return 0;
    }
    if (s[0] == '-') {
        char *end;
        errno = 0;
        long n = strtol(s + 1, &end, 10);
        long mul = 0;
        if (end == s + 1 || errno != 0 || n < 0 || n > 100000000)
            return -1;
        if (strcmp(end, "s") == 0)
            mul = 1;
        else if (strcmp(end, "m") == 0)
            mul = 60;
        else if (strcmp(end, "h") == 0)
            mul = 3600;
        else if (strcmp(end, "d") == 0)
            mul = 86400;
        else
            return -1;
        format_time(now - (time_t)(n * mul), out, size);
        return 0;
    }
    /* Absolute: the server checks RFC 3339 itself; only refuse what cannot be one. */
    size_t n = strlen(s);
    if (n < 10 || n >= size || s[4] != '-' || s[7] != '-')
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || strchr("-:.TZ+", s[i]) != NULL))
            return -1;
    }
    memcpy(out, s, n + 1);
    return 0;
}

int cli_pct(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (o + (keep ? 1 : 3) >= size)
            return -1;
        if (keep) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

int cli_id_path(const struct cli *c, const char *base, const char *id, const char *suffix,
                char *out, size_t size, const char *noun)
{
    size_t n = strlen(base);
    if (n + 1 < size) {
        memcpy(out, base, n);
        out[n++] = '/';
        if (cli_pct(id, out + n, size - n) == 0) {
            n += strlen(out + n);
            if (n + strlen(suffix) < size) {
                memcpy(out + n, suffix, strlen(suffix) + 1);
                return 0;
            }
        }
    }
    return cli_err(c, CLI_USAGE, "%s id too long", noun);
}

char *cli_read_file(const char *path, size_t max, size_t *out_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
                errno = EIO;
            }
            break;
        }
        if (cap >= max) {
            free(buf);
            buf = NULL;
            errno = EFBIG;
            break;
        }
        cap = cap * 2 > max ? max : cap * 2;
        char *nb = realloc(buf, cap + 1);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
            errno = ENOMEM;
            break;
        }
        buf = nb;
    }
    if (f != stdin)
        fclose(f);
    if (buf != NULL) {
        buf[len] = '\0';
        if (out_len != NULL)
            *out_len = len;
    }
    return buf;
}
