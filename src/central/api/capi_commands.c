/*
 * capi_commands.c - running commands (direct methods, or C2D when queued for an offline device)
 * and the command history (docs/PROTOCOL.md §7.5, §8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotc/central.h>
#include <iotc/codec.h>

#include "central/hub/c2d.h"
#include "central/api/capi_int.h"
#include "central/hub/method.h"

#define QUEUE_TTL_MS (24LL * 3600 * 1000) /* IoT Central: offline commands live 24 h */

struct cmd_op {
    struct http_ctx *c;
    struct appl *a;
    struct method_call *call;
    char device_id[DEVICE_ID_MAX + 1];
    char cmd_id[32];
};

static struct appl_command *find_cmd(struct appl *a, const char *device_id, const char *id)
{
    struct appl_device *d = appl_device_find(a, device_id);
    for (size_t i = d ? d->n_cmds : 0; i-- > 0;) {
        if (strcmp(d->cmds[i]->id, id) == 0)
            return d->cmds[i];
    }
    return NULL;
}

static void history(struct http_ctx *c, struct appl *a, const char *comp, const char *name)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    size_t top, skip = 0, n = 0, i;
    char buf[32], *end;
    if (dev == NULL || capi_top(c, &top) < 0)
        return;
    int rc = capi_param(c, "$skiptoken", buf, sizeof buf);
    if (rc < 0)
        return;
    if (rc > 0) {
        /* token = seq of the last command returned */
        skip = (size_t)strtoull(buf, &end, 10);
        if (*end != '\0' || end == buf) {
            capi_error(c, 400, "InvalidParameter", "$skiptoken is not valid here.");
            return;
        }
    }
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
    struct cmd_op *op = c->op;
    if (op != NULL) {
        method_cancel(op->call);
        struct appl_command *cmd = find_cmd(op->a, op->device_id, op->cmd_id);
        if (cmd != NULL && cmd->status == CMD_SENT) {
            cmd->status = CMD_FAILED;
            cmd->error = strdup("the server stopped before the device answered");
            appl_command_changed(op->a, cmd);
        }
        free(op);
        c->op = NULL;
    }
}

static void on_done(void *ctx, int result, int status, const char *payload, size_t len)
{
    struct cmd_op *op = ctx;
    struct http_ctx *c = op->c;
    struct appl_command *cmd = find_cmd(op->a, op->device_id, op->cmd_id);
    c->op = NULL;
    if (cmd == NULL) {
        capi_error(c, 404, "DeviceNotFound", "Device %s was deleted during the command.",
                   op->device_id);
        free(op);
        return;
    }
    cmd->completed_ms = app_now_ms();
    if (result == CE_OK) {
        cmd->response_code = status;
        cJSON_Delete(cmd->response);
        cmd->response = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
        if (cmd->response == NULL && len > 0) {
            /* not JSON: keep the text, the operator still wants to see it */
            char *text = malloc(len + 1);
            if (text != NULL) {
                memcpy(text, payload, len);
                text[len] = '\0';
                cmd->response = cJSON_CreateString(text);
                free(text);
            }
        }
        if (status == 202)
            cmd->status = CMD_PENDING;
        else if (status >= 200 && status < 300)
            cmd->status = CMD_COMPLETED;
        else
            cmd->status = CMD_FAILED;
        appl_command_changed(op->a, cmd);
        capi_reply(c, 201, appl_command_to_json(cmd));
    } else {
        cmd->status = CMD_FAILED;
        free(cmd->error);
        if (result == CE_OFFLINE) {
            cmd->error = strdup("the device is not connected");
            appl_command_changed(op->a, cmd);
            capi_error(c, 409, "DeviceNotConnected",
                       "Device %s is not connected (waited %d s). Commands marked "
                       "queue-if-offline are delivered when it reconnects.",
                       op->device_id, cmd->connection_timeout);
        } else if (result == CE_TIMEOUT) {
            cmd->error = strdup("the device did not answer in time");
            appl_command_changed(op->a, cmd);
            capi_error(c, 504, "DeviceTimeout", "Device %s did not answer %s within %d s.",
                       op->device_id, cmd->name, cmd->response_timeout);
        } else {
            cmd->error = strdup(central_strerror(result));
            appl_command_changed(op->a, cmd);
            capi_error_ce(c, result, "command");
        }
    }
    free(op);
}

/* Offline body (docs/PROTOCOL.md §5.4): object JSON, number text, plain string, "@" for none. */
static char *queued_payload(const cJSON *req)
{
    if (req == NULL || cJSON_IsNull(req))
        return strdup("@");
    if (cJSON_IsString(req))
        return strdup(req->valuestring);
    return cJSON_PrintUnformatted(req);
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
        return -1;
    }
    *out = v->valueint;
    return 0;
}

static void run(struct http_ctx *c, struct appl *a, const char *comp, const char *name)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    cJSON *body = NULL;
    char method[300], why[300];
    size_t mlen = 0;
    int ct, rt, err = 0;
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
    struct appl_template *t = appl_device_template(a, d);
    const struct dtdl_capability *cap = NULL;
    if (t != NULL) {
        cap = dtdl_find(t->model, comp, name);
        if (cap == NULL || cap->kind != DTDL_COMMAND) {
            const char *near = appl_closest_name(t->model, comp, DTDL_COMMAND, name);
            capi_error(c, 404, "CapabilityNotFound",
                       "The template of %s has no command \"%s\"%s%s%s%s%s.", dev->id, name,
                       comp[0] ? " in component " : "", comp, near ? " (did you mean \"" : "",
                       near ? near : "", near ? "\"?)" : "");
            goto out;
        }
        if (cap->request != NULL && req != NULL && cap->request->schema != NULL &&
            !dtdl_check_value(cap->request->schema, req, why, sizeof why)) {
            capi_error(c, 400, "InvalidBody", "$.request%s", why[0] == '$' ? why + 1 : why);
            goto out;
        }
    }
    if (iotc_central_command_join(iotc_span_from_cstr(comp), iotc_span_from_cstr(name), method,
                                  sizeof method, &mlen) != IOTC_OK) {
        capi_error(c, 400, "InvalidParameter", "Invalid command or component name.");
        goto out;
    }
    method[mlen] = '\0';
    struct appl_command *cmd = appl_command_new(a, d, comp, name, req, ct, rt);
    if (cmd == NULL) {
        capi_error(c, 500, "InternalError", "Out of memory.");
        goto out;
    }
    if (dev->session == NULL && cap != NULL && appl_template_queue_if_offline(t, cap)) {
        char *payload = queued_payload(req);
        struct c2d_prop props[] = {{"method-name", method}, {"iothub-ack", "none"}};
        int rc = payload ? c2d_send(a->app, dev, payload, strlen(payload), props, 2, QUEUE_TTL_MS)
                         : CE_NOMEM;
        free(payload);
        if (rc != CE_OK) {
            cmd->status = CMD_FAILED;
            cmd->error =
                strdup(rc == CE_BUSY ? "the device's message queue is full" : central_strerror(rc));
            appl_command_changed(a, cmd);
            capi_error_ce(c, rc, "queued command");
            goto out;
        }
        cmd->status = CMD_QUEUED;
        appl_command_changed(a, cmd);
        capi_reply(c, 201, appl_command_to_json(cmd));
        goto out;
    }
    struct cmd_op *op = calloc(1, sizeof *op);
    char *text = req ? cJSON_PrintUnformatted(req) : NULL;
    if (op == NULL || (req && text == NULL)) {
        free(op);
        free(text);
        capi_error(c, 500, "InternalError", "Out of memory.");
        goto out;
    }
    op->c = c;
    op->a = a;
    snprintf(op->device_id, sizeof op->device_id, "%s", dev->id);
    snprintf(op->cmd_id, sizeof op->cmd_id, "%s", cmd->id);
    appl_command_changed(a, cmd);
    op->call = method_invoke(a->app, dev->id, method, text, text ? strlen(text) : 0, ct, rt,
                             on_done, op, &err);
    free(text);
    if (op->call == NULL) {
        free(op);
        cmd->status = CMD_FAILED;
        cmd->error = strdup(central_strerror(err));
        appl_command_changed(a, cmd);
        capi_error_ce(c, err, "command");
        goto out;
    }
    c->op = op;
    http_ctx_go_async(c, op_cancel);
out:
    cJSON_Delete(body);
}

void capi_command(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    const char *comp = "", *name = NULL;
    (void)role;
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
