/*
 * test_sas.c - SAS tokens and DPS key derivation against every vector of docs/PROTOCOL.md §2.3,
 * §2.4 and §3, plus parser/verifier edge cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <iotc/codec.h>
#include <iotc/sas.h>

#define S(x) iotc_span_from_cstr(x)

static const char *KEY6 = "NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=";
static const char *GROUP_KEY =
    "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==";
static const char *REG = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6";
static const char *DERIVED = "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=";

/* §2.3 vectors 1 and 2 and 6: signatures over a given sr/se. */
struct sign_vec {
    const char *key, *sr, *se, *sig;
};
static const struct sign_vec sign_vecs[] = {
    {"cGFzc3dvcmQ=", "uri", "12345", "kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk="},
    {"key", "host%2Fdevices%2Fdevice", "12345", "wM3XiP6gD960IxP7J5WHqnxQHEcWC6YaQCtoMT+kKHc="},
    {"NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=",
     "myiothub.azure-devices.net%2Fdevices%2Fmy_device", "1578941692",
     "dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg/YB1AvU="},
    {"NMgJDvdKTxjLi+xBxxkDDEwDJxEvOE5u8BiT0mVgPeg=", "myiothub.azure-devices.net", "1578941692",
     "jNLd5fT1OOOh8Q3GOXfi+CbnqvMsE7+lpEsBASuS/KI="},
};

static void test_sign_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sign_vecs) / sizeof(sign_vecs[0]); i++) {
        char out[64];
        size_t n = 0;
        assert_int_equal(iotc_sas_sign(S(sign_vecs[i].key), S(sign_vecs[i].sr), S(sign_vecs[i].se),
                                       out, sizeof(out), &n),
                         IOTC_OK);
        assert_int_equal(n, 44);
        assert_string_equal(out, sign_vecs[i].sig);
    }
}

/* §2.3 vector 3 signs a plain message (no sr/se framing): the same base64(HMAC-SHA256) that the
 * group-key derivation computes over the registration id, so check it through that API. */
static void test_py_signing_mechanism(void **state)
{
    char out[64];
    size_t n;
    (void)state;
    assert_int_equal(
        iotc_sas_derive_device_key(S(KEY6), S("sign this message"), out, sizeof(out), &n), IOTC_OK);
    assert_string_equal(out, "8NJRMT83CcplGrAGaUVIUM/md5914KpWVNngSVoF9/M=");
}

static void test_node_vector1_token(void **state)
{
    char out[256];
    size_t n;
    (void)state;
    /* skn encode('Me') -> encode%28%27Me%27%29 and the sig percent-encoded */
    assert_int_equal(iotc_sas_build(S("cGFzc3dvcmQ="), S("uri"), 12345, S("encode('Me')"),
                                    IOTC_SAS_SKN_BEFORE_SE, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(
        out, "SharedAccessSignature sr=uri&sig=kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D"
             "&skn=encode%28%27Me%27%29&se=12345");
    assert_int_equal(n, strlen(out));
}

static void test_node_vector2_device(void **state)
{
    char out[256];
    size_t n;
    (void)state;
    assert_int_equal(iotc_sas_token_hub(S("key"), S("host"), S("device"), IOTC_SPAN_NULL,
                                        IOTC_SPAN_NULL, 12345, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "SharedAccessSignature sr=host%2Fdevices%2Fdevice&sig="
                             "wM3XiP6gD960IxP7J5WHqnxQHEcWC6YaQCtoMT%2BkKHc%3D&se=12345");
}

static void test_csdk_vector4_format(void **state)
{
    char sr[128], out[256];
    size_t n;
    (void)state;
    assert_int_equal(iotc_sas_hub_resource(S("myiothub.azure-devices.net"), S("my_device"),
                                           IOTC_SPAN_NULL, sr, sizeof(sr), &n),
                     IOTC_OK);
    assert_string_equal(sr, "myiothub.azure-devices.net%2Fdevices%2Fmy_device");
    assert_int_equal(iotc_sas_format(S(sr), S("cS1eHM/lDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ"),
                                     1578941692, IOTC_SPAN_NULL, 0, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out,
                        "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
                        "&sig=cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692");
    assert_int_equal(iotc_sas_format(S(sr), S("cS1eHM/lDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ"),
                                     1578941692, S("iothubowner"), 0, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out,
                        "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
                        "&sig=cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692"
                        "&skn=iothubowner");
    assert_int_equal(iotc_sas_hub_resource(S("myiothub.azure-devices.net"), S("my_device"),
                                           S("my_module"), sr, sizeof(sr), &n),
                     IOTC_OK);
    assert_string_equal(sr,
                        "myiothub.azure-devices.net%2Fdevices%2Fmy_device%2Fmodules%2Fmy_module");
}

static void test_csdk_vector5_dps_format(void **state)
{
    char sr[128], out[256];
    size_t n;
    (void)state;
    assert_int_equal(iotc_sas_dps_resource(S("0neFEEDC0DE"), S("myRegistrationId"),
                                           IOTC_SAS_DPS_CSDK, sr, sizeof(sr), &n),
                     IOTC_OK);
    assert_string_equal(sr, "0neFEEDC0DE%2fregistrations%2fmyRegistrationId");
    assert_int_equal(iotc_sas_format(S(sr), S("cS1eHM/lDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ"),
                                     1578941692, IOTC_SPAN_NULL, 0, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out,
                        "SharedAccessSignature sr=0neFEEDC0DE%2fregistrations%2fmyRegistrationId"
                        "&sig=cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692");
}

static void test_vector6_full_tokens(void **state)
{
    char out[256];
    size_t n;
    (void)state;
    assert_int_equal(iotc_sas_token_hub(S(KEY6), S("myiothub.azure-devices.net"), S("my_device"),
                                        IOTC_SPAN_NULL, IOTC_SPAN_NULL, 1578941692, out,
                                        sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out,
                        "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
                        "&sig=dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2FYB1AvU%3D&se=1578941692");
    assert_int_equal(iotc_sas_token_service(S(KEY6), S("myiothub.azure-devices.net"),
                                            S("iothubowner"), 1578941692, out, sizeof(out), &n),
                     IOTC_OK);
    assert_string_equal(out, "SharedAccessSignature sr=myiothub.azure-devices.net"
                             "&sig=jNLd5fT1OOOh8Q3GOXfi%2BCbnqvMsE7%2BlpEsBASuS%2FKI%3D"
                             "&skn=iothubowner&se=1578941692");
}

/* §2.4: three DPS styles, same key and se, different sr text and signature. */
struct dps_vec {
    enum iotc_sas_dps_style style;
    const char *sr, *sig_enc, *skn;
};
static const struct dps_vec dps_vecs[] = {
    {IOTC_SAS_DPS_PY, "0ne00000A0A%2Fregistrations%2Fsn-007-888-abc-mac-a1-b2-c3-d4-e5-f6",
     "3kS5mMhVhFjPLLrKeHzaM0Oxrh9BwgzRNNLqnBbTAys%3D", NULL},
    {IOTC_SAS_DPS_CSDK, "0ne00000A0A%2fregistrations%2fsn-007-888-abc-mac-a1-b2-c3-d4-e5-f6",
     "iPGpRjA07B14iPuO0DxL1Cju0UJ29xXGguXB10zMl%2BQ%3D", NULL},
    {IOTC_SAS_DPS_NODE, "0ne00000A0A/registrations/sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6",
     "Pyo6mBisDhojwFd6jvHFcL8kwj4yreJvmDfQmKy%2BMBE%3D", "registration"},
};

static void test_dps_styles(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(dps_vecs) / sizeof(dps_vecs[0]); i++) {
        const struct dps_vec *v = &dps_vecs[i];
        char out[256], want[256];
        size_t n;
        struct iotc_sas_token tok;
        assert_int_equal(iotc_sas_token_dps(S(DERIVED), S("0ne00000A0A"), S(REG), v->style,
                                            1578941692, out, sizeof(out), &n),
                         IOTC_OK);
        if (v->skn != NULL)
            snprintf(want, sizeof(want), "SharedAccessSignature sr=%s&sig=%s&skn=%s&se=1578941692",
                     v->sr, v->sig_enc, v->skn);
        else
            snprintf(want, sizeof(want), "SharedAccessSignature sr=%s&sig=%s&se=1578941692", v->sr,
                     v->sig_enc);
        assert_string_equal(out, want);
        /* the server side accepts every style */
        assert_int_equal(iotc_sas_parse(S(out), &tok), IOTC_OK);
        assert_int_equal(iotc_sas_verify(&tok, S(DERIVED), 1578941000), IOTC_OK);
        assert_int_equal(iotc_sas_check_dps_resource(tok.sr, S("0ne00000A0A"), S(REG)), IOTC_OK);
        assert_int_equal(iotc_sas_check_dps_resource(tok.sr, S("0NE00000a0a"), S(REG)), IOTC_OK);
        assert_int_equal(iotc_sas_check_dps_resource(tok.sr, S("0ne00000A0A"),
                                                     S("SN-007-888-abc-mac-a1-b2-c3-d4-e5-f6")),
                         IOTC_E_AUTH);
        assert_int_equal(iotc_sas_check_dps_resource(tok.sr, S("0ne00000A0B"), S(REG)),
                         IOTC_E_AUTH);
        /* wrong key, expired */
        assert_int_equal(iotc_sas_verify(&tok, S(KEY6), 1578941000), IOTC_E_AUTH);
        assert_int_equal(iotc_sas_verify(&tok, S(DERIVED), 1578941692), IOTC_E_EXPIRED);
    }
}

static void test_derive_official(void **state)
{
    char out[64];
    size_t n;
    (void)state;
    assert_int_equal(iotc_sas_derive_device_key(S(GROUP_KEY), S(REG), out, sizeof(out), &n),
                     IOTC_OK);
    assert_int_equal(n, 44);
    assert_string_equal(out, DERIVED);
    assert_int_equal(iotc_sas_derive_device_key(S(GROUP_KEY), S(REG), out, 44, &n), IOTC_OK);
    assert_memory_equal(out, DERIVED, 44);
    assert_int_equal(iotc_sas_derive_device_key(S(GROUP_KEY), S(REG), out, 43, &n), IOTC_E_NOSPACE);
    assert_int_equal(iotc_sas_derive_device_key(S("not base64!"), S(REG), out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_sas_derive_device_key(S(""), S(REG), out, sizeof(out), &n), IOTC_E_ARG);
}

/* Parsing: field order, prefix, duplicates, unknown fields, missing fields. */
struct parse_vec {
    const char *text;
    int rc;
    const char *sr, *sig, *se, *skn;
};
static const struct parse_vec parse_vecs[] = {
    {"SharedAccessSignature sr=a&sig=b&se=1", IOTC_OK, "a", "b", "1", NULL},
    {"sr=a&sig=b&se=1", IOTC_OK, "a", "b", "1", NULL},
    {"sharedaccesssignature   sig=b&se=12&skn=k&sr=a%2Fb", IOTC_OK, "a%2Fb", "b", "12", "k"},
    {"SharedAccessSignature sig=x%3D&se=99&skn=registration&sr=s/r", IOTC_OK, "s/r", "x%3D", "99",
     "registration"},
    {"SharedAccessSignature sr=a&sig=abc==&se=5", IOTC_OK, "a", "abc==", "5", NULL},
    {"SharedAccessSignature sr=a&sig=b&se=1&foo=bar", IOTC_OK, "a", "b", "1", NULL},
    {"SharedAccessSignature sr=a&sig=b&se=18446744073709551615", IOTC_OK, "a", "b",
     "18446744073709551615", NULL},
    {"SharedAccessSignature sr=a&sig=b&se=18446744073709551616", IOTC_E_MALFORMED, NULL, NULL, NULL,
     NULL},
    {"SharedAccessSignature sr=a&sig=b&se=1&sr=c", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&sig=b", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sig=b&se=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&se=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=&sig=b&se=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&sig=b&se=-1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&sig=b&se=1x", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&sig=b&se=", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&&sig=b&se=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&sig=b&se=1&", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&sig&se=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature sr=a&=x&sig=b&se=1", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"SharedAccessSignature ", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
    {"", IOTC_E_MALFORMED, NULL, NULL, NULL, NULL},
};

static void expect_span(struct iotc_span got, const char *want)
{
    if (want == NULL) {
        assert_null(got.ptr);
        return;
    }
    assert_non_null(got.ptr);
    assert_int_equal(got.len, strlen(want));
    assert_memory_equal(got.ptr, want, got.len);
}

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_vecs) / sizeof(parse_vecs[0]); i++) {
        const struct parse_vec *v = &parse_vecs[i];
        struct iotc_sas_token t;
        int rc = iotc_sas_parse(S(v->text), &t);
        if (rc != v->rc)
            fail_msg("vector %zu '%s': rc %d want %d", i, v->text, rc, v->rc);
        if (rc != IOTC_OK)
            continue;
        expect_span(t.sr, v->sr);
        expect_span(t.sig, v->sig);
        expect_span(t.se, v->se);
        expect_span(t.skn, v->skn);
    }
}

static void test_verify_vectors(void **state)
{
    static const char *tokens[] = {
        "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
        "&sig=dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2FYB1AvU%3D&se=1578941692",
        /* same, other order, lower-case hex in sig */
        "SharedAccessSignature se=1578941692&sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
        "&sig=dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2fYB1AvU%3d",
        /* sig sent unencoded (split on the first '=' keeps the padding) */
        "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
        "&sig=dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg/YB1AvU=&se=1578941692",
        "SharedAccessSignature sr=myiothub.azure-devices.net"
        "&sig=jNLd5fT1OOOh8Q3GOXfi%2BCbnqvMsE7%2BlpEsBASuS%2FKI%3D&skn=iothubowner&se=1578941692",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        struct iotc_sas_token t;
        assert_int_equal(iotc_sas_parse(S(tokens[i]), &t), IOTC_OK);
        assert_int_equal(t.expiry, 1578941692u);
        assert_int_equal(iotc_sas_verify(&t, S(KEY6), 0), IOTC_OK);
        assert_int_equal(iotc_sas_verify(&t, S(KEY6), 1578941691), IOTC_OK);
        assert_int_equal(iotc_sas_verify(&t, S(KEY6), 1578941692), IOTC_E_EXPIRED);
        assert_int_equal(iotc_sas_verify(&t, S(KEY6), UINT64_MAX), IOTC_E_EXPIRED);
        assert_int_equal(iotc_sas_verify(&t, S(DERIVED), 0), IOTC_E_AUTH);
        assert_int_equal(iotc_sas_verify(&t, S("!!"), 0), IOTC_E_ARG);
        assert_int_equal(iotc_sas_check_hub_resource(t.sr, S("myiothub.azure-devices.net"),
                                                     S("my_device"), IOTC_SPAN_NULL),
                         IOTC_OK);
        assert_int_equal(iotc_sas_check_hub_resource(t.sr, S("myiothub.azure-devices.net"),
                                                     S("my_device"), S("m1")),
                         IOTC_OK); /* device token covers its modules by prefix */
    }
}

static void test_verify_tampered(void **state)
{
    static const char *bad[] = {
        /* sr changed by one byte (case of hex is part of the signed text) */
        "sr=myiothub.azure-devices.net%2fdevices%2Fmy_device&sig="
        "dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2FYB1AvU%3D&se=1578941692",
        /* se changed */
        "sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig="
        "dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2FYB1AvU%3D&se=1578941693",
        /* se with a leading zero: the text is signed, not the number */
        "sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig="
        "dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg%2FYB1AvU%3D&se=01578941692",
        /* signature truncated, garbage, bad escape, too long */
        "sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig="
        "dIMMdDDBGFR8eqAfYkiMxoOphaFMPtMgj7Wg&se=1578941692",
        "sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig=!!!!&se=1578941692",
        "sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig=%zz&se=1578941692",
        "sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig="
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&se=1578941692",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct iotc_sas_token t;
        assert_int_equal(iotc_sas_parse(S(bad[i]), &t), IOTC_OK);
        assert_int_equal(iotc_sas_verify(&t, S(KEY6), 0), IOTC_E_AUTH);
    }
}

struct cover_vec {
    const char *granted, *target;
    bool covers;
};
static const struct cover_vec cover_vecs[] = {
    {"a/b", "a/b", true},    {"a/b", "a/b/c", true},     {"a/b", "a/bc", false},
    {"a/b/", "a/b/c", true}, {"a/b/c", "a/b", false},    {"", "a", false},
    {"A/b", "a/b", false},   {"h", "h/devices/d", true},
};

static void test_resource_covers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cover_vecs) / sizeof(cover_vecs[0]); i++)
        assert_int_equal(
            iotc_sas_resource_covers(S(cover_vecs[i].granted), S(cover_vecs[i].target)),
            cover_vecs[i].covers);
}

struct hubres_vec {
    const char *sr, *host, *dev, *mod;
    int rc;
};
static const struct hubres_vec hubres_vecs[] = {
    {"h%2Fdevices%2Fd", "h", "d", NULL, IOTC_OK},
    {"h%2fdevices%2fd", "h", "d", NULL, IOTC_OK},
    {"h/devices/d", "h", "d", NULL, IOTC_OK},
    {"h", "h", "d", NULL, IOTC_OK},
    {"h%2Fdevices", "h", "d", NULL, IOTC_OK},
    {"h%2Fdevices%2F", "h", "d", NULL, IOTC_OK},
    {"h%2Fdevices%2Fd%2Fmodules%2Fm", "h", "d", "m", IOTC_OK},
    {"h%2Fdevices%2Fd%2Fmodules%2Fm", "h", "d", NULL, IOTC_E_AUTH},
    {"h%2Fdevices%2Fd2", "h", "d", NULL, IOTC_E_AUTH},
    {"h%2Fdevices%2Fd", "h", "d2", NULL, IOTC_E_AUTH},
    {"h%2Fdevices%2FD", "h", "d", NULL, IOTC_E_AUTH},
    {"H", "h", "d", NULL, IOTC_E_AUTH},
    {"h2", "h", "d", NULL, IOTC_E_AUTH},
    {"h%2Fdevices%2Fd%2", "h", "d", NULL, IOTC_E_MALFORMED},
    {"h%ZZ", "h", "d", NULL, IOTC_E_MALFORMED},
    {"", "h", "d", NULL, IOTC_E_AUTH},
};

static void test_hub_resource_check(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hubres_vecs) / sizeof(hubres_vecs[0]); i++) {
        const struct hubres_vec *v = &hubres_vecs[i];
        int rc = iotc_sas_check_hub_resource(S(v->sr), S(v->host), S(v->dev), S(v->mod));
        if (rc != v->rc)
            fail_msg("vector %zu sr '%s': rc %d want %d", i, v->sr, rc, v->rc);
    }
}

static void test_dps_resource_check(void **state)
{
    (void)state;
    assert_int_equal(iotc_sas_check_dps_resource(S("sc%2FREGISTRATIONS%2Fr1"), S("SC"), S("r1")),
                     IOTC_OK);
    assert_int_equal(iotc_sas_check_dps_resource(S("sc/registrations/r1/x"), S("sc"), S("r1")),
                     IOTC_E_AUTH);
    assert_int_equal(iotc_sas_check_dps_resource(S("sc/registrations/r"), S("sc"), S("r1")),
                     IOTC_E_AUTH);
    assert_int_equal(iotc_sas_check_dps_resource(S("sc/registrations/r%"), S("sc"), S("r1")),
                     IOTC_E_MALFORMED);
    assert_int_equal(iotc_sas_check_dps_resource(S("sc/registrations/r1"), S(""), S("r1")),
                     IOTC_E_AUTH);
}

static void test_builder_errors(void **state)
{
    char out[300];
    size_t n = 0, full;
    (void)state;
    assert_int_equal(iotc_sas_token_hub(S(KEY6), S("h"), S("d"), IOTC_SPAN_NULL, IOTC_SPAN_NULL, 1,
                                        out, sizeof(out), &full),
                     IOTC_OK);
    memset(out, 'x', sizeof(out));
    assert_int_equal(iotc_sas_token_hub(S(KEY6), S("h"), S("d"), IOTC_SPAN_NULL, IOTC_SPAN_NULL, 1,
                                        out, full - 1, &n),
                     IOTC_E_NOSPACE);
    assert_int_equal(n, full);
    assert_int_equal(out[0], 'x'); /* nothing written */
    assert_int_equal(iotc_sas_token_hub(S(KEY6), S("h"), S("d"), IOTC_SPAN_NULL, IOTC_SPAN_NULL, 1,
                                        out, full, &n),
                     IOTC_OK);
    assert_int_equal(out[full - 1], '1');
    assert_int_equal(out[full], 'x'); /* exact fit: no NUL */
    assert_int_equal(iotc_sas_token_hub(S(KEY6), S(""), S("d"), IOTC_SPAN_NULL, IOTC_SPAN_NULL, 1,
                                        out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_sas_token_hub(S("a"), S("h"), S("d"), IOTC_SPAN_NULL, IOTC_SPAN_NULL, 1,
                                        out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_sas_token_dps(S(KEY6), S("s"), S("r"), (enum iotc_sas_dps_style)7, 1, out,
                                        sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_sas_token_service(S(KEY6), S("h"), S(""), 1, out, sizeof(out), &n),
                     IOTC_E_ARG);
    assert_int_equal(iotc_sas_sign(S(KEY6), S("x"), S("1"), out, 44, &n), IOTC_OK);
    assert_int_equal(iotc_sas_sign(S(KEY6), S("x"), S("1"), out, 43, &n), IOTC_E_NOSPACE);
    /* a 129-byte key is refused, a 128-byte one accepted */
    char big[200];
    unsigned char raw[129];
    memset(raw, 7, sizeof(raw));
    assert_int_equal(iotc_base64_encode(raw, 129, big, sizeof(big), &n), IOTC_OK);
    assert_int_equal(iotc_sas_sign(S(big), S("x"), S("1"), out, sizeof(out), &n), IOTC_E_ARG);
    assert_int_equal(iotc_base64_encode(raw, 128, big, sizeof(big), &n), IOTC_OK);
    assert_int_equal(iotc_sas_sign(S(big), S("x"), S("1"), out, sizeof(out), &n), IOTC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_vectors),        cmocka_unit_test(test_py_signing_mechanism),
        cmocka_unit_test(test_node_vector1_token),  cmocka_unit_test(test_node_vector2_device),
        cmocka_unit_test(test_csdk_vector4_format), cmocka_unit_test(test_csdk_vector5_dps_format),
        cmocka_unit_test(test_vector6_full_tokens), cmocka_unit_test(test_dps_styles),
        cmocka_unit_test(test_derive_official),     cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_verify_vectors),      cmocka_unit_test(test_verify_tampered),
        cmocka_unit_test(test_resource_covers),     cmocka_unit_test(test_hub_resource_check),
        cmocka_unit_test(test_dps_resource_check),  cmocka_unit_test(test_builder_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
