/*
 * export_fmt.c - export message formats, filter, definition checks, retry policy (pure; see
 * export_fmt.h and docs/EXPORT.md).
 */
#include "central/export/export_fmt.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "central/base/app.h"
#include "central/export/export_oauth.h"
#include "iotc/json.h"

static const char *const source_names[EXPORT_SRC_COUNT] = {
    "telemetry", "properties", "deviceConnectivity", "deviceLifecycle", "deviceTemplateLifecycle"};

const char *export_source_name(enum export_source s)
{
    return (unsigned)s < EXPORT_SRC_COUNT ? source_names[s] : "unknown";
}

int export_source_parse(const char *s, enum export_source *out)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < EXPORT_SRC_COUNT; i++) {
        if (strcmp(s, source_names[i]) == 0) {
            *out = (enum export_source)i;
            return 0;
        }
    }
    if (strcmp(s, "propertyChanges") == 0) {
        *out = EXPORT_SRC_PROPERTIES;
        return 0;
    }
    return -1;
}

int export_fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err != NULL && n > 0)
        vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---------------------------------------------------------------- filter */

struct lex {
    const char *s;
    size_t pos;
};

static void skip_ws(struct lex *lx)
{
    while (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t' || lx->s[lx->pos] == '\r' ||
           lx->s[lx->pos] == '\n')
        lx->pos++;
}

/* A keyword (case-insensitive) followed by a space or the end. */
static bool keyword(struct lex *lx, const char *kw)
{
    size_t n = strlen(kw);
    skip_ws(lx);
    if (strncasecmp(lx->s + lx->pos, kw, n) != 0)
        return false;
    char next = lx->s[lx->pos + n];
    if (next != '\0' && next != ' ' && next != '\t' && next != '\r' && next != '\n')
        return false;
    lx->pos += n;
    return true;
}

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == '$' ||
           (!first && (isdigit((unsigned char)c) || c == '.'));
}

static int parse_cond(struct lex *lx, struct export_cond *c, char *err, size_t n)
{
    skip_ws(lx);
    size_t start = lx->pos;
    while (name_char(lx->s[lx->pos], lx->pos == start))
        lx->pos++;
    size_t len = lx->pos - start;
    if (len == 0)
        return export_fail(err, n, "filter: expected a field name at offset %zu", start);
    if (len >= sizeof c->name)
        return export_fail(err, n, "filter: field name at offset %zu is too long", start);
    memcpy(c->name, lx->s + start, len);
    c->name[len] = '\0';
    skip_ws(lx);
    const char *p = lx->s + lx->pos;
    if (strncmp(p, "!=", 2) == 0 || strncmp(p, "<>", 2) == 0) {
        c->op = EXPORT_OP_NE;
        lx->pos += 2;
    } else if (strncmp(p, "<=", 2) == 0) {
        c->op = EXPORT_OP_LE;
        lx->pos += 2;
    } else if (strncmp(p, ">=", 2) == 0) {
        c->op = EXPORT_OP_GE;
        lx->pos += 2;
    } else if (*p == '<' || *p == '>' || *p == '=') {
        c->op = *p == '<' ? EXPORT_OP_LT : *p == '>' ? EXPORT_OP_GT : EXPORT_OP_EQ;
        lx->pos++;
    } else {
        return export_fail(err, n, "filter: expected a comparison operator at offset %zu", lx->pos);
    }
    skip_ws(lx);
    p = lx->s + lx->pos;
    if (*p == '\'' || *p == '"') {
        char q = *p;
        size_t i = 0;
        lx->pos++;
        while (lx->s[lx->pos] != q) {
            if (lx->s[lx->pos] == '\0')
                return export_fail(err, n, "filter: unterminated string at offset %zu",
                                   (size_t)(p - lx->s));
            if (i + 1 >= sizeof c->str)
                return export_fail(err, n, "filter: string at offset %zu is too long",
                                   (size_t)(p - lx->s));
            c->str[i++] = lx->s[lx->pos++];
        }
        c->str[i] = '\0';
        lx->pos++;
        c->kind = EXPORT_LIT_STR;
        return 0;
    }
    if (keyword(lx, "true") || keyword(lx, "false")) {
        c->kind = EXPORT_LIT_BOOL;
        c->b =
            lx->s[lx->pos - 1] == 'e' && (lx->s[lx->pos - 2] == 'u' || lx->s[lx->pos - 2] == 'U');
        return 0;
    }
    char *end = NULL;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v))
        return export_fail(err, n, "filter: expected a number, string, true or false at offset %zu",
                           lx->pos);
    c->num = v;
    c->kind = EXPORT_LIT_NUM;
    lx->pos += (size_t)(end - p);
    return 0;
}

int export_filter_parse(const char *text, struct export_filter *out, char *err, size_t err_size)
{
    struct lex lx = {.s = text, .pos = 0};
    memset(out, 0, sizeof *out);
    if (text == NULL)
        return export_fail(err, err_size, "filter: missing");
    if (!keyword(&lx, "SELECT"))
        return export_fail(err, err_size, "filter: expected SELECT at offset %zu", lx.pos);
    skip_ws(&lx);
    if (lx.s[lx.pos] != '*')
        return export_fail(err, err_size, "filter: expected * at offset %zu", lx.pos);
    lx.pos++;
    if (!keyword(&lx, "FROM"))
        return export_fail(err, err_size, "filter: expected FROM at offset %zu", lx.pos);
    skip_ws(&lx);
    size_t start = lx.pos;
    while (lx.s[lx.pos] != '\0' && !isspace((unsigned char)lx.s[lx.pos]))
        lx.pos++;
    size_t len = lx.pos - start;
    if (len == 0)
        return export_fail(err, err_size, "filter: expected a device template id at offset %zu",
                           start);
    if (len >= sizeof out->template_id)
        return export_fail(err, err_size, "filter: the device template id is too long");
    memcpy(out->template_id, text + start, len);
    out->template_id[len] = '\0';
    skip_ws(&lx);
    if (lx.s[lx.pos] == '\0')
        return 0;
    if (!keyword(&lx, "WHERE"))
        return export_fail(err, err_size, "filter: expected WHERE or the end at offset %zu",
                           lx.pos);
    do {
        if (out->n == EXPORT_FILTER_MAX_CONDS)
            return export_fail(err, err_size, "filter: more than %d conditions",
                               EXPORT_FILTER_MAX_CONDS);
        if (parse_cond(&lx, &out->cond[out->n], err, err_size) < 0)
            return -1;
        out->n++;
    } while (keyword(&lx, "AND"));
    skip_ws(&lx);
    if (lx.s[lx.pos] != '\0')
        return export_fail(err, err_size, "filter: expected AND or the end at offset %zu", lx.pos);
    return 0;
}

static bool compare(enum export_op op, int c)
{
    switch (op) {
    case EXPORT_OP_EQ:
        return c == 0;
    case EXPORT_OP_NE:
        return c != 0;
    case EXPORT_OP_LT:
        return c < 0;
    case EXPORT_OP_LE:
        return c <= 0;
    case EXPORT_OP_GT:
        return c > 0;
    case EXPORT_OP_GE:
        return c >= 0;
    }
    return false;
}

static bool cond_match(const struct export_cond *c, const char *device_id, const cJSON *fields)
{
    if (strcmp(c->name, "$id") == 0)
        return c->kind == EXPORT_LIT_STR && device_id != NULL &&
               compare(c->op, strcmp(device_id, c->str));
    const cJSON *v = fields != NULL ? cJSON_GetObjectItemCaseSensitive(fields, c->name) : NULL;
    if (v == NULL)
        return false;
    switch (c->kind) {
    case EXPORT_LIT_NUM:
        if (!cJSON_IsNumber(v))
            return false;
        return compare(c->op, v->valuedouble < c->num ? -1 : v->valuedouble > c->num ? 1 : 0);
    case EXPORT_LIT_STR:
        return cJSON_IsString(v) && compare(c->op, strcmp(v->valuestring, c->str));
    case EXPORT_LIT_BOOL:
        if (!cJSON_IsBool(v) || (c->op != EXPORT_OP_EQ && c->op != EXPORT_OP_NE))
            return false;
        return compare(c->op, cJSON_IsTrue(v) == c->b ? 0 : 1);
    }
    return false;
}

bool export_filter_match(const struct export_filter *f, const char *template_id,
                         const char *device_id, const cJSON *fields)
{
    if (template_id == NULL || strcmp(template_id, f->template_id) != 0)
        return false;
    for (size_t i = 0; i < f->n; i++) {
        if (!cond_match(&f->cond[i], device_id, fields))
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- definitions */

bool export_url_ok(const char *url)
{
    size_t skip;
    if (url == NULL)
        return false;
    if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else
        return false;
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    }
    const char *host = url + skip;
    /* a host: something before the first '/', '?' or '#', and not only a port or userinfo */
    size_t hl = strcspn(host, "/?#");
    if (hl == 0 || host[0] == ':' || host[0] == '@' || host[hl - 1] == '@' || host[hl - 1] == ':')
        return false;
    return strlen(url) < 2048;
}

static const cJSON *member(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static int check_display_name(const cJSON *body, char *err, size_t n)
{
    const cJSON *dn = member(body, "displayName");
    if (!cJSON_IsString(dn) || dn->valuestring[0] == '\0')
        return export_fail(err, n, "displayName: a non-empty string is required");
    if (strlen(dn->valuestring) > 200)
        return export_fail(err, n, "displayName: longer than 200 characters");
    return 0;
}

int export_check_destination(const cJSON *body, char *err, size_t err_size)
{
    if (!cJSON_IsObject(body))
        return export_fail(err, err_size, "body: a JSON object is required");
    if (check_display_name(body, err, err_size) < 0)
        return -1;
    const cJSON *type = member(body, "type");
    if (!cJSON_IsString(type))
        return export_fail(err, err_size, "type: required (webhook@v1, eventhubs@v1, kafka@v1)");
    if (strcmp(type->valuestring, "eventhubs@v1") == 0 ||
        strcmp(type->valuestring, "kafka@v1") == 0) {
        struct export_kafka_conf *k = malloc(sizeof *k);
        if (k == NULL)
            return export_fail(err, err_size, "body: out of memory");
        int rc = export_kafka_conf_of(body, k, err, err_size);
        free(k);
        return rc;
    }
    if (strcmp(type->valuestring, "webhook@v1") != 0)
        return export_fail(err, err_size,
                           "type: unknown or unsupported destination type '%.64s' "
                           "(this server supports webhook@v1, eventhubs@v1, kafka@v1)",
                           type->valuestring);
    const cJSON *url = member(body, "url");
    if (!cJSON_IsString(url))
        return export_fail(err, err_size, "url: required");
    if (!export_url_ok(url->valuestring))
        return export_fail(err, err_size, "url: not an absolute http:// or https:// URL");
    const cJSON *hc = member(body, "headerCustomizations");
    if (hc != NULL && !cJSON_IsNull(hc)) {
        if (!cJSON_IsObject(hc))
            return export_fail(err, err_size, "headerCustomizations: an object is required");
        const cJSON *h;
        cJSON_ArrayForEach(h, hc)
        {
            const char *name = h->string;
            if (name[0] == '\0' || strcspn(name, " \t\r\n:()<>@,;\\\"/[]?={}") != strlen(name))
                return export_fail(err, err_size,
                                   "headerCustomizations: '%.64s' is not a header name", name);
            const cJSON *v = member(h, "value");
            if (!cJSON_IsObject(h) || !cJSON_IsString(v))
                return export_fail(err, err_size,
                                   "headerCustomizations.%.64s.value: a string is required", name);
            if (strpbrk(v->valuestring, "\r\n") != NULL)
                return export_fail(err, err_size,
                                   "headerCustomizations.%.64s.value: no line breaks allowed",
                                   name);
            const cJSON *secret = member(h, "secret");
            if (secret != NULL && !cJSON_IsBool(secret))
                return export_fail(err, err_size, "headerCustomizations.%.64s.secret: a boolean",
                                   name);
        }
    }
    const cJSON *auth = member(body, "authorization");
    if (auth == NULL || cJSON_IsNull(auth))
        return export_fail(err, err_size,
                           "authorization: required ({\"type\": \"header\", \"value\"})");
    if (!cJSON_IsObject(auth))
        return export_fail(err, err_size, "authorization: an object is required");
    const cJSON *at = member(auth, "type");
    if (!cJSON_IsString(at))
        return export_fail(err, err_size, "authorization.type: required (header, oauth)");
    if (strcmp(at->valuestring, "oauth") == 0)
        return export_oauth_check(auth, err, err_size);
    if (strcmp(at->valuestring, "header") != 0)
        return export_fail(err, err_size, "authorization.type: unknown type '%.64s'",
                           at->valuestring);
    const cJSON *av = member(auth, "value");
    if (!cJSON_IsString(av) || av->valuestring[0] == '\0')
        return export_fail(err, err_size, "authorization.value: a non-empty string is required");
    if (strpbrk(av->valuestring, "\r\n") != NULL)
        return export_fail(err, err_size, "authorization.value: no line breaks allowed");
    return 0;
}

/* "host:port[,host:port]...", ports 1..65535, no spaces. */
static bool bootstrap_ok(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) >= 1024)
        return false;
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)s[i] <= ' ' || s[i] == '/')
                return false;
            if (s[i] == ':')
                colon = s + i;
        }
        if (colon == NULL || colon == s || (size_t)(colon - s) + 1 >= n)
            return false;
        long port = 0;
        for (const char *p = colon + 1; p < s + n; p++) {
            if (*p < '0' || *p > '9')
                return false;
            port = port * 10 + (*p - '0');
            if (port > 65535)
                return false;
        }
        if (port < 1)
            return false;
        s += n;
        if (*s == ',') {
            s++;
            if (*s == '\0')
                return false;
        }
    }
    return true;
}

/* The value of @p key in a connection string "K=v;K=v" (keys case-insensitive) into @p out. */
static bool cs_get(const char *cs, const char *key, char *out, size_t size)
{
    size_t kl = strlen(key);
    for (const char *p = cs; *p != '\0';) {
        size_t n = strcspn(p, ";");
        if (n > kl && p[kl] == '=' && strncasecmp(p, key, kl) == 0) {
            size_t vl = n - kl - 1;
            if (vl == 0 || vl >= size)
                return false;
            memcpy(out, p + kl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        p += n;
        if (*p == ';')
            p++;
    }
    return false;
}

static int copy_field(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static int eventhubs_conf(const cJSON *body, struct export_kafka_conf *out, char *err, size_t n)
{
    const cJSON *auth = member(body, "authorization");
    if (auth == NULL || cJSON_IsNull(auth))
        return export_fail(err, n,
                           "authorization: required ({\"type\": \"connectionString\", "
                           "\"connectionString\"})");
    const cJSON *at = member(auth, "type"), *cs = member(auth, "connectionString");
    if (!cJSON_IsObject(auth) || !cJSON_IsString(at))
        return export_fail(err, n, "authorization.type: required (connectionString)");
    if (strcmp(at->valuestring, "connectionString") != 0)
        return export_fail(err, n,
                           "authorization.type: '%.64s' is not supported (connectionString)",
                           at->valuestring);
    if (!cJSON_IsString(cs) || strpbrk(cs->valuestring, "\r\n") != NULL)
        return export_fail(err, n, "authorization.connectionString: required");
    char endpoint[512];
    if (!cs_get(cs->valuestring, "Endpoint", endpoint, sizeof endpoint) ||
        strncasecmp(endpoint, "sb://", 5) != 0)
        return export_fail(err, n, "authorization.connectionString: no Endpoint=sb://{namespace}/");
    const char *host = endpoint + 5;
    size_t hl = strcspn(host, "/:");
    if (hl == 0 || hl + 6 > sizeof out->bootstrap)
        return export_fail(err, n, "authorization.connectionString: no namespace host in Endpoint");
    snprintf(out->bootstrap, sizeof out->bootstrap, "%.*s:9093", (int)hl, host);
    char tmp[256];
    if (!cs_get(cs->valuestring, "SharedAccessKeyName", tmp, sizeof tmp) ||
        !cs_get(cs->valuestring, "SharedAccessKey", tmp, sizeof tmp))
        return export_fail(
            err, n,
            "authorization.connectionString: needs SharedAccessKeyName and SharedAccessKey");
    const cJSON *hub = member(auth, "eventHubName");
    if (cJSON_IsString(hub) && hub->valuestring[0] != '\0') {
        if (copy_field(out->topic, sizeof out->topic, hub->valuestring) < 0)
            return export_fail(err, n, "authorization.eventHubName: too long");
    } else if (!cs_get(cs->valuestring, "EntityPath", out->topic, sizeof out->topic)) {
        return export_fail(err, n,
                           "authorization.connectionString: no EntityPath (or give "
                           "authorization.eventHubName)");
    }
    out->tls = true;
    out->sasl = true;
    snprintf(out->user, sizeof out->user, "$ConnectionString");
    if (copy_field(out->password, sizeof out->password, cs->valuestring) < 0)
        return export_fail(err, n, "authorization.connectionString: too long");
    return 0;
}

static int kafka_conf(const cJSON *body, struct export_kafka_conf *out, char *err, size_t n)
{
    const cJSON *bs = member(body, "bootstrapServers"), *topic = member(body, "topic");
    const cJSON *tls = member(body, "tls"), *auth = member(body, "authorization");
    if (!cJSON_IsString(bs) || !bootstrap_ok(bs->valuestring))
        return export_fail(err, n, "bootstrapServers: required, host:port[,host:port...]");
    snprintf(out->bootstrap, sizeof out->bootstrap, "%s", bs->valuestring);
    if (!cJSON_IsString(topic) || topic->valuestring[0] == '\0' ||
        strspn(topic->valuestring, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789._-") != strlen(topic->valuestring) ||
        copy_field(out->topic, sizeof out->topic, topic->valuestring) < 0)
        return export_fail(err, n, "topic: required, letters, digits, '.', '_', '-'");
    if (tls != NULL && !cJSON_IsBool(tls))
        return export_fail(err, n, "tls: a boolean");
    out->tls = cJSON_IsTrue(tls);
    if (auth == NULL || cJSON_IsNull(auth))
        return export_fail(err, n,
                           "authorization: required ({\"type\": \"none\"} or "
                           "{\"type\": \"saslPlain\", \"username\", \"password\"})");
    const cJSON *at = member(auth, "type");
    if (!cJSON_IsObject(auth) || !cJSON_IsString(at))
        return export_fail(err, n, "authorization.type: required (none, saslPlain)");
    if (strcmp(at->valuestring, "none") == 0)
        return 0;
    if (strcmp(at->valuestring, "saslPlain") != 0)
        return export_fail(err, n, "authorization.type: unknown type '%.64s'", at->valuestring);
    const cJSON *u = member(auth, "username"), *pw = member(auth, "password");
    if (!cJSON_IsString(u) || u->valuestring[0] == '\0' ||
        copy_field(out->user, sizeof out->user, u->valuestring) < 0)
        return export_fail(err, n, "authorization.username: required");
    if (!cJSON_IsString(pw) || copy_field(out->password, sizeof out->password, pw->valuestring) < 0)
        return export_fail(err, n, "authorization.password: required");
    out->sasl = true;
    return 0;
}

int export_kafka_conf_of(const cJSON *body, struct export_kafka_conf *out, char *err,
                         size_t err_size)
{
    const cJSON *type = member(body, "type");
    memset(out, 0, sizeof *out);
    if (cJSON_IsString(type) && strcmp(type->valuestring, "eventhubs@v1") == 0)
        return eventhubs_conf(body, out, err, err_size);
    if (cJSON_IsString(type) && strcmp(type->valuestring, "kafka@v1") == 0)
        return kafka_conf(body, out, err, err_size);
    return export_fail(err, err_size, "type: not a Kafka destination");
}

static int check_enrichments(const cJSON *en, char *err, size_t n)
{
    if (en == NULL || cJSON_IsNull(en))
        return 0;
    if (!cJSON_IsObject(en))
        return export_fail(err, n, "enrichments: an object is required");
    const cJSON *e;
    cJSON_ArrayForEach(e, en)
    {
        const cJSON *value = member(e, "value"), *path = member(e, "path");
        const cJSON *target = member(e, "target");
        if (!cJSON_IsObject(e))
            return export_fail(err, n, "enrichments.%.64s: an object is required", e->string);
        if (value != NULL) {
            if (!cJSON_IsString(value) && !cJSON_IsNumber(value) && !cJSON_IsBool(value))
                return export_fail(err, n, "enrichments.%.64s.value: a string, number or boolean",
                                   e->string);
            continue;
        }
        if (!cJSON_IsString(path) || path->valuestring[0] == '\0')
            return export_fail(err, n, "enrichments.%.64s: needs value, or path (with target)",
                               e->string);
        if (target != NULL) {
            if (!cJSON_IsString(target) || target->valuestring[0] == '\0')
                return export_fail(err, n, "enrichments.%.64s.target: a device template id",
                                   e->string);
            continue;
        }
        static const char *const sys[] = {"$templateDisplayName", "$templateId", "$displayName",
                                          "$id"};
        bool ok = false;
        for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
            ok = ok || strcmp(path->valuestring, sys[i]) == 0;
        if (!ok)
            return export_fail(
                err, n,
                "enrichments.%.64s.path: unknown system path '%.64s' (a property path "
                "needs a target)",
                e->string, path->valuestring);
    }
    return 0;
}

int export_check_export(const cJSON *body, char *err, size_t err_size)
{
    if (!cJSON_IsObject(body))
        return export_fail(err, err_size, "body: a JSON object is required");
    if (check_display_name(body, err, err_size) < 0)
        return -1;
    const cJSON *en = member(body, "enabled");
    if (en != NULL && !cJSON_IsBool(en))
        return export_fail(err, err_size, "enabled: a boolean");
    const cJSON *src = member(body, "source");
    enum export_source s;
    if (!cJSON_IsString(src))
        return export_fail(err, err_size, "source: required");
    if (export_source_parse(src->valuestring, &s) < 0)
        return export_fail(err, err_size,
                           "source: unknown or unsupported source '%.64s' (telemetry, properties, "
                           "deviceConnectivity, deviceLifecycle)",
                           src->valuestring);
    const cJSON *filter = member(body, "filter");
    if (filter != NULL && !cJSON_IsNull(filter)) {
        struct export_filter *f = malloc(sizeof *f);
        if (!cJSON_IsString(filter)) {
            free(f);
            return export_fail(err, err_size, "filter: a string is required");
        }
        if (f == NULL)
            return export_fail(err, err_size, "filter: out of memory");
        int rc = export_filter_parse(filter->valuestring, f, err, err_size);
        free(f);
        if (rc < 0)
            return -1;
    }
    if (check_enrichments(member(body, "enrichments"), err, err_size) < 0)
        return -1;
    const cJSON *dests = member(body, "destinations");
    if (!cJSON_IsArray(dests) || cJSON_GetArraySize(dests) == 0)
        return export_fail(err, err_size, "destinations: a non-empty array is required");
    const cJSON *d;
    int i = 0;
    cJSON_ArrayForEach(d, dests)
    {
        const cJSON *id = member(d, "id"), *tr = member(d, "transform");
        if (!cJSON_IsObject(d) || !cJSON_IsString(id) || id->valuestring[0] == '\0')
            return export_fail(err, err_size, "destinations[%d].id: a destination id is required",
                               i);
        if (tr != NULL && !cJSON_IsString(tr) && !cJSON_IsNull(tr))
            return export_fail(err, err_size, "destinations[%d].transform: a string", i);
        i++;
    }
    return 0;
}

/* ---------------------------------------------------------------- messages */

static bool add_time(cJSON *o, int64_t ms)
{
    char t[32];
    app_format_time(ms, t);
    return cJSON_AddStringToObject(o, "enqueuedTime", t) != NULL;
}

/* Add @p item (may be NULL after a failed allocation) to @p o; false when anything failed. */
static bool add_item(cJSON *o, const char *name, cJSON *item)
{
    if (item == NULL)
        return false;
    if (!cJSON_AddItemToObject(o, name, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static bool add_str(cJSON *o, const char *name, const char *v)
{
    return cJSON_AddStringToObject(o, name, v) != NULL;
}

static cJSON *parse_object(const char *text, size_t len)
{
    cJSON *v = text != NULL && len > 0 ? cJSON_ParseWithLength(text, len) : NULL;
    if (v != NULL && !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        v = NULL;
    }
    return v;
}

static void add_prop(cJSON *arr, const char *name, const cJSON *value, const char *component)
{
    const cJSON *v = value;
    /* a writable property's acknowledgement {"value","ac","av"}: the value is what changed */
    if (cJSON_IsObject(value) && member(value, "value") != NULL && member(value, "ac") != NULL)
        v = member(value, "value");
    cJSON *p = cJSON_CreateObject();
    if (p == NULL)
        return;
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddItemToObject(p, "value", cJSON_Duplicate(v, true));
    if (component != NULL)
        cJSON_AddStringToObject(p, "component", component);
    cJSON_AddItemToArray(arr, p);
}

static bool is_component(const cJSON *v)
{
    const cJSON *t = member(v, "__t");
    return cJSON_IsObject(v) && cJSON_IsString(t) && strcmp(t->valuestring, "c") == 0;
}

cJSON *export_patch_properties(const cJSON *patch)
{
    cJSON *arr = cJSON_CreateArray();
    const cJSON *m;
    if (arr == NULL || !cJSON_IsObject(patch))
        return arr;
    cJSON_ArrayForEach(m, patch)
    {
        if (m->string[0] == '$')
            continue;
        if (is_component(m)) {
            const cJSON *c;
            cJSON_ArrayForEach(c, m)
            {
                if (strcmp(c->string, "__t") != 0 && c->string[0] != '$')
                    add_prop(arr, c->string, c, m->string);
            }
            continue;
        }
        add_prop(arr, m->string, m, NULL);
    }
    return arr;
}

/*
 * The text of a JSON object as a raw item (printed verbatim), or NULL when @p text is not one
 * object with nothing but white space after it. Splicing the device's own text spares
 * re-printing its numbers (cJSON prints a double with two sprintf calls and a check).
 */
static cJSON *raw_object(const char *text, size_t len)
{
    const char *end = NULL;
    if (text == NULL || len == 0 || memchr(text, '\0', len) != NULL)
        return NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, false);
    bool ok = cJSON_IsObject(v) && end != NULL;
    cJSON_Delete(v);
    for (const char *p = end; ok && p < text + len; p++)
        ok = *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n';
    if (!ok)
        return NULL;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    cJSON *raw = cJSON_CreateRaw(copy);
    free(copy);
    return raw;
}

static cJSON *build_message(const struct export_msg_in *in, bool raw);

cJSON *export_message(const struct export_msg_in *in)
{
    return build_message(in, false);
}

/* A growing text buffer; once out of memory it stays failed. */
struct tbuf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void tb_put(struct tbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

#define TB_LIT(b, lit) tb_put((b), (lit), sizeof(lit) - 1)

/* A JSON string: copied as is when nothing in it needs escaping, else escaped by the core. */
static void tb_str(struct tbuf *b, const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
        i++;
    if (i == n) {
        TB_LIT(b, "\"");
        tb_put(b, s, n);
        TB_LIT(b, "\"");
        return;
    }
    size_t need = 0;
    iotc_json_escape((struct iotc_span){s, n}, NULL, 0, &need);
    char *tmp = malloc(need + 1);
    if (tmp == NULL || iotc_json_escape((struct iotc_span){s, n}, tmp, need + 1, &need) != IOTC_OK)
        b->failed = true;
    else
        tb_put(b, tmp, need);
    free(tmp);
}

/* @p text is exactly one JSON object (whitespace around it allowed): its span without the
 * whitespace, checked by the core's allocation-free parser. */
static bool object_span(const char *text, size_t len, struct iotc_span *out)
{
    struct iotc_json_value v;
    if (text == NULL || len == 0 || memchr(text, '\0', len) != NULL ||
        iotc_json_parse((struct iotc_span){text, len}, &v) != IOTC_OK || v.type != IOTC_JSON_OBJECT)
        return false;
    *out = v.raw;
    return true;
}

/* The telemetry message written directly (no cJSON tree), in export_message()'s member order;
 * NULL when this writer does not apply (a body or the properties are not one JSON object) or
 * memory ran out: the caller then builds the message through cJSON. */
static char *telemetry_text(const struct export_msg_in *in)
{
    struct iotc_span tel, props = IOTC_SPAN_LIT("{}");
    if (!object_span(in->payload, in->payload_len, &tel))
        return NULL;
    if (in->props_json != NULL && in->props_json[0] != '\0' &&
        !object_span(in->props_json, strlen(in->props_json), &props))
        return NULL;
    struct tbuf b = {0};
    char t[32];
    app_format_time(in->time_ms, t);
    TB_LIT(&b, "{\"applicationId\":");
    tb_str(&b, in->app_id ? in->app_id : "");
    TB_LIT(&b, ",\"messageSource\":\"telemetry\",\"deviceId\":");
    tb_str(&b, in->device_id ? in->device_id : "");
    TB_LIT(&b, ",\"schema\":\"default@v1\"");
    if (in->template_id != NULL) {
        TB_LIT(&b, ",\"templateId\":");
        tb_str(&b, in->template_id);
    }
    TB_LIT(&b, ",\"enqueuedTime\":");
    tb_str(&b, t);
    TB_LIT(&b, ",\"telemetry\":");
    tb_put(&b, tel.ptr, tel.len);
    TB_LIT(&b, ",\"messageProperties\":");
    tb_put(&b, props.ptr, props.len);
    TB_LIT(&b, ",\"enrichments\":");
    if (in->enrichments != NULL && in->enrichments->child != NULL) {
        char *enr = cJSON_PrintUnformatted(in->enrichments);
        if (enr == NULL)
            b.failed = true;
        else
            tb_put(&b, enr, strlen(enr));
        free(enr);
    } else {
        TB_LIT(&b, "{}");
    }
    if (in->component != NULL && in->component[0] != '\0') {
        TB_LIT(&b, ",\"component\":");
        tb_str(&b, in->component);
    }
    TB_LIT(&b, "}");
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *export_message_text(const struct export_msg_in *in)
{
    if (in->source == EXPORT_SRC_TELEMETRY) {
        char *text = telemetry_text(in);
        if (text != NULL)
            return text;
    }
    cJSON *o = build_message(in, true);
    char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

static cJSON *build_message(const struct export_msg_in *in, bool raw)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    bool ok = add_str(o, "applicationId", in->app_id ? in->app_id : "");
    ok = ok && add_str(o, "messageSource", export_source_name(in->source));
    if (in->source != EXPORT_SRC_TELEMETRY && in->type != NULL)
        ok = ok && add_str(o, "messageType", in->type);
    if (in->source != EXPORT_SRC_TEMPLATE_LIFECYCLE)
        ok = ok && add_str(o, "deviceId", in->device_id ? in->device_id : "");
    ok = ok && add_str(o, "schema", "default@v1");
    if (in->template_id != NULL)
        ok = ok && add_str(o, "templateId", in->template_id);
    ok = ok && add_time(o, in->time_ms);
    if (in->source == EXPORT_SRC_TELEMETRY) {
        size_t props_len = in->props_json != NULL ? strlen(in->props_json) : 0;
        cJSON *tel = raw ? raw_object(in->payload, in->payload_len) : NULL;
        cJSON *props = raw ? raw_object(in->props_json, props_len) : NULL;
        if (tel == NULL)
            tel = parse_object(in->payload, in->payload_len);
        if (props == NULL)
            props = parse_object(in->props_json, props_len);
        if (ok) {
            ok = add_item(o, "telemetry", tel != NULL ? tel : cJSON_CreateObject());
            tel = NULL;
        }
        if (ok) {
            ok = add_item(o, "messageProperties", props != NULL ? props : cJSON_CreateObject());
            props = NULL;
        }
        cJSON_Delete(tel);
        cJSON_Delete(props);
    }
    ok = ok && add_item(o, "enrichments",
                        in->enrichments != NULL ? cJSON_Duplicate(in->enrichments, true)
                                                : cJSON_CreateObject());
    if (in->source == EXPORT_SRC_TELEMETRY && in->component != NULL && in->component[0] != '\0')
        ok = ok && add_str(o, "component", in->component);
    if (in->source == EXPORT_SRC_PROPERTIES && ok) {
        cJSON *patch = parse_object(in->payload, in->payload_len);
        ok = add_item(o, "properties", export_patch_properties(patch));
        cJSON_Delete(patch);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---------------------------------------------------------------- delivery */

enum export_outcome export_classify(bool transport_ok, long http_status)
{
    if (!transport_ok)
        return EXPORT_OUT_RETRY;
    if (http_status >= 200 && http_status < 300)
        return EXPORT_OUT_OK;
    if (http_status == 408 || http_status == 429 || http_status >= 500 || http_status < 100)
        return EXPORT_OUT_RETRY;
    return EXPORT_OUT_PERMANENT;
}

int64_t export_backoff_ms(unsigned attempt, uint32_t rnd)
{
    int64_t d = EXPORT_BACKOFF_BASE_MS;
    for (unsigned i = 1; i < attempt && d < EXPORT_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > EXPORT_BACKOFF_MAX_MS)
        d = EXPORT_BACKOFF_MAX_MS;
    /* jitter: a factor in [0.5, 1], from the top 16 bits of rnd */
    return d / 2 + (d / 2) * (int64_t)(rnd >> 16) / 65535;
}

const char *export_status_name(bool enabled, uint64_t delivered, uint64_t failed, bool retrying)
{
    if (!enabled)
        return "disabled";
    if (retrying)
        return "error";
    if (failed > 0)
        return "warning";
    return delivered > 0 ? "healthy" : "starting";
}
