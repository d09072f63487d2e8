/*
 * test_mqtt.c - MQTT 3.1.1 codec: spec byte vectors, round trips of all 14 packet types,
 * malformed / truncated / oversized input, encoder limits. Topics: test_mqtt_topic.c.
 */
#include "proto/mqtt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#define MAX IOTC_MQTT_MAX_PACKET

/* "10 0c 00" -> bytes; returns the count. Vectors are written as hex so they read like
 * the spec's tables. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        char pair[3] = {s[0], s[1], 0};
        assert_true(n < cap && s[1] != 0);
        out[n++] = (uint8_t)strtoul(pair, NULL, 16);
        s += 2;
    }
    return n;
}

static struct iotc_span bspan(const uint8_t *p, size_t n)
{
    return (struct iotc_span){(const char *)p, n};
}

/* braced, so it also works in static initializers (a compound literal would not) */
#define S(lit)                 \
    {                          \
        (lit), sizeof(lit) - 1 \
    }
#define L(lit) IOTC_SPAN_LIT(lit)

static void span_eq(const char *what, struct iotc_span a, struct iotc_span b)
{
    if (a.len != b.len || (a.len && memcmp(a.ptr, b.ptr, a.len) != 0))
        fail_msg("%s: span '%.*s' (%zu) != '%.*s' (%zu)", what, (int)a.len, a.ptr ? a.ptr : "",
                 a.len, (int)b.len, b.ptr ? b.ptr : "", b.len);
}

/* Compare a decoded packet with the one that was encoded (list form or raw form). */
static void packet_eq(const struct iotc_mqtt_packet *want, const struct iotc_mqtt_packet *got)
{
    assert_int_equal(want->type, got->type);
    switch (want->type) {
    case IOTC_MQTT_CONNECT: {
        const struct iotc_mqtt_connect *w = &want->connect, *g = &got->connect;
        assert_true(g->protocol_ok);
        span_eq("protocol", L("MQTT"), g->protocol_name);
        assert_int_equal(4, g->protocol_level);
        assert_int_equal(w->clean_session, g->clean_session);
        assert_int_equal(w->keep_alive, g->keep_alive);
        span_eq("client_id", w->client_id, g->client_id);
        assert_int_equal(w->has_will, g->has_will);
        assert_int_equal(w->will_qos, g->will_qos);
        assert_int_equal(w->will_retain, g->will_retain);
        assert_int_equal(w->has_username, g->has_username);
        assert_int_equal(w->has_password, g->has_password);
        if (w->has_will) {
            span_eq("will_topic", w->will_topic, g->will_topic);
            span_eq("will_payload", w->will_payload, g->will_payload);
        }
        if (w->has_username)
            span_eq("username", w->username, g->username);
        if (w->has_password)
            span_eq("password", w->password, g->password);
        break;
    }
    case IOTC_MQTT_CONNACK:
        assert_int_equal(want->connack.session_present, got->connack.session_present);
        assert_int_equal(want->connack.return_code, got->connack.return_code);
        break;
    case IOTC_MQTT_PUBLISH:
        assert_int_equal(want->publish.dup, got->publish.dup);
        assert_int_equal(want->publish.qos, got->publish.qos);
        assert_int_equal(want->publish.retain, got->publish.retain);
        assert_int_equal(want->publish.qos ? want->publish.packet_id : 0, got->publish.packet_id);
        span_eq("topic", want->publish.topic, got->publish.topic);
        span_eq("payload", want->publish.payload, got->publish.payload);
        break;
    case IOTC_MQTT_SUBSCRIBE: {
        assert_int_equal(want->subscribe.packet_id, got->subscribe.packet_id);
        assert_null(got->subscribe.list);
        struct iotc_span it = got->subscribe.raw;
        struct iotc_mqtt_subscription e;
        size_t i = 0;
        while (iotc_mqtt_subscribe_next(&it, &e)) {
            assert_true(i < want->subscribe.count);
            span_eq("filter", want->subscribe.list[i].filter, e.filter);
            assert_int_equal(want->subscribe.list[i].qos, e.qos);
            i++;
        }
        assert_int_equal(want->subscribe.count, i);
        assert_int_equal(i, got->subscribe.count);
        assert_int_equal(0, it.len);
        break;
    }
    case IOTC_MQTT_UNSUBSCRIBE: {
        assert_int_equal(want->unsubscribe.packet_id, got->unsubscribe.packet_id);
        struct iotc_span it = got->unsubscribe.raw, f;
        size_t i = 0;
        while (iotc_mqtt_unsubscribe_next(&it, &f)) {
            assert_true(i < want->unsubscribe.count);
            span_eq("filter", want->unsubscribe.list[i], f);
            i++;
        }
        assert_int_equal(want->unsubscribe.count, i);
        assert_int_equal(i, got->unsubscribe.count);
        break;
    }
    case IOTC_MQTT_SUBACK:
        assert_int_equal(want->suback.packet_id, got->suback.packet_id);
        assert_int_equal(want->suback.count, got->suback.count);
        assert_memory_equal(want->suback.codes, got->suback.codes, want->suback.count);
        break;
    case IOTC_MQTT_PUBACK:
    case IOTC_MQTT_PUBREC:
    case IOTC_MQTT_PUBREL:
    case IOTC_MQTT_PUBCOMP:
    case IOTC_MQTT_UNSUBACK:
        assert_int_equal(want->packet_id, got->packet_id);
        break;
    default:
        break;
    }
}

/* Every strict prefix of a complete packet must be AGAIN with nothing consumed. */
static void check_prefixes(const uint8_t *buf, size_t len)
{
    struct iotc_mqtt_packet p;
    for (size_t n = 0; n < len; n++) {
        size_t used = 99;
        int rc = iotc_mqtt_decode(bspan(buf, n), MAX, &p, &used);
        if (rc != IOTC_E_AGAIN)
            fail_msg("prefix %zu of %zu: rc %d, want AGAIN", n, len, rc);
        assert_int_equal(0, used);
    }
}

/* ---- exact byte vectors (MQTT 3.1.1 §3.x figures, hand-encoded) ---- */

static const struct iotc_mqtt_subscription vec_subs[] = {{S("a/b"), 1}, {S("c/#"), 2}};
static const struct iotc_span vec_unsubs[] = {S("a/b"), S("+/x")};
static const uint8_t vec_codes[] = {1, 0x80};

static const struct {
    const char *name;
    const char *hex;
    struct iotc_mqtt_packet pkt;
} vectors[] = {
    /* §3.1.2.11 non-normative example flags 0xCE: user, password, will QoS 1, will, clean */
    {"connect-full",
     "10 20 00 04 4d 51 54 54 04 ce 00 0a 00 04 64 65 76 31 00 03 77 2f 74 00 03 62 79 65"
     " 00 01 75 00 01 70",
     {.type = IOTC_MQTT_CONNECT,
      .connect = {.clean_session = true,
                  .keep_alive = 10,
                  .client_id = S("dev1"),
                  .has_will = true,
                  .will_qos = 1,
                  .will_topic = S("w/t"),
                  .will_payload = S("bye"),
                  .has_username = true,
                  .username = S("u"),
                  .has_password = true,
                  .password = S("p")}}},
    {"connect-min",
     "10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00",
     {.type = IOTC_MQTT_CONNECT, .connect = {.clean_session = true, .keep_alive = 60}}},
    {"connack", "20 02 01 00", {.type = IOTC_MQTT_CONNACK, .connack = {true, 0}}},
    {"connack-5", "20 02 00 05", {.type = IOTC_MQTT_CONNACK, .connack = {false, 5}}},
    {"publish-qos1",
     "32 09 00 03 61 2f 62 00 0a 68 69",
     {.type = IOTC_MQTT_PUBLISH,
      .publish = {.qos = 1, .packet_id = 10, .topic = S("a/b"), .payload = S("hi")}}},
    {"publish-qos0-retain",
     "31 04 00 01 74 78",
     {.type = IOTC_MQTT_PUBLISH, .publish = {.retain = true, .topic = S("t"), .payload = S("x")}}},
    {"publish-dup-qos2",
     "3c 05 00 01 74 12 34",
     {.type = IOTC_MQTT_PUBLISH,
      .publish = {.dup = true, .qos = 2, .packet_id = 0x1234, .topic = S("t")}}},
    {"puback", "40 02 00 0a", {.type = IOTC_MQTT_PUBACK, .packet_id = 10}},
    {"pubrec", "50 02 ff ff", {.type = IOTC_MQTT_PUBREC, .packet_id = 0xffff}},
    {"pubrel", "62 02 00 01", {.type = IOTC_MQTT_PUBREL, .packet_id = 1}},
    {"pubcomp", "70 02 01 00", {.type = IOTC_MQTT_PUBCOMP, .packet_id = 0x100}},
    {"subscribe",
     "82 0e 00 07 00 03 61 2f 62 01 00 03 63 2f 23 02",
     {.type = IOTC_MQTT_SUBSCRIBE, .subscribe = {.packet_id = 7, .count = 2, .list = vec_subs}}},
    {"suback",
     "90 04 00 07 01 80",
     {.type = IOTC_MQTT_SUBACK, .suback = {.packet_id = 7, .count = 2, .codes = vec_codes}}},
    {"unsubscribe",
     "a2 0c 00 08 00 03 61 2f 62 00 03 2b 2f 78",
     {.type = IOTC_MQTT_UNSUBSCRIBE,
      .unsubscribe = {.packet_id = 8, .count = 2, .list = vec_unsubs}}},
    {"unsuback", "b0 02 00 08", {.type = IOTC_MQTT_UNSUBACK, .packet_id = 8}},
    {"pingreq", "c0 00", {.type = IOTC_MQTT_PINGREQ}},
    {"pingresp", "d0 00", {.type = IOTC_MQTT_PINGRESP}},
    {"disconnect", "e0 00", {.type = IOTC_MQTT_DISCONNECT}},
};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t want[256], got[256];
        size_t n = unhex(vectors[i].hex, want, sizeof(want)), len = 0, used = 0, size = 0;
        assert_int_equal(IOTC_OK, iotc_mqtt_encode(&vectors[i].pkt, got, sizeof(got), &len));
        assert_int_equal(n, len);
        assert_memory_equal(want, got, n);
        assert_int_equal(IOTC_OK, iotc_mqtt_encoded_size(&vectors[i].pkt, &size));
        assert_int_equal(n, size);
        struct iotc_mqtt_packet p;
        assert_int_equal(IOTC_OK, iotc_mqtt_decode(bspan(want, n), MAX, &p, &used));
        assert_int_equal(n, used);
        packet_eq(&vectors[i].pkt, &p);
        check_prefixes(want, n);
        /* the decoded (raw-form) packet re-encodes to the same bytes */
        assert_int_equal(IOTC_OK, iotc_mqtt_encode(&p, got, sizeof(got), &len));
        assert_int_equal(n, len);
        assert_memory_equal(want, got, n);
    }
}

/* ---- round trips of all 14 types, including multi-byte lengths ---- */

static uint8_t big[2100000];

static void roundtrip(const struct iotc_mqtt_packet *pkt, bool prefixes)
{
    static uint8_t buf[2200000];
    size_t len = 0, used = 0, size = 0;
    struct iotc_mqtt_packet p;
    assert_int_equal(IOTC_OK, iotc_mqtt_encode(pkt, buf, sizeof(buf), &len));
    assert_int_equal(IOTC_OK, iotc_mqtt_encoded_size(pkt, &size));
    assert_int_equal(len, size);
    assert_int_equal(IOTC_OK, iotc_mqtt_decode(bspan(buf, len), MAX, &p, &used));
    assert_int_equal(len, used);
    packet_eq(pkt, &p);
    enum iotc_mqtt_type t;
    size_t total = 0;
    assert_int_equal(IOTC_OK, iotc_mqtt_frame(bspan(buf, len), MAX, &t, &total));
    assert_int_equal(pkt->type, t);
    assert_int_equal(len, total);
    if (prefixes)
        check_prefixes(buf, len);
}

static void test_roundtrip_all_types(void **state)
{
    (void)state;
    static const struct iotc_mqtt_subscription subs[] = {
        {S("devices/dev1/messages/devicebound/#"), 1},
        {S("$iothub/methods/POST/#"), 0},
        {S("+/+/+"), 2},
        {S("#"), 0},
    };
    static const struct iotc_span unsubs[] = {S("$iothub/twin/res/#"), S("a"), S("/")};
    static const uint8_t codes[] = {0, 1, 2, 0x80, 1};
    const struct iotc_mqtt_packet pkts[] = {
        {.type = IOTC_MQTT_CONNECT, .connect = {.client_id = S("d")}},
        {.type = IOTC_MQTT_CONNECT,
         .connect = {.keep_alive = 65535,
                     .client_id = S("dev-\xc3\xbc"),
                     .has_will = true,
                     .will_qos = 2,
                     .will_retain = true,
                     .will_topic = S("devices/dev1/messages/events/"),
                     .will_payload = {"\0\1\2", 3},
                     .has_username = true,
                     .username = S("hub.local/dev1/?api-version=2021-04-12"),
                     .has_password = true,
                     .password = S("SharedAccessSignature sr=x&sig=y&se=1")}},
        {.type = IOTC_MQTT_CONNECT,
         .connect =
             {.clean_session = true, .client_id = S("x"), .has_username = true, .username = S("")}},
        {.type = IOTC_MQTT_CONNACK, .connack = {false, 0}},
        {.type = IOTC_MQTT_CONNACK, .connack = {false, 3}},
        {.type = IOTC_MQTT_PUBLISH, .publish = {.topic = S("a")}},
        {.type = IOTC_MQTT_PUBLISH,
         .publish = {.qos = 1,
                     .packet_id = 65535,
                     .retain = true,
                     .topic = S("$iothub/twin/PATCH/properties/reported/?$rid=1"),
                     .payload = S("{\"a\":1}")}},
        {.type = IOTC_MQTT_PUBLISH,
         .publish = {.qos = 2,
                     .dup = true,
                     .packet_id = 1,
                     .topic = S("\xc3\xa9t\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80"),
                     .payload = {"\0\xff\0", 3}}},
        {.type = IOTC_MQTT_PUBACK, .packet_id = 1},
        {.type = IOTC_MQTT_PUBREC, .packet_id = 2},
        {.type = IOTC_MQTT_PUBREL, .packet_id = 3},
        {.type = IOTC_MQTT_PUBCOMP, .packet_id = 4},
        {.type = IOTC_MQTT_SUBSCRIBE, .subscribe = {.packet_id = 9, .count = 4, .list = subs}},
        {.type = IOTC_MQTT_SUBACK, .suback = {.packet_id = 9, .count = 5, .codes = codes}},
        {.type = IOTC_MQTT_UNSUBSCRIBE,
         .unsubscribe = {.packet_id = 10, .count = 3, .list = unsubs}},
        {.type = IOTC_MQTT_UNSUBACK, .packet_id = 10},
        {.type = IOTC_MQTT_PINGREQ},
        {.type = IOTC_MQTT_PINGRESP},
        {.type = IOTC_MQTT_DISCONNECT},
    };
    bool seen[15] = {false};
    for (size_t i = 0; i < sizeof(pkts) / sizeof(pkts[0]); i++) {
        roundtrip(&pkts[i], true);
        seen[pkts[i].type] = true;
    }
    for (int t = 1; t <= 14; t++)
        assert_true(seen[t]);

    /* Remaining Length boundaries: 1..4 length bytes (§2.2.3 table) */
    static const size_t rems[] = {127, 128, 16383, 16384, 2097151, 2097152};
    static const size_t varint[] = {1, 2, 2, 3, 3, 4};
    for (size_t i = 0; i < sizeof(rems) / sizeof(rems[0]); i++) {
        struct iotc_mqtt_packet p = {.type = IOTC_MQTT_PUBLISH,
                                     .publish = {.topic = S("t"), .payload = {(char *)big, 0}}};
        p.publish.payload.len = rems[i] - 3;
        roundtrip(&p, rems[i] < 20000);
        size_t size = 0;
        assert_int_equal(IOTC_OK, iotc_mqtt_encoded_size(&p, &size));
        assert_int_equal(1 + varint[i] + rems[i], size);
    }
}

/* CONNECT for another protocol version: decoded enough for CONNACK 1 (§3.1.2.2). */
static void test_connect_versions(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int rc;
        const char *name;
        uint8_t level;
    } cases[] = {
        {"10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 61", IOTC_OK, "MQIsdp", 3},
        {"10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 61", IOTC_OK, "MQTT", 5},
        {"10 0d 00 04 4d 51 54 54 03 02 00 3c 00 01 61", IOTC_OK, "MQTT", 3},
        {"10 0d 00 04 4d 51 54 58 04 02 00 3c 00 01 61", IOTC_E_MALFORMED, NULL, 0},
        {"10 0d 00 04 6d 71 74 74 04 02 00 3c 00 01 61", IOTC_E_MALFORMED, NULL, 0},
        {"10 0f 00 06 4d 51 49 73 64 71 03 02 00 3c 00 01 61", IOTC_E_MALFORMED, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[64];
        size_t n = unhex(cases[i].hex, b, sizeof(b)), used = 0;
        struct iotc_mqtt_packet p;
        int rc = iotc_mqtt_decode(bspan(b, n), MAX, &p, &used);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d want %d", i, rc, cases[i].rc);
        if (rc != IOTC_OK)
            continue;
        assert_int_equal(n, used);
        assert_int_equal(IOTC_MQTT_CONNECT, p.type);
        assert_false(p.connect.protocol_ok);
        span_eq("name", (struct iotc_span){cases[i].name, strlen(cases[i].name)},
                p.connect.protocol_name);
        assert_int_equal(cases[i].level, p.connect.protocol_level);
        assert_int_equal(0, p.connect.client_id.len);
    }
    /* the encoder can produce the 3.1 CONNECT to test a server's answer */
    struct iotc_mqtt_packet c = {.type = IOTC_MQTT_CONNECT,
                                 .connect = {.protocol_name = S("MQIsdp"),
                                             .protocol_level = 3,
                                             .clean_session = true,
                                             .keep_alive = 60,
                                             .client_id = S("a")}};
    uint8_t want[64], got[64];
    size_t n = unhex(cases[0].hex, want, sizeof(want)), len = 0;
    assert_int_equal(IOTC_OK, iotc_mqtt_encode(&c, got, sizeof(got), &len));
    assert_int_equal(n, len);
    assert_memory_equal(want, got, n);
}

/* ---- malformed input ---- */

static const struct {
    const char *name;
    const char *hex;
} malformed[] = {
    {"type 0", "00 00"},
    {"type 15", "f0 00"},
    {"connect flags", "11 0c 00 04 4d 51 54 54 04 02 00 3c 00 00"},
    {"connack flags", "28 02 00 00"},
    {"puback flags", "41 02 00 01"},
    {"pubrec flags", "52 02 00 01"},
    {"pubrel flags 0", "60 02 00 01"},
    {"pubrel flags 3", "63 02 00 01"},
    {"pubcomp flags", "74 02 00 01"},
    {"subscribe flags 0", "80 06 00 01 00 01 61 00"},
    {"subscribe flags 3", "83 06 00 01 00 01 61 00"},
    {"suback flags", "92 03 00 01 00"},
    {"unsubscribe flags 0", "a0 05 00 01 00 01 61"},
    {"unsuback flags", "b2 02 00 01"},
    {"pingreq flags", "c1 00"},
    {"pingresp flags", "d8 00"},
    {"disconnect flags", "e2 00"},
    {"publish qos 3", "36 05 00 01 61 00 01"},
    {"publish dup qos 0", "38 03 00 01 61"},
    {"length 5 bytes", "30 ff ff ff ff 01"},
    {"length 5 bytes zero", "c0 80 80 80 80 00"},
    {"pingreq length 1", "c0 01 00"},
    {"pingresp length 1", "d0 01 00"},
    {"disconnect length 1", "e0 01 00"},
    {"puback length 3", "40 03 00 01 00"},
    {"puback length 1", "40 01 01"},
    {"pubrel length 0", "62 00"},
    {"unsuback length 3", "b0 03 00 01 00"},
    {"connack length 3", "20 03 00 00 00"},
    {"connack length 1", "20 01 00"},
    {"puback id 0", "40 02 00 00"},
    {"pubrec id 0", "50 02 00 00"},
    {"pubrel id 0", "62 02 00 00"},
    {"pubcomp id 0", "70 02 00 00"},
    {"unsuback id 0", "b0 02 00 00"},
    {"connack reserved", "20 02 02 00"},
    {"connack rc 6", "20 02 00 06"},
    {"connack rc ff", "20 02 00 ff"},
    {"connack sp with rc 5", "20 02 01 05"},
    {"connect short", "10 05 00 04 4d 51 54"},
    {"connect no keep-alive", "10 09 00 04 4d 51 54 54 04 02 00"},
    {"connect reserved bit", "10 0c 00 04 4d 51 54 54 04 03 00 3c 00 00"},
    {"connect will qos no will", "10 0c 00 04 4d 51 54 54 04 0a 00 3c 00 00"},
    {"connect will retain no will", "10 0c 00 04 4d 51 54 54 04 22 00 3c 00 00"},
    {"connect will qos 3", "10 11 00 04 4d 51 54 54 04 1e 00 3c 00 00 00 01 74 00 00"},
    {"connect password no user", "10 0f 00 04 4d 51 54 54 04 42 00 3c 00 00 00 01 70"},
    {"connect trailing", "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 00 00"},
    {"connect id truncated", "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 02 61"},
    {"connect id overlong", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 c0 80"},
    {"connect id NUL", "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 00"},
    {"connect will topic #", "10 11 00 04 4d 51 54 54 04 06 00 3c 00 00 00 01 23 00 00"},
    {"connect will topic empty", "10 10 00 04 4d 51 54 54 04 06 00 3c 00 00 00 00 00 00"},
    {"connect will no payload", "10 0f 00 04 4d 51 54 54 04 06 00 3c 00 00 00 01 74"},
    {"connect user surrogate", "10 11 00 04 4d 51 54 54 04 82 00 3c 00 00 00 03 ed a0 80"},
    {"connect user missing", "10 0c 00 04 4d 51 54 54 04 82 00 3c 00 00"},
    {"connect password missing", "10 0f 00 04 4d 51 54 54 04 c2 00 3c 00 00 00 01 75"},
    {"connect name bad utf8", "10 0c 00 04 4d 51 54 ff 04 02 00 3c 00 00"},
    {"publish topic empty", "30 03 00 00 78"},
    {"publish topic +", "30 03 00 01 2b"},
    {"publish topic #", "30 05 00 03 61 2f 23"},
    {"publish topic NUL", "30 04 00 02 61 00"},
    {"publish topic bad utf8", "30 04 00 02 c3 28"},
    {"publish topic past end", "30 03 00 05 61"},
    {"publish qos1 id 0", "32 05 00 01 61 00 00"},
    {"publish qos1 id short", "32 04 00 01 61 00"},
    {"publish qos2 no id", "34 03 00 01 61"},
    {"subscribe too short", "82 02 00 01"},
    {"subscribe id 0", "82 06 00 00 00 01 61 00"},
    {"subscribe qos 3", "82 06 00 01 00 01 61 03"},
    {"subscribe reserved bit", "82 06 00 01 00 01 61 04"},
    {"subscribe reserved top", "82 06 00 01 00 01 61 80"},
    {"subscribe missing qos", "82 06 00 01 00 02 61 62"},
    {"subscribe empty filter", "82 06 00 01 00 00 00 00"},
    {"subscribe filter a#", "82 07 00 01 00 02 61 23 00"},
    {"subscribe filter #/a", "82 08 00 01 00 03 23 2f 61 00"},
    {"subscribe filter a+", "82 07 00 01 00 02 61 2b 00"},
    {"subscribe filter +a/b", "82 09 00 01 00 04 2b 61 2f 62 00"},
    {"subscribe filter NUL", "82 06 00 01 00 01 00 00"},
    {"subscribe second bad", "82 0a 00 01 00 01 61 00 00 01 23 03"},
    {"subscribe second short", "82 08 00 01 00 01 61 00 00 01"},
    {"unsubscribe too short", "a2 02 00 01"},
    {"unsubscribe id 0", "a2 05 00 00 00 01 61"},
    {"unsubscribe filter NUL", "a2 05 00 01 00 01 00"},
    {"unsubscribe filter a#", "a2 06 00 01 00 02 61 23"},
    {"unsubscribe truncated", "a2 05 00 01 00 02 61"},
    {"unsubscribe trailing", "a2 06 00 01 00 01 61 00"},
    {"suback id 0", "90 03 00 00 00"},
    {"suback no codes", "90 02 00 01"},
    {"suback code 3", "90 03 00 01 03"},
    {"suback code 81", "90 04 00 01 00 81"},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        uint8_t b[64];
        size_t n = unhex(malformed[i].hex, b, sizeof(b)), used = 99;
        struct iotc_mqtt_packet p;
        size_t total = 0;
        /* the vector itself must be complete, or MALFORMED would be tested as AGAIN */
        if (iotc_mqtt_frame(bspan(b, n), MAX, NULL, &total) == IOTC_OK && total != n)
            fail_msg("%s: vector has %zu bytes, header says %zu", malformed[i].name, n, total);
        int rc = iotc_mqtt_decode(bspan(b, n), MAX, &p, &used);
        if (rc != IOTC_E_MALFORMED)
            fail_msg("%s: rc %d, want MALFORMED", malformed[i].name, rc);
        assert_int_equal(0, used);
        /* extra bytes after the packet change nothing */
        b[n] = 0xc0;
        rc = iotc_mqtt_decode(bspan(b, n + 1), MAX, &p, &used);
        if (rc != IOTC_E_MALFORMED)
            fail_msg("%s (+1 byte): rc %d, want MALFORMED", malformed[i].name, rc);
    }
}

/* A bad fixed header is refused from its first bytes, before the body arrives. */
static void test_malformed_early(void **state)
{
    (void)state;
    static const char *const heads[] = {
        "00", "f0", "c1", "36", "38", "60", "80", "c0 01", "40 03", "82 05", "30 ff ff ff ff"};
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        uint8_t b[8];
        size_t n = unhex(heads[i], b, sizeof(b)), used = 0, total = 0;
        struct iotc_mqtt_packet p;
        assert_int_equal(IOTC_E_MALFORMED, iotc_mqtt_decode(bspan(b, n), MAX, &p, &used));
        assert_int_equal(IOTC_E_MALFORMED, iotc_mqtt_frame(bspan(b, n), MAX, NULL, &total));
    }
}

static void test_toobig(void **state)
{
    (void)state;
    uint8_t buf[300];
    struct iotc_mqtt_packet pub = {.type = IOTC_MQTT_PUBLISH,
                                   .publish = {.topic = S("t"), .payload = {(char *)big, 200}}};
    size_t len = 0, used = 0, total = 0;
    assert_int_equal(IOTC_OK, iotc_mqtt_encode(&pub, buf, sizeof(buf), &len));
    assert_int_equal(206, len);
    struct iotc_mqtt_packet p;
    /* only the 3 header bytes are there: the size is already known to be too big */
    assert_int_equal(IOTC_E_TOOBIG, iotc_mqtt_decode(bspan(buf, 3), len - 1, &p, &used));
    assert_int_equal(IOTC_E_TOOBIG, iotc_mqtt_frame(bspan(buf, 3), len - 1, NULL, &total));
    assert_int_equal(IOTC_E_TOOBIG, iotc_mqtt_decode(bspan(buf, len), len - 1, &p, &used));
    assert_int_equal(IOTC_E_TOOBIG, iotc_mqtt_decode(bspan(buf, len), 100, &p, &used));
    assert_int_equal(0, used);
    assert_int_equal(IOTC_E_AGAIN, iotc_mqtt_decode(bspan(buf, 3), len, &p, &used));
    assert_int_equal(IOTC_OK, iotc_mqtt_frame(bspan(buf, 3), len, NULL, &total));
    assert_int_equal(len, total);
    assert_int_equal(IOTC_OK, iotc_mqtt_decode(bspan(buf, len), len, &p, &used));
    assert_int_equal(len, used);
    /* the largest length the varint can express, against a 256 KB cap */
    static const uint8_t huge[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(IOTC_E_TOOBIG,
                     iotc_mqtt_decode(bspan(huge, sizeof(huge)), 262144 + 1024, &p, &used));
    assert_int_equal(IOTC_E_AGAIN, iotc_mqtt_decode(bspan(huge, sizeof(huge)), MAX, &p, &used));
    static const uint8_t ping[] = {0xc0, 0x00};
    assert_int_equal(IOTC_E_TOOBIG, iotc_mqtt_decode(bspan(ping, 2), 1, &p, &used));
    assert_int_equal(IOTC_OK, iotc_mqtt_decode(bspan(ping, 2), 2, &p, &used));
}

static void test_back_to_back(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex("32 09 00 03 61 2f 62 00 0a 68 69 c0 00 82 06 00 01 00 01 61 01 e0 00", buf,
                     sizeof(buf));
    static const enum iotc_mqtt_type want[] = {IOTC_MQTT_PUBLISH, IOTC_MQTT_PINGREQ,
                                               IOTC_MQTT_SUBSCRIBE, IOTC_MQTT_DISCONNECT};
    static const size_t sizes[] = {11, 2, 8, 2};
    size_t off = 0;
    for (size_t i = 0; i < 4; i++) {
        struct iotc_mqtt_packet p;
        size_t used = 0;
        assert_int_equal(IOTC_OK, iotc_mqtt_decode(bspan(buf + off, n - off), MAX, &p, &used));
        assert_int_equal(want[i], p.type);
        assert_int_equal(sizes[i], used);
        if (i == 0)
            span_eq("payload", L("hi"), p.publish.payload); /* must not run into the next */
        off += used;
    }
    assert_int_equal(n, off);
    struct iotc_mqtt_packet p;
    size_t used = 0;
    assert_int_equal(IOTC_E_AGAIN, iotc_mqtt_decode(bspan(buf + off, 0), MAX, &p, &used));
    /* a complete packet followed by a partial one: first decodes, then AGAIN */
    assert_int_equal(IOTC_OK, iotc_mqtt_decode(bspan(buf, 12), MAX, &p, &used));
    assert_int_equal(11, used);
    assert_int_equal(IOTC_E_AGAIN, iotc_mqtt_decode(bspan(buf + 11, 1), MAX, &p, &used));
}

/* ---- encoder limits ---- */

static void test_encode_nospace(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t buf[256];
        size_t need = 0, len = 0;
        assert_int_equal(IOTC_OK, iotc_mqtt_encoded_size(&vectors[i].pkt, &need));
        for (size_t cap = 0; cap < need; cap++) {
            memset(buf, 0xa5, sizeof(buf));
            assert_int_equal(IOTC_E_NOSPACE, iotc_mqtt_encode(&vectors[i].pkt, buf, cap, &len));
            assert_int_equal(need, len);
            for (size_t k = 0; k < sizeof(buf); k++)
                assert_int_equal(0xa5, buf[k]); /* nothing written */
        }
        assert_int_equal(IOTC_OK, iotc_mqtt_encode(&vectors[i].pkt, buf, need, &len));
    }
}

static void test_encode_invalid(void **state)
{
    (void)state;
    static const struct iotc_mqtt_subscription bad_qos[] = {{S("a"), 3}};
    static const uint8_t bad_code[] = {0, 4};
    static char long_str[70000];
    memset(long_str, 'a', sizeof(long_str));
    const struct iotc_span too_long = {long_str, 65536};
    const struct iotc_span ok_long = {long_str, 65535};
    const struct iotc_mqtt_packet bad[] = {
        {.type = 0},
        {.type = 15},
        {.type = IOTC_MQTT_PUBACK},
        {.type = IOTC_MQTT_PUBREL},
        {.type = IOTC_MQTT_UNSUBACK},
        {.type = IOTC_MQTT_CONNACK, .connack = {true, 5}},
        {.type = IOTC_MQTT_CONNACK, .connack = {false, 6}},
        {.type = IOTC_MQTT_PUBLISH, .publish = {.qos = 3, .packet_id = 1, .topic = S("t")}},
        {.type = IOTC_MQTT_PUBLISH, .publish = {.qos = 1, .topic = S("t")}},
        {.type = IOTC_MQTT_PUBLISH, .publish = {.dup = true, .topic = S("t")}},
        {.type = IOTC_MQTT_PUBLISH, .publish = {.topic = too_long}},
        {.type = IOTC_MQTT_PUBLISH,
         .publish = {.topic = S("t"), .payload = {long_str, IOTC_MQTT_MAX_REMAINING}}},
        {.type = IOTC_MQTT_SUBSCRIBE, .subscribe = {.packet_id = 1}},
        {.type = IOTC_MQTT_SUBSCRIBE, .subscribe = {.packet_id = 1, .count = 1, .list = bad_qos}},
        {.type = IOTC_MQTT_SUBSCRIBE, .subscribe = {.packet_id = 0, .count = 1, .list = vec_subs}},
        {.type = IOTC_MQTT_UNSUBSCRIBE, .unsubscribe = {.packet_id = 1, .list = vec_unsubs}},
        {.type = IOTC_MQTT_UNSUBSCRIBE, .unsubscribe = {.packet_id = 1}},
        {.type = IOTC_MQTT_SUBACK, .suback = {.packet_id = 1, .count = 2, .codes = bad_code}},
        {.type = IOTC_MQTT_SUBACK, .suback = {.packet_id = 1, .count = 0, .codes = bad_code}},
        {.type = IOTC_MQTT_SUBACK, .suback = {.packet_id = 1, .count = 1}},
        {.type = IOTC_MQTT_CONNECT, .connect = {.will_qos = 1}},
        {.type = IOTC_MQTT_CONNECT, .connect = {.will_retain = true}},
        {.type = IOTC_MQTT_CONNECT, .connect = {.has_will = true, .will_qos = 3}},
        {.type = IOTC_MQTT_CONNECT, .connect = {.has_password = true}},
        {.type = IOTC_MQTT_CONNECT, .connect = {.client_id = too_long}},
        {.type = IOTC_MQTT_CONNECT,
         .connect = {.has_username = true, .has_password = true, .password = too_long}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t buf[64];
        size_t len = 99, size = 99;
        int rc = iotc_mqtt_encode(&bad[i], buf, sizeof(buf), &len);
        if (rc != IOTC_E_ARG)
            fail_msg("bad packet %zu: rc %d, want ARG", i, rc);
        assert_int_equal(0, len);
        assert_int_equal(IOTC_E_ARG, iotc_mqtt_encoded_size(&bad[i], &size));
        assert_int_equal(0, size);
    }
    /* the limits themselves are fine */
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_PUBLISH, .publish = {.topic = ok_long}};
    roundtrip(&p, false);
    p.publish.payload = (struct iotc_span){(char *)big, sizeof(big)};
    roundtrip(&p, false);
}

static void test_publish_header(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 100, 124, 125, 200, 16380, 300000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (uint8_t qos = 0; qos <= 2; qos++) {
            static uint8_t full[300100];
            uint8_t head[64];
            for (size_t k = 0; k < sizes[i]; k++)
                big[k] = (uint8_t)(k * 7);
            struct iotc_mqtt_publish m = {.qos = qos,
                                          .packet_id = qos ? 77 : 0,
                                          .topic = S("devices/d/messages/devicebound/"),
                                          .payload = {(char *)big, sizes[i]}};
            struct iotc_mqtt_packet p = {.type = IOTC_MQTT_PUBLISH, .publish = m};
            size_t flen = 0, hlen = 0;
            assert_int_equal(IOTC_OK, iotc_mqtt_encode(&p, full, sizeof(full), &flen));
            m.payload.ptr = NULL; /* must not be read */
            assert_int_equal(IOTC_OK,
                             iotc_mqtt_encode_publish_header(&m, head, sizeof(head), &hlen));
            assert_true(hlen <= IOTC_MQTT_PUBLISH_HEADER_MAX(m.topic.len));
            assert_int_equal(flen, hlen + sizes[i]);
            assert_memory_equal(full, head, hlen);
            assert_int_equal(IOTC_E_NOSPACE,
                             iotc_mqtt_encode_publish_header(&m, head, hlen - 1, &flen));
            assert_int_equal(hlen, flen);
        }
    }
    struct iotc_mqtt_publish bad = {.qos = 1, .topic = S("t")};
    size_t len = 9;
    uint8_t head[16];
    assert_int_equal(IOTC_E_ARG, iotc_mqtt_encode_publish_header(&bad, head, sizeof(head), &len));
    assert_int_equal(0, len);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal("CONNECT", iotc_mqtt_type_name(IOTC_MQTT_CONNECT));
    assert_string_equal("UNSUBSCRIBE", iotc_mqtt_type_name(IOTC_MQTT_UNSUBSCRIBE));
    assert_string_equal("DISCONNECT", iotc_mqtt_type_name(IOTC_MQTT_DISCONNECT));
    assert_string_equal("UNKNOWN", iotc_mqtt_type_name(0));
    assert_string_equal("UNKNOWN", iotc_mqtt_type_name(15));
    assert_string_equal("UNKNOWN", iotc_mqtt_type_name(-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),          cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_connect_versions), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_malformed_early),  cmocka_unit_test(test_toobig),
        cmocka_unit_test(test_back_to_back),     cmocka_unit_test(test_encode_nospace),
        cmocka_unit_test(test_encode_invalid),   cmocka_unit_test(test_publish_header),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests_name("mqtt", tests, NULL, NULL);
}
