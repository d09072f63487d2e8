/*
 * capi_devgroups.c - /api/deviceGroups: device groups as IoT Central's 2022-07-31 API shapes them
 * (list, get, PUT create/replace, PATCH, DELETE) and GET /api/deviceGroups/{id}/devices, the
 * devices the group's filter selects now (paged like GET /api/devices, nextLink). Reading is open
 * to operators; changing a group needs the administrator role (the router enforces it). The
 * application layer (appl_devgroups.c) checks and keeps them.
 */
#include <stdio.h>
#include <string.h>

#include "central/api/capi_int.h"
#include "central/app/appl_filter.h"

static const cJSON *group_or_404(struct http_ctx *c)
{
    const cJSON *g = appl_devgroup_get(c->app->appl, c->seg[2]);
    if (g == NULL)
        capi_error(c, 404, "DeviceGroupNotFound", "Device group %s was not found.", c->seg[2]);
    return g;
}

void capi_devgroups_list(struct http_ctx *c)
{
    cJSON *arr = cJSON_Duplicate(c->app->appl->device_groups, true);
    if (arr == NULL) {
        capi_oom(c);
        return;
    }
    capi_page(c, arr, CAPI_TOP_MAX, NULL, NULL);
}

void capi_devgroup_get(struct http_ctx *c)
{
    const cJSON *g = group_or_404(c);
    if (g != NULL)
        capi_reply(c, 200, cJSON_Duplicate(g, true));
}

static void put_or_patch(struct http_ctx *c, bool patch)
{
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    struct appl_error err = {0};
    const cJSON *g = NULL;
    int rc = appl_devgroup_put(c->app->appl, c->seg[2], body, patch, &g, &err);
    cJSON_Delete(body);
    if (rc == CE_OK)
        capi_reply(c, 200, cJSON_Duplicate(g, true));
    else if (rc == CE_NOTFOUND)
        capi_error(c, 404, "DeviceGroupNotFound", "Device group %s was not found.", c->seg[2]);
    else if (rc == CE_EXISTS)
        capi_error(c, 409, err.code, "%s", err.message);
    else if (rc == CE_INVALID)
        capi_app_error(c, &err);
    else
        capi_error_ce(c, rc, "device group");
}

void capi_devgroup_put(struct http_ctx *c)
{
    put_or_patch(c, false);
}

void capi_devgroup_patch(struct http_ctx *c)
{
    put_or_patch(c, true);
}

void capi_devgroup_delete(struct http_ctx *c)
{
    if (appl_devgroup_delete(c->app->appl, c->seg[2]) == CE_NOTFOUND) {
        capi_error(c, 404, "DeviceGroupNotFound", "Device group %s was not found.", c->seg[2]);
        return;
    }
    http_reply_empty(c, 204);
}

void capi_devgroup_devices(struct http_ctx *c)
{
    static struct devfilter f; /* loop thread only; too big for the stack */
    size_t top;
    uint64_t skip;
    const cJSON *g = group_or_404(c);
    if (g == NULL || capi_top(c, &top) < 0 || capi_skiptoken(c, UINT64_MAX, &skip) < 0)
        return;
    if (appl_devgroup_filter(g, &f) != CE_OK) {
        capi_error(c, 500, "InternalError", "The filter of device group %s cannot be compiled.",
                   c->seg[2]);
        return;
    }
    capi_devices_page(c, c->app->appl, &f, false, false, top, skip, NULL);
}
