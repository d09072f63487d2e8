/*
 * export.c - `iotc destinations put|list|show|delete` and `iotc exports put|list|show|delete`:
 * data export definitions (administrator only; docs/EXPORT.md). They speak api-version
 * 2022-10-31-preview, the version IoT Central's data export API has.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define EXPORT_API "api-version=2022-10-31-preview"
#define BODY_FILE_MAX (256 * 1024)

static const char *collection(bool exports)
{
    return exports ? "/api/dataExport/exports" : "/api/dataExport/destinations";
}

static const char *noun(bool exports)
{
    return exports ? "export" : "destination";
}

static int item_path(const struct cli *c, bool exports, const char *id, char *out, size_t size)
{
    char enc[400];
    if (cli_pct(id, enc, sizeof enc) < 0)
        return cli_err(c, CLI_USAGE, "%s id too long", noun(exports));
    snprintf(out, size, "%s/%s?" EXPORT_API, collection(exports), enc);
    return 0;
}

/* The definition from --body JSON or --file FILE (exactly one). */
static cJSON *read_body(const struct cli *c, const char *body, const char *file, int *out_rc)
{
    char *text = NULL;
    size_t len = 0;
    *out_rc = 0;
    if ((body == NULL) == (file == NULL)) {
        *out_rc = cli_err(c, CLI_USAGE, "give the definition with --body JSON or --file FILE");
        return NULL;
    }
    if (file != NULL) {
        text = cli_read_file(file, BODY_FILE_MAX, &len);
        if (text == NULL) {
            *out_rc = cli_err(c, CLI_USAGE, "cannot read %s: %s", file, strerror(errno));
            return NULL;
        }
    }
    cJSON *doc = text != NULL ? cJSON_ParseWithLength(text, len) : cJSON_Parse(body);
    free(text);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        *out_rc = cli_err(c, CLI_USAGE, "the definition is not a JSON object");
        return NULL;
    }
    return doc;
}

static int put(struct cli *c, int argc, char **argv, bool exports)
{
    const char *body = NULL, *file = NULL;
    bool patch = false;
    const struct opt o[] = {
        {"body", 0, OPT_STR, &body, .arg = "JSON"},
        {"file", 0, OPT_STR, &file, .arg = "FILE"},
        {"patch", 0, OPT_FLAG, &patch, .help = NULL},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one ID"};
    char path[600], what[600];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    cJSON *doc = read_body(c, body, file, &rc);
    if (doc == NULL)
        return rc;
    rc = item_path(c, exports, args.pos[0], path, sizeof path);
    struct cli_resp r;
    snprintf(what, sizeof what, "cannot save %s %s", noun(exports), args.pos[0]);
    if (rc == 0)
        rc = cli_send(c, patch ? "PATCH" : "PUT", path, doc, 60, 200, true, what, &r);
    cJSON_Delete(doc);
    if (rc != 0)
        return rc;
    if (c->json)
        cli_print_json(r.json);
    else
        printf("saved %s %s: %s\n", noun(exports), args.pos[0], cli_str(r.json, "status", "?"));
    cli_resp_free(&r);
    return 0;
}

static int list(struct cli *c, int argc, char **argv, bool exports)
{
    struct cli_args args = {.min = 0, .max = 0};
    char path[200], what[100];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc != 0)
        return rc;
    snprintf(path, sizeof path, "%s?" EXPORT_API, collection(exports));
    snprintf(what, sizeof what, "cannot list %ss", noun(exports));
    cJSON *all = NULL;
    rc = cli_fetch(c, path, 0, what, &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const dhead[] = {"ID", "TYPE", "STATUS", "NAME"};
    static const char *const xhead[] = {"ID",     "SOURCE",  "STATUS", "DELIVERED",
                                        "FAILED", "LAG MSG", "LAG S",  "LAST ERROR"};
    struct cli_table t;
    cli_table_init(&t, exports ? 8 : 4, exports ? xhead : dhead);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        if (!exports) {
            const char *row[] = {cli_str(e, "id", "?"), cli_str(e, "type", "?"),
                                 cli_str(e, "status", "?"), cli_str(e, "displayName", "")};
            cli_table_add(&t, row);
            continue;
        }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "stats");
        char n[4][32];
        static const char *const k[] = {"delivered", "failed", "lagMessages", "lagSeconds"};
        for (int i = 0; i < 4; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, k[i]);
            snprintf(n[i], sizeof n[i], "%.0f", cJSON_IsNumber(v) ? v->valuedouble : 0.0);
        }
        const cJSON *err0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "errors"), 0);
        const char *row[] = {cli_str(e, "id", "?"),
                             cli_str(e, "source", "?"),
                             cli_str(e, "status", "?"),
                             n[0],
                             n[1],
                             n[2],
                             n[3],
                             cli_str(err0, "message", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 120, exports ? "(no exports)" : "(no destinations)");
    cJSON_Delete(all);
    return 0;
}

static int show(struct cli *c, int argc, char **argv, bool exports)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one ID"};
    char path[600], what[600];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = item_path(c, exports, args.pos[0], path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "cannot show %s %s", noun(exports), args.pos[0]);
    cJSON *doc = NULL;
    rc = cli_show(c, path, what, &doc);
    if (rc == 0 && doc != NULL)
        cli_print_json(doc); /* the definition is the useful text form too */
    cJSON_Delete(doc);
    return rc;
}

static int del(struct cli *c, int argc, char **argv, bool exports)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one ID"};
    char path[600];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = item_path(c, exports, args.pos[0], path, sizeof path);
    if (rc == 0)
        rc = cli_setup(c);
    return rc != 0 ? rc : cli_delete(c, path, noun(exports), args.pos[0]);
}

int cmd_destinations_put(struct cli *c, int argc, char **argv)
{
    return put(c, argc, argv, false);
}
int cmd_destinations_list(struct cli *c, int argc, char **argv)
{
    return list(c, argc, argv, false);
}
int cmd_destinations_show(struct cli *c, int argc, char **argv)
{
    return show(c, argc, argv, false);
}
int cmd_destinations_delete(struct cli *c, int argc, char **argv)
{
    return del(c, argc, argv, false);
}
int cmd_exports_put(struct cli *c, int argc, char **argv)
{
    return put(c, argc, argv, true);
}
int cmd_exports_list(struct cli *c, int argc, char **argv)
{
    return list(c, argc, argv, true);
}
int cmd_exports_show(struct cli *c, int argc, char **argv)
{
    return show(c, argc, argv, true);
}
int cmd_exports_delete(struct cli *c, int argc, char **argv)
{
    return del(c, argc, argv, true);
}
