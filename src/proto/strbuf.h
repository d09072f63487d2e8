/*
 * strbuf.h - library-internal bounded text builder used by every writer of the protocol core.
 *
 * A builder with buf == NULL only counts, so each public writer runs its emitter twice: once to
 * learn the size (and refuse with IOTC_E_NOSPACE before touching the output, as docs/STYLE.md §5
 * asks), once to write. The builder never writes past size even if an emitter misbehaves.
 */
#ifndef IOTC_PROTO_STRBUF_H
#define IOTC_PROTO_STRBUF_H

#include <iotc/common.h>

struct iotc_prop;

struct iotc__sb {
    char *buf;
    size_t size;
    size_t len;
};

void iotc__sb_init(struct iotc__sb *sb, char *buf, size_t size);
void iotc__sb_put(struct iotc__sb *sb, const void *p, size_t n);
void iotc__sb_putc(struct iotc__sb *sb, char c);
void iotc__sb_puts(struct iotc__sb *sb, const char *s);
void iotc__sb_span(struct iotc__sb *sb, struct iotc_span s);
/* Percent-encode s like the C SDK (unreserved A-Z a-z 0-9 - _ . ~, upper-case hex). */
void iotc__sb_pct(struct iotc__sb *sb, struct iotc_span s);
void iotc__sb_u64(struct iotc__sb *sb, uint64_t v);
/* Append prefix and v percent-encoded; when v is absent (ptr NULL), prefix and dflt instead, or
 * nothing at all when dflt is NULL too. */
void iotc__sb_param(struct iotc__sb *sb, const char *prefix, struct iotc_span v, const char *dflt);
/* Append n application properties as a bag `k=v&k2&...`, both sides percent-encoded
 * (docs/PROTOCOL.md §5.4); IOTC_E_ARG for an empty key. */
int iotc__sb_bag(struct iotc__sb *sb, const struct iotc_prop *props, size_t n);
/* NUL-terminate when room and report the length; IOTC_E_NOSPACE if it overflowed. */
int iotc__sb_finish(struct iotc__sb *sb, size_t *out_len);

/*
 * The two-pass tail of a writer, for a builder of type TYPE named B (a pointer) with
 * INIT(b, buf, size) and FINISH(b, &len): run EMIT (an int expression using B) in count mode,
 * take the length from FINISH (IOTC_E_ARG there, an invalid document, is returned), refuse early
 * when it does not fit, then run EMIT again for real. Use only as the whole body tail of a writer,
 * through IOTC__SB_BUILD or IOTC__JSON_BUILD.
 */
#define IOTC__TWO_PASS_BUILD(TYPE, INIT, FINISH, B, OUT, OUT_SIZE, OUT_LEN, EMIT) \
    do {                                                                          \
        TYPE B##_s;                                                               \
        TYPE *B = &B##_s;                                                         \
        int rc_;                                                                  \
        size_t len_ = 0;                                                          \
        INIT(B, NULL, 0);                                                         \
        rc_ = (EMIT);                                                             \
        if (rc_ < 0)                                                              \
            return rc_;                                                           \
        rc_ = FINISH(B, &len_);                                                   \
        if (rc_ == IOTC_E_ARG)                                                    \
            return rc_;                                                           \
        if (len_ > (OUT_SIZE) || (OUT) == NULL) {                                 \
            if ((OUT_LEN) != NULL)                                                \
                *(OUT_LEN) = len_;                                                \
            if (len_ == 0 && (OUT) == NULL)                                       \
                return IOTC_OK;                                                   \
            return IOTC_E_NOSPACE;                                                \
        }                                                                         \
        INIT(B, (OUT), (OUT_SIZE));                                               \
        rc_ = (EMIT);                                                             \
        if (rc_ < 0)                                                              \
            return rc_;                                                           \
        return FINISH(B, (OUT_LEN));                                              \
    } while (0)

/* IOTC__TWO_PASS_BUILD with the string builder named SB. An empty result with OUT NULL is
 * IOTC_OK (the JSON writer never finishes empty: that is its IOTC_E_ARG). */
#define IOTC__SB_BUILD(SB, OUT, OUT_SIZE, OUT_LEN, EMIT)                                     \
    IOTC__TWO_PASS_BUILD(struct iotc__sb, iotc__sb_init, iotc__sb_finish, SB, OUT, OUT_SIZE, \
                         OUT_LEN, EMIT)

/* Write v in decimal at the end of buf and return the digit count: the digits are the last ones. */
#define IOTC__U64_DIGITS 20
size_t iotc__u64_dec(uint64_t v, char buf[IOTC__U64_DIGITS]);

/* Length (1..4) of the well-formed UTF-8 sequence at p, which has avail > 0 bytes; 0 when it is
 * none (overlong, surrogate D800..DFFF, above U+10FFFF, cut short: Unicode Table 3-7). Inline:
 * the MQTT string check of every PUBLISH topic runs it. */
static inline size_t iotc__utf8_seq(const unsigned char *p, size_t avail)
{
    /* The second byte's range depends on the lead byte. */
    uint8_t c = p[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (avail <= n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k <= n; k++) {
        if ((p[k] & 0xc0u) != 0x80u)
            return 0;
    }
    return n + 1;
}

/* JSON's two-character escapes: the byte IOTC__JSON_ESC_BYTES[i] is written as a backslash and
 * IOTC__JSON_ESC_LETTERS[i]. */
#define IOTC__JSON_ESC_LETTERS "\"\\/bfnrt"
#define IOTC__JSON_ESC_BYTES "\"\\/\b\f\n\r\t"
#define IOTC__JSON_ESC_COUNT (sizeof(IOTC__JSON_ESC_LETTERS) - 1)

/* Streaming percent-decoder step: decodes the byte at *i (advancing *i), -1 on a bad escape. */
int iotc__pct_step(const char *p, size_t len, size_t *i, unsigned char *out);

/* s is non-empty and has no byte below min (min > 0), no DEL and none of forbidden. */
bool iotc__token_ok(struct iotc_span s, unsigned char min, const char *forbidden);

/* Request ids are echoed into topics unencoded, so keep them parseable by every SDK. */
bool iotc__rid_ok(struct iotc_span rid);

/* Parse 1..max_digits decimal digits (no sign) into *out; false on anything else/overflow. */
bool iotc__parse_u64(struct iotc_span s, size_t max_digits, uint64_t *out);

/* If s starts with prefix, drop it and return true. */
bool iotc__eat(struct iotc_span *s, const char *prefix);

/* Split s at the first c: head before it, s becomes the rest after it. false if no c. */
bool iotc__split(struct iotc_span *s, char c, struct iotc_span *head);

/*
 * Pick known keys out of a `k=v&...` query: keys[i] is compared with each pair's key after
 * percent-decoding; vals[i] receives the raw value (a bare key gives an empty, non-NULL span).
 * Unknown keys are ignored. Returns IOTC_E_MALFORMED for a bad pair or a repeated known key.
 * vals[] must be initialised to {NULL,0} by the caller.
 */
int iotc__query_pick(struct iotc_span query, const char *const *keys, struct iotc_span *vals,
                     size_t n);

/* IOTC__TWO_PASS_BUILD with the JSON writer named W. */
#define IOTC__JSON_BUILD(W, OUT, OUT_SIZE, OUT_LEN, EMIT)                                         \
    IOTC__TWO_PASS_BUILD(struct iotc_json_writer, iotc_json_writer_init, iotc_json_writer_finish, \
                         W, OUT, OUT_SIZE, OUT_LEN, EMIT)

#endif /* IOTC_PROTO_STRBUF_H */
