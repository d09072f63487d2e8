/* The device client's bounded outgoing queue: caps, overflow counting, in-flight bookkeeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <iotc/common.h>

#include "device/alloc.h"
#include "device/queue.h"

static void drain(struct iotc__queue *q)
{
    struct iotc__qentry *e;
    while ((e = iotc__queue_pop(q)) != NULL)
        free(e);
}

static void test_push_copy_and_order(void **state)
{
    struct iotc__queue q;
    struct iotc__qentry *a, *b;
    char body[] = "{\"temp\":1}";
    (void)state;

    iotc__queue_init(&q, 4, 1024);
    assert_int_equal(
        iotc__queue_push(&q, IOTC__Q_TELEMETRY, "%24.ct=x", 8, body, strlen(body), NULL, NULL, &a),
        IOTC_OK);
    body[2] = 'X'; /* the queue holds its own copy */
    assert_string_equal(iotc__qentry_body(a), "{\"temp\":1}");
    assert_string_equal(iotc__qentry_aux(a), "%24.ct=x");
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_REPORTED, "", 0, "{}", 2, NULL, NULL, &b),
                     IOTC_OK);
    assert_int_not_equal(a->id, 0);
    assert_int_not_equal(a->id, b->id);
    assert_int_equal(q.count, 2);
    assert_int_equal(q.bytes, 8 + 10 + 2);
    assert_ptr_equal(iotc__queue_next_unsent(&q), a);
    a->in_flight = true;
    a->mid = 7;
    assert_ptr_equal(iotc__queue_next_unsent(&q), b);
    b->in_flight = true;
    b->rid = 9;
    assert_null(iotc__queue_next_unsent(&q));
    assert_int_equal(iotc__queue_in_flight(&q), 2);
    assert_ptr_equal(iotc__queue_find_mid(&q, 7), a);
    assert_null(iotc__queue_find_mid(&q, 9)); /* rid 9 is a twin request, not a PUBLISH mid */
    assert_ptr_equal(iotc__queue_find_rid(&q, 9), b);
    assert_null(iotc__queue_find_rid(&q, 7));

    iotc__queue_mark_all_unsent(&q);
    assert_int_equal(iotc__queue_in_flight(&q), 0);
    assert_null(iotc__queue_find_mid(&q, 7));
    assert_ptr_equal(iotc__queue_next_unsent(&q), a);

    iotc__queue_unlink(&q, a);
    free(a);
    assert_int_equal(q.count, 1);
    assert_int_equal(q.bytes, 2);
    assert_ptr_equal(q.head, b);
    assert_ptr_equal(q.tail, b);
    drain(&q);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    assert_null(q.head);
    assert_null(q.tail);
}

static void test_count_cap_overflow_counted(void **state)
{
    struct iotc__queue q;
    (void)state;

    iotc__queue_init(&q, 3, 1 << 20);
    for (int i = 0; i < 3; i++)
        assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, "x", 1, NULL, NULL, NULL),
                         IOTC_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, "x", 1, NULL, NULL, NULL),
                         IOTC_E_NOSPACE);
    assert_int_equal(q.overflowed, 5);
    assert_int_equal(q.count, 3);
    /* Space comes back once an entry is acknowledged. */
    free(iotc__queue_pop(&q));
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, "x", 1, NULL, NULL, NULL),
                     IOTC_OK);
    drain(&q);
}

static void test_byte_cap(void **state)
{
    struct iotc__queue q;
    char big[100];
    (void)state;

    memset(big, 'a', sizeof(big));
    iotc__queue_init(&q, 100, 250);
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, big, 100, NULL, NULL, NULL),
                     IOTC_OK);
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, big, 50, big, 100, NULL, NULL, NULL),
                     IOTC_OK);
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, big, 1, NULL, NULL, NULL),
                     IOTC_E_NOSPACE);
    /* Larger than the whole cap: can never fit. */
    char huge[300];
    memset(huge, 'b', sizeof(huge));
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, huge, 300, NULL, NULL, NULL),
                     IOTC_E_TOOBIG);
    assert_int_equal(q.overflowed, 2);
    assert_int_equal(q.bytes, 250);
    drain(&q);
}

static void test_defaults_and_empty(void **state)
{
    struct iotc__queue q;
    struct iotc__qentry *e;
    (void)state;

    iotc__queue_init(&q, 0, 0);
    assert_int_equal(q.max_count, 64);
    assert_int_equal(q.max_bytes, 64 * 1024);
    assert_null(iotc__queue_pop(&q));
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, NULL, 0, NULL, NULL, &e),
                     IOTC_OK);
    assert_int_equal(e->body_len, 0);
    assert_string_equal(iotc__qentry_body(e), "");
    drain(&q);
}

static void test_alloc_failure(void **state)
{
    struct iotc__queue q;
    (void)state;

    iotc__queue_init(&q, 4, 1024);
    iotc__alloc_fail_at(1, 0);
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, "x", 1, NULL, NULL, NULL),
                     IOTC_E_NOMEM);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.overflowed, 0); /* an allocation failure is not an overflow */
    assert_int_equal(iotc__queue_push(&q, IOTC__Q_TELEMETRY, "", 0, "x", 1, NULL, NULL, NULL),
                     IOTC_OK);
    iotc__alloc_fail_at(0, 0);
    drain(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_copy_and_order),
        cmocka_unit_test(test_count_cap_overflow_counted),
        cmocka_unit_test(test_byte_cap),
        cmocka_unit_test(test_defaults_and_empty),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
