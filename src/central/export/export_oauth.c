/*
 * export_oauth.c - webhook@v1 `oauth` authorization, the pure part (see export_oauth.h).
 */
#include "central/export/export_oauth.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "central/export/export_fmt.h"

static const cJSON *member(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

int export_oauth_check(const cJSON *auth, char *err, size_t n)
{
    const cJSON *url = member(auth, "tokenUrl");
    if (url == NULL || cJSON_IsNull(url))
        return export_fail(err, n, "authorization.tokenUrl: required for oauth");
    if (!cJSON_IsString(url) || !export_url_ok(url->valuestring))
        return export_fail(err, n,
                           "authorization.tokenUrl: not an absolute http:// or https:// URL");
    static const char *const required[] = {"clientId", "clientSecret"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = member(auth, required[i]);
        if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
            return export_fail(err, n, "authorization.%s: a non-empty string is required for oauth",
                               required[i]);
        if (strlen(v->valuestring) > 4096)
            return export_fail(err, n, "authorization.%s: longer than 4096 characters",
                               required[i]);
    }
    static const char *const optional[] = {"audience", "scope"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = member(auth, optional[i]);
        if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v))
            return export_fail(err, n, "authorization.%s: a string", optional[i]);
        if (cJSON_IsString(v) && strlen(v->valuestring) > 4096)
            return export_fail(err, n, "authorization.%s: longer than 4096 characters",
                               optional[i]);
    }
    const cJSON *rt = member(auth, "requestType");
    if (rt != NULL && !cJSON_IsNull(rt) &&
        (!cJSON_IsString(rt) ||
         (strcmp(rt->valuestring, "auto") != 0 && strcmp(rt->valuestring, "json") != 0 &&
          strcmp(rt->valuestring, "urlencoded") != 0)))
        return export_fail(err, n, "authorization.requestType: one of auto, json, urlencoded");
    return 0;
}

/* application/x-www-form-urlencoded value: unreserved characters as they are, the rest %XX. */
static size_t form_escape(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    return o;
}

char *export_oauth_request_body(const cJSON *auth, const char **content_type)
{
    static const char *const names[] = {"client_id", "client_secret", "audience", "scope"};
    static const char *const fields[] = {"clientId", "clientSecret", "audience", "scope"};
    const cJSON *rt = member(auth, "requestType");
    if (cJSON_IsString(rt) && strcmp(rt->valuestring, "json") == 0) {
        *content_type = "application/json";
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || cJSON_AddStringToObject(o, "grant_type", "client_credentials") == NULL) {
            cJSON_Delete(o);
            return NULL;
        }
        for (size_t i = 0; i < 4; i++) {
            const cJSON *v = member(auth, fields[i]);
            if (cJSON_IsString(v) && v->valuestring[0] != '\0' &&
                cJSON_AddStringToObject(o, names[i], v->valuestring) == NULL) {
                cJSON_Delete(o);
                return NULL;
            }
        }
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return text;
    }
    *content_type = "application/x-www-form-urlencoded";
    size_t cap = sizeof "grant_type=client_credentials";
    for (size_t i = 0; i < 4; i++) {
        const cJSON *v = member(auth, fields[i]);
        if (cJSON_IsString(v))
            cap += strlen(names[i]) + 2 + 3 * strlen(v->valuestring);
    }
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t o = (size_t)snprintf(out, cap, "grant_type=client_credentials");
    for (size_t i = 0; i < 4; i++) {
        const cJSON *v = member(auth, fields[i]);
        if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
            continue;
        o += (size_t)snprintf(out + o, cap - o, "&%s=", names[i]);
        o += form_escape(out + o, v->valuestring);
    }
    out[o] = '\0';
    return out;
}

int export_oauth_parse_token(const char *body, size_t len, char *header, size_t header_size,
                             int64_t *expires_in_s, char *err, size_t n)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return export_fail(err, n, "the token answer is not a JSON object");
    }
    const cJSON *tok = member(o, "access_token"), *type = member(o, "token_type");
    const cJSON *exp = member(o, "expires_in");
    int rc = 0;
    if (!cJSON_IsString(tok) || tok->valuestring[0] == '\0')
        rc = export_fail(err, n, "the token answer has no access_token");
    else if (type != NULL && (!cJSON_IsString(type) || type->valuestring[0] == '\0'))
        rc = export_fail(err, n, "the token answer's token_type is not a string");
    const char *t = rc == 0 && cJSON_IsString(type) ? type->valuestring : "Bearer";
    if (rc == 0 && strcasecmp(t, "bearer") == 0)
        t = "Bearer";
    /* the token goes into a header line: printable ASCII only, no spaces in the type */
    for (const char *p = rc == 0 ? tok->valuestring : ""; rc == 0 && *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            rc = export_fail(err, n,
                             "the token answer's access_token has a character not allowed in "
                             "a header");
    }
    for (const char *p = rc == 0 ? t : ""; rc == 0 && *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            rc = export_fail(err, n, "the token answer's token_type is not a token");
    }
    double secs = 3600;
    if (rc == 0 && cJSON_IsNumber(exp))
        secs = exp->valuedouble;
    else if (rc == 0 && cJSON_IsString(exp))
        secs = strtod(exp->valuestring, NULL);
    if (rc == 0 && exp != NULL && !(isfinite(secs) && secs > 0 && secs < 1e9))
        rc = export_fail(err, n, "the token answer's expires_in is not a positive number");
    if (rc == 0 &&
        (size_t)snprintf(header, header_size, "%s %s", t, tok->valuestring) >= header_size)
        rc = export_fail(err, n, "the token answer's access_token is too long");
    if (rc == 0)
        *expires_in_s = secs < 1 ? 1 : (int64_t)secs;
    cJSON_Delete(o);
    return rc;
}

int64_t export_oauth_use_ms(int64_t expires_in_s)
{
    int64_t life = expires_in_s * 1000;
    int64_t margin = life / 10 < 60000 ? life / 10 : 60000;
    return life - margin < 1000 ? 1000 : life - margin;
}
