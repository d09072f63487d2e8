/*
 * test_central_security.c - running iotc-central as a server (issue 14): peer-supplied strings
 * cannot forge log lines; keep-alive 0 does not mean "idle forever"; every listener (MQTT/TLS,
 * HTTPS, plain MQTT) listens on loopback unless --bind says otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/harness.h"

static const char KEY[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
static const char KEY2[] = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* With --max-keep-alive 2, keep-alive 0 and keep-alive 60 both count as 2 s: a silent client is
 * closed after 1.5 x 2 s; a client that pings every second stays. */
static void test_keepalive_capped(void **state)
{
    (void)state;
    struct th_central srv;
    static const char *const args[] = {"--max-keep-alive", "2", NULL};
    assert_int_equal(th_central_start(&srv, args), 0);
    static const char *const ids[] = {"ka-zero", "ka-high", "ka-ping"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(th_put_device(&srv, ids[i], KEY, KEY2, true), 200);

    struct th_mqtt zero, high, ping;
    assert_int_equal(th_mqtt_open(&zero, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_open(&high, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_open(&ping, srv.mqtt_port, srv.ca_path), 0);
    char user[300], token[600];
    uint16_t keepalive[] = {0, 60, 0};
    struct th_mqtt *m[] = {&zero, &high, &ping};
    for (int i = 0; i < 3; i++) {
        snprintf(user, sizeof user, "%s/%s/?api-version=2021-04-12", srv.hub_host, ids[i]);
        assert_int_equal(th_hub_token(&srv, ids[i], KEY, th_now() + 600, token, sizeof token), 0);
        assert_int_equal(th_mqtt_connect(m[i], ids[i], user, token, keepalive[i], true), 0);
    }
    int64_t t0 = now_ms();

    /* the pinging client: one PINGREQ a second for 5 s, each answered */
    struct iotc_mqtt_packet req = {.type = IOTC_MQTT_PINGREQ}, p;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(th_mqtt_send(&ping, &req), 0);
        assert_int_equal(th_mqtt_expect(&ping, IOTC_MQTT_PINGRESP, &p, 2000), 0);
        usleep(1000 * 1000);
    }
    assert_int_equal(th_mqtt_send(&ping, &req), 0);
    assert_int_equal(th_mqtt_expect(&ping, IOTC_MQTT_PINGRESP, &p, 2000), 0);

    /* the silent ones were closed meanwhile (3 s after CONNECT, checked within 4.5 s) */
    assert_true(th_mqtt_wait_closed(&zero, 100));
    assert_true(th_mqtt_wait_closed(&high, 100));
    assert_true(now_ms() - t0 >= 3000);
    th_mqtt_close(&zero);
    th_mqtt_close(&high);
    th_mqtt_close(&ping);
    assert_true(th_central_log_contains(&srv, "keep-alive timeout", 1000));
    th_central_cleanup(&srv);
}

/* Without --max-keep-alive the cap is 1767 s: the option is in --help. */
static void test_keepalive_help(void **state)
{
    (void)state;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' --help 2>&1", th_central_bin());
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char out[16384];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    pclose(f);
    assert_non_null(strstr(out, "--max-keep-alive S"));
    assert_non_null(strstr(out, "default 1767"));
}

/* The local address of the listening TCP socket on @p port, from /proc/net/@p table ("tcp" or
 * "tcp6"), as the kernel prints it (hex); "" when there is none. */
static void listen_addr(const char *table, uint16_t port, char *out, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/net/%s", table);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        /* "  sl  local_address rem_address   st ...": "0: 0100007F:1F90 00000000:0000 0A ..." */
        char *local = strchr(line, ':');
        if (local == NULL)
            continue;
        local++;
        while (*local == ' ')
            local++;
        char *colon = strchr(local, ':');
        char *st = colon ? strchr(colon, ' ') : NULL;
        if (st == NULL)
            continue;
        while (*st == ' ')
            st++;
        st = strchr(st, ' ');
        if (st == NULL)
            continue;
        while (*st == ' ')
            st++;
        char *end = NULL;
        unsigned long p = strtoul(colon + 1, &end, 16);
        if (p == port && strncmp(st, "0A", 2) == 0) { /* 0A: LISTEN */
            size_t n = (size_t)(colon - local);
            if (n >= size)
                n = size - 1;
            memcpy(out, local, n);
            out[n] = '\0';
            break;
        }
    }
    fclose(f);
}

/* Without --bind, --plain-mqtt-port listens on 127.0.0.1 only (the TLS port on every
 * interface, as before); the server logs the address. */
/* Issue 14: loopback by default (as Mosquitto 2), --bind 0.0.0.0 to serve a network. */
static void test_listen_loopback_by_default(void **state)
{
    (void)state;
    struct th_central srv;
    static const char *const args[] = {"--plain-mqtt-port", "0", NULL};
    assert_int_equal(th_central_start_default_bind(&srv, args), 0);
    assert_true(srv.plain_port != 0);
    char addr[64], addr6[64];
    listen_addr("tcp", srv.plain_port, addr, sizeof addr);
    listen_addr("tcp6", srv.plain_port, addr6, sizeof addr6);
    assert_string_equal(addr, "0100007F");
    assert_string_equal(addr6, "");
    listen_addr("tcp", srv.mqtt_port, addr, sizeof addr);
    assert_string_equal(addr, "0100007F");
    listen_addr("tcp", srv.https_port, addr, sizeof addr);
    assert_string_equal(addr, "0100007F");
    assert_true(th_central_log_contains(&srv, "plain MQTT (no TLS) listening on 127.0.0.1", 1000));
    assert_true(th_central_log_contains(&srv, " on 127.0.0.1: MQTT/TLS on port", 1000));
    struct th_mqtt m; /* and it accepts there */
    assert_int_equal(th_mqtt_open(&m, srv.plain_port, NULL), 0);
    th_mqtt_close(&m);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    th_mqtt_close(&m);
    th_central_cleanup(&srv);

    /* --bind 0.0.0.0 serves a network: all three on every interface, and a warning that
     * DPS still hands devices "localhost" */
    static const char *const any[] = {"--plain-mqtt-port", "0", "--bind", "0.0.0.0", NULL};
    assert_int_equal(th_central_start_default_bind(&srv, any), 0);
    listen_addr("tcp", srv.plain_port, addr, sizeof addr);
    assert_string_equal(addr, "00000000");
    listen_addr("tcp", srv.mqtt_port, addr, sizeof addr);
    assert_string_equal(addr, "00000000");
    listen_addr("tcp", srv.https_port, addr, sizeof addr);
    assert_string_equal(addr, "00000000");
    assert_true(th_central_log_contains(&srv, "devices on other machines need --hub-host", 1000));
    th_central_cleanup(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_forging),
        cmocka_unit_test(test_keepalive_capped),
        cmocka_unit_test(test_keepalive_help),
        cmocka_unit_test(test_listen_loopback_by_default),
    };
    return cmocka_run_group_tests_name("central_security", tests, NULL, NULL);
}
