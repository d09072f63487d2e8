/*
 * log.h - one-line-per-event logging for iotc-central.
 *
 * Lines go to stderr as "2026-01-01T10:00:00.123Z LEVEL message". stdout is reserved for the
 * machine-readable port/ready lines that scripts and the test harness parse. With --log-file,
 * stderr itself is that file (so whatever a library writes there lands in it too).
 */
#ifndef CENTRAL_LOG_H
#define CENTRAL_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/** Set the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);

/** Parse "error|warn|info|debug"; returns 0 and sets *out_level, or -1. */
int log_parse_level(const char *text, enum log_level *out_level);

/** True when a message at @p level would be printed (to skip building costly arguments). */
int log_enabled(enum log_level level);

/**
 * Send stderr (every log line) to @p path from now on: opened to append, created mode 0600.
 * The path is kept for log_reopen(). @return 0, or -1 (errno set, stderr unchanged).
 */
int log_open_file(const char *path);

/**
 * Open the log file's path again (SIGHUP: logrotate moved the file away) and switch stderr
 * to it; the old file gets no more lines. @return 1 reopened, 0 no log file, -1 failed (the
 * old file is kept and the reason logged there).
 */
int log_reopen(void);

/** Print one line. Thread-safe (one fprintf per line). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Bytes of an untrusted string a log line shows; the rest is cut and marked "...". */
#define LOG_ESC_MAX 128
/** Buffer size that always holds log_escape()'s output (every byte as \xNN, "...", NUL). */
#define LOG_ESC_SIZE (LOG_ESC_MAX * 4 + 4)

/**
 * Make a peer-supplied string safe for one log line: the one place every client id, username,
 * topic, registration id, HTTP path or header value, model id... passes through before a log_*
 * call prints it. Control characters (C0, DEL, C1), backslash (so that a literal "\x0a" in
 * the input cannot pass for an escape) and bytes that are not well-formed UTF-8 become \xNN;
 * valid UTF-8 is kept. At most LOG_ESC_MAX input bytes are
 * shown, a longer input ends in "...". @p s (NULL reads as "") is borrowed for the call, @p len
 * bytes. Writes at most @p out_size bytes (NUL-terminated when out_size > 0; LOG_ESC_SIZE is
 * always enough) and returns @p out.
 */
const char *log_escape(char *out, size_t out_size, const char *s, size_t len);

/** log_escape() of a NUL-terminated @p s (NULL reads as ""). */
const char *log_escape_cstr(char *out, size_t out_size, const char *s);

/* Escaped copies in a buffer that lives until the end of the enclosing block, for use as
 * arguments: log_warn("... '%s'", LOG_STR(s->ident)); */
#define LOG_STR(s) log_escape_cstr((char[LOG_ESC_SIZE]){0}, LOG_ESC_SIZE, (s))
#define LOG_SPAN(p, n) log_escape((char[LOG_ESC_SIZE]){0}, LOG_ESC_SIZE, (p), (n))

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                       \
    do {                                     \
        if (log_enabled(LOG_DEBUG))          \
            log_msg(LOG_DEBUG, __VA_ARGS__); \
    } while (0)

#endif /* CENTRAL_LOG_H */
