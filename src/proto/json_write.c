/*
 * json_write.c - streaming JSON writer with automatic commas and a count-only mode.
 *
 * Misuse (a value where a member name is due, unbalanced containers, invalid UTF-8, invalid
 * raw JSON) is recorded as a sticky IOTC_E_ARG and reported by iotc_json_writer_finish(), so
 * callers can chain calls and check once.
 */
#include <iotc/json.h>

#include <string.h>

#include "proto/strbuf.h"

void iotc_json_writer_init(struct iotc_json_writer *w, char *buf, size_t size)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->size = buf != NULL ? size : 0;
    w->first = 1; /* bit 0: the single top-level value has not been written yet */
}

static void put(struct iotc_json_writer *w, const char *p, size_t n)
{
    if (w->buf != NULL && w->len <= w->size && n <= w->size - w->len)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void fail(struct iotc_json_writer *w)
{
    if (w->error == 0)
        w->error = IOTC_E_ARG;
}

static bool in_object(const struct iotc_json_writer *w)
{
    return w->depth > 0 && (w->in_obj >> w->depth & 1u) != 0;
}

/* Called before every value: handles the comma, or checks a member name came first. */
static bool before_value(struct iotc_json_writer *w)
{
    if (w->error != 0)
        return false;
    if (w->depth == 0) {
        if ((w->first & 1u) == 0) {
            fail(w); /* a second top-level value */
            return false;
        }
        w->first &= ~(uint64_t)1;
        return true;
    }
    if (in_object(w)) {
        if (!w->after_key) {
            fail(w);
            return false;
        }
        w->after_key = false;
        return true;
    }
    if ((w->first >> w->depth & 1u) != 0)
        w->first &= ~((uint64_t)1 << w->depth);
    else
        put(w, ",", 1);
    return true;
}

static void open_container(struct iotc_json_writer *w, bool obj)
{
    if (!before_value(w))
        return;
    if (w->depth >= IOTC_JSON_MAX_DEPTH) {
        fail(w);
        return;
    }
    w->depth++;
    w->first |= (uint64_t)1 << w->depth;
    if (obj)
        w->in_obj |= (uint64_t)1 << w->depth;
    else
        w->in_obj &= ~((uint64_t)1 << w->depth);
    put(w, obj ? "{" : "[", 1);
}

static void close_container(struct iotc_json_writer *w, bool obj)
{
    if (w->error != 0)
        return;
    if (w->depth == 0 || in_object(w) != obj || w->after_key) {
        fail(w);
        return;
    }
    w->depth--;
    put(w, obj ? "}" : "]", 1);
}

void iotc_json_write_object_begin(struct iotc_json_writer *w)
{
    open_container(w, true);
}

void iotc_json_write_object_end(struct iotc_json_writer *w)
{
    close_container(w, true);
}

void iotc_json_write_array_begin(struct iotc_json_writer *w)
{
    open_container(w, false);
}

void iotc_json_write_array_end(struct iotc_json_writer *w)
{
    close_container(w, false);
}

static void put_string(struct iotc_json_writer *w, struct iotc_span s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t n = s.ptr != NULL ? s.len : 0;
    put(w, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t run = iotc__utf8_seq(p + i, n - i);
        if (run == 0) {
            fail(w);
            return;
        }
        if (run > 1 || (c >= 0x20 && c != '"' && c != '\\')) {
            put(w, (const char *)p + i, run);
            i += run;
            continue;
        }
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        const char *e = memchr(IOTC__JSON_ESC_BYTES, c, IOTC__JSON_ESC_COUNT);
        if (e != NULL) {
            esc[1] = IOTC__JSON_ESC_LETTERS[e - IOTC__JSON_ESC_BYTES];
            put(w, esc, 2);
        } else {
            put(w, esc, 6);
        }
        i++;
    }
    put(w, "\"", 1);
}

void iotc_json_write_key(struct iotc_json_writer *w, struct iotc_span key)
{
    if (w->error != 0)
        return;
    if (!in_object(w) || w->after_key) {
        fail(w);
        return;
    }
    if ((w->first >> w->depth & 1u) != 0)
        w->first &= ~((uint64_t)1 << w->depth);
    else
        put(w, ",", 1);
    put_string(w, key);
    put(w, ":", 1);
    w->after_key = true;
}

void iotc_json_write_string(struct iotc_json_writer *w, struct iotc_span s)
{
    if (before_value(w))
        put_string(w, s);
}

static void put_u64(struct iotc_json_writer *w, uint64_t v)
{
    char tmp[IOTC__U64_DIGITS];
    size_t n = iotc__u64_dec(v, tmp);
    put(w, tmp + sizeof(tmp) - n, n);
}

void iotc_json_write_uint(struct iotc_json_writer *w, uint64_t v)
{
    if (before_value(w))
        put_u64(w, v);
}

void iotc_json_write_int(struct iotc_json_writer *w, int64_t v)
{
    if (v >= 0) {
        iotc_json_write_uint(w, (uint64_t)v);
        return;
    }
    /* Write the sign, then let write_uint handle comma state: emulate by checking first. */
    if (!before_value(w))
        return;
    put(w, "-", 1);
    put_u64(w, (uint64_t)(-(v + 1)) + 1);
}

void iotc_json_write_bool(struct iotc_json_writer *w, bool v)
{
    if (before_value(w))
        put(w, v ? "true" : "false", v ? 4 : 5);
}

void iotc_json_write_null(struct iotc_json_writer *w)
{
    if (before_value(w))
        put(w, "null", 4);
}

void iotc_json_write_raw(struct iotc_json_writer *w, struct iotc_span json)
{
    struct iotc_json_value v;
    if (w->error != 0)
        return;
    if (iotc_json_parse(json, &v) < 0) {
        fail(w);
        return;
    }
    if (before_value(w))
        put(w, v.raw.ptr, v.raw.len);
}

int iotc_json_writer_finish(struct iotc_json_writer *w, size_t *out_len)
{
    if (w->error == 0 && (w->depth != 0 || w->after_key || (w->first & 1u) != 0))
        w->error = IOTC_E_ARG; /* unclosed container or nothing written */
    if (out_len != NULL)
        *out_len = w->len;
    if (w->error != 0)
        return w->error;
    if (w->len > w->size)
        return w->buf == NULL && w->len == 0 ? IOTC_OK : IOTC_E_NOSPACE;
    if (w->buf != NULL && w->len < w->size)
        w->buf[w->len] = '\0';
    return IOTC_OK;
}

int iotc_json_escape(struct iotc_span s, char *out, size_t out_size, size_t *out_len)
{
    struct iotc_json_writer w;
    int rc;
    iotc_json_writer_init(&w, NULL, 0);
    iotc_json_write_string(&w, s);
    rc = iotc_json_writer_finish(&w, out_len);
    if (rc != IOTC_E_NOSPACE)
        return rc;
    if (w.len > out_size || out == NULL)
        return IOTC_E_NOSPACE;
    iotc_json_writer_init(&w, out, out_size);
    iotc_json_write_string(&w, s);
    return iotc_json_writer_finish(&w, out_len);
}
