/*
 * sas_parse.c - SAS token parsing, verification and resource scoping (docs/PROTOCOL.md §2.1, §2.4).
 */
#include <iotc/sas.h>

#include <string.h>

#include <openssl/crypto.h>

#include <iotc/codec.h>

#include "proto/strbuf.h"

static bool eat_prefix_nocase(struct iotc_span *s)
{
    static const char word[] = "SharedAccessSignature";
    size_t n = sizeof(word) - 1;
    if (s->len <= n || !iotc_span_eq_nocase((struct iotc_span){s->ptr, n}, IOTC_SPAN_LIT(word)) ||
        s->ptr[n] != ' ')
        return false;
    s->ptr += n;
    s->len -= n;
    while (s->len > 0 && s->ptr[0] == ' ') {
        s->ptr++;
        s->len--;
    }
    return true;
}

static int set_once(struct iotc_span *field, struct iotc_span value)
{
    if (field->ptr != NULL)
        return IOTC_E_MALFORMED; /* duplicates are ambiguous: which one was signed? */
    *field = value;
    return IOTC_OK;
}

int iotc_sas_parse(struct iotc_span token, struct iotc_sas_token *out)
{
    struct iotc_sas_token t;
    struct iotc_span rest = token;
    int rc = IOTC_OK;
    memset(&t, 0, sizeof(t));
    if (token.ptr == NULL || token.len == 0)
        return IOTC_E_MALFORMED;
    (void)eat_prefix_nocase(&rest);
    if (rest.len == 0)
        return IOTC_E_MALFORMED;
    for (;;) {
        struct iotc_span pair, name;
        bool last = !iotc__split(&rest, '&', &pair);
        if (last)
            pair = rest;
        if (!iotc__split(&pair, '=', &name) || name.len == 0)
            return IOTC_E_MALFORMED;
        if (iotc_span_eq(name, IOTC_SPAN_LIT("sr")))
            rc = set_once(&t.sr, pair);
        else if (iotc_span_eq(name, IOTC_SPAN_LIT("sig")))
            rc = set_once(&t.sig, pair);
        else if (iotc_span_eq(name, IOTC_SPAN_LIT("se")))
            rc = set_once(&t.se, pair);
        else if (iotc_span_eq(name, IOTC_SPAN_LIT("skn")))
            rc = set_once(&t.skn, pair);
        if (rc < 0)
            return rc;
        if (last)
            break;
    }
    if (t.sr.len == 0 || t.sig.len == 0 || t.se.len == 0)
        return IOTC_E_MALFORMED;
    if (!iotc__parse_u64(t.se, 20, &t.expiry))
        return IOTC_E_MALFORMED;
    *out = t;
    return IOTC_OK;
}

/* Encoded signatures are ~48 chars; anything much longer cannot be a SHA-256 HMAC. */
#define SIG_TEXT_MAX 128

int iotc_sas_verify(const struct iotc_sas_token *tok, struct iotc_span key_b64, uint64_t now_s)
{
    char sig_b64[SIG_TEXT_MAX];
    unsigned char given[64];
    char want_b64[IOTC_SAS_SIG_B64_LEN + 1];
    unsigned char want[64];
    size_t n, given_len, want_len;
    int rc;

    rc = iotc_sas_sign(key_b64, tok->sr, tok->se, want_b64, sizeof(want_b64), &n);
    if (rc < 0)
        return rc;
    rc = iotc_base64_decode((struct iotc_span){want_b64, n}, want, sizeof(want), &want_len);
    if (rc < 0)
        return IOTC_E_CRYPTO;
    rc = iotc_pct_decode(tok->sig, sig_b64, sizeof(sig_b64), &n);
    if (rc < 0)
        return IOTC_E_AUTH;
    rc = iotc_base64_decode((struct iotc_span){sig_b64, n}, given, sizeof(given), &given_len);
    if (rc < 0 || given_len != want_len)
        return IOTC_E_AUTH;
    if (CRYPTO_memcmp(given, want, want_len) != 0)
        return IOTC_E_AUTH;
    if (now_s >= tok->expiry)
        return IOTC_E_EXPIRED;
    return IOTC_OK;
}

bool iotc_sas_resource_covers(struct iotc_span granted, struct iotc_span target)
{
    if (granted.ptr == NULL || granted.len == 0 || target.len < granted.len ||
        memcmp(granted.ptr, target.ptr, granted.len) != 0)
        return false;
    if (target.len == granted.len || granted.ptr[granted.len - 1] == '/')
        return true;
    return target.ptr[granted.len] == '/';
}

/* One piece of an expected resource URI and how to compare it. */
struct piece {
    struct iotc_span text;
    bool nocase;
};

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/*
 * Compare the percent-decoded @p enc with the concatenation of @p pieces without a buffer.
 * Returns 1 when equal (or, with @p prefix_ok, when the decoded text covers the target by the
 * path-segment rule), 0 when not, -1 on a bad escape.
 */
static int match_decoded(struct iotc_span enc, const struct piece *pieces, size_t npieces,
                         bool prefix_ok)
{
    size_t i = 0, pi = 0, pj = 0;
    unsigned char c = 0, last = 0;
    size_t dummy;
    if (enc.ptr == NULL || iotc_pct_decoded_len(enc, &dummy) < 0)
        return -1;
    while (i < enc.len) {
        (void)iotc__pct_step(enc.ptr, enc.len, &i, &c);
        while (pi < npieces && pj >= pieces[pi].text.len) {
            pi++;
            pj = 0;
        }
        if (pi == npieces)
            return 0; /* sr longer than the target */
        unsigned char t = (unsigned char)pieces[pi].text.ptr[pj];
        if (pieces[pi].nocase ? fold(c) != fold(t) : c != t)
            return 0;
        pj++;
        last = c;
    }
    while (pi < npieces && pj >= pieces[pi].text.len) {
        pi++;
        pj = 0;
    }
    if (pi == npieces)
        return 1;
    if (!prefix_ok || enc.len == 0)
        return 0;
    return (last == '/' || pieces[pi].text.ptr[pj] == '/') ? 1 : 0;
}

int iotc_sas_check_hub_resource(struct iotc_span sr, struct iotc_span host,
                                struct iotc_span device_id, struct iotc_span module_id)
{
    struct piece p[5] = {
        {host, false},      {IOTC_SPAN_LIT("/devices/"), false},
        {device_id, false}, {IOTC_SPAN_LIT("/modules/"), false},
        {module_id, false},
    };
    size_t n = module_id.ptr != NULL ? 5 : 3;
    if (host.len == 0 || device_id.len == 0)
        return IOTC_E_AUTH;
    int m = match_decoded(sr, p, n, true);
    if (m < 0)
        return IOTC_E_MALFORMED;
    return m == 1 ? IOTC_OK : IOTC_E_AUTH;
}

int iotc_sas_check_dps_resource(struct iotc_span sr, struct iotc_span id_scope,
                                struct iotc_span registration_id)
{
    struct piece p[3] = {
        {id_scope, true},
        {IOTC_SPAN_LIT("/registrations/"), true},
        {registration_id, false},
    };
    if (id_scope.len == 0 || registration_id.len == 0)
        return IOTC_E_AUTH;
    int m = match_decoded(sr, p, 3, false);
    if (m < 0)
        return IOTC_E_MALFORMED;
    return m == 1 ? IOTC_OK : IOTC_E_AUTH;
}
