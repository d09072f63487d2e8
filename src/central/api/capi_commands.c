/*
 * capi_commands.c - POST .../commands/{name} (run a command: the application layer decides
 * direct method or queued C2D, see appl_command_run) and the command history
 * (docs/PROTOCOL.md §7.5, §8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"

static void history(struct http_ctx *c, struct appl *a, const char *comp, const char *name)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    size_t top, n = 0, i;
    uint64_t skip; /* token = seq of the last command returned */
    char buf[32];
    if (dev == NULL || capi_top(c, &top) < 0 || capi_skiptoken(c, UINT64_MAX, &skip) < 0)
        return;
    cJSON *arr = cJSON_CreateArray();
    int64_t last = 0;
    bool more = false;
    for (i = 0; i < d->n_cmds; i++) {
        const struct appl_command *cmd = d->cmds[i];
        if ((uint64_t)cmd->seq <= skip)
            continue;
        if (name != NULL && (strcmp(cmd->name, name) != 0 || strcmp(cmd->component, comp) != 0))
            continue;
        if (n == top) {
            more = true;
            break;
        }
        cJSON_AddItemToArray(arr, appl_command_to_json(cmd));
        last = cmd->seq;
        n++;
    }
    snprintf(buf, sizeof buf, "%lld", (long long)last);
    capi_page(c, arr, top, more ? buf : NULL, NULL);
}

static void op_cancel(struct http_ctx *c)
{
    appl_command_cancel(c->op);
    c->op = NULL;
}

/* How the command ended (appl_command_done_fn): the answer to the POST. */
static void on_done(void *ctx, int rc, const struct appl_command *cmd)
{
    struct http_ctx *c = ctx;
    c->op = NULL;
    if (cmd == NULL)
        capi_error(c, 404, "DeviceNotFound", "Device %s was deleted during the command.",
                   c->seg[2]);
    else if (rc == CE_OK)
        capi_reply(c, 201, appl_command_to_json(cmd));
    else if (rc == CE_OFFLINE)
        capi_error(c, 409, "DeviceNotConnected",
                   "Device %s is not connected (waited %d s). Commands marked "
                   "queue-if-offline are delivered when it reconnects.",
                   cmd->device_id, cmd->connection_timeout);
    else if (rc == CE_TIMEOUT)
        capi_error(c, 504, "DeviceTimeout", "Device %s did not answer %s within %d s.",
                   cmd->device_id, cmd->name, cmd->response_timeout);
    else
        capi_error_ce(c, rc, cmd->queued ? "queued command" : "command");
}

static int int_field(struct http_ctx *c, const cJSON *body, const char *name, int lo, int hi,
                     int dflt, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble || v->valueint < lo ||
        v->valueint > hi) {
        capi_error(c, 400, "InvalidBody", "$.%s: must be an integer %d..%d.", name, lo, hi);
        return CE_INVALID;
    }
    *out = v->valueint;
    return 0;
}

static void run(struct http_ctx *c, struct appl *a, const char *comp, const char *name)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    struct appl_command_op *op = NULL;
    struct appl_error err = {0};
    cJSON *body = NULL;
    int ct, rt;
    if (dev == NULL)
        return;
    if (c->body_len > 0) {
        body = capi_body(c, CAPI_MAX_BODY);
        if (body == NULL)
            return;
        if (!cJSON_IsObject(body)) {
            capi_error(c, 400, "InvalidBody", "$: expected a DeviceCommand object.");
            goto out;
        }
    }
    if (int_field(c, body, "connectionTimeout", 0, 30, 0, &ct) < 0 ||
        int_field(c, body, "responseTimeout", 5, 30, 30, &rt) < 0)
        goto out;
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(body, "request");
    int rc = appl_command_run(a, d, dev, comp, name, req, ct, rt, on_done, c, &op, &err);
    if (rc == CE_INVALID)
        capi_app_error(c, &err);
    else if (rc != CE_OK)
        capi_oom(c);
    else if (op != NULL) { /* in flight: on_done answers */
        c->op = op;
        http_ctx_go_async(c, op_cancel);
    }
out:
    cJSON_Delete(body);
}

void capi_command(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    const char *comp = "", *name = NULL;
    if (c->nseg == 5) {
        name = c->seg[4];
    } else if (c->nseg == 7) {
        comp = c->seg[4];
        name = c->seg[6];
    }
    if (c->method == HTTP_GET) {
        history(c, a, comp, name);
        return;
    }
    run(c, a, comp, name);
}
