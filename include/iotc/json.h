/*
 * iotc/json.h - a small non-allocating JSON reader and writer (RFC 8259).
 *
 * Reader: values are views (struct iotc_json_value) into the caller's text: borrowed, valid
 * while that text lives. iotc_json_parse() validates a whole document once (syntax, UTF-8 of
 * strings is NOT checked, escapes are, nesting depth <= IOTC_JSON_MAX_DEPTH); after that the
 * lookup functions walk the already-validated text but still bounds-check every byte, so a
 * value built by hand from arbitrary bytes can never cause an out-of-bounds read.
 *
 * Writer: struct iotc_json_writer appends into a caller buffer, inserting commas itself; with
 * a NULL buffer it only counts, which is how the library's builders compute the size first.
 *
 * No allocation, no I/O; reentrant.
 */
#ifndef IOTC_JSON_H
#define IOTC_JSON_H

#include <iotc/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Maximum nesting of arrays/objects accepted by the reader and the writer. */
#define IOTC_JSON_MAX_DEPTH 32

enum iotc_json_type {
    IOTC_JSON_NONE = 0, /**< absent / not parsed */
    IOTC_JSON_NULL,
    IOTC_JSON_FALSE,
    IOTC_JSON_TRUE,
    IOTC_JSON_NUMBER,
    IOTC_JSON_STRING,
    IOTC_JSON_ARRAY,
    IOTC_JSON_OBJECT,
};

/** A JSON value: its type and its exact text (strings include their quotes). Borrowed. */
struct iotc_json_value {
    enum iotc_json_type type;
    struct iotc_span raw;
};

/**
 * Validate @p text as exactly one JSON value, optionally surrounded by whitespace.
 * @param out  receives the top-level value (raw excludes the surrounding whitespace)
 * @return IOTC_OK; IOTC_E_MALFORMED (syntax, bad escape, trailing bytes, empty text, depth
 *         over IOTC_JSON_MAX_DEPTH, number syntax).
 */
IOTC_API int iotc_json_parse(struct iotc_span text, struct iotc_json_value *out);

/**
 * Scan one value at the start of @p text (after optional whitespace) without requiring the
 * text to end there. @p out_end receives the offset just after the value.
 * @return IOTC_OK or IOTC_E_MALFORMED.
 */
IOTC_API int iotc_json_skip(struct iotc_span text, struct iotc_json_value *out, size_t *out_end);

/**
 * Find member @p key (compared with the member names after unescaping, byte-exact) in object
 * @p obj. With duplicate names the first one wins.
 * @return IOTC_OK; IOTC_E_NOTFOUND; IOTC_E_MALFORMED (obj is not an object or is broken).
 */
IOTC_API int iotc_json_object_find(struct iotc_json_value obj, struct iotc_span key,
                                   struct iotc_json_value *out);

/** Iterator over an array's elements or an object's members. */
struct iotc_json_iter {
    struct iotc_span text;    /**< private: the container's raw text */
    size_t pos;               /**< private */
    enum iotc_json_type type; /**< private */
    bool started;             /**< private: an element was returned already */
    bool done;                /**< private */
};

/**
 * Start iterating @p container (an array or object value; borrowed).
 * @return IOTC_OK or IOTC_E_MALFORMED (not a container).
 */
IOTC_API int iotc_json_iter_init(struct iotc_json_iter *it, struct iotc_json_value container);

/**
 * Next element. For objects @p out_key receives the member name (a STRING value, quotes
 * included); for arrays it may be NULL and is left untouched.
 * @return IOTC_OK; IOTC_E_NOTFOUND at the end; IOTC_E_MALFORMED.
 */
IOTC_API int iotc_json_iter_next(struct iotc_json_iter *it, struct iotc_json_value *out_key,
                                 struct iotc_json_value *out_value);

/**
 * Unescape a STRING value (quotes included in str.raw) into @p out: the escapes quote, backslash,
 * slash, b, f, n, r, t and uXXXX (surrogate pairs joined; a lone surrogate is IOTC_E_MALFORMED)
 * become UTF-8. The output may contain NUL (from \u0000); NUL-terminated when room.
 * @return IOTC_OK, IOTC_E_MALFORMED (not a string / bad escape), IOTC_E_NOSPACE (nothing
 *         written; *out_len = needed).
 */
IOTC_API int iotc_json_string_get(struct iotc_json_value str, char *out, size_t out_size,
                                  size_t *out_len);

/**
 * Same as iotc_json_string_get() for the CONTENTS of a string (the text between the quotes,
 * still escaped), as returned in the *_view structs of dps.h and hub.h.
 */
IOTC_API int iotc_json_unescape(struct iotc_span contents, char *out, size_t out_size,
                                size_t *out_len);

/**
 * Compare a STRING value with raw bytes after unescaping, without a buffer.
 * @return true when equal; false otherwise (including when @p str is not a valid string).
 */
IOTC_API bool iotc_json_string_eq(struct iotc_json_value str, struct iotc_span raw);

/**
 * Contents of a STRING value without the quotes (still escaped), e.g. for spans in views.
 * @return IOTC_OK or IOTC_E_MALFORMED (not a string).
 */
IOTC_API int iotc_json_string_contents(struct iotc_json_value str, struct iotc_span *out);

/**
 * Integer value of a NUMBER in [@p min, @p max]. Fractions and exponents are refused even if
 * integral ("1.0", "1e3"); "-0" is 0.
 * @return IOTC_OK; IOTC_E_MALFORMED (not an integer number); IOTC_E_TOOBIG (out of range).
 */
IOTC_API int iotc_json_get_int(struct iotc_json_value num, int64_t min, int64_t max, int64_t *out);

/** Boolean value of TRUE/FALSE. @return IOTC_OK or IOTC_E_MALFORMED. */
IOTC_API int iotc_json_get_bool(struct iotc_json_value v, bool *out);

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** Streaming writer. Fields are private; use the functions below. */
struct iotc_json_writer {
    char *buf;   /**< NULL: count only */
    size_t size; /**< capacity of buf */
    size_t len;  /**< bytes produced so far (may exceed size: then NOSPACE at finish) */
    int depth;
    uint64_t first;  /**< bit d set: next item at depth d is the first (no comma) */
    uint64_t in_obj; /**< bit d set: container at depth d is an object */
    bool after_key;  /**< a member name was written, a value must follow */
    int error;       /**< first error seen (IOTC_E_ARG for misuse), sticky */
};

/**
 * Prepare @p w. @p buf may be NULL (size 0) to only compute the length. The writer never
 * writes past @p size; once the text is longer than @p size the buffer content is unspecified
 * and iotc_json_writer_finish() returns IOTC_E_NOSPACE. For all-or-nothing output, run once
 * with NULL, then again with a large enough buffer (the library's builders do this).
 */
IOTC_API void iotc_json_writer_init(struct iotc_json_writer *w, char *buf, size_t size);

/** `{` ; `}` ; `[` ; `]`. Misnesting or depth over IOTC_JSON_MAX_DEPTH sets IOTC_E_ARG. */
IOTC_API void iotc_json_write_object_begin(struct iotc_json_writer *w);
IOTC_API void iotc_json_write_object_end(struct iotc_json_writer *w);
IOTC_API void iotc_json_write_array_begin(struct iotc_json_writer *w);
IOTC_API void iotc_json_write_array_end(struct iotc_json_writer *w);

/** Member name inside an object (escaped like iotc_json_write_string()). */
IOTC_API void iotc_json_write_key(struct iotc_json_writer *w, struct iotc_span key);

/**
 * A JSON string with correct escaping: `"` and `\` are backslash-escaped, control bytes
 * < 0x20 become the short escapes (b f n r t) or u00XX, DEL and everything else pass through. Input
 * must be valid UTF-8 (checked: invalid sequences set IOTC_E_ARG).
 */
IOTC_API void iotc_json_write_string(struct iotc_json_writer *w, struct iotc_span s);

/** Signed / unsigned integers, booleans, null. */
IOTC_API void iotc_json_write_int(struct iotc_json_writer *w, int64_t v);
IOTC_API void iotc_json_write_uint(struct iotc_json_writer *w, uint64_t v);
IOTC_API void iotc_json_write_bool(struct iotc_json_writer *w, bool v);
IOTC_API void iotc_json_write_null(struct iotc_json_writer *w);

/**
 * Pre-serialised JSON written verbatim as one value. It is validated with iotc_json_parse()
 * (invalid JSON sets IOTC_E_ARG) and surrounding whitespace is dropped.
 */
IOTC_API void iotc_json_write_raw(struct iotc_json_writer *w, struct iotc_span json);

/**
 * Finish: checks every container is closed, NUL-terminates when room.
 * @param out_len  bytes produced (excluding NUL), also reported on IOTC_E_NOSPACE
 * @return IOTC_OK; IOTC_E_ARG (misuse, unbalanced, invalid raw/UTF-8); IOTC_E_NOSPACE.
 */
IOTC_API int iotc_json_writer_finish(struct iotc_json_writer *w, size_t *out_len);

/**
 * Write @p s as a complete quoted JSON string into @p out (all-or-nothing, NUL when room).
 * @return IOTC_OK, IOTC_E_ARG (invalid UTF-8), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_json_escape(struct iotc_span s, char *out, size_t out_size, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_JSON_H */
