/*
 * appl_cmd.c - commands: running one (direct method, or C2D when queued for an offline device)
 * and its lifecycle (sent, completed, pending, queued, failed), the history entries, their JSON
 * (DeviceCommand), persistence, and the completion of asynchronous commands by the reported
 * property named like the command (docs/PROTOCOL.md §7.5, §8, §9).
 */
#include "central/app/appl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotc/central.h>
#include <iotc/codec.h>

#include "central/base/events.h"
#include "central/hub/c2d.h"
#include "central/hub/method.h"
#include "central/store/store_app.h"

#define QUEUE_TTL_MS (24LL * 3600 * 1000) /* IoT Central: offline commands live 24 h */

/* The one list of the statuses and their names in DeviceCommand JSON and in the store. */
static const char *const status_names[] = {
    [CMD_SENT] = "sent",       [CMD_COMPLETED] = "completed", [CMD_FAILED] = "failed",
    [CMD_PENDING] = "pending", [CMD_QUEUED] = "queued",
};

const char *appl_cmd_status_name(enum appl_cmd_status s)
{
    return (size_t)s < sizeof status_names / sizeof status_names[0] ? status_names[s] : "sent";
}

static enum appl_cmd_status status_parse(const char *s)
{
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++) {
        if (strcmp(status_names[i], s) == 0)
            return (enum appl_cmd_status)i;
    }
    return CMD_FAILED;
}

void appl_command_free(struct appl_command *c)
{
    if (c == NULL)
        return;
    free(c->component);
    free(c->name);
    free(c->error);
    cJSON_Delete(c->request);
    cJSON_Delete(c->response);
    cJSON_Delete(c->completion);
    free(c);
}

void appl_device_add_command(struct appl_device *d, struct appl_command *c)
{
    if (d->n_cmds == APPL_CMD_HISTORY_MAX) {
        appl_command_free(d->cmds[0]);
        memmove(d->cmds, d->cmds + 1, (d->n_cmds - 1) * sizeof *d->cmds);
        d->n_cmds--;
    }
    if (d->n_cmds == d->cap_cmds) {
        size_t cap = d->cap_cmds ? d->cap_cmds * 2 : 8;
        struct appl_command **v = realloc(d->cmds, cap * sizeof *v);
        if (v == NULL) {
            appl_command_free(c);
            return;
        }
        d->cmds = v;
        d->cap_cmds = cap;
    }
    d->cmds[d->n_cmds++] = c;
}

cJSON *appl_command_to_json(const struct appl_command *c)
{
    cJSON *o = cJSON_CreateObject();
    char ts[32];
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON_AddStringToObject(o, "component", c->component);
    if (c->request)
        cJSON_AddItemToObject(o, "request", cJSON_Duplicate(c->request, 1));
    cJSON_AddNumberToObject(o, "connectionTimeout", c->connection_timeout);
    cJSON_AddNumberToObject(o, "responseTimeout", c->response_timeout);
    if (c->response_code != 0) {
        cJSON_AddNumberToObject(o, "responseCode", c->response_code);
        cJSON_AddItemToObject(o, "response",
                              c->response ? cJSON_Duplicate(c->response, 1) : cJSON_CreateNull());
    }
    cJSON_AddStringToObject(o, "status", appl_cmd_status_name(c->status));
    if (c->completion)
        cJSON_AddItemToObject(o, "completion", cJSON_Duplicate(c->completion, 1));
    if (c->error)
        cJSON_AddStringToObject(o, "error", c->error);
    appl_time(c->time_ms, ts);
    cJSON_AddStringToObject(o, "time", ts);
    if (c->completed_ms > 0) {
        appl_time(c->completed_ms, ts);
        cJSON_AddStringToObject(o, "completedTime", ts);
    }
    return o;
}

static void save(struct appl *a, const struct appl_command *c)
{
    cJSON *o = appl_command_to_json(c);
    if (o == NULL)
        return;
    cJSON_AddStringToObject(o, "deviceId", c->device_id);
    cJSON_AddNumberToObject(o, "seq", (double)c->seq);
    cJSON_AddNumberToObject(o, "timeMs", (double)c->time_ms);
    cJSON_AddNumberToObject(o, "completedMs", (double)c->completed_ms);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text != NULL)
        store_app_put_command(a->db, c->id, c->device_id, c->seq, text);
    free(text);
}

struct appl_command *appl_command_new(struct appl *a, struct appl_device *d, const char *component,
                                      const char *name, const cJSON *request, int conn_timeout,
                                      int resp_timeout)
{
    struct appl_command *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->seq = a->next_cmd_seq++;
    snprintf(c->id, sizeof c->id, "c-%012lld", (long long)c->seq);
    memcpy(c->device_id, d->id, strlen(d->id) + 1);
    c->component = strdup(component ? component : "");
    c->name = strdup(name);
    c->request = request ? cJSON_Duplicate(request, 1) : NULL;
    c->connection_timeout = conn_timeout;
    c->response_timeout = resp_timeout;
    c->time_ms = app_now_ms();
    c->status = CMD_SENT;
    if (c->component == NULL || c->name == NULL || (request && c->request == NULL)) {
        appl_command_free(c);
        return NULL;
    }
    appl_device_add_command(d, c);
    save(a, c);
    return c;
}

void appl_command_changed(struct appl *a, struct appl_command *c)
{
    save(a, c);
    cJSON *o = appl_command_to_json(c);
    char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text != NULL) {
        /* the live streams show it; the application layer itself ignores EV_COMMAND */
        struct central_event ev = {.type = EV_COMMAND,
                                   .device_id = c->device_id,
                                   .time_ms = app_now_ms(),
                                   .body = text,
                                   .body_len = strlen(text)};
        events_publish(a->app, &ev);
    }
    free(text);
}

/* ---------------------------------------------------------------- running a command */

/* A direct-method call in flight. The command is found again by id when the answer comes:
 * the device (and its history) may be deleted meanwhile. */
struct appl_command_op {
    struct appl *a;
    struct method_call *call;
    appl_command_done_fn done;
    void *ctx;
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

/* The command failed with @p rc; @p why (NULL = the code's text) is what the history shows. */
static void fail(struct appl *a, struct appl_command *cmd, int rc, const char *why)
{
    cmd->status = CMD_FAILED;
    free(cmd->error);
    cmd->error = strdup(why != NULL ? why : central_strerror(rc));
    appl_command_changed(a, cmd);
}

static void on_method_done(void *ctx, int result, int status, const char *payload, size_t len)
{
    struct appl_command_op *op = ctx;
    struct appl *a = op->a;
    struct appl_command *cmd = find_cmd(a, op->device_id, op->cmd_id);
    appl_command_done_fn done = op->done;
    void *done_ctx = op->ctx;
    free(op);
    if (cmd == NULL) {
        done(done_ctx, CE_NOTFOUND, NULL);
        return;
    }
    cmd->completed_ms = app_now_ms();
    if (result != CE_OK) {
        fail(a, cmd, result,
             result == CE_OFFLINE   ? "the device is not connected"
             : result == CE_TIMEOUT ? "the device did not answer in time"
                                    : NULL);
        done(done_ctx, result, cmd);
        return;
    }
    cmd->response_code = status;
    cJSON_Delete(cmd->response);
    cmd->response = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
    if (cmd->response == NULL && len > 0) {
        /* not JSON: keep the text, the operator still wants to see it */
        char *text = app_strndup(payload, len);
        if (text != NULL)
            cmd->response = cJSON_CreateString(text);
        free(text);
    }
    if (status == 202)
        cmd->status = CMD_PENDING; /* completed later by a reported property (complete()) */
    else if (status >= 200 && status < 300)
        cmd->status = CMD_COMPLETED;
    else
        cmd->status = CMD_FAILED;
    appl_command_changed(a, cmd);
    done(done_ctx, CE_OK, cmd);
}

void appl_command_cancel(struct appl_command_op *op)
{
    if (op == NULL)
        return;
    CENTRAL_ASSERT_LOOP(op->a->app);
    method_cancel(op->call);
    struct appl_command *cmd = find_cmd(op->a, op->device_id, op->cmd_id);
    if (cmd != NULL && cmd->status == CMD_SENT) {
        cmd->status = CMD_FAILED;
        cmd->error = strdup("the server stopped before the device answered");
        appl_command_changed(op->a, cmd);
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

/* Check the command against the device's template; fills @p err and returns CE_INVALID. */
static int check_command(struct appl_template *t, const struct device *dev, const char *comp,
                         const char *name, const cJSON *req, const struct dtdl_capability **out,
                         struct appl_error *err)
{
    char why[300];
    *out = NULL;
    if (t == NULL)
        return CE_OK;
    const struct dtdl_capability *cap = dtdl_find(t->model, comp, name);
    if (cap == NULL || cap->kind != DTDL_COMMAND) {
        const char *near = appl_closest_name(t->model, comp, DTDL_COMMAND, name);
        err->code = "CapabilityNotFound";
        snprintf(err->message, sizeof err->message,
                 "The template of %s has no command \"%s\"%s%s%s%s%s.", dev->id, name,
                 comp[0] ? " in component " : "", comp, near ? " (did you mean \"" : "",
                 near ? near : "", near ? "\"?)" : "");
        return CE_INVALID;
    }
    if (cap->request != NULL && req != NULL && cap->request->schema != NULL &&
        !dtdl_check_value(cap->request->schema, req, why, sizeof why)) {
        err->code = "InvalidBody";
        snprintf(err->message, sizeof err->message, "$.request%s", why[0] == '$' ? why + 1 : why);
        return CE_INVALID;
    }
    *out = cap;
    return CE_OK;
}

/* The device is offline and the command may wait: queue it as a C2D message. */
static void run_queued(struct appl *a, struct appl_command *cmd, struct device *dev,
                       const char *method, const cJSON *req, appl_command_done_fn done, void *ctx)
{
    char *payload = queued_payload(req);
    struct c2d_prop props[] = {{"method-name", method}, {"iothub-ack", "none"}};
    int rc = payload ? c2d_send(a->app, dev, payload, strlen(payload), props, 2, QUEUE_TTL_MS)
                     : CE_NOMEM;
    free(payload);
    cmd->queued = true;
    if (rc != CE_OK) {
        fail(a, cmd, rc, rc == CE_BUSY ? "the device's message queue is full" : NULL);
    } else {
        cmd->status = CMD_QUEUED;
        appl_command_changed(a, cmd);
    }
    done(ctx, rc, cmd);
}

int appl_command_run(struct appl *a, struct appl_device *d, struct device *dev,
                     const char *component, const char *name, const cJSON *request,
                     int conn_timeout, int resp_timeout, appl_command_done_fn done, void *ctx,
                     struct appl_command_op **out_op, struct appl_error *err)
{
    struct appl_template *t = appl_device_template(a, d);
    const struct dtdl_capability *cap;
    char method[300];
    size_t mlen = 0;
    int rc;

    CENTRAL_ASSERT_LOOP(a->app);
    *out_op = NULL;
    rc = check_command(t, dev, component, name, request, &cap, err);
    if (rc != CE_OK)
        return rc;
    if (iotc_central_command_join(iotc_span_from_cstr(component), iotc_span_from_cstr(name), method,
                                  sizeof method, &mlen) != IOTC_OK) {
        err->code = "InvalidParameter";
        snprintf(err->message, sizeof err->message, "Invalid command or component name.");
        return CE_INVALID;
    }
    method[mlen] = '\0';
    bool queue = dev->session == NULL && cap != NULL && appl_template_queue_if_offline(t, cap);
    /* allocate what the direct method needs before anything is recorded */
    struct appl_command_op *op = queue ? NULL : calloc(1, sizeof *op);
    char *text = !queue && request ? cJSON_PrintUnformatted(request) : NULL;
    if ((!queue && op == NULL) || (!queue && request && text == NULL)) {
        free(op);
        free(text);
        return CE_NOMEM;
    }
    struct appl_command *cmd =
        appl_command_new(a, d, component, name, request, conn_timeout, resp_timeout);
    if (cmd == NULL) {
        free(op);
        free(text);
        return CE_NOMEM;
    }
    if (queue) {
        run_queued(a, cmd, dev, method, request, done, ctx);
        return CE_OK;
    }
    *op = (struct appl_command_op){.a = a, .done = done, .ctx = ctx};
    snprintf(op->device_id, sizeof op->device_id, "%s", dev->id);
    snprintf(op->cmd_id, sizeof op->cmd_id, "%s", cmd->id);
    appl_command_changed(a, cmd);
    op->call = method_invoke(a->app, dev->id, method, text, text ? strlen(text) : 0, conn_timeout,
                             resp_timeout, on_method_done, op, &rc);
    free(text);
    if (op->call == NULL) {
        free(op);
        fail(a, cmd, rc, NULL);
        done(ctx, rc, cmd);
        return CE_OK;
    }
    *out_op = op;
    return CE_OK;
}

struct appl_command *appl_command_from_store(const char *json)
{
    cJSON *o = cJSON_Parse(json);
    struct appl_command *c = calloc(1, sizeof *c);
    const cJSON *v;
    if (o == NULL || c == NULL)
        goto bad;
    v = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof c->id)
        goto bad;
    memcpy(c->id, v->valuestring, strlen(v->valuestring) + 1);
    v = cJSON_GetObjectItemCaseSensitive(o, "deviceId");
    if (!cJSON_IsString(v) || strlen(v->valuestring) > DEVICE_ID_MAX)
        goto bad;
    memcpy(c->device_id, v->valuestring, strlen(v->valuestring) + 1);
    v = cJSON_GetObjectItemCaseSensitive(o, "name");
    c->name = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
    v = cJSON_GetObjectItemCaseSensitive(o, "component");
    c->component = strdup(cJSON_IsString(v) ? v->valuestring : "");
    if (c->name == NULL || c->component == NULL)
        goto bad;
    c->request = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "request"), 1);
    c->response = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "response"), 1);
    c->completion = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "completion"), 1);
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "error")))
        c->error = strdup(v->valuestring);
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "responseCode")))
        c->response_code = v->valueint;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "connectionTimeout")))
        c->connection_timeout = v->valueint;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "responseTimeout")))
        c->response_timeout = v->valueint;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "status")))
        c->status = status_parse(v->valuestring);
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "seq")))
        c->seq = (int64_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "timeMs")))
        c->time_ms = (int64_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "completedMs")))
        c->completed_ms = (int64_t)v->valuedouble;
    /* A call that was in flight when the server stopped never got its answer. */
    if (c->status == CMD_SENT) {
        c->status = CMD_FAILED;
        if (c->error == NULL)
            c->error = strdup("the server restarted before the device answered");
    }
    cJSON_Delete(o);
    return c;
bad:
    cJSON_Delete(o);
    appl_command_free(c);
    return NULL;
}

/* Complete the newest pending async command @p name of @p component with @p value. */
static void complete(struct appl *a, struct appl_device *d, const char *component, const char *name,
                     const cJSON *value)
{
    for (size_t i = d->n_cmds; i-- > 0;) {
        struct appl_command *c = d->cmds[i];
        if (c->status != CMD_PENDING || strcmp(c->name, name) != 0 ||
            strcmp(c->component, component) != 0)
            continue;
        /* {"rundiagnostics":{"value":"..."}}: the completion message is the "value" member. */
        const cJSON *v =
            cJSON_IsObject(value) ? cJSON_GetObjectItemCaseSensitive(value, "value") : NULL;
        cJSON_Delete(c->completion);
        c->completion = cJSON_Duplicate(v ? v : value, 1);
        c->status = CMD_COMPLETED;
        c->completed_ms = app_now_ms();
        appl_command_changed(a, c);
        return;
    }
}

void appl_commands_on_reported(struct appl *a, struct appl_device *d, const cJSON *patch)
{
    bool any = false;
    for (size_t i = 0; i < d->n_cmds && !any; i++)
        any = d->cmds[i]->status == CMD_PENDING;
    if (!any)
        return;
    for (const cJSON *it = patch->child; it != NULL; it = it->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "__t");
        if (cJSON_IsObject(it) && cJSON_IsString(t) && strcmp(t->valuestring, "c") == 0) {
            for (const cJSON *p = it->child; p != NULL; p = p->next) {
                if (strcmp(p->string, "__t") != 0)
                    complete(a, d, it->string, p->string, p);
            }
        } else {
            complete(a, d, "", it->string, it);
        }
    }
}
