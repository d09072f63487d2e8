/*
 * json_read.c - non-allocating JSON reader (RFC 8259) for the protocol core.
 *
 * Every scanner takes (text, len, *pos) and checks pos < len before each byte, so even a
 * hand-made struct iotc_json_value over arbitrary bytes cannot read out of bounds. Nesting is
 * bounded by IOTC_JSON_MAX_DEPTH, which also bounds the recursion.
 */
#include <iotc/json.h>

#include <string.h>

#include "proto/strbuf.h"

struct cur {
    const char *p;
    size_t len;
    size_t pos;
};

static bool at_end(const struct cur *c)
{
    return c->pos >= c->len;
}

static unsigned char peek(const struct cur *c)
{
    return at_end(c) ? 0 : (unsigned char)c->p[c->pos];
}

static void skip_ws(struct cur *c)
{
    while (!at_end(c)) {
        unsigned char ch = peek(c);
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        c->pos++;
    }
}

static int hex4(const char *p, size_t len, size_t at, unsigned *out)
{
    unsigned v = 0;
    if (len < 4 || at > len - 4)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        unsigned char ch = (unsigned char)p[at + k];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/*
 * Decode one unit of string contents starting at *i (contents exclude the quotes): a raw byte
 * or one escape, producing 1..4 UTF-8 bytes in out. Returns the byte count, -1 on a bad escape
 * or a raw control byte / quote (which cannot appear inside a valid string).
 */
static int unesc_step(const char *p, size_t len, size_t *i, unsigned char out[4])
{
    unsigned char ch = (unsigned char)p[*i];
    if (ch < 0x20 || ch == '"')
        return -1;
    if (ch != '\\') {
        out[0] = ch;
        *i += 1;
        return 1;
    }
    if (len - *i < 2)
        return -1;
    ch = (unsigned char)p[*i + 1];
    *i += 2;
    const char *e = memchr(IOTC__JSON_ESC_LETTERS, ch, IOTC__JSON_ESC_COUNT);
    if (e != NULL) {
        out[0] = (unsigned char)IOTC__JSON_ESC_BYTES[e - IOTC__JSON_ESC_LETTERS];
        return 1;
    }
    if (ch != 'u')
        return -1;
    unsigned cp;
    if (hex4(p, len, *i, &cp) < 0)
        return -1;
    *i += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return -1; /* lone low surrogate */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo;
        if (len - *i < 6 || p[*i] != '\\' || p[*i + 1] != 'u' || hex4(p, len, *i + 2, &lo) < 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        *i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int scan_string(struct cur *c)
{
    if (peek(c) != '"' || at_end(c))
        return -1;
    c->pos++;
    while (!at_end(c)) {
        unsigned char tmp[4];
        if (peek(c) == '"') {
            c->pos++;
            return 0;
        }
        if (unesc_step(c->p, c->len, &c->pos, tmp) < 0)
            return -1;
    }
    return -1;
}

static bool is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

static int scan_number(struct cur *c)
{
    if (peek(c) == '-' && !at_end(c))
        c->pos++;
    if (at_end(c) || !is_digit(peek(c)))
        return -1;
    if (peek(c) == '0') {
        c->pos++;
    } else {
        while (!at_end(c) && is_digit(peek(c)))
            c->pos++;
    }
    if (!at_end(c) && peek(c) == '.') {
        c->pos++;
        if (at_end(c) || !is_digit(peek(c)))
            return -1;
        while (!at_end(c) && is_digit(peek(c)))
            c->pos++;
    }
    if (!at_end(c) && (peek(c) == 'e' || peek(c) == 'E')) {
        c->pos++;
        if (!at_end(c) && (peek(c) == '+' || peek(c) == '-'))
            c->pos++;
        if (at_end(c) || !is_digit(peek(c)))
            return -1;
        while (!at_end(c) && is_digit(peek(c)))
            c->pos++;
    }
    return 0;
}

static int scan_lit(struct cur *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->pos < n || memcmp(c->p + c->pos, word, n) != 0)
        return -1;
    c->pos += n;
    return 0;
}

static int scan_value(struct cur *c, int depth, enum iotc_json_type *type);

static int scan_container(struct cur *c, int depth, bool obj)
{
    char close = obj ? '}' : ']';
    enum iotc_json_type t;
    if (depth >= IOTC_JSON_MAX_DEPTH)
        return -1;
    c->pos++; /* the opening bracket */
    skip_ws(c);
    if (!at_end(c) && peek(c) == (unsigned char)close) {
        c->pos++;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        if (obj) {
            if (scan_string(c) < 0)
                return -1;
            skip_ws(c);
            if (at_end(c) || peek(c) != ':')
                return -1;
            c->pos++;
            skip_ws(c);
        }
        if (scan_value(c, depth + 1, &t) < 0)
            return -1;
        skip_ws(c);
        if (at_end(c))
            return -1;
        if (peek(c) == ',') {
            c->pos++;
            continue;
        }
        if (peek(c) == (unsigned char)close) {
            c->pos++;
            return 0;
        }
        return -1;
    }
}

static int scan_value(struct cur *c, int depth, enum iotc_json_type *type)
{
    if (at_end(c))
        return -1;
    switch (peek(c)) {
    case '{':
        *type = IOTC_JSON_OBJECT;
        return scan_container(c, depth, true);
    case '[':
        *type = IOTC_JSON_ARRAY;
        return scan_container(c, depth, false);
    case '"':
        *type = IOTC_JSON_STRING;
        return scan_string(c);
    case 't':
        *type = IOTC_JSON_TRUE;
        return scan_lit(c, "true");
    case 'f':
        *type = IOTC_JSON_FALSE;
        return scan_lit(c, "false");
    case 'n':
        *type = IOTC_JSON_NULL;
        return scan_lit(c, "null");
    default:
        *type = IOTC_JSON_NUMBER;
        return scan_number(c);
    }
}

/* Describe what the cursor passed since start as a value of type t (out may be NULL). */
static void describe(const struct cur *c, size_t start, enum iotc_json_type t,
                     struct iotc_json_value *out)
{
    if (out != NULL) {
        out->type = t;
        out->raw.ptr = c->p + start;
        out->raw.len = c->pos - start;
    }
}

/* Scan the value at the cursor and describe it into out (may be NULL). */
static int scan_into(struct cur *c, int depth, struct iotc_json_value *out)
{
    enum iotc_json_type t = IOTC_JSON_NONE;
    size_t start = c->pos;
    if (scan_value(c, depth, &t) < 0)
        return IOTC_E_MALFORMED;
    describe(c, start, t, out);
    return IOTC_OK;
}

int iotc_json_skip(struct iotc_span text, struct iotc_json_value *out, size_t *out_end)
{
    struct cur c = {text.ptr, text.ptr != NULL ? text.len : 0, 0};
    skip_ws(&c);
    if (scan_into(&c, 0, out) < 0)
        return IOTC_E_MALFORMED;
    if (out_end != NULL)
        *out_end = c.pos;
    return IOTC_OK;
}

int iotc_json_parse(struct iotc_span text, struct iotc_json_value *out)
{
    struct iotc_json_value v;
    size_t end;
    if (iotc_json_skip(text, &v, &end) < 0)
        return IOTC_E_MALFORMED;
    struct cur c = {text.ptr, text.len, end};
    skip_ws(&c);
    if (!at_end(&c))
        return IOTC_E_MALFORMED;
    if (out != NULL)
        *out = v;
    return IOTC_OK;
}

/* Re-derive the type from the first byte so that hand-made values are checked, not trusted. */
static bool container_ok(struct iotc_json_value v, char open)
{
    return v.raw.ptr != NULL && v.raw.len >= 2 && v.raw.ptr[0] == open;
}

int iotc_json_iter_init(struct iotc_json_iter *it, struct iotc_json_value container)
{
    if (container.type == IOTC_JSON_OBJECT && container_ok(container, '{')) {
        it->type = IOTC_JSON_OBJECT;
    } else if (container.type == IOTC_JSON_ARRAY && container_ok(container, '[')) {
        it->type = IOTC_JSON_ARRAY;
    } else {
        it->done = true;
        return IOTC_E_MALFORMED;
    }
    it->text = container.raw;
    it->pos = 1;
    it->started = false;
    it->done = false;
    return IOTC_OK;
}

int iotc_json_iter_next(struct iotc_json_iter *it, struct iotc_json_value *out_key,
                        struct iotc_json_value *out_value)
{
    bool obj = it->type == IOTC_JSON_OBJECT;
    char close = obj ? '}' : ']';
    struct cur c = {it->text.ptr, it->text.len, it->pos};
    if (it->done)
        return IOTC_E_NOTFOUND;
    skip_ws(&c);
    if (at_end(&c))
        return IOTC_E_MALFORMED;
    if (peek(&c) == (unsigned char)close) {
        it->done = true;
        return IOTC_E_NOTFOUND;
    }
    if (it->started) { /* not the first element: a comma separates */
        if (peek(&c) != ',')
            return IOTC_E_MALFORMED;
        c.pos++;
        skip_ws(&c);
    }
    if (obj) {
        size_t ks = c.pos;
        if (scan_string(&c) < 0)
            return IOTC_E_MALFORMED;
        describe(&c, ks, IOTC_JSON_STRING, out_key);
        skip_ws(&c);
        if (at_end(&c) || peek(&c) != ':')
            return IOTC_E_MALFORMED;
        c.pos++;
        skip_ws(&c);
    }
    if (scan_into(&c, 1, out_value) < 0)
        return IOTC_E_MALFORMED;
    it->pos = c.pos;
    it->started = true;
    return IOTC_OK;
}

int iotc_json_string_contents(struct iotc_json_value str, struct iotc_span *out)
{
    if (str.type != IOTC_JSON_STRING || str.raw.ptr == NULL || str.raw.len < 2 ||
        str.raw.ptr[0] != '"' || str.raw.ptr[str.raw.len - 1] != '"')
        return IOTC_E_MALFORMED;
    out->ptr = str.raw.ptr + 1;
    out->len = str.raw.len - 2;
    return IOTC_OK;
}

bool iotc_json_string_eq(struct iotc_json_value str, struct iotc_span raw)
{
    struct iotc_span s;
    size_t i = 0, j = 0;
    if (iotc_json_string_contents(str, &s) < 0)
        return false;
    while (i < s.len) {
        unsigned char tmp[4];
        int n = unesc_step(s.ptr, s.len, &i, tmp);
        if (n < 0 || raw.len - j < (size_t)n || memcmp(raw.ptr + j, tmp, (size_t)n) != 0)
            return false;
        j += (size_t)n;
    }
    return j == raw.len;
}

int iotc_json_unescape(struct iotc_span contents, char *out, size_t out_size, size_t *out_len)
{
    size_t i = 0, n = 0;
    unsigned char tmp[4];
    if (contents.ptr == NULL)
        contents.len = 0;
    while (i < contents.len) {
        int k = unesc_step(contents.ptr, contents.len, &i, tmp);
        if (k < 0)
            return IOTC_E_MALFORMED;
        n += (size_t)k;
    }
    if (out_len != NULL)
        *out_len = n;
    if (n > out_size || (out == NULL && n > 0))
        return IOTC_E_NOSPACE;
    i = 0;
    size_t o = 0;
    while (i < contents.len) {
        int k = unesc_step(contents.ptr, contents.len, &i, tmp);
        memcpy(out + o, tmp, (size_t)k);
        o += (size_t)k;
    }
    if (out != NULL && o < out_size)
        out[o] = '\0';
    return IOTC_OK;
}

int iotc_json_string_get(struct iotc_json_value str, char *out, size_t out_size, size_t *out_len)
{
    struct iotc_span s;
    if (iotc_json_string_contents(str, &s) < 0)
        return IOTC_E_MALFORMED;
    return iotc_json_unescape(s, out, out_size, out_len);
}

int iotc_json_object_find(struct iotc_json_value obj, struct iotc_span key,
                          struct iotc_json_value *out)
{
    struct iotc_json_iter it;
    struct iotc_json_value k, v;
    int rc;
    if (obj.type != IOTC_JSON_OBJECT || iotc_json_iter_init(&it, obj) < 0)
        return IOTC_E_MALFORMED;
    for (;;) {
        rc = iotc_json_iter_next(&it, &k, &v);
        if (rc < 0)
            return rc;
        if (iotc_json_string_eq(k, key)) {
            if (out != NULL)
                *out = v;
            return IOTC_OK;
        }
    }
}

int iotc_json_get_int(struct iotc_json_value num, int64_t min, int64_t max, int64_t *out)
{
    const char *p = num.raw.ptr;
    size_t n = num.raw.len, i = 0;
    bool neg = false;
    uint64_t mag = 0;
    if (num.type != IOTC_JSON_NUMBER || p == NULL || n == 0)
        return IOTC_E_MALFORMED;
    if (p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= n || (p[i] == '0' && n - i > 1))
        return IOTC_E_MALFORMED;
    bool big = false;
    for (; i < n; i++) {
        unsigned d = (unsigned)((unsigned char)p[i] - '0');
        if (d > 9)
            return IOTC_E_MALFORMED;
        if (mag > (UINT64_MAX - d) / 10)
            big = true; /* keep validating the syntax, the value is out of range anyway */
        else
            mag = mag * 10 + d;
    }
    if (big)
        return IOTC_E_TOOBIG;
    int64_t v;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return IOTC_E_TOOBIG;
        v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return IOTC_E_TOOBIG;
        v = (int64_t)mag;
    }
    if (v < min || v > max)
        return IOTC_E_TOOBIG;
    *out = v;
    return IOTC_OK;
}

int iotc_json_get_bool(struct iotc_json_value v, bool *out)
{
    if (v.type == IOTC_JSON_TRUE && v.raw.len == 4 && memcmp(v.raw.ptr, "true", 4) == 0) {
        *out = true;
        return IOTC_OK;
    }
    if (v.type == IOTC_JSON_FALSE && v.raw.len == 5 && memcmp(v.raw.ptr, "false", 5) == 0) {
        *out = false;
        return IOTC_OK;
    }
    return IOTC_E_MALFORMED;
}
