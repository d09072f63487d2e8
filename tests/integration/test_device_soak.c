/*
 * 1,000-message runs against a real iotc-central, for leaks and memory errors (the ASan+UBSan
 * build runs the same binary; LeakSanitizer makes a leaking process exit non-zero):
 *  - in process: 1,000 messages through libiotc (burst into the queue, interleaved with
 *    reported patches and a command), all acknowledged and stored, then the client is freed;
 *  - large messages queued faster than the socket drains (the client's write buffering and
 *    OpenSSL's partial writes under backpressure), every one acknowledged and stored intact;
 *  - the environmental-sensor program with --count 1000, paced (5 ms) and in burst mode
 *    (--interval 0: the next message as each is acknowledged), which must exit 0 by itself
 *    (so its own frees and the library's are checked too).
 * Bounded: a few seconds each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/socket.h>

#include "device_util.h"

#define N_MESSAGES 1000

static struct th_central srv;

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return th_central_start(&srv, NULL);
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

struct report_count {
    pthread_mutex_t mu;
    unsigned ok, failed;
    uint64_t last_version;
};

static void on_report(void *user, uint32_t id, int result, unsigned status, uint64_t version)
{
    struct report_count *r = user;
    (void)id;
    pthread_mutex_lock(&r->mu);
    if (result == IOTC_OK && status == 204)
        r->ok++;
    else
        r->failed++;
    if (version > r->last_version)
        r->last_version = version;
    pthread_mutex_unlock(&r->mu);
}

static int on_echo(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                   const char **out_json)
{
    (void)user;
    (void)c;
    *out_json = cmd->payload; /* the library copies it after we return */
    return 200;
}

static void test_thousand_messages_in_process(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    struct report_count rep = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    char ep[64];
    (void)state;

    du_dps_config(&cfg, &srv, "soak-lib-1", ep, sizeof(ep));
    cfg.queue_max_msgs = N_MESSAGES + 50;
    cfg.queue_max_bytes = 256 * 1024;
    cfg.model_id = "dtmi:com:example:Soak;1";
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(iotc_client_on_command(d.c, "echo", on_echo, NULL), IOTC_OK);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));

    int64_t t0 = du_now_ms();
    for (size_t i = 0; i < N_MESSAGES; i++) {
        assert_int_equal(du_send_seq(&d, i), IOTC_OK);
        if (i % 100 == 0) {
            char patch[64];
            snprintf(patch, sizeof(patch), "{\"progress\":%zu}", i);
            assert_int_equal(iotc_client_report(d.c, patch, on_report, &rep, NULL), IOTC_OK);
        }
    }
    int status, http;
    cJSON *p = du_invoke(&srv, "soak-lib-1", "echo", "{\"x\":[1,2,3]}", &status, &http);
    assert_int_equal(status, 200);
    char *txt = cJSON_PrintUnformatted(p);
    assert_string_equal(txt, "{\"x\":[1,2,3]}");
    free(txt);
    cJSON_Delete(p);

    assert_true(du_wait_acked(&d, N_MESSAGES, 30000));
    int64_t elapsed = du_now_ms() - t0;
    int64_t end = du_now_ms() + 10000;
    for (;;) {
        pthread_mutex_lock(&rep.mu);
        unsigned done = rep.ok + rep.failed;
        pthread_mutex_unlock(&rep.mu);
        if (done >= 10 || du_now_ms() > end)
            break;
        du_sleep_ms(20);
    }
    assert_int_equal(rep.ok, 10);
    assert_int_equal(rep.failed, 0);
    assert_true(rep.last_version >= 10);

    struct iotc_stats st;
    iotc_client_get_stats(d.c, &st);
    fprintf(stderr, "1000 messages in %lld ms (%.0f msg/s), %llu resent\n", (long long)elapsed,
            N_MESSAGES * 1000.0 / (double)(elapsed ? elapsed : 1), (unsigned long long)st.resent);
    assert_int_equal(st.telemetry_acked, N_MESSAGES);
    assert_int_equal(st.reports_acked, 10);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.queue_len, 0);
    assert_int_equal(st.queue_bytes, 0);
    assert_int_equal(du_store_count(&srv, "soak-lib-1", N_MESSAGES, NULL), N_MESSAGES);

    cJSON *twin = du_get_twin(&srv, "soak-lib-1");
    const cJSON *prog = du_twin_prop(twin, "reported", "progress");
    assert_true(cJSON_IsNumber(prog));
    assert_int_equal((int)prog->valuedouble, 900);
    cJSON_Delete(twin);
    du_stop(&d);
}

/* Bodies of 120 KB: the first window alone is megabytes, far beyond the socket's buffer. */
#define BIG_MESSAGES 40
#define BIG_BYTES (120 * 1024)

static void test_large_messages_under_backpressure(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    (void)state;

    du_dps_config(&cfg, &srv, "soak-big-1", ep, sizeof(ep));
    cfg.queue_max_msgs = BIG_MESSAGES;
    cfg.queue_max_bytes = (size_t)BIG_MESSAGES * (BIG_BYTES + 64);
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));
    /* A tiny send buffer makes the socket refuse most writes (EAGAIN) part-way through. */
    struct iotc_poll_info pi;
    int sndbuf = 4096;
    assert_int_equal(iotc_client_poll_info(d.c, &pi), IOTC_OK);
    assert_true(pi.fd >= 0);
    assert_int_equal(setsockopt(pi.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);

    char *body = malloc(BIG_BYTES + 1);
    assert_non_null(body);
    for (size_t i = 0; i < BIG_MESSAGES; i++) {
        /* {"seq":N,"pad":"xxxx..."} with a pad that differs per message */
        int n = snprintf(body, BIG_BYTES, "{\"seq\":%zu,\"pad\":\"", i);
        for (size_t k = (size_t)n; k < BIG_BYTES - 2; k++)
            body[k] = (char)('a' + (k + i) % 26);
        memcpy(body + BIG_BYTES - 2, "\"}", 3);
        struct du_msg *m = malloc(sizeof(*m));
        assert_non_null(m);
        m->d = &d;
        m->seq = i;
        assert_int_equal(
            iotc_client_send_telemetry(d.c, body, BIG_BYTES, NULL, du_telemetry_cb, m, NULL),
            IOTC_OK);
    }
    free(body);
    assert_true(du_wait_acked(&d, BIG_MESSAGES, 60000));

    struct iotc_stats st;
    iotc_client_get_stats(d.c, &st);
    assert_int_equal(st.telemetry_acked, BIG_MESSAGES);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.queue_len, 0);
    /* Backpressure is waited out on the one connection, not turned into a reconnect + resend. */
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.resent, 0);
    /* Every message arrived whole: the store parsed each body as JSON to find its seq. */
    assert_int_equal(du_store_count(&srv, "soak-big-1", BIG_MESSAGES, NULL), BIG_MESSAGES);
    du_stop(&d);
}

/* Run environmental-sensor as @p device_id with the extra arguments (NULL-terminated) until it
 * exits by itself; its output goes to @p log. Fails the test unless it exits 0 within 60 s. */
static void run_sensor(const char *device_id, const char *log, const char *const *extra)
{
    char bin[600], ep[64];
    const char *argv[40];
    size_t n = 0;

    const char *b = getenv("IOTC_BUILDDIR");
    if (b != NULL && b[0] != '\0') {
        snprintf(bin, sizeof(bin), "%s/environmental-sensor", b);
    } else {
        char self[512];
        ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[len > 0 ? len : 0] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        snprintf(bin, sizeof(bin), "%s/../environmental-sensor", self);
    }
    snprintf(ep, sizeof(ep), "localhost:%u", (unsigned)srv.mqtt_port);
    const char *base[] = {bin,
                          "--id-scope",
                          srv.id_scope,
                          "--device-id",
                          device_id,
                          "--group-key",
                          srv.group_primary_key,
                          "--dps-endpoint",
                          ep,
                          "--ca-file",
                          srv.ca_path};
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        argv[n++] = base[i];
    for (size_t i = 0; extra[i] != NULL && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    int64_t t0 = du_now_ms();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    pid_t r = 0;
    while (du_now_ms() - t0 < 60000) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        du_sleep_ms(50);
    }
    if (r != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("environmental-sensor %s did not finish in 60 s", device_id);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char cmd[500];
        snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' >&2", log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no log)\n");
        fail_msg("environmental-sensor exit status %d", status);
    }
    fprintf(stderr, "environmental-sensor %s: exited 0 after %lld ms\n", device_id,
            (long long)(du_now_ms() - t0));
}

static void test_sensor_thousand_messages_exits_clean(void **state)
{
    char log[400], count[16];
    (void)state;

    snprintf(log, sizeof(log), "%s/soak-sensor.log", srv.root);
    snprintf(count, sizeof(count), "%d", N_MESSAGES);
    const char *extra[] = {"--interval", "0.005", "--count", count, "--queue", "2000", NULL};
    run_sensor("soak-sensor-1", log, extra);
    size_t rows = 0;
    du_store_count(&srv, "soak-sensor-1", 0, &rows);
    assert_true(rows >= N_MESSAGES); /* at-least-once: duplicates allowed, loss not */
}

/* Burst mode keeps --window messages unacknowledged and prints no line per message. */
static void test_sensor_burst_mode(void **state)
{
    char log[400], count[16], line[256], want[96];
    (void)state;

    snprintf(log, sizeof(log), "%s/burst-sensor.log", srv.root);
    snprintf(count, sizeof(count), "%d", N_MESSAGES);
    const char *extra[] = {"--interval", "0", "--window", "16", "--count", count, "--quiet", NULL};
    run_sensor("burst-sensor-1", log, extra);

    FILE *f = fopen(log, "r");
    assert_non_null(f);
    bool stopped = false;
    unsigned per_message = 0;
    snprintf(want, sizeof(want), "Stopped: %d sent, %d acknowledged, 0 refused", N_MESSAGES,
             N_MESSAGES);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, want, strlen(want)) == 0)
            stopped = true;
        if (strncmp(line, "Sending message", 15) == 0)
            per_message++;
    }
    fclose(f);
    assert_true(stopped);
    assert_int_equal(per_message, 0);
    size_t rows = 0;
    du_store_count(&srv, "burst-sensor-1", 0, &rows);
    assert_true(rows >= N_MESSAGES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousand_messages_in_process),
        cmocka_unit_test(test_large_messages_under_backpressure),
        cmocka_unit_test(test_sensor_thousand_messages_exits_clean),
        cmocka_unit_test(test_sensor_burst_mode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
