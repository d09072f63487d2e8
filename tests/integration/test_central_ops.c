/*
 * test_central_ops.c - running iotc-central as a server: the data directory's modes whatever
 * the umask, one server per data directory (lock, refusal naming the pid, ports.json removed
 * on a clean stop, a stale ports.json recognised by `iotc`), and the admin token kept in
 * DIR/admin-token and replaced with `iotc-central rotate-admin-token` on a running or a
 * stopped server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>

#include "cli_util.h"

/* A th_central on a data dir of our choosing: root/app, not started yet. */
static void srv_prepare(struct th_central *c)
{
    memset(c, 0, sizeof *c);
    const char *tmp = getenv("TMPDIR");
    snprintf(c->root, sizeof c->root, "%s/iotc-central-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(c->root));
    snprintf(c->data_dir, sizeof c->data_dir, "%s/app", c->root);
    snprintf(c->log_path, sizeof c->log_path, "%s/server.log", c->root);
}

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
    return cu_exec(o, 60000, argv);
}

static void read_token(const struct th_central *c, char *out, size_t size)
{
    char path[400];
    snprintf(path, sizeof path, "%s/admin-token", c->data_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(out, (int)size, f));
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    assert_true(strncmp(out, "iotc-admin.", 11) == 0);
}

/* `iotc devices list` with @p token on the running server: its exit code (0, or 5 on 401). */
static int list_with(const struct th_central *c, const char *token)
{
    return cu_rc("devices", "list", "--data-dir", c->data_dir, "--token", token, NULL);
}

static void assert_mode(const char *path, unsigned mode)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if ((st.st_mode & 0777) != mode)
        fail_msg("%s: mode %o, want %o", path, st.st_mode & 0777, mode);
}

/* D4: a data dir that existed with mode 0755 and a umask of 022: the dir becomes 0700 (with
 * a warning) and every file in it, SQLite's -wal and -shm included, is 0600. */
static void test_data_dir_modes(void **state)
{
    (void)state;
    struct th_central c;
    srv_prepare(&c);
    mode_t old = umask(022);
    assert_int_equal(mkdir(c.data_dir, 0755), 0);
    assert_int_equal(chmod(c.data_dir, 0755), 0);
    struct cu_out o;
    assert_int_equal(central(&o, "init", "--data-dir", c.data_dir, NULL), 0);
    assert_non_null(strstr(o.err, "0755"));
    cu_free(&o);
    assert_mode(c.data_dir, 0700);
    /* a file made wide by hand is narrowed by the next start */
    char path[700];
    snprintf(path, sizeof path, "%s/ca.pem", c.data_dir);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(th_central_restart(&c, NULL), 0);
    assert_int_equal(
        th_put_device(&c, "modes-1", "MDEyMzQ1Njc4OWFiY2RlZg==", "ZmVkY2JhOTg3NjU0MzIxMA==", true),
        200);
    umask(old);

    static const char *const must[] = {"central.db", "central.db-wal", "central.db-shm",
                                       "app.json",   "server-key.pem", "ca-key.pem",
                                       "ports.json", "serve.pid",      "admin-token"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", c.data_dir, must[i]);
        assert_mode(path, 0600);
    }
    DIR *d = opendir(c.data_dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", c.data_dir, e->d_name);
        assert_mode(path, 0600);
        files++;
    }
    closedir(d);
    assert_true(files >= 8);
    assert_mode(c.data_dir, 0700);
    th_central_cleanup(&c);
}

static bool exists(const struct th_central *c, const char *name)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", c->data_dir, name);
    return stat(path, &st) == 0;
}

/* One server per data dir: a second serve is refused naming the first one's pid; a clean stop
 * removes ports.json; a server killed with SIGKILL leaves a ports.json that `iotc` sees is
 * stale. */
static void test_one_server(void **state)
{
    (void)state;
    struct th_central c;
    assert_int_equal(th_central_start(&c, NULL), 0);
    struct cu_out o;
    int rc = central(&o, "serve", "--data-dir", c.data_dir, "--bind", "127.0.0.1", "--mqtt-port",
                     "0", "--https-port", "0", "--wss-port", "off", NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)c.pid);
    assert_int_equal(rc, 2);
    if (strstr(o.err, pid) == NULL)
        fail_msg("no pid %s in: %s", pid, o.err);
    assert_null(strstr(o.out, "ready"));
    cu_free(&o);
    /* the first server still answers and still owns ports.json */
    assert_true(exists(&c, "ports.json"));
    assert_int_equal(
        cu_rc("devices", "list", "--data-dir", c.data_dir, "--token", c.admin_token, NULL), 0);

    assert_int_equal(th_central_stop(&c), 0);
    assert_false(exists(&c, "ports.json"));

    assert_int_equal(th_central_restart(&c, NULL), 0);
    assert_true(exists(&c, "ports.json"));
    snprintf(pid, sizeof pid, "%ld", (long)c.pid);
    kill(c.pid, SIGKILL);
    waitpid(c.pid, NULL, 0);
    c.pid = 0;
    rc = cu_iotc(&o, "devices", "list", "--data-dir", c.data_dir, NULL);
    assert_int_equal(rc, 2);
    if (strstr(o.err, "not running") == NULL || strstr(o.err, pid) == NULL)
        fail_msg("want 'not running' and pid %s in: %s", pid, o.err);
    cu_free(&o);
    /* and a new server starts on the same dir (the lock died with the old one) */
    assert_int_equal(th_central_restart(&c, NULL), 0);
    assert_int_equal(
        cu_rc("devices", "list", "--data-dir", c.data_dir, "--token", c.admin_token, NULL), 0);
    th_central_cleanup(&c);
}

/* init writes DIR/admin-token (0600) and prints or logs no token. */
static void test_admin_token_file(void **state)
{
    (void)state;
    struct th_central c;
    srv_prepare(&c);
    struct cu_out o;
    assert_int_equal(central(&o, "init", "--data-dir", c.data_dir, NULL), 0);
    char path[700], token[256];
    snprintf(path, sizeof path, "%s/admin-token", c.data_dir);
    assert_mode(path, 0600);
    read_token(&c, token, sizeof token);
    assert_null(strstr(o.out, token));
    assert_null(strstr(o.err, token));
    assert_null(strstr(o.out, "iotc-admin."));
    assert_non_null(strstr(o.out, "admin-token"));
    cu_free(&o);
    /* --help lists the command */
    assert_int_equal(central(&o, "--help", NULL), 0);
    assert_non_null(strstr(o.out, "rotate-admin-token"));
    cu_free(&o);
    th_central_cleanup(&c);
}

/* rotate-admin-token on a running server: the old token is refused at once, the new one
 * (in DIR/admin-token) works; on a stopped server: the new one works after the start. */
static void test_rotate_admin_token(void **state)
{
    (void)state;
    struct th_central c;
    assert_int_equal(th_central_start(&c, NULL), 0);
    char t0[256], t1[256], t2[256];
    read_token(&c, t0, sizeof t0);
    assert_int_equal(list_with(&c, t0), 0);
    struct cu_out o;
    assert_int_equal(central(&o, "rotate-admin-token", "--data-dir", c.data_dir, NULL), 0);
    assert_null(strstr(o.out, "iotc-admin."));
    cu_free(&o);
    read_token(&c, t1, sizeof t1);
    assert_string_not_equal(t0, t1);
    assert_int_equal(list_with(&c, t0), 5);
    assert_int_equal(list_with(&c, t1), 0);
    assert_int_equal(cu_rc("devices", "list", "--data-dir", c.data_dir, NULL), 0); /* the file */
    assert_true(th_central_log_contains(&c, "admin token replaced", 0));

    assert_int_equal(th_central_stop(&c), 0);
    assert_int_equal(central(&o, "rotate-admin-token", "--data-dir", c.data_dir, NULL), 0);
    cu_free(&o);
    read_token(&c, t2, sizeof t2);
    assert_string_not_equal(t1, t2);
    assert_int_equal(th_central_restart(&c, NULL), 0);
    assert_int_equal(list_with(&c, t1), 5);
    assert_int_equal(list_with(&c, t2), 0);
    /* the server log never shows a token */
    assert_false(th_central_log_contains(&c, t0, 0));
    assert_false(th_central_log_contains(&c, t1, 0));
    assert_false(th_central_log_contains(&c, t2, 0));
    th_central_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_dir_modes),
        cmocka_unit_test(test_one_server),
        cmocka_unit_test(test_admin_token_file),
        cmocka_unit_test(test_rotate_admin_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
