/*
 * service_devices.c - identity registry endpoints of the service API (docs/PROTOCOL.md §6.3):
 * PUT/GET/DELETE /devices/{id}, GET /devices[/], GET /statistics/devices.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "central/base/log.h"
#include "central/hub/registry.h"
#include "central/service/service_http.h"

#define LIST_MAX 1000 /* the hub's maximum for GET /devices?top= */
#define STATS_PAGE 256

static bool is_null_or_absent(const cJSON *v)
{
    return v == NULL || cJSON_IsNull(v);
}

static int bad(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return CE_INVALID;
}

/* A key field: absent, null or "" -> NULL (generate on create, keep on update). */
static int key_field(const cJSON *sym, const char *name, const char **out, char *err, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sym, name);
    *out = NULL;
    if (is_null_or_absent(v))
        return 0;
    if (!cJSON_IsString(v))
        return bad(err, size, "authentication.symmetricKey.%s must be a string.", name);
    if (v->valuestring[0] == '\0')
        return 0;
    if (!registry_key_is_valid(v->valuestring))
        return bad(err, size, "authentication.symmetricKey.%s must be base64 of 16 to 64 bytes.",
                   name);
    *out = v->valuestring;
    return 0;
}

/* A thumbprint field: absent, null or "" -> NULL; else it must be SHA-1 or SHA-256 hex. */
static int thumb_field(const cJSON *x, const char *name, const char **out, char *err, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, name);
    char norm[AUTH_THUMB_MAX + 1];
    *out = NULL;
    if (is_null_or_absent(v))
        return 0;
    if (!cJSON_IsString(v))
        return bad(err, size, "authentication.x509Thumbprint.%s must be a string.", name);
    if (v->valuestring[0] == '\0')
        return 0;
    if (auth_thumbprint_normalize(v->valuestring, norm) < 0)
        return bad(err, size,
                   "authentication.x509Thumbprint.%s must be a SHA-1 (40) or SHA-256 (64) hex "
                   "thumbprint.",
                   name);
    *out = v->valuestring;
    return 0;
}

/* authentication.type: given, or inferred as IoT Hub does (thumbprints: selfSigned; keys: sas). */
static int auth_type_of(const cJSON *type, const struct service_dev_body *b, bool *out_given,
                        enum auth_type *out, char *err, size_t size)
{
    *out_given = true;
    if (is_null_or_absent(type)) {
        *out = b->x509.primary != NULL ? AUTH_TYPE_SELF_SIGNED : AUTH_TYPE_SAS;
        *out_given = b->x509.primary != NULL || b->primary_key != NULL || b->secondary_key != NULL;
        return 0;
    }
    if (cJSON_IsString(type) && strcasecmp(type->valuestring, "sas") == 0)
        *out = AUTH_TYPE_SAS;
    else if (cJSON_IsString(type) && strcasecmp(type->valuestring, "selfSigned") == 0)
        *out = AUTH_TYPE_SELF_SIGNED;
    else if (cJSON_IsString(type) && strcasecmp(type->valuestring, "certificateAuthority") == 0)
        *out = AUTH_TYPE_CA;
    else
        return bad(err, size, "authentication.type must be %s.",
                   "\"sas\", \"selfSigned\" or \"certificateAuthority\"");
    return 0;
}

static int parse_auth(const cJSON *auth, struct service_dev_body *out, char *err, size_t size)
{
    const cJSON *sym, *x;

    if (is_null_or_absent(auth))
        return 0;
    if (!cJSON_IsObject(auth))
        return bad(err, size, "%s must be an object.", "authentication");
    sym = cJSON_GetObjectItemCaseSensitive(auth, "symmetricKey");
    if (!is_null_or_absent(sym)) {
        if (!cJSON_IsObject(sym))
            return bad(err, size, "%s must be an object.", "authentication.symmetricKey");
        if (key_field(sym, "primaryKey", &out->primary_key, err, size) != 0 ||
            key_field(sym, "secondaryKey", &out->secondary_key, err, size) != 0)
            return CE_INVALID;
    }
    x = cJSON_GetObjectItemCaseSensitive(auth, "x509Thumbprint");
    if (!is_null_or_absent(x)) {
        if (!cJSON_IsObject(x))
            return bad(err, size, "%s must be an object.", "authentication.x509Thumbprint");
        if (thumb_field(x, "primaryThumbprint", &out->x509.primary, err, size) != 0 ||
            thumb_field(x, "secondaryThumbprint", &out->x509.secondary, err, size) != 0)
            return CE_INVALID;
    }
    if (auth_type_of(cJSON_GetObjectItemCaseSensitive(auth, "type"), out, &out->has_auth,
                     &out->x509.type, err, size) != 0)
        return CE_INVALID;
    if (out->x509.type == AUTH_TYPE_SELF_SIGNED && out->x509.primary == NULL)
        return bad(err, size, "A %s device needs authentication.x509Thumbprint.%s.", "selfSigned",
                   "primaryThumbprint");
    if (out->x509.type != AUTH_TYPE_SELF_SIGNED && out->x509.primary != NULL)
        return bad(err, size, "Thumbprints belong to %s devices.", "selfSigned");
    return 0;
}

int service_parse_device(const cJSON *j, const char *id_field, const char *id,
                         struct service_dev_body *out, char *err, size_t size)
{
    const cJSON *v;

    out->primary_key = out->secondary_key = out->status_reason = NULL;
    out->status = -1;
    out->has_auth = false;
    out->x509 = (struct device_x509){AUTH_TYPE_SAS, NULL, NULL};
    v = cJSON_GetObjectItemCaseSensitive(j, id_field);
    if (!is_null_or_absent(v) && (!cJSON_IsString(v) || strcmp(v->valuestring, id) != 0))
        return bad(err, size, "The %s in the body does not match the device id of the URL.",
                   id_field);
    v = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (!is_null_or_absent(v)) {
        if (cJSON_IsString(v) && strcasecmp(v->valuestring, "enabled") == 0)
            out->status = DEVICE_ENABLED;
        else if (cJSON_IsString(v) && strcasecmp(v->valuestring, "disabled") == 0)
            out->status = DEVICE_DISABLED;
        else
            return bad(err, size, "status must be \"enabled\" or \"%s\".", "disabled");
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "statusReason");
    if (!is_null_or_absent(v)) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) > 128)
            return bad(err, size, "%s must be a string of at most 128 characters.", "statusReason");
        out->status_reason = v->valuestring;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "capabilities");
    if (!is_null_or_absent(v) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "iotEdge")))
        return bad(err, size, "%s devices are not supported.", "IoT Edge");
    return parse_auth(cJSON_GetObjectItemCaseSensitive(j, "authentication"), out, err, size);
}

int service_apply_device(struct app *app, const char *id, const struct service_dev_body *b,
                         bool create, struct device **out_dev)
{
    struct device *dev = registry_get(app, id);
    int rc;

    if (create) {
        if (dev != NULL)
            return CE_EXISTS;
        rc = registry_create(app, id, b->primary_key, b->secondary_key,
                             b->status != DEVICE_DISABLED, NULL, &dev);
        if (rc == CE_OK && (b->status_reason != NULL || b->has_auth)) {
            struct device_update u = {NULL, NULL, -1, b->status_reason,
                                      b->has_auth ? &b->x509 : NULL};
            rc = registry_update(app, dev, &u);
            if (rc != CE_OK)
                (void)registry_delete(app, id); /* created half: not at all */
        }
        if (rc == CE_OK)
            log_info("https: device %s created", LOG_STR(id));
    } else {
        struct device_update u = {b->primary_key, b->secondary_key, b->status, b->status_reason,
                                  b->has_auth ? &b->x509 : NULL};
        if (dev == NULL)
            return CE_NOTFOUND;
        rc = registry_update(app, dev, &u);
        if (rc == CE_OK)
            log_info("https: device %s updated", LOG_STR(id));
    }
    if (rc == CE_OK && out_dev != NULL)
        *out_dev = dev;
    return rc;
}

/* The URL's device id, validated. Replies 400 and returns NULL when invalid. */
static const char *url_device_id(struct http_ctx *c)
{
    const char *id = c->seg[1];
    if (!registry_id_is_valid(id)) {
        http_reply_error(c, 400, "ArgumentInvalid",
                         "Invalid device id: at most 128 characters of letters, digits and "
                         "-.%%_*?!(),:=@$'.");
        return NULL;
    }
    return id;
}

/* The URL's device, which must exist: replies 400 / 404 and returns NULL otherwise. */
static struct device *url_device(struct http_ctx *c)
{
    const char *id = url_device_id(c);
    struct device *dev = id != NULL ? registry_get(c->app, id) : NULL;
    if (id != NULL && dev == NULL)
        http_reply_central_err(c, CE_NOTFOUND, id);
    return dev;
}

static void reply_device(struct http_ctx *c, const struct device *dev)
{
    cJSON *j = registry_device_to_json(dev);
    char etag[32], quoted[40];
    registry_device_etag(dev, etag);
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    http_add_header(c, "ETag", quoted);
    http_reply_json(c, 200, j);
    cJSON_Delete(j);
}

/* 412 unless the If-Match header is absent, "*" or the device's etag. */
static bool etag_ok(struct http_ctx *c, const struct device *dev)
{
    char want[64], have[32];
    const char *m = http_if_match(c, want, sizeof want);
    if (m == NULL)
        return true;
    registry_device_etag(dev, have);
    if (strcmp(m, have) == 0)
        return true;
    http_reply_central_err(c, CE_ETAG, dev->id);
    return false;
}

void service_device_put(struct http_ctx *c)
{
    const char *id = url_device_id(c);
    struct service_dev_body b;
    struct device *dev = NULL;
    bool create = http_header(c, "If-Match") == NULL; /* Registry.create sends none */
    char err[256];
    cJSON *j;
    int rc;

    if (id == NULL)
        return;
    j = http_body_json(c, false);
    if (j == NULL)
        return;
    if (service_parse_device(j, "deviceId", id, &b, err, sizeof err) != 0) {
        http_reply_error(c, 400, "ArgumentInvalid", "%s", err);
        goto out;
    }
    dev = registry_get(c->app, id);
    if (!create && dev != NULL && !etag_ok(c, dev))
        goto out;
    rc = service_apply_device(c->app, id, &b, create, &dev);
    if (rc != CE_OK) {
        http_reply_central_err(c, rc, id);
        goto out;
    }
    reply_device(c, dev);
out:
    cJSON_Delete(j);
}

void service_device_get(struct http_ctx *c)
{
    struct device *dev = url_device(c);
    if (dev != NULL)
        reply_device(c, dev);
}

void service_device_delete(struct http_ctx *c)
{
    struct device *dev = url_device(c);
    const char *id = c->seg[1];
    int rc;
    if (dev == NULL || !etag_ok(c, dev))
        return;
    rc = registry_delete(c->app, id);
    if (rc != CE_OK) {
        http_reply_central_err(c, rc, id);
        return;
    }
    log_info("https: device %s deleted", LOG_STR(id));
    http_reply_empty(c, 204);
}

void service_device_list(struct http_ctx *c)
{
    char top_text[16];
    long top = LIST_MAX;
    int q = http_query_param(c, "top", top_text, sizeof top_text);
    struct device **devs;
    size_t n, i;
    cJSON *arr;

    if (q < 0) {
        http_reply_error(c, 400, "ArgumentInvalid", "Malformed query string.");
        return;
    }
    if (q == 1) {
        char *end = NULL;
        top = strtol(top_text, &end, 10);
        if (end == top_text || *end != '\0' || top < 1 || top > LIST_MAX) {
            http_reply_error(c, 400, "ArgumentInvalid", "top must be an integer from 1 to %d.",
                             LIST_MAX);
            return;
        }
    }
    devs = malloc((size_t)top * sizeof *devs);
    arr = cJSON_CreateArray();
    if (devs == NULL || arr == NULL) {
        free(devs);
        cJSON_Delete(arr);
        http_reply_central_err(c, CE_NOMEM, NULL);
        return;
    }
    n = registry_list(c->app, 0, devs, (size_t)top);
    for (i = 0; i < n; i++) {
        cJSON *d = registry_device_to_json(devs[i]);
        if (d == NULL || !cJSON_AddItemToArray(arr, d)) {
            cJSON_Delete(d);
            free(devs);
            cJSON_Delete(arr);
            http_reply_central_err(c, CE_NOMEM, NULL);
            return;
        }
    }
    free(devs);
    http_reply_json(c, 200, arr);
    cJSON_Delete(arr);
}

void service_device_stats(struct http_ctx *c)
{
    struct device *page[STATS_PAGE];
    size_t off = 0, n, i, enabled = 0, total = 0;
    cJSON *o = cJSON_CreateObject();

    do {
        n = registry_list(c->app, off, page, STATS_PAGE);
        for (i = 0; i < n; i++)
            enabled += page[i]->status == DEVICE_ENABLED;
        total += n;
        off += n;
    } while (n == STATS_PAGE);
    if (o == NULL || cJSON_AddNumberToObject(o, "totalDeviceCount", (double)total) == NULL ||
        cJSON_AddNumberToObject(o, "enabledDeviceCount", (double)enabled) == NULL ||
        cJSON_AddNumberToObject(o, "disabledDeviceCount", (double)(total - enabled)) == NULL) {
        cJSON_Delete(o);
        http_reply_central_err(c, CE_NOMEM, NULL);
        return;
    }
    http_reply_json(c, 200, o);
    cJSON_Delete(o);
}
