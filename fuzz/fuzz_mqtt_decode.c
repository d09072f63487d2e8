/*
 * fuzz_mqtt_decode.c - MQTT 3.1.1 decoder: no crash or over-read on any input, and every
 * decoded packet survives re-encoding (same body bytes, same fields after re-decoding).
 *
 * Input: byte 0 picks the size cap (< 0x80: protocol maximum, else 2 * (b & 0x7f), to
 * reach TOOBIG), the rest is a byte stream decoded packet after packet.
 */
#include "proto/mqtt.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

static bool span_same(struct iotc_span a, struct iotc_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Field equality; list-form and raw-form SUBSCRIBE/UNSUBSCRIBE compare by raw bytes. */
static bool packet_same(const struct iotc_mqtt_packet *a, const struct iotc_mqtt_packet *b)
{
    if (a->type != b->type)
        return false;
    const struct iotc_mqtt_connect *x = &a->connect, *y = &b->connect;
    const struct iotc_mqtt_publish *m = &a->publish, *n = &b->publish;
    switch (a->type) {
    case IOTC_MQTT_CONNECT:
        if (x->protocol_ok != y->protocol_ok || !span_same(x->protocol_name, y->protocol_name) ||
            x->protocol_level != y->protocol_level)
            return false;
        return !x->protocol_ok ||
               (x->clean_session == y->clean_session && x->keep_alive == y->keep_alive &&
                span_same(x->client_id, y->client_id) && x->has_will == y->has_will &&
                x->will_qos == y->will_qos && x->will_retain == y->will_retain &&
                span_same(x->will_topic, y->will_topic) &&
                span_same(x->will_payload, y->will_payload) && x->has_username == y->has_username &&
                x->has_password == y->has_password && span_same(x->username, y->username) &&
                span_same(x->password, y->password));
    case IOTC_MQTT_CONNACK:
        return a->connack.session_present == b->connack.session_present &&
               a->connack.return_code == b->connack.return_code;
    case IOTC_MQTT_PUBLISH:
        return m->dup == n->dup && m->qos == n->qos && m->retain == n->retain &&
               m->packet_id == n->packet_id && span_same(m->topic, n->topic) &&
               span_same(m->payload, n->payload);
    case IOTC_MQTT_SUBSCRIBE:
        return a->subscribe.packet_id == b->subscribe.packet_id &&
               a->subscribe.count == b->subscribe.count &&
               span_same(a->subscribe.raw, b->subscribe.raw);
    case IOTC_MQTT_UNSUBSCRIBE:
        return a->unsubscribe.packet_id == b->unsubscribe.packet_id &&
               a->unsubscribe.count == b->unsubscribe.count &&
               span_same(a->unsubscribe.raw, b->unsubscribe.raw);
    case IOTC_MQTT_SUBACK:
        return a->suback.packet_id == b->suback.packet_id && a->suback.count == b->suback.count &&
               memcmp(a->suback.codes, b->suback.codes, a->suback.count) == 0;
    default:
        return a->packet_id == b->packet_id; /* 0 == 0 for the empty types */
    }
}

/* Rebuild SUBSCRIBE/UNSUBSCRIBE in list form; it must encode to the same bytes. */
static void check_list_form(const struct iotc_mqtt_packet *p, const uint8_t *enc, size_t len)
{
    static struct iotc_mqtt_subscription subs[4096];
    static struct iotc_span unsubs[4096];
    struct iotc_mqtt_packet q = *p;
    struct iotc_span it;
    size_t k = 0;
    if (p->type == IOTC_MQTT_SUBSCRIBE) {
        for (it = p->subscribe.raw; k < 4096 && iotc_mqtt_subscribe_next(&it, &subs[k]); k++)
            CHECK(iotc_mqtt_filter_validate(subs[k].filter) == IOTC_OK && subs[k].qos <= 2);
        q.subscribe.list = subs;
    } else if (p->type == IOTC_MQTT_UNSUBSCRIBE) {
        for (it = p->unsubscribe.raw; k < 4096 && iotc_mqtt_unsubscribe_next(&it, &unsubs[k]); k++)
            CHECK(iotc_mqtt_filter_validate(unsubs[k]) == IOTC_OK);
        q.unsubscribe.list = unsubs;
    } else {
        return;
    }
    if (k == 4096)
        return;
    CHECK(it.len == 0 &&
          k == (p->type == IOTC_MQTT_SUBSCRIBE ? p->subscribe.count : p->unsubscribe.count));
    uint8_t *buf = malloc(len);
    size_t n = 0;
    CHECK(buf && iotc_mqtt_encode(&q, buf, len, &n) == IOTC_OK && n == len);
    CHECK(memcmp(buf, enc, len) == 0);
    free(buf);
}

static void check_packet(const struct iotc_mqtt_packet *p, const uint8_t *in, size_t used)
{
    size_t cap = used + 16, len = 0, used2 = 0, hlen = 0;
    uint8_t *enc = malloc(cap);
    struct iotc_mqtt_packet q;
    CHECK(enc != NULL);
    CHECK(iotc_mqtt_encode(p, enc, cap, &len) == IOTC_OK);
    CHECK(iotc_mqtt_decode((struct iotc_span){(const char *)enc, len}, len, &q, &used2) == IOTC_OK);
    CHECK(used2 == len && packet_same(p, &q));
    if (p->type != IOTC_MQTT_CONNECT || p->connect.protocol_ok) {
        /* same first byte and body; only a non-minimal length encoding may differ */
        size_t h1 = 1, h2 = 1;
        while (in[h1] & 0x80)
            h1++;
        while (enc[h2] & 0x80)
            h2++;
        CHECK(in[0] == enc[0] && used - h1 == len - h2 &&
              memcmp(in + h1 + 1, enc + h2 + 1, len - h2 - 1) == 0);
    }
    if (p->type == IOTC_MQTT_PUBLISH) {
        CHECK(iotc_mqtt_encode_publish_header(&p->publish, enc, cap, &hlen) == IOTC_OK);
        CHECK(hlen + p->publish.payload.len == len);
        CHECK(iotc_mqtt_topic_matches(p->publish.topic, p->publish.topic));
        CHECK(iotc_mqtt_topic_matches(IOTC_SPAN_LIT("#"), p->publish.topic) ==
              (p->publish.topic.ptr[0] != '$'));
    }
    check_list_form(p, enc, len);
    free(enc);
}

/* Reference matcher for a differential check: split both into levels, compare level by
 * level (§4.7). Slow and obvious on purpose. */
static size_t split(struct iotc_span s, struct iotc_span *out, size_t cap)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= s.len && n < cap; i++) {
        if (i == s.len || s.ptr[i] == '/') {
            out[n++] = (struct iotc_span){s.ptr + start, i - start};
            start = i + 1;
        }
    }
    return n;
}

static bool ref_match(struct iotc_span filter, struct iotc_span topic)
{
    static struct iotc_span fl[4200], tl[4200];
    size_t nf = split(filter, fl, 4200), nt = split(topic, tl, 4200);
    if (topic.ptr[0] == '$' && (filter.ptr[0] == '+' || filter.ptr[0] == '#'))
        return false;
    for (size_t i = 0; i < nf; i++) {
        if (span_same(fl[i], IOTC_SPAN_LIT("#")))
            return true;
        if (i >= nt || (!span_same(fl[i], IOTC_SPAN_LIT("+")) && !span_same(fl[i], tl[i])))
            return false;
    }
    return nf == nt;
}

/* Filters of the last SUBSCRIBE in the stream against a PUBLISH topic. */
static void check_matches(struct iotc_span subs, struct iotc_span topic)
{
    struct iotc_mqtt_subscription e;
    while (iotc_mqtt_subscribe_next(&subs, &e))
        CHECK(iotc_mqtt_topic_matches(e.filter, topic) == ref_match(e.filter, topic));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iotc_span subs = IOTC_SPAN_NULL;
    if (size < 1)
        return 0;
    size_t max = data[0] < 0x80 ? IOTC_MQTT_MAX_PACKET : 2u * (data[0] & 0x7fu);
    struct iotc_span in = {(const char *)data + 1, size - 1};
    while (in.len > 0) {
        struct iotc_mqtt_packet p;
        size_t used = 0, total = 0;
        int rc = iotc_mqtt_decode(in, max, &p, &used);
        int frc = iotc_mqtt_frame(in, max, NULL, &total);
        if (rc != IOTC_OK) {
            CHECK(used == 0);
            CHECK(rc == IOTC_E_AGAIN || rc == IOTC_E_MALFORMED || rc == IOTC_E_TOOBIG);
            CHECK(rc != IOTC_E_AGAIN || frc == IOTC_E_AGAIN || (frc == IOTC_OK && total > in.len));
            CHECK(rc != IOTC_E_TOOBIG || frc == IOTC_E_TOOBIG);
            break;
        }
        CHECK(frc == IOTC_OK && total == used && used >= 2 && used <= in.len);
        /* one byte short of a decoded packet is always AGAIN */
        struct iotc_mqtt_packet q;
        size_t u2 = 0;
        CHECK(iotc_mqtt_decode((struct iotc_span){in.ptr, used - 1}, max, &q, &u2) == IOTC_E_AGAIN);
        check_packet(&p, (const uint8_t *)in.ptr, used);
        if (p.type == IOTC_MQTT_SUBSCRIBE)
            subs = p.subscribe.raw;
        else if (p.type == IOTC_MQTT_PUBLISH)
            check_matches(subs, p.publish.topic);
        in.ptr += used;
        in.len -= used;
    }
    return 0;
}
