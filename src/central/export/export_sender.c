/*
 * export_sender.c - the export's sender thread (export_sender.h): one thread per process with
 * its own event_base, on which destinations that do their own network work (webhook@v1: libcurl's
 * multi handle, its sockets and timers, oauth token fetches) run, so that work is not done on the
 * loop thread that serves MQTT and HTTPS.
 *
 * Threads: the loop pushes jobs (a send, or the free of an instance) on `in` and wakes the sender
 * with event_active() on an event of the sender's base; the sender runs them in order, and puts
 * every completion on `out` and wakes the loop with event_active() on an event of app->base
 * (libevent is initialised with evthread_use_pthreads(), as for the store's writer). A wake is
 * sent only when a queue goes from empty to not empty; the woken side takes the whole queue.
 *
 * A proxy's free is a job too: the sender frees the inner instance (which drops what it had in
 * flight without callbacks), then answers with a FREED entry behind every completion of that
 * instance, and only then is the proxy itself freed on the loop. Until then the proxy is marked
 * dead and its completions are dropped, so no callback runs for a freed destination. The sender
 * keeps each proxy's sends that the inner instance holds (`sent`), and frees those the instance
 * dropped when it was freed.
 */
#include "central/export/export_sender.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "central/base/check.h"
#include "central/base/log.h"

enum job_kind { JOB_SEND = 0, JOB_FREE, JOB_FREED };

struct proxy;

struct job {
    STAILQ_ENTRY(job) link;
    LIST_ENTRY(job) live; /* sender thread: in its proxy's `sent` while the inner has it */
    enum job_kind kind;
    struct proxy *px;
    export_sent_fn cb;
    void *ctx;
    enum export_outcome out;
    char error[160];
    char *key;
    size_t len;
    char body[]; /* key follows the body */
};
STAILQ_HEAD(job_queue, job);

struct proxy {
    struct export_dest base;
    struct export_sender *s;
    struct export_dest *inner; /* used on the sender thread only once handed over */
    LIST_HEAD(, job) sent;     /* sender thread: sends the inner took and has not answered */
    size_t room_max;
    size_t inflight; /* sends accepted whose completion has not been taken on the loop */
    bool dead;       /* freed on the loop: completions are dropped, FREED frees it */
};

struct export_sender {
    pthread_mutex_t mu;
    struct job_queue in, out;
    bool in_woken, out_woken; /* under mu: a wake is pending for that queue */
    bool stop;                /* under mu: leave once `in` is empty */
    struct event_base *base;  /* the sender's */
    struct event *in_ev;      /* on base */
    struct event *out_ev;     /* on the loop's base */
    pthread_t thread, loop;
    bool started;
};

/* ---------------------------------------------------------------- sender thread */

static void push_out(struct export_sender *s, struct job *j)
{
    pthread_mutex_lock(&s->mu);
    bool wake = !s->out_woken;
    s->out_woken = true;
    STAILQ_INSERT_TAIL(&s->out, j, link);
    pthread_mutex_unlock(&s->mu);
    if (wake)
        event_active(s->out_ev, EV_READ, 0);
}

/* The inner destination's completion (on the sender thread, from its own events). */
static void on_inner_sent(void *ctx, enum export_outcome out, const char *error)
{
    struct job *j = ctx;
    LIST_REMOVE(j, live);
    j->out = out;
    snprintf(j->error, sizeof j->error, "%s", error != NULL ? error : "");
    push_out(j->px->s, j);
}

static void run_job(struct export_sender *s, struct job *j)
{
    struct export_dest *d = j->px->inner;
    if (j->kind == JOB_FREE) {
        d->ops->free(d);
        /* what the inner dropped unanswered: its jobs are ours to free */
        for (struct job *k = LIST_FIRST(&j->px->sent), *next; k != NULL; k = next) {
            next = LIST_NEXT(k, live);
            free(k);
        }
        LIST_INIT(&j->px->sent);
        j->kind = JOB_FREED;
        push_out(s, j);
        return;
    }
    LIST_INSERT_HEAD(&j->px->sent, j, live);
    int rc = d->ops->send(d, j->key, j->body, j->len, on_inner_sent, j);
    if (rc != CE_OK) {
        LIST_REMOVE(j, live);
        j->out = EXPORT_OUT_RETRY;
        snprintf(j->error, sizeof j->error, "export: cannot start the request: %s",
                 central_strerror(rc));
        push_out(s, j);
    }
}

static void on_in(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct export_sender *s = arg;
    struct job_queue q = STAILQ_HEAD_INITIALIZER(q);
    pthread_mutex_lock(&s->mu);
    STAILQ_CONCAT(&q, &s->in);
    s->in_woken = false;
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    for (struct job *j = STAILQ_FIRST(&q), *next; j != NULL; j = next) {
        next = STAILQ_NEXT(j, link);
        run_job(s, j);
    }
    if (stop)
        event_base_loopbreak(s->base);
}

static void *sender_main(void *arg)
{
    struct export_sender *s = arg;
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* ---------------------------------------------------------------- loop thread */

static void take_out(struct export_sender *s, bool call)
{
    struct job_queue q = STAILQ_HEAD_INITIALIZER(q);
    pthread_mutex_lock(&s->mu);
    STAILQ_CONCAT(&q, &s->out);
    s->out_woken = false;
    pthread_mutex_unlock(&s->mu);
    for (struct job *j = STAILQ_FIRST(&q), *next; j != NULL; j = next) {
        next = STAILQ_NEXT(j, link);
        struct proxy *px = j->px;
        if (j->kind == JOB_FREED) {
            free(px);
        } else {
            px->inflight--;
            if (call && !px->dead)
                j->cb(j->ctx, j->out, j->out == EXPORT_OUT_OK ? NULL : j->error);
        }
        free(j);
    }
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct export_sender *s = arg;
    CENTRAL_ASSERT_THREAD(s->loop);
    take_out(s, true);
}

static void push_in(struct export_sender *s, struct job *j)
{
    pthread_mutex_lock(&s->mu);
    bool wake = !s->in_woken;
    s->in_woken = true;
    STAILQ_INSERT_TAIL(&s->in, j, link);
    pthread_mutex_unlock(&s->mu);
    if (wake)
        event_active(s->in_ev, EV_READ, 0);
}

static size_t px_room(struct export_dest *d)
{
    struct proxy *px = (struct proxy *)d;
    return px->inflight < px->room_max ? px->room_max - px->inflight : 0;
}

static int px_send(struct export_dest *d, const char *key, const char *body, size_t len,
                   export_sent_fn cb, void *ctx)
{
    struct proxy *px = (struct proxy *)d;
    CENTRAL_ASSERT_THREAD(px->s->loop);
    if (px_room(d) == 0)
        return CE_BUSY;
    size_t klen = key != NULL ? strlen(key) : 0;
    struct job *j = malloc(sizeof *j + len + 1 + klen + 1);
    if (j == NULL)
        return CE_NOMEM;
    j->kind = JOB_SEND;
    j->px = px;
    j->cb = cb;
    j->ctx = ctx;
    j->out = EXPORT_OUT_RETRY;
    j->error[0] = '\0';
    j->len = len;
    memcpy(j->body, body, len);
    j->body[len] = '\0';
    j->key = j->body + len + 1;
    if (klen > 0)
        memcpy(j->key, key, klen);
    j->key[klen] = '\0';
    px->inflight++;
    push_in(px->s, j);
    return CE_OK;
}

static void px_free(struct export_dest *d)
{
    struct proxy *px = (struct proxy *)d;
    if (px == NULL)
        return;
    CENTRAL_ASSERT_THREAD(px->s->loop);
    struct job *j = calloc(1, sizeof *j + 1);
    px->dead = true;
    if (j == NULL) {
        /* cannot hand the free over: leak the instance rather than free it under the sender */
        log_error("export: out of memory freeing a destination");
        return;
    }
    j->kind = JOB_FREE;
    j->px = px;
    push_in(px->s, j);
}

static const struct export_dest_ops proxy_ops = {
    .room = px_room,
    .send = px_send,
    .free = px_free,
};

int export_sender_wrap(struct export_sender *s, struct export_dest *inner, size_t room,
                       struct export_dest **out)
{
    *out = NULL;
    struct proxy *px = calloc(1, sizeof *px);
    if (px == NULL) {
        inner->ops->free(inner);
        return CE_NOMEM;
    }
    px->base.ops = &proxy_ops;
    px->s = s;
    px->inner = inner;
    px->room_max = room;
    LIST_INIT(&px->sent);
    *out = &px->base;
    return CE_OK;
}

struct event_base *export_sender_base(struct export_sender *s)
{
    return s->base;
}

int export_sender_open(struct app *app, struct export_sender **out)
{
    *out = NULL;
    struct export_sender *s = calloc(1, sizeof *s);
    if (s == NULL)
        return CE_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    STAILQ_INIT(&s->in);
    STAILQ_INIT(&s->out);
    s->loop = pthread_self();
    s->base = event_base_new();
    s->in_ev = s->base != NULL ? event_new(s->base, -1, EV_READ, on_in, s) : NULL;
    s->out_ev = event_new(app->base, -1, EV_READ, on_out, s);
    if (s->in_ev == NULL || s->out_ev == NULL) {
        export_sender_close(s);
        return CE_NOMEM;
    }
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        log_error("export: cannot start the sender thread");
        export_sender_close(s);
        return CE_IO;
    }
    s->started = true;
    *out = s;
    return CE_OK;
}

void export_sender_close(struct export_sender *s)
{
    if (s == NULL)
        return;
    if (s->started) {
        /* the sender runs every job still queued (the frees of the last instances), then leaves */
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        s->in_woken = true;
        pthread_mutex_unlock(&s->mu);
        event_active(s->in_ev, EV_READ, 0);
        pthread_join(s->thread, NULL);
    }
    /* completions no one waits for any more, and the FREED answers that free the proxies */
    take_out(s, false);
    for (struct job *j = STAILQ_FIRST(&s->in), *next; j != NULL; j = next) {
        next = STAILQ_NEXT(j, link);
        free(j); /* only when the thread never started */
    }
    if (s->in_ev != NULL)
        event_free(s->in_ev);
    if (s->out_ev != NULL)
        event_free(s->out_ev);
    if (s->base != NULL)
        event_base_free(s->base);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
