/*
 * service_twins.c - device twin endpoints of the service API (docs/PROTOCOL.md §6.3):
 * GET /twins/{id}, PATCH /twins/{id} (merge), PUT /twins/{id} (replace).
 */
#include <string.h>

#include "central/base/log.h"
#include "central/hub/registry.h"
#include "central/hub/twin.h"
#include "central/service/service_http.h"

static struct device *url_device(struct http_ctx *c)
{
    struct device *dev = registry_get(c->app, c->seg[1]);
    if (dev == NULL)
        http_reply_central_err(c, CE_NOTFOUND, c->seg[1]);
    return dev;
}

static void reply_twin(struct http_ctx *c, const struct device *dev)
{
    cJSON *j = twin_to_service_json(dev);
    char etag[32], quoted[40];
    if (j == NULL) {
        http_reply_central_err(c, CE_NOMEM, NULL);
        return;
    }
    twin_etag(dev, etag);
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    http_add_header(c, "ETag", quoted);
    http_reply_json(c, 200, j);
    cJSON_Delete(j);
}

void service_twin_get(struct http_ctx *c)
{
    struct device *dev = url_device(c);
    if (dev != NULL)
        reply_twin(c, dev);
}

/*
 * Pick tags and properties.desired out of a twin (patch) document. Other top-level members
 * (deviceId, etag, version, ...) are ignored, so a whole twin read with GET can be sent back.
 * Replies 400 and returns CE_INVALID on a shape error.
 */
static int twin_parts(struct http_ctx *c, const cJSON *j, bool replace, const cJSON **out_tags,
                      const cJSON **out_desired)
{
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(j, "tags");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(j, "properties");
    const cJSON *desired = NULL, *reported = NULL;

    if (tags != NULL && cJSON_IsNull(tags))
        tags = NULL;
    if (tags != NULL && !cJSON_IsObject(tags)) {
        http_reply_error(c, 400, "ArgumentInvalid", "tags must be a JSON object.");
        return CE_INVALID;
    }
    if (props != NULL && !cJSON_IsNull(props)) {
        if (!cJSON_IsObject(props)) {
            http_reply_error(c, 400, "ArgumentInvalid", "properties must be a JSON object.");
            return CE_INVALID;
        }
        desired = cJSON_GetObjectItemCaseSensitive(props, "desired");
        reported = cJSON_GetObjectItemCaseSensitive(props, "reported");
        if (desired != NULL && cJSON_IsNull(desired))
            desired = NULL;
        if (desired != NULL && !cJSON_IsObject(desired)) {
            http_reply_error(c, 400, "ArgumentInvalid",
                             "properties.desired must be a JSON object.");
            return CE_INVALID;
        }
        /* PUT may send back a whole twin read with GET (reported included): ignore it
         * there. A PATCH that carries reported values tries to write them: refuse. */
        if (!replace && cJSON_IsObject(reported)) {
            const cJSON *it;
            for (it = reported->child; it != NULL; it = it->next) {
                if (it->string != NULL && it->string[0] != '$') {
                    http_reply_error(c, 400, "ArgumentInvalid",
                                     "Reported properties can only be changed by the device.");
                    return CE_INVALID;
                }
            }
        }
    }
    *out_tags = tags;
    *out_desired = desired;
    return 0;
}

static void update(struct http_ctx *c, bool replace)
{
    struct device *dev = url_device(c);
    const cJSON *tags = NULL, *desired = NULL;
    cJSON *j, *empty = NULL;
    char want[64];
    int rc;

    if (dev == NULL)
        return;
    j = http_body_json(c, false);
    if (j == NULL)
        return;
    if (twin_parts(c, j, replace, &tags, &desired) != 0)
        goto out;
    if (replace) {
        /* PUT replaces both sections: an absent one becomes empty */
        empty = cJSON_CreateObject();
        if (empty == NULL) {
            http_reply_central_err(c, CE_NOMEM, NULL);
            goto out;
        }
        if (tags == NULL)
            tags = empty;
        if (desired == NULL)
            desired = empty;
    }
    rc = twin_update(c->app, dev, tags, desired, http_if_match(c, want, sizeof want), replace);
    if (rc != CE_OK) {
        http_reply_central_err(c, rc,
                               rc == CE_INVALID ? "twin patch (shape or size limits)" : dev->id);
        goto out;
    }
    log_debug("https: twin of %s %s", LOG_STR(dev->id), replace ? "replaced" : "patched");
    reply_twin(c, dev);
out:
    cJSON_Delete(empty);
    cJSON_Delete(j);
}

void service_twin_patch(struct http_ctx *c)
{
    update(c, false);
}

void service_twin_put(struct http_ctx *c)
{
    update(c, true);
}
