/*
 * store_export.c - the data export tables and the reads of an export's source (store_export.h).
 */
#include "central/store/store_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "central/base/log.h"
#include "central/store/store.h"

/* Each table in its own statement, created if missing: no existing table changes. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS export_events(seq INTEGER PRIMARY KEY, source TEXT NOT NULL,"
    " type TEXT NOT NULL, device_id TEXT NOT NULL, template_id TEXT, time_ms INTEGER NOT NULL,"
    " data TEXT);"
    "CREATE INDEX IF NOT EXISTS export_events_source ON export_events(source, seq);"
    "CREATE TABLE IF NOT EXISTS export_defs(kind TEXT NOT NULL, id TEXT NOT NULL,"
    " data TEXT NOT NULL, PRIMARY KEY(kind, id));"
    "CREATE TABLE IF NOT EXISTS export_cursors(export_id TEXT NOT NULL, dest_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, PRIMARY KEY(export_id, dest_id));";

enum { Q_TEL, Q_EV, Q_TAIL_TEL, Q_TAIL_EV, Q_LAG_TEL, Q_LAG_EV, Q_DEVICE, Q_COUNT };

static const char *const q_sql[Q_COUNT] = {
    "SELECT seq, device_id, enqueued_ms, component, props, payload, NULL, NULL FROM telemetry"
    " WHERE seq > ?1 ORDER BY seq LIMIT ?3",
    "SELECT seq, device_id, time_ms, NULL, NULL, data, type, template_id FROM export_events"
    " WHERE source = ?2 AND seq > ?1 ORDER BY seq LIMIT ?3",
    /* an aggregate over the view would read every row: each table's last row id instead */
    ("SELECT MAX(COALESCE((SELECT MAX(seq) FROM telemetry_main), 0),"
     " COALESCE((SELECT MAX(seq) FROM telemetry_staging), 0))"),
    "SELECT COALESCE(MAX(seq), 0) FROM export_events WHERE source = ?1",
    "SELECT COUNT(*), MIN(enqueued_ms) FROM telemetry WHERE seq > ?1",
    "SELECT COUNT(*), MIN(time_ms) FROM export_events WHERE source = ?2 AND seq > ?1",
    "SELECT COUNT(*) FROM telemetry WHERE device_id = ?1 AND seq > ?2",
};

struct store_export {
    struct app *app;
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
};

void store_export_close(struct store_export *se)
{
    if (se == NULL)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(se->q[i]);
    if (se->db != NULL)
        sqlite3_close(se->db);
    free(se);
}

int store_export_open(struct app *app, struct store_export **out)
{
    struct store_export *se = calloc(1, sizeof *se);
    char path[1200];
    char *err = NULL;
    *out = NULL;
    if (se == NULL)
        return CE_NOMEM;
    se->app = app;
    snprintf(path, sizeof path, "%s/central.db", app->cfg.data_dir);
    if (sqlite3_open_v2(path, &se->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        log_error("export: cannot open %s: %s", path, se->db ? sqlite3_errmsg(se->db) : "?");
        store_export_close(se);
        return CE_STORE;
    }
    sqlite3_busy_timeout(se->db, 5000);
    if (sqlite3_exec(se->db, schema, NULL, NULL, &err) != SQLITE_OK) {
        log_error("export: cannot create tables: %s", err ? err : "?");
        sqlite3_free(err);
        store_export_close(se);
        return CE_STORE;
    }
    for (int i = 0; i < Q_COUNT; i++) {
        if (sqlite3_prepare_v3(se->db, q_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &se->q[i], NULL) !=
            SQLITE_OK) {
            log_error("export: %s", sqlite3_errmsg(se->db));
            store_export_close(se);
            return CE_STORE;
        }
    }
    *out = se;
    return CE_OK;
}

int store_export_load_defs(struct store_export *se, store_export_def_fn fn, void *ctx)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(se->db, "SELECT kind, id, data FROM export_defs ORDER BY rowid", -1, &s,
                           NULL) != SQLITE_OK)
        return CE_STORE;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        const char *id = (const char *)sqlite3_column_text(s, 1);
        const char *d = (const char *)sqlite3_column_text(s, 2);
        if (k != NULL && id != NULL && d != NULL && fn(ctx, k, id, d) != 0)
            break;
    }
    sqlite3_finalize(s);
    return CE_OK;
}

int store_export_load_cursors(struct store_export *se, store_export_cursor_fn fn, void *ctx)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(se->db, "SELECT export_id, dest_id, seq FROM export_cursors", -1, &s,
                           NULL) != SQLITE_OK)
        return CE_STORE;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *e = (const char *)sqlite3_column_text(s, 0);
        const char *d = (const char *)sqlite3_column_text(s, 1);
        if (e != NULL && d != NULL && fn(ctx, e, d, sqlite3_column_int64(s, 2)) != 0)
            break;
    }
    sqlite3_finalize(s);
    return CE_OK;
}

#define TEXT(v)                          \
    {                                    \
        .type = STORE_ARG_TEXT, .s = (v) \
    }
#define INT(v)                          \
    {                                   \
        .type = STORE_ARG_INT, .i = (v) \
    }

static int queue(struct store_export *se, const char *sql, const struct store_arg *a, size_t n)
{
    if (se->app->store == NULL)
        return CE_STORE;
    return store_exec(se->app->store, sql, a, n);
}

int store_export_put_def(struct store_export *se, const char *kind, const char *id,
                         const char *data)
{
    const struct store_arg a[] = {TEXT(kind), TEXT(id), TEXT(data)};
    return queue(se,
                 "INSERT INTO export_defs(kind, id, data) VALUES(?,?,?)"
                 " ON CONFLICT(kind, id) DO UPDATE SET data=excluded.data",
                 a, 3);
}

int store_export_delete_def(struct store_export *se, const char *kind, const char *id)
{
    const struct store_arg a[] = {TEXT(kind), TEXT(id)};
    return queue(se, "DELETE FROM export_defs WHERE kind=? AND id=?", a, 2);
}

int store_export_put_cursor(struct store_export *se, const char *export_id, const char *dest_id,
                            int64_t seq)
{
    const struct store_arg a[] = {TEXT(export_id), TEXT(dest_id), INT(seq)};
    return queue(se,
                 "INSERT INTO export_cursors(export_id, dest_id, seq) VALUES(?,?,?)"
                 " ON CONFLICT(export_id, dest_id) DO UPDATE SET seq=excluded.seq",
                 a, 3);
}

int store_export_delete_cursors(struct store_export *se, const char *export_id, const char *dest_id)
{
    const struct store_arg a[] = {TEXT(export_id), TEXT(dest_id)};
    if (dest_id == NULL)
        return queue(se, "DELETE FROM export_cursors WHERE export_id=?", a, 1);
    return queue(se, "DELETE FROM export_cursors WHERE export_id=? AND dest_id=?", a, 2);
}

int store_export_add_event(struct store_export *se, const char *source, const char *type,
                           const char *device_id, const char *template_id, int64_t time_ms,
                           const char *data)
{
    const struct store_arg a[] = {TEXT(source),      TEXT(type),   TEXT(device_id),
                                  TEXT(template_id), INT(time_ms), TEXT(data)};
    return queue(se,
                 "INSERT INTO export_events(source, type, device_id, template_id, time_ms, data)"
                 " VALUES(?,?,?,?,?,?)",
                 a, 6);
}

int store_export_prune_events(struct store_export *se, const char *source, int64_t upto_seq)
{
    const struct store_arg a[] = {TEXT(source), INT(upto_seq)};
    /* the table's newest row stays: SQLite hands out MAX(seq)+1, and a cursor past a deleted
     * newest row would skip the rows that reuse its number */
    return queue(se,
                 "DELETE FROM export_events WHERE source=?1 AND seq<=?2"
                 " AND seq<(SELECT MAX(seq) FROM export_events)",
                 a, 2);
}

long store_export_scan(struct store_export *se, enum store_export_log log, const char *source,
                       int64_t after_seq, size_t limit, store_export_row_fn fn, void *ctx)
{
    sqlite3_stmt *s = se->q[log == STORE_EXPORT_TELEMETRY ? Q_TEL : Q_EV];
    long n = 0;
    int rc;
    sqlite3_bind_int64(s, 1, after_seq);
    if (log == STORE_EXPORT_EVENTS)
        sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_export_row row = {
            .seq = sqlite3_column_int64(s, 0),
            .device_id = (const char *)sqlite3_column_text(s, 1),
            .time_ms = sqlite3_column_int64(s, 2),
            .component = (const char *)sqlite3_column_text(s, 3),
            .props_json = (const char *)sqlite3_column_text(s, 4),
            .payload = (const char *)sqlite3_column_blob(s, 5),
            .payload_len = (size_t)sqlite3_column_bytes(s, 5),
            .type = (const char *)sqlite3_column_text(s, 6),
            .template_id = (const char *)sqlite3_column_text(s, 7),
        };
        n++;
        if (row.device_id != NULL && fn(ctx, &row) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_error("export: read failed: %s", sqlite3_errmsg(se->db));
        n = CE_STORE;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return n;
}

int store_export_tail(struct store_export *se, enum store_export_log log, const char *source,
                      int64_t *out_seq)
{
    sqlite3_stmt *s = se->q[log == STORE_EXPORT_TELEMETRY ? Q_TAIL_TEL : Q_TAIL_EV];
    if (log == STORE_EXPORT_EVENTS)
        sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *out_seq = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW ? CE_OK : CE_STORE;
}

int store_export_lag(struct store_export *se, enum store_export_log log, const char *source,
                     int64_t after_seq, int64_t *out_count, int64_t *out_oldest_ms)
{
    sqlite3_stmt *s = se->q[log == STORE_EXPORT_TELEMETRY ? Q_LAG_TEL : Q_LAG_EV];
    sqlite3_bind_int64(s, 1, after_seq);
    if (log == STORE_EXPORT_EVENTS)
        sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *out_count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    *out_oldest_ms = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW ? CE_OK : CE_STORE;
}

int store_export_count_device(struct store_export *se, const char *device_id, int64_t after_seq,
                              int64_t *out_count)
{
    sqlite3_stmt *s = se->q[Q_DEVICE];
    sqlite3_bind_text(s, 1, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, after_seq);
    int rc = sqlite3_step(s);
    *out_count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW ? CE_OK : CE_STORE;
}
