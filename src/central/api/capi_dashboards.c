/*
 * capi_dashboards.c - /api/dashboards: iotc's own dashboards (not part of IoT Central's REST
 * API; docs/API.md "Dashboards"), the tiles of the web UI's home page. Any role reads and
 * writes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"

void capi_dashboards_list(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    cJSON *arr = cJSON_Duplicate(a->dashboards, true);
    if (arr == NULL) {
        capi_oom(c);
        return;
    }
    capi_page(c, arr, CAPI_TOP_MAX, NULL, NULL);
}

void capi_dashboard(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    const char *id = c->seg[2];
    if (c->method == HTTP_DELETE) {
        if (appl_dashboard_delete(a, id) == CE_NOTFOUND)
            capi_error(c, 404, "NotFound", "No dashboard \"%s\".", id);
        else
            http_reply_empty(c, 204);
        return;
    }
    if (c->method == HTTP_GET) {
        const cJSON *d = appl_dashboard_get(a, id);
        if (d == NULL)
            capi_error(c, 404, "NotFound", "No dashboard \"%s\".", id);
        else
            capi_reply(c, 200, cJSON_Duplicate(d, true));
        return;
    }
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    const cJSON *d = NULL;
    struct appl_error err = {0};
    if (body == NULL)
        return;
    int rc = appl_dashboard_put(a, id, body, &d, &err);
    if (rc == CE_INVALID)
        capi_app_error(c, &err);
    else if (rc == CE_EXISTS)
        capi_error(c, 409, "Conflict", "%s", err.message);
    else if (rc != CE_OK)
        capi_oom(c);
    else
        capi_reply(c, 200, cJSON_Duplicate(d, true));
    cJSON_Delete(body);
}
