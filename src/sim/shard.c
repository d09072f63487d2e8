/*
 * shard.c - `--threads N`: one event loop per core. The devices are split into N shards, each a
 * complete struct sim (own event_base, SSL_CTX, devices, counters) run by its own thread; the
 * only shared state is this group: which shards have all their devices up (so that every
 * shard opens its measurement window at the same moment), a stop request (signal, or the
 * command calls being done), and per-shard counter snapshots for the progress line. At the end
 * the shards' counters, histograms and windows are added into shard 0 for one summary.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

struct sim_group {
    pthread_mutex_t mu;
    int n;
    int ready;
    double t_all_ready; /* elapsed seconds when the last shard got ready; < 0 before */
    bool stop;
    struct sim_stats *snap;
};

bool shard_all_ready(struct sim *s, bool local_ready, double now, double *out_t)
{
    struct sim_group *g = s->group;
    bool all;
    if (g == NULL) {
        *out_t = now;
        return local_ready;
    }
    pthread_mutex_lock(&g->mu);
    if (local_ready && !s->shard_ready) {
        s->shard_ready = true;
        if (++g->ready == g->n)
            g->t_all_ready = now;
    }
    all = g->ready == g->n;
    *out_t = g->t_all_ready;
    pthread_mutex_unlock(&g->mu);
    return all;
}

void shard_publish(struct sim *s)
{
    struct sim_group *g = s->group;
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->snap[s->shard] = s->st;
    pthread_mutex_unlock(&g->mu);
}

void shard_request_stop(struct sim *s)
{
    struct sim_group *g = s->group;
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_mutex_unlock(&g->mu);
}

bool shard_stop_requested(struct sim *s)
{
    struct sim_group *g = s->group;
    bool stop;
    if (g == NULL)
        return false;
    pthread_mutex_lock(&g->mu);
    stop = g->stop;
    pthread_mutex_unlock(&g->mu);
    return stop;
}

void shard_sum_stats(struct sim *s, struct sim_stats *out)
{
    struct sim_group *g = s->group;
    if (g == NULL) {
        *out = s->st;
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->snap[s->shard] = s->st;
    *out = g->snap[0];
    for (int i = 1; i < g->n; i++)
        stats_add(out, &g->snap[i]);
    pthread_mutex_unlock(&g->mu);
}

static void *shard_thread(void *arg)
{
    struct sim *s = arg;
    s->run_rc = sim_run(s);
    return NULL;
}

static void merge_into_first(struct sim *shards, int n)
{
    struct sim *s0 = &shards[0];
    for (int i = 1; i < n; i++) {
        struct sim *si = &shards[i];
        stats_add(&s0->st, &si->st);
        if (si->window_closed) {
            s0->win_acked1 += si->win_acked1 - si->win_acked0;
            s0->win_sent1 += si->win_sent1 - si->win_sent0;
            s0->win_recv1 += si->win_recv1 - si->win_recv0;
            s0->win_connected += si->win_connected;
        }
    }
}

/* Run `proto` split into n shards; on return shards[0] (== *out) holds the merged results. */
int shard_run_all(struct sim *proto, int n, struct sim **out)
{
    struct sim_group *g = calloc(1, sizeof *g);
    struct sim *shards = calloc((size_t)n, sizeof *shards);
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    int total = proto->cfg.devices, rc = 0;
    if (g == NULL || shards == NULL || tid == NULL)
        goto fail;
    g->snap = calloc((size_t)n, sizeof *g->snap);
    if (g->snap == NULL)
        goto fail;
    pthread_mutex_init(&g->mu, NULL);
    g->n = n;
    g->t_all_ready = -1;
    uint64_t t0 = sim_now_ns();
    for (int i = 0, first = 0; i < n; i++) {
        struct sim *s = &shards[i];
        int share = total / n + (i < total % n ? 1 : 0);
        s->cfg = proto->cfg;
        s->cfg.devices = share;
        s->cfg.start_index = proto->cfg.start_index + first;
        s->cfg.key_skip = first;
        s->cfg.ramp = proto->cfg.ramp / n;
        if (proto->cfg.concurrency > 0)
            s->cfg.concurrency = (proto->cfg.concurrency + n - 1) / n;
        if (i > 0) {
            /* Shard 0 owns the service-side calls, the status file and the server samples. */
            s->cfg.invoke_count = 0;
            s->cfg.status_file = NULL;
            s->cfg.server_pid = 0;
            s->cfg.n_owned = 0;
        }
        s->group = g;
        s->shard = i;
        s->total_devices = total;
        s->t0_ns = t0;
        first += share;
        if (share <= 0 || sim_setup(s) != 0) {
            fprintf(stderr, "iotc-sim: shard %d: set-up failed\n", i);
            n = i; /* only the shards set up so far get freed */
            goto fail_shards;
        }
    }
    /* Signals go to shard 0 (the main thread): the others block them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 1; i < n; i++)
        pthread_create(&tid[i], NULL, shard_thread, &shards[i]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    shards[0].run_rc = sim_run(&shards[0]);
    for (int i = 1; i < n; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; i < n; i++)
        rc |= shards[i].run_rc;
    merge_into_first(shards, n);
    free(tid);
    free(g->snap);
    pthread_mutex_destroy(&g->mu);
    free(g);
    for (int i = 0; i < n; i++)
        shards[i].group = NULL;
    *out = shards;
    return rc;
fail_shards:
    for (int i = 0; i < n; i++)
        sim_free(&shards[i]);
fail:
    if (g != NULL)
        free(g->snap);
    free(g);
    free(shards);
    free(tid);
    return -1;
}
