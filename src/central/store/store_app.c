/*
 * store_app.c - the application layer's tables (see store_app.h for the design choice).
 */
#include "central/store/store_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "central/base/log.h"
#include "central/store/store.h"

struct store_app {
    struct app *app;
    sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS app_templates(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_devices(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_tokens(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_commands(id TEXT PRIMARY KEY, device_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, data TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS app_commands_device ON app_commands(device_id, seq);"
    "CREATE TABLE IF NOT EXISTS app_raw(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT);"
    "CREATE INDEX IF NOT EXISTS app_raw_device ON app_raw(device_id, seq);"
    "CREATE TABLE IF NOT EXISTS app_dashboards(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_enrollment_groups(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_device_groups(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_jobs(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_job_devices(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    /* rules (export/rules.c): definitions, fired state per (rule, device), alerts */
    "CREATE TABLE IF NOT EXISTS app_rules(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_rule_states(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS app_alerts(id TEXT PRIMARY KEY, data TEXT NOT NULL);";
/* Telemetry is the store's view `telemetry` (store.h): the indexed telemetry_main, with
 * telemetry_device_time for store_app_series' time ranges, and the recent rows of
 * telemetry_staging; SQLite flattens the view into each query below, so every scan reads both,
 * through the indexes of telemetry_main and the row ids of the staging table. */

/* Only these names are ever spliced into SQL text. */
static bool table_ok(const char *t)
{
    return strcmp(t, "app_templates") == 0 || strcmp(t, "app_devices") == 0 ||
           strcmp(t, "app_tokens") == 0 || strcmp(t, "app_dashboards") == 0 ||
           strcmp(t, "app_enrollment_groups") == 0 || strcmp(t, "app_device_groups") == 0 ||
           strcmp(t, "app_jobs") == 0 || strcmp(t, "app_job_devices") == 0 ||
           strcmp(t, "app_rules") == 0 || strcmp(t, "app_rule_states") == 0 ||
           strcmp(t, "app_alerts") == 0;
}

int store_app_open(struct app *app, struct store_app **out)
{
    struct store_app *sa = calloc(1, sizeof *sa);
    char path[1200];
    char *err = NULL;
    *out = NULL;
    if (sa == NULL)
        return CE_NOMEM;
    sa->app = app;
    snprintf(path, sizeof path, "%s/central.db", app->cfg.data_dir);
    if (sqlite3_open_v2(path, &sa->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        log_error("appl: cannot open %s: %s", path, sa->db ? sqlite3_errmsg(sa->db) : "?");
        store_app_close(sa);
        return CE_STORE;
    }
    sqlite3_busy_timeout(sa->db, 5000);
    /* DDL once at startup on this connection (the writer thread is idle then). */
    if (sqlite3_exec(sa->db, schema, NULL, NULL, &err) != SQLITE_OK) {
        log_error("appl: cannot create tables: %s", err ? err : "?");
        sqlite3_free(err);
        store_app_close(sa);
        return CE_STORE;
    }
    *out = sa;
    return CE_OK;
}

int store_app_open_readonly(struct app *app, struct store_app **out)
{
    struct store_app *sa = calloc(1, sizeof *sa);
    char path[1200];
    *out = NULL;
    if (sa == NULL)
        return CE_NOMEM;
    sa->app = app;
    snprintf(path, sizeof path, "%s/central.db", app->cfg.data_dir);
    if (sqlite3_open_v2(path, &sa->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        log_error("appl: cannot open %s for reading: %s", path,
                  sa->db ? sqlite3_errmsg(sa->db) : "?");
        store_app_close(sa);
        return CE_STORE;
    }
    sqlite3_busy_timeout(sa->db, 5000);
    *out = sa;
    return CE_OK;
}

void store_app_set_stop(struct store_app *sa, int (*stop)(void *arg), void *arg)
{
    sqlite3_progress_handler(sa->db, 4096, stop, arg);
}

void store_app_close(struct store_app *sa)
{
    if (sa == NULL)
        return;
    if (sa->db != NULL)
        sqlite3_close(sa->db);
    free(sa);
}

static sqlite3_stmt *prepare(struct store_app *sa, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(sa->db, sql, -1, &s, NULL) != SQLITE_OK) {
        log_error("appl: %s", sqlite3_errmsg(sa->db));
        return NULL;
    }
    return s;
}

/* Calls @p fn with the (text, text) columns of each row of @p s until it stops; finalizes. */
static int each_pair(sqlite3_stmt *s, store_app_row_fn fn, void *ctx)
{
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *data = (const char *)sqlite3_column_text(s, 1);
        if (id != NULL && data != NULL && fn(ctx, id, data) != 0)
            break;
    }
    sqlite3_finalize(s);
    return CE_OK;
}

int store_app_load(struct store_app *sa, const char *table, store_app_row_fn fn, void *ctx)
{
    char sql[128];
    if (!table_ok(table))
        return CE_INVALID;
    snprintf(sql, sizeof sql, "SELECT id, data FROM %s ORDER BY rowid", table);
    sqlite3_stmt *s = prepare(sa, sql);
    return s != NULL ? each_pair(s, fn, ctx) : CE_STORE;
}

int store_app_put_sync(struct store_app *sa, const char *table, const char *id, const char *data)
{
    char sql[128];
    if (!table_ok(table))
        return CE_INVALID;
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s(id, data) VALUES(?, ?)", table);
    sqlite3_stmt *s = prepare(sa, sql);
    if (s == NULL)
        return CE_STORE;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, data, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        log_error("appl: cannot write %s %s: %s", table, id, sqlite3_errmsg(sa->db));
        return CE_STORE;
    }
    return CE_OK;
}

static void exec_queued(struct store_app *sa, const char *sql, const struct store_arg *args,
                        size_t n)
{
    if (sa->app->store == NULL || store_exec(sa->app->store, sql, args, n) != CE_OK)
        log_error("appl: cannot queue a write (%s)", sql);
}

#define ARG_TEXT(v)                      \
    {                                    \
        .type = STORE_ARG_TEXT, .s = (v) \
    }
#define ARG_INT(v)                      \
    {                                   \
        .type = STORE_ARG_INT, .i = (v) \
    }

void store_app_put(struct store_app *sa, const char *table, const char *id, const char *data)
{
    char sql[160];
    struct store_arg args[] = {ARG_TEXT(id), ARG_TEXT(data)};
    if (!table_ok(table))
        return;
    snprintf(
        sql, sizeof sql,
        "INSERT INTO %s(id, data) VALUES(?,?) ON CONFLICT(id) DO UPDATE SET data=excluded.data",
        table);
    exec_queued(sa, sql, args, 2);
}

void store_app_delete(struct store_app *sa, const char *table, const char *id)
{
    char sql[96];
    struct store_arg args[] = {ARG_TEXT(id)};
    if (!table_ok(table))
        return;
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id=?", table);
    exec_queued(sa, sql, args, 1);
}

void store_app_put_command(struct store_app *sa, const char *id, const char *device_id, int64_t seq,
                           const char *data)
{
    struct store_arg args[] = {ARG_TEXT(id), ARG_TEXT(device_id), ARG_INT(seq), ARG_TEXT(data)};
    exec_queued(sa,
                "INSERT INTO app_commands(id, device_id, seq, data) VALUES(?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET data=excluded.data",
                args, 4);
}

int store_app_load_commands(struct store_app *sa, size_t per_device, store_app_row_fn fn, void *ctx)
{
    /* The newest per_device rows of each device, oldest first. */
    sqlite3_stmt *s = prepare(sa, "SELECT device_id, data FROM (SELECT device_id, data, seq, "
                                  "row_number() OVER (PARTITION BY device_id ORDER BY seq DESC) "
                                  "AS rn FROM app_commands) WHERE rn <= ? ORDER BY seq");
    if (s == NULL)
        return CE_STORE;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)per_device);
    return each_pair(s, fn, ctx);
}

void store_app_add_raw(struct store_app *sa, const char *device_id, int64_t time_ms,
                       const char *kind, const char *data)
{
    struct store_arg args[] = {ARG_TEXT(device_id), ARG_INT(time_ms), ARG_TEXT(kind),
                               ARG_TEXT(data)};
    exec_queued(sa, "INSERT INTO app_raw(device_id, time_ms, kind, data) VALUES(?,?,?,?)", args, 4);
}

void store_app_forget_device(struct store_app *sa, const char *device_id)
{
    struct store_arg args[] = {ARG_TEXT(device_id)};
    exec_queued(sa, "DELETE FROM app_commands WHERE device_id=?", args, 1);
    exec_queued(sa, "DELETE FROM app_raw WHERE device_id=?", args, 1);
    exec_queued(sa, "DELETE FROM telemetry_main WHERE device_id=?", args, 1);
    exec_queued(sa, "DELETE FROM telemetry_staging WHERE device_id=?", args, 1);
    exec_queued(sa, "DELETE FROM app_devices WHERE id=?", args, 1);
}

static sqlite3_stmt *prepare_scan(struct store_app *sa, const char *cols, const char *table,
                                  const char *device_id, int64_t from_ms, int64_t to_ms,
                                  int64_t after_seq, bool descending, size_t limit,
                                  const char *time_col)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM %s WHERE device_id=? AND %s>=? AND %s<? AND %s ORDER BY seq %s "
             "LIMIT ?",
             cols, table, time_col, time_col,
             descending ? (after_seq > 0 ? "seq<?" : "seq>?") : "seq>?",
             descending ? "DESC" : "ASC");
    sqlite3_stmt *s = prepare(sa, sql);
    if (s == NULL)
        return NULL;
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from_ms);
    sqlite3_bind_int64(s, 3, to_ms);
    sqlite3_bind_int64(s, 4, after_seq);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)(limit > 1000000 ? 1000000 : limit));
    return s;
}

/* One row of a scan: ROW_NEXT, ROW_STOP (the caller's function said so) or ROW_SKIP (not a
 * row to count). */
enum { ROW_NEXT, ROW_STOP, ROW_SKIP };
typedef int (*scan_row_fn)(sqlite3_stmt *s, void *visit);

/* Steps @p s (NULL: prepare failed) through its rows; finalizes. Rows visited or CE_STORE. */
static long run_scan(struct store_app *sa, sqlite3_stmt *s, const char *what, scan_row_fn row,
                     void *visit)
{
    long n = 0;
    int rc;
    if (s == NULL)
        return CE_STORE;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int r = row(s, visit);
        if (r == ROW_SKIP)
            continue;
        n++;
        if (r == ROW_STOP)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        log_warn("appl: %s scan: %s", what, sqlite3_errmsg(sa->db));
    sqlite3_finalize(s);
    return n;
}

struct tel_visit {
    store_app_tel_fn fn;
    void *ctx;
};

static int tel_row(sqlite3_stmt *s, void *arg)
{
    struct tel_visit *v = arg;
    struct store_app_telemetry row = {
        .seq = sqlite3_column_int64(s, 0),
        .time_ms = sqlite3_column_int64(s, 1),
        .component = (const char *)sqlite3_column_text(s, 2),
        .props_json = (const char *)sqlite3_column_text(s, 3),
        .payload = (const char *)sqlite3_column_blob(s, 4),
        .payload_len = (size_t)sqlite3_column_bytes(s, 4),
    };
    if (row.payload == NULL)
        row.payload = "";
    return v->fn(v->ctx, &row) != 0 ? ROW_STOP : ROW_NEXT;
}

long store_app_scan_telemetry(struct store_app *sa, const char *device_id, int64_t from_ms,
                              int64_t to_ms, int64_t after_seq, bool descending, size_t limit,
                              store_app_tel_fn fn, void *ctx)
{
    struct tel_visit v = {fn, ctx};
    sqlite3_stmt *s =
        prepare_scan(sa, "seq, enqueued_ms, component, props, payload", "telemetry", device_id,
                     from_ms, to_ms, after_seq, descending, limit, "enqueued_ms");
    return run_scan(sa, s, "telemetry", tel_row, &v);
}

struct raw_visit {
    store_app_raw_fn fn;
    void *ctx;
};

static int raw_row(sqlite3_stmt *s, void *arg)
{
    struct raw_visit *v = arg;
    struct store_app_raw row = {
        .seq = sqlite3_column_int64(s, 0),
        .time_ms = sqlite3_column_int64(s, 1),
        .kind = (const char *)sqlite3_column_text(s, 2),
        .data = (const char *)sqlite3_column_text(s, 3),
    };
    if (row.kind == NULL)
        return ROW_SKIP;
    return v->fn(v->ctx, &row) != 0 ? ROW_STOP : ROW_NEXT;
}

long store_app_scan_raw(struct store_app *sa, const char *device_id, int64_t from_ms, int64_t to_ms,
                        int64_t after_seq, bool descending, size_t limit, store_app_raw_fn fn,
                        void *ctx)
{
    struct raw_visit v = {fn, ctx};
    sqlite3_stmt *s = prepare_scan(sa, "seq, time_ms, kind, data", "app_raw", device_id, from_ms,
                                   to_ms, after_seq, descending, limit, "time_ms");
    return run_scan(sa, s, "raw", raw_row, &v);
}

/* ---------------------------------------------------------------- series */

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

long store_app_series(struct store_app *sa, const char *device_id, const char *component,
                      const char *name, int64_t from_ms, int64_t to_ms, int buckets,
                      enum store_agg agg, store_app_bucket_fn fn, void *ctx)
{
    static const char *const fns[] = {"AVG", "MIN", "MAX"};
    char sql[640], path[80];
    /* the range times the bucket count must fit in 63 bits (about 290 years of ms at 5000) */
    if (!name_ok(name) || from_ms < 0 || to_ms <= from_ms || buckets < 1 ||
        buckets > STORE_SERIES_MAX_BUCKETS || (unsigned)agg > STORE_AGG_MAX ||
        to_ms - from_ms > INT64_MAX / STORE_SERIES_MAX_BUCKETS)
        return CE_INVALID;
    snprintf(path, sizeof path, "$.\"%s\"", name);
    /* json_valid first: json_extract on a payload that is not JSON would fail the whole query.
     * The payload column is a BLOB, JSON functions want text. The inner query's LIMIT -1 keeps
     * SQLite from flattening it into the aggregate (a subquery with a LIMIT is not flattened into
     * an aggregate query), which would evaluate v, the JSON work, once for each of its three uses
     * (typeof, COUNT, the aggregate) instead of once per row. */
    snprintf(sql, sizeof sql,
             "SELECT b, COUNT(v), %s(v) FROM (SELECT (enqueued_ms - ?1) * ?2 / (?3 - ?1) AS b,"
             " CASE WHEN json_valid(CAST(payload AS TEXT))"
             " THEN json_extract(CAST(payload AS TEXT), ?4) END AS v"
             " FROM telemetry WHERE device_id=?5 AND enqueued_ms>=?1 AND enqueued_ms<?3"
             " AND ifnull(component,'')=?6 LIMIT -1)"
             " WHERE typeof(v) IN ('integer','real') GROUP BY b ORDER BY b",
             fns[agg]);
    sqlite3_stmt *s = prepare(sa, sql);
    if (s == NULL)
        return CE_STORE;
    sqlite3_bind_int64(s, 1, from_ms);
    sqlite3_bind_int64(s, 2, buckets);
    sqlite3_bind_int64(s, 3, to_ms);
    sqlite3_bind_text(s, 4, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, component ? component : "", -1, SQLITE_STATIC);
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_app_bucket b = {
            .index = sqlite3_column_int64(s, 0),
            .count = sqlite3_column_int64(s, 1),
            .value = sqlite3_column_double(s, 2),
        };
        n++;
        if (fn(ctx, &b) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_warn("appl: series scan: %s", sqlite3_errmsg(sa->db));
        n = CE_STORE;
    }
    sqlite3_finalize(s);
    return n;
}
