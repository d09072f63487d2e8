/*
 * capi_read.c - requests answered from a long read-only query: the query runs on the store's
 * reader threads (store_read.h) and the request is answered later from the loop thread, so the
 * server keeps serving devices and other requests meanwhile (see capi_int.h, capi_read_start).
 */
#include <stdio.h>
#include <stdlib.h>

#include "central/api/capi_int.h"
#include "central/store/store_read.h"

/* Shutdown (http_server_drain): the request is answered 503 now; the job, still in the reader,
 * is freed by its done callback without a reply. */
static void read_cancel(struct http_ctx *c)
{
    struct capi_read *job = c->op;
    if (job != NULL)
        job->c = NULL;
    c->op = NULL;
}

/* The reader's done callback (loop thread). A client that went away meanwhile still has its
 * context: the reply is dropped by evhttp, which then frees the request. */
static void read_done(void *arg, long rc)
{
    struct capi_read *job = arg;
    struct http_ctx *c = job->c;
    if (c != NULL) {
        c->op = NULL;
        c->cancel = NULL;
        job->finish(job, c, rc);
    }
    job->release(job);
}

void capi_read_start(struct http_ctx *c, struct capi_read *job, store_read_run_fn run)
{
    struct appl *a = c->app->appl;
    job->c = c;
    if (a->reader == NULL) { /* no reader threads (they failed to start): on the loop */
        job->finish(job, c, run(a->db, job));
        job->release(job);
        return;
    }
    int rc = store_read_submit(a->reader, run, read_done, job);
    if (rc == CE_BUSY) {
        http_add_header(c, "Retry-After", "1");
        capi_error(c, 503, "ServiceUnavailable",
                   "Too many long queries are running (%d); retry in a second.",
                   c->app->cfg.max_read_jobs);
        job->release(job);
        return;
    }
    if (rc != CE_OK) {
        job->release(job);
        capi_oom(c);
        return;
    }
    c->op = job;
    http_ctx_go_async(c, read_cancel);
}

void *capi_read_new(size_t size, void (*finish)(struct capi_read *, struct http_ctx *, long),
                    void (*release)(struct capi_read *))
{
    struct capi_read *job = calloc(1, size);
    if (job != NULL) {
        job->finish = finish;
        job->release = release;
    }
    return job;
}

void capi_read_go(struct http_ctx *c, struct capi_read *job, bool ok, store_read_run_fn run)
{
    if (job != NULL && ok) {
        capi_read_start(c, job, run);
        return;
    }
    if (job != NULL)
        job->release(job);
    capi_oom(c);
}

bool capi_read_failed(struct http_ctx *c, long rc, const char *store)
{
    if (rc == CE_BUSY)
        capi_error(c, 503, "ServiceUnavailable", "The server is shutting down.");
    else if (rc == CE_NOMEM)
        capi_oom(c);
    else if (rc < 0)
        capi_error(c, 500, "InternalError", "The %s store failed.", store);
    return rc < 0;
}
