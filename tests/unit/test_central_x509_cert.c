/*
 * test_central_x509_cert.c - certificate handling of src/central/hub/x509.c with certificates made
 * in memory: the three ways clients send a certificate, thumbprints and a strict CN, proof of
 * possession, and the CA list (upload, code, verify, chain states, replace, delete).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "central/hub/registry.h"
#include "central/hub/x509.h"

static struct app app;

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

/* A certificate for @p key with subject CN bytes @p cn (length @p cn_len; a second CN when
 * @p cn2), signed by @p issuer / @p issuer_key (NULL: self-signed), valid now. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, int cn_len, const char *cn2, X509 *issuer,
                      EVP_PKEY *issuer_key, bool ca)
{
    X509 *c = X509_new();
    assert_non_null(c);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_set_pubkey(c, key);
    X509_NAME *n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, cn_len, -1, 0);
    if (cn2)
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn2, -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
    if (ca) {
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
        X509_EXTENSION *e =
            X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
        X509_add_ext(c, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return c;
}

/* PEM text of @p c (caller frees). */
static char *pem_of(X509 *c)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, c);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = calloc(1, (size_t)n + 1);
    memcpy(out, data, (size_t)n);
    BIO_free(b);
    return out;
}

/* base64 of @p len bytes (caller frees). */
static char *b64(const unsigned char *p, int len)
{
    char *out = calloc(1, (size_t)(4 * ((len + 2) / 3) + 1));
    EVP_EncodeBlock((unsigned char *)out, p, len);
    return out;
}

static int setup(void **state)
{
    (void)state;
    memset(&app, 0, sizeof app);
    if (registry_new(&app) != CE_OK)
        return -1;
    return x509_ca_init(&app); /* no store: the list lives in memory only */
}

static int teardown(void **state)
{
    (void)state;
    registry_free(&app); /* frees the CA list too */
    return 0;
}

static void test_parse_forms(void **state)
{
    (void)state;
    EVP_PKEY *k = new_key();
    X509 *c = new_cert(k, "dev-1", -1, NULL, NULL, NULL, false);
    char *pem = pem_of(c);
    unsigned char *der = NULL;
    int der_len = i2d_X509(c, &der);
    char *der_b64 = b64(der, der_len);
    char *pem_b64 = b64((const unsigned char *)pem, (int)strlen(pem));
    struct x509_facts want, got;
    assert_int_equal(x509_facts_of(c, &want), 0);
    assert_int_equal(strlen(want.sha1), 40);
    assert_int_equal(strlen(want.sha256), 64);
    assert_string_equal(want.cn, "dev-1");
    assert_true(want.not_after_s > want.not_before_s);

    const char *forms[] = {pem, der_b64, pem_b64};
    for (int i = 0; i < 3; i++) {
        X509 *p = x509_parse(forms[i]);
        assert_non_null(p);
        assert_int_equal(x509_facts_of(p, &got), 0);
        assert_string_equal(got.sha1, want.sha1);
        assert_string_equal(got.sha256, want.sha256);
        X509_free(p);
    }
    /* base64 DER broken over lines (the PEM body without armour) parses too */
    char wrapped[4096];
    size_t n = 0;
    for (size_t i = 0; der_b64[i]; i++) {
        wrapped[n++] = der_b64[i];
        if (i % 64 == 63)
            wrapped[n++] = '\n';
    }
    wrapped[n] = '\0';
    X509 *p = x509_parse(wrapped);
    assert_non_null(p);
    X509_free(p);

    /* not certificates: text, truncated DER, DER with a byte after it, empty, NULL */
    char *trunc = b64(der, der_len - 10);
    unsigned char *longer = malloc((size_t)der_len + 3);
    memcpy(longer, der, (size_t)der_len);
    longer[der_len] = longer[der_len + 1] = longer[der_len + 2] = 0;
    char *trailing = b64(longer, der_len + 3);
    const char *bad[] = {"hello", "bm90IGEgY2VydA==", trunc, trailing, "", "-----BEGIN junk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(x509_parse(bad[i]));
    assert_null(x509_parse(NULL));

    free(trunc);
    free(longer);
    free(trailing);
    free(pem);
    free(pem_b64);
    free(der_b64);
    OPENSSL_free(der);
    X509_free(c);
    EVP_PKEY_free(k);
}

/* A CN with a NUL in it, or two CNs, is no CN at all. */
static void test_strict_cn(void **state)
{
    (void)state;
    EVP_PKEY *k = new_key();
    struct x509_facts f;
    X509 *nul = new_cert(k, "dev\0evil", 8, NULL, NULL, NULL, false);
    assert_int_equal(x509_facts_of(nul, &f), 0);
    assert_string_equal(f.cn, "");
    X509 *two = new_cert(k, "dev", -1, "other", NULL, NULL, false);
    assert_int_equal(x509_facts_of(two, &f), 0);
    assert_string_equal(f.cn, "");
    X509 *one = new_cert(k, "dev", -1, NULL, NULL, NULL, false);
    assert_int_equal(x509_facts_of(one, &f), 0);
    assert_string_equal(f.cn, "dev");
    X509_free(nul);
    X509_free(two);
    X509_free(one);
    EVP_PKEY_free(k);
}

static void test_pop_check(void **state)
{
    (void)state;
    EVP_PKEY *ck = new_key(), *ok = new_key(), *pk = new_key();
    X509 *ca = new_cert(ck, "root", -1, NULL, NULL, NULL, true);
    X509 *other = new_cert(ok, "other", -1, NULL, NULL, NULL, true);
    X509 *right = new_cert(pk, "C0DE", -1, NULL, ca, ck, false);
    X509 *wrong_cn = new_cert(pk, "NOPE", -1, NULL, ca, ck, false);
    X509 *wrong_key = new_cert(pk, "C0DE", -1, NULL, other, ok, false);
    assert_null(x509_pop_check(ca, right, "C0DE"));
    assert_non_null(strstr(x509_pop_check(ca, wrong_cn, "C0DE"), "CN"));
    assert_non_null(strstr(x509_pop_check(ca, wrong_key, "C0DE"), "key"));
    assert_non_null(x509_pop_check(ca, right, ""));
    assert_non_null(x509_pop_check(ca, right, NULL));
    X509_free(ca);
    X509_free(other);
    X509_free(right);
    X509_free(wrong_cn);
    X509_free(wrong_key);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(ok);
    EVP_PKEY_free(pk);
}

static void test_ca_list(void **state)
{
    (void)state;
    EVP_PKEY *rk = new_key(), *ik = new_key(), *dk = new_key(), *xk = new_key();
    X509 *root = new_cert(rk, "root", -1, NULL, NULL, NULL, true);
    X509 *inter = new_cert(ik, "intermediate", -1, NULL, root, rk, true);
    X509 *leaf = new_cert(dk, "dev", -1, NULL, inter, ik, false);
    X509 *stranger = new_cert(xk, "dev", -1, NULL, NULL, NULL, false);
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, inter);

    assert_int_equal(x509_ca_chain(&app, leaf, chain), AUTH_CHAIN_UNKNOWN);
    assert_int_equal(x509_ca_put(&app, "bad name!", "x"), CE_INVALID);
    assert_int_equal(x509_ca_put(&app, "root", "not a certificate"), CE_INVALID);
    char *pem = pem_of(root);
    assert_int_equal(x509_ca_put(&app, "root", pem), CE_OK);
    free(pem);
    struct x509_ca_info info;
    assert_true(x509_ca_get(&app, "root", &info));
    assert_false(info.verified);
    assert_string_equal(info.facts.cn, "root");
    assert_false(x509_ca_at(&app, 1, &info));

    /* uploaded, not verified: the leaf (with its intermediate) leads to it; without the
     * intermediate it leads nowhere */
    assert_int_equal(x509_ca_chain(&app, leaf, chain), AUTH_CHAIN_UNVERIFIED);
    assert_int_equal(x509_ca_chain(&app, leaf, NULL), AUTH_CHAIN_UNKNOWN);
    assert_int_equal(x509_ca_chain(&app, stranger, NULL), AUTH_CHAIN_UNKNOWN);

    const char *why = NULL;
    assert_int_equal(x509_ca_verify(&app, "root", "x", &why), CE_INVALID);
    char code[X509_CODE_LEN + 1];
    assert_int_equal(x509_ca_new_code(&app, "nope", code), CE_NOTFOUND);
    assert_int_equal(x509_ca_new_code(&app, "root", code), CE_OK);
    assert_int_equal(strlen(code), X509_CODE_LEN);
    X509 *proof = new_cert(dk, code, -1, NULL, root, rk, false);
    X509 *bad_proof = new_cert(dk, code, -1, NULL, NULL, NULL, false); /* self-signed */
    char *bad_pem = pem_of(bad_proof), *proof_pem = pem_of(proof);
    assert_int_equal(x509_ca_verify(&app, "root", bad_pem, &why), CE_INVALID);
    assert_non_null(why);
    assert_int_equal(x509_ca_verify(&app, "root", proof_pem, &why), CE_OK);
    assert_true(x509_ca_get(&app, "root", &info));
    assert_true(info.verified);
    assert_null(info.code); /* one proof per code */
    assert_int_equal(x509_ca_verify(&app, "root", proof_pem, &why), CE_INVALID);
    assert_int_equal(x509_ca_chain(&app, leaf, chain), AUTH_CHAIN_VERIFIED);
    assert_int_equal(x509_ca_chain(&app, stranger, NULL), AUTH_CHAIN_UNKNOWN);

    /* an uploaded intermediate is a trust anchor of its own */
    pem = pem_of(inter);
    assert_int_equal(x509_ca_put(&app, "inter", pem), CE_OK);
    free(pem);
    assert_true(x509_ca_at(&app, 1, &info));
    assert_string_equal(info.name, "inter");

    /* replacing the certificate makes it unverified again; deleting forgets it */
    pem = pem_of(root);
    assert_int_equal(x509_ca_put(&app, "root", pem), CE_OK);
    free(pem);
    assert_int_equal(x509_ca_chain(&app, leaf, chain), AUTH_CHAIN_UNVERIFIED);
    assert_int_equal(x509_ca_delete(&app, "root"), CE_OK);
    assert_int_equal(x509_ca_delete(&app, "root"), CE_NOTFOUND);
    assert_int_equal(x509_ca_chain(&app, leaf, NULL), AUTH_CHAIN_UNVERIFIED); /* via inter */
    assert_int_equal(x509_ca_delete(&app, "inter"), CE_OK);
    assert_int_equal(x509_ca_chain(&app, leaf, chain), AUTH_CHAIN_UNKNOWN);

    free(bad_pem);
    free(proof_pem);
    X509_free(proof);
    X509_free(bad_proof);
    sk_X509_free(chain);
    X509_free(root);
    X509_free(inter);
    X509_free(leaf);
    X509_free(stranger);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(dk);
    EVP_PKEY_free(xk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_strict_cn),
        cmocka_unit_test(test_pop_check),
        cmocka_unit_test(test_ca_list),
    };
    return cmocka_run_group_tests_name("central_x509_cert", tests, setup, teardown);
}
