/*
 * `iotc` at the command-line level: --help on every command, the exit codes scripts rely on
 * (1 usage, 2 API error or unreachable server, 3 not found, 5 authentication/authorization),
 * errors in words on stderr with the API's code, settings from flags, the environment and a
 * data dir (ports.json, ca.pem, admin-token), and lists that span several pages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "cli_util.h"

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

static const char *const commands[][2] = {
    {"templates", "import"},
    {"templates", "list"},
    {"templates", "show"},
    {"templates", "export"},
    {"templates", "publish"},
    {"devices", "create"},
    {"devices", "list"},
    {"devices", "show"},
    {"devices", "credentials"},
    {"devices", "block"},
    {"devices", "unblock"},
    {"devices", "delete"},
    {"devices", "compute-key"},
    {"devices", "compute-device-key"},
    {"enrollment-groups", "list"},
    {"enrollment-groups", "show"},
    {"enrollment-groups", "create"},
    {"enrollment-groups", "update"},
    {"enrollment-groups", "delete"},
    {"enrollment-groups", "regenerate-key"},
    {"properties", "get"},
    {"properties", "set"},
    {"command", "run"},
    {"command", "history"},
    {"telemetry", "tail"},
    {"telemetry", "query"},
    {"telemetry", "last"},
    {"raw", NULL},
    {"conformance", NULL},
    {"tokens", "create"},
    {"tokens", "list"},
    {"tokens", "delete"},
    {"tokens", "show"},
    {"templates", "delete"},
    {"devices", "update"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void test_help_everywhere(void **state)
{
    (void)state;
    struct cu_out o;
    char want[128];
    /* no server needed for help: make sure none is configured */
    unsetenv("IOTC_SERVER");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *g = commands[i][0], *v = commands[i][1];
        snprintf(want, sizeof want, "usage: iotc %s%s%s", g, v ? " " : "", v ? v : "");
        /* -h is the same option: checked on the first command of each group */
        bool first = i == 0 || strcmp(commands[i - 1][0], g) != 0;
        for (int form = 0; form < (first ? 2 : 1); form++) {
            const char *flag = form == 0 ? "--help" : "-h";
            if (v != NULL)
                cu_iotc(&o, g, v, flag, NULL);
            else
                cu_iotc(&o, g, flag, NULL);
            if (o.rc != 0 || strncmp(o.out, want, strlen(want)) != 0)
                fprintf(stderr, "%s %s %s -> %d: %s%s\n", g, v ? v : "", flag, o.rc, o.out, o.err);
            assert_int_equal(o.rc, 0);
            assert_true(strncmp(o.out, want, strlen(want)) == 0);
            assert_string_equal(o.err, "");
            cu_free(&o);
        }
        /* help wins over other arguments and may come after them */
        if (v != NULL && first) {
            cu_iotc(&o, "--json", g, v, "x", "--help", NULL);
            assert_int_equal(o.rc, 0);
            assert_non_null(strstr(o.out, want));
            cu_free(&o);
        }
    }
    /* a group's help lists its commands */
    static const char *const groups[] = {"templates", "devices",   "properties",
                                         "command",   "telemetry", "tokens"};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        cu_iotc(&o, groups[i], "--help", NULL);
        assert_int_equal(o.rc, 0);
        for (size_t k = 0; k < NCOMMANDS; k++) {
            if (strcmp(commands[k][0], groups[i]) != 0)
                continue;
            snprintf(want, sizeof want, "usage: iotc %s %s", groups[i], commands[k][1]);
            assert_non_null(strstr(o.out, want));
        }
        cu_free(&o);
    }
    /* the global help lists every command and the exit codes */
    cu_iotc(&o, "--help", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "Exit codes:"));
    assert_non_null(strstr(o.out, "5  authentication"));
    assert_non_null(strstr(o.out, "iotc conformance DEVICE"));
    assert_non_null(strstr(o.out, "IOTC_SERVER"));
    cu_free(&o);
    cu_env_for(&srv);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct cu_out o;
    cu_iotc(&o, NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "usage: iotc"));
    cu_free(&o);
    cu_iotc(&o, "frobnicate", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "unknown command 'frobnicate'"));
    cu_free(&o);

    /* each of these is refused before any request (the server would answer otherwise) */
    static const char *const bad[][8] = {
        {"devices", NULL},
        {"devices", "frob", NULL},
        {"devices", "list", "--bogus", NULL},
        {"devices", "show", NULL},
        {"devices", "show", "a", "b", NULL},
        {"devices", "list", "--top", "x", NULL},
        {"devices", "list", "--top", "0", NULL},
        {"devices", "list", "--json=yes", NULL},
        {"devices", "create", NULL},
        {"devices", "create", "d", "--template", NULL},
        {"templates", "import", NULL},
        {"templates", "import", "/nonexistent/model.json", NULL},
        {"properties", "set", "d", NULL},
        {"properties", "set", "d", "noequals", NULL},
        {"properties", "set", "d", "=3", NULL},
        {"properties", "set", "d", "a=1", "--timeout", "soon", NULL},
        {"properties", "set", "d", "a=1", "--wait", "--no-wait", NULL},
        {"command", "run", "d", NULL},
        {"command", "run", "d", "blink", "--request", "{bad", NULL},
        {"command", "run", "d", "blink", "--response-timeout", "-3", NULL},
        {"command", "history", NULL},
        {"telemetry", "query", "d", "temp", "--from", "yesterday", NULL},
        {"telemetry", "query", "d", NULL},
        {"telemetry", "tail", "d", "--count", "many", NULL},
        {"raw", NULL},
        {"raw", "d", "--to", "2026-13", NULL},
        {"conformance", "a", "b", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[CU_MAX_ARGS];
        char bin[700];
        int n = 0;
        snprintf(bin, sizeof bin, "%s/iotc", cu_builddir());
        argv[n++] = bin;
        for (int k = 0; bad[i][k] != NULL; k++)
            argv[n++] = bad[i][k];
        argv[n] = NULL;
        cu_exec(&o, 30000, argv);
        if (o.rc != 1 || o.err[0] == '\0' || o.out[0] != '\0')
            fprintf(stderr, "case %zu (%s %s): rc %d\n%s%s\n", i, bad[i][0],
                    bad[i][1] ? bad[i][1] : "", o.rc, o.out, o.err);
        assert_int_equal(o.rc, 1);
        assert_true(o.err[0] != '\0'); /* a reason in words */
        assert_string_equal(o.out, "");
        cu_free(&o);
    }

    /* no server configured at all */
    unsetenv("IOTC_SERVER");
    cu_iotc(&o, "devices", "list", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "no server"));
    cu_free(&o);
    assert_int_equal(cu_rc("--server", "ftp://localhost", "devices", "list", NULL), 1);
    cu_env_for(&srv);
}

static void test_auth(void **state)
{
    (void)state;
    struct cu_out o;
    /* an empty application says so */
    cu_iotc(&o, "devices", "list", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "(no devices)\n");
    cu_free(&o);
    cu_iotc(&o, "templates", "list", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "(no templates)\n");
    cu_free(&o);
    /* a wrong token */
    cu_iotc(&o, "devices", "list", "--token", "iotc-admin.wrong", NULL);
    assert_int_equal(o.rc, 5);
    assert_non_null(strstr(o.err, "Unauthorized"));
    assert_string_equal(o.out, "");
    cu_free(&o);
    /* none at all */
    setenv("IOTC_TOKEN", "", 1);
    cu_iotc(&o, "devices", "list", NULL);
    assert_int_equal(o.rc, 5);
    assert_non_null(strstr(o.err, "no token"));
    cu_free(&o);
    cu_env_for(&srv);

    /* an operator token (made with `tokens create`, text alone on stdout): may list
     * devices, may not write templates or list tokens (403 -> 5) */
    cu_iotc(&o, "tokens", "create", "ops1", "--role", "operator", NULL);
    assert_int_equal(o.rc, 0);
    assert_true(strncmp(o.out, "SharedAccessSignature sr=", 25) == 0);
    char op[1024];
    snprintf(op, sizeof op, "%s", o.out);
    op[strcspn(op, "\n")] = '\0';
    assert_non_null(strstr(o.err, "role operator"));
    cu_free(&o);
    assert_int_equal(cu_rc("--token", op, "devices", "list", NULL), 0);
    char model[1300];
    snprintf(model, sizeof model, "%s/models/environmental-sensor.dtdlv2.json", cu_repo());
    cu_iotc(&o, "--token", op, "templates", "import", model, NULL);
    assert_int_equal(o.rc, 5);
    assert_non_null(strstr(o.err, "Forbidden"));
    cu_free(&o);
    assert_int_equal(cu_rc("--token", op, "tokens", "list", NULL), 5);
    cu_iotc(&o, "tokens", "list", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "ops1"));
    assert_non_null(strstr(o.out, "operator"));
    assert_null(strstr(o.out, "SharedAccessSignature")); /* never shown again */
    cu_free(&o);
    /* an existing id: 409 -> 2; a deleted token stops working at once */
    assert_int_equal(cu_rc("tokens", "create", "ops1", NULL), 2);
    assert_int_equal(cu_rc("tokens", "create", "ops2", "--role", "owner", NULL), 1);
    assert_int_equal(cu_rc("tokens", "delete", "ops1", NULL), 0);
    assert_int_equal(cu_rc("--token", op, "devices", "list", NULL), 5);
    assert_int_equal(cu_rc("tokens", "delete", "ops1", NULL), 3);
    /* --json: the same {"id","deleted"} answer as devices delete */
    assert_int_equal(cu_rc("tokens", "create", "ops3", NULL), 0);
    cu_iotc(&o, "--json", "tokens", "delete", "ops3", NULL);
    assert_int_equal(o.rc, 0);
    cJSON *del = cJSON_Parse(o.out);
    assert_non_null(del);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(del, "id")), "ops3");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(del, "deleted")));
    cJSON_Delete(del);
    cu_free(&o);
}

static void test_not_found(void **state)
{
    (void)state;
    static const char *const cases[][6] = {
        {"devices", "show", "nope", NULL},
        {"devices", "credentials", "nope", NULL},
        {"devices", "block", "nope", NULL},
        {"devices", "delete", "nope", NULL},
        {"templates", "show", "dtmi:nope:Nope;1", NULL},
        {"templates", "export", "dtmi:nope:Nope;1", NULL},
        {"templates", "publish", "dtmi:nope:Nope;1", NULL},
        {"properties", "get", "nope", NULL},
        {"properties", "set", "nope", "name=x", NULL},
        {"command", "run", "nope", "blink", NULL},
        {"command", "history", "nope", NULL},
        {"telemetry", "last", "nope", "temp", NULL},
        {"telemetry", "query", "nope", "temp", NULL},
        {"telemetry", "tail", "nope", "--timeout", "5", NULL},
        {"raw", "nope", NULL},
        {"conformance", "nope", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[CU_MAX_ARGS];
        char bin[700];
        struct cu_out o;
        int n = 0;
        snprintf(bin, sizeof bin, "%s/iotc", cu_builddir());
        argv[n++] = bin;
        for (int k = 0; cases[i][k] != NULL; k++)
            argv[n++] = cases[i][k];
        argv[n] = NULL;
        cu_exec(&o, 30000, argv);
        if (o.rc != 3 || strstr(o.err, "NotFound") == NULL)
            fprintf(stderr, "case %zu (%s %s): rc %d\n%s%s\n", i, cases[i][0], cases[i][1], o.rc,
                    o.out, o.err);
        assert_int_equal(o.rc, 3);
        assert_non_null(strstr(o.err, "NotFound")); /* the API's error code, in words */
        assert_non_null(strstr(o.err, "(HTTP 404)"));
        cu_free(&o);
    }
}

static void test_api_errors(void **state)
{
    (void)state;
    struct cu_out o;
    /* validation errors come back with the API's code and message: exit 2 */
    cu_iotc(&o, "devices", "create", "d-bad", "--template", "dtmi:nope:Nope;1", NULL);
    assert_int_equal(o.rc, 2);
    assert_non_null(strstr(o.err, "(HTTP 400)"));
    cu_free(&o);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/bad-model.json", srv.root);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs(
        "{\"@context\":\"dtmi:dtdl:context;2\",\"@id\":\"dtmi:test:Bad;1\",\"@type\":\"Interface\","
        "\"contents\":[{\"@type\":\"Telemetry\",\"name\":\"t\",\"schema\":\"double\"},"
        "{\"@type\":\"Telemetry\",\"name\":\"u\",\"schema\":\"doubel\"}]}",
        f);
    fclose(f);
    cu_iotc(&o, "templates", "import", bad, NULL);
    assert_int_equal(o.rc, 2);
    assert_non_null(strstr(o.err, "InvalidModel"));
    assert_non_null(strstr(o.err, "contents[1]")); /* the JSON path of the problem */
    cu_free(&o);
    /* a file that is not JSON: said with line and column, before any request */
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("{\n  \"@id\": \"x\",\n  oops\n}\n", f);
    fclose(f);
    cu_iotc(&o, "templates", "import", bad, NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "line 3"));
    cu_free(&o);

    /* a server that is not there: 2, in words */
    cu_iotc(&o, "--server", "https://localhost:1", "devices", "list", NULL);
    assert_int_equal(o.rc, 2);
    assert_non_null(strstr(o.err, "cannot reach https://localhost:1"));
    cu_free(&o);
    /* a server whose certificate we do not trust: 2 */
    cu_iotc(&o, "--ca-file", "/etc/ssl/certs/ca-certificates.crt", "devices", "list", NULL);
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
        assert_int_equal(o.rc, 2);
    }
    cu_free(&o);
}

/* --data-dir: server address from ports.json, CA from ca.pem, token from admin-token. */
static void test_data_dir(void **state)
{
    (void)state;
    struct cu_out o;
    char path[400];
    unsetenv("IOTC_SERVER");
    unsetenv("IOTC_TOKEN");
    unsetenv("IOTC_CA_FILE");
    /* the token iotc-central wrote, moved away: no token, 401 */
    char away[420];
    snprintf(path, sizeof path, "%s/admin-token", srv.data_dir);
    snprintf(away, sizeof away, "%s.away", path);
    assert_int_equal(rename(path, away), 0);
    cu_iotc(&o, "--data-dir", srv.data_dir, "devices", "list", NULL);
    assert_int_equal(o.rc, 5);
    cu_free(&o);
    assert_int_equal(rename(away, path), 0);
    assert_int_equal(cu_rc("--data-dir", srv.data_dir, "devices", "create", "dd-1", NULL), 0);
    setenv("IOTC_DATA_DIR", srv.data_dir, 1);
    cu_iotc(&o, "devices", "credentials", "dd-1", NULL);
    assert_int_equal(o.rc, 0);
    char ep[64];
    snprintf(ep, sizeof ep, "DPS endpoint:   localhost:%u", (unsigned)srv.mqtt_port);
    assert_non_null(strstr(o.out, ep));
    assert_non_null(strstr(o.out, srv.id_scope));
    cu_free(&o);
    /* a flag beats the data dir */
    assert_int_equal(cu_rc("--token", "iotc-admin.wrong", "devices", "list", NULL), 5);
    cu_env_for(&srv);
}

/* Lists follow nextLink: 130 devices are more than one default page (100). */
static void test_paging(void **state)
{
    (void)state;
    char target[200];
    for (int i = 0; i < 130; i++) {
        struct capi_resp r;
        snprintf(target, sizeof target, "/api/devices/page-%03d?api-version=2022-07-31", i);
        assert_int_equal(capi_http(srv.ca_path, srv.https_port, srv.admin_token, "PUT", target,
                                   "{\"displayName\":\"p\"}", 10000, &r),
                         0);
        assert_int_equal(r.status, 200);
        capi_resp_free(&r);
    }
    struct cu_out o;
    cu_iotc(&o, "devices", "list", "--json", NULL);
    assert_int_equal(o.rc, 0);
    cJSON *all = cu_list(o.out);
    int pages = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        if (strncmp(cJSON_GetObjectItem(e, "id")->valuestring, "page-", 5) == 0)
            pages++;
    }
    assert_int_equal(pages, 130);
    cJSON_Delete(all);
    cu_free(&o);
    cu_iotc(&o, "devices", "list", "--top", "7", "--json", NULL);
    all = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(all), 7);
    cJSON_Delete(all);
    cu_free(&o);
    cu_iotc(&o, "devices", "list", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "page-129"));
    assert_non_null(strstr(o.out, "ID "));
    cu_free(&o);
}

/* Components (the tutorial's v2 model with Components, tests/data/README.md): component
 * paths for properties and commands, and a queue-if-offline command set through
 * `templates import --views` customizations. */
static void test_components(void **state)
{
    (void)state;
    char model[1400], extra[400];
    snprintf(model, sizeof model, "%s/tests/data/environmental-sensor.components.dtdlv2.json",
             cu_repo());
    if (access(model, R_OK) != 0)
        fail_msg("cannot read %s", model);
    snprintf(extra, sizeof extra, "%s/queue.json", srv.root);
    FILE *f = fopen(extra, "w");
    assert_non_null(f);
    fputs("{\"customizations\":{\"sensor/turnon\":{\"queueIfOffline\":true}}}", f);
    fclose(f);
    struct cu_out o;
    cu_iotc(&o, "templates", "import", model, "--views", extra, "--id", "dtmi:test:Comp;1",
            "--json", NULL);
    assert_int_equal(o.rc, 0);
    cJSON *t = cJSON_Parse(o.out);
    const cJSON *q = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(t, "customizations"), "sensor/turnon"),
        "queueIfOffline");
    assert_true(cJSON_IsTrue(q));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "views")), 2); /* defaults kept */
    cJSON_Delete(t);
    cu_free(&o);
    assert_int_equal(cu_rc("devices", "create", "comp-1", "--template", "dtmi:test:Comp;1", NULL),
                     0);

    cu_iotc(&o, "properties", "set", "comp-1", "--component", "sensor", "brightness=2", "--no-wait",
            NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "brightness = 2: pending"));
    cu_free(&o);
    cu_iotc(&o, "properties", "get", "comp-1", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "sensor/brightness"));
    cu_free(&o);
    cu_iotc(&o, "properties", "get", "comp-1", "--component", "sensor", "--json", NULL);
    t = cJSON_Parse(o.out);
    assert_int_equal(cJSON_GetObjectItem(t, "brightness")->valueint, 2);
    cJSON_Delete(t);
    cu_free(&o);
    /* brightness is not a root property of this template */
    cu_iotc(&o, "properties", "set", "comp-1", "brightness=2", "--no-wait", NULL);
    assert_int_equal(o.rc, 2);
    cu_free(&o);

    /* offline: blink fails (409 -> 2), turnon is queued (exit 0) */
    cu_iotc(&o, "command", "run", "comp-1", "blink", "--component", "sensor", "--request", "2",
            NULL);
    assert_int_equal(o.rc, 2);
    assert_non_null(strstr(o.err, "DeviceNotConnected"));
    cu_free(&o);
    cu_iotc(&o, "command", "run", "comp-1", "turnon", "--component", "sensor", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "queued"));
    cu_free(&o);
    cu_iotc(&o, "command", "history", "comp-1", "turnon", "--component", "sensor", "--json", NULL);
    t = cu_list(o.out);
    assert_int_equal(cJSON_GetArraySize(t), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(t, 0), "status")->valuestring,
                        "queued");
    cJSON_Delete(t);
    cu_free(&o);
}

/* ---------------------------------------------------------------- a scripted MQTT device */

/* Wait for a PUBLISH whose topic starts with @p prefix; copy topic and payload. 0 / -1. */
static int next_publish(struct th_mqtt *m, const char *prefix, char *topic, size_t tsize,
                        char *payload, size_t psize)
{
    int64_t end = cu_now_ms() + 15000;
    while (cu_now_ms() < end) {
        struct iotc_mqtt_packet pkt;
        if (th_mqtt_expect(m, IOTC_MQTT_PUBLISH, &pkt, 15000) != 0)
            return -1;
        const struct iotc_mqtt_publish *p = &pkt.publish;
        snprintf(topic, tsize, "%.*s", (int)p->topic.len, p->topic.ptr);
        snprintf(payload, psize, "%.*s", (int)p->payload.len, (const char *)p->payload.ptr);
        if (strncmp(topic, prefix, strlen(prefix)) == 0)
            return 0;
    }
    return -1;
}

/* The device rejects a property (ac 400) and fails a command (500), and lets another time
 * out: the CLI reports each in words with exit 2, 2 and 4. */
static void test_device_failures(void **state)
{
    (void)state;
    struct cu_out o;
    char key[128], topic[512], payload[2048], resp_topic[600];
    assert_int_equal(cu_rc("devices", "create", "scripted-1", NULL), 0);
    cu_iotc(&o, "devices", "credentials", "scripted-1", "--json", NULL);
    assert_int_equal(o.rc, 0);
    cJSON *cr = cJSON_Parse(o.out);
    snprintf(
        key, sizeof key, "%s",
        cJSON_GetObjectItem(cJSON_GetObjectItem(cr, "symmetricKey"), "primaryKey")->valuestring);
    cJSON_Delete(cr);
    cu_free(&o);
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &srv, "scripted-1", key), 0);
    assert_true(th_mqtt_subscribe(&m, "$iothub/twin/PATCH/properties/desired/#", 0) >= 0);
    assert_true(th_mqtt_subscribe(&m, "$iothub/methods/POST/#", 0) >= 0);

    /* property: pending, then the device says 400 */
    struct cu_bg b = {
        .args = {"properties", "set", "scripted-1", "mode=fast", "--timeout", "20", NULL}};
    assert_int_equal(cu_bg_start(&b), 0);
    assert_int_equal(next_publish(&m, "$iothub/twin/PATCH/properties/desired/", topic, sizeof topic,
                                  payload, sizeof payload),
                     0);
    cJSON *patch = cJSON_Parse(payload);
    const cJSON *ver = cJSON_GetObjectItem(patch, "$version");
    assert_true(cJSON_IsNumber(ver));
    char ack[256];
    snprintf(ack, sizeof ack,
             "{\"mode\":{\"value\":\"fast\",\"ac\":400,\"av\":%d,\"ad\":\"not now\"}}",
             ver->valueint);
    cJSON_Delete(patch);
    assert_true(th_mqtt_publish(&m, "$iothub/twin/PATCH/properties/reported/?$rid=1", ack,
                                strlen(ack), 0) >= 0);
    cu_bg_join(&b);
    if (b.out.rc != 2)
        fprintf(stderr, "rc %d\n%s%s", b.out.rc, b.out.out, b.out.err);
    assert_int_equal(b.out.rc, 2);
    assert_non_null(strstr(b.out.out, "mode = fast: pending"));
    assert_non_null(strstr(b.out.out, "mode: failed (ac 400 \"not now\""));
    assert_non_null(strstr(b.out.err, "rejected mode: ac 400 not now"));
    cu_free(&b.out);

    /* command answered 500 */
    struct cu_bg c = {
        .args = {"command", "run", "scripted-1", "reboot", "--request", "{\"delay\":1}", NULL}};
    assert_int_equal(cu_bg_start(&c), 0);
    assert_int_equal(next_publish(&m, "$iothub/methods/POST/reboot/", topic, sizeof topic, payload,
                                  sizeof payload),
                     0);
    assert_string_equal(payload, "{\"delay\":1}");
    const char *rid = strstr(topic, "$rid=");
    assert_non_null(rid);
    snprintf(resp_topic, sizeof resp_topic, "$iothub/methods/res/500/?$rid=%s", rid + 5);
    const char *body = "{\"reason\":\"busy\"}";
    assert_true(th_mqtt_publish(&m, resp_topic, body, strlen(body), 0) >= 0);
    cu_bg_join(&c);
    assert_int_equal(c.out.rc, 2);
    assert_non_null(strstr(c.out.out, "failed (response code 500)"));
    assert_non_null(strstr(c.out.out, "\"reason\":\"busy\""));
    assert_non_null(strstr(c.out.err, "answered reboot with 500"));
    cu_free(&c.out);

    /* no answer within --response-timeout: 504 -> 4 */
    cu_iotc(&o, "command", "run", "scripted-1", "reboot", "--response-timeout", "5", NULL);
    assert_int_equal(o.rc, 4);
    assert_non_null(strstr(o.err, "DeviceTimeout"));
    cu_free(&o);
    th_mqtt_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_everywhere),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_data_dir),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_components),
        cmocka_unit_test(test_device_failures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
