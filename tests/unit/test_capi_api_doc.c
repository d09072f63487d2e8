/*
 * test_capi_api_doc.c - docs/API.md's endpoint table against the server's route table
 * (capi_site, api/capi_router.c): every route, with each of its methods, is in the table, and
 * every row of the table says "as IoT Central" or "iotc's own".
 *
 * The table's first cell lists endpoints in backquotes: "PUT/GET /api/jobs/{id}", an optional
 * part in brackets ("[/components/{c}]"), and short forms that end a path: "GET .../history"
 * or "/conformance" (which takes the methods of the entry before it in the row).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi.h"
#include "central/http/http_server.h"

#define MAX_ENTRIES 200

struct entry {
    unsigned methods;
    bool suffix;    /* a short form: matches the end of a path */
    char path[256]; /* normalised: brackets dropped, every {name} as {} */
};

static struct entry entries[MAX_ENTRIES];
static size_t n_entries;

static char *read_doc(void)
{
    FILE *f = fopen("docs/API.md", "rb");
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

/* Drop [optional] parts and the query, and write every {name} as {}. */
static void normalise(const char *in, size_t len, char *out, size_t size)
{
    size_t o = 0;
    int bracket = 0;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        char ch = in[i];
        if (ch == '?' && bracket == 0)
            break;
        if (ch == '[') {
            bracket++;
            continue;
        }
        if (ch == ']') {
            bracket--;
            continue;
        }
        if (bracket > 0)
            continue;
        if (ch == '{') {
            while (i < len && in[i] != '}')
                i++;
            out[o++] = '{';
            if (o + 1 < size)
                out[o++] = '}';
            continue;
        }
        out[o++] = ch;
    }
    out[o] = '\0';
}

static unsigned method_bit(const char *m, size_t len)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"GET", HTTP_GET},
                 {"PUT", HTTP_PUT},
                 {"POST", HTTP_POST},
                 {"DELETE", HTTP_DELETE},
                 {"PATCH", HTTP_PATCH}};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strlen(names[k].name) == len && memcmp(names[k].name, m, len) == 0)
            return names[k].bit;
    }
    return 0;
}

/* One backquoted endpoint: "VERB[/VERB...] path" or a path alone (methods of @p prev). */
static void add_entry(const char *s, size_t len, unsigned prev)
{
    assert_true(n_entries < MAX_ENTRIES);
    struct entry *e = &entries[n_entries++];
    const char *sp = memchr(s, ' ', len);
    e->methods = prev;
    if (sp != NULL && s[0] != '/' && s[0] != '.') {
        unsigned m = 0;
        for (const char *p = s; p < sp;) {
            const char *slash = memchr(p, '/', (size_t)(sp - p));
            const char *end = slash != NULL ? slash : sp;
            unsigned bit = method_bit(p, (size_t)(end - p));
            if (bit == 0)
                fail_msg("docs/API.md: '%.*s' is not a method in `%.*s`", (int)(end - p), p,
                         (int)len, s);
            m |= bit;
            p = end + (slash != NULL);
        }
        e->methods = m;
        len -= (size_t)(sp + 1 - s);
        s = sp + 1;
    }
    if (len >= 3 && memcmp(s, "...", 3) == 0) {
        s += 3;
        len -= 3;
        e->suffix = true;
    }
    e->suffix = e->suffix || (len > 0 && s[0] == '/' && (len < 5 || memcmp(s, "/api/", 5) != 0));
    normalise(s, len, e->path, sizeof e->path);
}

/* Parse the rows between "## Endpoints" and the next "## ". */
static void parse_table(const char *doc)
{
    const char *start = strstr(doc, "\n## Endpoints");
    assert_non_null(start);
    const char *end = strstr(start + 1, "\n## ");
    assert_non_null(end);
    size_t rows = 0;
    for (const char *line = start + 1; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl != NULL ? nl : end;
        if (le - line > 3 && line[0] == '|' && strncmp(line, "| `", 3) == 0) {
            char row[2048];
            snprintf(row, sizeof row, "%.*s", (int)(le - line), line);
            /* the first cell ends at the first '|' outside backquotes (a path may hold "\\|") */
            const char *cell2 = NULL;
            bool quoted = false;
            for (const char *p = row + 1; *p != '\0' && cell2 == NULL; p++) {
                if (*p == '`')
                    quoted = !quoted;
                else if (*p == '|' && !quoted)
                    cell2 = p;
            }
            assert_non_null(cell2);
            if (strstr(cell2, "as IoT Central") == NULL && strstr(cell2, "iotc's own") == NULL)
                fail_msg("docs/API.md: row without \"as IoT Central\" or \"iotc's own\": %s", row);
            unsigned prev = 0;
            for (const char *p = row; p < cell2;) {
                const char *q = strchr(p, '`');
                if (q == NULL || q > cell2)
                    break;
                const char *r = strchr(q + 1, '`');
                assert_non_null(r);
                add_entry(q + 1, (size_t)(r - q - 1), prev);
                prev = entries[n_entries - 1].methods;
                p = r + 1;
            }
            rows++;
        }
        line = le + 1;
    }
    assert_true(rows >= 10);
}

/* A route's path as the table writes it: the component part is the table's [optional] part. */
static void route_key(const char *path, char *out, size_t size)
{
    char tmp[512];
    const char *comp = strstr(path, "/components/{component}");
    if (comp != NULL)
        snprintf(tmp, sizeof tmp, "%.*s%s", (int)(comp - path), path,
                 comp + strlen("/components/{component}"));
    else
        snprintf(tmp, sizeof tmp, "%s", path);
    normalise(tmp, strlen(tmp), out, size);
}

static bool documented(const char *key, unsigned method)
{
    size_t klen = strlen(key);
    for (size_t k = 0; k < n_entries; k++) {
        const struct entry *e = &entries[k];
        size_t plen = strlen(e->path);
        bool match = e->suffix ? plen <= klen && strcmp(key + klen - plen, e->path) == 0
                               : strcmp(key, e->path) == 0;
        if (match && (e->methods & method) != 0)
            return true;
    }
    return false;
}

static void test_every_route_documented(void **state)
{
    (void)state;
    char *doc = read_doc();
    assert_non_null(doc); /* run from the repository root */
    parse_table(doc);
    free(doc);
    size_t checked = 0;
    for (size_t i = 0; i < capi_site.n_routes; i++) {
        const struct http_route *r = &capi_site.routes[i];
        char key[512];
        route_key(r->path, key, sizeof key);
        for (unsigned bit = 1; bit <= HTTP_PATCH; bit <<= 1) {
            if ((r->methods & bit) == 0)
                continue;
            if (!documented(key, bit))
                fail_msg("docs/API.md's endpoint table lacks method %#x of %s", bit, r->path);
            checked++;
        }
    }
    assert_true(checked >= 50);
}

/* The checker itself: a route missing from a table is found. */
static void test_checker_finds_a_gap(void **state)
{
    (void)state;
    n_entries = 0;
    parse_table("\n## Endpoints\n| `GET/PUT /api/jobs/{id}`, `/devices` | as IoT Central |\n"
                "| `GET /api/a` | iotc's own |\n| `GET /api/b` | iotc's own |\n"
                "| `GET /api/c` | iotc's own |\n| `GET /api/d` | iotc's own |\n"
                "| `GET /api/e` | iotc's own |\n| `GET /api/f` | iotc's own |\n"
                "| `GET /api/g` | iotc's own |\n| `GET /api/h` | iotc's own |\n"
                "| `POST .../stop` | iotc's own |\n## Next\n");
    assert_true(documented("/api/jobs/{}", HTTP_PUT));
    assert_false(documented("/api/jobs/{}", HTTP_DELETE));
    assert_true(documented("/api/jobs/{}/devices", HTTP_GET));
    assert_true(documented("/api/jobs/{}/stop", HTTP_POST));
    assert_false(documented("/api/jobs/{}/resume", HTTP_POST));
    char key[128];
    route_key("/api/devices/{id}/components/{component}/properties", key, sizeof key);
    assert_string_equal(key, "/api/devices/{}/properties");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_documented),
        cmocka_unit_test(test_checker_finds_a_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
