/*
 * dtdl_elem.c - the contents of one Interface: Telemetry, Property, Command, Component,
 * Relationship. Each Interface is parsed once; the flattener copies the results.
 */
#include "dtdl/dtdl_int.h"

#include <string.h>

#include "iotc/common.h"

struct dtdl__iface *dtdl__find_iface_by_id(struct dtdl__ctx *c, const char *id)
{
    for (size_t i = 0; i < c->n_ifaces; i++)
        if (c->ifaces[i]->id != NULL && strcmp(c->ifaces[i]->id, id) == 0)
            return c->ifaces[i];
    return NULL;
}

struct dtdl__iface *dtdl__find_iface_by_node(struct dtdl__ctx *c, const cJSON *node)
{
    for (size_t i = 0; i < c->n_ifaces; i++)
        if (c->ifaces[i]->node == node)
            return c->ifaces[i];
    return NULL;
}

/* CommandPayload (v2) / request-response object (v1, whose @type is not checked) */
static int parse_payload(struct dtdl__ctx *c, const cJSON *cmd, const char *key,
                         const struct dtdl_field **out)
{
    static const char *const types[] = {"CommandPayload", "SchemaField", NULL};
    *out = NULL;
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(cmd, key);
    if (node == NULL)
        return 0;
    struct dtdl_field *f = dtdl__alloc(c->m->priv_arena, sizeof *f);
    if (f == NULL)
        return dtdl__oom(c);
    size_t mark = dtdl__path_key(c, key);
    int rc = dtdl__parse_field(c, node, 0, c->version == 2 ? types : NULL, f);
    if (rc < 0)
        return rc;
    dtdl__path_set(c, mark);
    *out = f;
    return 0;
}

static int parse_command_fields(struct dtdl__ctx *c, const cJSON *node, struct dtdl_capability *cap)
{
    const char *ct;
    int rc = dtdl__opt_string(c, node, "commandType", &ct);
    if (rc < 0)
        return rc;
    if (ct != NULL) {
        if (strcmp(ct, "synchronous") == 0)
            cap->command_type = DTDL_CMD_SYNCHRONOUS;
        else if (strcmp(ct, "asynchronous") == 0)
            cap->command_type = DTDL_CMD_ASYNCHRONOUS;
        else
            return dtdl__fail_key(c, "commandType", "must be \"synchronous\" or \"asynchronous\"");
    }
    rc = dtdl__opt_bool(c, node, "durable", &cap->durable);
    if (rc == 0)
        rc = parse_payload(c, node, "request", &cap->request);
    if (rc == 0)
        rc = parse_payload(c, node, "response", &cap->response);
    return rc;
}

/* DTDL v2 standard semantic types and the units each accepts (DTDL v2 "Semantic Type" table).
 * Co-types outside this table (IoT Central's, or undefined ones) are not checked. */
static const struct {
    const char *type;
    const char *units; /* space-separated */
} semantic_units[] = {
    {"Acceleration", "centimetrePerSecondSquared gForce metrePerSecondSquared"},
    {"Angle", "degreeOfArc minuteOfArc radian secondOfArc turn"},
    {"AngularAcceleration", "radianPerSecondSquared"},
    {"AngularVelocity", "degreePerSecond radianPerSecond revolutionPerMinute revolutionPerSecond"},
    {"Area", "acre hectare squareCentimetre squareFoot squareInch squareKilometre squareMetre "
             "squareMillimetre"},
    {"Capacitance", "farad microfarad millifarad nanofarad picofarad"},
    {"Current", "ampere microampere milliampere"},
    {"DataRate", "bitPerSecond bytePerSecond exbibitPerSecond exbibytePerSecond gibibitPerSecond "
                 "gibibytePerSecond kibibitPerSecond kibibytePerSecond mebibitPerSecond "
                 "mebibytePerSecond tebibitPerSecond tebibytePerSecond yobibitPerSecond "
                 "yobibytePerSecond zebibitPerSecond zebibytePerSecond"},
    {"DataSize", "bit byte exbibit exbibyte gibibit gibibyte kibibit kibibyte mebibit mebibyte "
                 "tebibit tebibyte yobibit yobibyte zebibit zebibyte"},
    {"Density", "gramPerCubicMetre kilogramPerCubicMetre"},
    {"Distance", "astronomicalUnit centimetre foot inch kilometre metre micrometre mile "
                 "millimetre nanometre nauticalMile"},
    {"ElectricCharge", "coulomb"},
    {"Energy", "electronvolt gigajoule joule kilojoule kilowattHour megaelectronvolt megajoule"},
    {"Force", "newton ounce pound ton"},
    {"Frequency", "gigahertz hertz kilohertz megahertz"},
    {"Humidity", "gramPerCubicMetre kilogramPerCubicMetre"},
    {"Illuminance", "footcandle lux"},
    {"Inductance", "henry microhenry millihenry"},
    {"Latitude", "degreeOfArc minuteOfArc radian secondOfArc turn"},
    {"Length", "astronomicalUnit centimetre foot inch kilometre metre micrometre mile millimetre "
               "nanometre nauticalMile"},
    {"Longitude", "degreeOfArc minuteOfArc radian secondOfArc turn"},
    {"Luminance", "candelaPerSquareMetre"},
    {"Luminosity", "gigawatt horsepower kilowatt kilowattHourPerYear megawatt microwatt milliwatt "
                   "watt"},
    {"LuminousFlux", "lumen"},
    {"LuminousIntensity", "candela"},
    {"MagneticFlux", "maxwell weber"},
    {"MagneticInduction", "tesla"},
    {"Mass", "gram kilogram microgram milligram slug tonne"},
    {"MassFlowRate", "gramPerHour gramPerSecond kilogramPerHour kilogramPerSecond"},
    {"Power", "gigawatt horsepower kilowatt kilowattHourPerYear megawatt microwatt milliwatt watt"},
    {"Pressure", "bar inchesOfMercury inchesOfWater kilopascal millibar millimetresOfMercury "
                 "pascal poundPerSquareInch"},
    {"RelativeHumidity", "percent unity"},
    {"Resistance", "kiloohm megaohm milliohm ohm"},
    {"SoundPressure", "bel decibel"},
    {"Temperature", "degreeCelsius degreeFahrenheit kelvin"},
    {"Thrust", "newton ounce pound ton"},
    {"TimeSpan", "day hour microsecond millisecond minute nanosecond second year"},
    {"Torque", "newtonMetre"},
    {"Velocity", "centimetrePerSecond kilometrePerHour kilometrePerSecond knot metrePerHour "
                 "metrePerSecond milePerHour milePerSecond"},
    {"Voltage", "kilovolt megavolt microvolt millivolt volt"},
    {"Volume", "cubicCentimetre cubicFoot cubicInch cubicMetre fluidOunce gallon litre "
               "millilitre"},
    {"VolumeFlowRate", "litrePerHour litrePerSecond millilitrePerHour millilitrePerSecond"},
};

static const char *units_of(const char *semantic_type)
{
    if (semantic_type == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof semantic_units / sizeof semantic_units[0]; i++)
        if (strcmp(semantic_units[i].type, semantic_type) == 0)
            return semantic_units[i].units;
    return NULL;
}

static bool unit_in(const char *units, const char *unit)
{
    size_t n = strlen(unit);
    for (const char *p = units; *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, unit, n) == 0)
            return true;
        p += len;
        while (*p == ' ')
            p++;
    }
    return false;
}

/* v2: a standard semantic type needs a numeric schema and one of its units. */
static int check_semantic(struct dtdl__ctx *c, const struct dtdl_capability *cap)
{
    const char *units = units_of(cap->semantic_type);
    if (c->version != 2 || units == NULL)
        return 0;
    enum dtdl_schema_type t = cap->schema->type;
    if (t != DTDL_SCHEMA_DOUBLE && t != DTDL_SCHEMA_FLOAT && t != DTDL_SCHEMA_INTEGER &&
        t != DTDL_SCHEMA_LONG)
        return dtdl__fail_key(c, "schema",
                              "semantic type \"%s\" needs a numeric schema (double, float, "
                              "integer or long)",
                              cap->semantic_type);
    if (cap->unit == NULL)
        return dtdl__fail(c, "semantic type \"%s\" needs a \"unit\" (one of: %s)",
                          cap->semantic_type, units);
    if (!unit_in(units, cap->unit)) {
        char q[64];
        return dtdl__fail_key(c, "unit", "%s is not a unit of %s (one of: %s)",
                              dtdl__q(q, sizeof q, cap->unit), cap->semantic_type, units);
    }
    return 0;
}

static int parse_data_fields(struct dtdl__ctx *c, const cJSON *node, const struct dtdl__types *t,
                             struct dtdl_capability *cap)
{
    const cJSON *sch = cJSON_GetObjectItemCaseSensitive(node, "schema");
    if (sch == NULL)
        return dtdl__fail(c, "missing \"schema\"");
    size_t mark = dtdl__path_key(c, "schema");
    int rc = dtdl__parse_schema(c, sch, 0, &cap->schema);
    if (rc < 0)
        return rc;
    /* DTDL v2 Property: "schema may not contain Array in hierarchy" (lifted only in v3) */
    if (c->version == 2 && cap->kind == DTDL_PROPERTY && dtdl__schema_has_array(cap->schema))
        return dtdl__fail(c, "a Property schema may not contain an Array (DTDL v2)");
    dtdl__path_set(c, mark);
    rc = dtdl__opt_string(c, node, "unit", &cap->unit);
    if (rc == 0 && c->version == 2 && cap->unit != NULL && !t->has_cotype)
        rc = dtdl__fail_key(c, "unit", "unit requires a semantic type in @type (DTDL v2)");
    if (rc == 0)
        rc = check_semantic(c, cap);
    if (rc == 0)
        rc = dtdl__opt_string(c, node, "displayUnit", &cap->display_unit);
    if (rc == 0 && cap->kind == DTDL_PROPERTY)
        rc = dtdl__opt_bool(c, node, "writable", &cap->writable);
    else if (rc == 0 && cJSON_GetObjectItemCaseSensitive(node, "writable") != NULL)
        rc = dtdl__fail_key(c, "writable", "only a Property can be writable");
    return rc;
}

static int parse_capability(struct dtdl__ctx *c, const cJSON *node, const struct dtdl__types *t,
                            struct dtdl__iface *f, struct dtdl_capability *cap)
{
    static const char *const tel_keys[] = {"name", "schema", "unit", NULL};
    static const char *const prop_keys[] = {"name", "schema", "unit", "writable", NULL};
    static const char *const cmd_keys[] = {"name", "commandType", "request", "response", NULL};
    const char *const *keys;
    if (strcmp(t->primary, "Telemetry") == 0) {
        cap->kind = DTDL_TELEMETRY;
        keys = tel_keys;
    } else if (strcmp(t->primary, "Property") == 0) {
        cap->kind = DTDL_PROPERTY;
        keys = prop_keys;
    } else {
        cap->kind = DTDL_COMMAND;
        keys = cmd_keys;
    }
    cap->interface_id = f->id;
    cap->semantic_type = t->semantic_type;
    cap->cloud = t->cloud;
    const char *id;
    int rc = dtdl__check_keys(c, node, keys, t);
    if (rc == 0)
        rc = dtdl__req_name(c, node, &cap->name);
    if (rc == 0)
        rc = dtdl__opt_id(c, node, false, DTDL__V2_MAX_DTMI, &id);
    if (rc == 0)
        rc = dtdl__opt_docs(c, node, &cap->display_name, &cap->display_name_map, &cap->description,
                            &cap->comment);
    if (rc < 0)
        return rc;
    if (cap->kind == DTDL_COMMAND) {
        if (cJSON_GetObjectItemCaseSensitive(node, "writable") != NULL)
            return dtdl__fail_key(c, "writable", "only a Property can be writable");
        return parse_command_fields(c, node, cap);
    }
    return parse_data_fields(c, node, t, cap);
}

static int parse_component(struct dtdl__ctx *c, const cJSON *node, const struct dtdl__types *t,
                           struct dtdl__elem *e)
{
    static const char *const keys[] = {"name", "schema", NULL};
    const char *id;
    int rc = dtdl__check_keys(c, node, keys, t);
    if (rc == 0)
        rc = dtdl__req_name(c, node, &e->comp.name);
    if (rc == 0)
        rc = dtdl__opt_id(c, node, false, DTDL__V2_MAX_DTMI, &id);
    if (rc == 0)
        rc = dtdl__opt_docs(c, node, &e->comp.display_name, NULL, &e->comp.description, NULL);
    if (rc < 0)
        return rc;
    const cJSON *sch = cJSON_GetObjectItemCaseSensitive(node, "schema");
    if (sch == NULL)
        return dtdl__fail(c, "missing \"schema\"");
    /* the collector registered inline schemas and checked references; look the result up */
    if (cJSON_IsString(sch) && sch->valuestring != NULL)
        e->comp_iface = dtdl__find_iface_by_id(c, sch->valuestring);
    else if (cJSON_IsObject(sch))
        e->comp_iface = dtdl__find_iface_by_node(c, sch);
    if (e->comp_iface == NULL) {
        char q[64];
        return dtdl__fail_key(c, "schema", "unresolved interface %s",
                              cJSON_IsString(sch) ? dtdl__q(q, sizeof q, sch->valuestring)
                                                  : "(not an Interface)");
    }
    e->comp.interface_id = e->comp_iface->id;
    /* UIs show a component by its Interface's name when the Component has none */
    if (e->comp.display_name == NULL)
        e->comp.display_name = dtdl__display_name_of(e->comp_iface->node);
    e->is_component = true;
    return 0;
}

/* contents[i] of Interface arg */
static int parse_element(struct dtdl__ctx *c, const cJSON *node, void *items, size_t i, void *arg)
{
    struct dtdl__iface *f = arg;
    struct dtdl__elem *e = (struct dtdl__elem *)items + i;
    static const char *const v2_types[] = {"Telemetry", "Property",     "Command",
                                           "Component", "Relationship", NULL};
    static const char *const v1_types[] = {"Telemetry", "Property", "Command", NULL};
    if (!cJSON_IsObject(node))
        return dtdl__fail(c, "must be an object, not %s", dtdl__json_type(node));
    e->path = dtdl__path_save(c);
    if (e->path == NULL)
        return dtdl__oom(c);
    struct dtdl__types t;
    int rc = dtdl__read_types(c, node, c->version == 2 ? v2_types : v1_types, true, &t);
    if (rc < 0)
        return rc;
    if (strcmp(t.primary, "Component") == 0)
        return parse_component(c, node, &t, e);
    if (strcmp(t.primary, "Relationship") == 0) {
        /* not a device capability; only its name takes part in uniqueness */
        e->cap.kind = 0;
        return dtdl__req_name(c, node, &e->cap.name);
    }
    return parse_capability(c, node, &t, f, &e->cap);
}

int dtdl__parse_contents(struct dtdl__ctx *c, struct dtdl__iface *f)
{
    if (f->parsed)
        return 0;
    const cJSON *contents = cJSON_GetObjectItemCaseSensitive(f->node, "contents");
    int old = dtdl__path_load(c, f->path);
    if (contents == NULL) {
        f->parsed = true;
        dtdl__path_set(c, (size_t)old);
        return 0;
    }
    size_t n;
    int rc = dtdl__array_len(c, contents, "contents", c->version == 2 ? DTDL__V2_MAX_CONTENTS : 0,
                             "elements", &n);
    if (rc < 0)
        return rc;
    c->n_elements += n;
    if (c->n_elements > DTDL_MAX_CAPABILITIES) {
        dtdl__fail_key(c, "contents", "the document has more than %u content elements",
                       DTDL_MAX_CAPABILITIES);
        c->rc = IOTC_E_TOOBIG;
        return c->rc;
    }
    void *elems;
    rc = dtdl__array_each(c, contents, "contents", n, &c->scratch, sizeof *f->elems, &elems,
                          parse_element, f);
    if (rc < 0)
        return rc;
    f->elems = elems;
    f->n_elems = n;
    f->parsed = true;
    dtdl__path_set(c, (size_t)old);
    return 0;
}
