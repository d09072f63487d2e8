/*
 * capi_attestation.c - GET/PUT /api/devices/{id}/attestation (IoT Central 2022-07-31):
 *   {"type": "symmetricKey", "symmetricKey": {"primaryKey", "secondaryKey"}}
 *   {"type": "x509", "x509": {"clientCertificates": {"primary": {"certificate"},
 *                                                    "secondary": {"certificate"}}}}
 * An x509 attestation with client certificates makes the device selfSigned with their SHA-1
 * thumbprints; answers show each certificate's info.sha1Thumbprint. Certificates come as PEM,
 * base64 DER or base64 of PEM (hub/x509.h x509_parse()). An x509 attestation without client
 * certificates (iotc) makes the device certificateAuthority: a certificate whose chain leads to a
 * verified CA and whose CN is the device id.
 */
#include <string.h>

#include <openssl/x509.h>

#include "central/api/capi_int.h"
#include "central/hub/registry.h"
#include "central/hub/x509.h"

#define MAX_BODY (128 * 1024)

static void add_cert(cJSON *certs, const char *slot, const char *thumb)
{
    if (thumb[0] == '\0')
        return;
    cJSON *o = cJSON_AddObjectToObject(certs, slot);
    cJSON *info = cJSON_AddObjectToObject(o, "info");
    cJSON_AddStringToObject(info, strlen(thumb) == 40 ? "sha1Thumbprint" : "sha256Thumbprint",
                            thumb);
}

cJSON *capi_attestation_json(const struct device *dev)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (dev->auth_type == AUTH_TYPE_SAS) {
        cJSON_AddStringToObject(o, "type", "symmetricKey");
        cJSON *k = cJSON_AddObjectToObject(o, "symmetricKey");
        cJSON_AddStringToObject(k, "primaryKey", dev->primary_key);
        cJSON_AddStringToObject(k, "secondaryKey", dev->secondary_key);
        return o;
    }
    cJSON_AddStringToObject(o, "type", "x509");
    cJSON *x = cJSON_AddObjectToObject(o, "x509");
    if (dev->auth_type == AUTH_TYPE_SELF_SIGNED) {
        cJSON *certs = cJSON_AddObjectToObject(x, "clientCertificates");
        add_cert(certs, "primary", dev->thumb_primary);
        add_cert(certs, "secondary", dev->thumb_secondary);
    }
    return o;
}

void capi_attestation(struct http_ctx *c)
{
    struct appl_device *d;
    struct device *dev = capi_device(c, c->app->appl, &d);
    if (dev == NULL)
        return;
    if (c->method == HTTP_GET) {
        capi_reply(c, 200, capi_attestation_json(dev));
        return;
    }
    cJSON *body = capi_body(c, MAX_BODY);
    if (body == NULL)
        return;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(body, "type");
    struct device_update upd = {.status = -1};
    struct device_x509 x = {AUTH_TYPE_SAS, NULL, NULL};
    char sha1[2][41] = {"", ""};
    const char *bad = NULL;
    if (cJSON_IsString(type) && strcmp(type->valuestring, "symmetricKey") == 0) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(body, "symmetricKey");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(k, "primaryKey");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(k, "secondaryKey");
        upd.primary_key = cJSON_IsString(p) ? p->valuestring : "";
        upd.secondary_key = cJSON_IsString(s) ? s->valuestring : "";
    } else if (cJSON_IsString(type) && strcmp(type->valuestring, "x509") == 0) {
        const cJSON *certs = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(body, "x509"), "clientCertificates");
        static const char *const slots[2] = {"primary", "secondary"};
        x.type = certs != NULL ? AUTH_TYPE_SELF_SIGNED : AUTH_TYPE_CA;
        for (int i = 0; i < 2 && certs != NULL && bad == NULL; i++) {
            const cJSON *slot = cJSON_GetObjectItemCaseSensitive(certs, slots[i]);
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(slot, "certificate");
            if (slot == NULL || cJSON_IsNull(slot))
                continue;
            X509 *cert = cJSON_IsString(text) ? x509_parse(text->valuestring) : NULL;
            struct x509_facts f;
            if (cert == NULL || x509_facts_of(cert, &f) < 0)
                bad = slots[i];
            else
                memcpy(sha1[i], f.sha1, sizeof f.sha1);
            X509_free(cert);
        }
        if (bad == NULL && x.type == AUTH_TYPE_SELF_SIGNED && sha1[0][0] == '\0')
            bad = "primary";
        x.primary = sha1[0];
        x.secondary = sha1[1];
        upd.x509 = &x;
    } else {
        capi_error(c, 400, "InvalidBody", "type must be \"symmetricKey\" or \"x509\".");
        cJSON_Delete(body);
        return;
    }
    cJSON_Delete(body);
    if (bad != NULL) {
        capi_error(c, 400, "InvalidBody",
                   "x509.clientCertificates.%s.certificate must be a certificate (PEM, base64 DER "
                   "or base64 of PEM).",
                   bad);
        return;
    }
    if (upd.x509 == NULL) /* back to keys */
        upd.x509 = &x;
    int rc = registry_update(c->app, dev, &upd);
    if (rc == CE_INVALID) {
        capi_error(c, 400, "InvalidBody", "symmetricKey keys must be base64 of 16 to 64 bytes.");
        return;
    }
    if (rc != CE_OK) {
        capi_error_ce(c, rc, "attestation");
        return;
    }
    capi_reply(c, 200, capi_attestation_json(dev));
}
