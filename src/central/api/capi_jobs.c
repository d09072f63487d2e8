/*
 * capi_jobs.c - /api/jobs: jobs as IoT Central's 2022-07-31 API shapes them: list, get, PUT
 * (create and start), GET .../devices (each device's status), POST .../stop and .../resume,
 * PUT .../rerun/{rerunId}. Reading is open to operators, the rest needs the administrator role
 * (the router enforces it). The application layer (appl_jobs.c) runs them.
 */
#include <stdio.h>
#include <string.h>

#include "central/api/capi_int.h"

static struct appl_job *job_or_404(struct http_ctx *c)
{
    struct appl_job *j = appl_job_get(c->app->appl, c->seg[2]);
    if (j == NULL)
        capi_error(c, 404, "JobNotFound", "Job %s was not found.", c->seg[2]);
    return j;
}

void capi_jobs_list(struct http_ctx *c)
{
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL) {
        capi_oom(c);
        return;
    }
    for (struct appl_job *j = appl_jobs_first(c->app->appl); j != NULL; j = appl_job_next(j))
        cJSON_AddItemToArray(arr, appl_job_to_json(j));
    capi_page(c, arr, CAPI_TOP_MAX, NULL, NULL);
}

void capi_job_get(struct http_ctx *c)
{
    struct appl_job *j = job_or_404(c);
    if (j != NULL)
        capi_reply(c, 200, appl_job_to_json(j));
}

static void created(struct http_ctx *c, int rc, struct appl_job *j, const struct appl_error *err)
{
    if (rc == CE_OK)
        capi_reply(c, 200, appl_job_to_json(j));
    else if (rc == CE_EXISTS)
        capi_error(c, 409, err->code, "%s", err->message);
    else if (rc == CE_INVALID)
        capi_app_error(c, err);
    else
        capi_error_ce(c, rc, "job");
}

void capi_job_put(struct http_ctx *c)
{
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    struct appl_error err = {0};
    struct appl_job *j = NULL;
    int rc = appl_job_create(c->app->appl, c->seg[2], body, &j, &err);
    cJSON_Delete(body);
    created(c, rc, j, &err);
}

void capi_job_devices(struct http_ctx *c)
{
    size_t top;
    uint64_t skip;
    struct appl_job *j = job_or_404(c);
    if (j == NULL || capi_top(c, &top) < 0 || capi_skiptoken(c, UINT64_MAX, &skip) < 0)
        return;
    size_t n = appl_job_count_devices(j);
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL) {
        capi_oom(c);
        return;
    }
    for (size_t i = (size_t)skip; i < n && i < (size_t)skip + top; i++)
        cJSON_AddItemToArray(arr, appl_job_device_json(j, i));
    char tok[32];
    snprintf(tok, sizeof tok, "%llu", (unsigned long long)(skip + top));
    capi_page(c, arr, top, skip + top < n ? tok : NULL, NULL);
}

void capi_job_stop(struct http_ctx *c)
{
    struct appl_job *j = job_or_404(c);
    if (j == NULL)
        return;
    if (appl_job_stop(c->app->appl, j) != CE_OK) {
        capi_error(c, 409, "Conflict", "Job %s is %s; only a running job can be stopped.",
                   c->seg[2], appl_job_status(j));
        return;
    }
    http_reply_empty(c, 204);
}

void capi_job_resume(struct http_ctx *c)
{
    struct appl_job *j = job_or_404(c);
    if (j == NULL)
        return;
    if (appl_job_resume(c->app->appl, j) != CE_OK) {
        capi_error(c, 409, "Conflict", "Job %s is %s; only a stopped job can be resumed.",
                   c->seg[2], appl_job_status(j));
        return;
    }
    http_reply_empty(c, 204);
}

void capi_job_rerun(struct http_ctx *c)
{
    struct appl_job *from = job_or_404(c);
    if (from == NULL)
        return;
    struct appl_error err = {0};
    struct appl_job *j = NULL;
    int rc = appl_job_rerun(c->app->appl, from, c->seg[4], &j, &err);
    created(c, rc, j, &err);
}
