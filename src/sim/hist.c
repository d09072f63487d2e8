/*
 * hist.c - log-linear latency histogram (microseconds): exact below 64 us, then 64 buckets per
 * power of two (about 1.5 % resolution), so percentiles need no stored samples.
 */
#include <math.h>

#include "sim/sim.h"

/* Bucket layout: values below 64 us are exact; above, 64 sub-buckets per power of two. */
static size_t hist_index(uint64_t v)
{
    if (v < SIM_HIST_SUB)
        return (size_t)v;
    int p = 63 - __builtin_clzll(v);
    size_t idx = (size_t)(p - 5) * SIM_HIST_SUB + (size_t)((v >> (p - 6)) - SIM_HIST_SUB);
    size_t max = SIM_HIST_POW * SIM_HIST_SUB - 1;
    return idx > max ? max : idx;
}

static uint64_t hist_value(size_t idx)
{
    if (idx < SIM_HIST_SUB)
        return idx;
    int p = (int)(idx / SIM_HIST_SUB) + 5;
    uint64_t sub = idx % SIM_HIST_SUB;
    uint64_t lo = (SIM_HIST_SUB + sub) << (p - 6);
    return lo + ((1ull << (p - 6)) >> 1);
}

void hist_add(struct sim_hist *h, uint64_t us)
{
    if (h->count == 0 || us < h->min)
        h->min = us;
    if (us > h->max)
        h->max = us;
    h->count++;
    h->sum += us;
    h->b[hist_index(us)]++;
}

uint64_t hist_percentile(const struct sim_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    uint64_t target = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (target == 0)
        target = 1;
    uint64_t acc = 0;
    for (size_t i = 0; i < SIM_HIST_POW * SIM_HIST_SUB; i++) {
        acc += h->b[i];
        if (acc >= target) {
            /* The top sample is known exactly; the last bucket also holds everything larger. */
            if (target == h->count || i == SIM_HIST_POW * SIM_HIST_SUB - 1)
                return h->max;
            uint64_t v = hist_value(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}
