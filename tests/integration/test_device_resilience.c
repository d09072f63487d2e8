/*
 * libiotc resilience against a real iotc-central on loopback:
 *  - the server is killed (SIGKILL) mid-run and restarted: the client reconnects by itself and
 *    every message it queued meanwhile is delivered (counted in the server's store);
 *  - a 5-second SAS token is renewed (by reconnecting) again and again without losing a message;
 *  - a full queue refuses messages visibly (return code + counter), never silently;
 *  - the hub refusing the credentials (device deleted) makes the client provision again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "device_util.h"

static struct th_central srv;

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

static void test_kill_and_restart_delivers_everything(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    const size_t total = 60;
    (void)state;

    du_dps_config(&cfg, &srv, "res-kill-1", ep, sizeof(ep));
    cfg.queue_max_msgs = 200;
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));

    /* First half while connected. */
    for (size_t i = 0; i < total / 2; i++) {
        assert_int_equal(du_send_seq(&d, i), IOTC_OK);
        du_sleep_ms(5);
    }
    assert_true(du_wait_acked(&d, total / 2, 10000));

    du_kill_server(&srv);
    /* The client notices the loss by itself and waits out its backoff. */
    int64_t end = du_now_ms() + 10000;
    while (du_state(&d) == IOTC_STATE_CONNECTED && du_now_ms() < end)
        du_sleep_ms(10);
    assert_int_not_equal(du_state(&d), IOTC_STATE_CONNECTED);

    /* Second half while the server is down: queued, not refused. */
    for (size_t i = total / 2; i < total; i++)
        assert_int_equal(du_send_seq(&d, i), IOTC_OK);
    du_sleep_ms(700); /* a few reconnect attempts fail meanwhile */
    assert_int_equal(du_acked(&d), total / 2);

    assert_int_equal(du_restart_same_ports(&srv), 0);
    assert_true(du_wait_connected(&d, 2, 20000));
    assert_true(du_wait_acked(&d, total, 20000));

    struct iotc_stats st;
    iotc_client_get_stats(d.c, &st);
    assert_int_equal(st.telemetry_acked, total);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.queue_len, 0);
    assert_true(st.connects >= 2);
    assert_true(du_reason_count(&d, IOTC_REASON_NETWORK) >= 1);

    size_t rows = 0;
    int distinct = du_store_count(&srv, "res-kill-1", total, &rows);
    fprintf(stderr, "kill/restart: %d distinct of %zu stored (%zu rows, %llu resent)\n", distinct,
            total, rows, (unsigned long long)st.resent);
    assert_int_equal(distinct, (int)total);
    du_stop(&d);
}

static void test_short_token_is_renewed_without_loss(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    size_t sent = 0;
    (void)state;

    du_dps_config(&cfg, &srv, "res-token-1", ep, sizeof(ep));
    cfg.sas_lifetime_s = 5;
    cfg.queue_max_msgs = 500;
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));

    /* ~13 s of steady traffic: several token lifetimes. */
    int64_t end = du_now_ms() + 13000;
    while (du_now_ms() < end) {
        assert_int_equal(du_send_seq(&d, sent), IOTC_OK);
        sent++;
        du_sleep_ms(40);
    }
    assert_true(du_wait_acked(&d, sent, 15000));

    struct iotc_stats st;
    iotc_client_get_stats(d.c, &st);
    fprintf(stderr, "token renewal: %zu sent, %llu renewals, %llu connects, %llu resent\n", sent,
            (unsigned long long)st.token_renewals, (unsigned long long)st.connects,
            (unsigned long long)st.resent);
    assert_true(st.token_renewals >= 2);
    assert_true(du_reason_count(&d, IOTC_REASON_TOKEN_RENEWAL) >= 2);
    /* Renewal is planned: the server never had to close an expired session on us. */
    assert_int_equal(du_reason_count(&d, IOTC_REASON_NETWORK), 0);
    assert_int_equal(du_reason_count(&d, IOTC_REASON_AUTH), 0);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.telemetry_acked, sent);
    assert_int_equal(du_store_count(&srv, "res-token-1", sent, NULL), (int)sent);
    du_stop(&d);
}

static void test_queue_overflow_is_reported(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    (void)state;

    du_dps_config(&cfg, &srv, "res-queue-1", ep, sizeof(ep));
    cfg.queue_max_msgs = 5;
    assert_int_equal(du_start(&d, &cfg, false), 0);
    /* Not started yet: everything waits in the queue. */
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(du_send_seq(&d, i), IOTC_OK);
    for (size_t i = 5; i < 8; i++)
        assert_int_equal(du_send_seq(&d, i), IOTC_E_NOSPACE);
    struct iotc_stats st;
    iotc_client_get_stats(d.c, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.queue_len, 5);
    assert_int_equal(st.telemetry_queued, 5);

    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_acked(&d, 5, 15000));
    /* Space is back once acknowledged. */
    assert_int_equal(du_send_seq(&d, 5), IOTC_OK);
    assert_true(du_wait_acked(&d, 6, 10000));
    iotc_client_get_stats(d.c, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(du_store_count(&srv, "res-queue-1", 8, NULL), 6);
    du_stop(&d);
}

static void test_refused_credentials_reprovision(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    struct th_http_response r;
    char ep[64];
    (void)state;

    du_dps_config(&cfg, &srv, "res-reprov-1", ep, sizeof(ep));
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));
    assert_int_equal(du_send_seq(&d, 0), IOTC_OK);
    assert_true(du_wait_acked(&d, 1, 10000));

    /* Deleting the device kicks it; its reconnect is refused; DPS (group enrollment) then
     * registers it again and the client reaches the hub with the new registration. */
    assert_int_equal(th_https(&srv, "DELETE", "/devices/res-reprov-1?api-version=2021-04-12",
                              "If-Match: \"*\"\r\n", NULL, true, 10000, &r),
                     0);
    free(r.body);
    assert_true(r.status == 204 || r.status == 200);
    assert_true(du_wait_connected(&d, 2, 20000));
    assert_true(du_reason_count(&d, IOTC_REASON_REPROVISION) >= 1);
    struct iotc_stats st;
    iotc_client_get_stats(d.c, &st);
    assert_int_equal(st.provisionings, 2);
    assert_int_equal(du_send_seq(&d, 1), IOTC_OK);
    assert_true(du_wait_acked(&d, 2, 10000));
    du_stop(&d);
}

/* A wrong key never gets in, but the client keeps retrying with growing delays (and stops). */
static void test_wrong_key_backs_off(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    (void)state;

    du_dps_config(&cfg, &srv, "res-badkey-1", ep, sizeof(ep));
    cfg.group_key = NULL;
    cfg.device_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    cfg.backoff_base_ms = 100;
    cfg.backoff_max_ms = 400;
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(du_run(&d), 0);
    du_sleep_ms(2500);
    assert_int_not_equal(du_state(&d), IOTC_STATE_CONNECTED);
    unsigned refusals =
        du_reason_count(&d, IOTC_REASON_AUTH) + du_reason_count(&d, IOTC_REASON_REFUSED);
    /* With delays of 50..400 ms there are several attempts in 2.5 s, but not hundreds. */
    fprintf(stderr, "wrong key: %u refusals in 2.5 s\n", refusals);
    assert_true(refusals >= 3);
    assert_true(refusals <= 40);
    int64_t t0 = du_now_ms();
    du_stop(&d); /* stopping while waiting out a backoff is immediate */
    assert_true(du_now_ms() - t0 < 2000);
}

/* ---- a reconnect re-reads the twin but re-delivers nothing that did not change ---- */

static int deliveries_a, deliveries_b;

static int on_prop(void *user, struct iotc_client *c, const struct iotc_property *p,
                   const char **out_desc)
{
    (void)c;
    (void)p;
    (void)out_desc;
    __atomic_add_fetch((int *)user, 1, __ATOMIC_SEQ_CST);
    return 200;
}

static int count_of(int *v)
{
    return __atomic_load_n(v, __ATOMIC_SEQ_CST);
}

static bool wait_count(int *v, int want, int timeout_ms)
{
    int64_t end = du_now_ms() + timeout_ms;
    while (du_now_ms() < end && count_of(v) < want)
        du_sleep_ms(20);
    return count_of(v) >= want;
}

static void test_reconnect_does_not_redeliver(void **state)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    (void)state;

    du_dps_config(&cfg, &srv, "res-twin-1", ep, sizeof(ep));
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(iotc_client_on_property(d.c, NULL, "a", on_prop, &deliveries_a), IOTC_OK);
    assert_int_equal(iotc_client_on_property(d.c, NULL, "b", on_prop, &deliveries_b), IOTC_OK);
    assert_int_equal(du_run(&d), 0);
    assert_true(du_wait_connected(&d, 1, 15000));

    assert_true(du_patch_desired(&srv, "res-twin-1", "{\"a\":1}") > 0);
    assert_true(wait_count(&deliveries_a, 1, 10000));
    assert_true(du_patch_desired(&srv, "res-twin-1", "{\"b\":2}") > 0);
    assert_true(wait_count(&deliveries_b, 1, 10000));

    /* A clean restart (SIGTERM flushes the store): with SIGKILL iotc-central may lose the last
     * twin writes and hand out their versions again, which the client treats as a rollback and
     * reconciles from scratch, re-delivering on purpose. */
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(du_restart_same_ports(&srv), 0);
    assert_true(du_wait_connected(&d, 2, 20000));
    du_sleep_ms(500); /* time for the twin read and any (wrong) re-delivery */
    assert_int_equal(count_of(&deliveries_a), 1);
    assert_int_equal(count_of(&deliveries_b), 1);

    /* A change after the reconnect is delivered once, as a push. */
    assert_true(du_patch_desired(&srv, "res-twin-1", "{\"a\":3}") > 0);
    if (!wait_count(&deliveries_a, 2, 10000)) {
        du_dump_server_log(&srv, 40);
        fail_msg("desired change after the reconnect not delivered");
    }
    du_sleep_ms(300);
    assert_int_equal(count_of(&deliveries_a), 2);
    assert_int_equal(count_of(&deliveries_b), 1);
    du_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_overflow_is_reported),
        cmocka_unit_test(test_kill_and_restart_delivers_everything),
        cmocka_unit_test(test_short_token_is_renewed_without_loss),
        cmocka_unit_test(test_refused_credentials_reprovision),
        cmocka_unit_test(test_wrong_key_backs_off),
        cmocka_unit_test(test_reconnect_does_not_redeliver),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
