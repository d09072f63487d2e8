/*
 * test_appl_jobsm.c - the job state machine (src/central/app/appl_jobsm.c): batch sizes, bounded
 * concurrency, completion, the cancellation threshold (over the job and per batch), stop and
 * resume, and what a restart does to devices that were started but not finished.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "central/app/appl_jobsm.h"

static void test_batch_size(void **state)
{
    (void)state;
    assert_int_equal(jobsm_batch_size(false, 5, 20), 5);
    assert_int_equal(jobsm_batch_size(false, 50, 20), 20);
    assert_int_equal(jobsm_batch_size(false, 0, 20), 1);
    assert_int_equal(jobsm_batch_size(true, 25, 20), 5);
    assert_int_equal(jobsm_batch_size(true, 25, 21), 6); /* rounded up */
    assert_int_equal(jobsm_batch_size(true, 1, 3), 1);
    assert_int_equal(jobsm_batch_size(true, 100, 3), 3);
    assert_int_equal(jobsm_batch_size(true, 50, 0), 1);
}

/* 20 devices, batch 5: never more than 5 in flight; every device done once; complete. */
static void test_bounded_concurrency(void **state)
{
    (void)state;
    uint8_t dev[20] = {0};
    int started[20] = {0};
    struct jobsm m;
    jobsm_init(&m, dev, 20, 5);
    long inflight[20];
    size_t n_in = 0, max_in = 0, finished = 0;
    while (m.status == JS_RUNNING) {
        long i;
        while ((i = jobsm_next(&m)) >= 0) {
            started[i]++;
            inflight[n_in++] = i;
        }
        if (n_in > max_in)
            max_in = n_in;
        assert_true(n_in > 0);
        /* finish the oldest; device 7 fails */
        long done = inflight[0];
        memmove(inflight, inflight + 1, (--n_in) * sizeof inflight[0]);
        jobsm_finish(&m, (size_t)done, done != 7);
        finished++;
    }
    assert_int_equal(max_in, 5);
    assert_int_equal(finished, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(started[i], 1);
    assert_int_equal(m.status, JS_COMPLETE);
    assert_int_equal(jobsm_count(&m, JD_COMPLETED), 19);
    assert_int_equal(jobsm_count(&m, JD_FAILED), 1);
    assert_string_equal(jobsm_status_name(m.status), "complete");
    assert_string_equal(jobsm_dev_name(dev[7]), "failed");
    /* a finish for a device not in flight changes nothing */
    jobsm_finish(&m, 7, true);
    assert_int_equal(dev[7], JD_FAILED);
}

static void test_all_failed_and_empty(void **state)
{
    (void)state;
    uint8_t dev[3] = {0};
    struct jobsm m;
    jobsm_init(&m, dev, 3, 3);
    for (int k = 0; k < 3; k++)
        assert_true(jobsm_next(&m) >= 0);
    for (size_t k = 0; k < 3; k++)
        jobsm_finish(&m, k, false);
    assert_int_equal(m.status, JS_FAILED);
    jobsm_init(&m, dev, 0, 1);
    assert_int_equal(m.status, JS_COMPLETE);
    assert_int_equal(jobsm_next(&m), -1);
}

static void test_threshold_job(void **state)
{
    (void)state;
    uint8_t dev[10] = {0};
    struct jobsm m;
    jobsm_init(&m, dev, 10, 2);
    m.threshold = true;
    m.thr_percent = true;
    m.thr_value = 20; /* 2 of 10 */
    assert_int_equal(jobsm_next(&m), 0);
    assert_int_equal(jobsm_next(&m), 1);
    jobsm_finish(&m, 0, false);
    assert_int_equal(m.status, JS_RUNNING);
    assert_int_equal(jobsm_next(&m), 2);
    jobsm_finish(&m, 2, false); /* second failure: 20% */
    assert_int_equal(m.status, JS_CANCELLED);
    assert_int_equal(jobsm_next(&m), -1);
    assert_int_equal(jobsm_count(&m, JD_CANCELLED), 7);
    /* the device still in flight finishes and is recorded; the job stays cancelled */
    jobsm_finish(&m, 1, true);
    assert_int_equal(dev[1], JD_COMPLETED);
    assert_int_equal(m.status, JS_CANCELLED);
    /* restored from the states: cancelled */
    jobsm_init(&m, dev, 10, 2);
    assert_int_equal(m.status, JS_CANCELLED);
}

static void test_threshold_batch(void **state)
{
    (void)state;
    uint8_t dev[6] = {0};
    struct jobsm m;
    jobsm_init(&m, dev, 6, 3);
    m.threshold = true;
    m.thr_batch = true;
    m.thr_value = 2; /* 2 failures within one batch of 3 */
    for (int k = 0; k < 3; k++)
        assert_int_equal(jobsm_next(&m), k);
    jobsm_finish(&m, 0, false);
    jobsm_finish(&m, 1, true);
    jobsm_finish(&m, 2, true);
    assert_int_equal(jobsm_next(&m), 3);
    jobsm_finish(&m, 3, false); /* 1 in the second batch: below */
    assert_int_equal(m.status, JS_RUNNING);
    assert_int_equal(jobsm_next(&m), 4);
    jobsm_finish(&m, 4, false); /* 2 in the second batch */
    assert_int_equal(m.status, JS_CANCELLED);
    assert_int_equal(dev[5], JD_CANCELLED);
}

static void test_stop_resume(void **state)
{
    (void)state;
    uint8_t dev[4] = {0};
    struct jobsm m;
    jobsm_init(&m, dev, 4, 2);
    assert_int_equal(jobsm_next(&m), 0);
    assert_true(jobsm_stop(&m));
    assert_false(jobsm_stop(&m));
    assert_int_equal(jobsm_next(&m), -1); /* nothing new while stopped */
    jobsm_finish(&m, 0, true);            /* in flight still finishes */
    assert_int_equal(m.status, JS_STOPPED);
    assert_true(jobsm_resume(&m));
    assert_false(jobsm_resume(&m));
    for (long i = 1; i < 4; i++) {
        assert_int_equal(jobsm_next(&m), i);
        jobsm_finish(&m, (size_t)i, true);
    }
    assert_int_equal(m.status, JS_COMPLETE);
    assert_false(jobsm_stop(&m));
}

/* A restart between "started" and "done": redo (property writes) or fail (commands). */
static void test_recover(void **state)
{
    (void)state;
    uint8_t dev[4] = {JD_COMPLETED, JD_STARTED, JD_STARTED, JD_PENDING};
    uint8_t dev2[4];
    memcpy(dev2, dev, sizeof dev);
    struct jobsm m;
    jobsm_init(&m, dev, 4, 2);
    assert_int_equal(jobsm_recover(&m, true), 0);
    assert_int_equal(dev[1], JD_PENDING);
    assert_int_equal(jobsm_next(&m), 1);
    assert_int_equal(jobsm_next(&m), 2);
    assert_int_equal(jobsm_next(&m), -1);

    jobsm_init(&m, dev2, 4, 2);
    assert_int_equal(jobsm_recover(&m, false), 2);
    assert_int_equal(dev2[1], JD_FAILED);
    assert_int_equal(dev2[2], JD_FAILED);
    assert_int_equal(jobsm_next(&m), 3); /* the untouched one still runs */
    assert_int_equal(jobsm_next(&m), -1);
    jobsm_finish(&m, 3, true);
    assert_int_equal(m.status, JS_COMPLETE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_size),
        cmocka_unit_test(test_bounded_concurrency),
        cmocka_unit_test(test_all_failed_and_empty),
        cmocka_unit_test(test_threshold_job),
        cmocka_unit_test(test_threshold_batch),
        cmocka_unit_test(test_stop_resume),
        cmocka_unit_test(test_recover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
