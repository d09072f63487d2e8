/* The DPS assignment file's format (src/device/assignment.h): round trip and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <iotc/codec.h>

#include "device/assignment.h"

#define S(x) iotc_span_from_cstr(x)

static bool eq(struct iotc_span a, const char *b)
{
    return iotc_span_eq(a, S(b));
}

static void test_round_trip(void **state)
{
    (void)state;
    struct iotc__assignment a = {S("0ne00ABC"), S("dev-1"), S("hub.example.net"), S("dev-1"), 8883};
    char buf[512];
    size_t n;
    assert_int_equal(iotc__assignment_format(&a, buf, sizeof buf, &n), IOTC_OK);
    assert_int_equal(n, strlen(buf) + 1);
    assert_string_equal(buf, "iotc-dps-assignment 1\nscope 0ne00ABC\nregistration dev-1\n"
                             "hub hub.example.net\nport 8883\ndevice dev-1\n");
    struct iotc__assignment b;
    assert_int_equal(iotc__assignment_parse((struct iotc_span){buf, n - 1}, &b), IOTC_OK);
    assert_true(eq(b.scope, "0ne00ABC") && eq(b.registration_id, "dev-1"));
    assert_true(eq(b.hub_host, "hub.example.net") && eq(b.device_id, "dev-1"));
    assert_int_equal(b.hub_port, 8883);
    /* too small: the size needed */
    assert_int_equal(iotc__assignment_format(&a, buf, 10, &n), IOTC_E_NOSPACE);
    assert_int_equal(n, strlen("iotc-dps-assignment 1\nscope 0ne00ABC\nregistration dev-1\n"
                               "hub hub.example.net\nport 8883\ndevice dev-1\n") +
                            1);
}

static void test_format_refuses(void **state)
{
    (void)state;
    char buf[512];
    size_t n;
    struct iotc__assignment a = {S("s"), S("r"), S("h"), S("d"), 0};
    assert_int_equal(iotc__assignment_format(&a, buf, sizeof buf, &n), IOTC_E_ARG); /* port 0 */
    a.hub_port = 1;
    a.device_id = S("two words");
    assert_int_equal(iotc__assignment_format(&a, buf, sizeof buf, &n), IOTC_E_ARG);
    a.device_id = S("");
    assert_int_equal(iotc__assignment_format(&a, buf, sizeof buf, &n), IOTC_E_ARG);
    a.device_id = S("line\nbreak");
    assert_int_equal(iotc__assignment_format(&a, buf, sizeof buf, &n), IOTC_E_ARG);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not an assignment\n",
        "iotc-dps-assignment 2\nscope s\nregistration r\nhub h\nport 1\ndevice d\n",
        "iotc-dps-assignment 1\nscope s\nregistration r\nhub h\nport 1\n",           /* no device */
        "iotc-dps-assignment 1\nscope s\nregistration r\nhub h\nport 1\ndevice d",   /* cut off */
        "iotc-dps-assignment 1\nscope s\nregistration r\nhub h\nport 0\ndevice d\n", /* port 0 */
        "iotc-dps-assignment 1\nscope s\nregistration r\nhub h\nport 65536\ndevice d\n",
        "iotc-dps-assignment 1\nscope s\nregistration r\nhub h\nport 8x\ndevice d\n",
        "iotc-dps-assignment 1\nscope s\nscope t\nregistration r\nhub h\nport 1\ndevice d\n",
        "iotc-dps-assignment 1\nscope s\nregistration r\nhub \nport 1\ndevice d\n", /* empty */
        "iotc-dps-assignment 1\nscope s\nregistration r\nhub h\nport 1\ndevice d\nnospace\n",
    };
    struct iotc__assignment a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(iotc__assignment_parse(S(bad[i]), &a), IOTC_E_MALFORMED);
    /* unknown keys are skipped */
    assert_int_equal(iotc__assignment_parse(S("iotc-dps-assignment 1\nscope s\nregistration r\n"
                                              "hub h\nport 65535\nlater x\ndevice d\n"),
                                            &a),
                     IOTC_OK);
    assert_int_equal(a.hub_port, 65535);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_format_refuses),
        cmocka_unit_test(test_parse_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
