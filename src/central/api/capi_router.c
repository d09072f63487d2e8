/*
 * capi_router.c - /api/ routing, authentication (API tokens, roles), api-version, and the
 * IoT Central reply shapes (errors, collections with nextLink).
 */
#include "central/api/capi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>

#include <iotc/codec.h>

#include "central/api/capi_int.h"
#include "central/base/log.h"

/* ---------------------------------------------------------------- replies */

static void rfc1123(char out[40])
{
    time_t t = (time_t)(app_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void capi_error(struct http_ctx *c, int status, const char *code, const char *fmt, ...)
{
    char msg[1024], when[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rfc1123(when);
    cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
    if (o != NULL && e != NULL) {
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "requestId", c->tracking_id);
        cJSON_AddStringToObject(e, "time", when);
        cJSON_AddItemToObject(o, "error", e);
        e = NULL;
    }
    cJSON_Delete(e);
    http_add_header(c, "x-ms-error-code", code);
    char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL) {
        http_reply_empty(c, status);
        return;
    }
    http_reply_json_text(c, status, text, strlen(text));
    free(text);
}

void capi_error_ce(struct http_ctx *c, int rc, const char *what)
{
    const char *code;
    int status = http_status_of(rc, HTTP_DIALECT_CENTRAL, &code);
    switch (rc) {
    case CE_NOTFOUND:
        capi_error(c, status, code, "%s was not found.", what);
        break;
    case CE_EXISTS:
        capi_error(c, status, code, "%s already exists.", what);
        break;
    case CE_INVALID:
        capi_error(c, status, code, "%s: invalid request.", what);
        break;
    case CE_BUSY:
        capi_error(c, status, code, "%s: the server is busy, retry later.", what);
        break;
    case CE_TOOBIG:
        capi_error(c, status, code, "%s: too large.", what);
        break;
    default:
        capi_error(c, status, code, "%s: %s.", what, central_strerror(rc));
        break;
    }
}

void capi_app_error(struct http_ctx *c, const struct appl_error *err)
{
    if (err->code == NULL) {
        capi_error_ce(c, CE_INVALID, "request");
        return;
    }
    capi_error(c, strcmp(err->code, "CapabilityNotFound") == 0 ? 404 : 400, err->code, "%s",
               err->message);
}

void capi_oom(struct http_ctx *c)
{
    capi_error(c, 500, "InternalError", "Out of memory.");
}

cJSON *capi_page_array(struct http_ctx *c, void *scratch)
{
    cJSON *arr = scratch != NULL ? cJSON_CreateArray() : NULL;
    if (arr == NULL) {
        free(scratch);
        capi_oom(c);
    }
    return arr;
}

void capi_reply(struct http_ctx *c, int status, cJSON *o)
{
    char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL) {
        capi_oom(c);
        return;
    }
    http_reply_json_text(c, status, text, strlen(text));
    free(text);
}

void capi_no_device(struct http_ctx *c, const char *id)
{
    capi_error(c, 404, "DeviceNotFound", "Device %s was not found.", id);
}

struct device *capi_device(struct http_ctx *c, struct appl *a, struct appl_device **out_d)
{
    struct device *dev = registry_get(a->app, c->seg[2]);
    struct appl_device *d = dev != NULL ? appl_device_get(a, dev->id) : NULL;
    if (dev == NULL) {
        capi_no_device(c, c->seg[2]);
        return NULL;
    }
    if (d == NULL) {
        capi_oom(c);
        return NULL;
    }
    *out_d = d;
    return dev;
}

cJSON *capi_body(struct http_ctx *c, size_t max)
{
    if (c->body_len > max) {
        capi_error(c, 413, "RequestEntityTooLarge", "The request body exceeds %zu bytes.", max);
        return NULL;
    }
    if (c->body_len == 0) {
        capi_error(c, 400, "InvalidBody", "The request needs a JSON body.");
        return NULL;
    }
    const char *why = http_json_text_problem(c->body, c->body_len);
    if (why != NULL) {
        capi_error(c, 400, "InvalidBody", "The body %s.", why);
        return NULL;
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(c->body, c->body_len, &end, false);
    if (o == NULL) {
        size_t off = end != NULL && end >= c->body ? (size_t)(end - c->body) : 0;
        capi_error(c, 400, "InvalidBody", "The body is not valid JSON (near byte %zu).", off);
        return NULL;
    }
    /* only whitespace may follow the value */
    for (const char *p = end; p != NULL && p < c->body + c->body_len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(o);
            capi_error(c, 400, "InvalidBody", "The body has trailing bytes after the JSON value.");
            return NULL;
        }
    }
    return o;
}

int capi_param(struct http_ctx *c, const char *name, char *out, size_t size)
{
    int rc = http_query_param(c, name, out, size);
    if (rc < 0) {
        capi_error(c, 400, "InvalidParameter", "The query parameter %s is malformed or too long.",
                   name);
        return CE_INVALID;
    }
    return rc;
}

int capi_query_text(struct http_ctx *c, const char *name, char *out, size_t size)
{
    struct iotc_bag_pair pair;
    size_t len = 0;
    int rc = iotc_bag_find(iotc_span_from_cstr(c->query), iotc_span_from_cstr(name), &pair);
    if (rc == IOTC_E_NOTFOUND)
        return 0;
    if (rc == IOTC_OK && !pair.has_value && size > 0) {
        out[0] = '\0';
        return 1;
    }
    /* form encoding: '+' is a space (what scripts' HTTP libraries send for one) */
    char *raw = rc == IOTC_OK ? malloc(pair.value.len * 3 + 1) : NULL;
    size_t n = 0;
    for (size_t i = 0; raw != NULL && i < pair.value.len; i++) {
        if (pair.value.ptr[i] == '+') {
            memcpy(raw + n, "%20", 3);
            n += 3;
        } else {
            raw[n++] = pair.value.ptr[i];
        }
    }
    rc = raw != NULL ? iotc_pct_decode((struct iotc_span){raw, n}, out, size, &len) : IOTC_E_ARG;
    free(raw);
    if (rc != IOTC_OK || len >= size) {
        capi_error(c, 400, "InvalidParameter", "The query parameter %s is malformed or too long.",
                   name);
        return CE_INVALID;
    }
    out[len] = '\0';
    return 1;
}

int capi_top(struct http_ctx *c, size_t *out)
{
    char buf[32], *end;
    int rc = capi_param(c, "$top", buf, sizeof buf);
    if (rc == 0) /* the name api-version 2022-10-31-preview uses */
        rc = capi_param(c, "maxpagesize", buf, sizeof buf);
    *out = CAPI_TOP_DEFAULT;
    if (rc <= 0)
        return rc;
    long v = strtol(buf, &end, 10);
    if (*end != '\0' || end == buf || v < 1 || v > CAPI_TOP_MAX) {
        capi_error(c, 400, "InvalidParameter", "$top must be an integer 1..%d.", CAPI_TOP_MAX);
        return CE_INVALID;
    }
    *out = (size_t)v;
    return 0;
}

int capi_skiptoken(struct http_ctx *c, uint64_t max, uint64_t *out)
{
    char buf[32], *end;
    int rc = capi_param(c, "$skiptoken", buf, sizeof buf);
    *out = 0;
    if (rc <= 0)
        return rc;
    unsigned long long v = strtoull(buf, &end, 10);
    if (*end != '\0' || end == buf || v > max) {
        capi_error(c, 400, "InvalidParameter", "$skiptoken is not valid here.");
        return CE_INVALID;
    }
    *out = v;
    return 0;
}

int capi_time_param(struct http_ctx *c, const char *name, int64_t dflt, int64_t *out)
{
    char buf[64];
    int rc = capi_param(c, name, buf, sizeof buf);
    *out = dflt;
    if (rc <= 0)
        return rc;
    if (appl_parse_time(buf, out) < 0) {
        capi_error(c, 400, "InvalidParameter",
                   "%s must be an RFC 3339 time such as 2026-11-26T08:00:00Z.", name);
        return CE_INVALID;
    }
    return 0;
}

void capi_page(struct http_ctx *c, cJSON *value, size_t top, const char *next_token,
               const char *extra_query)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        cJSON_Delete(value);
        capi_oom(c);
        return;
    }
    cJSON_AddItemToObject(o, "value", value);
    if (next_token != NULL) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
        const char *path = uri ? evhttp_uri_get_path(uri) : "/";
        const char *host = http_header(c, "Host");
        char tok[400], ver[32];
        size_t len = 0;
        if (iotc_pct_encode(iotc_span_from_cstr(next_token), tok, sizeof tok, &len) != IOTC_OK)
            len = 0;
        tok[len] = '\0';
        /* the next page is asked with the api-version of this one (the gate checked it) */
        if (http_query_param(c, "api-version", ver, sizeof ver) <= 0)
            snprintf(ver, sizeof ver, "%s", CAPI_API_VERSION);
        const char *extra = extra_query ? extra_query : "";
        size_t size = strlen(host ? host : "localhost") + strlen(path) + strlen(extra) + 512;
        char *link = malloc(size);
        if (link == NULL) {
            cJSON_Delete(o);
            capi_oom(c);
            return;
        }
        snprintf(link, size, "https://%s%s?api-version=%s&$top=%zu&$skiptoken=%s%s%s",
                 host ? host : "localhost", path, ver, top, tok, extra[0] ? "&" : "", extra);
        cJSON_AddStringToObject(o, "nextLink", link);
        free(link);
    }
    capi_reply(c, 200, o);
}

/* ---------------------------------------------------------------- routes */

bool capi_version_ok(const char *v)
{
    /* the versions whose shapes agree with 2022-07-31 on every route served here */
    static const char *const accepted[] = {CAPI_API_VERSION, "2022-05-31", "2022-10-31-preview",
                                           "1.0"};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        if (strcmp(v, accepted[i]) == 0)
            return true;
    }
    return false;
}

/* Authenticate (API token; c->auth = role) and check api-version before routing. */
static bool gate(struct http_ctx *c)
{
    struct appl *a = c->app->appl;
    const char *why = NULL;
    char ver[32];

    if (a == NULL) {
        capi_error(c, 503, "ServiceUnavailable", "The application API is not running.");
        return false;
    }
    enum appl_role role = appl_authenticate(a, http_header(c, "Authorization"), &why, NULL);
    if (role == ROLE_NONE) {
        log_info("capi: unauthorized request: %s", why);
        capi_error(c, 401, "Unauthorized", "Unauthorized: %s.", why);
        return false;
    }
    c->auth = (int)role;
    bool dx = c->nseg > 1 && strcmp(c->seg[1], "dataExport") == 0;
    const char *want = dx ? CAPI_EXPORT_API_VERSION : CAPI_API_VERSION;
    int rc = http_query_param(c, "api-version", ver, sizeof ver);
    if (rc == 0) {
        capi_error(c, 400, "MissingApiVersionParameter",
                   "The api-version query parameter is required (api-version=%s).", want);
        return false;
    }
    if (rc < 0 || (dx ? strcmp(ver, want) != 0 : !capi_version_ok(ver))) {
        if (dx)
            capi_error(c, 400, "InvalidApiVersionParameter",
                       "Unsupported api-version; the data export API exists in api-version=%s.",
                       want);
        else
            capi_error(c, 400, "InvalidApiVersionParameter",
                       "Unsupported api-version; this server accepts %s (the shapes of %s).",
                       CAPI_API_VERSIONS_TEXT, CAPI_API_VERSION);
        return false;
    }
    return true;
}

/* A route's flags are the methods that need the administrator role. */
static bool allow(struct http_ctx *c, const struct http_route *r)
{
    if (!(r->flags & c->method) || c->auth == ROLE_ADMIN)
        return true;
    capi_error(c, 403, "Forbidden", "The %s role may not do this; it needs the administrator role.",
               appl_role_name((enum appl_role)c->auth));
    return false;
}

static void no_route(struct http_ctx *c, bool path_known)
{
    if (path_known)
        capi_error(c, 405, "MethodNotAllowed", "The method is not allowed on this resource.");
    else
        capi_error(c, 404, "NotFound", "No such resource.");
}

#define ALL (HTTP_GET | HTTP_PUT | HTTP_POST | HTTP_DELETE | HTTP_PATCH)
#define DEV "/api/devices/{id}"
#define COMP DEV "/components/{component}"

static const struct http_route routes[] = {
    {HTTP_GET, "/api/apiTokens", capi_tokens_list, ALL},
    {HTTP_GET, "/api/apiTokens/{id}", capi_token_get, ALL},
    {HTTP_PUT, "/api/apiTokens/{id}", capi_token_put, ALL},
    {HTTP_DELETE, "/api/apiTokens/{id}", capi_token_delete, ALL},
    {HTTP_GET, "/api/enrollmentGroups", capi_groups_list, ALL},
    {HTTP_GET, "/api/enrollmentGroups/{id}", capi_group_get, ALL},
    {HTTP_PUT, "/api/enrollmentGroups/{id}", capi_group_put, ALL},
    {HTTP_PATCH, "/api/enrollmentGroups/{id}", capi_group_patch, ALL},
    {HTTP_DELETE, "/api/enrollmentGroups/{id}", capi_group_delete, ALL},
    {HTTP_POST, "/api/enrollmentGroups/{id}/regenerateKey", capi_group_regenerate, ALL},
    {HTTP_GET, "/api/enrollmentGroups/{id}/certificates/{entry}", capi_group_cert_get, ALL},
    {HTTP_PUT, "/api/enrollmentGroups/{id}/certificates/{entry}", capi_group_cert_put, ALL},
    {HTTP_DELETE, "/api/enrollmentGroups/{id}/certificates/{entry}", capi_group_cert_delete, ALL},
    {HTTP_POST, "/api/enrollmentGroups/{id}/certificates/{entry}/generateVerificationCode",
     capi_group_cert_code, ALL},
    {HTTP_POST, "/api/enrollmentGroups/{id}/certificates/{entry}/verify", capi_group_cert_verify,
     ALL},
    {HTTP_GET, "/api/deviceGroups", capi_devgroups_list, 0},
    {HTTP_GET, "/api/deviceGroups/{id}", capi_devgroup_get, 0},
    {HTTP_PUT, "/api/deviceGroups/{id}", capi_devgroup_put, HTTP_PUT | HTTP_PATCH | HTTP_DELETE},
    {HTTP_PATCH, "/api/deviceGroups/{id}", capi_devgroup_patch,
     HTTP_PUT | HTTP_PATCH | HTTP_DELETE},
    {HTTP_DELETE, "/api/deviceGroups/{id}", capi_devgroup_delete,
     HTTP_PUT | HTTP_PATCH | HTTP_DELETE},
    {HTTP_GET, "/api/deviceGroups/{id}/devices", capi_devgroup_devices, 0},
    {HTTP_GET, "/api/jobs", capi_jobs_list, 0},
    {HTTP_GET, "/api/jobs/{id}", capi_job_get, 0},
    {HTTP_PUT, "/api/jobs/{id}", capi_job_put, ALL},
    {HTTP_GET, "/api/jobs/{id}/devices", capi_job_devices, 0},
    {HTTP_POST, "/api/jobs/{id}/stop", capi_job_stop, ALL},
    {HTTP_POST, "/api/jobs/{id}/resume", capi_job_resume, ALL},
    {HTTP_PUT, "/api/jobs/{id}/rerun/{rerunId}", capi_job_rerun, ALL},
    {HTTP_GET, "/api/deviceTemplates", capi_templates_list, 0},
    {HTTP_GET, "/api/deviceTemplates/{id}", capi_template_get, 0},
    {HTTP_PUT, "/api/deviceTemplates/{id}", capi_template_put, ALL},
    {HTTP_PATCH, "/api/deviceTemplates/{id}", capi_template_patch, ALL},
    {HTTP_DELETE, "/api/deviceTemplates/{id}", capi_template_delete, ALL},
    {HTTP_POST, "/api/deviceTemplates/{id}/publish", capi_template_publish, ALL},
    {HTTP_GET, "/api/devices", capi_devices_list, 0},
    {HTTP_GET, DEV, capi_device_get, 0},
    {HTTP_PUT, DEV, capi_device_put, 0},
    {HTTP_PATCH, DEV, capi_device_patch, 0},
    {HTTP_DELETE, DEV, capi_device_delete, 0},
    {HTTP_GET, DEV "/credentials", capi_device_credentials, 0},
    {HTTP_GET | HTTP_PUT, DEV "/attestation", capi_attestation, 0},
    {HTTP_GET, DEV "/components", capi_device_components, 0},
    {HTTP_GET | HTTP_PUT | HTTP_PATCH, DEV "/properties", capi_properties, 0},
    {HTTP_GET | HTTP_PUT | HTTP_PATCH, COMP "/properties", capi_properties, 0},
    {HTTP_GET, DEV "/commands", capi_command, 0},
    {HTTP_GET | HTTP_POST, DEV "/commands/{name}", capi_command, 0},
    {HTTP_GET | HTTP_POST, COMP "/commands/{name}", capi_command, 0},
    {HTTP_GET, DEV "/telemetry/{name}", capi_telemetry, 0},
    {HTTP_GET, DEV "/telemetry/{name}/history", capi_telemetry, 0},
    {HTTP_GET, COMP "/telemetry/{name}", capi_telemetry, 0},
    {HTTP_GET, COMP "/telemetry/{name}/history", capi_telemetry, 0},
    {HTTP_GET, DEV "/telemetry/{name}/series", capi_series, 0},
    {HTTP_GET, COMP "/telemetry/{name}/series", capi_series, 0},
    {HTTP_GET, DEV "/rawData", capi_raw, 0},
    {HTTP_GET, DEV "/conformance", capi_conformance, 0},
    {HTTP_GET, DEV "/events", capi_events, 0},
    /* iotc's own, not IoT Central's: the web UI's dashboards */
    {HTTP_GET, "/api/dashboards", capi_dashboards_list, 0},
    {HTTP_GET | HTTP_PUT | HTTP_DELETE, "/api/dashboards/{id}", capi_dashboard, 0},
    {HTTP_POST, "/api/query", capi_query, 0},
    {HTTP_GET, "/api/stats", capi_stats, ALL},
    /* iotc's own: rules and their alerts */
    {HTTP_GET, "/api/rules", capi_rules_list, 0},
    {HTTP_GET | HTTP_PUT | HTTP_PATCH | HTTP_DELETE, "/api/rules/{id}", capi_rule,
     HTTP_PUT | HTTP_PATCH | HTTP_DELETE},
    {HTTP_GET, "/api/rules/{id}/devices", capi_rule_devices, 0},
    {HTTP_GET, "/api/alerts", capi_alerts_list, 0},
    {HTTP_GET, "/api/alerts/{id}", capi_alert, 0},
    {HTTP_POST, "/api/alerts/{id}/acknowledge", capi_alert, 0},
    {HTTP_GET, "/api/dataExport/destinations", capi_dx_list, ALL},
    {HTTP_GET | HTTP_PUT | HTTP_PATCH | HTTP_DELETE, "/api/dataExport/destinations/{id}",
     capi_dx_one, ALL},
    {HTTP_GET, "/api/dataExport/exports", capi_dx_list, ALL},
    {HTTP_GET | HTTP_PUT | HTTP_PATCH | HTTP_DELETE, "/api/dataExport/exports/{id}", capi_dx_one,
     ALL},
};

const struct http_site capi_site = {
    .name = "capi",
    .scope = HTTP_SCOPE_PREFIX,
    .prefix = "api",
    .routes = routes,
    .n_routes = sizeof routes / sizeof routes[0],
    .gate = gate,
    .allow = allow,
    .no_route = no_route,
};
