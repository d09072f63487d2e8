/*
 * appl_query.h - POST /api/query (IoT Central api-version 2022-10-31-preview): the telemetry
 * subset of its SQL-like language, compiled by a pure parser (appl_query_lang.c) and run over
 * the stored telemetry (appl_query.c).
 *
 *   SELECT [TOP n] item [AS alias], ... FROM templateId
 *     [WHERE cond {AND|OR} cond ...] [ORDER BY key [ASC|DESC]]
 *   item: $id | $ts | $provisioned | $simulated | telemetry | component.telemetry
 *   cond: WITHIN_WINDOW(P1D | PT10M | P2DT12H | P1W | '2021-06-13T13:00:00Z/2021-06-13T15:30:00Z')
 *         (in the top-level AND only) | ref op literal | ref IN ['a', 'b']
 *   op: = != <> > < >= <=;  literal: number, 'string' or "string", true, false
 *   key: $ts | $id | a telemetry item or alias
 *
 * Refused with a message naming the part: aggregations and GROUP BY, '*', property queries,
 * parentheses, more than 15 items or 10 logical operators, texts over 350 characters.
 */
#ifndef CENTRAL_APPL_QUERY_H
#define CENTRAL_APPL_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define AQ_TEXT_MAX 350 /* IoT Central's limit on the query string */
#define AQ_MAX_ITEMS 15
#define AQ_MAX_LOGICAL 10
#define AQ_MAX_REFS 24  /* distinct telemetry names a query mentions */
#define AQ_MAX_NODES 48 /* conditions + and/or */
#define AQ_MAX_RESULTS 10000
#define AQ_NAME_MAX 64

enum aq_ref_kind { AQ_ID = 0, AQ_TS, AQ_PROVISIONED, AQ_SIMULATED, AQ_TELEMETRY };

/** A telemetry value a query reads: component ("" for the root) and name. */
struct aq_ref {
    char component[AQ_NAME_MAX + 1];
    char name[AQ_NAME_MAX + 1];
};

struct aq_item {
    uint8_t kind;                    /* enum aq_ref_kind */
    uint8_t ref;                     /* AQ_TELEMETRY: index into refs */
    char label[2 * AQ_NAME_MAX + 2]; /* the key in the results: the alias, or what was selected */
};

struct aq_node {
    uint8_t type; /* enum in appl_query_lang.c */
    uint8_t kind; /* enum aq_ref_kind of the left side */
    uint8_t ref;
    uint8_t op;
    uint8_t lit; /* literal type */
    bool bval;
    double num;
    uint16_t str_off, str_len, n_list; /* strings (IN: n_list of them back to back) */
    int8_t left, right;
};

struct aq_query {
    struct aq_item items[AQ_MAX_ITEMS];
    size_t n_items;
    struct aq_ref refs[AQ_MAX_REFS];
    size_t n_refs;
    char from[513]; /* the device template id */
    struct aq_node nodes[AQ_MAX_NODES];
    size_t n_nodes;
    int root; /* -1: no condition */
    char strings[AQ_TEXT_MAX + 1];
    size_t strings_len;
    /* WITHIN_WINDOW: a duration back from now, or an absolute range */
    bool has_window, window_absolute;
    int64_t window_ms, from_ms, to_ms;
    /* ORDER BY */
    bool has_order, desc;
    uint8_t order_kind, order_ref;
    size_t top; /* AQ_MAX_RESULTS when absent */
};

/**
 * Compile @p text. @return 0, or -1 with a message in @p err naming the refused part.
 * @p q is large (a few KiB): keep it off small stacks.
 */
int aq_parse(struct aq_query *q, const char *text, size_t len, char *err, size_t err_size);

/** One telemetry message as a query sees it. values[i] is refs[i]'s value or NULL (borrowed). */
struct aq_row {
    const char *device_id;
    int64_t time_ms;
    bool provisioned, simulated;
    const cJSON *values[AQ_MAX_REFS];
};

/** True when @p row passes the WHERE conditions (the window is applied by the scan). */
bool aq_match(const struct aq_query *q, const struct aq_row *row);

struct appl;
struct appl_error;
struct store_app;

/** A device the query visits, copied from the application (the scan may run on another thread). */
struct aq_device {
    char *id;
    bool provisioned, simulated;
};

/** A query ready to scan: everything it needs, owned, nothing of the loop thread's state. */
struct aq_plan {
    struct aq_query q;
    int64_t from, to; /* the window, ms */
    struct aq_device *devs;
    size_t n_devs;
    cJSON *out; /* appl_query_scan's result: {"results":[...]} */
};

/**
 * Loop thread: check the query against its template (every name telemetry of it) and copy what
 * the scan needs (the window from @p now_ms, the template's devices).
 * @return CE_OK with *out (appl_query_plan_free), CE_NOTFOUND (no such template), CE_INVALID
 * (@p err says why) or CE_NOMEM.
 */
int appl_query_plan(struct appl *a, const struct aq_query *q, int64_t now_ms, struct aq_plan **out,
                    struct appl_error *err);

/**
 * Any thread, with a store handle of that thread (a reader's, store_read.h): scan the stored
 * telemetry of the plan's devices, keep the matching rows, order, cut at TOP into p->out.
 * @return CE_OK, CE_STORE or CE_NOMEM.
 */
int appl_query_scan(struct store_app *sa, struct aq_plan *p);

void appl_query_plan_free(struct aq_plan *p);

#endif /* CENTRAL_APPL_QUERY_H */
