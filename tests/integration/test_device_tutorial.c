/*
 * The IoT Central tutorial scenario, end to end: the real environmental-sensor program against a
 * real iotc-central on loopback, driven from the service side (REST API + the server's store):
 * start-up reported properties, telemetry, blink / turnon / turnoff / rundiagnostics (202 then
 * the completion property), writable-property acks with the right av, a desired change made
 * while the device is offline applied after it comes back, Q on stdin and SIGTERM quitting
 * cleanly, the misspelt-telemetry test flag, and the command line itself.
 * The tests run in order and share one device process where the scenario needs it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "device_util.h"

#define DEVICE_ID "tutorial-sensor-1"
#define MODEL_ID "dtmi:com:example:EnvironmentalSensor;1"

static struct th_central srv;
static char sensor_bin[600];

struct proc {
    pid_t pid;
    int stdin_fd;
    char log[400];
};

static struct proc dev; /* the shared tutorial device */

static void find_sensor(void)
{
    const char *b = getenv("IOTC_BUILDDIR");
    if (b != NULL && b[0] != '\0') {
        snprintf(sensor_bin, sizeof(sensor_bin), "%s/environmental-sensor", b);
        return;
    }
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(sensor_bin, sizeof(sensor_bin), "%s/../environmental-sensor", self);
}

/* Start environmental-sensor with the standard identity flags plus @p extra (NULL-terminated). */
static int spawn_sensor(struct proc *p, const char *device_id, const char *log_name,
                        const char *const *extra)
{
    char ep[64];
    const char *argv[48];
    int n = 0, pipefd[2];

    snprintf(ep, sizeof(ep), "localhost:%u", (unsigned)srv.mqtt_port);
    snprintf(p->log, sizeof(p->log), "%s/%s", srv.root, log_name);
    argv[n++] = sensor_bin;
    argv[n++] = "--id-scope";
    argv[n++] = srv.id_scope;
    argv[n++] = "--device-id";
    argv[n++] = device_id;
    argv[n++] = "--group-key";
    argv[n++] = srv.group_primary_key;
    argv[n++] = "--dps-endpoint";
    argv[n++] = ep;
    argv[n++] = "--ca-file";
    argv[n++] = srv.ca_path;
    argv[n++] = "-v";
    for (int i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    if (pipe(pipefd) != 0)
        return -1;
    fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(pipefd[0], 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        unsetenv("IOTHUB_DEVICE_SECURITY_TYPE");
        unsetenv("IOTHUB_DEVICE_DPS_ID_SCOPE");
        unsetenv("IOTHUB_DEVICE_CONNECTION_STRING");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipefd[0]);
    p->stdin_fd = pipefd[1];
    return 0;
}

/* Wait for the process to exit; returns its exit code, or -1 on timeout/signal. */
static int wait_exit(struct proc *p, int timeout_ms)
{
    int64_t end = du_now_ms() + timeout_ms;
    int status;
    while (du_now_ms() < end) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            if (p->stdin_fd >= 0)
                close(p->stdin_fd);
            p->stdin_fd = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        du_sleep_ms(20);
    }
    return -1;
}

static void kill_proc(struct proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    p->stdin_fd = -1;
}

static bool log_contains(const struct proc *p, const char *needle)
{
    FILE *f = fopen(p->log, "r");
    char line[1024];
    bool found = false;
    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void dump_log(const struct proc *p)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "tail -n 30 '%s' >&2", p->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no device log)\n");
}

/* Poll the twin until reported.<name> satisfies @p pred (NULL: present). */
typedef bool (*prop_pred)(const cJSON *v, const void *arg);

static cJSON *wait_reported(const char *device_id, const char *name, prop_pred pred,
                            const void *arg, int timeout_ms)
{
    int64_t end = du_now_ms() + timeout_ms;
    while (du_now_ms() < end) {
        cJSON *twin = du_get_twin(&srv, device_id);
        const cJSON *v = du_twin_prop(twin, "reported", name);
        if (v != NULL && (pred == NULL || pred(v, arg))) {
            cJSON *copy = cJSON_Duplicate(v, true);
            cJSON_Delete(twin);
            return copy;
        }
        cJSON_Delete(twin);
        du_sleep_ms(50);
    }
    return NULL;
}

struct ack_want {
    long av;
};

static bool ack_has_av(const cJSON *v, const void *arg)
{
    const struct ack_want *w = arg;
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(v, "av");
    return cJSON_IsNumber(av) && (long)av->valuedouble == w->av;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    find_sensor();
    if (access(sensor_bin, X_OK) != 0) {
        fprintf(stderr, "environmental-sensor not found at %s\n", sensor_bin);
        return -1;
    }
    dev.stdin_fd = -1;
    return th_central_start(&srv, NULL);
}

static int teardown(void **state)
{
    (void)state;
    kill_proc(&dev);
    th_central_cleanup(&srv);
    return 0;
}

static const char *const fast_flags[] = {"--interval",
                                         "0.2",
                                         "--name-delay",
                                         "300",
                                         "--brightness-delay",
                                         "600",
                                         "--diagnostics-delay",
                                         "1000",
                                         "--model-id",
                                         MODEL_ID,
                                         NULL};

static void test_startup_reported_properties(void **state)
{
    (void)state;
    assert_int_equal(spawn_sensor(&dev, DEVICE_ID, "sensor-1.log", fast_flags), 0);
    cJSON *v = wait_reported(DEVICE_ID, "swVersion", NULL, NULL, 20000);
    if (v == NULL)
        dump_log(&dev);
    assert_non_null(v);
    assert_string_equal(cJSON_GetStringValue(v), "1.0.0");
    cJSON_Delete(v);

    cJSON *twin = du_get_twin(&srv, DEVICE_ID);
    assert_non_null(twin);
    /* The tutorial reports the STRING "true". */
    assert_string_equal(cJSON_GetStringValue(du_twin_prop(twin, "reported", "state")), "true");
    assert_string_equal(
        cJSON_GetStringValue(du_twin_prop(twin, "reported", "processorArchitecture")), "ARM");
    /* The model id went through DPS and the hub username. */
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(twin, "modelId")),
                        MODEL_ID);
    cJSON_Delete(twin);
}

static void test_telemetry_arrives(void **state)
{
    (void)state;
    size_t rows = 0;
    int64_t end = du_now_ms() + 10000;
    while (du_now_ms() < end) {
        du_store_count(&srv, DEVICE_ID, 0, &rows);
        if (rows >= 5)
            break;
        du_sleep_ms(100);
    }
    assert_true(rows >= 5);
    assert_int_equal(du_store_contains(&srv, DEVICE_ID, "\"temp\":"), 1);
    assert_int_equal(du_store_contains(&srv, DEVICE_ID, "\"humid\":"), 1);

    /* Memory figure for the report (RSS includes the shared OpenSSL/libc pages it touched). */
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)dev.pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS", 5) == 0 || strncmp(line, "VmHWM", 5) == 0 ||
            strncmp(line, "RssAnon", 7) == 0)
            fprintf(stderr, "environmental-sensor %s", line);
    }
    if (f)
        fclose(f);
}

static void test_blink_answers_with_description(void **state)
{
    int status, http;
    (void)state;

    cJSON *p = du_invoke(&srv, DEVICE_ID, "blink", "3", &status, &http);
    assert_int_equal(http, 200);
    assert_int_equal(status, 200);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "description")),
                        "Blinking LED every 3 seconds");
    cJSON_Delete(p);

    /* A string request value is formatted without its quotes, as the Python sample does. */
    p = du_invoke(&srv, DEVICE_ID, "blink", "\"5\"", &status, &http);
    assert_int_equal(status, 200);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "description")),
                        "Blinking LED every 5 seconds");
    cJSON_Delete(p);
}

static void test_turnon_turnoff_and_unknown(void **state)
{
    int status, http;
    (void)state;

    cJSON *p = du_invoke(&srv, DEVICE_ID, "turnon", "null", &status, &http);
    assert_int_equal(status, 200);
    cJSON_Delete(p);
    p = du_invoke(&srv, DEVICE_ID, "turnoff", "null", &status, &http);
    assert_int_equal(status, 200);
    cJSON_Delete(p);
    p = du_invoke(&srv, DEVICE_ID, "selfdestruct", "null", &status, &http);
    assert_int_equal(http, 200);
    assert_int_equal(status, 404);
    cJSON_Delete(p);
    assert_true(log_contains(&dev, "turning on the LED"));
}

static bool diag_done(const cJSON *v, const void *arg)
{
    (void)arg;
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "value"));
    return s != NULL && strncmp(s, "Diagnostics run complete at ", 28) == 0 &&
           s[strlen(s) - 1] == '.';
}

static void test_rundiagnostics_202_then_completion(void **state)
{
    int status, http;
    (void)state;

    int64_t t0 = du_now_ms();
    cJSON *p = du_invoke(&srv, DEVICE_ID, "rundiagnostics", "null", &status, &http);
    assert_int_equal(http, 200);
    assert_int_equal(status, 202);
    cJSON_Delete(p);
    cJSON *v = wait_reported(DEVICE_ID, "rundiagnostics", diag_done, NULL, 10000);
    assert_non_null(v);
    cJSON_Delete(v);
    /* The completion comes later than the answer (the device's 1 s delay here). */
    assert_true(du_now_ms() - t0 >= 900);
}

static void test_writable_property_acks(void **state)
{
    (void)state;

    int64_t t0 = du_now_ms();
    long v1 = du_patch_desired(&srv, DEVICE_ID, "{\"name\":\"Kitchen\"}");
    assert_true(v1 > 0);
    struct ack_want w1 = {v1};
    cJSON *ack = wait_reported(DEVICE_ID, "name", ack_has_av, &w1, 10000);
    if (ack == NULL)
        dump_log(&dev);
    assert_non_null(ack);
    assert_true(du_now_ms() - t0 >= 250); /* acknowledged after the configured delay */
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ack, "value")),
                        "Kitchen");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(ack, "ac")->valuedouble, 200);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ack, "ad")),
                        "completed");
    cJSON_Delete(ack);

    long v2 = du_patch_desired(&srv, DEVICE_ID, "{\"brightness\":7}");
    assert_true(v2 > v1);
    struct ack_want w2 = {v2};
    ack = wait_reported(DEVICE_ID, "brightness", ack_has_av, &w2, 10000);
    assert_non_null(ack);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(ack, "value")->valuedouble, 7);
    cJSON_Delete(ack);
}

static void test_q_on_stdin_quits_cleanly(void **state)
{
    (void)state;
    assert_true(dev.pid > 0);
    assert_int_equal(write(dev.stdin_fd, "q\n", 2), 2);
    int rc = wait_exit(&dev, 10000);
    if (rc != 0)
        dump_log(&dev);
    assert_int_equal(rc, 0);
    assert_true(log_contains(&dev, "Stopped:"));
    assert_true(th_central_log_contains(&srv, "hub: disconnect " DEVICE_ID, 5000));
}

static void test_offline_desired_change_applied_after_reconnect(void **state)
{
    (void)state;
    /* The device is offline now (previous test). The operator changes brightness. */
    long v3 = du_patch_desired(&srv, DEVICE_ID, "{\"brightness\":9}");
    assert_true(v3 > 0);

    assert_int_equal(spawn_sensor(&dev, DEVICE_ID, "sensor-1b.log", fast_flags), 0);
    struct ack_want w = {v3};
    cJSON *ack = wait_reported(DEVICE_ID, "brightness", ack_has_av, &w, 20000);
    if (ack == NULL)
        dump_log(&dev);
    assert_non_null(ack);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(ack, "value")->valuedouble, 9);
    cJSON_Delete(ack);
    assert_true(log_contains(&dev, "brightness = 9"));
    assert_true(log_contains(&dev, "[changed while offline]"));
    /* Without per-property $metadata in the device's twin GET, the PnP rule compares acks with
     * the document $version, so 'name' may be delivered again; it must then stay "Kitchen"
     * and be acknowledged at the current version (never left pending). */
    if (log_contains(&dev, "Desired property name")) {
        struct ack_want wn = {v3};
        ack = wait_reported(DEVICE_ID, "name", ack_has_av, &wn, 10000);
        assert_non_null(ack);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ack, "value")),
                            "Kitchen");
        cJSON_Delete(ack);
    }
}

static void test_sigterm_quits_cleanly(void **state)
{
    (void)state;
    assert_true(dev.pid > 0);
    kill(dev.pid, SIGTERM);
    int rc = wait_exit(&dev, 10000);
    assert_int_equal(rc, 0);
    assert_true(log_contains(&dev, "Stopped:"));
}

static void test_misspelt_telemetry_and_count(void **state)
{
    struct proc p = {0, -1, ""};
    const char *const flags[] = {"--interval",           "0.1",         "--count", "4",
                                 "--misspell-telemetry", "temperature", NULL};
    (void)state;

    assert_int_equal(spawn_sensor(&p, "tutorial-misspelt-1", "sensor-2.log", flags), 0);
    int rc = wait_exit(&p, 20000); /* --count: quits by itself once 4 are acknowledged */
    if (rc != 0) {
        dump_log(&p);
        kill_proc(&p);
    }
    assert_int_equal(rc, 0);
    size_t rows = 0;
    du_store_count(&srv, "tutorial-misspelt-1", 0, &rows);
    assert_int_equal(rows, 4);
    assert_int_equal(du_store_contains(&srv, "tutorial-misspelt-1", "\"temperature\":"), 1);
    assert_int_equal(du_store_contains(&srv, "tutorial-misspelt-1", "\"temp\":"), 0);
}

/* The Azure samples' environment variables alone (derived device key, as IoT Central shows it). */
static void test_configured_by_environment(void **state)
{
    char key[64], ep[64], log[400];
    (void)state;

    assert_int_equal(th_derive_key(&srv, "tutorial-env-1", key, sizeof(key)), 0);
    snprintf(ep, sizeof(ep), "localhost:%u", (unsigned)srv.mqtt_port);
    snprintf(log, sizeof(log), "%s/sensor-env.log", srv.root);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        setenv("IOTHUB_DEVICE_SECURITY_TYPE", "DPS", 1);
        setenv("IOTHUB_DEVICE_DPS_ID_SCOPE", srv.id_scope, 1);
        setenv("IOTHUB_DEVICE_DPS_DEVICE_ID", "tutorial-env-1", 1);
        setenv("IOTHUB_DEVICE_DPS_DEVICE_KEY", key, 1);
        setenv("IOTHUB_DEVICE_DPS_ENDPOINT", ep, 1);
        setenv("IOTC_CA_FILE", srv.ca_path, 1);
        unsetenv("IOTHUB_DEVICE_CONNECTION_STRING");
        execl(sensor_bin, sensor_bin, "--interval", "0.1", "--count", "2", (char *)NULL);
        _exit(127);
    }
    struct proc p = {pid, -1, ""};
    snprintf(p.log, sizeof(p.log), "%s", log);
    int rc = wait_exit(&p, 20000);
    if (rc != 0) {
        dump_log(&p);
        kill_proc(&p);
    }
    assert_int_equal(rc, 0);
    size_t rows = 0;
    du_store_count(&srv, "tutorial-env-1", 0, &rows);
    assert_int_equal(rows, 2);
}

static int run_plain(const char *const *args)
{
    const char *argv[16];
    int n = 0, status;
    argv[n++] = sensor_bin;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        unsetenv("IOTHUB_DEVICE_SECURITY_TYPE");
        unsetenv("IOTHUB_DEVICE_DPS_ID_SCOPE");
        unsetenv("IOTHUB_DEVICE_CONNECTION_STRING");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_command_line(void **state)
{
    (void)state;
    /* usage errors and refused configurations exit 1, as in every program (docs/CLI.md) */
    assert_int_equal(run_plain((const char *const[]){"--help", NULL}), 0);
    assert_int_equal(run_plain((const char *const[]){"--version", NULL}), 0);
    assert_int_equal(run_plain((const char *const[]){"--bogus", NULL}), 1);
    assert_int_equal(run_plain((const char *const[]){"extra", NULL}), 1);
    assert_int_equal(run_plain((const char *const[]){NULL}), 1); /* no identity */
    assert_int_equal(run_plain((const char *const[]){"--interval", "0", NULL}), 1);
    assert_int_equal(run_plain((const char *const[]){"--interval", "-1", NULL}), 1);
    assert_int_equal(run_plain((const char *const[]){"--count", "x", NULL}), 1);
    assert_int_equal(run_plain((const char *const[]){"--id-scope", "0ne0000", "--device-id", "d",
                                                     "--device-key", "not base64!", NULL}),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_startup_reported_properties),
        cmocka_unit_test(test_telemetry_arrives),
        cmocka_unit_test(test_blink_answers_with_description),
        cmocka_unit_test(test_turnon_turnoff_and_unknown),
        cmocka_unit_test(test_rundiagnostics_202_then_completion),
        cmocka_unit_test(test_writable_property_acks),
        cmocka_unit_test(test_q_on_stdin_quits_cleanly),
        cmocka_unit_test(test_offline_desired_change_applied_after_reconnect),
        cmocka_unit_test(test_sigterm_quits_cleanly),
        cmocka_unit_test(test_misspelt_telemetry_and_count),
        cmocka_unit_test(test_configured_by_environment),
        cmocka_unit_test(test_command_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
