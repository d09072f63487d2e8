/* Device client configuration: endpoints, connection strings, environment, client creation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <iotc/client.h>
#include <iotc/codec.h>

#include "device/alloc.h"
#include "device/config.h"

struct ep_row {
    const char *in;
    int rc;
    const char *host;
    uint16_t port;
    bool has_port;
};

static const struct ep_row ep_rows[] = {
    {"global.azure-devices-provisioning.net", IOTC_OK, "global.azure-devices-provisioning.net", 0,
     false},
    {"localhost:8883", IOTC_OK, "localhost", 8883, true},
    {"127.0.0.1:1", IOTC_OK, "127.0.0.1", 1, true},
    {"h:65535", IOTC_OK, "h", 65535, true},
    {"[::1]", IOTC_OK, "::1", 0, false},
    {"[::1]:9000", IOTC_OK, "::1", 9000, true},
    {"h:0", IOTC_E_ARG, NULL, 0, false},
    {"h:65536", IOTC_E_ARG, NULL, 0, false},
    {"h:", IOTC_E_ARG, NULL, 0, false},
    {"h:12a", IOTC_E_ARG, NULL, 0, false},
    {":8883", IOTC_E_ARG, NULL, 0, false},
    {"", IOTC_E_ARG, NULL, 0, false},
    {"a:b:c", IOTC_E_ARG, NULL, 0, false},
    {"mqtts://host:8883", IOTC_E_ARG, NULL, 0, false},
    {"[::1]x", IOTC_E_ARG, NULL, 0, false},
    {"[]:80", IOTC_E_ARG, NULL, 0, false},
    {"[::1", IOTC_E_ARG, NULL, 0, false},
    {"h:123456", IOTC_E_ARG, NULL, 0, false},
};

static void test_endpoint_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ep_rows) / sizeof(ep_rows[0]); i++) {
        const struct ep_row *r = &ep_rows[i];
        struct iotc_span host = {NULL, 0};
        uint16_t port = 99;
        bool has = true;
        int rc = iotc__endpoint_parse(iotc_span_from_cstr(r->in), &host, &port, &has);
        if (rc != r->rc)
            fail_msg("row %zu (%s): rc %d want %d", i, r->in, rc, r->rc);
        if (rc != IOTC_OK)
            continue;
        assert_true(iotc_span_eq(host, iotc_span_from_cstr(r->host)));
        assert_int_equal(port, r->port);
        assert_int_equal(has, r->has_port);
    }
    struct iotc_span h;
    uint16_t p;
    bool hp;
    assert_int_equal(iotc__endpoint_parse(IOTC_SPAN_NULL, &h, &p, &hp), IOTC_E_ARG);
}

struct cs_row {
    const char *in;
    int rc;
    const char *host, *dev, *key;
};

static const struct cs_row cs_rows[] = {
    {"HostName=h.azure-devices.net;DeviceId=d1;SharedAccessKey=a2V5", IOTC_OK,
     "h.azure-devices.net", "d1", "a2V5"},
    {"SharedAccessKey=abc==;DeviceId=dev;HostName=localhost:8883", IOTC_OK, "localhost:8883", "dev",
     "abc=="},
    {";;HostName=h;;DeviceId=d;SharedAccessKey=k;Extra=1;", IOTC_OK, "h", "d", "k"},
    {"HostName=h;DeviceId=d", IOTC_E_ARG, NULL, NULL, NULL},
    {"HostName=h;DeviceId=;SharedAccessKey=k", IOTC_E_ARG, NULL, NULL, NULL},
    {"HostName=h;DeviceId=d;SharedAccessKey=k;DeviceId=e", IOTC_E_MALFORMED, NULL, NULL, NULL},
    {"HostName=h;DeviceId;SharedAccessKey=k", IOTC_E_MALFORMED, NULL, NULL, NULL},
    {"=x;HostName=h;DeviceId=d;SharedAccessKey=k", IOTC_E_MALFORMED, NULL, NULL, NULL},
    {"", IOTC_E_ARG, NULL, NULL, NULL},
};

static void test_conn_str_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cs_rows) / sizeof(cs_rows[0]); i++) {
        const struct cs_row *r = &cs_rows[i];
        struct iotc__conn_str cs;
        int rc = iotc__conn_str_parse(iotc_span_from_cstr(r->in), &cs);
        if (rc != r->rc)
            fail_msg("row %zu (%s): rc %d want %d", i, r->in, rc, r->rc);
        if (rc != IOTC_OK)
            continue;
        assert_true(iotc_span_eq(cs.host_name, iotc_span_from_cstr(r->host)));
        assert_true(iotc_span_eq(cs.device_id, iotc_span_from_cstr(r->dev)));
        assert_true(iotc_span_eq(cs.shared_access_key, iotc_span_from_cstr(r->key)));
    }
}

static void clear_env(void)
{
    unsetenv("IOTHUB_DEVICE_SECURITY_TYPE");
    unsetenv("IOTHUB_DEVICE_DPS_ID_SCOPE");
    unsetenv("IOTHUB_DEVICE_DPS_DEVICE_ID");
    unsetenv("IOTHUB_DEVICE_DPS_DEVICE_KEY");
    unsetenv("IOTHUB_DEVICE_DPS_ENDPOINT");
    unsetenv("IOTHUB_DEVICE_CONNECTION_STRING");
    unsetenv("IOTC_GROUP_KEY");
    unsetenv("IOTC_CA_FILE");
    unsetenv("X509_CERT_FILE");
    unsetenv("X509_KEY_FILE");
    unsetenv("PASS_PHRASE");
    unsetenv("AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH");
    unsetenv("AZ_IOT_HUB_HOSTNAME");
    unsetenv("AZ_IOT_HUB_DEVICE_ID");
    unsetenv("IOTHUB_HOSTNAME");
    unsetenv("IOTHUB_DEVICE_ID");
}

static void test_env(void **state)
{
    struct iotc_config cfg;
    (void)state;

    clear_env();
    iotc_config_init(&cfg);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_E_NOTFOUND);

    setenv("IOTHUB_DEVICE_SECURITY_TYPE", "DPS", 1);
    setenv("IOTHUB_DEVICE_DPS_ID_SCOPE", "0ne00000A0A", 1);
    setenv("IOTHUB_DEVICE_DPS_DEVICE_ID", "sample-device-01", 1);
    setenv("IOTHUB_DEVICE_DPS_DEVICE_KEY", "a2V5a2V5a2V5", 1);
    setenv("IOTHUB_DEVICE_DPS_ENDPOINT", "localhost:8883", 1);
    setenv("IOTC_CA_FILE", "ca.pem", 1);
    iotc_config_init(&cfg);
    cfg.model_id = "dtmi:x;1";
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_OK);
    assert_string_equal(cfg.id_scope, "0ne00000A0A");
    assert_string_equal(cfg.registration_id, "sample-device-01");
    assert_string_equal(cfg.device_key, "a2V5a2V5a2V5");
    assert_string_equal(cfg.dps_endpoint, "localhost:8883");
    assert_string_equal(cfg.ca_file, "ca.pem");
    assert_string_equal(cfg.model_id, "dtmi:x;1"); /* untouched */
    assert_null(cfg.connection_string);

    setenv("IOTHUB_DEVICE_SECURITY_TYPE", "connectionString", 1);
    setenv("IOTHUB_DEVICE_CONNECTION_STRING", "HostName=h;DeviceId=d;SharedAccessKey=k", 1);
    iotc_config_init(&cfg);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_OK);
    assert_string_equal(cfg.connection_string, "HostName=h;DeviceId=d;SharedAccessKey=k");
    assert_null(cfg.id_scope);

    setenv("IOTHUB_DEVICE_SECURITY_TYPE", "tpm", 1);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_E_ARG);

    /* x509 without DPS: hub, device id and certificate must all be there */
    setenv("IOTHUB_DEVICE_SECURITY_TYPE", "x509", 1);
    iotc_config_init(&cfg);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_E_NOTFOUND);
    setenv("AZ_IOT_HUB_HOSTNAME", "hub.example", 1);
    setenv("AZ_IOT_HUB_DEVICE_ID", "dev-x", 1);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_E_NOTFOUND);
    setenv("AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH", "store.pem", 1);
    iotc_config_init(&cfg);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_OK);
    assert_string_equal(cfg.hub_host, "hub.example");
    assert_string_equal(cfg.device_id, "dev-x");
    assert_string_equal(cfg.cert_file, "store.pem");
    assert_null(cfg.key_file);
    /* the Python samples' names win over the Embedded C one */
    setenv("X509_CERT_FILE", "cert.pem", 1);
    setenv("X509_KEY_FILE", "key.pem", 1);
    setenv("PASS_PHRASE", "pw", 1);
    iotc_config_init(&cfg);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_OK);
    assert_string_equal(cfg.cert_file, "cert.pem");
    assert_string_equal(cfg.key_file, "key.pem");
    assert_string_equal(cfg.key_pass, "pw");
    /* DPS picks the certificate up too */
    setenv("IOTHUB_DEVICE_SECURITY_TYPE", "DPS", 1);
    iotc_config_init(&cfg);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_OK);
    assert_string_equal(cfg.id_scope, "0ne00000A0A");
    assert_string_equal(cfg.cert_file, "cert.pem");
    unsetenv("X509_CERT_FILE");
    unsetenv("X509_KEY_FILE");
    unsetenv("PASS_PHRASE");
    unsetenv("AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH");

    /* No type: DPS when a scope is set. */
    unsetenv("IOTHUB_DEVICE_SECURITY_TYPE");
    iotc_config_init(&cfg);
    assert_int_equal(iotc_config_from_env(&cfg), IOTC_OK);
    assert_string_equal(cfg.id_scope, "0ne00000A0A");
    clear_env();
}

/* The official group-key vector (docs/PROTOCOL.md §3) and valid keys let a client be created. */
static const char *group_key =
    "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==";

static void test_client_new_validation(void **state)
{
    struct iotc_config cfg;
    struct iotc_client *c = NULL;
    char id[64], host[64];
    (void)state;

    iotc_config_init(&cfg);
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_E_ARG); /* no identity */
    assert_null(c);
    assert_int_equal(iotc_client_new(NULL, &c), IOTC_E_ARG);

    cfg.id_scope = "0ne00000A0A";
    cfg.registration_id = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6";
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_E_ARG); /* no key */
    cfg.group_key = "not base64 !!";
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_E_ARG);
    cfg.group_key = group_key;
    cfg.dps_endpoint = "host:99999";
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_E_ARG);
    cfg.dps_endpoint = "localhost:8883";
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_OK);
    assert_non_null(c);
    assert_int_equal(iotc_client_state(c), IOTC_STATE_IDLE);
    assert_int_equal(iotc_client_get_identity(c, id, sizeof(id), host, sizeof(host)),
                     IOTC_E_NOTFOUND);
    iotc_client_free(c);
    c = NULL;

    iotc_config_init(&cfg);
    cfg.connection_string = "HostName=hub.example;DeviceId=dev-1;SharedAccessKey=a2V5a2V5";
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_OK);
    assert_int_equal(iotc_client_get_identity(c, id, sizeof(id), host, sizeof(host)), IOTC_OK);
    assert_string_equal(id, "dev-1");
    assert_string_equal(host, "hub.example");
    assert_int_equal(iotc_client_get_identity(c, id, 3, NULL, 0), IOTC_E_NOSPACE);
    iotc_client_free(c);
    c = NULL;

    cfg.connection_string =
        "HostName=hub;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5;DeviceId=d";
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_E_ARG); /* a service string */
    iotc_client_free(NULL);
}

/* Every allocation failure during creation is reported, never a crash or a leak (ASan). */
static void test_client_new_alloc_failures(void **state)
{
    struct iotc_config cfg;
    struct iotc_client *c;
    (void)state;

    iotc_config_init(&cfg);
    cfg.id_scope = "0ne00000A0A";
    cfg.registration_id = "dev";
    cfg.group_key = group_key;
    cfg.model_id = "dtmi:com:example:X;1";
    cfg.ca_file = "ca.pem";
    for (unsigned long n = 1; n < 20; n++) {
        c = NULL;
        iotc__alloc_fail_at(n, 0);
        int rc = iotc_client_new(&cfg, &c);
        unsigned long used = iotc__alloc_count();
        iotc__alloc_fail_at(0, 0);
        if (rc == IOTC_OK) {
            assert_non_null(c);
            iotc_client_free(c);
            assert_true(n > used); /* success only once n is past the last allocation */
            break;
        }
        assert_int_equal(rc, IOTC_E_NOMEM);
        assert_null(c);
    }
}

static int dummy_cmd(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                     const char **out_json)
{
    (void)user;
    (void)c;
    (void)cmd;
    (void)out_json;
    return 200;
}

static int dummy_prop(void *user, struct iotc_client *c, const struct iotc_property *p,
                      const char **out_desc)
{
    (void)user;
    (void)c;
    (void)p;
    (void)out_desc;
    return 200;
}

/* Handler registration: add, replace, remove; allocation failures are reported. */
static void test_handler_registration(void **state)
{
    struct iotc_config cfg;
    struct iotc_client *c;
    struct iotc_stats st;
    (void)state;

    iotc_config_init(&cfg);
    cfg.connection_string = "HostName=h;DeviceId=d;SharedAccessKey=a2V5a2V5";
    assert_int_equal(iotc_client_new(&cfg, &c), IOTC_OK);
    assert_int_equal(iotc_client_on_command(c, "blink", dummy_cmd, NULL), IOTC_OK);
    assert_int_equal(iotc_client_on_command(c, "blink", dummy_cmd, &cfg), IOTC_OK); /* replace */
    assert_int_equal(iotc_client_on_command(c, NULL, dummy_cmd, NULL), IOTC_OK);    /* default */
    assert_int_equal(iotc_client_on_command(c, "c1*x", dummy_cmd, NULL), IOTC_OK);
    assert_int_equal(iotc_client_on_command(c, "blink", NULL, NULL), IOTC_OK); /* remove */
    assert_int_equal(iotc_client_on_command(c, "never", NULL, NULL), IOTC_OK); /* no-op */
    assert_int_equal(iotc_client_on_property(c, NULL, "name", dummy_prop, NULL), IOTC_OK);
    assert_int_equal(iotc_client_on_property(c, "comp", NULL, dummy_prop, NULL), IOTC_OK);
    assert_int_equal(iotc_client_on_property(c, "comp", NULL, NULL, NULL), IOTC_OK);

    iotc__alloc_fail_at(1, 1);
    assert_int_equal(iotc_client_on_command(c, "x", dummy_cmd, NULL), IOTC_E_NOMEM);
    assert_int_equal(iotc_client_on_property(c, "k", "p", dummy_prop, NULL), IOTC_E_NOMEM);
    iotc__alloc_fail_at(2, 0); /* the struct succeeds, the name copy fails */
    assert_int_equal(iotc_client_on_command(c, "y", dummy_cmd, NULL), IOTC_E_NOMEM);
    iotc__alloc_fail_at(0, 0);

    /* Not started: the queue takes messages; reported patches are validated. */
    assert_int_equal(iotc_client_send_telemetry(c, "{}", 2, NULL, NULL, NULL, NULL), IOTC_OK);
    assert_int_equal(iotc_client_report(c, "{\"a\":1}", NULL, NULL, NULL), IOTC_OK);
    assert_int_equal(iotc_client_report(c, "1", NULL, NULL, NULL), IOTC_E_ARG);
    assert_int_equal(iotc_client_report(c, NULL, NULL, NULL, NULL), IOTC_E_ARG);
    assert_int_equal(
        iotc_client_ack_property(c, NULL, "name", "\"x\"", 200, 3, NULL, NULL, NULL, NULL),
        IOTC_OK);
    assert_int_equal(
        iotc_client_complete_command(c, NULL, "rundiagnostics", "done", NULL, NULL, NULL), IOTC_OK);
    assert_int_equal(iotc_client_complete_command(c, NULL, NULL, "done", NULL, NULL, NULL),
                     IOTC_E_ARG);
    assert_int_equal(iotc_client_get_stats(c, &st), IOTC_OK);
    assert_int_equal(st.queue_len, 4);
    assert_int_equal(st.telemetry_queued, 1);
    struct iotc_poll_info pi;
    assert_int_equal(iotc_client_poll_info(c, &pi), IOTC_OK);
    assert_int_equal(pi.fd, -1);
    assert_true(pi.wake_fd >= 0);
    /* Stopped before it ever ran: run returns at once, nothing more is accepted. */
    iotc_client_stop(c);
    assert_int_equal(iotc_client_run(c), IOTC_OK);
    assert_int_equal(iotc_client_send_telemetry(c, "{}", 2, NULL, NULL, NULL, NULL), IOTC_E_STATE);
    iotc_client_free(c);
}

static void test_strings(void **state)
{
    (void)state;
    for (int s = IOTC_STATE_IDLE; s <= IOTC_STATE_STOPPED; s++)
        assert_string_not_equal(iotc_state_str((enum iotc_state)s), "unknown");
    for (int r = IOTC_REASON_NONE; r <= IOTC_REASON_CONFIG; r++)
        assert_string_not_equal(iotc_reason_str((enum iotc_reason)r), "unknown");
    assert_string_equal(iotc_state_str((enum iotc_state)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_table),
        cmocka_unit_test(test_conn_str_table),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_client_new_validation),
        cmocka_unit_test(test_client_new_alloc_failures),
        cmocka_unit_test(test_handler_registration),
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
