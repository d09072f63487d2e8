/*
 * templates.c - `iotc templates import|list|show|export|publish`: device templates
 * (PUT/GET/PATCH /api/deviceTemplates, POST .../publish; docs/API.md "Device templates").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define TEMPLATE_FILE_MAX (4u * 1024 * 1024) /* the server takes 1 MiB; let it say so */

static int template_path(const struct cli *c, const char *id, const char *suffix, char *out,
                         size_t size)
{
    return cli_id_path(c, "/api/deviceTemplates", id, suffix, out, size, "template");
}

/* Parse a JSON file; on failure say where (line and column) and return NULL. */
static cJSON *load_json(const struct cli *c, const char *path, int *out_rc)
{
    size_t len = 0;
    char *text = cli_read_file(path, TEMPLATE_FILE_MAX, &len);
    if (text == NULL) {
        *out_rc = cli_err(c, CLI_USAGE, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (doc == NULL) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at != NULL && at >= text && at <= text + len ? (size_t)(at - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            col++;
            if (text[i] == '\n') {
                line++;
                col = 1;
            }
        }
        *out_rc =
            cli_err(c, CLI_USAGE, "%s is not valid JSON (line %d, column %d)", path, line, col);
    }
    free(text);
    return doc;
}

static const char *doc_id(const cJSON *doc)
{
    if (cJSON_IsArray(doc))
        doc = cJSON_GetArrayItem(doc, 0);
    return cli_str(doc, "@id", NULL);
}

/* Merge the views of @p extra into @p views: same id replaces, new ids are appended. */
static void merge_views(cJSON *views, const cJSON *extra)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, extra)
    {
        const char *id = cli_str(v, "id", NULL);
        int idx = 0, found = -1;
        const cJSON *old;
        cJSON_ArrayForEach(old, views)
        {
            const char *oid = cli_str(old, "id", NULL);
            if (id != NULL && oid != NULL && strcmp(id, oid) == 0)
                found = idx;
            idx++;
        }
        if (found >= 0)
            cJSON_ReplaceItemInArray(views, found, cJSON_Duplicate(v, 1));
        else
            cJSON_AddItemToArray(views, cJSON_Duplicate(v, 1));
    }
}

static int add_views(struct cli *c, const char *id, const char *views_file, cJSON **tmpl)
{
    int rc = 0;
    cJSON *extra = load_json(c, views_file, &rc);
    if (extra == NULL)
        return rc;
    const cJSON *views = cJSON_IsArray(extra) ? extra : cJSON_GetObjectItem(extra, "views");
    const cJSON *custom =
        cJSON_IsObject(extra) ? cJSON_GetObjectItem(extra, "customizations") : NULL;
    if ((views != NULL && !cJSON_IsArray(views)) || (custom != NULL && !cJSON_IsObject(custom)) ||
        (views == NULL && custom == NULL)) {
        cJSON_Delete(extra);
        return cli_err(c, CLI_USAGE,
                       "%s: expected a JSON array of views or an object with \"views\" (array) "
                       "and/or \"customizations\" (object)",
                       views_file);
    }
    cJSON *patch = cJSON_CreateObject();
    if (views != NULL) {
        const cJSON *cur = cJSON_GetObjectItem(*tmpl, "views");
        cJSON *merged = cJSON_IsArray(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateArray();
        merge_views(merged, views);
        cJSON_AddItemToObject(patch, "views", merged);
    }
    if (custom != NULL) {
        const cJSON *cur = cJSON_GetObjectItem(*tmpl, "customizations");
        cJSON *merged = cJSON_IsObject(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateObject();
        const cJSON *e;
        cJSON_ArrayForEach(e, custom)
        {
            cJSON_DeleteItemFromObjectCaseSensitive(merged, e->string);
            cJSON_AddItemToObject(merged, e->string, cJSON_Duplicate(e, 1));
        }
        cJSON_AddItemToObject(patch, "customizations", merged);
    }
    cJSON_Delete(extra);
    char path[1200];
    rc = template_path(c, id, "", path, sizeof path);
    if (rc == 0) {
        struct cli_resp r;
        char what[1300];
        snprintf(what, sizeof what, "cannot add the views of %s", views_file);
        if (cli_http(c, "PATCH", path, patch, 60, &r) < 0 || r.status != 200) {
            rc = cli_fail(c, &r, what);
        } else {
            cJSON_Delete(*tmpl);
            *tmpl = r.json;
            r.json = NULL;
        }
        cli_resp_free(&r);
    }
    cJSON_Delete(patch);
    return rc;
}

/* What import and publish print: the template with --json, else a one-line summary. */
static void print_summary(const struct cli *c, const char *verb, const cJSON *t)
{
    if (c->json) {
        cli_print_json(t);
        return;
    }
    const cJSON *v;
    int ncap = cJSON_GetArraySize(cJSON_GetObjectItem(t, "capabilities"));
    printf("%s template %s (\"%s\"): %d capabilities; views:", verb, cli_str(t, "@id", "?"),
           cli_str(t, "displayName", ""), ncap);
    int n = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(t, "views"))
    {
        printf("%s %s", n++ ? "," : "", cli_str(v, "displayName", cli_str(v, "id", "?")));
    }
    printf("%s; %s\n", n ? "" : " none",
           cJSON_IsTrue(cJSON_GetObjectItem(t, "published")) ? "published" : "not published");
}

static int publish(struct cli *c, const char *id, cJSON **out)
{
    char path[1200];
    int rc = template_path(c, id, "/publish", path, sizeof path);
    if (rc != 0)
        return rc;
    struct cli_resp r;
    if (cli_http(c, "POST", path, NULL, 60, &r) < 0 || r.status != 200) {
        char what[1200];
        snprintf(what, sizeof what, "cannot publish %s", id);
        rc = cli_fail(c, &r, what);
    } else if (out != NULL) {
        cJSON_Delete(*out);
        *out = r.json;
        r.json = NULL;
    }
    cli_resp_free(&r);
    return rc;
}

int cmd_templates_import(struct cli *c, int argc, char **argv)
{
    const char *opt_id = NULL, *views = NULL, *name = NULL;
    bool publish_too = false;
    const struct opt o[] = {
        {"id", 0, OPT_STR, &opt_id, .arg = "ID"},
        {"views", 0, OPT_STR, &views, .arg = "FILE"},
        {"name", 0, OPT_STR, &name, .arg = "NAME"},
        {"publish", 0, OPT_FLAG, &publish_too, .arg = NULL},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one FILE"};
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    rc = cli_setup(c);
    if (rc != 0)
        return rc;
    cJSON *doc = load_json(c, args.pos[0], &rc);
    if (doc == NULL)
        return rc;
    const char *id = opt_id != NULL ? opt_id : doc_id(doc);
    if (id == NULL || id[0] == '\0') {
        cJSON_Delete(doc);
        return cli_err(c, CLI_USAGE, "%s has no \"@id\": give the template id with --id",
                       args.pos[0]);
    }
    char *id_copy = strdup(id);
    if (name != NULL) {
        if (cJSON_IsObject(doc) && cJSON_GetObjectItem(doc, "capabilityModel") != NULL) {
            cJSON_DeleteItemFromObjectCaseSensitive(doc, "displayName");
            cJSON_AddStringToObject(doc, "displayName", name);
        } else {
            /* wrap the bare model in IoT Central's DeviceTemplate shape to carry the name */
            cJSON *w = cJSON_CreateObject();
            const char *types[] = {"ModelDefinition", "DeviceModel"};
            cJSON_AddStringToObject(w, "@id", id_copy);
            cJSON_AddItemToObject(w, "@type", cJSON_CreateStringArray(types, 2));
            cJSON_AddStringToObject(w, "displayName", name);
            cJSON_AddItemToObject(w, "capabilityModel", doc);
            doc = w;
        }
    }
    char path[1200];
    cJSON *tmpl = NULL;
    rc = template_path(c, id_copy, "", path, sizeof path);
    if (rc == 0) {
        struct cli_resp r;
        if (cli_http(c, "PUT", path, doc, 60, &r) < 0 || r.status != 200) {
            char what[1200];
            snprintf(what, sizeof what, "cannot import %s", args.pos[0]);
            rc = cli_fail(c, &r, what);
        } else {
            tmpl = r.json;
            r.json = NULL;
        }
        cli_resp_free(&r);
    }
    cJSON_Delete(doc);
    if (rc == 0 && views != NULL)
        rc = add_views(c, id_copy, views, &tmpl);
    if (rc == 0 && publish_too)
        rc = publish(c, id_copy, &tmpl);
    if (rc == 0)
        print_summary(c, "imported", tmpl);
    cJSON_Delete(tmpl);
    free(id_copy);
    return rc;
}

int cmd_templates_list(struct cli *c, int argc, char **argv)
{
    cJSON *all = NULL;
    int rc = cli_list(c, argc, argv, "/api/deviceTemplates", "cannot list templates", &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID", "NAME", "PUBLISHED", "DTDL", "CAPABILITIES", "VIEWS"};
    struct cli_table t;
    cli_table_init(&t, 6, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        char dtdl[16], ncap[16], nview[16];
        const cJSON *ver = cJSON_GetObjectItem(e, "dtdlVersion");
        snprintf(dtdl, sizeof dtdl, "v%d", cJSON_IsNumber(ver) ? ver->valueint : 0);
        snprintf(ncap, sizeof ncap, "%d",
                 cJSON_GetArraySize(cJSON_GetObjectItem(e, "capabilities")));
        snprintf(nview, sizeof nview, "%d", cJSON_GetArraySize(cJSON_GetObjectItem(e, "views")));
        const char *row[] = {cli_str(e, "@id", "?"),
                             cli_str(e, "displayName", ""),
                             cJSON_IsTrue(cJSON_GetObjectItem(e, "published")) ? "yes" : "no",
                             dtdl,
                             ncap,
                             nview};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 60, "(no templates)");
    cJSON_Delete(all);
    return 0;
}

static void print_template(const cJSON *t)
{
    const cJSON *e;
    printf("Template:     %s\n", cli_str(t, "@id", "?"));
    printf("Name:         %s\n", cli_str(t, "displayName", ""));
    if (cli_str(t, "description", NULL))
        printf("Description:  %s\n", cli_str(t, "description", ""));
    const cJSON *ver = cJSON_GetObjectItem(t, "dtdlVersion");
    printf("Model:        %s (DTDL v%d)\n", cli_str(t, "modelId", "-"),
           cJSON_IsNumber(ver) ? ver->valueint : 0);
    printf("Published:    %s\n", cJSON_IsTrue(cJSON_GetObjectItem(t, "published")) ? "yes" : "no");
    printf("\nCapabilities:\n");
    static const char *const head[] = {"COMPONENT",    "KIND",   "NAME",
                                       "DISPLAY NAME", "SCHEMA", "DETAILS"};
    struct cli_table tab;
    cli_table_init(&tab, 6, head);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(t, "capabilities"))
    {
        const char *kind = cli_str(e, "kind", "?");
        char details[512] = "";
        char *schema = cli_value_text(cJSON_GetObjectItem(e, "schema"));
        if (strcmp(kind, "property") == 0)
            snprintf(details, sizeof details, "%s",
                     cJSON_IsTrue(cJSON_GetObjectItem(e, "writable")) ? "writable" : "read-only");
        if (cli_str(e, "unit", NULL) != NULL)
            snprintf(details + strlen(details), sizeof details - strlen(details), "%sunit %s",
                     details[0] ? ", " : "", cli_str(e, "unit", ""));
        if (cli_str(e, "semanticType", NULL) != NULL)
            snprintf(details + strlen(details), sizeof details - strlen(details), "%s%s",
                     details[0] ? ", " : "", cli_str(e, "semanticType", ""));
        if (strcmp(kind, "command") == 0) {
            char *req =
                cli_value_text(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "request"), "schema"));
            char *resp =
                cli_value_text(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "response"), "schema"));
            snprintf(details, sizeof details, "request %s, response %s", req, resp);
            free(req);
            free(resp);
        }
        const char *row[] = {cli_str(e, "component", ""),
                             kind,
                             cli_str(e, "name", "?"),
                             cli_str(e, "displayName", ""),
                             strcmp(kind, "command") == 0 ? "-" : schema,
                             details};
        cli_table_add(&tab, row);
        free(schema);
    }
    cli_table_print(&tab, 50, NULL);
    printf("\nViews:\n");
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(t, "views"))
    {
        const cJSON *parts = cJSON_GetObjectItem(e, "tiles");
        if (parts == NULL)
            parts = cJSON_GetObjectItem(e, "sections");
        printf("  %-12s %-14s %s%s:", cli_str(e, "id", "?"), cli_str(e, "displayName", ""),
               cli_str(e, "type", "?"),
               cJSON_IsTrue(cJSON_GetObjectItem(e, "readOnly")) ? " (read-only)" : "");
        const cJSON *p, *f;
        cJSON_ArrayForEach(p, parts)
        {
            const cJSON *items = cJSON_GetObjectItem(p, "fields");
            if (items == NULL)
                items = cJSON_GetObjectItem(p, "capabilities");
            cJSON_ArrayForEach(f, items)
            {
                const char *comp = cli_str(f, "component", "");
                printf(" %s%s%s", comp, comp[0] ? "/" : "", cli_str(f, "name", "?"));
            }
        }
        printf("\n");
    }
    const cJSON *custom = cJSON_GetObjectItem(t, "customizations");
    if (cJSON_GetArraySize(custom) > 0) {
        printf("\nCustomizations:\n");
        cJSON_ArrayForEach(e, custom)
        {
            char *v = cli_value_text(e);
            printf("  %s: %s\n", e->string, v);
            free(v);
        }
    }
}

static int one_id(struct cli *c, int argc, char **argv, const struct opt *o, const char **out_id)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one template ID"};
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    *out_id = args.pos[0];
    return cli_setup(c);
}

static int show(struct cli *c, int argc, char **argv, bool export)
{
    const char *output = NULL;
    const struct opt o[] = {{"output", 'o', OPT_STR, &output, .arg = "FILE"}, {0}};
    const char *id = NULL;
    char path[1200], what[1200];
    cJSON *t = NULL;
    int rc = one_id(c, argc, argv, export ? o : NULL, &id);
    if (rc == 0)
        rc = template_path(c, id, "", path, sizeof path);
    snprintf(what, sizeof what, "template %s", id ? id : "");
    if (rc == 0)
        rc = cli_get(c, path, what, &t);
    if (rc != 0)
        return rc;
    if (!export) {
        if (c->json)
            cli_print_json(t);
        else if (c->tsv)
            cli_print_tsv_object(t);
        else
            print_template(t);
        cJSON_Delete(t);
        return 0;
    }
    /* Read-only and volatile fields out, so the file is stable in a repository and a plain
     * `templates import` puts it back. */
    static const char *const ro[] = {"etag",       "created",     "capabilities",
                                     "components", "dtdlVersion", "modelId"};
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(t, ro[i]);
    if (output != NULL && strcmp(output, "-") != 0) {
        if (freopen(output, "w", stdout) == NULL) {
            cJSON_Delete(t);
            return cli_err(c, CLI_USAGE, "cannot write %s: %s", output, strerror(errno));
        }
    }
    cli_print_json(t);
    cJSON_Delete(t);
    if (fflush(stdout) != 0)
        return cli_err(c, CLI_API, "cannot write the output: %s", strerror(errno));
    if (output != NULL && strcmp(output, "-") != 0)
        fprintf(stderr, "exported template %s to %s\n", id, output);
    return 0;
}

int cmd_templates_show(struct cli *c, int argc, char **argv)
{
    return show(c, argc, argv, false);
}

int cmd_templates_export(struct cli *c, int argc, char **argv)
{
    return show(c, argc, argv, true);
}

int cmd_templates_publish(struct cli *c, int argc, char **argv)
{
    const char *id = NULL;
    cJSON *t = NULL;
    int rc = one_id(c, argc, argv, NULL, &id);
    if (rc == 0)
        rc = publish(c, id, &t);
    if (rc == 0)
        print_summary(c, "published", t);
    cJSON_Delete(t);
    return rc;
}

int cmd_templates_delete(struct cli *c, int argc, char **argv)
{
    const char *id = NULL;
    char path[1200];
    int rc = one_id(c, argc, argv, NULL, &id);
    if (rc == 0)
        rc = template_path(c, id, "", path, sizeof path);
    return rc != 0 ? rc : cli_delete(c, path, "template", id);
}
