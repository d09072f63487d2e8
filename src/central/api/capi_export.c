/*
 * capi_export.c - /api/dataExport/destinations and /api/dataExport/exports (IoT Central's data
 * export API, api-version 2022-10-31-preview; docs/EXPORT.md). The definitions, their checks
 * and their status live in export/export.c; this file maps HTTP to it.
 */
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"
#include "central/export/export.h"

static enum export_kind kind_of(const struct http_ctx *c)
{
    return strcmp(c->seg[2], "exports") == 0 ? EXPORT_KIND_EXPORT : EXPORT_KIND_DESTINATION;
}

static const char *noun(enum export_kind k)
{
    return k == EXPORT_KIND_EXPORT ? "Export" : "Destination";
}

void capi_dx_list(struct http_ctx *c)
{
    cJSON *arr = export_def_list(c->app, kind_of(c));
    if (arr == NULL) {
        capi_oom(c);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        cJSON_Delete(arr);
        capi_oom(c);
        return;
    }
    cJSON_AddItemToObject(o, "value", arr);
    capi_reply(c, 200, o);
}

void capi_dx_one(struct http_ctx *c)
{
    enum export_kind k = kind_of(c);
    const char *id = c->seg[3];
    char err[512] = "";
    if (c->app->exporter == NULL) {
        capi_error(c, 503, "ServiceUnavailable", "Data export is not running.");
        return;
    }
    if (c->method == HTTP_GET) {
        cJSON *o = export_def_get(c->app, k, id);
        if (o == NULL)
            capi_error(c, 404, "NotFound", "%s %s was not found.", noun(k), id);
        else
            capi_reply(c, 200, o);
        return;
    }
    if (c->method == HTTP_DELETE) {
        int rc = export_def_delete(c->app, k, id, err, sizeof err);
        if (rc == CE_NOTFOUND)
            capi_error(c, 404, "NotFound", "%s %s was not found.", noun(k), id);
        else if (rc == CE_EXISTS)
            capi_error(c, 409, "Conflict", "%s.", err);
        else if (rc != CE_OK)
            capi_error_ce(c, rc, noun(k));
        else
            http_reply_empty(c, 204);
        return;
    }
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    cJSON *out = NULL;
    bool created = false;
    int rc = export_def_put(c->app, k, id, body, c->method == HTTP_PATCH, &out, &created, err,
                            sizeof err);
    cJSON_Delete(body);
    if (rc == CE_INVALID)
        capi_error(c, 400, "InvalidBody", "%s", err);
    else if (rc == CE_NOTFOUND)
        capi_error(c, 404, "NotFound", "%s %s was not found.", noun(k), id);
    else if (rc != CE_OK)
        capi_error_ce(c, rc, noun(k));
    else
        capi_reply(c, 200, out);
}
