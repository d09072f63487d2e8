/*
 * appl_jobsm.h - the state machine of one job (IoT Central's /api/jobs): which device to start
 * next, how many run at once (the batch size), when the cancellation threshold cancels the job,
 * stop / resume, and what a restart does to devices that were started but not finished.
 *
 * Pure: no I/O, no clock, no allocation. Inputs are events (start, finish, stop, resume, restart);
 * the caller keeps the per-device states array (one byte per device, in the job's device order),
 * persists each change, and performs the operations.
 */
#ifndef CENTRAL_APPL_JOBSM_H
#define CENTRAL_APPL_JOBSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A device's state in a job (names: jobsm_dev_name). */
enum jobsm_dev { JD_PENDING = 0, JD_STARTED, JD_COMPLETED, JD_FAILED, JD_CANCELLED };

/** The job's state (names: jobsm_status_name, IoT Central's job statuses). */
enum jobsm_status { JS_RUNNING = 0, JS_STOPPED, JS_COMPLETE, JS_FAILED, JS_CANCELLED };

struct jobsm {
    uint8_t *dev;   /**< n device states (caller's array) */
    size_t n;       /**< devices in the job */
    size_t batch;   /**< devices at most in flight (>= 1) */
    bool threshold; /**< a cancellation threshold is set */
    bool thr_percent, thr_batch;
    double thr_value;
    int status; /**< enum jobsm_status */
};

/**
 * Devices per batch for a batch {type, value}: "number" = value, "percentage" = ceil(value% of
 * n); at least 1, at most n (1 when n is 0). @p percent false: number.
 */
size_t jobsm_batch_size(bool percent, double value, size_t n);

/** Set up a job over @p n devices (states in @p dev, as stored). Status from the states. */
void jobsm_init(struct jobsm *m, uint8_t *dev, size_t n, size_t batch);

/**
 * After a restart: a device STARTED but not finished is started again when @p redo (the
 * operation is idempotent: property writes), else failed (commands: never sent twice).
 * @return how many devices were failed that way (the caller records why).
 */
size_t jobsm_recover(struct jobsm *m, bool redo);

/** The next device to start (marked STARTED), or -1: none pending, the batch is full, or the
 * job is not running. */
long jobsm_next(struct jobsm *m);

/** Device @p i finished (ok: completed, else failed). Applies the cancellation threshold
 * (pending devices become CANCELLED) and completion. Ignored unless @p i is STARTED. */
void jobsm_finish(struct jobsm *m, size_t i, bool ok);

/** Stop a running job (devices in flight still finish). @return false when not running. */
bool jobsm_stop(struct jobsm *m);
/** Resume a stopped job. @return false when not stopped. */
bool jobsm_resume(struct jobsm *m);

/** Devices in state @p s. */
size_t jobsm_count(const struct jobsm *m, enum jobsm_dev s);

const char *jobsm_dev_name(int s);
const char *jobsm_status_name(int s);

#endif /* CENTRAL_APPL_JOBSM_H */
