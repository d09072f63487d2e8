/*
 * tools/demo.sh, the README's demo command (with --no-build: the test uses this build): it
 * creates the application, imports the template with its views, creates the device and runs
 * the sensor, which connects; Ctrl-C (SIGINT to its process group, as a terminal sends it)
 * stops everything with exit 0; a second run reuses the application (same ID scope and admin
 * token), the template and the device, and the data of the first run is still there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "cli_util.h"

static char root[256];
static char demo_dir[300];
static char app_dir[320];

struct demo {
    pid_t pid;
    char log[400];
};

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/iotc-cli-demo.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(root) == NULL)
        return -1;
    snprintf(demo_dir, sizeof demo_dir, "%s/demo", root);
    snprintf(app_dir, sizeof app_dir, "%s/app", demo_dir);
    unsetenv("IOTC_SERVER");
    unsetenv("IOTC_TOKEN");
    unsetenv("IOTC_CA_FILE");
    setenv("IOTC_DATA_DIR", app_dir, 1);
    setenv("IOTC_DEMO_DIR", demo_dir, 1);
    char b[700];
    snprintf(b, sizeof b, "%s", cu_builddir());
    setenv("BUILDDIR", b, 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return 0;
}

static bool log_has(const struct demo *d, const char *needle)
{
    char *text = NULL;
    FILE *f = fopen(d->log, "r");
    if (f == NULL)
        return false;
    size_t cap = 1 << 20;
    text = calloc(1, cap + 1);
    size_t n = text ? fread(text, 1, cap, f) : 0;
    fclose(f);
    bool hit = n > 0 && strstr(text, needle) != NULL;
    free(text);
    return hit;
}

static void dump(const struct demo *d)
{
    char cmd[500];
    snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", d->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no demo log)\n");
}

/* Start the demo in its own process group; wait until the sensor runs. */
static void start_demo(struct demo *d, int run)
{
    char script[1300];
    snprintf(script, sizeof script, "%s/tools/demo.sh", cu_repo());
    snprintf(d->log, sizeof d->log, "%s/demo-%d.log", root, run);
    d->pid = fork();
    assert_true(d->pid >= 0);
    if (d->pid == 0) {
        setpgid(0, 0);
        int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (in >= 0)
            dup2(in, 0);
        execl("/bin/bash", "bash", script, "--no-build", "--mqtt-port", "0", "--https-port", "0",
              "--http-port", "0", "--wss-port", "off", "--device", "demo-sensor", "--misspell",
              "temperature", (char *)NULL);
        _exit(127);
    }
    setpgid(d->pid, d->pid);
    int64_t end = cu_now_ms() + 40000;
    while (!log_has(d, "sensor output:") && cu_now_ms() < end) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            dump(d);
            fail_msg("demo.sh exited early");
        }
        cu_sleep_ms(200);
    }
    if (!log_has(d, "sensor output:"))
        dump(d);
    assert_true(log_has(d, "sensor output:"));
}

/* Ctrl-C: SIGINT to the whole group; everything must be gone within 20 s, exit 0. */
static void stop_demo(struct demo *d)
{
    kill(-d->pid, SIGINT);
    int st = 0;
    int64_t end = cu_now_ms() + 20000;
    pid_t w;
    while ((w = waitpid(d->pid, &st, WNOHANG)) == 0 && cu_now_ms() < end)
        cu_sleep_ms(100);
    if (w == 0) {
        kill(-d->pid, SIGKILL);
        waitpid(d->pid, &st, 0);
        dump(d);
        fail_msg("demo.sh did not stop on SIGINT");
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        dump(d);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* nothing of the group is left (the script waits for what it started) */
    end = cu_now_ms() + 5000;
    while (kill(-d->pid, 0) == 0 && cu_now_ms() < end)
        cu_sleep_ms(100);
    assert_int_equal(kill(-d->pid, 0), -1);
}

static bool connected(void)
{
    struct cu_out o;
    cu_iotc(&o, "devices", "show", "demo-sensor", "--json", NULL);
    cJSON *d = o.rc == 0 ? cJSON_Parse(o.out) : NULL;
    bool up = cJSON_IsTrue(cJSON_GetObjectItem(d, "connected"));
    cJSON_Delete(d);
    cu_free(&o);
    return up;
}

static int count_telemetry(void)
{
    struct cu_out o;
    cu_iotc(&o, "telemetry", "query", "demo-sensor", "humid", "--json", NULL);
    cJSON *a = o.rc == 0 ? cu_list(o.out) : NULL;
    int n = cJSON_GetArraySize(a);
    cJSON_Delete(a);
    cu_free(&o);
    return n;
}

static char first_scope[32];

static void test_first_run(void **state)
{
    (void)state;
    struct demo d;
    start_demo(&d, 1);
    assert_true(log_has(&d, "creating the application"));
    assert_true(log_has(&d, "views: Overview, About, Properties; published"));
    assert_true(log_has(&d, "created device demo-sensor"));
    assert_true(log_has(&d, "web address      http://127.0.0.1:"));
    assert_true(log_has(&d, "/#token=iotc-admin."));
    assert_true(log_has(&d, "or https://localhost:"));
    assert_true(log_has(&d, "iotc conformance demo-sensor"));
    /* the admin token is kept, readable by the owner only */
    char tok[400];
    struct stat st;
    snprintf(tok, sizeof tok, "%s/admin-token", app_dir);
    assert_int_equal(stat(tok, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    int64_t end = cu_now_ms() + 20000;
    while (!connected() && cu_now_ms() < end)
        cu_sleep_ms(250);
    assert_true(connected());
    end = cu_now_ms() + 10000;
    while (count_telemetry() < 2 && cu_now_ms() < end)
        cu_sleep_ms(250);
    struct cu_out o;
    cu_iotc(&o, "devices", "credentials", "demo-sensor", "--json", NULL);
    cJSON *c = cJSON_Parse(o.out);
    snprintf(first_scope, sizeof first_scope, "%s", cJSON_GetObjectItem(c, "idScope")->valuestring);
    cJSON_Delete(c);
    cu_free(&o);
    assert_true(count_telemetry() >= 2);
    stop_demo(&d);
    assert_true(log_has(&d, "stopped; run tools/demo.sh again"));
}

static void test_second_run_reuses(void **state)
{
    (void)state;
    struct demo d;
    start_demo(&d, 2);
    assert_true(log_has(&d, "reusing the application"));
    assert_true(log_has(&d, "reusing device demo-sensor"));
    assert_false(log_has(&d, "creating the application"));
    int64_t end = cu_now_ms() + 20000;
    while (!connected() && cu_now_ms() < end)
        cu_sleep_ms(250);
    assert_true(connected());
    struct cu_out o;
    cu_iotc(&o, "devices", "credentials", "demo-sensor", "--json", NULL);
    cJSON *c = cJSON_Parse(o.out);
    assert_string_equal(cJSON_GetObjectItem(c, "idScope")->valuestring, first_scope);
    cJSON_Delete(c);
    cu_free(&o);
    /* the first run's telemetry is still there, and one device only */
    cu_iotc(&o, "raw", "demo-sensor", "--json", NULL);
    cJSON *raw = cu_list(o.out);
    int connects = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, raw)
    {
        if (strcmp(cJSON_GetObjectItem(e, "type")->valuestring, "connected") == 0)
            connects++;
    }
    assert_true(connects >= 2);
    cJSON_Delete(raw);
    cu_free(&o);
    cu_iotc(&o, "devices", "list", "--json", NULL);
    cJSON *all = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(all), 1);
    cJSON_Delete(all);
    cu_free(&o);
    /* the misspelt telemetry name shows in the conformance report */
    cu_iotc(&o, "conformance", "demo-sensor", NULL);
    assert_int_equal(o.rc, 2); /* not conformant */
    assert_non_null(strstr(o.out, "did you mean \"temp\"?"));
    cu_free(&o);
    stop_demo(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_run),
        cmocka_unit_test(test_second_run_reuses),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
