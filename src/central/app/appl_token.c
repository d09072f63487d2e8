/*
 * appl_token.c - API tokens: creation in IoT Central's text form, roles, revocation, and the
 * authentication of the Authorization header (API tokens and the administrator token).
 *
 * A token's signature is HMAC-SHA256 over "sr\nskn\nse\nnonce" with the application's service
 * key, so the server stores no token secret: only the id, role, expiry and a random nonce that
 * makes a re-created id invalidate the old text.
 */
#include "central/app/appl.h"
#include "central/app/appl_docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <iotc/codec.h>

#include "central/base/events.h"
#include "central/base/log.h"
#include "central/store/store_app.h"

/* ---------------------------------------------------------------- tokens */

/* IoT Central's well-known role ids (App Administrator, App Operator). App Builder
 * (344138e9-8de4-4497-8c54-5237e96d6aaf) has no equivalent here and is refused. */
#define ROLE_ID_ADMIN "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"
#define ROLE_ID_OPERATOR "ae2c9854-393b-4f97-8c42-479d70ce626e"

const char *appl_role_name(enum appl_role r)
{
    return r == ROLE_ADMIN ? "administrator" : r == ROLE_OPERATOR ? "operator" : "none";
}

const char *appl_role_id(enum appl_role r)
{
    return r == ROLE_ADMIN ? ROLE_ID_ADMIN : r == ROLE_OPERATOR ? ROLE_ID_OPERATOR : "";
}

enum appl_role appl_role_parse(const char *s)
{
    if (s == NULL)
        return ROLE_NONE;
    if (strcmp(s, "administrator") == 0 || strcmp(s, ROLE_ID_ADMIN) == 0)
        return ROLE_ADMIN;
    if (strcmp(s, "operator") == 0 || strcmp(s, ROLE_ID_OPERATOR) == 0)
        return ROLE_OPERATOR;
    return ROLE_NONE;
}

struct appl_token *appl_token_get(struct appl *a, const char *id)
{
    for (struct appl_token *t = a->tokens; t != NULL; t = t->next) {
        if (strcmp(t->id, id) == 0)
            return t;
    }
    return NULL;
}

/* sig = base64(HMAC-SHA256(service key, "sr\nskn\nse\nnonce")): nothing secret is stored. */
static int token_sig(const struct appl *a, const char *sr, const char *skn, const char *se,
                     const char *nonce, char out[64])
{
    unsigned char key[128], md[EVP_MAX_MD_SIZE];
    size_t klen = 0, olen = 0;
    unsigned int mdlen = 0;
    char msg[600];
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%s\n%s", sr, skn, se, nonce);
    if (n < 0 || (size_t)n >= sizeof msg ||
        iotc_base64_decode(iotc_span_from_cstr(a->app->facts.service_key), key, sizeof key,
                           &klen) != IOTC_OK ||
        HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, (size_t)n, md, &mdlen) ==
            NULL ||
        iotc_base64_encode(md, mdlen, out, 64, &olen) != IOTC_OK)
        return CE_INVALID;
    out[olen] = '\0';
    return 0;
}

static void token_save(struct appl *a, const struct appl_token *t)
{
    char data[256];
    snprintf(data, sizeof data, "{\"role\":\"%s\",\"expiry\":%lld,\"nonce\":\"%s\"}",
             appl_role_name(t->role), (long long)t->expiry_ms, t->nonce);
    store_app_put(a->db, "app_tokens", t->id, data);
}

int appl_token_load(void *ctx, const char *id, const char *data)
{
    struct appl *a = ctx;
    cJSON *o = cJSON_Parse(data);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "role");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "expiry");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "nonce");
    struct appl_token *t = calloc(1, sizeof *t);
    if (t != NULL && cJSON_IsString(r) && cJSON_IsNumber(e) && cJSON_IsString(n) &&
        strlen(id) <= APPL_ID_MAX && strlen(n->valuestring) < sizeof t->nonce) {
        memcpy(t->id, id, strlen(id) + 1);
        t->role = appl_role_parse(r->valuestring);
        t->expiry_ms = (int64_t)e->valuedouble;
        memcpy(t->nonce, n->valuestring, strlen(n->valuestring) + 1);
        t->next = a->tokens;
        a->tokens = t;
    } else {
        free(t);
        log_warn("appl: skipping unreadable token row %s", LOG_STR(id));
    }
    cJSON_Delete(o);
    return 0;
}

int appl_token_create(struct appl *a, const char *id, enum appl_role role, int64_t expiry_ms,
                      char *out_text, size_t size)
{
    unsigned char rnd[18];
    char se[32], sig[64], sig_enc[200];
    size_t len = 0;
    if (!appl_id_ok(id, APPL_ID_MAX, ".-_") || role == ROLE_NONE)
        return CE_INVALID;
    if (appl_token_get(a, id) != NULL)
        return CE_EXISTS;
    struct appl_token *t = calloc(1, sizeof *t);
    if (t == NULL || RAND_bytes(rnd, sizeof rnd) != 1 ||
        iotc_base64_encode(rnd, sizeof rnd, t->nonce, sizeof t->nonce, &len) != IOTC_OK) {
        free(t);
        return CE_NOMEM;
    }
    t->nonce[len] = '\0';
    memcpy(t->id, id, strlen(id) + 1);
    t->role = role;
    t->expiry_ms = expiry_ms;
    snprintf(se, sizeof se, "%lld", (long long)expiry_ms);
    if (token_sig(a, a->app->facts.id_scope, id, se, t->nonce, sig) < 0 ||
        iotc_pct_encode(iotc_span_from_cstr(sig), sig_enc, sizeof sig_enc, &len) != IOTC_OK) {
        free(t);
        return CE_NOMEM;
    }
    sig_enc[len] = '\0';
    snprintf(out_text, size, "SharedAccessSignature sr=%s&sig=%s&skn=%s&se=%s",
             a->app->facts.id_scope, sig_enc, id, se);
    t->next = a->tokens;
    a->tokens = t;
    token_save(a, t);
    return CE_OK;
}

int appl_token_delete(struct appl *a, const char *id)
{
    for (struct appl_token **pp = &a->tokens; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct appl_token *t = *pp;
            *pp = t->next;
            store_app_delete(a->db, "app_tokens", id);
            /* open event streams of the token end (capi_sse.c) */
            struct central_event ev = {
                .type = EV_TOKEN_REVOKED, .time_ms = app_now_ms(), .token_id = t->id};
            events_publish(a->app, &ev);
            free(t);
            return CE_OK;
        }
    }
    return CE_NOTFOUND;
}

cJSON *appl_token_to_json(const struct appl_token *t)
{
    cJSON *o = cJSON_CreateObject(), *roles = cJSON_CreateArray(), *r = cJSON_CreateObject();
    char ts[32];
    if (o == NULL || roles == NULL || r == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(roles);
        cJSON_Delete(r);
        return NULL;
    }
    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddStringToObject(r, "role", appl_role_id(t->role)); /* as IoT Central answers */
    cJSON_AddItemToArray(roles, r);
    cJSON_AddItemToObject(o, "roles", roles);
    appl_time(t->expiry_ms, ts);
    cJSON_AddStringToObject(o, "expiry", ts);
    return o;
}

static void sha256_hex(const char *text, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Find field @p key in "k=v&k=v" (raw, still encoded); copies into out. */
static bool sas_field(const char *s, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    while (s != NULL && *s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        if (len > klen && strncmp(s, key, klen) == 0 && s[klen] == '=') {
            size_t vlen = len - klen - 1;
            if (vlen >= size)
                return false;
            memcpy(out, s + klen + 1, vlen);
            out[vlen] = '\0';
            return true;
        }
        s = amp ? amp + 1 : NULL;
    }
    return false;
}

enum appl_role appl_authenticate(struct appl *a, const char *h, const char **out_why,
                                 const struct appl_token **out_token)
{
    char sr[64], sig[200], skn[APPL_ID_MAX + 1], se[32], want[64], hex[65];
    size_t len = 0;
    *out_why = "the Authorization header is missing";
    if (out_token != NULL)
        *out_token = NULL;
    if (h == NULL || *h == '\0')
        return ROLE_NONE;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) == 0)
        h += 7;
    if (strncmp(h, "iotc-admin.", 11) == 0) {
        sha256_hex(h, strlen(h), hex);
        if (CRYPTO_memcmp(hex, a->app->facts.admin_token_sha256, 64) == 0)
            return ROLE_ADMIN;
        *out_why = "the administrator token is not valid";
        return ROLE_NONE;
    }
    if (strncmp(h, "SharedAccessSignature ", 22) != 0) {
        *out_why = "the Authorization header is not an API token";
        return ROLE_NONE;
    }
    h += 22;
    if (!sas_field(h, "sr", sr, sizeof sr) || !sas_field(h, "sig", sig, sizeof sig) ||
        !sas_field(h, "skn", skn, sizeof skn) || !sas_field(h, "se", se, sizeof se)) {
        *out_why = "the API token lacks sr, sig, skn or se";
        return ROLE_NONE;
    }
    struct appl_token *t = appl_token_get(a, skn);
    if (t == NULL) {
        *out_why = "unknown API token (skn)";
        return ROLE_NONE;
    }
    char *end;
    long long exp = strtoll(se, &end, 10);
    if (*end != '\0' || exp != t->expiry_ms) {
        *out_why = "the API token's se does not match";
        return ROLE_NONE;
    }
    if (exp <= app_now_ms()) {
        *out_why = "the API token has expired";
        return ROLE_NONE;
    }
    char sig_dec[200];
    if (token_sig(a, sr, skn, se, t->nonce, want) < 0 ||
        iotc_pct_decode(iotc_span_from_cstr(sig), sig_dec, sizeof sig_dec - 1, &len) != IOTC_OK ||
        len != strlen(want) || CRYPTO_memcmp(sig_dec, want, len) != 0 ||
        strcmp(sr, a->app->facts.id_scope) != 0) {
        *out_why = "the API token's signature does not verify";
        return ROLE_NONE;
    }
    if (out_token != NULL)
        *out_token = t;
    return t->role;
}
