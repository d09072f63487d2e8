/*
 * test_cli_x509.c - the X.509 flow with the `iotc` CLI against a real iotc-central (docs/CLI.md
 * "X.509"): an X.509 enrollment group, its CA uploaded, a verification code, the proof made by
 * `iotc-central certs verify-code` and verified; a device given a client certificate
 * (`devices attestation set --cert`), shown with its thumbprint by `attestation show` and
 * `credentials`, then connecting to the hub with that certificate; `--ca` and `--sas`; usage
 * errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "central/setup/pki.h"
#include "cli_util.h"

static struct th_central srv;
static char dir[400];

static int setup(void **state)
{
    (void)state;
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    cu_env_for(&srv);
    snprintf(dir, sizeof dir, "%s/certs", srv.root);
    return mkdir(dir, 0700);
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

/* `iotc-central certs ARGS...` must succeed. */
static void certs(const char *a, const char *b, const char *c, const char *d, const char *e,
                  const char *f, const char *g)
{
    char bin[700];
    struct cu_out o;
    snprintf(bin, sizeof bin, "%s/iotc-central", cu_builddir());
    const char *argv[] = {bin, "certs", a, b, c, d, e, f, g, NULL};
    if (cu_exec(&o, 30000, argv) != 0)
        fail_msg("certs %s: %s%s", a, o.out, o.err);
    cu_free(&o);
}

static void test_group_certificate(void **state)
{
    (void)state;
    struct cu_out o;
    char root[500], root_pem[600], proof_dir[500], proof[600], s1[41], s256[65];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(root_pem, sizeof root_pem, "%s/root.pem", root);
    snprintf(proof_dir, sizeof proof_dir, "%s/proof", dir);
    snprintf(proof, sizeof proof, "%s/verification.pem", proof_dir);
    certs("root", "--out", root, NULL, NULL, NULL, NULL);
    assert_int_equal(pki_thumbprints(root_pem, s1, s256), 0);
    /* its help: the commands, then the options on lines of their own */
    char bin[700];
    snprintf(bin, sizeof bin, "%s/iotc-central", cu_builddir());
    const char *help[] = {bin, "certs", "--help", NULL};
    assert_int_equal(cu_exec(&o, 30000, help), 0);
    assert_non_null(strstr(o.out, "SHA-1 and SHA-256 thumbprints\n\noptions:\n  --out DIR"));
    cu_free(&o);

    cu_expect(&o, 1, "enrollment-groups", "create", "fleet", "--attestation", "tpm", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "enrollment-groups", "create", "fleet", "--attestation", "x509",
              "--primary-key", "a", "--secondary-key", "b", NULL);
    cu_free(&o);
    cu_expect(&o, 0, "enrollment-groups", "create", "fleet", "--attestation", "x509", NULL);
    assert_non_null(strstr(o.out, "Attestation:   x509"));
    cu_free(&o);

    /* usage errors: unknown action, missing file, bad entry */
    cu_expect(&o, 1, "enrollment-groups", "certificate", "upload", "fleet", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "enrollment-groups", "certificate", "set", "fleet", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "enrollment-groups", "certificate", "show", "fleet", "--entry", "third", NULL);
    cu_free(&o);
    cu_expect(&o, 3, "enrollment-groups", "certificate", "show", "fleet", NULL);
    cu_free(&o);

    cu_expect(&o, 0, "enrollment-groups", "certificate", "set", "fleet", root_pem, NULL);
    assert_non_null(strstr(o.out, "unverified"));
    assert_non_null(strstr(o.out, s1));
    cu_free(&o);
    /* a proof whose CN is not the code handed out is refused */
    cu_expect(&o, 0, "enrollment-groups", "certificate", "verify-code", "fleet", NULL);
    char code[64];
    snprintf(code, sizeof code, "%.*s", (int)strcspn(o.out, "\n"), o.out);
    assert_int_equal(strlen(code), 32);
    cu_free(&o);
    certs("verify-code", "--ca", root, "--code", "0123456789ABCDEF0123456789ABCDEF", "--out",
          proof_dir);
    cu_expect(&o, 2, "enrollment-groups", "certificate", "verify", "fleet", proof, NULL);
    assert_non_null(strstr(o.err, "CN is not the verification code"));
    cu_free(&o);
    certs("verify-code", "--ca", root, "--code", code, "--out", proof_dir);
    cu_expect(&o, 0, "enrollment-groups", "certificate", "verify", "fleet", proof, NULL);
    cu_free(&o);
    cu_expect(&o, 0, "enrollment-groups", "certificate", "show", "fleet", NULL);
    assert_non_null(strstr(o.out, "verified "));
    assert_null(strstr(o.out, "unverified"));
    cu_free(&o);
    cu_expect(&o, 0, "enrollment-groups", "show", "fleet", NULL);
    assert_non_null(strstr(o.out, "Primary CA:    verified"));
    assert_non_null(strstr(o.out, "Secondary CA:  (none)"));
    cu_free(&o);
    cu_expect(&o, 0, "--json", "enrollment-groups", "show", "fleet", NULL);
    cJSON *j = cJSON_Parse(o.out);
    assert_string_equal(
        capi_jstr(j, "attestation.x509.signingCertificates.primary.info.sha1Thumbprint"), s1);
    cJSON_Delete(j);
    cu_free(&o);
    cu_expect(&o, 0, "enrollment-groups", "certificate", "delete", "fleet", NULL);
    assert_non_null(strstr(o.out, "CA certificate primary of enrollment group fleet"));
    cu_free(&o);
    cu_expect(&o, 3, "enrollment-groups", "certificate", "show", "fleet", NULL);
    cu_free(&o);
}

static void test_device_attestation(void **state)
{
    (void)state;
    struct cu_out o;
    char pem[600], key[600], s1[41], s256[65], user[300];
    certs("device", "--id", "cli-x1", "--out", dir, NULL, NULL);
    snprintf(pem, sizeof pem, "%s/cli-x1.pem", dir);
    snprintf(key, sizeof key, "%s/cli-x1-key.pem", dir);
    assert_int_equal(pki_thumbprints(pem, s1, s256), 0);
    cu_expect(&o, 0, "devices", "create", "cli-x1", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "devices", "attestation", "set", "cli-x1", NULL);
    cu_free(&o);
    cu_expect(&o, 1, "devices", "attestation", "set", "cli-x1", "--ca", "--sas", NULL);
    cu_free(&o);
    cu_expect(&o, 0, "devices", "attestation", "set", "cli-x1", "--cert", pem, NULL);
    assert_non_null(strstr(o.out, "Attestation:  x509"));
    assert_non_null(strstr(o.out, s1));
    cu_free(&o);
    cu_expect(&o, 0, "devices", "attestation", "show", "cli-x1", NULL);
    assert_non_null(strstr(o.out, s1));
    cu_free(&o);
    cu_expect(&o, 0, "devices", "credentials", "cli-x1", NULL);
    assert_non_null(strstr(o.out, "ID scope:       "));
    assert_non_null(strstr(o.out, srv.id_scope));
    assert_non_null(strstr(o.out, s1));
    assert_null(strstr(o.out, "Primary key"));
    cu_free(&o);

    /* the device connects to the hub with that certificate */
    struct th_mqtt m;
    snprintf(user, sizeof user, "%s/cli-x1/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(th_mqtt_open_cert(&m, srv.mqtt_port, srv.ca_path, pem, key), 0);
    assert_int_equal(th_mqtt_connect(&m, "cli-x1", user, NULL, 60, true), 0);
    th_mqtt_close(&m);

    /* --ca: certificateAuthority (no thumbprints); --sas: keys again */
    cu_expect(&o, 0, "devices", "attestation", "set", "cli-x1", "--ca", NULL);
    assert_non_null(strstr(o.out, "chaining to a verified CA"));
    cu_free(&o);
    cu_expect(&o, 0, "devices", "attestation", "set", "cli-x1", "--sas", NULL);
    assert_non_null(strstr(o.out, "symmetricKey"));
    cu_free(&o);
    cu_expect(&o, 0, "devices", "credentials", "cli-x1", NULL);
    assert_non_null(strstr(o.out, "Primary key"));
    cu_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_certificate),
        cmocka_unit_test(test_device_attestation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
