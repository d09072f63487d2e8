/*
 * codec.c - percent-encoding, property bags and the internal text builder (docs/PROTOCOL.md §1).
 */
#include <iotc/codec.h>

#include <string.h>

#include "proto/strbuf.h"

static const char hex_upper[] = "0123456789ABCDEF";

bool iotc_span_eq(struct iotc_span a, struct iotc_span b)
{
    if (a.len != b.len)
        return false;
    return a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool iotc_span_eq_nocase(struct iotc_span a, struct iotc_span b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)b.ptr[i]))
            return false;
    }
    return true;
}

/* ---- internal builder ---- */

void iotc__sb_init(struct iotc__sb *sb, char *buf, size_t size)
{
    sb->buf = buf;
    sb->size = buf != NULL ? size : 0;
    sb->len = 0;
}

void iotc__sb_put(struct iotc__sb *sb, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (sb->buf != NULL && sb->len <= sb->size && n <= sb->size - sb->len)
        memcpy(sb->buf + sb->len, p, n);
    sb->len += n;
}

void iotc__sb_putc(struct iotc__sb *sb, char c)
{
    iotc__sb_put(sb, &c, 1);
}

void iotc__sb_puts(struct iotc__sb *sb, const char *s)
{
    iotc__sb_put(sb, s, strlen(s));
}

void iotc__sb_span(struct iotc__sb *sb, struct iotc_span s)
{
    if (s.ptr != NULL)
        iotc__sb_put(sb, s.ptr, s.len);
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

void iotc__sb_pct(struct iotc__sb *sb, struct iotc_span s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (is_unreserved(c)) {
            iotc__sb_putc(sb, (char)c);
        } else {
            char esc[3] = {'%', hex_upper[c >> 4], hex_upper[c & 15]};
            iotc__sb_put(sb, esc, 3);
        }
    }
}

size_t iotc__u64_dec(uint64_t v, char buf[IOTC__U64_DIGITS])
{
    size_t n = 0;
    do {
        buf[IOTC__U64_DIGITS - 1 - n] = (char)('0' + v % 10);
        v /= 10;
        n++;
    } while (v != 0);
    return n;
}

void iotc__sb_u64(struct iotc__sb *sb, uint64_t v)
{
    char tmp[IOTC__U64_DIGITS];
    size_t n = iotc__u64_dec(v, tmp);
    iotc__sb_put(sb, tmp + sizeof(tmp) - n, n);
}

void iotc__sb_param(struct iotc__sb *sb, const char *prefix, struct iotc_span v, const char *dflt)
{
    if (v.ptr == NULL && dflt == NULL)
        return;
    iotc__sb_puts(sb, prefix);
    if (v.ptr != NULL)
        iotc__sb_pct(sb, v);
    else
        iotc__sb_puts(sb, dflt);
}

int iotc__sb_finish(struct iotc__sb *sb, size_t *out_len)
{
    if (out_len != NULL)
        *out_len = sb->len;
    if (sb->len > sb->size)
        return IOTC_E_NOSPACE;
    if (sb->buf != NULL && sb->len < sb->size)
        sb->buf[sb->len] = '\0';
    return IOTC_OK;
}

/* ---- small parsing helpers ---- */

bool iotc__token_ok(struct iotc_span s, unsigned char min, const char *forbidden)
{
    if (s.ptr == NULL || s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < min || c == 0x7f || strchr(forbidden, c) != NULL)
            return false;
    }
    return true;
}

bool iotc__rid_ok(struct iotc_span rid)
{
    return iotc__token_ok(rid, 0x21, "&=?#+/");
}

bool iotc__parse_u64(struct iotc_span s, size_t max_digits, uint64_t *out)
{
    uint64_t v = 0;
    if (s.ptr == NULL || s.len == 0 || s.len > max_digits)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)((unsigned char)s.ptr[i] - '0');
        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool iotc__eat(struct iotc_span *s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (s->len < n || memcmp(s->ptr, prefix, n) != 0)
        return false;
    s->ptr += n;
    s->len -= n;
    return true;
}

bool iotc__split(struct iotc_span *s, char c, struct iotc_span *head)
{
    const char *p = s->len ? memchr(s->ptr, c, s->len) : NULL;
    if (p == NULL)
        return false;
    head->ptr = s->ptr;
    head->len = (size_t)(p - s->ptr);
    s->ptr = p + 1;
    s->len -= head->len + 1;
    return true;
}

/* ---- percent-encoding ---- */

size_t iotc_pct_encoded_len(struct iotc_span in)
{
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++)
        n += is_unreserved((unsigned char)in.ptr[i]) ? 1 : 3;
    return n;
}

int iotc_pct_encode(struct iotc_span in, char *out, size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len, (iotc__sb_pct(sb, in), 0));
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int iotc__pct_step(const char *p, size_t len, size_t *i, unsigned char *out)
{
    unsigned char c = (unsigned char)p[*i];
    if (c != '%') {
        *out = c;
        *i += 1;
        return 0;
    }
    if (len - *i < 3)
        return -1;
    int hi = hexval((unsigned char)p[*i + 1]);
    int lo = hexval((unsigned char)p[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *out = (unsigned char)(hi << 4 | lo);
    *i += 3;
    return 0;
}

/* The bytes before the next '%' at or after @p i (all of the rest when there is none). Runs
 * without escapes are the common case (property bags, SAS signatures): memchr/memcpy them. */
static size_t plain_run(struct iotc_span in, size_t i)
{
    const char *pct = memchr(in.ptr + i, '%', in.len - i);
    return pct != NULL ? (size_t)(pct - (in.ptr + i)) : in.len - i;
}

int iotc_pct_decoded_len(struct iotc_span in, size_t *out_len)
{
    size_t i = 0, n = 0;
    unsigned char c;
    while (i < in.len) {
        size_t run = plain_run(in, i);
        i += run;
        n += run;
        if (i == in.len)
            break;
        if (iotc__pct_step(in.ptr, in.len, &i, &c) < 0)
            return IOTC_E_MALFORMED;
        n++;
    }
    if (out_len != NULL)
        *out_len = n;
    return IOTC_OK;
}

int iotc_pct_decode(struct iotc_span in, char *out, size_t out_size, size_t *out_len)
{
    size_t n = 0;
    int rc = iotc_pct_decoded_len(in, &n);
    if (rc < 0)
        return rc;
    if (out_len != NULL)
        *out_len = n;
    if (n > out_size || (out == NULL && n > 0))
        return IOTC_E_NOSPACE;
    size_t i = 0, o = 0;
    unsigned char c;
    while (i < in.len) {
        size_t run = plain_run(in, i);
        if (run > 0)
            memcpy(out + o, in.ptr + i, run);
        i += run;
        o += run;
        if (i == in.len)
            break;
        (void)iotc__pct_step(in.ptr, in.len, &i, &c);
        out[o++] = (char)c;
    }
    if (out != NULL && o < out_size)
        out[o] = '\0';
    return IOTC_OK;
}

bool iotc_pct_equal(struct iotc_span encoded, struct iotc_span raw)
{
    size_t i = 0, j = 0;
    unsigned char c;
    while (i < encoded.len) {
        if (iotc__pct_step(encoded.ptr, encoded.len, &i, &c) < 0)
            return false;
        if (j >= raw.len || (unsigned char)raw.ptr[j] != c)
            return false;
        j++;
    }
    return j == raw.len;
}

/* ---- property bags ---- */

void iotc_bag_iter_init(struct iotc_bag_iter *it, struct iotc_span bag)
{
    it->rest = bag.ptr != NULL ? bag : (struct iotc_span){"", 0};
}

int iotc_bag_next(struct iotc_bag_iter *it, struct iotc_bag_pair *out)
{
    for (;;) {
        struct iotc_span seg;
        struct iotc_span rest = it->rest;
        if (rest.len == 0)
            return IOTC_E_NOTFOUND;
        if (!iotc__split(&rest, '&', &seg)) {
            seg = rest;
            rest.ptr += rest.len;
            rest.len = 0;
        }
        if (seg.len == 0) {
            it->rest = rest;
            continue;
        }
        struct iotc_bag_pair p = {seg, {NULL, 0}, false};
        struct iotc_span v = seg;
        struct iotc_span k;
        if (iotc__split(&v, '=', &k)) {
            p.key = k;
            p.value = v;
            p.has_value = true;
        }
        size_t dummy;
        if (p.key.len == 0 || iotc_pct_decoded_len(p.key, &dummy) < 0 ||
            (p.has_value && iotc_pct_decoded_len(p.value, &dummy) < 0))
            return IOTC_E_MALFORMED;
        it->rest = rest;
        *out = p;
        return IOTC_OK;
    }
}

int iotc_bag_pair_decode(const struct iotc_bag_pair *pair, char *key_out, size_t key_size,
                         size_t *key_len, char *val_out, size_t val_size, size_t *val_len)
{
    size_t kl = 0, vl = 0;
    int rc = iotc_pct_decoded_len(pair->key, &kl);
    if (rc < 0)
        return rc;
    if (pair->has_value) {
        rc = iotc_pct_decoded_len(pair->value, &vl);
        if (rc < 0)
            return rc;
    }
    if (key_len != NULL)
        *key_len = kl;
    if (val_len != NULL)
        *val_len = vl;
    if (kl > key_size || (key_out == NULL && kl > 0) || vl > val_size ||
        (val_out == NULL && vl > 0))
        return IOTC_E_NOSPACE;
    rc = iotc_pct_decode(pair->key, key_out, key_size, key_len);
    if (rc < 0)
        return rc;
    if (pair->has_value)
        return iotc_pct_decode(pair->value, val_out, val_size, val_len);
    if (val_out != NULL && val_size > 0)
        val_out[0] = '\0';
    return IOTC_OK;
}

int iotc_bag_find(struct iotc_span bag, struct iotc_span key, struct iotc_bag_pair *out)
{
    struct iotc_bag_iter it;
    struct iotc_bag_pair p;
    int rc;
    iotc_bag_iter_init(&it, bag);
    for (;;) {
        rc = iotc_bag_next(&it, &p);
        if (rc < 0)
            return rc;
        if (iotc_pct_equal(p.key, key)) {
            if (out != NULL)
                *out = p;
            return IOTC_OK;
        }
    }
}

int iotc__sb_bag(struct iotc__sb *sb, const struct iotc_prop *props, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (props[i].key.ptr == NULL || props[i].key.len == 0)
            return IOTC_E_ARG;
        if (i > 0)
            iotc__sb_putc(sb, '&');
        iotc__sb_pct(sb, props[i].key);
        if (props[i].value.ptr != NULL) {
            iotc__sb_putc(sb, '=');
            iotc__sb_pct(sb, props[i].value);
        }
    }
    return 0;
}

int iotc_bag_build(const struct iotc_prop *props, size_t n, char *out, size_t out_size,
                   size_t *out_len)
{
    if (props == NULL && n > 0)
        return IOTC_E_ARG;
    IOTC__SB_BUILD(sb, out, out_size, out_len, iotc__sb_bag(sb, props, n));
}

int iotc__query_pick(struct iotc_span query, const char *const *keys, struct iotc_span *vals,
                     size_t n)
{
    struct iotc_bag_iter it;
    struct iotc_bag_pair p;
    int rc;
    iotc_bag_iter_init(&it, query);
    for (;;) {
        rc = iotc_bag_next(&it, &p);
        if (rc == IOTC_E_NOTFOUND)
            return IOTC_OK;
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (!iotc_pct_equal(p.key, iotc_span_from_cstr(keys[i])))
                continue;
            if (vals[i].ptr != NULL)
                return IOTC_E_MALFORMED;
            vals[i] = p.has_value ? p.value : (struct iotc_span){p.key.ptr + p.key.len, 0};
            break;
        }
    }
}
