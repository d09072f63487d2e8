/*
 * dtdl.h - device-template model importer for iotc-central (DTDL v1 "DCM" and DTDL v2).
 *
 * dtdl_import() turns a model document (the bytes of a .json file or of a REST body) into a
 * normalized, read-only struct dtdl_model: the model id, its components, and one flat list of
 * capabilities (telemetry, properties, commands), each tagged with the component it belongs to.
 * The module does no I/O: every byte it reads is passed in by the caller.
 *
 * Accepted documents:
 *  - DTDL v1 (IoT Plug and Play preview, @context "http://azureiot.com/v1/contexts/IoTModel.json"):
 *    a CapabilityModel whose `implements` lists InterfaceInstances, each with an inline Interface
 *    or the @id of an Interface found elsewhere in the same document, or a single Interface.
 *    Ids are URNs and are not syntax-checked, so the tutorial's unreplaced placeholders
 *    (`urn:<YOUR_COMPANY_NAME_HERE>:...`) import fine.
 *    Choice: IoT Central (2020) put every v1 capability at the top level of the device's payloads
 *    (the tutorial device sends {"temp":..} with no component wrapper), so a v1 model has only the
 *    root component "" and each capability remembers its interface-instance name in `group`.
 *    The instances are listed in dtdl_model.groups. Names must therefore be unique across all
 *    instances of a v1 model.
 *  - DTDL v2 (@context "dtmi:dtdl:context;2", extra contexts such as "dtmi:iotcentral:context;2"
 *    allowed): one Interface, or an array holding a root Interface and the Interfaces it uses
 *    (the root is the first element that no other element references). `extends` (string, array,
 *    inline Interface), Components (schema = DTMI resolved in the document, or inline Interface),
 *    Interface `schemas`, semantic co-types and `unit` are supported. Relationships are checked for
 *    a valid name and otherwise ignored.
 *  - An IoT Central DeviceTemplate wrapper ({"@type":[..],"capabilityModel":{...}}): the
 *    capabilityModel is imported; the wrapper's @id is kept as template_id.
 *
 * Memory: the model owns everything it points to (it keeps the parsed JSON tree, so strings are
 * borrowed from it); free it with dtdl_model_free(). All allocation goes through cJSON's hooks
 * (cJSON_malloc/cJSON_free), so a test can make any allocation fail via cJSON_InitHooks().
 * Thread-safety: a model is immutable after import and may be read from any thread.
 */
#ifndef CENTRAL_DTDL_H
#define CENTRAL_DTDL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/** Largest document dtdl_import() accepts (bytes); larger input gives IOTC_E_TOOBIG. */
#define DTDL_MAX_INPUT (4u * 1024u * 1024u)
/** Most capabilities one model may hold once extends and components are expanded. */
#define DTDL_MAX_CAPABILITIES 10000u

enum dtdl_kind {
    DTDL_TELEMETRY = 1,
    DTDL_PROPERTY = 2,
    DTDL_COMMAND = 3,
};

enum dtdl_schema_type {
    DTDL_SCHEMA_BOOLEAN = 1,
    DTDL_SCHEMA_DATE,
    DTDL_SCHEMA_DATETIME, /* v2 "dateTime"; v1 spelled it "datetime" (both accepted) */
    DTDL_SCHEMA_DOUBLE,
    DTDL_SCHEMA_DURATION,
    DTDL_SCHEMA_FLOAT,
    DTDL_SCHEMA_INTEGER, /* signed 32-bit */
    DTDL_SCHEMA_LONG,    /* signed 64-bit */
    DTDL_SCHEMA_STRING,
    DTDL_SCHEMA_TIME,
    /* GeoJSON geometries (DTDL v2 geospatial schemas) */
    DTDL_SCHEMA_POINT,
    DTDL_SCHEMA_MULTIPOINT,
    DTDL_SCHEMA_LINESTRING,
    DTDL_SCHEMA_MULTILINESTRING,
    DTDL_SCHEMA_POLYGON,
    DTDL_SCHEMA_MULTIPOLYGON,
    /* complex */
    DTDL_SCHEMA_OBJECT,
    DTDL_SCHEMA_ENUM,
    DTDL_SCHEMA_MAP,
    DTDL_SCHEMA_ARRAY,
};

enum dtdl_command_type {
    DTDL_CMD_UNSPECIFIED = 0,
    DTDL_CMD_SYNCHRONOUS,
    DTDL_CMD_ASYNCHRONOUS, /* v1 hint: answered 202, completed later (docs/PROTOCOL.md §7.5) */
};

struct dtdl_schema;

/**
 * A named slot with a schema: an Object field, a Map key or value, or a command request/response
 * payload. display_name_map is the localized form ({"en":..,"fr":..}) when the model gave one,
 * else NULL; display_name is then the chosen text ("en" first).
 */
struct dtdl_field {
    const char *name;
    const char *display_name; /* NULL when absent */
    const cJSON *display_name_map;
    const char *description; /* NULL when absent */
    const struct dtdl_schema *schema;
};

struct dtdl_enum_value {
    const char *name;
    const char *display_name; /* NULL when absent */
    const char *str;          /* value when the enum's value_schema is string */
    long long num;            /* value when the enum's value_schema is integer */
};

/** A schema node; primitive nodes are shared static objects. */
struct dtdl_schema {
    enum dtdl_schema_type type;
    const char *id;           /* @id of a complex schema, NULL when absent */
    const char *display_name; /* NULL when absent */
    unsigned nesting;         /* complex levels in this subtree: 0 for primitives */
    /* DTDL_SCHEMA_OBJECT */
    const struct dtdl_field *fields;
    size_t n_fields;
    /* DTDL_SCHEMA_ENUM: value_schema is DTDL_SCHEMA_INTEGER or DTDL_SCHEMA_STRING */
    enum dtdl_schema_type value_schema;
    const struct dtdl_enum_value *enum_values;
    size_t n_enum_values;
    /* DTDL_SCHEMA_MAP (map_key.schema is always string) */
    struct dtdl_field map_key;
    struct dtdl_field map_value;
    /* DTDL_SCHEMA_ARRAY */
    const struct dtdl_schema *element;
};

struct dtdl_capability {
    const char *component;    /* "" for the root component */
    const char *group;        /* v1: interface-instance name; NULL otherwise */
    const char *interface_id; /* @id of the Interface that declares it; NULL if anonymous */
    enum dtdl_kind kind;
    const char *name;
    const char *display_name;         /* chosen text, NULL when absent (UIs then show name) */
    const cJSON *display_name_map;    /* localized map when given, else NULL */
    const char *description;          /* NULL when absent */
    const char *comment;              /* NULL when absent */
    const struct dtdl_schema *schema; /* telemetry/property; NULL for commands */
    bool writable;                    /* properties only */
    bool cloud;                       /* co-typed "Cloud" (IoT Central cloud property) */
    const char *unit; /* v2 unit ("degreeFahrenheit") or v1 ("Units/Temperature/fahrenheit") */
    const char *display_unit; /* v1 displayUnit, NULL otherwise */
    const char
        *semantic_type; /* first co-type ("Temperature", "SemanticType/Temperature"), or NULL */
    /* commands */
    const struct dtdl_field *request;  /* NULL when the command takes no input */
    const struct dtdl_field *response; /* NULL when it declares no output */
    enum dtdl_command_type command_type;
    bool durable; /* v1 `durable` (queue if offline); false when absent */
};

struct dtdl_component {
    const char *name;         /* "" for the root */
    const char *interface_id; /* may be NULL for an anonymous inline interface */
    const char *display_name;
    const char *description;
};

/** v1 only: one InterfaceInstance of the capability model (a display grouping, not a component). */
struct dtdl_group {
    const char *name;
    const char *interface_id;
    const char *display_name;
};

struct dtdl_arena;

struct dtdl_model {
    int version;             /* 1 or 2 */
    const char *id;          /* DTMI (v2) or URN (v1) of the root */
    const char *template_id; /* @id of a DeviceTemplate wrapper, else NULL */
    const char *display_name;
    const cJSON *display_name_map;
    const char *description;
    const char *comment;
    const struct dtdl_component *components; /* [0] is always the root "" */
    size_t n_components;
    const struct dtdl_group *groups;
    size_t n_groups;
    const struct dtdl_capability *caps; /* ordered: root first, then by component, document order */
    size_t n_caps;
    /* private */
    cJSON *priv_doc;
    struct dtdl_arena *priv_arena;
};

/** Where and why an import failed. path is a JSON path into the input ("$.contents[3].schema"). */
struct dtdl_error {
    char path[256];
    char message[256];
};

/**
 * Import a model document.
 * @param json bytes of the document (need not be NUL-terminated); borrowed for the call only.
 * @param len  length of @p json.
 * @param out_model on success receives a new model; caller frees with dtdl_model_free().
 *        Left NULL on failure.
 * @param err  optional; on failure receives the JSON path and the reason, e.g.
 *        path "$.contents[3].schema", message "unknown schema \"doubel\"". Cleared on success.
 * @return IOTC_OK; IOTC_E_MALFORMED (not JSON, or not a model we accept); IOTC_E_TOOBIG (input
 *         larger than DTDL_MAX_INPUT or more than DTDL_MAX_CAPABILITIES); IOTC_E_NOMEM;
 *         IOTC_E_ARG (NULL json or out_model).
 */
int dtdl_import(const char *json, size_t len, struct dtdl_model **out_model,
                struct dtdl_error *err);

/**
 * Same as dtdl_import() for a document the caller has already parsed (e.g. a REST body).
 * @param doc borrowed; the model keeps its own copy.
 */
int dtdl_import_cjson(const cJSON *doc, struct dtdl_model **out_model, struct dtdl_error *err);

/** Free a model from dtdl_import(); NULL is a no-op. */
void dtdl_model_free(struct dtdl_model *model);

/**
 * Find a capability by component and name (names are unique within a component).
 * @param component "" or NULL for the root.
 * @return borrowed pointer valid until dtdl_model_free(), or NULL.
 */
const struct dtdl_capability *dtdl_find(const struct dtdl_model *model, const char *component,
                                        const char *name);

/** Find a component by name ("" is the root); NULL when absent. */
const struct dtdl_component *dtdl_find_component(const struct dtdl_model *model, const char *name);

/**
 * The normalized model as JSON for the REST API:
 * {"id","templateId"?,"dtdlVersion","displayName"?,"description"?,"components":[..],"groups":[..],
 *  "capabilities":[{"component","group"?,"kind","name","displayName"?,"schema",...}]}.
 * Schemas are rendered in DTDL shape ("double", {"@type":"Object","fields":[..]}).
 * @return new tree, caller frees with cJSON_Delete(); NULL when out of memory.
 */
cJSON *dtdl_to_json(const struct dtdl_model *model);

/** One schema as DTDL-shaped JSON (see dtdl_to_json). Caller frees; NULL on OOM. */
cJSON *dtdl_schema_to_json(const struct dtdl_schema *schema);

/**
 * Whether @p value conforms to @p schema: JSON type, integer ranges (integer = 32-bit,
 * long = 64-bit, integral), float range, RFC 3339 date/time/dateTime and ISO 8601 durations,
 * Object members must be declared fields (missing fields are allowed), Enum values must be listed,
 * Map values and Array elements are checked recursively, geospatial values are GeoJSON geometries.
 * @param why optional buffer (may be NULL when cap is 0); on mismatch receives the reason with
 *        a JSON path relative to the value: "$.description: expected string, got number".
 * @return true when the value matches.
 */
bool dtdl_check_value(const struct dtdl_schema *schema, const cJSON *value, char *why, size_t cap);

/** "telemetry", "property", "command" (static; "?" for an unknown value). */
const char *dtdl_kind_name(enum dtdl_kind kind);

/** DTDL spelling of a schema type: "double", "dateTime", "Object", "point" (static). */
const char *dtdl_schema_type_name(enum dtdl_schema_type type);

#endif /* CENTRAL_DTDL_H */
