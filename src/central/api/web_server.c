/*
 * web_server.c - serves the embedded web UI (web.h), the CA certificate download and the
 * application facts the Administration page shows: web_site, a route table of the HTTP server.
 */
#include "central/api/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "central/app/appl.h"
#include "central/base/app.h"
#include "central/base/log.h"
#include "central/http/http_server.h"

#define WEB_MAX_CA 65536

/* The page loads only its own scripts and styles; uPlot sets element styles from script. */
#define WEB_CSP                                                                      \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "      \
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " \
    "frame-ancestors 'none'; form-action 'self'"

static void web_send(struct http_ctx *c, int status, const char *reason, struct evbuffer *body)
{
    c->replied = true;
    evhttp_send_reply(c->req, status, reason, body);
}

static void common_headers(struct http_ctx *c)
{
    http_add_header(c, "X-Content-Type-Options", "nosniff");
    http_add_header(c, "Referrer-Policy", "no-referrer");
    http_add_header(c, "X-Frame-Options", "DENY");
}

static void reply_text(struct http_ctx *c, int status, const char *reason, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    common_headers(c);
    http_add_header(c, "Content-Type", "text/plain; charset=utf-8");
    http_add_header(c, "Cache-Control", "no-store");
    if (b != NULL)
        evbuffer_add_printf(b, "%s\n", text);
    web_send(c, status, reason, b);
    if (b != NULL)
        evbuffer_free(b);
}

/* The same error shape as /api/, so the UI reports both alike. */
static void reply_error(struct http_ctx *c, int status, const char *reason, const char *code,
                        const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "requestId", c->tracking_id);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    common_headers(c);
    http_add_header(c, "x-ms-error-code", code);
    http_add_header(c, "Cache-Control", "no-store");
    http_add_header(c, "Content-Type", "application/json; charset=utf-8");
    struct evbuffer *b = evbuffer_new();
    if (b != NULL && text != NULL)
        evbuffer_add(b, text, strlen(text));
    free(text);
    web_send(c, status, reason, b);
    if (b != NULL)
        evbuffer_free(b);
}

static const struct web_asset *find_asset(const char *path)
{
    for (size_t i = 0; i < web_assets_count; i++) {
        if (strcmp(web_assets[i].path, path) == 0)
            return &web_assets[i];
    }
    return NULL;
}

static bool etag_matches(const struct http_ctx *c, const char *etag)
{
    const char *inm = http_header(c, "If-None-Match");
    return inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

static void serve_asset(struct http_ctx *c, const struct web_asset *a, bool immutable)
{
    common_headers(c);
    http_add_header(c, "ETag", a->etag);
    http_add_header(c, "Cache-Control",
                    immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (strcmp(a->path, "index.html") == 0)
        http_add_header(c, "Content-Security-Policy", WEB_CSP);
    if (etag_matches(c, a->etag)) {
        web_send(c, 304, "Not Modified", NULL);
        return;
    }
    http_add_header(c, "Content-Type", a->content_type);
    struct evbuffer *b = evbuffer_new();
    if (b == NULL || evbuffer_add_reference(b, a->data, a->len, NULL, NULL) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        reply_text(c, 500, "Internal Server Error", "out of memory");
        return;
    }
    web_send(c, 200, "OK", b);
    evbuffer_free(b);
}

static void serve_ca(struct http_ctx *c)
{
    FILE *f = fopen(c->app->ca_path, "rb");
    char *buf = malloc(WEB_MAX_CA);
    size_t n = 0;
    if (f != NULL && buf != NULL)
        n = fread(buf, 1, WEB_MAX_CA, f);
    if (f != NULL)
        fclose(f);
    if (buf == NULL || n == 0 || n == WEB_MAX_CA) {
        free(buf);
        log_error("web: cannot read %s", c->app->ca_path);
        reply_text(c, 500, "Internal Server Error", "the CA certificate cannot be read");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    common_headers(c);
    http_add_header(c, "Content-Type", "application/x-pem-file");
    http_add_header(c, "Content-Disposition", "attachment; filename=\"iotc-ca.pem\"");
    http_add_header(c, "Cache-Control", "no-cache");
    if (b != NULL)
        evbuffer_add(b, buf, n);
    free(buf);
    web_send(c, 200, "OK", b);
    if (b != NULL)
        evbuffer_free(b);
}

/* What the Administration page shows. Group keys only for the administrator role. */
static void serve_application(struct http_ctx *c)
{
    const struct app *app = c->app;
    struct appl *a = app->appl;
    const char *why = "no token";
    char msg[300];

    if (a == NULL) {
        reply_error(c, 503, "Service Unavailable", "ServiceUnavailable",
                    "The application API is not running.");
        return;
    }
    enum appl_role role = appl_authenticate(a, http_header(c, "Authorization"), &why, NULL);
    if (role == ROLE_NONE) {
        snprintf(msg, sizeof msg, "Unauthorized: %s.", why);
        reply_error(c, 401, "Unauthorized", "Unauthorized", msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "idScope", app->facts.id_scope);
    cJSON_AddStringToObject(o, "hubHost", app->facts.hub_host);
    cJSON_AddStringToObject(o, "assignedHub", app->assigned_hub);
    cJSON_AddNumberToObject(o, "mqttsPort", app->mqtt_port);
    cJSON_AddNumberToObject(o, "httpsPort", app->https_port);
    cJSON_AddNumberToObject(o, "httpPort", app->http_port);
    cJSON_AddNumberToObject(o, "wssPort", app->wss_port); /* 0: WebSockets on httpsPort only */
    cJSON_AddStringToObject(o, "role", appl_role_name(role));
    if (role == ROLE_ADMIN) {
        cJSON *g = cJSON_AddObjectToObject(o, "enrollmentGroup");
        cJSON_AddStringToObject(g, "id", app->facts.group_id);
        cJSON_AddStringToObject(g, "primaryKey", app->facts.group_primary_key);
        cJSON_AddStringToObject(g, "secondaryKey", app->facts.group_secondary_key);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL) {
        reply_text(c, 500, "Internal Server Error", "out of memory");
        return;
    }
    common_headers(c);
    http_add_header(c, "Cache-Control", "no-store");
    http_add_header(c, "Content-Type", "application/json; charset=utf-8");
    struct evbuffer *b = evbuffer_new();
    if (b != NULL)
        evbuffer_add(b, text, strlen(text));
    free(text);
    web_send(c, 200, "OK", b);
    if (b != NULL)
        evbuffer_free(b);
}

static void serve_index(struct http_ctx *c)
{
    const struct web_asset *idx = find_asset("index.html");
    if (idx == NULL)
        reply_text(c, 404, "Not Found", "this build has no web UI");
    else
        serve_asset(c, idx, false);
}

/* /ui/<build>/<path...>: an old build id is a 404, never a stale file cached forever */
static void serve_file(struct http_ctx *c)
{
    char path[512];
    size_t o = 0;

    if (c->nseg < 3 || strcmp(c->seg[1], web_build_id) != 0) {
        reply_text(c, 404, "Not Found", "no such file (reload the page)");
        return;
    }
    for (size_t i = 2; i < c->nseg; i++) {
        size_t len = strlen(c->seg[i]);
        if (len == 0 || o + len + 2 > sizeof path || strcmp(c->seg[i], "..") == 0 ||
            strcmp(c->seg[i], ".") == 0 || strchr(c->seg[i], '/') != NULL) {
            reply_text(c, 404, "Not Found", "no such file");
            return;
        }
        if (o > 0)
            path[o++] = '/';
        memcpy(path + o, c->seg[i], len);
        o += len;
    }
    path[o] = '\0';
    const struct web_asset *a = find_asset(path);
    if (a == NULL || strcmp(a->path, "index.html") == 0) {
        reply_text(c, 404, "Not Found", "no such file");
        return;
    }
    serve_asset(c, a, true);
}

/* Everything here is read-only: any other method is refused before routing. */
static bool only_get(struct http_ctx *c)
{
    if (c->method == HTTP_GET)
        return true;
    http_add_header(c, "Allow", "GET");
    reply_text(c, 405, "Method Not Allowed", "only GET is allowed here");
    return false;
}

static void no_route(struct http_ctx *c, bool path_known)
{
    (void)path_known; /* unreachable: the site owns only its routes' paths, all GET */
    reply_text(c, 404, "Not Found", "no such file");
}

static const struct http_route routes[] = {
    {HTTP_GET, "/", serve_index, 0},
    {HTTP_GET, "/index.html", serve_index, 0},
    {HTTP_GET, "/ui/ca.pem", serve_ca, 0},
    {HTTP_GET, "/ui/api/application", serve_application, 0},
    {HTTP_GET, "/ui/{*path}", serve_file, 0},
};

const struct http_site web_site = {
    .name = "web",
    .scope = HTTP_SCOPE_ROUTES,
    .case_sensitive = true,
    .routes = routes,
    .n_routes = sizeof routes / sizeof routes[0],
    .gate = only_get,
    .no_route = no_route,
};
