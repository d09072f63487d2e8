/*
 * x509.h - client certificates for X.509 attestation (docs/DEVICE_PLANE.md "X.509"):
 * certificate text as clients send it, thumbprints, proof of possession, and the
 * application's CA certificates (uploaded, verified by proof of possession, persisted).
 *
 * The decision itself is pure (auth.h auth_decide_cert()); this module turns OpenSSL
 * objects into the facts it takes. Loop thread only.
 */
#ifndef CENTRAL_X509_H
#define CENTRAL_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"
#include "central/hub/auth.h"

struct x509_st;
struct stack_st_X509;

#define X509_CN_MAX 128
/* verification code: 16 random bytes in hex */
#define X509_CODE_LEN 32
/* a CA's name in the store: a service-API name or "g:{group}:{slot}" */
#define X509_CA_KEY_MAX 160

/** Facts of one certificate, for auth_cert and for answers (sha1Thumbprint). */
struct x509_facts {
    char sha1[41];
    char sha256[65];
    char cn[X509_CN_MAX + 1];
    int64_t not_before_s, not_after_s;
};

/**
 * Parse a certificate as clients send it: PEM text, base64 of the DER, or base64 of the PEM
 * (the az CLI sends both). @return a new certificate (caller frees with X509_free) or NULL.
 */
struct x509_st *x509_parse(const char *text);

/** Thumbprints (hex of SHA-1 and SHA-256 of the DER), CN and validity. 0 / -1. */
int x509_facts_of(struct x509_st *cert, struct x509_facts *out);

/**
 * Proof of possession, as IoT Hub / DPS / IoT Central check it: @p proof is signed by the key
 * of @p ca and its subject CN equals @p code. @return NULL when it holds, else the reason.
 */
const char *x509_pop_check(struct x509_st *ca, struct x509_st *proof, const char *code);

/* ---------------------------------------------------------------- the application's CAs */

/** One CA certificate of the application (borrowed, valid until it changes). */
struct x509_ca_info {
    const char *name;
    const char *pem;
    const char *code; /**< the last verification code handed out, or NULL */
    bool verified;
    struct x509_facts facts;
};

/** Create the CA list and load it from the store (after store_open, before store_start). */
int x509_ca_init(struct app *app);
void x509_ca_free(struct app *app);

/**
 * Add or replace the CA @p name (1..128 of letters, digits, '-', '_', '.') with certificate
 * text @p text (x509_parse()). A replaced certificate is unverified again.
 * @return CE_OK, CE_INVALID (bad name or certificate), CE_NOMEM.
 */
int x509_ca_put(struct app *app, const char *name, const char *text);
/** CE_OK / CE_NOTFOUND. */
int x509_ca_delete(struct app *app, const char *name);
/** The CA @p name, or false. */
bool x509_ca_get(struct app *app, const char *name, struct x509_ca_info *out);
/** The @p i-th CA (0-based, in creation order), or false past the end. */
bool x509_ca_at(struct app *app, size_t i, struct x509_ca_info *out);
/** Hand out a fresh verification code for @p name (copied to @p out). CE_OK / CE_NOTFOUND. */
int x509_ca_new_code(struct app *app, const char *name, char out[X509_CODE_LEN + 1]);
/**
 * Verify @p name with a proof certificate (text as x509_parse() takes): the CN must be the
 * code handed out last and the proof signed with the CA's key (x509_pop_check()).
 * @return CE_OK, CE_NOTFOUND, CE_INVALID (*out_reason says why).
 */
int x509_ca_verify(struct app *app, const char *name, const char *proof_text,
                   const char **out_reason);

/**
 * The store name of an X.509 enrollment group's CA certificate: "g:{group}:primary" or
 * ":secondary" (the ':' keeps these apart from the service API's names, which cannot hold one).
 * x509_ca_put / _get / _new_code / _verify / _delete take it. 0, or -1 when it does not fit.
 */
int x509_group_ca_name(const char *group, bool secondary, char out[X509_CA_KEY_MAX + 1]);
/** True when @p name is an enrollment group's certificate (not one of the service API). */
bool x509_ca_is_group(const char *name);

/** Where @p leaf's chain (with the peer's @p untrusted certificates) leads among the CAs. */
enum auth_chain x509_ca_chain(struct app *app, struct x509_st *leaf,
                              struct stack_st_X509 *untrusted);

/** The same for the one CA @p name (UNKNOWN also when there is no such CA): which of an
 * enrollment group's certificates the device's chain leads to. */
enum auth_chain x509_ca_chain_to(struct app *app, const char *name, struct x509_st *leaf,
                                 struct stack_st_X509 *untrusted);

#endif /* CENTRAL_X509_H */
