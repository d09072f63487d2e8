/*
 * test_central_config.c - iotc-central as a configured server (issue 14): the example
 * settings file lists every server option of `iotc-central --help` (and nothing else) with
 * values that parse; `serve --config FILE` uses the file's values, options on the command line win;
 * a bad line, an unknown key or an unreadable file is refused with exit code 1 before anything
 * is done; --log-file appends to a 0600 file that SIGHUP reopens (logrotate), while SIGHUP
 * still delivers a rotated admin token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>

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
    return cu_exec(o, 60000, argv);
}

static void make_root(char *root, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, size, "%s/iotc-central-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(root));
}

static void remove_tree(const char *root)
{
    const char *argv[] = {"rm", "-rf", root, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp("rm", (char *const *)argv);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The whole file, or NULL when it does not exist (free it). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static bool file_has(const char *path, const char *needle)
{
    char *text = slurp(path);
    bool has = text != NULL && strstr(text, needle) != NULL;
    free(text);
    return has;
}

static bool wait_file_has(const char *path, const char *needle, int timeout_ms)
{
    int64_t end = cu_now_ms() + timeout_ms;
    while (!file_has(path, needle)) {
        if (cu_now_ms() > end)
            return false;
        cu_sleep_ms(20);
    }
    return true;
}

#define MAX_OPTS 64

/* The long options `iotc-central --help` lists, but --config, --help, --version and those of
 * one other command (their help starts "(show)", "(backup)"...): the server's settings. */
static int help_options(char names[][40])
{
    struct cu_out o;
    assert_int_equal(central(&o, "--help", NULL), 0);
    int n = 0;
    for (char *line = o.out; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        /* "  --name ARG   help" or "  -h, --help   help" */
        char *dd = strstr(line, "--");
        if (strncmp(line, "  -", 3) == 0 && dd != NULL && (nl == NULL || dd < nl) &&
            dd - line <= 6) {
            size_t len = strspn(dd + 2, "abcdefghijklmnopqrstuvwxyz-");
            /* the help text starts after the option column's blanks */
            const char *help = strstr(dd, "  ");
            if (help != NULL && (nl == NULL || help < nl) && help[strspn(help, " ")] == '(')
                len = 0; /* another command's option */
            if (len > 0 && len < 40 && n < MAX_OPTS) {
                memcpy(names[n], dd + 2, len);
                names[n][len] = '\0';
                if (strcmp(names[n], "config") != 0 && strcmp(names[n], "help") != 0 &&
                    strcmp(names[n], "version") != 0)
                    n++;
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    cu_free(&o);
    return n;
}

/* The example settings file: every option of --help is in it as "# key = value", every such
 * line names an option, and with all of them uncommented the file parses. */
static void test_example_config_complete(void **state)
{
    (void)state;
    char names[MAX_OPTS][40];
    int n = help_options(names);
    assert_true(n >= 14); /* data-dir, ports, bind, hub-host, limits, logs... */
    char path[1300];
    snprintf(path, sizeof path, "%s/etc/iotc-central.conf", cu_repo());
    char *text = slurp(path);
    assert_non_null(text);
    for (int i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "\n# %.39s = ", names[i]);
        if (strstr(text, want) == NULL)
            fail_msg("etc/iotc-central.conf has no '# %s = ...' line", names[i]);
    }
    /* uncommented: every key is an option, every value valid */
    char root[300];
    make_root(root, sizeof root);
    char conf[400], data[400], log[400];
    snprintf(conf, sizeof conf, "%s/all.conf", root);
    snprintf(data, sizeof data, "%s/none", root);
    snprintf(log, sizeof log, "%s/log", root);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    int keys = 0;
    for (char *line = text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        size_t key = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz-");
        if (strncmp(line, "# ", 2) == 0 && key > 0 && strncmp(line + 2 + key, " = ", 3) == 0) {
            bool known = false;
            for (int i = 0; i < n; i++)
                known |= strlen(names[i]) == key && strncmp(names[i], line + 2, key) == 0;
            if (!known)
                fail_msg("etc/iotc-central.conf: '%.*s' is not an option of --help", (int)len,
                         line);
            fprintf(f, "%.*s\n", (int)(len - 2), line + 2);
            keys++;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    fclose(f);
    free(text);
    assert_int_equal(keys, n); /* one line per option */
    /* `show` parses everything, then finds no application in the (overridden) data dir */
    struct cu_out o;
    assert_int_equal(central(&o, "show", "--config", conf, "--data-dir", data, NULL), 1);
    assert_non_null(strstr(o.err, "no application in"));
    cu_free(&o);
    remove_tree(root);
}

/* serve --config: the file's values are used, the command line's win over them. */
static void test_serve_with_config(void **state)
{
    (void)state;
    char root[300];
    make_root(root, sizeof root);
    char conf[400], log[400], rotated[420], text[1200];
    snprintf(conf, sizeof conf, "%s/iotc-central.conf", root);
    snprintf(log, sizeof log, "%s/logs-outside/central.log", root);
    snprintf(rotated, sizeof rotated, "%s.1", log);
    snprintf(text, sizeof text,
             "# written by test_central_config\n"
             "\n"
             "hub-host = from-file.example\n"
             "plain-mqtt-port = 0\n"
             "log-file = %s\n"
             "log-level = debug\n",
             log);
    write_file(conf, text);
    char logdir[400];
    snprintf(logdir, sizeof logdir, "%s/logs-outside", root);
    assert_int_equal(mkdir(logdir, 0755), 0);

    struct th_central c;
    const char *const args[] = {"--config", conf, "--hub-host", "from-flag.example", NULL};
    assert_int_equal(th_central_start(&c, args), 0);
    /* command line over file */
    assert_string_equal(c.hub_host, "from-flag.example");
    /* file values: plain MQTT on, and the log in the file, not on stderr */
    assert_true(c.plain_port != 0);
    assert_true(wait_file_has(log, "serving application", 5000));
    assert_false(th_central_log_contains(&c, "serving application", 0));
    struct stat st;
    assert_int_equal(stat(log, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* logrotate: move the file away, SIGHUP; new lines go to a new file at the path */
    assert_int_equal(rename(log, rotated), 0);
    assert_int_equal(kill(c.pid, SIGHUP), 0);
    assert_true(wait_file_has(log, "SIGHUP: log file reopened", 5000));
    assert_false(file_has(rotated, "SIGHUP: log file reopened"));
    assert_int_equal(stat(log, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* the same SIGHUP still delivers a rotated admin token */
    struct cu_out o;
    assert_int_equal(central(&o, "rotate-admin-token", "--data-dir", c.data_dir, NULL), 0);
    cu_free(&o);
    assert_true(wait_file_has(log, "admin token replaced", 5000));
    assert_false(file_has(rotated, "admin token replaced"));
    assert_int_equal(th_central_stop(&c), 0);
    assert_true(file_has(log, "stopped"));
    assert_false(file_has(rotated, "stopped"));
    th_central_cleanup(&c);
    remove_tree(root);
}

/* Bad settings: exit 1, the file and line named, nothing done (no data dir made). */
static void test_bad_config_refused(void **state)
{
    (void)state;
    char root[300];
    make_root(root, sizeof root);
    char conf[400], data[400];
    snprintf(conf, sizeof conf, "%s/bad.conf", root);
    snprintf(data, sizeof data, "%s/app", root);
    static const struct {
        const char *text, *err;
    } cases[] = {
        {"mqtt-port = 0\n# ok so far\nmqtt-prot = 1\n", ":3: unknown key 'mqtt-prot'"},
        {"mqtt-port = 0\nmax-keep-alive = 0\n",
         ":2: key 'max-keep-alive': '0' is not a whole number from 1 to 65535"},
        {"log-level = loud\n", ":1: key 'log-level': 'loud' is not one of error, warn, info"},
        {"bind\n", ":1: expected 'key = value', not 'bind'"},
        {"force = perhaps\n", ":1: key 'force': 'perhaps' is not one of true, false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(conf, cases[i].text);
        struct cu_out o;
        /* the command line gives the bad key too: the file is still refused */
        assert_int_equal(central(&o, "serve", "--config", conf, "--data-dir", data,
                                 "--max-keep-alive", "5", NULL),
                         1);
        char want[600];
        snprintf(want, sizeof want, "iotc-central: %s%s", conf, cases[i].err);
        if (strstr(o.err, want) == NULL)
            fail_msg("case %zu: stderr '%s', want '%s'", i, o.err, want);
        assert_string_equal(o.out, "");
        cu_free(&o);
        assert_int_not_equal(access(data, F_OK), 0);
    }
    struct cu_out o;
    char missing[400];
    snprintf(missing, sizeof missing, "%s/missing.conf", root);
    assert_int_equal(central(&o, "serve", "--config", missing, "--data-dir", data, NULL), 1);
    assert_non_null(strstr(o.err, "cannot read config file"));
    assert_non_null(strstr(o.err, "No such file or directory"));
    cu_free(&o);
    assert_int_not_equal(access(data, F_OK), 0);
    /* a log file that cannot be opened: serve fails to start (2), before touching the data */
    snprintf(missing, sizeof missing, "%s/no/such/dir/central.log", root);
    assert_int_equal(central(&o, "serve", "--data-dir", data, "--log-file", missing, NULL), 2);
    assert_non_null(strstr(o.err, "cannot open the log file"));
    cu_free(&o);
    assert_int_not_equal(access(data, F_OK), 0);
    remove_tree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_config_complete),
        cmocka_unit_test(test_serve_with_config),
        cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests_name("central_config", tests, NULL, NULL);
}
