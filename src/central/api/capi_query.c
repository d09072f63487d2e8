/*
 * capi_query.c - POST /api/query (IoT Central api-version 2022-10-31-preview): the telemetry
 * subset of its query language (appl_query.h) over the stored telemetry. The scan (up to 30 days
 * of every device of a template) runs on the store's reader threads (capi_read_start); the loop
 * checks the query, copies what the scan needs, and builds the answer afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"
#include "central/app/appl_query.h"

struct query_job {
    struct capi_read base; /* first */
    struct aq_plan *plan;
};

static long query_run(struct store_app *sa, void *arg)
{
    struct query_job *j = arg;
    return appl_query_scan(sa, j->plan);
}

static void query_finish(struct capi_read *base, struct http_ctx *c, long rc)
{
    struct query_job *j = (struct query_job *)base;
    if (rc == CE_OK) {
        capi_reply(c, 200, j->plan->out);
        j->plan->out = NULL;
    } else if (rc == CE_BUSY) {
        http_add_header(c, "Retry-After", "1");
        capi_error(c, 503, "ServiceUnavailable", "The server is shutting down; retry later.");
    } else {
        capi_error_ce(c, (int)rc, "query");
    }
}

static void query_release(struct capi_read *base)
{
    struct query_job *j = (struct query_job *)base;
    appl_query_plan_free(j->plan);
    free(j);
}

void capi_query(struct http_ctx *c)
{
    static struct aq_query q; /* loop thread only; too big for the stack */
    struct appl_error err = {0};
    char why[300];
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "query");
    struct aq_plan *plan = NULL;
    int rc = CE_INVALID;
    if (!cJSON_IsString(text)) {
        capi_error(c, 400, "InvalidBody", "$.query: expected the query text.");
    } else if (aq_parse(&q, text->valuestring, strlen(text->valuestring), why, sizeof why) < 0) {
        capi_error(c, 400, "InvalidQuery", "The query is not supported: %s.", why);
    } else {
        rc = appl_query_plan(c->app->appl, &q, app_now_ms(), &plan, &err);
        if (rc == CE_NOTFOUND)
            capi_error(c, 404, "DeviceTemplateNotFound", "Device template %s was not found.",
                       q.from);
        else if (rc == CE_INVALID)
            capi_error(c, 400, err.code, "%s.", err.message);
        else if (rc != CE_OK)
            capi_error_ce(c, rc, "query");
    }
    cJSON_Delete(body);
    if (rc != CE_OK)
        return;
    struct query_job *j = capi_read_new(sizeof *j, query_finish, query_release);
    if (j == NULL) {
        appl_query_plan_free(plan);
        capi_oom(c);
        return;
    }
    j->plan = plan;
    capi_read_start(c, &j->base, query_run);
}
