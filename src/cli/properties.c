/*
 * properties.c - `iotc properties get|set`: reported and writable properties with their sync
 * state; `set` writes, then polls until the device acknowledged every value
 * (docs/API.md "Properties"; pending -> synced | failed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define POLL_MS 300

static int props_path(const struct cli *c, const char *dev, const char *comp, char *out,
                      size_t size)
{
    char suffix[600] = "/properties";
    if (comp != NULL) {
        char enc[300];
        if (cli_pct(comp, enc, sizeof enc) < 0)
            return cli_err(c, CLI_USAGE, "component name too long");
        snprintf(suffix, sizeof suffix, "/components/%s/properties", enc);
    }
    return cli_device_path(c, dev, suffix, out, size);
}

/* The customizations of the device's template (Online/Offline names of booleans), or NULL.
 * Display only: any failure just leaves the raw values. Caller frees. */
static cJSON *customizations(struct cli *c, const char *dev)
{
    char path[1200], enc[1024];
    struct cli_resp r;
    cJSON *out = NULL;
    if (cli_device_path(c, dev, "", path, sizeof path) != 0)
        return NULL;
    if (cli_http(c, "GET", path, NULL, 30, &r) == 0 && r.status == 200) {
        const char *tid = cli_str(r.json, "template", NULL);
        if (tid != NULL && cli_pct(tid, enc, sizeof enc) == 0) {
            struct cli_resp t;
            snprintf(path, sizeof path, "/api/deviceTemplates/%s", enc);
            if (cli_http(c, "GET", path, NULL, 30, &t) == 0 && t.status == 200)
                out = cJSON_DetachItemFromObjectCaseSensitive(t.json, "customizations");
            cli_resp_free(&t);
        }
    }
    cli_resp_free(&r);
    return out;
}

/* "true (Online)" when the template names that boolean value. Caller frees. */
static char *shown_value(const cJSON *v, const cJSON *custom, const char *key)
{
    char *text = cli_value_text(v);
    const cJSON *cz = cJSON_GetObjectItemCaseSensitive(custom, key);
    const char *label = cJSON_IsTrue(v)    ? cli_str(cz, "trueName", NULL)
                        : cJSON_IsFalse(v) ? cli_str(cz, "falseName", NULL)
                                           : NULL;
    if (label == NULL || text == NULL)
        return text;
    size_t n = strlen(text) + strlen(label) + 4;
    char *both = malloc(n);
    if (both != NULL)
        snprintf(both, n, "%s (%s)", text, label);
    free(text);
    return both;
}

static void add_rows(struct cli_table *t, const cJSON *obj, const char *prefix, const cJSON *custom)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "$metadata");
    const cJSON *e;
    cJSON_ArrayForEach(e, obj)
    {
        if (strcmp(e->string, "$metadata") == 0)
            continue;
        char name[300];
        snprintf(name, sizeof name, "%s%s", prefix, e->string);
        /* a component: an object with its own $metadata */
        if (cJSON_IsObject(e) && cJSON_GetObjectItemCaseSensitive(e, "$metadata") != NULL) {
            char sub[310];
            snprintf(sub, sizeof sub, "%s/", name);
            add_rows(t, e, sub, custom);
            continue;
        }
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(md, e->string);
        char *value = shown_value(e, custom, name);
        char ver[32] = "", ack[300] = "";
        const cJSON *dv = cJSON_GetObjectItem(m, "desiredVersion");
        const cJSON *ac = cJSON_GetObjectItem(m, "ackCode");
        const cJSON *av = cJSON_GetObjectItem(m, "ackVersion");
        if (cJSON_IsNumber(dv))
            snprintf(ver, sizeof ver, "%.0f", dv->valuedouble);
        if (cJSON_IsNumber(ac))
            snprintf(ack, sizeof ack, "%.0f v%.0f %s", ac->valuedouble,
                     cJSON_IsNumber(av) ? av->valuedouble : 0.0, cli_str(m, "ackDescription", ""));
        const char *row[] = {name, value, cli_str(m, "state", "reported"),
                             ver,  ack,   cli_str(m, "lastUpdateTime", "")};
        cli_table_add(t, row);
        free(value);
    }
}

int cmd_properties_get(struct cli *c, int argc, char **argv)
{
    const char *comp = NULL;
    const struct opt o[] = {{"component", 0, OPT_STR, &comp, .arg = "NAME"}, {0}};
    struct cli_args args = {.min = 1, .max = 1, .usage = "one DEVICE"};
    char path[1200], what[800];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    rc = props_path(c, args.pos[0], comp, path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    cJSON *p = NULL;
    snprintf(what, sizeof what, "properties of device %s", args.pos[0]);
    if (rc == 0)
        rc = cli_show(c, path, what, &p);
    if (rc != 0 || p == NULL)
        return rc;
    static const char *const head[] = {"NAME", "VALUE", "STATE", "DESIRED", "ACK", "LAST UPDATE"};
    struct cli_table t;
    cli_table_init(&t, 6, head);
    char prefix[300] = "";
    if (comp != NULL)
        snprintf(prefix, sizeof prefix, "%s/", comp);
    cJSON *custom = customizations(c, args.pos[0]);
    add_rows(&t, p, prefix, custom);
    cJSON_Delete(custom);
    cli_table_print(&t, 60, "(no properties yet)");
    cJSON_Delete(p);
    return 0;
}

struct pending {
    const char *name;
    double version; /* desired version our write got */
    int state;      /* 0 pending, 1 synced, 2 failed */
};

int cmd_properties_set(struct cli *c, int argc, char **argv)
{
    const char *comp = NULL;
    bool wait_opt = false, no_wait = false;
    double timeout = 30;
    const struct opt o[] = {
        {"component", 0, OPT_STR, &comp, .arg = "NAME"},
        {"wait", 0, OPT_FLAG, &wait_opt, .arg = NULL},
        {"no-wait", 0, OPT_FLAG, &no_wait, .arg = NULL},
        {"timeout", 0, OPT_NUM, &timeout, 0, CLI_MAX_SECONDS, .arg = "S"},
        {0},
    };
    struct cli_args args = {.min = 2, .max = -1, .usage = "DEVICE NAME=VALUE..."};
    char path[1200], what[800];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    if (wait_opt && no_wait)
        return cli_err(c, CLI_USAGE, "--wait and --no-wait exclude each other");
    if (timeout <= 0)
        return cli_err(c, CLI_USAGE, "--timeout needs a positive number of seconds");
    cJSON *body = cJSON_CreateObject();
    for (int i = 1; i < args.n; i++) {
        const char *eq = strchr(args.pos[i], '=');
        if (eq == NULL || eq == args.pos[i]) {
            cJSON_Delete(body);
            return cli_err(c, CLI_USAGE, "expected NAME=VALUE, got \"%s\"", args.pos[i]);
        }
        char name[256];
        size_t n = (size_t)(eq - args.pos[i]);
        if (n >= sizeof name) {
            cJSON_Delete(body);
            return cli_err(c, CLI_USAGE, "property name too long");
        }
        memcpy(name, args.pos[i], n);
        name[n] = '\0';
        cJSON *v = cJSON_Parse(eq + 1);
        if (v == NULL)
            v = cJSON_CreateString(eq + 1);
        cJSON_DeleteItemFromObjectCaseSensitive(body, name);
        cJSON_AddItemToObject(body, name, v);
    }
    struct cli_resp r;
    snprintf(what, sizeof what, "cannot set properties of device %s", args.pos[0]);
    rc = props_path(c, args.pos[0], comp, path, sizeof path);
    if (rc == 0)
        rc = cli_send(c, "PATCH", path, body, 60, 202, false, what, &r);
    if (rc != 0) {
        cJSON_Delete(body);
        return rc;
    }
    /* an offline device gets the write when it connects: say so now, not after the wait */
    char dpath[1000];
    struct cli_resp dr;
    if (cli_device_path(c, args.pos[0], "", dpath, sizeof dpath) == 0 &&
        cli_http(c, "GET", dpath, NULL, 60, &dr) == 0) {
        if (dr.status == 200 && cJSON_IsFalse(cJSON_GetObjectItem(dr.json, "connected")))
            cli_err(c, 0, "queued: the device is offline; it gets the value when it connects");
        cli_resp_free(&dr);
    }
    fflush(stderr);
    /* what the server assigned: one desired version per written name */
    size_t np = (size_t)cJSON_GetArraySize(body), done = 0;
    struct pending *p = calloc(np ? np : 1, sizeof *p);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(r.json, "$metadata");
    const cJSON *e;
    size_t k = 0;
    cJSON_ArrayForEach(e, body)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(md, e->string);
        const cJSON *dv = cJSON_GetObjectItem(m, "desiredVersion");
        p[k].name = e->string;
        p[k].version = cJSON_IsNumber(dv) ? dv->valuedouble : 0;
        if (!c->json) {
            char *v = cli_value_text(e);
            printf("%s = %s: %s (desired version %.0f)\n", e->string, v,
                   cli_str(m, "state", "pending"), p[k].version);
            free(v);
        }
        k++;
    }
    fflush(stdout);
    bool wait = !no_wait;
    cJSON *last = NULL;
    int64_t start = cli_now_ms(), deadline = start + (int64_t)(timeout * 1000);
    if (wait)
        cli_catch_signals();
    while (wait && done < np && rc == 0) {
        cJSON *cur = NULL;
        snprintf(what, sizeof what, "properties of device %s", args.pos[0]);
        rc = cli_get(c, path, what, &cur);
        if (rc != 0)
            break;
        cJSON_Delete(last);
        last = cur;
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(cur, "$metadata");
        for (size_t i = 0; i < np; i++) {
            if (p[i].state != 0)
                continue;
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(cmd, p[i].name);
            const cJSON *av = cJSON_GetObjectItem(m, "ackVersion");
            const char *st = cli_str(m, "state", "");
            if (!cJSON_IsNumber(av) || av->valuedouble < p[i].version)
                continue;
            if (strcmp(st, "synced") == 0)
                p[i].state = 1;
            else if (strcmp(st, "failed") == 0)
                p[i].state = 2;
            else
                continue;
            done++;
            const cJSON *ac = cJSON_GetObjectItem(m, "ackCode");
            if (!c->json)
                printf("%s: %s (ac %.0f \"%s\", version %.0f, after %.1f s)\n", p[i].name, st,
                       cJSON_IsNumber(ac) ? ac->valuedouble : 0.0, cli_str(m, "ackDescription", ""),
                       av->valuedouble, (double)(cli_now_ms() - start) / 1000.0);
            if (p[i].state == 2)
                cli_err(c, CLI_API, "device %s rejected %s: ac %.0f %s", args.pos[0], p[i].name,
                        cJSON_IsNumber(ac) ? ac->valuedouble : 0.0,
                        cli_str(m, "ackDescription", ""));
            fflush(stdout);
        }
        if (done == np)
            break;
        if (cli_interrupted || cli_now_ms() >= deadline) {
            char names[600] = "";
            for (size_t i = 0; i < np; i++) {
                if (p[i].state == 0)
                    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                             names[0] ? ", " : "", p[i].name);
            }
            rc = cli_err(c, CLI_TIMEOUT, "%s after %.0f s; still pending: %s",
                         cli_interrupted ? "interrupted" : "timed out", timeout, names);
            break;
        }
        cli_sleep_ms(POLL_MS);
    }
    for (size_t i = 0; i < np && rc == 0; i++) {
        if (p[i].state == 2)
            rc = CLI_API;
    }
    if (c->json) {
        /* the metadata of the written names, as last seen */
        const cJSON *src = last ? cJSON_GetObjectItemCaseSensitive(last, "$metadata") : md;
        cJSON *out = cJSON_CreateObject();
        for (size_t i = 0; i < np; i++) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(src, p[i].name);
            if (m != NULL)
                cJSON_AddItemToObject(out, p[i].name, cJSON_Duplicate(m, 1));
        }
        cJSON *wrap = cJSON_CreateObject();
        cJSON_AddItemToObject(wrap, "$metadata", out);
        cli_print_json(wrap);
        cJSON_Delete(wrap);
    }
    cJSON_Delete(last);
    free(p);
    cli_resp_free(&r);
    cJSON_Delete(body);
    return rc;
}
