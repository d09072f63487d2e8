/*
 * appl_devgroups.c - device groups as IoT Central's 2022-07-31 API has them (/api/deviceGroups):
 * a display name, a filter in the SELECT form (appl_dgfilter.h), a description and
 * organizations. Membership is not stored: the filter is evaluated against the devices as they are
 * whenever somebody asks, so a device joins or leaves a group as it changes. Kept in memory as
 * JSON objects, written through to the app_device_groups table.
 */
#include "central/app/appl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/app/appl_dgfilter.h"
#include "central/app/appl_docs.h"
#include "central/base/log.h"
#include "central/store/store_app.h"

#define TABLE "app_device_groups"
#define DG_MAX 1000 /* device groups per application */
#define DG_NAME_MAX 256
#define DG_DESCRIPTION_MAX 1024
#define DG_ORGS_MAX 100

int appl_devgroup_check(const cJSON *g, struct devfilter *f, struct appl_error *err)
{
    static const char *const known[] = {"id",     "etag",        "displayName",
                                        "filter", "description", "organizations"};
    if (!cJSON_IsObject(g))
        return appl_refuse(err, "InvalidBody", "$: expected a device group object.");
    for (const cJSON *it = g->child; it != NULL; it = it->next) {
        size_t k;
        for (k = 0; k < sizeof known / sizeof known[0]; k++) {
            if (strcmp(it->string, known[k]) == 0)
                break;
        }
        if (k == sizeof known / sizeof known[0])
            return appl_refuse(err, "InvalidBody", "$.%s: unknown device group field.", it->string);
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, "displayName");
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > DG_NAME_MAX)
        return appl_refuse(err, "InvalidBody",
                           "$.displayName: required, a string of 1 to %d characters.", DG_NAME_MAX);
    v = cJSON_GetObjectItemCaseSensitive(g, "description");
    if (v != NULL && (!cJSON_IsString(v) || strlen(v->valuestring) > DG_DESCRIPTION_MAX))
        return appl_refuse(err, "InvalidBody",
                           "$.description: expected a string of at most %d "
                           "characters.",
                           DG_DESCRIPTION_MAX);
    v = cJSON_GetObjectItemCaseSensitive(g, "organizations");
    if (v != NULL) {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > DG_ORGS_MAX)
            return appl_refuse(err, "InvalidBody",
                               "$.organizations: expected an array of strings.");
        const cJSON *o;
        cJSON_ArrayForEach(o, v)
        {
            if (!cJSON_IsString(o) || o->valuestring[0] == '\0')
                return appl_refuse(err, "InvalidBody",
                                   "$.organizations: expected an array of strings.");
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(g, "filter");
    if (!cJSON_IsString(v))
        return appl_refuse(err, "InvalidBody",
                           "$.filter: required, a string such as SELECT * FROM "
                           "devices WHERE $template = \"dtmi:...\".");
    char why[200];
    if (dgfilter_parse(f, v->valuestring, strlen(v->valuestring), why, sizeof why) < 0)
        return appl_refuse(err, "InvalidFilter", "$.filter is not supported: %s.", why);
    return CE_OK;
}

const cJSON *appl_devgroup_get(struct appl *a, const char *id)
{
    return appl_docs_find(a->device_groups, id);
}

int appl_devgroup_put(struct appl *a, const char *id, const cJSON *body, bool patch,
                      const cJSON **out, struct appl_error *err)
{
    static struct devfilter f; /* loop thread only; too big for the stack */
    const cJSON *old = appl_devgroup_get(a, id);
    if (!cJSON_IsObject(body))
        return appl_refuse(err, "InvalidBody", "$: expected a device group object.");
    const cJSON *bid = cJSON_GetObjectItemCaseSensitive(body, "id");
    if (!appl_id_ok(id, APPL_ID_MAX, "-_.") ||
        (bid != NULL && (!cJSON_IsString(bid) || strcmp(bid->valuestring, id) != 0)))
        return appl_refuse(err, "InvalidBody",
                           "$.id: a device group id is 1 to %d of A-Za-z0-9 -_. "
                           "and the same as in the path.",
                           APPL_ID_MAX);
    if (patch && old == NULL)
        return CE_NOTFOUND;
    if (old == NULL && cJSON_GetArraySize(a->device_groups) >= DG_MAX) {
        appl_refuse(err, "Conflict",
                    "An application has at most %d device groups; delete one first.", DG_MAX);
        return CE_EXISTS;
    }
    /* PATCH: the stored group with the body's members over it */
    cJSON *g = patch ? cJSON_Duplicate(old, true) : cJSON_CreateObject();
    if (g == NULL)
        return CE_NOMEM;
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        if (strcmp(it->string, "etag") == 0 || strcmp(it->string, "id") == 0)
            continue;
        cJSON *copy = cJSON_Duplicate(it, true);
        if (copy == NULL) {
            cJSON_Delete(g);
            return CE_NOMEM;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(g, it->string);
        if (!cJSON_IsNull(copy))
            cJSON_AddItemToObject(g, it->string, copy);
        else
            cJSON_Delete(copy);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(g, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(g, "etag");
    int rc = appl_devgroup_check(g, &f, err);
    if (rc != CE_OK) {
        cJSON_Delete(g);
        return rc;
    }
    const cJSON *oe = old != NULL ? cJSON_GetObjectItemCaseSensitive(old, "etag") : NULL;
    unsigned long etag = cJSON_IsString(oe) ? strtoul(oe->valuestring + 1, NULL, 10) + 1 : 1;
    char etag_text[32];
    snprintf(etag_text, sizeof etag_text, "\"%lu\"", etag);
    /* id first, as IoT Central shows it */
    cJSON *r = cJSON_CreateObject();
    if (r == NULL || cJSON_AddStringToObject(r, "id", id) == NULL) {
        cJSON_Delete(r);
        cJSON_Delete(g);
        return CE_NOMEM;
    }
    while (g->child != NULL) {
        cJSON *it = cJSON_DetachItemViaPointer(g, g->child);
        cJSON_AddItemToObject(r, it->string, it); /* takes the key's copy along */
    }
    cJSON_Delete(g);
    g = r;
    if (cJSON_AddStringToObject(g, "etag", etag_text) == NULL) {
        cJSON_Delete(g);
        return CE_NOMEM;
    }
    rc = appl_docs_put(a, a->device_groups, TABLE, id, g);
    if (rc == CE_OK)
        *out = g;
    return rc;
}

int appl_devgroup_delete(struct appl *a, const char *id)
{
    return appl_docs_delete(a, a->device_groups, TABLE, id);
}

/* A stored row is checked as a body: without the id and etag the server adds. */
static int check_row(const cJSON *g, struct appl_error *err)
{
    static struct devfilter f; /* loop thread only; too big for the stack */
    cJSON *body = cJSON_Duplicate(g, true);
    if (body == NULL)
        return appl_refuse(err, "InvalidBody", "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "etag");
    int rc = appl_devgroup_check(body, &f, err);
    cJSON_Delete(body);
    return rc;
}

int appl_devgroups_load(void *ctx, const char *id, const char *data)
{
    struct appl *a = ctx;
    appl_docs_load(a->device_groups, "device group", id, data, check_row);
    return 0;
}

int appl_devgroup_filter(const cJSON *g, struct devfilter *f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, "filter");
    char why[200];
    if (!cJSON_IsString(v) ||
        dgfilter_parse(f, v->valuestring, strlen(v->valuestring), why, sizeof why) < 0)
        return CE_INVALID;
    return CE_OK;
}

bool appl_device_passes(const struct devfilter *f, const struct appl_device *d,
                        const struct device *dev)
{
    const char *orgs[100];
    size_t n_orgs = 0;
    for (const cJSON *o = d->organizations ? d->organizations->child : NULL;
         o != NULL && n_orgs < 100; o = o->next) {
        if (cJSON_IsString(o))
            orgs[n_orgs++] = o->valuestring;
    }
    struct devfilter_device view = {
        .id = d->id,
        .display_name = d->display_name ? d->display_name : d->id,
        .template_id = d->template_id,
        .enabled = dev->status == DEVICE_ENABLED,
        .provisioned = d->provisioned,
        .simulated = d->simulated,
        .orgs = orgs,
        .n_orgs = n_orgs,
    };
    return devfilter_match(f, &view);
}
