/*
 * payload.c - telemetry bodies for simulated devices.
 *
 * Values come from a device template (a DTDL v1/v2 file read with the server's importer,
 * dtdl/dtdl.h): one message group per component that declares telemetry, each value made
 * up from its schema (numbers drift along a sine per device, enums cycle, objects recurse).
 * `--telemetry name=EXPR` adds or overrides a root value with an expression (expr.c). Without
 * either, devices send {"temperature":..,"humidity":..}. Bodies can be padded to a fixed size
 * with a "_pad" member (IoT Central ignores names starting with '_').
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtdl/dtdl.h"
#include "sim/sim.h"

struct field {
    const char *name;
    const struct dtdl_schema *schema; /* NULL when expr is set */
    struct sim_expr *expr;
    char *owned_name;
};

struct group {
    const char *component; /* "" for the root */
    struct field *f;
    size_t n;
};

struct sim_payload {
    struct dtdl_model *model;
    struct group *g;
    size_t ng;
};

struct out {
    char *p;
    size_t cap;
    size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n < o->cap)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Names in DTDL are [A-Za-z0-9_]: no JSON escaping needed. */
static void put_key(struct out *o, const char *name)
{
    put(o, "\"", 1);
    puts_(o, name);
    put(o, "\":", 2);
}

struct sim_payload *payload_new(void)
{
    return calloc(1, sizeof(struct sim_payload));
}

void payload_free(struct sim_payload *p)
{
    if (p == NULL)
        return;
    for (size_t g = 0; g < p->ng; g++) {
        for (size_t k = 0; k < p->g[g].n; k++) {
            expr_free(p->g[g].f[k].expr);
            free(p->g[g].f[k].owned_name);
        }
        free(p->g[g].f);
    }
    free(p->g);
    dtdl_model_free(p->model);
    free(p);
}

/* The entry of the array a (*n entries of size bytes, each starting with its const char * key)
 * whose key is key; else a zeroed entry with that key, appended. NULL when out of memory; a may
 * move. */
static void *find_or_add(void **a, size_t *n, size_t size, const char *key)
{
    char *e = *a;
    const char *k;
    for (size_t i = 0; i < *n; i++, e += size) {
        memcpy(&k, e, sizeof k);
        if (strcmp(k, key) == 0)
            return e;
    }
    e = realloc(*a, (*n + 1) * size);
    if (e == NULL)
        return NULL;
    *a = e;
    e += (*n)++ * size;
    memset(e, 0, size);
    memcpy(e, &key, sizeof key);
    return e;
}

_Static_assert(offsetof(struct group, component) == 0, "find_or_add: key first");
_Static_assert(offsetof(struct field, name) == 0, "find_or_add: key first");

static struct group *group_for(struct sim_payload *p, const char *component)
{
    void *a = p->g;
    struct group *g = find_or_add(&a, &p->ng, sizeof *p->g, component);
    p->g = a;
    return g;
}

static struct field *add_field(struct group *g, const char *name)
{
    void *a = g->f;
    struct field *f = find_or_add(&a, &g->n, sizeof *g->f, name);
    g->f = a;
    return f;
}

int payload_load_model(struct sim_payload *p, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct dtdl_error derr;

    if (f == NULL) {
        snprintf(err, errcap, "cannot open %s", path);
        return -1;
    }
    for (;;) {
        if (len + 65536 > cap) {
            char *nb = realloc(buf, cap + 65536 * 4);
            if (nb == NULL)
                break;
            buf = nb;
            cap += 65536 * 4;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    int rc = buf != NULL ? dtdl_import(buf, len, &p->model, &derr) : -1;
    free(buf);
    if (rc != 0) {
        snprintf(err, errcap, "%s: %s: %s", path, derr.path, derr.message);
        return -1;
    }
    for (size_t k = 0; k < p->model->n_caps; k++) {
        const struct dtdl_capability *c = &p->model->caps[k];
        if (c->kind != DTDL_TELEMETRY)
            continue;
        struct group *g = group_for(p, c->component);
        struct field *fl = g != NULL ? add_field(g, c->name) : NULL;
        if (fl == NULL) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        fl->schema = c->schema;
    }
    return 0;
}

int payload_add_expr(struct sim_payload *p, const char *spec, char *err, size_t errcap)
{
    const char *eq = strchr(spec, '=');
    if (eq == NULL || eq == spec) {
        snprintf(err, errcap, "expected NAME=EXPR, got \"%s\"", spec);
        return -1;
    }
    struct sim_expr *e = expr_parse(eq + 1, err, errcap);
    if (e == NULL)
        return -1;
    char *name = strndup(spec, (size_t)(eq - spec));
    struct group *g = group_for(p, "");
    struct field *f = name != NULL && g != NULL ? add_field(g, name) : NULL;
    if (f == NULL) {
        free(name);
        expr_free(e);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    expr_free(f->expr);
    free(f->owned_name);
    f->owned_name = name;
    f->name = name;
    f->expr = e;
    f->schema = NULL;
    return 0;
}

void payload_finish(struct sim_payload *p)
{
    char err[128];
    if (p->ng > 0)
        return;
    (void)payload_add_expr(p, "temperature=round((21 + 4*sin(t/30 + i) + rand()/2)*100)/100", err,
                           sizeof err);
    (void)payload_add_expr(p, "humidity=round((50 + 10*cos(t/45 + i))*100)/100", err, sizeof err);
}

const char *payload_model_id(const struct sim_payload *p)
{
    return p->model != NULL ? p->model->id : NULL;
}

size_t payload_groups(const struct sim_payload *p)
{
    return p->ng;
}

const char *payload_group_component(const struct sim_payload *p, size_t g)
{
    return g < p->ng ? p->g[g].component : NULL;
}

enum iso_kind { ISO_DATE, ISO_DATETIME, ISO_TIME };

static void put_iso_now(struct out *o, enum iso_kind kind)
{
    char tmp[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (kind == ISO_DATE)
        strftime(tmp, sizeof tmp, "%Y-%m-%d", &tm);
    else if (kind == ISO_TIME)
        strftime(tmp, sizeof tmp, "%H:%M:%S", &tm);
    else
        strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    put(o, "\"", 1);
    puts_(o, tmp);
    put(o, "\"", 1);
}

static void put_value(struct out *o, const struct dtdl_schema *s, int dev, double t, uint32_t seq,
                      unsigned salt, int depth)
{
    double phase = dev * 0.7 + salt * 1.3;
    if (s == NULL || depth > 8) {
        puts_(o, "null");
        return;
    }
    switch (s->type) {
    case DTDL_SCHEMA_DOUBLE:
    case DTDL_SCHEMA_FLOAT:
        putf(o, "%.2f",
             20.0 + 10.0 * sin(t / 30.0 + phase) + (double)((seq * 7919u + salt) % 100) / 100.0);
        break;
    case DTDL_SCHEMA_INTEGER:
    case DTDL_SCHEMA_LONG:
        putf(o, "%u", (unsigned)((unsigned)dev * 31u + seq * 17u + salt) % 100u);
        break;
    case DTDL_SCHEMA_BOOLEAN:
        puts_(o, (seq + salt) % 2 ? "true" : "false");
        break;
    case DTDL_SCHEMA_STRING:
        putf(o, "\"value-%u\"", seq);
        break;
    case DTDL_SCHEMA_DATE:
        put_iso_now(o, ISO_DATE);
        break;
    case DTDL_SCHEMA_DATETIME:
        put_iso_now(o, ISO_DATETIME);
        break;
    case DTDL_SCHEMA_TIME:
        put_iso_now(o, ISO_TIME);
        break;
    case DTDL_SCHEMA_DURATION:
        putf(o, "\"PT%uS\"", seq % 3600);
        break;
    case DTDL_SCHEMA_ENUM:
        if (s->n_enum_values == 0) {
            puts_(o, "null");
        } else {
            const struct dtdl_enum_value *v =
                &s->enum_values[(seq + (unsigned)dev) % s->n_enum_values];
            if (s->value_schema == DTDL_SCHEMA_STRING)
                putf(o, "\"%s\"", v->str != NULL ? v->str : "");
            else
                putf(o, "%lld", v->num);
        }
        break;
    case DTDL_SCHEMA_OBJECT:
        put(o, "{", 1);
        for (size_t k = 0; k < s->n_fields; k++) {
            if (k > 0)
                put(o, ",", 1);
            put_key(o, s->fields[k].name);
            put_value(o, s->fields[k].schema, dev, t, seq, salt + (unsigned)k + 1, depth + 1);
        }
        put(o, "}", 1);
        break;
    case DTDL_SCHEMA_MAP:
        put(o, "{\"key1\":", 8);
        put_value(o, s->map_value.schema, dev, t, seq, salt + 1, depth + 1);
        put(o, "}", 1);
        break;
    case DTDL_SCHEMA_ARRAY:
        put(o, "[", 1);
        put_value(o, s->element, dev, t, seq, salt + 1, depth + 1);
        put(o, ",", 1);
        put_value(o, s->element, dev, t, seq + 1, salt + 2, depth + 1);
        put(o, "]", 1);
        break;
    case DTDL_SCHEMA_POINT:
        putf(o, "{\"type\":\"Point\",\"coordinates\":[%.5f,%.5f]}",
             -122.13 + 0.01 * sin(t / 60 + phase), 47.64 + 0.01 * cos(t / 60 + phase));
        break;
    default:
        puts_(o, "null");
        break;
    }
}

/* Pad a JSON object to exactly `pad_to` bytes with a "_pad" string member when it is shorter. */
static void pad(struct out *o, size_t pad_to)
{
    bool empty = o->len == 2;
    size_t overhead = (empty ? 0 : 1) + sizeof "\"_pad\":\"\"" - 1;
    if (pad_to == 0 || o->len + overhead > pad_to || pad_to >= o->cap)
        return;
    o->len--; /* drop '}' */
    if (!empty)
        put(o, ",", 1);
    puts_(o, "\"_pad\":\"");
    size_t n = pad_to - o->len - 2;
    if (o->len + n < o->cap)
        memset(o->p + o->len, 'x', n);
    o->len += n;
    put(o, "\"}", 2);
}

size_t payload_render(const struct sim_payload *p, size_t g, int dev_index, double t, uint32_t seq,
                      size_t pad_to, char *out, size_t cap)
{
    struct out o = {out, cap, 0};
    put(&o, "{", 1);
    if (g < p->ng) {
        const struct group *gr = &p->g[g];
        for (size_t k = 0; k < gr->n; k++) {
            const struct field *f = &gr->f[k];
            if (k > 0)
                put(&o, ",", 1);
            put_key(&o, f->name);
            if (f->expr != NULL) {
                double v = expr_eval(f->expr, t, dev_index, seq);
                if (isfinite(v))
                    putf(&o, "%.10g", v);
                else
                    puts_(&o, "null");
            } else {
                put_value(&o, f->schema, dev_index, t, seq, (unsigned)k, 0);
            }
        }
    }
    put(&o, "}", 1);
    pad(&o, pad_to);
    return o.len < cap ? o.len : 0;
}

size_t payload_method_response(const struct sim_payload *p, const char *name, size_t name_len,
                               int dev_index, double t, char *out, size_t cap)
{
    struct out o = {out, cap, 0};
    const struct dtdl_capability *c = NULL;
    if (p->model != NULL && name_len < 256) {
        char buf[256];
        memcpy(buf, name, name_len);
        buf[name_len] = '\0';
        char *star = strchr(buf, '*');
        if (star != NULL) {
            *star = '\0';
            c = dtdl_find(p->model, buf, star + 1);
        } else {
            c = dtdl_find(p->model, "", buf);
        }
    }
    if (c != NULL && c->kind == DTDL_COMMAND && c->response != NULL)
        put_value(&o, c->response->schema, dev_index, t, 0, 0, 0);
    else
        puts_(&o, "{\"status\":\"ok\"}");
    return o.len < cap ? o.len : 0;
}

size_t payload_reported(const struct sim_payload *p, int dev_index, double t, char *out, size_t cap)
{
    struct out o = {out, cap, 0};
    size_t top = 0;
    if (p->model == NULL)
        return 0;
    put(&o, "{", 1);
    for (size_t ci = 0; ci < p->model->n_components; ci++) {
        const char *comp = p->model->components[ci].name;
        size_t inner = 0;
        for (size_t k = 0; k < p->model->n_caps; k++) {
            const struct dtdl_capability *c = &p->model->caps[k];
            if (c->kind != DTDL_PROPERTY || c->writable || c->cloud ||
                strcmp(c->component, comp) != 0)
                continue;
            if (comp[0] == '\0') {
                if (top++ > 0)
                    put(&o, ",", 1);
            } else {
                if (inner++ == 0) {
                    if (top++ > 0)
                        put(&o, ",", 1);
                    put_key(&o, comp);
                    puts_(&o, "{\"__t\":\"c\"");
                }
                put(&o, ",", 1);
            }
            put_key(&o, c->name);
            put_value(&o, c->schema, dev_index, t, 0, (unsigned)k, 0);
        }
        if (inner > 0)
            put(&o, "}", 1);
    }
    put(&o, "}", 1);
    if (top == 0 || o.len >= cap)
        return 0;
    return o.len;
}
