/*
 * stats.c - `iotc stats`: the server's per-stage counters of the device-to-cloud path
 * (GET /api/stats, administrators; docs/OPERATIONS.md#counters), one "group.name value" row each.
 */
#include <stdio.h>

#include "cli/cli.h"

int cmd_stats(struct cli *c, int argc, char **argv)
{
    struct cli_args args = {.min = 0, .max = 0, .usage = "no arguments"};
    int rc = cli_parse(c, argc, argv, NULL, &args);
    if (rc == 0)
        rc = cli_setup(c);
    cJSON *r = NULL;
    if (rc == 0)
        rc = cli_show(c, "/api/stats", "the server's counters", &r);
    if (rc != 0 || r == NULL)
        return rc;
    if (cli_format() == CLI_FMT_TSV) {
        cli_print_tsv_object(r);
        cJSON_Delete(r);
        return 0;
    }
    static const char *const head[] = {"COUNTER", "VALUE"};
    struct cli_table t;
    cli_table_init(&t, 2, head);
    const cJSON *g, *v;
    cJSON_ArrayForEach(g, r)
    {
        cJSON_ArrayForEach(v, g)
        {
            char name[128], value[64];
            snprintf(name, sizeof name, "%s.%s", g->string, v->string);
            if (v->valuedouble == (double)(long long)v->valuedouble)
                snprintf(value, sizeof value, "%.0f", v->valuedouble);
            else
                snprintf(value, sizeof value, "%.3f", v->valuedouble);
            const char *row[] = {name, value};
            cli_table_add(&t, row);
        }
    }
    cli_table_print(&t, 80, NULL);
    cJSON_Delete(r);
    return 0;
}
