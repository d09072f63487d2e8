/*
 * service_bulk.c - POST /devices: bulk create / update / delete of up to 100 device
 * identities, as Registry.addDevices / updateDevices / removeDevices send them
 * (docs/PROTOCOL.md §6.3).
 *
 * Body: a JSON array of devices where the id is in "id" and the operation in "importMode":
 * create | update | updateIfMatchETag | delete | deleteIfMatchETag | createOrUpdate (any
 * case); the *IfMatchETag modes compare "eTag" (or "etag") with the device's etag. Every
 * entry is processed independently, in order. Reply: 200 {"isSuccessful":true,"errors":[],
 * "warnings":[]} or, when any entry failed, 400 with isSuccessful false and one
 * {"deviceId","errorCode","errorStatus"} per failure.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "central/base/log.h"
#include "central/hub/registry.h"
#include "central/service/service_http.h"

#define BULK_MAX 100

enum bulk_mode { B_CREATE, B_UPDATE, B_UPDATE_ETAG, B_DELETE, B_DELETE_ETAG, B_UPSERT };

static int mode_of(const cJSON *v, enum bulk_mode *out)
{
    static const struct {
        const char *name;
        enum bulk_mode mode;
    } modes[] = {{"create", B_CREATE},
                 {"update", B_UPDATE},
                 {"updateIfMatchETag", B_UPDATE_ETAG},
                 {"delete", B_DELETE},
                 {"deleteIfMatchETag", B_DELETE_ETAG},
                 {"createOrUpdate", B_UPSERT}};
    size_t i;
    if (!cJSON_IsString(v))
        return CE_INVALID;
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcasecmp(v->valuestring, modes[i].name) == 0) {
            *out = modes[i].mode;
            return 0;
        }
    }
    return CE_INVALID;
}

static const char *code_of(int err)
{
    switch (err) {
    case CE_EXISTS:
        return "DeviceAlreadyExists";
    case CE_NOTFOUND:
        return "DeviceNotFound";
    case CE_ETAG:
        return "PreconditionFailed";
    case CE_INVALID:
        return "ArgumentInvalid";
    default:
        return "ServerError";
    }
}

static void add_error(cJSON *errors, const char *id, const char *code, const char *status)
{
    cJSON *e = cJSON_CreateObject();
    if (e == NULL)
        return;
    cJSON_AddStringToObject(e, "deviceId", id);
    cJSON_AddStringToObject(e, "errorCode", code);
    cJSON_AddStringToObject(e, "errorStatus", status);
    cJSON_AddItemToArray(errors, e);
}

/* The entry's etag (either spelling, quotes stripped) matches the device's. */
static bool etag_matches(const cJSON *item, const struct device *dev)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "eTag");
    char have[32];
    size_t len;
    const char *want;
    if (!cJSON_IsString(v))
        v = cJSON_GetObjectItemCaseSensitive(item, "etag");
    if (!cJSON_IsString(v))
        return false;
    want = v->valuestring;
    len = strlen(want);
    if (len >= 2 && want[0] == '"' && want[len - 1] == '"') {
        want++;
        len -= 2;
    }
    if (len == 1 && want[0] == '*')
        return true;
    registry_device_etag(dev, have);
    return strlen(have) == len && memcmp(have, want, len) == 0;
}

/* Process one entry; on failure adds an error and returns CE_INVALID. */
static int one(struct http_ctx *c, const cJSON *item, cJSON *errors)
{
    const cJSON *idj = cJSON_GetObjectItemCaseSensitive(item, "id");
    const char *id = cJSON_IsString(idj) ? idj->valuestring : "";
    struct service_dev_body b;
    struct device *dev;
    enum bulk_mode mode;
    char err[256];
    int rc;

    if (!cJSON_IsObject(item) || !registry_id_is_valid(id)) {
        add_error(errors, id, "ArgumentInvalid", "Each entry needs a valid device id in \"id\".");
        return CE_INVALID;
    }
    if (mode_of(cJSON_GetObjectItemCaseSensitive(item, "importMode"), &mode) != 0) {
        add_error(errors, id, "ArgumentInvalid",
                  "importMode must be create, update, updateIfMatchETag, delete, "
                  "deleteIfMatchETag or createOrUpdate.");
        return CE_INVALID;
    }
    dev = registry_get(c->app, id);
    if ((mode == B_UPDATE_ETAG || mode == B_DELETE_ETAG) && dev != NULL &&
        !etag_matches(item, dev)) {
        add_error(errors, id, "PreconditionFailed", "The eTag does not match the device's.");
        return CE_INVALID;
    }
    if (mode == B_DELETE || mode == B_DELETE_ETAG) {
        rc = registry_delete(c->app, id);
        if (rc == CE_OK)
            log_info("https: device %s deleted (bulk)", LOG_STR(id));
    } else if (service_parse_device(item, "id", id, &b, err, sizeof err) != 0) {
        add_error(errors, id, "ArgumentInvalid", err);
        return CE_INVALID;
    } else {
        bool create = mode == B_CREATE || (mode == B_UPSERT && dev == NULL);
        rc = service_apply_device(c->app, id, &b, create, NULL);
    }
    if (rc != CE_OK) {
        add_error(errors, id, code_of(rc), central_strerror(rc));
        return CE_INVALID;
    }
    return 0;
}

void service_device_bulk(struct http_ctx *c)
{
    cJSON *j = http_body_json(c, true), *res = NULL, *errors;
    const cJSON *item;
    int n, failed = 0;

    if (j == NULL)
        return;
    n = cJSON_GetArraySize(j);
    if (!cJSON_IsArray(j) || n < 1 || n > BULK_MAX) {
        http_reply_error(c, 400, "ArgumentInvalid", "The body must be an array of 1 to %d devices.",
                         BULK_MAX);
        goto out;
    }
    res = cJSON_CreateObject();
    errors = cJSON_CreateArray();
    if (res == NULL || errors == NULL) {
        cJSON_Delete(errors);
        http_reply_central_err(c, CE_NOMEM, NULL);
        goto out;
    }
    cJSON_AddItemToObject(res, "errors", errors);
    cJSON_ArrayForEach(item, j)
    {
        if (one(c, item, errors) != 0)
            failed++;
    }
    if (cJSON_AddBoolToObject(res, "isSuccessful", failed == 0) == NULL ||
        cJSON_AddArrayToObject(res, "warnings") == NULL) {
        http_reply_central_err(c, CE_NOMEM, NULL);
        goto out;
    }
    http_reply_json(c, failed == 0 ? 200 : 400, res);
out:
    cJSON_Delete(res);
    cJSON_Delete(j);
}
