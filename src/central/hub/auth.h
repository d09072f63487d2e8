/*
 * auth.h - the CONNECT-to-authentication decision, as a pure function.
 *
 * Given the CONNECT's client id, username and password, the current time and a way to look
 * identities up, decide: DPS or IoT Hub, which identity, accepted or which CONNACK code and
 * why. No I/O, no clock, no allocation: the broker feeds it and the fuzz target
 * (fuzz/fuzz_connect_auth.c) drives it with an in-memory table. Section numbers (§) refer to
 * docs/PROTOCOL.md.
 */
#ifndef CENTRAL_AUTH_H
#define CENTRAL_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "iotc/common.h"

/** The base64 keys of one SAS enrollment group (borrowed). */
struct auth_group {
    const char *primary_key;
    const char *secondary_key;
};

/** What the server is. All strings borrowed for the duration of the call. */
struct auth_config {
    const char *id_scope;            /**< "0ne..." */
    const char *hub_host;            /**< host name devices put in the username and sr */
    const struct auth_group *groups; /**< the enabled SAS enrollment groups, tried in order */
    size_t n_groups;
    const char *service_policy; /**< "iothubowner" (hub-scoped policy tokens) */
    const char *service_key;
};

/** How an identity authenticates (IoT Hub's authentication.type). */
enum auth_type {
    AUTH_TYPE_SAS = 0,         /**< "sas": symmetric keys */
    AUTH_TYPE_SELF_SIGNED = 1, /**< "selfSigned": X.509, by thumbprint */
    AUTH_TYPE_CA = 2,          /**< "certificateAuthority": X.509, chain to a verified CA + CN */
};

/** One identity the lookup returns (borrowed strings). */
struct auth_identity {
    const char *primary_key;
    const char *secondary_key;
    bool enabled;
    bool from_group;           /**< registered through the enrollment group */
    enum auth_type type;       /**< sas unless set */
    const char *thumb_primary; /**< selfSigned: normalised hex thumbprints (NULL/"" = none) */
    const char *thumb_secondary;
};

/**
 * Look an identity up by id (not NUL-terminated). Return true and fill @p out when it exists.
 * For the hub the id is the device id, compared exactly (@p any_case false); for DPS it is the
 * registration id, which DPS compares ignoring case (@p any_case true, docs/PROTOCOL.md §4.2).
 */
typedef bool (*auth_lookup_fn)(void *ctx, struct iotc_span id, bool any_case,
                               struct auth_identity *out);

enum auth_kind { AUTH_NONE = 0, AUTH_DPS = 1, AUTH_HUB = 2 };

/** Which key verified the token. */
enum auth_key {
    AUTH_KEY_NONE = 0,
    AUTH_KEY_DEVICE_PRIMARY,
    AUTH_KEY_DEVICE_SECONDARY,
    AUTH_KEY_GROUP_PRIMARY, /**< DPS: key derived from the group primary key */
    AUTH_KEY_GROUP_SECONDARY,
    AUTH_KEY_SERVICE,        /**< hub-scoped policy token (skn = service policy) */
    AUTH_KEY_CERT_PRIMARY,   /**< client certificate matching the primary thumbprint */
    AUTH_KEY_CERT_SECONDARY, /**< ... the secondary thumbprint */
    AUTH_KEY_CERT_CA,        /**< client certificate chaining to a verified CA */
    AUTH_KEY_CERT_GROUP,     /**< DPS: ... to a verified CA of an X.509 enrollment group */
};

struct auth_result {
    enum auth_kind kind;
    uint8_t connack;           /**< 0 accepted, 2 identifier rejected, 5 not authorized */
    const char *reason;        /**< static text for the log ("ok" when accepted) */
    struct iotc_span id;       /**< device / registration id (borrowed from the username) */
    struct iotc_span model_id; /**< hub username model-id, still percent-encoded; ptr NULL */
    enum auth_key key;
    int group;       /**< DPS, group key: index into cfg->groups of the group it was derived from */
    bool known;      /**< the identity exists in the registry */
    bool enabled;    /**< ... and is enabled (DPS answers "disabled" otherwise) */
    uint64_t expiry; /**< token se (seconds) */
    uint32_t group_serial; /**< AUTH_KEY_CERT_GROUP: the X.509 group's serial (groups.h) */
};

/**
 * Decide. Username shape picks the service: `{scope}/registrations/{regId}/api-version=...`
 * is DPS, `{host}/{deviceId}/?...` the hub. DPS: scope must match (case-insensitively), the
 * SAS sr must name the registration (any of the three §2.4 spellings), and the signature must
 * verify with the identity's own keys or with the group-derived keys. Hub: host must be
 * hub_host (optionally with ":port"), client id must equal the device id (else CONNACK 2),
 * the device must exist and be enabled, the sr must cover the device, the signature must
 * verify with a device key (or the service key when skn is the service policy), and the token
 * must not be expired. Everything else is CONNACK 5 with a reason.
 * @return the decision in @p out (always filled); 0.
 */
int auth_decide(const struct auth_config *cfg, struct iotc_span client_id,
                struct iotc_span username, struct iotc_span password, bool has_password,
                uint64_t now_s, auth_lookup_fn lookup, void *lookup_ctx, struct auth_result *out);

/* ---------------------------------------------------------------- X.509 */

#define AUTH_THUMB_MAX 64 /* SHA-256 in hex; SHA-1 is 40 */

/** Where the client certificate's chain leads (found by the broker against the CA store). */
enum auth_chain {
    AUTH_CHAIN_UNKNOWN = 0,    /**< to no CA the application knows (or does not verify) */
    AUTH_CHAIN_VERIFIED = 1,   /**< to a CA whose possession was proven */
    AUTH_CHAIN_UNVERIFIED = 2, /**< to a CA uploaded but not verified */
};

/** Where the chain leads among the X.509 enrollment groups' CA certificates (DPS). */
enum auth_group_chain {
    AUTH_GROUP_NONE = 0,       /**< to no group's certificate */
    AUTH_GROUP_VERIFIED = 1,   /**< to a verified certificate of an enabled group */
    AUTH_GROUP_UNVERIFIED = 2, /**< only to certificates not verified (of enabled groups) */
    AUTH_GROUP_DISABLED = 3,   /**< only to certificates of disabled groups */
};

/** What the TLS handshake's client certificate says. Strings NUL-terminated, borrowed. */
struct auth_cert {
    const char *sha1;   /**< 40 lower-case hex digits of SHA-1(DER) */
    const char *sha256; /**< 64 lower-case hex digits of SHA-256(DER) */
    const char *cn;     /**< subject CN ("" when none) */
    int64_t not_before_s, not_after_s;
    enum auth_chain chain;
    enum auth_group_chain group; /**< DPS: X.509 enrollment groups */
    uint32_t group_serial;       /**< AUTH_GROUP_VERIFIED: the group's serial */
};

/**
 * Normalise a thumbprint as IoT Hub compares them: colons (and spaces) dropped, hex digits
 * lower-cased; the result must be 40 (SHA-1) or 64 (SHA-256) hex digits.
 * @param out room for AUTH_THUMB_MAX + 1 bytes. @return the length (40 or 64), or -1 when
 * @p in is not a thumbprint (out is then "").
 */
int auth_thumbprint_normalize(const char *in, char out[AUTH_THUMB_MAX + 1]);

/** True when @p stored (normalised, "" = none) names the certificate: equal to its SHA-1
 * or its SHA-256 thumbprint, by length. */
bool auth_thumbprint_matches(const char *stored, const struct auth_cert *cert);

/**
 * Decide a CONNECT that brings no password but a client certificate (X.509 attestation).
 * Username shapes and hub checks as auth_decide(); then: the certificate must be within its
 * validity, the identity must be X.509 (selfSigned: the certificate's SHA-1 or SHA-256 equals
 * the primary or secondary thumbprint; certificateAuthority: CN equals the device id and the
 * chain leads to a verified CA). DPS: the CN must be the registration id (compared as DPS
 * compares ids) and the enrollment must exist and be X.509, or (no individual enrollment, or one
 * a group made) the chain leads to a verified CA of an enabled X.509 group. Refusals are CONNACK 5
 * (2 for a client id that differs from the device id) with the reason.
 * @return 0 (the decision in @p out, always filled).
 */
int auth_decide_cert(const struct auth_config *cfg, struct iotc_span client_id,
                     struct iotc_span username, const struct auth_cert *cert, uint64_t now_s,
                     auth_lookup_fn lookup, void *lookup_ctx, struct auth_result *out);

#endif /* CENTRAL_AUTH_H */
