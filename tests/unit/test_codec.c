/*
 * test_codec.c - percent-encoding (docs/PROTOCOL.md §1), lenient base64 (§2.3) and property bags.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <iotc/codec.h>
#include <iotc/common.h>

#define S(x) iotc_span_from_cstr(x)

struct enc_vec {
    const char *raw, *enc;
};
static const struct enc_vec enc_vecs[] = {
    {"", ""},
    {"AZaz09-_.~", "AZaz09-_.~"},
    {"host/devices/dev", "host%2Fdevices%2Fdev"},
    {"$.ct", "%24.ct"},
    {"application/json", "application%2Fjson"},
    {"dtmi:com:example:Thermostat;1", "dtmi%3Acom%3Aexample%3AThermostat%3B1"},
    {"a b+c", "a%20b%2Bc"},
    {"encode('Me')", "encode%28%27Me%27%29"},
    {"*!", "%2A%21"},
    {"\xc3\xa9\xff", "%C3%A9%FF"},
    {"=&?#", "%3D%26%3F%23"},
};

static void test_pct_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(enc_vecs) / sizeof(enc_vecs[0]); i++) {
        char out[64];
        size_t n = 99;
        assert_int_equal(iotc_pct_encode(S(enc_vecs[i].raw), out, sizeof(out), &n), IOTC_OK);
        assert_string_equal(out, enc_vecs[i].enc);
        assert_int_equal(n, strlen(enc_vecs[i].enc));
        assert_int_equal(iotc_pct_encoded_len(S(enc_vecs[i].raw)), n);
        /* round trip */
        char back[64];
        assert_int_equal(iotc_pct_decode(S(out), back, sizeof(back), &n), IOTC_OK);
        assert_int_equal(n, strlen(enc_vecs[i].raw));
        assert_memory_equal(back, enc_vecs[i].raw, n);
        assert_true(iotc_pct_equal(S(out), S(enc_vecs[i].raw)));
    }
}

static void test_pct_encode_nospace(void **state)
{
    char out[8];
    size_t n = 0;
    (void)state;
    memset(out, 'x', sizeof(out));
    assert_int_equal(iotc_pct_encode(S("a/b"), out, 4, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, 5);
    assert_int_equal(out[0], 'x');
    assert_int_equal(iotc_pct_encode(S("a/b"), out, 5, &n), IOTC_OK);
    assert_memory_equal(out, "a%2Fb", 5);
    assert_int_equal(out[5], 'x'); /* exact fit: not terminated */
    assert_int_equal(iotc_pct_encode(S("a/b"), NULL, 0, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, 5);
    assert_int_equal(iotc_pct_encode(S(""), NULL, 0, &n), IOTC_OK);
    assert_int_equal(n, 0);
}

struct dec_vec {
    const char *enc;
    int rc;
    const char *raw;
    size_t raw_len;
};
static const struct dec_vec dec_vecs[] = {
    {"a%2fb%2Fc", IOTC_OK, "a/b/c", 5},
    {"a+b", IOTC_OK, "a+b", 3}, /* '+' is not space */
    {"raw/and:reserved?&=", IOTC_OK, "raw/and:reserved?&=", 19},
    {"%00x", IOTC_OK, "\0x", 2},
    {"%e9%C3%a9", IOTC_OK, "\xe9\xc3\xa9", 3},
    {"%zz", IOTC_E_MALFORMED, NULL, 0},
    {"%4", IOTC_E_MALFORMED, NULL, 0},
    {"abc%", IOTC_E_MALFORMED, NULL, 0},
    {"%G0", IOTC_E_MALFORMED, NULL, 0},
    {"%0g", IOTC_E_MALFORMED, NULL, 0},
    {"%%41", IOTC_E_MALFORMED, NULL, 0},
    {"", IOTC_OK, "", 0},
};

static void test_pct_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(dec_vecs) / sizeof(dec_vecs[0]); i++) {
        const struct dec_vec *v = &dec_vecs[i];
        char out[64];
        size_t n = 99, m = 77;
        memset(out, 'x', sizeof(out));
        int rc = iotc_pct_decode(S(v->enc), out, sizeof(out), &n);
        assert_int_equal(rc, v->rc);
        assert_int_equal(iotc_pct_decoded_len(S(v->enc), &m), v->rc);
        if (rc != IOTC_OK) {
            assert_int_equal(out[0], 'x');
            assert_false(iotc_pct_equal(S(v->enc), S("")));
            continue;
        }
        assert_int_equal(n, v->raw_len);
        assert_int_equal(m, v->raw_len);
        assert_memory_equal(out, v->raw, n);
        assert_int_equal(out[n], '\0');
        assert_true(iotc_pct_equal(S(v->enc), (struct iotc_span){v->raw, v->raw_len}));
    }
    char small[2];
    size_t n;
    assert_int_equal(iotc_pct_decode(S("%41%42%43"), small, 2, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, 3);
    assert_false(iotc_pct_equal(S("abc"), S("ab")));
    assert_false(iotc_pct_equal(S("ab"), S("abc")));
    assert_false(iotc_pct_equal(S("a%2Fb"), S("a%2Fb")));
}

struct b64_vec {
    const char *text;
    int rc;
    const char *bytes;
    size_t len;
};
static const struct b64_vec b64_vecs[] = {
    {"", IOTC_OK, "", 0},
    {"Zg==", IOTC_OK, "f", 1},
    {"Zm8=", IOTC_OK, "fo", 2},
    {"Zm9v", IOTC_OK, "foo", 3},
    {"Zm9vYg==", IOTC_OK, "foob", 4},
    {"cGFzc3dvcmQ=", IOTC_OK, "password", 8},
    {"key", IOTC_OK, "\x91\xec", 2}, /* §2.3 vector 2: missing padding tolerated */
    {"Zg", IOTC_OK, "f", 1},
    {"Zm8", IOTC_OK, "fo", 2},
    {"Zh==", IOTC_OK, "f", 1}, /* non-zero trailing bits ignored, like Node */
    {"Z", IOTC_E_MALFORMED, NULL, 0},
    {"Zm9vY", IOTC_E_MALFORMED, NULL, 0},
    {"Zg===", IOTC_E_MALFORMED, NULL, 0},
    {"Zg=", IOTC_E_MALFORMED, NULL, 0},
    {"Z===", IOTC_E_MALFORMED, NULL, 0},
    {"Zg==Zg==", IOTC_E_MALFORMED, NULL, 0},
    {"Zm9v\n", IOTC_E_MALFORMED, NULL, 0},
    {" Zm9v", IOTC_E_MALFORMED, NULL, 0},
    {"Zm-_", IOTC_E_MALFORMED, NULL, 0},
    {"Zm9v!", IOTC_E_MALFORMED, NULL, 0},
    {"=", IOTC_E_MALFORMED, NULL, 0},
};

static void test_base64_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(b64_vecs) / sizeof(b64_vecs[0]); i++) {
        const struct b64_vec *v = &b64_vecs[i];
        unsigned char out[32];
        size_t n = 99;
        int rc = iotc_base64_decode(S(v->text), out, sizeof(out), &n);
        if (rc != v->rc)
            fail_msg("vector %zu '%s': rc %d want %d", i, v->text, rc, v->rc);
        if (rc != IOTC_OK)
            continue;
        assert_int_equal(n, v->len);
        assert_memory_equal(out, v->bytes, n);
    }
    unsigned char small[2];
    size_t n;
    assert_int_equal(iotc_base64_decode(S("Zm9v"), small, 2, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, 3);
}

static void test_base64_encode(void **state)
{
    static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n;
        memset(out, 'x', sizeof(out));
        assert_int_equal(iotc_base64_encode("foobar", i, out, sizeof(out), &n), IOTC_OK);
        assert_string_equal(out, want[i]);
        assert_int_equal(iotc_base64_encoded_len(i), strlen(want[i]));
        unsigned char back[8];
        size_t m;
        assert_int_equal(iotc_base64_decode(S(out), back, sizeof(back), &m), IOTC_OK);
        assert_int_equal(m, i);
        assert_memory_equal(back, "foobar", i);
    }
    char out[8];
    size_t n;
    memset(out, 'x', sizeof(out));
    assert_int_equal(iotc_base64_encode("foob", 4, out, 7, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, 8);
    assert_int_equal(out[0], 'x');
    assert_int_equal(iotc_base64_encode("foob", 4, out, 8, &n), IOTC_OK);
    assert_memory_equal(out, "Zm9vYg==", 8);
}

/* Bag iteration over the C2D capture of §5.4 */
static void test_bag_iter_capture(void **state)
{
    const char *bag =
        "%24.to=%2Fdevices%2Fnonsdkdevice%2Fmessages%2FdeviceBound&%24.ct=text%2Fplain%3B%20"
        "charset%3DUTF-8&%24.ce=utf-8&bbb=bbbb&aaa=aaaa&nullkey&empty=";
    static const struct {
        const char *k, *v;
        bool has;
    } want[] = {
        {"$.to", "/devices/nonsdkdevice/messages/deviceBound", true},
        {"$.ct", "text/plain; charset=UTF-8", true},
        {"$.ce", "utf-8", true},
        {"bbb", "bbbb", true},
        {"aaa", "aaaa", true},
        {"nullkey", "", false},
        {"empty", "", true},
    };
    struct iotc_bag_iter it;
    struct iotc_bag_pair p;
    size_t i = 0;
    (void)state;
    iotc_bag_iter_init(&it, S(bag));
    while (iotc_bag_next(&it, &p) == IOTC_OK) {
        char k[64], v[64];
        size_t kl, vl;
        assert_true(i < sizeof(want) / sizeof(want[0]));
        assert_int_equal(iotc_bag_pair_decode(&p, k, sizeof(k), &kl, v, sizeof(v), &vl), IOTC_OK);
        assert_string_equal(k, want[i].k);
        assert_string_equal(v, want[i].v);
        assert_int_equal(p.has_value, want[i].has);
        if (!want[i].has)
            assert_null(p.value.ptr);
        i++;
    }
    assert_int_equal(i, 7);
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_E_NOTFOUND);

    assert_int_equal(iotc_bag_find(S(bag), S("$.ce"), &p), IOTC_OK);
    assert_int_equal(p.value.len, 5);
    assert_int_equal(iotc_bag_find(S(bag), S("missing"), &p), IOTC_E_NOTFOUND);
    assert_int_equal(iotc_bag_find(S("$.sub=x"), S("$.sub"), &p), IOTC_OK); /* raw '$' too */
}

static void test_bag_edge(void **state)
{
    struct iotc_bag_iter it;
    struct iotc_bag_pair p;
    (void)state;
    iotc_bag_iter_init(&it, S("&&a=1&&b=x=y&"));
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_OK);
    assert_int_equal(p.key.len, 1);
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_OK);
    assert_memory_equal(p.value.ptr, "x=y", 3); /* split on the first '=' */
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_E_NOTFOUND);

    iotc_bag_iter_init(&it, S("a=1&=v"));
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_OK);
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_E_MALFORMED);
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_E_MALFORMED); /* stays on the bad pair */

    iotc_bag_iter_init(&it, S("k%zz=v"));
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_E_MALFORMED);
    iotc_bag_iter_init(&it, S("k=v%4"));
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_E_MALFORMED);
    assert_int_equal(iotc_bag_find(S("k=v%4&x=1"), S("x"), &p), IOTC_E_MALFORMED);

    iotc_bag_iter_init(&it, IOTC_SPAN_NULL);
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_E_NOTFOUND);

    /* decode into too-small buffers */
    iotc_bag_iter_init(&it, S("key=value"));
    assert_int_equal(iotc_bag_next(&it, &p), IOTC_OK);
    char k[8], v[3];
    size_t kl, vl;
    assert_int_equal(iotc_bag_pair_decode(&p, k, sizeof(k), &kl, v, sizeof(v), &vl),
                     IOTC_E_NOSPACE);
    assert_int_equal(vl, 5);
    assert_int_equal(iotc_bag_pair_decode(&p, k, sizeof(k), &kl, NULL, 0, &vl), IOTC_E_NOSPACE);
}

static void test_bag_build(void **state)
{
    const struct iotc_prop props[] = {
        {S("$.ct"), S("application/json")},
        {S("$.ce"), S("utf-8")},
        {S("$.sub"), S("thermostat1")},
        {S("iothub-ack"), S("none")},
        {S("bare"), IOTC_SPAN_NULL},
        {S("empty"), S("")},
        {S("a b"), S("x&y=z")},
    };
    char out[256];
    size_t n;
    (void)state;
    assert_int_equal(iotc_bag_build(props, 3, out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out, "%24.ct=application%2Fjson&%24.ce=utf-8&%24.sub=thermostat1");
    assert_int_equal(iotc_bag_build(props, 7, out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out,
                        "%24.ct=application%2Fjson&%24.ce=utf-8&%24.sub=thermostat1&iothub-ack=none"
                        "&bare&empty=&a%20b=x%26y%3Dz");
    assert_int_equal(iotc_bag_build(NULL, 0, out, sizeof(out), &n), IOTC_OK);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    const struct iotc_prop bad[] = {{S(""), S("v")}};
    assert_int_equal(iotc_bag_build(bad, 1, out, sizeof(out), &n), IOTC_E_ARG);
    assert_int_equal(iotc_bag_build(props, 3, out, 10, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, strlen("%24.ct=application%2Fjson&%24.ce=utf-8&%24.sub=thermostat1"));
}

static void test_span_helpers(void **state)
{
    (void)state;
    assert_true(iotc_span_eq(S("abc"), S("abc")));
    assert_false(iotc_span_eq(S("abc"), S("abd")));
    assert_true(iotc_span_eq(IOTC_SPAN_NULL, S("")));
    assert_true(iotc_span_eq_nocase(S("AbC"), S("aBc")));
    assert_false(iotc_span_eq_nocase(S("ab"), S("abc")));
    assert_null(iotc_span_from_cstr(NULL).ptr);
    assert_string_equal(iotc_strerror(IOTC_E_MALFORMED), "malformed input");
    assert_string_equal(iotc_strerror(12345), "unknown error");
    for (int r = 0; r >= -14; r--)
        assert_string_not_equal(iotc_strerror(r), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pct_encode),    cmocka_unit_test(test_pct_encode_nospace),
        cmocka_unit_test(test_pct_decode),    cmocka_unit_test(test_base64_decode),
        cmocka_unit_test(test_base64_encode), cmocka_unit_test(test_bag_iter_capture),
        cmocka_unit_test(test_bag_edge),      cmocka_unit_test(test_bag_build),
        cmocka_unit_test(test_span_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
