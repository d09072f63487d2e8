/*
 * opt.c - the shared command-line option parser (see opt.h for the rules and messages).
 */
#include "util/opt.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef IOTC_VERSION
#define IOTC_VERSION "unknown"
#endif

/* Widest option column of the generated help; longer ones put their help on the next line. */
#define HELP_COL_MAX 28

static bool takes_value(const struct opt *o)
{
    return o->kind != OPT_FLAG && o->kind != OPT_COUNT;
}

static bool is_option(const char *a)
{
    /* "-" alone and "-5m" (a negative number, a relative time) are arguments */
    return a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9');
}

static const struct opt *find_long(const struct opt *specs, const char *name, size_t len)
{
    for (const struct opt *o = specs; o->kind != OPT_END; o++) {
        if (o->kind != OPT_HEADING && o->name != NULL && strlen(o->name) == len &&
            strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static const struct opt *find_short(const struct opt *specs, char c)
{
    for (const struct opt *o = specs; o->kind != OPT_END; o++) {
        if (o->kind != OPT_HEADING && o->short_name != 0 && o->short_name == c)
            return o;
    }
    return NULL;
}

void opt_list_free(struct opt_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

__attribute__((format(printf, 2, 0))) static void verror(const struct opt_prog *p, const char *fmt,
                                                         va_list ap)
{
    fprintf(stderr, "%s: ", p->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", p->name);
}

int opt_error(const struct opt_prog *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(p, fmt, ap);
    va_end(ap);
    return OPT_EXIT_USAGE;
}

/* ---------------------------------------------------------------- help and version */

static void left_column(const struct opt *o, char *buf, size_t size)
{
    const char *arg = o->arg;
    if (arg == NULL)
        arg = o->kind == OPT_INT || o->kind == OPT_LONG || o->kind == OPT_NUM ? "N" : "VALUE";
    int n = 0;
    if (o->short_name != 0 && o->name != NULL)
        n = snprintf(buf, size, "-%c, --%s", o->short_name, o->name);
    else if (o->short_name != 0)
        n = snprintf(buf, size, "-%c", o->short_name);
    else
        n = snprintf(buf, size, "--%s", o->name != NULL ? o->name : "");
    if (takes_value(o) && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " %s", arg);
}

static void print_entry(FILE *out, const char *left, const char *help, int col)
{
    int w = fprintf(out, "  %s", left);
    if (w - 2 > col - 2) {
        fputc('\n', out);
        w = 0;
    }
    const char *line = help;
    bool first = true;
    while (line != NULL) {
        const char *nl = strchr(line, '\n');
        int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
        fprintf(out, "%*s%.*s\n", first ? col + 2 - w : col + 2, "", len, line);
        first = false;
        line = nl != NULL && nl[1] != '\0' ? nl + 1 : NULL;
    }
}

void opt_print_help(const struct opt_prog *p, const struct opt *specs, FILE *out)
{
    static const struct opt builtins[] = {
        {"help", 'h', OPT_FLAG, NULL, .help = "this text"},
        {"version", 0, OPT_FLAG, NULL, .help = "print the version"},
        {0},
    };
    const struct opt *tables[2] = {specs, builtins};
    char left[160];
    int col = 0;
    for (int t = 0; t < 2; t++) {
        for (const struct opt *o = tables[t]; o->kind != OPT_END; o++) {
            if (o->kind == OPT_HEADING || o->help == NULL)
                continue;
            left_column(o, left, sizeof left);
            int n = (int)strlen(left);
            if (n > col && n <= HELP_COL_MAX)
                col = n;
        }
    }
    col += 2;
    fprintf(out, "usage: %s%s%s\n", p->name, p->synopsis ? " " : "",
            p->synopsis ? p->synopsis : "");
    if (p->intro != NULL)
        fputs(p->intro, out);
    for (int t = 0; t < 2; t++) {
        for (const struct opt *o = tables[t]; o->kind != OPT_END; o++) {
            if (o->kind == OPT_HEADING) {
                fprintf(out, "%s\n", o->help);
                continue;
            }
            if (o->help == NULL)
                continue;
            left_column(o, left, sizeof left);
            print_entry(out, left, o->help, col);
        }
    }
    if (p->outro != NULL)
        fputs(p->outro, out);
}

static void print_version(const struct opt_prog *p)
{
    size_t n = strcspn(p->name, " ");
    printf("%.*s %s\n", (int)n, p->name, p->version != NULL ? p->version : IOTC_VERSION);
}

int opt_builtin(const struct opt_prog *p, const struct opt *specs, int argc, char **argv)
{
    bool version = false;
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            if (p->help != NULL)
                p->help(p);
            else
                opt_print_help(p, specs, stdout);
            return OPT_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0)
            version = true;
    }
    if (!version)
        return OPT_CONTINUE;
    print_version(p);
    return OPT_EXIT_OK;
}

/* ---------------------------------------------------------------- values */

static const char *range_text(const struct opt *o, long long lo, long long hi, long long top,
                              char *buf, size_t size)
{
    const char *what = o->kind == OPT_NUM ? "a number" : "a whole number";
    if (hi == top)
        snprintf(buf, size, "%s of at least %lld", what, lo);
    else
        snprintf(buf, size, "%s from %lld to %lld", what, lo, hi);
    return buf;
}

/* NULL when stored, else what the value should have been. */
static const char *store(const struct opt *o, const char *v, char *buf, size_t size)
{
    long long lo = o->min, hi = o->max, top = LLONG_MAX;
    if (o->kind == OPT_INT)
        top = INT_MAX;
    else if (o->kind == OPT_LONG)
        top = LONG_MAX;
    if (lo == 0 && hi == 0)
        hi = top;
    switch (o->kind) {
    case OPT_STR:
        *(const char **)o->dest = v;
        return NULL;
    case OPT_LIST: {
        struct opt_list *l = o->dest;
        const char **grown = realloc(l->v, ((size_t)l->n + 1) * sizeof *grown);
        if (grown == NULL)
            return "storable (out of memory)";
        l->v = grown;
        l->v[l->n++] = v;
        return NULL;
    }
    case OPT_INT:
    case OPT_LONG: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (v[0] == '\0' || v[0] == ' ' || *end != '\0' || errno != 0 || n < lo || n > hi)
            return range_text(o, lo, hi, top, buf, size);
        if (o->kind == OPT_INT)
            *(int *)o->dest = (int)n;
        else
            *(long *)o->dest = (long)n;
        return NULL;
    }
    case OPT_NUM: {
        char *end;
        bool ok_start = (v[0] >= '0' && v[0] <= '9') || v[0] == '.' || v[0] == '-' || v[0] == '+';
        errno = 0;
        double d = ok_start ? strtod(v, &end) : 0;
        if (!ok_start || *end != '\0' || errno != 0 || d != d || d < (double)lo ||
            (hi != top && d > (double)hi) || d > 1e15)
            return range_text(o, lo, hi, top, buf, size);
        *(double *)o->dest = d;
        return NULL;
    }
    case OPT_FUNC:
        return o->fn(o->dest, v);
    default:
        return NULL;
    }
}

/* ---------------------------------------------------------------- parsing */

int opt_first_arg(const struct opt *specs, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return i + 1;
        if (!is_option(a))
            return i;
        const struct opt *o = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            if (eq != NULL)
                continue;
            o = find_long(specs, a + 2, strlen(a + 2));
        } else if (a[2] == '\0') {
            o = find_short(specs, a[1]);
        }
        if (o != NULL && takes_value(o))
            i++;
    }
    return argc;
}

/* One option (argv[*i]); may consume the next argument as its value. */
static int one_option(const struct opt_prog *p, const struct opt *specs, int argc, char **argv,
                      int *i)
{
    const char *a = argv[*i];
    char shown[80], why[96];
    if (a[1] == '-') {
        const char *eq = strchr(a, '=');
        size_t len = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
        const struct opt *o = find_long(specs, a + 2, len);
        snprintf(shown, sizeof shown, "--%.*s", (int)len, a + 2);
        if (o == NULL)
            return opt_error(p, "unknown option '%s'", shown);
        const char *v = NULL, *bad;
        if (!takes_value(o)) {
            if (eq != NULL)
                return opt_error(p, "option '%s' takes no value", shown);
        } else if (eq != NULL) {
            v = eq + 1;
        } else if (*i + 1 < argc) {
            v = argv[++*i];
        } else {
            return opt_error(p, "option '%s' needs a value", shown);
        }
        if (o->kind == OPT_FLAG)
            *(bool *)o->dest = true;
        else if (o->kind == OPT_COUNT)
            (*(int *)o->dest)++;
        else if ((bad = store(o, v, why, sizeof why)) != NULL)
            return opt_error(p, "option '%s': '%s' is not %s", shown, v, bad);
        return OPT_CONTINUE;
    }
    /* -x, -xVALUE, -x VALUE, -abc (flags bundled) */
    for (const char *c = a + 1; *c != '\0'; c++) {
        const struct opt *o = find_short(specs, *c);
        snprintf(shown, sizeof shown, "-%c", *c);
        if (o == NULL)
            return opt_error(p, "unknown option '%s'", shown);
        if (o->kind == OPT_FLAG) {
            *(bool *)o->dest = true;
            continue;
        }
        if (o->kind == OPT_COUNT) {
            (*(int *)o->dest)++;
            continue;
        }
        const char *v;
        if (c[1] != '\0')
            v = c + 1;
        else if (*i + 1 < argc)
            v = argv[++*i];
        else
            return opt_error(p, "option '%s' needs a value", shown);
        const char *bad = store(o, v, why, sizeof why);
        if (bad != NULL)
            return opt_error(p, "option '%s': '%s' is not %s", shown, v, bad);
        return OPT_CONTINUE;
    }
    return OPT_CONTINUE;
}

int opt_parse(const struct opt_prog *p, const struct opt *specs, int argc, char **argv,
              int *first_pos)
{
    int rc = opt_builtin(p, specs, argc, argv);
    if (rc != OPT_CONTINUE)
        return rc;
    char **pos = malloc(((size_t)argc + 1) * sizeof *pos);
    if (pos == NULL) {
        fprintf(stderr, "%s: out of memory\n", p->name);
        return OPT_EXIT_FAILED;
    }
    int npos = 0, w = 0;
    bool only_args = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || !is_option(a)) {
            if (first_pos == NULL) {
                free(pos);
                return opt_error(p, "unexpected argument '%s'", a);
            }
            pos[npos++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = true; /* kept with the options: argv keeps its length */
            argv[w++] = argv[i];
            continue;
        }
        int start = i;
        rc = one_option(p, specs, argc, argv, &i);
        if (rc != OPT_CONTINUE) {
            free(pos);
            return rc;
        }
        /* keep the option (and its value) in front, in order; w <= start always */
        for (int k = start; k <= i; k++)
            argv[w++] = argv[k];
    }
    if (first_pos != NULL)
        *first_pos = w;
    for (int k = 0; k < npos; k++)
        argv[w++] = pos[k];
    free(pos);
    return OPT_CONTINUE;
}
