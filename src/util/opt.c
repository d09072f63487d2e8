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

void opt_config_free(struct opt_config *c)
{
    free(c->text);
    c->text = NULL;
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
    case OPT_CONFIG:
        ((struct opt_config *)o->dest)->path = v;
        return NULL;
    default:
        return NULL;
    }
}

/* ---------------------------------------------------------------- settings file */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* "true"/"yes"/"1" and "false"/"no"/"0": 1 or 0; anything else -1. */
static int parse_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(v, yes[i]) == 0)
            return 1;
        if (strcmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* One "key = value" line, blanks trimmed and not a comment; @p set marks the keys stored. */
static int config_line(const struct opt_prog *p, const struct opt *specs, const char *file,
                       int line, char *b, bool *set)
{
    char *eq = strchr(b, '=');
    if (eq == NULL)
        return opt_error(p, "%s:%d: expected 'key = value', not '%.60s'", file, line, b);
    char *k_end = eq;
    while (k_end > b && is_blank(k_end[-1]))
        k_end--;
    *k_end = '\0';
    char *v = eq + 1;
    while (is_blank(*v))
        v++;
    if (*b == '\0')
        return opt_error(p, "%s:%d: no key before '='", file, line);
    const struct opt *o = find_long(specs, b, strlen(b));
    if (o == NULL)
        return opt_error(p, "%s:%d: unknown key '%.60s'", file, line, b);
    if (o->kind == OPT_CONFIG)
        return opt_error(p, "%s:%d: key '%s' is for the command line only", file, line, b);
    if (*v == '\0')
        return opt_error(p, "%s:%d: key '%s' needs a value", file, line, b);
    char why[96];
    const char *bad = NULL;
    if (o->kind == OPT_FLAG) {
        int yes = parse_bool(v);
        if (yes < 0)
            bad = "one of true, false, yes, no, 1, 0";
        else
            *(bool *)o->dest = yes == 1;
    } else if (o->kind == OPT_COUNT) {
        const struct opt count = {o->name, 0, OPT_INT, o->dest, 0, 0, .help = NULL};
        bad = store(&count, v, why, sizeof why);
    } else {
        bad = store(o, v, why, sizeof why);
    }
    if (bad != NULL)
        return opt_error(p, "%s:%d: key '%s': '%.60s' is not %s", file, line, b, v, bad);
    if (set != NULL)
        set[o - specs] = true;
    return OPT_CONTINUE;
}

static int apply_config(const struct opt_prog *p, const struct opt *specs, const char *file,
                        char *text, bool *set)
{
    int line = 0;
    for (char *s = text; s != NULL;) {
        line++;
        char *nl = strchr(s, '\n');
        if (nl != NULL)
            *nl = '\0';
        char *next = nl != NULL ? nl + 1 : NULL;
        while (is_blank(*s))
            s++;
        char *e = s + strlen(s);
        while (e > s && is_blank(e[-1]))
            *--e = '\0';
        if (*s != '\0' && *s != '#') {
            int rc = config_line(p, specs, file, line, s, set);
            if (rc != OPT_CONTINUE)
                return rc;
        }
        s = next;
    }
    return OPT_CONTINUE;
}

int opt_apply_config(const struct opt_prog *p, const struct opt *specs, const char *file,
                     char *text)
{
    return apply_config(p, specs, file, text, NULL);
}

/* Settings files are a few hundred bytes; anything this big is not one. */
#define CONFIG_MAX (1024 * 1024)

/* The whole of @p path as a string, or NULL after printing why. */
static char *read_config(const struct opt_prog *p, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        opt_error(p, "cannot read config file '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(CONFIG_MAX + 1);
    size_t n = text != NULL ? fread(text, 1, CONFIG_MAX + 1, f) : 0;
    int err = ferror(f) ? errno : 0;
    fclose(f);
    const char *why = NULL;
    if (text == NULL)
        why = "out of memory";
    else if (err != 0)
        why = strerror(err);
    else if (n > CONFIG_MAX)
        why = "larger than 1 MiB";
    else if (memchr(text, '\0', n) != NULL)
        why = "not a text file (a NUL byte)";
    if (why != NULL) {
        opt_error(p, "cannot read config file '%s': %s", path, why);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* ---------------------------------------------------------------- parsing */

/*
 * Without storing anything: which options @p argv gives (present[k] for specs[k]) and the
 * OPT_CONFIG option among them (the last one). Mistakes are left to the real parse.
 */
static const struct opt *prescan(const struct opt *specs, int argc, char **argv, bool *present,
                                 const char **config_path)
{
    const struct opt *config = NULL;
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i];
        if (!is_option(a))
            continue;
        const struct opt *o = NULL;
        const char *v = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            o = find_long(specs, a + 2, eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2));
            if (o != NULL && takes_value(o))
                v = eq != NULL ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        } else {
            for (const char *c = a + 1; *c != '\0'; c++) {
                o = find_short(specs, *c);
                if (o == NULL)
                    break;
                present[o - specs] = true;
                if (takes_value(o)) {
                    v = c[1] != '\0' ? c + 1 : i + 1 < argc ? argv[++i] : NULL;
                    break;
                }
            }
        }
        if (o == NULL)
            continue;
        present[o - specs] = true;
        if (o->kind == OPT_CONFIG && v != NULL) {
            config = o;
            *config_path = v;
        }
    }
    return config;
}

/*
 * The settings file named on the command line, applied through @p specs; the OPT_LIST and
 * OPT_COUNT options the command line gives again start from empty.
 */
static int config_first(const struct opt_prog *p, const struct opt *specs, int argc, char **argv)
{
    size_t n = 0;
    bool has_config = false;
    for (const struct opt *o = specs; o->kind != OPT_END; o++, n++)
        has_config |= o->kind == OPT_CONFIG;
    if (!has_config)
        return OPT_CONTINUE;
    bool *present = calloc(n * 2 + 1, sizeof *present);
    if (present == NULL) {
        fprintf(stderr, "%s: out of memory\n", p->name);
        return OPT_EXIT_FAILED;
    }
    bool *set = present + n;
    const char *path = NULL;
    const struct opt *co = prescan(specs, argc, argv, present, &path);
    int rc = OPT_CONTINUE;
    if (co != NULL) {
        struct opt_config *c = co->dest;
        free(c->text);
        c->path = path;
        c->text = read_config(p, path);
        rc = c->text == NULL ? OPT_EXIT_USAGE : apply_config(p, specs, path, c->text, set);
    }
    for (size_t k = 0; rc == OPT_CONTINUE && k < n; k++) {
        if (!present[k] || !set[k])
            continue;
        if (specs[k].kind == OPT_LIST)
            opt_list_free(specs[k].dest);
        else if (specs[k].kind == OPT_COUNT)
            *(int *)specs[k].dest = 0;
    }
    free(present);
    return rc;
}

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
    if (rc == OPT_CONTINUE)
        rc = config_first(p, specs, argc, argv);
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
