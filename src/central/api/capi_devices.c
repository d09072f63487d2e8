/*
 * capi_devices.c - /api/devices handlers: devices, credentials, components, properties.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"
#include "central/hub/twin.h"

void capi_devices_list(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    size_t top, skip = 0;
    char buf[32], *end, tok[32];
    (void)role;
    if (capi_top(c, &top) < 0)
        return;
    int rc = capi_param(c, "$skiptoken", buf, sizeof buf);
    if (rc < 0)
        return;
    if (rc > 0) {
        skip = (size_t)strtoull(buf, &end, 10);
        if (*end != '\0' || end == buf) {
            capi_error(c, 400, "InvalidParameter", "$skiptoken is not valid here.");
            return;
        }
    }
    struct device **v = calloc(top + 1, sizeof *v);
    cJSON *arr = cJSON_CreateArray();
    if (v == NULL || arr == NULL) {
        free(v);
        cJSON_Delete(arr);
        capi_error(c, 500, "InternalError", "Out of memory.");
        return;
    }
    size_t n = registry_list(a->app, skip, v, top + 1);
    for (size_t i = 0; i < n && i < top; i++) {
        struct appl_device *d = appl_device_get(a, v[i]->id);
        if (d != NULL)
            cJSON_AddItemToArray(arr, appl_device_to_json(a, d, v[i]));
    }
    free(v);
    snprintf(tok, sizeof tok, "%zu", skip + top);
    capi_page(c, arr, top, n > top ? tok : NULL, NULL);
}

void capi_device_get(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    (void)role;
    if (dev != NULL)
        capi_reply(c, 200, appl_device_to_json(a, d, dev));
}

/* Validate the application fields of a device body; replies 400 and returns -1 on error. */
static int check_device_body(struct http_ctx *c, struct appl *a, const cJSON *body)
{
    static const char *const known[] = {
        "id",           "etag",      "displayName",    "template", "enabled",
        "provisioned",  "simulated", "organizations",  "status",   "connected",
        "lastActivity", "modelId",   "enrollmentGroup"};
    if (!cJSON_IsObject(body)) {
        capi_error(c, 400, "InvalidBody", "$: expected a device object.");
        return -1;
    }
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        size_t i;
        for (i = 0; i < sizeof known / sizeof known[0]; i++) {
            if (strcmp(it->string, known[i]) == 0)
                break;
        }
        if (i == sizeof known / sizeof known[0]) {
            capi_error(c, 400, "InvalidBody", "$.%s: unknown device field.", it->string);
            return -1;
        }
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "displayName");
    if (v != NULL && !cJSON_IsNull(v) && (!cJSON_IsString(v) || strlen(v->valuestring) > 256)) {
        capi_error(c, 400, "InvalidBody",
                   "$.displayName: expected a string of at most 256 characters.");
        return -1;
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "template");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)) {
            capi_error(c, 400, "InvalidBody", "$.template: expected a device template id.");
            return -1;
        }
        if (appl_template_get(a, v->valuestring) == NULL) {
            capi_error(c, 400, "InvalidBody", "$.template: no device template \"%s\".",
                       v->valuestring);
            return -1;
        }
    }
    const char *bools[] = {"enabled", "simulated"};
    for (size_t i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(body, bools[i]);
        if (v != NULL && !cJSON_IsBool(v)) {
            capi_error(c, 400, "InvalidBody", "$.%s: expected a boolean.", bools[i]);
            return -1;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "organizations");
    if (v != NULL) {
        bool ok = cJSON_IsArray(v) && cJSON_GetArraySize(v) <= 100;
        for (const cJSON *o = ok ? v->child : NULL; o != NULL; o = o->next)
            ok = ok && cJSON_IsString(o);
        if (!ok) {
            capi_error(c, 400, "InvalidBody", "$.organizations: expected an array of strings.");
            return -1;
        }
    }
    return 0;
}

static void set_str(char **dst, const cJSON *v)
{
    free(*dst);
    *dst = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

/* Apply the fields of @p body; @p replace resets absent ones (PUT). */
static int apply_device(struct appl *a, struct appl_device *d, struct device *dev,
                        const cJSON *body, bool replace)
{
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "displayName")) != NULL || replace)
        set_str(&d->display_name, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "template")) != NULL || replace)
        set_str(&d->template_id, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "simulated")) != NULL || replace)
        d->simulated = cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "organizations")) != NULL || replace) {
        cJSON *o = v ? cJSON_Duplicate(v, 1) : cJSON_CreateArray();
        if (o != NULL) {
            cJSON_Delete(d->organizations);
            d->organizations = o;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "enabled");
    if (v != NULL || replace) {
        int want = v == NULL || cJSON_IsTrue(v) ? DEVICE_ENABLED : DEVICE_DISABLED;
        if ((int)dev->status != want) {
            struct device_update upd = {.status = want};
            int rc = registry_update(a->app, dev, &upd);
            if (rc != CE_OK)
                return rc;
        }
    }
    d->etag++;
    appl_device_save(a, d);
    return CE_OK;
}

void capi_device_put(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    struct device *dev;
    (void)role;
    if (body == NULL)
        return;
    if (check_device_body(c, a, body) < 0)
        goto out;
    dev = registry_get(a->app, c->seg[2]);
    if (dev == NULL) {
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(body, "enabled");
        int rc = registry_create(a->app, c->seg[2], NULL, NULL, en == NULL || cJSON_IsTrue(en),
                                 NULL, &dev);
        if (rc == CE_INVALID) {
            capi_error(c, 400, "InvalidParameter",
                       "Invalid device id \"%s\" (at most 128 of A-Za-z0-9 -.%%_*?!(),:=@$').",
                       c->seg[2]);
            goto out;
        }
        if (rc != CE_OK) {
            capi_error_ce(c, rc, "device");
            goto out;
        }
        /* a record left behind by a device deleted through the service API */
        if (appl_device_find(a, dev->id) != NULL)
            appl_device_forget(a, dev->id);
    }
    struct appl_device *d = appl_device_get(a, dev->id);
    int rc = d != NULL ? apply_device(a, d, dev, body, true) : CE_NOMEM;
    if (rc != CE_OK)
        capi_error_ce(c, rc, "device");
    else
        capi_reply(c, 200, appl_device_to_json(a, d, dev));
out:
    cJSON_Delete(body);
}

void capi_device_patch(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    (void)role;
    if (dev == NULL)
        return;
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    if (check_device_body(c, a, body) == 0) {
        int rc = apply_device(a, d, dev, body, false);
        if (rc != CE_OK)
            capi_error_ce(c, rc, "device");
        else
            capi_reply(c, 200, appl_device_to_json(a, d, dev));
    }
    cJSON_Delete(body);
}

void capi_device_delete(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    char id[DEVICE_ID_MAX + 1];
    (void)role;
    if (registry_get(a->app, c->seg[2]) == NULL) {
        capi_no_device(c, c->seg[2]);
        return;
    }
    snprintf(id, sizeof id, "%s", c->seg[2]);
    registry_delete(a->app, id);
    appl_device_forget(a, id);
    http_reply_empty(c, 204);
}

void capi_device_credentials(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    (void)role;
    if (dev == NULL)
        return;
    cJSON *o = cJSON_CreateObject(), *k = cJSON_CreateObject();
    if (o == NULL || k == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(k);
        capi_error(c, 500, "InternalError", "Out of memory.");
        return;
    }
    cJSON_AddStringToObject(o, "idScope", a->app->facts.id_scope);
    cJSON_AddStringToObject(k, "primaryKey", dev->primary_key);
    cJSON_AddStringToObject(k, "secondaryKey", dev->secondary_key);
    cJSON_AddItemToObject(o, "symmetricKey", k);
    /* iotc: where this server's DPS listens (DPS and the hub share the MQTT/TLS port) */
    cJSON_AddStringToObject(o, "provisioningEndpoint", a->app->assigned_hub);
    capi_reply(c, 200, o);
}

void capi_device_components(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    (void)role;
    if (dev == NULL)
        return;
    struct appl_template *t = appl_device_template(a, d);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; t != NULL && arr != NULL && i < t->model->n_components; i++) {
        const struct dtdl_component *comp = &t->model->components[i];
        if (comp->name[0] == '\0')
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "@type", "Component");
        cJSON_AddStringToObject(o, "name", comp->name);
        if (comp->display_name)
            cJSON_AddStringToObject(o, "displayName", comp->display_name);
        if (comp->description)
            cJSON_AddStringToObject(o, "description", comp->description);
        cJSON_AddItemToArray(arr, o);
    }
    capi_page(c, arr, CAPI_TOP_MAX, NULL, NULL);
}

void capi_properties(struct http_ctx *c, struct appl *a, enum appl_role role)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    const char *comp = c->nseg == 6 ? c->seg[4] : "";
    (void)role;
    if (dev == NULL)
        return;
    struct appl_template *t = appl_device_template(a, d);
    const struct dtdl_model *m = t ? t->model : NULL;
    if (comp[0] && m != NULL && dtdl_find_component(m, comp) == NULL) {
        capi_error(c, 404, "CapabilityNotFound", "The template of %s has no component \"%s\".",
                   dev->id, comp);
        return;
    }
    if (c->method == HTTP_GET) {
        capi_reply(c, 200, appl_properties_view(m, dev, comp, d->cloud));
        return;
    }
    cJSON *body = capi_body(c, CAPI_MAX_BODY), *patch = NULL, *cloud = NULL;
    struct appl_error err = {0};
    if (body == NULL)
        return;
    cloud = cJSON_CreateObject();
    int rc = cloud ? appl_properties_take_cloud(m, comp, body, cloud, &err) : CE_NOMEM;
    /* a body of cloud properties only does not touch the device */
    bool device_part =
        rc == CE_OK && (!cJSON_IsObject(body) || body->child != NULL || cloud->child == NULL);
    if (device_part)
        rc = appl_properties_patch(m, dev, comp, body, c->method == HTTP_PUT, &patch, &err);
    if (rc == CE_OK && patch != NULL)
        rc = twin_update(a->app, dev, NULL, patch, NULL, false); /* pushes, publishes EV_DESIRED */
    if (rc == CE_INVALID && err.code != NULL) {
        capi_error(c, strcmp(err.code, "CapabilityNotFound") == 0 ? 404 : 400, err.code, "%s",
                   err.message);
    } else if (rc != CE_OK) {
        capi_error_ce(c, rc, "properties");
    } else {
        cJSON *o = patch ? appl_properties_written(comp, patch, dev->desired_version)
                         : cJSON_CreateObject();
        if (cloud->child != NULL) {
            appl_properties_store_cloud(d, cloud, app_now_ms());
            d->etag++;
            appl_device_save(a, d);
            cJSON *stored = cJSON_CreateObject();
            for (const cJSON *it = cloud->child; it != NULL; it = it->next) {
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(d->cloud, it->string);
                if (e != NULL)
                    cJSON_AddItemToObject(stored, it->string, cJSON_Duplicate(e, 1));
            }
            if (o != NULL)
                appl_properties_add_cloud(o, comp, stored);
            cJSON_Delete(stored);
        }
        capi_reply(c, 202, o);
    }
    cJSON_Delete(cloud);
    cJSON_Delete(patch);
    cJSON_Delete(body);
}
