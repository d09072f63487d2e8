/*
 * test_central_x509_auth.c - the X.509 half of the CONNECT decision (src/central/hub/auth.c):
 * thumbprint normalisation and comparison as IoT Hub does them, and every refusal of
 * auth_decide_cert() for selfSigned and certificateAuthority identities, hub and DPS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "central/hub/auth.h"
#include "iotc/codec.h"

#define NOW 1700000000u
#define SHA1 "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
#define SHA256 "00112233445566778899aabbccddeeff0a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define OTHER1 "ffffffffffffffffffffffffffffffffffffffff"

static const struct auth_config cfg = {
    .id_scope = "0ne00000A0A",
    .hub_host = "hub.example",
    .groups = NULL,
    .n_groups = 0,
    .service_policy = "iothubowner",
    .service_key = "",
};

/* ss-prim: selfSigned, our SHA-1 as primary; ss-sec: our SHA-256 as secondary; ss-other:
 * another certificate's thumbprint; ca-dev: certificateAuthority; sas-dev: keys;
 * ca-off: certificateAuthority, disabled. */
static bool lookup(void *ctx, struct iotc_span id, bool any_case, struct auth_identity *out)
{
    (void)ctx;
    static const struct {
        const char *id;
        enum auth_type type;
        const char *t1, *t2;
        bool enabled;
    } reg[] = {
        {"ss-prim", AUTH_TYPE_SELF_SIGNED, SHA1, "", true},
        {"ss-sec", AUTH_TYPE_SELF_SIGNED, OTHER1, SHA256, true},
        {"ss-other", AUTH_TYPE_SELF_SIGNED, OTHER1, "", true},
        {"ca-dev", AUTH_TYPE_CA, "", "", true},
        {"sas-dev", AUTH_TYPE_SAS, "", "", true},
        {"ca-off", AUTH_TYPE_CA, "", "", false},
    };
    for (size_t i = 0; i < sizeof reg / sizeof reg[0]; i++) {
        struct iotc_span want = iotc_span_from_cstr(reg[i].id);
        if (any_case ? iotc_span_eq_nocase(id, want) : iotc_span_eq(id, want)) {
            *out = (struct auth_identity){"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                                          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                                          reg[i].enabled,
                                          false,
                                          reg[i].type,
                                          reg[i].t1,
                                          reg[i].t2};
            return true;
        }
    }
    return false;
}

static void test_thumbprint_normalize(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int len;
        const char *out;
    } cases[] = {
        {SHA1, 40, SHA1},
        {"0A1B2C3D4E5F60718293A4B5C6D7E8F901234567", 40, SHA1},
        {"0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9:01:23:45:67", 40, SHA1},
        {"0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:01:23:45:67", 40, SHA1},
        {SHA256, 64, SHA256},
        {"", -1, ""},
        {"0a1b", -1, ""},
        {"0a1b2c3d4e5f60718293a4b5c6d7e8f90123456", -1, ""},   /* 39 digits */
        {"0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", -1, ""}, /* 41 */
        {"0g1b2c3d4e5f60718293a4b5c6d7e8f901234567", -1, ""},  /* not hex */
        {SHA256 "00", -1, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[AUTH_THUMB_MAX + 1];
        int n = auth_thumbprint_normalize(cases[i].in, out);
        if (n != cases[i].len || strcmp(out, cases[i].out) != 0)
            fail_msg("'%s': %d '%s'", cases[i].in, n, out);
    }
    char out[AUTH_THUMB_MAX + 1];
    assert_int_equal(auth_thumbprint_normalize(NULL, out), -1);
}

static void test_thumbprint_matches(void **state)
{
    (void)state;
    struct auth_cert c = {.sha1 = SHA1, .sha256 = SHA256, .cn = "x"};
    assert_true(auth_thumbprint_matches(SHA1, &c));
    assert_true(auth_thumbprint_matches(SHA256, &c));
    assert_false(auth_thumbprint_matches(OTHER1, &c));
    assert_false(auth_thumbprint_matches("", &c));
    assert_false(auth_thumbprint_matches(NULL, &c));
    assert_false(auth_thumbprint_matches("0a1b", &c));
}

struct cert_case {
    const char *name;
    const char *client_id;
    const char *username;
    const char *cn;
    int64_t nb, na; /* validity relative to NOW */
    enum auth_chain chain;
    enum auth_kind kind;
    int connack;
    enum auth_key key;
    const char *reason; /* substring; NULL = "ok" */
};

#define HUB(id) "hub.example/" id "/?api-version=2021-04-12"
#define DPS(id) "0ne00000A0A/registrations/" id "/api-version=2019-03-31"

static const struct cert_case cases[] = {
    {"selfSigned primary (SHA-1)", "ss-prim", HUB("ss-prim"), "whatever", -10, 10,
     AUTH_CHAIN_UNKNOWN, AUTH_HUB, 0, AUTH_KEY_CERT_PRIMARY, NULL},
    {"selfSigned secondary (SHA-256)", "ss-sec", HUB("ss-sec"), "", -10, 10, AUTH_CHAIN_UNKNOWN,
     AUTH_HUB, 0, AUTH_KEY_CERT_SECONDARY, NULL},
    {"unknown certificate", "ss-other", HUB("ss-other"), "ss-other", -10, 10, AUTH_CHAIN_VERIFIED,
     AUTH_HUB, 5, AUTH_KEY_NONE, "unknown certificate"},
    {"expired", "ss-prim", HUB("ss-prim"), "ss-prim", -20, -10, AUTH_CHAIN_UNKNOWN, AUTH_HUB, 5,
     AUTH_KEY_NONE, "expired"},
    {"not yet valid", "ss-prim", HUB("ss-prim"), "ss-prim", 10, 20, AUTH_CHAIN_UNKNOWN, AUTH_HUB, 5,
     AUTH_KEY_NONE, "not yet valid"},
    {"CA ok", "ca-dev", HUB("ca-dev"), "ca-dev", -10, 10, AUTH_CHAIN_VERIFIED, AUTH_HUB, 0,
     AUTH_KEY_CERT_CA, NULL},
    {"CA: CN is another device", "ca-dev", HUB("ca-dev"), "ss-prim", -10, 10, AUTH_CHAIN_VERIFIED,
     AUTH_HUB, 5, AUTH_KEY_NONE, "CN is not the device id"},
    {"CA: CN differs in case (hub ids are exact)", "ca-dev", HUB("ca-dev"), "CA-DEV", -10, 10,
     AUTH_CHAIN_VERIFIED, AUTH_HUB, 5, AUTH_KEY_NONE, "CN is not the device id"},
    {"CA: unverified CA", "ca-dev", HUB("ca-dev"), "ca-dev", -10, 10, AUTH_CHAIN_UNVERIFIED,
     AUTH_HUB, 5, AUTH_KEY_NONE, "not verified"},
    {"CA: unknown CA", "ca-dev", HUB("ca-dev"), "ca-dev", -10, 10, AUTH_CHAIN_UNKNOWN, AUTH_HUB, 5,
     AUTH_KEY_NONE, "known CA"},
    {"CA: disabled", "ca-off", HUB("ca-off"), "ca-off", -10, 10, AUTH_CHAIN_VERIFIED, AUTH_HUB, 5,
     AUTH_KEY_NONE, "disabled"},
    {"SAS device with a certificate", "sas-dev", HUB("sas-dev"), "sas-dev", -10, 10,
     AUTH_CHAIN_VERIFIED, AUTH_HUB, 5, AUTH_KEY_NONE, "SAS, not X.509"},
    {"not registered", "nobody", HUB("nobody"), "nobody", -10, 10, AUTH_CHAIN_VERIFIED, AUTH_HUB, 5,
     AUTH_KEY_NONE, "not registered"},
    {"client id differs", "ca-devX", HUB("ca-dev"), "ca-dev", -10, 10, AUTH_CHAIN_VERIFIED,
     AUTH_HUB, 2, AUTH_KEY_NONE, "client id"},
    {"another hub", "ca-dev", "other.example/ca-dev/?api-version=1", "ca-dev", -10, 10,
     AUTH_CHAIN_VERIFIED, AUTH_HUB, 5, AUTH_KEY_NONE, "another hub"},
    {"no username", "ca-dev", "", "ca-dev", -10, 10, AUTH_CHAIN_VERIFIED, AUTH_NONE, 5,
     AUTH_KEY_NONE, "no username"},
    /* DPS: CN is the registration id, compared ignoring case */
    {"DPS selfSigned", "ss-prim", DPS("ss-prim"), "ss-prim", -10, 10, AUTH_CHAIN_UNKNOWN, AUTH_DPS,
     0, AUTH_KEY_CERT_PRIMARY, NULL},
    {"DPS selfSigned, CN another id", "ss-prim", DPS("ss-prim"), "ss-sec", -10, 10,
     AUTH_CHAIN_UNKNOWN, AUTH_DPS, 5, AUTH_KEY_NONE, "CN is not the registration id"},
    {"DPS CA, CN in another case", "ca-dev", DPS("ca-dev"), "CA-Dev", -10, 10, AUTH_CHAIN_VERIFIED,
     AUTH_DPS, 0, AUTH_KEY_CERT_CA, NULL},
    {"DPS not enrolled", "nobody", DPS("nobody"), "nobody", -10, 10, AUTH_CHAIN_VERIFIED, AUTH_DPS,
     5, AUTH_KEY_NONE, "no X.509 enrollment"},
    {"DPS SAS enrollment", "sas-dev", DPS("sas-dev"), "sas-dev", -10, 10, AUTH_CHAIN_VERIFIED,
     AUTH_DPS, 5, AUTH_KEY_NONE, "SAS, not X.509"},
    {"DPS bad scope", "ca-dev", "0ne00000B0B/registrations/ca-dev/api-version=1", "ca-dev", -10, 10,
     AUTH_CHAIN_VERIFIED, AUTH_DPS, 5, AUTH_KEY_NONE, "scope"},
};

static void test_cert_decisions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct cert_case *c = &cases[i];
        struct auth_cert cert = {.sha1 = SHA1,
                                 .sha256 = SHA256,
                                 .cn = c->cn,
                                 .not_before_s = (int64_t)NOW + c->nb,
                                 .not_after_s = (int64_t)NOW + c->na,
                                 .chain = c->chain};
        struct auth_result r;
        assert_int_equal(auth_decide_cert(&cfg, iotc_span_from_cstr(c->client_id),
                                          iotc_span_from_cstr(c->username), &cert, NOW, lookup,
                                          NULL, &r),
                         0);
        if (r.kind != c->kind || r.connack != c->connack || r.key != c->key ||
            strstr(r.reason, c->reason ? c->reason : "ok") == NULL)
            fail_msg("%s: kind %d connack %d key %d reason '%s'", c->name, r.kind, r.connack, r.key,
                     r.reason);
    }
}

/* DPS X.509 enrollment groups: an id without an individual enrollment registers when the chain
 * leads to a verified CA of an enabled group and the CN is the registration id. */
static void test_group_decisions(void **state)
{
    (void)state;
    static const struct {
        const char *name, *reg, *cn;
        enum auth_group_chain group;
        long nb, na;
        int connack;
        enum auth_key key;
        const char *reason;
    } rows[] = {
        {"verified group CA", "new-dev", "new-dev", AUTH_GROUP_VERIFIED, -10, 10, 0,
         AUTH_KEY_CERT_GROUP, NULL},
        {"CN in another case", "new-dev", "NEW-dev", AUTH_GROUP_VERIFIED, -10, 10, 0,
         AUTH_KEY_CERT_GROUP, NULL},
        {"CN another id", "new-dev", "other", AUTH_GROUP_VERIFIED, -10, 10, 5, AUTH_KEY_NONE,
         "CN is not the registration id"},
        {"unverified group CA", "new-dev", "new-dev", AUTH_GROUP_UNVERIFIED, -10, 10, 5,
         AUTH_KEY_NONE, "not verified"},
        {"disabled group", "new-dev", "new-dev", AUTH_GROUP_DISABLED, -10, 10, 5, AUTH_KEY_NONE,
         "group is disabled"},
        {"expired", "new-dev", "new-dev", AUTH_GROUP_VERIFIED, -20, -10, 5, AUTH_KEY_NONE,
         "expired"},
        {"no group", "new-dev", "new-dev", AUTH_GROUP_NONE, -10, 10, 5, AUTH_KEY_NONE,
         "no X.509 enrollment"},
        /* an individual enrollment comes first: its own rules hold */
        {"individual SAS enrollment", "sas-dev", "sas-dev", AUTH_GROUP_VERIFIED, -10, 10, 5,
         AUTH_KEY_NONE, "SAS, not X.509"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char user[200];
        snprintf(user, sizeof user, "0ne00000A0A/registrations/%s/api-version=2019-03-31",
                 rows[i].reg);
        struct auth_cert cert = {.sha1 = SHA1,
                                 .sha256 = SHA256,
                                 .cn = rows[i].cn,
                                 .not_before_s = (int64_t)NOW + rows[i].nb,
                                 .not_after_s = (int64_t)NOW + rows[i].na,
                                 .chain = AUTH_CHAIN_UNKNOWN,
                                 .group = rows[i].group,
                                 .group_serial = 42};
        struct auth_result r;
        auth_decide_cert(&cfg, iotc_span_from_cstr(rows[i].reg), iotc_span_from_cstr(user), &cert,
                         NOW, lookup, NULL, &r);
        if (r.kind != AUTH_DPS || r.connack != rows[i].connack || r.key != rows[i].key ||
            strstr(r.reason, rows[i].reason ? rows[i].reason : "ok") == NULL ||
            (r.connack == 0 && r.group_serial != 42))
            fail_msg("%s: connack %d key %d reason '%s'", rows[i].name, r.connack, r.key, r.reason);
    }
}

/* A password still means SAS: an X.509 identity is refused by the SAS path, and the SAS path
 * without a password names both missing credentials. */
static void test_sas_path_refuses_x509(void **state)
{
    (void)state;
    struct auth_result r;
    auth_decide(&cfg, IOTC_SPAN_LIT("ca-dev"), IOTC_SPAN_LIT(HUB("ca-dev")),
                IOTC_SPAN_LIT("SharedAccessSignature sr=x&sig=y&se=1"), true, NOW, lookup, NULL,
                &r);
    assert_int_equal(r.connack, 5);
    assert_non_null(strstr(r.reason, "X.509, not SAS"));
    auth_decide(&cfg, IOTC_SPAN_LIT("ca-dev"), IOTC_SPAN_LIT(HUB("ca-dev")), IOTC_SPAN_NULL, false,
                NOW, lookup, NULL, &r);
    assert_int_equal(r.connack, 5);
    assert_non_null(strstr(r.reason, "no client certificate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thumbprint_normalize),  cmocka_unit_test(test_thumbprint_matches),
        cmocka_unit_test(test_cert_decisions),        cmocka_unit_test(test_group_decisions),
        cmocka_unit_test(test_sas_path_refuses_x509),
    };
    return cmocka_run_group_tests_name("central_x509_auth", tests, NULL, NULL);
}
