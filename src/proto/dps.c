/*
 * dps.c - DPS MQTT username and topics (docs/PROTOCOL.md §4.2, §4.3).
 */
#include <iotc/dps.h>

#include <string.h>

#include <iotc/codec.h>

#include "proto/strbuf.h"

static bool nonempty(struct iotc_span s)
{
    return s.ptr != NULL && s.len > 0;
}

static bool has_char(struct iotc_span s, char c)
{
    return s.len > 0 && memchr(s.ptr, c, s.len) != NULL;
}

static int emit_username(struct iotc__sb *sb, struct iotc_span scope, struct iotc_span reg,
                         struct iotc_span api, struct iotc_span ua)
{
    if (!nonempty(scope) || !nonempty(reg) || has_char(scope, '/') || has_char(reg, '/'))
        return IOTC_E_ARG;
    iotc__sb_span(sb, scope);
    iotc__sb_puts(sb, "/registrations/");
    iotc__sb_span(sb, reg);
    iotc__sb_param(sb, "/api-version=", api, IOTC_DPS_API_VERSION);
    iotc__sb_param(sb, "&ClientVersion=", ua, NULL);
    return 0;
}

int iotc_dps_username_build(struct iotc_span id_scope, struct iotc_span registration_id,
                            struct iotc_span api_version, struct iotc_span client_version,
                            char *out, size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len,
                   emit_username(sb, id_scope, registration_id, api_version, client_version));
}

int iotc_dps_username_parse(struct iotc_span username, struct iotc_dps_username *out)
{
    static const char *const keys[] = {"api-version", "ClientVersion"};
    struct iotc_span vals[2] = {{NULL, 0}, {NULL, 0}};
    struct iotc_span rest = username, scope, word, reg;
    if (username.ptr == NULL || !iotc__split(&rest, '/', &scope) ||
        !iotc__split(&rest, '/', &word) || !iotc__split(&rest, '/', &reg))
        return IOTC_E_MALFORMED;
    if (scope.len == 0 || reg.len == 0 ||
        !iotc_span_eq_nocase(word, IOTC_SPAN_LIT("registrations")))
        return IOTC_E_MALFORMED;
    /* A '?' here means `{host}/{device}/{module}/?...`, the hub shape (§10 item 1). */
    if (rest.len > 0 && rest.ptr[0] == '?')
        return IOTC_E_MALFORMED;
    if (iotc__query_pick(rest, keys, vals, 2) < 0)
        return IOTC_E_MALFORMED;
    out->id_scope = scope;
    out->registration_id = reg;
    out->query = rest;
    out->api_version = vals[0];
    out->client_version = vals[1];
    return IOTC_OK;
}

static int emit_register_topic(struct iotc__sb *sb, struct iotc_span rid)
{
    if (!iotc__rid_ok(rid))
        return IOTC_E_ARG;
    iotc__sb_puts(sb, IOTC_DPS_REGISTER_TOPIC_PREFIX);
    iotc__sb_span(sb, rid);
    return 0;
}

int iotc_dps_register_topic_build(struct iotc_span rid, char *out, size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len, emit_register_topic(sb, rid));
}

static int emit_status_topic(struct iotc__sb *sb, struct iotc_span rid, struct iotc_span op)
{
    if (!iotc__rid_ok(rid) || !nonempty(op))
        return IOTC_E_ARG;
    iotc__sb_puts(sb, IOTC_DPS_STATUS_TOPIC_PREFIX);
    iotc__sb_span(sb, rid);
    iotc__sb_puts(sb, "&operationId=");
    iotc__sb_pct(sb, op);
    return 0;
}

int iotc_dps_status_topic_build(struct iotc_span rid, struct iotc_span operation_id, char *out,
                                size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len, emit_status_topic(sb, rid, operation_id));
}

int iotc_dps_request_topic_parse(struct iotc_span topic, struct iotc_dps_request_topic *out)
{
    static const char *const keys[] = {"$rid", "operationId"};
    struct iotc_span vals[2] = {{NULL, 0}, {NULL, 0}};
    struct iotc_span q = topic;
    enum iotc_dps_request_kind kind;
    if (topic.ptr == NULL)
        return IOTC_E_MALFORMED;
    if (iotc__eat(&q, "$dps/registrations/PUT/iotdps-register/?"))
        kind = IOTC_DPS_REQ_REGISTER;
    else if (iotc__eat(&q, "$dps/registrations/GET/iotdps-get-operationstatus/?"))
        kind = IOTC_DPS_REQ_STATUS;
    else
        return IOTC_E_MALFORMED;
    if (iotc__query_pick(q, keys, vals, 2) < 0 || vals[0].len == 0)
        return IOTC_E_MALFORMED;
    if (kind == IOTC_DPS_REQ_STATUS && vals[1].len == 0)
        return IOTC_E_MALFORMED;
    out->kind = kind;
    out->rid = vals[0];
    out->operation_id = kind == IOTC_DPS_REQ_STATUS ? vals[1] : IOTC_SPAN_NULL;
    return IOTC_OK;
}

static int emit_response_topic(struct iotc__sb *sb, unsigned status, struct iotc_span rid,
                               uint32_t retry_after)
{
    if (status < 100 || status > 999 || !iotc__rid_ok(rid))
        return IOTC_E_ARG;
    iotc__sb_puts(sb, IOTC_DPS_RESPONSE_TOPIC_PREFIX);
    iotc__sb_u64(sb, status);
    iotc__sb_puts(sb, "/?$rid=");
    iotc__sb_span(sb, rid);
    if (retry_after > 0) {
        iotc__sb_puts(sb, "&retry-after=");
        iotc__sb_u64(sb, retry_after);
    }
    return 0;
}

int iotc_dps_response_topic_build(unsigned status, struct iotc_span rid, uint32_t retry_after,
                                  char *out, size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len, emit_response_topic(sb, status, rid, retry_after));
}

int iotc_dps_response_topic_parse(struct iotc_span topic, struct iotc_dps_response_topic *out)
{
    static const char *const keys[] = {"$rid", "retry-after"};
    struct iotc_span vals[2] = {{NULL, 0}, {NULL, 0}};
    struct iotc_span q = topic, status_text;
    uint64_t status, retry = 0;
    if (topic.ptr == NULL || !iotc__eat(&q, IOTC_DPS_RESPONSE_TOPIC_PREFIX) ||
        !iotc__split(&q, '/', &status_text))
        return IOTC_E_MALFORMED;
    if (!iotc__parse_u64(status_text, 3, &status) || status < 100)
        return IOTC_E_MALFORMED;
    if (q.len > 0 && !iotc__eat(&q, "?"))
        return IOTC_E_MALFORMED;
    if (iotc__query_pick(q, keys, vals, 2) < 0)
        return IOTC_E_MALFORMED;
    if (vals[1].ptr != NULL && (!iotc__parse_u64(vals[1], 10, &retry) || retry > UINT32_MAX))
        return IOTC_E_MALFORMED;
    out->status = (unsigned)status;
    out->rid = vals[0];
    out->has_retry_after = vals[1].ptr != NULL;
    out->retry_after = (uint32_t)retry;
    return IOTC_OK;
}

bool iotc_dps_is_subscribe_filter(struct iotc_span filter)
{
    return iotc_span_eq(filter, IOTC_SPAN_LIT(IOTC_DPS_SUBSCRIBE_TOPIC));
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool iotc_dps_registration_id_is_valid(struct iotc_span id)
{
    if (id.ptr == NULL || id.len == 0 || id.len > 128)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        unsigned char c = (unsigned char)id.ptr[i];
        if (!is_alnum(c) && c != '-' && c != '.' && c != '_' && c != ':')
            return false;
    }
    unsigned char last = (unsigned char)id.ptr[id.len - 1];
    return is_alnum(last) || last == '-';
}
