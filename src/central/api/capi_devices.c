/*
 * capi_devices.c - /api/devices handlers: devices, credentials, components, properties
 * (the application layer applies the changes: appl_device_put, appl_properties_write, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotc/codec.h>

#include "central/api/capi_int.h"
#include "central/app/appl_filter.h"

/* One device of a filtered list, with what ordering needs. */
struct listed {
    struct device *dev;
    struct appl_device *d;
};

static bool order_desc;

static int by_display_name(const void *x, const void *y)
{
    const struct listed *a = x, *b = y;
    const char *na = a->d->display_name ? a->d->display_name : a->d->id;
    const char *nb = b->d->display_name ? b->d->display_name : b->d->id;
    int cmp = strcmp(na, nb);
    if (cmp == 0)
        cmp = strcmp(a->d->id, b->d->id); /* a stable order for paging */
    return order_desc ? -cmp : cmp;
}

/* $filter / $orderby (also without the $, as api-version 2022-10-31-preview spells them):
 * 1 present and compiled, 0 absent, CE_INVALID after replying 400. */
static int list_options(struct http_ctx *c, struct devfilter *f, bool *ordered, bool *desc,
                        char *extra, size_t extra_size)
{
    char text[DEVFILTER_MAX_TEXT + 1], err[200];
    const char *names[2][2] = {{"$filter", "filter"}, {"$orderby", "orderby"}};
    int present = 0;
    size_t used = 0;
    extra[0] = '\0';
    for (int k = 0; k < 2; k++) {
        int rc = 0;
        for (int alt = 0; alt < 2 && rc == 0; alt++)
            rc = capi_query_text(c, names[k][alt], text, sizeof text);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        int bad = k == 0 ? devfilter_parse(f, text, strlen(text), err, sizeof err)
                         : devorder_parse(text, strlen(text), desc, err, sizeof err);
        if (bad < 0) {
            capi_error(c, 400, "InvalidParameter", "%s is not supported: %s.", names[k][0], err);
            return CE_INVALID;
        }
        if (k == 1)
            *ordered = true;
        present = 1;
        /* the next page keeps the filter and the order */
        char enc[3 * sizeof text];
        size_t n = 0;
        if (iotc_pct_encode(iotc_span_from_cstr(text), enc, sizeof enc, &n) != IOTC_OK ||
            used + n + 16 >= extra_size) {
            capi_error(c, 400, "InvalidParameter", "%s is too long.", names[k][0]);
            return CE_INVALID;
        }
        used += (size_t)snprintf(extra + used, extra_size - used, "%s%%24%s=%.*s", used ? "&" : "",
                                 names[k][0] + 1, (int)n, enc);
    }
    return present;
}

/* GET /api/devices with $filter and/or $orderby (and a device group's devices): every device is
 * looked at, the matching ones sorted, and the page cut at $skiptoken (an offset into that
 * result). */
void capi_devices_page(struct http_ctx *c, struct appl *a, const struct devfilter *f, bool ordered,
                       bool desc, size_t top, uint64_t skip, const char *extra)
{
    size_t total = registry_count(a->app), n = 0;
    struct device **all = calloc(total + 1, sizeof *all);
    struct listed *hits = calloc(total + 1, sizeof *hits);
    if (all == NULL || hits == NULL) {
        free(all);
        free(hits);
        capi_oom(c);
        return;
    }
    total = registry_list(a->app, 0, all, total);
    for (size_t i = 0; i < total; i++) {
        struct appl_device *d = appl_device_get(a, all[i]->id);
        if (d != NULL && appl_device_passes(f, d, all[i]))
            hits[n++] = (struct listed){all[i], d};
    }
    free(all);
    if (ordered) {
        order_desc = desc;
        qsort(hits, n, sizeof *hits, by_display_name);
    }
    cJSON *arr = capi_page_array(c, hits);
    if (arr == NULL)
        return;
    for (size_t i = (size_t)skip; i < n && i < (size_t)skip + top; i++)
        cJSON_AddItemToArray(arr, appl_device_to_json(a, hits[i].d, hits[i].dev));
    free(hits);
    char tok[32];
    snprintf(tok, sizeof tok, "%llu", (unsigned long long)(skip + top));
    capi_page(c, arr, top, skip + top < n ? tok : NULL, extra);
}

void capi_devices_list(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    size_t top;
    uint64_t skip;
    char tok[32], extra[2 * 3 * (DEVFILTER_MAX_TEXT + 1) + 64];
    bool ordered = false, desc = false;
    static struct devfilter f; /* loop thread only; too big for the stack */
    if (capi_top(c, &top) < 0 || capi_skiptoken(c, UINT64_MAX, &skip) < 0)
        return;
    int rc = list_options(c, &f, &ordered, &desc, extra, sizeof extra);
    if (rc < 0)
        return;
    if (rc > 0) {
        capi_devices_page(c, a, &f, ordered, desc, top, skip, extra);
        return;
    }
    struct device **v = calloc(top + 1, sizeof *v);
    cJSON *arr = capi_page_array(c, v);
    if (arr == NULL)
        return;
    size_t n = registry_list(a->app, (size_t)skip, v, top + 1);
    for (size_t i = 0; i < n && i < top; i++) {
        struct appl_device *d = appl_device_get(a, v[i]->id);
        if (d != NULL)
            cJSON_AddItemToArray(arr, appl_device_to_json(a, d, v[i]));
    }
    free(v);
    snprintf(tok, sizeof tok, "%zu", (size_t)skip + top);
    capi_page(c, arr, top, n > top ? tok : NULL, NULL);
}

void capi_device_get(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    if (dev != NULL)
        capi_reply(c, 200, appl_device_to_json(a, d, dev));
}

/* Validate the application fields of a device body; replies 400 and returns CE_INVALID on error. */
static int check_device_body(struct http_ctx *c, struct appl *a, const cJSON *body)
{
    static const char *const known[] = {
        "id",           "etag",      "displayName",    "template", "enabled",
        "provisioned",  "simulated", "organizations",  "status",   "connected",
        "lastActivity", "modelId",   "enrollmentGroup"};
    if (!cJSON_IsObject(body)) {
        capi_error(c, 400, "InvalidBody", "$: expected a device object.");
        return CE_INVALID;
    }
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        size_t i;
        for (i = 0; i < sizeof known / sizeof known[0]; i++) {
            if (strcmp(it->string, known[i]) == 0)
                break;
        }
        if (i == sizeof known / sizeof known[0]) {
            capi_error(c, 400, "InvalidBody", "$.%s: unknown device field.", it->string);
            return CE_INVALID;
        }
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "displayName");
    if (v != NULL && !cJSON_IsNull(v) && (!cJSON_IsString(v) || strlen(v->valuestring) > 256)) {
        capi_error(c, 400, "InvalidBody",
                   "$.displayName: expected a string of at most 256 characters.");
        return CE_INVALID;
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "template");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)) {
            capi_error(c, 400, "InvalidBody", "$.template: expected a device template id.");
            return CE_INVALID;
        }
        if (appl_template_get(a, v->valuestring) == NULL) {
            capi_error(c, 400, "InvalidBody", "$.template: no device template \"%s\".",
                       v->valuestring);
            return CE_INVALID;
        }
    }
    const char *bools[] = {"enabled", "simulated"};
    for (size_t i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(body, bools[i]);
        if (v != NULL && !cJSON_IsBool(v)) {
            capi_error(c, 400, "InvalidBody", "$.%s: expected a boolean.", bools[i]);
            return CE_INVALID;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "organizations");
    if (v != NULL) {
        bool ok = cJSON_IsArray(v) && cJSON_GetArraySize(v) <= 100;
        for (const cJSON *o = ok ? v->child : NULL; o != NULL; o = o->next)
            ok = ok && cJSON_IsString(o);
        if (!ok) {
            capi_error(c, 400, "InvalidBody", "$.organizations: expected an array of strings.");
            return CE_INVALID;
        }
    }
    return 0;
}

/* The answer to a device write (PUT, PATCH): the device, or the error @p rc maps to. */
static void device_written(struct http_ctx *c, struct appl *a, int rc, struct appl_device *d,
                           struct device *dev)
{
    if (rc != CE_OK)
        capi_error_ce(c, rc, "device");
    else
        capi_reply(c, 200, appl_device_to_json(a, d, dev));
}

void capi_device_put(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    struct device *dev = NULL;
    struct appl_device *d = NULL;
    if (body == NULL)
        return;
    if (check_device_body(c, a, body) == 0) {
        bool exists = registry_get(a->app, c->seg[2]) != NULL;
        int rc = appl_device_put(a, c->seg[2], body, &d, &dev);
        if (rc == CE_INVALID && !exists)
            capi_error(c, 400, "InvalidParameter",
                       "Invalid device id \"%s\" (at most 128 of A-Za-z0-9 -.%%_*?!(),:=@$').",
                       c->seg[2]);
        else
            device_written(c, a, rc, d, dev);
    }
    cJSON_Delete(body);
}

void capi_device_patch(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    if (dev == NULL)
        return;
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    if (check_device_body(c, a, body) == 0)
        device_written(c, a, appl_device_update(a, d, dev, body, false), d, dev);
    cJSON_Delete(body);
}

void capi_device_delete(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    if (appl_device_delete(a, c->seg[2]) == CE_NOTFOUND)
        capi_no_device(c, c->seg[2]);
    else
        http_reply_empty(c, 204);
}

void capi_device_credentials(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    if (dev == NULL)
        return;
    cJSON *o = cJSON_CreateObject(), *k = cJSON_CreateObject();
    if (o == NULL || k == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(k);
        capi_oom(c);
        return;
    }
    cJSON_AddStringToObject(o, "idScope", a->app->facts.id_scope);
    if (dev->auth_type == AUTH_TYPE_SAS) {
        cJSON_AddStringToObject(k, "primaryKey", dev->primary_key);
        cJSON_AddStringToObject(k, "secondaryKey", dev->secondary_key);
        cJSON_AddItemToObject(o, "symmetricKey", k);
    } else { /* X.509: what the device's certificate must match, as the attestation shows it */
        cJSON_Delete(k);
        cJSON *att = capi_attestation_json(dev);
        cJSON *x = att ? cJSON_DetachItemFromObjectCaseSensitive(att, "x509") : NULL;
        if (x != NULL)
            cJSON_AddItemToObject(o, "x509", x);
        cJSON_Delete(att);
    }
    /* iotc: where this server's DPS listens (DPS and the hub share the MQTT/TLS port) */
    cJSON_AddStringToObject(o, "provisioningEndpoint", a->app->assigned_hub);
    capi_reply(c, 200, o);
}

void capi_device_components(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
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

void capi_properties(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_device *d;
    struct device *dev = capi_device(c, a, &d);
    const char *comp = c->nseg == 6 ? c->seg[4] : "";
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
    cJSON *body = capi_body(c, CAPI_MAX_BODY), *answer = NULL;
    struct appl_error err = {0};
    if (body == NULL)
        return;
    int rc = appl_properties_write(a, d, dev, comp, body, c->method == HTTP_PUT, &answer, &err);
    if (rc == CE_INVALID && err.code != NULL)
        capi_app_error(c, &err);
    else if (rc != CE_OK)
        capi_error_ce(c, rc, "properties");
    else
        capi_reply(c, 202, answer);
    cJSON_Delete(body);
}
