/*
 * commands.c - `iotc command run|history`: run a command (direct method, or a queued C2D
 * message for an offline device when the template allows it), wait for an asynchronous one,
 * list the history (docs/API.md "Commands").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define POLL_MS 300

static int command_path(const struct cli *c, const char *dev, const char *comp, const char *name,
                        char *out, size_t size)
{
    char suffix[700], ec[300], en[300];
    if ((comp != NULL && cli_pct(comp, ec, sizeof ec) < 0) ||
        (name != NULL && cli_pct(name, en, sizeof en) < 0))
        return cli_err(c, CLI_USAGE, "component or command name too long");
    snprintf(suffix, sizeof suffix, "%s%s%s/commands%s%s", comp ? "/components/" : "",
             comp ? ec : "", "", name ? "/" : "", name ? en : "");
    return cli_device_path(c, dev, suffix, out, size);
}

static void print_command(const char *dev, const cJSON *cmd)
{
    const char *status = cli_str(cmd, "status", "?");
    const cJSON *code = cJSON_GetObjectItem(cmd, "responseCode");
    printf("command %s on %s: %s", cli_str(cmd, "name", "?"), dev, status);
    if (cJSON_IsNumber(code))
        printf(" (response code %.0f)", code->valuedouble);
    printf("\n");
    const cJSON *resp = cJSON_GetObjectItem(cmd, "response");
    if (resp != NULL && !cJSON_IsNull(resp)) {
        char *t = cli_value_text(resp);
        printf("response: %s\n", t);
        free(t);
    }
    const cJSON *comp = cJSON_GetObjectItem(cmd, "completion");
    if (comp != NULL && !cJSON_IsNull(comp)) {
        char *t = cli_value_text(comp);
        printf("completion: %s\n", t);
        free(t);
    }
    if (cli_str(cmd, "error", NULL) != NULL)
        printf("error: %s\n", cli_str(cmd, "error", ""));
    if (strcmp(status, "queued") == 0)
        printf("(the device is offline: the command was queued as a cloud-to-device message)\n");
}

/* Poll the command's history until @p id is no longer pending. */
static int wait_async(struct cli *c, const char *dev, const char *hist_path, const char *id,
                      double timeout, cJSON **cmd)
{
    int64_t deadline = cli_now_ms() + (int64_t)(timeout * 1000);
    char what[600];
    snprintf(what, sizeof what, "command history of device %s", dev);
    cli_catch_signals();
    for (;;) {
        cJSON *all = NULL;
        int rc = cli_get_all(c, hist_path, 0, what, &all);
        if (rc != 0)
            return rc;
        const cJSON *e;
        cJSON *found = NULL;
        cJSON_ArrayForEach(e, all)
        {
            const char *eid = cli_str(e, "id", NULL);
            if (eid != NULL && strcmp(eid, id) == 0)
                found = (cJSON *)e;
        }
        const char *st = cli_str(found, "status", "pending");
        if (found != NULL && strcmp(st, "pending") != 0 && strcmp(st, "sent") != 0) {
            cJSON_Delete(*cmd);
            *cmd = cJSON_Duplicate(found, 1);
            cJSON_Delete(all);
            return 0;
        }
        cJSON_Delete(all);
        if (cli_interrupted || cli_now_ms() >= deadline)
            return cli_err(c, CLI_TIMEOUT, "%s after %.0f s: command %s is still pending",
                           cli_interrupted ? "interrupted" : "timed out", timeout, id);
        cli_sleep_ms(POLL_MS);
    }
}

int cmd_command_run(struct cli *c, int argc, char **argv)
{
    const char *request = NULL, *comp = NULL;
    long resp_to = -1, conn_to = -1; /* -1: not given, the server's default */
    bool wait = false;
    double timeout = 60;
    const struct opt o[] = {
        {"request", 0, OPT_STR, &request, .arg = "JSON"},
        {"component", 0, OPT_STR, &comp, .arg = "NAME"},
        {"response-timeout", 0, OPT_LONG, &resp_to, 0, 3600, .arg = "S"},
        {"connect-timeout", 0, OPT_LONG, &conn_to, 0, 3600, .arg = "S"},
        {"wait", 0, OPT_FLAG, &wait, .arg = NULL},
        {"timeout", 0, OPT_NUM, &timeout, 0, CLI_MAX_SECONDS, .arg = "S"},
        {0},
    };
    struct cli_args args = {.min = 2, .max = 2, .usage = "DEVICE NAME"};
    char path[1400], what[800];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    if (timeout <= 0)
        return cli_err(c, CLI_USAGE, "--timeout needs a positive number of seconds");
    cJSON *body = cJSON_CreateObject();
    if (request != NULL) {
        cJSON *req = cJSON_Parse(request);
        if (req == NULL) {
            cJSON_Delete(body);
            return cli_err(c, CLI_USAGE,
                           "--request is not JSON: %s (a string needs quotes: '\"text\"')",
                           request);
        }
        cJSON_AddItemToObject(body, "request", req);
    }
    /* Let the server apply its defaults unless asked (IoT Central: 0 and 30 s). */
    if (resp_to >= 0)
        cJSON_AddNumberToObject(body, "responseTimeout", (double)resp_to);
    if (conn_to >= 0)
        cJSON_AddNumberToObject(body, "connectionTimeout", (double)conn_to);
    struct cli_resp r;
    snprintf(what, sizeof what, "command %s on device %s", args.pos[1], args.pos[0]);
    long http_to = (resp_to >= 0 ? resp_to : 30) + (conn_to >= 0 ? conn_to : 0) + 30;
    rc = command_path(c, args.pos[0], comp, args.pos[1], path, sizeof path);
    if (rc == 0)
        rc = cli_send(c, "POST", path, body, http_to, 201, true, what, &r);
    cJSON_Delete(body);
    if (rc != 0)
        return rc;
    cJSON *cmd = r.json;
    r.json = NULL;
    cli_resp_free(&r);
    const char *status = cli_str(cmd, "status", "");
    if (strcmp(status, "pending") == 0 && wait) {
        if (!c->json) {
            print_command(args.pos[0], cmd);
            printf("waiting for the completion...\n");
            fflush(stdout);
        }
        const char *id = cli_str(cmd, "id", NULL);
        char *id_copy = id ? strdup(id) : NULL;
        if (id_copy == NULL)
            rc = cli_err(c, CLI_API, "the server gave the command no id");
        else
            rc = wait_async(c, args.pos[0], path, id_copy, timeout, &cmd);
        free(id_copy);
    }
    if (rc == 0 || rc == CLI_TIMEOUT) {
        if (c->json)
            cli_print_json(cmd);
        else if (rc == 0)
            print_command(args.pos[0], cmd);
    }
    if (rc == 0 && strcmp(cli_str(cmd, "status", ""), "failed") == 0) {
        const cJSON *code = cJSON_GetObjectItem(cmd, "responseCode");
        if (cJSON_IsNumber(code))
            rc = cli_err(c, CLI_API, "device %s answered %s with %.0f", args.pos[0], args.pos[1],
                         code->valuedouble);
        else
            rc = cli_err(c, CLI_API, "command %s on device %s failed: %s", args.pos[1], args.pos[0],
                         cli_str(cmd, "error", "no reason given"));
    }
    cJSON_Delete(cmd);
    return rc;
}

int cmd_command_history(struct cli *c, int argc, char **argv)
{
    const char *only_comp = NULL;
    long top = 0;
    const struct opt o[] = {
        {"component", 0, OPT_STR, &only_comp, .arg = "NAME"},
        {"top", 0, OPT_LONG, &top, 1, 1000000, .arg = "N"},
        {0},
    };
    struct cli_args args = {.min = 1, .max = 2, .usage = "DEVICE [NAME]"};
    char path[1400], what[800];
    int rc = cli_parse(c, argc, argv, o, &args);
    if (rc != 0)
        return rc;
    if (only_comp != NULL && args.n < 2)
        return cli_err(c, CLI_USAGE, "--component needs the command NAME too");
    rc =
        command_path(c, args.pos[0], only_comp, args.n > 1 ? args.pos[1] : NULL, path, sizeof path);
    cJSON *all = NULL;
    snprintf(what, sizeof what, "command history of device %s", args.pos[0]);
    if (rc == 0)
        rc = cli_fetch(c, path, (size_t)top, what, &all);
    if (rc != 0 || all == NULL)
        return rc;
    static const char *const head[] = {"TIME", "COMMAND", "STATUS", "CODE", "REQUEST", "RESPONSE"};
    struct cli_table t;
    cli_table_init(&t, 6, head);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        char name[300], code[16] = "";
        const char *comp = cli_str(e, "component", "");
        snprintf(name, sizeof name, "%s%s%s", comp, comp[0] ? "/" : "", cli_str(e, "name", "?"));
        const cJSON *rc_ = cJSON_GetObjectItem(e, "responseCode");
        if (cJSON_IsNumber(rc_))
            snprintf(code, sizeof code, "%.0f", rc_->valuedouble);
        char *req = cli_value_text(cJSON_GetObjectItem(e, "request"));
        const cJSON *resp = cJSON_GetObjectItem(e, "completion");
        if (resp == NULL || cJSON_IsNull(resp))
            resp = cJSON_GetObjectItem(e, "response");
        char *rt = resp == NULL || cJSON_IsNull(resp) ? strdup(cli_str(e, "error", "-"))
                                                      : cli_value_text(resp);
        const char *row[] = {
            cli_str(e, "time", ""), name, cli_str(e, "status", "?"), code, req, rt};
        cli_table_add(&t, row);
        free(req);
        free(rt);
    }
    cli_table_print(&t, 70, "(no commands)");
    cJSON_Delete(all);
    return 0;
}
