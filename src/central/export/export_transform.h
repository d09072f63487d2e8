/*
 * export_transform.h - an export destination's `transform`, IoT Central's transformation
 * language: a jq program (libjq, jq 1.6) compiled once when the export is saved and run on each
 * message on the export side (export_pipe.c), never on the ingest path. docs/EXPORT.md.
 *
 * The program sees the message as IoT Central's transform input: the default@v1 message with
 * `telemetry` as an array of {"name", "value"} and a `device` object {"id", "templateId"}. It may
 * `import "iotc" as iotc;` and call `iotc::find(f)` (the array elements for which f holds).
 * Each output value is one message to the destination: none (the message is skipped), one, or
 * up to EXPORT_TRANSFORM_MAX_OUTPUTS (more is an error for that message).
 *
 * A run has a budget (EXPORT_TRANSFORM_BUDGET_MS of its thread's CPU time, the heap growing by
 * at most about EXPORT_TRANSFORM_MEMORY_MB): a process-wide watchdog thread, which exists while
 * any compiled transform does, halts a run that takes more, and the run fails with "stopped
 * after 100 ms" or "stopped after using more than 64 MB". jq's `halt` and `halt_error` are plain
 * errors of the message. Transforms may be compiled, run and freed on any threads, one thread per
 * transform at a time.
 */
#ifndef CENTRAL_EXPORT_TRANSFORM_H
#define CENTRAL_EXPORT_TRANSFORM_H

#include <stddef.h>

#define EXPORT_TRANSFORM_MAX_OUTPUTS 32
#define EXPORT_TRANSFORM_MAX_TEXT 16384
/* The CPU time one run (one message, all its outputs) may use before it is stopped. */
#define EXPORT_TRANSFORM_BUDGET_MS 100
/* How much the process's heap may grow during one run before it is stopped. */
#define EXPORT_TRANSFORM_MEMORY_MB 64
/* export_transform_run's answer for a run the watchdog stopped. */
#define EXPORT_TRANSFORM_STOPPED (-2)

struct export_transform;

/**
 * The program jq compiles for @p text: the `import "iotc" as iotc;` directive replaced by the
 * module's definitions and `iotc::find` calls renamed to them (outside strings and comments).
 * Pure. @return a new string (caller frees), or NULL with the reason in @p err (too long, out
 * of memory).
 */
char *export_transform_source(const char *text, char *err, size_t err_size);

/**
 * Compile @p text. @return 0 with *@p out set (free with export_transform_free), or -1 with
 * jq's message in @p err (or: no memory, the watchdog thread could not be started).
 */
int export_transform_new(const char *text, struct export_transform **out, char *err,
                         size_t err_size);

/** Free @p t (NULL is fine); freeing the last transform stops and joins the watchdog thread. */
void export_transform_free(struct export_transform *t);

/** The outputs of one run: each a compact JSON text (malloc'd). */
struct export_transform_out {
    size_t n;
    char *text[EXPORT_TRANSFORM_MAX_OUTPUTS];
};

/**
 * Run @p t on the message @p msg (JSON text of @p len bytes, as export_message_text writes it).
 * @return 0 with the outputs in @p out (free with export_transform_out_free), or -1 with a
 * one-line reason in @p err (the message is not JSON, jq raised an error, too many outputs), or
 * EXPORT_TRANSFORM_STOPPED with "stopped after ..." in @p err (the run outgrew its budget). After
 * any result the same @p t runs the next message normally.
 */
int export_transform_run(struct export_transform *t, const char *msg, size_t len,
                         struct export_transform_out *out, char *err, size_t err_size);

void export_transform_out_free(struct export_transform_out *out);

#endif /* CENTRAL_EXPORT_TRANSFORM_H */
