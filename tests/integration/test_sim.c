/*
 * test_sim.c - iotc-sim against a real iotc-central on loopback: about twenty simulated
 * devices provision through DPS (group-derived keys, then individual keys from a file),
 * connect to the hub over TLS, send telemetry with QoS 1 and answer direct methods called
 * through the service REST API; the JSON summary must show every device provisioned and
 * every message acknowledged. A wrong group key must show up as failures, not as success.
 * Every run is bounded (the sim's --duration, or --measure once all devices are up, plus a
 * hard alarm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../lib/harness.h"

static struct th_central central;
static char app_json[400];

static void sim_bin(char *out, size_t cap)
{
    const char *env = getenv("IOTC_SIM_BIN");
    if (env != NULL) {
        snprintf(out, cap, "%s", env);
        return;
    }
    const char *cb = th_central_bin();
    const char *slash = strrchr(cb, '/');
    snprintf(out, cap, "%.*siotc-sim", slash != NULL ? (int)(slash - cb + 1) : 0, cb);
}

struct sim_run {
    pid_t pid;
    int fd; /* the sim's stdout */
};

/* Start iotc-sim with args (NULL-terminated); its stdout is read by finish_sim(). */
static int start_sim(const char *const *args, struct sim_run *run)
{
    static char bin[600];
    const char *argv[64];
    int n = 0, pipefd[2];
    sim_bin(bin, sizeof bin);
    argv[n++] = bin;
    for (int i = 0; args[i] != NULL && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (pipe(pipefd) != 0)
        return -1;
    run->pid = fork();
    if (run->pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        alarm(120); /* hard bound on top of the sim's own --duration */
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    run->fd = pipefd[0];
    return run->pid > 0 ? 0 : -1;
}

/* Read the sim's stdout to the end (caller frees) and its exit status. */
static char *finish_sim(struct sim_run *run, int *status)
{
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL)
                break;
            buf = nb;
        }
        ssize_t r = read(run->fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(run->fd);
    buf[len] = '\0';
    int st = 0;
    waitpid(run->pid, &st, 0);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return buf;
}

static char *run_sim(const char *const *args, int *status)
{
    struct sim_run run;
    if (start_sim(args, &run) != 0)
        return NULL;
    return finish_sim(&run, status);
}

static double num(const cJSON *o, const char *path)
{
    char key[64];
    const char *dot;
    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        path = dot + 1;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int setup(void **state)
{
    (void)state;
    if (th_central_start(&central, NULL) != 0)
        return -1;
    /* The documented way to feed the sim: `iotc-central show --json` into a file. */
    char cmd[1400];
    snprintf(app_json, sizeof app_json, "%s/app.json", central.root);
    snprintf(cmd, sizeof cmd, "'%s' show --data-dir '%s' --json > '%s'", th_central_bin(),
             central.data_dir, app_json);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&central);
    return 0;
}

static const char *model_path(void)
{
    /* Tests run from the repository root (tools/run-tests.sh). */
    static const char path[] = "models/environmental-sensor.dtdlv2.json";
    return access(path, R_OK) == 0 ? path : NULL;
}

static void test_group_keys_telemetry_and_methods(void **state)
{
    (void)state;
    const char *model = model_path();
    const char *args[40] = {
        "--app",    app_json, "--devices",  "20",       "--ramp",      "0",
        "--rate",   "4",      "--duration", "40",       "--warmup",    "0.5",
        "--invoke", "20",     "--prefix",   "simtest-", "--telemetry", "pressure=1000 + i",
        "--quiet",  NULL};
    if (model != NULL) {
        args[19] = "--template";
        args[20] = model;
        args[21] = NULL;
    }
    int status = -1;
    char *out = run_sim(args, &status);
    assert_non_null(out);
    cJSON *j = cJSON_Parse(out);
    if (j == NULL)
        fprintf(stderr, "sim output: %s\n", out);
    assert_non_null(j);
    assert_int_equal(status, 0);
    assert_int_equal((int)num(j, "provisioned"), 20);
    assert_int_equal((int)num(j, "connected"), 20);
    assert_int_equal((int)num(j, "failed"), 0);
    assert_true(num(j, "sent") >= 20);
    assert_true(num(j, "acked") == num(j, "sent"));
    assert_int_equal((int)num(j, "errors_total"), 0);
    /* Methods reached the devices and came back through the REST API as 200s. */
    assert_int_equal((int)num(j, "methods"), 20);
    assert_int_equal((int)num(j, "rest.ok"), 20);
    assert_int_equal((int)num(j, "latency_ms.method_round_trip.count"), 20);
    assert_int_equal((int)num(j, "latency_ms.dps_registration.count"), 20);
    assert_true(num(j, "latency_ms.puback.p50") > 0);
    /* Every device read its twin on connect. */
    assert_true(num(j, "twin.responses") >= 20);
    /* The connect storm ended with all 20 up, within the run. */
    assert_int_equal((int)num(j, "storm.connected"), 20);
    assert_true(num(j, "storm.seconds") > 0 && num(j, "storm.seconds") <= num(j, "elapsed_s"));
    /* Per-device acknowledgements account for every device and every ack. */
    assert_int_equal((int)(num(j, "devices_acked.none") + num(j, "devices_acked.one") +
                           num(j, "devices_acked.two_or_more")),
                     20);
    assert_true(num(j, "devices_acked.min") >= 0 &&
                num(j, "devices_acked.min") * 20 <= num(j, "acked"));
    assert_true(num(j, "devices_acked.one") + 2 * num(j, "devices_acked.two_or_more") <=
                num(j, "acked"));
    cJSON_Delete(j);
    free(out);
}

static void test_individual_keys_file(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/keys.txt", central.root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# deviceId key\n");
    for (int i = 0; i < 5; i++) {
        char id[32], key[96];
        snprintf(id, sizeof id, "keyfile-%d", i);
        assert_int_equal(th_derive_key(&central, id, key, sizeof key), 0);
        fprintf(f, "%s %s\n", id, key);
    }
    fclose(f);
    /* The window opens once all five are up; the run ends 1.5 s later (30 s at most). Two
     * event loops (--threads 2): each reads its own slice of the keys file. */
    const char *args[] = {"--app",    app_json,    "--keys-file", path,      "--devices",
                          "5",        "--ramp",    "0",           "--rate",  "2",
                          "--warmup", "0.5",       "--measure",   "1.5",     "--duration",
                          "30",       "--threads", "2",           "--quiet", NULL};
    int status = -1;
    char *out = run_sim(args, &status);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_int_equal(status, 0);
    assert_int_equal((int)num(j, "provisioned"), 5);
    assert_int_equal((int)num(j, "connected"), 5);
    assert_true(num(j, "acked") == num(j, "sent"));
    assert_true(num(j, "sent") > 0);
    cJSON_Delete(j);
    free(out);
}

static void test_wrong_group_key_fails(void **state)
{
    (void)state;
    const char *args[] = {
        "--app",     app_json, "--group-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "--devices", "3",      "--ramp",      "0",
        "--retries", "0",      "--duration",  "30",
        "--quiet",   NULL};
    int status = -1;
    char *out = run_sim(args, &status);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_int_not_equal(status, 0);
    assert_int_equal((int)num(j, "provisioned"), 0);
    assert_int_equal((int)num(j, "failed"), 3);
    assert_true(num(j, "errors_total") >= 3);
    /* All failed, so the run ended early instead of waiting out --duration. */
    assert_true(num(j, "elapsed_s") < 25);
    /* Giving up ends the storm too; none of the devices was connected then. */
    assert_int_equal((int)num(j, "storm.connected"), 0);
    assert_int_equal((int)num(j, "devices_acked.none"), 3);
    cJSON_Delete(j);
    free(out);
}

/* Short-lived tokens: devices reconnect with a fresh token before the hub would close them
 * (ttl 8 s, renewed 2 s before expiry), and no message is lost across the reconnects. */
static void test_token_renewal(void **state)
{
    (void)state;
    /* 13 s after all three are up: every device renews at least twice (every ~6 s). */
    const char *args[] = {"--app",    app_json,   "--devices", "3",           "--ramp",
                          "0",        "--rate",   "5",         "--token-ttl", "8",
                          "--warmup", "0",        "--measure", "13",          "--duration",
                          "60",       "--prefix", "renew-",    "--quiet",     NULL};
    int status = -1;
    char *out = run_sim(args, &status);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_int_equal(status, 0);
    assert_int_equal((int)num(j, "failed"), 0);
    assert_int_equal((int)num(j, "errors_total"), 0);
    /* At least 2 planned reconnects per device. */
    assert_true(num(j, "reconnects") >= 6);
    assert_true(num(j, "connected") >= 9);
    assert_true(num(j, "acked") == num(j, "sent"));
    cJSON_Delete(j);
    free(out);
}

static cJSON *get_twin(const char *id)
{
    char path[200];
    struct th_http_response r = {0};
    snprintf(path, sizeof path, "/twins/%s?api-version=2021-04-12", id);
    if (th_https(&central, "GET", path, NULL, NULL, true, 5000, &r) != 0 || r.status != 200) {
        free(r.body);
        return NULL;
    }
    cJSON *j = cJSON_Parse(r.body);
    free(r.body);
    return j;
}

/* A desired-property change made through the service API reaches the simulated device, which
 * acknowledges it like an IoT Central device: {"value":..,"ac":200,"av":<$version>,"ad":..},
 * inside the component object (with "__t":"c") for a component property. */
static void test_writable_property_ack(void **state)
{
    (void)state;
    const char *args[] = {"--app",     app_json, "--devices",  "1",      "--ramp",   "0",
                          "--rate",    "0",      "--prefix",   "wprop-", "--warmup", "0",
                          "--measure", "6",      "--duration", "60",     "--quiet",  NULL};
    struct sim_run run;
    assert_int_equal(start_sim(args, &run), 0);
    /* Wait until the device is connected (bounded: 30 s). */
    cJSON *twin = NULL;
    for (int i = 0; i < 300; i++) {
        twin = get_twin("wprop-0");
        const cJSON *cs = cJSON_GetObjectItemCaseSensitive(twin, "connectionState");
        if (cJSON_IsString(cs) && strcmp(cs->valuestring, "Connected") == 0)
            break;
        cJSON_Delete(twin);
        twin = NULL;
        usleep(100000);
    }
    assert_non_null(twin);
    cJSON_Delete(twin);
    struct th_http_response r = {0};
    assert_int_equal(th_https(&central, "PATCH", "/twins/wprop-0?api-version=2021-04-12",
                              "If-Match: \"*\"\r\nContent-Type: application/json\r\n",
                              "{\"properties\":{\"desired\":{\"brightness\":3,"
                              "\"sensor\":{\"__t\":\"c\",\"name\":\"lab\"}}}}",
                              true, 5000, &r),
                     0);
    assert_int_equal(r.status, 200);
    free(r.body);
    int status = -1;
    char *out = finish_sim(&run, &status);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_int_equal(status, 0);
    assert_int_equal((int)num(j, "twin.desired_pushes"), 1);
    cJSON_Delete(j);
    free(out);

    twin = get_twin("wprop-0");
    assert_non_null(twin);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(twin, "properties");
    double version = num(cJSON_GetObjectItemCaseSensitive(props, "desired"), "$version");
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(props, "reported");
    assert_true(version >= 1);
    assert_true(num(rep, "brightness.value") == 3);
    assert_true(num(rep, "brightness.ac") == 200);
    assert_true(num(rep, "brightness.av") == version);
    const cJSON *comp = cJSON_GetObjectItemCaseSensitive(rep, "sensor");
    const cJSON *marker = cJSON_GetObjectItemCaseSensitive(comp, "__t");
    assert_true(cJSON_IsString(marker) && strcmp(marker->valuestring, "c") == 0);
    assert_true(num(comp, "name.ac") == 200);
    assert_true(num(comp, "name.av") == version);
    cJSON_Delete(twin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_keys_telemetry_and_methods),
        cmocka_unit_test(test_individual_keys_file),
        cmocka_unit_test(test_wrong_group_key_fails),
        cmocka_unit_test(test_token_renewal),
        cmocka_unit_test(test_writable_property_ack),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
