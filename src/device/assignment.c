/* assignment.c - the cached DPS assignment (see assignment.h). */
#include "device/assignment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iotc/codec.h>

#include "device/alloc.h"
#include "device/client_int.h"

#define MAGIC "iotc-dps-assignment 1"
#define FILE_MAX 2048

static bool value_ok(struct iotc_span v)
{
    if (v.ptr == NULL || v.len == 0)
        return false;
    for (size_t i = 0; i < v.len; i++)
        if ((unsigned char)v.ptr[i] <= ' ' || v.ptr[i] == 0x7f)
            return false;
    return true;
}

int iotc__assignment_format(const struct iotc__assignment *a, char *out, size_t cap,
                            size_t *out_len)
{
    if (!value_ok(a->scope) || !value_ok(a->registration_id) || !value_ok(a->hub_host) ||
        !value_ok(a->device_id) || a->hub_port == 0)
        return IOTC_E_ARG;
    int n = snprintf(out, cap,
                     MAGIC "\nscope %.*s\nregistration %.*s\nhub %.*s\nport %u\ndevice %.*s\n",
                     (int)a->scope.len, a->scope.ptr, (int)a->registration_id.len,
                     a->registration_id.ptr, (int)a->hub_host.len, a->hub_host.ptr,
                     (unsigned)a->hub_port, (int)a->device_id.len, a->device_id.ptr);
    if (n < 0)
        return IOTC_E_ARG;
    *out_len = (size_t)n + 1;
    return (size_t)n < cap ? IOTC_OK : IOTC_E_NOSPACE;
}

static bool key_is(struct iotc_span key, const char *name)
{
    return iotc_span_eq(key, iotc_span_from_cstr(name));
}

/* One field: "key value" lines after the magic line. */
static int set_field(struct iotc_span *dst, struct iotc_span v)
{
    if (dst->ptr != NULL || !value_ok(v))
        return IOTC_E_MALFORMED;
    *dst = v;
    return IOTC_OK;
}

int iotc__assignment_parse(struct iotc_span text, struct iotc__assignment *out)
{
    struct iotc_span port = {0};
    size_t magic = sizeof MAGIC - 1;

    memset(out, 0, sizeof *out);
    if (text.ptr == NULL || text.len <= magic || memcmp(text.ptr, MAGIC, magic) != 0 ||
        text.ptr[magic] != '\n')
        return IOTC_E_MALFORMED;
    const char *p = text.ptr + magic + 1, *end = text.ptr + text.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return IOTC_E_MALFORMED; /* a cut-off last line */
        const char *sp = memchr(p, ' ', (size_t)(nl - p));
        if (sp == NULL)
            return IOTC_E_MALFORMED;
        struct iotc_span key = {p, (size_t)(sp - p)}, v = {sp + 1, (size_t)(nl - sp - 1)};
        struct iotc_span *dst = key_is(key, "scope")          ? &out->scope
                                : key_is(key, "registration") ? &out->registration_id
                                : key_is(key, "hub")          ? &out->hub_host
                                : key_is(key, "port")         ? &port
                                : key_is(key, "device")       ? &out->device_id
                                                              : NULL;
        if (dst != NULL && set_field(dst, v) != IOTC_OK)
            return IOTC_E_MALFORMED;
        p = nl + 1; /* unknown keys: ignored (a later version may add some) */
    }
    unsigned long n = 0;
    for (size_t i = 0; i < port.len; i++) {
        if (port.ptr[i] < '0' || port.ptr[i] > '9' || n > 65535)
            return IOTC_E_MALFORMED;
        n = n * 10 + (unsigned long)(port.ptr[i] - '0');
    }
    if (out->scope.ptr == NULL || out->registration_id.ptr == NULL || out->hub_host.ptr == NULL ||
        out->device_id.ptr == NULL || n == 0 || n > 65535)
        return IOTC_E_MALFORMED;
    out->hub_port = (uint16_t)n;
    return IOTC_OK;
}

void iotc__assignment_load(struct iotc_client *c)
{
    char buf[FILE_MAX];
    struct iotc__assignment a;
    FILE *f = fopen(c->assignment_file, "r");
    if (f == NULL)
        return;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n == sizeof buf || iotc__assignment_parse((struct iotc_span){buf, n}, &a) != IOTC_OK) {
        iotc__log(c, IOTC_LOG_WARN, "%s is not a DPS assignment file: provisioning",
                  c->assignment_file);
        return;
    }
    if (!iotc_span_eq(a.scope, iotc_span_from_cstr(c->id_scope)) ||
        !iotc_span_eq(a.registration_id, iotc_span_from_cstr(c->registration_id)))
        return; /* another device's */
    char *host = iotc__strndup(a.hub_host.ptr, a.hub_host.len);
    char *dev = iotc__strndup(a.device_id.ptr, a.device_id.len);
    if (host == NULL || dev == NULL) {
        free(host);
        free(dev);
        return;
    }
    free(c->hub_host);
    free(c->device_id);
    c->hub_host = host;
    c->device_id = dev;
    c->hub_port = a.hub_port;
    c->assignment_cached = true;
    iotc__log(c, IOTC_LOG_INFO, "using the cached DPS assignment: device %s on hub %s:%u", dev,
              host, (unsigned)a.hub_port);
}

void iotc__assignment_save(struct iotc_client *c)
{
    char buf[FILE_MAX], tmp[4096];
    size_t n;
    struct iotc__assignment a = {
        .scope = iotc_span_from_cstr(c->id_scope),
        .registration_id = iotc_span_from_cstr(c->registration_id),
        .hub_host = iotc_span_from_cstr(c->hub_host),
        .device_id = iotc_span_from_cstr(c->device_id),
        .hub_port = c->hub_port,
    };
    if (iotc__assignment_format(&a, buf, sizeof buf, &n) != IOTC_OK ||
        snprintf(tmp, sizeof tmp, "%s.tmp", c->assignment_file) >= (int)sizeof tmp) {
        iotc__log(c, IOTC_LOG_WARN, "cannot record the DPS assignment in %s", c->assignment_file);
        return;
    }
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL && fwrite(buf, 1, n - 1, f) == n - 1;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, c->assignment_file) != 0) {
        iotc__log(c, IOTC_LOG_WARN, "cannot write the DPS assignment to %s", c->assignment_file);
        unlink(tmp);
    }
}
