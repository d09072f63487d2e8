/*
 * dtdl_util.c - arena, JSON paths, error recording and small typed readers for the importer.
 */
#include "dtdl/dtdl_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "iotc/common.h"

/* ---- arena ---- */

struct dtdl__block {
    struct dtdl__block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

#define BLOCK_SIZE 8192u

void *dtdl__alloc(struct dtdl_arena *a, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    if (n == 0)
        n = 16;
    struct dtdl__block *b = a->head;
    if (b == NULL || b->size - b->used < n) {
        size_t size = n > BLOCK_SIZE / 2 ? n : BLOCK_SIZE;
        if (size > SIZE_MAX - sizeof *b)
            return NULL;
        struct dtdl__block *nb = cJSON_malloc(sizeof *nb + size);
        if (nb == NULL)
            return NULL;
        nb->used = 0;
        nb->size = size;
        /* Keep the current block first when the new one is a one-off large allocation,
         * so its free space is not lost. */
        if (b != NULL && size > BLOCK_SIZE) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void dtdl__arena_release(struct dtdl_arena *a)
{
    struct dtdl__block *b = a->head;
    while (b != NULL) {
        struct dtdl__block *next = b->next;
        cJSON_free(b);
        b = next;
    }
    a->head = NULL;
}

void *dtdl__grow(struct dtdl__ctx *c, struct dtdl_arena *a, void *arr, size_t n, size_t *cap,
                 size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > SIZE_MAX / elem) {
        dtdl__oom(c);
        return NULL;
    }
    void *na = dtdl__alloc(a, ncap * elem);
    if (na == NULL) {
        dtdl__oom(c);
        return NULL;
    }
    if (n)
        memcpy(na, arr, n * elem);
    *cap = ncap;
    return na;
}

/* ---- paths ---- */

static void path_append(struct dtdl__ctx *c, const char *s, size_t n)
{
    if (c->plen + n >= sizeof c->path) /* absurdly deep: keep the head, drop the rest */
        n = sizeof c->path - 1 - c->plen;
    memcpy(c->path + c->plen, s, n);
    c->plen += n;
    c->path[c->plen] = '\0';
}

static bool is_ident_key(const char *k)
{
    if (*k == '\0')
        return false;
    for (const char *p = k; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '@' || ch == '$'))
            return false;
    }
    return true;
}

size_t dtdl__path_key(struct dtdl__ctx *c, const char *key)
{
    size_t old = c->plen;
    if (is_ident_key(key)) {
        path_append(c, ".", 1);
        path_append(c, key, strlen(key));
    } else {
        char q[96];
        path_append(c, "[", 1);
        dtdl__q(q, sizeof q, key);
        path_append(c, q, strlen(q));
        path_append(c, "]", 1);
    }
    return old;
}

size_t dtdl__path_idx(struct dtdl__ctx *c, size_t idx)
{
    size_t old = c->plen;
    char b[32];
    int n = snprintf(b, sizeof b, "[%zu]", idx);
    path_append(c, b, (size_t)n);
    return old;
}

void dtdl__path_set(struct dtdl__ctx *c, size_t len)
{
    if (len < sizeof c->path) {
        c->plen = len;
        c->path[len] = '\0';
    }
}

const char *dtdl__path_save(struct dtdl__ctx *c)
{
    char *p = dtdl__alloc(&c->scratch, c->plen + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, c->path, c->plen + 1);
    return p;
}

int dtdl__path_load(struct dtdl__ctx *c, const char *saved)
{
    int old = (int)c->plen;
    size_t n = strlen(saved);
    if (n >= sizeof c->path)
        n = sizeof c->path - 1;
    memcpy(c->path, saved, n);
    c->path[n] = '\0';
    c->plen = n;
    return old;
}

/* ---- arrays ---- */

int dtdl__array_len(struct dtdl__ctx *c, const cJSON *arr, const char *key, size_t limit,
                    const char *what, size_t *n)
{
    *n = 0;
    if (!cJSON_IsArray(arr))
        return dtdl__fail_key(c, key, "must be an array, not %s", dtdl__json_type(arr));
    *n = (size_t)cJSON_GetArraySize(arr);
    if (limit != 0 && *n > limit)
        return dtdl__fail_key(c, key, "has %zu %s, more than %zu", *n, what, limit);
    return 0;
}

int dtdl__array_each(struct dtdl__ctx *c, const cJSON *arr, const char *key, size_t n,
                     struct dtdl_arena *a, size_t size, void **items, dtdl__item_fn fn, void *arg)
{
    void *v = NULL;
    if (a != NULL && n && size) { /* a caller that allocates nothing passes no arena */
        v = dtdl__alloc(a, n * size);
        if (v == NULL)
            return dtdl__oom(c);
    }
    if (items != NULL)
        *items = v;
    size_t mark = dtdl__path_key(c, key);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        size_t m1 = dtdl__path_idx(c, i);
        int rc = fn(c, e, v, i, arg);
        if (rc < 0)
            return rc;
        dtdl__path_set(c, m1);
        i++;
    }
    dtdl__path_set(c, mark);
    return 0;
}

/* ---- errors ---- */

const char *dtdl__q(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
    const size_t limit = 48;
    if (cap < 8) {
        if (cap)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    size_t i = 0;
    for (; s[i] && o + 6 < cap && i < limit; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    if (s[i] && o + 5 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *dtdl__json_type(const cJSON *v)
{
    if (v == NULL)
        return "nothing";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "array";
    if (cJSON_IsObject(v))
        return "object";
    return "invalid value";
}

static int vfail(struct dtdl__ctx *c, int rc, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int vfail(struct dtdl__ctx *c, int rc, const char *fmt, va_list ap)
{
    if (c->rc != 0)
        return c->rc;
    c->rc = rc;
    if (c->err != NULL) {
        size_t cap = sizeof c->err->path;
        if (c->plen < cap) {
            memcpy(c->err->path, c->path, c->plen + 1);
        } else {
            /* keep the end: it names the element that failed */
            const char *tail = c->path + c->plen - (cap - 4);
            snprintf(c->err->path, cap, "...%s", tail);
        }
        vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
    }
    return rc;
}

int dtdl__fail(struct dtdl__ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, IOTC_E_MALFORMED, fmt, ap);
    va_end(ap);
    return rc;
}

int dtdl__fail_key(struct dtdl__ctx *c, const char *key, const char *fmt, ...)
{
    size_t mark = dtdl__path_key(c, key);
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, IOTC_E_MALFORMED, fmt, ap);
    va_end(ap);
    dtdl__path_set(c, mark);
    return rc;
}

int dtdl__oom(struct dtdl__ctx *c)
{
    if (c->rc != 0)
        return c->rc;
    c->rc = IOTC_E_NOMEM;
    if (c->err != NULL) {
        snprintf(c->err->path, sizeof c->err->path, "$");
        snprintf(c->err->message, sizeof c->err->message, "out of memory");
    }
    return IOTC_E_NOMEM;
}

/* ---- readers ---- */

/* DTDL v2 limits, in characters: displayName 64, description and comment 512. v1 files are
 * taken as IoT Central took them. */
static int text_limit(struct dtdl__ctx *c, const char *key, const char *at, const char *s)
{
    size_t max = strcmp(key, "displayName") == 0                                  ? 64
                 : strcmp(key, "description") == 0 || strcmp(key, "comment") == 0 ? 512
                                                                                  : 0;
    if (c->version != 2 || max == 0)
        return 0;
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0u) != 0x80u) /* count UTF-8 lead bytes, not continuation bytes */
            chars++;
    if (chars > max)
        return dtdl__fail_key(c, at, "is longer than %zu characters", max);
    return 0;
}

int dtdl__opt_string(struct dtdl__ctx *c, const cJSON *obj, const char *key, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return dtdl__fail_key(c, key, "must be a string, not %s", dtdl__json_type(v));
    *out = v->valuestring;
    return text_limit(c, key, key, v->valuestring);
}

int dtdl__opt_bool(struct dtdl__ctx *c, const cJSON *obj, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = false;
    if (v == NULL)
        return 0;
    if (!cJSON_IsBool(v))
        return dtdl__fail_key(c, key, "must be true or false, not %s", dtdl__json_type(v));
    *out = cJSON_IsTrue(v) != 0;
    return 0;
}

/* Localizable string: "text" or a JSON-LD language map {"en": "text", "fr": "..."}.
 * The chosen text is "en", then any "en-*", then the first entry. */
int dtdl__opt_text(struct dtdl__ctx *c, const cJSON *obj, const char *key, const char **out,
                   const cJSON **out_map)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (out_map != NULL)
        *out_map = NULL;
    if (v == NULL)
        return 0;
    if (cJSON_IsString(v) && v->valuestring != NULL) {
        *out = v->valuestring;
        return text_limit(c, key, key, v->valuestring);
    }
    if (!cJSON_IsObject(v))
        return dtdl__fail_key(c, key, "must be a string or a language map, not %s",
                              dtdl__json_type(v));
    const char *first = NULL, *en = NULL, *en_region = NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e) || e->valuestring == NULL || e->string == NULL) {
            size_t mark = dtdl__path_key(c, key);
            int rc =
                dtdl__fail_key(c, e->string ? e->string : "?",
                               "language map values must be strings, not %s", dtdl__json_type(e));
            dtdl__path_set(c, mark);
            return rc;
        }
        size_t mark = dtdl__path_key(c, key);
        int rc = text_limit(c, key, e->string, e->valuestring);
        dtdl__path_set(c, mark);
        if (rc < 0)
            return rc;
        if (first == NULL)
            first = e->valuestring;
        if (strcmp(e->string, "en") == 0)
            en = e->valuestring;
        else if (en_region == NULL && strncmp(e->string, "en-", 3) == 0)
            en_region = e->valuestring;
    }
    *out = en ? en : en_region ? en_region : first;
    if (out_map != NULL)
        *out_map = v;
    return 0;
}

/* DTDL v2 names: ^[a-zA-Z](?:[a-zA-Z0-9_]*[a-zA-Z0-9])?$, at most 64 characters.
 * DTDL v1 names: ^[a-zA-Z_][a-zA-Z0-9_]*$, at most 64 characters. */
static const char *name_problem(const char *s, int version)
{
    size_t n = strlen(s);
    if (n == 0)
        return "is empty";
    if (n > 64)
        return "is longer than 64 characters";
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        bool digit = ch >= '0' && ch <= '9';
        if (!alpha && !digit && ch != '_')
            return "may only contain letters, digits and '_'";
        if (i == 0 && !alpha && !(version == 1 && ch == '_'))
            return version == 1 ? "must start with a letter or '_'" : "must start with a letter";
    }
    if (version != 1 && s[n - 1] == '_')
        return "must not end with '_'";
    return NULL;
}

int dtdl__opt_docs(struct dtdl__ctx *c, const cJSON *obj, const char **display_name,
                   const cJSON **dn_map, const char **description, const char **comment)
{
    int rc = dtdl__opt_text(c, obj, "displayName", display_name, dn_map);
    if (rc == 0)
        rc = dtdl__opt_text(c, obj, "description", description, NULL);
    if (rc == 0 && comment != NULL)
        rc = dtdl__opt_string(c, obj, "comment", comment);
    return rc;
}

const char *dtdl__display_name_of(const cJSON *obj)
{
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(obj, "displayName");
    if (cJSON_IsObject(dn)) {
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(dn, "en");
        dn = en != NULL ? en : dn->child;
    }
    return cJSON_IsString(dn) ? dn->valuestring : NULL;
}

int dtdl__req_name(struct dtdl__ctx *c, const cJSON *obj, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "name");
    *out = NULL;
    if (v == NULL)
        return dtdl__fail(c, "missing \"name\"");
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return dtdl__fail_key(c, "name", "must be a string, not %s", dtdl__json_type(v));
    const char *why = name_problem(v->valuestring, c->version);
    if (why != NULL) {
        char q[64];
        return dtdl__fail_key(c, "name", "invalid name %s: %s",
                              dtdl__q(q, sizeof q, v->valuestring), why);
    }
    *out = v->valuestring;
    return 0;
}

static bool dtmi_segment(const char *s, size_t n)
{
    if (n == 0)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false; /* digits and '_' (system segments) are not allowed first */
    if (s[n - 1] == '_')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

/* User DTMI (DTDL v2): dtmi:<segment>(:<segment>)*;<version 1..999999999> */
bool dtdl__is_dtmi(const char *s, size_t max_len)
{
    size_t n = strlen(s);
    if (n > max_len || strncmp(s, "dtmi:", 5) != 0)
        return false;
    const char *semi = strrchr(s, ';');
    if (semi == NULL)
        return false;
    const char *ver = semi + 1;
    size_t vl = strlen(ver);
    if (vl == 0 || vl > 9 || ver[0] == '0')
        return false;
    for (size_t i = 0; i < vl; i++)
        if (ver[i] < '0' || ver[i] > '9')
            return false;
    const char *p = s + 5;
    while (p <= semi) {
        const char *end = p;
        while (end < semi && *end != ':')
            end++;
        if (!dtmi_segment(p, (size_t)(end - p)))
            return false;
        p = end + 1;
    }
    return true;
}

int dtdl__opt_id(struct dtdl__ctx *c, const cJSON *obj, bool required, size_t max_len,
                 const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "@id");
    *out = NULL;
    if (v == NULL)
        return required ? dtdl__fail(c, "missing \"@id\"") : 0;
    if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
        return dtdl__fail_key(c, "@id", "must be a non-empty string");
    /* v1 ids are URNs; the tutorial keeps placeholders like urn:<YOUR_COMPANY_NAME_HERE>:..,
     * which IoT Central's importer took as opaque text. Only v2 ids are checked. */
    if (c->version == 2 && !dtdl__is_dtmi(v->valuestring, max_len)) {
        char q[64];
        return dtdl__fail_key(c, "@id", "invalid DTMI %s (expected dtmi:<segments>;<version>%s)",
                              dtdl__q(q, sizeof q, v->valuestring),
                              strlen(v->valuestring) > max_len ? ", too long" : "");
    }
    *out = v->valuestring;
    return 0;
}

/* ---- @type ---- */

static const char *const dtdl_classes[] = {
    "Interface",
    "CapabilityModel",
    "InterfaceInstance",
    "Telemetry",
    "Property",
    "Command",
    "Component",
    "Relationship",
    "Object",
    "Enum",
    "Map",
    "Array",
    "Field",
    "EnumValue",
    "MapKey",
    "MapValue",
    "CommandPayload",
    "SchemaField",
    NULL,
};

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static int bad_type(struct dtdl__ctx *c, const char *t, const char *const *allowed)
{
    char q[64], exp[160];
    size_t o = 0;
    exp[0] = '\0';
    for (size_t i = 0; allowed[i] != NULL && o < sizeof exp; i++)
        o += (size_t)snprintf(exp + o, sizeof exp - o, "%s%s", i ? ", " : "", allowed[i]);
    return dtdl__fail_key(c, "@type", "unknown @type %s (expected %s)", dtdl__q(q, sizeof q, t),
                          exp);
}

int dtdl__read_types(struct dtdl__ctx *c, const cJSON *obj, const char *const *allowed,
                     bool required, struct dtdl__types *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "@type");
    if (t == NULL)
        return required ? dtdl__fail(c, "missing \"@type\"") : 0;
    if (cJSON_IsString(t) && t->valuestring != NULL) {
        if (!in_list(t->valuestring, allowed))
            return bad_type(c, t->valuestring, allowed);
        out->primary = t->valuestring;
        return 0;
    }
    if (!cJSON_IsArray(t))
        return dtdl__fail_key(c, "@type", "must be a string or an array of strings, not %s",
                              dtdl__json_type(t));
    const cJSON *e;
    const char *first = NULL;
    cJSON_ArrayForEach(e, t)
    {
        if (!cJSON_IsString(e) || e->valuestring == NULL || e->valuestring[0] == '\0')
            return dtdl__fail_key(c, "@type", "entries must be non-empty strings");
        const char *s = e->valuestring;
        if (first == NULL)
            first = s;
        if (in_list(s, allowed)) {
            if (out->primary != NULL) {
                char q1[64], q2[64];
                return dtdl__fail_key(c, "@type", "has both %s and %s",
                                      dtdl__q(q1, sizeof q1, out->primary),
                                      dtdl__q(q2, sizeof q2, s));
            }
            out->primary = s;
        } else if (in_list(s, dtdl_classes)) {
            char q[64];
            return dtdl__fail_key(c, "@type", "%s is not allowed here", dtdl__q(q, sizeof q, s));
        } else {
            out->has_cotype = true;
            /* IoT Central marks cloud properties with the co-type "Cloud" */
            if (strcmp(s, "Cloud") == 0)
                out->cloud = true;
            else if (out->semantic_type == NULL && strcmp(s, "Initialized") != 0 &&
                     strcmp(s, "Historized") != 0)
                out->semantic_type = s;
        }
    }
    if (out->primary == NULL) {
        if (first == NULL)
            return dtdl__fail_key(c, "@type", "is an empty array");
        return bad_type(c, first, allowed);
    }
    return 0;
}

bool dtdl__has_type(const cJSON *obj, const char *type)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "@type");
    if (cJSON_IsString(t))
        return t->valuestring != NULL && strcmp(t->valuestring, type) == 0;
    if (cJSON_IsArray(t)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, t)
        {
            if (cJSON_IsString(e) && e->valuestring != NULL && strcmp(e->valuestring, type) == 0)
                return true;
        }
    }
    return false;
}

int dtdl__check_keys(struct dtdl__ctx *c, const cJSON *obj, const char *const *allowed,
                     const struct dtdl__types *t)
{
    /* DTDL v2 "Undefined co-types and properties": an element may carry undefined properties
     * only when it also has an undefined co-type. v1 files are taken as IoT Central took them. */
    if (c->version != 2 || (t != NULL && t->has_cotype))
        return 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, obj)
    {
        if (e->string == NULL)
            continue;
        if (strcmp(e->string, "@id") == 0 || strcmp(e->string, "@type") == 0 ||
            strcmp(e->string, "@context") == 0 || strcmp(e->string, "comment") == 0 ||
            strcmp(e->string, "description") == 0 || strcmp(e->string, "displayName") == 0)
            continue;
        if (!in_list(e->string, allowed)) {
            char q[64];
            return dtdl__fail_key(c, e->string, "unknown property %s",
                                  dtdl__q(q, sizeof q, e->string));
        }
    }
    return 0;
}
