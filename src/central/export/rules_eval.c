/*
 * rules_eval.c - rule definitions checked into structs, and the per-(rule, device) evaluator:
 * fired/cleared transitions over values and time given as arguments (rules_eval.h).
 */
#include "central/export/rules_eval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "central/export/export_fmt.h"

/* ---------------------------------------------------------------- definitions */

static const char *const op_texts[] = {"<", "<=", ">", ">=", "==", "!="};
static const char *const agg_texts[] = {"", "avg", "min", "max", "count", "sum"};

const char *rules_op_text(enum rule_op op)
{
    return (size_t)op < sizeof op_texts / sizeof op_texts[0] ? op_texts[op] : "?";
}

const char *rules_agg_text(enum rule_agg agg)
{
    return (size_t)agg < sizeof agg_texts / sizeof agg_texts[0] ? agg_texts[agg] : "?";
}

static int refuse(char *err, size_t size, const char *msg)
{
    snprintf(err, size, "%s", msg);
    return -1;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RULE_TELEMETRY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              (i > 0 && ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

/* Unknown members of @p o are refused, naming them under @p path. */
static int only_known(const cJSON *o, const char *path, const char *const *known, size_t n,
                      char *err, size_t size)
{
    for (const cJSON *it = o->child; it != NULL; it = it->next) {
        size_t k;
        for (k = 0; k < n; k++) {
            if (strcmp(it->string, known[k]) == 0)
                break;
        }
        if (k == n) {
            snprintf(err, size, "%s.%s: unknown field.", path, it->string);
            return -1;
        }
    }
    return 0;
}

int rules_duration_parse(const char *s, int64_t *out_ms)
{
    if (s == NULL || s[0] != 'P' || s[1] == '\0')
        return -1;
    const char *p = s + 1;
    bool in_time = false, any = false;
    int64_t total = 0;
    while (*p != '\0') {
        if (*p == 'T') {
            if (in_time || p[1] == '\0')
                return -1;
            in_time = true;
            p++;
            continue;
        }
        int64_t n = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            n = n * 10 + (*p - '0');
            if (n > 1000000000)
                return -1;
            p++;
        }
        if (p == start)
            return -1;
        int64_t unit;
        if (!in_time && *p == 'D')
            unit = 86400000;
        else if (in_time && *p == 'H')
            unit = 3600000;
        else if (in_time && *p == 'M')
            unit = 60000;
        else if (in_time && *p == 'S')
            unit = 1000;
        else
            return -1;
        total += n * unit;
        any = true;
        p++;
    }
    if (!any)
        return -1;
    *out_ms = total;
    return 0;
}

static int check_scope(const cJSON *scope, struct rule_def *out, char *err, size_t size)
{
    static const char *const known[] = {"deviceGroup", "template"};
    if (!cJSON_IsObject(scope))
        return refuse(
            err, size,
            "$.scope: required, {\"deviceGroup\": \"id\"} or {\"template\": \"dtmi:...\"}.");
    if (only_known(scope, "$.scope", known, 2, err, size) < 0)
        return -1;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(scope, "deviceGroup");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(scope, "template");
    if ((g == NULL) == (t == NULL))
        return refuse(err, size, "$.scope: give exactly one of deviceGroup and template.");
    const cJSON *v = g != NULL ? g : t;
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > RULE_SCOPE_MAX)
        return refuse(err, size,
                      g != NULL ? "$.scope.deviceGroup: expected a device group id."
                                : "$.scope.template: expected a device template id.");
    out->scope_group = g != NULL;
    snprintf(out->scope, sizeof out->scope, "%s", v->valuestring);
    return 0;
}

static int check_condition(const cJSON *c, struct rule_cond *out, char *err, size_t size)
{
    static const char *const known[] = {"telemetry",   "component", "operator",  "value",
                                        "aggregation", "window",    "windowType"};
    if (!cJSON_IsObject(c))
        return refuse(err, size,
                      "$.condition: required, {\"telemetry\", \"operator\", \"value\"}.");
    if (only_known(c, "$.condition", known, sizeof known / sizeof known[0], err, size) < 0)
        return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "telemetry");
    if (!cJSON_IsString(v) || !name_ok(v->valuestring))
        return refuse(err, size,
                      "$.condition.telemetry: required, a telemetry name (letters, "
                      "digits and _).");
    snprintf(out->telemetry, sizeof out->telemetry, "%s", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(c, "component");
    out->component[0] = '\0';
    if (v != NULL) {
        if (!cJSON_IsString(v) || !name_ok(v->valuestring))
            return refuse(err, size, "$.condition.component: expected a component name.");
        snprintf(out->component, sizeof out->component, "%s", v->valuestring);
    }
    v = cJSON_GetObjectItemCaseSensitive(c, "operator");
    size_t k = 0;
    if (cJSON_IsString(v)) {
        for (k = 0; k < sizeof op_texts / sizeof op_texts[0]; k++) {
            if (strcmp(v->valuestring, op_texts[k]) == 0)
                break;
        }
    }
    if (!cJSON_IsString(v) || k == sizeof op_texts / sizeof op_texts[0])
        return refuse(err, size, "$.condition.operator: required, one of <, <=, >, >=, ==, !=.");
    out->op = (enum rule_op)k;
    v = cJSON_GetObjectItemCaseSensitive(c, "value");
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return refuse(err, size, "$.condition.value: required, a number.");
    out->value = v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(c, "aggregation");
    out->agg = RULE_AGG_NONE;
    if (v != NULL && !cJSON_IsNull(v)) {
        for (k = 1; k < sizeof agg_texts / sizeof agg_texts[0]; k++) {
            if (cJSON_IsString(v) && strcmp(v->valuestring, agg_texts[k]) == 0)
                break;
        }
        if (k == sizeof agg_texts / sizeof agg_texts[0])
            return refuse(err, size, "$.condition.aggregation: one of avg, min, max, count, sum.");
        out->agg = (enum rule_agg)k;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(c, "window");
    const cJSON *wt = cJSON_GetObjectItemCaseSensitive(c, "windowType");
    out->window_ms = 0;
    out->window = RULE_WIN_TUMBLING;
    if (out->agg == RULE_AGG_NONE) {
        if ((w != NULL && !cJSON_IsNull(w)) || (wt != NULL && !cJSON_IsNull(wt)))
            return refuse(err, size,
                          "$.condition.window: a window needs an aggregation (avg, min, max, "
                          "count, sum).");
        return 0;
    }
    if (!cJSON_IsString(w) || rules_duration_parse(w->valuestring, &out->window_ms) < 0 ||
        out->window_ms < RULE_WINDOW_MIN_MS || out->window_ms > RULE_WINDOW_MAX_MS)
        return refuse(err, size,
                      "$.condition.window: required with an aggregation, an ISO 8601 duration "
                      "from PT1S to P7D such as PT5M.");
    if (wt != NULL && !cJSON_IsNull(wt)) {
        if (cJSON_IsString(wt) && strcmp(wt->valuestring, "tumbling") == 0)
            out->window = RULE_WIN_TUMBLING;
        else if (cJSON_IsString(wt) && strcmp(wt->valuestring, "sliding") == 0)
            out->window = RULE_WIN_SLIDING;
        else
            return refuse(err, size, "$.condition.windowType: tumbling or sliding.");
    }
    return 0;
}

static int check_actions(const cJSON *acts, struct rule_def *out, char *err, size_t size)
{
    out->alert = true;
    out->n_webhooks = 0;
    if (acts == NULL || cJSON_IsNull(acts))
        return 0;
    if (!cJSON_IsArray(acts))
        return refuse(err, size, "$.actions: expected an array of actions.");
    out->alert = false;
    size_t i = 0;
    for (const cJSON *a = acts->child; a != NULL; a = a->next, i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "type");
        if (!cJSON_IsObject(a) || !cJSON_IsString(t)) {
            snprintf(err, size, "$.actions[%zu].type: required, \"alert\" or \"webhook\".", i);
            return -1;
        }
        if (strcmp(t->valuestring, "alert") == 0) {
            if (a->child->next != NULL) {
                snprintf(err, size, "$.actions[%zu]: an alert action has no other field.", i);
                return -1;
            }
            out->alert = true;
            continue;
        }
        if (strcmp(t->valuestring, "webhook") != 0) {
            snprintf(err, size, "$.actions[%zu].type: \"alert\" or \"webhook\".", i);
            return -1;
        }
        static const char *const known[] = {"type", "url", "headerCustomizations", "authorization"};
        char path[32];
        snprintf(path, sizeof path, "$.actions[%zu]", i);
        if (only_known(a, path, known, 4, err, size) < 0)
            return -1;
        /* the same checks as an export's webhook destination: one sender, one definition */
        cJSON *dest = cJSON_Duplicate(a, true);
        if (dest == NULL)
            return refuse(err, size, "out of memory");
        cJSON_ReplaceItemInObjectCaseSensitive(dest, "type", cJSON_CreateString("webhook@v1"));
        cJSON_AddStringToObject(dest, "displayName", "rule action");
        /* unlike an export's, a rule's webhook may go without an Authorization header */
        if (cJSON_GetObjectItemCaseSensitive(a, "authorization") == NULL) {
            cJSON *au = cJSON_AddObjectToObject(dest, "authorization");
            cJSON_AddStringToObject(au, "type", "header");
            cJSON_AddStringToObject(au, "value", "-");
        }
        char why[300];
        int rc = export_check_destination(dest, why, sizeof why);
        cJSON_Delete(dest);
        if (rc < 0) {
            snprintf(err, size, "$.actions[%zu].%s", i, why);
            return -1;
        }
        if (out->n_webhooks == RULE_ACTIONS_MAX) {
            snprintf(err, size, "$.actions: at most %d webhook actions.", RULE_ACTIONS_MAX);
            return -1;
        }
        out->webhooks[out->n_webhooks++] = a;
    }
    return 0;
}

int rules_check(const cJSON *body, struct rule_def *out, char *err, size_t err_size)
{
    static const char *const known[] = {"displayName", "enabled", "scope", "condition", "actions"};
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(body))
        return refuse(err, err_size, "$: expected a rule object.");
    if (only_known(body, "$", known, sizeof known / sizeof known[0], err, err_size) < 0)
        return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "displayName");
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > RULE_NAME_MAX)
        return refuse(err, err_size, "$.displayName: required, a string of 1 to 256 characters.");
    snprintf(out->display_name, sizeof out->display_name, "%s", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(body, "enabled");
    if (v != NULL && !cJSON_IsBool(v))
        return refuse(err, err_size, "$.enabled: expected true or false.");
    out->enabled = v == NULL || cJSON_IsTrue(v);
    if (check_scope(cJSON_GetObjectItemCaseSensitive(body, "scope"), out, err, err_size) < 0 ||
        check_condition(cJSON_GetObjectItemCaseSensitive(body, "condition"), &out->cond, err,
                        err_size) < 0 ||
        check_actions(cJSON_GetObjectItemCaseSensitive(body, "actions"), out, err, err_size) < 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- the evaluator */

bool rules_compare(const struct rule_cond *c, double v)
{
    switch (c->op) {
    case RULE_OP_LT:
        return v < c->value;
    case RULE_OP_LE:
        return v <= c->value;
    case RULE_OP_GT:
        return v > c->value;
    case RULE_OP_GE:
        return v >= c->value;
    case RULE_OP_EQ:
        return v == c->value;
    case RULE_OP_NE:
        return v != c->value;
    }
    return false;
}

void rules_state_init(struct rule_state *s, bool fired, int64_t changed_ms,
                      struct rule_sample *ring, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->fired = fired;
    s->changed_ms = changed_ms;
    s->ring = ring;
    s->cap = cap;
}

static enum rule_change decide(const struct rule_cond *c, struct rule_state *s, int64_t now_ms,
                               double v)
{
    s->has_value = true;
    s->value = v;
    bool hold = rules_compare(c, v);
    if (hold == s->fired)
        return RULE_SAME;
    s->fired = hold;
    s->changed_ms = now_ms;
    return hold ? RULE_FIRED : RULE_CLEARED;
}

static int64_t floor_to(int64_t t, int64_t w)
{
    int64_t q = t / w;
    if (t % w != 0 && t < 0)
        q--;
    return q * w;
}

/* The aggregate of the tumbling window's n values (n may be 0 only for count and sum). */
static double win_value(const struct rule_cond *c, const struct rule_state *s)
{
    switch (c->agg) {
    case RULE_AGG_AVG:
        return s->sum / (double)s->n;
    case RULE_AGG_MIN:
        return s->min;
    case RULE_AGG_MAX:
        return s->max;
    case RULE_AGG_COUNT:
        return (double)s->n;
    case RULE_AGG_SUM:
    case RULE_AGG_NONE:
        break;
    }
    return s->sum;
}

static void win_add(struct rule_state *s, double v)
{
    if (s->n == 0 || v < s->min)
        s->min = v;
    if (s->n == 0 || v > s->max)
        s->max = v;
    s->n++;
    s->sum += v;
}

/* Close the open tumbling window (evaluating it when it has data, or for count/sum) and open
 * the one that holds @p now_ms. */
static enum rule_change win_close(const struct rule_cond *c, struct rule_state *s, int64_t now_ms)
{
    enum rule_change ch = RULE_SAME;
    int64_t end = s->win_start + c->window_ms;
    if (s->n > 0 || c->agg == RULE_AGG_COUNT || c->agg == RULE_AGG_SUM)
        ch = decide(c, s, end, win_value(c, s));
    s->win_start = floor_to(now_ms, c->window_ms);
    s->n = 0;
    s->sum = s->min = s->max = 0;
    return ch;
}

/* Sliding: drop what (now - window, now] no longer covers. */
static void ring_evict(const struct rule_cond *c, struct rule_state *s, int64_t now_ms)
{
    while (s->len > 0 && s->ring[s->head].t_ms <= now_ms - c->window_ms) {
        s->head = (s->head + 1) % s->cap;
        s->len--;
    }
}

static double ring_value(const struct rule_cond *c, const struct rule_state *s)
{
    double sum = 0, mn = 0, mx = 0;
    for (size_t i = 0; i < s->len; i++) {
        double v = s->ring[(s->head + i) % s->cap].v;
        if (i == 0 || v < mn)
            mn = v;
        if (i == 0 || v > mx)
            mx = v;
        sum += v;
    }
    switch (c->agg) {
    case RULE_AGG_AVG:
        return s->len > 0 ? sum / (double)s->len : 0;
    case RULE_AGG_MIN:
        return mn;
    case RULE_AGG_MAX:
        return mx;
    case RULE_AGG_COUNT:
        return (double)s->len;
    case RULE_AGG_SUM:
    case RULE_AGG_NONE:
        break;
    }
    return sum;
}

enum rule_change rules_on_value(const struct rule_cond *c, struct rule_state *s, int64_t now_ms,
                                double v)
{
    if (!isfinite(v))
        return RULE_SAME;
    if (c->agg == RULE_AGG_NONE)
        return decide(c, s, now_ms, v);
    if (c->window == RULE_WIN_SLIDING) {
        if (s->cap == 0)
            return RULE_SAME;
        ring_evict(c, s, now_ms);
        if (s->len == s->cap) { /* full: the oldest leaves early */
            s->head = (s->head + 1) % s->cap;
            s->len--;
        }
        s->ring[(s->head + s->len) % s->cap] = (struct rule_sample){now_ms, v};
        s->len++;
        return decide(c, s, now_ms, ring_value(c, s));
    }
    enum rule_change ch = RULE_SAME;
    if (!s->win_open) {
        s->win_open = true;
        s->win_start = floor_to(now_ms, c->window_ms);
    } else if (now_ms >= s->win_start + c->window_ms) {
        ch = win_close(c, s, now_ms);
    }
    win_add(s, v);
    return ch;
}

enum rule_change rules_tick(const struct rule_cond *c, struct rule_state *s, int64_t now_ms)
{
    if (c->agg == RULE_AGG_NONE)
        return RULE_SAME;
    if (c->window == RULE_WIN_SLIDING) {
        size_t before = s->len;
        ring_evict(c, s, now_ms);
        if (s->len == before)
            return RULE_SAME;
        if (s->len == 0 && c->agg != RULE_AGG_COUNT && c->agg != RULE_AGG_SUM)
            return RULE_SAME;
        return decide(c, s, now_ms, ring_value(c, s));
    }
    if (!s->win_open || now_ms < s->win_start + c->window_ms)
        return RULE_SAME;
    return win_close(c, s, now_ms);
}

int64_t rules_next_tick(const struct rule_cond *c, const struct rule_state *s)
{
    if (c->agg == RULE_AGG_NONE)
        return INT64_MAX;
    if (c->window == RULE_WIN_SLIDING)
        return s->len > 0 ? s->ring[s->head].t_ms + c->window_ms : INT64_MAX;
    return s->win_open ? s->win_start + c->window_ms : INT64_MAX;
}
