/*
 * test_central_log.c - log_escape(): peer-supplied strings in iotc-central's log lines
 * (control characters, backslash and bad UTF-8 as \xNN, length cap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "central/base/log.h"

static void test_escape_table(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"dev-1", 5, "dev-1"},
        {"", 0, ""},
        {"a\r\nFAKE LINE", 12, "a\\x0d\\x0aFAKE LINE"},
        {"tab\there", 8, "tab\\x09here"},
        {"nul\0x", 5, "nul\\x00x"},
        {"del\x7f", 4, "del\\x7f"},
        {"esc\x1b[31m", 8, "esc\\x1b[31m"},
        {"back\\x0a", 8, "back\\x5cx0a"},
        {"caf\xc3\xa9", 5, "caf\xc3\xa9"}, /* valid UTF-8 kept */
        {"\xe2\x82\xac\xf0\x9f\x98\x80", 7, "\xe2\x82\xac\xf0\x9f\x98\x80"},
        {"\xc2\x85", 2, "\\xc2\\x85"},                   /* C1 control NEL */
        {"bad\xff", 4, "bad\\xff"},                      /* not UTF-8 */
        {"\xc0\xaf", 2, "\\xc0\\xaf"},                   /* overlong */
        {"\xed\xa0\x80", 3, "\\xed\\xa0\\x80"},          /* surrogate */
        {"\xe2\x82", 2, "\\xe2\\x82"},                   /* truncated sequence */
        {"\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[LOG_ESC_SIZE];
        const char *r = log_escape(out, sizeof out, cases[i].in, cases[i].len);
        assert_ptr_equal(r, out);
        assert_string_equal(out, cases[i].out);
    }
}

static void test_escape_cap(void **state)
{
    char in[LOG_ESC_MAX + 50];
    char out[LOG_ESC_SIZE];
    (void)state;
    memset(in, 'a', sizeof in);
    log_escape(out, sizeof out, in, sizeof in);
    assert_int_equal(strlen(out), LOG_ESC_MAX + 3);
    assert_string_equal(out + LOG_ESC_MAX, "...");
    /* the worst case fits LOG_ESC_SIZE */
    memset(in, '\n', sizeof in);
    log_escape(out, sizeof out, in, sizeof in);
    assert_int_equal(strlen(out), LOG_ESC_MAX * 4 + 3);
    assert_string_equal(out + LOG_ESC_MAX * 4, "...");
    /* a small buffer is never overrun and stays NUL-terminated, escapes are not split */
    char small[6];
    log_escape(small, sizeof small, "ab\ncd", 5);
    assert_string_equal(small, "ab");
    log_escape(small, 1, "abc", 3);
    assert_string_equal(small, "");
    /* NULL input, C strings and the argument macros */
    assert_string_equal(log_escape_cstr(out, sizeof out, NULL), "");
    assert_string_equal(LOG_STR("x\ny"), "x\\x0ay");
    assert_string_equal(LOG_SPAN("x\ny-ignored", 3), "x\\x0ay");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_escape_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
