/* log.c - see log.h. */
#include "central/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "proto/strbuf.h" /* iotc__utf8_seq: the one UTF-8 check */

static enum log_level g_level = LOG_INFO;

void log_set_level(enum log_level level)
{
    g_level = level;
}

int log_parse_level(const char *text, enum log_level *out_level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out_level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* --log-file: the path (for log_reopen), NULL while logging to the original stderr */
static char *g_path;

/* Open g_path and make it stderr; dup2 swaps the descriptor at once for every thread. */
static int switch_to(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return -1;
    fflush(stderr);
    int rc = 0;
    if (fd != STDERR_FILENO) {
        rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 0;
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return rc;
}

int log_open_file(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return -1;
    if (switch_to(copy) < 0) {
        int saved = errno;
        free(copy);
        errno = saved;
        return -1;
    }
    free(g_path);
    g_path = copy;
    return 0;
}

int log_reopen(void)
{
    if (g_path == NULL)
        return 0;
    if (switch_to(g_path) < 0) {
        log_msg(LOG_ERROR, "cannot reopen the log file %s: %s (still writing to the old one)",
                g_path, strerror(errno));
        return -1;
    }
    return 1;
}

int log_enabled(enum log_level level)
{
    return level <= g_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    if (level > g_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[2048];
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    int k =
        snprintf(line + n, sizeof line - n, ".%03ldZ %s ", (long)(tv.tv_usec / 1000), tags[level]);
    if (k > 0)
        n += (size_t)k;
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (k > 0)
        n += (size_t)k;
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

const char *log_escape(char *out, size_t out_size, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (out_size == 0)
        return out;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    if (s == NULL)
        len = 0;
    bool cut = len > LOG_ESC_MAX;
    size_t shown = cut ? LOG_ESC_MAX : len;
    size_t o = 0;
    for (size_t i = 0; i < shown;) {
        char esc[4];
        const unsigned char *copy = p + i;
        size_t n = 0;
        size_t u = p[i] >= 0x80 ? iotc__utf8_seq(p + i, shown - i) : 0;
        if (u == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0) /* C1 control U+0080..U+009F */
            u = 0;
        if (u > 0) {
            n = u;
        } else if (p[i] < 0x20 || p[i] >= 0x7F || p[i] == '\\') {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[p[i] >> 4];
            esc[3] = hex[p[i] & 15];
            copy = (const unsigned char *)esc;
            n = 4;
        } else {
            n = 1;
        }
        if (o + n >= out_size)
            break;
        memcpy(out + o, copy, n);
        o += n;
        i += u > 0 ? u : 1;
    }
    if (cut && o + 3 < out_size) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

const char *log_escape_cstr(char *out, size_t out_size, const char *s)
{
    return log_escape(out, out_size, s, s ? strlen(s) : 0);
}
