/*
 * fleet.c - `iotc device-groups list|show|create|delete|devices` (/api/deviceGroups) and
 * `iotc jobs list|show|create|devices|stop|resume|rerun` (/api/jobs); docs/API.md "Device groups"
 * and "Jobs".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* `show ID`: GET base/ID and print it with @p print (or as JSON). */
static int show_one(struct cli *c, int argc, char **argv, const char *usage, const char *base,
                    const char *noun, void (*print)(const cJSON *))
{
    struct cli_args args = {.min = 1, .max = 1, .usage = usage};
    char path[600], what[600];
    cJSON *o = NULL;
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = cli_id_path(c, base, args.pos[0], "", path, sizeof path, noun);
    if (rc == 0)
        rc = cli_setup(c);
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "%s %s", noun, args.pos[0]);
    rc = cli_show(c, path, what, &o);
    if (rc == 0 && o != NULL)
        print(o);
    cJSON_Delete(o);
    return rc;
}

/* `devices ID`: the list at base/ID/devices, at most *top (0: all) rows. */
static int fetch_devices(struct cli *c, int argc, char **argv, const struct opt *o,
                         const char *usage, const char *base, const char *noun, const int *top,
                         cJSON **all)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = usage};
    char path[600], what[600];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc == 0)
        rc = cli_id_path(c, base, args.pos[0], "/devices", path, sizeof path, noun);
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "cannot list the devices of %s %s", noun, args.pos[0]);
    return cli_fetch(c, path, top != NULL ? (size_t)*top : 0, what, all);
}

/* PUT @p b (kept by the caller) to @p path; print the answer as JSON or as "@p said" and @p print.
 */
static int put_print(struct cli *c, const char *path, const cJSON *b, const char *what,
                     const char *said, void (*print)(const cJSON *))
{
    struct cli_resp r;
    int rc = cli_send(c, "PUT", path, b, 60, 200, true, what, &r);
    if (rc != 0)
        return rc;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        printf("%s\n", said);
        print(r.json);
    }
    cli_resp_free(&r);
    return 0;
}

/* ---------------------------------------------------------------- device groups */

static void print_devgroup(const cJSON *g)
{
    printf("Group:       %s\n", cli_str(g, "id", "?"));
    printf("Name:        %s\n", cli_str(g, "displayName", ""));
    printf("Filter:      %s\n", cli_str(g, "filter", ""));
    printf("Description: %s\n", cli_str(g, "description", ""));
}

int cmd_devgroups_list(struct cli *c, int argc, char **argv)
{
    cJSON *all = NULL;
    int rc = cli_list(c, argc, argv, "/api/deviceGroups", "cannot list device groups", &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID", "NAME", "FILTER"};
    struct cli_table t;
    cli_table_init(&t, 3, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        const char *row[] = {cli_str(e, "id", "?"), cli_str(e, "displayName", ""),
                             cli_str(e, "filter", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 100, "(no device groups)");
    cJSON_Delete(all);
    return 0;
}

int cmd_devgroups_show(struct cli *c, int argc, char **argv)
{
    return show_one(c, argc, argv, "one group ID", "/api/deviceGroups", "device group",
                    print_devgroup);
}

int cmd_devgroups_create(struct cli *c, int argc, char **argv)
{
    const char *name = NULL, *filter = NULL, *tmpl = NULL, *prov = NULL, *desc = NULL;
    const struct opt o[] = {
        {"name", 0, OPT_STR, &name, .arg = "NAME"},
        {"filter", 0, OPT_STR, &filter, .arg = "QUERY"},
        {"template", 0, OPT_STR, &tmpl, .arg = "TEMPLATE"},
        {"provisioned", 0, OPT_STR, &prov, .arg = "true|false"},
        {"description", 0, OPT_STR, &desc, .arg = "TEXT"},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one group ID"};
    char path[600], what[600], said[600], built[1200];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    if (prov != NULL && strcmp(prov, "true") != 0 && strcmp(prov, "false") != 0)
        return cli_err(c, CLI_USAGE, "--provisioned must be true or false");
    if (filter != NULL && (tmpl != NULL || prov != NULL))
        return cli_err(c, CLI_USAGE, "give --filter, or --template/--provisioned, not both");
    if (filter == NULL) { /* the documented form, built from the two conditions */
        size_t n = (size_t)snprintf(built, sizeof built, "SELECT * FROM devices");
        if (tmpl != NULL && strchr(tmpl, '"') != NULL)
            return cli_err(c, CLI_USAGE, "--template must not contain '\"'");
        if (tmpl != NULL)
            n += (size_t)snprintf(built + n, sizeof built - n, " WHERE $template = \"%s\"", tmpl);
        if (prov != NULL)
            snprintf(built + n, sizeof built - n, " %s $provisioned = %s",
                     tmpl != NULL ? "AND" : "WHERE", prov);
        filter = built;
    }
    rc = cli_id_path(c, "/api/deviceGroups", args.pos[0], "", path, sizeof path, "device group");
    if (rc != 0)
        return rc;
    cJSON *b = cJSON_CreateObject();
    if (b == NULL)
        return cli_err(c, CLI_API, "out of memory");
    cJSON_AddStringToObject(b, "displayName", name != NULL ? name : args.pos[0]);
    cJSON_AddStringToObject(b, "filter", filter);
    if (desc != NULL)
        cJSON_AddStringToObject(b, "description", desc);
    snprintf(what, sizeof what, "cannot create device group %s", args.pos[0]);
    snprintf(said, sizeof said, "created device group %s", args.pos[0]);
    rc = put_print(c, path, b, what, said, print_devgroup);
    cJSON_Delete(b);
    return rc;
}

int cmd_devgroups_delete(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one group ID"};
    char path[600];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc =
            cli_id_path(c, "/api/deviceGroups", args.pos[0], "", path, sizeof path, "device group");
    if (rc == 0)
        rc = cli_setup(c);
    return rc != 0 ? rc : cli_delete(c, path, "device group", args.pos[0]);
}

int cmd_devgroups_devices(struct cli *c, int argc, char **argv)
{
    int top = 0;
    const struct opt o[] = {{"top", 0, OPT_INT, &top, 0, 1000000, .arg = "N"}, {0}};
    cJSON *all = NULL;
    int rc =
        fetch_devices(c, argc, argv, o, "one group ID", "/api/deviceGroups", "group", &top, &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID", "NAME", "TEMPLATE", "PROVISIONED"};
    struct cli_table t;
    cli_table_init(&t, 4, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        const char *row[] = {cli_str(e, "id", "?"), cli_str(e, "displayName", ""),
                             cli_str(e, "template", "-"),
                             cJSON_IsTrue(cJSON_GetObjectItem(e, "provisioned")) ? "yes" : "no"};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 60, "(no devices in the group)");
    cJSON_Delete(all);
    return 0;
}

/* ---------------------------------------------------------------- jobs */

static void print_job(const cJSON *j)
{
    const cJSON *p = cJSON_GetObjectItem(j, "progress");
    printf("Job:       %s\n", cli_str(j, "id", "?"));
    printf("Name:      %s\n", cli_str(j, "displayName", ""));
    printf("Group:     %s\n", cli_str(j, "group", ""));
    printf("Status:    %s\n", cli_str(j, "status", "?"));
    if (p != NULL)
        printf("Progress:  %d of %d done (%d completed, %d failed, %d cancelled, %d running)\n",
               (int)(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "completed")) +
                     cJSON_GetNumberValue(cJSON_GetObjectItem(p, "failed")) +
                     cJSON_GetNumberValue(cJSON_GetObjectItem(p, "cancelled"))),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "total")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "completed")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "failed")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "cancelled")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "running")));
}

int cmd_jobs_list(struct cli *c, int argc, char **argv)
{
    cJSON *all = NULL;
    int rc = cli_list(c, argc, argv, "/api/jobs", "cannot list jobs", &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"ID", "NAME", "GROUP", "STATUS", "DONE"};
    struct cli_table t;
    cli_table_init(&t, 5, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        const cJSON *p = cJSON_GetObjectItem(e, "progress");
        char done[48];
        snprintf(done, sizeof done, "%d/%d",
                 (int)(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "completed")) +
                       cJSON_GetNumberValue(cJSON_GetObjectItem(p, "failed")) +
                       cJSON_GetNumberValue(cJSON_GetObjectItem(p, "cancelled"))),
                 (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "total")));
        const char *row[] = {cli_str(e, "id", "?"), cli_str(e, "displayName", ""),
                             cli_str(e, "group", ""), cli_str(e, "status", "?"), done};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 50, "(no jobs)");
    cJSON_Delete(all);
    return 0;
}

int cmd_jobs_show(struct cli *c, int argc, char **argv)
{
    return show_one(c, argc, argv, "one job ID", "/api/jobs", "job", print_job);
}

/* "5" -> number 5, "25%" -> percentage 25. */
static cJSON *amount(const struct cli *c, const char *opt, const char *v)
{
    char *end;
    double x = strtod(v, &end);
    bool pct = *end == '%';
    if (end == v || (*end != '\0' && !(pct && end[1] == '\0')) || x <= 0) {
        cli_err(c, CLI_USAGE, "--%s must be a number of devices or a percentage (5, 25%%)", opt);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", pct ? "percentage" : "number");
    cJSON_AddNumberToObject(o, "value", x);
    return o;
}

int cmd_jobs_create(struct cli *c, int argc, char **argv)
{
    const char *group = NULL, *tmpl = NULL, *prop = NULL, *cmd = NULL, *request = NULL;
    const char *batch = NULL, *threshold = NULL, *name = NULL;
    const struct opt o[] = {
        {"group", 0, OPT_STR, &group, .arg = "GROUP"},
        {"template", 0, OPT_STR, &tmpl, .arg = "TEMPLATE"},
        {"property", 0, OPT_STR, &prop, .arg = "NAME=VALUE"},
        {"command", 0, OPT_STR, &cmd, .arg = "NAME"},
        {"request", 0, OPT_STR, &request, .arg = "JSON"},
        {"batch", 0, OPT_STR, &batch, .arg = "N|N%"},
        {"cancel-threshold", 0, OPT_STR, &threshold, .arg = "N|N%"},
        {"name", 0, OPT_STR, &name, .arg = "NAME"},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 1, .usage = "one job ID"};
    char path[600], what[600], said[600];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    if (group == NULL || tmpl == NULL)
        return cli_err(c, CLI_USAGE, "--group and --template are required");
    if ((prop == NULL) == (cmd == NULL))
        return cli_err(c, CLI_USAGE, "give --property NAME=VALUE or --command NAME");
    cJSON *b = cJSON_CreateObject(), *item = cJSON_CreateObject(), *value = NULL;
    if (b == NULL || item == NULL) {
        cJSON_Delete(b);
        cJSON_Delete(item);
        return cli_err(c, CLI_API, "out of memory");
    }
    cJSON_AddStringToObject(b, "displayName", name != NULL ? name : args.pos[0]);
    cJSON_AddStringToObject(b, "group", group);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(b, "data"), item);
    cJSON_AddStringToObject(item, "type", prop != NULL ? "property" : "command");
    cJSON_AddStringToObject(item, "target", tmpl);
    if (prop != NULL) {
        const char *eq = strchr(prop, '=');
        if (eq == NULL || eq == prop) {
            cJSON_Delete(b);
            return cli_err(c, CLI_USAGE, "--property takes NAME=VALUE");
        }
        char pname[260];
        snprintf(pname, sizeof pname, "%.*s", (int)(eq - prop), prop);
        cJSON_AddStringToObject(item, "path", pname);
        value = cJSON_Parse(eq + 1); /* JSON when it parses, else a string */
        if (value == NULL)
            value = cJSON_CreateString(eq + 1);
    } else {
        cJSON_AddStringToObject(item, "path", cmd);
        if (request != NULL && (value = cJSON_Parse(request)) == NULL) {
            cJSON_Delete(b);
            return cli_err(c, CLI_USAGE, "--request is not JSON");
        }
    }
    if (value != NULL)
        cJSON_AddItemToObject(item, "value", value);
    if (batch != NULL) {
        cJSON *x = amount(c, "batch", batch);
        if (x == NULL) {
            cJSON_Delete(b);
            return CLI_USAGE;
        }
        cJSON_AddItemToObject(b, "batch", x);
    }
    if (threshold != NULL) {
        cJSON *x = amount(c, "cancel-threshold", threshold);
        if (x == NULL) {
            cJSON_Delete(b);
            return CLI_USAGE;
        }
        cJSON_AddBoolToObject(x, "batch", false);
        cJSON_AddItemToObject(b, "cancellationThreshold", x);
    }
    rc = cli_id_path(c, "/api/jobs", args.pos[0], "", path, sizeof path, "job");
    snprintf(what, sizeof what, "cannot create job %s", args.pos[0]);
    snprintf(said, sizeof said, "started job %s", args.pos[0]);
    if (rc == 0)
        rc = put_print(c, path, b, what, said, print_job);
    cJSON_Delete(b);
    return rc;
}

int cmd_jobs_devices(struct cli *c, int argc, char **argv)
{
    cJSON *all = NULL;
    int rc = fetch_devices(c, argc, argv, NULL, "one job ID", "/api/jobs", "job", NULL, &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"DEVICE", "STATUS", "ERROR"};
    struct cli_table t;
    cli_table_init(&t, 3, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        const char *row[] = {cli_str(e, "id", "?"), cli_str(e, "status", "?"),
                             cli_str(e, "error", "")};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, 80, "(no devices in the job)");
    cJSON_Delete(all);
    return 0;
}

static int job_action(struct cli *c, int argc, char **argv, const char *action)
{
    struct cli_args args = {.min = 1, .max = 1, .usage = "one job ID"};
    char path[600], what[600], suffix[32];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    snprintf(suffix, sizeof suffix, "/%s", action);
    if (rc == 0)
        rc = cli_id_path(c, "/api/jobs", args.pos[0], suffix, path, sizeof path, "job");
    if (rc != 0)
        return rc;
    struct cli_resp r;
    snprintf(what, sizeof what, "cannot %s job %s", action, args.pos[0]);
    rc = cli_send(c, "POST", path, NULL, 60, 204, false, what, &r);
    if (rc != 0)
        return rc;
    cli_resp_free(&r);
    if (c->json)
        printf("{\"id\":\"%s\",\"%s\":true}\n", args.pos[0],
               strcmp(action, "stop") == 0 ? "stopped" : "resumed");
    else
        printf("%s job %s\n", strcmp(action, "stop") == 0 ? "stopped" : "resumed", args.pos[0]);
    return 0;
}

int cmd_jobs_stop(struct cli *c, int argc, char **argv)
{
    return job_action(c, argc, argv, "stop");
}

int cmd_jobs_resume(struct cli *c, int argc, char **argv)
{
    return job_action(c, argc, argv, "resume");
}

int cmd_jobs_rerun(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 2, .max = 2, .usage = "JOB RERUN_ID"};
    char path[900], what[600], said[900], enc[400];
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc != 0)
        return rc;
    if (cli_pct(args.pos[1], enc, sizeof enc) < 0)
        return cli_err(c, CLI_USAGE, "id too long");
    char suffix[420];
    snprintf(suffix, sizeof suffix, "/rerun/%s", enc);
    rc = cli_id_path(c, "/api/jobs", args.pos[0], suffix, path, sizeof path, "job");
    if (rc != 0)
        return rc;
    snprintf(what, sizeof what, "cannot rerun job %s", args.pos[0]);
    snprintf(said, sizeof said, "started job %s (rerun of %s)", args.pos[1], args.pos[0]);
    return put_print(c, path, NULL, what, said, print_job);
}
