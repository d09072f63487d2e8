/*
 * test_export_reader.c - the export's reader thread (src/central/export/export_reader.c): work
 * runs on the reader thread with the reader's own database connection, done() on the loop
 * thread, in the order posted; a done() may post its work again (the pipes' two rounds); and
 * closing with work still queued calls done() once for each, ran false for what never ran (the
 * ASan build checks nothing leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "central/base/app.h"
#include "central/export/export_reader.h"
#include "central/store/store_export.h"

static struct app app;
static pthread_t loop_thread;
static char dir[300];

struct item {
    struct export_work w;
    int id, rounds_left;
    unsigned sleep_us;
    bool ran_off_loop, ran_on_loop, done_on_loop;
    long rows; /* what a scan of the telemetry log returned on the reader */
    int *order;
    int *n_done;
    bool ran_last;
};

static void item_run(struct export_work *w, struct store_export *se)
{
    struct item *it = (struct item *)w;
    if (pthread_equal(pthread_self(), loop_thread))
        it->ran_on_loop = true;
    else
        it->ran_off_loop = true;
    it->rows = se != NULL
                   ? store_export_scan(se, STORE_EXPORT_TELEMETRY, "telemetry", 0, 10, NULL, NULL)
                   : -100;
    usleep(it->sleep_us); /* so that later posts queue up behind it */
}

static struct export_reader *the_reader;

static void item_done(struct export_work *w, bool ran)
{
    struct item *it = (struct item *)w;
    it->done_on_loop = pthread_equal(pthread_self(), loop_thread);
    it->ran_last = ran;
    if (ran && it->rounds_left > 0 && !export_reader_closing(the_reader)) {
        it->rounds_left--;
        export_reader_post(the_reader, &it->w);
        return;
    }
    it->order[(*it->n_done)++] = it->id;
}

static void item_init(struct item *it, int id, int rounds, int *order, int *n_done)
{
    memset(it, 0, sizeof *it);
    it->w.run = item_run;
    it->w.done = item_done;
    it->id = id;
    it->rounds_left = rounds;
    it->sleep_us = 2000;
    it->order = order;
    it->n_done = n_done;
}

static void run_loop(const int *n_done, int n, int ms)
{
    for (int i = 0; i < ms && *n_done < n; i++) {
        event_base_loop(app.base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static void test_run_off_loop_done_on_loop(void **state)
{
    (void)state;
    int order[8], n_done = 0;
    struct item it[4];
    assert_int_equal(export_reader_open(&app, &the_reader), CE_OK);
    for (int i = 0; i < 4; i++) {
        item_init(&it[i], i, i == 1 ? 2 : 0, order, &n_done); /* item 1: three rounds */
        export_reader_post(the_reader, &it[i].w);
    }
    run_loop(&n_done, 4, 5000);
    assert_int_equal(n_done, 4);
    /* FIFO: 0, 2, 3 in order; 1 went round twice more, so it finished after 0 */
    assert_int_equal(order[0], 0);
    int pos1 = -1, pos2 = -1, pos3 = -1;
    for (int i = 0; i < 4; i++) {
        pos1 = order[i] == 1 ? i : pos1;
        pos2 = order[i] == 2 ? i : pos2;
        pos3 = order[i] == 3 ? i : pos3;
    }
    assert_true(pos1 > 0 && pos2 < pos3);
    for (int i = 0; i < 4; i++) {
        assert_true(it[i].ran_off_loop);
        assert_false(it[i].ran_on_loop);
        assert_true(it[i].done_on_loop);
        assert_true(it[i].ran_last);
        assert_int_equal(it[i].rows, 0); /* the reader's own connection reads the empty log */
    }
    export_reader_close(the_reader);
    the_reader = NULL;
}

static void test_close_with_work_queued(void **state)
{
    (void)state;
    enum { N = 50 };
    int order[N], n_done = 0;
    struct item *it = calloc(N, sizeof *it);
    assert_non_null(it);
    assert_int_equal(export_reader_open(&app, &the_reader), CE_OK);
    for (int i = 0; i < N; i++) {
        item_init(&it[i], i, 5, order, &n_done); /* would go round again: not while closing */
        it[i].sleep_us = 20000;
        export_reader_post(the_reader, &it[i].w);
    }
    export_reader_close(the_reader); /* without running the loop: every done() comes from here */
    the_reader = NULL;
    assert_int_equal(n_done, N);
    int never_ran = 0;
    for (int i = 0; i < N; i++) {
        assert_true(it[i].done_on_loop);
        assert_true(it[i].ran_last == it[i].ran_off_loop);
        never_ran += !it[i].ran_last;
    }
    assert_true(never_ran > 0); /* 50 x 20 ms of work: most were still queued */
    free(it);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_export_reader.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (evthread_use_pthreads() != 0 || mkdtemp(dir) == NULL)
        return -1;
    loop_thread = pthread_self();
    app.base = event_base_new();
    app.cfg.data_dir = dir;
    /* the tables store_export reads, as the store creates them */
    char path[400];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/central.db", dir);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE telemetry_main(seq INTEGER PRIMARY KEY, device_id TEXT,"
                     " enqueued_ms INTEGER, component TEXT, props TEXT, payload BLOB);"
                     "CREATE TABLE telemetry_staging(seq INTEGER PRIMARY KEY, device_id TEXT,"
                     " enqueued_ms INTEGER, component TEXT, props TEXT, payload BLOB);"
                     "CREATE VIEW telemetry AS SELECT * FROM telemetry_main"
                     " UNION ALL SELECT * FROM telemetry_staging;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    sqlite3_close(db);
    return app.base != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[400];
    static const char *const files[] = {"central.db", "central.db-wal", "central.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    event_base_free(app.base);
    libevent_global_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_off_loop_done_on_loop),
        cmocka_unit_test(test_close_with_work_queued),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
