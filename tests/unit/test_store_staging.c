/*
 * test_store_staging.c - telemetry staged then moved (src/central/store/store.c): rows are
 * committed into telemetry_staging and moved in batches into the indexed telemetry_main.
 * Readers (raw scans, series, data export's scans, tail, lag and counts) see both tables; a row
 * keeps its seq through the move, so an export cursor taken before a move goes on after it
 * without a gap or a repeat; rows committed before a crash and not moved yet are still there
 * after it and are moved by the next run; a process killed while it moves loses no row it
 * acknowledged and duplicates none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "central/base/app.h"
#include "central/store/store.h"
#include "central/store/store_app.h"
#include "central/store/store_export.h"

struct fixture {
    char dir[64];
    struct app app;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/iotc-staging-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->app.cfg.data_dir = f->dir;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* One integer from @p sql on a connection of its own (-1 on error). */
static long long q1(const char *dir, const char *sql)
{
    char path[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long v = -1;
    snprintf(path, sizeof path, "%s/central.db", dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Wait (at most ~10 s) until @p sql gives @p want. */
static long long wait_q1(const char *dir, const char *sql, long long want)
{
    long long v = -1;
    for (int i = 0; i < 1000 && (v = q1(dir, sql)) != want; i++)
        usleep(10000);
    return v;
}

static void add(struct store *st, const char *dev, int i)
{
    char body[32];
    snprintf(body, sizeof body, "{\"t\":%d}", i);
    struct store_telemetry t = {
        .device_id = dev, .enqueued_ms = 1000 + i, .payload = body, .payload_len = strlen(body)};
    assert_int_equal(store_add_telemetry(st, &t, NULL, NULL, 0), CE_OK);
}

#define N_ROWS 20 /* rows 0..9 moved, 10..19 staged; even i: dev "a", odd: "b" */

/* A store with rows 0..9 in telemetry_main and 10..19 in telemetry_staging. */
static void fill_split(struct fixture *f)
{
    struct app *app = &f->app;
    assert_int_equal(store_open(app), CE_OK);
    store_set_move(app->store, 0, 0); /* no move until the test asks */
    assert_int_equal(store_start(app), CE_OK);
    for (int i = 0; i < N_ROWS / 2; i++)
        add(app->store, i % 2 ? "b" : "a", i);
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging", N_ROWS / 2),
                     N_ROWS / 2);
    store_set_move(app->store, 1, 0);
    for (int i = 0; i < 1000 && store_moves(app->store) < 1; i++)
        usleep(10000);
    store_set_move(app->store, 0, 0);
    assert_int_equal(store_moves(app->store), 1);
    for (int i = N_ROWS / 2; i < N_ROWS; i++)
        add(app->store, i % 2 ? "b" : "a", i);
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry", N_ROWS), N_ROWS);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_main"), N_ROWS / 2);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging"), N_ROWS / 2);
    /* seq is the row's number + 1, in both tables */
    assert_int_equal(q1(f->dir,
                        "SELECT COUNT(*) FROM telemetry WHERE"
                        " seq = CAST(json_extract(CAST(payload AS TEXT), '$.t') AS INT) + 1"),
                     N_ROWS);
}

struct seen {
    int64_t seq[N_ROWS + 8];
    int n;
};

static int on_tel(void *ctx, const struct store_app_telemetry *row)
{
    struct seen *s = ctx;
    assert_true(s->n < (int)(sizeof s->seq / sizeof s->seq[0]));
    s->seq[s->n++] = row->seq;
    return 0;
}

static int on_bucket(void *ctx, const struct store_app_bucket *b)
{
    int64_t *count = ctx;
    *count += b->count;
    return 0;
}

/* Raw scans and series read both tables, in seq order, with limits across the boundary. */
static void test_app_readers_see_both_tables(void **state)
{
    struct fixture *f = *state;
    fill_split(f);
    struct store_app *sa;
    assert_int_equal(store_app_open(&f->app, &sa), CE_OK);

    struct seen s = {0};
    assert_int_equal(store_app_scan_telemetry(sa, "a", 0, INT64_MAX, 0, false, 100, on_tel, &s),
                     N_ROWS / 2);
    for (int i = 0; i < s.n; i++)
        assert_int_equal(s.seq[i], 2 * i + 1); /* rows 0, 2, ... 18: seq 1, 3, ... 19 */

    memset(&s, 0, sizeof s); /* newest first: the staged rows, then the moved ones */
    assert_int_equal(store_app_scan_telemetry(sa, "b", 0, INT64_MAX, 0, true, 7, on_tel, &s), 7);
    for (int i = 0; i < s.n; i++)
        assert_int_equal(s.seq[i], 20 - 2 * i);

    memset(&s, 0, sizeof s); /* a page that starts in telemetry_main and ends in staging */
    assert_int_equal(store_app_scan_telemetry(sa, "a", 0, INT64_MAX, 5, false, 4, on_tel, &s), 4);
    assert_int_equal(s.seq[0], 7);
    assert_int_equal(s.seq[3], 13);

    memset(&s, 0, sizeof s); /* a time range across both: rows 6..13 of "b" are 7, 9, 11, 13 */
    assert_int_equal(store_app_scan_telemetry(sa, "b", 1006, 1014, 0, false, 100, on_tel, &s), 4);
    assert_int_equal(s.seq[0], 8);
    assert_int_equal(s.seq[3], 14);

    int64_t count = 0; /* series: every row of "a" has a numeric t */
    assert_true(store_app_series(sa, "a", "", "t", 0, 5000, 10, STORE_AGG_AVG, on_bucket, &count) >
                0);
    assert_int_equal(count, N_ROWS / 2);
    count = 0;
    assert_true(
        store_app_series(sa, "b", "", "t", 1005, 1016, 11, STORE_AGG_MAX, on_bucket, &count) > 0);
    assert_int_equal(count, 6); /* rows 5, 7, 9, 11, 13, 15: 1005..1015 */

    /* Deleting a device deletes its rows from both tables (in one transaction). */
    store_app_forget_device(sa, "a");
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry WHERE device_id='a'", 0), 0);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry"), N_ROWS / 2);
    store_app_close(sa);
    store_close(&f->app);
}

struct exported {
    int64_t seq[N_ROWS + 8];
    char body[N_ROWS + 8][16];
    int n;
};

static int on_export(void *ctx, const struct store_export_row *row)
{
    struct exported *e = ctx;
    assert_true(e->n < (int)(sizeof e->seq / sizeof e->seq[0]));
    e->seq[e->n] = row->seq;
    snprintf(e->body[e->n], sizeof e->body[0], "%.*s", (int)row->payload_len, row->payload);
    e->n++;
    return 0;
}

/* Data export's reads: scans in seq order across both tables, tail, lag and the device count;
 * a cursor taken before a move reads on after it with no gap and no repeat. */
static void test_export_cursor_across_move(void **state)
{
    struct fixture *f = *state;
    fill_split(f);
    struct store_export *se;
    assert_int_equal(store_export_open(&f->app, &se), CE_OK);

    struct exported all = {0};
    assert_int_equal(store_export_scan(se, STORE_EXPORT_TELEMETRY, NULL, 0, 100, on_export, &all),
                     N_ROWS);
    for (int i = 0; i < N_ROWS; i++)
        assert_int_equal(all.seq[i], i + 1);
    int64_t tail = 0, lag = 0, oldest = 0, n = 0;
    assert_int_equal(store_export_tail(se, STORE_EXPORT_TELEMETRY, NULL, &tail), CE_OK);
    assert_int_equal(tail, N_ROWS); /* the last row is staged */
    assert_int_equal(store_export_lag(se, STORE_EXPORT_TELEMETRY, NULL, 8, &lag, &oldest), CE_OK);
    assert_int_equal(lag, N_ROWS - 8);
    assert_int_equal(oldest, 1008);
    assert_int_equal(store_export_count_device(se, "b", 6, &n), CE_OK);
    assert_int_equal(n, 7); /* seq 8, 10, ... 20 */

    /* Read 13 rows (the moved ten and three staged), then everything moves, then read on. */
    struct exported got = {0};
    assert_int_equal(store_export_scan(se, STORE_EXPORT_TELEMETRY, NULL, 0, 13, on_export, &got),
                     13);
    int64_t cursor = got.seq[12];
    store_set_move(f->app.store, 1, 0);
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging", 0), 0);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_main"), N_ROWS);
    assert_int_equal(
        store_export_scan(se, STORE_EXPORT_TELEMETRY, NULL, cursor, 100, on_export, &got),
        N_ROWS - 13);
    assert_int_equal(got.n, N_ROWS);
    for (int i = 0; i < N_ROWS; i++) { /* the same rows, the same seqs, in the same order */
        assert_int_equal(got.seq[i], all.seq[i]);
        assert_string_equal(got.body[i], all.body[i]);
    }
    assert_int_equal(store_export_tail(se, STORE_EXPORT_TELEMETRY, NULL, &tail), CE_OK);
    assert_int_equal(tail, N_ROWS);

    /* New rows go on above the moved ones. */
    add(f->app.store, "a", 100);
    assert_int_equal(wait_q1(f->dir, "SELECT MAX(seq) FROM telemetry", N_ROWS + 1), N_ROWS + 1);
    store_export_close(se);
    store_close(&f->app);
}

/* A process killed after its commit and before the move: the rows are staged, readers see them,
 * the next run moves them with their seqs and numbers new rows above them. */
static void test_crash_between_commit_and_move(void **state)
{
    struct fixture *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct app *app = &f->app;
        if (store_open(app) != CE_OK)
            _exit(2);
        store_set_move(app->store, 0, 0);
        if (store_start(app) != CE_OK)
            _exit(2);
        for (int i = 0; i < 50; i++)
            add(app->store, "c", i);
        if (wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry", 50) != 50)
            _exit(3);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging"), 50);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_main"), 0);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry WHERE device_id='c'"), 50);

    /* The next run: the staged rows are moved once they are MOVE_AGE old (here at once). */
    struct app *app = &f->app;
    assert_int_equal(store_open(app), CE_OK);
    store_set_move(app->store, 8192, 0);
    assert_int_equal(store_start(app), CE_OK);
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_main", 50), 50);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging"), 0);
    assert_int_equal(q1(f->dir,
                        "SELECT COUNT(*) FROM telemetry_main WHERE"
                        " seq = CAST(json_extract(CAST(payload AS TEXT), '$.t') AS INT) + 1"),
                     50);
    store_set_move(app->store, 0, 0);
    add(app->store, "c", 50);
    assert_int_equal(wait_q1(f->dir, "SELECT MAX(seq) FROM telemetry_staging", 51), 51);
    store_close(app);
}

/* Run @p sql on a connection of its own (waits for the writer's lock). */
static void exec_sql(const char *dir, const char *sql)
{
    char path[128];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/central.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A move that fails (here a row put into telemetry_main by hand with a staged row's seq) is rolled
 * back whole: the rows stay staged and readable; it is tried again after the age, and succeeds
 * once the obstacle is gone. */
static void test_failed_move_keeps_rows_staged(void **state)
{
    struct fixture *f = *state;
    struct app *app = &f->app;
    assert_int_equal(store_open(app), CE_OK);
    store_set_move(app->store, 0, 0);
    assert_int_equal(store_start(app), CE_OK);
    for (int i = 0; i < 3; i++)
        add(app->store, "e", i);
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging", 3), 3);
    exec_sql(f->dir, "INSERT INTO telemetry_main(seq, device_id, enqueued_ms)"
                     " VALUES(2, 'intruder', 0)");
    store_set_move(app->store, 1, 50);
    usleep(300 * 1000); /* several attempts */
    assert_int_equal(store_moves(app->store), 0);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging"), 3);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry WHERE device_id='e'"), 3);
    exec_sql(f->dir, "DELETE FROM telemetry_main WHERE device_id='intruder'");
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_main", 3), 3);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging"), 0);
    assert_true(store_moves(app->store) >= 1);
    store_close(app);
}

/* ------------------------------------------------ killed while moving, many times over */

struct child {
    struct app app;
    int fd; /* acknowledged row numbers go here */
    int acked;
};

static void on_done(void *ctx, uint32_t tag, int rc)
{
    struct child *c = ctx;
    if (rc == CE_OK) {
        int32_t v = (int32_t)tag;
        if (write(c->fd, &v, sizeof v) != sizeof v)
            _exit(5);
        c->acked++;
    }
}

/* How the child commits and moves: rows of `devices` devices (one after the other), a move once
 * `move_rows` are staged, `slice` rows per move transaction. */
struct kill_plan {
    int devices;
    size_t move_rows, slice;
};

static void child_run(char *dir, int fd, const struct kill_plan *kp)
{
    static struct child c;
    c.fd = fd;
    c.app.cfg.data_dir = dir;
    if (evthread_use_pthreads() != 0 || (c.app.base = event_base_new()) == NULL ||
        store_open(&c.app) != CE_OK)
        _exit(2);
    store_set_move(c.app.store, kp->move_rows, 5);
    store_set_move_slice(c.app.store, kp->slice);
    if (store_start(&c.app) != CE_OK)
        _exit(2);
    for (uint32_t i = 0; i < 1000000; i++) {
        char body[32], dev[16];
        snprintf(body, sizeof body, "{\"t\":%u}", i);
        if (kp->devices == 2)
            snprintf(dev, sizeof dev, "%s", i % 3 ? "k1" : "k2");
        else
            snprintf(dev, sizeof dev, "k%03u", i % (uint32_t)kp->devices);
        struct store_telemetry t = {
            .device_id = dev, .enqueued_ms = i, .payload = body, .payload_len = strlen(body)};
        if (store_add_telemetry(c.app.store, &t, on_done, &c, i) != CE_OK)
            _exit(2);
        event_base_loop(c.app.base, EVLOOP_NONBLOCK); /* seal, then completions */
        while (store_backlog(c.app.store) > 200)
            event_base_loop(c.app.base, EVLOOP_ONCE);
    }
    _exit(6); /* not reached: the parent kills it first */
}

static void kill_while_moving(struct fixture *f, const struct kill_plan *kp)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_run(f->dir, p[1], kp);
    }
    close(p[1]);
    /* Let it commit and move for a while: until 3,000 acknowledgements (10 s without one fails). */
    static int32_t acked[1000000];
    size_t bytes = 0;
    for (int i = 0; i < 100000 && bytes < 3000 * sizeof acked[0]; i++) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 10000), 1);
        ssize_t r = read(p[0], (char *)acked + bytes, 4096);
        assert_true(r > 0);
        bytes += (size_t)r;
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    char *buf = (char *)acked;
    for (ssize_t r; (r = read(p[0], buf + bytes, sizeof acked - bytes)) > 0;)
        bytes += (size_t)r;
    close(p[0]);
    size_t n = bytes / sizeof acked[0]; /* a torn last write cannot happen: 4 bytes < PIPE_BUF */
    assert_true(n >= 3000);

    /* Every acknowledged row exactly once; no seq twice; moves happened. */
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *s;
    snprintf(path, sizeof path, "%s/central.db", f->dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT CAST(json_extract(CAST(payload AS TEXT), '$.t')"
                                        " AS INT) FROM telemetry",
                                        -1, &s, NULL),
                     SQLITE_OK);
    unsigned char *count = calloc(1000000, 1);
    assert_non_null(count);
    long rows = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(s, 0);
        assert_true(t >= 0 && t < 1000000);
        assert_int_equal(count[t], 0); /* never twice */
        count[t]++;
        rows++;
    }
    sqlite3_finalize(s);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(count[acked[i]], 1); /* acknowledged: there */
    assert_true(rows >= (long)n);
    free(count);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM telemetry_main", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_true(sqlite3_column_int64(s, 0) > 0); /* some were moved before the kill */
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) - COUNT(DISTINCT seq) FROM telemetry",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(s, 0), 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* Two devices, a move every 64 rows: a move is one slice. */
static void test_kill_while_moving(void **state)
{
    const struct kill_plan kp = {.devices = 2, .move_rows = 64, .slice = 0};
    kill_while_moving(*state, &kp);
}

/* 100 devices, a move every 1,024 rows in slices of 16 (a few devices each): the kill lands
 * between two slices of a move or inside one, and the next run finds every row once. */
static void test_kill_while_moving_in_slices(void **state)
{
    struct fixture *f = *state;
    const struct kill_plan kp = {.devices = 100, .move_rows = 1024, .slice = 16};
    kill_while_moving(f, &kp);
    /* The next run moves what the killed one left staged, each row once. */
    long long total = q1(f->dir, "SELECT COUNT(*) FROM telemetry");
    assert_true(total >= 3000);
    struct app *app = &f->app;
    assert_int_equal(store_open(app), CE_OK);
    store_set_move(app->store, 1, 0);
    assert_int_equal(store_start(app), CE_OK);
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging", 0), 0);
    store_close(app);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry_main"), total);
    assert_int_equal(q1(f->dir, "SELECT COUNT(DISTINCT seq) FROM telemetry_main"), total);
}

/* A database of schema 1 (one telemetry table) is migrated with its rows and seqs. */
static void test_migrates_schema_1(void **state)
{
    struct fixture *f = *state;
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/central.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE devices(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
                     "CREATE TABLE telemetry(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
                     " enqueued_ms INTEGER NOT NULL, component TEXT, props TEXT, payload BLOB);"
                     "CREATE INDEX telemetry_device ON telemetry(device_id, seq);"
                     "CREATE INDEX telemetry_device_time ON telemetry(device_id, enqueued_ms);"
                     "CREATE TABLE c2d(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
                     " enqueued_ms INTEGER NOT NULL, expiry_ms INTEGER NOT NULL,"
                     " bag TEXT NOT NULL, payload BLOB);"
                     "INSERT INTO telemetry VALUES(5, 'old', 1, NULL, NULL, '{\"t\":4}');"
                     "PRAGMA user_version=1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    struct app *app = &f->app;
    assert_int_equal(store_open(app), CE_OK);
    store_set_move(app->store, 0, 0);
    assert_int_equal(store_start(app), CE_OK);
    add(app->store, "old", 5);
    assert_int_equal(wait_q1(f->dir, "SELECT MAX(seq) FROM telemetry_staging", 6), 6);
    store_close(app);
    assert_int_equal(q1(f->dir, "PRAGMA user_version"), 3);
    assert_int_equal(q1(f->dir, "SELECT last FROM telemetry_seq"), 6);
    assert_int_equal(q1(f->dir, "SELECT seq FROM telemetry_main"), 5);
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND"
                                " tbl_name='telemetry_main'"),
                     2);
}

/* seq never goes back: the device that holds the newest rows (moved and staged) is deleted, the
 * server restarts, another device sends; an export cursor past the deleted rows receives every
 * new row. The same holds in a copy made with SQLite's backup API (iotc-central backup). */
static void test_seq_never_goes_back(void **state)
{
    struct fixture *f = *state;
    struct app *app = &f->app;
    assert_int_equal(store_open(app), CE_OK);
    store_set_move(app->store, 0, 0);
    assert_int_equal(store_start(app), CE_OK);
    for (int i = 0; i < 5; i++) /* keep: seq 1..3; gone: seq 4, 5 (moved) */
        add(app->store, i < 3 ? "keep" : "gone", i);
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging", 5), 5);
    store_set_move(app->store, 1, 0);
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_main", 5), 5);
    store_set_move(app->store, 0, 0);
    add(app->store, "gone", 5); /* seq 6, staged */
    assert_int_equal(wait_q1(f->dir, "SELECT MAX(seq) FROM telemetry_staging", 6), 6);

    struct store_export *se;
    assert_int_equal(store_export_open(app, &se), CE_OK);
    struct exported got = {0};
    assert_int_equal(store_export_scan(se, STORE_EXPORT_TELEMETRY, NULL, 0, 100, on_export, &got),
                     6);
    int64_t cursor = got.seq[5];
    assert_int_equal(cursor, 6);
    store_export_close(se);

    struct store_app *sa;
    assert_int_equal(store_app_open(app, &sa), CE_OK);
    store_app_forget_device(sa, "gone");
    store_app_close(sa);
    store_close(app); /* commits the deletion */
    assert_int_equal(q1(f->dir, "SELECT COUNT(*) FROM telemetry"), 3);
    assert_int_equal(q1(f->dir, "SELECT MAX(seq) FROM telemetry"), 3);

    /* A backup of the database as it is now, taken with SQLite's backup API. */
    char copy[96], path[128], copy_db[128];
    snprintf(copy, sizeof copy, "%s/copy", f->dir);
    assert_int_equal(mkdir(copy, 0700), 0);
    snprintf(path, sizeof path, "%s/central.db", f->dir);
    snprintf(copy_db, sizeof copy_db, "%s/central.db", copy);
    sqlite3 *src = NULL, *dst = NULL;
    assert_int_equal(sqlite3_open(path, &src), SQLITE_OK);
    assert_int_equal(sqlite3_open(copy_db, &dst), SQLITE_OK);
    sqlite3_backup *bk = sqlite3_backup_init(dst, "main", src, "main");
    assert_non_null(bk);
    assert_int_equal(sqlite3_backup_step(bk, -1), SQLITE_DONE);
    assert_int_equal(sqlite3_backup_finish(bk), SQLITE_OK);
    sqlite3_close(dst);
    sqlite3_close(src);

    /* The next run, and then the restored copy: new rows go on above the deleted ones. */
    for (int run = 0; run < 2; run++) {
        char *dir = run == 0 ? f->dir : copy;
        app->cfg.data_dir = dir;
        assert_int_equal(store_open(app), CE_OK);
        store_set_move(app->store, 0, 0);
        assert_int_equal(store_start(app), CE_OK);
        add(app->store, "other", 10);
        add(app->store, "other", 11);
        assert_int_equal(wait_q1(dir, "SELECT COUNT(*) FROM telemetry", 5), 5);
        assert_int_equal(store_export_open(app, &se), CE_OK);
        struct exported after = {0};
        assert_int_equal(
            store_export_scan(se, STORE_EXPORT_TELEMETRY, NULL, cursor, 100, on_export, &after), 2);
        assert_int_equal(after.seq[0], 7);
        assert_int_equal(after.seq[1], 8);
        assert_string_equal(after.body[0], "{\"t\":10}");
        store_export_close(se);
        store_close(app);
        assert_int_equal(q1(dir, "SELECT last FROM telemetry_seq"), 8);
    }
    app->cfg.data_dir = f->dir;
}

/* A move runs in slices (a range of devices each), one transaction each, and a row queued while
 * it runs is committed between two slices, before the move is done; the slices are counted and
 * timed; every row is moved once with its seq. */
static void test_move_in_slices(void **state)
{
    struct fixture *f = *state;
    struct app *app = &f->app;
    enum { STAGED = 1000 };
    assert_int_equal(store_open(app), CE_OK);
    store_set_move(app->store, 0, 0);
    store_set_move_slice(app->store, 2);
    assert_int_equal(store_start(app), CE_OK);
    for (int i = 0; i < STAGED; i++) { /* 500 devices, 2 rows each: a slice of 2 is one device */
        char dev[16];
        snprintf(dev, sizeof dev, "d%03d", i % (STAGED / 2));
        add(app->store, dev, i);
    }
    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging", STAGED), STAGED);

    struct store_move_stats ms;
    store_set_move(app->store, 1, 0);
    for (int i = 0; i < 10000; i++) { /* the move has begun */
        store_move_stats(app->store, &ms);
        if (ms.slices > 0)
            break;
        usleep(100);
    }
    assert_true(ms.slices > 0);
    add(app->store, "late", STAGED);
    long long n = -1;
    for (int i = 0; i < 10000 && (n = q1(f->dir, "SELECT COUNT(*) FROM telemetry WHERE"
                                                 " device_id='late'")) != 1;
         i++)
        usleep(200);
    assert_int_equal(n, 1);
    assert_int_equal(store_moves(app->store), 0); /* committed while the move still runs */
    assert_true(q1(f->dir, "SELECT COUNT(*) FROM telemetry_staging") > 2);

    assert_int_equal(wait_q1(f->dir, "SELECT COUNT(*) FROM telemetry_main", STAGED + 1),
                     STAGED + 1);
    assert_true(store_moves(app->store) >= 1);
    store_move_stats(app->store, &ms);
    assert_true(ms.slices >= STAGED / 2);
    assert_int_equal(ms.rows, STAGED + 1);
    assert_true(ms.max_us > 0 && ms.max_us <= ms.total_us);
    assert_int_equal(q1(f->dir, "SELECT COUNT(DISTINCT seq) FROM telemetry"), STAGED + 1);
    assert_int_equal(q1(f->dir, "SELECT MAX(seq) FROM telemetry"), STAGED + 1);
    store_close(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_app_readers_see_both_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_cursor_across_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_commit_and_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_move_keeps_rows_staged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_while_moving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_while_moving_in_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_schema_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_never_goes_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_in_slices, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
