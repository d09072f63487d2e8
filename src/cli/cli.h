/*
 * cli.h - internals shared by the files of `iotc`, the operator CLI: settings, the REST client
 * (libcurl) for the IoT Central-shaped API of iotc-central (docs/API.md), argument parsing,
 * output helpers, and the subcommand entry points.
 */
#ifndef IOTC_CLI_H
#define IOTC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util/opt.h"

/* Exit codes scripts can rely on (also in `iotc --help` and docs/CLI.md, "Exit codes"). */
enum cli_exit {
    CLI_OK = OPT_EXIT_OK,
    CLI_USAGE = OPT_EXIT_USAGE, /* bad command line (the same code in every program) */
    CLI_API = OPT_EXIT_FAILED,  /* server/API error, unreachable server, device-reported failure */
    CLI_NOTFOUND = 3,           /* HTTP 404: no such device, template, capability, telemetry */
    CLI_TIMEOUT = 4,            /* timed out, or still pending when the wait ended */
    CLI_AUTH = 5,               /* HTTP 401/403: missing, wrong or insufficient token */
};

#define CLI_API_VERSION "2022-07-31"

struct cli {
    /* settings, after cli_setup() */
    char server[512];   /* base URL, no trailing slash */
    char token[1024];   /* Authorization header value; "" = none */
    char ca_file[1100]; /* "" = the system store */
    char data_dir[1024];
    char dps_endpoint[300]; /* host:port from the data dir's ports.json, "" if unknown */
    /* from the command line (NULL when not given) */
    const char *opt_server, *opt_token, *opt_ca, *opt_data_dir;
    const char *opt_output; /* -o/--output json|table|tsv */
    bool json;              /* --json, or -o json */
    bool tsv;               /* -o tsv */
    bool help;
    int verbose;
    const char *prog; /* "iotc templates import" for messages */
    void *curl;       /* CURL *, lazily created */
};

/* ---------------------------------------------------------------- argument parsing */

#define CLI_MAX_POS 64
#define CLI_MAX_SECONDS (365L * 86400) /* longest --timeout */

/** The global options (--server, --token, ...), storing into @p c; ends with {0}. */
#define CLI_GLOBAL_OPTS 9
void cli_global_opts(struct cli *c, struct opt out[CLI_GLOBAL_OPTS]);

/**
 * The positional arguments of a command: how many it takes and what they are called, and,
 * after cli_parse(), the ones given. Set .min, .max and .usage.
 */
struct cli_args {
    int min, max;      /* accepted count; max -1: no limit */
    const char *usage; /* for "expected USAGE (see --help)", e.g. "DEVICE NAME"; unused if max 0 */
    int n;
    const char *pos[CLI_MAX_POS];
};

/**
 * Parse @p argv (after the subcommand words) with util/opt against @p opts (ended by {0}, may
 * be NULL) plus the global options, which are stored in @p c, and check the number of
 * positional arguments against @p a, which gets them. -h/--help and --version are handled by
 * main() before the command runs.
 * @return 0, or CLI_USAGE after printing the reason on stderr.
 */
int cli_parse(struct cli *c, int argc, char **argv, const struct opt *opts, struct cli_args *a);

/** Resolve server, token, CA from options, environment and data dir. 0 or an exit code. */
int cli_setup(struct cli *c);

/** Print "iotc ...: message" on stderr and return @p code. */
int cli_err(const struct cli *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** RFC 3339 time, or relative to now: "-10m", "-2h", "-30s", "-1d", "now". 0 / -1. */
int cli_parse_time(const char *s, char *out, size_t size);

/** Percent-encode a path segment (keeps A-Za-z0-9-._~). 0 / -1 if it does not fit. */
int cli_pct(const char *s, char *out, size_t size);

/**
 * "{base}/{id}{suffix}" with the id percent-encoded into @p out. 0, or CLI_USAGE reported as
 * "@p noun id too long" when it does not fit.
 */
int cli_id_path(const struct cli *c, const char *base, const char *id, const char *suffix,
                char *out, size_t size, const char *noun);

/** "/api/devices/{id}{suffix}" with the id percent-encoded. 0 or CLI_USAGE (reported). */
int cli_device_path(const struct cli *c, const char *id, const char *suffix, char *out,
                    size_t size);

/** Read a whole file (NUL-terminated; caller frees). NULL with errno set. */
char *cli_read_file(const char *path, size_t max, size_t *out_len);

/* ---------------------------------------------------------------- REST client */

struct cli_resp {
    long status; /* HTTP status; 0 when no response */
    cJSON *json; /* parsed body or NULL */
    char *body;  /* raw body (NUL-terminated) */
    size_t len;
    char transport[256]; /* curl's error when status == 0 */
};

/**
 * One request. @p path starts with "/api/..." (already percent-encoded) or is a full URL (a
 * nextLink); "api-version" is added unless present. @p body may be NULL. @p timeout_s bounds
 * the whole exchange. Returns 0 when a response arrived (any status) and -1 otherwise
 * (out->transport says why). Free with cli_resp_free.
 */
int cli_http(struct cli *c, const char *method, const char *path, const cJSON *body, long timeout_s,
             struct cli_resp *out);
void cli_resp_free(struct cli_resp *r);

/**
 * Report a failed exchange (transport error or status >= 300) on stderr, naming @p what,
 * with the API's error code and message. @return the exit code for it.
 */
int cli_fail(const struct cli *c, const struct cli_resp *r, const char *what);

/**
 * Connect (cli_setup) and send @p body with @p method; the answer must be @p created or 200
 * (and carry JSON when @p need_json). @return 0 with *r for the caller to free, or the exit
 * code of the failure (reported; nothing left to free in *r).
 */
int cli_send(struct cli *c, const char *method, const char *path, const cJSON *body, long timeout_s,
             int created, bool need_json, const char *what, struct cli_resp *r);

/**
 * DELETE @p path (connected already) and report it: "deleted KIND ID", or {"id","deleted":true}
 * under --json. @return 0 or the exit code of the failure (reported).
 */
int cli_delete(struct cli *c, const char *path, const char *kind, const char *id);

/** GET expecting 200 with JSON; on failure reports and returns the exit code (else 0). */
int cli_get(struct cli *c, const char *path, const char *what, cJSON **out);

/**
 * GET @p path (cli_get) and, with --json, print it. @return an exit code; on 0, *out is the
 * object for the caller to print as text and free, or NULL when it was already printed as JSON.
 */
int cli_show(struct cli *c, const char *path, const char *what, cJSON **out);

/**
 * GET a collection and follow nextLink until @p limit items (0 = all). @p out gets a new
 * array (caller frees). 0 or an exit code (reported).
 */
int cli_get_all(struct cli *c, const char *path, size_t limit, const char *what, cJSON **out);

/**
 * Connect (cli_setup), fetch up to @p limit items of @p path (cli_get_all) and, with --json,
 * print them. @return an exit code; on 0, *out is the array for the caller to print as a
 * table and free, or NULL when it was already printed as JSON.
 */
int cli_fetch(struct cli *c, const char *path, size_t limit, const char *what, cJSON **out);

/**
 * The common part of `... list [--top N]`: parse the options, fetch every page of @p path and,
 * with --json, print the array. @return an exit code; on 0, *out is the array for the caller to
 * print as a table and free, or NULL when it was already printed as JSON.
 */
int cli_list(struct cli *c, int argc, char **argv, const char *path, const char *what, cJSON **out);

/**
 * Follow a server-sent event stream; @p on_event gets each event (name, data text) and
 * returns true to continue. Ends on @p timeout_s (0 = never), SIGINT/SIGTERM, or when the
 * callback says stop. @return 0 (ended as asked) or an exit code (reported).
 */
int cli_sse(struct cli *c, const char *path, double timeout_s,
            bool (*on_event)(void *user, const char *event, const char *data), void *user);

/** Set by SIGINT/SIGTERM while a wait or a stream is running. */
extern volatile int cli_interrupted;
void cli_catch_signals(void);
void cli_sleep_ms(int ms);
int64_t cli_now_ms(void);

/* ---------------------------------------------------------------- output (output.c) */

enum cli_format { CLI_FMT_TABLE = 0, CLI_FMT_JSON, CLI_FMT_TSV };

/** Settle the output format from --json / -o (cli_parse calls it). 0 or CLI_USAGE (reported). */
int cli_set_format(struct cli *c);
/** The format cli_set_format settled. */
enum cli_format cli_format(void);
/** A list in the API's shape: {"value": [...]} (pages merged, so no nextLink). */
void cli_print_list(const cJSON *items);
/** -o tsv of one object: a "name<TAB>value" line per member (objects as compact JSON). */
void cli_print_tsv_object(const cJSON *o);

/** Print a JSON value (pretty) on stdout. */
void cli_print_json(const cJSON *v);
/** A value as one line of text (strings unquoted); caller frees. */
char *cli_value_text(const cJSON *v);
/** String member or @p dflt. */
const char *cli_str(const cJSON *o, const char *name, const char *dflt);

struct cli_table {
    int ncols;
    const char *head[12];
    char **cells; /* rows * ncols, owned */
    size_t rows, cap;
};
void cli_table_init(struct cli_table *t, int ncols, const char *const *head);
/** Add a row of @p ncols strings (copied; NULL = "-"). */
void cli_table_add(struct cli_table *t, const char *const *vals);
/**
 * Print with aligned columns (cells longer than @p max_width are cut with "..."), free. A table
 * without rows prints the line @p none instead ("(no devices)"), or only its header if NULL.
 * Under -o tsv: the rows only, tab-separated, values whole, no header, no @p none line.
 */
void cli_table_print(struct cli_table *t, size_t max_width, const char *none);

/* ---------------------------------------------------------------- subcommands */

/* One per row of the command table in main.c: cmd_GROUP_VERB, or cmd_GROUP without verbs. */
int cmd_templates_import(struct cli *c, int argc, char **argv);
int cmd_templates_list(struct cli *c, int argc, char **argv);
int cmd_templates_show(struct cli *c, int argc, char **argv);
int cmd_templates_export(struct cli *c, int argc, char **argv);
int cmd_templates_publish(struct cli *c, int argc, char **argv);
int cmd_templates_delete(struct cli *c, int argc, char **argv);
int cmd_devices_create(struct cli *c, int argc, char **argv);
int cmd_devices_list(struct cli *c, int argc, char **argv);
int cmd_devices_show(struct cli *c, int argc, char **argv);
int cmd_devices_credentials(struct cli *c, int argc, char **argv);
int cmd_devices_block(struct cli *c, int argc, char **argv);
int cmd_devices_unblock(struct cli *c, int argc, char **argv);
int cmd_devices_delete(struct cli *c, int argc, char **argv);
int cmd_devices_update(struct cli *c, int argc, char **argv);
int cmd_devices_compute_key(struct cli *c, int argc, char **argv);
int cmd_devgroups_list(struct cli *c, int argc, char **argv);
int cmd_devgroups_show(struct cli *c, int argc, char **argv);
int cmd_devgroups_create(struct cli *c, int argc, char **argv);
int cmd_devgroups_delete(struct cli *c, int argc, char **argv);
int cmd_devgroups_devices(struct cli *c, int argc, char **argv);
int cmd_jobs_list(struct cli *c, int argc, char **argv);
int cmd_jobs_show(struct cli *c, int argc, char **argv);
int cmd_jobs_create(struct cli *c, int argc, char **argv);
int cmd_jobs_devices(struct cli *c, int argc, char **argv);
int cmd_jobs_stop(struct cli *c, int argc, char **argv);
int cmd_jobs_resume(struct cli *c, int argc, char **argv);
int cmd_jobs_rerun(struct cli *c, int argc, char **argv);
int cmd_rules_list(struct cli *c, int argc, char **argv);
int cmd_rules_show(struct cli *c, int argc, char **argv);
int cmd_rules_create(struct cli *c, int argc, char **argv);
int cmd_rules_update(struct cli *c, int argc, char **argv);
int cmd_rules_delete(struct cli *c, int argc, char **argv);
int cmd_rules_devices(struct cli *c, int argc, char **argv);
int cmd_alerts_list(struct cli *c, int argc, char **argv);
int cmd_alerts_ack(struct cli *c, int argc, char **argv);
int cmd_groups_list(struct cli *c, int argc, char **argv);
int cmd_groups_show(struct cli *c, int argc, char **argv);
int cmd_groups_create(struct cli *c, int argc, char **argv);
int cmd_groups_update(struct cli *c, int argc, char **argv);
int cmd_groups_delete(struct cli *c, int argc, char **argv);
int cmd_groups_regenerate_key(struct cli *c, int argc, char **argv);
/* x509.c */
int cmd_groups_certificate(struct cli *c, int argc, char **argv);
int cmd_devices_attestation(struct cli *c, int argc, char **argv);
int cmd_properties_get(struct cli *c, int argc, char **argv);
int cmd_properties_set(struct cli *c, int argc, char **argv);
int cmd_command_run(struct cli *c, int argc, char **argv);
int cmd_command_history(struct cli *c, int argc, char **argv);
int cmd_telemetry_tail(struct cli *c, int argc, char **argv);
int cmd_telemetry_query(struct cli *c, int argc, char **argv);
int cmd_telemetry_last(struct cli *c, int argc, char **argv);
int cmd_raw(struct cli *c, int argc, char **argv);
int cmd_conformance(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_tokens_create(struct cli *c, int argc, char **argv);
int cmd_destinations_put(struct cli *c, int argc, char **argv);
int cmd_destinations_list(struct cli *c, int argc, char **argv);
int cmd_destinations_show(struct cli *c, int argc, char **argv);
int cmd_destinations_delete(struct cli *c, int argc, char **argv);
int cmd_exports_put(struct cli *c, int argc, char **argv);
int cmd_exports_list(struct cli *c, int argc, char **argv);
int cmd_exports_show(struct cli *c, int argc, char **argv);
int cmd_exports_delete(struct cli *c, int argc, char **argv);
int cmd_tokens_list(struct cli *c, int argc, char **argv);
int cmd_tokens_delete(struct cli *c, int argc, char **argv);
int cmd_tokens_show(struct cli *c, int argc, char **argv);

/** Print the help of one command ("templates import") or of a group (verb NULL). */
void cli_help(const char *group, const char *verb);

#endif
