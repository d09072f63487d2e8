/*
 * output.c - how iotc prints what it got: the output format (-o json|table|tsv, --json), JSON
 * as the API sent it, lists as {"value": [...]} with the pages merged, tables for people and
 * tab-separated rows for scripts. Every list and show command prints through here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static enum cli_format format = CLI_FMT_TABLE;

int cli_set_format(struct cli *c)
{
    if (c->opt_output != NULL) {
        if (strcmp(c->opt_output, "json") == 0)
            c->json = true;
        else if (strcmp(c->opt_output, "table") == 0)
            c->json = false;
        else if (strcmp(c->opt_output, "tsv") == 0)
            c->json = false, c->tsv = true;
        else
            return cli_err(c, CLI_USAGE, "option '--output': '%s' is not json, table or tsv",
                           c->opt_output);
    }
    format = c->json ? CLI_FMT_JSON : c->tsv ? CLI_FMT_TSV : CLI_FMT_TABLE;
    return 0;
}

enum cli_format cli_format(void)
{
    return format;
}

void cli_print_list(const cJSON *items)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return;
    /* borrowed: a reference, so the caller keeps its array */
    cJSON_AddItemReferenceToObject(o, "value", (cJSON *)items);
    cli_print_json(o);
    cJSON_Delete(o);
}

void cli_print_tsv_object(const cJSON *o)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, o)
    {
        char *v = cli_value_text(m);
        for (char *p = v; p != NULL && *p != '\0'; p++) {
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        }
        printf("%s\t%s\n", m->string ? m->string : "", v ? v : "-");
        free(v);
    }
}

void cli_print_json(const cJSON *v)
{
    char *s = cJSON_Print(v);
    if (s != NULL) {
        /* cJSON indents with tabs; two spaces read better in a terminal and in files. */
        for (const char *p = s; *p != '\0'; p++) {
            if (*p == '\t')
                fputs("  ", stdout);
            else if (*p == ':' && p[1] == '\t') {
                fputs(": ", stdout);
                p++;
            } else
                fputc(*p, stdout);
        }
        fputc('\n', stdout);
    }
    free(s);
}

char *cli_value_text(const cJSON *v)
{
    if (v == NULL || cJSON_IsNull(v))
        return strdup("-");
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    char *s = cJSON_PrintUnformatted(v);
    return s != NULL ? s : strdup("?");
}

const char *cli_str(const cJSON *o, const char *name, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

void cli_table_init(struct cli_table *t, int ncols, const char *const *head)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols > 12 ? 12 : ncols;
    for (int i = 0; i < t->ncols; i++)
        t->head[i] = head[i];
}

void cli_table_add(struct cli_table *t, const char *const *vals)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **nc = realloc(t->cells, cap * (size_t)t->ncols * sizeof *nc);
        if (nc == NULL)
            return;
        t->cells = nc;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++) {
        const char *v = vals[i] != NULL && vals[i][0] != '\0' ? vals[i] : "-";
        char *s = strdup(v);
        /* one line per row: newlines and tabs in values become spaces */
        for (char *p = s; p != NULL && *p != '\0'; p++) {
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        }
        t->cells[t->rows * (size_t)t->ncols + (size_t)i] = s;
    }
    t->rows++;
}

static size_t shown_len(const char *s, size_t max_width)
{
    size_t n = 0;
    /* count UTF-8 code points so that columns line up */
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p & 0xC0) != 0x80)
            n++;
    }
    return max_width > 0 && n > max_width ? max_width : n;
}

static void put_cell(const char *s, size_t max_width, size_t pad_to, bool last)
{
    size_t n = 0, shown = shown_len(s, max_width);
    bool cut = max_width > 0 && shown == max_width && shown_len(s, 0) > max_width;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p & 0xC0) != 0x80) {
            if (cut && n + 3 >= max_width)
                break;
            n++;
        }
        fputc(*p, stdout);
    }
    if (cut) {
        fputs("...", stdout);
        n += 3;
    }
    if (!last) {
        for (; n < pad_to + 2; n++)
            fputc(' ', stdout);
    }
}

static void free_cells(struct cli_table *t)
{
    for (size_t k = 0; k < t->rows * (size_t)t->ncols; k++)
        free(t->cells[k]);
    free(t->cells);
    t->cells = NULL;
    t->rows = t->cap = 0;
}

void cli_table_print(struct cli_table *t, size_t max_width, const char *none)
{
    if (format == CLI_FMT_TSV) {
        /* for cut and awk: no header, no "(none)" line, values whole ("-" for none) */
        for (size_t r = 0; r < t->rows; r++) {
            for (int i = 0; i < t->ncols; i++)
                printf("%s%s", t->cells[r * (size_t)t->ncols + (size_t)i],
                       i == t->ncols - 1 ? "\n" : "\t");
        }
        free_cells(t);
        return;
    }
    if (t->rows == 0 && none != NULL) {
        printf("%s\n", none);
        return;
    }
    size_t w[12] = {0};
    for (int i = 0; i < t->ncols; i++) {
        w[i] = shown_len(t->head[i], 0);
        for (size_t r = 0; r < t->rows; r++) {
            size_t n = shown_len(t->cells[r * (size_t)t->ncols + (size_t)i], max_width);
            if (n > w[i])
                w[i] = n;
        }
    }
    for (int i = 0; i < t->ncols; i++)
        put_cell(t->head[i], 0, w[i], i == t->ncols - 1);
    fputc('\n', stdout);
    for (size_t r = 0; r < t->rows; r++) {
        for (int i = 0; i < t->ncols; i++)
            put_cell(t->cells[r * (size_t)t->ncols + (size_t)i], max_width, w[i],
                     i == t->ncols - 1);
        fputc('\n', stdout);
    }
    free_cells(t);
}
