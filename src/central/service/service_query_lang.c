/*
 * service_query_lang.c - the subset of the IoT Hub query language that service_query.c serves
 * (POST /devices/query): compile once, then match against service-view twins. Pure: no I/O.
 *
 * Supported: `SELECT * FROM devices [WHERE cond]` and `SELECT COUNT() AS name FROM devices
 * [WHERE cond]`. cond is built from comparisons `operand op operand` (op: = != <> < > <= >=),
 * IS_DEFINED(path), NOT, AND, OR and parentheses; an operand is a twin path (deviceId,
 * status, tags.a.b, properties.reported.x, ...) or a literal ('text', "text", number, true,
 * false, null). Comparisons of different types, or with an undefined path, are false.
 * Keywords are case-insensitive; paths and strings are case-sensitive.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "central/service/service_query.h"

#define Q_MAX_NODES 64

enum qkind { Q_OR, Q_AND, Q_NOT, Q_CMP, Q_DEFINED };
enum qop { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE };
enum vkind { V_PATH, V_STR, V_NUM, V_BOOL, V_NULL };

struct qval {
    enum vkind kind;
    const char *s; /* path or string text (not NUL-terminated) */
    size_t len;
    double num;
    bool b;
};

struct qnode {
    enum qkind kind;
    int a, b; /* children (OR/AND: both, NOT: a) */
    enum qop op;
    struct qval l, r;
};

struct service_query {
    char *text;    /* own copy of the query; paths and strings point into it */
    const char *p; /* parse cursor */
    const char *err;
    struct qnode nodes[Q_MAX_NODES];
    int n;
    int root;   /* -1: no WHERE */
    bool count; /* SELECT COUNT() AS alias */
    char alias[64];
};

static void skip_ws(struct service_query *q)
{
    while (*q->p == ' ' || *q->p == '\t' || *q->p == '\n' || *q->p == '\r')
        q->p++;
}

static bool is_ident_start(char ch)
{
    return isalpha((unsigned char)ch) || ch == '_' || ch == '$';
}

static bool is_ident_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '$' || ch == '-';
}

/* Consume keyword @p kw (case-insensitive, whole word). */
static bool accept_kw(struct service_query *q, const char *kw)
{
    size_t n = strlen(kw);
    skip_ws(q);
    if (strncasecmp(q->p, kw, n) != 0 || is_ident_char(q->p[n]))
        return false;
    q->p += n;
    return true;
}

static bool accept_ch(struct service_query *q, char ch)
{
    skip_ws(q);
    if (*q->p != ch)
        return false;
    q->p++;
    return true;
}

static int fail(struct service_query *q, const char *why)
{
    if (q->err == NULL)
        q->err = why;
    return -1;
}

static int new_node(struct service_query *q, enum qkind kind)
{
    if (q->n == Q_MAX_NODES)
        return fail(q, "the condition is too complex");
    memset(&q->nodes[q->n], 0, sizeof q->nodes[q->n]);
    q->nodes[q->n].kind = kind;
    return q->n++;
}

static int parse_path(struct service_query *q, struct qval *v)
{
    const char *start;
    skip_ws(q);
    start = q->p;
    for (;;) {
        if (!is_ident_start(*q->p))
            return fail(q, "expected a twin path");
        while (is_ident_char(*q->p))
            q->p++;
        if (*q->p != '.')
            break;
        q->p++;
    }
    v->kind = V_PATH;
    v->s = start;
    v->len = (size_t)(q->p - start);
    return 0;
}

static int parse_operand(struct service_query *q, struct qval *v)
{
    skip_ws(q);
    if (*q->p == '\'' || *q->p == '"') {
        char quote = *q->p++;
        const char *end = strchr(q->p, quote);
        if (end == NULL)
            return fail(q, "unterminated string literal");
        v->kind = V_STR;
        v->s = q->p;
        v->len = (size_t)(end - q->p);
        q->p = end + 1;
        return 0;
    }
    if (*q->p == '-' || *q->p == '+' || isdigit((unsigned char)*q->p)) {
        char *end = NULL;
        v->num = strtod(q->p, &end);
        if (end == q->p || is_ident_char(*end))
            return fail(q, "malformed number");
        v->kind = V_NUM;
        q->p = end;
        return 0;
    }
    if (accept_kw(q, "true")) {
        v->kind = V_BOOL;
        v->b = true;
        return 0;
    }
    if (accept_kw(q, "false")) {
        v->kind = V_BOOL;
        v->b = false;
        return 0;
    }
    if (accept_kw(q, "null")) {
        v->kind = V_NULL;
        return 0;
    }
    return parse_path(q, v);
}

static int parse_op(struct service_query *q, enum qop *op)
{
    static const struct {
        const char *text;
        enum qop op;
    } ops[] = {{"!=", OP_NE}, {"<>", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
               {"=", OP_EQ},  {"<", OP_LT},  {">", OP_GT}};
    size_t i;
    skip_ws(q);
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(q->p, ops[i].text, n) == 0) {
            q->p += n;
            *op = ops[i].op;
            return 0;
        }
    }
    return fail(q, "expected a comparison operator");
}

static int parse_or(struct service_query *q, int depth);

static int parse_factor(struct service_query *q, int depth)
{
    int id;
    if (depth > 32)
        return fail(q, "the condition is nested too deeply");
    if (accept_kw(q, "NOT")) {
        int a = parse_factor(q, depth + 1);
        if (a < 0 || (id = new_node(q, Q_NOT)) < 0)
            return -1;
        q->nodes[id].a = a;
        return id;
    }
    if (accept_ch(q, '(')) {
        id = parse_or(q, depth + 1);
        if (id < 0)
            return -1;
        return accept_ch(q, ')') ? id : fail(q, "expected ')'");
    }
    if (accept_kw(q, "IS_DEFINED")) {
        if (!accept_ch(q, '(') || (id = new_node(q, Q_DEFINED)) < 0 ||
            parse_path(q, &q->nodes[id].l) < 0 || !accept_ch(q, ')'))
            return fail(q, "expected IS_DEFINED(path)");
        return id;
    }
    id = new_node(q, Q_CMP);
    if (id < 0 || parse_operand(q, &q->nodes[id].l) < 0 || parse_op(q, &q->nodes[id].op) < 0 ||
        parse_operand(q, &q->nodes[id].r) < 0)
        return -1;
    return id;
}

static int parse_binary(struct service_query *q, int depth, enum qkind kind)
{
    int left = kind == Q_OR ? parse_binary(q, depth, Q_AND) : parse_factor(q, depth);
    while (left >= 0 && accept_kw(q, kind == Q_OR ? "OR" : "AND")) {
        int right = kind == Q_OR ? parse_binary(q, depth, Q_AND) : parse_factor(q, depth);
        int id = right < 0 ? -1 : new_node(q, kind);
        if (id < 0)
            return -1;
        q->nodes[id].a = left;
        q->nodes[id].b = right;
        left = id;
    }
    return left;
}

static int parse_or(struct service_query *q, int depth)
{
    return parse_binary(q, depth, Q_OR);
}

static int parse_select(struct service_query *q)
{
    if (!accept_kw(q, "SELECT"))
        return fail(q, "the query must start with SELECT");
    if (accept_kw(q, "COUNT")) {
        const char *start;
        size_t n;
        if (!accept_ch(q, '(') || !accept_ch(q, ')') || !accept_kw(q, "AS"))
            return fail(q, "expected COUNT() AS name");
        skip_ws(q);
        start = q->p;
        while (is_ident_char(*q->p))
            q->p++;
        n = (size_t)(q->p - start);
        if (n == 0 || n >= sizeof q->alias || !is_ident_start(*start))
            return fail(q, "expected a name after COUNT() AS");
        memcpy(q->alias, start, n);
        q->alias[n] = '\0';
        q->count = true;
    } else if (!accept_ch(q, '*')) {
        return fail(q, "only SELECT * and SELECT COUNT() AS name are supported");
    }
    if (!accept_kw(q, "FROM") || !accept_kw(q, "devices"))
        return fail(q, "only FROM devices is supported");
    q->root = -1;
    if (accept_kw(q, "WHERE")) {
        q->root = parse_or(q, 0);
        if (q->root < 0)
            return -1;
    }
    skip_ws(q);
    return *q->p == '\0' ? 0 : fail(q, "unexpected text after the query");
}

/* Resolve a dotted path in the twin; NULL when undefined. */
static const cJSON *resolve(const cJSON *twin, const struct qval *v)
{
    const cJSON *cur = twin;
    size_t i = 0;
    while (cur != NULL && i < v->len) {
        char name[128];
        size_t j = i;
        while (j < v->len && v->s[j] != '.')
            j++;
        if (j - i >= sizeof name || !cJSON_IsObject(cur))
            return NULL;
        memcpy(name, v->s + i, j - i);
        name[j - i] = '\0';
        cur = cJSON_GetObjectItemCaseSensitive(cur, name);
        i = j + 1;
    }
    return cur;
}

static bool cmp_result(int c, enum qop op)
{
    switch (op) {
    case OP_EQ:
        return c == 0;
    case OP_NE:
        return c != 0;
    case OP_LT:
        return c < 0;
    case OP_GT:
        return c > 0;
    case OP_LE:
        return c <= 0;
    case OP_GE:
        return c >= 0;
    }
    return false;
}

/* Bring an operand to a comparable literal form; false when undefined or not a scalar. */
static bool operand_value(const cJSON *twin, const struct qval *in, struct qval *out)
{
    const cJSON *j;
    if (in->kind != V_PATH) {
        *out = *in;
        return true;
    }
    j = resolve(twin, in);
    memset(out, 0, sizeof *out);
    if (cJSON_IsString(j)) {
        out->kind = V_STR;
        out->s = j->valuestring;
        out->len = strlen(j->valuestring);
    } else if (cJSON_IsNumber(j)) {
        out->kind = V_NUM;
        out->num = j->valuedouble;
    } else if (cJSON_IsBool(j)) {
        out->kind = V_BOOL;
        out->b = cJSON_IsTrue(j);
    } else if (cJSON_IsNull(j)) {
        out->kind = V_NULL;
    } else {
        return false;
    }
    return true;
}

static bool eval_cmp(const cJSON *twin, const struct qnode *nd)
{
    struct qval l, r;
    int c;
    if (!operand_value(twin, &nd->l, &l) || !operand_value(twin, &nd->r, &r) || l.kind != r.kind)
        return false;
    switch (l.kind) {
    case V_STR:
        c = memcmp(l.s, r.s, l.len < r.len ? l.len : r.len);
        if (c == 0)
            c = l.len < r.len ? -1 : l.len > r.len ? 1 : 0;
        return cmp_result(c, nd->op);
    case V_NUM:
        return cmp_result(l.num < r.num ? -1 : l.num > r.num ? 1 : 0, nd->op);
    case V_BOOL:
    case V_NULL:
        c = l.kind == V_BOOL && l.b != r.b;
        return (nd->op == OP_EQ || nd->op == OP_NE) && cmp_result(c, nd->op);
    default:
        return false;
    }
}

static bool eval(const struct service_query *q, int id, const cJSON *twin)
{
    const struct qnode *nd = &q->nodes[id];
    switch (nd->kind) {
    case Q_OR:
        return eval(q, nd->a, twin) || eval(q, nd->b, twin);
    case Q_AND:
        return eval(q, nd->a, twin) && eval(q, nd->b, twin);
    case Q_NOT:
        return !eval(q, nd->a, twin);
    case Q_DEFINED:
        return resolve(twin, &nd->l) != NULL;
    case Q_CMP:
        return eval_cmp(twin, nd);
    }
    return false;
}

int service_query_compile(const char *text, struct service_query **out, const char **out_err,
                          size_t *out_pos)
{
    struct service_query *q = calloc(1, sizeof *q);
    *out = NULL;
    *out_err = NULL;
    *out_pos = 0;
    if (q == NULL || (q->text = strdup(text)) == NULL) {
        free(q);
        *out_err = "out of memory";
        return CE_NOMEM;
    }
    q->p = q->text;
    if (parse_select(q) < 0) {
        *out_err = q->err != NULL ? q->err : "malformed query";
        *out_pos = (size_t)(q->p - q->text);
        service_query_free(q);
        return CE_INVALID;
    }
    *out = q;
    return CE_OK;
}

bool service_query_match(const struct service_query *q, const cJSON *twin)
{
    return q->root < 0 || eval(q, q->root, twin);
}

const char *service_query_count_alias(const struct service_query *q)
{
    return q->count ? q->alias : NULL;
}

void service_query_free(struct service_query *q)
{
    if (q == NULL)
        return;
    free(q->text);
    free(q);
}
