/*
 * appl_cmd.c - command history: entries, their JSON (DeviceCommand), persistence, and the
 * completion of asynchronous commands by the reported property named like the command
 * (docs/PROTOCOL.md §7.5, §9).
 */
#include "central/app/appl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/base/events.h"
#include "central/store/store_app.h"

const char *appl_cmd_status_name(enum appl_cmd_status s)
{
    switch (s) {
    case CMD_COMPLETED:
        return "completed";
    case CMD_FAILED:
        return "failed";
    case CMD_PENDING:
        return "pending";
    case CMD_QUEUED:
        return "queued";
    default:
        return "sent";
    }
}

static enum appl_cmd_status status_parse(const char *s)
{
    static const enum appl_cmd_status all[] = {CMD_SENT, CMD_COMPLETED, CMD_FAILED, CMD_PENDING,
                                               CMD_QUEUED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(appl_cmd_status_name(all[i]), s) == 0)
            return all[i];
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
    if (text != NULL) {
        /* for other subscribers of the bus; the application layer itself ignores EV_COMMAND */
        struct central_event ev = {.type = EV_COMMAND,
                                   .device_id = c->device_id,
                                   .time_ms = app_now_ms(),
                                   .body = text,
                                   .body_len = strlen(text)};
        events_publish(a->app, &ev);
    }
    free(text);
    if (o != NULL)
        appl_sse_publish(a, c->device_id, "command", o);
    cJSON_Delete(o);
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
