/*
 * check.h - invariant checks of the server (CENTRAL_ASSERT).
 *
 * Active in debug builds (MODE=debug: no __OPTIMIZE__) and sanitizer builds
 * (SANITIZE=address,...), never with NDEBUG. The release build (-O2, no NDEBUG) compiles them
 * out, so a check costs nothing on the hot paths there; the condition is still type-checked.
 */
#ifndef CENTRAL_CHECK_H
#define CENTRAL_CHECK_H

#include <assert.h>
#include <pthread.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define CENTRAL_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CENTRAL_SANITIZED)
#define CENTRAL_SANITIZED 1
#endif

#if !defined(NDEBUG) && (!defined(__OPTIMIZE__) || defined(CENTRAL_SANITIZED))
#define CENTRAL_CHECKS 1
#define CENTRAL_ASSERT(cond) assert(cond)
#else
#define CENTRAL_CHECKS 0
#define CENTRAL_ASSERT(cond) ((void)sizeof((cond) ? 1 : 0))
#endif

/** The calling thread is @p tid (a pthread_t recorded at start): loop-thread-only functions. */
#define CENTRAL_ASSERT_THREAD(tid) CENTRAL_ASSERT(pthread_equal((tid), pthread_self()))

#endif /* CENTRAL_CHECK_H */
