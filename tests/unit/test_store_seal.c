/*
 * test_store_seal.c - the store's seal groups (src/central/store/store.c): the writer thread
 * takes no op before the loop callback that queued it has returned, so what one callback queues
 * (a change and, through the event bus, data export's record of it) commits in one transaction;
 * a deferred group (store_defer_seal) commits with the next one, or alone after a while.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "central/base/app.h"
#include "central/store/store.h"

static int count_rows(const char *dir)
{
    char path[600];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int n = -1;
    snprintf(path, sizeof path, "%s/central.db", dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM telemetry", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static void add(struct app *app, const char *dev)
{
    struct store_telemetry t = {
        .device_id = dev, .enqueued_ms = 1, .payload = "{}", .payload_len = 2};
    assert_int_equal(store_add_telemetry(app->store, &t, NULL, NULL, 0), CE_OK);
}

/* Rows become visible only after the loop ran the seal, and then both at once. */
static void test_group_waits_for_seal(void **state)
{
    (void)state;
    char dir[] = "/tmp/iotc-seal-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct app app;
    memset(&app, 0, sizeof app);
    app.cfg.data_dir = dir;
    app.base = event_base_new();
    assert_non_null(app.base);
    assert_int_equal(store_open(&app), CE_OK);
    assert_int_equal(store_start(&app), CE_OK);

    add(&app, "a"); /* "one callback" queues two rows */
    add(&app, "b");
    usleep(200 * 1000);
    assert_int_equal(count_rows(dir), 0); /* not sealed: the writer did not take them */
    assert_int_equal(store_backlog(app.store), 2);

    event_base_loop(app.base, EVLOOP_ONCE | EVLOOP_NONBLOCK); /* the seal runs */
    int n = 0;
    for (int i = 0; i < 200 && (n = count_rows(dir)) == 0; i++)
        usleep(10 * 1000);
    assert_int_equal(n, 2); /* never 1: one group, one transaction */

    add(&app, "c");
    store_close(&app); /* close commits what is queued, sealed or not */
    assert_int_equal(count_rows(dir), 3);
    event_base_free(app.base);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void open_store(struct app *app, char *dir)
{
    assert_non_null(mkdtemp(dir));
    memset(app, 0, sizeof *app);
    app->cfg.data_dir = dir;
    app->base = event_base_new();
    assert_non_null(app->base);
    assert_int_equal(store_open(app), CE_OK);
    assert_int_equal(store_start(app), CE_OK);
}

static void close_store(struct app *app, const char *dir)
{
    store_close(app);
    event_base_free(app->base);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int wait_rows(struct app *app, const char *dir, int want)
{
    int n = 0;
    for (int i = 0; i < 300 && (n = count_rows(dir)) < want; i++) {
        event_base_loop(app->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(10 * 1000);
    }
    return n;
}

/* A deferred group (a hub connection's bookkeeping) is not committed on its own: it goes with
 * the next callback's group, in the same transaction. */
static void test_deferred_group_rides_along(void **state)
{
    (void)state;
    char dir[] = "/tmp/iotc-seal-XXXXXX";
    struct app app;
    open_store(&app, dir);

    size_t before = store_unsealed(app.store);
    assert_int_equal(before, 0);
    add(&app, "connect");
    store_defer_seal(app.store, before);
    event_base_loop(app.base, EVLOOP_ONCE | EVLOOP_NONBLOCK); /* its seal_cb: deferred */
    usleep(30 * 1000);
    assert_int_equal(count_rows(dir), 0);
    assert_int_equal(store_backlog(app.store), 1);

    add(&app, "telemetry"); /* the next callback */
    event_base_loop(app.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    assert_int_equal(wait_rows(&app, dir, 2), 2);
    struct store_stats st;
    store_stats_get(app.store, &st);
    assert_int_equal(st.commits, 1); /* one transaction, one fsync */
    close_store(&app, dir);
}

/* Alone, a deferred group still commits (within DEFER_MS). */
static void test_deferred_group_commits_alone(void **state)
{
    (void)state;
    char dir[] = "/tmp/iotc-seal-XXXXXX";
    struct app app;
    open_store(&app, dir);
    add(&app, "connect");
    store_defer_seal(app.store, 0);
    assert_int_equal(wait_rows(&app, dir, 1), 1);
    close_store(&app, dir);
}

/* A callback cannot defer writes another callback queued before it: they are sealed as usual. */
static void test_defer_keeps_others_writes(void **state)
{
    (void)state;
    char dir[] = "/tmp/iotc-seal-XXXXXX";
    struct app app;
    open_store(&app, dir);
    add(&app, "telemetry"); /* an earlier callback of the same loop turn */
    size_t before = store_unsealed(app.store);
    assert_int_equal(before, 1);
    add(&app, "connect");
    store_defer_seal(app.store, before);
    event_base_loop(app.base, EVLOOP_ONCE | EVLOOP_NONBLOCK); /* sealed, not deferred */
    int n = 0;
    for (int i = 0; i < 300 && (n = count_rows(dir)) < 2; i++)
        usleep(1000); /* no loop turn: a deferral timer could not fire */
    assert_int_equal(n, 2);
    close_store(&app, dir);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_rows_idle(const char *dir, int want) /* no loop turns */
{
    int n = 0;
    for (int i = 0; i < 500 && (n = count_rows(dir)) < want; i++)
        usleep(10 * 1000);
    return n;
}

/* --commit-delay: two groups sealed in separate loop turns within the delay commit in one
 * transaction (one fsync) that waited; without the delay the second, sealed after the first
 * was durable, is a transaction of its own; a close during the wait loses nothing. */
static void test_commit_delay(void **state)
{
    (void)state;
    for (int delay = 0; delay <= 1; delay++) {
        char dir[] = "/tmp/iotc-seal-XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct app app;
        memset(&app, 0, sizeof app);
        app.cfg.data_dir = dir;
        app.cfg.commit_delay_us = delay ? 100000 : 0;
        app.base = event_base_new();
        assert_non_null(app.base);
        assert_int_equal(store_open(&app), CE_OK);
        assert_int_equal(store_start(&app), CE_OK);
        struct store_stats s0, s1;
        store_stats_get(app.store, &s0);

        int64_t t0 = now_ms();
        add(&app, "a");
        event_base_loop(app.base, EVLOOP_ONCE | EVLOOP_NONBLOCK); /* sealed: the writer wakes */
        if (!delay)
            assert_int_equal(wait_rows_idle(dir, 1), 1);
        else
            usleep(10 * 1000); /* the writer is in its wait now */
        add(&app, "b");
        event_base_loop(app.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        int64_t sealed_ms = now_ms() - t0;
        assert_int_equal(wait_rows_idle(dir, 2), 2);
        store_stats_get(app.store, &s1);
        assert_int_equal(s1.committed - s0.committed, 2);
        if (!delay) {
            assert_int_equal(s1.commits - s0.commits, 2);
            assert_int_equal(s1.delayed - s0.delayed, 0);
        } else if (sealed_ms < 50) { /* a machine too busy to seal twice in 50 ms proves nothing */
            assert_int_equal(s1.commits - s0.commits, 1);
            assert_int_equal(s1.delayed - s0.delayed, 1);
        } else {
            print_message("commit delay: the two seals took %lld ms, not checked\n",
                          (long long)sealed_ms);
        }

        add(&app, "c");
        event_base_loop(app.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        store_close(&app); /* during the writer's wait: everything queued still commits */
        assert_int_equal(count_rows(dir), 3);
        event_base_free(app.base);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void)
{
    evthread_use_pthreads();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_waits_for_seal),
        cmocka_unit_test(test_deferred_group_rides_along),
        cmocka_unit_test(test_deferred_group_commits_alone),
        cmocka_unit_test(test_defer_keeps_others_writes),
        cmocka_unit_test(test_commit_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
