/*
 * test_cli_az_table.c - docs/CLI.md's table from `az iot central` commands to `iotc` ones says
 * only what is true: every `iotc` command it names exists (`iotc GROUP VERB --help` exits 0 and
 * prints that command's usage), and every row names an iotc command or says "not yet".
 *
 * A cell names commands in backquotes: "devices update ID [--name N]" (the command is the
 * leading lower-case words), a short form after a slash ("`devices block` / `unblock`") is the
 * command before it with its last word replaced; options alone ("`--command`") are not commands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>

#include "cli_util.h"

static char *read_cli_md(void)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/docs/CLI.md", cu_repo());
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf != NULL ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The leading command words of a backquoted span (lower-case words; at most 3). */
static int command_words(const char *s, size_t len, char words[3][40])
{
    int n = 0;
    size_t i = 0;
    while (n < 3 && i < len) {
        size_t k = i;
        while (k < len && (islower((unsigned char)s[k]) || s[k] == '-'))
            k++;
        if (k == i || (k < len && s[k] != ' ') || s[i] == '-' || k - i >= 40)
            break;
        snprintf(words[n++], 40, "%.*s", (int)(k - i), s + i);
        i = k + 1;
    }
    return n;
}

/* `iotc W... --help` exits 0 and prints "usage: iotc W...". */
static bool command_exists(char words[3][40], int n)
{
    struct cu_out o;
    char want[160];
    snprintf(want, sizeof want, "usage: iotc %s%s%s%s%s", words[0], n > 1 ? " " : "",
             n > 1 ? words[1] : "", n > 2 ? " " : "", n > 2 ? words[2] : "");
    if (n == 1)
        cu_iotc(&o, words[0], "--help", NULL);
    else if (n == 2)
        cu_iotc(&o, words[0], words[1], "--help", NULL);
    else
        cu_iotc(&o, words[0], words[1], words[2], "--help", NULL);
    bool ok = o.rc == 0 && o.out != NULL && strstr(o.out, want) != NULL;
    if (!ok && n == 3 && o.rc == 0 && o.out != NULL) {
        /* one usage line for a nested group: "usage: iotc G S set ... | verify-code ..." */
        char head[120], verb[48];
        snprintf(head, sizeof head, "usage: iotc %s %s ", words[0], words[1]);
        snprintf(verb, sizeof verb, " %s ", words[2]);
        const char *line = strstr(o.out, head);
        const char *eol = line != NULL ? strstr(line, "\n\n") : NULL; /* the usage block */
        const char *at = line != NULL ? strstr(line + strlen(head) - 1, verb) : NULL;
        ok = at != NULL && (eol == NULL || at < eol);
    }
    cu_free(&o);
    return ok;
}

static void test_az_table(void **state)
{
    (void)state;
    unsetenv("IOTC_SERVER");
    char *doc = read_cli_md();
    assert_non_null(doc);
    const char *start = strstr(doc, "\n## From `az iot central` to `iotc`");
    assert_non_null(start);
    const char *end = strstr(start + 1, "\n## ");
    assert_non_null(end);
    int rows = 0, checked = 0;
    for (const char *line = start + 1; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl != NULL ? nl : end;
        if (strncmp(line, "| `", 3) == 0 && strncmp(line, "| `az iot central", 16) != 0) {
            char row[2048];
            snprintf(row, sizeof row, "%.*s", (int)(le - line), line);
            /* the second cell: after the first '|' outside backquotes */
            const char *cell = NULL;
            bool quoted = false;
            for (const char *p = row + 1; *p != '\0' && cell == NULL; p++) {
                if (*p == '`')
                    quoted = !quoted;
                else if (*p == '|' && !quoted && p[-1] != '\\')
                    cell = p + 1;
            }
            assert_non_null(cell);
            char prev[3][40];
            int prevn = 0, named = 0;
            for (const char *p = cell; (p = strchr(p, '`')) != NULL;) {
                const char *q = strchr(p + 1, '`');
                assert_non_null(q);
                char words[3][40];
                int n = command_words(p + 1, (size_t)(q - p - 1), words);
                p = q + 1;
                if (n == 0)
                    continue; /* an option or a placeholder */
                if (!command_exists(words, n) && prevn > 1 && n + prevn - 1 <= 3) {
                    /* a short form: the command before it with its last word replaced */
                    memmove(words[prevn - 1], words[0], sizeof words[0] * (size_t)n);
                    memcpy(words[0], prev[0], sizeof words[0] * (size_t)(prevn - 1));
                    n += prevn - 1;
                }
                if (!command_exists(words, n))
                    fail_msg("docs/CLI.md names `iotc %s %s %s`, which does not exist (%s)",
                             words[0], n > 1 ? words[1] : "", n > 2 ? words[2] : "", row);
                memcpy(prev, words, sizeof prev);
                prevn = n;
                named++;
                checked++;
            }
            if (named == 0 && strstr(cell, "not yet") == NULL)
                fail_msg("docs/CLI.md: a row with no iotc command and no \"not yet\": %s", row);
            rows++;
        }
        line = le + 1;
    }
    free(doc);
    fprintf(stderr, "az table: %d rows, %d iotc commands checked\n", rows, checked);
    assert_true(rows >= 30);
    assert_true(checked >= 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_az_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
