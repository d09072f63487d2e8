/*
 * store_read.c - the reader: worker threads with read-only connections (see store_read.h).
 *
 * Threads: the loop thread pushes jobs on `q` (mutex + condvar). A worker takes the first,
 * runs it with its own connection, puts it on `done` and wakes the loop with event_active()
 * (libevent is initialised with evthread_use_pthreads()), as the store's writer thread does.
 */
#include "central/store/store_read.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "central/base/check.h"
#include "central/base/log.h"

struct read_job {
    STAILQ_ENTRY(read_job) link;
    store_read_run_fn run;
    store_read_done_fn done;
    void *arg;
    long rc;
};
STAILQ_HEAD(job_queue, read_job);

struct worker {
    struct store_read *r;
    struct store_app *sa;
    pthread_t thread;
    bool started;
};

struct store_read {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job_queue q;    /* waiting for a worker */
    struct job_queue done; /* run, waiting for done on the loop */
    size_t jobs;           /* accepted and whose done has not run yet */
    size_t max_jobs;
    bool stop;          /* under mu: workers leave */
    atomic_int abort_q; /* read by the workers' queries: give up now */
    struct event *done_ev;
    struct worker *w;
    int n_w;
    pthread_t loop;
};

/* SQLite's progress handler on every worker connection: non-zero ends the running query. */
static int should_abort(void *arg)
{
    struct store_read *r = arg;
    return atomic_load_explicit(&r->abort_q, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct store_read *r = w->r;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (STAILQ_EMPTY(&r->q) && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        struct read_job *j = STAILQ_FIRST(&r->q);
        STAILQ_REMOVE_HEAD(&r->q, link);
        pthread_mutex_unlock(&r->mu);

        j->rc = j->run(w->sa, j->arg);

        pthread_mutex_lock(&r->mu);
        STAILQ_INSERT_TAIL(&r->done, j, link);
        pthread_mutex_unlock(&r->mu);
        event_active(r->done_ev, EV_READ, 0);
    }
    return NULL;
}

/* Loop thread: call done for every finished job. */
static void run_done(struct store_read *r)
{
    CENTRAL_ASSERT_THREAD(r->loop);
    struct job_queue done = STAILQ_HEAD_INITIALIZER(done);
    pthread_mutex_lock(&r->mu);
    STAILQ_CONCAT(&done, &r->done);
    pthread_mutex_unlock(&r->mu);
    for (struct read_job *j = STAILQ_FIRST(&done), *next; j != NULL; j = next) {
        next = STAILQ_NEXT(j, link);
        r->jobs--;
        j->done(j->arg, j->rc);
        free(j);
    }
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_done(arg);
}

int store_read_open(struct app *app, int threads, size_t max_jobs, struct store_read **out)
{
    *out = NULL;
    if (threads < 1 || max_jobs < 1 || app->base == NULL)
        return CE_INVALID;
    struct store_read *r = calloc(1, sizeof *r);
    if (r == NULL)
        return CE_NOMEM;
    r->loop = pthread_self();
    r->max_jobs = max_jobs;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    STAILQ_INIT(&r->q);
    STAILQ_INIT(&r->done);
    r->done_ev = event_new(app->base, -1, EV_READ, done_cb, r);
    r->w = calloc((size_t)threads, sizeof *r->w);
    if (r->done_ev == NULL || r->w == NULL) {
        store_read_close(r);
        return CE_NOMEM;
    }
    for (int i = 0; i < threads; i++) {
        struct worker *w = &r->w[i];
        w->r = r;
        r->n_w++;
        int rc = store_app_open_readonly(app, &w->sa);
        if (rc != CE_OK) {
            store_read_close(r);
            return rc;
        }
        store_app_set_stop(w->sa, should_abort, r);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_error("store: cannot start a reader thread");
            store_read_close(r);
            return CE_STORE;
        }
        w->started = true;
    }
    *out = r;
    return CE_OK;
}

int store_read_submit(struct store_read *r, store_read_run_fn run, store_read_done_fn done,
                      void *arg)
{
    CENTRAL_ASSERT_THREAD(r->loop);
    if (r->jobs >= r->max_jobs)
        return CE_BUSY;
    struct read_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return CE_NOMEM;
    j->run = run;
    j->done = done;
    j->arg = arg;
    r->jobs++;
    pthread_mutex_lock(&r->mu);
    STAILQ_INSERT_TAIL(&r->q, j, link);
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return CE_OK;
}

void store_read_close(struct store_read *r)
{
    if (r == NULL)
        return;
    CENTRAL_ASSERT_THREAD(r->loop);
    if (r->jobs > 0)
        log_info("store: stopping the reader with %zu queries not answered", r->jobs);
    atomic_store(&r->abort_q, 1); /* a running query ends early (CE_STORE) */
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    /* jobs that never ran end with CE_BUSY */
    for (struct read_job *j; (j = STAILQ_FIRST(&r->q)) != NULL;) {
        STAILQ_REMOVE_HEAD(&r->q, link);
        j->rc = CE_BUSY;
        STAILQ_INSERT_TAIL(&r->done, j, link);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->n_w; i++) {
        if (r->w[i].started)
            pthread_join(r->w[i].thread, NULL);
        store_app_close(r->w[i].sa);
    }
    run_done(r);
    if (r->done_ev != NULL)
        event_free(r->done_ev);
    free(r->w);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
