/*
 * test_central_x509.c - X.509 device authentication end to end on loopback (docs/DEVICE_PLANE.md
 * "X.509 devices"): real TLS client certificates against iotc-central's MQTT/TLS listener,
 * identities made through the service API and IoT Central's attestation API, CA certificates
 * with proof of possession, DPS individual enrollment with a certificate, every refusal with
 * its reason in the server log, and a SAS device beside the X.509 ones.
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

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "../lib/harness.h"
#include "central/setup/pki.h"
#include "iotc/codec.h"

static struct th_central srv;
static char dir[300]; /* the certificates (inside srv.root) */

/* ---------------------------------------------------------------- certificates */

static void path_of(char *out, size_t size, const char *name, const char *suffix)
{
    snprintf(out, size, "%s/%s%s", dir, name, suffix);
}

/* @p name.pem / @p name-key.pem with CN @p cn, signed by @p issuer's (NULL: self-signed). */
static void issue(const char *name, const char *cn, const char *issuer, bool ca, long start_s,
                  long days)
{
    char cert[400], key[400], icert[400], ikey[400];
    path_of(cert, sizeof cert, name, ".pem");
    path_of(key, sizeof key, name, "-key.pem");
    path_of(icert, sizeof icert, issuer ? issuer : "", ".pem");
    path_of(ikey, sizeof ikey, issuer ? issuer : "", "-key.pem");
    struct pki_req req = {.cert_path = cert,
                          .key_path = key,
                          .cn = cn,
                          .issuer_cert = issuer ? icert : NULL,
                          .issuer_key = issuer ? ikey : NULL,
                          .start_s = start_s,
                          .days = days,
                          .ca = ca};
    assert_int_equal(pki_issue(&req), 0);
}

static void thumbs(const char *name, char sha1[41], char sha256[65])
{
    char cert[400];
    path_of(cert, sizeof cert, name, ".pem");
    assert_int_equal(pki_thumbprints(cert, sha1, sha256), 0);
}

/* The whole file as a NUL-terminated string (caller frees). */
static char *slurp(const char *name)
{
    char path[400];
    path_of(path, sizeof path, name, ".pem");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 16384);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 16383, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The certificate @p pem as JSON string content (newlines escaped). */
static void json_escape(const char *pem, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = pem; *p && o + 3 < size; p++) {
        if (*p == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* ---------------------------------------------------------------- server calls */

static int service(const char *method, const char *path, const char *body, char **out_body)
{
    struct th_http_response r;
    char full[400];
    snprintf(full, sizeof full, "%s%sapi-version=2021-04-12", path, strchr(path, '?') ? "&" : "?");
    if (th_https(&srv, method, full, NULL, body, true, 10000, &r) != 0)
        return -1;
    if (out_body)
        *out_body = r.body;
    else
        free(r.body);
    return r.status;
}

static int put_selfsigned(const char *id, const char *t1, const char *t2)
{
    char body[600], path[200];
    snprintf(body, sizeof body,
             "{\"deviceId\":\"%s\",\"authentication\":{\"x509Thumbprint\":"
             "{\"primaryThumbprint\":%s%s%s,\"secondaryThumbprint\":%s%s%s}}}",
             id, t1 ? "\"" : "", t1 ? t1 : "null", t1 ? "\"" : "", t2 ? "\"" : "", t2 ? t2 : "null",
             t2 ? "\"" : "");
    snprintf(path, sizeof path, "/devices/%s", id);
    return service("PUT", path, body, NULL);
}

static int put_ca_device(const char *id)
{
    char body[300], path[200];
    snprintf(body, sizeof body,
             "{\"deviceId\":\"%s\",\"authentication\":{\"type\":\"certificateAuthority\"}}", id);
    snprintf(path, sizeof path, "/devices/%s", id);
    return service("PUT", path, body, NULL);
}

/* Open TLS with certificate @p name and CONNECT to the hub as @p id without a password.
 * Returns the CONNACK code (m stays open when 0). */
static int hub_cert_connect(struct th_mqtt *m, const char *name, const char *id)
{
    char cert[400], key[400], user[400];
    path_of(cert, sizeof cert, name, ".pem");
    path_of(key, sizeof key, name, "-key.pem");
    snprintf(user, sizeof user, "%s/%s/?api-version=2021-04-12", srv.hub_host, id);
    if (th_mqtt_open_cert(m, srv.mqtt_port, srv.ca_path, cert, key) != 0)
        return -100;
    int rc = th_mqtt_connect(m, id, user, NULL, 60, true);
    if (rc != 0)
        th_mqtt_close(m);
    return rc;
}

/* CONNACK of a certificate CONNECT that must be refused, and the reason in the log. */
static void expect_refused(const char *name, const char *id, int code, const char *reason)
{
    struct th_mqtt m;
    int rc = hub_cert_connect(&m, name, id);
    if (rc != code)
        fail_msg("%s as %s: CONNACK %d, expected %d", name, id, rc, code);
    char needle[300];
    snprintf(needle, sizeof needle, "authentication failed for '%s'", id);
    assert_true(th_central_log_contains(&srv, needle, 3000));
    if (!th_central_log_contains(&srv, reason, 3000))
        fail_msg("%s as %s: the log does not say '%s'", name, id, reason);
}

/* A QoS 1 telemetry message through an open session, acknowledged. */
static void send_telemetry(struct th_mqtt *m, const char *id)
{
    char topic[200];
    snprintf(topic, sizeof topic, "devices/%s/messages/events/", id);
    int pid = th_mqtt_publish(m, topic, "{\"t\":1}", 7, 1);
    assert_true(pid > 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(m, IOTC_MQTT_PUBACK, &p, 5000), 0);
    assert_int_equal(p.packet_id, pid);
}

/* ---------------------------------------------------------------- setup */

static int setup(void **state)
{
    (void)state;
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

/* ---------------------------------------------------------------- tests */

/* selfSigned: SHA-1 primary given in upper case with colons, SHA-256 secondary; both
 * certificates connect and send telemetry; the service API shows the identity as IoT Hub does;
 * a SAS device works beside them. */
static void test_selfsigned(void **state)
{
    (void)state;
    char s1[41], s256[65], o1[41], o256[65];
    issue("ss-a", "ss-a", NULL, false, -3600, 30);
    issue("ss-b", "anything", NULL, false, -3600, 30);
    thumbs("ss-a", s1, s256);
    thumbs("ss-b", o1, o256);
    char colons[200];
    size_t k = 0;
    for (size_t i = 0; i < 40; i += 2) {
        colons[k++] = (char)(s1[i] >= 'a' ? s1[i] - 32 : s1[i]);
        colons[k++] = (char)(s1[i + 1] >= 'a' ? s1[i + 1] - 32 : s1[i + 1]);
        colons[k++] = ':';
    }
    colons[k - 1] = '\0';
    assert_int_equal(put_selfsigned("ss-dev", colons, o256), 200);

    char *body = NULL;
    assert_int_equal(service("GET", "/devices/ss-dev", NULL, &body), 200);
    cJSON *j = cJSON_Parse(body);
    free(body);
    assert_string_equal(capi_jstr(j, "authentication.type"), "selfSigned");
    assert_string_equal(capi_jstr(j, "authentication.x509Thumbprint.primaryThumbprint"), s1);
    assert_string_equal(capi_jstr(j, "authentication.x509Thumbprint.secondaryThumbprint"), o256);
    assert_true(cJSON_IsNull(capi_jget(j, "authentication.symmetricKey.primaryKey")));
    cJSON_Delete(j);

    struct th_mqtt a, b, sas;
    assert_int_equal(hub_cert_connect(&a, "ss-a", "ss-dev"), 0);
    send_telemetry(&a, "ss-dev");
    th_mqtt_close(&a);
    assert_int_equal(hub_cert_connect(&b, "ss-b", "ss-dev"), 0);
    send_telemetry(&b, "ss-dev");

    /* SAS beside it */
    static const char KEY[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    assert_int_equal(th_put_device(&srv, "sas-dev", KEY, KEY, true), 200);
    assert_int_equal(th_hub_connect(&sas, &srv, "sas-dev", KEY), 0);
    send_telemetry(&sas, "sas-dev");
    send_telemetry(&b, "ss-dev");
    th_mqtt_close(&sas);
    th_mqtt_close(&b);
    assert_int_equal(th_count_telemetry(&srv, "ss-dev"), 3);

    /* a SAS device presenting a certificate without a password is refused; with its token
     * (and a certificate) it connects */
    expect_refused("ss-a", "sas-dev", 5, "device authenticates with SAS, not X.509");
}

static void test_refusals(void **state)
{
    (void)state;
    char s1[41], s256[65];
    issue("good", "rf-dev", NULL, false, -3600, 30);
    issue("other", "rf-dev", NULL, false, -3600, 30);
    issue("expired", "rf-dev", NULL, false, -20 * 86400L, 10);
    issue("future", "rf-dev", NULL, false, 10 * 86400L, 10);
    thumbs("good", s1, s256);
    assert_int_equal(put_selfsigned("rf-dev", s1, NULL), 200);

    expect_refused("other", "rf-dev", 5, "unknown certificate");
    /* an expired certificate whose thumbprint is registered: refused for its dates */
    thumbs("expired", s1, s256);
    assert_int_equal(put_selfsigned("rf-exp", s1, NULL), 200);
    expect_refused("expired", "rf-exp", 5, "client certificate expired");
    thumbs("future", s1, s256);
    assert_int_equal(put_selfsigned("rf-fut", s1, NULL), 200);
    expect_refused("future", "rf-fut", 5, "client certificate not yet valid");
    expect_refused("good", "nobody", 5, "device not registered");

    /* blocked (disabled) device */
    thumbs("good", s1, s256);
    char body[400];
    snprintf(body, sizeof body,
             "{\"deviceId\":\"rf-off\",\"status\":\"disabled\",\"authentication\":"
             "{\"type\":\"selfSigned\",\"x509Thumbprint\":{\"primaryThumbprint\":\"%s\"}}}",
             s1);
    assert_int_equal(service("PUT", "/devices/rf-off", body, NULL), 200);
    expect_refused("good", "rf-off", 5, "device disabled");

    /* no certificate, no password */
    struct th_mqtt m;
    char user[300];
    snprintf(user, sizeof user, "%s/rf-dev/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "rf-dev", user, NULL, 60, true), 5);
    th_mqtt_close(&m);
    assert_true(th_central_log_contains(&srv, "no password and no client certificate", 3000));

    /* a SAS token, even one signed right, for an X.509 identity */
    assert_int_equal(
        th_hub_connect(&m, &srv, "rf-dev", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), 5);
    th_mqtt_close(&m);
    assert_true(th_central_log_contains(&srv, "device authenticates with X.509, not SAS", 3000));

    /* bad thumbprints are refused by the service API */
    assert_int_equal(put_selfsigned("rf-bad", "12:34", NULL), 400);
    assert_int_equal(put_selfsigned("rf-bad", NULL, NULL), 200); /* no thumbprint: SAS */
    assert_int_equal(
        service("PUT", "/devices/rf-bad2",
                "{\"deviceId\":\"rf-bad2\",\"authentication\":{\"type\":\"selfSigned\"}}", NULL),
        400);
}

/* Changing the thumbprints closes the live connection; the old certificate is refused after. */
static void test_thumbprint_update(void **state)
{
    (void)state;
    char s1[41], s256[65], n1[41], n256[65];
    issue("old", "up-dev", NULL, false, -3600, 30);
    issue("new", "up-dev", NULL, false, -3600, 30);
    thumbs("old", s1, s256);
    thumbs("new", n1, n256);
    assert_int_equal(put_selfsigned("up-dev", s1, NULL), 200);
    struct th_mqtt m;
    assert_int_equal(hub_cert_connect(&m, "old", "up-dev"), 0);
    char body[400];
    snprintf(body, sizeof body,
             "{\"deviceId\":\"up-dev\",\"authentication\":{\"x509Thumbprint\":"
             "{\"primaryThumbprint\":\"%s\"}}}",
             n256);
    struct th_http_response r;
    assert_int_equal(th_https(&srv, "PUT", "/devices/up-dev?api-version=2021-04-12",
                              "If-Match: *\r\n", body, true, 10000, &r),
                     0);
    free(r.body);
    assert_int_equal(r.status, 200);
    assert_true(th_mqtt_wait_closed(&m, 5000));
    th_mqtt_close(&m);
    expect_refused("old", "up-dev", 5, "unknown certificate");
    assert_int_equal(hub_cert_connect(&m, "new", "up-dev"), 0);
    th_mqtt_close(&m);
}

/* certificateAuthority: unknown CA, unverified CA, proof of possession (wrong CN, wrong key,
 * right), CN not the device id, success; the CA survives a restart. */
static void test_certificate_authority(void **state)
{
    (void)state;
    issue("root", "test root", NULL, true, -3600, 30);
    issue("rogue", "rogue root", NULL, true, -3600, 30);
    issue("ca-dev", "ca-dev", "root", false, -3600, 30);
    issue("ca-dev-rogue", "ca-dev", "rogue", false, -3600, 30);
    issue("ca-wrong-cn", "ca-other", "root", false, -3600, 30);
    assert_int_equal(put_ca_device("ca-dev"), 200);

    expect_refused("ca-dev", "ca-dev", 5, "does not chain to a known CA");

    char *pem = slurp("root"), esc[8192], body[9000];
    json_escape(pem, esc, sizeof esc);
    free(pem);
    snprintf(body, sizeof body, "{\"properties\":{\"certificate\":\"%s\"}}", esc);
    char *answer = NULL;
    assert_int_equal(service("PUT", "/certificates/test-root", body, &answer), 200);
    cJSON *j = cJSON_Parse(answer);
    free(answer);
    assert_false(cJSON_IsTrue(capi_jget(j, "properties.isVerified")));
    assert_string_equal(capi_jstr(j, "properties.subject"), "test root");
    cJSON_Delete(j);
    expect_refused("ca-dev", "ca-dev", 5, "chains to a CA that is not verified");

    assert_int_equal(
        service("POST", "/certificates/test-root/generateVerificationCode", NULL, &answer), 200);
    j = cJSON_Parse(answer);
    free(answer);
    char code[64];
    snprintf(code, sizeof code, "%s", capi_jstr(j, "properties.verificationCode"));
    cJSON_Delete(j);
    assert_int_equal(strlen(code), 32);

    /* proof with another CN, proof signed by another key: refused; then the right one */
    issue("proof-cn", "not-the-code", "root", false, -3600, 1);
    issue("proof-rogue", code, "rogue", false, -3600, 1);
    issue("proof", code, "root", false, -3600, 1);
    static const char *const proofs[] = {"proof-cn", "proof-rogue", "proof"};
    static const int want[] = {400, 400, 200};
    for (int i = 0; i < 3; i++) {
        pem = slurp(proofs[i]);
        json_escape(pem, esc, sizeof esc);
        free(pem);
        snprintf(body, sizeof body, "{\"certificate\":\"%s\"}", esc);
        assert_int_equal(service("POST", "/certificates/test-root/verify", body, NULL), want[i]);
    }
    assert_true(
        th_central_log_contains(&srv, "the certificate's CN is not the verification code", 3000));
    assert_true(th_central_log_contains(&srv, "not signed with the CA's key", 3000));

    struct th_mqtt m;
    assert_int_equal(hub_cert_connect(&m, "ca-dev", "ca-dev"), 0);
    send_telemetry(&m, "ca-dev");
    th_mqtt_close(&m);
    expect_refused("ca-dev-rogue", "ca-dev", 5, "does not chain to a known CA");
    assert_int_equal(put_ca_device("ca-other-dev"), 200);
    expect_refused("ca-wrong-cn", "ca-other-dev", 5, "certificate CN is not the device id");

    /* the verified CA and the identities are stored */
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(hub_cert_connect(&m, "ca-dev", "ca-dev"), 0);
    th_mqtt_close(&m);

    /* deleting the CA refuses its devices again */
    assert_int_equal(service("DELETE", "/certificates/test-root", NULL, NULL), 204);
    expect_refused("ca-dev", "ca-dev", 5, "does not chain to a known CA");
}

/* Register @p reg with DPS over MQTT/TLS presenting certificate @p name. @return the CONNACK
 * code; when 0, the operation's final status is in @p status and the device id in @p dev_id. */
static int dps_cert_register(const char *name, const char *reg, char status[32], char dev_id[130])
{
    char cert[400], key[400], user[400], body[300], topic[400];
    path_of(cert, sizeof cert, name, ".pem");
    path_of(key, sizeof key, name, "-key.pem");
    struct th_mqtt m;
    snprintf(user, sizeof user, "%s/registrations/%s/api-version=2019-03-31", srv.id_scope, reg);
    assert_int_equal(th_mqtt_open_cert(&m, srv.mqtt_port, srv.ca_path, cert, key), 0);
    int rc = th_mqtt_connect(&m, reg, user, NULL, 60, true);
    if (rc != 0) {
        th_mqtt_close(&m);
        return rc;
    }
    assert_int_equal(th_mqtt_subscribe(&m, "$dps/registrations/res/#", 1), 1);
    snprintf(body, sizeof body, "{\"registrationId\":\"%s\"}", reg);
    assert_true(th_mqtt_publish(&m, "$dps/registrations/PUT/iotdps-register/?$rid=1", body,
                                strlen(body), 1) >= 0);
    struct iotc_mqtt_packet p;
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    cJSON *j = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    snprintf(topic, sizeof topic,
             "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=%s",
             capi_jstr(j, "operationId"));
    cJSON_Delete(j);
    assert_true(th_mqtt_publish(&m, topic, " ", 1, 1) >= 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    j = cJSON_ParseWithLength(p.publish.payload.ptr, p.publish.payload.len);
    const char *st = capi_jstr(j, "status"), *id = capi_jstr(j, "registrationState.deviceId");
    snprintf(status, 32, "%s", st ? st : "");
    snprintf(dev_id, 130, "%s", id ? id : "");
    if (strcmp(status, "assigned") == 0)
        assert_non_null(capi_jstr(j, "registrationState.assignedHub"));
    cJSON_Delete(j);
    th_mqtt_close(&m);
    return 0;
}

/* DPS individual enrollment with a certificate (registration id = CN), then the hub with the
 * same certificate. */
static void test_dps_x509(void **state)
{
    (void)state;
    char s1[41], s256[65], status[32], dev_id[130];
    issue("dps-dev", "dps-dev", NULL, false, -3600, 30);
    thumbs("dps-dev", s1, s256);
    assert_int_equal(put_selfsigned("dps-dev", s1, NULL), 200);
    struct th_mqtt m;
    assert_int_equal(dps_cert_register("dps-dev", "dps-dev", status, dev_id), 0);
    assert_string_equal(status, "assigned");
    assert_string_equal(dev_id, "dps-dev");

    assert_int_equal(hub_cert_connect(&m, "dps-dev", "dps-dev"), 0);
    send_telemetry(&m, "dps-dev");
    th_mqtt_close(&m);

    /* a certificate whose CN is another registration id is refused by DPS */
    issue("dps-cn", "someone-else", NULL, false, -3600, 30);
    thumbs("dps-cn", s1, s256);
    assert_int_equal(put_selfsigned("dps-cn", s1, NULL), 200);
    assert_int_equal(dps_cert_register("dps-cn", "dps-cn", status, dev_id), 5);
    assert_true(th_central_log_contains(&srv, "certificate CN is not the registration id", 3000));
}

/* IoT Central's API as admin: the status, the answer in @p r. */
static int capi(const char *method, const char *path, const char *body, struct capi_resp *r)
{
    return capi_call(srv.ca_path, srv.https_port, srv.admin_token, method, path, body, 10000, r);
}

/* {"certificate": the PEM of @p name} into @p body. */
static void cert_body(const char *name, char *body, size_t size)
{
    char esc[8192];
    char *pem = slurp(name);
    json_escape(pem, esc, sizeof esc);
    free(pem);
    snprintf(body, size, "{\"certificate\":\"%s\"}", esc);
}

/* Proof of possession for the group's @p slot: code, a certificate with that CN signed by
 * @p ca's key (named @p proof), verify: the status of verify. */
static int group_prove(const char *group, const char *slot, const char *ca, const char *proof)
{
    struct capi_resp r = {0};
    char path[300], code[64], body[9000];
    snprintf(path, sizeof path, "/api/enrollmentGroups/%s/certificates/%s/generateVerificationCode",
             group, slot);
    assert_int_equal(capi("POST", path, NULL, &r), 200);
    snprintf(code, sizeof code, "%s", capi_jstr(r.json, "verificationCode"));
    assert_int_equal(strlen(code), 32);
    issue(proof, code, ca, false, -3600, 1);
    cert_body(proof, body, sizeof body);
    snprintf(path, sizeof path, "/api/enrollmentGroups/%s/certificates/%s/verify", group, slot);
    int st = capi("POST", path, body, &r);
    capi_resp_free(&r);
    return st;
}

/* X.509 enrollment groups (IoT Central 2022-07-31): the group, its CA certificates (PEM, base64
 * of PEM), proof of possession, DPS registration through the primary (root) and the secondary
 * (intermediate), the hub with the same certificate, and every refusal with its reason. */
static void test_x509_groups(void **state)
{
    (void)state;
    struct capi_resp r = {0};
    char body[12000], status[32], dev_id[130], s1[41], s256[65];
    issue("g-root", "group root", NULL, true, -3600, 30);
    issue("g-inter", "group intermediate", "g-root", true, -3600, 30);
    issue("g-other", "group root", NULL, true, -3600, 30); /* same subject, another key */
    issue("gdev-1", "gdev-1", "g-root", false, -3600, 30);
    issue("gdev-2", "gdev-2", "g-inter", false, -3600, 30);
    issue("gdev-cn", "someone", "g-root", false, -3600, 30);
    issue("gdev-other", "gdev-other", "g-other", false, -3600, 30);
    issue("gdev-3", "gdev-3", "g-root", false, -3600, 30);

    /* a SAS group has no certificates; an x509 group has no keys */
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509",
                          "{\"displayName\":\"X.509 fleet\",\"type\":\"iot\",\"attestation\":"
                          "{\"type\":\"x509\",\"symmetricKey\":{}}}",
                          &r),
                     400);
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509",
                          "{\"displayName\":\"X.509 fleet\",\"type\":\"iot\",\"attestation\":"
                          "{\"type\":\"x509\"}}",
                          &r),
                     200);
    assert_string_equal(capi_jstr(r.json, "attestation.type"), "x509");
    assert_null(capi_jget(r.json, "attestation.symmetricKey"));
    assert_null(capi_jget(r.json, "attestation.x509.signingCertificates.primary"));
    cert_body("g-root", body, sizeof body);
    assert_int_equal(
        capi("PUT", "/api/enrollmentGroups/SAS-IoT-Devices/certificates/primary", body, &r), 400);
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509/certificates/tertiary", body, &r),
                     404);
    assert_int_equal(capi("GET", "/api/enrollmentGroups/g509/certificates/primary", NULL, &r), 404);

    /* no certificate yet: DPS knows no enrollment for the id */
    assert_int_equal(dps_cert_register("gdev-1", "gdev-1", status, dev_id), 5);
    assert_true(
        th_central_log_contains(&srv, "no X.509 enrollment for this registration id", 3000));

    /* the primary: PEM; unverified, and verified:true on upload is refused */
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509/certificates/primary",
                          "{\"certificate\":\"bm90IGEgY2VydA==\"}", &r),
                     400);
    char vbody[12100];
    snprintf(vbody, sizeof vbody, "{\"verified\":true,%s", body + 1);
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509/certificates/primary", vbody, &r),
                     400);
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509/certificates/primary", body, &r), 200);
    thumbs("g-root", s1, s256);
    assert_false(cJSON_IsTrue(capi_jget(r.json, "verified")));
    assert_string_equal(capi_jstr(r.json, "info.sha1Thumbprint"), s1);
    assert_non_null(capi_jstr(r.json, "etag"));
    assert_non_null(strstr(capi_jstr(r.json, "certificate"), "BEGIN CERTIFICATE"));
    assert_int_equal(dps_cert_register("gdev-1", "gdev-1", status, dev_id), 5);
    assert_true(th_central_log_contains(&srv, "chains to a CA that is not verified", 3000));

    /* proof of possession: signed by another key is refused, then the right one */
    assert_int_equal(group_prove("g509", "primary", "g-other", "g-proof-bad"), 400);
    assert_true(th_central_log_contains(&srv, "not signed with the CA's key", 3000));
    assert_int_equal(group_prove("g509", "primary", "g-root", "g-proof"), 204);
    assert_int_equal(capi("GET", "/api/enrollmentGroups/g509", NULL, &r), 200);
    assert_true(
        cJSON_IsTrue(capi_jget(r.json, "attestation.x509.signingCertificates.primary.verified")));
    assert_string_equal(
        capi_jstr(r.json, "attestation.x509.signingCertificates.primary.info.sha1Thumbprint"), s1);
    /* the group's CAs are not the service API's /certificates */
    char *answer = NULL;
    assert_int_equal(service("GET", "/certificates", NULL, &answer), 200);
    assert_null(strstr(answer, s1));
    free(answer);

    /* a verified CA of the service API with the group root's subject name does not hide it */
    char *dpem = slurp("g-other"), desc[8192], dbody[9000];
    json_escape(dpem, desc, sizeof desc);
    free(dpem);
    snprintf(dbody, sizeof dbody, "{\"properties\":{\"certificate\":\"%s\"}}", desc);
    assert_int_equal(service("PUT", "/certificates/decoy", dbody, NULL), 200);
    assert_int_equal(service("POST", "/certificates/decoy/generateVerificationCode", NULL, &answer),
                     200);
    cJSON *dj = cJSON_Parse(answer);
    free(answer);
    issue("decoy-proof", capi_jstr(dj, "properties.verificationCode"), "g-other", false, -3600, 1);
    cJSON_Delete(dj);
    cert_body("decoy-proof", dbody, sizeof dbody);
    assert_int_equal(service("POST", "/certificates/decoy/verify", dbody, NULL), 200);

    /* DPS through the group: registered with CN = registration id, then the hub */
    assert_int_equal(dps_cert_register("gdev-1", "gdev-1", status, dev_id), 0);
    assert_string_equal(status, "assigned");
    assert_string_equal(dev_id, "gdev-1");
    struct th_mqtt m;
    assert_int_equal(hub_cert_connect(&m, "gdev-1", "gdev-1"), 0);
    send_telemetry(&m, "gdev-1");
    th_mqtt_close(&m);
    assert_int_equal(capi("GET", "/api/devices/gdev-1", NULL, &r), 200);
    /* and again: the device is kept */
    assert_int_equal(dps_cert_register("gdev-1", "gdev-1", status, dev_id), 0);
    assert_string_equal(status, "assigned");

    /* refusals: CN not the registration id, a CA that is not the group's */
    assert_int_equal(dps_cert_register("gdev-cn", "gdev-cn", status, dev_id), 5);
    assert_true(th_central_log_contains(&srv, "certificate CN is not the registration id", 3000));
    assert_int_equal(dps_cert_register("gdev-other", "gdev-other", status, dev_id), 5);
    assert_int_equal(capi("GET", "/api/devices/gdev-other", NULL, &r), 404);

    /* base64 of the DER is taken too (another group, then gone) */
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509-der",
                          "{\"displayName\":\"der\",\"type\":\"iot\",\"attestation\":"
                          "{\"type\":\"x509\"}}",
                          &r),
                     200);
    char *rpem = slurp("g-root"), der_b64[4096];
    size_t nd = 0;
    const char *bb = strstr(rpem, "-----\n") + 6, *be = strstr(bb, "-----END");
    for (const char *q = bb; q < be; q++)
        if (*q != '\n')
            der_b64[nd++] = *q;
    der_b64[nd] = '\0';
    free(rpem);
    snprintf(body, sizeof body, "{\"certificate\":\"%s\"}", der_b64);
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509-der/certificates/primary", body, &r),
                     200);
    assert_string_equal(capi_jstr(r.json, "info.sha1Thumbprint"), s1);
    assert_int_equal(capi("DELETE", "/api/enrollmentGroups/g509-der", NULL, &r), 204);

    /* the secondary: an intermediate, sent as base64 of the PEM */
    char *pem = slurp("g-inter"), pem_b64[8192];
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(pem), o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)pem[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)pem[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)pem[i + 2];
        pem_b64[o++] = tbl[(v >> 18) & 63];
        pem_b64[o++] = tbl[(v >> 12) & 63];
        pem_b64[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        pem_b64[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    pem_b64[o] = '\0';
    free(pem);
    snprintf(body, sizeof body, "{\"certificate\":\"%s\"}", pem_b64);
    assert_int_equal(capi("PUT", "/api/enrollmentGroups/g509/certificates/secondary", body, &r),
                     200);
    char s1_inter[41];
    thumbs("g-inter", s1_inter, s256);
    assert_string_equal(capi_jstr(r.json, "info.sha1Thumbprint"), s1_inter);
    assert_int_equal(dps_cert_register("gdev-2", "gdev-2", status, dev_id), 5);
    assert_int_equal(group_prove("g509", "secondary", "g-inter", "g-proof2"), 204);
    assert_int_equal(dps_cert_register("gdev-2", "gdev-2", status, dev_id), 0);
    assert_string_equal(status, "assigned");
    assert_int_equal(hub_cert_connect(&m, "gdev-2", "gdev-2"), 0);
    th_mqtt_close(&m);

    /* a disabled group registers nobody; enabled again, it does */
    assert_int_equal(capi("PATCH", "/api/enrollmentGroups/g509", "{\"enabled\":false}", &r), 200);
    assert_string_equal(capi_jstr(r.json, "attestation.type"), "x509");
    assert_int_equal(dps_cert_register("gdev-3", "gdev-3", status, dev_id), 5);
    assert_true(th_central_log_contains(&srv, "X.509 enrollment group is disabled", 3000));
    assert_int_equal(capi("PATCH", "/api/enrollmentGroups/g509", "{\"enabled\":true}", &r), 200);
    assert_int_equal(dps_cert_register("gdev-3", "gdev-3", status, dev_id), 0);
    assert_string_equal(status, "assigned");

    /* the group, its certificates and their verification survive a restart */
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(capi("GET", "/api/enrollmentGroups/g509/certificates/secondary", NULL, &r),
                     200);
    assert_true(cJSON_IsTrue(capi_jget(r.json, "verified")));
    assert_string_equal(capi_jstr(r.json, "info.sha1Thumbprint"), s1_inter);
    issue("gdev-4", "gdev-4", "g-root", false, -3600, 30);
    assert_int_equal(dps_cert_register("gdev-4", "gdev-4", status, dev_id), 0);
    assert_string_equal(status, "assigned");

    /* deleting a certificate: 204, then 404; deleting the group removes the primary too */
    assert_int_equal(capi("DELETE", "/api/enrollmentGroups/g509/certificates/secondary", NULL, &r),
                     204);
    assert_int_equal(capi("GET", "/api/enrollmentGroups/g509/certificates/secondary", NULL, &r),
                     404);
    assert_int_equal(capi("DELETE", "/api/enrollmentGroups/g509", NULL, &r), 204);
    assert_int_equal(dps_cert_register("gdev-1", "gdev-1", status, dev_id), 5);
    assert_int_equal(service("DELETE", "/certificates/decoy", NULL, NULL), 204);
    capi_resp_free(&r);
}

/* paho's fallback: after a refused certificate CONNECT it retries with MQTT 3.1 (MQIsdp, level
 * 3); the server answers CONNACK 1 and logs the retry as the fallback it is. MQTT 5: a warning. */
static void test_mqtt31_fallback(void **state)
{
    (void)state;
    issue("fb-unknown", "fb-dev", NULL, false, -3600, 30);
    assert_int_equal(put_selfsigned("fb-dev", "ffffffffffffffffffffffffffffffffffffffff", NULL),
                     200);
    expect_refused("fb-unknown", "fb-dev", 5, "unknown certificate");
    static const struct {
        const char *name;
        uint8_t level;
        const char *log;
    } tries[] = {
        {"MQIsdp", 3, "fell back to MQTT 3.1 (MQIsdp) after a refused CONNECT"},
        {"MQTT", 5, "asked for MQTT protocol level 5"},
    };
    for (int i = 0; i < 2; i++) {
        char cert[400], key[400];
        path_of(cert, sizeof cert, "fb-unknown", ".pem");
        path_of(key, sizeof key, "fb-unknown", "-key.pem");
        struct th_mqtt m;
        assert_int_equal(th_mqtt_open_cert(&m, srv.mqtt_port, srv.ca_path, cert, key), 0);
        struct iotc_mqtt_packet c = {.type = IOTC_MQTT_CONNECT}, p;
        c.connect.protocol_name = iotc_span_from_cstr(tries[i].name);
        c.connect.protocol_level = tries[i].level;
        c.connect.clean_session = true;
        c.connect.keep_alive = 60;
        c.connect.client_id = IOTC_SPAN_LIT("fb-dev");
        c.connect.has_username = true;
        c.connect.username = IOTC_SPAN_LIT("hub/fb-dev/?api-version=2021-04-12");
        assert_int_equal(th_mqtt_send(&m, &c), 0);
        assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_CONNACK, &p, 5000), 0);
        assert_int_equal(p.connack.return_code, 1);
        th_mqtt_close(&m);
        assert_true(th_central_log_contains(&srv, tries[i].log, 3000));
    }
}

/* IoT Central's attestation API: PEM, base64 DER and base64 of PEM, answered with
 * info.sha1Thumbprint; the device then connects with that certificate. */
static void test_attestation_api(void **state)
{
    (void)state;
    struct capi_resp r = {0};
    char s1[41], s256[65], body[12000], esc[8192];
    issue("att", "att-dev", NULL, false, -3600, 30);
    thumbs("att", s1, s256);
    assert_int_equal(capi_call(srv.ca_path, srv.https_port, srv.admin_token, "PUT",
                               "/api/devices/att-dev", "{\"displayName\":\"att\"}", 10000, &r),
                     200);
    char *pem = slurp("att");
    /* base64 DER: the PEM body without armour and newlines */
    char der_b64[4096];
    size_t n = 0;
    const char *b = strstr(pem, "-----\n") + 6;
    const char *e = strstr(b, "-----END");
    for (const char *p = b; p < e; p++)
        if (*p != '\n')
            der_b64[n++] = *p;
    der_b64[n] = '\0';
    /* base64 of the PEM */
    char pem_b64[8192];
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(pem), o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)pem[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)pem[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)pem[i + 2];
        pem_b64[o++] = tbl[(v >> 18) & 63];
        pem_b64[o++] = tbl[(v >> 12) & 63];
        pem_b64[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        pem_b64[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    pem_b64[o] = '\0';
    json_escape(pem, esc, sizeof esc);
    free(pem);
    const char *forms[] = {esc, der_b64, pem_b64};
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body,
                 "{\"type\":\"x509\",\"x509\":{\"clientCertificates\":{\"primary\":"
                 "{\"certificate\":\"%s\"}}}}",
                 forms[i]);
        assert_int_equal(capi_call(srv.ca_path, srv.https_port, srv.admin_token, "PUT",
                                   "/api/devices/att-dev/attestation", body, 10000, &r),
                         200);
        assert_string_equal(capi_jstr(r.json, "type"), "x509");
        assert_string_equal(
            capi_jstr(r.json, "x509.clientCertificates.primary.info.sha1Thumbprint"), s1);
    }
    assert_int_equal(capi_call(srv.ca_path, srv.https_port, srv.admin_token, "GET",
                               "/api/devices/att-dev/credentials", NULL, 10000, &r),
                     200);
    assert_string_equal(capi_jstr(r.json, "x509.clientCertificates.primary.info.sha1Thumbprint"),
                        s1);
    assert_null(capi_jget(r.json, "symmetricKey"));
    /* not a certificate */
    assert_int_equal(capi_call(srv.ca_path, srv.https_port, srv.admin_token, "PUT",
                               "/api/devices/att-dev/attestation",
                               "{\"type\":\"x509\",\"x509\":{\"clientCertificates\":{\"primary\":"
                               "{\"certificate\":\"bm90IGEgY2VydA==\"}}}}",
                               10000, &r),
                     400);
    struct th_mqtt m;
    assert_int_equal(hub_cert_connect(&m, "att", "att-dev"), 0);
    send_telemetry(&m, "att-dev");
    th_mqtt_close(&m);

    /* primary and secondary: both answered with their thumbprints, in the credentials too, and
     * the device connects with either; a certificate that is neither is refused */
    char t1[41], t256[65];
    issue("att-2", "att-dev", NULL, false, -3600, 30);
    issue("att-3", "att-dev", NULL, false, -3600, 30);
    thumbs("att-2", t1, t256);
    char *pem2 = slurp("att-2"), esc2[8192];
    json_escape(pem2, esc2, sizeof esc2);
    free(pem2);
    char both[17000];
    snprintf(both, sizeof both,
             "{\"type\":\"x509\",\"x509\":{\"clientCertificates\":{\"primary\":"
             "{\"certificate\":\"%s\"},\"secondary\":{\"certificate\":\"%s\"}}}}",
             esc, esc2);
    assert_int_equal(capi_call(srv.ca_path, srv.https_port, srv.admin_token, "PUT",
                               "/api/devices/att-dev/attestation", both, 10000, &r),
                     200);
    assert_string_equal(capi_jstr(r.json, "x509.clientCertificates.primary.info.sha1Thumbprint"),
                        s1);
    assert_string_equal(capi_jstr(r.json, "x509.clientCertificates.secondary.info.sha1Thumbprint"),
                        t1);
    assert_int_equal(capi_call(srv.ca_path, srv.https_port, srv.admin_token, "GET",
                               "/api/devices/att-dev/credentials", NULL, 10000, &r),
                     200);
    assert_string_equal(capi_jstr(r.json, "x509.clientCertificates.secondary.info.sha1Thumbprint"),
                        t1);
    assert_int_equal(hub_cert_connect(&m, "att-2", "att-dev"), 0);
    th_mqtt_close(&m);
    assert_int_equal(hub_cert_connect(&m, "att", "att-dev"), 0);
    th_mqtt_close(&m);
    expect_refused("att-3", "att-dev", 5, "unknown certificate");
    capi_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selfsigned),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_thumbprint_update),
        cmocka_unit_test(test_dps_x509),
        cmocka_unit_test(test_attestation_api),
        cmocka_unit_test(test_x509_groups),
        cmocka_unit_test(test_mqtt31_fallback),
        cmocka_unit_test(test_certificate_authority), /* restarts the server: last */
    };
    return cmocka_run_group_tests_name("central_x509", tests, setup, teardown);
}
