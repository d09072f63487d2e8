/*
 * fuzz_query.c - the /api/query language parser (src/central/app/appl_query_lang.c): any text
 * either compiles or is refused with a message; a compiled query matches a fixed row.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "central/app/appl_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct aq_query q;
    char err[300];
    if (aq_parse(&q, (const char *)data, size, err, sizeof err) != 0) {
        if (err[0] == '\0')
            __builtin_trap(); /* a refusal always says why */
        return 0;
    }
    if (q.n_items == 0 || q.n_items > AQ_MAX_ITEMS || q.n_refs > AQ_MAX_REFS ||
        q.root >= (int)q.n_nodes)
        __builtin_trap();
    cJSON *v = cJSON_CreateNumber(1);
    struct aq_row row = {.device_id = "d1", .time_ms = 1};
    for (size_t i = 0; i < q.n_refs; i++)
        row.values[i] = v;
    (void)aq_match(&q, &row);
    cJSON_Delete(v);
    return 0;
}
