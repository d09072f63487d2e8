/*
 * dtdl_value.c - checking JSON values against a model schema, and rendering the model as JSON.
 */
#include "dtdl/dtdl_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- names ---- */

const char *dtdl_kind_name(enum dtdl_kind kind)
{
    switch (kind) {
    case DTDL_TELEMETRY:
        return "telemetry";
    case DTDL_PROPERTY:
        return "property";
    case DTDL_COMMAND:
        return "command";
    }
    return "?";
}

/* ---- RFC 3339 / ISO 8601 text formats ---- */

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* full-date: YYYY-MM-DD with a real day of month; returns chars used or 0 */
static size_t parse_date(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (strlen(s) < 10 || s[4] != '-' || s[7] != '-')
        return 0;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
        return 0;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        return 0;
    return 10;
}

/* partial-time hh:mm:ss[.frac], then an optional (or required) offset Z / +hh:mm */
static bool parse_time(const char *s, bool offset_required)
{
    int h, mi, se;
    if (strlen(s) < 8 || s[2] != ':' || s[5] != ':')
        return false;
    if (!digits(s, 2, &h) || !digits(s + 3, 2, &mi) || !digits(s + 6, 2, &se))
        return false;
    if (h > 23 || mi > 59 || se > 60) /* 60: leap second */
        return false;
    const char *p = s + 8;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == '\0')
        return !offset_required;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    int oh, om;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' && digits(p + 1, 2, &oh) &&
        digits(p + 4, 2, &om))
        return oh <= 23 && om <= 59;
    return false;
}

static bool is_date_time(const char *s)
{
    size_t n = parse_date(s);
    if (n == 0 || (s[n] != 'T' && s[n] != 't'))
        return false;
    return parse_time(s + n + 1, true);
}

/* ISO 8601 duration: PnYnMnWnDTnHnMnS (each part optional, at least one, T needs a time part).
 * A decimal fraction is allowed on the last part. */
static bool is_duration(const char *s)
{
    static const char date_units[] = "YMWD";
    static const char time_units[] = "HMS";
    if (*s++ != 'P')
        return false;
    bool in_time = false, any = false, time_any = false, fraction_seen = false;
    const char *units = date_units;
    size_t next_unit = 0;
    while (*s) {
        if (*s == 'T') {
            if (in_time)
                return false;
            in_time = true;
            units = time_units;
            next_unit = 0;
            s++;
            continue;
        }
        if (fraction_seen)
            return false; /* a fraction must be on the last part */
        const char *start = s;
        while (*s >= '0' && *s <= '9')
            s++;
        if (s == start)
            return false;
        if (*s == '.' || *s == ',') {
            s++;
            const char *f = s;
            while (*s >= '0' && *s <= '9')
                s++;
            if (s == f)
                return false;
            fraction_seen = true;
        }
        const char *u = strchr(units + next_unit, *s);
        if (*s == '\0' || u == NULL)
            return false;
        next_unit = (size_t)(u - units) + 1;
        any = true;
        if (in_time)
            time_any = true;
        s++;
    }
    return any && (!in_time || time_any);
}

/* ---- value checking ---- */

struct vctx {
    char *why;
    size_t cap;
    char path[256];
    size_t plen;
};

static bool mismatch(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool mismatch(struct vctx *v, const char *fmt, ...)
{
    if (v->why == NULL || v->cap == 0)
        return false;
    int n = snprintf(v->why, v->cap, "%s: ", v->path);
    if (n < 0 || (size_t)n >= v->cap)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->why + n, v->cap - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static size_t vpush(struct vctx *v, const char *key, size_t idx)
{
    size_t old = v->plen;
    char b[96];
    int n;
    if (key == NULL) {
        n = snprintf(b, sizeof b, "[%zu]", idx);
    } else {
        bool ident = *key != '\0';
        for (const char *p = key; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == '$'))
                ident = false;
        char q[72];
        n = ident ? snprintf(b, sizeof b, ".%s", key)
                  : snprintf(b, sizeof b, "[%s]", dtdl__q(q, sizeof q, key));
    }
    if (n > 0 && v->plen + (size_t)n < sizeof v->path) {
        memcpy(v->path + v->plen, b, (size_t)n + 1);
        v->plen += (size_t)n;
    }
    return old;
}

static void vpop(struct vctx *v, size_t len)
{
    v->plen = len;
    v->path[len] = '\0';
}

static bool wrong_type(struct vctx *v, const char *expected, const cJSON *value)
{
    char q[64];
    if (cJSON_IsString(value) && value->valuestring != NULL)
        return mismatch(v, "expected %s, got string %s", expected,
                        dtdl__q(q, sizeof q, value->valuestring));
    if (cJSON_IsNumber(value))
        return mismatch(v, "expected %s, got number %.17g", expected, value->valuedouble);
    return mismatch(v, "expected %s, got %s", expected, dtdl__json_type(value));
}

static bool check_integral(struct vctx *v, const cJSON *value, double lo, double hi,
                           const char *name)
{
    if (!cJSON_IsNumber(value))
        return wrong_type(v, name, value);
    double d = value->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return mismatch(v, "expected %s, got non-integral number %.17g", name, d);
    if (d < lo || d > hi)
        return mismatch(v, "%.17g is out of the %s range", d, name);
    return true;
}

static bool check_text(struct vctx *v, const cJSON *value, enum dtdl_schema_type t)
{
    const char *name = dtdl_schema_type_name(t);
    if (!cJSON_IsString(value) || value->valuestring == NULL)
        return wrong_type(v, name, value);
    const char *s = value->valuestring;
    bool ok;
    switch (t) {
    case DTDL_SCHEMA_DATE:
        ok = parse_date(s) == 10 && s[10] == '\0';
        break;
    case DTDL_SCHEMA_DATETIME:
        ok = is_date_time(s);
        break;
    case DTDL_SCHEMA_TIME:
        ok = parse_time(s, false);
        break;
    case DTDL_SCHEMA_DURATION:
        ok = is_duration(s);
        break;
    default:
        ok = true;
        break;
    }
    if (!ok) {
        char q[64];
        return mismatch(v, "%s is not a valid %s", dtdl__q(q, sizeof q, s), name);
    }
    return true;
}

/* GeoJSON position: [lon, lat] or [lon, lat, alt]; levels = array levels above positions. */
static bool geo_coords(const cJSON *a, int levels, size_t min_items)
{
    if (!cJSON_IsArray(a))
        return false;
    int n = cJSON_GetArraySize(a);
    const cJSON *e;
    if (levels == 0) {
        if (n < 2 || n > 3)
            return false;
        cJSON_ArrayForEach(e, a)
        {
            if (!cJSON_IsNumber(e))
                return false;
        }
        return true;
    }
    /* min_items applies to arrays of positions (LineString 2, polygon ring 4); the arrays
     * above them need one entry */
    if (levels == 1 ? (size_t)n < min_items : n < 1)
        return false;
    cJSON_ArrayForEach(e, a)
    {
        if (!geo_coords(e, levels - 1, min_items))
            return false;
    }
    return true;
}

static bool check_geo(struct vctx *v, const cJSON *value, enum dtdl_schema_type t)
{
    static const struct {
        enum dtdl_schema_type t;
        const char *geojson;
        int levels;
        size_t min;
    } geo[] = {
        {DTDL_SCHEMA_POINT, "Point", 0, 0},
        {DTDL_SCHEMA_MULTIPOINT, "MultiPoint", 1, 1},
        {DTDL_SCHEMA_LINESTRING, "LineString", 1, 2},
        {DTDL_SCHEMA_MULTILINESTRING, "MultiLineString", 2, 2},
        {DTDL_SCHEMA_POLYGON, "Polygon", 2, 4},
        {DTDL_SCHEMA_MULTIPOLYGON, "MultiPolygon", 3, 4},
    };
    size_t i = 0;
    while (geo[i].t != t)
        i++;
    if (!cJSON_IsObject(value))
        return wrong_type(v, dtdl_schema_type_name(t), value);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(value, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, geo[i].geojson) != 0)
        return mismatch(v, "expected a GeoJSON object with \"type\": \"%s\"", geo[i].geojson);
    const cJSON *coords = cJSON_GetObjectItemCaseSensitive(value, "coordinates");
    if (!geo_coords(coords, geo[i].levels, geo[i].min))
        return mismatch(v, "invalid GeoJSON coordinates for %s", geo[i].geojson);
    return true;
}

static bool check(struct vctx *v, const struct dtdl_schema *s, const cJSON *value);

static bool check_object(struct vctx *v, const struct dtdl_schema *s, const cJSON *value)
{
    if (!cJSON_IsObject(value))
        return wrong_type(v, "Object", value);
    const cJSON *m;
    cJSON_ArrayForEach(m, value)
    {
        const struct dtdl_field *f = NULL;
        for (size_t i = 0; i < s->n_fields && f == NULL; i++)
            if (m->string != NULL && strcmp(s->fields[i].name, m->string) == 0)
                f = &s->fields[i];
        size_t mark = vpush(v, m->string ? m->string : "", 0);
        if (f == NULL)
            return mismatch(v, "not a field of the Object");
        if (!check(v, f->schema, m))
            return false;
        vpop(v, mark);
    }
    return true;
}

static bool check_enum(struct vctx *v, const struct dtdl_schema *s, const cJSON *value)
{
    bool is_str = s->value_schema == DTDL_SCHEMA_STRING;
    if (is_str && (!cJSON_IsString(value) || value->valuestring == NULL))
        return wrong_type(v, "Enum string value", value);
    if (!is_str && !check_integral(v, value, -2147483648.0, 2147483647.0, "Enum integer value"))
        return false;
    for (size_t i = 0; i < s->n_enum_values; i++) {
        const struct dtdl_enum_value *e = &s->enum_values[i];
        if (is_str ? strcmp(e->str, value->valuestring) == 0 : (double)e->num == value->valuedouble)
            return true;
    }
    char list[128];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < s->n_enum_values && o + 24 < sizeof list; i++) {
        char q[32];
        int n = is_str ? snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "",
                                  dtdl__q(q, sizeof q, s->enum_values[i].str))
                       : snprintf(list + o, sizeof list - o, "%s%lld", i ? ", " : "",
                                  s->enum_values[i].num);
        if (n > 0)
            o += (size_t)n;
    }
    if (o >= sizeof list)
        o = sizeof list - 1;
    char q[64];
    if (is_str)
        return mismatch(v, "%s is not one of the Enum values (%s)",
                        dtdl__q(q, sizeof q, value->valuestring), list);
    return mismatch(v, "%.17g is not one of the Enum values (%s)", value->valuedouble, list);
}

static bool check(struct vctx *v, const struct dtdl_schema *s, const cJSON *value)
{
    if (s == NULL)
        return mismatch(v, "no schema");
    if (value == NULL)
        return mismatch(v, "missing value");
    switch (s->type) {
    case DTDL_SCHEMA_BOOLEAN:
        return cJSON_IsBool(value) ? true : wrong_type(v, "boolean", value);
    case DTDL_SCHEMA_DOUBLE:
        if (!cJSON_IsNumber(value))
            return wrong_type(v, "double", value);
        return isfinite(value->valuedouble) ? true : mismatch(v, "number is not finite");
    case DTDL_SCHEMA_FLOAT:
        if (!cJSON_IsNumber(value))
            return wrong_type(v, "float", value);
        if (!isfinite(value->valuedouble) || fabs(value->valuedouble) > FLT_MAX)
            return mismatch(v, "%.17g is out of the float range", value->valuedouble);
        return true;
    case DTDL_SCHEMA_INTEGER:
        return check_integral(v, value, -2147483648.0, 2147483647.0, "integer");
    case DTDL_SCHEMA_LONG:
        /* 2^63 itself is out of range; the largest double below it is 2^63-1024 */
        return check_integral(v, value, -9223372036854775808.0, 9223372036854774784.0, "long");
    case DTDL_SCHEMA_STRING:
    case DTDL_SCHEMA_DATE:
    case DTDL_SCHEMA_DATETIME:
    case DTDL_SCHEMA_TIME:
    case DTDL_SCHEMA_DURATION:
        return check_text(v, value, s->type);
    case DTDL_SCHEMA_POINT:
    case DTDL_SCHEMA_MULTIPOINT:
    case DTDL_SCHEMA_LINESTRING:
    case DTDL_SCHEMA_MULTILINESTRING:
    case DTDL_SCHEMA_POLYGON:
    case DTDL_SCHEMA_MULTIPOLYGON:
        return check_geo(v, value, s->type);
    case DTDL_SCHEMA_OBJECT:
        return check_object(v, s, value);
    case DTDL_SCHEMA_ENUM:
        return check_enum(v, s, value);
    case DTDL_SCHEMA_MAP: {
        if (!cJSON_IsObject(value))
            return wrong_type(v, "Map", value);
        const cJSON *m;
        cJSON_ArrayForEach(m, value)
        {
            size_t mark = vpush(v, m->string ? m->string : "", 0);
            if (!check(v, s->map_value.schema, m))
                return false;
            vpop(v, mark);
        }
        return true;
    }
    case DTDL_SCHEMA_ARRAY: {
        if (!cJSON_IsArray(value))
            return wrong_type(v, "Array", value);
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, value)
        {
            size_t mark = vpush(v, NULL, i++);
            if (!check(v, s->element, e))
                return false;
            vpop(v, mark);
        }
        return true;
    }
    }
    return mismatch(v, "unknown schema type");
}

bool dtdl_check_value(const struct dtdl_schema *schema, const cJSON *value, char *why, size_t cap)
{
    struct vctx v;
    v.why = why;
    v.cap = why != NULL ? cap : 0;
    v.path[0] = '$';
    v.path[1] = '\0';
    v.plen = 1;
    if (v.cap)
        why[0] = '\0';
    return check(&v, schema, value);
}

/* ---- JSON rendering ---- */

struct jb {
    bool oom;
};

static cJSON *chk(struct jb *b, cJSON *item)
{
    if (item == NULL)
        b->oom = true;
    return item;
}

static void add_str(struct jb *b, cJSON *obj, const char *key, const char *val)
{
    if (val != NULL && obj != NULL)
        chk(b, cJSON_AddStringToObject(obj, key, val));
}

static void add_text(struct jb *b, cJSON *obj, const char *key, const char *val, const cJSON *map)
{
    if (obj == NULL)
        return;
    if (map != NULL) {
        cJSON *copy = chk(b, cJSON_Duplicate(map, 1));
        if (copy != NULL && !cJSON_AddItemToObject(obj, key, copy)) {
            cJSON_Delete(copy);
            b->oom = true;
        }
        return;
    }
    add_str(b, obj, key, val);
}

static void add_item(struct jb *b, cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL) {
        b->oom = true;
        return;
    }
    if (obj == NULL || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        b->oom = true;
    }
}

static void append(struct jb *b, cJSON *arr, cJSON *item)
{
    if (item == NULL) {
        b->oom = true;
        return;
    }
    if (arr == NULL || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        b->oom = true;
    }
}

static cJSON *schema_json(struct jb *b, const struct dtdl_schema *s);

static cJSON *field_json(struct jb *b, const struct dtdl_field *f)
{
    cJSON *o = chk(b, cJSON_CreateObject());
    add_str(b, o, "name", f->name);
    add_text(b, o, "displayName", f->display_name, f->display_name_map);
    add_str(b, o, "description", f->description);
    add_item(b, o, "schema", schema_json(b, f->schema));
    return o;
}

static cJSON *schema_json(struct jb *b, const struct dtdl_schema *s)
{
    if (s == NULL)
        return chk(b, cJSON_CreateNull());
    if (s->type < DTDL_SCHEMA_OBJECT)
        return chk(b, cJSON_CreateString(dtdl_schema_type_name(s->type)));
    cJSON *o = chk(b, cJSON_CreateObject());
    add_str(b, o, "@type", dtdl_schema_type_name(s->type));
    add_str(b, o, "@id", s->id);
    add_str(b, o, "displayName", s->display_name);
    switch (s->type) {
    case DTDL_SCHEMA_OBJECT: {
        cJSON *arr = chk(b, cJSON_CreateArray());
        for (size_t i = 0; i < s->n_fields; i++)
            append(b, arr, field_json(b, &s->fields[i]));
        add_item(b, o, "fields", arr);
        break;
    }
    case DTDL_SCHEMA_ENUM: {
        add_str(b, o, "valueSchema", dtdl_schema_type_name(s->value_schema));
        cJSON *arr = chk(b, cJSON_CreateArray());
        for (size_t i = 0; i < s->n_enum_values; i++) {
            const struct dtdl_enum_value *e = &s->enum_values[i];
            cJSON *ev = chk(b, cJSON_CreateObject());
            add_str(b, ev, "name", e->name);
            add_str(b, ev, "displayName", e->display_name);
            if (s->value_schema == DTDL_SCHEMA_STRING)
                add_str(b, ev, "enumValue", e->str);
            else if (ev != NULL)
                chk(b, cJSON_AddNumberToObject(ev, "enumValue", (double)e->num));
            append(b, arr, ev);
        }
        add_item(b, o, "enumValues", arr);
        break;
    }
    case DTDL_SCHEMA_MAP:
        add_item(b, o, "mapKey", field_json(b, &s->map_key));
        add_item(b, o, "mapValue", field_json(b, &s->map_value));
        break;
    default:
        add_item(b, o, "elementSchema", schema_json(b, s->element));
        break;
    }
    return o;
}

cJSON *dtdl_schema_to_json(const struct dtdl_schema *schema)
{
    struct jb b = {false};
    cJSON *j = schema_json(&b, schema);
    if (b.oom) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static const char *command_type_name(enum dtdl_command_type t)
{
    return t == DTDL_CMD_SYNCHRONOUS    ? "synchronous"
           : t == DTDL_CMD_ASYNCHRONOUS ? "asynchronous"
                                        : NULL;
}

static cJSON *cap_json(struct jb *b, const struct dtdl_capability *c)
{
    cJSON *o = chk(b, cJSON_CreateObject());
    add_str(b, o, "component", c->component);
    add_str(b, o, "group", c->group);
    add_str(b, o, "interface", c->interface_id);
    add_str(b, o, "kind", dtdl_kind_name(c->kind));
    add_str(b, o, "name", c->name);
    add_text(b, o, "displayName", c->display_name, c->display_name_map);
    add_str(b, o, "description", c->description);
    add_str(b, o, "comment", c->comment);
    add_str(b, o, "semanticType", c->semantic_type);
    add_str(b, o, "unit", c->unit);
    add_str(b, o, "displayUnit", c->display_unit);
    if (c->kind == DTDL_COMMAND) {
        if (c->request != NULL)
            add_item(b, o, "request", field_json(b, c->request));
        if (c->response != NULL)
            add_item(b, o, "response", field_json(b, c->response));
        add_str(b, o, "commandType", command_type_name(c->command_type));
        if (o != NULL)
            chk(b, cJSON_AddBoolToObject(o, "durable", c->durable));
    } else {
        add_item(b, o, "schema", schema_json(b, c->schema));
        if (o != NULL && c->kind == DTDL_PROPERTY) {
            chk(b, cJSON_AddBoolToObject(o, "writable", c->writable));
            if (c->cloud)
                chk(b, cJSON_AddBoolToObject(o, "cloud", true));
        }
    }
    return o;
}

cJSON *dtdl_to_json(const struct dtdl_model *m)
{
    if (m == NULL)
        return NULL;
    struct jb b = {false};
    cJSON *o = chk(&b, cJSON_CreateObject());
    add_str(&b, o, "id", m->id);
    add_str(&b, o, "templateId", m->template_id);
    if (o != NULL)
        chk(&b, cJSON_AddNumberToObject(o, "dtdlVersion", m->version));
    add_text(&b, o, "displayName", m->display_name, m->display_name_map);
    add_str(&b, o, "description", m->description);
    cJSON *comps = chk(&b, cJSON_CreateArray());
    for (size_t i = 0; i < m->n_components; i++) {
        const struct dtdl_component *c = &m->components[i];
        cJSON *co = chk(&b, cJSON_CreateObject());
        add_str(&b, co, "name", c->name);
        add_str(&b, co, "interface", c->interface_id);
        add_str(&b, co, "displayName", c->display_name);
        add_str(&b, co, "description", c->description);
        append(&b, comps, co);
    }
    add_item(&b, o, "components", comps);
    cJSON *groups = chk(&b, cJSON_CreateArray());
    for (size_t i = 0; i < m->n_groups; i++) {
        cJSON *g = chk(&b, cJSON_CreateObject());
        add_str(&b, g, "name", m->groups[i].name);
        add_str(&b, g, "interface", m->groups[i].interface_id);
        add_str(&b, g, "displayName", m->groups[i].display_name);
        append(&b, groups, g);
    }
    add_item(&b, o, "groups", groups);
    cJSON *caps = chk(&b, cJSON_CreateArray());
    for (size_t i = 0; i < m->n_caps; i++)
        append(&b, caps, cap_json(&b, &m->caps[i]));
    add_item(&b, o, "capabilities", caps);
    if (b.oom) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
