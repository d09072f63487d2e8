/*
 * capi_groups.c - /api/enrollmentGroups: the application's SAS enrollment groups as IoT
 * Central's 2022-07-31 API shapes them (list, get, create/replace with PUT, PATCH, DELETE), and
 * regenerating a key (iotc's own: IoT Central does that in its UI). Administrator role only (the
 * router enforces it): the group keys let anyone register devices. The application layer
 * (appl_groups.c) checks and keeps them; DPS uses every enabled one.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "central/api/capi_int.h"
#include "central/hub/groups.h"
#include "central/hub/x509.h"

/* The group of c->seg[2] (ids are case-sensitive, as device ids are), or 404. */
static struct egroup *group_or_404(struct http_ctx *c)
{
    struct egroup *g = egroups_find(c->app, c->seg[2]);
    if (g == NULL)
        capi_error(c, 404, "EnrollmentGroupNotFound", "Enrollment group %s was not found.",
                   c->seg[2]);
    return g;
}

/* The answer to a write: the group, or the error @p rc maps to. */
static void written(struct http_ctx *c, int rc, const struct egroup *g,
                    const struct appl_error *err)
{
    if (rc == CE_INVALID && err->code != NULL)
        capi_app_error(c, err);
    else if (rc == CE_IO)
        capi_error(c, 500, "InternalError",
                   "The new keys could not be saved; the old keys are still in force.");
    else if (rc != CE_OK)
        capi_error_ce(c, rc, "enrollment group");
    else
        capi_reply(c, 200, appl_group_to_json(c->app, g));
}

void capi_groups_list(struct http_ctx *c)
{
    size_t top;
    uint64_t skip;
    char tok[32];
    if (capi_top(c, &top) < 0 || capi_skiptoken(c, EGROUP_MAX, &skip) < 0)
        return;
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL) {
        capi_oom(c);
        return;
    }
    size_t i = 0, n = 0;
    for (const struct egroup *g = c->app->groups ? c->app->groups->head : NULL; g != NULL;
         g = g->next, i++) {
        if (i < skip || n >= top)
            continue;
        cJSON_AddItemToArray(arr, appl_group_to_json(c->app, g));
        n++;
    }
    snprintf(tok, sizeof tok, "%llu", (unsigned long long)(skip + top));
    capi_page(c, arr, top, i > skip + top ? tok : NULL, NULL);
}

void capi_group_get(struct http_ctx *c)
{
    const struct egroup *g = group_or_404(c);
    if (g != NULL)
        capi_reply(c, 200, appl_group_to_json(c->app, g));
}

void capi_group_put(struct http_ctx *c)
{
    struct appl_error err = {0};
    struct egroup *g = NULL;
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    int rc = appl_group_put(c->app->appl, c->seg[2], body, &g, &err);
    cJSON_Delete(body);
    written(c, rc, g, &err);
}

void capi_group_patch(struct http_ctx *c)
{
    struct appl_error err = {0};
    struct egroup *g = group_or_404(c);
    if (g == NULL)
        return;
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    int rc = appl_group_update(c->app->appl, g, body, &err);
    cJSON_Delete(body);
    written(c, rc, g, &err);
}

void capi_group_delete(struct http_ctx *c)
{
    if (appl_group_delete(c->app->appl, c->seg[2]) == CE_NOTFOUND)
        capi_error(c, 404, "EnrollmentGroupNotFound", "Enrollment group %s was not found.",
                   c->seg[2]);
    else
        http_reply_empty(c, 204);
}

void capi_group_regenerate(struct http_ctx *c)
{
    struct appl_error err = {0};
    char kind[16];
    struct egroup *g = group_or_404(c);
    if (g == NULL)
        return;
    int rc = capi_param(c, "keyType", kind, sizeof kind);
    if (rc < 0)
        return;
    if (rc == 0 || (strcasecmp(kind, "primary") != 0 && strcasecmp(kind, "secondary") != 0)) {
        capi_error(c, 400, "InvalidParameter",
                   "The query parameter keyType must be primary or secondary.");
        return;
    }
    written(c, appl_group_regenerate(c->app->appl, g, strcasecmp(kind, "secondary") == 0), g, &err);
}

/* ---------------------------------------------------------------- X.509 certificates
 * /api/enrollmentGroups/{id}/certificates/{primary|secondary}[/generateVerificationCode|/verify]
 */

/* The group and the slot of the path, or false (answered). */
static bool cert_target(struct http_ctx *c, struct egroup **g, bool *secondary)
{
    *g = group_or_404(c);
    if (*g == NULL)
        return false;
    if (strcmp(c->seg[4], "primary") != 0 && strcmp(c->seg[4], "secondary") != 0) {
        capi_error(c, 404, "NotFound", "The certificate entry must be primary or secondary.");
        return false;
    }
    *secondary = strcmp(c->seg[4], "secondary") == 0;
    return true;
}

static void cert_reply(struct http_ctx *c, int rc, const struct egroup *g, bool secondary,
                       const struct appl_error *err)
{
    cJSON *o = NULL;
    if (rc == CE_INVALID && err->code != NULL)
        capi_app_error(c, err);
    else if (rc == CE_NOTFOUND)
        capi_error(c, 404, "CertificateNotFound", "Enrollment group %s has no %s certificate.",
                   g->id, secondary ? "secondary" : "primary");
    else if (rc != CE_OK)
        capi_error_ce(c, rc, "certificate");
    else if ((o = appl_group_cert_json(c->app, g, secondary)) == NULL)
        capi_error(c, 404, "CertificateNotFound", "Enrollment group %s has no %s certificate.",
                   g->id, secondary ? "secondary" : "primary");
    else
        capi_reply(c, 200, o);
}

void capi_group_cert_get(struct http_ctx *c)
{
    struct appl_error err = {0};
    struct egroup *g;
    bool sec;
    if (cert_target(c, &g, &sec))
        cert_reply(c, CE_OK, g, sec, &err);
}

/* The body of a PUT certificate or POST verify: the target, the body, then *rc = @p op on them.
 * False when the request was answered already (no such group or certificate slot, bad body). */
static bool cert_body_op(struct http_ctx *c, struct egroup **g, bool *sec, struct appl_error *err,
                         int (*op)(struct appl *a, struct egroup *g, bool secondary,
                                   const cJSON *body, struct appl_error *err),
                         int *rc)
{
    if (!cert_target(c, g, sec))
        return false;
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return false;
    *rc = op(c->app->appl, *g, *sec, body, err);
    cJSON_Delete(body);
    return true;
}

static void no_cert(struct http_ctx *c, const struct egroup *g, bool sec)
{
    capi_error(c, 404, "CertificateNotFound", "Enrollment group %s has no %s certificate.", g->id,
               sec ? "secondary" : "primary");
}

void capi_group_cert_put(struct http_ctx *c)
{
    struct appl_error err = {0};
    struct egroup *g;
    bool sec;
    int rc;
    if (cert_body_op(c, &g, &sec, &err, appl_group_cert_put, &rc))
        cert_reply(c, rc, g, sec, &err);
}

void capi_group_cert_delete(struct http_ctx *c)
{
    struct egroup *g;
    bool sec;
    if (!cert_target(c, &g, &sec))
        return;
    if (appl_group_cert_delete(c->app->appl, g, sec) != CE_OK)
        no_cert(c, g, sec);
    else
        http_reply_empty(c, 204);
}

void capi_group_cert_code(struct http_ctx *c)
{
    struct egroup *g;
    bool sec;
    char code[X509_CODE_LEN + 1];
    if (!cert_target(c, &g, &sec))
        return;
    if (appl_group_cert_code(c->app->appl, g, sec, code) != CE_OK) {
        no_cert(c, g, sec);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o != NULL)
        cJSON_AddStringToObject(o, "verificationCode", code);
    capi_reply(c, 200, o);
}

void capi_group_cert_verify(struct http_ctx *c)
{
    struct appl_error err = {0};
    struct egroup *g;
    bool sec;
    int rc;
    if (!cert_body_op(c, &g, &sec, &err, appl_group_cert_verify, &rc))
        return;
    if (rc == CE_OK)
        http_reply_empty(c, 204);
    else
        cert_reply(c, rc, g, sec, &err);
}
