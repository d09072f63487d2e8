/*
 * dps_body.c - DPS register request and RegistrationOperationStatus bodies (docs/PROTOCOL.md §4.4,
 * §4.5), plus the `{"errorCode":...}` error body shared with the hub twin.
 */
#include <iotc/dps.h>

#include <string.h>

#include <iotc/codec.h>
#include <iotc/json.h>

#include "proto/strbuf.h"

static const char *const status_words[] = {"unknown",  "unassigned", "assigning",
                                           "assigned", "failed",     "disabled"};

const char *iotc_dps_status_str(enum iotc_dps_status s)
{
    if ((unsigned)s >= sizeof(status_words) / sizeof(status_words[0]))
        return status_words[0];
    return status_words[s];
}

enum iotc_dps_status iotc_dps_status_parse(struct iotc_span word)
{
    for (size_t i = 1; i < sizeof(status_words) / sizeof(status_words[0]); i++) {
        if (iotc_span_eq_nocase(word, iotc_span_from_cstr(status_words[i])))
            return (enum iotc_dps_status)i;
    }
    return IOTC_DPS_STATUS_UNKNOWN;
}

static bool nonempty(struct iotc_span s)
{
    return s.ptr != NULL && s.len > 0;
}

/* ---- register body ---- */

static int emit_register(struct iotc_json_writer *w, struct iotc_span reg, struct iotc_span payload,
                         struct iotc_span model)
{
    if (!nonempty(reg))
        return IOTC_E_ARG;
    iotc_json_write_object_begin(w);
    iotc_json_write_key(w, IOTC_SPAN_LIT("registrationId"));
    iotc_json_write_string(w, reg);
    if (model.ptr != NULL) {
        iotc_json_write_key(w, IOTC_SPAN_LIT("payload"));
        iotc_json_write_object_begin(w);
        iotc_json_write_key(w, IOTC_SPAN_LIT("modelId"));
        iotc_json_write_string(w, model);
        iotc_json_write_object_end(w);
    } else if (payload.ptr != NULL) {
        iotc_json_write_key(w, IOTC_SPAN_LIT("payload"));
        iotc_json_write_raw(w, payload);
    }
    iotc_json_write_object_end(w);
    return 0;
}

int iotc_dps_register_body_build(struct iotc_span registration_id, struct iotc_span payload_json,
                                 char *out, size_t out_size, size_t *out_len)
{
    IOTC__JSON_BUILD(w, out, out_size, out_len,
                     emit_register(w, registration_id, payload_json, IOTC_SPAN_NULL));
}

int iotc_dps_register_body_build_model(struct iotc_span registration_id, struct iotc_span model_id,
                                       char *out, size_t out_size, size_t *out_len)
{
    if (!nonempty(model_id))
        return IOTC_E_ARG;
    IOTC__JSON_BUILD(w, out, out_size, out_len,
                     emit_register(w, registration_id, IOTC_SPAN_NULL, model_id));
}

/* Optional string member: absent or null leaves *out untouched; another type is malformed. */
static int get_str(struct iotc_json_value obj, const char *key, struct iotc_span *out)
{
    struct iotc_json_value v;
    int rc = iotc_json_object_find(obj, iotc_span_from_cstr(key), &v);
    if (rc == IOTC_E_NOTFOUND)
        return IOTC_OK;
    if (rc < 0)
        return rc;
    if (v.type == IOTC_JSON_NULL)
        return IOTC_OK;
    return iotc_json_string_contents(v, out);
}

static int get_int(struct iotc_json_value obj, const char *key, bool *has, int64_t *out)
{
    struct iotc_json_value v;
    int rc = iotc_json_object_find(obj, iotc_span_from_cstr(key), &v);
    if (rc == IOTC_E_NOTFOUND || (rc == IOTC_OK && v.type == IOTC_JSON_NULL))
        return IOTC_OK;
    if (rc < 0)
        return rc;
    if (iotc_json_get_int(v, INT64_MIN, INT64_MAX, out) < 0)
        return IOTC_E_MALFORMED;
    *has = true;
    return IOTC_OK;
}

static bool blank(struct iotc_span s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (strchr(" \t\r\n", s.ptr[i]) == NULL)
            return false;
    }
    return true;
}

int iotc_dps_register_body_parse(struct iotc_span body, struct iotc_dps_register_body *out)
{
    struct iotc_dps_register_body r;
    struct iotc_json_value root;
    int rc;
    memset(&r, 0, sizeof(r));
    if (body.ptr == NULL || blank(body)) {
        *out = r;
        return IOTC_OK;
    }
    if (iotc_json_parse(body, &root) < 0 || root.type != IOTC_JSON_OBJECT)
        return IOTC_E_MALFORMED;
    rc = get_str(root, "registrationId", &r.registration_id);
    if (rc < 0)
        return IOTC_E_MALFORMED;
    rc = iotc_json_object_find(root, IOTC_SPAN_LIT("payload"), &r.payload);
    if (rc == IOTC_E_NOTFOUND)
        r.payload.type = IOTC_JSON_NONE;
    else if (rc < 0)
        return IOTC_E_MALFORMED;
    if (r.payload.type == IOTC_JSON_OBJECT && get_str(r.payload, "modelId", &r.model_id) < 0)
        return IOTC_E_MALFORMED;
    *out = r;
    return IOTC_OK;
}

/* ---- response bodies ---- */

static void opt_str(struct iotc_json_writer *w, const char *key, struct iotc_span v)
{
    if (v.ptr == NULL)
        return;
    iotc_json_write_key(w, iotc_span_from_cstr(key));
    iotc_json_write_string(w, v);
}

static int emit_state(struct iotc_json_writer *w, const struct iotc_dps_registration_state *s)
{
    if (!nonempty(s->registration_id) || s->status == IOTC_DPS_STATUS_UNKNOWN ||
        (unsigned)s->status > IOTC_DPS_STATUS_DISABLED)
        return IOTC_E_ARG;
    iotc_json_write_object_begin(w);
    opt_str(w, "registrationId", s->registration_id);
    opt_str(w, "createdDateTimeUtc", s->created_utc);
    opt_str(w, "assignedHub", s->assigned_hub);
    opt_str(w, "deviceId", s->device_id);
    opt_str(w, "status", iotc_span_from_cstr(iotc_dps_status_str(s->status)));
    opt_str(w, "substatus", s->substatus);
    if (s->has_error_code) {
        iotc_json_write_key(w, IOTC_SPAN_LIT("errorCode"));
        iotc_json_write_int(w, s->error_code);
    }
    opt_str(w, "errorMessage", s->error_message);
    opt_str(w, "lastUpdatedDateTimeUtc", s->last_updated_utc);
    opt_str(w, "etag", s->etag);
    if (s->payload_json.ptr != NULL) {
        iotc_json_write_key(w, IOTC_SPAN_LIT("payload"));
        iotc_json_write_raw(w, s->payload_json);
    }
    iotc_json_write_object_end(w);
    return 0;
}

static int emit_operation(struct iotc_json_writer *w, const struct iotc_dps_operation *op)
{
    int rc;
    if (op == NULL || !nonempty(op->operation_id) || op->status == IOTC_DPS_STATUS_UNKNOWN ||
        (unsigned)op->status > IOTC_DPS_STATUS_DISABLED)
        return IOTC_E_ARG;
    iotc_json_write_object_begin(w);
    opt_str(w, "operationId", op->operation_id);
    opt_str(w, "status", iotc_span_from_cstr(iotc_dps_status_str(op->status)));
    if (op->state != NULL) {
        iotc_json_write_key(w, IOTC_SPAN_LIT("registrationState"));
        rc = emit_state(w, op->state);
        if (rc < 0)
            return rc;
    }
    iotc_json_write_object_end(w);
    return 0;
}

int iotc_dps_response_body_build(const struct iotc_dps_operation *op, char *out, size_t out_size,
                                 size_t *out_len)
{
    IOTC__JSON_BUILD(w, out, out_size, out_len, emit_operation(w, op));
}

static int emit_error(struct iotc_json_writer *w, int64_t code, struct iotc_span tracking,
                      struct iotc_span message, struct iotc_span ts)
{
    iotc_json_write_object_begin(w);
    iotc_json_write_key(w, IOTC_SPAN_LIT("errorCode"));
    iotc_json_write_int(w, code);
    opt_str(w, "trackingId", tracking);
    iotc_json_write_key(w, IOTC_SPAN_LIT("message"));
    iotc_json_write_string(w, message);
    opt_str(w, "timestampUtc", ts);
    iotc_json_write_object_end(w);
    return 0;
}

int iotc_dps_error_body_build(int64_t error_code, struct iotc_span tracking_id,
                              struct iotc_span message, struct iotc_span timestamp_utc, char *out,
                              size_t out_size, size_t *out_len)
{
    IOTC__JSON_BUILD(w, out, out_size, out_len,
                     emit_error(w, error_code, tracking_id, message, timestamp_utc));
}

static int parse_state(struct iotc_json_value st, struct iotc_dps_response_view *r)
{
    int rc = 0;
    rc |= get_str(st, "registrationId", &r->registration_id);
    rc |= get_str(st, "assignedHub", &r->assigned_hub);
    rc |= get_str(st, "deviceId", &r->device_id);
    rc |= get_str(st, "substatus", &r->substatus);
    rc |= get_str(st, "errorMessage", &r->error_message);
    rc |= get_int(st, "errorCode", &r->has_error_code, &r->error_code);
    if (rc != 0)
        return IOTC_E_MALFORMED;
    rc = iotc_json_object_find(st, IOTC_SPAN_LIT("payload"), &r->payload);
    if (rc == IOTC_E_NOTFOUND)
        r->payload.type = IOTC_JSON_NONE;
    else if (rc < 0)
        return IOTC_E_MALFORMED;
    return IOTC_OK;
}

int iotc_dps_response_body_parse(struct iotc_span body, struct iotc_dps_response_view *out)
{
    struct iotc_dps_response_view r;
    struct iotc_json_value root, st;
    struct iotc_span message = {NULL, 0};
    bool top_has_code = false;
    int64_t top_code = 0;
    int rc = 0;
    memset(&r, 0, sizeof(r));
    if (iotc_json_parse(body, &root) < 0 || root.type != IOTC_JSON_OBJECT)
        return IOTC_E_MALFORMED;
    rc |= get_str(root, "operationId", &r.operation_id);
    rc |= get_str(root, "status", &r.status_text);
    rc |= get_str(root, "message", &message);
    rc |= get_str(root, "trackingId", &r.tracking_id);
    rc |= get_int(root, "errorCode", &top_has_code, &top_code);
    if (rc != 0)
        return IOTC_E_MALFORMED;
    if (r.status_text.ptr != NULL)
        r.status = iotc_dps_status_parse(r.status_text);
    rc = iotc_json_object_find(root, IOTC_SPAN_LIT("registrationState"), &st);
    if (rc == IOTC_OK && st.type == IOTC_JSON_OBJECT) {
        r.has_registration_state = true;
        if (parse_state(st, &r) < 0)
            return IOTC_E_MALFORMED;
    } else if (rc == IOTC_OK && st.type != IOTC_JSON_NULL) {
        return IOTC_E_MALFORMED;
    } else if (rc < 0 && rc != IOTC_E_NOTFOUND) {
        return IOTC_E_MALFORMED;
    }
    if (!r.has_error_code && top_has_code) {
        r.has_error_code = true;
        r.error_code = top_code;
    }
    if (r.error_message.ptr == NULL)
        r.error_message = message;
    if (r.operation_id.ptr == NULL && r.status_text.ptr == NULL && !top_has_code)
        return IOTC_E_MALFORMED;
    *out = r;
    return IOTC_OK;
}
