/*
 * appl_dgfilter.c - device group filters (appl_dgfilter.h): a tokenizer and a recursive-descent
 * translator of the SELECT form into appl_filter.c's OData text, which is then compiled there.
 * Pure.
 */
#include "central/app/appl_dgfilter.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { T_END, T_LPAREN, T_RPAREN, T_STAR, T_EQ, T_NE, T_STRING, T_WORD, T_BAD };

#define MAX_DEPTH 32

struct tok {
    int type;
    const char *p;
    size_t len;
};

struct tr {
    const char *text;
    size_t len, pos;
    struct tok t;
    char out[2 * DEVFILTER_MAX_TEXT];
    size_t out_len;
    char *err;
    size_t err_size;
    int depth;
};

/* The fields of the SELECT form and their name in the OData subset. */
static const struct {
    const char *name, *odata;
    bool boolean;
} fields[] = {
    {"$id", "id", false},
    {"$displayName", "displayName", false},
    {"$template", "template", false},
    {"$provisioned", "provisioned", true},
    {"$simulated", "simulated", true},
    {"$enabled", "enabled", true},
};

static bool word_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '$' || ch == '.' || ch == ':' || ch == ';' || ch == '-';
}

static void next(struct tr *x)
{
    while (x->pos < x->len && (x->text[x->pos] == ' ' || x->text[x->pos] == '\t' ||
                               x->text[x->pos] == '\r' || x->text[x->pos] == '\n'))
        x->pos++;
    struct tok *t = &x->t;
    t->p = x->text + x->pos;
    t->len = 1;
    if (x->pos >= x->len) {
        t->type = T_END;
        t->len = 0;
        return;
    }
    char ch = x->text[x->pos];
    if (ch == '(' || ch == ')' || ch == '*' || ch == '=') {
        t->type = ch == '(' ? T_LPAREN : ch == ')' ? T_RPAREN : ch == '*' ? T_STAR : T_EQ;
        x->pos++;
        return;
    }
    if ((ch == '!' || ch == '<') && x->pos + 1 < x->len &&
        x->text[x->pos + 1] == (ch == '!' ? '=' : '>')) {
        t->type = T_NE;
        t->len = 2;
        x->pos += 2;
        return;
    }
    if (ch == '"' || ch == '\'') { /* a doubled quote stands for itself */
        size_t i = x->pos + 1;
        for (;;) {
            if (i >= x->len) {
                t->type = T_BAD;
                t->len = x->len - x->pos;
                x->pos = x->len;
                return;
            }
            if (x->text[i] == ch) {
                if (i + 1 < x->len && x->text[i + 1] == ch) {
                    i += 2;
                    continue;
                }
                break;
            }
            i++;
        }
        t->type = T_STRING;
        t->len = i + 1 - x->pos;
        x->pos = i + 1;
        return;
    }
    if (word_char(ch)) {
        size_t i = x->pos + 1;
        while (i < x->len && word_char(x->text[i]))
            i++;
        t->type = T_WORD;
        t->len = i - x->pos;
        x->pos = i;
        return;
    }
    t->type = T_BAD;
    x->pos++;
}

static bool word_is(const struct tok *t, const char *w)
{
    return t->type == T_WORD && t->len == strlen(w) && strncasecmp(t->p, w, t->len) == 0;
}

static int fail(struct tr *x, const char *what)
{
    int shown = (int)(x->t.len > 40 ? 40 : x->t.len);
    if (x->t.type == T_END)
        snprintf(x->err, x->err_size, "%s at the end of the filter", what);
    else
        snprintf(x->err, x->err_size, "%s at position %zu: '%.*s'", what,
                 (size_t)(x->t.p - x->text) + 1, shown, x->t.p);
    return -1;
}

static int emit(struct tr *x, const char *s, size_t n)
{
    if (x->out_len + n + 1 > sizeof x->out) {
        snprintf(x->err, x->err_size, "the filter is too long");
        return -1;
    }
    memcpy(x->out + x->out_len, s, n);
    x->out_len += n;
    x->out[x->out_len] = '\0';
    return 0;
}

static int emit_s(struct tr *x, const char *s)
{
    return emit(x, s, strlen(s));
}

/* The current string token as an OData literal: '...' with quotes doubled. */
static int emit_string(struct tr *x)
{
    char q = x->t.p[0];
    if (emit_s(x, "'") < 0)
        return -1;
    for (size_t i = 1; i + 1 < x->t.len; i++) {
        char ch = x->t.p[i];
        if (ch == q && x->t.p[i + 1] == q)
            i++; /* the doubled quote of the source */
        if (emit(x, ch == '\'' ? "''" : &ch, ch == '\'' ? 2 : 1) < 0)
            return -1;
    }
    return emit_s(x, "'");
}

static int parse_or(struct tr *x);

static int parse_comparison(struct tr *x)
{
    size_t k;
    if (x->t.type != T_WORD)
        return fail(x, "expected a $field");
    for (k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        if (word_is(&x->t, fields[k].name))
            break;
    }
    if (k == sizeof fields / sizeof fields[0])
        return fail(x, x->t.p[0] == '$' ? "unsupported field" : "expected a $field");
    next(x);
    if (x->t.type != T_EQ && x->t.type != T_NE) {
        if (x->t.type == T_WORD || (x->t.len == 1 && strchr("<>", x->t.p[0]) != NULL))
            return fail(x, "unsupported operator (only = and != are supported)");
        return fail(x, "expected = or !=");
    }
    bool ne = x->t.type == T_NE;
    if (emit_s(x, fields[k].odata) < 0 || emit_s(x, ne ? " ne " : " eq ") < 0)
        return -1;
    next(x);
    if (fields[k].boolean) {
        if (!word_is(&x->t, "true") && !word_is(&x->t, "false"))
            return fail(x, "expected true or false");
        if (emit_s(x, word_is(&x->t, "true") ? "true" : "false") < 0)
            return -1;
    } else if (x->t.type == T_STRING) {
        if (emit_string(x) < 0)
            return -1;
    } else if (word_is(&x->t, "null") && strcmp(fields[k].odata, "template") == 0) {
        if (emit_s(x, "null") < 0)
            return -1;
    } else {
        return fail(x, "expected a quoted string");
    }
    next(x);
    return 0;
}

static int parse_primary(struct tr *x)
{
    if (x->t.type == T_LPAREN) {
        if (++x->depth > MAX_DEPTH)
            return fail(x, "too deeply nested");
        next(x);
        if (emit_s(x, "(") < 0 || parse_or(x) < 0)
            return -1;
        if (x->t.type != T_RPAREN)
            return fail(x, "expected ')'");
        x->depth--;
        next(x);
        return emit_s(x, ")");
    }
    if (word_is(&x->t, "NOT"))
        return fail(x, "unsupported operator NOT");
    return parse_comparison(x);
}

static int parse_binary(struct tr *x, const char *word, int (*sub)(struct tr *))
{
    if (sub(x) < 0)
        return -1;
    while (word_is(&x->t, word)) {
        next(x);
        if (emit_s(x, word[0] == 'A' ? " and " : " or ") < 0 || sub(x) < 0)
            return -1;
    }
    return 0;
}

static int parse_and(struct tr *x)
{
    return parse_binary(x, "AND", parse_primary);
}

static int parse_or(struct tr *x)
{
    return parse_binary(x, "OR", parse_and);
}

int dgfilter_parse(struct devfilter *f, const char *text, size_t len, char *err, size_t err_size)
{
    static const char *const head[] = {"SELECT", "*", "FROM", "devices"};
    struct tr x = {.text = text, .len = len, .err = err, .err_size = err_size};
    err[0] = '\0';
    if (len > DGFILTER_MAX_TEXT) {
        snprintf(err, err_size, "the filter is longer than %d characters", DGFILTER_MAX_TEXT);
        return -1;
    }
    if (memchr(text, '\0', len) != NULL) {
        snprintf(err, err_size, "the filter contains a NUL character");
        return -1;
    }
    next(&x);
    for (size_t i = 0; i < 4; i++) {
        bool ok = i == 1 ? x.t.type == T_STAR : word_is(&x.t, head[i]);
        if (!ok) {
            char what[64];
            if (i == 1 && x.t.type == T_WORD)
                snprintf(what, sizeof what, "unsupported selection (only SELECT * is supported)");
            else if (i == 3 && x.t.type == T_WORD)
                snprintf(what, sizeof what, "unsupported source (only FROM devices is supported)");
            else
                snprintf(what, sizeof what, "expected %s", head[i]);
            return fail(&x, what);
        }
        next(&x);
    }
    if (x.t.type != T_END) {
        if (!word_is(&x.t, "WHERE"))
            return fail(&x, "unsupported clause (only WHERE is supported)");
        next(&x);
        if (parse_or(&x) < 0)
            return -1;
        if (x.t.type != T_END)
            return fail(&x,
                        word_is(&x.t, "ORDER") || word_is(&x.t, "LIMIT") || word_is(&x.t, "GROUP")
                            ? "unsupported clause"
                            : "unexpected text");
    }
    char sub[200];
    if (devfilter_parse(f, x.out, x.out_len, sub, sizeof sub) < 0) {
        snprintf(err, err_size, "%s", sub);
        return -1;
    }
    return 0;
}
