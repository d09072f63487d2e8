/*
 * rules_eval.h - the pure part of rules (docs/API.md "Rules"): a rule's definition checked into a
 * struct, and the evaluator, a state machine per (rule, device) over the values of one telemetry
 * and the time, optionally aggregated (avg, min, max, count, sum) over a tumbling or sliding
 * window. It says when the condition becomes true (fired) and when it becomes false again
 * (cleared); a true condition that stays true fires once.
 *
 * No I/O, no clock, no allocation: times come in as arguments, the caller owns the state and
 * the sample ring of a sliding window. tests/unit/test_rules_eval.c drives it directly.
 */
#ifndef CENTRAL_RULES_EVAL_H
#define CENTRAL_RULES_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define RULE_NAME_MAX 256     /**< displayName */
#define RULE_TELEMETRY_MAX 64 /**< a DTDL name */
#define RULE_SCOPE_MAX 512    /**< a device group id or a template id */
#define RULE_ACTIONS_MAX 4    /**< webhook actions per rule */
#define RULE_WINDOW_MIN_MS 1000LL
#define RULE_WINDOW_MAX_MS (7LL * 24 * 3600 * 1000)
/** Values a sliding window keeps per device; older ones leave the window early beyond it. */
#define RULE_SLIDING_SAMPLES 4096

enum rule_op { RULE_OP_LT = 0, RULE_OP_LE, RULE_OP_GT, RULE_OP_GE, RULE_OP_EQ, RULE_OP_NE };
enum rule_agg {
    RULE_AGG_NONE = 0,
    RULE_AGG_AVG,
    RULE_AGG_MIN,
    RULE_AGG_MAX,
    RULE_AGG_COUNT,
    RULE_AGG_SUM
};
enum rule_window { RULE_WIN_TUMBLING = 0, RULE_WIN_SLIDING };

/** A rule's condition: telemetry [of component] <op> value, over a window when agg is set. */
struct rule_cond {
    char telemetry[RULE_TELEMETRY_MAX + 1];
    char component[RULE_TELEMETRY_MAX + 1]; /**< "" = the root */
    enum rule_op op;
    double value;
    enum rule_agg agg;
    enum rule_window window;
    int64_t window_ms; /**< > 0 when agg is set */
};

/** A checked rule definition (rules_check). */
struct rule_def {
    char display_name[RULE_NAME_MAX + 1];
    bool enabled;
    bool scope_group; /**< true: scope is a device group id, else a template id */
    char scope[RULE_SCOPE_MAX + 1];
    struct rule_cond cond;
    bool alert; /**< an entry in the alerts list (default true) */
    size_t n_webhooks;
    const cJSON *webhooks[RULE_ACTIONS_MAX]; /**< borrowed from the checked body */
};

/**
 * Check a rule body as PUT (or as merged by PATCH) into @p out: displayName, enabled, scope
 * ({"deviceGroup": id} or {"template": id}), condition ({telemetry, component?, operator,
 * value, aggregation?, window?, windowType?}) and actions ([{"type": "alert"} |
 * {"type": "webhook", "url", "headerCustomizations"?, "authorization"?}]). Unknown members are
 * refused. Whether the group or template exists is the caller's business.
 * @return 0, or -1 with a message naming the field ("$.condition.operator: ...") in @p err.
 */
int rules_check(const cJSON *body, struct rule_def *out, char *err, size_t err_size);

/** Parse an ISO 8601 duration of days, hours, minutes and seconds ("PT5M", "P1DT2H", "PT30S")
 * into milliseconds. @return 0 or -1. */
int rules_duration_parse(const char *s, int64_t *out_ms);

/** Text of an operator ("<", ">=", ...) and of an aggregation ("avg", ...; "" for none). */
const char *rules_op_text(enum rule_op op);
const char *rules_agg_text(enum rule_agg agg);

/** Does @p v meet the condition (op, value)? */
bool rules_compare(const struct rule_cond *c, double v);

/* ---------------------------------------------------------------- the evaluator */

struct rule_sample {
    int64_t t_ms;
    double v;
};

/** One (rule, device) state. Zero it (or rules_state_init) before the first value. */
struct rule_state {
    bool fired;
    int64_t changed_ms; /**< when it last fired or cleared (0: never) */
    bool has_value;
    double value; /**< the last value (or aggregate) the condition was evaluated on */
    /* tumbling window: the open window [win_start, win_start + window_ms) */
    bool win_open;
    int64_t win_start;
    uint64_t n;
    double sum, min, max;
    /* sliding window: the caller's ring of cap samples, oldest at head */
    struct rule_sample *ring;
    size_t cap, head, len;
};

enum rule_change { RULE_SAME = 0, RULE_FIRED, RULE_CLEARED };

/**
 * Set up @p s, fired or not as stored (@p fired, @p changed_ms), with @p ring of @p cap samples
 * for a sliding window (NULL, 0 otherwise).
 */
void rules_state_init(struct rule_state *s, bool fired, int64_t changed_ms,
                      struct rule_sample *ring, size_t cap);

/**
 * A value @p v of the condition's telemetry arrived at @p now_ms. Without aggregation it is
 * compared at once; a sliding window evaluates its aggregate over (now - window, now]; a
 * tumbling window (aligned to multiples of window_ms since the epoch) is evaluated when it
 * closes: here, when @p v belongs to a later window, or in rules_tick. Values older than the
 * open tumbling window count in it. @return what changed.
 */
enum rule_change rules_on_value(const struct rule_cond *c, struct rule_state *s, int64_t now_ms,
                                double v);

/**
 * Time passed without a value: closes a tumbling window whose end is <= @p now_ms (an empty
 * window counts 0 for "count" and "sum" and leaves the others unchanged), and drops the values
 * a sliding window no longer covers, re-evaluating its aggregate over those left (an empty
 * window: again 0 for "count" and "sum" only). Nothing for a condition without aggregation.
 * @return what changed.
 */
enum rule_change rules_tick(const struct rule_cond *c, struct rule_state *s, int64_t now_ms);

/** When rules_tick next has something to do for @p s (INT64_MAX: never). */
int64_t rules_next_tick(const struct rule_cond *c, const struct rule_state *s);

#endif /* CENTRAL_RULES_EVAL_H */
