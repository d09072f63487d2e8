/*
 * hub.c - IoT Hub MQTT username and topic builders (docs/PROTOCOL.md §5.2-§5.6).
 *
 * Device and module ids and method names go into topics raw (every SDK does so and the hub
 * never decodes them), so builders refuse the bytes that would change the topic's structure.
 */
#include <iotc/hub.h>

#include <string.h>

#include "proto/strbuf.h"

/* Ids become topic levels: no level separator, no wildcards, no control bytes. */
static bool id_ok(struct iotc_span s)
{
    if (s.ptr == NULL || s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '+' || c == '#')
            return false;
    }
    return true;
}

static bool opt_id_ok(struct iotc_span s)
{
    return s.ptr == NULL || id_ok(s);
}

static int emit_username(struct iotc__sb *sb, struct iotc_span host, struct iotc_span dev,
                         struct iotc_span mod, struct iotc_span api, struct iotc_span ua,
                         struct iotc_span model)
{
    if (!id_ok(host) || !id_ok(dev) || !opt_id_ok(mod))
        return IOTC_E_ARG;
    iotc__sb_span(sb, host);
    iotc__sb_putc(sb, '/');
    iotc__sb_span(sb, dev);
    if (mod.ptr != NULL) {
        iotc__sb_putc(sb, '/');
        iotc__sb_span(sb, mod);
    }
    iotc__sb_param(sb, "/?api-version=", api, IOTC_HUB_API_VERSION);
    iotc__sb_param(sb, "&DeviceClientType=", ua, NULL);
    iotc__sb_param(sb, "&model-id=", model, NULL);
    return 0;
}

int iotc_hub_username_build(struct iotc_span host, struct iotc_span device_id,
                            struct iotc_span module_id, struct iotc_span api_version,
                            struct iotc_span client_type, struct iotc_span model_id, char *out,
                            size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(
        sb, out, out_size, out_len,
        emit_username(sb, host, device_id, module_id, api_version, client_type, model_id));
}

static const char *find2(struct iotc_span s, const char *pair)
{
    for (size_t i = 0; i + 1 < s.len; i++) {
        if (s.ptr[i] == pair[0] && s.ptr[i + 1] == pair[1])
            return s.ptr + i;
    }
    return NULL;
}

int iotc_hub_username_parse(struct iotc_span username, struct iotc_hub_username *out)
{
    static const char *const keys[] = {"api-version", "DeviceClientType", "model-id"};
    struct iotc_span vals[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    struct iotc_hub_username u;
    struct iotc_span rest = username, path;
    memset(&u, 0, sizeof(u));
    if (username.ptr == NULL || !iotc__split(&rest, '/', &u.host) || u.host.len == 0)
        return IOTC_E_MALFORMED;
    /* §5.2: the path ends at the first "/?"; a bare '?' is accepted as well. */
    const char *q = find2(rest, "/?");
    if (q == NULL)
        q = rest.len ? memchr(rest.ptr, '?', rest.len) : NULL;
    if (q != NULL) {
        path.ptr = rest.ptr;
        path.len = (size_t)(q - rest.ptr);
        const char *qs = memchr(q, '?', (size_t)(rest.ptr + rest.len - q));
        u.query.ptr = qs + 1;
        u.query.len = (size_t)(rest.ptr + rest.len - u.query.ptr);
    } else {
        path = rest;
        if (path.len > 0 && path.ptr[path.len - 1] == '/')
            path.len--;
    }
    if (!iotc__split(&path, '/', &u.device_id)) {
        u.device_id = path;
    } else {
        u.module_id = path;
        if (u.module_id.len == 0 || memchr(u.module_id.ptr, '/', u.module_id.len) != NULL)
            return IOTC_E_MALFORMED;
    }
    if (u.device_id.len == 0)
        return IOTC_E_MALFORMED;
    if (u.query.ptr != NULL && iotc__query_pick(u.query, keys, vals, 3) < 0)
        return IOTC_E_MALFORMED;
    u.api_version = vals[0];
    u.client_type = vals[1];
    u.model_id = vals[2];
    *out = u;
    return IOTC_OK;
}

/* ---- telemetry and C2D ---- */

static int emit_msg_topic(struct iotc__sb *sb, struct iotc_span dev, struct iotc_span mod,
                          const char *what, const struct iotc_prop *props, size_t n)
{
    if (!id_ok(dev) || !opt_id_ok(mod) || (props == NULL && n > 0))
        return IOTC_E_ARG;
    iotc__sb_puts(sb, "devices/");
    iotc__sb_span(sb, dev);
    if (mod.ptr != NULL) {
        iotc__sb_puts(sb, "/modules/");
        iotc__sb_span(sb, mod);
    }
    iotc__sb_puts(sb, what);
    return iotc__sb_bag(sb, props, n);
}

int iotc_hub_telemetry_topic_build(struct iotc_span device_id, struct iotc_span module_id,
                                   const struct iotc_prop *props, size_t n, char *out,
                                   size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len,
                   emit_msg_topic(sb, device_id, module_id, "/messages/events/", props, n));
}

int iotc_hub_c2d_topic_build(struct iotc_span device_id, const struct iotc_prop *props, size_t n,
                             char *out, size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(
        sb, out, out_size, out_len,
        emit_msg_topic(sb, device_id, IOTC_SPAN_NULL, "/messages/devicebound/", props, n));
}

int iotc_hub_c2d_subscribe_topic_build(struct iotc_span device_id, char *out, size_t out_size,
                                       size_t *out_len)
{
    IOTC__SB_BUILD(
        sb, out, out_size, out_len,
        emit_msg_topic(sb, device_id, IOTC_SPAN_NULL, "/messages/devicebound/#", NULL, 0));
}

/* ---- methods and twin ---- */

static int emit_rid_topic(struct iotc__sb *sb, const char *prefix, struct iotc_span mid,
                          bool has_status, unsigned status, struct iotc_span rid)
{
    if (!iotc__rid_ok(rid) || (has_status && status > 65535))
        return IOTC_E_ARG;
    iotc__sb_puts(sb, prefix);
    if (mid.ptr != NULL) {
        iotc__sb_span(sb, mid);
        iotc__sb_putc(sb, '/');
    }
    if (has_status) {
        iotc__sb_u64(sb, status);
        iotc__sb_putc(sb, '/');
    }
    iotc__sb_puts(sb, "?$rid=");
    iotc__sb_span(sb, rid);
    return 0;
}

int iotc_hub_method_request_topic_build(struct iotc_span method_name, struct iotc_span rid,
                                        char *out, size_t out_size, size_t *out_len)
{
    if (!iotc__token_ok(method_name, 0x20, "/?#+"))
        return IOTC_E_ARG;
    IOTC__SB_BUILD(sb, out, out_size, out_len,
                   emit_rid_topic(sb, "$iothub/methods/POST/", method_name, false, 0, rid));
}

int iotc_hub_method_response_topic_build(unsigned status, struct iotc_span rid, char *out,
                                         size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len,
                   emit_rid_topic(sb, "$iothub/methods/res/", IOTC_SPAN_NULL, true, status, rid));
}

int iotc_hub_twin_get_topic_build(struct iotc_span rid, char *out, size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len,
                   emit_rid_topic(sb, "$iothub/twin/GET/", IOTC_SPAN_NULL, false, 0, rid));
}

int iotc_hub_twin_patch_topic_build(struct iotc_span rid, char *out, size_t out_size,
                                    size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len,
                   emit_rid_topic(sb, "$iothub/twin/PATCH/properties/reported/", IOTC_SPAN_NULL,
                                  false, 0, rid));
}

static int emit_twin_res(struct iotc__sb *sb, unsigned status, struct iotc_span rid, bool has_v,
                         uint64_t v)
{
    int rc = emit_rid_topic(sb, "$iothub/twin/res/", IOTC_SPAN_NULL, true, status, rid);
    if (rc < 0)
        return rc;
    if (has_v) {
        iotc__sb_puts(sb, "&$version=");
        iotc__sb_u64(sb, v);
    }
    return 0;
}

int iotc_hub_twin_response_topic_build(unsigned status, struct iotc_span rid, bool has_version,
                                       uint64_t version, char *out, size_t out_size,
                                       size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len,
                   emit_twin_res(sb, status, rid, has_version, version));
}

static int emit_desired(struct iotc__sb *sb, uint64_t v)
{
    iotc__sb_puts(sb, "$iothub/twin/PATCH/properties/desired/?$version=");
    iotc__sb_u64(sb, v);
    return 0;
}

int iotc_hub_twin_desired_topic_build(uint64_t version, char *out, size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len, emit_desired(sb, version));
}

bool iotc_hub_property_is_hub_set(struct iotc_span key)
{
    static const char prefix[] = "iothub-connection-";
    if (key.len >= sizeof prefix - 1 &&
        iotc_span_eq_nocase((struct iotc_span){key.ptr, sizeof prefix - 1}, IOTC_SPAN_LIT(prefix)))
        return true;
    return iotc_span_eq_nocase(key, IOTC_SPAN_LIT("$.cdid")) ||
           iotc_span_eq_nocase(key, IOTC_SPAN_LIT("$.cmid")) ||
           iotc_span_eq_nocase(key, IOTC_SPAN_LIT("iothub-enqueuedtime")) ||
           iotc_span_eq_nocase(key, IOTC_SPAN_LIT("iothub-message-source"));
}
