/*
 * data.c - `iotc telemetry tail|query|last`, `iotc raw`, `iotc conformance`: what devices sent
 * (docs/API.md "Telemetry", "Raw data", "Conformance", "Event stream").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* "&from=...&to=..." from --from/--to (relative times resolved here). 0 or CLI_USAGE. */
static int time_query(const struct cli *c, const char *from, const char *to, char *out, size_t size)
{
    char t[64], enc[200];
    out[0] = '\0';
    const char *vals[2] = {from, to};
    for (int i = 0; i < 2; i++) {
        if (vals[i] == NULL)
            continue;
        if (cli_parse_time(vals[i], t, sizeof t) < 0 || cli_pct(t, enc, sizeof enc) < 0)
            return cli_err(c, CLI_USAGE,
                           "option '--%s': '%s' is not an RFC 3339 time (2026-11-26T08:00:00Z) or "
                           "-30s, -10m, -2h, -1d, now",
                           i == 0 ? "from" : "to", vals[i]);
        snprintf(out + strlen(out), size - strlen(out), "%s%s=%s", out[0] ? "&" : "?",
                 i == 0 ? "from" : "to", enc);
    }
    return 0;
}

/* The device sub-path of a telemetry value: [/components/COMP]/telemetry/NAME + suffix. */
static int telemetry_sub(const struct cli *c, const char *comp, const char *name,
                         const char *suffix, char *out, size_t size)
{
    char ec[300], en[300];
    if ((comp != NULL && cli_pct(comp, ec, sizeof ec) < 0) || cli_pct(name, en, sizeof en) < 0)
        return cli_err(c, CLI_USAGE, "component or telemetry name too long");
    snprintf(out, size, "%s%s/telemetry/%s%s", comp ? "/components/" : "", comp ? ec : "", en,
             suffix);
    return 0;
}

static int telemetry_path(const struct cli *c, const char *dev, const char *comp, const char *name,
                          const char *suffix, char *out, size_t size)
{
    char s[800];
    int rc = telemetry_sub(c, comp, name, suffix, s, sizeof s);
    return rc != 0 ? rc : cli_device_path(c, dev, s, out, size);
}

#define TIME_QUERY_MAX 300

/* cli_fetch of up to top entries of the device's sub-path sub, with the query q of time_query;
 * with @p keep, cli_get_all (connected already; nothing printed). */
static int fetch_range(struct cli *c, const char *q, long top, const char *dev, const char *sub,
                       const char *what, bool keep, cJSON **all)
{
    char path[1400];
    int rc = cli_device_path(c, dev, sub, path, sizeof path - TIME_QUERY_MAX);
    if (rc != 0)
        return rc;
    /* fits: the path was bounded to leave room for q */
    snprintf(path + strlen(path), sizeof path - strlen(path), "%s", q);
    if (keep)
        return cli_get_all(c, path, (size_t)top, what, all);
    return cli_fetch(c, path, (size_t)top, what, all);
}

/* ---------------------------------------------------------------- tail */

struct tail {
    struct cli *c;
    bool all;
    long count, seen;
};

static bool on_event(void *user, const char *event, const char *data)
{
    struct tail *t = user;
    if (!t->all && strcmp(event, "telemetry") != 0)
        return true;
    cJSON *d = cJSON_Parse(data);
    if (t->c->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event", event);
        if (d != NULL)
            cJSON_AddItemToObject(o, "data", d);
        else
            cJSON_AddStringToObject(o, "data", data);
        char *s = cJSON_PrintUnformatted(o);
        if (s != NULL)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        const char *time = cli_str(d, "time", "");
        char *what = NULL;
        if (strcmp(event, "command") == 0) {
            const cJSON *code = cJSON_GetObjectItem(d, "responseCode");
            char buf[400];
            snprintf(buf, sizeof buf, "%s %s%s%.0f", cli_str(d, "name", "?"),
                     cli_str(d, "status", "?"), cJSON_IsNumber(code) ? " " : "",
                     cJSON_IsNumber(code) ? code->valuedouble : 0.0);
            if (!cJSON_IsNumber(code)) /* "%.0f" printed a 0 above: cut it */
                buf[strlen(buf) - 1] = '\0';
            what = strdup(buf);
        } else if (strcmp(event, "connection") == 0) {
            what = strdup(cJSON_IsTrue(cJSON_GetObjectItem(d, "connected")) ? "connected"
                                                                            : "disconnected");
        } else {
            const cJSON *payload = cJSON_GetObjectItem(d, "payload");
            what = cli_value_text(payload != NULL ? payload : d);
        }
        const char *comp = cli_str(d, "component", "");
        printf("%-24s %-10s %s%s%s\n", time[0] ? time : "-", event, comp, comp[0] ? ": " : "",
               what ? what : (d ? "" : data));
        free(what);
        cJSON_Delete(d);
    }
    fflush(stdout);
    t->seen++;
    return t->count == 0 || t->seen < t->count;
}

int cmd_telemetry_tail(struct cli *c, int argc, char **argv)
{
    struct tail t = {c, false, 0, 0};
    double timeout = -1; /* -1: not given, follow until Ctrl-C */
    const struct opt o[] = {
        {"count", 0, OPT_LONG, &t.count, 1, 100000000, .arg = "N"},
        {"timeout", 0, OPT_NUM, &timeout, 0, CLI_MAX_SECONDS, .arg = "S"},
        {"all", 0, OPT_FLAG, &t.all, .arg = NULL},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one DEVICE"};
    char path[1000];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    if (timeout == 0)
        return cli_err(c, CLI_USAGE, "--timeout needs a positive number of seconds");
    if (timeout < 0)
        timeout = 0;
    rc = cli_device_path(c, args.pos[0], "/events", path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    if (rc != 0)
        return rc;
    if (!c->json)
        fprintf(stderr, "following %s of device %s (Ctrl-C to stop)\n",
                t.all ? "the events" : "the telemetry", args.pos[0]);
    int64_t start = cli_now_ms();
    rc = cli_sse(c, path, timeout, on_event, &t);
    bool timed_out = rc == 0 && timeout > 0 && !cli_interrupted &&
                     cli_now_ms() - start >= (int64_t)(timeout * 1000) &&
                     (t.count == 0 || t.seen < t.count);
    if (timed_out && t.count > 0)
        rc = cli_err(c, CLI_TIMEOUT, "timed out after %g s: %ld of %ld events", timeout, t.seen,
                     t.count);
    else if (timed_out) /* the end asked for: said, but exit 0 */
        cli_err(c, 0, "timed out after %g s (%ld event%s)", timeout, t.seen,
                t.seen == 1 ? "" : "s");
    else if (rc == 0 && t.count > 0 && t.seen < t.count && !cli_interrupted)
        rc = cli_err(c, CLI_TIMEOUT, "stream ended after %ld of %ld events", t.seen, t.count);
    return rc;
}

/* ---------------------------------------------------------------- query, last */

int cmd_telemetry_query(struct cli *c, int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *comp = NULL;
    long top = 0;
    const struct opt o[] = {
        {"from", 0, OPT_STR, &from, .arg = "T"},
        {"to", 0, OPT_STR, &to, .arg = "T"},
        {"top", 0, OPT_LONG, &top, 1, 100000000, .arg = "N"},
        {"component", 0, OPT_STR, &comp, .arg = "NAME"},
        {0},
    };
    struct cli_args args = {.min = 2, .max = 2, .usage = "DEVICE NAME"};
    char sub[800], q[TIME_QUERY_MAX], what[800];
    cJSON *all = NULL;
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "telemetry %s of device %s", args.pos[1], args.pos[0]);
    rc = time_query(c, from, to, q, sizeof q);
    if (rc == 0)
        rc = telemetry_sub(c, comp, args.pos[1], "/history", sub, sizeof sub);
    if (rc == 0)
        rc = cli_setup(c);
    if (rc == 0)
        rc = fetch_range(c, q, top, args.pos[0], sub, what, true, &all);
    if (rc != 0)
        return rc;
    if (cJSON_GetArraySize(all) == 0) {
        /* nothing in the range: a name the device never sent is an error (exit 3), as for
         * `telemetry last`, which asks the same question of the server */
        char lpath[1400];
        cJSON *lv = NULL;
        rc = telemetry_path(c, args.pos[0], comp, args.pos[1], "", lpath, sizeof lpath);
        if (rc == 0)
            rc = cli_get(c, lpath, what, &lv);
        cJSON_Delete(lv);
        if (rc != 0) {
            cJSON_Delete(all);
            return rc;
        }
    }
    if (c->json) {
        cli_print_list(all);
        cJSON_Delete(all);
        return 0;
    }
    static const char *const head[] = {"TIMESTAMP", "VALUE", "VALID", "ERROR"};
    struct cli_table t;
    cli_table_init(&t, 4, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        char *v = cli_value_text(cJSON_GetObjectItem(e, "value"));
        const cJSON *valid = cJSON_GetObjectItem(e, "valid");
        const char *row[] = {cli_str(e, "timestamp", ""), v,
                             valid == NULL         ? "-"
                             : cJSON_IsTrue(valid) ? "yes"
                                                   : "no",
                             cli_str(e, "error", "")};
        cli_table_add(&t, row);
        free(v);
    }
    cli_table_print(&t, 60, "(no values in that range)");
    cJSON_Delete(all);
    return 0;
}

int cmd_telemetry_last(struct cli *c, int argc, char **argv)
{
    const char *comp = NULL;
    const struct opt o[] = {{"component", 0, OPT_STR, &comp, .arg = "NAME"}, {0}};
    struct cli_args args = {.min = 2, .max = 2, .usage = "DEVICE NAME"};
    char path[1400], what[800];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    rc = telemetry_path(c, args.pos[0], comp, args.pos[1], "", path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    cJSON *v = NULL;
    snprintf(what, sizeof what, "telemetry %s of device %s", args.pos[1], args.pos[0]);
    if (rc == 0)
        rc = cli_show(c, path, what, &v);
    if (rc != 0 || v == NULL)
        return rc;
    char *t = cli_value_text(cJSON_GetObjectItem(v, "value"));
    printf("%s = %s (at %s)\n", args.pos[1], t, cli_str(v, "timestamp", "?"));
    free(t);
    cJSON_Delete(v);
    return 0;
}

/* ---------------------------------------------------------------- raw */

static char *errors_text(const cJSON *errs)
{
    size_t cap = 1, len = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, errs)
    {
        if (cJSON_IsString(e))
            cap += strlen(e->valuestring) + 2;
    }
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    s[0] = '\0';
    cJSON_ArrayForEach(e, errs)
    {
        if (cJSON_IsString(e)) {
            len += (size_t)snprintf(s + len, cap - len, "%s%s", len ? "; " : "", e->valuestring);
        }
    }
    return s;
}

int cmd_raw(struct cli *c, int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    long top = 0;
    const struct opt o[] = {
        {"from", 0, OPT_STR, &from, .arg = "T"},
        {"to", 0, OPT_STR, &to, .arg = "T"},
        {"top", 0, OPT_LONG, &top, 1, 100000000, .arg = "N"},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one DEVICE"};
    char q[TIME_QUERY_MAX], what[800];
    cJSON *all = NULL;
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "raw data of device %s", args.pos[0]);
    rc = time_query(c, from, to, q, sizeof q);
    if (rc == 0)
        rc = fetch_range(c, q, top, args.pos[0], "/rawData", what, false, &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"TIME",    "TYPE",      "COMPONENT",
                                       "PAYLOAD", "UNMODELED", "ERRORS"};
    struct cli_table t;
    cli_table_init(&t, 6, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        const cJSON *um = cJSON_GetObjectItem(e, "unmodeled");
        char *payload = cli_value_text(cJSON_GetObjectItem(e, "payload"));
        char *unmodeled = cJSON_GetArraySize(um) > 0 ? cli_value_text(um) : NULL;
        char *errs = errors_text(cJSON_GetObjectItem(e, "errors"));
        const char *row[] = {cli_str(e, "time", ""),
                             cli_str(e, "type", "?"),
                             cli_str(e, "component", ""),
                             cJSON_GetObjectItem(e, "payload") ? payload : "",
                             unmodeled,
                             errs};
        cli_table_add(&t, row);
        free(payload);
        free(unmodeled);
        free(errs);
    }
    cli_table_print(&t, 60, "(nothing received in that range)");
    cJSON_Delete(all);
    return 0;
}

/* ---------------------------------------------------------------- conformance */

static void print_conformance(const cJSON *r)
{
    const cJSON *e;
    const cJSON *msgs = cJSON_GetObjectItem(r, "messagesChecked");
    const cJSON *reps = cJSON_GetObjectItem(r, "propertyReportsChecked");
    printf("Device %s, template %s: %s\n", cli_str(r, "deviceId", "?"), cli_str(r, "template", "-"),
           cJSON_IsTrue(cJSON_GetObjectItem(r, "conformant")) ? "conformant" : "NOT conformant");
    printf("Checked %.0f messages and %.0f property reports.\n\n",
           cJSON_IsNumber(msgs) ? msgs->valuedouble : 0.0,
           cJSON_IsNumber(reps) ? reps->valuedouble : 0.0);
    static const char *const head[] = {"COMPONENT", "KIND", "NAME", "STATUS", "COUNT", "DETAIL"};
    struct cli_table t;
    cli_table_init(&t, 6, head);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "capabilities"))
    {
        char count[32] = "";
        const cJSON *n = cJSON_GetObjectItem(e, "count");
        if (cJSON_IsNumber(n))
            snprintf(count, sizeof count, "%.0f", n->valuedouble);
        const char *row[] = {cli_str(e, "component", ""),
                             cli_str(e, "kind", "?"),
                             cli_str(e, "name", "?"),
                             cli_str(e, "status", "?"),
                             count,
                             cli_str(e, "detail", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 80, NULL);
    const cJSON *mm = cJSON_GetObjectItem(r, "mismatches");
    printf("\nMismatches:%s\n", cJSON_GetArraySize(mm) ? "" : " none");
    cJSON_ArrayForEach(e, mm)
    {
        const char *comp = cli_str(e, "component", "");
        const cJSON *n = cJSON_GetObjectItem(e, "count");
        printf("  %-20s %s%s%s", cli_str(e, "kind", "?"), comp, comp[0] ? "/" : "",
               cli_str(e, "name", "?"));
        if (cJSON_IsNumber(n))
            printf(" (x%.0f)", n->valuedouble);
        printf(": %s\n", cli_str(e, "message", ""));
    }
}

int cmd_conformance(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one DEVICE"};
    char path[1000], what[800];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc != 0)
        return rc;
    rc = cli_device_path(c, args.pos[0], "/conformance", path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    cJSON *r = NULL;
    snprintf(what, sizeof what, "conformance of device %s", args.pos[0]);
    if (rc == 0)
        rc = cli_get(c, path, what, &r);
    if (rc != 0)
        return rc;
    bool ok = cJSON_IsTrue(cJSON_GetObjectItem(r, "conformant"));
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(r, "mismatches"));
    if (cli_format() == CLI_FMT_JSON)
        cli_print_json(r);
    else if (cli_format() == CLI_FMT_TSV)
        cli_print_tsv_object(r);
    else
        print_conformance(r);
    cJSON_Delete(r);
    if (ok)
        return 0;
    /* checked and found wanting: the device failed, as a rejected property does (exit 2) */
    return cli_err(c, CLI_API, "device %s is not conformant (%d mismatch%s)", args.pos[0], n,
                   n == 1 ? "" : "es");
}
