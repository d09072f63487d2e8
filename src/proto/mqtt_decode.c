/*
 * mqtt_decode.c - incremental MQTT 3.1.1 decoder (see proto/mqtt.h).
 *
 * Two stages: the fixed header is checked as soon as its bytes are visible (type, flags,
 * Remaining Length, per-type length bounds, size cap), so a bad or oversized packet is
 * refused before its body arrives; the body is only parsed once it is complete, and any
 * shortfall inside a complete body is then MALFORMED, never AGAIN.
 */
#include "proto/mqtt.h"

#include <string.h>

/* Per-type rules for the fixed header, indexed by type. flags: required low nibble, or
 * 0xff for PUBLISH (checked separately). min/max: bounds on Remaining Length that every
 * valid packet meets (§3.x); they let a wrong length fail before the body is read. */
static const struct {
    uint8_t flags;
    uint8_t min;
    uint32_t max;
} rules[16] = {
    [IOTC_MQTT_CONNECT] = {0, 9, IOTC_MQTT_MAX_REMAINING},
    [IOTC_MQTT_CONNACK] = {0, 2, 2},
    [IOTC_MQTT_PUBLISH] = {0xff, 3, IOTC_MQTT_MAX_REMAINING},
    [IOTC_MQTT_PUBACK] = {0, 2, 2},
    [IOTC_MQTT_PUBREC] = {0, 2, 2},
    [IOTC_MQTT_PUBREL] = {2, 2, 2}, /* §3.6.1: flags 0b0010 */
    [IOTC_MQTT_PUBCOMP] = {0, 2, 2},
    [IOTC_MQTT_SUBSCRIBE] = {2, 6, IOTC_MQTT_MAX_REMAINING},
    [IOTC_MQTT_SUBACK] = {0, 3, IOTC_MQTT_MAX_REMAINING},
    [IOTC_MQTT_UNSUBSCRIBE] = {2, 5, IOTC_MQTT_MAX_REMAINING},
    [IOTC_MQTT_UNSUBACK] = {0, 2, 2},
    [IOTC_MQTT_PINGREQ] = {0, 0, 0},
    [IOTC_MQTT_PINGRESP] = {0, 0, 0},
    [IOTC_MQTT_DISCONNECT] = {0, 0, 0},
};

static int parse_header(struct iotc_span in, size_t max_size, unsigned *out_type, size_t *out_hdr,
                        size_t *out_rem)
{
    const uint8_t *p = (const uint8_t *)in.ptr;
    if (in.len < 1)
        return IOTC_E_AGAIN;
    unsigned type = p[0] >> 4, flags = p[0] & 15u;
    if (type == 0 || type == 15)
        return IOTC_E_MALFORMED;
    if (type == IOTC_MQTT_PUBLISH) {
        unsigned qos = (flags >> 1) & 3u;
        /* §3.3.1.2: QoS 3 is malformed; §3.3.1.1: DUP must be 0 for QoS 0 */
        if (qos == 3 || (qos == 0 && (flags & 8u)))
            return IOTC_E_MALFORMED;
    } else if (flags != rules[type].flags) {
        return IOTC_E_MALFORMED;
    }
    /* §2.2.3: at most 4 length bytes, 7 bits each, continuation in the top bit */
    size_t rem = 0, i = 1;
    for (;;) {
        if (i >= in.len)
            return IOTC_E_AGAIN;
        uint8_t b = p[i];
        rem |= (size_t)(b & 127u) << (7 * (i - 1));
        i++;
        if (!(b & 128u))
            break;
        if (i == 5)
            return IOTC_E_MALFORMED;
    }
    if (rem < rules[type].min || rem > rules[type].max)
        return IOTC_E_MALFORMED;
    if (rem > max_size || i + rem > max_size)
        return IOTC_E_TOOBIG;
    *out_type = type;
    *out_hdr = i;
    *out_rem = rem;
    return IOTC_OK;
}

int iotc_mqtt_frame(struct iotc_span in, size_t max_size, enum iotc_mqtt_type *out_type,
                    size_t *out_total)
{
    unsigned type = 0;
    size_t hdr = 0, rem = 0;
    int rc = parse_header(in, max_size, &type, &hdr, &rem);
    if (rc < 0)
        return rc;
    if (out_type)
        *out_type = (enum iotc_mqtt_type)type;
    if (out_total)
        *out_total = hdr + rem;
    return IOTC_OK;
}

/* Body reader: every read is bounds-checked and fails (false) rather than reading past n. */
struct rd {
    const uint8_t *p;
    size_t n;
};

static inline bool rd_u8(struct rd *r, uint8_t *v)
{
    if (r->n < 1)
        return false;
    *v = r->p[0];
    r->p++;
    r->n--;
    return true;
}

static inline bool rd_u16(struct rd *r, uint16_t *v)
{
    if (r->n < 2)
        return false;
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    r->n -= 2;
    return true;
}

/* A length-prefixed field (§1.5.3 strings, §3.1.3 binary data). */
static inline bool rd_bin(struct rd *r, struct iotc_span *v)
{
    uint16_t len;
    if (!rd_u16(r, &len) || r->n < len)
        return false;
    v->ptr = (const char *)r->p;
    v->len = len;
    r->p += len;
    r->n -= len;
    return true;
}

static inline bool rd_str(struct rd *r, struct iotc_span *v)
{
    return rd_bin(r, v) && iotc_mqtt_utf8_validate(*v) == IOTC_OK;
}

/* §2.3.1: a packet identifier, where present, is non-zero */
static inline bool rd_pid(struct rd *r, uint16_t *v)
{
    return rd_u16(r, v) && *v != 0;
}

static int decode_connect(struct rd *r, struct iotc_mqtt_connect *c)
{
    uint8_t flags;
    if (!rd_str(r, &c->protocol_name) || !rd_u8(r, &c->protocol_level))
        return IOTC_E_MALFORMED;
    bool mqtt = c->protocol_name.len == 4 && memcmp(c->protocol_name.ptr, "MQTT", 4) == 0;
    bool mqisdp = c->protocol_name.len == 6 && memcmp(c->protocol_name.ptr, "MQIsdp", 6) == 0;
    if (!mqtt && !mqisdp)
        return IOTC_E_MALFORMED; /* §3.1.2.1 */
    if (!mqtt || c->protocol_level != 4)
        return IOTC_OK; /* protocol_ok stays false: caller answers CONNACK 1 (§3.1.2.2) */
    if (!rd_u8(r, &flags) || !rd_u16(r, &c->keep_alive))
        return IOTC_E_MALFORMED;
    c->clean_session = flags & 0x02u;
    c->has_will = flags & 0x04u;
    c->will_qos = (flags >> 3) & 3u;
    c->will_retain = flags & 0x20u;
    c->has_password = flags & 0x40u;
    c->has_username = flags & 0x80u;
    if ((flags & 0x01u) /* §3.1.2.3 reserved */ || c->will_qos == 3 ||
        (!c->has_will && (c->will_qos || c->will_retain)) /* §3.1.2.6, §3.1.2.7 */ ||
        (c->has_password && !c->has_username) /* §3.1.2.9 */)
        return IOTC_E_MALFORMED;
    if (!rd_str(r, &c->client_id))
        return IOTC_E_MALFORMED;
    if (c->has_will &&
        (!rd_bin(r, &c->will_topic) || iotc_mqtt_topic_validate(c->will_topic) != IOTC_OK ||
         !rd_bin(r, &c->will_payload)))
        return IOTC_E_MALFORMED;
    if (c->has_username && !rd_str(r, &c->username))
        return IOTC_E_MALFORMED;
    if (c->has_password && !rd_bin(r, &c->password))
        return IOTC_E_MALFORMED;
    if (r->n != 0)
        return IOTC_E_MALFORMED;
    c->protocol_ok = true;
    return IOTC_OK;
}

static int decode_publish(struct rd *r, uint8_t flags, struct iotc_mqtt_publish *m)
{
    m->dup = flags & 8u;
    m->qos = (flags >> 1) & 3u;
    m->retain = flags & 1u;
    if (!rd_bin(r, &m->topic) || iotc_mqtt_topic_validate(m->topic) != IOTC_OK)
        return IOTC_E_MALFORMED;
    if (m->qos > 0 && !rd_pid(r, &m->packet_id))
        return IOTC_E_MALFORMED;
    m->payload.ptr = (const char *)r->p;
    m->payload.len = r->n;
    return IOTC_OK;
}

/* SUBSCRIBE (with_qos) and UNSUBSCRIBE: validate every entry, keep the raw view. */
static int decode_filters(struct rd *r, bool with_qos, uint16_t *pid, size_t *count,
                          struct iotc_span *raw)
{
    if (!rd_pid(r, pid))
        return IOTC_E_MALFORMED;
    raw->ptr = (const char *)r->p;
    raw->len = r->n;
    size_t k = 0;
    while (r->n > 0) {
        struct iotc_span f;
        uint8_t qos;
        if (!rd_bin(r, &f) || iotc_mqtt_filter_validate(f) != IOTC_OK)
            return IOTC_E_MALFORMED;
        /* §3.8.3.1: requested QoS 0..2, upper six bits reserved */
        if (with_qos && (!rd_u8(r, &qos) || qos > 2))
            return IOTC_E_MALFORMED;
        k++;
    }
    if (k == 0)
        return IOTC_E_MALFORMED; /* §3.8.3, §3.10.3: at least one filter */
    *count = k;
    return IOTC_OK;
}

static int decode_suback(struct rd *r, struct iotc_mqtt_suback *s)
{
    if (!rd_pid(r, &s->packet_id) || r->n == 0)
        return IOTC_E_MALFORMED;
    for (size_t i = 0; i < r->n; i++) {
        if (r->p[i] > 2 && r->p[i] != IOTC_MQTT_SUBACK_FAILURE)
            return IOTC_E_MALFORMED; /* §3.9.3 */
    }
    s->codes = r->p;
    s->count = r->n;
    return IOTC_OK;
}

static int decode_body(unsigned type, uint8_t flags, struct rd *r, struct iotc_mqtt_packet *pkt)
{
    switch (type) {
    case IOTC_MQTT_CONNECT:
        return decode_connect(r, &pkt->connect);
    case IOTC_MQTT_CONNACK: {
        uint8_t af = r->p[0], rc = r->p[1];
        /* §3.2.2.1 reserved bits; §3.2.2.2 session present only with rc 0; §3.2.2.3 */
        if ((af & 0xfeu) || rc > 5 || ((af & 1u) && rc != 0))
            return IOTC_E_MALFORMED;
        pkt->connack.session_present = af & 1u;
        pkt->connack.return_code = rc;
        return IOTC_OK;
    }
    case IOTC_MQTT_PUBLISH:
        return decode_publish(r, flags, &pkt->publish);
    case IOTC_MQTT_PUBACK:
    case IOTC_MQTT_PUBREC:
    case IOTC_MQTT_PUBREL:
    case IOTC_MQTT_PUBCOMP:
    case IOTC_MQTT_UNSUBACK:
        return rd_pid(r, &pkt->packet_id) ? IOTC_OK : IOTC_E_MALFORMED;
    case IOTC_MQTT_SUBSCRIBE:
        return decode_filters(r, true, &pkt->subscribe.packet_id, &pkt->subscribe.count,
                              &pkt->subscribe.raw);
    case IOTC_MQTT_UNSUBSCRIBE:
        return decode_filters(r, false, &pkt->unsubscribe.packet_id, &pkt->unsubscribe.count,
                              &pkt->unsubscribe.raw);
    case IOTC_MQTT_SUBACK:
        return decode_suback(r, &pkt->suback);
    default: /* PINGREQ, PINGRESP, DISCONNECT: length 0 already enforced */
        return IOTC_OK;
    }
}

int iotc_mqtt_decode(struct iotc_span in, size_t max_size, struct iotc_mqtt_packet *out_pkt,
                     size_t *out_consumed)
{
    unsigned type = 0;
    size_t hdr = 0, rem = 0;
    *out_consumed = 0;
    int rc = parse_header(in, max_size, &type, &hdr, &rem);
    if (rc < 0)
        return rc;
    if (in.len - hdr < rem)
        return IOTC_E_AGAIN;
    memset(out_pkt, 0, sizeof(*out_pkt));
    out_pkt->type = (enum iotc_mqtt_type)type;
    struct rd r = {(const uint8_t *)in.ptr + hdr, rem};
    rc = decode_body(type, (uint8_t)(in.ptr[0] & 15), &r, out_pkt);
    if (rc < 0)
        return rc;
    *out_consumed = hdr + rem;
    return IOTC_OK;
}

bool iotc_mqtt_subscribe_next(struct iotc_span *it, struct iotc_mqtt_subscription *out)
{
    struct rd r = {(const uint8_t *)it->ptr, it->len};
    if (!rd_bin(&r, &out->filter) || !rd_u8(&r, &out->qos))
        return false;
    it->ptr = (const char *)r.p;
    it->len = r.n;
    return true;
}

bool iotc_mqtt_unsubscribe_next(struct iotc_span *it, struct iotc_span *out_filter)
{
    struct rd r = {(const uint8_t *)it->ptr, it->len};
    if (!rd_bin(&r, out_filter))
        return false;
    it->ptr = (const char *)r.p;
    it->len = r.n;
    return true;
}

const char *iotc_mqtt_type_name(int type)
{
    static const char *const names[] = {
        "UNKNOWN",     "CONNECT",  "CONNACK", "PUBLISH",   "PUBACK",
        "PUBREC",      "PUBREL",   "PUBCOMP", "SUBSCRIBE", "SUBACK",
        "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP",  "DISCONNECT",
    };
    if (type < 1 || type > IOTC_MQTT_DISCONNECT)
        return names[0];
    return names[type];
}
