/*
 * test_opt.c - the shared option parser (src/util/opt.c): kinds, ranges, the --x=v form,
 * missing values, unknown options, "--", repeatable options, argument order, --version, help,
 * the wording of every error, and settings files (--config: values used, the command line
 * wins, every bad line refused with its file and line).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/opt.h"

/* argv words from literals (-Wwrite-strings) */
#define W(s) ((char *)(uintptr_t)(s))

/* ---------------------------------------------------------------- capture stdout/stderr */

struct cap {
    FILE *out, *err;
    int saved_out, saved_err;
    char out_text[8192], err_text[2048];
};

static void cap_start(struct cap *c)
{
    fflush(stdout);
    fflush(stderr);
    c->out = tmpfile();
    c->err = tmpfile();
    assert_non_null(c->out);
    assert_non_null(c->err);
    c->saved_out = dup(1);
    c->saved_err = dup(2);
    dup2(fileno(c->out), 1);
    dup2(fileno(c->err), 2);
}

static void read_all(FILE *f, char *buf, size_t size)
{
    rewind(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void cap_end(struct cap *c)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved_out, 1);
    dup2(c->saved_err, 2);
    close(c->saved_out);
    close(c->saved_err);
    read_all(c->out, c->out_text, sizeof c->out_text);
    read_all(c->err, c->err_text, sizeof c->err_text);
}

/* ---------------------------------------------------------------- a program's options */

struct vals {
    bool json;
    int verbose;
    const char *dir;
    int port;
    long big;
    double secs;
    struct opt_list names;
    const char *hostport;
};

static const char *parse_hostport(void *dest, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || colon[1] == '\0')
        return "a HOST:PORT address";
    *(const char **)dest = v;
    return NULL;
}

#define SPECS(v)                                                                               \
    {                                                                                          \
        {.kind = OPT_HEADING, .help = "things:"},                                              \
            {"json", 0, OPT_FLAG, &(v)->json, .help = "print JSON"},                           \
            {"verbose", 'v', OPT_COUNT, &(v)->verbose, .help = "more output\n(twice: more)"},  \
            {"data-dir", 'd', OPT_STR, &(v)->dir, .arg = "DIR", .help = "the data directory"}, \
            {"port", 0, OPT_INT, &(v)->port, 0, 65535, .help = "a port"},                      \
            {"big", 0, OPT_LONG, &(v)->big, .help = "a count"},                                \
            {"timeout", 0, OPT_NUM, &(v)->secs, 0, 3600, .arg = "S", .help = "seconds"},       \
            {"name", 0, OPT_LIST, &(v)->names, .arg = "NAME", .help = "a name (repeatable)"},  \
            {"at",                                                                             \
             0,                                                                                \
             OPT_FUNC,                                                                         \
             &(v)->hostport,                                                                   \
             .arg = "HOST:PORT",                                                               \
             .help = "where",                                                                  \
             .fn = parse_hostport},                                                            \
            {"hidden", 0, OPT_FLAG, &(v)->json, .help = NULL},                                 \
        {                                                                                      \
            0                                                                                  \
        }                                                                                      \
    }

static const struct opt_prog prog = {.name = "tool",
                                     .synopsis = "[options] FILE...",
                                     .intro = "Does things.\n",
                                     .outro = "exit codes: docs/CLI.md\n"};

/* Parse the NULL-terminated words; positionals allowed unless @p no_pos. */
static int run(struct vals *v, struct cap *c, bool no_pos, char **out_pos, int *npos,
               const char *first, ...)
{
    static char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
        argv[argc++] = (char *)(uintptr_t)a;
    va_end(ap);
    memset(v, 0, sizeof *v);
    const struct opt specs[] = SPECS(v);
    int first_pos = -1;
    cap_start(c);
    int rc = opt_parse(&prog, specs, argc, argv, no_pos ? NULL : &first_pos);
    cap_end(c);
    if (npos != NULL)
        *npos = first_pos >= 0 ? argc - first_pos : 0;
    if (out_pos != NULL && first_pos >= 0)
        for (int i = first_pos; i < argc; i++)
            out_pos[i - first_pos] = argv[i];
    return rc;
}

static void test_flag_string_int(void **state)
{
    (void)state;
    struct vals v;
    struct cap c;
    char *pos[8];
    int npos;
    assert_int_equal(run(&v, &c, false, pos, &npos, "--json", "-v", "-vv", "--data-dir", "/d",
                         "--port", "8883", "--big", "5000000000", "--timeout", "2.5", NULL),
                     OPT_CONTINUE);
    assert_true(v.json);
    assert_int_equal(v.verbose, 3);
    assert_string_equal(v.dir, "/d");
    assert_int_equal(v.port, 8883);
    assert_true(v.big == 5000000000L);
    assert_true(v.secs == 2.5);
    assert_int_equal(npos, 0);
    assert_string_equal(c.err_text, "");
    assert_string_equal(c.out_text, "");
    /* short forms: -d DIR, -dDIR; the last one wins */
    assert_int_equal(run(&v, &c, false, NULL, NULL, "-d", "a", "-db", NULL), OPT_CONTINUE);
    assert_string_equal(v.dir, "b");
    /* a value option takes the next word whatever it looks like */
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--data-dir", "--json", NULL), OPT_CONTINUE);
    assert_string_equal(v.dir, "--json");
    assert_false(v.json);
}

static void test_int_range(void **state)
{
    (void)state;
    struct vals v;
    struct cap c;
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port", "0", NULL), OPT_CONTINUE);
    assert_int_equal(v.port, 0);
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port", "65535", NULL), OPT_CONTINUE);
    assert_int_equal(v.port, 65535);
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port", "65536", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: option '--port': '65536' is not a whole number from 0 "
                                    "to 65535 (see tool --help)\n");
    assert_string_equal(c.out_text, "");
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port", "-1", NULL), OPT_EXIT_USAGE);
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port", "abc", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: option '--port': 'abc' is not a whole number from 0 "
                                    "to 65535 (see tool --help)\n");
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port", "12x", NULL), OPT_EXIT_USAGE);
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port", "", NULL), OPT_EXIT_USAGE);
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port", "1.5", NULL), OPT_EXIT_USAGE);
    /* no range given: 0 or more */
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--big", "-2", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: option '--big': '-2' is not a whole number of at least "
                                    "0 (see tool --help)\n");
    /* numbers with fractions */
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--timeout", ".25", NULL), OPT_CONTINUE);
    assert_true(v.secs == 0.25);
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--timeout", "soon", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: option '--timeout': 'soon' is not a number from 0 to "
                                    "3600 (see tool --help)\n");
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--timeout", "nan", NULL), OPT_EXIT_USAGE);
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--timeout", "4000", NULL), OPT_EXIT_USAGE);
}

static void test_equals_form(void **state)
{
    (void)state;
    struct vals v;
    struct cap c;
    assert_int_equal(
        run(&v, &c, false, NULL, NULL, "--port=443", "--data-dir=/x=y", "--name=", NULL),
        OPT_CONTINUE);
    assert_int_equal(v.port, 443);
    assert_string_equal(v.dir, "/x=y");
    assert_int_equal(v.names.n, 1);
    assert_string_equal(v.names.v[0], "");
    opt_list_free(&v.names);
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--port=http", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: option '--port': 'http' is not a whole number from 0 "
                                    "to 65535 (see tool --help)\n");
    /* a flag with a value */
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--json=yes", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: option '--json' takes no value (see tool --help)\n");
}

static void test_missing_value_and_unknown(void **state)
{
    (void)state;
    struct vals v;
    struct cap c;
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--json", "--port", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: option '--port' needs a value (see tool --help)\n");
    assert_int_equal(run(&v, &c, false, NULL, NULL, "-d", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: option '-d' needs a value (see tool --help)\n");
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--bogus", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: unknown option '--bogus' (see tool --help)\n");
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--bogus=1", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: unknown option '--bogus' (see tool --help)\n");
    assert_int_equal(run(&v, &c, false, NULL, NULL, "-vx", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: unknown option '-x' (see tool --help)\n");
    /* no prefix matching */
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--js", NULL), OPT_EXIT_USAGE);
    /* a function's own check */
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--at", "nowhere", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text,
                        "tool: option '--at': 'nowhere' is not a HOST:PORT address (see tool "
                        "--help)\n");
    assert_int_equal(run(&v, &c, false, NULL, NULL, "--at", "h:1", NULL), OPT_CONTINUE);
    assert_string_equal(v.hostport, "h:1");
    /* opt_error: the same shape for a program's own checks */
    cap_start(&c);
    assert_int_equal(opt_error(&prog, "need --%s", "at"), OPT_EXIT_USAGE);
    cap_end(&c);
    assert_string_equal(c.err_text, "tool: need --at (see tool --help)\n");
}

static void test_positionals_and_dashdash(void **state)
{
    (void)state;
    struct vals v;
    struct cap c;
    char *pos[8];
    int npos;
    /* arguments anywhere, kept in order; "-" and "-5m" are arguments */
    assert_int_equal(run(&v, &c, false, pos, &npos, "a", "--json", "-", "--port", "1", "-5m", "--",
                         "--port", "-v", NULL),
                     OPT_CONTINUE);
    assert_true(v.json);
    assert_int_equal(v.port, 1);
    assert_int_equal(v.verbose, 0);
    assert_int_equal(npos, 5);
    assert_string_equal(pos[0], "a");
    assert_string_equal(pos[1], "-");
    assert_string_equal(pos[2], "-5m");
    assert_string_equal(pos[3], "--port");
    assert_string_equal(pos[4], "-v");
    /* a program without arguments */
    assert_int_equal(run(&v, &c, true, NULL, NULL, "--json", "extra", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: unexpected argument 'extra' (see tool --help)\n");
    /* --help after "--" is an argument */
    assert_int_equal(run(&v, &c, false, pos, &npos, "--", "--help", NULL), OPT_CONTINUE);
    assert_int_equal(npos, 1);
    assert_string_equal(pos[0], "--help");
    assert_string_equal(c.out_text, "");
    /* opt_first_arg skips options and their values */
    struct vals w;
    const struct opt specs[] = SPECS(&w);
    char *words[] = {W("--port"), W("1"),      W("--json"), W("--data-dir=x"), W("-d"), W("y"),
                     W("cmd"),    W("--port"), W("2")};
    assert_int_equal(opt_first_arg(specs, 9, words), 6);
    char *words2[] = {W("--json"), W("--"), W("--port")};
    assert_int_equal(opt_first_arg(specs, 3, words2), 2);
}

static void test_repeatable(void **state)
{
    (void)state;
    struct vals v;
    struct cap c;
    assert_int_equal(
        run(&v, &c, false, NULL, NULL, "--name", "a", "--json", "--name", "b", "--name=c", NULL),
        OPT_CONTINUE);
    assert_int_equal(v.names.n, 3);
    assert_string_equal(v.names.v[0], "a");
    assert_string_equal(v.names.v[1], "b");
    assert_string_equal(v.names.v[2], "c");
    opt_list_free(&v.names);
    assert_null(v.names.v);
    assert_int_equal(v.names.n, 0);
}

static void test_version(void **state)
{
    (void)state;
    struct vals v;
    struct cap c;
    assert_int_equal(run(&v, &c, true, NULL, NULL, "--version", NULL), OPT_EXIT_OK);
    assert_string_equal(c.out_text, "tool " IOTC_VERSION "\n");
    assert_string_equal(c.err_text, "");
    /* anywhere, even after a bad option */
    assert_int_equal(run(&v, &c, true, NULL, NULL, "--bogus", "--version", NULL), OPT_EXIT_OK);
    assert_string_equal(c.out_text, "tool " IOTC_VERSION "\n");
    /* a subcommand's name prints the program's; a program may add to the version */
    const struct opt_prog sub = {.name = "tool sub cmd", .version = "9.9 (extra)"};
    const struct opt none[] = {{0}};
    char *argv[] = {W("--version")};
    cap_start(&c);
    assert_int_equal(opt_parse(&sub, none, 1, argv, NULL), OPT_EXIT_OK);
    cap_end(&c);
    assert_string_equal(c.out_text, "tool 9.9 (extra)\n");
}

static int help_calls;
static void my_help(const struct opt_prog *p)
{
    help_calls++;
    printf("custom help of %s\n", p->name);
}

static void test_help(void **state)
{
    (void)state;
    struct vals v;
    struct cap c;
    /* help wins over everything before "--", even a bad option */
    assert_int_equal(run(&v, &c, true, NULL, NULL, "--bogus", "x", "-h", NULL), OPT_EXIT_OK);
    assert_string_equal(c.err_text, "");
    assert_string_equal(c.out_text, "usage: tool [options] FILE...\n"
                                    "Does things.\n"
                                    "things:\n"
                                    "  --json              print JSON\n"
                                    "  -v, --verbose       more output\n"
                                    "                      (twice: more)\n"
                                    "  -d, --data-dir DIR  the data directory\n"
                                    "  --port N            a port\n"
                                    "  --big N             a count\n"
                                    "  --timeout S         seconds\n"
                                    "  --name NAME         a name (repeatable)\n"
                                    "  --at HOST:PORT      where\n"
                                    "  -h, --help          this text\n"
                                    "  --version           print the version\n"
                                    "exit codes: docs/CLI.md\n");
    assert_int_equal(run(&v, &c, true, NULL, NULL, "--help", NULL), OPT_EXIT_OK);
    assert_non_null(strstr(c.out_text, "usage: tool"));
    assert_null(strstr(c.out_text, "hidden"));
    /* a long option column puts the help on the next line */
    const struct opt wide[] = {
        {"a-very-long-option-name-indeed", 0, OPT_STR, NULL, .arg = "VALUE", .help = "wide"}, {0}};
    const struct opt_prog w = {.name = "w"};
    char *argv[] = {W("-h")};
    cap_start(&c);
    assert_int_equal(opt_parse(&w, wide, 1, argv, NULL), OPT_EXIT_OK);
    cap_end(&c);
    assert_non_null(strstr(c.out_text, "  --a-very-long-option-name-indeed VALUE\n"
                                       "              wide\n"));
    /* a program's own help */
    const struct opt_prog custom = {.name = "tool", .help = my_help};
    const struct opt none[] = {{0}};
    char *argv2[] = {W("x"), W("--help")};
    help_calls = 0;
    cap_start(&c);
    assert_int_equal(opt_parse(&custom, none, 2, argv2, NULL), OPT_EXIT_OK);
    cap_end(&c);
    assert_int_equal(help_calls, 1);
    assert_string_equal(c.out_text, "custom help of tool\n");
    /* opt_builtin alone: nothing to do without -h/--help/--version */
    char *argv3[] = {W("--bogus")};
    assert_int_equal(opt_builtin(&custom, none, 1, argv3), OPT_CONTINUE);
}

/* ---------------------------------------------------------------- settings files */

struct cvals {
    struct vals v;
    struct opt_config cfg;
};

/* A settings file with @p text in a temporary directory; its path in @p path. */
static void write_conf(char *path, size_t size, const char *text)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/test_opt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* SPECS with a --config option in front: parse the NULL-terminated words (no positionals). */
static int run_cfg(struct cvals *cv, struct cap *c, const char *first, ...)
{
    static char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
        argv[argc++] = (char *)(uintptr_t)a;
    va_end(ap);
    opt_list_free(&cv->v.names);
    opt_config_free(&cv->cfg);
    memset(cv, 0, sizeof *cv);
    struct vals *v = &cv->v;
    const struct opt plain[] = SPECS(v);
    struct opt specs[16];
    specs[0] = (struct opt){"config", 'c', OPT_CONFIG, &cv->cfg, .arg = "FILE", .help = "settings"};
    size_t n = 1;
    for (const struct opt *o = plain; n < 15; o++) {
        specs[n++] = *o;
        if (o->kind == OPT_END)
            break;
    }
    cap_start(c);
    int rc = opt_parse(&prog, specs, argc, argv, NULL);
    cap_end(c);
    return rc;
}

static void cv_free(struct cvals *cv)
{
    opt_list_free(&cv->v.names);
    opt_config_free(&cv->cfg);
}

static void test_config_values(void **state)
{
    (void)state;
    char path[256];
    write_conf(path, sizeof path,
               "# a comment\n"
               "\n"
               "   # an indented comment\n"
               "  port   =  8883  \n"
               "json = yes\n"
               "data-dir = /var/lib/x y\n"
               "name = a\n"
               "name=b # not a comment\n"
               "timeout=2.5\r\n"
               "verbose = 2\n"
               "at = host:1\n"
               "big = 7"); /* no final newline */
    struct cvals cv = {0};
    struct cap c;
    assert_int_equal(run_cfg(&cv, &c, "--config", path, NULL), OPT_CONTINUE);
    assert_string_equal(c.err_text, "");
    assert_string_equal(cv.cfg.path, path);
    assert_int_equal(cv.v.port, 8883);
    assert_true(cv.v.json);
    assert_string_equal(cv.v.dir, "/var/lib/x y");
    assert_int_equal(cv.v.names.n, 2);
    assert_string_equal(cv.v.names.v[0], "a");
    assert_string_equal(cv.v.names.v[1], "b # not a comment");
    assert_true(cv.v.secs == 2.5);
    assert_int_equal(cv.v.verbose, 2);
    assert_string_equal(cv.v.hostport, "host:1");
    assert_int_equal(cv.v.big, 7);

    /* booleans: every spelling, and the last line wins */
    const char *const bools[][2] = {{"true", "1"}, {"false", "0"}, {"yes", "1"},
                                    {"no", "0"},   {"1", "1"},     {"0", "0"}};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "json = %s\nport = 1\nport = 2\n", bools[i][0]);
        write_conf(path, sizeof path, text);
        assert_int_equal(run_cfg(&cv, &c, "-c", path, NULL), OPT_CONTINUE);
        assert_int_equal(cv.v.json, bools[i][1][0] == '1');
        assert_int_equal(cv.v.port, 2);
        unlink(path);
    }
    cv_free(&cv);
}

static void test_config_command_line_wins(void **state)
{
    (void)state;
    char path[256];
    write_conf(path, sizeof path,
               "port = 1\njson = false\nname = a\nname = b\nverbose = 3\ndata-dir = /f\n");
    struct cvals cv = {0};
    struct cap c;
    /* options before and after --config, either form */
    assert_int_equal(
        run_cfg(&cv, &c, "--port", "2", "--config", path, "--name", "c", "-v", "--json", NULL),
        OPT_CONTINUE);
    assert_int_equal(cv.v.port, 2);
    assert_true(cv.v.json);
    assert_int_equal(cv.v.names.n, 1); /* the command line's list replaces the file's */
    assert_string_equal(cv.v.names.v[0], "c");
    assert_int_equal(cv.v.verbose, 1);
    assert_string_equal(cv.v.dir, "/f"); /* not on the command line: the file's */
    char eq_form[300];
    snprintf(eq_form, sizeof eq_form, "--config=%s", path);
    assert_int_equal(run_cfg(&cv, &c, "-d/cli", eq_form, NULL), OPT_CONTINUE);
    assert_string_equal(cv.v.dir, "/cli");
    assert_int_equal(cv.v.names.n, 2);
    assert_int_equal(cv.v.verbose, 3);
    /* --help wins and reads no file */
    assert_int_equal(run_cfg(&cv, &c, "--config", "/nonexistent/x.conf", "--help", NULL),
                     OPT_EXIT_OK);
    assert_string_equal(c.err_text, "");
    /* the value of another option is not a --config */
    assert_int_equal(run_cfg(&cv, &c, "--data-dir", "--config", NULL), OPT_CONTINUE);
    assert_string_equal(cv.v.dir, "--config");
    assert_null(cv.cfg.path);
    unlink(path);
    cv_free(&cv);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *err; /* err: after "tool: PATH:" */
    } cases[] = {
        {"port = 1\n# c\nprot = 2\n", "3: unknown key 'prot' (see tool --help)\n"},
        {"\n\nport = abc\n", "3: key 'port': 'abc' is not a whole number from 0 to 65535 "
                             "(see tool --help)\n"},
        {"port = 70000\n", "1: key 'port': '70000' is not a whole number from 0 to 65535 "
                           "(see tool --help)\n"},
        {"port 8883\n", "1: expected 'key = value', not 'port 8883' (see tool --help)\n"},
        {"json\n", "1: expected 'key = value', not 'json' (see tool --help)\n"},
        {" = 5\n", "1: no key before '=' (see tool --help)\n"},
        {"port =\n", "1: key 'port' needs a value (see tool --help)\n"},
        {"json = maybe\n", "1: key 'json': 'maybe' is not one of true, false, yes, no, 1, 0 "
                           "(see tool --help)\n"},
        {"--port = 1\n", "1: unknown key '--port' (see tool --help)\n"},
        {"config = /x\n", "1: key 'config' is for the command line only (see tool --help)\n"},
        {"at = nope\n", "1: key 'at': 'nope' is not a HOST:PORT address (see tool --help)\n"},
        {"help = 1\n", "1: unknown key 'help' (see tool --help)\n"},
        {"verbose = -1\n", "1: key 'verbose': '-1' is not a whole number of at least 0 "
                           "(see tool --help)\n"},
    };
    struct cvals cv = {0};
    struct cap c;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], want[512];
        write_conf(path, sizeof path, cases[i].text);
        /* refused even when the command line gives the key too */
        assert_int_equal(run_cfg(&cv, &c, "--port", "5", "--config", path, NULL), OPT_EXIT_USAGE);
        snprintf(want, sizeof want, "tool: %s:%s", path, cases[i].err);
        assert_string_equal(c.err_text, want);
        unlink(path);
    }
    /* unreadable, a directory, a NUL byte */
    assert_int_equal(run_cfg(&cv, &c, "--config", "/nonexistent/x.conf", NULL), OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: cannot read config file '/nonexistent/x.conf': No such "
                                    "file or directory (see tool --help)\n");
    assert_int_equal(run_cfg(&cv, &c, "--config", "/", NULL), OPT_EXIT_USAGE);
    assert_non_null(strstr(c.err_text, "tool: cannot read config file '/': "));
    char path[256], want[512];
    write_conf(path, sizeof path, "port = 1\n");
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputc('\0', f);
    fclose(f);
    assert_int_equal(run_cfg(&cv, &c, "--config", path, NULL), OPT_EXIT_USAGE);
    snprintf(want, sizeof want,
             "tool: cannot read config file '%s': not a text file (a NUL byte) (see tool --help)\n",
             path);
    assert_string_equal(c.err_text, want);
    unlink(path);
    cv_free(&cv);
}

/* opt_apply_config() alone, on text in memory. */
static void test_config_text(void **state)
{
    (void)state;
    struct vals v = {0};
    const struct opt specs[] = SPECS(&v);
    char text[] = "port=9\n\tdata-dir\t=\t/d\t\n";
    struct cap c;
    cap_start(&c);
    int rc = opt_apply_config(&prog, specs, "mem", text);
    cap_end(&c);
    assert_int_equal(rc, OPT_CONTINUE);
    assert_int_equal(v.port, 9);
    assert_string_equal(v.dir, "/d");
    char bad[] = "port=9\nport=x\n";
    cap_start(&c);
    rc = opt_apply_config(&prog, specs, "mem", bad);
    cap_end(&c);
    assert_int_equal(rc, OPT_EXIT_USAGE);
    assert_string_equal(c.err_text, "tool: mem:2: key 'port': 'x' is not a whole number from 0 "
                                    "to 65535 (see tool --help)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flag_string_int),
        cmocka_unit_test(test_int_range),
        cmocka_unit_test(test_equals_form),
        cmocka_unit_test(test_missing_value_and_unknown),
        cmocka_unit_test(test_positionals_and_dashdash),
        cmocka_unit_test(test_repeatable),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_config_values),
        cmocka_unit_test(test_config_command_line_wins),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
