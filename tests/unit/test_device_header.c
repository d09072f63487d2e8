/*
 * The public device-client header must compile as C++ (extern "C", no C-only constructs) and as
 * strict C: compile a tiny translation unit with the system's C++ and C compilers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <iotc/client.h>

static const char *snippet =
    "#include <iotc/client.h>\n"
    "#include <iotc/proto.h>\n"
    "static int on_cmd(void *u, struct iotc_client *c, const struct iotc_command *cmd,\n"
    "                  const char **out) { (void)u; (void)c; (void)cmd; *out = 0; return 200; }\n"
    "int use_it(void);\n"
    "int use_it(void) {\n"
    "    struct iotc_config cfg;\n"
    "    struct iotc_client *c = 0;\n"
    "    iotc_config_init(&cfg);\n"
    "    if (iotc_client_new(&cfg, &c) != IOTC_OK) return 1;\n"
    "    iotc_client_on_command(c, \"blink\", on_cmd, 0);\n"
    "    iotc_client_free(c);\n"
    "    return 0;\n"
    "}\n";

/* Repository root: the test runner's working directory, or git's idea of it. */
static void repo_root(char *out, size_t size)
{
    FILE *p;
    if (access("include/iotc/client.h", R_OK) == 0) {
        snprintf(out, size, ".");
        return;
    }
    p = popen("git rev-parse --show-toplevel 2>/dev/null", "r");
    out[0] = '\0';
    if (p != NULL) {
        if (fgets(out, (int)size, p) != NULL)
            out[strcspn(out, "\n")] = '\0';
        pclose(p);
    }
}

static void compile_with(const char *compiler_cmd)
{
    char root[1024], dir[600], src[1200], cmd[4096];
    const char *tmp = getenv("TMPDIR");
    FILE *f;

    repo_root(root, sizeof(root));
    assert_true(root[0] != '\0');
    snprintf(dir, sizeof(dir), "%s/iotc-hdr-XXXXXX", tmp != NULL && tmp[0] ? tmp : P_tmpdir);
    assert_non_null(mkdtemp(dir));
    snprintf(src, sizeof(src), "%s/t.src", dir);
    f = fopen(src, "w");
    assert_non_null(f);
    fputs(snippet, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s -I'%s/include' -fsyntax-only '%s' 2>&1", compiler_cmd, root,
             src);
    int rc = system(cmd);
    remove(src);
    rmdir(dir);
    if (rc != 0)
        fail_msg("header does not compile: %s", cmd);
}

static void test_header_cxx(void **state)
{
    (void)state;
    compile_with("c++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror");
}

static void test_header_c(void **state)
{
    (void)state;
    compile_with("cc -x c -std=c11 -Wall -Wextra -Wpedantic -Wstrict-prototypes -Werror");
}

/* The same header is included here as C: constants are usable in constant expressions. */
static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(IOTC_COMMAND_DEFER, 0);
    assert_int_equal(IOTC_PROPERTY_DEFER, 0);
    assert_int_equal(IOTC_DEFAULT_SAS_LIFETIME_S, 3600);
    assert_true(sizeof(((struct iotc_command *)0)->rid) >= 37); /* a UUID rid fits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_cxx),
        cmocka_unit_test(test_header_c),
        cmocka_unit_test(test_constants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
