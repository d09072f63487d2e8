/*
 * iotc/codec.h - percent-encoding, base64 and `k=v&k=v` property bags (docs/PROTOCOL.md §1, §5.3).
 *
 * Conventions shared by every writer in the iotc protocol core (codec.h, sas.h, dps.h, hub.h,
 * central.h, json.h):
 *  - A writer takes (char *out, size_t out_size, size_t *out_len). It computes the full output
 *    length first; if it does not fit it returns IOTC_E_NOSPACE and writes NOTHING, but still
 *    stores the required length (without NUL) in *out_len when out_len is not NULL.
 *  - On success *out_len is the number of bytes written, excluding any NUL. String outputs are
 *    NUL-terminated when there is room for it (out_size > *out_len); an output that fills the
 *    buffer exactly is still a success, just not terminated. Pass out_size = len + 1 to be sure.
 *  - out may be NULL only when out_size is 0 (a pure size query: the call then returns
 *    IOTC_E_NOSPACE unless the output is empty, and *out_len tells the size).
 *  - Input strings are struct iotc_span; a span with ptr == NULL means "absent" where a
 *    parameter is documented as optional, and is treated as empty elsewhere.
 * No function here allocates, does I/O or reads the clock. All are reentrant.
 */
#ifndef IOTC_CODEC_H
#define IOTC_CODEC_H

#include <iotc/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Span over a NUL-terminated string; NULL gives the absent span {NULL, 0}. Borrowed. */
static inline struct iotc_span iotc_span_from_cstr(const char *s)
{
    struct iotc_span sp = {s, 0};
    if (s != NULL) {
        while (s[sp.len] != '\0')
            sp.len++;
    }
    return sp;
}

/** True when the two spans hold the same bytes (two absent/empty spans are equal). */
IOTC_API bool iotc_span_eq(struct iotc_span a, struct iotc_span b);

/** Like iotc_span_eq but ASCII case-insensitive. */
IOTC_API bool iotc_span_eq_nocase(struct iotc_span a, struct iotc_span b);

/* ------------------------------------------------------------------------------------------ */
/* Percent-encoding (RFC 3986 style, docs/PROTOCOL.md §1)                                     */
/* ------------------------------------------------------------------------------------------ */

/** Number of bytes iotc_pct_encode() produces for @p in (no NUL). */
IOTC_API size_t iotc_pct_encoded_len(struct iotc_span in);

/**
 * Percent-encode like the Azure C SDK: every byte outside `A-Z a-z 0-9 - _ . ~` becomes `%XX`
 * with UPPER-case hex. '/' is encoded, space is `%20` (never '+').
 * @param in       bytes to encode (borrowed)
 * @param out      destination, see the writer conventions at the top of this header
 * @return IOTC_OK, IOTC_E_NOSPACE (nothing written; *out_len = needed size).
 */
IOTC_API int iotc_pct_encode(struct iotc_span in, char *out, size_t out_size, size_t *out_len);

/**
 * Percent-decode leniently, as a server must (§1): `%XX` with either hex case is decoded,
 * every other byte (including reserved characters and '+') is copied unchanged; '+' is NOT a
 * space. The output may contain any byte, including NUL; it is NUL-terminated when room.
 * @return IOTC_OK; IOTC_E_MALFORMED for a bad escape (`%zz`, `%4` at the end, `%` alone) with
 *         nothing written; IOTC_E_NOSPACE (nothing written; *out_len = needed size).
 */
IOTC_API int iotc_pct_decode(struct iotc_span in, char *out, size_t out_size, size_t *out_len);

/**
 * Validate the escapes of @p in and report its decoded length without writing anything.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_pct_decoded_len(struct iotc_span in, size_t *out_len);

/**
 * Compare percent-encoded text with raw bytes without a buffer: true when
 * iotc_pct_decode(@p encoded) would succeed and yield exactly @p raw.
 */
IOTC_API bool iotc_pct_equal(struct iotc_span encoded, struct iotc_span raw);

/* ------------------------------------------------------------------------------------------ */
/* Base64 (RFC 4648 standard alphabet, via OpenSSL EVP_EncodeBlock/EVP_DecodeBlock)           */
/* ------------------------------------------------------------------------------------------ */

/** Length of the padded base64 text for @p n input bytes (no NUL). */
IOTC_API size_t iotc_base64_encoded_len(size_t n);

/**
 * Base64-encode @p in_len bytes with padding, standard alphabet, no line breaks.
 * @return IOTC_OK, IOTC_E_NOSPACE (nothing written).
 */
IOTC_API int iotc_base64_encode(const void *in, size_t in_len, char *out, size_t out_size,
                                size_t *out_len);

/**
 * Base64-decode leniently, the way Node's Buffer.from(s,'base64') treats Azure keys (§2.3
 * vector 2): padding may be missing ("key" decodes to the 2 bytes 91 EC), unused trailing bits
 * are ignored. Strict on everything else: characters outside the standard alphabet (including
 * whitespace and the URL-safe '-' '_'), '=' anywhere but at the end, more than two '=', or a
 * final group of a single character give IOTC_E_MALFORMED. Empty input decodes to 0 bytes.
 * The output is binary and is NOT NUL-terminated.
 * @return IOTC_OK, IOTC_E_MALFORMED or IOTC_E_NOSPACE (nothing written in both error cases;
 *         *out_len = needed size on NOSPACE).
 */
IOTC_API int iotc_base64_decode(struct iotc_span in, void *out, size_t out_size, size_t *out_len);

/* ------------------------------------------------------------------------------------------ */
/* Property bags / query strings: `k=v&k&k=` (§5.3, §5.4, usernames, topic queries)           */
/* ------------------------------------------------------------------------------------------ */

/** One bag entry. key/value are borrowed spans into the bag, still percent-encoded. */
struct iotc_bag_pair {
    struct iotc_span key;
    struct iotc_span value; /**< empty for `k=`; {NULL,0} for a bare key `k` (null value) */
    bool has_value;         /**< false for a bare key */
};

/** Iterator over a bag; initialise with iotc_bag_iter_init(). Borrows the bag text. */
struct iotc_bag_iter {
    struct iotc_span rest; /**< private: not yet consumed text */
};

/** Start iterating @p bag (borrowed; must outlive the iterator). A NULL/empty bag is empty. */
IOTC_API void iotc_bag_iter_init(struct iotc_bag_iter *it, struct iotc_span bag);

/**
 * Next pair of the bag. Empty segments (`a=1&&b=2`, a trailing '&') are skipped.
 * The key and value are returned raw (encoded); the split is on the FIRST '=' of the pair.
 * Escapes are validated: a pair whose key or value has a bad escape is IOTC_E_MALFORMED,
 * as is an empty key (`=v`).
 * @return IOTC_OK with *out filled; IOTC_E_NOTFOUND at the end; IOTC_E_MALFORMED (the
 *         iterator then stays at the bad pair).
 */
IOTC_API int iotc_bag_next(struct iotc_bag_iter *it, struct iotc_bag_pair *out);

/**
 * Percent-decode a pair into caller buffers (each NUL-terminated when room). @p val_out may
 * be NULL with val_size 0 if only the key is wanted. For a bare key *val_len is 0.
 * @return IOTC_OK, IOTC_E_MALFORMED, IOTC_E_NOSPACE (key or value buffer too small).
 */
IOTC_API int iotc_bag_pair_decode(const struct iotc_bag_pair *pair, char *key_out, size_t key_size,
                                  size_t *key_len, char *val_out, size_t val_size, size_t *val_len);

/**
 * Find the first pair whose DECODED key equals @p key (raw bytes, case-sensitive).
 * @param out   receives the pair (value still encoded; decode with iotc_pct_decode).
 * @return IOTC_OK, IOTC_E_NOTFOUND, IOTC_E_MALFORMED (a pair before the match is malformed).
 */
IOTC_API int iotc_bag_find(struct iotc_span bag, struct iotc_span key, struct iotc_bag_pair *out);

/** A property to write into a bag; both fields are RAW (the writer encodes them). */
struct iotc_prop {
    struct iotc_span key;   /**< e.g. "$.ct" (written "%24.ct") or "iothub-creation-time-utc" */
    struct iotc_span value; /**< ptr NULL: bare key (null value); empty: `k=` */
};

/**
 * Write `enc(k)=enc(v)&...` for @p n properties, encoding keys and values like the C SDK
 * (so "$.ct" becomes "%24.ct" and "application/json" becomes "application%2Fjson").
 * @return IOTC_OK, IOTC_E_ARG (empty key), IOTC_E_NOSPACE (nothing written).
 */
IOTC_API int iotc_bag_build(const struct iotc_prop *props, size_t n, char *out, size_t out_size,
                            size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_CODEC_H */
