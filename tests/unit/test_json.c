/*
 * test_json.c - the non-allocating JSON reader and writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <iotc/codec.h>
#include <iotc/json.h>

#define S(x) iotc_span_from_cstr(x)

struct parse_vec {
    const char *text;
    int rc;
    enum iotc_json_type type;
};
static const struct parse_vec parse_vecs[] = {
    {"{}", IOTC_OK, IOTC_JSON_OBJECT},
    {" [ ] ", IOTC_OK, IOTC_JSON_ARRAY},
    {"null", IOTC_OK, IOTC_JSON_NULL},
    {"true", IOTC_OK, IOTC_JSON_TRUE},
    {"false", IOTC_OK, IOTC_JSON_FALSE},
    {"-0.5e+10", IOTC_OK, IOTC_JSON_NUMBER},
    {"0", IOTC_OK, IOTC_JSON_NUMBER},
    {"\"a\\u00e9\\ud83d\\ude00\\n\"", IOTC_OK, IOTC_JSON_STRING},
    {"{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", IOTC_OK, IOTC_JSON_OBJECT},
    {"", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"   ", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"{", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"{\"a\"}", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"{\"a\":}", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"{\"a\":1,}", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"[1,]", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"[1 2]", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"{a:1}", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"{1:1}", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"01", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"1.", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {".5", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"1e", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"-", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"+1", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"tru", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"nul", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"\"abc", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"\"a\\x\"", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"\"\\u12\"", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"\"\\ud800\"", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"\"\\udc00\"", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"\"\\ud800\\u0041\"", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"\"tab\there\"", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"{} {}", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"{}x", IOTC_E_MALFORMED, IOTC_JSON_NONE},
    {"\"\\", IOTC_E_MALFORMED, IOTC_JSON_NONE},
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_vecs) / sizeof(parse_vecs[0]); i++) {
        struct iotc_json_value v;
        int rc = iotc_json_parse(S(parse_vecs[i].text), &v);
        if (rc != parse_vecs[i].rc)
            fail_msg("vector %zu '%s': rc %d want %d", i, parse_vecs[i].text, rc, parse_vecs[i].rc);
        if (rc == IOTC_OK)
            assert_int_equal(v.type, parse_vecs[i].type);
    }
}

static void test_depth(void **state)
{
    char buf[200];
    struct iotc_json_value v;
    (void)state;
    for (int d = 1; d <= IOTC_JSON_MAX_DEPTH + 1; d++) {
        size_t n = 0;
        for (int k = 0; k < d; k++)
            buf[n++] = '[';
        for (int k = 0; k < d; k++)
            buf[n++] = ']';
        int rc = iotc_json_parse((struct iotc_span){buf, n}, &v);
        assert_int_equal(rc, d <= IOTC_JSON_MAX_DEPTH ? IOTC_OK : IOTC_E_MALFORMED);
    }
    /* deep garbage is refused without recursing deeper than the limit */
    char deep[5000];
    memset(deep, '[', sizeof(deep));
    assert_int_equal(iotc_json_parse((struct iotc_span){deep, sizeof(deep)}, &v), IOTC_E_MALFORMED);
}

static void test_find_and_iterate(void **state)
{
    const char *doc = "{\"operationId\":\"4.d0a6\",\"n\":-12,\"a\\u0062c\":true,"
                      "\"arr\":[1,\"two\",{\"x\":[]}],\"dup\":1,\"dup\":2}";
    struct iotc_json_value root, v, k;
    struct iotc_json_iter it;
    char buf[32];
    size_t n;
    int64_t i64;
    bool b;
    (void)state;
    assert_int_equal(iotc_json_parse(S(doc), &root), IOTC_OK);
    assert_int_equal(iotc_json_object_find(root, S("operationId"), &v), IOTC_OK);
    assert_int_equal(v.type, IOTC_JSON_STRING);
    assert_int_equal(iotc_json_string_get(v, buf, sizeof(buf), &n), IOTC_OK);
    assert_string_equal(buf, "4.d0a6");
    assert_int_equal(iotc_json_object_find(root, S("n"), &v), IOTC_OK);
    assert_int_equal(iotc_json_get_int(v, -100, 100, &i64), IOTC_OK);
    assert_int_equal(i64, -12);
    assert_int_equal(iotc_json_get_int(v, 0, 100, &i64), IOTC_E_TOOBIG);
    assert_int_equal(iotc_json_object_find(root, S("abc"), &v), IOTC_OK); /* escaped key */
    assert_int_equal(iotc_json_get_bool(v, &b), IOTC_OK);
    assert_true(b);
    assert_int_equal(iotc_json_object_find(root, S("dup"), &v), IOTC_OK);
    assert_int_equal(iotc_json_get_int(v, 0, 9, &i64), IOTC_OK);
    assert_int_equal(i64, 1); /* first wins */
    assert_int_equal(iotc_json_object_find(root, S("missing"), &v), IOTC_E_NOTFOUND);
    assert_int_equal(iotc_json_object_find(root, S("ab"), &v), IOTC_E_NOTFOUND);

    assert_int_equal(iotc_json_object_find(root, S("arr"), &v), IOTC_OK);
    assert_int_equal(iotc_json_object_find(v, S("x"), &k), IOTC_E_MALFORMED); /* not an object */
    assert_int_equal(iotc_json_iter_init(&it, v), IOTC_OK);
    static const enum iotc_json_type want[] = {IOTC_JSON_NUMBER, IOTC_JSON_STRING,
                                               IOTC_JSON_OBJECT};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(iotc_json_iter_next(&it, NULL, &k), IOTC_OK);
        assert_int_equal(k.type, want[i]);
    }
    assert_int_equal(iotc_json_iter_next(&it, NULL, &k), IOTC_E_NOTFOUND);
    assert_int_equal(iotc_json_iter_next(&it, NULL, &k), IOTC_E_NOTFOUND);

    assert_int_equal(iotc_json_iter_init(&it, root), IOTC_OK);
    size_t members = 0;
    while (iotc_json_iter_next(&it, &k, &v) == IOTC_OK) {
        assert_int_equal(k.type, IOTC_JSON_STRING);
        members++;
    }
    assert_int_equal(members, 6);

    struct iotc_json_value empty;
    assert_int_equal(iotc_json_parse(S(" { } "), &empty), IOTC_OK);
    assert_int_equal(iotc_json_iter_init(&it, empty), IOTC_OK);
    assert_int_equal(iotc_json_iter_next(&it, &k, &v), IOTC_E_NOTFOUND);
}

/* A hand-made value over broken bytes must be rejected, never read out of bounds. */
static void test_handmade_values(void **state)
{
    static const char *bad[] = {"{", "{\"a\"", "{\"a\":",     "{\"a\":1", "{\"a\":1,",
                                "[", "[1",     "{\"a\":\"\\", "{\"a\" 1}"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* exact-size heap copies so ASan catches any overread */
        size_t n = strlen(bad[i]);
        char *p = test_malloc(n);
        memcpy(p, bad[i], n);
        struct iotc_json_value obj = {bad[i][0] == '[' ? IOTC_JSON_ARRAY : IOTC_JSON_OBJECT,
                                      {p, n}};
        struct iotc_json_value v;
        struct iotc_json_iter it;
        int rc = iotc_json_object_find(obj, S("zz"), &v);
        assert_true(rc == IOTC_E_MALFORMED);
        if (iotc_json_iter_init(&it, obj) == IOTC_OK) {
            while ((rc = iotc_json_iter_next(&it, &v, &v)) == IOTC_OK)
                ;
            assert_int_equal(rc, IOTC_E_MALFORMED);
        }
        test_free(p);
    }
    struct iotc_json_value s = {IOTC_JSON_STRING, {"\"", 1}};
    char buf[8];
    size_t n;
    assert_int_equal(iotc_json_string_get(s, buf, sizeof(buf), &n), IOTC_E_MALFORMED);
    struct iotc_json_value num = {IOTC_JSON_STRING, {"12", 2}};
    int64_t x;
    assert_int_equal(iotc_json_get_int(num, 0, 100, &x), IOTC_E_MALFORMED);
}

struct unesc_vec {
    const char *json;
    const char *want;
    size_t want_len;
};
static const struct unesc_vec unesc_vecs[] = {
    {"\"plain\"", "plain", 5},
    {"\"q\\\"b\\\\s\\/\"", "q\"b\\s/", 6},
    {"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5},
    {"\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6},
    {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},
    {"\"a\\u0000b\"", "a\0b", 3},
    {"\"\xc3\xa9\"", "\xc3\xa9", 2},
};

static void test_unescape(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(unesc_vecs) / sizeof(unesc_vecs[0]); i++) {
        struct iotc_json_value v;
        char out[32];
        size_t n;
        assert_int_equal(iotc_json_parse(S(unesc_vecs[i].json), &v), IOTC_OK);
        assert_int_equal(iotc_json_string_get(v, out, sizeof(out), &n), IOTC_OK);
        assert_int_equal(n, unesc_vecs[i].want_len);
        assert_memory_equal(out, unesc_vecs[i].want, n);
        assert_true(iotc_json_string_eq(v, (struct iotc_span){unesc_vecs[i].want, n}));
        assert_int_equal(iotc_json_string_get(v, out, n == 0 ? 0 : n - 1, &n),
                         n == 0 ? IOTC_OK : IOTC_E_NOSPACE);
    }
    assert_int_equal(iotc_json_unescape(S("bad\\q"), NULL, 0, NULL), IOTC_E_MALFORMED);
    size_t n;
    char out[4];
    assert_int_equal(iotc_json_unescape(S("a\\nb"), out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out, "a\nb");
}

struct int_vec {
    const char *text;
    int rc;
    int64_t v;
};
static const struct int_vec int_vecs[] = {
    {"0", IOTC_OK, 0},
    {"-0", IOTC_OK, 0},
    {"9223372036854775807", IOTC_OK, INT64_MAX},
    {"-9223372036854775808", IOTC_OK, INT64_MIN},
    {"9223372036854775808", IOTC_E_TOOBIG, 0},
    {"-9223372036854775809", IOTC_E_TOOBIG, 0},
    {"99999999999999999999999", IOTC_E_TOOBIG, 0},
    {"1.0", IOTC_E_MALFORMED, 0},
    {"1e3", IOTC_E_MALFORMED, 0},
    {"401002", IOTC_OK, 401002},
};

static void test_get_int(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(int_vecs) / sizeof(int_vecs[0]); i++) {
        struct iotc_json_value v;
        int64_t x = 42;
        assert_int_equal(iotc_json_parse(S(int_vecs[i].text), &v), IOTC_OK);
        assert_int_equal(iotc_json_get_int(v, INT64_MIN, INT64_MAX, &x), int_vecs[i].rc);
        if (int_vecs[i].rc == IOTC_OK)
            assert_true(x == int_vecs[i].v);
    }
}

static void test_writer(void **state)
{
    char buf[256];
    struct iotc_json_writer w;
    size_t n;
    (void)state;
    iotc_json_writer_init(&w, buf, sizeof(buf));
    iotc_json_write_object_begin(&w);
    iotc_json_write_key(&w, S("s"));
    iotc_json_write_string(&w, S("q\"\\\n\x01\x7f\xc3\xa9"));
    iotc_json_write_key(&w, S("i"));
    iotc_json_write_int(&w, INT64_MIN);
    iotc_json_write_key(&w, S("u"));
    iotc_json_write_uint(&w, UINT64_MAX);
    iotc_json_write_key(&w, S("a"));
    iotc_json_write_array_begin(&w);
    iotc_json_write_bool(&w, true);
    iotc_json_write_bool(&w, false);
    iotc_json_write_null(&w);
    iotc_json_write_raw(&w, S(" {\"x\" : 1} "));
    iotc_json_write_array_end(&w);
    iotc_json_write_object_end(&w);
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_OK);
    assert_string_equal(buf,
                        "{\"s\":\"q\\\"\\\\\\n\\u0001\x7f\xc3\xa9\",\"i\":-9223372036854775808,"
                        "\"u\":18446744073709551615,\"a\":[true,false,null,{\"x\" : 1}]}");
    assert_int_equal(n, strlen(buf));
    struct iotc_json_value v;
    assert_int_equal(iotc_json_parse((struct iotc_span){buf, n}, &v), IOTC_OK);
}

static void test_writer_misuse(void **state)
{
    struct iotc_json_writer w;
    size_t n;
    (void)state;
    /* value without key in an object */
    iotc_json_writer_init(&w, NULL, 0);
    iotc_json_write_object_begin(&w);
    iotc_json_write_int(&w, 1);
    iotc_json_write_object_end(&w);
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_ARG);
    /* key in an array */
    iotc_json_writer_init(&w, NULL, 0);
    iotc_json_write_array_begin(&w);
    iotc_json_write_key(&w, S("k"));
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_ARG);
    /* unclosed */
    iotc_json_writer_init(&w, NULL, 0);
    iotc_json_write_array_begin(&w);
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_ARG);
    /* mismatched close */
    iotc_json_writer_init(&w, NULL, 0);
    iotc_json_write_array_begin(&w);
    iotc_json_write_object_end(&w);
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_ARG);
    /* two top-level values */
    iotc_json_writer_init(&w, NULL, 0);
    iotc_json_write_null(&w);
    iotc_json_write_null(&w);
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_ARG);
    /* nothing */
    iotc_json_writer_init(&w, NULL, 0);
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_ARG);
    /* invalid raw, invalid UTF-8 */
    iotc_json_writer_init(&w, NULL, 0);
    iotc_json_write_raw(&w, S("{bad"));
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_ARG);
    static const char *bad_utf8[] = {
        "\xff", "\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80\x80"};
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        char out[16];
        assert_int_equal(iotc_json_escape(S(bad_utf8[i]), out, sizeof(out), &n), IOTC_E_ARG);
    }
    /* too deep */
    iotc_json_writer_init(&w, NULL, 0);
    for (int i = 0; i <= IOTC_JSON_MAX_DEPTH; i++)
        iotc_json_write_array_begin(&w);
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_ARG);
    /* small buffer: NOSPACE and no write past size */
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    iotc_json_writer_init(&w, buf, 4);
    iotc_json_write_string(&w, S("abcdef"));
    assert_int_equal(iotc_json_writer_finish(&w, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, 8);
    assert_int_equal(buf[4], 'x');
}

static void test_escape(void **state)
{
    char out[32];
    size_t n;
    (void)state;
    assert_int_equal(iotc_json_escape(S("a\"b\tc"), out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out, "\"a\\\"b\\tc\"");
    memset(out, 'x', sizeof(out));
    assert_int_equal(iotc_json_escape(S("abc"), out, 4, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, 5);
    assert_int_equal(out[0], 'x');
    assert_int_equal(iotc_json_escape(S("abc"), out, 5, &n), IOTC_OK);
    assert_memory_equal(out, "\"abc\"", 5);
    assert_int_equal(out[5], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),      cmocka_unit_test(test_depth),
        cmocka_unit_test(test_find_and_iterate), cmocka_unit_test(test_handmade_values),
        cmocka_unit_test(test_unescape),         cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_writer),           cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
