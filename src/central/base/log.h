/*
 * log.h - one-line-per-event logging for iotc-central.
 *
 * Lines go to stderr as "2026-01-01T10:00:00.123Z LEVEL message". stdout is reserved for the
 * machine-readable port/ready lines that scripts and the test harness parse.
 */
#ifndef CENTRAL_LOG_H
#define CENTRAL_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/** Set the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);

/** Parse "error|warn|info|debug"; returns 0 and sets *out_level, or -1. */
int log_parse_level(const char *text, enum log_level *out_level);

/** True when a message at @p level would be printed (to skip building costly arguments). */
int log_enabled(enum log_level level);

/** Print one line. Thread-safe (one fprintf per line). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                       \
    do {                                     \
        if (log_enabled(LOG_DEBUG))          \
            log_msg(LOG_DEBUG, __VA_ARGS__); \
    } while (0)

#endif /* CENTRAL_LOG_H */
