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

struct capi_route {
    unsigned methods;
    unsigned admin_methods; /* methods that need the administrator role */
    size_t n;
    const char *pat[HTTP_MAX_SEGS];
    capi_fn fn;
};

#define ALL (HTTP_GET | HTTP_PUT | HTTP_POST | HTTP_DELETE | HTTP_PATCH)

static const struct capi_route routes[] = {
    {HTTP_GET, ALL, 2, {"api", "apiTokens"}, capi_tokens_list},
    {HTTP_GET, ALL, 3, {"api", "apiTokens", "*"}, capi_token_get},
    {HTTP_PUT, ALL, 3, {"api", "apiTokens", "*"}, capi_token_put},
    {HTTP_DELETE, ALL, 3, {"api", "apiTokens", "*"}, capi_token_delete},
    {HTTP_GET, ALL, 2, {"api", "enrollmentGroups"}, capi_groups_list},
    {HTTP_GET, ALL, 3, {"api", "enrollmentGroups", "*"}, capi_group_get},
    {HTTP_POST, ALL, 4, {"api", "enrollmentGroups", "*", "regenerateKey"}, capi_group_regenerate},
    {HTTP_GET, 0, 2, {"api", "deviceTemplates"}, capi_templates_list},
    {HTTP_GET, 0, 3, {"api", "deviceTemplates", "*"}, capi_template_get},
    {HTTP_PUT, ALL, 3, {"api", "deviceTemplates", "*"}, capi_template_put},
    {HTTP_PATCH, ALL, 3, {"api", "deviceTemplates", "*"}, capi_template_patch},
    {HTTP_DELETE, ALL, 3, {"api", "deviceTemplates", "*"}, capi_template_delete},
    {HTTP_POST, ALL, 4, {"api", "deviceTemplates", "*", "publish"}, capi_template_publish},
    {HTTP_GET, 0, 2, {"api", "devices"}, capi_devices_list},
    {HTTP_GET, 0, 3, {"api", "devices", "*"}, capi_device_get},
    {HTTP_PUT, 0, 3, {"api", "devices", "*"}, capi_device_put},
    {HTTP_PATCH, 0, 3, {"api", "devices", "*"}, capi_device_patch},
    {HTTP_DELETE, 0, 3, {"api", "devices", "*"}, capi_device_delete},
    {HTTP_GET, 0, 4, {"api", "devices", "*", "credentials"}, capi_device_credentials},
    {HTTP_GET, 0, 4, {"api", "devices", "*", "components"}, capi_device_components},
    {HTTP_GET | HTTP_PUT | HTTP_PATCH,
     0,
     4,
     {"api", "devices", "*", "properties"},
     capi_properties},
    {HTTP_GET | HTTP_PUT | HTTP_PATCH,
     0,
     6,
     {"api", "devices", "*", "components", "*", "properties"},
     capi_properties},
    {HTTP_GET, 0, 4, {"api", "devices", "*", "commands"}, capi_command},
    {HTTP_GET | HTTP_POST, 0, 5, {"api", "devices", "*", "commands", "*"}, capi_command},
    {HTTP_GET | HTTP_POST,
     0,
     7,
     {"api", "devices", "*", "components", "*", "commands", "*"},
     capi_command},
    {HTTP_GET, 0, 5, {"api", "devices", "*", "telemetry", "*"}, capi_telemetry},
    {HTTP_GET, 0, 6, {"api", "devices", "*", "telemetry", "*", "history"}, capi_telemetry},
    {HTTP_GET, 0, 7, {"api", "devices", "*", "components", "*", "telemetry", "*"}, capi_telemetry},
    {HTTP_GET,
     0,
     8,
     {"api", "devices", "*", "components", "*", "telemetry", "*", "history"},
     capi_telemetry},
    {HTTP_GET, 0, 4, {"api", "devices", "*", "rawData"}, capi_raw},
    {HTTP_GET, 0, 4, {"api", "devices", "*", "conformance"}, capi_conformance},
    {HTTP_GET, 0, 4, {"api", "devices", "*", "events"}, capi_events},
};

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
    switch (rc) {
    case CE_NOTFOUND:
        capi_error(c, 404, "NotFound", "%s was not found.", what);
        break;
    case CE_EXISTS:
        capi_error(c, 409, "Conflict", "%s already exists.", what);
        break;
    case CE_INVALID:
        capi_error(c, 400, "InvalidBody", "%s: invalid request.", what);
        break;
    case CE_BUSY:
        capi_error(c, 503, "ServiceUnavailable", "%s: the server is busy, retry later.", what);
        break;
    case CE_TOOBIG:
        capi_error(c, 413, "RequestEntityTooLarge", "%s: too large.", what);
        break;
    default:
        capi_error(c, 500, "InternalError", "%s: %s.", what, central_strerror(rc));
        break;
    }
}

void capi_reply(struct http_ctx *c, int status, cJSON *o)
{
    char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL) {
        capi_error(c, 500, "InternalError", "Out of memory.");
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
        capi_error(c, 500, "InternalError", "Out of memory.");
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
        return -1;
    }
    return rc;
}

int capi_top(struct http_ctx *c, size_t *out)
{
    char buf[32], *end;
    int rc = capi_param(c, "$top", buf, sizeof buf);
    *out = CAPI_TOP_DEFAULT;
    if (rc <= 0)
        return rc;
    long v = strtol(buf, &end, 10);
    if (*end != '\0' || end == buf || v < 1 || v > CAPI_TOP_MAX) {
        capi_error(c, 400, "InvalidParameter", "$top must be an integer 1..%d.", CAPI_TOP_MAX);
        return -1;
    }
    *out = (size_t)v;
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
        return -1;
    }
    return 0;
}

void capi_page(struct http_ctx *c, cJSON *value, size_t top, const char *next_token,
               const char *extra_query)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        cJSON_Delete(value);
        capi_error(c, 500, "InternalError", "Out of memory.");
        return;
    }
    cJSON_AddItemToObject(o, "value", value);
    if (next_token != NULL) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
        const char *path = uri ? evhttp_uri_get_path(uri) : "/";
        const char *host = http_header(c, "Host");
        char tok[400], link[3000];
        size_t len = 0;
        if (iotc_pct_encode(iotc_span_from_cstr(next_token), tok, sizeof tok, &len) != IOTC_OK)
            len = 0;
        tok[len] = '\0';
        snprintf(link, sizeof link, "https://%s%s?api-version=%s&$top=%zu&$skiptoken=%s%s%s",
                 host ? host : "localhost", path, CAPI_API_VERSION, top, tok,
                 extra_query && extra_query[0] ? "&" : "", extra_query ? extra_query : "");
        cJSON_AddStringToObject(o, "nextLink", link);
    }
    capi_reply(c, 200, o);
}

/* ---------------------------------------------------------------- dispatch */

bool capi_owns(const struct http_ctx *c)
{
    return c->nseg >= 1 && strcmp(c->seg[0], "api") == 0;
}

static bool matches(const struct capi_route *r, const struct http_ctx *c)
{
    if (r->n != c->nseg)
        return false;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->pat[i], "*") == 0) {
            if (c->seg[i][0] == '\0')
                return false;
        } else if (strcasecmp(r->pat[i], c->seg[i]) != 0) {
            return false;
        }
    }
    return true;
}

void capi_dispatch(struct http_ctx *c)
{
    struct appl *a = appl_of(c->app);
    const char *why = NULL;
    char ver[32];
    bool path_known = false;

    if (a == NULL) {
        capi_error(c, 503, "ServiceUnavailable", "The application API is not running.");
        return;
    }
    enum appl_role role = appl_authenticate(a, http_header(c, "Authorization"), &why);
    if (role == ROLE_NONE) {
        log_info("capi: unauthorized request: %s", why);
        capi_error(c, 401, "Unauthorized", "Unauthorized: %s.", why);
        return;
    }
    int rc = http_query_param(c, "api-version", ver, sizeof ver);
    if (rc == 0) {
        capi_error(c, 400, "MissingApiVersionParameter",
                   "The api-version query parameter is required (api-version=%s).",
                   CAPI_API_VERSION);
        return;
    }
    if (rc < 0 || strcmp(ver, CAPI_API_VERSION) != 0) {
        capi_error(c, 400, "InvalidApiVersionParameter",
                   "Unsupported api-version; this server implements api-version=%s.",
                   CAPI_API_VERSION);
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct capi_route *r = &routes[i];
        if (!matches(r, c))
            continue;
        path_known = true;
        if (!(r->methods & c->method))
            continue;
        if ((r->admin_methods & c->method) && role != ROLE_ADMIN) {
            capi_error(c, 403, "Forbidden",
                       "The %s role may not do this; it needs the administrator role.",
                       appl_role_name(role));
            return;
        }
        r->fn(c, a, role);
        return;
    }
    if (path_known)
        capi_error(c, 405, "MethodNotAllowed", "The method is not allowed on this resource.");
    else
        capi_error(c, 404, "NotFound", "No such resource.");
}

int capi_start(struct app *app)
{
    if (appl_of(app) != NULL)
        return 0;
    if (appl_open(app) < 0) {
        log_error("capi: cannot start the application layer");
        return -1;
    }
    log_info("capi: application API ready under /api/ (api-version %s)", CAPI_API_VERSION);
    return 0;
}

void capi_stop(struct app *app)
{
    appl_close(app);
}
