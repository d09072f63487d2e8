/*
 * expr.c - tiny arithmetic expressions for simulated telemetry values, e.g.
 *     temperature=21 + 4*sin(t/30 + i) + rand()
 * Numbers, the variables t (seconds since start), i (device index), n (message number) and pi,
 * + - * / % ^, parentheses, and sin cos tan abs floor ceil round sqrt exp log min max rand().
 * Parsed once into a tree, evaluated per message.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

enum op {
    OP_NUM,
    OP_T,
    OP_I,
    OP_N,
    OP_NEG,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_POW,
    OP_FN1,
    OP_FN2,
    OP_RAND,
};

struct sim_expr {
    enum op op;
    double v;
    double (*fn1)(double);
    double (*fn2)(double, double);
    struct sim_expr *a, *b;
};

struct parser {
    const char *p;
    char *err;
    size_t errcap;
    bool failed;
};

static struct sim_expr *parse_expr(struct parser *ps);

static void parse_error(struct parser *ps, const char *msg)
{
    if (!ps->failed)
        snprintf(ps->err, ps->errcap, "%s at \"%.20s\"", msg, ps->p);
    ps->failed = true;
}

static void skip_ws(struct parser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static struct sim_expr *node(struct parser *ps, enum op op, struct sim_expr *a, struct sim_expr *b)
{
    struct sim_expr *e = calloc(1, sizeof *e);
    if (e == NULL) {
        parse_error(ps, "out of memory");
        expr_free(a);
        expr_free(b);
        return NULL;
    }
    e->op = op;
    e->a = a;
    e->b = b;
    return e;
}

static double fmin_(double a, double b)
{
    return a < b ? a : b;
}

static double fmax_(double a, double b)
{
    return a > b ? a : b;
}

static const struct {
    const char *name;
    double (*fn1)(double);
    double (*fn2)(double, double);
} functions[] = {
    {"sin", sin, NULL},     {"cos", cos, NULL},   {"tan", tan, NULL},     {"abs", fabs, NULL},
    {"floor", floor, NULL}, {"ceil", ceil, NULL}, {"round", round, NULL}, {"sqrt", sqrt, NULL},
    {"exp", exp, NULL},     {"log", log, NULL},   {"min", NULL, fmin_},   {"max", NULL, fmax_},
};

static struct sim_expr *parse_call(struct parser *ps, const char *name, size_t len)
{
    struct sim_expr *e, *a = NULL, *b = NULL;
    ps->p++; /* '(' */
    if (len == 4 && memcmp(name, "rand", 4) == 0) {
        skip_ws(ps);
        if (*ps->p != ')') {
            parse_error(ps, "rand() takes no argument");
            return NULL;
        }
        ps->p++;
        return node(ps, OP_RAND, NULL, NULL);
    }
    for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++) {
        if (strlen(functions[k].name) != len || memcmp(functions[k].name, name, len) != 0)
            continue;
        a = parse_expr(ps);
        if (a == NULL)
            return NULL;
        skip_ws(ps);
        if (functions[k].fn2 != NULL) {
            if (*ps->p != ',') {
                expr_free(a);
                parse_error(ps, "expected ','");
                return NULL;
            }
            ps->p++;
            b = parse_expr(ps);
            if (b == NULL) {
                expr_free(a);
                return NULL;
            }
            skip_ws(ps);
        }
        if (*ps->p != ')') {
            expr_free(a);
            expr_free(b);
            parse_error(ps, "expected ')'");
            return NULL;
        }
        ps->p++;
        e = node(ps, b != NULL ? OP_FN2 : OP_FN1, a, b);
        if (e != NULL) {
            e->fn1 = functions[k].fn1;
            e->fn2 = functions[k].fn2;
        }
        return e;
    }
    parse_error(ps, "unknown function");
    return NULL;
}

static struct sim_expr *parse_primary(struct parser *ps)
{
    skip_ws(ps);
    const char *start = ps->p;
    if (isdigit((unsigned char)*start) || *start == '.') {
        char *end;
        double v = strtod(start, &end);
        if (end == start) {
            parse_error(ps, "bad number");
            return NULL;
        }
        ps->p = end;
        struct sim_expr *e = node(ps, OP_NUM, NULL, NULL);
        if (e != NULL)
            e->v = v;
        return e;
    }
    if (isalpha((unsigned char)*start)) {
        while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
            ps->p++;
        size_t len = (size_t)(ps->p - start);
        skip_ws(ps);
        if (*ps->p == '(')
            return parse_call(ps, start, len);
        if (len == 1 && (*start == 't' || *start == 'i' || *start == 'n'))
            return node(ps, *start == 't' ? OP_T : *start == 'i' ? OP_I : OP_N, NULL, NULL);
        if (len == 2 && memcmp(start, "pi", 2) == 0) {
            struct sim_expr *e = node(ps, OP_NUM, NULL, NULL);
            if (e != NULL)
                e->v = M_PI;
            return e;
        }
        ps->p = start;
        parse_error(ps, "unknown name");
        return NULL;
    }
    if (*start == '(') {
        ps->p++;
        struct sim_expr *e = parse_expr(ps);
        skip_ws(ps);
        if (e != NULL && *ps->p != ')') {
            expr_free(e);
            parse_error(ps, "expected ')'");
            return NULL;
        }
        if (e != NULL)
            ps->p++;
        return e;
    }
    parse_error(ps, "expected a value");
    return NULL;
}

/* a OP b once b parsed: no b (an error) frees a. */
static struct sim_expr *join(struct parser *ps, enum op op, struct sim_expr *a, struct sim_expr *b)
{
    if (b == NULL) {
        expr_free(a);
        return NULL;
    }
    return node(ps, op, a, b);
}

static struct sim_expr *parse_unary(struct parser *ps)
{
    skip_ws(ps);
    if (*ps->p == '-') {
        ps->p++;
        struct sim_expr *a = parse_unary(ps);
        return a != NULL ? node(ps, OP_NEG, a, NULL) : NULL;
    }
    if (*ps->p == '+')
        ps->p++;
    struct sim_expr *a = parse_primary(ps);
    skip_ws(ps);
    if (a != NULL && *ps->p == '^') {
        ps->p++;
        return join(ps, OP_POW, a, parse_unary(ps));
    }
    return a;
}

/* The left-associative binary operators, loosest first: level k's sym[j] makes op[j]. */
static const struct {
    const char *sym;
    enum op op[3];
} levels[] = {
    {"+-", {OP_ADD, OP_SUB}},
    {"*/%", {OP_MUL, OP_DIV, OP_MOD}},
};

static struct sim_expr *parse_level(struct parser *ps, size_t k)
{
    if (k == sizeof levels / sizeof levels[0])
        return parse_unary(ps);
    struct sim_expr *a = parse_level(ps, k + 1);
    for (;;) {
        skip_ws(ps);
        const char *at = *ps->p != '\0' ? strchr(levels[k].sym, *ps->p) : NULL;
        if (a == NULL || at == NULL)
            return a;
        ps->p++;
        a = join(ps, levels[k].op[at - levels[k].sym], a, parse_level(ps, k + 1));
    }
}

static struct sim_expr *parse_expr(struct parser *ps)
{
    return parse_level(ps, 0);
}

struct sim_expr *expr_parse(const char *text, char *err, size_t errcap)
{
    struct parser ps = {text, err, errcap, false};
    struct sim_expr *e = parse_expr(&ps);
    skip_ws(&ps);
    if (e != NULL && *ps.p != '\0') {
        parse_error(&ps, "unexpected text");
        expr_free(e);
        return NULL;
    }
    return e;
}

double expr_eval(const struct sim_expr *e, double t, double i, double n)
{
    switch (e->op) {
    case OP_NUM:
        return e->v;
    case OP_T:
        return t;
    case OP_I:
        return i;
    case OP_N:
        return n;
    case OP_NEG:
        return -expr_eval(e->a, t, i, n);
    case OP_ADD:
        return expr_eval(e->a, t, i, n) + expr_eval(e->b, t, i, n);
    case OP_SUB:
        return expr_eval(e->a, t, i, n) - expr_eval(e->b, t, i, n);
    case OP_MUL:
        return expr_eval(e->a, t, i, n) * expr_eval(e->b, t, i, n);
    case OP_DIV:
        return expr_eval(e->a, t, i, n) / expr_eval(e->b, t, i, n);
    case OP_MOD:
        return fmod(expr_eval(e->a, t, i, n), expr_eval(e->b, t, i, n));
    case OP_POW:
        return pow(expr_eval(e->a, t, i, n), expr_eval(e->b, t, i, n));
    case OP_FN1:
        return e->fn1(expr_eval(e->a, t, i, n));
    case OP_FN2:
        return e->fn2(expr_eval(e->a, t, i, n), expr_eval(e->b, t, i, n));
    case OP_RAND:
        return (double)rand() / ((double)RAND_MAX + 1.0);
    }
    return 0;
}

void expr_free(struct sim_expr *e)
{
    if (e == NULL)
        return;
    expr_free(e->a);
    expr_free(e->b);
    free(e);
}
