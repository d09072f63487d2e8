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

static int decide_hub(const struct auth_config *cfg, struct iotc_span client_id,
                      struct iotc_span username, struct iotc_span password, uint64_t now_s,
                      auth_lookup_fn lookup, void *ctx, struct auth_result *out)
{
    struct iotc_hub_username u;
    out->kind = AUTH_HUB;
    if (iotc_hub_username_parse(username, &u) != IOTC_OK)
        return refuse(out, 5, "malformed hub username");
    out->id = u.device_id;
    out->model_id = u.model_id;
    if (!host_ok(u.host, cfg->hub_host))
        return refuse(out, 5, "username names another hub");
    if (u.module_id.ptr != NULL)
        return refuse(out, 5, "module identities are not supported");
    if (!iotc_span_eq(client_id, u.device_id))
        return refuse(out, 2, "client id differs from the device id");
    struct auth_identity id = {0};
    out->known = lookup(ctx, u.device_id, false, &id);
    if (!out->known)
        return refuse(out, 5, "device not registered");
    out->enabled = id.enabled;
    if (!id.enabled)
        return refuse(out, 5, "device disabled");
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
        out->reason = "no password (X.509 is not supported)";
        return 0;
    }
    if (dps)
        return decide_dps(cfg, username, password, now_s, lookup, lookup_ctx, out);
    return decide_hub(cfg, client_id, username, password, now_s, lookup, lookup_ctx, out);
}
