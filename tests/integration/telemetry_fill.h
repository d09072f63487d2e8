/*
 * telemetry_fill.h - telemetry rows written straight into a server's database, for tests that
 * need more history than devices could send in the time a test has (series, raw data pages,
 * /api/query). One transaction; the server's own writer waits for it (busy timeout).
 *
 *     struct tfill f;
 *     tfill_begin(&f, srv.data_dir);
 *     tfill_add(&f, "dev-1", t_ms, NULL, "{\"temp\":21.5}");
 *     assert_int_equal(tfill_end(&f), 0);
 */
#ifndef TESTS_TELEMETRY_FILL_H
#define TESTS_TELEMETRY_FILL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

struct tfill {
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc; /* SQLITE_OK until something failed; later calls then do nothing */
};

static int tfill_begin(struct tfill *f, const char *data_dir)
{
    char path[400];
    snprintf(path, sizeof path, "%s/central.db", data_dir);
    memset(f, 0, sizeof *f);
    f->rc = sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE, NULL);
    if (f->rc != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(f->db, 10000);
    f->rc = sqlite3_exec(f->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (f->rc == SQLITE_OK)
        f->rc =
            sqlite3_prepare_v2(f->db,
                               "INSERT INTO telemetry(device_id, enqueued_ms, component, props, "
                               "payload) VALUES(?,?,?,NULL,?)",
                               -1, &f->s, NULL);
    return f->rc == SQLITE_OK ? 0 : -1;
}

/* One row: @p component NULL for the device's default component. */
static void tfill_add(struct tfill *f, const char *device_id, int64_t enqueued_ms,
                      const char *component, const char *payload)
{
    if (f->rc != SQLITE_OK)
        return;
    sqlite3_bind_text(f->s, 1, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(f->s, 2, enqueued_ms);
    if (component != NULL)
        sqlite3_bind_text(f->s, 3, component, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(f->s, 3);
    sqlite3_bind_blob(f->s, 4, payload, (int)strlen(payload), SQLITE_TRANSIENT);
    f->rc = sqlite3_step(f->s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_reset(f->s);
}

/* Commits what was added (nothing if anything failed) and closes; 0 or -1. */
static int tfill_end(struct tfill *f)
{
    sqlite3_finalize(f->s);
    if (f->rc == SQLITE_OK)
        f->rc = sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(f->db);
    return f->rc == SQLITE_OK ? 0 : -1;
}

#endif
