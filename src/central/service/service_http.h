/*
 * service_http.h - the IoT Hub service REST API over HTTPS (docs/PROTOCOL.md §6), for the official
 * `azure-iothub` SDK and for our own tools.
 *
 * main.c adds service_site to the HTTP server (http_server.h) after the other sites: it owns
 * every request they do not. Loop thread only.
 *
 * Endpoints (paths relative to https://{hub}:{https_port}; any api-version is accepted):
 *   PUT    /devices/{id}                 create (no If-Match) or update (If-Match: etag or "*")
 *   GET    /devices/{id}                 device identity JSON
 *   GET    /devices[/][?top=N]           JSON array of devices (N 1..1000, default 1000)
 *   POST   /devices                      bulk create/update/delete (see service_bulk.c)
 *   DELETE /devices/{id}                 204; If-Match optional
 *   POST   /devices/query                {"query":"SELECT * FROM devices [WHERE ...]"} or
 *                                        SELECT COUNT() AS n ...; x-ms-max-item-count and
 *                                        x-ms-continuation paging (see service_query.c)
 *   GET    /statistics/devices           totalDeviceCount, enabledDeviceCount,
 *                                        disabledDeviceCount
 *   GET    /twins/{id}                   full twin (deviceId, etag, tags, properties, ...)
 *   PATCH  /twins/{id}                   merge tags / properties.desired; If-Match etag or "*"
 *   PUT    /twins/{id}                   replace tags / properties.desired; If-Match etag or "*"
 *   POST   /twins/{id}/methods           direct method: 200 {"status","payload"}, 404 (404103),
 *                                        504 (504101)
 *   POST   /devices/{id}/messages/deviceBound
 *                                        our own cloud-to-device send (the SDK uses AMQP for
 *                                        this): body = payload; headers iothub-messageid,
 *                                        iothub-correlationid, iothub-userid, iothub-contenttype,
 *                                        iothub-contentencoding, iothub-ack, iothub-ttl (seconds),
 *                                        iothub-app-{name}: {value}; 204 + iothub-messageid.
 * Authorization: `SharedAccessSignature sr={hub host[:port]}&sig=...&se=...&skn=iothubowner`
 * signed with the service policy key. Errors: `{"Message":"ErrorCode:{Code};{text}",
 * "ExceptionMessage":"Tracking ID:..."}` with header `iothub-errorcode: {Code}`.
 */
#ifndef CENTRAL_SERVICE_HTTP_H
#define CENTRAL_SERVICE_HTTP_H

#include "central/base/app.h"
#include "central/http/http_server.h"
#include "central/hub/registry.h"

/** The routes of this API, behind the service SAS check (service_site.c). */
extern const struct http_site service_site;

/** What a device JSON body asks for (service_devices.c); NULL / -1 = not given. */
struct service_dev_body {
    const char *primary_key; /**< borrowed from the parsed JSON */
    const char *secondary_key;
    int status; /**< DEVICE_ENABLED / DEVICE_DISABLED / -1 */
    const char *status_reason;
    bool has_auth;           /**< authentication.type (or thumbprints) given: x509 applies */
    struct device_x509 x509; /**< the authentication type and thumbprints (borrowed) */
};

/**
 * Validate a device identity JSON object. @p id_field names the member that, when present,
 * must equal @p id ("deviceId" for PUT /devices, "id" for bulk). Unknown members are ignored.
 * @return CE_OK, or CE_INVALID with a message for the client in @p err.
 */
int service_parse_device(const cJSON *j, const char *id_field, const char *id,
                         struct service_dev_body *out, char *err, size_t size);

struct device;

/**
 * Create (@p create) or update the device @p id as @p b asks; logs the change.
 * @return CE_OK (*out_dev set when non-NULL), CE_EXISTS, CE_NOTFOUND, CE_INVALID, CE_NOMEM.
 */
int service_apply_device(struct app *app, const char *id, const struct service_dev_body *b,
                         bool create, struct device **out_dev);

/* Handlers (service_*.c). Each replies or goes async; c->seg[] holds the route's segments. */
void service_device_put(struct http_ctx *c);
void service_device_get(struct http_ctx *c);
void service_device_list(struct http_ctx *c);
void service_device_delete(struct http_ctx *c);
void service_device_stats(struct http_ctx *c);
void service_device_query(struct http_ctx *c);
void service_device_bulk(struct http_ctx *c);
void service_twin_get(struct http_ctx *c);
void service_twin_patch(struct http_ctx *c);
void service_twin_put(struct http_ctx *c);
void service_method_invoke(struct http_ctx *c);
void service_c2d_send(struct http_ctx *c);
/* service_certs.c: the application's CA certificates */
void service_cert_list(struct http_ctx *c);
void service_cert_get(struct http_ctx *c);
void service_cert_put(struct http_ctx *c);
void service_cert_delete(struct http_ctx *c);
void service_cert_code(struct http_ctx *c);
void service_cert_verify(struct http_ctx *c);

#endif /* CENTRAL_SERVICE_HTTP_H */
