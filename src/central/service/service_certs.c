/*
 * service_certs.c - the application's CA certificates on the service API, shaped after IoT
 * Hub's certificate resources (docs/SERVICE_API.md "CA certificates"):
 *   GET    /certificates                                   {"value": [certificate...]}
 *   GET    /certificates/{name}
 *   PUT    /certificates/{name}                            {"properties": {"certificate"}}
 *   DELETE /certificates/{name}
 *   POST   /certificates/{name}/generateVerificationCode  -> properties.verificationCode
 *   POST   /certificates/{name}/verify                     {"certificate": proof}
 * A certificateAuthority device connects only with a chain to a verified CA (hub/x509.h).
 */
#include <stdio.h>
#include <string.h>

#include "central/base/log.h"
#include "central/hub/x509.h"
#include "central/service/service_http.h"

static cJSON *cert_json(const struct x509_ca_info *ca, const char *code)
{
    char tp[41], t[32];
    cJSON *o = cJSON_CreateObject();
    cJSON *p = cJSON_AddObjectToObject(o, "properties");
    size_t i;
    for (i = 0; i < 40; i++) /* IoT Hub shows the SHA-1 thumbprint in upper case */
        tp[i] =
            (char)(ca->facts.sha1[i] >= 'a' ? ca->facts.sha1[i] - 'a' + 'A' : ca->facts.sha1[i]);
    tp[40] = '\0';
    cJSON_AddStringToObject(o, "name", ca->name);
    cJSON_AddStringToObject(p, "subject", ca->facts.cn);
    app_format_time(ca->facts.not_after_s * 1000, t);
    cJSON_AddStringToObject(p, "expiry", t);
    cJSON_AddStringToObject(p, "thumbprint", tp);
    cJSON_AddStringToObject(p, "sha256Thumbprint", ca->facts.sha256);
    cJSON_AddBoolToObject(p, "isVerified", ca->verified);
    cJSON_AddStringToObject(p, "certificate", ca->pem);
    if (code != NULL)
        cJSON_AddStringToObject(p, "verificationCode", code);
    return o;
}

static void no_ca(struct http_ctx *c)
{
    http_reply_error(c, 404, "CertificateNotFound", "No CA certificate named %s.", c->seg[1]);
}

/* The enrollment groups' CA certificates share the store but are not the service API's. */
static bool not_found_if_group(struct http_ctx *c)
{
    if (!x509_ca_is_group(c->seg[1]))
        return false;
    no_ca(c);
    return true;
}

static bool get_ca(struct http_ctx *c, struct x509_ca_info *out)
{
    if (not_found_if_group(c))
        return false;
    if (x509_ca_get(c->app, c->seg[1], out))
        return true;
    no_ca(c);
    return false;
}

static void reply_ca(struct http_ctx *c, int status, const char *code)
{
    struct x509_ca_info ca;
    if (!get_ca(c, &ca))
        return;
    cJSON *o = cert_json(&ca, code);
    http_reply_json(c, status, o);
    cJSON_Delete(o);
}

void service_cert_list(struct http_ctx *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "value");
    struct x509_ca_info ca;
    for (size_t i = 0; x509_ca_at(c->app, i, &ca); i++)
        if (!x509_ca_is_group(ca.name))
            cJSON_AddItemToArray(arr, cert_json(&ca, NULL));
    http_reply_json(c, 200, o);
    cJSON_Delete(o);
}

void service_cert_get(struct http_ctx *c)
{
    reply_ca(c, 200, NULL);
}

/* The certificate text of {"properties": {"certificate"}} or {"certificate"}. */
static const char *body_cert(const cJSON *j)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "properties");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_IsObject(p) ? p : j, "certificate");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The body of a PUT or verify and its certificate text (NULL when there is none); NULL when the
 * request was answered already (a group's path, a body that is not JSON). */
static cJSON *cert_request(struct http_ctx *c, const char **text)
{
    if (not_found_if_group(c))
        return NULL;
    cJSON *j = http_body_json(c, false);
    if (j != NULL)
        *text = body_cert(j);
    return j;
}

void service_cert_put(struct http_ctx *c)
{
    const char *text = NULL;
    cJSON *j = cert_request(c, &text);
    if (j == NULL)
        return;
    int rc = text ? x509_ca_put(c->app, c->seg[1], text) : CE_INVALID;
    if (rc == CE_INVALID)
        http_reply_error(c, 400, "ArgumentInvalid",
                         "properties.certificate must be a certificate (PEM, base64 DER or "
                         "base64 PEM) and the name 1 to 128 of letters, digits, -, _ and .");
    else if (rc != CE_OK)
        http_reply_central_err(c, rc, c->seg[1]);
    else
        reply_ca(c, 200, NULL);
    cJSON_Delete(j);
}

void service_cert_delete(struct http_ctx *c)
{
    if (not_found_if_group(c))
        return;
    if (x509_ca_delete(c->app, c->seg[1]) != CE_OK)
        no_ca(c);
    else
        http_reply_empty(c, 204);
}

void service_cert_code(struct http_ctx *c)
{
    char code[X509_CODE_LEN + 1];
    if (not_found_if_group(c))
        return;
    if (x509_ca_new_code(c->app, c->seg[1], code) != CE_OK) {
        no_ca(c);
        return;
    }
    reply_ca(c, 200, code);
}

void service_cert_verify(struct http_ctx *c)
{
    const char *why = NULL, *text = NULL;
    cJSON *j = cert_request(c, &text);
    if (j == NULL)
        return;
    int rc = text ? x509_ca_verify(c->app, c->seg[1], text, &why) : CE_INVALID;
    if (rc == CE_NOTFOUND) {
        no_ca(c);
    } else if (rc != CE_OK) {
        log_warn("x509: proof of possession for CA %s refused: %s", LOG_STR(c->seg[1]),
                 why ? why : "no certificate in the body");
        http_reply_error(c, 400, "CertificateVerificationFailed", "Verification failed: %s.",
                         why ? why : "the body has no certificate");
    } else {
        reply_ca(c, 200, NULL);
    }
    cJSON_Delete(j);
}
