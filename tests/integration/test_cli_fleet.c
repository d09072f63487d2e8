/*
 * test_cli_fleet.c - the CLI verbs of the REST-fidelity work against a real iotc-central:
 * `devices list --filter/--orderby`, `devices compute-key` (a key derived from the group key
 * alone provisions), `enrollment-groups list|show|create|update|delete|regenerate-key`, and
 * iotc-sim devices given only a created group's key: they provision through it and, announcing
 * the model of a template that was only PUT (imported), are associated with it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "cli_util.h"
#include "iotc/codec.h"
#include "iotc/sas.h"

#define KEY_A "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
#define KEY_B "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="
#define SENSOR_MODEL "dtmi:iotc:example:EnvironmentalSensor;1"

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

static void derive(const char *group_key, const char *id, char *out, size_t size)
{
    size_t len;
    assert_int_equal(iotc_sas_derive_device_key(iotc_span_from_cstr(group_key),
                                                iotc_span_from_cstr(id), out, size, &len),
                     IOTC_OK);
}

static void test_compute_key_and_filter(void **state)
{
    (void)state;
    struct cu_out o;
    char k[64], line[80];
    cu_expect(&o, 0, "devices", "create", "cli-f1", "--name", "Thermostat one", NULL);
    cu_free(&o);
    cu_expect(&o, 0, "devices", "create", "cli-f2", "--name", "Anemometer", "--simulated", NULL);
    cu_free(&o);

    /* compute-key from the server's group equals the device's credentials and connects */
    cu_expect(&o, 0, "devices", "compute-key", "cli-f1", NULL);
    derive(srv.group_primary_key, "cli-f1", k, sizeof k);
    snprintf(line, sizeof line, "%s\n", k);
    assert_string_equal(o.out, line);
    cu_free(&o);
    struct th_dps_result r;
    assert_int_equal(th_dps_register(&srv, "cli-f1", k, IOTC_SAS_DPS_CSDK, NULL, &r), 0);
    assert_int_equal(r.connack, 0);
    assert_string_equal(r.status, "assigned");
    /* offline from a key, and under the name az uses; --json has both keys */
    cu_expect(&o, 0, "devices", "compute-device-key", "dev-x", "--key", KEY_A, NULL);
    derive(KEY_A, "dev-x", k, sizeof k);
    snprintf(line, sizeof line, "%s\n", k);
    assert_string_equal(o.out, line);
    cu_free(&o);
    cu_expect(&o, 0, "--json", "devices", "compute-key", "cli-f2", NULL);
    cJSON *j = cJSON_Parse(o.out);
    derive(srv.group_secondary_key, "cli-f2", k, sizeof k);
    assert_string_equal(capi_jstr(j, "secondaryKey"), k);
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 1, "devices", "compute-key", "dev-x", "--key", "not base64!", NULL);
    cu_free(&o);

    /* devices list --filter / --orderby */
    cu_expect(&o, 0, "--json", "devices", "list", "--filter", "contains(id, 'cli-f')", "--orderby",
              "displayName desc", NULL);
    j = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(j), 2);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(j, 0), "id"), "cli-f1");
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(j, 1), "id"), "cli-f2");
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 0, "devices", "list", "--filter", "simulated eq true", NULL);
    assert_non_null(strstr(o.out, "cli-f2"));
    assert_null(strstr(o.out, "cli-f1"));
    cu_free(&o);
    cu_expect(&o, 2, "devices", "list", "--filter", "endswith(id, 'x')", NULL);
    assert_non_null(strstr(o.err, "'endswith'"));
    cu_free(&o);
}

static void test_enrollment_groups_and_sim(void **state)
{
    (void)state;
    struct cu_out o;
    char k[64];
    cu_expect(&o, 0, "enrollment-groups", "create", "plant-7", "--name", "Plant 7", "--primary-key",
              KEY_A, "--secondary-key", KEY_B, NULL);
    assert_non_null(strstr(o.out, "created enrollment group plant-7"));
    cu_free(&o);
    cu_expect(&o, 0, "enrollment-groups", "list", NULL);
    assert_non_null(strstr(o.out, "plant-7"));
    assert_non_null(strstr(o.out, "SAS-IoT-Devices"));
    cu_free(&o);
    cu_expect(&o, 0, "enrollment-groups", "show", "plant-7", NULL);
    assert_non_null(strstr(o.out, KEY_A));
    cu_free(&o);
    cu_expect(&o, 3, "enrollment-groups", "show", "plant-8", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "enrollment-groups", "create", "p9", "--type", "edge", NULL);
    cu_free(&o);

    /* a template only imported (PUT) is published: the simulated devices that announce its
     * model id are associated with it */
    char model[1400];
    snprintf(model, sizeof model, "%s/models/environmental-sensor.dtdlv2.json", cu_repo());
    cu_expect(&o, 0, "templates", "import", model, NULL);
    cu_free(&o);

    /* iotc-sim devices given only plant-7's key provision through it */
    char app_json[400], cmd[1400], sim[1400];
    snprintf(app_json, sizeof app_json, "%s/app.json", srv.root);
    snprintf(cmd, sizeof cmd, "'%s' show --data-dir '%s' --json > '%s'", th_central_bin(),
             srv.data_dir, app_json);
    assert_int_equal(system(cmd), 0);
    snprintf(sim, sizeof sim, "%s/iotc-sim", cu_builddir());
    const char *argv[] = {sim,       "--app",      app_json, "--group-key", KEY_A, "--devices",
                          "2",       "--ramp",     "0",      "--rate",      "1",   "--warmup",
                          "0",       "--measure",  "1",      "--duration",  "20",  "--prefix",
                          "plant7-", "--template", model,    "--quiet",     NULL};
    cu_exec(&o, 60000, argv);
    if (o.rc != 0)
        fail_msg("iotc-sim exited %d: %s%s", o.rc, o.out, o.err);
    cJSON *j = cJSON_Parse(o.out);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "provisioned")->valueint, 2);
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 0, "--json", "devices", "show", "plant7-0", NULL);
    j = cJSON_Parse(o.out);
    assert_string_equal(capi_jstr(j, "enrollmentGroup"), "plant-7");
    assert_string_equal(capi_jstr(j, "template"), SENSOR_MODEL);
    assert_true(cJSON_IsTrue(capi_jget(j, "provisioned")));
    cJSON_Delete(j);
    cu_free(&o);

    /* disabled: plant-7's keys provision nothing new */
    cu_expect(&o, 0, "enrollment-groups", "update", "plant-7", "--enabled", "false", NULL);
    cu_free(&o);
    struct th_dps_result r;
    derive(KEY_A, "plant7-late", k, sizeof k);
    assert_int_equal(th_dps_register(&srv, "plant7-late", k, IOTC_SAS_DPS_CSDK, NULL, &r), 0);
    assert_int_equal(r.connack, 5);
    cu_expect(&o, 0, "enrollment-groups", "update", "plant-7", "--enabled", "true", NULL);
    cu_free(&o);

    /* regenerate-key: the old secondary key no longer provisions */
    cu_expect(&o, 0, "--json", "enrollment-groups", "regenerate-key", "plant-7", "--key",
              "secondary", NULL);
    j = cJSON_Parse(o.out);
    assert_string_not_equal(capi_jstr(j, "attestation.symmetricKey.secondaryKey"), KEY_B);
    cJSON_Delete(j);
    cu_free(&o);
    derive(KEY_B, "plant7-b", k, sizeof k);
    assert_int_equal(th_dps_register(&srv, "plant7-b", k, IOTC_SAS_DPS_CSDK, NULL, &r), 0);
    assert_int_equal(r.connack, 5);

    cu_expect(&o, 0, "enrollment-groups", "delete", "plant-7", NULL);
    cu_free(&o);
    cu_expect(&o, 3, "enrollment-groups", "delete", "plant-7", NULL);
    cu_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute_key_and_filter),
        cmocka_unit_test(test_enrollment_groups_and_sim),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
