/*
 * test_cli_groups_jobs.c - `iotc device-groups ...` and `iotc jobs ...` against a real
 * iotc-central with iotc-sim devices: a group built from --template/--provisioned that the
 * simulated devices join as they provision, its devices, a property job over it with a batch
 * size (show, devices, list), stop/resume refusals on a finished job, a rerun, --json output,
 * and usage and API errors with their exit codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "cli_util.h"

#define SENSOR_MODEL "dtmi:iotc:example:EnvironmentalSensor;1"
#define N_SIM 4

static struct th_central srv;

static int group_setup(void **state)
{
    (void)state;
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    cu_env_for(&srv);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

struct sim_run {
    pthread_t t;
    const char *argv[32];
    struct cu_out out;
};

static void *sim_main(void *arg)
{
    struct sim_run *s = arg;
    cu_exec(&s->out, 60000, s->argv);
    return NULL;
}

static void test_groups_and_jobs(void **state)
{
    (void)state;
    struct cu_out o;
    char model[1400], app_json[400], cmd[1400], sim[1400];
    snprintf(model, sizeof model, "%s/models/environmental-sensor.dtdlv2.json", cu_repo());
    cu_expect(&o, 0, "templates", "import", model, NULL);
    cu_free(&o);
    cu_expect(&o, 0, "device-groups", "create", "sensors", "--template", SENSOR_MODEL,
              "--provisioned", "true", "--name", "Sensors", NULL);
    assert_non_null(strstr(o.out, "SELECT * FROM devices WHERE $template = \"" SENSOR_MODEL
                                  "\" AND $provisioned = true"));
    cu_free(&o);
    cu_expect(&o, 0, "device-groups", "devices", "sensors", NULL);
    assert_non_null(strstr(o.out, "(no devices in the group)"));
    cu_free(&o);

    /* simulated devices provision and announce the model: they join */
    snprintf(app_json, sizeof app_json, "%s/app.json", srv.root);
    snprintf(cmd, sizeof cmd, "'%s' show --data-dir '%s' --json > '%s'", th_central_bin(),
             srv.data_dir, app_json);
    assert_int_equal(system(cmd), 0);
    snprintf(sim, sizeof sim, "%s/iotc-sim", cu_builddir());
    static struct sim_run s;
    const char *argv[] = {sim,   "--app",      app_json, "--devices", "4",        "--ramp",
                          "0",   "--rate",     "1",      "--warmup",  "0",        "--measure",
                          "1",   "--duration", "12",     "--prefix",  "cli-sim-", "--template",
                          model, "--quiet",    NULL};
    memcpy(s.argv, argv, sizeof argv);
    assert_int_equal(pthread_create(&s.t, NULL, sim_main, &s), 0);
    bool joined = false;
    for (int i = 0; i < 100 && !joined; i++) {
        cu_expect(&o, 0, "--json", "device-groups", "devices", "sensors", NULL);
        cJSON *j = cJSON_Parse(o.out);
        const cJSON *arr = cJSON_IsArray(j) ? j : capi_jget(j, "value");
        joined = cJSON_GetArraySize(arr) == N_SIM;
        cJSON_Delete(j);
        cu_free(&o);
        if (!joined)
            cu_sleep_ms(200);
    }
    assert_true(joined);
    cu_expect(&o, 0, "device-groups", "list", NULL);
    assert_non_null(strstr(o.out, "sensors"));
    cu_free(&o);

    /* a property job with a batch of 2 */
    cu_expect(&o, 0, "jobs", "create", "dim", "--group", "sensors", "--template", SENSOR_MODEL,
              "--property", "brightness=3", "--batch", "2", "--cancel-threshold", "50%", NULL);
    assert_non_null(strstr(o.out, "started job dim"));
    cu_free(&o);
    bool complete = false;
    for (int i = 0; i < 100 && !complete; i++) {
        cu_expect(&o, 0, "jobs", "show", "dim", NULL);
        complete = strstr(o.out, "Status:    complete") != NULL;
        if (complete)
            assert_non_null(strstr(o.out, "4 of 4 done (4 completed"));
        cu_free(&o);
        if (!complete)
            cu_sleep_ms(100);
    }
    assert_true(complete);
    cu_expect(&o, 0, "jobs", "devices", "dim", NULL);
    for (int i = 0; i < N_SIM; i++) {
        char line[64];
        snprintf(line, sizeof line, "cli-sim-%d", i);
        assert_non_null(strstr(o.out, line));
    }
    assert_null(strstr(o.out, "failed"));
    cu_free(&o);
    cu_expect(&o, 0, "--json", "jobs", "show", "dim", NULL);
    cJSON *j = cJSON_Parse(o.out);
    assert_string_equal(capi_jstr(j, "data.0.type"), "property");
    assert_int_equal((int)capi_jget(j, "batch.value")->valuedouble, 2);
    assert_string_equal(capi_jstr(j, "cancellationThreshold.type"), "percentage");
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 0, "jobs", "list", NULL);
    assert_non_null(strstr(o.out, "dim"));
    assert_non_null(strstr(o.out, "4/4"));
    cu_free(&o);

    /* a finished job cannot be stopped or resumed; a rerun of it has no failed devices */
    cu_expect(&o, 2, "jobs", "stop", "dim", NULL);
    assert_non_null(strstr(o.err, "only a running job"));
    cu_free(&o);
    cu_expect(&o, 2, "jobs", "resume", "dim", NULL);
    cu_free(&o);
    cu_expect(&o, 0, "jobs", "rerun", "dim", "dim-again", NULL);
    assert_non_null(strstr(o.out, "rerun of dim"));
    cu_free(&o);

    /* errors: usage (1), refused by the API (2), not found (3) */
    cu_expect(&o, 1, "jobs", "create", "x", "--group", "sensors", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "jobs", "create", "x", "--group", "sensors", "--template", "t", "--property",
              "brightness=1", "--batch", "lots", NULL);
    cu_free(&o);
    cu_expect(&o, 3, "jobs", "show", "nope", NULL);
    cu_free(&o);
    cu_expect(&o, 2, "device-groups", "create", "bad", "--filter",
              "SELECT * FROM devices WHERE $status = 'x'", NULL);
    assert_non_null(strstr(o.err, "unsupported field"));
    cu_free(&o);
    cu_expect(&o, 2, "jobs", "create", "x", "--group", "nope", "--template", "t", "--command",
              "blink", NULL);
    assert_non_null(strstr(o.err, "device group nope was not found"));
    cu_free(&o);
    cu_expect(&o, 0, "device-groups", "delete", "sensors", NULL);
    cu_free(&o);
    cu_expect(&o, 3, "device-groups", "show", "sensors", NULL);
    cu_free(&o);
    pthread_join(s.t, NULL);
    cu_free(&s.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_and_jobs),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
