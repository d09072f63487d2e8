/*
 * The IoT Central tutorial end to end through `iotc`, the operator CLI, with the C
 * environmental-sensor against a real iotc-central on loopback: import the template with the
 * tutorial's views and publish it, create the device, run the sensor with the device's own
 * credentials (from `iotc devices credentials`), set name and brightness (pending, then
 * synced), run blink, turnon, turnoff and rundiagnostics (the history shows the results and
 * rundiagnostics completes), and see raw data and the conformance report flag the telemetry
 * name the sensor misspells (--misspell-telemetry). Also: export/import round trip, telemetry
 * tail/query/last, block/unblock, delete. The tests run in order and share one server and one
 * sensor process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "cli_util.h"

#define DEVICE "cli-sensor-1"
#define TEMPLATE "dtmi:iotc:example:EnvironmentalSensor;1"

static struct th_central srv;
static pid_t sensor_pid = -1;
static char sensor_log[400];
static char cred_scope[32], cred_key[128];

static char *repo_path(const char *rel)
{
    static char buf[4][800];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 800, "%s/%s", cu_repo(), rel);
    return p;
}

static int group_setup(void **state)
{
    (void)state;
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    cu_env_for(&srv);
    return 0;
}

static void stop_sensor(void)
{
    if (sensor_pid > 0) {
        kill(sensor_pid, SIGTERM);
        int64_t end = cu_now_ms() + 10000;
        int st;
        while (waitpid(sensor_pid, &st, WNOHANG) == 0) {
            if (cu_now_ms() > end) {
                kill(sensor_pid, SIGKILL);
                waitpid(sensor_pid, &st, 0);
                break;
            }
            cu_sleep_ms(50);
        }
        sensor_pid = -1;
    }
}

static int group_teardown(void **state)
{
    (void)state;
    stop_sensor();
    if (getenv("IOTC_TEST_VERBOSE") != NULL && sensor_log[0] != '\0') {
        char cmd[500];
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s' >&2", sensor_log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no sensor log)\n");
    }
    th_central_cleanup(&srv);
    return 0;
}

/* `iotc ... --json` parsed; fails the test on a non-zero exit. Caller frees. */
static cJSON *json_of(struct cu_out *o)
{
    if (o->rc != 0)
        fprintf(stderr, "iotc exited %d: %s%s", o->rc, o->out, o->err);
    assert_int_equal(o->rc, 0);
    cJSON *j = cJSON_Parse(o->out);
    if (j == NULL)
        fprintf(stderr, "not JSON: %s\n", o->out);
    assert_non_null(j);
    return j;
}

static void expect_ok(struct cu_out *o, const char *needle)
{
    if (o->rc != 0 || (needle != NULL && strstr(o->out, needle) == NULL))
        fprintf(stderr, "iotc exited %d; stdout:\n%s\nstderr:\n%s\n(wanted \"%s\")\n", o->rc,
                o->out, o->err, needle ? needle : "");
    assert_int_equal(o->rc, 0);
    if (needle != NULL)
        assert_non_null(strstr(o->out, needle));
}

static void test_import_publish(void **state)
{
    (void)state;
    struct cu_out o;
    cu_iotc(&o, "templates", "import", repo_path("models/environmental-sensor.dtdlv2.json"),
            "--views", repo_path("tools/demo-views.json"), "--name", "Environmental sensor",
            "--publish", NULL);
    expect_ok(&o, "views: Overview, About, Properties; published");
    cu_free(&o);

    cu_iotc(&o, "templates", "show", TEMPLATE, "--json", NULL);
    cJSON *t = json_of(&o);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "published")));
    assert_string_equal(cJSON_GetObjectItem(t, "displayName")->valuestring, "Environmental sensor");
    const cJSON *views = cJSON_GetObjectItem(t, "views");
    assert_int_equal(cJSON_GetArraySize(views), 3);
    const cJSON *props = cJSON_GetArrayItem(views, 2);
    assert_string_equal(cJSON_GetObjectItem(props, "id")->valuestring, "properties");
    const cJSON *state_c = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "customizations"), "state");
    assert_string_equal(cJSON_GetObjectItem(state_c, "trueName")->valuestring, "Online");
    assert_string_equal(cJSON_GetObjectItem(state_c, "falseName")->valuestring, "Offline");
    cJSON_Delete(t);
    cu_free(&o);

    /* human output: the capabilities and the custom view */
    cu_iotc(&o, "templates", "show", TEMPLATE, NULL);
    expect_ok(&o, "rundiagnostics");
    assert_non_null(strstr(o.out, "properties   Properties"));
    assert_non_null(strstr(o.out, "trueName"));
    cu_free(&o);

    cu_iotc(&o, "templates", "list", NULL);
    expect_ok(&o, TEMPLATE);
    assert_non_null(strstr(o.out, "yes"));
    cu_free(&o);
}

/* Exported templates (views and customizations included) import unchanged elsewhere. */
static void test_export_roundtrip(void **state)
{
    (void)state;
    char file[400];
    struct cu_out o;
    snprintf(file, sizeof file, "%s/exported.json", srv.root);
    cu_iotc(&o, "templates", "export", TEMPLATE, "-o", file, NULL);
    expect_ok(&o, NULL);
    cu_free(&o);
    cu_iotc(&o, "templates", "import", file, "--id", "dtmi:iotc:test:Copy;1", "--json", NULL);
    cJSON *t = json_of(&o);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "views")), 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "published")));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "customizations"), "state"));
    cJSON_Delete(t);
    cu_free(&o);
    /* the export itself carries no read-only fields */
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    char buf[256];
    bool has_etag = false;
    while (fgets(buf, sizeof buf, f) != NULL)
        has_etag = has_etag || strstr(buf, "\"etag\"") != NULL;
    fclose(f);
    assert_false(has_etag);
}

static void test_create_device(void **state)
{
    (void)state;
    struct cu_out o;
    cu_iotc(&o, "devices", "create", DEVICE, "--template", TEMPLATE, "--name", "First", NULL);
    expect_ok(&o, "status registered");
    cu_free(&o);

    cu_iotc(&o, "devices", "credentials", DEVICE, "--json", NULL);
    cJSON *c = json_of(&o);
    snprintf(cred_scope, sizeof cred_scope, "%s", cJSON_GetObjectItem(c, "idScope")->valuestring);
    snprintf(
        cred_key, sizeof cred_key, "%s",
        cJSON_GetObjectItem(cJSON_GetObjectItem(c, "symmetricKey"), "primaryKey")->valuestring);
    assert_string_equal(cred_scope, srv.id_scope);
    assert_true(strlen(cred_key) >= 40);
    cJSON_Delete(c);
    cu_free(&o);

    cu_iotc(&o, "devices", "credentials", DEVICE, "--env", NULL);
    expect_ok(&o, "export IOTHUB_DEVICE_DPS_DEVICE_KEY='");
    assert_non_null(strstr(o.out, cred_key));
    cu_free(&o);

    /* again, with only a name: an update that keeps the template and the keys */
    cu_iotc(&o, "devices", "create", DEVICE, "--name", "CLI sensor", NULL);
    expect_ok(&o, "updated device " DEVICE);
    cu_free(&o);
    cu_iotc(&o, "devices", "show", DEVICE, NULL);
    expect_ok(&o, "Template:      " TEMPLATE);
    assert_non_null(strstr(o.out, "Name:          CLI sensor"));
    cu_free(&o);
    cu_iotc(&o, "devices", "credentials", DEVICE, NULL);
    expect_ok(&o, cred_key);
    cu_free(&o);

    cu_iotc(&o, "devices", "list", NULL);
    expect_ok(&o, DEVICE);
    assert_non_null(strstr(o.out, "registered"));
    cu_free(&o);
}

static bool device_connected(void)
{
    struct cu_out o;
    cu_iotc(&o, "devices", "show", DEVICE, "--json", NULL);
    cJSON *d = o.rc == 0 ? cJSON_Parse(o.out) : NULL;
    bool up = cJSON_IsTrue(cJSON_GetObjectItem(d, "connected"));
    cJSON_Delete(d);
    cu_free(&o);
    return up;
}

static void test_run_sensor(void **state)
{
    (void)state;
    char bin[700], ep[64];
    snprintf(bin, sizeof bin, "%s/environmental-sensor", cu_builddir());
    snprintf(ep, sizeof ep, "localhost:%u", (unsigned)srv.mqtt_port);
    snprintf(sensor_log, sizeof sensor_log, "%s/sensor.log", srv.root);
    const char *argv[] = {bin,
                          "--id-scope",
                          cred_scope,
                          "--device-id",
                          DEVICE,
                          "--device-key",
                          cred_key,
                          "--dps-endpoint",
                          ep,
                          "--ca-file",
                          srv.ca_path,
                          "--misspell-telemetry",
                          "temperature",
                          "--interval",
                          "0.5",
                          "--name-delay",
                          "500",
                          "--brightness-delay",
                          "1500",
                          "--diagnostics-delay",
                          "1500",
                          "-v",
                          NULL};
    sensor_pid = fork();
    assert_true(sensor_pid >= 0);
    if (sensor_pid == 0) {
        int fd = open(sensor_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (in >= 0)
            dup2(in, 0);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int64_t end = cu_now_ms() + 15000;
    bool up = false;
    while (!up && cu_now_ms() < end) {
        cu_sleep_ms(200);
        up = device_connected();
    }
    assert_true(up);
    struct cu_out o;
    cu_iotc(&o, "devices", "show", DEVICE, NULL);
    expect_ok(&o, "Status:        provisioned");
    assert_non_null(strstr(o.out, "Connected:     yes"));
    cu_free(&o);
}

static void test_properties(void **state)
{
    (void)state;
    struct cu_out o;
    cu_iotc(&o, "properties", "set", DEVICE, "name=Contoso", "brightness=3", "--timeout", "20",
            NULL);
    expect_ok(&o, "name = Contoso: pending (desired version");
    const char *p1 = strstr(o.out, "brightness = 3: pending");
    const char *s1 = strstr(o.out, "name: synced (ac 200");
    const char *s2 = strstr(o.out, "brightness: synced (ac 200");
    assert_non_null(p1);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_true(p1 < s1 && p1 < s2); /* pending first, then synced */
    cu_free(&o);

    cu_iotc(&o, "properties", "get", DEVICE, "--json", NULL);
    cJSON *p = json_of(&o);
    assert_string_equal(cJSON_GetObjectItem(p, "name")->valuestring, "Contoso");
    assert_int_equal(cJSON_GetObjectItem(p, "brightness")->valueint, 3);
    const cJSON *md = cJSON_GetObjectItem(p, "$metadata");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(md, "name"), "state")->valuestring,
                        "synced");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(md, "brightness"), "state")->valuestring, "synced");
    cJSON_Delete(p);
    cu_free(&o);

    cu_iotc(&o, "properties", "get", DEVICE, NULL);
    expect_ok(&o, "synced");
    assert_non_null(strstr(o.out, "processorArchitecture"));
    cu_free(&o);

    /* --no-wait returns at once with the write pending */
    cu_iotc(&o, "properties", "set", DEVICE, "brightness=4", "--no-wait", NULL);
    expect_ok(&o, "brightness = 4: pending");
    assert_null(strstr(o.out, "synced"));
    cu_free(&o);
    /* a wait shorter than the device's 1.5 s delay times out with 4 */
    cu_iotc(&o, "properties", "set", DEVICE, "brightness=5", "--timeout", "0.3", NULL);
    assert_int_equal(o.rc, 4);
    assert_non_null(strstr(o.err, "still pending: brightness"));
    cu_free(&o);
    /* a value the schema refuses: the API's error, exit 2 */
    cu_iotc(&o, "properties", "set", DEVICE, "brightness=bright", NULL);
    assert_int_equal(o.rc, 2);
    assert_non_null(strstr(o.err, "InvalidBody"));
    cu_free(&o);
}

/* `telemetry tail --all` shows the desired patch and the device's ack as they happen. */
static void test_tail_all(void **state)
{
    (void)state;
    struct cu_bg b = {
        .args = {"telemetry", "tail", DEVICE, "--all", "--timeout", "10", "--json", NULL}};
    assert_int_equal(cu_bg_start(&b), 0);
    /* Two writes, the second well after the stream had time to open even on a loaded
     * machine; one of them must be seen. */
    cu_sleep_ms(1500);
    assert_int_equal(cu_rc("properties", "set", DEVICE, "name=Tailwind", "--timeout", "20", NULL),
                     0);
    cu_sleep_ms(1500);
    assert_int_equal(cu_rc("properties", "set", DEVICE, "name=Tailwind", "--timeout", "20", NULL),
                     0);
    cu_bg_join(&b);
    assert_int_equal(b.out.rc, 0);
    bool desired = false, acked = false, telemetry = false;
    char *save = NULL;
    for (char *line = strtok_r(b.out.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *e = cJSON_Parse(line);
        assert_non_null(e); /* one JSON object per line */
        const char *ev = cJSON_GetObjectItem(e, "event")->valuestring;
        const cJSON *payload = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "data"), "payload");
        const cJSON *name = cJSON_GetObjectItem(payload, "name");
        if (strcmp(ev, "desired") == 0 && cJSON_IsString(name) &&
            strcmp(name->valuestring, "Tailwind") == 0)
            desired = true;
        if (strcmp(ev, "property") == 0 && cJSON_GetObjectItem(name, "ac") != NULL)
            acked = true;
        if (strcmp(ev, "telemetry") == 0)
            telemetry = true;
        cJSON_Delete(e);
    }
    if (!desired || !acked || !telemetry)
        fprintf(stderr, "events:\n%s\n", b.out.out);
    assert_true(desired);
    assert_true(acked);
    assert_true(telemetry);
    cu_free(&b.out);
}

static void test_commands(void **state)
{
    (void)state;
    struct cu_out o;
    cu_iotc(&o, "command", "run", DEVICE, "blink", "--request", "2", NULL);
    expect_ok(&o, "command blink on " DEVICE ": completed (response code 200)");
    assert_non_null(strstr(o.out, "Blinking LED every 2 seconds"));
    cu_free(&o);
    cu_iotc(&o, "command", "run", DEVICE, "turnon", NULL);
    expect_ok(&o, "completed (response code 200)");
    cu_free(&o);
    cu_iotc(&o, "command", "run", DEVICE, "turnoff", "--json", NULL);
    cJSON *c = json_of(&o);
    assert_string_equal(cJSON_GetObjectItem(c, "status")->valuestring, "completed");
    assert_int_equal(cJSON_GetObjectItem(c, "responseCode")->valueint, 200);
    cJSON_Delete(c);
    cu_free(&o);
    /* asynchronous: pending without --wait, completed with it */
    cu_iotc(&o, "command", "run", DEVICE, "rundiagnostics", NULL);
    expect_ok(&o, "pending (response code 202)");
    cu_free(&o);
    cu_iotc(&o, "command", "run", DEVICE, "rundiagnostics", "--wait", "--timeout", "20", NULL);
    expect_ok(&o, "waiting for the completion");
    assert_non_null(strstr(o.out, "completion: Diagnostics run complete"));
    cu_free(&o);

    cu_iotc(&o, "command", "history", DEVICE, "--json", NULL);
    cJSON *h = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(h), 5);
    static const char *const names[] = {"blink", "turnon", "turnoff", "rundiagnostics",
                                        "rundiagnostics"};
    for (int i = 0; i < 5; i++) {
        const cJSON *e = cJSON_GetArrayItem(h, i);
        assert_string_equal(cJSON_GetObjectItem(e, "name")->valuestring, names[i]);
    }
    /* the last one was waited for; both have completed by now */
    const cJSON *last = cJSON_GetArrayItem(h, 4);
    assert_string_equal(cJSON_GetObjectItem(last, "status")->valuestring, "completed");
    assert_non_null(cJSON_GetObjectItem(last, "completion"));
    cJSON_Delete(h);
    cu_free(&o);

    cu_iotc(&o, "command", "history", DEVICE, NULL);
    expect_ok(&o, "Blinking LED every 2 seconds");
    assert_non_null(strstr(o.out, "Diagnostics run complete"));
    cu_free(&o);
    cu_iotc(&o, "command", "history", DEVICE, "blink", "--json", NULL);
    h = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(h), 1);
    cJSON_Delete(h);
    cu_free(&o);

    /* a command the template does not have: 404 -> 3 */
    cu_iotc(&o, "command", "run", DEVICE, "selfdestruct", NULL);
    assert_int_equal(o.rc, 3);
    assert_non_null(strstr(o.err, "CapabilityNotFound"));
    cu_free(&o);
    /* a request that is not JSON is a usage error */
    cu_iotc(&o, "command", "run", DEVICE, "blink", "--request", "{two", NULL);
    assert_int_equal(o.rc, 1);
    cu_free(&o);
}

static void test_telemetry(void **state)
{
    (void)state;
    struct cu_out o;
    cu_iotc(&o, "telemetry", "tail", DEVICE, "--count", "2", "--timeout", "10", NULL);
    expect_ok(&o, "telemetry");
    int lines = 0;
    for (const char *p = o.out; (p = strstr(p, " telemetry ")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 2);
    assert_non_null(strstr(o.out, "\"temperature\":"));
    cu_free(&o);

    cu_iotc(&o, "telemetry", "tail", DEVICE, "--count", "1", "--timeout", "10", "--json", NULL);
    cJSON *e = json_of(&o);
    assert_string_equal(cJSON_GetObjectItem(e, "event")->valuestring, "telemetry");
    assert_non_null(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(e, "data"), "payload"), "humid"));
    cJSON_Delete(e);
    cu_free(&o);

    cu_iotc(&o, "telemetry", "last", DEVICE, "humid", NULL);
    expect_ok(&o, "humid = ");
    cu_free(&o);
    /* the sensor misspells temp: never sent under the modeled name */
    cu_iotc(&o, "telemetry", "last", DEVICE, "temp", NULL);
    assert_int_equal(o.rc, 3);
    assert_non_null(strstr(o.err, "TelemetryNotFound"));
    cu_free(&o);

    cu_iotc(&o, "telemetry", "query", DEVICE, "humid", "--from", "-5m", "--top", "3", "--json",
            NULL);
    cJSON *q = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(q), 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(q, 0), "valid")));
    cJSON_Delete(q);
    cu_free(&o);
    /* a range in the future is empty */
    cu_iotc(&o, "telemetry", "query", DEVICE, "humid", "--from", "2099-01-01T00:00:00Z", NULL);
    expect_ok(&o, "(no values in that range)");
    cu_free(&o);
}

static void test_raw_and_conformance(void **state)
{
    (void)state;
    struct cu_out o;
    cu_iotc(&o, "raw", DEVICE, "--json", NULL);
    cJSON *r = cu_list(o.out);
    int unmodeled = 0, connected = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, r)
    {
        const char *type = cJSON_GetObjectItem(e, "type")->valuestring;
        if (strcmp(type, "connected") == 0)
            connected++;
        if (strcmp(type, "telemetry") == 0 &&
            cJSON_GetObjectItem(cJSON_GetObjectItem(e, "unmodeled"), "temperature") != NULL) {
            unmodeled++;
            assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "modeled"), "humid"));
        }
    }
    assert_true(connected >= 1);
    assert_true(unmodeled >= 3);
    cJSON_Delete(r);
    cu_free(&o);
    cu_iotc(&o, "raw", DEVICE, "--top", "5", NULL);
    expect_ok(&o, "UNMODELED");
    assert_non_null(strstr(o.out, "connected"));
    cu_free(&o);

    cu_iotc(&o, "conformance", DEVICE, "--json", NULL);
    assert_int_equal(o.rc, 2); /* not conformant: exit 2, the report on stdout */
    assert_non_null(strstr(o.err, "is not conformant"));
    o.rc = 0;
    cJSON *c = json_of(&o);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(c, "conformant")));
    bool flagged = false;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "mismatches"))
    {
        const cJSON *kind = cJSON_GetObjectItem(e, "kind");
        const cJSON *name = cJSON_GetObjectItem(e, "name");
        const cJSON *sugg = cJSON_GetObjectItem(e, "suggestion");
        if (cJSON_IsString(kind) && strcmp(kind->valuestring, "unmodeledTelemetry") == 0 &&
            cJSON_IsString(name) && strcmp(name->valuestring, "temperature") == 0 &&
            cJSON_IsString(sugg) && strcmp(sugg->valuestring, "temp") == 0)
            flagged = true;
    }
    assert_true(flagged);
    /* the commands and writable properties the tutorial exercised are ok */
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "capabilities"))
    {
        const char *name = cJSON_GetObjectItem(e, "name")->valuestring;
        if (strcmp(name, "blink") == 0 || strcmp(name, "rundiagnostics") == 0 ||
            strcmp(name, "name") == 0)
            assert_string_equal(cJSON_GetObjectItem(e, "status")->valuestring, "ok");
    }
    cJSON_Delete(c);
    cu_free(&o);
    cu_iotc(&o, "conformance", DEVICE, NULL);
    assert_int_equal(o.rc, 2);
    o.rc = 0;
    expect_ok(&o, "NOT conformant");
    assert_non_null(strstr(o.out, "unmodeledTelemetry"));
    assert_non_null(strstr(o.out, "did you mean \"temp\"?"));
    cu_free(&o);
}

/* The template's customization names the boolean: a device that reports a real boolean
 * `state` is shown as Online / Offline by `properties get`. */
static void test_boolean_names(void **state)
{
    (void)state;
    struct cu_out o;
    char key[128];
    assert_int_equal(cu_rc("devices", "create", "labels-1", "--template", TEMPLATE, NULL), 0);
    cu_iotc(&o, "devices", "credentials", "labels-1", "--json", NULL);
    cJSON *cr = json_of(&o);
    snprintf(
        key, sizeof key, "%s",
        cJSON_GetObjectItem(cJSON_GetObjectItem(cr, "symmetricKey"), "primaryKey")->valuestring);
    cJSON_Delete(cr);
    cu_free(&o);
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &srv, "labels-1", key), 0);
    static const char *const reports[][2] = {{"{\"state\":true}", "true (Online)"},
                                             {"{\"state\":false}", "false (Offline)"}};
    for (int i = 0; i < 2; i++) {
        assert_true(th_mqtt_publish(&m, "$iothub/twin/PATCH/properties/reported/?$rid=7",
                                    reports[i][0], strlen(reports[i][0]), 0) >= 0);
        bool seen = false;
        int64_t end = cu_now_ms() + 10000;
        while (!seen && cu_now_ms() < end) {
            cu_iotc(&o, "properties", "get", "labels-1", NULL);
            seen = o.rc == 0 && strstr(o.out, reports[i][1]) != NULL;
            cu_free(&o);
            if (!seen)
                cu_sleep_ms(200);
        }
        assert_true(seen);
    }
    /* JSON output stays the API's value */
    cu_iotc(&o, "properties", "get", "labels-1", "--json", NULL);
    cJSON *p = json_of(&o);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(p, "state")));
    cJSON_Delete(p);
    cu_free(&o);
    th_mqtt_close(&m);
}

static void test_block_unblock_delete(void **state)
{
    (void)state;
    struct cu_out o;
    cu_iotc(&o, "devices", "block", DEVICE, NULL);
    expect_ok(&o, "blocked device " DEVICE ": status blocked");
    cu_free(&o);
    int64_t end = cu_now_ms() + 5000;
    while (device_connected() && cu_now_ms() < end)
        cu_sleep_ms(100);
    assert_false(device_connected());
    /* an offline device cannot run a synchronous command: 409 -> 2 */
    cu_iotc(&o, "command", "run", DEVICE, "turnon", NULL);
    assert_int_equal(o.rc, 2);
    assert_non_null(strstr(o.err, "DeviceNotConnected"));
    cu_free(&o);
    cu_iotc(&o, "devices", "unblock", DEVICE, NULL);
    expect_ok(&o, "unblocked device " DEVICE);
    cu_free(&o);
    cu_iotc(&o, "devices", "show", DEVICE, "--json", NULL);
    cJSON *d = json_of(&o);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "enabled")));
    assert_string_not_equal(cJSON_GetObjectItem(d, "status")->valuestring, "blocked");
    cJSON_Delete(d);
    cu_free(&o);
    stop_sensor();

    cu_iotc(&o, "devices", "delete", DEVICE, NULL);
    expect_ok(&o, "deleted device " DEVICE);
    cu_free(&o);
    assert_int_equal(cu_rc("devices", "show", DEVICE, NULL), 3);
    assert_int_equal(cu_rc("devices", "delete", DEVICE, NULL), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_publish),
        cmocka_unit_test(test_export_roundtrip),
        cmocka_unit_test(test_create_device),
        cmocka_unit_test(test_run_sensor),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_tail_all),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_telemetry),
        cmocka_unit_test(test_raw_and_conformance),
        cmocka_unit_test(test_boolean_names),
        cmocka_unit_test(test_block_unblock_delete),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
