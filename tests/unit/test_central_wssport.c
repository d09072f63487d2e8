/*
 * test_central_wssport.c - where the HTTPS listener also serves MQTT over WebSockets
 * (central/base/wssport.h): --wss-port values, the decision from the process's privileges, and
 * the lines logged when 443 is not served.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "central/base/wssport.h"

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool ok;
        int value;
    } rows[] = {
        {"auto", true, WSSPORT_AUTO},
        {"off", true, WSSPORT_OFF},
        {"443", true, 443},
        {"1", true, 1},
        {"65535", true, 65535},
        {"0", false, 0},
        {"65536", false, 0},
        {"-1", false, 0},
        {"+443", false, 0},
        {"443x", false, 0},
        {"", false, 0},
        {"Auto", false, 0},
        {"on", false, 0},
        {"000443", false, 0},
        {" 443", false, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int v = 12345;
        const char *err = wssport_parse(rows[i].text, &v);
        if (rows[i].ok) {
            if (err != NULL)
                fail_msg("'%s' refused: %s", rows[i].text, err);
            assert_int_equal(v, rows[i].value);
        } else {
            if (err == NULL)
                fail_msg("'%s' accepted as %d", rows[i].text, v);
            assert_int_equal(v, 12345); /* unchanged */
            assert_non_null(strstr(err, "auto, off or a port"));
        }
    }
    assert_non_null(wssport_parse(NULL, &(int){0}));
}

static void test_may_bind(void **state)
{
    (void)state;
    assert_true(wssport_may_bind(443, true, 1024));   /* root / the capability */
    assert_false(wssport_may_bind(443, false, 1024)); /* an ordinary user */
    assert_true(wssport_may_bind(443, false, 443));   /* the sysctl lowered to 443 */
    assert_true(wssport_may_bind(443, false, 0));
    assert_false(wssport_may_bind(443, false, 444));
    assert_false(wssport_may_bind(443, false, -1)); /* unknown: the kernel's default, 1024 */
    assert_true(wssport_may_bind(8443, false, -1));
}

static void test_decide(void **state)
{
    (void)state;
    static const struct {
        struct wssport_in in;
        enum wssport_action action;
        int port;
        const char *why; /* in the line; NULL: no line */
    } rows[] = {
        /* auto: 443 when the process may bind it */
        {{WSSPORT_AUTO, 8443, true, 1024}, WSSPORT_TRY, 443, NULL},
        {{WSSPORT_AUTO, 8443, false, 80}, WSSPORT_TRY, 443, NULL},
        {{WSSPORT_AUTO, 8443, false, 443}, WSSPORT_TRY, 443, NULL},
        {{WSSPORT_AUTO, 41234, true, -1}, WSSPORT_TRY, 443, NULL},
        /* ... else one line, naming the reason and the HTTPS port it serves on instead */
        {{WSSPORT_AUTO, 8443, false, 1024}, WSSPORT_NONE, 0, "CAP_NET_BIND_SERVICE"},
        {{WSSPORT_AUTO, 8443, false, 1024}, WSSPORT_NONE, 0, "ip_unprivileged_port_start is 1024"},
        {{WSSPORT_AUTO, 8443, false, 1024}, WSSPORT_NONE, 0, "on the HTTPS port 8443 only"},
        {{WSSPORT_AUTO, 8443, false, -1}, WSSPORT_NONE, 0, "ip_unprivileged_port_start is unknown"},
        /* ... nothing to add when HTTPS is on 443 already, or off */
        {{WSSPORT_AUTO, 443, true, 1024}, WSSPORT_NONE, 0, NULL},
        {{WSSPORT_AUTO, 0, true, 1024}, WSSPORT_NONE, 0, NULL},
        {{WSSPORT_AUTO, -1, true, 1024}, WSSPORT_NONE, 0, NULL},
        /* off: never, whatever the privileges */
        {{WSSPORT_OFF, 8443, true, 0}, WSSPORT_NONE, 0, NULL},
        /* a port: bind it or do not start, privileged or not (the bind says why it fails) */
        {{9443, 8443, false, 1024}, WSSPORT_MUST, 9443, NULL},
        {{443, 8443, false, 1024}, WSSPORT_MUST, 443, NULL},
        {{8443, 8443, true, 1024}, WSSPORT_NONE, 0, NULL},
        {{9443, -1, true, 1024}, WSSPORT_NONE, 0, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int port = -7;
        char why[512];
        enum wssport_action a = wssport_decide(&rows[i].in, &port, why, sizeof why);
        if (a != rows[i].action || port != rows[i].port)
            fail_msg("row %zu: action %d port %d, want %d %d", i, (int)a, port, (int)rows[i].action,
                     rows[i].port);
        if (rows[i].why == NULL)
            assert_string_equal(why, "");
        else if (strstr(why, rows[i].why) == NULL)
            fail_msg("row %zu: '%s' lacks '%s'", i, why, rows[i].why);
    }
    /* no room for the line: still decided, nothing written */
    int port = 0;
    const struct wssport_in in = {WSSPORT_AUTO, 8443, false, 1024};
    assert_int_equal(wssport_decide(&in, &port, NULL, 0), WSSPORT_NONE);
    char tiny[8] = "xxxxxxx";
    assert_int_equal(wssport_decide(&in, &port, tiny, sizeof tiny), WSSPORT_NONE);
    assert_int_equal(strlen(tiny), 7); /* truncated, terminated */
}

static void test_try_failed(void **state)
{
    (void)state;
    char line[512];
    wssport_try_failed(443, 8443, "127.0.0.1", true, "Address already in use", line, sizeof line);
    assert_string_equal(line, "wss: cannot listen on 127.0.0.1 port 443 (Address already in use: "
                              "another program holds it); the WebSocket endpoint is on the "
                              "HTTPS port 8443 only (--wss-port, docs/OPERATIONS.md)");
    wssport_try_failed(443, 41000, "::1", false, "Permission denied", line, sizeof line);
    assert_non_null(strstr(line, "::1 port 443 (Permission denied);"));
    assert_non_null(strstr(line, "HTTPS port 41000 only"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_may_bind),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_try_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
