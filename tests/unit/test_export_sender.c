/*
 * test_export_sender.c - the export's sender thread (src/central/export/export_sender.c) with a
 * fake destination on the sender's event_base: sends run on the sender thread, completions come
 * back on the loop thread with their outcome and reason, the proxy bounds what is in flight, and
 * a freed destination (also one freed from inside its own callback) calls back no more, and the
 * sender joins with messages still held (the ASan build checks nothing leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "central/base/app.h"
#include "central/export/export_sender.h"

#define ROOM 4

/* A destination that answers "ok" bodies with OK, "retry" with RETRY, "gone" with PERMANENT, each
 * from an event of the sender's base, and holds "hold" bodies until freed. */
struct held {
    char *body;
    struct held *next;
};

struct answer {
    struct fake *f;
    struct event *ev;
    export_sent_fn cb;
    void *ctx;
    enum export_outcome out;
    struct answer *next;
};

struct fake {
    struct export_dest base;
    struct event_base *eb;
    struct held *held;
    struct answer *answers; /* scheduled, not run yet: dropped when freed */
    atomic_int *freed;
};

static struct app app;
static pthread_t loop_thread;
static atomic_int sends_off_loop, sends_on_loop;

static void answer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct answer *a = arg;
    for (struct answer **pp = &a->f->answers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    a->cb(a->ctx, a->out, a->out == EXPORT_OUT_OK ? NULL : "fake: refused");
    event_free(a->ev);
    free(a);
}

static size_t fake_room(struct export_dest *d)
{
    (void)d;
    return ROOM;
}

static int fake_send(struct export_dest *d, const char *key, const char *body, size_t len,
                     export_sent_fn cb, void *ctx)
{
    struct fake *f = (struct fake *)d;
    if (pthread_equal(pthread_self(), loop_thread))
        atomic_fetch_add(&sends_on_loop, 1);
    else
        atomic_fetch_add(&sends_off_loop, 1);
    if (strcmp(key, "dev") != 0 || strlen(body) != len)
        return CE_INVALID;
    if (strcmp(body, "hold") == 0) {
        struct held *h = calloc(1, sizeof *h);
        h->body = strdup(body);
        h->next = f->held;
        f->held = h;
        return CE_OK;
    }
    struct answer *a = calloc(1, sizeof *a);
    a->cb = cb;
    a->ctx = ctx;
    a->out = strcmp(body, "ok") == 0     ? EXPORT_OUT_OK
             : strcmp(body, "gone") == 0 ? EXPORT_OUT_PERMANENT
                                         : EXPORT_OUT_RETRY;
    a->f = f;
    a->ev = evtimer_new(f->eb, answer_cb, a);
    struct timeval now = {0, 0};
    if (a->ev == NULL || evtimer_add(a->ev, &now) != 0)
        return CE_NOMEM;
    a->next = f->answers;
    f->answers = a;
    return CE_OK;
}

static void fake_free(struct export_dest *d)
{
    struct fake *f = (struct fake *)d;
    for (struct held *h = f->held, *next; h != NULL; h = next) {
        next = h->next;
        free(h->body);
        free(h);
    }
    for (struct answer *a = f->answers, *next; a != NULL; a = next) {
        next = a->next;
        event_free(a->ev);
        free(a);
    }
    atomic_fetch_add(f->freed, 1);
    free(f);
}

static const struct export_dest_ops fake_ops = {fake_room, fake_send, fake_free};

static struct export_dest *wrap_fake(struct export_sender *s, atomic_int *freed)
{
    struct fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->base.ops = &fake_ops;
    f->eb = export_sender_base(s);
    f->freed = freed;
    struct export_dest *d = NULL;
    assert_int_equal(export_sender_wrap(s, &f->base, ROOM, &d), CE_OK);
    return d;
}

/* Completions seen on the loop. */
struct seen {
    int n;
    enum export_outcome out[16];
    char why[16][64];
    bool off_loop;
    struct export_dest *free_on_first; /* a callback that frees its own destination */
};

static void on_sent(void *ctx, enum export_outcome out, const char *error)
{
    struct seen *s = ctx;
    if (!pthread_equal(pthread_self(), loop_thread))
        s->off_loop = true;
    if (s->n < 16) {
        s->out[s->n] = out;
        snprintf(s->why[s->n], sizeof s->why[0], "%s", error != NULL ? error : "(null)");
    }
    s->n++;
    if (s->free_on_first != NULL) {
        struct export_dest *d = s->free_on_first;
        s->free_on_first = NULL;
        d->ops->free(d);
    }
}

/* Run the loop until @p n completions were seen or @p ms passed. */
static void run_loop(const struct seen *s, int n, int ms)
{
    for (int i = 0; i < ms && (s == NULL || s->n < n); i++) {
        event_base_loop(app.base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static void send_ok(struct export_dest *d, const char *body, struct seen *s)
{
    assert_int_equal(d->ops->send(d, "dev", body, strlen(body), on_sent, s), CE_OK);
}

static void test_send_and_complete(void **state)
{
    (void)state;
    struct export_sender *snd = NULL;
    atomic_int freed = 0;
    assert_int_equal(export_sender_open(&app, &snd), CE_OK);
    struct export_dest *d = wrap_fake(snd, &freed);
    struct seen s = {0};
    atomic_store(&sends_off_loop, 0);
    atomic_store(&sends_on_loop, 0);
    assert_int_equal(d->ops->room(d), ROOM);
    send_ok(d, "ok", &s);
    assert_int_equal(d->ops->room(d), ROOM - 1);
    assert_int_equal(s.n, 0); /* never from inside send */
    run_loop(&s, 1, 5000);
    send_ok(d, "retry", &s);
    run_loop(&s, 2, 5000);
    send_ok(d, "gone", &s);
    run_loop(&s, 3, 5000);
    assert_int_equal(s.n, 3);
    assert_false(s.off_loop);
    assert_int_equal(atomic_load(&sends_off_loop), 3);
    assert_int_equal(atomic_load(&sends_on_loop), 0);
    assert_int_equal(s.out[0], EXPORT_OUT_OK);
    assert_string_equal(s.why[0], "(null)");
    assert_int_equal(s.out[1], EXPORT_OUT_RETRY);
    assert_string_equal(s.why[1], "fake: refused");
    assert_int_equal(s.out[2], EXPORT_OUT_PERMANENT);
    assert_int_equal(d->ops->room(d), ROOM);
    /* a send the inner destination cannot start comes back as "retry" with a reason */
    assert_int_equal(d->ops->send(d, "other", "ok", 2, on_sent, &s), CE_OK);
    run_loop(&s, 4, 5000);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.out[3], EXPORT_OUT_RETRY);
    assert_non_null(strstr(s.why[3], "cannot start"));
    d->ops->free(d);
    export_sender_close(snd);
    assert_int_equal(atomic_load(&freed), 1);
}

static void test_room_bounded(void **state)
{
    (void)state;
    struct export_sender *snd = NULL;
    atomic_int freed = 0;
    assert_int_equal(export_sender_open(&app, &snd), CE_OK);
    struct export_dest *d = wrap_fake(snd, &freed);
    struct seen s = {0};
    for (int i = 0; i < ROOM; i++)
        send_ok(d, "hold", &s);
    assert_int_equal(d->ops->room(d), 0);
    assert_int_equal(d->ops->send(d, "dev", "ok", 2, on_sent, &s), CE_BUSY);
    d->ops->free(d);
    export_sender_close(snd); /* joins with four messages held: dropped, no callbacks */
    assert_int_equal(s.n, 0);
    assert_int_equal(atomic_load(&freed), 1);
}

static void test_free_drops_completions(void **state)
{
    (void)state;
    struct export_sender *snd = NULL;
    atomic_int freed = 0;
    assert_int_equal(export_sender_open(&app, &snd), CE_OK);
    struct export_dest *d = wrap_fake(snd, &freed);
    struct seen s = {0};
    send_ok(d, "ok", &s);
    send_ok(d, "hold", &s);
    d->ops->free(d); /* the "ok" may already be answered: its completion is dropped too */
    for (int i = 0; i < 5000 && atomic_load(&freed) == 0; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&freed), 1);
    run_loop(NULL, 0, 50);
    assert_int_equal(s.n, 0);
    /* a second destination on the same sender still works */
    atomic_int freed2 = 0;
    struct export_dest *d2 = wrap_fake(snd, &freed2);
    struct seen s2 = {0};
    send_ok(d2, "ok", &s2);
    run_loop(&s2, 1, 5000);
    assert_int_equal(s2.n, 1);
    d2->ops->free(d2);
    export_sender_close(snd);
    assert_int_equal(atomic_load(&freed2), 1);
}

static void test_free_from_callback(void **state)
{
    (void)state;
    struct export_sender *snd = NULL;
    atomic_int freed = 0;
    assert_int_equal(export_sender_open(&app, &snd), CE_OK);
    struct export_dest *d = wrap_fake(snd, &freed);
    struct seen s = {0};
    s.free_on_first = d;
    send_ok(d, "ok", &s);
    send_ok(d, "ok", &s);
    send_ok(d, "retry", &s);
    run_loop(&s, 3, 300);
    assert_int_equal(s.n, 1); /* the destination was freed in the first callback */
    export_sender_close(snd);
    assert_int_equal(s.n, 1);
    assert_int_equal(atomic_load(&freed), 1);
}

static int setup(void **state)
{
    (void)state;
    if (evthread_use_pthreads() != 0)
        return -1;
    loop_thread = pthread_self();
    app.base = event_base_new();
    return app.base != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    event_base_free(app.base);
    libevent_global_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_and_complete),
        cmocka_unit_test(test_room_bounded),
        cmocka_unit_test(test_free_drops_completions),
        cmocka_unit_test(test_free_from_callback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
