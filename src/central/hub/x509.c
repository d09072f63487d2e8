/*
 * x509.c - certificate text, thumbprints, proof of possession and the application's CA
 * certificates (see x509.h), on OpenSSL's X509 API.
 */
#include "central/hub/x509.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "central/base/app.h"
#include "central/base/check.h"
#include "central/base/log.h"
#include "central/store/store.h"

#define X509_TEXT_MAX (64 * 1024) /* a certificate, with its PEM armour and base64 */
#define CA_MAX 256                /* the service API's CAs and two per X.509 enrollment group */
#define CA_NAME_MAX 128

/* ---------------------------------------------------------------- certificate text */

static X509 *from_pem(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return cert;
}

static bool is_pem(const char *p, size_t len)
{
    static const char begin[] = "-----BEGIN";
    while (len > 0 && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
        len--;
    }
    return len >= sizeof begin - 1 && memcmp(p, begin, sizeof begin - 1) == 0;
}

X509 *x509_parse(const char *text)
{
    if (text == NULL)
        return NULL;
    size_t n = strlen(text);
    if (n == 0 || n > X509_TEXT_MAX)
        return NULL;
    if (is_pem(text, n))
        return from_pem(text, n);
    /* base64 of the DER or of the PEM: whitespace dropped, then decoded */
    char *b64 = malloc(n + 1);
    unsigned char *raw = malloc(n + 1);
    X509 *cert = NULL;
    size_t m = 0;
    if (b64 == NULL || raw == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t')
            b64[m++] = text[i];
    b64[m] = '\0';
    if (m == 0 || m % 4 != 0)
        goto out;
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)m);
    if (len <= 0)
        goto out;
    /* EVP_DecodeBlock counts the padding as zero bytes */
    if (b64[m - 1] == '=')
        len--;
    if (b64[m - 2] == '=')
        len--;
    if (is_pem((const char *)raw, (size_t)len)) {
        cert = from_pem((const char *)raw, (size_t)len);
    } else {
        const unsigned char *p = raw;
        cert = d2i_X509(NULL, &p, len);
        if (cert != NULL && p != raw + len) { /* trailing bytes: not one certificate */
            X509_free(cert);
            cert = NULL;
        }
    }
out:
    free(b64);
    free(raw);
    return cert;
}

static int64_t asn1_seconds(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

/* The subject's one CN as text; "" when there is none, more than one, or it holds a NUL (a CN
 * "dev\0x" must not pass for "dev") or does not fit. */
static void cn_of(X509 *cert, char out[X509_CN_MAX + 1])
{
    const X509_NAME *name = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    out[0] = '\0';
    if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
        return;
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n > 0 && n <= X509_CN_MAX && memchr(utf8, '\0', (size_t)n) == NULL) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
}

int x509_facts_of(X509 *cert, struct x509_facts *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    memset(out, 0, sizeof *out);
    if (X509_digest(cert, EVP_sha1(), md, &n) != 1 || n != 20)
        return -1;
    app_hex(md, n, out->sha1);
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
        return -1;
    app_hex(md, n, out->sha256);
    cn_of(cert, out->cn);
    out->not_before_s = asn1_seconds(X509_get0_notBefore(cert));
    out->not_after_s = asn1_seconds(X509_get0_notAfter(cert));
    return 0;
}

const char *x509_pop_check(X509 *ca, X509 *proof, const char *code)
{
    struct x509_facts f;
    if (code == NULL || code[0] == '\0')
        return "no verification code was generated";
    if (x509_facts_of(proof, &f) < 0)
        return "unreadable certificate";
    if (strcmp(f.cn, code) != 0)
        return "the certificate's CN is not the verification code";
    EVP_PKEY *key = X509_get0_pubkey(ca);
    if (key == NULL || X509_verify(proof, key) != 1)
        return "the certificate is not signed with the CA's key";
    return NULL;
}

/* ---------------------------------------------------------------- the CA list */

struct x509_ca {
    char name[X509_CA_KEY_MAX + 1];
    char *pem;
    X509 *cert;
    struct x509_facts facts;
    char code[X509_CODE_LEN + 1];
    bool verified;
};

struct x509_cas {
    struct x509_ca *v[CA_MAX];
    size_t n;
};

/* A name of the service API (1..128 of letters, digits, '-', '_', '.'), or, with @p internal, an
 * enrollment group's certificate too ("g:{group}:{slot}", x509_group_ca_name()). */
static bool name_ok_as(const char *name, bool internal)
{
    size_t n = name ? strlen(name) : 0;
    if (internal && n > 2 && n <= X509_CA_KEY_MAX && strncmp(name, "g:", 2) == 0)
        return true;
    if (n == 0 || n > CA_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool name_ok(const char *name)
{
    return name_ok_as(name, true);
}

bool x509_ca_is_group(const char *name)
{
    return name != NULL && strncmp(name, "g:", 2) == 0;
}

int x509_group_ca_name(const char *group, bool secondary, char out[X509_CA_KEY_MAX + 1])
{
    int n =
        snprintf(out, X509_CA_KEY_MAX + 1, "g:%s:%s", group, secondary ? "secondary" : "primary");
    return n > 0 && n <= X509_CA_KEY_MAX ? 0 : -1;
}

static void ca_free(struct x509_ca *ca)
{
    if (ca == NULL)
        return;
    X509_free(ca->cert);
    free(ca->pem);
    free(ca);
}

static struct x509_ca *ca_find(struct x509_cas *cas, const char *name, size_t *out_i)
{
    if (cas == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < cas->n; i++) {
        if (strcmp(cas->v[i]->name, name) == 0) {
            if (out_i)
                *out_i = i;
            return cas->v[i];
        }
    }
    return NULL;
}

/* A trust store of the one CA @p ca. Each CA is tried on its own: several CAs may share a
 * subject name (development roots often do), and a store holding them all would try only the
 * first one whose name matches the issuer. */
static X509_STORE *store_of(const struct x509_ca *ca)
{
    X509_STORE *st = X509_STORE_new();
    if (st == NULL)
        return NULL;
    /* An uploaded intermediate is a trust anchor of its own, as in IoT Hub. */
    X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
    if (X509_STORE_add_cert(st, ca->cert) != 1) {
        ERR_clear_error();
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

static char *ca_record(const struct x509_ca *ca)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "pem", ca->pem);
    cJSON_AddBoolToObject(o, "verified", ca->verified);
    cJSON_AddStringToObject(o, "code", ca->code);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void persist(struct app *app, const struct x509_ca *ca)
{
    if (app->store == NULL)
        return;
    char *rec = ca_record(ca);
    struct store_arg args[] = {{.type = STORE_ARG_TEXT, .s = ca->name},
                               {.type = STORE_ARG_TEXT, .s = rec}};
    if (rec == NULL ||
        store_exec(app->store,
                   "INSERT INTO x509_cas(name, data) VALUES(?,?) ON CONFLICT(name) DO UPDATE "
                   "SET data=excluded.data",
                   args, 2) != CE_OK)
        log_error("x509: cannot queue the store write of CA %s", LOG_STR(ca->name));
    free(rec);
}

/* A CA from its certificate text; NULL when the text is not a certificate. */
static struct x509_ca *ca_make(const char *name, const char *text)
{
    struct x509_ca *ca = calloc(1, sizeof *ca);
    if (ca == NULL)
        return NULL;
    memcpy(ca->name, name, strlen(name) + 1);
    ca->cert = x509_parse(text);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len = 0;
    if (ca->cert == NULL || bio == NULL || x509_facts_of(ca->cert, &ca->facts) < 0 ||
        PEM_write_bio_X509(bio, ca->cert) != 1 || (len = BIO_get_mem_data(bio, &data)) <= 0 ||
        (ca->pem = malloc((size_t)len + 1)) == NULL) {
        BIO_free(bio);
        ca_free(ca);
        return NULL;
    }
    memcpy(ca->pem, data, (size_t)len);
    ca->pem[len] = '\0';
    BIO_free(bio);
    return ca;
}

static int load_row(void *ctx, const char *name, const char *data)
{
    struct x509_cas *cas = ctx;
    cJSON *o = cJSON_Parse(data);
    const cJSON *pem = cJSON_GetObjectItemCaseSensitive(o, "pem");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
    struct x509_ca *ca = NULL;
    if (name_ok(name) && cJSON_IsString(pem) && cas->n < CA_MAX)
        ca = ca_make(name, pem->valuestring);
    if (ca == NULL) {
        log_warn("x509: skipping unreadable CA row %s", LOG_STR(name));
    } else {
        ca->verified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "verified"));
        if (cJSON_IsString(code) && strlen(code->valuestring) <= X509_CODE_LEN)
            memcpy(ca->code, code->valuestring, strlen(code->valuestring) + 1);
        cas->v[cas->n++] = ca;
    }
    cJSON_Delete(o);
    return 0;
}

int x509_ca_init(struct app *app)
{
    struct x509_cas *cas = calloc(1, sizeof *cas);
    if (cas == NULL)
        return CE_NOMEM;
    app->cas = cas;
    if (app->store != NULL && store_load_cas(app->store, load_row, cas) != CE_OK)
        return CE_STORE;
    return CE_OK;
}

void x509_ca_free(struct app *app)
{
    struct x509_cas *cas = app->cas;
    if (cas == NULL)
        return;
    for (size_t i = 0; i < cas->n; i++)
        ca_free(cas->v[i]);
    free(cas);
    app->cas = NULL;
}

static void info_of(const struct x509_ca *ca, struct x509_ca_info *out)
{
    out->name = ca->name;
    out->pem = ca->pem;
    out->code = ca->code[0] ? ca->code : NULL;
    out->verified = ca->verified;
    out->facts = ca->facts;
}

int x509_ca_put(struct app *app, const char *name, const char *text)
{
    struct x509_cas *cas = app->cas;
    CENTRAL_ASSERT_LOOP(app);
    if (cas == NULL)
        return CE_NOMEM;
    if (!name_ok_as(name, x509_ca_is_group(name)))
        return CE_INVALID;
    size_t i = 0;
    struct x509_ca *old = ca_find(cas, name, &i);
    if (old == NULL && cas->n == CA_MAX)
        return CE_BUSY;
    struct x509_ca *ca = ca_make(name, text);
    if (ca == NULL)
        return CE_INVALID;
    if (old != NULL) {
        cas->v[i] = ca;
        ca_free(old);
    } else {
        cas->v[cas->n++] = ca;
    }
    persist(app, ca);
    log_info("x509: CA %s uploaded (sha1 %s, unverified)", LOG_STR(name), ca->facts.sha1);
    return CE_OK;
}

int x509_ca_delete(struct app *app, const char *name)
{
    struct x509_cas *cas = app->cas;
    size_t i = 0;
    struct x509_ca *ca = ca_find(cas, name, &i);
    if (ca == NULL)
        return CE_NOTFOUND;
    memmove(&cas->v[i], &cas->v[i + 1], (cas->n - i - 1) * sizeof cas->v[0]);
    cas->n--;
    if (app->store != NULL) {
        struct store_arg args[] = {{.type = STORE_ARG_TEXT, .s = ca->name}};
        store_exec(app->store, "DELETE FROM x509_cas WHERE name=?", args, 1);
    }
    log_info("x509: CA %s deleted", LOG_STR(name));
    ca_free(ca);
    return CE_OK;
}

bool x509_ca_get(struct app *app, const char *name, struct x509_ca_info *out)
{
    struct x509_ca *ca = ca_find(app->cas, name, NULL);
    if (ca != NULL)
        info_of(ca, out);
    return ca != NULL;
}

bool x509_ca_at(struct app *app, size_t i, struct x509_ca_info *out)
{
    if (app->cas == NULL || i >= app->cas->n)
        return false;
    info_of(app->cas->v[i], out);
    return true;
}

int x509_ca_new_code(struct app *app, const char *name, char out[X509_CODE_LEN + 1])
{
    struct x509_ca *ca = ca_find(app->cas, name, NULL);
    unsigned char r[X509_CODE_LEN / 2];
    if (ca == NULL)
        return CE_NOTFOUND;
    if (RAND_bytes(r, sizeof r) != 1)
        return CE_NOMEM;
    app_hex(r, sizeof r, ca->code);
    for (char *p = ca->code; *p; p++) /* upper case, as IoT Hub's codes */
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    memcpy(out, ca->code, sizeof ca->code);
    persist(app, ca);
    return CE_OK;
}

int x509_ca_verify(struct app *app, const char *name, const char *proof_text,
                   const char **out_reason)
{
    struct x509_ca *ca = ca_find(app->cas, name, NULL);
    *out_reason = NULL;
    if (ca == NULL)
        return CE_NOTFOUND;
    X509 *proof = x509_parse(proof_text);
    if (proof == NULL) {
        *out_reason = "the verification certificate is not a certificate";
        return CE_INVALID;
    }
    *out_reason = x509_pop_check(ca->cert, proof, ca->code);
    X509_free(proof);
    if (*out_reason != NULL)
        return CE_INVALID;
    ca->verified = true;
    ca->code[0] = '\0'; /* one proof per code */
    persist(app, ca);
    log_info("x509: CA %s verified (proof of possession)", LOG_STR(name));
    return CE_OK;
}

static bool verifies(X509_STORE *st, X509 *leaf, STACK_OF(X509) * untrusted)
{
    if (st == NULL)
        return false;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = ctx != NULL && X509_STORE_CTX_init(ctx, st, leaf, untrusted) == 1 &&
              X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* Where @p leaf's chain leads with @p ca as the only trust anchor. */
static enum auth_chain chain_to(const struct x509_ca *ca, X509 *leaf, STACK_OF(X509) * untrusted)
{
    X509_STORE *st = store_of(ca);
    bool ok = verifies(st, leaf, untrusted);
    X509_STORE_free(st);
    return !ok ? AUTH_CHAIN_UNKNOWN : ca->verified ? AUTH_CHAIN_VERIFIED : AUTH_CHAIN_UNVERIFIED;
}

enum auth_chain x509_ca_chain(struct app *app, X509 *leaf, STACK_OF(X509) * untrusted)
{
    struct x509_cas *cas = app->cas;
    enum auth_chain best = AUTH_CHAIN_UNKNOWN;
    for (size_t i = 0; cas != NULL && i < cas->n && best != AUTH_CHAIN_VERIFIED; i++) {
        enum auth_chain ch = chain_to(cas->v[i], leaf, untrusted);
        if (ch != AUTH_CHAIN_UNKNOWN)
            best = ch;
    }
    return best;
}

enum auth_chain x509_ca_chain_to(struct app *app, const char *name, X509 *leaf,
                                 STACK_OF(X509) * untrusted)
{
    struct x509_ca *ca = ca_find(app->cas, name, NULL);
    return ca != NULL ? chain_to(ca, leaf, untrusted) : AUTH_CHAIN_UNKNOWN;
}
