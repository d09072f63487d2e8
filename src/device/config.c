/* config.c - configuration parsing (see config.h) and the public iotc_config_* functions. */
#include "device/config.h"

#include <stdlib.h>
#include <string.h>

#include <iotc/client.h>

static int parse_port(const char *p, size_t n, uint16_t *out)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return IOTC_E_ARG;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return IOTC_E_ARG;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return IOTC_E_ARG;
    *out = (uint16_t)v;
    return IOTC_OK;
}

int iotc__endpoint_parse(struct iotc_span text, struct iotc_span *out_host, uint16_t *out_port,
                         bool *out_has_port)
{
    const char *s = text.ptr;
    size_t n = text.len;
    const char *colon;

    *out_port = 0;
    *out_has_port = false;
    if (s == NULL || n == 0 || memchr(s, '/', n) != NULL)
        return IOTC_E_ARG;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || close == s + 1)
            return IOTC_E_ARG;
        *out_host = (struct iotc_span){s + 1, (size_t)(close - s - 1)};
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest == 0)
            return IOTC_OK;
        if (close[1] != ':')
            return IOTC_E_ARG;
        *out_has_port = true;
        return parse_port(close + 2, rest - 1, out_port);
    }
    colon = memchr(s, ':', n);
    if (colon == NULL) {
        *out_host = text;
        return IOTC_OK;
    }
    if (colon == s || memchr(colon + 1, ':', n - (size_t)(colon - s) - 1) != NULL)
        return IOTC_E_ARG;
    *out_host = (struct iotc_span){s, (size_t)(colon - s)};
    *out_has_port = true;
    return parse_port(colon + 1, n - (size_t)(colon - s) - 1, out_port);
}

static bool name_is(struct iotc_span name, const char *lit)
{
    size_t n = strlen(lit);
    return name.len == n && memcmp(name.ptr, lit, n) == 0;
}

static int set_once(struct iotc_span *field, struct iotc_span value)
{
    if (field->ptr != NULL)
        return IOTC_E_MALFORMED;
    *field = value;
    return IOTC_OK;
}

int iotc__conn_str_parse(struct iotc_span text, struct iotc__conn_str *out)
{
    size_t pos = 0;
    int rc = IOTC_OK;

    memset(out, 0, sizeof(*out));
    while (text.ptr != NULL && pos < text.len) {
        const char *seg = text.ptr + pos;
        const char *semi = memchr(seg, ';', text.len - pos);
        size_t len = semi ? (size_t)(semi - seg) : text.len - pos;
        pos += len + 1;
        if (len == 0)
            continue;
        const char *eq = memchr(seg, '=', len);
        if (eq == NULL || eq == seg)
            return IOTC_E_MALFORMED;
        struct iotc_span name = {seg, (size_t)(eq - seg)};
        struct iotc_span value = {eq + 1, len - name.len - 1};
        if (name_is(name, "HostName"))
            rc = set_once(&out->host_name, value);
        else if (name_is(name, "DeviceId"))
            rc = set_once(&out->device_id, value);
        else if (name_is(name, "SharedAccessKey"))
            rc = set_once(&out->shared_access_key, value);
        else if (name_is(name, "ModuleId"))
            rc = set_once(&out->module_id, value);
        else if (name_is(name, "SharedAccessKeyName"))
            rc = set_once(&out->key_name, value);
        if (rc != IOTC_OK)
            return rc;
    }
    if (out->host_name.len == 0 || out->device_id.len == 0 || out->shared_access_key.len == 0)
        return IOTC_E_ARG;
    return IOTC_OK;
}

void iotc_config_init(struct iotc_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* Overwrite *field only when the variable is set and non-empty. */
static void env_set(const char **field, const char *name)
{
    const char *v = env_nonempty(name);
    if (v != NULL)
        *field = v;
}

/* The client certificate as the Azure samples name it (Python: X509_CERT_FILE, X509_KEY_FILE,
 * PASS_PHRASE; Embedded C: AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH, certificate and key in one
 * file). True when one is set. */
static bool env_x509(struct iotc_config *cfg)
{
    env_set(&cfg->cert_file, "AZ_IOT_DEVICE_X509_CERT_PEM_FILE_PATH");
    env_set(&cfg->cert_file, "X509_CERT_FILE");
    env_set(&cfg->key_file, "X509_KEY_FILE");
    env_set(&cfg->key_pass, "PASS_PHRASE");
    return cfg->cert_file != NULL;
}

/* IOTHUB_DEVICE_SECURITY_TYPE=x509: a hub without DPS, authenticated by the certificate. */
static int env_hub_x509(struct iotc_config *cfg)
{
    env_set(&cfg->hub_host, "AZ_IOT_HUB_HOSTNAME");
    env_set(&cfg->hub_host, "IOTHUB_HOSTNAME");
    env_set(&cfg->device_id, "AZ_IOT_HUB_DEVICE_ID");
    env_set(&cfg->device_id, "IOTHUB_DEVICE_ID");
    if (!env_x509(cfg) || cfg->hub_host == NULL || cfg->device_id == NULL)
        return IOTC_E_NOTFOUND;
    return IOTC_OK;
}

int iotc_config_from_env(struct iotc_config *cfg)
{
    const char *type = env_nonempty("IOTHUB_DEVICE_SECURITY_TYPE");
    const char *scope = env_nonempty("IOTHUB_DEVICE_DPS_ID_SCOPE");
    const char *conn = env_nonempty("IOTHUB_DEVICE_CONNECTION_STRING");
    bool dps;

    if (type != NULL) {
        if (strcmp(type, "DPS") == 0 || strcmp(type, "dps") == 0)
            dps = true;
        else if (strcmp(type, "connectionString") == 0 || strcmp(type, "connectionstring") == 0)
            dps = false;
        else if (strcmp(type, "x509") == 0 || strcmp(type, "X509") == 0) {
            env_set(&cfg->ca_file, "IOTC_CA_FILE");
            return env_hub_x509(cfg);
        } else
            return IOTC_E_ARG;
    } else {
        dps = scope != NULL || conn == NULL;
    }

    env_set(&cfg->ca_file, "IOTC_CA_FILE");
    if (!dps) {
        if (conn == NULL)
            return IOTC_E_NOTFOUND;
        cfg->connection_string = conn;
        return IOTC_OK;
    }
    if (scope == NULL)
        return IOTC_E_NOTFOUND;
    cfg->id_scope = scope;
    env_set(&cfg->registration_id, "IOTHUB_DEVICE_DPS_DEVICE_ID");
    env_set(&cfg->device_key, "IOTHUB_DEVICE_DPS_DEVICE_KEY");
    env_set(&cfg->group_key, "IOTC_GROUP_KEY");
    env_set(&cfg->dps_endpoint, "IOTHUB_DEVICE_DPS_ENDPOINT");
    (void)env_x509(cfg);
    return IOTC_OK;
}
