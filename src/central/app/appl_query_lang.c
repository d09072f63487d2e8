/*
 * appl_query_lang.c - the /api/query language subset (appl_query.h): tokenizer, parser into a
 * fixed node array, and the WHERE matcher. Pure: no I/O, no clock, no allocation.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "central/app/appl.h"
#include "central/app/appl_query.h"

enum { N_AND = 1, N_OR, N_TRUE, N_CMP, N_IN };
enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum { L_NUM, L_STR, L_BOOL };
enum { T_END, T_WORD, T_NUM, T_STR, T_OP, T_PUNCT, T_BAD };

struct tok {
    int type;
    const char *p;
    size_t len;
};

struct ps {
    struct aq_query *q;
    const char *text;
    size_t len, pos;
    struct tok t;
    char *err;
    size_t err_size;
    int logical;
};

static bool word_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '$' || ch == ':' || ch == ';' ||
           ch == '.' || ch == '-';
}

static void next(struct ps *s)
{
    while (s->pos < s->len && isspace((unsigned char)s->text[s->pos]))
        s->pos++;
    struct tok *t = &s->t;
    t->p = s->text + s->pos;
    t->len = 1;
    if (s->pos >= s->len) {
        t->type = T_END;
        t->len = 0;
        return;
    }
    char ch = s->text[s->pos];
    if (ch == '\'' || ch == '"') {
        size_t i = s->pos + 1;
        while (i < s->len && s->text[i] != ch)
            i++;
        t->type = i < s->len ? T_STR : T_BAD;
        t->len = (i < s->len ? i + 1 : i) - s->pos;
        s->pos += t->len;
        return;
    }
    if (isdigit((unsigned char)ch) ||
        (ch == '-' && s->pos + 1 < s->len && isdigit((unsigned char)s->text[s->pos + 1]))) {
        size_t i = s->pos + 1;
        while (i < s->len && (isdigit((unsigned char)s->text[i]) || s->text[i] == '.' ||
                              s->text[i] == 'e' || s->text[i] == 'E'))
            i++;
        t->type = T_NUM;
        t->len = i - s->pos;
        s->pos = i;
        return;
    }
    if (ch == '!' || ch == '<' || ch == '>' || ch == '=') {
        size_t n = 1;
        if (s->pos + 1 < s->len) {
            char c2 = s->text[s->pos + 1];
            if ((ch != '=' && c2 == '=') || (ch == '<' && c2 == '>'))
                n = 2;
        }
        t->type = ch == '!' && n == 1 ? T_BAD : T_OP;
        t->len = n;
        s->pos += n;
        return;
    }
    if (ch == '(' || ch == ')' || ch == ',' || ch == '[' || ch == ']' || ch == '*') {
        t->type = T_PUNCT;
        s->pos++;
        return;
    }
    if (word_char(ch)) {
        size_t i = s->pos;
        while (i < s->len && word_char(s->text[i]))
            i++;
        t->type = T_WORD;
        t->len = i - s->pos;
        s->pos = i;
        return;
    }
    t->type = T_BAD;
    s->pos++;
}

static bool is_kw(const struct tok *t, const char *w)
{
    return t->type == T_WORD && t->len == strlen(w) && strncasecmp(t->p, w, t->len) == 0;
}

static bool is_punct(const struct tok *t, char ch)
{
    return t->type == T_PUNCT && t->p[0] == ch;
}

static int fail(struct ps *s, const char *what)
{
    int shown = (int)(s->t.len > 40 ? 40 : s->t.len);
    if (s->t.type == T_END)
        snprintf(s->err, s->err_size, "%s at the end of the query", what);
    else
        snprintf(s->err, s->err_size, "%s at position %zu: '%.*s'", what,
                 (size_t)(s->t.p - s->text) + 1, shown, s->t.p);
    return -1;
}

static bool is_keyword(const struct tok *t)
{
    static const char *const kws[] = {"SELECT", "FROM", "WHERE", "AND", "OR",   "ORDER",
                                      "BY",     "TOP",  "AS",    "IN",  "GROUP"};
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++) {
        if (is_kw(t, kws[i]))
            return true;
    }
    return false;
}

/* The reference of word @p t: $id, $ts, ..., an alias of a telemetry item, or a telemetry
 * name (component.name). @return the kind, with *ref set for telemetry; -1 after failing. */
static int ref_of(struct ps *s, const struct tok *t, uint8_t *ref)
{
    static const char *const meta[] = {"$id", "$ts", "$provisioned", "$simulated"};
    for (size_t i = 0; i < 4; i++) {
        if (is_kw(t, meta[i]))
            return (int)i;
    }
    if (t->p[0] == '$') {
        s->t = *t;
        return fail(s, "unknown device field (only $id, $ts, $provisioned, $simulated are)");
    }
    struct aq_query *q = s->q;
    for (size_t i = 0; i < q->n_items; i++) { /* an alias */
        if (strlen(q->items[i].label) == t->len && strncmp(q->items[i].label, t->p, t->len) == 0) {
            *ref = q->items[i].ref;
            return q->items[i].kind;
        }
    }
    const char *dot = memchr(t->p, '.', t->len);
    size_t clen = dot ? (size_t)(dot - t->p) : 0;
    const char *name = dot ? dot + 1 : t->p;
    size_t nlen = t->len - (dot ? clen + 1 : 0);
    if (nlen == 0 || nlen > AQ_NAME_MAX || clen > AQ_NAME_MAX ||
        (dot && memchr(name, '.', nlen) != NULL)) {
        s->t = *t;
        return fail(s, "not a telemetry name (name or component.name)");
    }
    for (size_t i = 0; i < q->n_refs; i++) {
        if (strlen(q->refs[i].component) == clen &&
            strncmp(q->refs[i].component, t->p, clen) == 0 && strlen(q->refs[i].name) == nlen &&
            strncmp(q->refs[i].name, name, nlen) == 0) {
            *ref = (uint8_t)i;
            return AQ_TELEMETRY;
        }
    }
    if (q->n_refs >= AQ_MAX_REFS) {
        s->t = *t;
        return fail(s, "too many telemetry names");
    }
    struct aq_ref *r = &q->refs[q->n_refs];
    memcpy(r->component, t->p, clen);
    r->component[clen] = '\0';
    memcpy(r->name, name, nlen);
    r->name[nlen] = '\0';
    *ref = (uint8_t)q->n_refs++;
    return AQ_TELEMETRY;
}

static int new_node(struct ps *s, int type)
{
    struct aq_query *q = s->q;
    if (q->n_nodes >= AQ_MAX_NODES)
        return fail(s, "too many conditions");
    memset(&q->nodes[q->n_nodes], 0, sizeof q->nodes[0]);
    q->nodes[q->n_nodes].type = (uint8_t)type;
    q->nodes[q->n_nodes].left = q->nodes[q->n_nodes].right = -1;
    return (int)q->n_nodes++;
}

static int add_string(struct ps *s, const struct tok *t)
{
    struct aq_query *q = s->q;
    size_t n = t->len - 2;
    if (q->strings_len + n + 1 > sizeof q->strings)
        return fail(s, "strings too long");
    memcpy(q->strings + q->strings_len, t->p + 1, n);
    q->strings_len += n;
    q->strings[q->strings_len++] = '\0';
    return 0;
}

/* ISO 8601 duration (P1D, PT10M, P2DT12H, P1W) into milliseconds; -1 when it is not one. */
static int64_t duration_ms(const char *p, size_t len)
{
    int64_t total = 0;
    bool time = false, any = false;
    size_t i = 1;
    if (len < 2 || (p[0] != 'P' && p[0] != 'p'))
        return -1;
    while (i < len) {
        if (p[i] == 'T' || p[i] == 't') {
            if (time)
                return -1;
            time = true;
            i++;
            continue;
        }
        int64_t v = 0;
        size_t start = i;
        while (i < len && isdigit((unsigned char)p[i]) && v < 100000000)
            v = v * 10 + (p[i++] - '0');
        if (i == start || i >= len)
            return -1;
        char u = (char)toupper((unsigned char)p[i++]);
        int64_t unit = !time && u == 'W'   ? 7 * 86400000LL
                       : !time && u == 'D' ? 86400000LL
                       : time && u == 'H'  ? 3600000LL
                       : time && u == 'M'  ? 60000LL
                       : time && u == 'S'  ? 1000LL
                                           : 0;
        if (unit == 0)
            return -1;
        total += v * unit;
        any = true;
    }
    return any ? total : -1;
}

static int parse_window(struct ps *s)
{
    struct aq_query *q = s->q;
    if (q->has_window)
        return fail(s, "a second WITHIN_WINDOW");
    next(s);
    if (!is_punct(&s->t, '('))
        return fail(s, "expected '(' after WITHIN_WINDOW");
    next(s);
    if (s->t.type == T_STR) { /* 'start/end' */
        char a[64], b[64];
        const char *slash = memchr(s->t.p + 1, '/', s->t.len - 2);
        size_t alen = slash ? (size_t)(slash - s->t.p - 1) : 0;
        size_t blen = slash ? s->t.len - 3 - alen : 0;
        if (slash == NULL || alen >= sizeof a || blen >= sizeof b)
            return fail(s, "expected 'start/end' (RFC 3339 times)");
        memcpy(a, s->t.p + 1, alen);
        a[alen] = '\0';
        memcpy(b, slash + 1, blen);
        b[blen] = '\0';
        if (appl_parse_time(a, &q->from_ms) < 0 || appl_parse_time(b, &q->to_ms) < 0 ||
            q->to_ms <= q->from_ms)
            return fail(s, "expected 'start/end' with start before end (RFC 3339 times)");
        q->window_absolute = true;
    } else if (s->t.type == T_WORD) {
        q->window_ms = duration_ms(s->t.p, s->t.len);
        if (q->window_ms <= 0)
            return fail(s, "not an ISO 8601 duration (P1D, PT10M, P2DT12H, P1W)");
    } else {
        return fail(s, "expected a duration (P1D) or 'start/end'");
    }
    next(s);
    if (!is_punct(&s->t, ')'))
        return fail(s, "expected ')'");
    next(s);
    q->has_window = true;
    return new_node(s, N_TRUE);
}

static int parse_literal(struct ps *s, struct aq_node *n)
{
    if (s->t.type == T_NUM) {
        char buf[40], *end;
        if (s->t.len >= sizeof buf)
            return fail(s, "number too long");
        memcpy(buf, s->t.p, s->t.len);
        buf[s->t.len] = '\0';
        n->num = strtod(buf, &end);
        if (*end != '\0' || !isfinite(n->num))
            return fail(s, "not a number");
        n->lit = L_NUM;
    } else if (s->t.type == T_STR) {
        n->lit = L_STR;
        n->str_off = (uint16_t)s->q->strings_len;
        n->str_len = (uint16_t)(s->t.len - 2);
        if (add_string(s, &s->t) < 0)
            return -1;
    } else if (is_kw(&s->t, "true") || is_kw(&s->t, "false")) {
        n->lit = L_BOOL;
        n->bval = is_kw(&s->t, "true");
    } else {
        return fail(s, "expected a number, a string or true/false");
    }
    next(s);
    return 0;
}

static int parse_cond(struct ps *s)
{
    if (is_kw(&s->t, "WITHIN_WINDOW"))
        return parse_window(s);
    if (is_punct(&s->t, '('))
        return fail(s, "parentheses are not supported");
    if (s->t.type != T_WORD || is_keyword(&s->t))
        return fail(s, "expected a condition");
    struct tok name = s->t;
    uint8_t ref = 0;
    int kind = ref_of(s, &name, &ref);
    if (kind < 0)
        return -1;
    next(s);
    if (is_punct(&s->t, '('))
        return fail(s, "functions are not supported in WHERE (only WITHIN_WINDOW is)");
    if (kind == AQ_TS)
        return fail(s, "compare times with WITHIN_WINDOW, not $ts");
    if (is_kw(&s->t, "IN")) {
        if (kind != AQ_ID && kind != AQ_TELEMETRY)
            return fail(s, "IN works with $id and telemetry only");
        next(s);
        if (!is_punct(&s->t, '['))
            return fail(s, "expected '[' after IN");
        int idx = new_node(s, N_IN);
        if (idx < 0)
            return -1;
        struct aq_node *n = &s->q->nodes[idx];
        n->kind = (uint8_t)kind;
        n->ref = ref;
        n->str_off = (uint16_t)s->q->strings_len;
        for (;;) {
            next(s);
            if (s->t.type != T_STR)
                return fail(s, "IN takes a list of strings");
            if (add_string(s, &s->t) < 0)
                return -1;
            n->n_list++;
            next(s);
            if (is_punct(&s->t, ']'))
                break;
            if (!is_punct(&s->t, ','))
                return fail(s, "expected ',' or ']'");
        }
        next(s);
        return idx;
    }
    if (s->t.type != T_OP)
        return fail(s, "expected an operator (=, !=, <>, >, <, >=, <=, IN)");
    int op = s->t.len == 1                          ? (s->t.p[0] == '='   ? OP_EQ
                                                       : s->t.p[0] == '<' ? OP_LT
                                                                          : OP_GT)
             : s->t.p[1] == '>' || s->t.p[0] == '!' ? OP_NE
             : s->t.p[0] == '<'                     ? OP_LE
             : s->t.p[0] == '>'                     ? OP_GE
                                                    : -1;
    if (op < 0)
        return fail(s, "unsupported operator");
    next(s);
    int idx = new_node(s, N_CMP);
    if (idx < 0)
        return -1;
    struct aq_node *n = &s->q->nodes[idx];
    n->kind = (uint8_t)kind;
    n->ref = ref;
    n->op = (uint8_t)op;
    if (parse_literal(s, n) < 0)
        return -1;
    if ((kind == AQ_PROVISIONED || kind == AQ_SIMULATED) && (n->lit != L_BOOL || op > OP_NE))
        return fail(s, "$provisioned and $simulated compare with = or != true/false");
    if (kind == AQ_ID && n->lit != L_STR)
        return fail(s, "$id compares with a string");
    return idx;
}

static int parse_binary(struct ps *s, int type)
{
    int l = type == N_OR ? parse_binary(s, N_AND) : parse_cond(s);
    while (l >= 0 && is_kw(&s->t, type == N_OR ? "OR" : "AND")) {
        if (++s->logical > AQ_MAX_LOGICAL)
            return fail(s, "more than 10 logical operators");
        next(s);
        int r = type == N_OR ? parse_binary(s, N_AND) : parse_cond(s);
        if (r < 0)
            return -1;
        int idx = new_node(s, type);
        if (idx < 0)
            return -1;
        s->q->nodes[idx].left = (int8_t)l;
        s->q->nodes[idx].right = (int8_t)r;
        l = idx;
    }
    return l;
}

/* WITHIN_WINDOW must hold for the whole result: only ANDs above it. */
static bool window_under_or(const struct aq_query *q, int i, bool under_or)
{
    const struct aq_node *n = &q->nodes[i];
    if (n->type == N_TRUE)
        return under_or;
    if (n->type == N_AND || n->type == N_OR)
        return window_under_or(q, n->left, under_or || n->type == N_OR) ||
               window_under_or(q, n->right, under_or || n->type == N_OR);
    return false;
}

static int parse_item(struct ps *s)
{
    struct aq_query *q = s->q;
    if (is_punct(&s->t, '*'))
        return fail(s, "there is no wildcard: name the values");
    if (s->t.type != T_WORD || is_keyword(&s->t))
        return fail(s, "expected a telemetry name, $id or $ts");
    struct tok name = s->t;
    next(s);
    if (is_punct(&s->t, '(')) {
        s->t = name;
        return fail(s, "aggregation functions are not supported yet");
    }
    if (q->n_items >= AQ_MAX_ITEMS)
        return fail(s, "more than 15 items in SELECT");
    struct aq_item *it = &q->items[q->n_items];
    uint8_t ref = 0;
    size_t before = q->n_items;
    q->n_items = 0; /* no alias lookup while naming a selected item */
    int kind = ref_of(s, &name, &ref);
    q->n_items = before;
    if (kind < 0)
        return -1;
    it->kind = (uint8_t)kind;
    it->ref = ref;
    snprintf(it->label, sizeof it->label, "%.*s", (int)name.len, name.p);
    if (is_kw(&s->t, "AS")) {
        next(s);
        if (s->t.type != T_WORD || is_keyword(&s->t) || s->t.len >= sizeof it->label)
            return fail(s, "expected an alias");
        snprintf(it->label, sizeof it->label, "%.*s", (int)s->t.len, s->t.p);
        for (size_t i = 0; i < q->n_items; i++) {
            if (strcmp(q->items[i].label, it->label) == 0)
                return fail(s, "an alias may not repeat another item");
        }
        next(s);
    }
    q->n_items++;
    return 0;
}

int aq_parse(struct aq_query *q, const char *text, size_t len, char *err, size_t err_size)
{
    struct ps s = {.q = q, .text = text, .len = len, .err = err, .err_size = err_size};
    memset(q, 0, sizeof *q);
    q->root = -1;
    q->top = AQ_MAX_RESULTS;
    if (err_size > 0)
        err[0] = '\0';
    if (len > AQ_TEXT_MAX) {
        snprintf(err, err_size, "the query is longer than %d characters", AQ_TEXT_MAX);
        return -1;
    }
    next(&s);
    if (!is_kw(&s.t, "SELECT"))
        return fail(&s, "expected SELECT");
    next(&s);
    if (is_kw(&s.t, "TOP")) {
        next(&s);
        long v = 0; /* the token's digits only: the text need not end with a NUL */
        for (size_t i = 0; s.t.type == T_NUM && i < s.t.len && v >= 0 && v <= AQ_MAX_RESULTS; i++)
            v = s.t.p[i] >= '0' && s.t.p[i] <= '9' ? v * 10 + (s.t.p[i] - '0') : -1;
        if (v < 1 || v > AQ_MAX_RESULTS)
            return fail(&s, "TOP takes a number 1..10000");
        q->top = (size_t)v;
        next(&s);
    }
    for (;;) {
        if (parse_item(&s) < 0)
            return -1;
        if (!is_punct(&s.t, ','))
            break;
        next(&s);
    }
    if (!is_kw(&s.t, "FROM"))
        return fail(&s, "expected FROM");
    next(&s);
    if (s.t.type != T_WORD || is_keyword(&s.t) || s.t.len >= sizeof q->from)
        return fail(&s, "expected a device template id");
    memcpy(q->from, s.t.p, s.t.len);
    q->from[s.t.len] = '\0';
    next(&s);
    if (is_kw(&s.t, "WHERE")) {
        next(&s);
        q->root = parse_binary(&s, N_OR);
        if (q->root < 0)
            return -1;
        if (window_under_or(q, q->root, false)) {
            snprintf(err, err_size, "WITHIN_WINDOW must apply to the whole query (not under OR)");
            return -1;
        }
    }
    if (is_kw(&s.t, "GROUP"))
        return fail(&s, "GROUP BY (aggregation) is not supported yet");
    if (is_kw(&s.t, "ORDER")) {
        next(&s);
        if (!is_kw(&s.t, "BY"))
            return fail(&s, "expected BY");
        next(&s);
        if (s.t.type != T_WORD || is_keyword(&s.t))
            return fail(&s, "expected $ts, $id or a telemetry item");
        struct tok key = s.t;
        int kind = ref_of(&s, &key, &q->order_ref);
        if (kind < 0)
            return -1;
        if (kind == AQ_PROVISIONED || kind == AQ_SIMULATED)
            return fail(&s, "ORDER BY takes $ts, $id or a telemetry value");
        q->order_kind = (uint8_t)kind;
        q->has_order = true;
        next(&s);
        if (is_kw(&s.t, "ASC") || is_kw(&s.t, "DESC")) {
            q->desc = is_kw(&s.t, "DESC");
            next(&s);
        }
    }
    if (s.t.type != T_END)
        return fail(&s, "unexpected text");
    bool any_tel = false;
    for (size_t i = 0; i < q->n_items; i++)
        any_tel = any_tel || q->items[i].kind == AQ_TELEMETRY;
    if (!any_tel) {
        snprintf(err, err_size, "select at least one telemetry value");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- matching */

static bool cmp_result(int op, int c)
{
    switch (op) {
    case OP_EQ:
        return c == 0;
    case OP_NE:
        return c != 0;
    case OP_LT:
        return c < 0;
    case OP_LE:
        return c <= 0;
    case OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static bool eval(const struct aq_query *q, int i, const struct aq_row *row)
{
    const struct aq_node *n = &q->nodes[i];
    const char *str = q->strings + n->str_off;
    switch (n->type) {
    case N_AND:
        return eval(q, n->left, row) && eval(q, n->right, row);
    case N_OR:
        return eval(q, n->left, row) || eval(q, n->right, row);
    case N_TRUE:
        return true;
    case N_IN: {
        const cJSON *v = n->kind == AQ_TELEMETRY ? row->values[n->ref] : NULL;
        const char *have = n->kind == AQ_ID ? row->device_id : cJSON_GetStringValue(v);
        for (size_t k = 0; have != NULL && k < n->n_list; k++, str += strlen(str) + 1) {
            if (strcmp(have, str) == 0)
                return true;
        }
        return false;
    }
    case N_CMP: {
        if (n->kind == AQ_ID)
            return cmp_result(n->op, strcmp(row->device_id, str));
        if (n->kind == AQ_PROVISIONED || n->kind == AQ_SIMULATED) {
            bool v = n->kind == AQ_PROVISIONED ? row->provisioned : row->simulated;
            return (v == n->bval) == (n->op == OP_EQ);
        }
        const cJSON *v = row->values[n->ref];
        if (v == NULL) /* a message without the value passes no comparison */
            return false;
        if (n->lit == L_NUM && cJSON_IsNumber(v))
            return cmp_result(n->op, v->valuedouble < n->num ? -1 : v->valuedouble > n->num);
        if (n->lit == L_STR && cJSON_IsString(v))
            return cmp_result(n->op, strcmp(v->valuestring, str));
        if (n->lit == L_BOOL && cJSON_IsBool(v) && n->op <= OP_NE)
            return (cJSON_IsTrue(v) == n->bval) == (n->op == OP_EQ);
        return n->op == OP_NE; /* different types: only "not equal" holds */
    }
    default:
        return false;
    }
}

bool aq_match(const struct aq_query *q, const struct aq_row *row)
{
    return q->root < 0 || eval(q, q->root, row);
}
