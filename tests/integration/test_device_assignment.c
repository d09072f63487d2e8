/*
 * libiotc's cached DPS assignment (iotc_config.assignment_file) against a real iotc-central:
 * the first start provisions and records the assignment, a second start connects straight to
 * the hub without DPS, a hub refusal of a cached assignment (another device id) provisions
 * again and rewrites the file, a cached hub that is gone sends the device back to DPS, and a
 * file made for another registration id is not used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "device_util.h"

static struct th_central srv;
static char file[400];

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    snprintf(file, sizeof file, "%s/assignment", srv.root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

static void read_file(char *buf, size_t size)
{
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
}

static void write_file(const char *text)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
}

/* Start a client for @p reg_id with the assignment file, wait until one message is acked; return
 * the ms from start to that ack and the number of DPS registrations the client made. */
static int64_t run_once(const char *reg_id, uint64_t *provisionings)
{
    struct iotc_config cfg;
    static struct du_client d; /* static: see device_util.h */
    char ep[64];
    struct iotc_stats st;

    du_dps_config(&cfg, &srv, reg_id, ep, sizeof ep);
    cfg.assignment_file = file;
    int64_t t0 = du_now_ms();
    assert_int_equal(du_start(&d, &cfg, false), 0);
    assert_int_equal(du_run(&d), 0);
    assert_int_equal(du_send_seq(&d, 0), IOTC_OK);
    assert_true(du_wait_acked(&d, 1, 20000));
    int64_t took = du_now_ms() - t0;
    assert_int_equal(iotc_client_get_stats(d.c, &st), IOTC_OK);
    *provisionings = st.provisionings;
    assert_int_equal(du_reason_count(&d, IOTC_REASON_PROVISIONED), st.provisionings);
    du_stop(&d);
    return took;
}

static void test_second_start_skips_dps(void **state)
{
    char text[1024], expect[256];
    uint64_t prov;
    size_t rows = 0;
    (void)state;

    unlink(file);
    int64_t first = run_once("assign-1", &prov);
    assert_int_equal(prov, 1);
    read_file(text, sizeof text);
    snprintf(expect, sizeof expect, "scope %s\nregistration assign-1\n", srv.id_scope);
    assert_non_null(strstr(text, expect));
    assert_non_null(strstr(text, "\ndevice assign-1\n"));
    snprintf(expect, sizeof expect, "\nport %u\n", (unsigned)srv.mqtt_port);
    assert_non_null(strstr(text, expect));

    int64_t second = run_once("assign-1", &prov);
    assert_int_equal(prov, 0); /* straight to the hub */
    fprintf(stderr,
            "first acked message: %lld ms through DPS, %lld ms with the cached assignment\n",
            (long long)first, (long long)second);
    assert_true(second < first);
    assert_int_equal(du_store_count(&srv, "assign-1", 1, &rows), 1);
}

/* The hub refuses the cached device id (its key is assign-2's): DPS again, file rewritten. */
static void test_refusal_reprovisions(void **state)
{
    char text[1024];
    uint64_t prov;
    size_t rows = 0;
    (void)state;

    snprintf(text, sizeof text,
             "iotc-dps-assignment 1\nscope %s\nregistration assign-2\nhub localhost\nport %u\n"
             "device someone-else\n",
             srv.id_scope, (unsigned)srv.mqtt_port);
    write_file(text);
    run_once("assign-2", &prov);
    assert_int_equal(prov, 1);
    read_file(text, sizeof text);
    assert_non_null(strstr(text, "\ndevice assign-2\n"));
    assert_null(strstr(text, "someone-else"));
    assert_int_equal(du_store_count(&srv, "assign-2", 1, &rows), 1);
}

/* The cached hub is gone (nothing listens on its port): the first failure sends it to DPS. */
static void test_stale_hub_reprovisions(void **state)
{
    char text[1024];
    uint64_t prov;
    (void)state;

    snprintf(text, sizeof text,
             "iotc-dps-assignment 1\nscope %s\nregistration assign-3\nhub localhost\nport 1\n"
             "device assign-3\n",
             srv.id_scope);
    write_file(text);
    run_once("assign-3", &prov);
    assert_int_equal(prov, 1);
    read_file(text, sizeof text);
    assert_null(strstr(text, "\nport 1\n"));
}

/* Another registration's file is not used (and is replaced by this device's assignment). */
static void test_foreign_file_ignored(void **state)
{
    char text[1024];
    uint64_t prov;
    (void)state;

    unlink(file);
    run_once("assign-4", &prov);
    assert_int_equal(prov, 1);
    run_once("assign-5", &prov);
    assert_int_equal(prov, 1);
    read_file(text, sizeof text);
    assert_non_null(strstr(text, "\nregistration assign-5\n"));
    write_file("not an assignment\n");
    run_once("assign-5", &prov);
    assert_int_equal(prov, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_start_skips_dps),
        cmocka_unit_test(test_refusal_reprovisions),
        cmocka_unit_test(test_stale_hub_reprovisions),
        cmocka_unit_test(test_foreign_file_ignored),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
