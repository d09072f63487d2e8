/*
 * capi_rules.c - iotc's own /api/rules and /api/alerts (docs/API.md "Rules"; IoT Central has no
 * rules REST API): rules listed, read, created or replaced (PUT), merged (PATCH), deleted, their
 * per-device states, and the alerts they raised, newest first, paged with $top/$skiptoken, and
 * acknowledged. The same api-versions and tokens as the rest of /api; changing a rule needs
 * the administrator role, reading and acknowledging do not (the router's flags). Rules
 * themselves live in export/rules.c.
 */
#include <stdio.h>
#include <string.h>

#include <iotc/codec.h>

#include "central/api/capi_int.h"
#include "central/export/rules.h"

static bool running(struct http_ctx *c)
{
    if (c->app->rules != NULL)
        return true;
    capi_error(c, 503, "ServiceUnavailable", "Rules are not running.");
    return false;
}

static void no_rule(struct http_ctx *c)
{
    capi_error(c, 404, "RuleNotFound", "Rule %s was not found.", c->seg[2]);
}

/* Reply with items [skip, skip + top) of @p all (taken) as a page with nextLink. */
static void page_of(struct http_ctx *c, cJSON *all, size_t top, uint64_t skip)
{
    cJSON *page = cJSON_CreateArray();
    size_t total = (size_t)cJSON_GetArraySize(all);
    if (page == NULL) {
        cJSON_Delete(all);
        capi_oom(c);
        return;
    }
    for (size_t i = 0; i < top && skip + i < total; i++)
        cJSON_AddItemToArray(page, cJSON_DetachItemFromArray(all, (int)skip));
    cJSON_Delete(all);
    char next[32];
    snprintf(next, sizeof next, "%llu", (unsigned long long)(skip + top));
    capi_page(c, page, top, skip + top < total ? next : NULL, NULL);
}

void capi_rules_list(struct http_ctx *c)
{
    size_t top;
    uint64_t skip;
    if (!running(c) || capi_top(c, &top) < 0 || capi_skiptoken(c, UINT64_MAX, &skip) < 0)
        return;
    cJSON *arr = rules_list(c->app);
    if (arr == NULL)
        capi_oom(c);
    else
        page_of(c, arr, top, skip);
}

static void put_or_patch(struct http_ctx *c, bool patch)
{
    cJSON *body = capi_body(c, CAPI_MAX_BODY);
    if (body == NULL)
        return;
    char err[512] = "";
    cJSON *out = NULL;
    bool created = false;
    int rc = rules_put(c->app, c->seg[2], body, patch, &out, &created, err, sizeof err);
    cJSON_Delete(body);
    if (rc == CE_OK)
        capi_reply(c, 200, out);
    else if (rc == CE_NOTFOUND)
        no_rule(c);
    else if (rc == CE_INVALID)
        capi_error(c, 400, "InvalidBody", "%s", err);
    else if (rc == CE_EXISTS)
        capi_error(c, 409, "Conflict", "%s", err);
    else
        capi_error_ce(c, rc, "rule");
}

void capi_rule(struct http_ctx *c)
{
    if (!running(c))
        return;
    if (c->method == HTTP_PUT || c->method == HTTP_PATCH) {
        put_or_patch(c, c->method == HTTP_PATCH);
    } else if (c->method == HTTP_DELETE) {
        if (rules_delete(c->app, c->seg[2]) == CE_NOTFOUND)
            no_rule(c);
        else
            http_reply_empty(c, 204);
    } else {
        cJSON *o = rules_get(c->app, c->seg[2]);
        if (o == NULL)
            no_rule(c);
        else
            capi_reply(c, 200, o);
    }
}

void capi_rule_devices(struct http_ctx *c)
{
    size_t top;
    uint64_t skip;
    if (!running(c) || capi_top(c, &top) < 0 || capi_skiptoken(c, UINT64_MAX, &skip) < 0)
        return;
    cJSON *arr = NULL;
    int rc = rules_devices(c->app, c->seg[2], &arr);
    if (rc == CE_NOTFOUND)
        no_rule(c);
    else if (rc != CE_OK)
        capi_oom(c);
    else
        page_of(c, arr, top, skip);
}

void capi_alerts_list(struct http_ctx *c)
{
    size_t top;
    uint64_t skip;
    char rule[APPL_ID_MAX + 1] = "", device[256] = "", state[16] = "";
    if (!running(c) || capi_top(c, &top) < 0 || capi_skiptoken(c, UINT64_MAX, &skip) < 0 ||
        capi_param(c, "ruleId", rule, sizeof rule) < 0 ||
        capi_param(c, "deviceId", device, sizeof device) < 0 ||
        capi_param(c, "state", state, sizeof state) < 0)
        return;
    if (state[0] != '\0' && strcmp(state, "active") != 0 && strcmp(state, "cleared") != 0) {
        capi_error(c, 400, "InvalidParameter", "state: active or cleared.");
        return;
    }
    struct rules_alert_query q = {rule, device, state};
    cJSON *arr = NULL;
    bool more = false;
    if (rules_alerts(c->app, &q, skip, top, &arr, &more) != CE_OK) {
        capi_oom(c);
        return;
    }
    /* the filters go along in nextLink */
    char extra[600] = "", enc[400];
    size_t len = 0;
    const char *names[] = {"ruleId", "deviceId", "state"};
    const char *vals[] = {rule, device, state};
    for (size_t i = 0; i < 3; i++) {
        if (vals[i][0] == '\0' ||
            iotc_pct_encode(iotc_span_from_cstr(vals[i]), enc, sizeof enc, &len) != IOTC_OK)
            continue;
        enc[len] = '\0';
        size_t at = strlen(extra);
        snprintf(extra + at, sizeof extra - at, "%s%s=%s", at > 0 ? "&" : "", names[i], enc);
    }
    char next[32];
    snprintf(next, sizeof next, "%llu", (unsigned long long)(skip + top));
    capi_page(c, arr, top, more ? next : NULL, extra[0] != '\0' ? extra : NULL);
}

void capi_alert(struct http_ctx *c)
{
    if (!running(c))
        return;
    cJSON *o = NULL;
    if (c->method == HTTP_POST) {
        int rc = rules_alert_ack(c->app, c->seg[2], &o);
        if (rc == CE_NOMEM) {
            capi_oom(c);
            return;
        }
    } else {
        o = rules_alert_get(c->app, c->seg[2]);
    }
    if (o == NULL)
        capi_error(c, 404, "AlertNotFound", "Alert %s was not found.", c->seg[2]);
    else
        capi_reply(c, 200, o);
}
