/*
 * dtdl_schema.c - DTDL schema parsing and the schema type names: primitives, Object, Enum, Map,
 * Array, geospatial, and named (Interface `schemas`) complex schemas referenced by @id.
 */
#include "dtdl/dtdl_int.h"

#include <math.h>
#include <string.h>

#include "iotc/common.h"

static const struct {
    const char *name;
    struct dtdl_schema schema;
} primitives[] = {
    {"boolean", {.type = DTDL_SCHEMA_BOOLEAN}},
    {"date", {.type = DTDL_SCHEMA_DATE}},
    {"dateTime", {.type = DTDL_SCHEMA_DATETIME}},
    {"datetime", {.type = DTDL_SCHEMA_DATETIME}}, /* DTDL v1 spelling */
    {"double", {.type = DTDL_SCHEMA_DOUBLE}},
    {"duration", {.type = DTDL_SCHEMA_DURATION}},
    {"float", {.type = DTDL_SCHEMA_FLOAT}},
    {"integer", {.type = DTDL_SCHEMA_INTEGER}},
    {"long", {.type = DTDL_SCHEMA_LONG}},
    {"string", {.type = DTDL_SCHEMA_STRING}},
    {"time", {.type = DTDL_SCHEMA_TIME}},
    {"point", {.type = DTDL_SCHEMA_POINT}},
    {"multiPoint", {.type = DTDL_SCHEMA_MULTIPOINT}},
    {"lineString", {.type = DTDL_SCHEMA_LINESTRING}},
    {"multiLineString", {.type = DTDL_SCHEMA_MULTILINESTRING}},
    {"polygon", {.type = DTDL_SCHEMA_POLYGON}},
    {"multiPolygon", {.type = DTDL_SCHEMA_MULTIPOLYGON}},
};

/* the complex schemas' @type, in the order of enum dtdl_schema_type from DTDL_SCHEMA_OBJECT */
static const char *const complex_kinds[] = {"Object", "Enum", "Map", "Array", NULL};

const char *dtdl_schema_type_name(enum dtdl_schema_type type)
{
    if (type >= DTDL_SCHEMA_OBJECT && type <= DTDL_SCHEMA_ARRAY)
        return complex_kinds[type - DTDL_SCHEMA_OBJECT];
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
        if (primitives[i].schema.type == type) /* "dateTime" comes before v1 "datetime" */
            return primitives[i].name;
    return "?";
}

#define GEO_IRI_PREFIX "dtmi:standard:schema:geospatial:"

const struct dtdl_schema *dtdl__primitive(const char *name)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
        if (strcmp(name, primitives[i].name) == 0)
            return &primitives[i].schema;
    /* v2 also names the geospatial schemas by IRI, e.g. dtmi:standard:schema:geospatial:point;2 */
    size_t pl = strlen(GEO_IRI_PREFIX);
    if (strncmp(name, GEO_IRI_PREFIX, pl) == 0) {
        const char *rest = name + pl;
        const char *semi = strchr(rest, ';');
        if (semi != NULL && strcmp(semi, ";2") == 0) {
            for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
                size_t n = strlen(primitives[i].name);
                if (dtdl__is_geo(primitives[i].schema.type) && (size_t)(semi - rest) == n &&
                    strncmp(rest, primitives[i].name, n) == 0)
                    return &primitives[i].schema;
            }
        }
    }
    return NULL;
}

static unsigned max_nesting(const struct dtdl__ctx *c)
{
    return c->version == 2 ? DTDL__V2_MAX_NESTING : DTDL__V1_MAX_NESTING;
}

static int too_deep(struct dtdl__ctx *c)
{
    return dtdl__fail(c, "complex schemas nested deeper than %u levels", max_nesting(c));
}

static struct dtdl__named *find_named(struct dtdl__ctx *c, const char *id)
{
    for (size_t i = 0; i < c->n_named; i++)
        if (strcmp(c->named[i].id, id) == 0)
            return &c->named[i];
    return NULL;
}

static int parse_complex(struct dtdl__ctx *c, const cJSON *node, unsigned depth,
                         struct dtdl_schema **out);

static int parse_named(struct dtdl__ctx *c, struct dtdl__named *n)
{
    if (n->state == 2)
        return 0;
    if (n->state == 1) {
        char q[64];
        return dtdl__fail(c, "schema %s refers to itself", dtdl__q(q, sizeof q, n->id));
    }
    n->state = 1;
    int old = dtdl__path_load(c, n->path);
    int rc = parse_complex(c, n->node, 0, &n->parsed);
    if (rc == 0)
        dtdl__path_set(c, (size_t)old);
    /* on error the path is left pointing at the failure */
    n->state = 2;
    return rc;
}

/* Parse every named schema once, so that unused ones are checked too. */
int dtdl__parse_named_all(struct dtdl__ctx *c)
{
    for (size_t i = 0; i < c->n_named; i++) {
        size_t mark = c->plen;
        int rc = parse_named(c, &c->named[i]);
        if (rc < 0)
            return rc;
        dtdl__path_set(c, mark);
    }
    return 0;
}

int dtdl__parse_schema(struct dtdl__ctx *c, const cJSON *node, unsigned depth,
                       const struct dtdl_schema **out)
{
    *out = NULL;
    if (node == NULL)
        return dtdl__fail(c, "missing schema");
    if (cJSON_IsString(node) && node->valuestring != NULL) {
        const char *s = node->valuestring;
        const struct dtdl_schema *p = dtdl__primitive(s);
        if (p != NULL) {
            *out = p;
            return 0;
        }
        char q[64];
        if (strchr(s, ':') == NULL)
            return dtdl__fail(c, "unknown schema %s", dtdl__q(q, sizeof q, s));
        struct dtdl__named *n = find_named(c, s);
        if (n == NULL)
            return dtdl__fail(c, "unresolved schema %s", dtdl__q(q, sizeof q, s));
        size_t mark = c->plen;
        int rc = parse_named(c, n);
        if (rc < 0)
            return rc;
        dtdl__path_set(c, mark);
        if (depth + n->parsed->nesting > max_nesting(c))
            return too_deep(c);
        *out = n->parsed;
        return 0;
    }
    if (cJSON_IsObject(node)) {
        struct dtdl_schema *s;
        int rc = parse_complex(c, node, depth, &s);
        *out = s;
        return rc;
    }
    return dtdl__fail(c, "schema must be a string or an object, not %s", dtdl__json_type(node));
}

/* Parse obj[key] as a schema with the path extended by key. */
static int schema_at(struct dtdl__ctx *c, const cJSON *obj, const char *key, unsigned depth,
                     const struct dtdl_schema **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) {
        *out = NULL;
        return dtdl__fail(c, "missing \"%s\"", key);
    }
    size_t mark = dtdl__path_key(c, key);
    int rc = dtdl__parse_schema(c, v, depth, out);
    if (rc == 0)
        dtdl__path_set(c, mark);
    return rc;
}

/* Field, MapKey, MapValue, CommandPayload: {name, schema, displayName?, description?} */
int dtdl__parse_field(struct dtdl__ctx *c, const cJSON *node, unsigned depth,
                      const char *const *types, struct dtdl_field *out)
{
    static const char *const keys[] = {"name", "schema", NULL};
    if (!cJSON_IsObject(node))
        return dtdl__fail(c, "must be an object, not %s", dtdl__json_type(node));
    int rc = 0;
    if (types != NULL) {
        struct dtdl__types t;
        rc = dtdl__read_types(c, node, types, false, &t);
        if (rc == 0)
            rc = dtdl__check_keys(c, node, keys, &t);
    }
    if (rc == 0)
        rc = dtdl__req_name(c, node, &out->name);
    if (rc == 0)
        rc = dtdl__opt_docs(c, node, &out->display_name, &out->display_name_map, &out->description,
                            NULL);
    if (rc == 0)
        rc = schema_at(c, node, "schema", depth, &out->schema);
    return rc;
}

/* fields[i] of an Object; arg: the depth of the Object */
static int parse_object_field(struct dtdl__ctx *c, const cJSON *f, void *items, size_t i, void *arg)
{
    static const char *const types[] = {"Field", NULL};
    struct dtdl_field *fv = items;
    int rc = dtdl__parse_field(c, f, *(const unsigned *)arg, types, &fv[i]);
    if (rc < 0)
        return rc;
    for (size_t j = 0; j < i; j++) {
        if (strcmp(fv[j].name, fv[i].name) == 0) {
            char q[64];
            return dtdl__fail_key(c, "name", "duplicate field name %s",
                                  dtdl__q(q, sizeof q, fv[i].name));
        }
    }
    return 0;
}

static int parse_object(struct dtdl__ctx *c, const cJSON *node, unsigned depth,
                        struct dtdl_schema *s)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(node, "fields");
    if (fields == NULL)
        return dtdl__fail(c, "Object without \"fields\"");
    size_t n;
    void *fv;
    int rc =
        dtdl__array_len(c, fields, "fields",
                        c->version == 2 ? DTDL__V2_MAX_FIELDS : DTDL__V1_MAX_MEMBERS, "fields", &n);
    if (rc == 0)
        rc = dtdl__array_each(c, fields, "fields", n, c->m->priv_arena, sizeof *s->fields, &fv,
                              parse_object_field, &depth);
    if (rc < 0)
        return rc;
    s->fields = fv;
    s->n_fields = n;
    for (size_t i = 0; i < n; i++)
        if (s->fields[i].schema->nesting > s->nesting)
            s->nesting = s->fields[i].schema->nesting;
    return 0;
}

static int read_enum_value(struct dtdl__ctx *c, const cJSON *node, struct dtdl_schema *s,
                           struct dtdl_enum_value *ev)
{
    static const char *const keys[] = {"name", "enumValue", NULL};
    static const char *const allowed[] = {"EnumValue", NULL};
    if (!cJSON_IsObject(node))
        return dtdl__fail(c, "must be an object, not %s", dtdl__json_type(node));
    struct dtdl__types t;
    int rc = dtdl__read_types(c, node, allowed, false, &t);
    if (rc == 0)
        rc = dtdl__check_keys(c, node, keys, &t);
    if (rc == 0)
        rc = dtdl__req_name(c, node, &ev->name);
    if (rc == 0)
        rc = dtdl__opt_text(c, node, "displayName", &ev->display_name, NULL);
    if (rc < 0)
        return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, "enumValue");
    if (v == NULL)
        return dtdl__fail(c, "missing \"enumValue\"");
    if (s->value_schema == 0) /* v1 without valueSchema: the first value decides */
        s->value_schema = cJSON_IsString(v) ? DTDL_SCHEMA_STRING : DTDL_SCHEMA_INTEGER;
    if (s->value_schema == DTDL_SCHEMA_STRING) {
        if (!cJSON_IsString(v) || v->valuestring == NULL)
            return dtdl__fail_key(c, "enumValue", "must be a string (valueSchema is string)");
        ev->str = v->valuestring;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < -2147483648.0 || v->valuedouble > 2147483647.0)
        return dtdl__fail_key(c, "enumValue", "must be a 32-bit integer (valueSchema is integer)");
    ev->num = (long long)v->valuedouble;
    return 0;
}

/* enumValues[i] of an Enum; arg: the Enum */
static int parse_enum_value(struct dtdl__ctx *c, const cJSON *e, void *items, size_t i, void *arg)
{
    struct dtdl_schema *s = arg;
    struct dtdl_enum_value *ev = items;
    int rc = read_enum_value(c, e, s, &ev[i]);
    if (rc < 0)
        return rc;
    for (size_t j = 0; j < i; j++) {
        char q[64];
        if (strcmp(ev[j].name, ev[i].name) == 0)
            return dtdl__fail_key(c, "name", "duplicate enum value name %s",
                                  dtdl__q(q, sizeof q, ev[i].name));
        bool same = s->value_schema == DTDL_SCHEMA_STRING ? strcmp(ev[j].str, ev[i].str) == 0
                                                          : ev[j].num == ev[i].num;
        if (same)
            return dtdl__fail_key(c, "enumValue", "duplicate enumValue (same as %s)",
                                  dtdl__q(q, sizeof q, ev[j].name));
    }
    return 0;
}

static int parse_enum(struct dtdl__ctx *c, const cJSON *node, struct dtdl_schema *s)
{
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(node, "valueSchema");
    if (vs == NULL) {
        if (c->version == 2)
            return dtdl__fail(c, "Enum without \"valueSchema\"");
    } else if (cJSON_IsString(vs) && vs->valuestring != NULL &&
               strcmp(vs->valuestring, "integer") == 0) {
        s->value_schema = DTDL_SCHEMA_INTEGER;
    } else if (cJSON_IsString(vs) && vs->valuestring != NULL &&
               strcmp(vs->valuestring, "string") == 0) {
        s->value_schema = DTDL_SCHEMA_STRING;
    } else {
        return dtdl__fail_key(c, "valueSchema", "must be \"integer\" or \"string\"");
    }
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(node, "enumValues");
    if (vals == NULL)
        return dtdl__fail(c, "Enum without \"enumValues\"");
    size_t n;
    void *ev;
    int rc = dtdl__array_len(c, vals, "enumValues",
                             c->version == 2 ? DTDL__V2_MAX_ENUM_VALUES : DTDL__V1_MAX_MEMBERS,
                             "values", &n);
    if (rc == 0)
        rc = dtdl__array_each(c, vals, "enumValues", n, c->m->priv_arena, sizeof *s->enum_values,
                              &ev, parse_enum_value, s);
    if (rc < 0)
        return rc;
    if (s->value_schema == 0)
        s->value_schema = DTDL_SCHEMA_INTEGER;
    s->enum_values = ev;
    s->n_enum_values = n;
    return 0;
}

static int parse_map(struct dtdl__ctx *c, const cJSON *node, unsigned depth, struct dtdl_schema *s)
{
    static const char *const key_types[] = {"MapKey", NULL};
    static const char *const value_types[] = {"MapValue", NULL};
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(node, "mapKey");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, "mapValue");
    if (k == NULL)
        return dtdl__fail(c, "Map without \"mapKey\"");
    if (v == NULL)
        return dtdl__fail(c, "Map without \"mapValue\"");
    size_t mark = dtdl__path_key(c, "mapKey");
    int rc = dtdl__parse_field(c, k, depth, key_types, &s->map_key);
    if (rc < 0)
        return rc;
    if (s->map_key.schema->type != DTDL_SCHEMA_STRING)
        return dtdl__fail_key(c, "schema", "a Map key must have schema \"string\"");
    dtdl__path_set(c, mark);
    dtdl__path_key(c, "mapValue");
    rc = dtdl__parse_field(c, v, depth, value_types, &s->map_value);
    if (rc < 0)
        return rc;
    dtdl__path_set(c, mark);
    s->nesting = s->map_value.schema->nesting;
    return 0;
}

static int parse_complex(struct dtdl__ctx *c, const cJSON *node, unsigned depth,
                         struct dtdl_schema **out)
{
    static const char *const obj_keys[] = {"fields", NULL};
    static const char *const enum_keys[] = {"valueSchema", "enumValues", NULL};
    static const char *const map_keys[] = {"mapKey", "mapValue", NULL};
    static const char *const arr_keys[] = {"elementSchema", NULL};
    *out = NULL;
    if (!cJSON_IsObject(node))
        return dtdl__fail(c, "complex schema must be an object, not %s", dtdl__json_type(node));
    if (depth + 1 > max_nesting(c))
        return too_deep(c);
    struct dtdl__types t;
    int rc = dtdl__read_types(c, node, complex_kinds, true, &t);
    if (rc < 0)
        return rc;
    struct dtdl_schema *s = dtdl__alloc(c->m->priv_arena, sizeof *s);
    if (s == NULL)
        return dtdl__oom(c);
    rc = dtdl__opt_id(c, node, false, DTDL__V2_MAX_DTMI, &s->id);
    if (rc == 0)
        rc = dtdl__opt_text(c, node, "displayName", &s->display_name, NULL);
    if (rc < 0)
        return rc;
    const char *k = t.primary;
    if (strcmp(k, "Object") == 0) {
        s->type = DTDL_SCHEMA_OBJECT;
        rc = dtdl__check_keys(c, node, obj_keys, &t);
        if (rc == 0)
            rc = parse_object(c, node, depth + 1, s);
    } else if (strcmp(k, "Enum") == 0) {
        s->type = DTDL_SCHEMA_ENUM;
        rc = dtdl__check_keys(c, node, enum_keys, &t);
        if (rc == 0)
            rc = parse_enum(c, node, s);
    } else if (strcmp(k, "Map") == 0) {
        s->type = DTDL_SCHEMA_MAP;
        rc = dtdl__check_keys(c, node, map_keys, &t);
        if (rc == 0)
            rc = parse_map(c, node, depth + 1, s);
    } else {
        s->type = DTDL_SCHEMA_ARRAY;
        rc = dtdl__check_keys(c, node, arr_keys, &t);
        if (rc == 0)
            rc = schema_at(c, node, "elementSchema", depth + 1, &s->element);
        if (rc == 0)
            s->nesting = s->element->nesting;
    }
    if (rc < 0)
        return rc;
    s->nesting += 1;
    *out = s;
    return 0;
}

bool dtdl__schema_has_array(const struct dtdl_schema *s)
{
    if (s == NULL)
        return false;
    if (dtdl__is_geo(s->type))
        return true; /* GeoJSON coordinates are arrays */
    switch (s->type) {
    case DTDL_SCHEMA_ARRAY:
        return true;
    case DTDL_SCHEMA_OBJECT:
        for (size_t i = 0; i < s->n_fields; i++)
            if (dtdl__schema_has_array(s->fields[i].schema))
                return true;
        return false;
    case DTDL_SCHEMA_MAP:
        return dtdl__schema_has_array(s->map_value.schema);
    default:
        return false;
    }
}
