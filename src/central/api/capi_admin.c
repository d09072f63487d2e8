/*
 * capi_admin.c - /api/apiTokens and /api/deviceTemplates handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/api/capi_int.h"

#define YEAR_MS (365LL * 24 * 3600 * 1000)

/* ---------------------------------------------------------------- paging over linked lists */

/* skiptoken for in-memory lists: the decimal offset of the next item. */
static int skip_offset(struct http_ctx *c, size_t *out)
{
    uint64_t v;
    int rc = capi_skiptoken(c, UINT64_MAX, &v);
    *out = (size_t)v;
    return rc;
}

static void page_done(struct http_ctx *c, cJSON *arr, size_t top, size_t next, bool more)
{
    char tok[32];
    snprintf(tok, sizeof tok, "%zu", next);
    capi_page(c, arr, top, more ? tok : NULL, NULL);
}

/* ---------------------------------------------------------------- tokens */

void capi_tokens_list(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    size_t top, skip, i = 0, n = 0;
    cJSON *arr;
    if (capi_top(c, &top) < 0 || skip_offset(c, &skip) < 0)
        return;
    arr = cJSON_CreateArray();
    const struct appl_token *t;
    for (t = a->tokens; t != NULL; t = t->next, i++) {
        if (i < skip)
            continue;
        if (n == top)
            break;
        cJSON_AddItemToArray(arr, appl_token_to_json(t));
        n++;
    }
    page_done(c, arr, top, skip + n, t != NULL);
}

void capi_token_get(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_token *t = appl_token_get(a, c->seg[2]);
    if (t == NULL) {
        capi_error(c, 404, "ApiTokenNotFound", "API token %s was not found.", c->seg[2]);
        return;
    }
    capi_reply(c, 200, appl_token_to_json(t));
}

void capi_token_put(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    char text[512];
    int64_t expiry = app_now_ms() + YEAR_MS;
    if (body == NULL)
        return;
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(body, "roles");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(body, "expiry");
    const cJSON *r0 = cJSON_GetArrayItem(roles, 0);
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r0, "role");
    enum appl_role r = cJSON_IsString(rid) ? appl_role_parse(rid->valuestring) : ROLE_NONE;
    if (!cJSON_IsObject(body) || !cJSON_IsArray(roles) || cJSON_GetArraySize(roles) != 1 ||
        !cJSON_IsString(rid)) {
        capi_error(c, 400, "InvalidBody",
                   "$.roles: expected exactly one role, e.g. [{\"role\":\"operator\"}].");
        goto out;
    }
    if (r == ROLE_NONE) {
        capi_error(c, 400, "InvalidBody",
                   "$.roles[0].role: unknown role \"%s\" (App Administrator "
                   "ca310b8d-2f4a-44e0-a36e-957c202cd8d4 or administrator, App Operator "
                   "ae2c9854-393b-4f97-8c42-479d70ce626e or operator).",
                   rid->valuestring);
        goto out;
    }
    if (exp != NULL && (!cJSON_IsString(exp) || appl_parse_time(exp->valuestring, &expiry) < 0 ||
                        expiry <= app_now_ms())) {
        capi_error(c, 400, "InvalidBody", "$.expiry: expected a future RFC 3339 time.");
        goto out;
    }
    int rc = appl_token_create(a, c->seg[2], r, expiry, text, sizeof text);
    if (rc == CE_INVALID) {
        capi_error(c, 400, "InvalidParameter",
                   "The token id must have 1..%d characters of [A-Za-z0-9._-].", APPL_ID_MAX);
    } else if (rc == CE_EXISTS) {
        capi_error(c, 409, "Conflict", "API token %s already exists; delete it first.", c->seg[2]);
    } else if (rc != CE_OK) {
        capi_error_ce(c, rc, "API token");
    } else {
        cJSON *o = appl_token_to_json(appl_token_get(a, c->seg[2]));
        if (o != NULL)
            cJSON_AddStringToObject(o, "token", text);
        capi_reply(c, 200, o);
    }
out:
    cJSON_Delete(body);
}

void capi_token_delete(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    if (appl_token_delete(a, c->seg[2]) != CE_OK) {
        capi_error(c, 404, "ApiTokenNotFound", "API token %s was not found.", c->seg[2]);
        return;
    }
    http_reply_empty(c, 204);
}

/* ---------------------------------------------------------------- templates */

/* The answer to a template write (PUT, PATCH): @p t, or the refusal @p rc, @p err. */
static void template_written(struct http_ctx *c, int rc, const struct appl_template *t,
                             const struct appl_error *err)
{
    if (rc == CE_INVALID)
        capi_app_error(c, err);
    else if (rc != CE_OK)
        capi_error_ce(c, rc, "device template");
    else
        capi_reply(c, 200, appl_template_to_json(t, true));
}

static struct appl_template *template_or_404(struct http_ctx *c, struct appl *a)
{
    struct appl_template *t = appl_template_get(a, c->seg[2]);
    if (t == NULL)
        capi_error(c, 404, "DeviceTemplateNotFound", "Device template %s was not found.",
                   c->seg[2]);
    return t;
}

void capi_templates_list(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    size_t top, skip, i = 0, n = 0;
    if (capi_top(c, &top) < 0 || skip_offset(c, &skip) < 0)
        return;
    /* a->templates is newest first; list them oldest first for stable paging */
    size_t count = 0;
    for (const struct appl_template *t = a->templates; t != NULL; t = t->next)
        count++;
    const struct appl_template **v = calloc(count ? count : 1, sizeof *v);
    cJSON *arr = capi_page_array(c, v);
    if (arr == NULL)
        return;
    for (const struct appl_template *t = a->templates; t != NULL; t = t->next)
        v[count - 1 - i++] = t;
    for (i = skip; i < count && n < top; i++, n++)
        cJSON_AddItemToArray(arr, appl_template_to_json(v[i], false));
    free(v);
    page_done(c, arr, top, skip + n, skip + n < count);
}

void capi_template_get(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_template *t = template_or_404(c, a);
    if (t != NULL)
        capi_reply(c, 200, appl_template_to_json(t, true));
}

void capi_template_put(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_error err = {0};
    struct appl_template *t = NULL;
    cJSON *body = capi_body(c, CAPI_MAX_TEMPLATE_BODY);
    if (body == NULL)
        return;
    int rc = appl_template_put(a, c->seg[2], body, &t, &err);
    cJSON_Delete(body);
    template_written(c, rc, t, &err);
}

void capi_template_patch(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_error err = {0};
    struct appl_template *t = template_or_404(c, a);
    if (t == NULL)
        return;
    cJSON *body = capi_body(c, CAPI_MAX_TEMPLATE_BODY);
    if (body == NULL)
        return;
    int rc = appl_template_patch(a, t, body, &err);
    cJSON_Delete(body);
    template_written(c, rc, t, &err);
}

void capi_template_delete(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    int rc = appl_template_delete(a, c->seg[2]);
    if (rc == CE_NOTFOUND)
        capi_error(c, 404, "DeviceTemplateNotFound", "Device template %s was not found.",
                   c->seg[2]);
    else if (rc == CE_EXISTS)
        capi_error(c, 409, "Conflict",
                   "Device template %s is used by %zu device(s); move or delete them first.",
                   c->seg[2], appl_devices_using(a, c->seg[2]));
    else
        http_reply_empty(c, 204);
}

void capi_template_publish(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    struct appl_template *t = template_or_404(c, a);
    if (t == NULL)
        return;
    appl_template_publish(a, t);
    capi_reply(c, 200, appl_template_to_json(t, true));
}
