/*
 * test_central_flood.c - unauthenticated resource exhaustion (issue 14, D1; docs/OPERATIONS.md
 * "Limits and flood protection"). The server runs with RLIMIT_NOFILE 256 and --auth-timeout 3:
 * a trickled MQTT CONNECT and a trickled HTTPS request are closed at the deadline although
 * bytes keep coming; under a flood from several loopback addresses (idle TCP connections to
 * the MQTT/TLS port, HTTPS requests trickling in, everything closed reopened at once) a
 * device from another address connects and gets its PUBACK within seconds; the refusals
 * are logged, a line per second and reason at most, not one per connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../lib/harness.h"
#include "iotc/codec.h"

#define NOFILE 256
#define AUTH_TIMEOUT_S 3
#define MQTT_ADDRS 4     /* 127.0.0.2 .. 127.0.0.5 */
#define MQTT_PER_ADDR 60 /* 240 idle connections: more than NOFILE on their own */
#define HTTP_ADDRS 2     /* 127.0.0.6, 127.0.0.7 */
#define HTTP_PER_ADDR 15 /* 30 trickling requests: more than the HTTP budget of 24 */

static const char KEY[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
static const char KEY2[] = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
static const char REQ[] = "GET /api/devices?api-version=2022-07-31 HTTP/1.1\r\nHost: localhost\r\n"
                          "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";

static struct th_central srv;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Lines of the server log with @p needle (echoed to stderr when @p show). */
static int count_log_show(const char *needle, bool show)
{
    FILE *f = fopen(srv.log_path, "r");
    if (f == NULL)
        return -1;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, needle) != NULL) {
            n++;
            if (show)
                fputs(line, stderr);
        }
    }
    fclose(f);
    return n;
}

static int count_log(const char *needle)
{
    return count_log_show(needle, false);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    /* this process holds the flood's few hundred sockets */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    th_central_nofile = NOFILE;
    static const char *const args[] = {"--auth-timeout", "3", NULL};
    if (th_central_start(&srv, args) != 0)
        return -1;
    return th_put_device(&srv, "flood-dev", KEY, KEY2, true) == 200 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* The effective limits are logged once at start, within the descriptor limit; --help names
 * the options and their defaults. */
static void test_limits_logged_once(void **state)
{
    (void)state;
    assert_true(th_central_log_contains(&srv, "limits: descriptors 256;", 2000));
    assert_int_equal(count_log("limits: descriptors"), 1);
    /* 256 - 64 reserved = 192: HTTP an eighth (24), MQTT the rest (168), within 256 */
    assert_true(th_central_log_contains(&srv, "MQTT 168 connections", 0));
    assert_true(th_central_log_contains(&srv, "HTTP 24 connections", 0));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' --help 2>&1", th_central_bin());
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    static char out[32768];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    pclose(f);
    assert_non_null(strstr(out, "--auth-timeout S"));
    assert_non_null(strstr(out, "(default 10)"));
    assert_non_null(strstr(out, "--max-pending N"));
    assert_non_null(strstr(out, "--max-pending-per-address N"));
    assert_non_null(strstr(out, "--max-http-connections N"));
}

/* An MQTT CONNECT trickling in a byte every 300 ms is closed AUTH_TIMEOUT_S after the
 * accept, not kept open by the bytes. */
static void test_trickled_connect_closed_at_deadline(void **state)
{
    (void)state;
    struct th_mqtt m;
    unsigned char pkt[256];
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_CONNECT};
    char user[300];
    snprintf(user, sizeof user, "%s/flood-dev/?api-version=2021-04-12", srv.hub_host);
    p.connect.protocol_level = 4;
    p.connect.client_id = iotc_span_from_cstr("flood-dev");
    p.connect.has_username = true;
    p.connect.username = iotc_span_from_cstr(user);
    p.connect.keep_alive = 60;
    p.connect.clean_session = true;
    size_t len = 0;
    assert_int_equal(iotc_mqtt_encode(&p, pkt, sizeof pkt, &len), IOTC_OK);
    int64_t t0 = mono_ms();
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    bool closed = false;
    for (size_t i = 0; i + 1 < len && !closed && mono_ms() - t0 < 20000; i++) {
        if (th_mqtt_send_raw(&m, pkt + i, 1) != 0)
            closed = true;
        else
            closed = th_mqtt_wait_closed(&m, 300);
    }
    int64_t took = mono_ms() - t0;
    th_mqtt_close(&m);
    assert_true(closed);
    if (took < AUTH_TIMEOUT_S * 1000 - 500 || took > AUTH_TIMEOUT_S * 1000 + 1500)
        fail_msg("closed after %lld ms, want about %d s", (long long)took, AUTH_TIMEOUT_S);
}

/* An HTTPS request whose header trickles in a byte every 300 ms is closed AUTH_TIMEOUT_S
 * after the accept. */
static void test_trickled_https_header_closed_at_deadline(void **state)
{
    (void)state;
    struct th_tls t;
    int64_t t0 = mono_ms();
    assert_int_equal(th_tls_open(&srv, &t), 0);
    bool closed = false;
    for (size_t i = 0; i < sizeof REQ - 1 && !closed && mono_ms() - t0 < 20000; i++) {
        if (th_tls_send(&t, REQ + i, 1) != 0)
            closed = true;
        else
            closed = th_tls_wait(&t, NULL, 300) == 1;
    }
    int64_t took = mono_ms() - t0;
    th_tls_close(&t);
    assert_true(closed);
    if (took < AUTH_TIMEOUT_S * 1000 - 500 || took > AUTH_TIMEOUT_S * 1000 + 1500)
        fail_msg("closed after %lld ms, want about %d s", (long long)took, AUTH_TIMEOUT_S);
}

/* ---------------------------------------------------------------- the flood */

struct flood {
    int mqtt[MQTT_ADDRS * MQTT_PER_ADDR];
    struct th_tls http[HTTP_ADDRS * HTTP_PER_ADDR];
    size_t http_sent[HTTP_ADDRS * HTTP_PER_ADDR];
    volatile int stop;
    long mqtt_reopened, http_reopened;
};

static int idle_open(int a)
{
    char src[24];
    snprintf(src, sizeof src, "127.0.0.%d", 2 + a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(srv.mqtt_port)};
    inet_pton(AF_INET, src, &from.sin_addr);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
        (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void http_open(struct flood *f, int i)
{
    char src[24];
    snprintf(src, sizeof src, "127.0.0.%d", 2 + MQTT_ADDRS + i / HTTP_PER_ADDR);
    f->http_sent[i] = 0;
    if (th_tls_open_from(&srv, &f->http[i], src) != 0)
        f->http[i].ssl = NULL; /* th_tls_open_from closed it: again next round */
}

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    size_t nm = MQTT_ADDRS * MQTT_PER_ADDR, nh = HTTP_ADDRS * HTTP_PER_ADDR;
    for (size_t i = 0; i < nm; i++)
        f->mqtt[i] = idle_open((int)(i / MQTT_PER_ADDR));
    for (size_t i = 0; i < nh; i++)
        http_open(f, (int)i);
    int64_t next_trickle = mono_ms();
    while (!f->stop) {
        /* whatever the server closed (or refused) is reopened */
        for (size_t i = 0; i < nm; i++) {
            char b[64];
            if (f->mqtt[i] >= 0) {
                ssize_t r = recv(f->mqtt[i], b, sizeof b, MSG_DONTWAIT);
                if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
                    continue;
                close(f->mqtt[i]);
            }
            f->mqtt[i] = idle_open((int)(i / MQTT_PER_ADDR));
            f->mqtt_reopened++;
        }
        bool trickle = mono_ms() >= next_trickle;
        if (trickle)
            next_trickle = mono_ms() + 500;
        for (size_t i = 0; i < nh && !f->stop; i++) {
            struct th_tls *t = &f->http[i];
            if (t->ssl != NULL && th_tls_wait(t, NULL, 1) != 1 && !t->closed) {
                if (trickle && f->http_sent[i] < sizeof REQ - 1 &&
                    th_tls_send(t, REQ + f->http_sent[i], 1) == 0) {
                    f->http_sent[i]++;
                    continue;
                }
                if (!trickle)
                    continue;
            }
            th_tls_close(t);
            http_open(f, (int)i);
            f->http_reopened++;
        }
        usleep(200000);
    }
    for (size_t i = 0; i < nm; i++) {
        if (f->mqtt[i] >= 0)
            close(f->mqtt[i]);
    }
    for (size_t i = 0; i < nh; i++)
        th_tls_close(&f->http[i]);
    return NULL;
}

/* Under the flood a device from 127.0.0.1 connects, publishes and gets its PUBACK within
 * a few seconds, three times over, and the HTTPS API answers 127.0.0.1; the log has a handful
 * of summary lines, not one per refused connection. */
static void test_device_connects_under_flood(void **state)
{
    (void)state;
    static struct flood f;
    memset(&f, 0, sizeof f);
    int lines_before = count_log("limits: ");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, flood_main, &f), 0);
    sleep(2); /* the flood takes what it can */
    int64_t worst = 0;
    int ok = 0, http_ok = 0;
    for (int round = 0; round < 3; round++) {
        struct th_mqtt m;
        int64_t t0 = mono_ms();
        int rc = th_hub_connect(&m, &srv, "flood-dev", KEY);
        int pid = rc == 0
                      ? th_mqtt_publish(&m, "devices/flood-dev/messages/events/", "{\"t\":1}", 7, 1)
                      : -1;
        struct iotc_mqtt_packet ack;
        if (pid > 0 && th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &ack, 5000) == 0 &&
            ack.packet_id == pid) {
            ok++;
            int64_t took = mono_ms() - t0;
            worst = took > worst ? took : worst;
        } else {
            fprintf(stderr, "round %d: CONNACK %d, publish %d\n", round, rc, pid);
        }
        th_mqtt_close(&m);
        /* the HTTPS API answers another address too (the flood's oldest makes room) */
        struct th_http_response r;
        if (th_https(&srv, "GET", "/devices/flood-dev?api-version=2021-04-12", NULL, NULL, true,
                     5000, &r) == 0) {
            http_ok += r.status == 200;
            free(r.body);
        }
        sleep(1);
    }
    int64_t flood_ms = 2000 + 3 * 1000 + worst;
    f.stop = 1;
    pthread_join(th, NULL);
    fprintf(stderr,
            "device: %d/3 PUBACKs, slowest %lld ms; flood reopened %ld MQTT and %ld "
            "HTTPS connections\n",
            ok, (long long)worst, f.mqtt_reopened, f.http_reopened);
    assert_int_equal(ok, 3);
    assert_true(worst < 5000);
    assert_int_equal(http_ok, 3);
    /* the flood was refused or evicted many times over ... */
    assert_true(f.mqtt_reopened > 100);
    assert_true(f.http_reopened > 10);
    /* ... and the log says so in a few summary lines: at most one per second and reason */
    sleep(2); /* the last second's counts are flushed */
    int lines = count_log_show("limits: ", true) - lines_before;
    int mqtt_lines = count_log("limits: mqtt:"), http_lines = count_log("limits: http:");
    fprintf(stderr, "log: %d limits lines (%d mqtt, %d http)\n", lines, mqtt_lines, http_lines);
    assert_true(mqtt_lines > 0);
    assert_true(http_lines > 0);
    long seconds = (long)(flood_ms / 1000) + 3;
    assert_true(lines <= seconds * 4 * 2); /* reasons x classes */
    assert_true(lines < f.mqtt_reopened / 4);
    assert_false(th_central_log_contains(&srv, "accept failed", 0)); /* never out of fds */
    /* once the flood has gone, its addresses are served again: nothing of it stays counted */
    struct th_tls t;
    assert_int_equal(th_tls_open_from(&srv, &t, "127.0.0.6"), 0);
    static const char get[] = "GET /api/devices?api-version=2022-07-31 HTTP/1.1\r\n"
                              "Host: localhost\r\n\r\n";
    assert_int_equal(th_tls_send(&t, get, sizeof get - 1), 0);
    assert_int_equal(th_tls_wait(&t, "\r\n\r\n", 5000), 1);
    assert_int_equal(strncmp(t.text, "HTTP/1.1 401", 12), 0); /* no token: answered, refused */
    th_tls_close(&t);
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &srv, "flood-dev", KEY), 0);
    th_mqtt_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_logged_once),
        cmocka_unit_test(test_trickled_connect_closed_at_deadline),
        cmocka_unit_test(test_trickled_https_header_closed_at_deadline),
        cmocka_unit_test(test_device_connects_under_flood),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
