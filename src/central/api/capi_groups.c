/*
 * capi_groups.c - /api/enrollmentGroups: the application's one SAS enrollment group
 * (SAS-IoT-Devices) with its keys, and regenerating a key (iotc; IoT Central does that in
 * its UI). Administrator role only (the router enforces it): the group keys let anyone
 * register devices.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "central/api/capi_int.h"
#include "central/setup/appdata.h"

/* The etag changes whenever a key does; it is a digest, so it reveals nothing of them. */
static void group_etag(const struct app_facts *f, char out[40])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, f->group_primary_key, strlen(f->group_primary_key)) == 1 &&
             EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
             EVP_DigestUpdate(ctx, f->group_secondary_key, strlen(f->group_secondary_key)) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        snprintf(out, 40, "\"0\"");
        return;
    }
    out[0] = '"';
    for (unsigned i = 0; i < 8; i++)
        snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
    snprintf(out + 17, 40 - 17, "\"");
}

/* docs/PROTOCOL.md §8 EnrollmentGroup: displayName, enabled, type, attestation, etag (+ id). */
static cJSON *group_to_json(const struct app_facts *f)
{
    char etag[40];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    group_etag(f, etag);
    cJSON_AddStringToObject(o, "id", f->group_id);
    cJSON_AddStringToObject(o, "displayName", f->group_id);
    cJSON_AddBoolToObject(o, "enabled", true);
    cJSON_AddStringToObject(o, "type", "iot");
    cJSON *att = cJSON_AddObjectToObject(o, "attestation");
    cJSON_AddStringToObject(att, "type", "symmetricKey");
    cJSON *sk = cJSON_AddObjectToObject(att, "symmetricKey");
    cJSON_AddStringToObject(sk, "primaryKey", f->group_primary_key);
    cJSON_AddStringToObject(sk, "secondaryKey", f->group_secondary_key);
    cJSON_AddStringToObject(o, "etag", etag);
    return o;
}

/* The group of c->seg[2] (ids are case-sensitive, as device ids are), or 404. */
static bool group_or_404(struct http_ctx *c, const struct app *app)
{
    if (strcmp(c->seg[2], app->facts.group_id) == 0)
        return true;
    capi_error(c, 404, "EnrollmentGroupNotFound", "Enrollment group %s was not found.", c->seg[2]);
    return false;
}

void capi_groups_list(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    size_t top;
    if (capi_top(c, &top) < 0)
        return;
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL) {
        capi_oom(c);
        return;
    }
    cJSON_AddItemToArray(arr, group_to_json(&a->app->facts));
    capi_page(c, arr, top, NULL, NULL);
}

void capi_group_get(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    if (group_or_404(c, a->app))
        capi_reply(c, 200, group_to_json(&a->app->facts));
}

void capi_group_regenerate(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    char kind[16];
    if (!group_or_404(c, a->app))
        return;
    int rc = capi_param(c, "keyType", kind, sizeof kind);
    if (rc < 0)
        return;
    if (rc == 0 || (strcasecmp(kind, "primary") != 0 && strcasecmp(kind, "secondary") != 0)) {
        capi_error(c, 400, "InvalidParameter",
                   "The query parameter keyType must be primary or secondary.");
        return;
    }
    if (app_group_key_regenerate(a->app, strcasecmp(kind, "secondary") == 0) < 0) {
        capi_error(c, 500, "InternalError",
                   "The new key could not be saved; the old key is still in force.");
        return;
    }
    capi_reply(c, 200, group_to_json(&a->app->facts));
}
