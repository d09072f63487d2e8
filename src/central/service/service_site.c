/*
 * service_site.c - the routes of the IoT Hub service API (service_http.h) and its gate: the
 * service-SAS check of the Authorization header (docs/PROTOCOL.md §6).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <iotc/codec.h>
#include <iotc/sas.h>

#include "central/base/log.h"
#include "central/service/service_http.h"

/* True when the decoded sr names this hub: its host, optionally with a ":port" suffix
 * (the SDK signs its HostName verbatim, and a local HostName carries the port). */
static bool sr_names_hub(const struct app *app, struct iotc_span sr)
{
    char buf[320];
    size_t len = 0, i;
    const char *host = app->facts.hub_host;
    size_t hlen = strlen(host);

    if (iotc_pct_decode(sr, buf, sizeof buf, &len) != IOTC_OK || len >= sizeof buf)
        return false;
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL)
        return false;
    if (strcasecmp(buf, host) == 0 || strcasecmp(buf, app->assigned_hub) == 0)
        return true;
    if (len < hlen + 2 || strncasecmp(buf, host, hlen) != 0 || buf[hlen] != ':')
        return false;
    for (i = hlen + 1; i < len; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return false;
    }
    return len - hlen - 1 <= 5;
}

/* Returns NULL when the Authorization header grants service access, else the reason. */
static const char *auth_failure(const struct http_ctx *c)
{
    const struct app *app = c->app;
    const char *h = http_header(c, "Authorization");
    struct iotc_sas_token tok;
    int rc;

    if (h == NULL || *h == '\0')
        return "the Authorization header is missing";
    if (iotc_sas_parse(iotc_span_from_cstr(h), &tok) != IOTC_OK)
        return "the Authorization header is not a SharedAccessSignature token";
    if (tok.skn.ptr == NULL)
        return "the token has no skn: a service policy token is required";
    if (!iotc_pct_equal(tok.skn, iotc_span_from_cstr(app->facts.service_policy)))
        return "unknown shared access policy (skn)";
    if (!sr_names_hub(app, tok.sr))
        return "the token's sr does not name this hub";
    rc = iotc_sas_verify(&tok, iotc_span_from_cstr(app->facts.service_key),
                         (uint64_t)(app_now_ms() / 1000));
    if (rc == IOTC_E_EXPIRED)
        return "the token has expired";
    if (rc != IOTC_OK)
        return "the token's signature does not verify";
    return NULL;
}

static bool gate(struct http_ctx *c)
{
    const char *why = auth_failure(c);
    if (why == NULL)
        return true;
    char peer[80];
    http_peer(c, peer, sizeof peer);
    log_warn("https: %s: authentication failed: %s", peer, why);
    http_reply_error(c, 401, "IotHubUnauthorizedAccess", "Unauthorized: %s", why);
    return false;
}

static void no_route(struct http_ctx *c, bool path_known)
{
    if (path_known)
        http_reply_error(c, 405, "MethodNotAllowed", "The method is not allowed on this resource.");
    else
        http_reply_error(c, 404, "NotFound", "No such resource.");
}

static const struct http_route routes[] = {
    {HTTP_GET, "/devices", service_device_list, 0},
    {HTTP_POST, "/devices", service_device_bulk, 0},
    {HTTP_POST, "/devices/query", service_device_query, 0},
    {HTTP_GET, "/devices/{id}", service_device_get, 0},
    {HTTP_PUT, "/devices/{id}", service_device_put, 0},
    {HTTP_DELETE, "/devices/{id}", service_device_delete, 0},
    {HTTP_POST, "/devices/{id}/messages/deviceBound", service_c2d_send, 0},
    {HTTP_GET, "/statistics/devices", service_device_stats, 0},
    {HTTP_GET, "/twins/{id}", service_twin_get, 0},
    {HTTP_PATCH, "/twins/{id}", service_twin_patch, 0},
    {HTTP_PUT, "/twins/{id}", service_twin_put, 0},
    {HTTP_POST, "/twins/{id}/methods", service_method_invoke, 0},
    {HTTP_GET, "/certificates", service_cert_list, 0},
    {HTTP_GET, "/certificates/{name}", service_cert_get, 0},
    {HTTP_PUT, "/certificates/{name}", service_cert_put, 0},
    {HTTP_DELETE, "/certificates/{name}", service_cert_delete, 0},
    {HTTP_POST, "/certificates/{name}/generateVerificationCode", service_cert_code, 0},
    {HTTP_POST, "/certificates/{name}/verify", service_cert_verify, 0},
};

const struct http_site service_site = {
    .name = "service",
    .scope = HTTP_SCOPE_ALL,
    .routes = routes,
    .n_routes = sizeof routes / sizeof routes[0],
    .gate = gate,
    .no_route = no_route,
};
