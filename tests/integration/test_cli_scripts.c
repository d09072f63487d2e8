/*
 * test_cli_scripts.c - `iotc` for scripts, against a real iotc-central with a real device
 * (MQTT over TLS, capi_device_util.h):
 * - exit codes: `conformance` 0 when conformant, 2 when not; `telemetry query` of a name the
 *   device never sent exits 3 (as `telemetry last`);
 * - -o json|table|tsv (and --output, --json) on lists and shows: json keeps the API's
 *   {"value": [...]}, tsv has tab-separated columns and no header, table the header;
 * - the verbs: `devices update`, `templates delete`, `tokens show`;
 * - `properties set` on an offline device says "queued: ..." at once (and the write is queued);
 * - `telemetry tail` says "timed out" when it did;
 * - a bad token: one "Unauthorized" on stderr, exit 5.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "capi_device_util.h"
#include "cli_util.h"

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Split @p line (no newline) at tabs into at most @p max fields; @return the count. */
static int tsv_fields(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (t == NULL)
            break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

static void test_exit_codes(void **state)
{
    (void)state;
    struct cu_out o;
    cu_env_for(&srv);
    device_connect();
    telemetry("{\"temp\":21.5,\"humid\":40}");
    cu_expect(&o, 0, "conformance", DEV, NULL);
    assert_non_null(strstr(o.out, "conformant"));
    cu_free(&o);
    cu_expect(&o, 0, "telemetry", "query", DEV, "temp", NULL);
    assert_non_null(strstr(o.out, "21.5"));
    cu_free(&o);
    /* a name the device never sent: an error, not an empty list */
    cu_expect(&o, 3, "telemetry", "query", DEV, "tmep", NULL);
    assert_non_null(strstr(o.err, "TelemetryNotFound"));
    assert_string_equal(o.out, "");
    cu_free(&o);
    cu_expect(&o, 3, "telemetry", "query", DEV, "tmep", "-o", "json", NULL);
    assert_string_equal(o.out, "");
    cu_free(&o);
    /* unmodeled telemetry makes the device not conformant: exit 2, the report still printed */
    telemetry("{\"tmep\":21.5}");
    cu_expect(&o, 2, "conformance", DEV, NULL);
    assert_non_null(strstr(o.out, "NOT conformant"));
    assert_non_null(strstr(o.err, "is not conformant"));
    cu_free(&o);
    cu_expect(&o, 2, "conformance", DEV, "-o", "json", NULL);
    cJSON *j = cJSON_Parse(o.out);
    assert_non_null(j);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "conformant")));
    cJSON_Delete(j);
    cu_free(&o);
    /* now that it sent "tmep" (unmodeled), the query finds it */
    cu_expect(&o, 0, "telemetry", "query", DEV, "tmep", "-o", "json", NULL);
    j = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    cu_free(&o);
    device_close();
}

static void test_output_formats(void **state)
{
    (void)state;
    struct cu_out o;
    cu_env_for(&srv);
    cu_expect(&o, 0, "devices", "create", "tsv-2", "--name", "Tab\tbed two", NULL);
    cu_free(&o);
    /* json: the API's shape, the same for -o json, --output json, --output=json and --json */
    static const char *const json_forms[][2] = {
        {"-o", "json"}, {"--output", "json"}, {"--output=json", NULL}, {"--json", NULL}};
    for (size_t i = 0; i < 4; i++) {
        cu_expect(&o, 0, "devices", "list", json_forms[i][0], json_forms[i][1], NULL);
        cJSON *doc = cJSON_Parse(o.out);
        assert_non_null(doc);
        assert_null(cJSON_GetObjectItem(doc, "nextLink"));
        cJSON_Delete(doc);
        cJSON *l = cu_list(o.out);
        assert_int_equal(cJSON_GetArraySize(l), 2);
        assert_non_null(strstr(o.out, "\"" DEV "\""));
        cJSON_Delete(l);
        cu_free(&o);
    }
    /* global option before the command */
    cu_expect(&o, 0, "-o", "json", "templates", "list", NULL);
    cJSON *l = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(l), 1);
    assert_string_equal(capi_jstr(cJSON_GetArrayItem(l, 0), "@id"), TID);
    cJSON_Delete(l);
    cu_free(&o);

    /* tsv: rows only, 6 columns as the table's, values whole */
    cu_expect(&o, 0, "devices", "list", "-o", "tsv", NULL);
    assert_null(strstr(o.out, "ID\t"));
    assert_int_equal(count_of(o.out, "\n"), 2);
    char *save = NULL;
    int rows = 0;
    for (char *line = strtok_r(o.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[8];
        assert_int_equal(tsv_fields(line, f, 8), 6);
        if (strcmp(f[0], DEV) == 0) {
            assert_string_equal(f[1], "Env 01");
            assert_string_equal(f[2], TID);
            rows++;
        } else {
            assert_string_equal(f[0], "tsv-2");
            assert_string_equal(f[1], "Tab bed two"); /* a tab in a value cannot split it */
            assert_string_equal(f[2], "-");
            rows++;
        }
    }
    assert_int_equal(rows, 2);
    cu_free(&o);
    /* a show: name<TAB>value lines */
    cu_expect(&o, 0, "devices", "show", DEV, "-o", "tsv", NULL);
    assert_non_null(strstr(o.out, "id\t" DEV "\n"));
    assert_non_null(strstr(o.out, "template\t" TID "\n"));
    assert_non_null(strstr(o.out, "enabled\ttrue\n"));
    cu_free(&o);
    cu_expect(&o, 0, "tokens", "list", "--output", "tsv", NULL);
    assert_string_equal(o.out, ""); /* no tokens: no "(no API tokens)" line either */
    cu_free(&o);
    cu_expect(&o, 0, "templates", "list", "-o", "tsv", NULL);
    assert_int_equal(count_of(o.out, "\n"), 1);
    assert_non_null(strstr(o.out, TID "\t"));
    cu_free(&o);
    /* table: the header, and -o table overrides an earlier --json */
    cu_expect(&o, 0, "devices", "list", "--json", "-o", "table", NULL);
    assert_true(strncmp(o.out, "ID ", 3) == 0);
    assert_non_null(strstr(o.out, "LAST ACTIVITY"));
    cu_free(&o);
    cu_expect(&o, 1, "devices", "list", "-o", "yaml", NULL);
    assert_non_null(strstr(o.err, "'yaml' is not json, table or tsv"));
    cu_free(&o);
    cu_expect(&o, 0, "devices", "delete", "tsv-2", NULL);
    cu_free(&o);
}

static void test_verbs(void **state)
{
    (void)state;
    struct cu_out o;
    cu_env_for(&srv);
    cu_expect(&o, 0, "devices", "create", "upd-1", NULL);
    cu_free(&o);
    cu_expect(&o, 0, "devices", "update", "upd-1", "--name", "Renamed", "--enabled", "false", NULL);
    assert_non_null(strstr(o.out, "updated device upd-1"));
    cu_free(&o);
    assert_int_equal(admin("GET", "/api/devices/upd-1", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "Renamed");
    assert_true(cJSON_IsFalse(capi_jget(R.json, "enabled")));
    cu_expect(&o, 0, "devices", "update", "upd-1", "--enabled", "true", "-o", "json", NULL);
    cJSON *j = cJSON_Parse(o.out);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "enabled")));
    assert_string_equal(capi_jstr(j, "displayName"), "Renamed");
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 1, "devices", "update", "upd-1", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "devices", "update", "upd-1", "--enabled", "maybe", NULL);
    cu_free(&o);
    cu_expect(&o, 3, "devices", "update", "nobody", "--name", "x", NULL);
    cu_free(&o);

    /* templates delete: a second template, unused */
    assert_int_equal(admin("PUT", "/api/deviceTemplates/dtmi%3Aiotc%3Atest%3AGone%3B1",
                           "{\"displayName\":\"Gone\",\"capabilityModel\":{\"@id\":"
                           "\"dtmi:iotc:test:Gone;1\",\"@type\":\"Interface\",\"@context\":"
                           "\"dtmi:dtdl:context;2\",\"contents\":[{\"@type\":\"Telemetry\","
                           "\"name\":\"t\",\"schema\":\"double\"}]}}"),
                     200);
    cu_expect(&o, 0, "templates", "delete", "dtmi:iotc:test:Gone;1", NULL);
    assert_non_null(strstr(o.out, "deleted template dtmi:iotc:test:Gone;1"));
    cu_free(&o);
    cu_expect(&o, 3, "templates", "show", "dtmi:iotc:test:Gone;1", NULL);
    cu_free(&o);
    cu_expect(&o, 3, "templates", "delete", "dtmi:iotc:test:Gone;1", NULL);
    cu_free(&o);

    /* tokens show */
    cu_expect(&o, 0, "tokens", "create", "show-me", "--role", "administrator", NULL);
    cu_free(&o);
    cu_expect(&o, 0, "tokens", "show", "show-me", NULL);
    assert_non_null(strstr(o.out, "show-me"));
    assert_non_null(strstr(o.out, "administrator"));
    assert_null(strstr(o.out, "SharedAccessSignature"));
    cu_free(&o);
    cu_expect(&o, 0, "tokens", "show", "show-me", "-o", "json", NULL);
    j = cJSON_Parse(o.out);
    assert_string_equal(capi_jstr(j, "id"), "show-me");
    assert_non_null(capi_jget(j, "roles.0.role"));
    assert_null(cJSON_GetObjectItem(j, "token"));
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 3, "tokens", "show", "nobody", NULL);
    cu_free(&o);
    cu_expect(&o, 0, "tokens", "delete", "show-me", NULL);
    cu_free(&o);
    /* the verbs of main: devices compute-key and enrollment groups */
    cu_expect(&o, 0, "devices", "compute-key", "upd-1", "--key", srv.group_primary_key, NULL);
    assert_true(strlen(o.out) > 40);
    cu_free(&o);
    cu_expect(&o, 0, "enrollment-groups", "list", "-o", "tsv", NULL);
    assert_non_null(strstr(o.out, "\t"));
    cu_free(&o);
}

static void test_offline_write(void **state)
{
    (void)state;
    struct cu_out o;
    cu_env_for(&srv);
    device_close();
    cu_expect(&o, 0, "properties", "set", DEV, "brightness=2", "--no-wait", NULL);
    assert_non_null(
        strstr(o.err, "queued: the device is offline; it gets the value when it connects"));
    assert_non_null(strstr(o.out, "pending"));
    cu_free(&o);
    /* said at once: with a wait, before the wait ends (exit 4 after 2 s) */
    cu_expect(&o, 4, "properties", "set", DEV, "brightness=3", "--timeout", "2", NULL);
    assert_non_null(strstr(o.err, "queued: the device is offline"));
    assert_non_null(strstr(o.err, "timed out"));
    assert_true(strstr(o.err, "queued:") < strstr(o.err, "timed out"));
    cu_free(&o);
    /* the write is queued: pending in the API */
    assert_int_equal(admin("GET", "/api/devices/" DEV "/properties", NULL), 200);
    assert_int_equal((int)jnum(R.json, "brightness"), 3);
    assert_string_equal(capi_jstr(R.json, "$metadata.brightness.state"), "pending");
    /* connected: no such line */
    device_connect();
    cu_expect(&o, 0, "properties", "set", DEV, "brightness=4", "--no-wait", NULL);
    assert_null(strstr(o.err, "offline"));
    cu_free(&o);
    device_close();
}

static void test_tail_timeout(void **state)
{
    (void)state;
    struct cu_out o;
    cu_env_for(&srv);
    cu_expect(&o, 0, "telemetry", "tail", DEV, "--timeout", "1", NULL);
    assert_non_null(strstr(o.err, "timed out after 1 s (0 events)"));
    cu_free(&o);
    cu_expect(&o, 4, "telemetry", "tail", DEV, "--count", "3", "--timeout", "1", NULL);
    assert_non_null(strstr(o.err, "timed out after 1 s: 0 of 3 events"));
    cu_free(&o);
}

static void test_one_unauthorized(void **state)
{
    (void)state;
    struct cu_out o;
    cu_env_for(&srv);
    cu_expect(&o, 5, "--token", "bad", "devices", "list", NULL);
    assert_int_equal(count_of(o.err, "Unauthorized"), 1);
    assert_int_equal(count_of(o.err, "\n"), 1);
    cu_free(&o);
    cu_expect(&o, 5, "--token", "bad", "telemetry", "tail", DEV, "--timeout", "5", NULL);
    assert_int_equal(count_of(o.err, "Unauthorized"), 1);
    cu_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),   cmocka_unit_test(test_output_formats),
        cmocka_unit_test(test_verbs),        cmocka_unit_test(test_offline_write),
        cmocka_unit_test(test_tail_timeout), cmocka_unit_test(test_one_unauthorized),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
