/*
 * iotc/sas.h - Shared Access Signature tokens and DPS group key derivation
 * (docs/PROTOCOL.md §2, §3).
 *
 * Token text: `SharedAccessSignature sr={sr}&sig={pct(base64(HMAC-SHA256(key, sr "\n"
 * se)))}&se={se}[&skn={name}]`. The string-to-sign is the sr text EXACTLY as it appears in the
 * token, so builders take or produce the final sr text and the verifier signs the verbatim sr
 * substring.
 *
 * Writers follow the conventions of iotc/codec.h (size first, IOTC_E_NOSPACE writes nothing,
 * *out_len excludes the NUL, NUL-terminated when room). Keys are base64 text (lenient decoding,
 * see iotc_base64_decode()). Time is always an argument (seconds since the Unix epoch).
 * No allocation except inside OpenSSL's HMAC; no I/O; reentrant.
 */
#ifndef IOTC_SAS_H
#define IOTC_SAS_H

#include <iotc/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOTC_SAS_PREFIX "SharedAccessSignature "
/** Length of the base64 text of an HMAC-SHA256 (32 bytes -> 44 chars incl. one '='). */
#define IOTC_SAS_SIG_B64_LEN 44
/** Largest key (decoded bytes) accepted; Azure keys are 16..64 bytes. */
#define IOTC_SAS_MAX_KEY_LEN 128
/** skn DPS documents for device registration tokens (NODE sends it). */
#define IOTC_SAS_DPS_SKN "registration"

/** How the DPS `sr` is spelled (§2.4). All three are accepted by real DPS. */
enum iotc_sas_dps_style {
    IOTC_SAS_DPS_CSDK = 0, /**< `{enc(scope)}%2fregistrations%2f{enc(regId)}`, no skn (default) */
    IOTC_SAS_DPS_PY = 1,   /**< `enc("{scope}/registrations/{regId}")` (upper %2F), no skn */
    IOTC_SAS_DPS_NODE =
        2, /**< raw `{scope}/registrations/{regId}`, skn=registration, skn before se */
};

/** Field-order and formatting flags for iotc_sas_format()/iotc_sas_build(). */
enum iotc_sas_flags {
    IOTC_SAS_SKN_BEFORE_SE =
        1u << 0, /**< `sr,sig,skn,se` (NODE, service SDK) instead of `sr,sig,se,skn` */
};

/**
 * Compute the raw (not percent-encoded) base64 signature of `sr "\n" se`.
 * @param key_b64   base64 key (borrowed); decoded leniently
 * @param sr        the sr text exactly as it will appear in the token (borrowed)
 * @param se        expiry text, decimal digits (borrowed)
 * @return IOTC_OK; IOTC_E_ARG (key not base64, empty, or longer than IOTC_SAS_MAX_KEY_LEN);
 *         IOTC_E_CRYPTO; IOTC_E_NOSPACE (needs IOTC_SAS_SIG_B64_LEN + 1 for the NUL).
 */
IOTC_API int iotc_sas_sign(struct iotc_span key_b64, struct iotc_span sr, struct iotc_span se,
                           char *out, size_t out_size, size_t *out_len);

/**
 * Assemble a token from parts without signing (for tests and for precomputed signatures):
 * `SharedAccessSignature sr={sr}&sig={pct(sig_b64)}&se={se}[&skn={pct(skn)}]`.
 * @param sr      final sr text, written verbatim
 * @param sig_b64 raw base64 signature, percent-encoded by this function
 * @param se      expiry in seconds
 * @param skn     optional key name (absent: ptr NULL), percent-encoded by this function
 * @param flags   enum iotc_sas_flags
 * @return IOTC_OK, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_sas_format(struct iotc_span sr, struct iotc_span sig_b64, uint64_t se,
                             struct iotc_span skn, unsigned flags, char *out, size_t out_size,
                             size_t *out_len);

/**
 * Sign and assemble a token for an arbitrary, already final sr text.
 * @return IOTC_OK, IOTC_E_ARG (bad key), IOTC_E_CRYPTO, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_sas_build(struct iotc_span key_b64, struct iotc_span sr, uint64_t se,
                            struct iotc_span skn, unsigned flags, char *out, size_t out_size,
                            size_t *out_len);

/**
 * Write the hub sr text `enc("{host}/devices/{deviceId}[/modules/{moduleId}]")`, i.e.
 * `host%2Fdevices%2Fdev[%2Fmodules%2Fmod]` (§2.2, C SDK / PY / NODE agree).
 * @param module_id optional (ptr NULL: device token)
 * @return IOTC_OK, IOTC_E_ARG (empty host or device id), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_sas_hub_resource(struct iotc_span host, struct iotc_span device_id,
                                   struct iotc_span module_id, char *out, size_t out_size,
                                   size_t *out_len);

/**
 * Write the DPS sr text for @p style (see enum iotc_sas_dps_style).
 * @return IOTC_OK, IOTC_E_ARG (empty scope/regId or unknown style), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_sas_dps_resource(struct iotc_span id_scope, struct iotc_span registration_id,
                                   enum iotc_sas_dps_style style, char *out, size_t out_size,
                                   size_t *out_len);

/**
 * Device (or module) -> IoT Hub token: sr from iotc_sas_hub_resource(), order sr,sig,se[,skn].
 * @param skn optional key name (ptr NULL for the device's own key, the normal case)
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_CRYPTO, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_sas_token_hub(struct iotc_span key_b64, struct iotc_span host,
                                struct iotc_span device_id, struct iotc_span module_id,
                                struct iotc_span skn, uint64_t se, char *out, size_t out_size,
                                size_t *out_len);

/**
 * Device -> DPS registration token in the given style; IOTC_SAS_DPS_NODE adds
 * `skn=registration` before se, the other styles send no skn.
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_CRYPTO, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_sas_token_dps(struct iotc_span key_b64, struct iotc_span id_scope,
                                struct iotc_span registration_id, enum iotc_sas_dps_style style,
                                uint64_t se, char *out, size_t out_size, size_t *out_len);

/**
 * Service policy token as NODE-SVC builds it: sr = host (raw), `sr,sig,skn,se` order.
 * @return IOTC_OK, IOTC_E_ARG (empty host/policy or bad key), IOTC_E_CRYPTO, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_sas_token_service(struct iotc_span key_b64, struct iotc_span host,
                                    struct iotc_span policy_name, uint64_t se, char *out,
                                    size_t out_size, size_t *out_len);

/** A parsed token: every span is borrowed from the parsed text, still percent-encoded. */
struct iotc_sas_token {
    struct iotc_span sr;  /**< verbatim sr text (the string-to-sign uses exactly this) */
    struct iotc_span sig; /**< verbatim sig text (percent-encoded base64) */
    struct iotc_span se;  /**< verbatim se digits */
    struct iotc_span skn; /**< verbatim skn text; ptr NULL when absent */
    uint64_t expiry;      /**< se as a number (seconds; IoT Central API tokens use ms) */
};

/**
 * Parse a token. The `SharedAccessSignature` prefix (any case, one or more spaces after it)
 * is optional. Fields are `&`-separated `name=value` pairs in any order, split on the FIRST
 * '='. sr, sig and se are required and non-empty; skn is optional; se must be 1..20 decimal
 * digits fitting in uint64_t. Unknown field names are ignored (forward compatibility); a
 * duplicated sr/sig/se/skn, a pair without '=', or an empty pair is IOTC_E_MALFORMED.
 * @param token  borrowed; *out points into it (valid while the token text lives)
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_sas_parse(struct iotc_span token, struct iotc_sas_token *out);

/**
 * Verify a parsed token: HMAC-SHA256 with the base64-decoded key over the verbatim sr, "\n",
 * and the verbatim se text; the token's sig is percent-decoded then base64-decoded and
 * compared in constant time (CRYPTO_memcmp). Then the expiry: invalid when now_s >= expiry.
 * @param now_s  current time, seconds since the epoch (the caller owns the clock)
 * @return IOTC_OK; IOTC_E_AUTH (signature mismatch or undecodable sig); IOTC_E_EXPIRED
 *         (signature good but expired); IOTC_E_ARG (bad key); IOTC_E_CRYPTO.
 */
IOTC_API int iotc_sas_verify(const struct iotc_sas_token *tok, struct iotc_span key_b64,
                             uint64_t now_s);

/**
 * Path-segment prefix scoping (§2.1): true when @p granted equals @p target, or is a prefix
 * of it that ends at a '/' boundary (`a/b` covers `a/b/c` but not `a/bc`). Both are DECODED
 * resource URIs; comparison is byte-exact. An empty @p granted covers nothing.
 */
IOTC_API bool iotc_sas_resource_covers(struct iotc_span granted, struct iotc_span target);

/**
 * Check a token's (encoded) sr against the hub resource of a device or module: the
 * percent-decoded sr must cover `{host}/devices/{deviceId}[/modules/{moduleId}]` by
 * iotc_sas_resource_covers() (so `sr={host}` with a policy key covers every device).
 * Case-sensitive. No buffer needed.
 * @return IOTC_OK; IOTC_E_AUTH (does not cover); IOTC_E_MALFORMED (bad escape in sr).
 */
IOTC_API int iotc_sas_check_hub_resource(struct iotc_span sr, struct iotc_span host,
                                         struct iotc_span device_id, struct iotc_span module_id);

/**
 * Check a token's (encoded) sr against a DPS registration (§2.4): the percent-decoded sr must
 * be `{idScope}/registrations/{registrationId}` with the scope and the word "registrations"
 * compared case-insensitively and the registration id byte-exact. Accepts all three styles.
 * @return IOTC_OK; IOTC_E_AUTH (different resource); IOTC_E_MALFORMED (bad escape in sr).
 */
IOTC_API int iotc_sas_check_dps_resource(struct iotc_span sr, struct iotc_span id_scope,
                                         struct iotc_span registration_id);

/**
 * DPS group-enrollment device key (§3): base64(HMAC-SHA256(base64decode(group key),
 * registration id bytes as given)). Output is 44 base64 characters.
 * @return IOTC_OK, IOTC_E_ARG (bad group key), IOTC_E_CRYPTO, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_sas_derive_device_key(struct iotc_span group_key_b64,
                                        struct iotc_span registration_id, char *out,
                                        size_t out_size, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_SAS_H */
