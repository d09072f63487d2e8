/*
 * test_central_backup.c - `iotc-central backup` and `restore` (issue 14): a backup taken
 * while a device sends telemetry (QoS 1, each message acknowledged) is a consistent copy that
 * holds at least every message acknowledged before it started; restored into a new data dir
 * and served, the REST API shows the template, the device and its telemetry up to the backup,
 * the device connects with its key against the same CA, the admin token is the same; and both
 * commands refuse bad input with exit code 1 and say why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>

#include "capi_device_util.h"
#include "cli_util.h"

/* Run `iotc-central ARGS...` (NULL-terminated); returns the exit code. */
static int central(struct cu_out *o, const char *first, ...)
{
    const char *argv[CU_MAX_ARGS + 2];
    int n = 0;
    argv[n++] = th_central_bin();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL && n < CU_MAX_ARGS; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return cu_exec(o, 120000, argv);
}

/* ---------------------------------------------------------------- the device under load */

#define LOAD_MAX 200000 /* messages; the load stops long before (stop flag) */

struct load {
    pthread_t t;
    atomic_int acked; /* messages 1..acked are PUBACKed */
    atomic_bool stop;
    bool failed;
};

/* The device sends {"temp": i} for i = 1, 2, ... one at a time, QoS 1. */
static void *load_main(void *arg)
{
    struct load *l = arg;
    struct th_mqtt m;
    if (th_hub_connect(&m, &srv, DEV, KEY) != 0) {
        l->failed = true;
        return NULL;
    }
    char topic[160], body[64];
    snprintf(topic, sizeof topic, "devices/%s/messages/events/%%24.ct=application%%2Fjson", DEV);
    for (int i = 1; i <= LOAD_MAX && !atomic_load(&l->stop); i++) {
        int n = snprintf(body, sizeof body, "{\"temp\":%d}", i);
        struct iotc_mqtt_packet p;
        if (th_mqtt_publish(&m, topic, body, (size_t)n, 1) <= 0 ||
            th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 10000) != 0) {
            l->failed = true;
            break;
        }
        atomic_store(&l->acked, i);
    }
    th_mqtt_close(&m);
    return NULL;
}

static long long num_after(const char *text, const char *label)
{
    const char *p = strstr(text, label);
    return p != NULL ? strtoll(p + strlen(label), NULL, 10) : -1;
}

static bool file_same(const char *a, const char *b)
{
    char *x = th_read_file(a), *y = th_read_file(b);
    bool same = x != NULL && y != NULL && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

static void test_backup_under_load_restore(void **state)
{
    (void)state;
    char backup[400], restored[290], old_dir[300], old_ca[400], old_token[128];
    snprintf(backup, sizeof backup, "%s/central.backup", srv.root);
    snprintf(restored, sizeof restored, "%s/restored", srv.root);
    snprintf(old_dir, sizeof old_dir, "%s", srv.data_dir);
    snprintf(old_ca, sizeof old_ca, "%s", srv.ca_path);
    snprintf(old_token, sizeof old_token, "%s", srv.admin_token);

    static struct load l;
    atomic_init(&l.acked, 0);
    atomic_init(&l.stop, false);
    assert_int_equal(pthread_create(&l.t, NULL, load_main, &l), 0);
    for (int i = 0; i < 1000 && atomic_load(&l.acked) < 300; i++)
        usleep(10 * 1000);
    int before = atomic_load(&l.acked);
    assert_true(before >= 300);
    struct cu_out o;
    int rc = central(&o, "backup", "--data-dir", srv.data_dir, "--to", backup, NULL);
    int after = atomic_load(&l.acked) + 1; /* one more may be stored, not yet acknowledged */
    if (rc != 0)
        fail_msg("backup: exit %d: %s", rc, o.err);
    long long in_backup = num_after(o.out, "devices, ");
    assert_non_null(strstr(o.out, " telemetry messages), 6 other files"));
    cu_free(&o);
    /* the load goes on after the backup: those messages are not in it */
    int goal = after + 200;
    for (int i = 0; i < 1000 && atomic_load(&l.acked) < goal; i++)
        usleep(10 * 1000);
    atomic_store(&l.stop, true);
    pthread_join(l.t, NULL);
    assert_false(l.failed);
    int total = atomic_load(&l.acked);
    assert_true(total >= goal);
    /* consistent: every message acknowledged before the backup, none sent after it */
    if (in_backup < before || in_backup > after)
        fail_msg("backup holds %lld messages; %d were acknowledged before it, %d after", in_backup,
                 before, after);
    print_message("backup under load: %d messages acknowledged before it started, %lld in it, "
                  "%d acknowledged when it ended, %d in all\n",
                  before, in_backup, after - 1, total);
    struct stat st;
    assert_int_equal(stat(backup, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(th_central_stop(&srv), 0);
    assert_int_equal(th_count_telemetry(&srv, DEV), total);

    /* restore into a new dir, serve it */
    assert_int_equal(central(&o, "restore", "--from", backup, "--data-dir", restored, NULL), 0);
    cu_free(&o);
    assert_int_equal(stat(restored, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    static const char *const files[] = {"central.db", "app.json",   "admin-token",   "ca.pem",
                                        "ca-key.pem", "server.pem", "server-key.pem"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", restored, files[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    snprintf(srv.data_dir, sizeof srv.data_dir, "%s", restored);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(th_count_telemetry(&srv, DEV), (int)in_backup);
    assert_string_equal(srv.admin_token, old_token);
    assert_true(file_same(srv.ca_path, old_ca));

    /* the REST API: template, device, its last telemetry value is the backup's last message */
    assert_int_equal(admin("GET", "/api/deviceTemplates/" TID_URL, NULL), 200);
    assert_int_equal(admin("GET", "/api/devices/" DEV, NULL), 200);
    assert_string_equal(capi_jstr(R.json, "template"), TID);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/telemetry/temp", NULL), 200);
    assert_true(jnum(R.json, "value") == (double)in_backup);
    assert_int_equal(admin("GET", "/api/devices/" DEV "/credentials", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "symmetricKey.primaryKey"), KEY);

    /* the device connects with its key, checking the server against the original CA file */
    char token[512], user[400];
    assert_int_equal(th_hub_token(&srv, DEV, KEY, th_now() + 3600, token, sizeof token), 0);
    snprintf(user, sizeof user, "%s/%s/?api-version=2021-04-12", srv.hub_host, DEV);
    assert_int_equal(th_mqtt_open(&M, srv.mqtt_port, old_ca), 0);
    M_open = true;
    assert_int_equal(th_mqtt_connect(&M, DEV, user, token, 60, true), 0);
    telemetry("{\"temp\":-1}");
    assert_int_equal(th_count_telemetry(&srv, DEV), (int)in_backup + 1);
    device_close();
    (void)old_dir;
}

/* Bad input: exit 1 and a reason, nothing written. */
static void test_bad_input_refused(void **state)
{
    (void)state;
    char backup[400], path[400], other[400];
    snprintf(backup, sizeof backup, "%s/refusals.backup", srv.root);
    struct cu_out o;
    /* backup: no data dir; a dir without an application; a missing target dir; no --to */
    snprintf(path, sizeof path, "%s/missing", srv.root);
    assert_int_equal(central(&o, "backup", "--data-dir", path, "--to", backup, NULL), 1);
    assert_non_null(strstr(o.err, "iotc-central backup: no data directory"));
    cu_free(&o);
    snprintf(path, sizeof path, "%s/empty", srv.root);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(central(&o, "backup", "--data-dir", path, "--to", backup, NULL), 1);
    assert_non_null(strstr(o.err, "no application in"));
    cu_free(&o);
    snprintf(other, sizeof other, "%s/no/such/dir/x.backup", srv.root);
    assert_int_equal(central(&o, "backup", "--data-dir", srv.data_dir, "--to", other, NULL), 1);
    assert_non_null(strstr(o.err, "No such file or directory"));
    cu_free(&o);
    assert_int_equal(central(&o, "backup", "--data-dir", srv.data_dir, NULL), 1);
    assert_non_null(strstr(o.err, "backup needs --to FILE"));
    cu_free(&o);
    assert_int_not_equal(access(backup, F_OK), 0);

    /* an existing file is kept unless --force */
    FILE *f = fopen(backup, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_int_equal(central(&o, "backup", "--data-dir", srv.data_dir, "--to", backup, NULL), 1);
    assert_non_null(strstr(o.err, "exists (--force replaces it)"));
    cu_free(&o);
    char *kept = th_read_file(backup);
    assert_string_equal(kept, "precious\n");
    free(kept);
    assert_int_equal(
        central(&o, "backup", "--data-dir", srv.data_dir, "--to", backup, "--force", NULL), 0);
    cu_free(&o);

    /* restore: no file; not a backup; a non-empty dir; no --from */
    snprintf(path, sizeof path, "%s/new", srv.root);
    assert_int_equal(central(&o, "restore", "--from", other, "--data-dir", path, NULL), 1);
    assert_non_null(strstr(o.err, "iotc-central restore: cannot read"));
    cu_free(&o);
    char notours[400];
    snprintf(notours, sizeof notours, "%s/central.db", srv.data_dir); /* SQLite, not a backup */
    assert_int_equal(central(&o, "restore", "--from", notours, "--data-dir", path, NULL), 1);
    assert_non_null(strstr(o.err, "is not an iotc-central backup"));
    cu_free(&o);
    snprintf(notours, sizeof notours, "%s/app.json", srv.data_dir); /* not SQLite at all */
    assert_int_equal(central(&o, "restore", "--from", notours, "--data-dir", path, NULL), 1);
    assert_non_null(strstr(o.err, "is not an iotc-central backup"));
    cu_free(&o);
    assert_int_not_equal(access(path, F_OK), 0); /* nothing made */
    assert_int_equal(central(&o, "restore", "--from", backup, "--data-dir", srv.data_dir, NULL), 1);
    assert_non_null(strstr(o.err, "is not empty"));
    cu_free(&o);
    assert_int_equal(central(&o, "restore", "--data-dir", path, NULL), 1);
    assert_non_null(strstr(o.err, "restore needs --from FILE"));
    cu_free(&o);
    /* an empty existing dir is fine, and becomes 0700 */
    snprintf(path, sizeof path, "%s/empty", srv.root);
    assert_int_equal(chmod(path, 0755), 0);
    assert_int_equal(central(&o, "restore", "--from", backup, "--data-dir", path, NULL), 0);
    cu_free(&o);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_refused),
        cmocka_unit_test(test_backup_under_load_restore),
    };
    return cmocka_run_group_tests_name("central_backup", tests, setup, teardown);
}
