/*
 * appl_filter.c - the device-list $filter / $orderby subset (appl_filter.h): a tokenizer, a
 * recursive-descent parser into a fixed node array, and the matcher. Pure.
 */
#include "central/app/appl_filter.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { N_AND = 1, N_OR, N_STR, N_BOOL, N_NULL, N_SCOPE, N_INDEXOF, N_CONTAINS };
enum { F_ID, F_DISPLAY_NAME, F_TEMPLATE, F_ENABLED, F_PROVISIONED, F_SIMULATED, F_SCOPES };
enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum { T_END, T_LPAREN, T_RPAREN, T_COMMA, T_STRING, T_NUMBER, T_WORD, T_BAD };

#define MAX_DEPTH 32

static const char *const field_names[] = {"id",          "displayName", "template", "enabled",
                                          "provisioned", "simulated",   "scopes"};
static const char *const op_names[] = {"eq", "ne", "lt", "le", "gt", "ge"};

struct tok {
    int type;
    const char *p; /* start in the text */
    size_t len;
};

struct parser {
    struct devfilter *f;
    const char *text;
    size_t len, pos;
    struct tok t; /* current token */
    char *err;
    size_t err_size;
    int depth;
};

static bool is_word_char(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '$' ||
           (!first && ((ch >= '0' && ch <= '9') || ch == '/' || ch == '.'));
}

static void next(struct parser *ps)
{
    while (ps->pos < ps->len && (ps->text[ps->pos] == ' ' || ps->text[ps->pos] == '\t' ||
                                 ps->text[ps->pos] == '\r' || ps->text[ps->pos] == '\n'))
        ps->pos++;
    struct tok *t = &ps->t;
    t->p = ps->text + ps->pos;
    t->len = 1;
    if (ps->pos >= ps->len) {
        t->type = T_END;
        t->len = 0;
        return;
    }
    char ch = ps->text[ps->pos];
    if (ch == '(' || ch == ')' || ch == ',') {
        t->type = ch == '(' ? T_LPAREN : ch == ')' ? T_RPAREN : T_COMMA;
        ps->pos++;
        return;
    }
    if (ch == '\'') { /* OData string: '' is a quote */
        size_t i = ps->pos + 1;
        for (;;) {
            if (i >= ps->len) {
                t->type = T_BAD;
                t->len = ps->len - ps->pos;
                return;
            }
            if (ps->text[i] == '\'') {
                if (i + 1 < ps->len && ps->text[i + 1] == '\'') {
                    i += 2;
                    continue;
                }
                break;
            }
            i++;
        }
        t->type = T_STRING;
        t->len = i + 1 - ps->pos;
        ps->pos = i + 1;
        return;
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        size_t i = ps->pos + (ch == '-');
        while (i < ps->len && ps->text[i] >= '0' && ps->text[i] <= '9')
            i++;
        t->type = i > ps->pos + (ch == '-') && i - ps->pos <= 10 ? T_NUMBER : T_BAD;
        t->len = i - ps->pos;
        ps->pos += t->len;
        return;
    }
    if (is_word_char(ch, true)) {
        size_t i = ps->pos + 1;
        while (i < ps->len && is_word_char(ps->text[i], false))
            i++;
        t->type = T_WORD;
        t->len = i - ps->pos;
        ps->pos = i;
        return;
    }
    t->type = T_BAD;
    ps->pos++;
}

static bool word_is(const struct tok *t, const char *w)
{
    return t->type == T_WORD && t->len == strlen(w) && strncasecmp(t->p, w, t->len) == 0;
}

/* Report an error at the current token: "<what> at position N: 'tok'". */
static int fail(struct parser *ps, const char *what)
{
    int shown = (int)(ps->t.len > 40 ? 40 : ps->t.len);
    if (ps->t.type == T_END)
        snprintf(ps->err, ps->err_size, "%s at the end of the filter", what);
    else
        snprintf(ps->err, ps->err_size, "%s at position %zu: '%.*s'", what,
                 (size_t)(ps->t.p - ps->text) + 1, shown, ps->t.p);
    return -1;
}

static int new_node(struct parser *ps, int kind)
{
    struct devfilter *f = ps->f;
    if (f->n_nodes >= DEVFILTER_MAX_NODES) {
        snprintf(ps->err, ps->err_size, "the filter has more than %d conditions",
                 DEVFILTER_MAX_NODES);
        return -1;
    }
    memset(&f->nodes[f->n_nodes], 0, sizeof f->nodes[0]);
    f->nodes[f->n_nodes].kind = (uint8_t)kind;
    f->nodes[f->n_nodes].left = f->nodes[f->n_nodes].right = -1;
    return (int)f->n_nodes++;
}

/* Copy the current string token, unescaped, into f->strings. */
static int take_string(struct parser *ps, struct devfilter_node *n)
{
    struct devfilter *f = ps->f;
    size_t start = f->strings_len;
    for (size_t i = 1; i + 1 < ps->t.len; i++) {
        if (ps->t.p[i] == '\'')
            i++; /* '' -> ' */
        if (f->strings_len >= sizeof f->strings - 1)
            return fail(ps, "the string is too long");
        f->strings[f->strings_len++] = ps->t.p[i];
    }
    f->strings[f->strings_len++] = '\0';
    n->str_off = (uint16_t)start;
    n->str_len = (uint16_t)(f->strings_len - 1 - start);
    return 0;
}

static int field_of(const struct tok *t)
{
    for (size_t i = 0; i < sizeof field_names / sizeof field_names[0]; i++) {
        if (word_is(t, field_names[i]))
            return (int)i;
    }
    return -1;
}

static int op_of(const struct tok *t)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (word_is(t, op_names[i]))
            return (int)i;
    }
    return -1;
}

static bool is_string_field(int field)
{
    return field == F_ID || field == F_DISPLAY_NAME || field == F_TEMPLATE;
}

/* contains( / indexof( : "(" strfield "," string ")"; the function name was consumed. */
static int parse_call(struct parser *ps, struct devfilter_node **out, int kind)
{
    if (ps->t.type != T_LPAREN)
        return fail(ps, "expected '('");
    next(ps);
    int field = field_of(&ps->t);
    if (field < 0 || !is_string_field(field))
        return fail(ps, field < 0
                            ? "unsupported field"
                            : "the function takes a string field (id, displayName, template)");
    next(ps);
    if (ps->t.type != T_COMMA)
        return fail(ps, "expected ','");
    next(ps);
    if (ps->t.type != T_STRING)
        return fail(ps, "expected a string in single quotes");
    int idx = new_node(ps, kind);
    if (idx < 0)
        return -1;
    struct devfilter_node *n = &ps->f->nodes[idx];
    n->field = (uint8_t)field;
    if (take_string(ps, n) < 0)
        return -1;
    next(ps);
    if (ps->t.type != T_RPAREN)
        return fail(ps, "expected ')'");
    next(ps);
    *out = n;
    return idx;
}

static int parse_or(struct parser *ps);

static int parse_primary(struct parser *ps)
{
    if (ps->t.type == T_LPAREN) {
        if (++ps->depth > MAX_DEPTH)
            return fail(ps, "too many nested parentheses");
        next(ps);
        int e = parse_or(ps);
        if (e < 0)
            return -1;
        if (ps->t.type != T_RPAREN)
            return fail(ps, "expected ')'");
        ps->depth--;
        next(ps);
        return e;
    }
    if (ps->t.type != T_WORD)
        return fail(ps, "expected a field, contains() or indexof()");
    struct tok name = ps->t;
    next(ps);
    struct devfilter_node *n = NULL;
    if (ps->t.type == T_LPAREN) {
        if (word_is(&name, "contains"))
            return parse_call(ps, &n, N_CONTAINS);
        if (!word_is(&name, "indexof")) {
            ps->t = name;
            return fail(ps, "unsupported function (only contains and indexof are)");
        }
        int idx = parse_call(ps, &n, N_INDEXOF);
        if (idx < 0)
            return -1;
        int op = op_of(&ps->t);
        if (op < 0)
            return fail(ps, "expected eq, ne, lt, le, gt or ge after indexof()");
        next(ps);
        if (ps->t.type != T_NUMBER)
            return fail(ps, "indexof() compares with an integer");
        n = &ps->f->nodes[idx];
        n->op = (uint8_t)op;
        long long v = 0;
        for (size_t i = ps->t.p[0] == '-'; i < ps->t.len; i++)
            v = v * 10 + (ps->t.p[i] - '0');
        n->ival = ps->t.p[0] == '-' ? -v : v;
        next(ps);
        return idx;
    }
    if (word_is(&name, "not")) {
        ps->t = name;
        return fail(ps, "unsupported operator");
    }
    int field = field_of(&name);
    if (field < 0) {
        ps->t = name;
        return fail(ps, "unsupported field (id, displayName, template, enabled, provisioned, "
                        "simulated, scopes are)");
    }
    int op = op_of(&ps->t);
    if (op < 0)
        return fail(ps, "unsupported operator (eq, ne, lt, le, gt, ge are)");
    next(ps);
    int idx;
    bool is_null = word_is(&ps->t, "null");
    bool is_bool = word_is(&ps->t, "true") || word_is(&ps->t, "false");
    if (field == F_ENABLED || field == F_PROVISIONED || field == F_SIMULATED) {
        if (!is_bool)
            return fail(ps, "a boolean field compares with true or false");
        if (op != OP_EQ && op != OP_NE)
            return fail(ps, "a boolean field takes eq or ne");
        idx = new_node(ps, N_BOOL);
        if (idx < 0)
            return -1;
        ps->f->nodes[idx].bval = word_is(&ps->t, "true");
    } else if (is_null) {
        if (op != OP_EQ && op != OP_NE)
            return fail(ps, "null compares with eq or ne only");
        if (field == F_SCOPES)
            return fail(ps, "scopes compares with a string");
        idx = new_node(ps, N_NULL);
    } else if (ps->t.type == T_STRING) {
        if (field == F_SCOPES && op != OP_EQ && op != OP_NE)
            return fail(ps, "scopes takes eq or ne");
        idx = new_node(ps, field == F_SCOPES ? N_SCOPE : N_STR);
        if (idx >= 0 && take_string(ps, &ps->f->nodes[idx]) < 0)
            return -1;
    } else {
        return fail(ps, "a string field compares with a string in single quotes (or null)");
    }
    if (idx < 0)
        return -1;
    ps->f->nodes[idx].field = (uint8_t)field;
    ps->f->nodes[idx].op = (uint8_t)op;
    next(ps);
    return idx;
}

static int parse_binary(struct parser *ps, int kind)
{
    int l = kind == N_OR ? parse_binary(ps, N_AND) : parse_primary(ps);
    while (l >= 0 && word_is(&ps->t, kind == N_OR ? "or" : "and")) {
        next(ps);
        int r = kind == N_OR ? parse_binary(ps, N_AND) : parse_primary(ps);
        if (r < 0)
            return -1;
        int idx = new_node(ps, kind);
        if (idx < 0)
            return -1;
        ps->f->nodes[idx].left = (int16_t)l;
        ps->f->nodes[idx].right = (int16_t)r;
        l = idx;
    }
    return l;
}

static int parse_or(struct parser *ps)
{
    return parse_binary(ps, N_OR);
}

int devfilter_parse(struct devfilter *f, const char *text, size_t len, char *err, size_t err_size)
{
    struct parser ps = {.f = f, .text = text, .len = len, .err = err, .err_size = err_size};
    f->n_nodes = 0;
    f->strings_len = 0;
    f->root = -1;
    if (err_size > 0)
        err[0] = '\0';
    if (len > DEVFILTER_MAX_TEXT) {
        snprintf(err, err_size, "the filter is longer than %d bytes", DEVFILTER_MAX_TEXT);
        return -1;
    }
    next(&ps);
    if (ps.t.type == T_END)
        return 0;
    int root = parse_or(&ps);
    if (root < 0)
        return -1;
    if (ps.t.type != T_END)
        return fail(&ps, word_is(&ps.t, "not") ? "unsupported operator"
                                               : "unexpected text (expected and, or or the end)");
    f->root = root;
    return 0;
}

/* ---------------------------------------------------------------- matching */

static const char *field_text(const struct devfilter_device *d, int field)
{
    return field == F_ID ? d->id : field == F_DISPLAY_NAME ? d->display_name : d->template_id;
}

static bool compare(int op, int cmp)
{
    switch (op) {
    case OP_EQ:
        return cmp == 0;
    case OP_NE:
        return cmp != 0;
    case OP_LT:
        return cmp < 0;
    case OP_LE:
        return cmp <= 0;
    case OP_GT:
        return cmp > 0;
    default:
        return cmp >= 0;
    }
}

static int64_t index_of(const char *hay, const char *needle)
{
    const char *p = hay != NULL ? strstr(hay, needle) : NULL;
    return p != NULL ? (int64_t)(p - hay) : -1;
}

static bool eval(const struct devfilter *f, int i, const struct devfilter_device *d)
{
    const struct devfilter_node *n = &f->nodes[i];
    const char *s = f->strings + n->str_off;
    switch (n->kind) {
    case N_AND:
        return eval(f, n->left, d) && eval(f, n->right, d);
    case N_OR:
        return eval(f, n->left, d) || eval(f, n->right, d);
    case N_BOOL: {
        bool v = n->field == F_ENABLED       ? d->enabled
                 : n->field == F_PROVISIONED ? d->provisioned
                                             : d->simulated;
        return (v == n->bval) == (n->op == OP_EQ);
    }
    case N_NULL:
        return (field_text(d, n->field) == NULL) == (n->op == OP_EQ);
    case N_SCOPE: {
        bool in = false;
        for (size_t k = 0; k < d->n_orgs && !in; k++)
            in = d->orgs[k] != NULL && strcmp(d->orgs[k], s) == 0;
        return in == (n->op == OP_EQ);
    }
    case N_STR: {
        const char *v = field_text(d, n->field);
        if (v == NULL) /* an absent value equals no string */
            return n->op == OP_NE;
        return compare(n->op, strcmp(v, s));
    }
    case N_INDEXOF: {
        int64_t at = index_of(field_text(d, n->field), s);
        return compare(n->op, at < n->ival ? -1 : at > n->ival ? 1 : 0);
    }
    case N_CONTAINS:
        return index_of(field_text(d, n->field), s) >= 0;
    default:
        return false;
    }
}

bool devfilter_match(const struct devfilter *f, const struct devfilter_device *d)
{
    return f->root < 0 || eval(f, f->root, d);
}

int devorder_parse(const char *text, size_t len, bool *out_desc, char *err, size_t err_size)
{
    struct parser ps = {.f = NULL, .text = text, .len = len, .err = err, .err_size = err_size};
    *out_desc = false;
    next(&ps);
    if (!word_is(&ps.t, "displayName"))
        return fail(&ps, "unsupported $orderby (only displayName [asc|desc] is)");
    next(&ps);
    if (word_is(&ps.t, "asc") || word_is(&ps.t, "desc")) {
        *out_desc = word_is(&ps.t, "desc");
        next(&ps);
    }
    if (ps.t.type != T_END)
        return fail(&ps, "unsupported $orderby (only displayName [asc|desc] is)");
    return 0;
}
