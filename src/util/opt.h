/*
 * opt.h - the command-line option parser shared by iotc-central, iotc, iotc-sim and the
 * examples (libc only; not part of the libiotc API in include/iotc).
 *
 * A program describes its options in a table and calls opt_parse() once:
 *
 *     static int port = 8883;
 *     static const char *dir;
 *     static bool json;
 *     const struct opt specs[] = {
 *         {"data-dir", 0, OPT_STR, &dir, .arg = "DIR", .help = "data directory"},
 *         {"port", 0, OPT_INT, &port, 0, 65535, .help = "port (default 8883)"},
 *         {"json", 0, OPT_FLAG, &json, .help = "print JSON"},
 *         {0},
 *     };
 *     const struct opt_prog prog = {.name = "tool", .synopsis = "[options]"};
 *     int rc = opt_parse(&prog, specs, argc - 1, argv + 1, NULL);
 *     if (rc != OPT_CONTINUE)
 *         return rc;
 *
 * Every program gets the same rules and the same messages:
 *   --name value and --name=value; -x value, -xvalue and bundled flags (-vv);
 *   "--" ends the options; "-" and words starting with "-" and a digit ("-5m") are arguments;
 *   -h/--help anywhere before "--" prints the help and wins over everything else;
 *   --version anywhere before "--" prints "NAME VERSION";
 *   a value option takes the next argument whatever it looks like;
 *   options and arguments may be mixed (arguments are moved behind the options).
 *
 * An OPT_CONFIG option (--config FILE) names a settings file that is applied through the same
 * table before the command line, so options given on the command line win:
 *   one "key = value" per line, the key being a long option's name without the dashes;
 *   blanks around key and value are dropped; blank lines and lines starting with '#' are
 *   skipped (a '#' after a value is part of the value);
 *   OPT_FLAG keys take true/false/yes/no/1/0, OPT_COUNT keys a count, the others what
 *   their option takes; a key given twice: the last one wins (OPT_LIST: every value counts);
 *   an OPT_LIST or OPT_COUNT option also given on the command line starts again from empty.
 * Its errors name the file and line, exit code OPT_EXIT_USAGE:
 *   NAME: FILE:3: unknown key 'prot' (see NAME --help)
 *   NAME: FILE:4: key 'port': 'abc' is not a whole number from 0 to 65535 (see NAME --help)
 *   NAME: FILE:5: expected 'key = value', not 'port 8883' (see NAME --help)
 *   NAME: cannot read config file 'FILE': No such file or directory (see NAME --help)
 *
 * Errors are one line on stderr and exit code OPT_EXIT_USAGE:
 *   NAME: unknown option '--x' (see NAME --help)
 *   NAME: option '--port' needs a value (see NAME --help)
 *   NAME: option '--json' takes no value (see NAME --help)
 *   NAME: option '--port': 'abc' is not a whole number from 0 to 65535 (see NAME --help)
 *   NAME: unexpected argument 'x' (see NAME --help)
 * Exit codes for all programs: docs/CLI.md, "Exit codes".
 */
#ifndef IOTC_UTIL_OPT_H
#define IOTC_UTIL_OPT_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes shared by every program (docs/CLI.md, "Exit codes"). */
#define OPT_EXIT_OK 0
#define OPT_EXIT_USAGE 1  /* bad command line or settings: nothing was done */
#define OPT_EXIT_FAILED 2 /* the work was attempted and failed (iotc: API or server error) */

/* opt_parse() and opt_builtin(): parsing went through, go on with the program. */
#define OPT_CONTINUE (-1)

enum opt_kind {
    OPT_END = 0, /* ends the table: {0} */
    OPT_FLAG,    /* bool *dest = true */
    OPT_COUNT,   /* int *dest += 1 (-v -v) */
    OPT_STR,     /* const char **dest = value (points into argv; the last one wins) */
    OPT_LIST,    /* struct opt_list *dest gets every value (repeatable option) */
    OPT_INT,     /* int *dest, a whole number in [min, max] */
    OPT_LONG,    /* long *dest, a whole number in [min, max] */
    OPT_NUM,     /* double *dest, a number (fractions allowed) in [min, max] */
    OPT_FUNC,    /* fn(dest, value) checks and stores the value */
    OPT_HEADING, /* no option: a heading line ("help") in the generated help */
    OPT_CONFIG,  /* struct opt_config *dest: a settings file applied before the command line */
};

/* Values of an OPT_LIST option, in command-line order (pointers into argv). */
struct opt_list {
    const char **v;
    int n;
};
void opt_list_free(struct opt_list *l);

/* OPT_CONFIG: the file named (last one wins) and its text, which OPT_STR and OPT_LIST values
 * read from the file point into: keep it until those are used, then opt_config_free(). */
struct opt_config {
    const char *path; /* NULL: no file named */
    char *text;
};
void opt_config_free(struct opt_config *c);

/* Give every entry at least one designated field (.help = ...) or all of them: -Wextra warns
 * about positional entries that stop early. */
struct opt {
    const char *name; /* long name without the dashes: "data-dir"; NULL: short only */
    char short_name;  /* 'v' for -v, or 0 */
    enum opt_kind kind;
    void *dest;
    /* OPT_INT, OPT_LONG, OPT_NUM: allowed range; both 0 means "0 or more" */
    long long min, max;
    const char *arg;  /* value placeholder in the help ("N", "FILE"); default by kind */
    const char *help; /* help text; '\n' starts an indented continuation line; NULL: hidden */
    /* OPT_FUNC: store @p value into @p dest; NULL when fine, else what the value should be
     * ("a HOST:PORT address"), which makes "option '--x': 'v' is not a HOST:PORT address". */
    const char *(*fn)(void *dest, const char *value);
};

struct opt_prog {
    const char *name;     /* message prefix: "iotc-sim", "iotc devices list" */
    const char *synopsis; /* generated help: "usage: NAME SYNOPSIS" */
    const char *intro;    /* generated help: text between the usage line and the options */
    const char *outro;    /* generated help: text after the options */
    /* Print the help on stdout yourself instead of the generated text. */
    void (*help)(const struct opt_prog *p);
    void *user;
    /* --version prints "PROGRAM VERSION" (PROGRAM: the first word of name); NULL: IOTC_VERSION */
    const char *version;
};

/**
 * Parse @p argv[0..argc) (without the program name) against @p specs.
 * Arguments that are not options are moved, in order, behind the options (and a "--");
 * *first_pos is set to the index of the first, so they are argv[*first_pos..argc). With
 * @p first_pos NULL any argument is an error.
 * @return OPT_CONTINUE, OPT_EXIT_OK after printing the help or the version, or
 * OPT_EXIT_USAGE after printing the reason on stderr.
 */
int opt_parse(const struct opt_prog *p, const struct opt *specs, int argc, char **argv,
              int *first_pos);

/**
 * Only the -h/--help and --version part of opt_parse(): for a program that has to print the
 * help before it knows all its options. Same return values.
 */
int opt_builtin(const struct opt_prog *p, const struct opt *specs, int argc, char **argv);

/**
 * Apply the settings in @p text (the contents of the file @p file, named in messages; changed
 * in place: values point into it) through @p specs, in the format described above.
 * @return OPT_CONTINUE, or OPT_EXIT_USAGE after printing the file, line and reason on stderr.
 */
int opt_apply_config(const struct opt_prog *p, const struct opt *specs, const char *file,
                     char *text);

/** Index of the first argument of @p argv that is not an option or an option's value. */
int opt_first_arg(const struct opt *specs, int argc, char **argv);

/** Print "NAME: message (see NAME --help)" on stderr. @return OPT_EXIT_USAGE. */
int opt_error(const struct opt_prog *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** The help generated from @p specs (usage line, intro, options, -h and --version, outro). */
void opt_print_help(const struct opt_prog *p, const struct opt *specs, FILE *out);

#endif
