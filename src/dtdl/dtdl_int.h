/*
 * dtdl_int.h - internals shared by dtdl*.c (not for other modules; use dtdl.h).
 *
 * The importer works in passes over one parsed cJSON document:
 *   1. collect  (dtdl.c)        register every Interface (top level and inline) and every named
 *                               schema, check @context/@id, resolve extends/Component/implements
 *                               references, pick the root;
 *   2. elements (dtdl_elem.c)   parse each Interface's contents once, on first use (cached);
 *   3. flatten  (dtdl.c)        expand extends and Components into the model's flat lists and
 *                               reject duplicate names.
 * Schemas (dtdl_schema.c) are parsed where they are used; named ones are parsed once and shared.
 * Every error records the JSON path of the offending value and stops the import.
 */
#ifndef CENTRAL_DTDL_INT_H
#define CENTRAL_DTDL_INT_H

#include "dtdl/dtdl.h"

#include <stdarg.h>

#define DTDL__PATH_MAX 512
#define DTDL__V2_MAX_CONTENTS 300 /* DTDL v2: contents per Interface incl. extends */
#define DTDL__V2_MAX_EXTENDS 2    /* DTDL v2: Interfaces in one extends set */
#define DTDL__V2_MAX_EXTENDS_DEPTH 10
#define DTDL__V2_MAX_NESTING 5 /* DTDL v2: nested complex schema levels */
#define DTDL__V1_MAX_NESTING 8 /* v1 states no limit; this only bounds recursion */
#define DTDL__V2_MAX_FIELDS 30
#define DTDL__V2_MAX_ENUM_VALUES 100
#define DTDL__V1_MAX_MEMBERS 1000 /* fields / enum values per schema in v1 (a guard) */
#define DTDL__V2_MAX_IFACE_ID 128
#define DTDL__V2_MAX_DTMI 2048
/* Guards, not DTDL rules: keep the linear look-ups of the importer cheap on hostile input. */
#define DTDL__MAX_IFACES 1000 /* Interfaces (top level and inline) in one document */
#define DTDL__MAX_NAMED 1000  /* named schemas in one document */

/* Bump allocator: everything of a model lives in its arena and is freed at once. */
struct dtdl_arena {
    struct dtdl__block *head;
};

void *dtdl__alloc(struct dtdl_arena *a, size_t n); /* zeroed; NULL when out of memory */
void dtdl__arena_release(struct dtdl_arena *a);

struct dtdl__iface;

/* One parsed content element of an Interface: a capability or a Component. */
struct dtdl__elem {
    bool is_component;
    struct dtdl_capability cap;     /* when !is_component (component/group unset) */
    struct dtdl_component comp;     /* when is_component */
    struct dtdl__iface *comp_iface; /* when is_component */
    const char *path;               /* JSON path of the element, for later errors */
};

struct dtdl__base {
    struct dtdl__iface *iface;
    const char *path; /* where the reference is written */
};

/* v1 InterfaceInstance of a CapabilityModel */
struct dtdl__instance {
    const char *name;
    struct dtdl__iface *iface;
    const char *path;
};

struct dtdl__iface {
    const cJSON *node;
    const char *id;   /* NULL for an anonymous inline interface */
    const char *path; /* JSON path of the interface object */
    bool top_level;   /* element of the document (not inline) */
    bool is_capmodel; /* v1 CapabilityModel */
    bool referenced;  /* some other element points at it */
    struct dtdl__base *bases;
    size_t n_bases;
    struct dtdl__instance *instances; /* CapabilityModel implements */
    size_t n_instances;
    /* contents, parsed on first use */
    bool parsed;
    struct dtdl__elem *elems;
    size_t n_elems;
    /* flatten bookkeeping */
    unsigned visit_gen;
    bool in_progress;
};

struct dtdl__named {
    const char *id;
    const cJSON *node;
    const char *path;
    struct dtdl_schema *parsed;
    int state; /* 0 not parsed, 1 in progress, 2 done */
};

struct dtdl__ctx {
    struct dtdl_model *m;      /* result; m->priv_arena holds what the model keeps */
    struct dtdl_arena scratch; /* freed when the import ends */
    struct dtdl_error *err;
    int rc;      /* first error code, 0 while none */
    int version; /* 1 or 2 once known, 0 before */
    char path[DTDL__PATH_MAX];
    size_t plen;
    struct dtdl__iface **ifaces;
    size_t n_ifaces, cap_ifaces;
    struct dtdl__named *named;
    size_t n_named, cap_named;
    size_t n_elements; /* content elements parsed so far, at most DTDL_MAX_CAPABILITIES */
};

/* ---- errors and paths (dtdl_util.c) ---- */
int dtdl__fail(struct dtdl__ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dtdl__fail_key(struct dtdl__ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int dtdl__oom(struct dtdl__ctx *c);
size_t dtdl__path_key(struct dtdl__ctx *c, const char *key);
size_t dtdl__path_idx(struct dtdl__ctx *c, size_t idx);
void dtdl__path_set(struct dtdl__ctx *c, size_t len);
const char *dtdl__path_save(struct dtdl__ctx *c);            /* scratch copy of the current path */
int dtdl__path_load(struct dtdl__ctx *c, const char *saved); /* returns previous length */
/* Quote s for a message: escaped, cut to a readable length. Returns buf. */
const char *dtdl__q(char *buf, size_t cap, const char *s);
const char *dtdl__json_type(const cJSON *v); /* "string", "number", ... */

/* ---- arrays (dtdl_util.c) ---- */
/* arr is member `key` of the object at the current path: fails unless it is an array of at most
 * `limit` elements (0: any number; the message calls them `what`). *n: its length. */
int dtdl__array_len(struct dtdl__ctx *c, const cJSON *arr, const char *key, size_t limit,
                    const char *what, size_t *n);
/* Called on element i of an array with the path at key[i]; items: what dtdl__array_each
 * allocated (NULL when nothing). Returns 0 or a negative error already recorded. */
typedef int (*dtdl__item_fn)(struct dtdl__ctx *c, const cJSON *e, void *items, size_t i, void *arg);
/* Allocates n zeroed items of `size` bytes from `a` into *items (none when n or size is 0;
 * items may be NULL then), calls fn on each element of arr (member `key`, n elements) with the
 * path at key[i], restores the path. Stops at the first error. */
int dtdl__array_each(struct dtdl__ctx *c, const cJSON *arr, const char *key, size_t n,
                     struct dtdl_arena *a, size_t size, void **items, dtdl__item_fn fn, void *arg);

/* ---- small readers (dtdl_util.c); each returns 0 or a negative error already recorded ---- */
void *dtdl__grow(struct dtdl__ctx *c, struct dtdl_arena *a, void *arr, size_t n, size_t *cap,
                 size_t elem);
int dtdl__opt_string(struct dtdl__ctx *c, const cJSON *obj, const char *key, const char **out);
int dtdl__opt_bool(struct dtdl__ctx *c, const cJSON *obj, const char *key, bool *out);
int dtdl__opt_text(struct dtdl__ctx *c, const cJSON *obj, const char *key, const char **out,
                   const cJSON **out_map);
/* displayName (its language map too when dn_map is non-NULL), description and, when comment is
 * non-NULL, comment */
int dtdl__opt_docs(struct dtdl__ctx *c, const cJSON *obj, const char **display_name,
                   const cJSON **dn_map, const char **description, const char **comment);
/* obj's displayName, unchecked: the string, or a language map's "en" or first entry; or NULL */
const char *dtdl__display_name_of(const cJSON *obj);
int dtdl__req_name(struct dtdl__ctx *c, const cJSON *obj, const char **out);
bool dtdl__is_dtmi(const char *s, size_t max_len);
int dtdl__opt_id(struct dtdl__ctx *c, const cJSON *obj, bool required, size_t max_len,
                 const char **out);

/* @type of an element: exactly one "primary" type from an allowed list, plus co-types. */
struct dtdl__types {
    const char *primary;       /* NULL when @type is absent and not required */
    const char *semantic_type; /* first co-type other than the IoT Central markers */
    bool has_cotype;           /* any co-type: DTDL then permits undefined properties */
    bool cloud;
};
int dtdl__read_types(struct dtdl__ctx *c, const cJSON *obj, const char *const *allowed,
                     bool required, struct dtdl__types *out);
bool dtdl__has_type(const cJSON *obj, const char *type);
/* v2: reject keys outside `allowed` (NULL-terminated) unless the element has a co-type. */
int dtdl__check_keys(struct dtdl__ctx *c, const cJSON *obj, const char *const *allowed,
                     const struct dtdl__types *t);

/* ---- schemas (dtdl_schema.c) ---- */
/* node is the schema value; the current path must point at it. in_property: v2 forbids Array. */
int dtdl__parse_schema(struct dtdl__ctx *c, const cJSON *node, unsigned depth,
                       const struct dtdl_schema **out);
int dtdl__parse_named_all(struct dtdl__ctx *c);
/* node: a Field, MapKey, MapValue or CommandPayload {name, schema, displayName?, description?}
 * at the current path. Its @type must be one of `types` (NULL: not read, v1 payloads). */
int dtdl__parse_field(struct dtdl__ctx *c, const cJSON *node, unsigned depth,
                      const char *const *types, struct dtdl_field *out);
bool dtdl__schema_has_array(const struct dtdl_schema *s);
const struct dtdl_schema *dtdl__primitive(const char *name);
/* a GeoJSON geometry (point ... multiPolygon) */
static inline bool dtdl__is_geo(enum dtdl_schema_type t)
{
    return t >= DTDL_SCHEMA_POINT && t <= DTDL_SCHEMA_MULTIPOLYGON;
}

/* ---- flattening (dtdl_flat.c): fills the model's components, groups and capabilities ---- */
int dtdl__flatten(struct dtdl__ctx *c, struct dtdl__iface *root);

/* ---- elements (dtdl_elem.c) ---- */
int dtdl__parse_contents(struct dtdl__ctx *c, struct dtdl__iface *f);
struct dtdl__iface *dtdl__find_iface_by_id(struct dtdl__ctx *c, const char *id);
struct dtdl__iface *dtdl__find_iface_by_node(struct dtdl__ctx *c, const cJSON *node);

#endif /* CENTRAL_DTDL_INT_H */
