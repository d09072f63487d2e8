/*
 * test_store_read.c - the store's reader (store_read.c) without a server: jobs run on a worker
 * thread and their done callbacks on the loop thread, in order, with run's result; the bound
 * (CE_BUSY when full, room again after done); closing stops a query that would run on and ends
 * queued jobs with CE_BUSY. Jobs are held at a gate the test opens, so nothing depends on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "central/base/app.h"
#include "central/store/store_read.h"

static char root[300];
static struct app app;

/* A gate the worker waits at until the test opens it. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int started; /* jobs whose run began */

struct job {
    long ret;       /* what run returns */
    bool wait_gate; /* run waits for the gate first */
    bool forever;   /* run repeats a series query until it fails */
    pthread_t run_thread, done_thread;
    long done_rc;
    int done_order; /* 1, 2, ... in the order done ran; 0 = not yet */
};
static int done_count;

static int bucket(void *ctx, const struct store_app_bucket *b)
{
    (void)ctx;
    (void)b;
    return 0;
}

static long run(struct store_app *sa, void *arg)
{
    struct job *j = arg;
    j->run_thread = pthread_self();
    atomic_fetch_add(&started, 1);
    if (j->wait_gate) {
        pthread_mutex_lock(&gate_mu);
        while (!gate_open)
            pthread_cond_wait(&gate_cv, &gate_mu);
        pthread_mutex_unlock(&gate_mu);
    }
    for (long i = 0; j->forever && i < 500; i++) { /* bounded: seconds if close never stops it */
        long n = store_app_series(sa, "d1", "", "temp", 0, 100000, 10, STORE_AGG_AVG, bucket, NULL);
        if (n < 0)
            return n;
    }
    return j->ret;
}

static void done(void *arg, long rc)
{
    struct job *j = arg;
    j->done_thread = pthread_self();
    j->done_rc = rc;
    j->done_order = ++done_count;
}

static void open_gate(bool open)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = open;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* Run the loop until @p n done callbacks ran in all (at most ~10 s). */
static void loop_until_done(int n)
{
    for (int i = 0; i < 1000 && done_count < n; i++) {
        event_base_loop(app.base, EVLOOP_NONBLOCK);
        if (done_count < n)
            usleep(10000);
    }
}

static void test_done_on_loop_in_order_bounded(void **state)
{
    (void)state;
    struct store_read *r;
    struct job a = {.ret = 41, .wait_gate = true}, b = {.ret = 42}, c = {.ret = 43};
    done_count = 0;
    open_gate(false);
    assert_int_equal(store_read_open(&app, 1, 2, &r), CE_OK);
    assert_int_equal(store_read_submit(r, run, done, &a), CE_OK);
    assert_int_equal(store_read_submit(r, run, done, &b), CE_OK);
    assert_int_equal(store_read_submit(r, run, done, &c), CE_BUSY); /* two in the reader */
    event_base_loop(app.base, EVLOOP_NONBLOCK);
    assert_int_equal(done_count, 0); /* a waits at the gate, b behind it */
    open_gate(true);
    loop_until_done(2);
    assert_int_equal(done_count, 2);
    assert_int_equal(a.done_order, 1);
    assert_int_equal(b.done_order, 2);
    assert_int_equal(a.done_rc, 41);
    assert_int_equal(b.done_rc, 42);
    assert_false(pthread_equal(a.run_thread, pthread_self()));
    assert_true(pthread_equal(a.done_thread, pthread_self()));
    assert_true(pthread_equal(b.done_thread, pthread_self()));
    /* room again */
    assert_int_equal(store_read_submit(r, run, done, &c), CE_OK);
    loop_until_done(3);
    assert_int_equal(c.done_order, 3);
    assert_int_equal(c.done_rc, 43);
    store_read_close(r);
    assert_int_equal(done_count, 3);
}

static void test_close_stops_and_cancels(void **state)
{
    (void)state;
    struct store_read *r;
    struct job a = {.ret = 1, .forever = true}, b = {.ret = 2};
    done_count = 0;
    atomic_store(&started, 0);
    assert_int_equal(store_read_open(&app, 1, 4, &r), CE_OK);
    assert_int_equal(store_read_submit(r, run, done, &a), CE_OK);
    assert_int_equal(store_read_submit(r, run, done, &b), CE_OK);
    for (int i = 0; i < 1000 && atomic_load(&started) == 0; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&started), 1); /* a runs on; b waits behind it */
    store_read_close(r);                        /* returns: a's query gave up */
    assert_int_equal(done_count, 2);
    assert_int_equal(a.done_rc, CE_STORE);
    assert_int_equal(b.done_rc, CE_BUSY);
    assert_int_equal(atomic_load(&started), 1); /* b never ran */
}

static void test_open_refuses(void **state)
{
    (void)state;
    struct store_read *r = NULL;
    assert_int_equal(store_read_open(&app, 0, 4, &r), CE_INVALID);
    assert_null(r);
    assert_int_equal(store_read_open(&app, 1, 0, &r), CE_INVALID);
    store_read_close(NULL);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/test_store_read.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(root) == NULL)
        return -1;
    char path[400];
    snprintf(path, sizeof path, "%s/central.db", root);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    /* 20 000 rows: one series over them takes a moment, so the forever job is mid-query often */
    int rc = sqlite3_exec(
        db,
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE telemetry(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
        " enqueued_ms INTEGER NOT NULL, component TEXT, props TEXT, payload BLOB);"
        "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 19999)"
        " INSERT INTO telemetry(device_id, enqueued_ms, payload)"
        " SELECT 'd1', i * 5, CAST('{\"temp\":' || i || '}' AS BLOB) FROM c;",
        NULL, NULL, NULL);
    sqlite3_close(db);
    if (rc != SQLITE_OK || evthread_use_pthreads() != 0)
        return -1;
    app.cfg.data_dir = root;
    app.base = event_base_new();
    return app.base != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    if (app.base != NULL)
        event_base_free(app.base);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_done_on_loop_in_order_bounded),
        cmocka_unit_test(test_close_stops_and_cancels),
        cmocka_unit_test(test_open_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
