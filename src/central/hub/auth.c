/*
 * auth.c - CONNECT authentication decision (see auth.h). Pure: no I/O, no clock.
 * Section numbers (§) refer to docs/PROTOCOL.md.
 */
#include "central/hub/auth.h"

#include <string.h>

#include "iotc/codec.h"
#include "iotc/dps.h"
#include "iotc/hub.h"
#include "iotc/sas.h"

static int refuse(struct auth_result *out, uint8_t code, const char *reason)
{
    out->connack = code;
    out->reason = reason;
    return 0;
}

/* refuse() for helpers that return -1 when they refused. */
static int refused(struct auth_result *out, uint8_t code, const char *reason)
{
    refuse(out, code, reason);
    return -1;
}

/* The decision once the token was checked against the keys: @p rc of the last try_key(). */
static int verdict(struct auth_result *out, int rc)
{
    if (rc == IOTC_E_EXPIRED)
        return refuse(out, 5, "SAS token expired");
    if (rc != IOTC_OK) {
        out->key = AUTH_KEY_NONE;
        out->group = -1;
        return refuse(out, 5, "SAS signature does not verify");
    }
    return refuse(out, 0, "ok");
}

static bool key_present(const char *k)
{
    return k != NULL && k[0] != '\0';
}

/* Verify with one key; maps IOTC_E_EXPIRED separately so the log says why. */
static int try_key(const struct iotc_sas_token *tok, const char *key, uint64_t now_s)
{
    if (!key_present(key))
        return IOTC_E_AUTH;
    return iotc_sas_verify(tok, iotc_span_from_cstr(key), now_s);
}

static int decide_dps(const struct auth_config *cfg, struct iotc_span username,
                      struct iotc_span password, uint64_t now_s, auth_lookup_fn lookup, void *ctx,
                      struct auth_result *out)
{
    struct iotc_dps_username u;
    out->kind = AUTH_DPS;
    if (iotc_dps_username_parse(username, &u) != IOTC_OK)
        return refuse(out, 5, "malformed DPS username");
    out->id = u.registration_id;
    if (!iotc_span_eq_nocase(u.id_scope, iotc_span_from_cstr(cfg->id_scope)))
        return refuse(out, 5, "unknown ID scope");
    struct iotc_sas_token tok;
    if (iotc_sas_parse(password, &tok) != IOTC_OK)
        return refuse(out, 5, "malformed SAS token");
    out->expiry = tok.expiry;
    if (iotc_sas_check_dps_resource(tok.sr, u.id_scope, u.registration_id) != IOTC_OK)
        return refuse(out, 5, "SAS resource does not name this registration");

    struct auth_identity id = {0};
    out->known = lookup(ctx, u.registration_id, true, &id);
    out->enabled = !out->known || id.enabled;
    if (out->known && id.type != AUTH_TYPE_SAS)
        return refuse(out, 5, "enrollment uses X.509, not SAS");
    int rc = IOTC_E_AUTH;
    if (out->known && !id.from_group) {
        rc = try_key(&tok, id.primary_key, now_s);
        out->key = AUTH_KEY_DEVICE_PRIMARY;
        if (rc == IOTC_E_AUTH) {
            rc = try_key(&tok, id.secondary_key, now_s);
            out->key = AUTH_KEY_DEVICE_SECONDARY;
        }
    }
    if (rc == IOTC_E_AUTH && (!out->known || id.from_group)) {
        /* Group enrollment: the device key is derived from the group key (§3). An individual
         * enrollment (a device created with its own keys) takes precedence: a group-derived
         * key must not assign it, since the hub would then refuse that key. */
        for (size_t g = 0; g < cfg->n_groups && rc == IOTC_E_AUTH; g++) {
            const char *gkeys[2] = {cfg->groups[g].primary_key, cfg->groups[g].secondary_key};
            for (int i = 0; i < 2 && rc == IOTC_E_AUTH; i++) {
                char derived[64];
                size_t len;
                if (!key_present(gkeys[i]) ||
                    iotc_sas_derive_device_key(iotc_span_from_cstr(gkeys[i]), u.registration_id,
                                               derived, sizeof derived, &len) != IOTC_OK)
                    continue;
                rc = try_key(&tok, derived, now_s);
                out->key = i == 0 ? AUTH_KEY_GROUP_PRIMARY : AUTH_KEY_GROUP_SECONDARY;
                out->group = (int)g;
            }
        }
    }
    return verdict(out, rc);
}

static bool host_ok(struct iotc_span host, const char *hub_host)
{
    struct iotc_span want = iotc_span_from_cstr(hub_host);
    if (iotc_span_eq_nocase(host, want))
        return true;
    /* host:port, as the Node SDKs send when the hub is not on 8883 */
    if (host.len > want.len + 1 && host.ptr[want.len] == ':' &&
        iotc_span_eq_nocase((struct iotc_span){host.ptr, want.len}, want)) {
        for (size_t i = want.len + 1; i < host.len; i++)
            if (host.ptr[i] < '0' || host.ptr[i] > '9')
                return false;
        return true;
    }
    return false;
}

/* The hub checks before the credential: username, host, client id, identity, status.
 * @return 0 with @p id filled, or -1 when refused (out says why). */
static int hub_identity(const struct auth_config *cfg, struct iotc_span client_id,
                        struct iotc_span username, auth_lookup_fn lookup, void *ctx,
                        struct iotc_hub_username *u, struct auth_identity *id,
                        struct auth_result *out)
{
    out->kind = AUTH_HUB;
    if (iotc_hub_username_parse(username, u) != IOTC_OK)
        return refused(out, 5, "malformed hub username");
    out->id = u->device_id;
    out->model_id = u->model_id;
    if (!host_ok(u->host, cfg->hub_host))
        return refused(out, 5, "username names another hub");
    if (u->module_id.ptr != NULL)
        return refused(out, 5, "module identities are not supported");
    if (!iotc_span_eq(client_id, u->device_id))
        return refused(out, 2, "client id differs from the device id");
    out->known = lookup(ctx, u->device_id, false, id);
    if (!out->known)
        return refused(out, 5, "device not registered");
    out->enabled = id->enabled;
    if (!id->enabled)
        return refused(out, 5, "device disabled");
    return 0;
}

static int decide_hub(const struct auth_config *cfg, struct iotc_span client_id,
                      struct iotc_span username, struct iotc_span password, uint64_t now_s,
                      auth_lookup_fn lookup, void *ctx, struct auth_result *out)
{
    struct iotc_hub_username u;
    struct auth_identity id = {0};
    if (hub_identity(cfg, client_id, username, lookup, ctx, &u, &id, out) < 0)
        return 0;
    if (id.type != AUTH_TYPE_SAS)
        return refuse(out, 5, "device authenticates with X.509, not SAS");
    struct iotc_sas_token tok;
    if (iotc_sas_parse(password, &tok) != IOTC_OK)
        return refuse(out, 5, "malformed SAS token");
    out->expiry = tok.expiry;
    /* The sr may name the host as the username does (host:port with NODE) or plainly. */
    if (iotc_sas_check_hub_resource(tok.sr, u.host, u.device_id, IOTC_SPAN_NULL) != IOTC_OK &&
        iotc_sas_check_hub_resource(tok.sr, iotc_span_from_cstr(cfg->hub_host), u.device_id,
                                    IOTC_SPAN_NULL) != IOTC_OK)
        return refuse(out, 5, "SAS resource does not cover this device");
    int rc;
    if (tok.skn.ptr != NULL && key_present(cfg->service_policy) &&
        iotc_pct_equal(tok.skn, iotc_span_from_cstr(cfg->service_policy))) {
        rc = try_key(&tok, cfg->service_key, now_s);
        out->key = AUTH_KEY_SERVICE;
    } else {
        rc = try_key(&tok, id.primary_key, now_s);
        out->key = AUTH_KEY_DEVICE_PRIMARY;
        if (rc == IOTC_E_AUTH) {
            rc = try_key(&tok, id.secondary_key, now_s);
            out->key = AUTH_KEY_DEVICE_SECONDARY;
        }
    }
    return verdict(out, rc);
}

/* DPS usernames have "/registrations/" as their second segment and no "/?". */
static bool looks_like_dps(struct iotc_span username)
{
    const char *p = memchr(username.ptr, '/', username.len);
    if (p == NULL)
        return false;
    size_t rest = username.len - (size_t)(p - username.ptr);
    static const char word[] = "/registrations/";
    return rest >= sizeof word - 1 &&
           iotc_span_eq_nocase((struct iotc_span){p, sizeof word - 1}, IOTC_SPAN_LIT(word));
}

int auth_decide(const struct auth_config *cfg, struct iotc_span client_id,
                struct iotc_span username, struct iotc_span password, bool has_password,
                uint64_t now_s, auth_lookup_fn lookup, void *lookup_ctx, struct auth_result *out)
{
    memset(out, 0, sizeof *out);
    out->group = -1;
    out->connack = 5;
    out->reason = "no username";
    if (username.ptr == NULL || username.len == 0)
        return 0;
    bool dps = looks_like_dps(username);
    out->kind = dps ? AUTH_DPS : AUTH_HUB;
    if (!has_password || password.len == 0) {
        out->reason = "no password and no client certificate";
        return 0;
    }
    if (dps)
        return decide_dps(cfg, username, password, now_s, lookup, lookup_ctx, out);
    return decide_hub(cfg, client_id, username, password, now_s, lookup, lookup_ctx, out);
}

/* ---------------------------------------------------------------- X.509 */

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int auth_thumbprint_normalize(const char *in, char out[AUTH_THUMB_MAX + 1])
{
    size_t n = 0;
    out[0] = '\0';
    if (in == NULL)
        return -1;
    for (const char *p = in; *p != '\0'; p++) {
        if (*p == ':' || *p == ' ')
            continue;
        if (!is_hex(*p) || n == AUTH_THUMB_MAX) {
            out[0] = '\0';
            return -1;
        }
        out[n++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    }
    out[n] = '\0';
    if (n != 40 && n != 64) {
        out[0] = '\0';
        return -1;
    }
    return (int)n;
}

bool auth_thumbprint_matches(const char *stored, const struct auth_cert *cert)
{
    if (stored == NULL || stored[0] == '\0')
        return false;
    size_t n = strlen(stored);
    const char *have = n == 40 ? cert->sha1 : n == 64 ? cert->sha256 : NULL;
    return have != NULL && strlen(have) == n && memcmp(have, stored, n) == 0;
}

/* The certificate against an X.509 identity whose id is @p id (device or registration). */
static int cert_verdict(const struct auth_identity *ident, struct iotc_span id,
                        const struct auth_cert *cert, uint64_t now_s, bool dps,
                        struct auth_result *out)
{
    int64_t now = (int64_t)now_s;
    if (now < cert->not_before_s)
        return refuse(out, 5, "client certificate not yet valid");
    if (now > cert->not_after_s)
        return refuse(out, 5, "client certificate expired");
    if (ident->type == AUTH_TYPE_SAS)
        return refuse(out, 5,
                      dps ? "enrollment uses SAS, not X.509"
                          : "device authenticates with SAS, not X.509");
    struct iotc_span cn = iotc_span_from_cstr(cert->cn ? cert->cn : "");
    bool cn_ok = dps ? iotc_span_eq_nocase(cn, id) : iotc_span_eq(cn, id);
    if (ident->type == AUTH_TYPE_SELF_SIGNED) {
        if (dps && !cn_ok)
            return refuse(out, 5, "certificate CN is not the registration id");
        if (auth_thumbprint_matches(ident->thumb_primary, cert)) {
            out->key = AUTH_KEY_CERT_PRIMARY;
        } else if (auth_thumbprint_matches(ident->thumb_secondary, cert)) {
            out->key = AUTH_KEY_CERT_SECONDARY;
        } else {
            return refuse(out, 5,
                          "unknown certificate (thumbprint is neither the primary nor the "
                          "secondary)");
        }
        return refuse(out, 0, "ok");
    }
    if (!cn_ok)
        return refuse(out, 5,
                      dps ? "certificate CN is not the registration id"
                          : "certificate CN is not the device id");
    if (cert->chain == AUTH_CHAIN_UNVERIFIED)
        return refuse(out, 5, "certificate chains to a CA that is not verified");
    if (cert->chain != AUTH_CHAIN_VERIFIED)
        return refuse(out, 5, "certificate does not chain to a known CA");
    out->key = AUTH_KEY_CERT_CA;
    return refuse(out, 0, "ok");
}

static int decide_dps_cert(const struct auth_config *cfg, struct iotc_span username,
                           const struct auth_cert *cert, uint64_t now_s, auth_lookup_fn lookup,
                           void *ctx, struct auth_result *out)
{
    struct iotc_dps_username u;
    out->kind = AUTH_DPS;
    if (iotc_dps_username_parse(username, &u) != IOTC_OK)
        return refuse(out, 5, "malformed DPS username");
    out->id = u.registration_id;
    if (!iotc_span_eq_nocase(u.id_scope, iotc_span_from_cstr(cfg->id_scope)))
        return refuse(out, 5, "unknown ID scope");
    struct auth_identity id = {0};
    out->group = -1;
    out->known = lookup(ctx, u.registration_id, true, &id);
    out->enabled = !out->known || id.enabled;
    if ((!out->known || id.from_group) && cert->group != AUTH_GROUP_NONE) {
        /* an X.509 enrollment group: its CA stands for the identity (certificateAuthority) */
        if (cert->group == AUTH_GROUP_DISABLED)
            return refuse(out, 5, "the certificate's X.509 enrollment group is disabled");
        struct auth_identity gi = {.type = AUTH_TYPE_CA, .enabled = true};
        struct auth_cert gc = *cert;
        gc.chain = cert->group == AUTH_GROUP_VERIFIED ? AUTH_CHAIN_VERIFIED : AUTH_CHAIN_UNVERIFIED;
        cert_verdict(&gi, u.registration_id, &gc, now_s, true, out);
        if (out->connack == 0) {
            out->key = AUTH_KEY_CERT_GROUP;
            out->group_serial = cert->group_serial;
        }
        return 0;
    }
    if (!out->known)
        return refuse(out, 5, "no X.509 enrollment for this registration id");
    return cert_verdict(&id, u.registration_id, cert, now_s, true, out);
}

int auth_decide_cert(const struct auth_config *cfg, struct iotc_span client_id,
                     struct iotc_span username, const struct auth_cert *cert, uint64_t now_s,
                     auth_lookup_fn lookup, void *lookup_ctx, struct auth_result *out)
{
    memset(out, 0, sizeof *out);
    out->connack = 5;
    out->reason = "no username";
    if (username.ptr == NULL || username.len == 0)
        return 0;
    if (looks_like_dps(username))
        return decide_dps_cert(cfg, username, cert, now_s, lookup, lookup_ctx, out);
    struct iotc_hub_username u;
    struct auth_identity id = {0};
    if (hub_identity(cfg, client_id, username, lookup, lookup_ctx, &u, &id, out) < 0)
        return 0;
    return cert_verdict(&id, u.device_id, cert, now_s, false, out);
}
