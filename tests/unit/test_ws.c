/*
 * test_ws.c - WebSocket framing of the pure core (src/proto/ws.c) with RFC 6455's own examples
 * (§1.3 accept key, §5.7 frames): every strict prefix is "need more bytes", malformed frames
 * are refused, headers encode in their shortest form, and the stream and close-code rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "proto/ws.h"

struct vec {
    const char *name;
    const unsigned char *bytes;
    size_t len;
    bool fin, masked;
    uint8_t opcode;
    const char *payload; /* unmasked; NULL: check only the length */
    size_t payload_len;
};

static const unsigned char hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const unsigned char hello_masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                             0x7f, 0x9f, 0x4d, 0x51, 0x58};
static const unsigned char frag1[] = {0x01, 0x03, 0x48, 0x65, 0x6c};
static const unsigned char frag2[] = {0x80, 0x02, 0x6c, 0x6f};
static const unsigned char ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const unsigned char pong_masked[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                            0x7f, 0x9f, 0x4d, 0x51, 0x58};
static unsigned char bin256[4 + 256] = {0x82, 0x7e, 0x01, 0x00};
static unsigned char bin64k[10 + 65536] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};

static void test_rfc_examples(void **state)
{
    (void)state;
    const struct vec vecs[] = {
        {"unmasked text", hello, sizeof hello, true, false, IOTC_WS_TEXT, "Hello", 5},
        {"masked text", hello_masked, sizeof hello_masked, true, true, IOTC_WS_TEXT, "Hello", 5},
        {"first fragment", frag1, sizeof frag1, false, false, IOTC_WS_TEXT, "Hel", 3},
        {"last fragment", frag2, sizeof frag2, true, false, IOTC_WS_CONTINUATION, "lo", 2},
        {"ping", ping, sizeof ping, true, false, IOTC_WS_PING, "Hello", 5},
        {"masked pong", pong_masked, sizeof pong_masked, true, true, IOTC_WS_PONG, "Hello", 5},
        {"256 bytes", bin256, sizeof bin256, true, false, IOTC_WS_BINARY, NULL, 256},
        {"64 KiB", bin64k, sizeof bin64k, true, false, IOTC_WS_BINARY, NULL, 65536},
    };
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        const struct vec *v = &vecs[i];
        struct iotc_ws_frame f;
        size_t used = 0;
        int rc = iotc_ws_decode((struct iotc_span){(const char *)v->bytes, v->len}, 1 << 20, false,
                                &f, &used);
        if (rc != IOTC_OK || used != v->len || f.fin != v->fin || f.masked != v->masked ||
            f.opcode != v->opcode || f.payload.len != v->payload_len)
            fail_msg("%s: rc %d used %zu", v->name, rc, used);
        char out[65536];
        iotc_ws_unmask(&f, out);
        if (v->payload != NULL && memcmp(out, v->payload, v->payload_len) != 0)
            fail_msg("%s: payload", v->name);
        /* every strict prefix asks for more bytes */
        for (size_t n = 0; n < v->len; n++) {
            size_t u = 0;
            if (iotc_ws_decode((struct iotc_span){(const char *)v->bytes, n}, 1 << 20, false, &f,
                               &u) != IOTC_E_AGAIN ||
                u != 0)
                fail_msg("%s: prefix %zu", v->name, n);
        }
        /* two frames back to back: the first one only */
        unsigned char two[sizeof hello * 2];
        memcpy(two, hello, sizeof hello);
        memcpy(two + sizeof hello, hello, sizeof hello);
        assert_int_equal(iotc_ws_decode((struct iotc_span){(const char *)two, sizeof two}, 100,
                                        false, &f, &used),
                         IOTC_OK);
        assert_int_equal(used, sizeof hello);
    }
    /* a client's frames must be masked */
    struct iotc_ws_frame f;
    size_t used;
    assert_int_equal(
        iotc_ws_decode((struct iotc_span){(const char *)hello, sizeof hello}, 100, true, &f, &used),
        IOTC_E_MALFORMED);
    assert_int_equal(
        iotc_ws_decode((struct iotc_span){(const char *)hello_masked, sizeof hello_masked}, 100,
                       true, &f, &used),
        IOTC_OK);
    /* over the cap: too big, told before the payload arrives */
    assert_int_equal(
        iotc_ws_decode((struct iotc_span){(const char *)bin256, 4}, 255, false, &f, &used),
        IOTC_E_TOOBIG);
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned char b[12];
        size_t len;
    } bad[] = {
        {"RSV1", {0xc1, 0x00}, 2},
        {"RSV3", {0x92, 0x00}, 2},
        {"opcode 3", {0x83, 0x00}, 2},
        {"opcode 0xB", {0x8b, 0x00}, 2},
        {"fragmented ping", {0x09, 0x00}, 2},
        {"close of 126 bytes", {0x88, 0x7e, 0x00, 0x7e}, 4},
        {"16-bit length under 126", {0x82, 0x7e, 0x00, 0x7d}, 4},
        {"64-bit length under 65536", {0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 10},
        {"64-bit length, top bit", {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct iotc_ws_frame f;
        size_t used = 0;
        int rc = iotc_ws_decode((struct iotc_span){(const char *)bad[i].b, bad[i].len}, SIZE_MAX,
                                false, &f, &used);
        if (rc != IOTC_E_MALFORMED)
            fail_msg("%s: %d", bad[i].name, rc);
    }
}

static void test_encode_header(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        size_t hlen;
        unsigned char b[10];
    } cases[] = {
        {0, 2, {0x82, 0x00}},
        {125, 2, {0x82, 0x7d}},
        {126, 4, {0x82, 0x7e, 0x00, 0x7e}},
        {65535, 4, {0x82, 0x7e, 0xff, 0xff}},
        {65536, 10, {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char out[IOTC_WS_HEADER_MAX];
        size_t n = 0;
        assert_int_equal(
            iotc_ws_encode_header(IOTC_WS_BINARY, true, cases[i].len, out, sizeof out, &n),
            IOTC_OK);
        assert_int_equal(n, cases[i].hlen);
        assert_memory_equal(out, cases[i].b, n);
        /* what we encode, we decode (header only: the payload is then "need more") */
        struct iotc_ws_frame f;
        size_t used;
        assert_int_equal(
            iotc_ws_decode((struct iotc_span){(const char *)out, n}, SIZE_MAX, false, &f, &used),
            cases[i].len == 0 ? IOTC_OK : IOTC_E_AGAIN);
        /* too small: nothing written, the size needed reported */
        unsigned char small[3] = {0xee, 0xee, 0xee};
        size_t need = 0;
        int rc = iotc_ws_encode_header(IOTC_WS_BINARY, true, cases[i].len, small, 1, &need);
        assert_int_equal(rc, IOTC_E_NOSPACE);
        assert_int_equal(need, cases[i].hlen);
        assert_int_equal(small[0], 0xee);
    }
    unsigned char out[IOTC_WS_HEADER_MAX];
    size_t n;
    assert_int_equal(iotc_ws_encode_header(IOTC_WS_PING, true, 126, out, sizeof out, &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_ws_encode_header(IOTC_WS_CLOSE, false, 2, out, sizeof out, &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_ws_encode_header(3, true, 2, out, sizeof out, &n), IOTC_E_ARG);
    assert_int_equal(iotc_ws_encode_header(IOTC_WS_PONG, true, 5, out, sizeof out, &n), IOTC_OK);
    assert_int_equal(out[0], 0x8a);
}

static void test_accept_key(void **state)
{
    (void)state;
    char out[IOTC_WS_ACCEPT_LEN + 1];
    assert_int_equal(iotc_ws_accept_key(IOTC_SPAN_LIT("dGhlIHNhbXBsZSBub25jZQ=="), out, sizeof out),
                     IOTC_OK);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 §1.3 */
    assert_int_equal(iotc_ws_accept_key(IOTC_SPAN_LIT("dGhlIHNhbXBsZSBub25jZQ=="), out, 28),
                     IOTC_E_NOSPACE);
    assert_int_equal(iotc_ws_accept_key(IOTC_SPAN_LIT("c2hvcnQ="), out, sizeof out),
                     IOTC_E_MALFORMED);
    assert_int_equal(iotc_ws_accept_key(IOTC_SPAN_LIT("!!!!!!!!!!!!!!!!!!!!!!=="), out, sizeof out),
                     IOTC_E_MALFORMED);
}

static struct iotc_ws_frame fr(uint8_t op, bool fin)
{
    struct iotc_ws_frame f = {0};
    f.opcode = op;
    f.fin = fin;
    return f;
}

static void test_stream_rules(void **state)
{
    (void)state;
    struct iotc_ws_stream st = {0};
    struct iotc_ws_frame f = fr(IOTC_WS_BINARY, true);
    assert_int_equal(iotc_ws_stream_next(&st, &f), 0);
    f = fr(IOTC_WS_BINARY, false);
    assert_int_equal(iotc_ws_stream_next(&st, &f), 0);
    f = fr(IOTC_WS_PING, true); /* control frames between fragments */
    assert_int_equal(iotc_ws_stream_next(&st, &f), 0);
    f = fr(IOTC_WS_BINARY, true); /* a new message while one is open */
    assert_int_equal(iotc_ws_stream_next(&st, &f), IOTC_WS_CLOSE_PROTOCOL);
    f = fr(IOTC_WS_CONTINUATION, true);
    assert_int_equal(iotc_ws_stream_next(&st, &f), 0);
    assert_false(st.in_message);
    f = fr(IOTC_WS_CONTINUATION, true); /* nothing to continue */
    assert_int_equal(iotc_ws_stream_next(&st, &f), IOTC_WS_CLOSE_PROTOCOL);
    f = fr(IOTC_WS_TEXT, true); /* MQTT needs binary */
    assert_int_equal(iotc_ws_stream_next(&st, &f), IOTC_WS_CLOSE_UNSUPPORTED);

    uint16_t code;
    assert_true(iotc_ws_close_payload_ok(IOTC_SPAN_NULL, &code));
    assert_int_equal(code, 0);
    assert_true(iotc_ws_close_payload_ok(IOTC_SPAN_LIT("\x03\xe8"), &code));
    assert_int_equal(code, 1000);
    assert_true(iotc_ws_close_payload_ok(IOTC_SPAN_LIT("\x03\xe9going \xc3\xa9"), &code));
    assert_false(iotc_ws_close_payload_ok(IOTC_SPAN_LIT("\x03"), &code));
    assert_false(iotc_ws_close_payload_ok(IOTC_SPAN_LIT("\x03\xed"), &code)); /* 1005 */
    assert_false(iotc_ws_close_payload_ok(IOTC_SPAN_LIT("\x03\xe8\xff"), &code));
    assert_false(iotc_ws_close_payload_ok(IOTC_SPAN_LIT("\x13\x88"), &code)); /* 5000 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples),  cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_encode_header), cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_stream_rules),
    };
    return cmocka_run_group_tests_name("ws", tests, NULL, NULL);
}
