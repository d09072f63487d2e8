/* Backoff schedule of the device client: a pure function of attempt, bounds and a random input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "device/backoff.h"

struct row {
    uint32_t attempt, base, max, rnd;
    uint32_t want;
};

static const struct row rows[] = {
    /* ceiling = base * 2^attempt capped at max; delay = ceiling/2 + rnd % (ceiling - ceiling/2 + 1)
     */
    {0, 1000, 60000, 0, 500},
    {0, 1000, 60000, 500, 1000},
    {0, 1000, 60000, 501, 500},
    {1, 1000, 60000, 0, 1000},
    {1, 1000, 60000, 1000, 2000},
    {2, 1000, 60000, 7, 2007},
    {5, 1000, 60000, 0, 16000},
    {6, 1000, 60000, 0, 30000}, /* 64000 capped to 60000 */
    {6, 1000, 60000, 30000, 60000},
    {31, 1000, 60000, 12345, 42345},
    {0xffffffffu, 1000, 60000, 0xffffffffu, 30000 + (uint32_t)(0xffffffffu % 30001u)},
    {0, 0, 60000, 99, 0}, /* base 0: no delay */
    {3, 100, 50, 0, 25},  /* max below base: capped */
    {0, 1, 10, 1, 1},     /* ceiling 1: half 0, span 1 */
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        uint32_t got = iotc__backoff_delay_ms(r->attempt, r->base, r->max, r->rnd);
        if (got != r->want)
            fail_msg("row %zu: got %u want %u", i, got, r->want);
    }
}

/* Over every random input the delay stays in [ceiling/2, ceiling] and never exceeds max. */
static void test_bounds(void **state)
{
    (void)state;
    uint32_t x = 12345;
    for (uint32_t attempt = 0; attempt < 40; attempt++) {
        uint64_t ceiling = 250;
        for (uint32_t i = 0; i < attempt && ceiling < 30000; i++)
            ceiling *= 2;
        if (ceiling > 30000)
            ceiling = 30000;
        for (int k = 0; k < 200; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            uint32_t d = iotc__backoff_delay_ms(attempt, 250, 30000, x);
            assert_true(d >= ceiling / 2);
            assert_true(d <= ceiling);
        }
    }
}

/* Jitter actually spreads: different random inputs give different delays. */
static void test_spread(void **state)
{
    (void)state;
    uint32_t a = iotc__backoff_delay_ms(4, 1000, 60000, 1);
    uint32_t b = iotc__backoff_delay_ms(4, 1000, 60000, 4000);
    assert_int_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
