/* twin_sync.c - see twin_sync.h. */
#include "device/twin_sync.h"

#include <string.h>

#include <iotc/central.h>
#include <iotc/codec.h>

/* Find a member by the escaped contents of its name (the names we look up come from twin text
 * of the same service, so comparing escaped forms is exact for every name IoT Hub accepts). */
static int find_member(struct iotc_json_value obj, struct iotc_span name,
                       struct iotc_json_value *out)
{
    struct iotc_json_iter it;
    struct iotc_json_value k, v;
    struct iotc_span contents;
    int rc;

    if (obj.type != IOTC_JSON_OBJECT || iotc_json_iter_init(&it, obj) != IOTC_OK)
        return IOTC_E_NOTFOUND;
    for (;;) {
        rc = iotc_json_iter_next(&it, &k, &v);
        if (rc != IOTC_OK)
            return rc == IOTC_E_NOTFOUND ? IOTC_E_NOTFOUND : IOTC_E_MALFORMED;
        if (iotc_json_string_contents(k, &contents) != IOTC_OK)
            return IOTC_E_MALFORMED;
        if (contents.len == name.len && memcmp(contents.ptr, name.ptr, name.len) == 0) {
            *out = v;
            return IOTC_OK;
        }
    }
}

/* Non-negative integer member @p key of @p obj; 0 when absent or not such an integer. */
static uint64_t get_uint_member(struct iotc_json_value obj, const char *key)
{
    struct iotc_json_value v;
    int64_t n = 0;

    if (find_member(obj, iotc_span_from_cstr(key), &v) != IOTC_OK)
        return 0;
    if (iotc_json_get_int(v, 0, INT64_MAX, &n) != IOTC_OK)
        return 0;
    return (uint64_t)n;
}

uint64_t iotc__twin_acked_version(struct iotc_json_value reported, struct iotc_span component,
                                  struct iotc_span name)
{
    struct iotc_json_value section = reported, prop;

    if (component.ptr != NULL && find_member(reported, component, &section) != IOTC_OK)
        return 0;
    if (find_member(section, name, &prop) != IOTC_OK || prop.type != IOTC_JSON_OBJECT)
        return 0;
    return get_uint_member(prop, "av");
}

struct walk {
    const struct iotc__twin_ops *ops;
    struct iotc_json_value reported; /* type NONE for a push: nothing acked to compare with */
    uint64_t version;                /* document (GET) or push version */
    bool use_metadata;               /* GET: per-property $lastUpdatedVersion when present */
};

static bool is_reserved(struct iotc_span name)
{
    return name.len == 0 || name.ptr[0] == '$' ||
           (name.len == 3 && memcmp(name.ptr, IOTC_CENTRAL_COMPONENT_MARKER, 3) == 0);
}

static bool looks_like_component(const struct walk *w, struct iotc_span name,
                                 struct iotc_json_value v)
{
    if (v.type != IOTC_JSON_OBJECT)
        return false;
    if (iotc_central_is_component(v))
        return true;
    return w->ops->is_component != NULL && w->ops->is_component(w->ops->ctx, name);
}

static int offer(const struct walk *w, struct iotc_span comp, struct iotc_span name,
                 struct iotc_json_value value, struct iotc_json_value meta)
{
    uint64_t version = w->version;
    uint64_t acked = 0, delivered = 0;
    struct iotc_json_value m;

    if (w->use_metadata && find_member(meta, name, &m) == IOTC_OK) {
        uint64_t lv = get_uint_member(m, "$lastUpdatedVersion");
        if (lv > 0)
            version = lv;
    }
    if (w->reported.type == IOTC_JSON_OBJECT)
        acked = iotc__twin_acked_version(w->reported, comp, name);
    if (w->ops->delivered != NULL)
        delivered = w->ops->delivered(w->ops->ctx, comp, name);
    if (version <= acked || version <= delivered)
        return IOTC_OK;
    return w->ops->deliver(w->ops->ctx, comp, name, value, version);
}

static int walk_level(const struct walk *w, struct iotc_json_value obj, struct iotc_span comp,
                      struct iotc_json_value meta)
{
    struct iotc_json_iter it;
    struct iotc_json_value k, v;
    struct iotc_span name;
    int rc;

    if (iotc_json_iter_init(&it, obj) != IOTC_OK)
        return IOTC_E_MALFORMED;
    for (;;) {
        rc = iotc_json_iter_next(&it, &k, &v);
        if (rc == IOTC_E_NOTFOUND)
            return IOTC_OK;
        if (rc != IOTC_OK || iotc_json_string_contents(k, &name) != IOTC_OK)
            return IOTC_E_MALFORMED;
        if (is_reserved(name))
            continue;
        if (comp.ptr == NULL && looks_like_component(w, name, v)) {
            struct iotc_json_value sub_meta = {IOTC_JSON_NONE, {NULL, 0}};
            if (w->use_metadata)
                (void)find_member(meta, name, &sub_meta);
            rc = walk_level(w, v, name, sub_meta);
        } else {
            rc = offer(w, comp, name, v, meta);
        }
        if (rc < 0)
            return rc;
    }
}

int iotc__twin_reconcile(struct iotc_span twin, const struct iotc__twin_ops *ops,
                         uint64_t processed, uint64_t *out_desired_version)
{
    struct iotc_json_value doc, desired, meta = {IOTC_JSON_NONE, {NULL, 0}};
    struct walk w = {ops, {IOTC_JSON_NONE, {NULL, 0}}, 0, true};
    struct iotc_json_value ver;
    int64_t n;
    int rc;

    if (out_desired_version)
        *out_desired_version = 0;
    if (iotc_json_parse(twin, &doc) != IOTC_OK || doc.type != IOTC_JSON_OBJECT)
        return IOTC_E_MALFORMED;
    rc = find_member(doc, iotc_span_from_cstr("desired"), &desired);
    if (rc == IOTC_E_NOTFOUND)
        return IOTC_OK;
    if (rc != IOTC_OK || desired.type != IOTC_JSON_OBJECT)
        return IOTC_E_MALFORMED;
    if (find_member(desired, iotc_span_from_cstr("$version"), &ver) == IOTC_OK) {
        if (iotc_json_get_int(ver, 0, INT64_MAX, &n) != IOTC_OK)
            return IOTC_E_MALFORMED;
        w.version = (uint64_t)n;
    }
    if (out_desired_version)
        *out_desired_version = w.version;
    if (processed != 0 && w.version <= processed)
        return IOTC_OK;
    (void)find_member(doc, iotc_span_from_cstr("reported"), &w.reported);
    (void)find_member(desired, iotc_span_from_cstr("$metadata"), &meta);
    return walk_level(&w, desired, (struct iotc_span){NULL, 0}, meta);
}

int iotc__twin_desired_patch(struct iotc_span patch, uint64_t version,
                             const struct iotc__twin_ops *ops)
{
    struct iotc_json_value doc;
    struct walk w = {ops, {IOTC_JSON_NONE, {NULL, 0}}, version, false};

    if (iotc_json_parse(patch, &doc) != IOTC_OK || doc.type != IOTC_JSON_OBJECT)
        return IOTC_E_MALFORMED;
    return walk_level(&w, doc, (struct iotc_span){NULL, 0},
                      (struct iotc_json_value){IOTC_JSON_NONE, {NULL, 0}});
}
