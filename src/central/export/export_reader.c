/*
 * export_reader.c - the export's reader thread (export_reader.h).
 *
 * Threads: the loop appends work to `in` and signals `cv`; the reader takes one item at a time,
 * runs it, appends it to `out` and wakes the loop with event_active() on an event of
 * app->base (libevent is initialised with evthread_use_pthreads(), as for the store's writer and
 * the export's sender), only when `out` goes from empty to not empty; the loop takes the whole
 * queue and calls done() for each. A work item belongs to the reader between post and done.
 */
#include "central/export/export_reader.h"

#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "central/base/check.h"
#include "central/base/log.h"

struct wq {
    struct export_work *head, **tail;
};

struct export_reader {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct wq in, out; /* under mu */
    bool out_woken;    /* under mu: a wake of the loop is pending */
    bool stop;         /* under mu */
    bool closing;      /* loop thread */
    struct event *out_ev;
    struct store_export *se; /* the reader thread's once started */
    pthread_t thread, loop;
    bool started;
};

static void wq_init(struct wq *q)
{
    q->head = NULL;
    q->tail = &q->head;
}

static void wq_push(struct wq *q, struct export_work *w)
{
    w->next = NULL;
    *q->tail = w;
    q->tail = &w->next;
}

/* Take the whole queue. */
static struct export_work *wq_take(struct wq *q)
{
    struct export_work *w = q->head;
    wq_init(q);
    return w;
}

/* One item at a time, so that a stop waits for the item running only. */
static void *reader_main(void *arg)
{
    struct export_reader *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->in.head == NULL && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop)
            break;
        struct export_work *w = r->in.head;
        r->in.head = w->next;
        if (r->in.head == NULL)
            r->in.tail = &r->in.head;
        pthread_mutex_unlock(&r->mu);
        w->run(w, r->se);
        pthread_mutex_lock(&r->mu);
        bool wake = !r->out_woken;
        r->out_woken = true;
        wq_push(&r->out, w);
        if (wake)
            event_active(r->out_ev, EV_READ, 0);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void take_out(struct export_reader *r)
{
    pthread_mutex_lock(&r->mu);
    struct export_work *w = wq_take(&r->out);
    r->out_woken = false;
    pthread_mutex_unlock(&r->mu);
    for (struct export_work *next; w != NULL; w = next) {
        next = w->next;
        w->done(w, true);
    }
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct export_reader *r = arg;
    CENTRAL_ASSERT_THREAD(r->loop);
    take_out(r);
}

void export_reader_post(struct export_reader *r, struct export_work *w)
{
    CENTRAL_ASSERT_THREAD(r->loop);
    pthread_mutex_lock(&r->mu);
    bool signal = r->in.head == NULL;
    wq_push(&r->in, w);
    if (signal)
        pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

bool export_reader_closing(const struct export_reader *r)
{
    return r->closing;
}

int export_reader_open(struct app *app, struct export_reader **out)
{
    *out = NULL;
    struct export_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return CE_NOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    wq_init(&r->in);
    wq_init(&r->out);
    r->loop = pthread_self();
    r->out_ev = event_new(app->base, -1, EV_READ, on_out, r);
    int rc = r->out_ev != NULL ? store_export_open(app, &r->se) : CE_NOMEM;
    if (rc != CE_OK) {
        export_reader_close(r);
        return rc;
    }
    if (pthread_create(&r->thread, NULL, reader_main, r) != 0) {
        log_error("export: cannot start the reader thread");
        export_reader_close(r);
        return CE_IO;
    }
    r->started = true;
    *out = r;
    return CE_OK;
}

void export_reader_close(struct export_reader *r)
{
    if (r == NULL)
        return;
    r->closing = true;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    take_out(r);
    /* queued and never run */
    for (struct export_work *w = wq_take(&r->in), *next; w != NULL; w = next) {
        next = w->next;
        w->done(w, false);
    }
    if (r->out_ev != NULL)
        event_free(r->out_ev);
    store_export_close(r->se);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
