/*
 * iotc/common.h - result codes, spans and export macros shared by every iotc header.
 *
 * The protocol core (iotc/proto/...) never allocates, never does I/O and never reads
 * the clock: time is always an argument. Every fallible function returns an int that is
 * IOTC_OK (0) or one of the negative enum iotc_result codes below.
 */
#ifndef IOTC_COMMON_H
#define IOTC_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define IOTC_API __attribute__((visibility("default")))
#define IOTC_NODISCARD __attribute__((warn_unused_result))
#else
#define IOTC_API
#define IOTC_NODISCARD
#endif

/** Result codes. 0 is success; every error is negative. */
enum iotc_result {
    IOTC_OK = 0,
    IOTC_E_AGAIN =
        -1, /**< need more bytes (incremental decoders only); not an error in the input */
    IOTC_E_MALFORMED = -2, /**< the input violates the format */
    IOTC_E_NOSPACE = -3,   /**< the output buffer is too small; nothing useful was written */
    IOTC_E_STATE = -4,     /**< call made in the wrong state, or a programmer error */
    IOTC_E_IO = -5,        /**< an I/O operation failed (I/O shells only) */
    IOTC_E_AUTH = -6,      /**< a signature or credential did not verify */
    IOTC_E_EXPIRED = -7,   /**< a token's expiry is at or before the given time */
    IOTC_E_ARG = -8,       /**< an argument is out of its documented range */
    IOTC_E_NOTFOUND = -9,  /**< a looked-for field, key or entry is absent */
    IOTC_E_NOMEM = -10,    /**< allocation failed (I/O shells only) */
    IOTC_E_TIMEOUT = -11,  /**< an operation did not complete in time (I/O shells only) */
    IOTC_E_CRYPTO = -12,   /**< the crypto library reported a failure */
    IOTC_E_TOOBIG = -13,   /**< the input exceeds a documented size limit */
    IOTC_E_REFUSED = -14,  /**< the peer refused (e.g. CONNACK not accepted, DPS failed) */
};

/** A borrowed, read-only view of bytes; not NUL-terminated unless stated. */
struct iotc_span {
    const char *ptr;
    size_t len;
};

#define IOTC_SPAN_LIT(s) ((struct iotc_span){(s), sizeof(s) - 1})
#define IOTC_SPAN_NULL ((struct iotc_span){NULL, 0})

/** Short English text for a result code; never NULL, static storage. */
IOTC_API const char *iotc_strerror(int result);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_COMMON_H */
