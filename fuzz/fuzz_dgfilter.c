/*
 * fuzz_dgfilter.c - the device group filter (src/central/app/appl_dgfilter.c): any text either
 * compiles or is refused with a message, and a compiled filter matches two fixed devices without
 * reading outside its nodes.
 */
#include <stddef.h>
#include <stdint.h>

#include "central/app/appl_dgfilter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct devfilter f;
    const struct devfilter_device devs[2] = {
        {"device1", "thermostat1", "dtmi:x;1", true, true, false, NULL, 0},
        {"d2", "d2", NULL, false, false, true, NULL, 0},
    };
    char err[256];

    if (dgfilter_parse(&f, (const char *)data, size, err, sizeof err) == 0) {
        if (f.root >= (int)f.n_nodes || f.n_nodes > DEVFILTER_MAX_NODES)
            __builtin_trap();
        (void)devfilter_match(&f, &devs[0]);
        (void)devfilter_match(&f, &devs[1]);
    } else if (err[0] == '\0') {
        __builtin_trap(); /* a refusal always says why */
    }
    return 0;
}
