/*
 * sas.c - SAS token signing, building, parsing and verification; DPS derived keys
 * (docs/PROTOCOL.md §2, §3).
 *
 * The string-to-sign is the sr text exactly as it appears in the token, "\n", and the se
 * digits exactly as they appear: re-encoding sr canonically would break one of the three DPS
 * client styles of §2.4, so nothing here ever normalises sr before signing or verifying.
 */
#include <iotc/sas.h>

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <iotc/codec.h>

#include "proto/strbuf.h"

#define HMAC_LEN 32

static int decode_key(struct iotc_span key_b64, unsigned char *key, size_t *key_len)
{
    int rc = iotc_base64_decode(key_b64, key, IOTC_SAS_MAX_KEY_LEN, key_len);
    if (rc < 0 || *key_len == 0)
        return IOTC_E_ARG;
    return IOTC_OK;
}

/* HMAC-SHA256 over the concatenation of parts (no copy of the message is made). */
static int hmac_sha256(const unsigned char *key, size_t key_len, const struct iotc_span *parts,
                       size_t nparts, unsigned char out[HMAC_LEN])
{
    int rc = IOTC_E_CRYPTO;
    size_t out_len = 0;
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    if (ctx == NULL)
        goto fail;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, key, key_len, params) != 1)
        goto fail;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].len > 0 &&
            EVP_MAC_update(ctx, (const unsigned char *)parts[i].ptr, parts[i].len) != 1)
            goto fail;
    }
    if (EVP_MAC_final(ctx, out, &out_len, HMAC_LEN) != 1 || out_len != HMAC_LEN)
        goto fail;
    rc = IOTC_OK;
fail:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

/* HMAC with a base64 key over sr "\n" se; the decoded key is wiped afterwards. */
static int sign_raw(struct iotc_span key_b64, struct iotc_span sr, struct iotc_span se,
                    unsigned char mac[HMAC_LEN])
{
    unsigned char key[IOTC_SAS_MAX_KEY_LEN];
    size_t key_len = 0;
    int rc = decode_key(key_b64, key, &key_len);
    if (rc == IOTC_OK) {
        struct iotc_span parts[3] = {sr, IOTC_SPAN_LIT("\n"), se};
        rc = hmac_sha256(key, key_len, parts, 3, mac);
    }
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

int iotc_sas_sign(struct iotc_span key_b64, struct iotc_span sr, struct iotc_span se, char *out,
                  size_t out_size, size_t *out_len)
{
    unsigned char mac[HMAC_LEN];
    if (out_size < IOTC_SAS_SIG_B64_LEN || out == NULL) {
        if (out_len != NULL)
            *out_len = IOTC_SAS_SIG_B64_LEN;
        return IOTC_E_NOSPACE;
    }
    int rc = sign_raw(key_b64, sr, se, mac);
    if (rc < 0)
        return rc;
    return iotc_base64_encode(mac, HMAC_LEN, out, out_size, out_len);
}

static int emit_token(struct iotc__sb *sb, struct iotc_span sr, struct iotc_span sig_b64,
                      uint64_t se, struct iotc_span skn, unsigned flags)
{
    bool skn_first = (flags & IOTC_SAS_SKN_BEFORE_SE) != 0;
    iotc__sb_puts(sb, IOTC_SAS_PREFIX "sr=");
    iotc__sb_span(sb, sr);
    iotc__sb_puts(sb, "&sig=");
    iotc__sb_pct(sb, sig_b64);
    if (skn_first)
        iotc__sb_param(sb, "&skn=", skn, NULL);
    iotc__sb_puts(sb, "&se=");
    iotc__sb_u64(sb, se);
    if (!skn_first)
        iotc__sb_param(sb, "&skn=", skn, NULL);
    return 0;
}

int iotc_sas_format(struct iotc_span sr, struct iotc_span sig_b64, uint64_t se,
                    struct iotc_span skn, unsigned flags, char *out, size_t out_size,
                    size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len, emit_token(sb, sr, sig_b64, se, skn, flags));
}

int iotc_sas_build(struct iotc_span key_b64, struct iotc_span sr, uint64_t se, struct iotc_span skn,
                   unsigned flags, char *out, size_t out_size, size_t *out_len)
{
    char se_text[IOTC__U64_DIGITS + 1];
    char sig[IOTC_SAS_SIG_B64_LEN + 1];
    struct iotc__sb sb;
    size_t n;
    iotc__sb_init(&sb, se_text, sizeof(se_text));
    iotc__sb_u64(&sb, se);
    struct iotc_span se_span = {se_text, sb.len};
    int rc = iotc_sas_sign(key_b64, sr, se_span, sig, sizeof(sig), &n);
    if (rc < 0)
        return rc;
    return iotc_sas_format(sr, (struct iotc_span){sig, n}, se, skn, flags, out, out_size, out_len);
}

static bool nonempty(struct iotc_span s)
{
    return s.ptr != NULL && s.len > 0;
}

static int emit_hub_resource(struct iotc__sb *sb, struct iotc_span host, struct iotc_span dev,
                             struct iotc_span mod)
{
    if (!nonempty(host) || !nonempty(dev) || (mod.ptr != NULL && mod.len == 0))
        return IOTC_E_ARG;
    iotc__sb_pct(sb, host);
    iotc__sb_puts(sb, "%2Fdevices%2F");
    iotc__sb_pct(sb, dev);
    iotc__sb_param(sb, "%2Fmodules%2F", mod, NULL);
    return 0;
}

int iotc_sas_hub_resource(struct iotc_span host, struct iotc_span device_id,
                          struct iotc_span module_id, char *out, size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len, emit_hub_resource(sb, host, device_id, module_id));
}

static int emit_dps_resource(struct iotc__sb *sb, struct iotc_span scope, struct iotc_span reg,
                             enum iotc_sas_dps_style style)
{
    if (!nonempty(scope) || !nonempty(reg))
        return IOTC_E_ARG;
    switch (style) {
    case IOTC_SAS_DPS_CSDK:
        /* The C SDK writes this separator as a lower-case literal (SCOPE_REGISTRATIONS_STRING). */
        iotc__sb_pct(sb, scope);
        iotc__sb_puts(sb, "%2fregistrations%2f");
        iotc__sb_pct(sb, reg);
        return 0;
    case IOTC_SAS_DPS_PY:
        iotc__sb_pct(sb, scope);
        iotc__sb_puts(sb, "%2Fregistrations%2F");
        iotc__sb_pct(sb, reg);
        return 0;
    case IOTC_SAS_DPS_NODE:
        iotc__sb_span(sb, scope);
        iotc__sb_puts(sb, "/registrations/");
        iotc__sb_span(sb, reg);
        return 0;
    default:
        return IOTC_E_ARG;
    }
}

int iotc_sas_dps_resource(struct iotc_span id_scope, struct iotc_span registration_id,
                          enum iotc_sas_dps_style style, char *out, size_t out_size,
                          size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len,
                   emit_dps_resource(sb, id_scope, registration_id, style));
}

/* Resource texts are short in practice; this bound keeps the builders allocation-free. */
#define SR_MAX 1024

/* Sign the resource text that a resource builder returned (rc) into sr: one too long for SR_MAX
 * is an argument error, not a too-small output. */
static int token_for(int rc, const char *sr, size_t n, struct iotc_span key_b64, uint64_t se,
                     struct iotc_span skn, unsigned flags, char *out, size_t out_size,
                     size_t *out_len)
{
    if (rc == IOTC_E_NOSPACE)
        return IOTC_E_ARG;
    if (rc < 0)
        return rc;
    return iotc_sas_build(key_b64, (struct iotc_span){sr, n}, se, skn, flags, out, out_size,
                          out_len);
}

int iotc_sas_token_hub(struct iotc_span key_b64, struct iotc_span host, struct iotc_span device_id,
                       struct iotc_span module_id, struct iotc_span skn, uint64_t se, char *out,
                       size_t out_size, size_t *out_len)
{
    char sr[SR_MAX];
    size_t n = 0;
    int rc = iotc_sas_hub_resource(host, device_id, module_id, sr, sizeof(sr), &n);
    return token_for(rc, sr, n, key_b64, se, skn, 0, out, out_size, out_len);
}

int iotc_sas_token_dps(struct iotc_span key_b64, struct iotc_span id_scope,
                       struct iotc_span registration_id, enum iotc_sas_dps_style style, uint64_t se,
                       char *out, size_t out_size, size_t *out_len)
{
    char sr[SR_MAX];
    size_t n = 0;
    int rc = iotc_sas_dps_resource(id_scope, registration_id, style, sr, sizeof(sr), &n);
    bool node = style == IOTC_SAS_DPS_NODE;
    return token_for(rc, sr, n, key_b64, se,
                     node ? IOTC_SPAN_LIT(IOTC_SAS_DPS_SKN) : IOTC_SPAN_NULL,
                     node ? IOTC_SAS_SKN_BEFORE_SE : 0u, out, out_size, out_len);
}

int iotc_sas_token_service(struct iotc_span key_b64, struct iotc_span host,
                           struct iotc_span policy_name, uint64_t se, char *out, size_t out_size,
                           size_t *out_len)
{
    if (!nonempty(host) || !nonempty(policy_name))
        return IOTC_E_ARG;
    return iotc_sas_build(key_b64, host, se, policy_name, IOTC_SAS_SKN_BEFORE_SE, out, out_size,
                          out_len);
}

int iotc_sas_derive_device_key(struct iotc_span group_key_b64, struct iotc_span registration_id,
                               char *out, size_t out_size, size_t *out_len)
{
    unsigned char key[IOTC_SAS_MAX_KEY_LEN];
    unsigned char mac[HMAC_LEN];
    size_t key_len = 0;
    if (out_size < IOTC_SAS_SIG_B64_LEN || out == NULL) {
        if (out_len != NULL)
            *out_len = IOTC_SAS_SIG_B64_LEN;
        return IOTC_E_NOSPACE;
    }
    int rc = decode_key(group_key_b64, key, &key_len);
    if (rc == IOTC_OK)
        rc = hmac_sha256(key, key_len, &registration_id, 1, mac);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0)
        return rc;
    rc = iotc_base64_encode(mac, HMAC_LEN, out, out_size, out_len);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}
