/*
 * fuzz_dtdl.c - arbitrary bytes through the device-template importer; on success, through the
 * JSON rendering, lookups and the value checker with a few fixed values.
 */
#include <stdint.h>
#include <stdlib.h>

#include "dtdl/dtdl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const values[] = {"1",
                                         "-2.5",
                                         "\"x\"",
                                         "true",
                                         "null",
                                         "[1,[2]]",
                                         "{\"a\":{\"b\":1}}",
                                         "\"2021-03-24T12:55:20Z\""};
    struct dtdl_model *m = NULL;
    struct dtdl_error err;
    if (dtdl_import((const char *)data, size, &m, &err) != 0)
        return 0;
    cJSON *j = dtdl_to_json(m);
    cJSON_Delete(j);
    for (size_t i = 0; i < m->n_caps; i++) {
        const struct dtdl_capability *c = &m->caps[i];
        if (dtdl_find(m, c->component, c->name) == NULL)
            abort(); /* every capability must be found by its own name */
        const struct dtdl_schema *s = c->schema    ? c->schema
                                      : c->request ? c->request->schema
                                                   : NULL;
        for (size_t v = 0; s != NULL && v < sizeof values / sizeof values[0]; v++) {
            cJSON *val = cJSON_Parse(values[v]);
            char why[128];
            dtdl_check_value(s, val, why, sizeof why);
            cJSON_Delete(val);
        }
    }
    dtdl_model_free(m);
    return 0;
}
