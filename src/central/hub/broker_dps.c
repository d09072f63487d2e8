/*
 * broker_dps.c - the Device Provisioning Service side of a connection (docs/PROTOCOL.md §4).
 *
 * Register: the device is resolved (individual enrollment = registered device with its own
 * keys; group enrollment = unknown id authenticated with the group-derived key, which creates
 * the device) and the outcome is stored in an operation; the answer is 202 "assigning" with
 * retry-after, and polls by operationId return the outcome (assigned / disabled / failed).
 *
 * Registration ids follow DPS's rules (iotc_dps_registration_id_is_valid) and, as in DPS, are
 * compared ignoring case: DPS lower-cases them, so a device created through the group gets the
 * lower-cased id, and a registration that differs only in case from an existing device
 * resolves to that device (docs/PROTOCOL.md §4.2).
 */
#include "central/hub/broker_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "central/base/events.h"
#include "central/base/log.h"
#include "iotc/codec.h"
#include "iotc/dps.h"
#include "iotc/json.h"
#include "iotc/sas.h"

struct dps_op {
    struct dps_op *next;
    char op_id[80];
    enum iotc_dps_status status;
    char created[32];
    char updated[32];
    char device_id[DEVICE_ID_MAX + 1]; /* the device the registration resolved to, or "" */
    int64_t error_code;
    const char *error_message;
};

void dps_free_ops(struct session *s)
{
    while (s->ops != NULL) {
        struct dps_op *next = s->ops->next;
        free(s->ops);
        s->ops = next;
    }
}

void dps_on_connect(struct session *s, const struct auth_result *ar)
{
    /* Checked on the id as sent: s->ident is cut at DEVICE_ID_MAX. */
    s->dps_id_ok = iotc_dps_registration_id_is_valid(ar->id);
    log_info("dps: connect %s from %s", LOG_STR(s->ident), s->peer);
}

void dps_on_subscribe(struct session *s, const struct iotc_mqtt_packet *pkt)
{
    CENTRAL_ASSERT(s->kind == S_DPS);
    uint8_t codes[16];
    size_t n = 0;
    struct iotc_span it = pkt->subscribe.raw;
    struct iotc_mqtt_subscription sub;
    while (iotc_mqtt_subscribe_next(&it, &sub)) {
        if (!iotc_dps_is_subscribe_filter(sub.filter) || n == sizeof codes) {
            log_warn("dps: %s subscribed to unsupported filter %s", LOG_STR(s->ident),
                     LOG_SPAN(sub.filter.ptr, sub.filter.len));
            session_close(s, "unsupported subscription", false);
            return;
        }
        s->dps_subscribed = true;
        s->dps_qos = sub.qos > 1 ? 1 : sub.qos;
        codes[n++] = s->dps_qos;
    }
    struct iotc_mqtt_packet r = {.type = IOTC_MQTT_SUBACK};
    r.suback.packet_id = pkt->subscribe.packet_id;
    r.suback.count = n;
    r.suback.codes = codes;
    session_send(s, &r);
}

static void respond(struct session *s, unsigned status, struct iotc_span rid, uint32_t retry_after,
                    const char *body, size_t body_len)
{
    char topic[256];
    size_t tlen;
    if (!s->dps_subscribed)
        return; /* MQTT: nothing is delivered without a matching subscription */
    if (iotc_dps_response_topic_build(status, rid, retry_after, topic, sizeof topic, &tlen) !=
        IOTC_OK) {
        session_close(s, "unusable $rid", false);
        return;
    }
    session_publish(s, topic, tlen, body, body_len, s->dps_qos, NULL);
}

/* A version 4 UUID from the 16 random bytes at @p r (modified). */
static void format_uuid(unsigned char r[16], char out[37])
{
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

static void make_uuid(char out[37])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        memset(r, 0x5a, sizeof r);
    format_uuid(r, out);
}

static void respond_error(struct session *s, unsigned status, struct iotc_span rid, int64_t code,
                          const char *message)
{
    char uuid[37], now[32], body[512];
    size_t len;
    make_uuid(uuid);
    app_format_time(app_now_ms(), now);
    if (iotc_dps_error_body_build(code, iotc_span_from_cstr(uuid), iotc_span_from_cstr(message),
                                  iotc_span_from_cstr(now), body, sizeof body, &len) != IOTC_OK)
        len = (size_t)snprintf(body, sizeof body, "{\"errorCode\":%lld}", (long long)code);
    respond(s, status, rid, 0, body, len);
}

/* DPS's spelling of a registration id: lower case (@p out holds DEVICE_ID_MAX + 1). */
static void lower_id(const char *id, char *out)
{
    size_t i = 0;
    for (; i < DEVICE_ID_MAX && id[i] != '\0'; i++) {
        char c = id[i];
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
    }
    out[i] = '\0';
}

static void respond_op(struct session *s, const struct dps_op *op, struct iotc_span rid, bool final)
{
    struct app *app = s->app;
    struct iotc_dps_registration_state st = {0};
    struct iotc_dps_operation o = {0};
    char etag[64], reg_id[DEVICE_ID_MAX + 1];
    lower_id(s->ident, reg_id);
    o.operation_id = iotc_span_from_cstr(op->op_id);
    if (!final) {
        o.status = IOTC_DPS_STATUS_ASSIGNING;
    } else {
        o.status = op->status;
        st.registration_id = iotc_span_from_cstr(reg_id);
        st.created_utc = iotc_span_from_cstr(op->created);
        st.last_updated_utc = iotc_span_from_cstr(op->updated);
        st.status = op->status;
        size_t elen;
        if (iotc_base64_encode(op->op_id, strlen(op->op_id) < 40 ? strlen(op->op_id) : 40, etag,
                               sizeof etag, &elen) == IOTC_OK)
            st.etag = iotc_span_from_cstr(etag);
        if (op->status == IOTC_DPS_STATUS_ASSIGNED) {
            st.assigned_hub = iotc_span_from_cstr(app->assigned_hub);
            st.device_id = iotc_span_from_cstr(op->device_id);
            st.substatus = IOTC_SPAN_LIT("initialAssignment");
        }
        if (op->error_code != 0) {
            st.has_error_code = true;
            st.error_code = op->error_code;
            st.error_message = iotc_span_from_cstr(op->error_message);
        }
        o.state = &st;
    }
    char body[2048];
    size_t len;
    if (iotc_dps_response_body_build(&o, body, sizeof body, &len) != IOTC_OK) {
        respond_error(s, 500, rid, 500000, "Internal error");
        return;
    }
    respond(s, final ? 200 : 202, rid, final ? 0 : (uint32_t)app->cfg.dps_retry_after_s, body, len);
}

/* A device that registered through the group registers again (auth.c accepted a key derived
 * from the current group keys and the registration id as the device spells it, @p reg_id).
 * When the group keys were regenerated since, or the device now spells its id in another
 * case, its hub identity takes the keys derived from the current ones, as DPS
 * re-provisioning updates the hub identity; otherwise the hub would refuse the new key the
 * device just proved it holds. */
static int refresh_group_keys(struct app *app, struct device *dev, const char *reg_id,
                              const struct egroup_keys *g)
{
    char pk[64], sk[64];
    size_t l1, l2;
    if (iotc_sas_derive_device_key(iotc_span_from_cstr(g->primary_key), iotc_span_from_cstr(reg_id),
                                   pk, sizeof pk, &l1) != IOTC_OK ||
        iotc_sas_derive_device_key(iotc_span_from_cstr(g->secondary_key),
                                   iotc_span_from_cstr(reg_id), sk, sizeof sk, &l2) != IOTC_OK)
        return CE_INVALID;
    bool same_group = dev->enrollment_group != NULL && strcmp(dev->enrollment_group, g->id) == 0;
    if (same_group && strcmp(pk, dev->primary_key) == 0 && strcmp(sk, dev->secondary_key) == 0)
        return CE_OK;
    log_info("dps: %s registered again through group %s; its keys follow that group's keys",
             LOG_STR(dev->id), LOG_STR(g->id));
    struct device_update upd = {.primary_key = pk, .secondary_key = sk, .status = -1};
    int rc = registry_update(app, dev, &upd);
    if (rc == CE_OK && !same_group)
        rc = registry_set_group(app, dev, g->id);
    return rc;
}

static enum iotc_dps_status assign(struct app *app, struct dps_op *op, struct device *dev,
                                   const struct iotc_dps_register_body *body);

/* The operation fails with 500000 and @p why. */
static enum iotc_dps_status failed(struct dps_op *op, const char *why)
{
    op->error_code = 500000;
    op->error_message = why;
    return IOTC_DPS_STATUS_FAILED;
}

/* A registration through an X.509 enrollment group (the certificate chained to its verified CA
 * and its CN is the registration id, auth.c): the device is created, or kept, as a
 * certificateAuthority identity of that group; the hub checks the same chain and CN. */
static enum iotc_dps_status resolve_x509_group(struct session *s, struct dps_op *op,
                                               const struct iotc_dps_register_body *body,
                                               const struct egroup *g, struct device *dev,
                                               const char *id)
{
    struct app *app = s->app;
    const struct device_x509 ca = {.type = AUTH_TYPE_CA};
    const struct device_update upd = {.status = -1, .x509 = &ca};
    int rc = CE_OK;
    if (dev == NULL) {
        rc = registry_create(app, id, NULL, NULL, true, g->id, &dev);
        if (rc == CE_OK)
            rc = registry_update(app, dev, &upd);
    } else {
        if (dev->auth_type != AUTH_TYPE_CA)
            rc = registry_update(app, dev, &upd);
        if (rc == CE_OK &&
            (dev->enrollment_group == NULL || strcmp(dev->enrollment_group, g->id) != 0))
            rc = registry_set_group(app, dev, g->id);
    }
    if (rc != CE_OK || dev == NULL)
        return failed(op, "Device could not be created.");
    return assign(app, op, dev, body);
}

/* The registration resolved to @p dev: its id and the model id it announced are recorded; a
 * disabled device is told so. */
static enum iotc_dps_status assign(struct app *app, struct dps_op *op, struct device *dev,
                                   const struct iotc_dps_register_body *body)
{
    memcpy(op->device_id, dev->id, strlen(dev->id) + 1);
    if (body->model_id.ptr != NULL) {
        char model[512];
        size_t mlen;
        if (iotc_json_unescape(body->model_id, model, sizeof model, &mlen) == IOTC_OK &&
            mlen < sizeof model && memchr(model, '\0', mlen) == NULL)
            registry_set_model_id(app, dev, model);
    }
    if (dev->status != DEVICE_ENABLED) {
        op->error_code = 0;
        return IOTC_DPS_STATUS_DISABLED;
    }
    return IOTC_DPS_STATUS_ASSIGNED;
}

/* Resolve the registration into a device; returns the final status for the operation. */
static enum iotc_dps_status resolve(struct session *s, struct dps_op *op,
                                    const struct iotc_dps_register_body *body)
{
    struct app *app = s->app;
    char id[DEVICE_ID_MAX + 1];
    lower_id(s->ident, id);
    struct device *dev = registry_get_nocase(app, s->ident); /* as auth.c looked it up */
    struct egroup_keys g;
    bool through_group = s->dps_group != UINT32_MAX;
    const struct egroup *xg = through_group ? egroups_enabled_by_serial(app, s->dps_group) : NULL;
    if (xg != NULL && xg->attestation == EGROUP_X509)
        return resolve_x509_group(s, op, body, xg, dev, id);
    if (through_group && !egroups_keys_by_serial(app, s->dps_group, &g)) {
        /* the group was deleted or disabled since the CONNECT */
        op->error_code = 401002;
        op->error_message = "The enrollment group is disabled or gone.";
        return IOTC_DPS_STATUS_FAILED;
    }
    if (dev == NULL) {
        /* Only a group-key authenticated session gets here (unknown ids have no own key). The
         * device holds the key derived from its own spelling of the id; its hub id is DPS's. */
        char pk[64], sk[64];
        size_t l1, l2;
        if (!through_group ||
            iotc_sas_derive_device_key(iotc_span_from_cstr(g.primary_key),
                                       iotc_span_from_cstr(s->ident), pk, sizeof pk,
                                       &l1) != IOTC_OK ||
            iotc_sas_derive_device_key(iotc_span_from_cstr(g.secondary_key),
                                       iotc_span_from_cstr(s->ident), sk, sizeof sk,
                                       &l2) != IOTC_OK ||
            registry_create(app, id, pk, sk, true, g.id, &dev) != CE_OK)
            return failed(op, "Device could not be created.");
    } else if (dev->enrollment_group != NULL && through_group &&
               refresh_group_keys(app, dev, s->ident, &g) != CE_OK)
        return failed(op, "Device keys could not be updated.");
    return assign(app, op, dev, body);
}

static void on_register(struct session *s, struct iotc_span rid, struct iotc_span payload)
{
    struct iotc_dps_register_body body;
    if (iotc_dps_register_body_parse(payload, &body) != IOTC_OK) {
        respond_error(s, 400, rid, 400004, "Malformed registration request body.");
        return;
    }
    if (body.registration_id.ptr != NULL &&
        !iotc_json_string_eq(
            (struct iotc_json_value){IOTC_JSON_STRING,
                                     {body.registration_id.ptr - 1, body.registration_id.len + 2}},
            iotc_span_from_cstr(s->ident))) {
        respond_error(s, 400, rid, 400004, "registrationId does not match the connection.");
        return;
    }
    if (!s->dps_id_ok) { /* DPS's answer to an id outside its rules; nothing is created */
        log_warn("dps: %s is not a valid registration id", LOG_STR(s->ident));
        respond_error(s, 400, rid, 400004, "Invalid RegistrationId.");
        return;
    }
    struct dps_op *op = calloc(1, sizeof *op);
    if (op == NULL) {
        respond_error(s, 500, rid, 500000, "Out of memory.");
        return;
    }
    /* One draw for both parts: each RAND_bytes() costs a getpid() system call (OpenSSL's
     * fork check) besides the DRBG's locking. */
    unsigned char r[24];
    char uuid[37];
    if (RAND_bytes(r, sizeof r) != 1)
        memset(r, 0x5a, sizeof r);
    format_uuid(r + 8, uuid);
    snprintf(op->op_id, sizeof op->op_id, "4.%02x%02x%02x%02x%02x%02x%02x%02x.%s", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7], uuid);
    app_format_time(app_now_ms(), op->created);
    op->status = resolve(s, op, &body);
    app_format_time(app_now_ms(), op->updated);
    op->next = s->ops;
    s->ops = op;
    log_info("dps: registration %s -> %s (operation %s, device %s)", LOG_STR(s->ident),
             iotc_dps_status_str(op->status), op->op_id,
             op->device_id[0] ? LOG_STR(op->device_id) : "-");
    if (op->status == IOTC_DPS_STATUS_ASSIGNED)
        events_device(s->app, EV_PROVISIONED, op->device_id);
    respond_op(s, op, rid, false);
}

static void on_status(struct session *s, struct iotc_span rid, struct iotc_span op_id)
{
    char id[128];
    size_t len;
    if (iotc_pct_decode(op_id, id, sizeof id, &len) != IOTC_OK || len >= sizeof id) {
        respond_error(s, 400, rid, 400004, "Malformed operationId.");
        return;
    }
    for (struct dps_op *op = s->ops; op != NULL; op = op->next) {
        if (strlen(op->op_id) == len && memcmp(op->op_id, id, len) == 0) {
            respond_op(s, op, rid, true);
            return;
        }
    }
    respond_error(s, 404, rid, 404001, "Operation not found.");
}

void dps_on_publish(struct session *s, const struct iotc_mqtt_publish *pub)
{
    CENTRAL_ASSERT(s->kind == S_DPS);
    struct iotc_dps_request_topic t;
    if (iotc_dps_request_topic_parse(pub->topic, &t) != IOTC_OK) {
        log_warn("dps: %s published to unsupported topic %s", LOG_STR(s->ident),
                 LOG_SPAN(pub->topic.ptr, pub->topic.len));
        session_close(s, "unsupported topic", false);
        return;
    }
    if (pub->qos == 1) {
        struct iotc_mqtt_packet ack = {.type = IOTC_MQTT_PUBACK};
        ack.packet_id = pub->packet_id;
        session_send(s, &ack);
    }
    if (t.kind == IOTC_DPS_REQ_REGISTER)
        on_register(s, t.rid, pub->payload);
    else
        on_status(s, t.rid, t.operation_id);
}
