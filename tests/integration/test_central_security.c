/*
 * test_central_security.c - running iotc-central as a server (issue 14): peer-supplied strings
 * cannot forge log lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/harness.h"

/* Lines of the server log that start with @p prefix; -1 when the log cannot be read. */
static int log_lines_starting(const struct th_central *c, const char *prefix)
{
    FILE *f = fopen(c->log_path, "r");
    if (f == NULL)
        return -1;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            n++;
    }
    fclose(f);
    return n;
}

/* CR/LF in the device id of a username (logged before authentication) and in a DPS
 * registration id end up escaped, never as lines of their own. */
static void test_log_forging(void **state)
{
    (void)state;
    struct th_central srv;
    assert_int_equal(th_central_start(&srv, NULL), 0);
    char user[400];
    struct th_mqtt m;

    snprintf(user, sizeof user, "%s/dev\r\nFAKE LINE hub/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "dev\r\nFAKE LINE hub", user, "x", 60, true), 5);
    th_mqtt_close(&m);

    snprintf(user, sizeof user, "%s/registrations/reg\r\nFAKE LINE dps/api-version=2019-03-31",
             srv.id_scope);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "reg\r\nFAKE LINE dps", user, "x", 60, true), 5);
    th_mqtt_close(&m);

    /* a backslash is escaped as well, so that input cannot pass for an escape */
    snprintf(user, sizeof user, "%s/dev\\x0a/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "dev\\x0a", user, "x", 60, true), 5);
    th_mqtt_close(&m);

    assert_true(th_central_log_contains(&srv, "'dev\\x0d\\x0aFAKE LINE hub'", 3000));
    assert_true(th_central_log_contains(&srv, "'reg\\x0d\\x0aFAKE LINE dps'", 3000));
    assert_true(th_central_log_contains(&srv, "'dev\\x5cx0a'", 3000));
    assert_int_equal(log_lines_starting(&srv, "FAKE"), 0);
    th_central_cleanup(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_forging),
    };
    return cmocka_run_group_tests_name("central_security", tests, NULL, NULL);
}
