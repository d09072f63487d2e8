/*
 * store_read.h - long read-only queries off the event-loop thread.
 *
 * A query that may visit many rows (a telemetry series over a month: millions of rows, seconds
 * of SQLite work) must not run on the loop thread, or every device's PUBACK and every HTTP
 * request waits for it. The reader owns a few worker threads, each with its own read-only
 * connection to the same WAL database (WAL readers never block the writer thread nor each
 * other), and a bounded queue of jobs. A job's `run` function executes on a worker with that
 * worker's connection (a struct store_app handle: the store_app_scan_* and store_app_series
 * readers take it); its `done` function then runs on the loop thread, woken the way the writer
 * thread wakes it (event_active on an event of app->base).
 *
 * Bounded: at most `max_jobs` jobs are in the reader at once (queued, running, or finished and
 * waiting for their `done`); store_read_submit refuses more with CE_BUSY, for the caller to
 * answer "try again later".
 */
#ifndef CENTRAL_STORE_READ_H
#define CENTRAL_STORE_READ_H

#include <stddef.h>

#include "central/base/app.h"
#include "central/store/store_app.h"

struct store_read;

/**
 * Runs on a worker thread with that worker's read-only handle @p sa (valid during the call).
 * It must touch nothing of the loop thread's state: only @p arg, which the submitter prepared
 * (copies of what the query needs and room for its results). @return passed to done.
 */
typedef long (*store_read_run_fn)(struct store_app *sa, void *arg);

/**
 * Runs on the loop thread exactly once per accepted job: with run's result, or with CE_BUSY
 * when the reader closed before the job ran. Owns @p arg from then on.
 */
typedef void (*store_read_done_fn)(void *arg, long rc);

#define STORE_READ_THREADS_DEFAULT 2
#define STORE_READ_MAX_JOBS_DEFAULT 32

/**
 * Open @p threads read-only connections to DATA_DIR/central.db and start one worker thread for
 * each (loop thread; app->base must exist). @p max_jobs bounds the jobs in the reader.
 * @return CE_OK, CE_INVALID (0 threads or jobs), CE_NOMEM or CE_STORE (logged).
 */
int store_read_open(struct app *app, int threads, size_t max_jobs, struct store_read **out);

/**
 * Queue a job (loop thread). @p arg is the caller's until @p done runs.
 * @return CE_OK (done will run), CE_BUSY (max_jobs in the reader: nothing queued, done will not
 * run) or CE_NOMEM.
 */
int store_read_submit(struct store_read *r, store_read_run_fn run, store_read_done_fn done,
                      void *arg);

/**
 * Interrupt running queries, stop the workers, then call done for every job (CE_BUSY for the
 * ones that never ran) and close the connections. Loop thread. NULL is fine.
 */
void store_read_close(struct store_read *r);

#endif /* CENTRAL_STORE_READ_H */
