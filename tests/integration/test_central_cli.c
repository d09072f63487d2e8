/*
 * test_central_cli.c - iotc-central's commands (init, show, --help), the files init creates
 * (CA, server certificate, keys, modes), and serving limits: CONNACK 3 above
 * --max-connections, the explicit plain-TCP port, connections closed when the device is
 * deleted or disabled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../lib/harness.h"
#include "iotc/codec.h"

static char root[256];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/iotc-cli-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    if (getenv("IOTC_KEEP_TEST_DIRS") == NULL && strstr(root, "iotc-cli-test.") != NULL) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
    }
    return 0;
}

/* Run the binary with @p args; capture stdout into @p out. Returns the exit status. */
static int run(const char *args, char *out, size_t size)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", th_central_bin(), args);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return c;
}

static void test_init_show(void **state)
{
    (void)state;
    char out[8192], args[800], path[400];
    snprintf(args, sizeof args,
             "init --data-dir '%s/app' --hub-host myhub.local --dns-name extra.example", root);
    assert_int_equal(run(args, out, sizeof out), 0);
    /* the admin token is in DIR/admin-token, never on stdout */
    assert_non_null(strstr(out, "admin-token-file "));
    assert_null(strstr(out, "iotc-admin."));
    assert_non_null(strstr(out, "ID scope:"));
    assert_non_null(strstr(out, "SharedAccessKeyName=iothubowner"));

    /* Files and modes. */
    struct stat st;
    snprintf(path, sizeof path, "%s/app/server-key.pem", root);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/app/admin-token", root);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/app/app.json", root);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
    assert_null(strstr(out, "\"adminToken\""));

    /* The CA is a CA, the server certificate chains to it and names every host. */
    snprintf(path, sizeof path, "%s/app/ca.pem", root);
    X509 *ca = load_cert(path);
    snprintf(path, sizeof path, "%s/app/server.pem", root);
    X509 *srv = load_cert(path);
    assert_non_null(ca);
    assert_non_null(srv);
    assert_int_equal(X509_check_ca(ca), 1);
    assert_int_equal(X509_check_issued(ca, srv), X509_V_OK);
    EVP_PKEY *pub = X509_get0_pubkey(ca);
    assert_int_equal(X509_verify(srv, pub), 1);
    assert_int_equal(EVP_PKEY_base_id(X509_get0_pubkey(srv)), EVP_PKEY_EC);
    static const char *const hosts[] = {"localhost", "myhub.local", "extra.example"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(X509_check_host(srv, hosts[i], 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(srv, "::1", 0), 1);
    assert_int_equal(X509_check_host(srv, "other.example", 0, 0, NULL), 0);
    X509_free(ca);
    X509_free(srv);

    /* show --json: the facts a device needs. */
    snprintf(args, sizeof args, "show --data-dir '%s/app' --json", root);
    assert_int_equal(run(args, out, sizeof out), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const char *scope = cJSON_GetObjectItemCaseSensitive(o, "idScope")->valuestring;
    assert_int_equal(strlen(scope), 11);
    assert_memory_equal(scope, "0ne", 3);
    assert_int_equal(strspn(scope + 3, "0123456789ABCDEF"), 8);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "dpsEndpoint")->valuestring,
                        "myhub.local:8883");
    cJSON *grp = cJSON_GetObjectItemCaseSensitive(o, "enrollmentGroup");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(grp, "id")->valuestring,
                        "SAS-IoT-Devices");
    const char *keys[] = {"primaryKey", "secondaryKey"};
    for (int i = 0; i < 2; i++) {
        unsigned char raw[128];
        size_t n;
        const char *k = cJSON_GetObjectItemCaseSensitive(grp, keys[i])->valuestring;
        assert_int_equal(iotc_base64_decode(iotc_span_from_cstr(k), raw, sizeof raw, &n), 0);
        assert_int_equal(n, 64);
    }
    const char *cs = cJSON_GetObjectItemCaseSensitive(o, "serviceConnectionString")->valuestring;
    assert_int_equal(strncmp(cs, "HostName=myhub.local", 20), 0);
    assert_non_null(strstr(cs, ";SharedAccessKeyName=iothubowner;SharedAccessKey="));
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(o, "caFile")->valuestring, "ca.pem"));
    cJSON_Delete(o);

    /* init again keeps the application and prints no new token. */
    snprintf(args, sizeof args, "init --data-dir '%s/app'", root);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_null(strstr(out, "admin-token"));
    assert_non_null(strstr(out, "already exists"));

    /* show without an application, unknown commands and bad flags fail: usage errors, exit 1
     * as in every program (docs/CLI.md, "Exit codes"). */
    snprintf(args, sizeof args, "show --data-dir '%s/none'", root);
    assert_int_equal(run(args, out, sizeof out), 1);
    assert_int_equal(run("frobnicate --data-dir x", out, sizeof out), 1);
    assert_int_equal(run("serve --data-dir x --mqtt-port 70000", out, sizeof out), 1);
    assert_int_equal(run("--version", out, sizeof out), 0);
    assert_true(strncmp(out, "iotc-central ", 13) == 0);
    assert_int_equal(run("--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--plain-mqtt-port"));
}

static const char KEY[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

static int create_device(const struct th_central *c, const char *id)
{
    return th_put_device(c, id, KEY, KEY, true);
}

static void test_limits_plain_and_kicks(void **state)
{
    (void)state;
    struct th_central c;
    const char *const extra[] = {"--max-connections", "2", "--plain-mqtt-port", "0", NULL};
    assert_int_equal(th_central_start(&c, extra), 0);
    assert_true(c.plain_port != 0);
    const char *ids[] = {"lim-1", "lim-2", "lim-3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(create_device(&c, ids[i]), 200);

    struct th_mqtt a, b, d;
    assert_int_equal(th_hub_connect(&a, &c, "lim-1", KEY), 0);
    assert_int_equal(th_hub_connect(&b, &c, "lim-2", KEY), 0);
    assert_int_equal(th_hub_connect(&d, &c, "lim-3", KEY), 3); /* server unavailable */
    th_mqtt_close(&d);
    assert_true(th_central_log_contains(&c, "server overloaded (CONNACK 3)", 2000));

    /* Deleting a connected device closes its connection; disabling too. */
    struct th_http_response r;
    assert_int_equal(th_https(&c, "DELETE", "/devices/lim-1?api-version=2021-04-12",
                              "If-Match: \"*\"\r\n", NULL, true, 5000, &r),
                     0);
    assert_int_equal(r.status / 100, 2);
    free(r.body);
    assert_true(th_mqtt_wait_closed(&a, 3000));
    th_mqtt_close(&a);
    assert_true(th_central_log_contains(&c, "disconnect lim-1", 2000));
    char body[512];
    snprintf(body, sizeof body,
             "{\"deviceId\":\"lim-2\",\"status\":\"disabled\",\"authentication\":{\"type\":"
             "\"sas\",\"symmetricKey\":{\"primaryKey\":\"%s\",\"secondaryKey\":\"%s\"}}}",
             KEY, KEY);
    assert_int_equal(th_https(&c, "PUT", "/devices/lim-2?api-version=2021-04-12",
                              "If-Match: \"*\"\r\n", body, true, 5000, &r),
                     0);
    assert_int_equal(r.status, 200);
    free(r.body);
    assert_true(th_mqtt_wait_closed(&b, 3000));
    th_mqtt_close(&b);

    /* Plain TCP MQTT (explicit flag only) speaks the same protocol. */
    char user[300], token[600];
    snprintf(user, sizeof user, "%s/lim-3/?api-version=2021-04-12", c.hub_host);
    assert_int_equal(th_hub_token(&c, "lim-3", KEY, th_now() + 600, token, sizeof token), 0);
    assert_int_equal(th_mqtt_open(&d, c.plain_port, NULL), 0);
    assert_int_equal(th_mqtt_connect(&d, "lim-3", user, token, 30, true), 0);
    int pid = th_mqtt_publish(&d, "devices/lim-3/messages/events/", "{}", 2, 1);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&d, IOTC_MQTT_PUBACK, &p, 5000), 0);
    assert_int_equal(p.packet_id, pid);
    th_mqtt_close(&d);
    assert_int_equal(th_central_stop(&c), 0);
    th_central_cleanup(&c);
}

/* A store backlog over its cap pauses publishers instead of growing memory; nothing is lost
 * and durable acks still come, in order. */
static void test_backpressure(void **state)
{
    (void)state;
    struct th_central c;
    const char *const extra[] = {"--max-store-backlog", "64", NULL};
    assert_int_equal(th_central_start(&c, extra), 0);
    assert_int_equal(create_device(&c, "bp-1"), 200);
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &c, "bp-1", KEY), 0);
    const int n0 = 3000, n1 = 2500;
    for (int i = 0; i < n0; i++)
        assert_true(th_mqtt_publish(&m, "devices/bp-1/messages/events/", "{\"q\":0}", 7, 0) == 0);
    int last = 0;
    for (int i = 0; i < n1; i++) {
        last = th_mqtt_publish(&m, "devices/bp-1/messages/events/", "{\"q\":1}", 7, 1);
        assert_true(last > 0);
    }
    struct iotc_mqtt_packet p;
    int prev = 0;
    for (int i = 0; i < n1; i++) {
        assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 10000), 0);
        assert_true(p.packet_id > prev); /* in order */
        prev = p.packet_id;
    }
    assert_int_equal(prev, last);
    th_mqtt_close(&m);
    assert_int_equal(th_count_telemetry(&c, "bp-1"), n0 + n1);
    assert_true(th_central_log_contains(&c, "throttling publishers", 1000));
    assert_true(th_central_log_contains(&c, "store backlog drained", 1000));
    assert_int_equal(th_central_stop(&c), 0);
    th_central_cleanup(&c);
}

/* Bursts that end while reading is throttled, then silence: the server reads TLS records
 * ahead, so when a pause ends the rest of a burst may sit inside OpenSSL with nothing left in
 * the socket and no more bytes coming (the device now waits for its PUBACKs); resuming reads
 * them without waiting for the socket. Where a pause falls varies, hence many rounds; every
 * message must be acknowledged, in order, and stored. */
static void test_backpressure_burst_then_silence(void **state)
{
    (void)state;
    struct th_central c;
    const char *const extra[] = {"--max-store-backlog", "16", NULL};
    assert_int_equal(th_central_start(&c, extra), 0);
    assert_int_equal(create_device(&c, "bp-2"), 200);
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &c, "bp-2", KEY), 0);
    const int rounds = 20, burst = 1000;
    char pad[200];
    memset(pad, 'x', sizeof pad - 1);
    pad[0] = '"';
    pad[sizeof pad - 2] = '"';
    pad[sizeof pad - 1] = '\0';
    for (int r = 0; r < rounds; r++) {
        int first = 0, last = 0;
        for (int i = 0; i < burst; i++) {
            last = th_mqtt_publish(&m, "devices/bp-2/messages/events/", pad, sizeof pad - 1, 1);
            assert_true(last > 0);
            if (i == 0)
                first = last;
        }
        struct iotc_mqtt_packet p;
        for (int i = 0; i < burst; i++) {
            assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 10000), 0);
            if (i == 0)
                assert_int_equal(p.packet_id, first);
        }
        assert_int_equal(p.packet_id, last);
    }
    th_mqtt_close(&m);
    assert_int_equal(th_count_telemetry(&c, "bp-2"), rounds * burst);
    assert_true(th_central_log_contains(&c, "throttling publishers", 1000));
    assert_int_equal(th_central_stop(&c), 0);
    th_central_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_show),
        cmocka_unit_test(test_limits_plain_and_kicks),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_backpressure_burst_then_silence),
    };
    return cmocka_run_group_tests_name("central_cli", tests, setup, teardown);
}
