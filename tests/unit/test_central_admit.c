/*
 * test_central_admit.c - the pre-authentication connection policy (central/base/admit.h):
 * the plan from the descriptor limit, per-address refusal, eviction of the busiest address's
 * oldest pending connection, separate budgets per class, deadlines and rate-limited reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "central/base/admit.h"
#include "central/base/app.h"
#include "central/base/log.h"

static struct admit_key key4(const char *ip)
{
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_port = htons(1234);
    assert_int_equal(inet_pton(AF_INET, ip, &in.sin_addr), 1);
    return admit_key_of((const struct sockaddr *)&in);
}

static void test_plan(void **state)
{
    (void)state;
    struct admit_limits l;
    /* a high limit: --max-connections rules, HTTP gets 256 */
    struct admit_plan_in in = {.nofile = 1048576, .max_connections = 100000};
    size_t share = 1048576 - ADMIT_RESERVED_FDS - 256;
    assert_int_equal(admit_plan(&in, &l), 100000);
    assert_int_equal(l.open[ADMIT_HTTP], 256);
    assert_int_equal(l.open[ADMIT_MQTT], share);
    assert_int_equal(l.pending[ADMIT_MQTT], share / 2);
    assert_int_equal(l.per_address[ADMIT_MQTT], share / 4);
    assert_int_equal(l.per_address[ADMIT_HTTP], 128);
    assert_int_equal(l.deadline_ms, 10000);
    /* the case: 20,000 descriptors, 100,000 asked: the cap follows the descriptors */
    in.nofile = 20000;
    size_t cap = admit_plan(&in, &l);
    assert_int_equal(cap, 20000 - ADMIT_RESERVED_FDS - 256);
    assert_int_equal(l.open[ADMIT_MQTT], cap);
    assert_true(cap + l.open[ADMIT_HTTP] + ADMIT_RESERVED_FDS <= 20000);
    /* a small limit: HTTP an eighth of what is left, all of it within the limit */
    in.nofile = 256;
    cap = admit_plan(&in, &l);
    assert_int_equal(l.open[ADMIT_HTTP], (256 - ADMIT_RESERVED_FDS) / 8);
    assert_int_equal(cap + l.open[ADMIT_HTTP], 256 - ADMIT_RESERVED_FDS);
    /* options */
    struct admit_plan_in o = {.nofile = 4096,
                              .max_connections = 1000,
                              .max_pending = 100,
                              .max_per_address = 7,
                              .max_http = 50,
                              .auth_timeout_s = 3};
    assert_int_equal(admit_plan(&o, &l), 1000);
    assert_int_equal(l.open[ADMIT_MQTT], 4096 - ADMIT_RESERVED_FDS - 50);
    assert_int_equal(l.pending[ADMIT_MQTT], 100);
    assert_int_equal(l.per_address[ADMIT_MQTT], 7);
    assert_int_equal(l.per_address[ADMIT_HTTP], 7);
    assert_int_equal(l.open[ADMIT_HTTP], 50);
    assert_int_equal(l.deadline_ms, 3000);
}

static struct admit_limits small(void)
{
    struct admit_limits l = {
        .open = {6, 4}, .pending = {4, 4}, .per_address = {2, 3}, .deadline_ms = 10000};
    return l;
}

static void test_per_address_refusal(void **state)
{
    (void)state;
    struct admit_limits l = small();
    struct admit *a = admit_new(&l);
    struct admit_slot s[3];
    struct admit_slot *v;
    struct admit_key k = key4("127.0.0.2");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(admit_decide(a, &k, ADMIT_MQTT, &v), ADMIT_OK);
        assert_int_equal(admit_enter(a, &s[i], &k, ADMIT_MQTT, 1000 + i), CE_OK);
    }
    assert_int_equal(admit_decide(a, &k, ADMIT_MQTT, &v), ADMIT_REFUSE_ADDR);
    /* the address's connections count per class: HTTP from it is still fine */
    assert_int_equal(admit_decide(a, &k, ADMIT_HTTP, &v), ADMIT_OK);
    /* one authenticates: the address may open another */
    admit_done(a, &s[0]);
    assert_int_equal(admit_pending_count(a, ADMIT_MQTT), 1);
    assert_int_equal(admit_open_count(a, ADMIT_MQTT), 2);
    assert_int_equal(admit_decide(a, &k, ADMIT_MQTT, &v), ADMIT_OK);
    assert_int_equal(admit_enter(a, &s[2], &k, ADMIT_MQTT, 2000), CE_OK);
    for (int i = 0; i < 3; i++)
        admit_leave(a, &s[i]);
    admit_leave(a, &s[0]); /* twice: harmless */
    assert_int_equal(admit_open_count(a, ADMIT_MQTT), 0);
    assert_int_equal(admit_pending_count(a, ADMIT_MQTT), 0);
    admit_free(a);
}

static void test_evicts_busiest_address_oldest(void **state)
{
    (void)state;
    struct admit_limits l = small();
    struct admit *a = admit_new(&l);
    struct admit_slot f[4], dev, dev2;
    struct admit_slot *v;
    struct admit_key k2 = key4("127.0.0.2"), k3 = key4("127.0.0.3"), k9 = key4("127.0.0.9"),
                     k1 = key4("127.0.0.1");
    /* the flood: 127.0.0.3 first (older), then two from 127.0.0.2 */
    assert_int_equal(admit_enter(a, &f[0], &k3, ADMIT_MQTT, 100), CE_OK);
    assert_int_equal(admit_enter(a, &f[1], &k2, ADMIT_MQTT, 200), CE_OK);
    assert_int_equal(admit_enter(a, &f[2], &k2, ADMIT_MQTT, 300), CE_OK);
    assert_int_equal(admit_enter(a, &f[3], &k3, ADMIT_MQTT, 400), CE_OK);
    /* full (4 pending): a device from 127.0.0.9 gets in at the cost of the busiest address's
     * oldest; both hold two, the first found of the two goes, never the device */
    assert_int_equal(admit_decide(a, &k9, ADMIT_MQTT, &v), ADMIT_EVICT);
    assert_true(v == &f[0] || v == &f[1]);
    admit_leave(a, v);
    assert_int_equal(admit_enter(a, &dev, &k9, ADMIT_MQTT, 500), CE_OK);
    /* the flood reopens: its busiest address loses its oldest again, not the device */
    struct admit_key kv = v == &f[0] ? k3 : k2;
    struct admit_slot *expect = v == &f[0] ? &f[1] : &f[0];
    assert_int_equal(admit_decide(a, &kv, ADMIT_MQTT, &v), ADMIT_EVICT);
    assert_ptr_equal(v, expect);
    /* with every address holding one, the oldest of all goes */
    admit_leave(a, v);
    admit_leave(a, &f[2]);
    admit_leave(a, &f[3]);
    assert_int_equal(admit_pending_count(a, ADMIT_MQTT), 1);
    assert_int_equal(admit_enter(a, &f[0], &k2, ADMIT_MQTT, 600), CE_OK);
    assert_int_equal(admit_enter(a, &f[1], &k3, ADMIT_MQTT, 700), CE_OK);
    assert_int_equal(admit_enter(a, &dev2, &k1, ADMIT_MQTT, 800), CE_OK);
    assert_int_equal(admit_decide(a, &k2, ADMIT_MQTT, &v), ADMIT_EVICT);
    assert_ptr_equal(v, &dev); /* the oldest pending one */
    /* authenticated connections are never victims: with nothing pending and the class full,
     * the newcomer is refused */
    admit_done(a, &dev);
    admit_done(a, &dev2);
    admit_done(a, &f[0]);
    admit_done(a, &f[1]);
    struct admit_slot g[2];
    assert_int_equal(admit_enter(a, &g[0], &k9, ADMIT_MQTT, 900), CE_OK);
    assert_int_equal(admit_enter(a, &g[1], &k9, ADMIT_MQTT, 900), CE_OK);
    admit_done(a, &g[0]);
    admit_done(a, &g[1]);
    assert_int_equal(admit_open_count(a, ADMIT_MQTT), 6);
    assert_int_equal(admit_decide(a, &k1, ADMIT_MQTT, &v), ADMIT_REFUSE_FULL);
    assert_null(v);
    /* HTTP has its own budget */
    assert_int_equal(admit_decide(a, &k1, ADMIT_HTTP, &v), ADMIT_OK);
    admit_free(a);
}

static void test_http_pending_again_and_deadline(void **state)
{
    (void)state;
    struct admit_limits l = small();
    struct admit *a = admit_new(&l);
    struct admit_slot h[4];
    struct admit_slot *v;
    struct admit_key k = key4("127.0.0.5"), o = key4("127.0.0.6");
    assert_int_equal(admit_enter(a, &h[0], &k, ADMIT_HTTP, 1000), CE_OK);
    assert_int_equal(admit_wait_ms(a, &h[0], 1000), 10000);
    assert_int_equal(admit_wait_ms(a, &h[0], 4000), 7000); /* bytes or not: from the accept */
    assert_int_equal(admit_wait_ms(a, &h[0], 12000), 0);
    admit_done(a, &h[0]); /* a request is being answered: not pending, no deadline */
    assert_int_equal(admit_pending_count(a, ADMIT_HTTP), 0);
    assert_int_equal(admit_again(a, &h[0], 5000), CE_OK); /* answered: the next one's deadline */
    assert_int_equal(admit_wait_ms(a, &h[0], 5000), 10000);
    assert_int_equal(admit_wait_ms(a, &h[0], 14000), 1000);
    assert_int_equal(admit_pending_count(a, ADMIT_HTTP), 1);
    for (int i = 1; i < 4; i++)
        assert_int_equal(admit_enter(a, &h[i], &o, ADMIT_HTTP, 6000 + i), CE_OK);
    /* HTTP full (4 open): the address with three pending loses its oldest */
    assert_int_equal(admit_decide(a, &k, ADMIT_HTTP, &v), ADMIT_EVICT);
    assert_ptr_equal(v, &h[1]);
    for (int i = 0; i < 4; i++)
        admit_leave(a, &h[i]);
    assert_int_equal(admit_open_count(a, ADMIT_HTTP), 0);
    admit_free(a);
}

static void test_report_rate_limited(void **state)
{
    (void)state;
    struct admit_limits l = small();
    struct admit *a = admit_new(&l);
    log_set_level(LOG_ERROR); /* the lines themselves are not what is tested here */
    /* the first event is logged at once; the next 99 within that second wait */
    assert_int_equal(admit_report(a, ADMIT_R_REFUSED_ADDR, ADMIT_MQTT, "127.0.0.2:1", 10000), 1);
    uint64_t logged = 0;
    for (int i = 0; i < 99; i++)
        logged += admit_report(a, ADMIT_R_REFUSED_ADDR, ADMIT_MQTT, "127.0.0.2:2", 10001 + i);
    assert_int_equal(logged, 0);
    /* another reason has its own line */
    assert_int_equal(admit_report(a, ADMIT_R_DEADLINE, ADMIT_MQTT, "127.0.0.3:1", 10200), 1);
    /* nothing to flush before the second is over */
    assert_int_equal(admit_flush(a, 10500), 0);
    /* then the 99 in one line, and nothing left */
    assert_int_equal(admit_flush(a, 11000), 99);
    assert_int_equal(admit_flush(a, 13000), 0);
    /* a second later, an event is logged at once with its own count */
    assert_int_equal(admit_report(a, ADMIT_R_REFUSED_ADDR, ADMIT_MQTT, "127.0.0.2:3", 12001), 1);
    admit_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_per_address_refusal),
        cmocka_unit_test(test_evicts_busiest_address_oldest),
        cmocka_unit_test(test_http_pending_again_and_deadline),
        cmocka_unit_test(test_report_rate_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
