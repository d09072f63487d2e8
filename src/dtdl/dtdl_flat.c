/*
 * dtdl_flat.c - flattening: expand extends (bases first, each Interface once per component) and
 * Components into the model's flat capability and component lists, then reject duplicate names
 * within a component.
 */
#include "dtdl/dtdl_int.h"

#include <stdlib.h>
#include <string.h>

#include "iotc/common.h"

/* Result lists being built; arrays live in the model arena, names in scratch. */
struct flat_name {
    const char *component;
    const char *name;
    const char *path;
    size_t order;
};

struct flat {
    struct dtdl_capability *caps;
    size_t n_caps, cap_caps;
    struct dtdl_component *comps;
    size_t n_comps, cap_comps;
    struct dtdl__elem **pending; /* Component elements found while flattening the root */
    size_t n_pending, cap_pending;
    struct flat_name *names;
    size_t n_names, cap_names;
    unsigned gen;
};

static int push_name(struct dtdl__ctx *c, struct flat *fl, const char *component, const char *name,
                     const char *path)
{
    fl->names =
        dtdl__grow(c, &c->scratch, fl->names, fl->n_names, &fl->cap_names, sizeof *fl->names);
    if (fl->names == NULL)
        return c->rc;
    struct flat_name *n = &fl->names[fl->n_names];
    n->component = component;
    n->name = name;
    n->path = path;
    n->order = fl->n_names++;
    return 0;
}

static int push_elem(struct dtdl__ctx *c, struct flat *fl, struct dtdl__elem *e,
                     const char *component, const char *group, bool in_component)
{
    const char *name = e->is_component ? e->comp.name : e->cap.name;
    int rc = push_name(c, fl, component, name, e->path);
    if (rc < 0)
        return rc;
    if (e->is_component) {
        if (in_component) {
            dtdl__path_load(c, e->path);
            return dtdl__fail(c,
                              "the Interface of Component \"%s\" contains a Component; "
                              "Components cannot nest (DTDL v2)",
                              component);
        }
        fl->pending = dtdl__grow(c, &c->scratch, fl->pending, fl->n_pending, &fl->cap_pending,
                                 sizeof *fl->pending);
        if (fl->pending == NULL)
            return c->rc;
        fl->pending[fl->n_pending++] = e;
        return 0;
    }
    if (e->cap.kind == 0)
        return 0; /* Relationship */
    if (fl->n_caps >= DTDL_MAX_CAPABILITIES) {
        dtdl__path_load(c, e->path);
        dtdl__fail(c, "the model has more than %u capabilities", DTDL_MAX_CAPABILITIES);
        c->rc = IOTC_E_TOOBIG;
        return c->rc;
    }
    fl->caps =
        dtdl__grow(c, c->m->priv_arena, fl->caps, fl->n_caps, &fl->cap_caps, sizeof *fl->caps);
    if (fl->caps == NULL)
        return c->rc;
    struct dtdl_capability *cap = &fl->caps[fl->n_caps++];
    *cap = e->cap;
    cap->component = component;
    cap->group = group;
    return 0;
}

/* Add f's contents (after those of its bases) to component `component`. */
static int add_iface(struct dtdl__ctx *c, struct flat *fl, struct dtdl__iface *f,
                     const char *component, const char *group, bool in_component, unsigned depth,
                     size_t *count)
{
    char q[64];
    if (f->in_progress)
        return dtdl__fail(c, "extends cycle through %s",
                          dtdl__q(q, sizeof q, f->id ? f->id : "(inline Interface)"));
    if (f->visit_gen == fl->gen)
        return 0; /* reached twice through extends (diamond): same contents, add once */
    if (depth > DTDL__V2_MAX_EXTENDS_DEPTH)
        return dtdl__fail(c, "extends nested deeper than %d levels", DTDL__V2_MAX_EXTENDS_DEPTH);
    f->in_progress = true;
    for (size_t i = 0; i < f->n_bases; i++) {
        dtdl__path_load(c, f->bases[i].path);
        int rc =
            add_iface(c, fl, f->bases[i].iface, component, group, in_component, depth + 1, count);
        if (rc < 0)
            return rc;
    }
    int rc = dtdl__parse_contents(c, f);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < f->n_elems; i++) {
        rc = push_elem(c, fl, &f->elems[i], component, group, in_component);
        if (rc < 0)
            return rc;
    }
    *count += f->n_elems;
    if (c->version == 2 && *count > DTDL__V2_MAX_CONTENTS) {
        dtdl__path_load(c, f->path);
        return dtdl__fail(c, "more than %d contents including those inherited through extends",
                          DTDL__V2_MAX_CONTENTS);
    }
    f->in_progress = false;
    f->visit_gen = fl->gen;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    const struct flat_name *x = a, *y = b;
    int r = strcmp(x->component, y->component);
    if (r == 0)
        r = strcmp(x->name, y->name);
    if (r == 0)
        r = x->order < y->order ? -1 : x->order > y->order;
    return r;
}

static int check_duplicates(struct dtdl__ctx *c, struct flat *fl)
{
    if (fl->n_names < 2)
        return 0;
    qsort(fl->names, fl->n_names, sizeof *fl->names, cmp_names);
    for (size_t i = 1; i < fl->n_names; i++) {
        const struct flat_name *p = &fl->names[i - 1], *n = &fl->names[i];
        if (strcmp(p->component, n->component) == 0 && strcmp(p->name, n->name) == 0) {
            char q[64];
            dtdl__path_load(c, n->path);
            if (strcmp(p->path, n->path) == 0) /* one Interface used twice through extends */
                return dtdl__fail_key(c, "name", "duplicate name %s",
                                      dtdl__q(q, sizeof q, n->name));
            return dtdl__fail_key(c, "name", "duplicate name %s%s%s%s (also at %s)",
                                  dtdl__q(q, sizeof q, n->name),
                                  n->component[0] ? " in component \"" : "", n->component,
                                  n->component[0] ? "\"" : "", p->path);
        }
    }
    return 0;
}

static int push_component(struct dtdl__ctx *c, struct flat *fl, const struct dtdl_component *comp)
{
    fl->comps =
        dtdl__grow(c, c->m->priv_arena, fl->comps, fl->n_comps, &fl->cap_comps, sizeof *fl->comps);
    if (fl->comps == NULL)
        return c->rc;
    fl->comps[fl->n_comps++] = *comp;
    return 0;
}

static int flatten_groups(struct dtdl__ctx *c, struct flat *fl, struct dtdl__iface *root)
{
    struct dtdl_model *m = c->m;
    if (root->n_instances == 0)
        return 0;
    struct dtdl_group *g = dtdl__alloc(m->priv_arena, root->n_instances * sizeof *g);
    if (g == NULL)
        return dtdl__oom(c);
    for (size_t i = 0; i < root->n_instances; i++) {
        const struct dtdl__instance *in = &root->instances[i];
        const cJSON *inst_node =
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root->node, "implements"), (int)i);
        g[i].name = in->name;
        g[i].interface_id = in->iface->id;
        /* the InterfaceInstance's displayName, else its Interface's */
        const cJSON *named = inst_node;
        if (cJSON_GetObjectItemCaseSensitive(inst_node, "displayName") == NULL)
            named = in->iface->node;
        g[i].display_name = dtdl__display_name_of(named);
        size_t count = 0;
        fl->gen++;
        int rc = add_iface(c, fl, in->iface, "", in->name, false, 0, &count);
        if (rc < 0)
            return rc;
    }
    m->groups = g;
    m->n_groups = root->n_instances;
    return 0;
}

int dtdl__flatten(struct dtdl__ctx *c, struct dtdl__iface *root)
{
    struct dtdl_model *m = c->m;
    struct flat fl;
    memset(&fl, 0, sizeof fl);
    const cJSON *rn = root->node;
    dtdl__path_load(c, root->path);
    struct dtdl_component rootc = {.name = "", .interface_id = root->id};
    int rc =
        dtdl__opt_docs(c, rn, &m->display_name, &m->display_name_map, &m->description, &m->comment);
    if (rc < 0)
        return rc;
    m->id = root->id;
    rootc.display_name = m->display_name;
    rootc.description = m->description;
    rc = push_component(c, &fl, &rootc);
    if (rc < 0)
        return rc;
    size_t count = 0;
    fl.gen = 1;
    rc = add_iface(c, &fl, root, "", NULL, false, 0, &count);
    if (rc == 0)
        rc = flatten_groups(c, &fl, root);
    for (size_t i = 0; rc == 0 && i < fl.n_pending; i++) {
        struct dtdl__elem *e = fl.pending[i];
        rc = push_component(c, &fl, &e->comp);
        if (rc < 0)
            break;
        fl.gen++;
        count = 0;
        dtdl__path_load(c, e->path);
        dtdl__path_key(c, "schema");
        rc = add_iface(c, &fl, e->comp_iface, e->comp.name, NULL, true, 0, &count);
    }
    if (rc == 0)
        rc = check_duplicates(c, &fl);
    if (rc < 0)
        return rc;
    m->caps = fl.caps;
    m->n_caps = fl.n_caps;
    m->components = fl.comps;
    m->n_components = fl.n_comps;
    return 0;
}
