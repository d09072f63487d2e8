/*
 * dtdl.c - import driver: JSON parsing, @context, collecting Interfaces, resolving references,
 * choosing the root and flattening extends/Components into the model's lists.
 */
#include "dtdl/dtdl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotc/common.h"

#define CTX_V2 "dtmi:dtdl:context;2"
#define CTX_V1_PREFIX "http://azureiot.com/v1/contexts/"

struct model_box {
    struct dtdl_model m;
    struct dtdl_arena arena;
};

/* ---- @context ---- */

static int context_one(struct dtdl__ctx *c, const char *s, int *v)
{
    char q[64];
    int this_v = 0;
    if (strcmp(s, CTX_V2) == 0)
        this_v = 2;
    else if (strncmp(s, CTX_V1_PREFIX, strlen(CTX_V1_PREFIX)) == 0)
        this_v = 1;
    else if (strncmp(s, "dtmi:dtdl:context;", 18) == 0)
        return dtdl__fail(c, "unsupported DTDL version %s (only DTDL v1 and v2 are supported)",
                          dtdl__q(q, sizeof q, s));
    else if (strncmp(s, "dtmi:", 5) == 0)
        return 0; /* extension context, e.g. dtmi:iotcentral:context;2 */
    else
        return dtdl__fail(c, "unknown @context %s", dtdl__q(q, sizeof q, s));
    if (*v != 0 && *v != this_v)
        return dtdl__fail(c, "@context mixes DTDL v1 and v2");
    *v = this_v;
    return 0;
}

/* DTDL version named by obj's @context: 1, 2, or 0 when there is no @context. */
static int context_version(struct dtdl__ctx *c, const cJSON *obj, int *out)
{
    *out = 0;
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(obj, "@context");
    if (ctx == NULL)
        return 0;
    size_t mark = dtdl__path_key(c, "@context");
    int v = 0, rc = 0;
    if (cJSON_IsString(ctx) && ctx->valuestring != NULL) {
        rc = context_one(c, ctx->valuestring, &v);
    } else if (cJSON_IsArray(ctx)) {
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, ctx)
        {
            size_t m1 = dtdl__path_idx(c, i++);
            if (!cJSON_IsString(e) || e->valuestring == NULL)
                return dtdl__fail(c, "must be a string, not %s", dtdl__json_type(e));
            rc = context_one(c, e->valuestring, &v);
            if (rc < 0)
                return rc;
            dtdl__path_set(c, m1);
        }
    } else {
        return dtdl__fail(c, "must be a string or an array of strings, not %s",
                          dtdl__json_type(ctx));
    }
    if (rc < 0)
        return rc;
    if (v == 0)
        return dtdl__fail(c, "no DTDL context (expected \"%s\" or \"%sIoTModel.json\")", CTX_V2,
                          CTX_V1_PREFIX);
    dtdl__path_set(c, mark);
    *out = v;
    return 0;
}

/* An element may repeat the @context; it must then agree with the document's. */
static int check_context(struct dtdl__ctx *c, const cJSON *obj)
{
    int v;
    int rc = context_version(c, obj, &v);
    if (rc < 0)
        return rc;
    if (v != 0 && v != c->version)
        return dtdl__fail_key(c, "@context", "mixes DTDL v%d and v%d in one document", c->version,
                              v);
    return 0;
}

/* ---- collecting ---- */

static int register_iface(struct dtdl__ctx *c, struct dtdl__iface *f)
{
    if (f->id != NULL) {
        struct dtdl__iface *other = dtdl__find_iface_by_id(c, f->id);
        if (other != NULL) {
            char q[64];
            return dtdl__fail_key(c, "@id", "duplicate Interface @id %s (also at %s)",
                                  dtdl__q(q, sizeof q, f->id), other->path);
        }
    }
    if (c->n_ifaces >= DTDL__MAX_IFACES) {
        dtdl__fail(c, "more than %d Interfaces in one document", DTDL__MAX_IFACES);
        c->rc = IOTC_E_TOOBIG;
        return c->rc;
    }
    c->ifaces =
        dtdl__grow(c, &c->scratch, c->ifaces, c->n_ifaces, &c->cap_ifaces, sizeof *c->ifaces);
    if (c->ifaces == NULL)
        return c->rc;
    c->ifaces[c->n_ifaces++] = f;
    return 0;
}

/* schemas[i] of an Interface */
static int collect_named_one(struct dtdl__ctx *c, const cJSON *s, void *items, size_t i, void *arg)
{
    if (!cJSON_IsObject(s))
        return dtdl__fail(c, "must be an object, not %s", dtdl__json_type(s));
    const char *id;
    int rc = dtdl__opt_id(c, s, true, DTDL__V2_MAX_DTMI, &id);
    if (rc < 0)
        return rc;
    if (c->n_named >= DTDL__MAX_NAMED) {
        dtdl__fail(c, "more than %d named schemas in one document", DTDL__MAX_NAMED);
        c->rc = IOTC_E_TOOBIG;
        return c->rc;
    }
    for (size_t j = 0; j < c->n_named; j++) {
        if (strcmp(c->named[j].id, id) == 0) {
            char q[64];
            return dtdl__fail_key(c, "@id", "duplicate schema @id %s", dtdl__q(q, sizeof q, id));
        }
    }
    c->named = dtdl__grow(c, &c->scratch, c->named, c->n_named, &c->cap_named, sizeof *c->named);
    if (c->named == NULL)
        return c->rc;
    struct dtdl__named *n = &c->named[c->n_named++];
    memset(n, 0, sizeof *n);
    n->id = id;
    n->node = s;
    n->path = dtdl__path_save(c);
    if (n->path == NULL)
        return dtdl__oom(c);
    return 0;
}

static int collect_named(struct dtdl__ctx *c, const cJSON *iface)
{
    const cJSON *schemas = cJSON_GetObjectItemCaseSensitive(iface, "schemas");
    if (schemas == NULL)
        return 0;
    size_t n;
    int rc = dtdl__array_len(c, schemas, "schemas", 0, NULL, &n);
    if (rc == 0)
        rc = dtdl__array_each(c, schemas, "schemas", n, NULL, 0, NULL, collect_named_one, NULL);
    return rc;
}

static int collect_iface(struct dtdl__ctx *c, const cJSON *node, bool top_level,
                         struct dtdl__iface **out);

/* Component elements with an inline Interface as schema */
static int collect_inline_components(struct dtdl__ctx *c, const cJSON *iface)
{
    const cJSON *contents = cJSON_GetObjectItemCaseSensitive(iface, "contents");
    if (c->version != 2 || !cJSON_IsArray(contents))
        return 0; /* v1 has no Components; shape errors are reported when contents are parsed */
    size_t mark = dtdl__path_key(c, "contents");
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, contents)
    {
        size_t m1 = dtdl__path_idx(c, i++);
        const cJSON *sch = cJSON_GetObjectItemCaseSensitive(e, "schema");
        if (cJSON_IsObject(e) && dtdl__has_type(e, "Component") && cJSON_IsObject(sch)) {
            dtdl__path_key(c, "schema");
            struct dtdl__iface *sub;
            int rc = collect_iface(c, sch, false, &sub);
            if (rc < 0)
                return rc;
            sub->referenced = true;
        }
        dtdl__path_set(c, m1);
    }
    dtdl__path_set(c, mark);
    return 0;
}

static int add_base(struct dtdl__ctx *c, struct dtdl__iface *f, struct dtdl__iface *base)
{
    size_t cap = f->n_bases;
    struct dtdl__base *nb = dtdl__alloc(&c->scratch, (f->n_bases + 1) * sizeof *nb);
    if (nb == NULL)
        return dtdl__oom(c);
    if (cap)
        memcpy(nb, f->bases, cap * sizeof *nb);
    nb[f->n_bases].iface = base;
    nb[f->n_bases].path = dtdl__path_save(c);
    if (nb[f->n_bases].path == NULL)
        return dtdl__oom(c);
    f->bases = nb;
    f->n_bases++;
    return 0;
}

/* extends: "dtmi", {inline Interface}, or an array of those. String references are resolved
 * after every Interface of the document is known (resolve_refs). */
static int collect_extends(struct dtdl__ctx *c, struct dtdl__iface *f)
{
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(f->node, "extends");
    if (ext == NULL)
        return 0;
    if (c->version == 1)
        return dtdl__fail_key(c, "extends", "extends is not part of DTDL v1");
    size_t mark = dtdl__path_key(c, "extends");
    const cJSON *one = ext;
    size_t n = 1;
    bool is_array = cJSON_IsArray(ext);
    if (is_array) {
        n = (size_t)cJSON_GetArraySize(ext);
        if (n > DTDL__V2_MAX_EXTENDS)
            return dtdl__fail(c, "has %zu Interfaces, more than %d", n, DTDL__V2_MAX_EXTENDS);
        one = ext->child;
    }
    for (size_t i = 0; i < n && one != NULL; i++, one = one->next) {
        size_t m1 = is_array ? dtdl__path_idx(c, i) : c->plen;
        int rc;
        if (cJSON_IsString(one) && one->valuestring != NULL) {
            rc = add_base(c, f, NULL); /* resolved later */
        } else if (cJSON_IsObject(one)) {
            struct dtdl__iface *sub;
            rc = collect_iface(c, one, false, &sub);
            if (rc == 0) {
                sub->referenced = true;
                rc = add_base(c, f, sub);
            }
        } else {
            rc = dtdl__fail(c, "must be an Interface @id or an inline Interface, not %s",
                            dtdl__json_type(one));
        }
        if (rc < 0)
            return rc;
        dtdl__path_set(c, m1);
    }
    dtdl__path_set(c, mark);
    return 0;
}

/* A new Interface or v1 CapabilityModel for the object at the current path, with its @context
 * and @type (one of `types`) checked. */
static int new_iface(struct dtdl__ctx *c, const cJSON *node, bool top_level,
                     const char *const *types, struct dtdl__types *t, struct dtdl__iface **out)
{
    struct dtdl__iface *f = dtdl__alloc(&c->scratch, sizeof *f);
    *out = f;
    if (f == NULL)
        return dtdl__oom(c);
    f->node = node;
    f->top_level = top_level;
    f->path = dtdl__path_save(c);
    if (f->path == NULL)
        return dtdl__oom(c);
    int rc = check_context(c, node);
    if (rc == 0)
        rc = dtdl__read_types(c, node, types, true, t);
    return rc;
}

static int collect_iface(struct dtdl__ctx *c, const cJSON *node, bool top_level,
                         struct dtdl__iface **out)
{
    static const char *const types[] = {"Interface", NULL};
    static const char *const keys[] = {"contents", "extends", "schemas", NULL};
    *out = NULL;
    if (!cJSON_IsObject(node))
        return dtdl__fail(c, "an Interface must be an object, not %s", dtdl__json_type(node));
    struct dtdl__iface *f;
    struct dtdl__types t;
    int rc = new_iface(c, node, top_level, types, &t, &f);
    if (rc == 0)
        rc = dtdl__check_keys(c, node, keys, &t);
    if (rc == 0)
        rc = dtdl__opt_id(c, node, top_level, DTDL__V2_MAX_IFACE_ID, &f->id);
    if (rc == 0)
        rc = register_iface(c, f);
    if (rc == 0)
        rc = collect_named(c, node);
    if (rc == 0)
        rc = collect_extends(c, f);
    if (rc == 0)
        rc = collect_inline_components(c, node);
    if (rc < 0)
        return rc;
    *out = f;
    return 0;
}

/* implements[i] of a CapabilityModel: an InterfaceInstance {name, schema: Interface | @id} */
static int collect_instance(struct dtdl__ctx *c, const cJSON *e, void *items, size_t i, void *arg)
{
    static const char *const inst_types[] = {"InterfaceInstance", NULL};
    struct dtdl__instance *all = items, *in = &all[i];
    if (!cJSON_IsObject(e))
        return dtdl__fail(c, "must be an object, not %s", dtdl__json_type(e));
    struct dtdl__types t;
    int rc = dtdl__read_types(c, e, inst_types, false, &t);
    if (rc == 0)
        rc = dtdl__req_name(c, e, &in->name);
    if (rc < 0)
        return rc;
    for (size_t j = 0; j < i; j++) {
        if (strcmp(all[j].name, in->name) == 0) {
            char q[64];
            return dtdl__fail_key(c, "name", "duplicate interface instance name %s",
                                  dtdl__q(q, sizeof q, in->name));
        }
    }
    const cJSON *sch = cJSON_GetObjectItemCaseSensitive(e, "schema");
    if (sch == NULL)
        return dtdl__fail(c, "missing \"schema\"");
    dtdl__path_key(c, "schema");
    in->path = dtdl__path_save(c);
    if (in->path == NULL)
        return dtdl__oom(c);
    if (cJSON_IsObject(sch)) {
        rc = collect_iface(c, sch, false, &in->iface);
        if (rc < 0)
            return rc;
        in->iface->referenced = true;
    } else if (!cJSON_IsString(sch) || sch->valuestring == NULL) {
        return dtdl__fail(c, "must be an inline Interface or an Interface @id, not %s",
                          dtdl__json_type(sch));
    }
    return 0;
}

/* v1 CapabilityModel: implements = [InterfaceInstance] */
static int collect_capmodel(struct dtdl__ctx *c, const cJSON *node, struct dtdl__iface **out)
{
    static const char *const types[] = {"CapabilityModel", NULL};
    struct dtdl__iface *f;
    struct dtdl__types t;
    int rc = new_iface(c, node, true, types, &t, &f);
    if (rc < 0)
        return rc;
    f->is_capmodel = true;
    rc = dtdl__opt_id(c, node, true, 0, &f->id);
    if (rc == 0)
        rc = register_iface(c, f);
    if (rc < 0)
        return rc;
    *out = f;
    const cJSON *impl = cJSON_GetObjectItemCaseSensitive(node, "implements");
    if (impl == NULL)
        return 0;
    size_t n;
    rc = dtdl__array_len(c, impl, "implements", 0, NULL, &n);
    if (rc == 0 && n > DTDL__V1_MAX_MEMBERS)
        rc = dtdl__fail_key(c, "implements", "has more than %d entries", DTDL__V1_MAX_MEMBERS);
    void *instances;
    if (rc == 0)
        rc = dtdl__array_each(c, impl, "implements", n, &c->scratch, sizeof *f->instances,
                              &instances, collect_instance, NULL);
    if (rc < 0)
        return rc;
    f->instances = instances;
    f->n_instances = n;
    return 0;
}

static int collect_top(struct dtdl__ctx *c, const cJSON *node, struct dtdl__iface **out)
{
    if (!cJSON_IsObject(node))
        return dtdl__fail(c, "must be an object, not %s", dtdl__json_type(node));
    if (c->version == 1 && dtdl__has_type(node, "CapabilityModel"))
        return collect_capmodel(c, node, out);
    return collect_iface(c, node, true, out);
}

static struct dtdl__iface *resolve_one(struct dtdl__ctx *c, const char *path, const cJSON *ref)
{
    struct dtdl__iface *t = dtdl__find_iface_by_id(c, ref->valuestring);
    if (t == NULL || t->is_capmodel) {
        char q[64];
        dtdl__path_load(c, path);
        dtdl__fail(c, "unresolved interface %s", dtdl__q(q, sizeof q, ref->valuestring));
        return NULL;
    }
    t->referenced = true;
    return t;
}

/* Resolve extends, Component and implements references given as @id strings. */
static int resolve_refs(struct dtdl__ctx *c)
{
    for (size_t i = 0; i < c->n_ifaces; i++) {
        struct dtdl__iface *f = c->ifaces[i];
        const cJSON *ext = cJSON_GetObjectItemCaseSensitive(f->node, "extends");
        const cJSON *one = cJSON_IsArray(ext) ? ext->child : ext;
        for (size_t b = 0; b < f->n_bases && one != NULL; b++, one = one->next) {
            if (f->bases[b].iface == NULL) {
                f->bases[b].iface = resolve_one(c, f->bases[b].path, one);
                if (f->bases[b].iface == NULL)
                    return c->rc;
            }
        }
        const cJSON *impl = cJSON_GetObjectItemCaseSensitive(f->node, "implements");
        const cJSON *e = cJSON_IsArray(impl) ? impl->child : NULL;
        for (size_t k = 0; k < f->n_instances && e != NULL; k++, e = e->next) {
            const cJSON *sch = cJSON_GetObjectItemCaseSensitive(e, "schema");
            if (f->instances[k].iface == NULL) {
                f->instances[k].iface = resolve_one(c, f->instances[k].path, sch);
                if (f->instances[k].iface == NULL)
                    return c->rc;
            }
        }
        const cJSON *contents = cJSON_GetObjectItemCaseSensitive(f->node, "contents");
        if (c->version != 2 || !cJSON_IsArray(contents))
            continue;
        size_t idx = 0;
        cJSON_ArrayForEach(e, contents)
        {
            const cJSON *sch = cJSON_GetObjectItemCaseSensitive(e, "schema");
            if (cJSON_IsObject(e) && dtdl__has_type(e, "Component") && cJSON_IsString(sch) &&
                sch->valuestring != NULL) {
                dtdl__path_load(c, f->path);
                dtdl__path_key(c, "contents");
                dtdl__path_idx(c, idx);
                dtdl__path_key(c, "schema");
                const char *p = dtdl__path_save(c);
                if (p == NULL)
                    return dtdl__oom(c);
                if (resolve_one(c, p, sch) == NULL)
                    return c->rc;
            }
            idx++;
        }
    }
    return 0;
}

/* ---- driver ---- */

static int pick_version(struct dtdl__ctx *c, const cJSON *root, const cJSON *wrapper)
{
    int v = 0, rc;
    if (cJSON_IsArray(root)) {
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, root)
        {
            size_t mark = dtdl__path_idx(c, i++);
            if (!cJSON_IsObject(e))
                return dtdl__fail(c, "must be an object, not %s", dtdl__json_type(e));
            rc = context_version(c, e, &v);
            if (rc < 0)
                return rc;
            dtdl__path_set(c, mark);
            if (v != 0)
                break;
        }
    } else {
        rc = context_version(c, root, &v);
        if (rc < 0)
            return rc;
    }
    if (v == 0 && wrapper != NULL) {
        size_t len = c->plen;
        dtdl__path_load(c, "$");
        rc = context_version(c, wrapper, &v);
        if (rc < 0)
            return rc;
        dtdl__path_set(c, len);
    }
    if (v == 0)
        return dtdl__fail(c, "missing @context (expected \"%s\" or \"%sIoTModel.json\")", CTX_V2,
                          CTX_V1_PREFIX);
    c->version = v;
    return 0;
}

static int run(struct dtdl__ctx *c, const cJSON *doc)
{
    const cJSON *root = doc, *wrapper = NULL;
    dtdl__path_load(c, "$");
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(doc, "capabilityModel");
    if (cJSON_IsObject(doc) && cJSON_IsObject(cm)) {
        /* IoT Central DeviceTemplate: the model is in capabilityModel */
        wrapper = doc;
        root = cm;
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(doc, "@id");
        if (cJSON_IsString(tid))
            c->m->template_id = tid->valuestring;
        dtdl__path_key(c, "capabilityModel");
    }
    if (!cJSON_IsObject(root) && !cJSON_IsArray(root))
        return dtdl__fail(c, "a model must be a JSON object or array, not %s",
                          dtdl__json_type(root));
    if (cJSON_IsArray(root) && root->child == NULL)
        return dtdl__fail(c, "empty array: no Interface");
    int rc = pick_version(c, root, wrapper);
    if (rc < 0)
        return rc;
    size_t base = c->plen;
    struct dtdl__iface *top = NULL, *first = NULL;
    if (cJSON_IsArray(root)) {
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, root)
        {
            dtdl__path_set(c, base);
            dtdl__path_idx(c, i++);
            rc = collect_top(c, e, &top);
            if (rc < 0)
                return rc;
            if (first == NULL)
                first = top;
        }
    } else {
        rc = collect_top(c, root, &first);
        if (rc < 0)
            return rc;
    }
    rc = resolve_refs(c);
    if (rc < 0)
        return rc;
    /* root of an array: the first top-level element nothing else refers to */
    struct dtdl__iface *pick = NULL;
    for (size_t i = 0; i < c->n_ifaces && pick == NULL; i++)
        if (c->ifaces[i]->top_level && !c->ifaces[i]->referenced)
            pick = c->ifaces[i];
    if (pick == NULL || !cJSON_IsArray(root))
        pick = first;
    dtdl__path_set(c, base);
    rc = dtdl__parse_named_all(c);
    if (rc < 0)
        return rc;
    c->m->version = c->version;
    return dtdl__flatten(c, pick);
}

static struct dtdl_model *model_new(cJSON *doc)
{
    struct model_box *box = cJSON_malloc(sizeof *box);
    if (box == NULL)
        return NULL;
    memset(box, 0, sizeof *box);
    box->m.priv_doc = doc;
    box->m.priv_arena = &box->arena;
    return &box->m;
}

void dtdl_model_free(struct dtdl_model *model)
{
    if (model == NULL)
        return;
    struct model_box *box = (struct model_box *)model;
    dtdl__arena_release(&box->arena);
    cJSON_Delete(model->priv_doc);
    cJSON_free(box);
}

static void set_err(struct dtdl_error *err, const char *path, const char *msg)
{
    if (err == NULL)
        return;
    snprintf(err->path, sizeof err->path, "%s", path);
    snprintf(err->message, sizeof err->message, "%s", msg);
}

/* Takes ownership of doc. */
static int import_doc(cJSON *doc, struct dtdl_model **out_model, struct dtdl_error *err)
{
    struct dtdl_model *m = model_new(doc);
    if (m == NULL) {
        cJSON_Delete(doc);
        set_err(err, "$", "out of memory");
        return IOTC_E_NOMEM;
    }
    struct dtdl__ctx c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.err = err;
    int rc = run(&c, doc);
    if (rc >= 0 && c.rc != 0) /* a reader recorded an error without propagating it */
        rc = c.rc;
    dtdl__arena_release(&c.scratch);
    if (rc < 0) {
        dtdl_model_free(m);
        return rc;
    }
    if (err != NULL)
        memset(err, 0, sizeof *err);
    *out_model = m;
    return IOTC_OK;
}

static void json_error(struct dtdl_error *err, const char *json, size_t len, size_t off,
                       const char *what)
{
    if (err == NULL)
        return;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (json[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char near[24], q[64];
    size_t n = len - off < sizeof near - 1 ? len - off : sizeof near - 1;
    memcpy(near, json + off, n);
    near[n] = '\0';
    snprintf(err->path, sizeof err->path, "$");
    snprintf(err->message, sizeof err->message, "not valid JSON at line %zu column %zu: %s%s", line,
             col, what, n ? dtdl__q(q, sizeof q, near) : "end of input");
}

int dtdl_import(const char *json, size_t len, struct dtdl_model **out_model, struct dtdl_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof *err);
    if (out_model == NULL || (json == NULL && len != 0))
        return IOTC_E_ARG;
    *out_model = NULL;
    if (len > DTDL_MAX_INPUT) {
        set_err(err, "$", "document larger than 4 MiB");
        return IOTC_E_TOOBIG;
    }
    if (len == 0) {
        set_err(err, "$", "not valid JSON at line 1 column 1: empty document");
        return IOTC_E_MALFORMED;
    }
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (doc == NULL) {
        /* cJSON reports the failure offset through end; OOM looks the same (rare, reported
         * as a syntax error) */
        size_t off = end != NULL && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        json_error(err, json, len, off, "unexpected ");
        return IOTC_E_MALFORMED;
    }
    size_t off = (size_t)(end - json);
    while (off < len &&
           (json[off] == ' ' || json[off] == '\t' || json[off] == '\n' || json[off] == '\r'))
        off++;
    if (off < len) {
        cJSON_Delete(doc);
        json_error(err, json, len, off, "text after the JSON value: ");
        return IOTC_E_MALFORMED;
    }
    return import_doc(doc, out_model, err);
}

int dtdl_import_cjson(const cJSON *doc, struct dtdl_model **out_model, struct dtdl_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof *err);
    if (doc == NULL || out_model == NULL)
        return IOTC_E_ARG;
    *out_model = NULL;
    cJSON *copy = cJSON_Duplicate(doc, 1);
    if (copy == NULL) {
        set_err(err, "$", "out of memory");
        return IOTC_E_NOMEM;
    }
    return import_doc(copy, out_model, err);
}

const struct dtdl_capability *dtdl_find(const struct dtdl_model *model, const char *component,
                                        const char *name)
{
    if (model == NULL || name == NULL)
        return NULL;
    if (component == NULL)
        component = "";
    for (size_t i = 0; i < model->n_caps; i++)
        if (strcmp(model->caps[i].name, name) == 0 &&
            strcmp(model->caps[i].component, component) == 0)
            return &model->caps[i];
    return NULL;
}

const struct dtdl_component *dtdl_find_component(const struct dtdl_model *model, const char *name)
{
    if (model == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < model->n_components; i++)
        if (strcmp(model->components[i].name, name) == 0)
            return &model->components[i];
    return NULL;
}
