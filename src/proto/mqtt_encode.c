/*
 * mqtt_encode.c - MQTT 3.1.1 encoders (see proto/mqtt.h).
 *
 * Every encoder runs body_size() first: it validates what framing needs and yields the
 * Remaining Length, so the buffer check happens before a single byte is written.
 */
#include "proto/mqtt.h"

#include <string.h>

static bool str_fits(struct iotc_span s)
{
    return s.len <= IOTC_MQTT_MAX_STRING;
}

static size_t varint_len(size_t rem)
{
    return rem < 128 ? 1 : rem < 16384 ? 2 : rem < 2097152 ? 3 : 4;
}

static struct iotc_span connect_name(const struct iotc_mqtt_connect *c)
{
    return c->protocol_name.ptr ? c->protocol_name : IOTC_SPAN_LIT("MQTT");
}

static int connect_size(const struct iotc_mqtt_connect *c, size_t *rem)
{
    struct iotc_span name = connect_name(c);
    if (!str_fits(name) || !str_fits(c->client_id) || c->will_qos > 2 ||
        (!c->has_will && (c->will_qos || c->will_retain)) || (c->has_password && !c->has_username))
        return IOTC_E_ARG;
    size_t n = 2 + name.len + 4 + 2 + c->client_id.len;
    if (c->has_will) {
        if (!str_fits(c->will_topic) || !str_fits(c->will_payload))
            return IOTC_E_ARG;
        n += 4 + c->will_topic.len + c->will_payload.len;
    }
    if (c->has_username) {
        if (!str_fits(c->username))
            return IOTC_E_ARG;
        n += 2 + c->username.len;
    }
    if (c->has_password) {
        if (!str_fits(c->password))
            return IOTC_E_ARG;
        n += 2 + c->password.len;
    }
    *rem = n;
    return IOTC_OK;
}

static int publish_size(const struct iotc_mqtt_publish *m, size_t *rem)
{
    if (m->qos > 2 || (m->qos == 0 && m->dup) || (m->qos > 0 && m->packet_id == 0) ||
        !str_fits(m->topic) || m->payload.len > IOTC_MQTT_MAX_REMAINING)
        return IOTC_E_ARG;
    *rem = 2 + m->topic.len + (m->qos ? 2u : 0u) + m->payload.len;
    return IOTC_OK;
}

/* SUBSCRIBE (per = 3: length + QoS byte) and UNSUBSCRIBE (per = 2) share the shape. */
static int filters_size(uint16_t pid, size_t count, const struct iotc_mqtt_subscription *subs,
                        const struct iotc_span *unsubs, struct iotc_span raw, size_t *rem)
{
    if (pid == 0)
        return IOTC_E_ARG;
    size_t n = 2;
    if (!subs && !unsubs) {
        if (raw.len == 0 || raw.len > IOTC_MQTT_MAX_REMAINING)
            return IOTC_E_ARG;
        *rem = n + raw.len;
        return IOTC_OK;
    }
    if (count == 0)
        return IOTC_E_ARG;
    for (size_t i = 0; i < count; i++) {
        struct iotc_span f = subs ? subs[i].filter : unsubs[i];
        if (!str_fits(f) || (subs && subs[i].qos > 2))
            return IOTC_E_ARG;
        n += (subs ? 3u : 2u) + f.len;
        if (n > IOTC_MQTT_MAX_REMAINING)
            return IOTC_E_ARG; /* checked per step so the sum cannot overflow */
    }
    *rem = n;
    return IOTC_OK;
}

static int suback_size(const struct iotc_mqtt_suback *s, size_t *rem)
{
    if (s->packet_id == 0 || s->count == 0 || !s->codes || s->count > IOTC_MQTT_MAX_REMAINING - 2)
        return IOTC_E_ARG;
    for (size_t i = 0; i < s->count; i++) {
        if (s->codes[i] > 2 && s->codes[i] != IOTC_MQTT_SUBACK_FAILURE)
            return IOTC_E_ARG;
    }
    *rem = 2 + s->count;
    return IOTC_OK;
}

static int body_size(const struct iotc_mqtt_packet *pkt, size_t *rem)
{
    switch (pkt->type) {
    case IOTC_MQTT_CONNECT:
        return connect_size(&pkt->connect, rem);
    case IOTC_MQTT_CONNACK:
        if (pkt->connack.return_code > 5 ||
            (pkt->connack.session_present && pkt->connack.return_code != 0))
            return IOTC_E_ARG;
        *rem = 2;
        return IOTC_OK;
    case IOTC_MQTT_PUBLISH:
        return publish_size(&pkt->publish, rem);
    case IOTC_MQTT_PUBACK:
    case IOTC_MQTT_PUBREC:
    case IOTC_MQTT_PUBREL:
    case IOTC_MQTT_PUBCOMP:
    case IOTC_MQTT_UNSUBACK:
        *rem = 2;
        return pkt->packet_id ? IOTC_OK : IOTC_E_ARG;
    case IOTC_MQTT_SUBSCRIBE:
        return filters_size(pkt->subscribe.packet_id, pkt->subscribe.count, pkt->subscribe.list,
                            NULL, pkt->subscribe.raw, rem);
    case IOTC_MQTT_UNSUBSCRIBE:
        return filters_size(pkt->unsubscribe.packet_id, pkt->unsubscribe.count, NULL,
                            pkt->unsubscribe.list, pkt->unsubscribe.raw, rem);
    case IOTC_MQTT_SUBACK:
        return suback_size(&pkt->suback, rem);
    case IOTC_MQTT_PINGREQ:
    case IOTC_MQTT_PINGRESP:
    case IOTC_MQTT_DISCONNECT:
        *rem = 0;
        return IOTC_OK;
    }
    return IOTC_E_ARG;
}

static uint8_t *put_u16(uint8_t *w, uint16_t v)
{
    w[0] = (uint8_t)(v >> 8);
    w[1] = (uint8_t)v;
    return w + 2;
}

static uint8_t *put_raw(uint8_t *w, struct iotc_span s)
{
    if (s.len)
        memcpy(w, s.ptr, s.len);
    return w + s.len;
}

static uint8_t *put_str(uint8_t *w, struct iotc_span s)
{
    return put_raw(put_u16(w, (uint16_t)s.len), s);
}

static uint8_t *put_fixed(uint8_t *w, unsigned type, unsigned flags, size_t rem)
{
    *w++ = (uint8_t)(type << 4 | flags);
    do {
        uint8_t b = rem & 127u;
        rem >>= 7;
        *w++ = rem ? (uint8_t)(b | 128u) : b;
    } while (rem);
    return w;
}

static uint8_t *put_connect(uint8_t *w, const struct iotc_mqtt_connect *c)
{
    w = put_str(w, connect_name(c));
    *w++ = c->protocol_level || c->protocol_name.ptr ? c->protocol_level : 4;
    *w++ = (uint8_t)((c->has_username ? 0x80u : 0u) | (c->has_password ? 0x40u : 0u) |
                     (c->will_retain ? 0x20u : 0u) | (unsigned)(c->will_qos << 3) |
                     (c->has_will ? 0x04u : 0u) | (c->clean_session ? 0x02u : 0u));
    w = put_u16(w, c->keep_alive);
    w = put_str(w, c->client_id);
    if (c->has_will) {
        w = put_str(w, c->will_topic);
        w = put_str(w, c->will_payload);
    }
    if (c->has_username)
        w = put_str(w, c->username);
    if (c->has_password)
        w = put_str(w, c->password);
    return w;
}

static uint8_t *put_publish_head(uint8_t *w, const struct iotc_mqtt_publish *m, size_t rem)
{
    unsigned flags = (m->dup ? 8u : 0u) | (unsigned)(m->qos << 1) | (m->retain ? 1u : 0u);
    w = put_fixed(w, IOTC_MQTT_PUBLISH, flags, rem);
    w = put_str(w, m->topic);
    if (m->qos)
        w = put_u16(w, m->packet_id);
    return w;
}

/* The body filters_size measured: SUBSCRIBE (subs: filter + QoS byte each) or UNSUBSCRIBE
 * (unsubs), or the raw entries when there is no list. */
static void put_filters(uint8_t *w, uint16_t pid, size_t count,
                        const struct iotc_mqtt_subscription *subs, const struct iotc_span *unsubs,
                        struct iotc_span raw)
{
    w = put_u16(w, pid);
    if (!subs && !unsubs) {
        put_raw(w, raw);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        w = put_str(w, subs ? subs[i].filter : unsubs[i]);
        if (subs)
            *w++ = subs[i].qos;
    }
}

static void put_body(uint8_t *w, const struct iotc_mqtt_packet *pkt)
{
    switch (pkt->type) {
    case IOTC_MQTT_CONNECT:
        put_connect(w, &pkt->connect);
        break;
    case IOTC_MQTT_CONNACK:
        w[0] = pkt->connack.session_present ? 1 : 0;
        w[1] = pkt->connack.return_code;
        break;
    case IOTC_MQTT_SUBSCRIBE:
        put_filters(w, pkt->subscribe.packet_id, pkt->subscribe.count, pkt->subscribe.list, NULL,
                    pkt->subscribe.raw);
        break;
    case IOTC_MQTT_UNSUBSCRIBE:
        put_filters(w, pkt->unsubscribe.packet_id, pkt->unsubscribe.count, NULL,
                    pkt->unsubscribe.list, pkt->unsubscribe.raw);
        break;
    case IOTC_MQTT_SUBACK:
        w = put_u16(w, pkt->suback.packet_id);
        memcpy(w, pkt->suback.codes, pkt->suback.count);
        break;
    case IOTC_MQTT_PUBACK:
    case IOTC_MQTT_PUBREC:
    case IOTC_MQTT_PUBREL:
    case IOTC_MQTT_PUBCOMP:
    case IOTC_MQTT_UNSUBACK:
        put_u16(w, pkt->packet_id);
        break;
    default: /* PUBLISH is written by the caller; PINGREQ, PINGRESP, DISCONNECT are empty */
        break;
    }
}

/* Validate and size: Remaining Length in *rem, whole packet in *total. */
static int measure(const struct iotc_mqtt_packet *pkt, size_t *rem, size_t *total)
{
    int rc = body_size(pkt, rem);
    if (rc < 0)
        return rc;
    if (*rem > IOTC_MQTT_MAX_REMAINING)
        return IOTC_E_ARG;
    *total = 1 + varint_len(*rem) + *rem;
    return IOTC_OK;
}

int iotc_mqtt_encoded_size(const struct iotc_mqtt_packet *pkt, size_t *out_size)
{
    size_t rem = 0;
    *out_size = 0;
    return measure(pkt, &rem, out_size);
}

int iotc_mqtt_encode(const struct iotc_mqtt_packet *pkt, void *out, size_t out_cap, size_t *out_len)
{
    size_t rem = 0, total = 0;
    int rc = measure(pkt, &rem, &total);
    *out_len = total;
    if (rc < 0)
        return rc;
    if (total > out_cap)
        return IOTC_E_NOSPACE;
    if (pkt->type == IOTC_MQTT_PUBLISH) {
        put_raw(put_publish_head(out, &pkt->publish, rem), pkt->publish.payload);
        return IOTC_OK;
    }
    /* §2.2.2: PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0b0010 */
    unsigned flags = (pkt->type == IOTC_MQTT_PUBREL || pkt->type == IOTC_MQTT_SUBSCRIBE ||
                      pkt->type == IOTC_MQTT_UNSUBSCRIBE)
                         ? 2u
                         : 0u;
    put_body(put_fixed(out, pkt->type, flags, rem), pkt);
    return IOTC_OK;
}

int iotc_mqtt_encode_publish_header(const struct iotc_mqtt_publish *pub, void *out, size_t out_cap,
                                    size_t *out_len)
{
    size_t rem = 0;
    *out_len = 0;
    int rc = publish_size(pub, &rem);
    if (rc < 0)
        return rc;
    if (rem > IOTC_MQTT_MAX_REMAINING)
        return IOTC_E_ARG;
    size_t head = 1 + varint_len(rem) + rem - pub->payload.len;
    *out_len = head;
    if (head > out_cap)
        return IOTC_E_NOSPACE;
    put_publish_head(out, pub, rem);
    return IOTC_OK;
}
