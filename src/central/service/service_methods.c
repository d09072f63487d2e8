/*
 * service_methods.c - direct method invocation, POST /twins/{id}/methods (docs/PROTOCOL.md §6.4).
 * The request waits (asynchronously) for the device's answer or for a timeout.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/base/log.h"
#include "central/hub/method.h"
#include "central/service/service_http.h"

#define METHOD_PAYLOAD_MAX 131072 /* 128 KiB each way (§5.5) */
#define TIMEOUT_MAX_S 300
#define RESPONSE_TIMEOUT_MIN_S 5
#define RESPONSE_TIMEOUT_DEFAULT_S 30

struct method_op {
    struct method_call *call;
    int connect_timeout_s;
    char name[132];
};

static void reply_result(struct http_ctx *c, int status, const char *payload, size_t len)
{
    static const char head[] = "{\"status\":";
    cJSON *check;
    char *text, num[16];
    size_t n, cap;

    if (len == 0) {
        payload = "null";
        len = 4;
    }
    /* The device's payload goes out verbatim inside our JSON, so it must be JSON itself. */
    check = cJSON_ParseWithLength(payload, len);
    if (check == NULL) {
        http_reply_error(c, 502, "BadDeviceResponse",
                         "The device answered with a payload that is not JSON.");
        return;
    }
    cJSON_Delete(check);
    n = (size_t)snprintf(num, sizeof num, "%d", status);
    cap = sizeof head + n + sizeof ",\"payload\":" + len + 2;
    text = malloc(cap);
    if (text == NULL) {
        http_reply_central_err(c, CE_NOMEM, NULL);
        return;
    }
    n = (size_t)snprintf(text, cap, "%s%s,\"payload\":", head, num);
    memcpy(text + n, payload, len);
    n += len;
    text[n++] = '}';
    http_reply_json_text(c, 200, text, n);
    free(text);
}

static void on_done(void *ctx, int result, int status, const char *payload, size_t payload_len)
{
    struct http_ctx *c = ctx;
    struct method_op *op = c->op;
    char info[48];

    c->op = NULL;
    log_info("https: method %s on %s: %s (device status %d)", LOG_STR(op->name), LOG_STR(c->seg[1]),
             central_strerror(result), result == CE_OK ? status : 0);
    switch (result) {
    case CE_OK:
        reply_result(c, status, payload, payload_len);
        break;
    case CE_OFFLINE:
        snprintf(info, sizeof info, "{\"timeout\":\"%02d:%02d:%02d\"}",
                 op->connect_timeout_s / 3600, op->connect_timeout_s / 60 % 60,
                 op->connect_timeout_s % 60);
        http_reply_error_v2(c, 404, "DeviceNotOnline", 404103,
                            "Timed out waiting for device to connect.", info);
        break;
    default:
        http_reply_central_err(c, result, c->seg[1]);
        break;
    }
    free(op);
}

static void on_cancel(struct http_ctx *c)
{
    struct method_op *op = c->op;
    if (op != NULL) {
        method_cancel(op->call);
        free(op);
        c->op = NULL;
    }
}

/* An optional whole number of seconds in [lo, hi]; absent -> def. -1 (replied) on error. */
static int seconds_field(struct http_ctx *c, const cJSON *j, const char *name, int def, int lo,
                         int hi, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (v == NULL || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        http_reply_error(c, 400, "ArgumentInvalid", "%s must be a whole number from %d to %d.",
                         name, lo, hi);
        return CE_INVALID;
    }
    *out = (int)v->valuedouble;
    return 0;
}

void service_method_invoke(struct http_ctx *c)
{
    const char *id = c->seg[1];
    cJSON *j = http_body_json(c, false), *payload;
    const cJSON *name;
    struct method_op *op = NULL;
    char *ptext = NULL;
    int resp_s, conn_s, err = CE_OK;

    if (j == NULL)
        return;
    name = cJSON_GetObjectItemCaseSensitive(j, "methodName");
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
        strlen(name->valuestring) >= sizeof op->name) {
        http_reply_error(c, 400, "ArgumentInvalid",
                         "methodName is required (a string of 1 to 131 characters).");
        goto out;
    }
    /* Older clients send timeoutInSeconds; the documented minimum is 5 s, smaller values are
     * raised to it rather than refused. */
    if (seconds_field(c, j, "responseTimeoutInSeconds", -1, 0, TIMEOUT_MAX_S, &resp_s) != 0 ||
        (resp_s < 0 && seconds_field(c, j, "timeoutInSeconds", RESPONSE_TIMEOUT_DEFAULT_S, 0,
                                     TIMEOUT_MAX_S, &resp_s) != 0) ||
        seconds_field(c, j, "connectTimeoutInSeconds", 0, 0, TIMEOUT_MAX_S, &conn_s) != 0)
        goto out;
    if (resp_s < RESPONSE_TIMEOUT_MIN_S)
        resp_s = RESPONSE_TIMEOUT_MIN_S;
    payload = cJSON_GetObjectItemCaseSensitive(j, "payload");
    if (payload != NULL) {
        ptext = cJSON_PrintUnformatted(payload);
        if (ptext == NULL) {
            http_reply_central_err(c, CE_NOMEM, NULL);
            goto out;
        }
        if (strlen(ptext) > METHOD_PAYLOAD_MAX) {
            http_reply_error(c, 400, "ArgumentInvalid", "The payload exceeds %d bytes.",
                             METHOD_PAYLOAD_MAX);
            goto out;
        }
    }
    op = calloc(1, sizeof *op);
    if (op == NULL) {
        http_reply_central_err(c, CE_NOMEM, NULL);
        goto out;
    }
    op->connect_timeout_s = conn_s;
    memcpy(op->name, name->valuestring, strlen(name->valuestring) + 1);
    c->op = op;
    op->call = method_invoke(c->app, id, name->valuestring, ptext, ptext ? strlen(ptext) : 0,
                             conn_s, resp_s, on_done, c, &err);
    if (op->call == NULL) {
        c->op = NULL;
        free(op);
        if (err == CE_INVALID)
            http_reply_error(c, 400, "ArgumentInvalid", "Invalid method name or payload.");
        else
            http_reply_central_err(c, err, id);
        goto out;
    }
    http_ctx_go_async(c, on_cancel);
out:
    cJSON_free(ptext);
    cJSON_Delete(j);
}
