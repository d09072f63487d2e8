/*
 * backoff.h - exponential backoff with jitter, as a pure function (no clock, no randomness of
 * its own): the caller passes the attempt number and a random 32-bit value, so the schedule is
 * reproducible in tests.
 */
#ifndef IOTC_DEVICE_BACKOFF_H
#define IOTC_DEVICE_BACKOFF_H

#include <stdint.h>

/*
 * Delay before retry number @p attempt (0 = the first retry after a failure).
 * The ceiling grows as base_ms * 2^attempt, capped at max_ms; the delay is drawn from
 * [ceiling/2, ceiling] ("equal jitter"): never below half the ceiling, so retries do not
 * collapse to zero, and spread over the other half so that a fleet restarted together does
 * not reconnect in lock step. base_ms == 0 gives 0. max_ms < base_ms caps at max_ms.
 */
uint32_t iotc__backoff_delay_ms(uint32_t attempt, uint32_t base_ms, uint32_t max_ms,
                                uint32_t random);

#endif
