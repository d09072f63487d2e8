/*
 * test_device_x509.c - libiotc and environmental-sensor with X.509 certificates against
 * iotc-central on loopback: DPS individual enrollment with the Python samples' variables
 * (X509_CERT_FILE, X509_KEY_FILE, PASS_PHRASE on an encrypted key), a direct hub connection
 * with the Embedded C samples' AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH (certificate and key in
 * one file), the command-line options, and a certificate the hub does not know.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../lib/harness.h"
#include "central/setup/pki.h"

static struct th_central srv;
static char sensor_bin[600];
static char dir[300];

static void find_sensor(void)
{
    const char *b = getenv("IOTC_BUILDDIR");
    if (b != NULL && b[0] != '\0') {
        snprintf(sensor_bin, sizeof sensor_bin, "%s/environmental-sensor", b);
        return;
    }
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(sensor_bin, sizeof sensor_bin, "%s/../environmental-sensor", self);
}

static void cert_paths(const char *name, char *cert, char *key, size_t size)
{
    snprintf(cert, size, "%s/%s.pem", dir, name);
    snprintf(key, size, "%s/%s-key.pem", dir, name);
}

/* A self-signed device certificate with CN @p id, registered as selfSigned by its SHA-1. */
static void make_device(const char *id, bool register_it)
{
    char cert[400], key[400], sha1[41], sha256[65], body[400], path[200];
    cert_paths(id, cert, key, sizeof cert);
    struct pki_req req = {
        .cert_path = cert, .key_path = key, .cn = id, .start_s = -3600, .days = 30};
    assert_int_equal(pki_issue(&req), 0);
    assert_int_equal(pki_thumbprints(cert, sha1, sha256), 0);
    if (!register_it)
        return;
    snprintf(body, sizeof body,
             "{\"deviceId\":\"%s\",\"authentication\":{\"type\":\"selfSigned\","
             "\"x509Thumbprint\":{\"primaryThumbprint\":\"%s\"}}}",
             id, sha1);
    snprintf(path, sizeof path, "/devices/%s?api-version=2021-04-12", id);
    struct th_http_response r;
    assert_int_equal(th_https(&srv, "PUT", path, NULL, body, true, 10000, &r), 0);
    free(r.body);
    assert_int_equal(r.status, 200);
}

/* Run the sensor with @p env ("NAME=value", NULL-terminated) and @p args; its exit code, or
 * -1 when it did not end within @p timeout_ms (then killed). Output goes to @p log_name. */
static int run_sensor(const char *log_name, const char *const *env, const char *const *args,
                      int timeout_ms)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = sensor_bin;
    for (int i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char log[400];
    snprintf(log, sizeof log, "%s/%s", srv.root, log_name);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        static const char *const clear[] = {"IOTHUB_DEVICE_SECURITY_TYPE",
                                            "IOTHUB_DEVICE_DPS_ID_SCOPE",
                                            "IOTHUB_DEVICE_CONNECTION_STRING",
                                            "IOTHUB_DEVICE_DPS_DEVICE_KEY",
                                            "X509_CERT_FILE",
                                            "X509_KEY_FILE",
                                            "PASS_PHRASE",
                                            "AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH",
                                            "IOTC_GROUP_KEY"};
        for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++)
            unsetenv(clear[i]);
        for (int i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    char cmd[500];
    snprintf(cmd, sizeof cmd, "tail -n 20 %s >&2", log);
    (void)system(cmd);
    return -1;
}

static int setup(void **state)
{
    (void)state;
    find_sensor();
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/certs", srv.root);
    return mkdir(dir, 0700);
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

/* DPS with the Python samples' variables and an encrypted key with its pass phrase. */
static void test_dps_env_encrypted_key(void **state)
{
    (void)state;
    char cert[400], key[400], enc[400], ep[64];
    make_device("x509-dps-1", true);
    cert_paths("x509-dps-1", cert, key, sizeof cert);
    snprintf(enc, sizeof enc, "%s/x509-dps-1-enc.pem", dir);
    FILE *f = fopen(key, "r");
    assert_non_null(f);
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(pkey);
    f = fopen(enc, "w");
    assert_non_null(f);
    assert_int_equal(
        PEM_write_PrivateKey(f, pkey, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"open sesame"), 1);
    fclose(f);
    EVP_PKEY_free(pkey);

    snprintf(ep, sizeof ep, "localhost:%u", (unsigned)srv.mqtt_port);
    char e[8][500];
    snprintf(e[0], sizeof e[0], "IOTHUB_DEVICE_SECURITY_TYPE=DPS");
    snprintf(e[1], sizeof e[1], "IOTHUB_DEVICE_DPS_ID_SCOPE=%s", srv.id_scope);
    snprintf(e[2], sizeof e[2], "IOTHUB_DEVICE_DPS_DEVICE_ID=x509-dps-1");
    snprintf(e[3], sizeof e[3], "IOTHUB_DEVICE_DPS_ENDPOINT=%s", ep);
    snprintf(e[4], sizeof e[4], "IOTC_CA_FILE=%s", srv.ca_path);
    snprintf(e[5], sizeof e[5], "X509_CERT_FILE=%s", cert);
    snprintf(e[6], sizeof e[6], "X509_KEY_FILE=%s", enc);
    snprintf(e[7], sizeof e[7], "PASS_PHRASE=open sesame");
    const char *env[] = {e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], NULL};
    const char *args[] = {"--interval", "0.1", "--count", "2", "-v", NULL};
    assert_int_equal(run_sensor("dps-1.log", env, args, 30000), 0);
    assert_int_equal(th_count_telemetry(&srv, "x509-dps-1"), 2);
    assert_true(th_central_log_contains(&srv, "dps: registration x509-dps-1 -> assigned", 1000));
}

/* A hub without DPS, the Embedded C samples' one-file certificate + key. */
static void test_hub_env_one_file(void **state)
{
    (void)state;
    char cert[400], key[400], both[400], hub[300];
    make_device("x509-hub-1", true);
    cert_paths("x509-hub-1", cert, key, sizeof cert);
    snprintf(both, sizeof both, "%s/x509-hub-1-store.pem", dir);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", cert, key, both);
    assert_int_equal(system(cmd), 0);
    snprintf(hub, sizeof hub, "%s:%u", srv.hub_host, (unsigned)srv.mqtt_port);
    char e[5][500];
    snprintf(e[0], sizeof e[0], "IOTHUB_DEVICE_SECURITY_TYPE=x509");
    snprintf(e[1], sizeof e[1], "AZ_IOT_HUB_HOSTNAME=%s", hub);
    snprintf(e[2], sizeof e[2], "AZ_IOT_HUB_DEVICE_ID=x509-hub-1");
    snprintf(e[3], sizeof e[3], "AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH=%s", both);
    snprintf(e[4], sizeof e[4], "IOTC_CA_FILE=%s", srv.ca_path);
    const char *env[] = {e[0], e[1], e[2], e[3], e[4], NULL};
    const char *args[] = {"--interval", "0.1", "--count", "3", NULL};
    assert_int_equal(run_sensor("hub-1.log", env, args, 30000), 0);
    assert_int_equal(th_count_telemetry(&srv, "x509-hub-1"), 3);
}

/* The command-line options: DPS with --cert-file/--key-file; then a certificate nobody
 * registered is refused (the sensor keeps retrying: it is killed, nothing is stored). */
static void test_options_and_refusal(void **state)
{
    (void)state;
    char cert[400], key[400], ep[64];
    make_device("x509-opt-1", true);
    cert_paths("x509-opt-1", cert, key, sizeof cert);
    snprintf(ep, sizeof ep, "localhost:%u", (unsigned)srv.mqtt_port);
    const char *args[] = {
        "--id-scope", srv.id_scope, "--device-id", "x509-opt-1",  "--dps-endpoint",
        ep,           "--ca-file",  srv.ca_path,   "--cert-file", cert,
        "--key-file", key,          "--interval",  "0.1",         "--count",
        "2",          NULL};
    assert_int_equal(run_sensor("opt-1.log", NULL, args, 30000), 0);
    assert_int_equal(th_count_telemetry(&srv, "x509-opt-1"), 2);

    make_device("x509-unknown", false);
    cert_paths("x509-unknown", cert, key, sizeof cert);
    const char *args2[] = {
        "--id-scope", srv.id_scope, "--device-id", "x509-unknown", "--dps-endpoint",
        ep,           "--ca-file",  srv.ca_path,   "--cert-file",  cert,
        "--key-file", key,          "--interval",  "0.1",          "--count",
        "1",          NULL};
    assert_int_equal(run_sensor("unknown.log", NULL, args2, 3000), -1);
    assert_true(
        th_central_log_contains(&srv, "no X.509 enrollment for this registration id", 1000));
    assert_int_equal(th_count_telemetry(&srv, "x509-unknown"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dps_env_encrypted_key),
        cmocka_unit_test(test_hub_env_one_file),
        cmocka_unit_test(test_options_and_refusal),
    };
    return cmocka_run_group_tests_name("device_x509", tests, setup, teardown);
}
