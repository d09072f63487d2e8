/*
 * capi_query.c - POST /api/query (IoT Central api-version 2022-10-31-preview): the telemetry
 * subset of its query language (appl_query.h) over the stored telemetry.
 */
#include <stdio.h>
#include <string.h>

#include "central/api/capi_int.h"
#include "central/app/appl_query.h"

void capi_query(struct http_ctx *c)
{
    static struct aq_query q; /* loop thread only; too big for the stack */
    struct appl_error err = {0};
    char why[300];
    cJSON *body = capi_body(c, CAPI_MAX_BODY), *out = NULL;
    if (body == NULL)
        return;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "query");
    if (!cJSON_IsString(text)) {
        capi_error(c, 400, "InvalidBody", "$.query: expected the query text.");
    } else if (aq_parse(&q, text->valuestring, strlen(text->valuestring), why, sizeof why) < 0) {
        capi_error(c, 400, "InvalidQuery", "The query is not supported: %s.", why);
    } else {
        int rc = appl_query_run(c->app->appl, &q, app_now_ms(), &out, &err);
        if (rc == CE_OK)
            capi_reply(c, 200, out);
        else if (rc == CE_NOTFOUND)
            capi_error(c, 404, "DeviceTemplateNotFound", "Device template %s was not found.",
                       q.from);
        else if (rc == CE_INVALID)
            capi_error(c, 400, err.code, "%s.", err.message);
        else
            capi_error_ce(c, rc, "query");
    }
    cJSON_Delete(body);
}
