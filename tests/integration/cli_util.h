/*
 * cli_util.h - helpers for the tests of `iotc`, the operator CLI (test_cli_*.c): run the real
 * binary as a subprocess with a deadline and capture its exit code, standard output and
 * standard error; find the build's programs and the repository's files.
 * Header-only (static functions) so that each test binary stays one file.
 */
#ifndef IOTC_TESTS_CLI_UTIL_H
#define IOTC_TESTS_CLI_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h> /* cmocka.h needs these three first */
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "../lib/harness.h"

#define CU_MAX_ARGS 40

struct cu_out {
    int rc;    /* exit code; -1 killed by a signal, -2 timed out */
    char *out; /* stdout, NUL-terminated (free with cu_free) */
    char *err; /* stderr */
};

/* The array of a list printed with -o json / --json: {"value": [...]} (pages merged). NULL when
 * the text is not that shape. Caller frees. */
static inline cJSON *cu_list(const char *text)
{
    cJSON *doc = text != NULL ? cJSON_Parse(text) : NULL;
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(doc, "value");
    cJSON_Delete(doc);
    if (!cJSON_IsArray(v)) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

static inline int64_t cu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void cu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline void cu_free(struct cu_out *o)
{
    free(o->out);
    free(o->err);
    o->out = o->err = NULL;
}

/* Directory of the test binary's build: $IOTC_BUILDDIR, or the parent of the binary's dir. */
static inline const char *cu_builddir(void)
{
    static char dir[600];
    if (dir[0] != '\0')
        return dir;
    const char *b = getenv("IOTC_BUILDDIR");
    if (b != NULL && b[0] != '\0') {
        snprintf(dir, sizeof dir, "%s", b);
        return dir;
    }
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(dir, sizeof dir, "%s/..", self);
    return dir;
}

/* The repository's top directory: upwards from the current directory or the test binary. */
static inline const char *cu_repo(void)
{
    static char top[1200];
    if (top[0] != '\0')
        return top;
    char start[2][600];
    if (getcwd(start[0], sizeof start[0]) == NULL)
        start[0][0] = '\0';
    snprintf(start[1], sizeof start[1], "%s", cu_builddir());
    for (int s = 0; s < 2; s++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s", start[s]);
        for (int up = 0; up < 8 && dir[0] != '\0'; up++) {
            char probe[1300];
            struct stat st;
            snprintf(probe, sizeof probe, "%s/models/environmental-sensor.dtdlv2.json", dir);
            if (stat(probe, &st) == 0) {
                snprintf(top, sizeof top, "%s", dir);
                return top;
            }
            size_t n = strlen(dir);
            if (n + 4 >= sizeof dir)
                break;
            memcpy(dir + n, "/..", 4);
        }
    }
    snprintf(top, sizeof top, ".");
    return top;
}

static inline void cu_drain(int fd, char **buf, size_t *len, size_t *cap, bool *open_)
{
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) {
        if (n == 0 || (errno != EINTR && errno != EAGAIN))
            *open_ = false;
        return;
    }
    if (*len + (size_t)n + 1 > *cap) {
        size_t nc = *cap ? *cap * 2 : 8192;
        while (nc < *len + (size_t)n + 1)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (nb == NULL) {
            *open_ = false;
            return;
        }
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, tmp, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
}

/* Run @p argv (argv[0] is the program path; NULL-terminated) for at most @p timeout_ms. */
static inline int cu_exec(struct cu_out *o, int timeout_ms, const char *const *argv)
{
    int po[2], pe[2];
    memset(o, 0, sizeof *o);
    if (pipe(po) != 0 || pipe(pe) != 0)
        return o->rc = -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t ol = 0, oc = 0, el = 0, ec = 0;
    bool oo = true, eo = true;
    int64_t deadline = cu_now_ms() + timeout_ms;
    bool timed_out = false;
    while (oo || eo) {
        struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        int left = (int)(deadline - cu_now_ms());
        if (left <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(fds, 2, left);
        if (n < 0 && errno != EINTR)
            break;
        if (oo && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            cu_drain(po[0], &o->out, &ol, &oc, &oo);
        if (eo && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            cu_drain(pe[0], &o->err, &el, &ec, &eo);
    }
    close(po[0]);
    close(pe[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (o->out == NULL)
        o->out = strdup("");
    if (o->err == NULL)
        o->err = strdup("");
    if (timed_out)
        o->rc = -2;
    else if (WIFEXITED(status))
        o->rc = WEXITSTATUS(status);
    else
        o->rc = -1;
    if (getenv("IOTC_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "$");
        for (int i = 0; argv[i] != NULL; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, "\n[rc %d]\n%s%s", o->rc, o->out, o->err);
    }
    return o->rc;
}

static inline int cu_iotc_va(struct cu_out *o, const char *first, va_list ap)
{
    static char bin[700];
    const char *argv[CU_MAX_ARGS + 2];
    int n = 0;
    snprintf(bin, sizeof bin, "%s/iotc", cu_builddir());
    argv[n++] = bin;
    for (const char *a = first; a != NULL && n < CU_MAX_ARGS; a = va_arg(ap, const char *))
        argv[n++] = a;
    argv[n] = NULL;
    return cu_exec(o, 60000, argv);
}

/* Run `iotc ARGS...` (NULL-terminated) with a 60 s deadline; returns the exit code. */
static inline int cu_iotc(struct cu_out *o, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    int rc = cu_iotc_va(o, first, ap);
    va_end(ap);
    return rc;
}

/* Run `iotc ARGS...` (NULL-terminated) into @p o; fail the test with its output unless it exits
 * @p want. */
static inline void cu_expect(struct cu_out *o, int want, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    cu_iotc_va(o, first, ap);
    va_end(ap);
    if (o->rc != want)
        fail_msg("iotc %s ... exited %d, expected %d:\n%s%s", first, o->rc, want, o->out, o->err);
}

/* Run `iotc ARGS...` (NULL-terminated), discard the output, return the exit code. */
static inline int cu_rc(const char *first, ...)
{
    struct cu_out o;
    va_list ap;
    va_start(ap, first);
    int rc = cu_iotc_va(&o, first, ap);
    va_end(ap);
    cu_free(&o);
    return rc;
}

/* `iotc ARGS...` run on a thread, for a test that plays the device meanwhile:
 * fill .args (NULL-terminated), cu_bg_start(), act, cu_bg_join(), then read .out. */
struct cu_bg {
    pthread_t thread;
    const char *args[16];
    struct cu_out out;
};

static inline void *cu_bg_main(void *arg)
{
    struct cu_bg *b = arg;
    const char *argv[20];
    char bin[700]; /* not cu_iotc_va's static buffer: the test thread may use that meanwhile */
    int n = 0;
    snprintf(bin, sizeof bin, "%s/iotc", cu_builddir());
    argv[n++] = bin;
    for (int i = 0; b->args[i] != NULL; i++)
        argv[n++] = b->args[i];
    argv[n] = NULL;
    cu_exec(&b->out, 60000, argv);
    return NULL;
}

static inline int cu_bg_start(struct cu_bg *b)
{
    return pthread_create(&b->thread, NULL, cu_bg_main, b);
}

static inline void cu_bg_join(struct cu_bg *b)
{
    pthread_join(b->thread, NULL);
}

/* Point the CLI (and every child) at server @p c through the environment. */
static inline void cu_env_for(const struct th_central *c)
{
    char url[64];
    snprintf(url, sizeof url, "https://localhost:%u", (unsigned)c->https_port);
    setenv("IOTC_SERVER", url, 1);
    setenv("IOTC_TOKEN", c->admin_token, 1);
    setenv("IOTC_CA_FILE", c->ca_path, 1);
    unsetenv("IOTC_DATA_DIR");
}

#endif /* IOTC_TESTS_CLI_UTIL_H */
