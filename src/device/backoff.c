/* backoff.c - see backoff.h. */
#include "device/backoff.h"

uint32_t iotc__backoff_delay_ms(uint32_t attempt, uint32_t base_ms, uint32_t max_ms,
                                uint32_t random)
{
    uint64_t ceiling = base_ms;
    uint32_t i;

    if (base_ms == 0 || max_ms == 0)
        return 0;
    /* Doubling stops as soon as the cap is reached, so large attempts cannot overflow. */
    for (i = 0; i < attempt && ceiling < max_ms; i++)
        ceiling *= 2;
    if (ceiling > max_ms)
        ceiling = max_ms;

    uint64_t half = ceiling / 2;
    uint64_t span = ceiling - half; /* the jittered part, [0, span] */
    return (uint32_t)(half + (uint64_t)random % (span + 1));
}
