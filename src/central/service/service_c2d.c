/*
 * service_c2d.c - our own REST endpoint for cloud-to-device messages (docs/PROTOCOL.md §5.4):
 * POST /devices/{id}/messages/deviceBound. The official service SDK sends C2D over AMQP,
 * which iotc-central does not speak; this endpoint gives scripts and the CLI the same power.
 *
 * Request: the body is the message payload (any bytes, at most 64 KB). Headers:
 *   iothub-messageid, iothub-correlationid, iothub-userid -> $.mid, $.cid, $.uid
 *   iothub-contenttype, iothub-contentencoding           -> $.ct, $.ce
 *   iothub-ack: none|positive|negative|full              -> iothub-ack
 *   iothub-ttl: seconds, 1..172800 (default 2 days)      -> message expiry ($.exp)
 *   iothub-app-{name}: {value}                           -> application property {name}
 * $.to is always /devices/{id}/messages/deviceBound. Reply: 204 with iothub-messageid (the
 * given one, or a generated UUID).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "central/base/log.h"
#include "central/hub/c2d.h"
#include "central/hub/registry.h"
#include "central/service/service_http.h"

#define C2D_MAX_PROPS 40
#define C2D_TTL_MAX_S 172800L /* 2 days, the IoT Hub maximum */
#define APP_PREFIX "iothub-app-"

struct prop_set {
    struct http_ctx *c;
    struct c2d_prop props[C2D_MAX_PROPS];
    size_t n;
    const char *message_id;
    const char *ttl;
    const char *bad; /* name of the offending header */
};

static const struct {
    const char *header;
    const char *prop;
} sys_map[] = {
    {"iothub-messageid", "$.mid"},      {"iothub-correlationid", "$.cid"},
    {"iothub-userid", "$.uid"},         {"iothub-contenttype", "$.ct"},
    {"iothub-contentencoding", "$.ce"}, {"iothub-ack", "iothub-ack"},
};

static int add_prop(struct prop_set *ps, const char *key, const char *value)
{
    if (ps->n == C2D_MAX_PROPS)
        return CE_TOOBIG;
    ps->props[ps->n].key = key;
    ps->props[ps->n].value = value;
    ps->n++;
    return 0;
}

static bool ack_is_valid(const char *v)
{
    return strcmp(v, "none") == 0 || strcmp(v, "positive") == 0 || strcmp(v, "negative") == 0 ||
           strcmp(v, "full") == 0;
}

static int collect(void *arg, const char *k, const char *v)
{
    struct prop_set *ps = arg;
    size_t i;

    if (strncasecmp(k, APP_PREFIX, sizeof APP_PREFIX - 1) == 0) {
        const char *name = k + sizeof APP_PREFIX - 1;
        if (*name == '\0' || name[0] == '$' || add_prop(ps, name, v) != 0) {
            ps->bad = k;
            return CE_INVALID;
        }
        return 0;
    }
    if (strcasecmp(k, "iothub-ttl") == 0) {
        ps->ttl = v;
        return 0;
    }
    for (i = 0; i < sizeof sys_map / sizeof sys_map[0]; i++) {
        if (strcasecmp(k, sys_map[i].header) != 0)
            continue;
        if ((strcmp(sys_map[i].prop, "iothub-ack") == 0 && !ack_is_valid(v)) ||
            add_prop(ps, sys_map[i].prop, v) != 0) {
            ps->bad = k;
            return CE_INVALID;
        }
        if (strcmp(sys_map[i].prop, "$.mid") == 0)
            ps->message_id = v;
        return 0;
    }
    return 0;
}

/* Parse iothub-ttl; returns the TTL in ms, 0 when absent, CE_INVALID when invalid. */
static int64_t parse_ttl(const char *text)
{
    char *end = NULL;
    long v;
    if (text == NULL)
        return 0;
    v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > C2D_TTL_MAX_S)
        return CE_INVALID;
    return (int64_t)v * 1000;
}

void service_c2d_send(struct http_ctx *c)
{
    const char *id = c->seg[1];
    struct device *dev = registry_get(c->app, id);
    struct prop_set ps;
    char gen_id[40], to[DEVICE_ID_MAX + 40], exp[32];
    int64_t ttl_ms;
    int rc;

    if (dev == NULL) {
        http_reply_central_err(c, CE_NOTFOUND, id);
        return;
    }
    memset(&ps, 0, sizeof ps);
    ps.c = c;
    if (http_each_header(c, collect, &ps) != 0) {
        http_reply_error(c, 400, "ArgumentInvalid",
                         "Invalid or too many message property headers (at '%s').", ps.bad);
        return;
    }
    ttl_ms = parse_ttl(ps.ttl);
    if (ttl_ms < 0) {
        http_reply_error(c, 400, "ArgumentInvalid", "iothub-ttl must be seconds from 1 to %ld.",
                         C2D_TTL_MAX_S);
        return;
    }
    if (ps.message_id == NULL) {
        /* the tracking id is already a fresh UUID: reuse it as the message id */
        memcpy(gen_id, c->tracking_id, sizeof gen_id);
        ps.message_id = gen_id;
        if (add_prop(&ps, "$.mid", gen_id) != 0) {
            http_reply_error(c, 400, "ArgumentInvalid", "Too many message properties.");
            return;
        }
    }
    snprintf(to, sizeof to, "/devices/%s/messages/deviceBound", id);
    if (ttl_ms > 0) {
        app_format_time(app_now_ms() + ttl_ms, exp);
        if (add_prop(&ps, "$.exp", exp) != 0) {
            http_reply_error(c, 400, "ArgumentInvalid", "Too many message properties.");
            return;
        }
    }
    if (add_prop(&ps, "$.to", to) != 0) {
        http_reply_error(c, 400, "ArgumentInvalid", "Too many message properties.");
        return;
    }
    rc = c2d_send(c->app, dev, c->body, c->body_len, ps.props, ps.n, ttl_ms);
    if (rc == CE_BUSY) {
        http_reply_error(c, 403, "DeviceMaximumQueueDepthExceeded",
                         "The device already has %d messages waiting.", C2D_MAX_QUEUE);
        return;
    }
    if (rc == CE_TOOBIG) {
        http_reply_error(c, 413, "MessageTooLarge", "The message exceeds %d bytes.", C2D_MAX_SIZE);
        return;
    }
    if (rc != CE_OK) {
        http_reply_central_err(c, rc, id);
        return;
    }
    log_info("https: c2d message %s queued for %s (%zu bytes)", LOG_STR(ps.message_id), LOG_STR(id),
             c->body_len);
    http_add_header(c, "iothub-messageid", ps.message_id);
    http_reply_empty(c, 204);
}
