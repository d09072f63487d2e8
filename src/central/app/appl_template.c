/*
 * appl_template.c - device templates: import (DTDL v1 DCM / v2 via dtdl.h), views (generated
 * defaults and custom forms), customizations, publishing, JSON in and out.
 */
#include "central/app/appl.h"
#include "central/app/appl_docs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <iotc/common.h>

#include "central/base/events.h"
#include "central/base/log.h"
#include "central/store/store_app.h"

#define VIEW_ID_MAX 64
#define VIEWS_MAX 64
#define VIEW_ITEMS_MAX 1000

void appl_template_free(struct appl_template *t)
{
    if (t == NULL)
        return;
    free(t->id);
    free(t->display_name);
    free(t->description);
    cJSON_Delete(t->capability_model);
    cJSON_Delete(t->views);
    cJSON_Delete(t->customizations);
    dtdl_model_free(t->model);
    free(t);
}

struct appl_template *appl_template_get(struct appl *a, const char *id)
{
    for (struct appl_template *t = a->templates; t != NULL; t = t->next) {
        if (strcmp(t->id, id) == 0)
            return t;
    }
    return NULL;
}

struct appl_template *appl_template_for_model(struct appl *a, const char *model_id)
{
    for (struct appl_template *t = a->templates; t != NULL; t = t->next) {
        if (t->published && strcmp(t->id, model_id) == 0)
            return t;
    }
    for (struct appl_template *t = a->templates; t != NULL; t = t->next) {
        if (t->published && t->model->id != NULL && strcmp(t->model->id, model_id) == 0)
            return t;
    }
    return NULL;
}

/* ---------------------------------------------------------------- names */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[65], cur[65];
    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost =
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            cur[j] = v;
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

static bool ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    }
    return false;
}

const char *appl_closest_name(const struct dtdl_model *m, const char *component,
                              enum dtdl_kind kind, const char *name)
{
    const char *best = NULL;
    size_t best_d = 100;
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < m->n_caps; i++) {
        const struct dtdl_capability *c = &m->caps[i];
        if ((kind != 0 && c->kind != kind) || strcmp(c->component, component ? component : "") != 0)
            continue;
        size_t d = edit_distance(c->name, name);
        size_t lc = strlen(c->name), ln = strlen(name);
        bool related =
            (lc >= 3 && ln >= 3) && (ci_contains(name, c->name) || ci_contains(c->name, name));
        if (d > 3 && !related)
            continue;
        if (related && d > 3)
            d = 3; /* "temperature" for "temp": a strong hint despite the distance */
        if (d < best_d) {
            best_d = d;
            best = c->name;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- views */

static cJSON *cap_ref(const char *component, const char *name)
{
    cJSON *r = cJSON_CreateObject();
    if (r != NULL) {
        cJSON_AddStringToObject(r, "component", component);
        cJSON_AddStringToObject(r, "name", name);
    }
    return r;
}

static cJSON *default_views(const struct dtdl_model *m)
{
    cJSON *views = cJSON_CreateArray();
    cJSON *ov = cJSON_CreateObject(), *tiles = cJSON_CreateArray();
    cJSON *ab = cJSON_CreateObject(), *sections = cJSON_CreateArray();
    cJSON *sec = cJSON_CreateObject(), *fields = cJSON_CreateArray();
    if (!views || !ov || !tiles || !ab || !sections || !sec || !fields) {
        cJSON_Delete(views);
        cJSON_Delete(ov);
        cJSON_Delete(tiles);
        cJSON_Delete(ab);
        cJSON_Delete(sections);
        cJSON_Delete(sec);
        cJSON_Delete(fields);
        return NULL;
    }
    for (size_t i = 0; i < m->n_caps; i++) {
        const struct dtdl_capability *c = &m->caps[i];
        if (c->kind == DTDL_TELEMETRY) {
            cJSON *tile = cJSON_CreateObject(), *caps = cJSON_CreateArray();
            cJSON_AddStringToObject(tile, "displayName",
                                    c->display_name ? c->display_name : c->name);
            cJSON_AddStringToObject(tile, "type", "lineChart");
            cJSON_AddItemToArray(caps, cap_ref(c->component, c->name));
            cJSON_AddItemToObject(tile, "capabilities", caps);
            cJSON_AddItemToArray(tiles, tile);
        } else if (c->kind == DTDL_PROPERTY) {
            cJSON_AddItemToArray(fields, cap_ref(c->component, c->name));
        }
    }
    cJSON_AddStringToObject(ov, "id", "overview");
    cJSON_AddStringToObject(ov, "displayName", "Overview");
    cJSON_AddStringToObject(ov, "type", "dashboard");
    cJSON_AddItemToObject(ov, "tiles", tiles);
    cJSON_AddStringToObject(sec, "displayName", "Properties");
    cJSON_AddItemToObject(sec, "fields", fields);
    cJSON_AddItemToArray(sections, sec);
    cJSON_AddStringToObject(ab, "id", "about");
    cJSON_AddStringToObject(ab, "displayName", "About");
    cJSON_AddStringToObject(ab, "type", "form");
    cJSON_AddBoolToObject(ab, "readOnly", true);
    cJSON_AddItemToObject(ab, "sections", sections);
    cJSON_AddItemToArray(views, ov);
    cJSON_AddItemToArray(views, ab);
    return views;
}

/* Check one {"component","name"} reference; @p need: 0 any, DTDL_PROPERTY, or -1 writable. */
static int check_ref(const struct dtdl_model *m, const cJSON *ref, int need, const char *path,
                     struct appl_error *err)
{
    const cJSON *comp = cJSON_GetObjectItemCaseSensitive(ref, "component");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(ref, "name");
    if (!cJSON_IsObject(ref) || !cJSON_IsString(name) || (comp && !cJSON_IsString(comp)))
        return appl_refuse(err, "InvalidTemplate",
                           "%s: expected {\"component\":string,\"name\":string}", path);
    const char *c = comp ? comp->valuestring : "";
    const struct dtdl_capability *cap = dtdl_find(m, c, name->valuestring);
    enum dtdl_kind kind = need == 0 ? 0 : DTDL_PROPERTY;
    if (cap == NULL || (kind != 0 && cap->kind != kind)) {
        const char *near = appl_closest_name(m, c, kind, name->valuestring);
        char hint[200] = "";
        if (near != NULL)
            snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", near);
        return appl_refuse(err, "InvalidTemplate", "%s: no %s \"%s\"%s%s in the template%s", path,
                           kind ? "property" : "capability", name->valuestring,
                           c[0] ? " in component " : "", c, hint);
    }
    if (need < 0 && !cap->writable && !cap->cloud)
        return appl_refuse(err, "InvalidTemplate",
                           "%s: property \"%s\" is not writable (an editable form holds writable "
                           "properties; use \"readOnly\":true for a read-only form)",
                           path, name->valuestring);
    return CE_OK;
}

/* What the items of one view are checked against. */
struct view_check {
    const struct dtdl_model *m;
    bool dash;      /* a dashboard (tiles of capabilities), else a form (sections of fields) */
    bool read_only; /* a read-only form */
};

typedef int (*view_elem_fn)(const struct view_check *vc, const cJSON *e, const char *path,
                            struct appl_error *err);

/* Member @p name of @p o must be an array of at most VIEW_ITEMS_MAX; @p fn checks each element
 * at path "<path>.<name>[i]". CE_OK, or the first refusal. */
static int check_each(const struct view_check *vc, const cJSON *o, const char *name,
                      const char *path, view_elem_fn fn, struct appl_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > VIEW_ITEMS_MAX)
        return appl_refuse(err, "InvalidTemplate", "%s.%s: expected an array", path, name);
    int i = 0;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, i++) {
        char epath[420];
        snprintf(epath, sizeof epath, "%s.%s[%d]", path, name, i);
        int rc = fn(vc, e, epath, err);
        if (rc != CE_OK)
            return rc;
    }
    return CE_OK;
}

/* One capability (tile) or field (section) reference. */
static int check_item_ref(const struct view_check *vc, const cJSON *r, const char *path,
                          struct appl_error *err)
{
    int need = vc->dash ? 0 : (vc->read_only ? DTDL_PROPERTY : -1);
    return check_ref(vc->m, r, need, path, err);
}

/* One tile of a dashboard or section of a form. */
static int check_item(const struct view_check *vc, const cJSON *it, const char *path,
                      struct appl_error *err)
{
    const cJSON *idn = cJSON_GetObjectItemCaseSensitive(it, "displayName");
    if (!cJSON_IsObject(it) || (idn != NULL && !cJSON_IsString(idn)))
        return appl_refuse(err, "InvalidTemplate", "%s: expected an object with a displayName",
                           path);
    if (vc->dash) {
        const cJSON *tt = cJSON_GetObjectItemCaseSensitive(it, "type");
        if (!cJSON_IsString(tt) ||
            (strcmp(tt->valuestring, "lineChart") != 0 &&
             strcmp(tt->valuestring, "lastKnownValue") != 0 &&
             strcmp(tt->valuestring, "property") != 0 && strcmp(tt->valuestring, "command") != 0))
            return appl_refuse(err, "InvalidTemplate",
                               "%s.type: must be lineChart, lastKnownValue, property or command",
                               path);
        if (strcmp(tt->valuestring, "property") == 0) {
            /* a property tile names properties, like the fields of a read-only form */
            const struct view_check pc = {vc->m, false, true};
            return check_each(&pc, it, "capabilities", path, check_item_ref, err);
        }
    }
    return check_each(vc, it, vc->dash ? "capabilities" : "fields", path, check_item_ref, err);
}

static int check_views(const struct dtdl_model *m, const cJSON *views, const char *base,
                       struct appl_error *err)
{
    char path[300];
    int i = 0;
    if (!cJSON_IsArray(views))
        return appl_refuse(err, "InvalidTemplate", "%s: expected an array of views", base);
    if (cJSON_GetArraySize(views) > VIEWS_MAX)
        return appl_refuse(err, "InvalidTemplate", "%s: at most %d views", base, VIEWS_MAX);
    for (const cJSON *v = views->child; v != NULL; v = v->next, i++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
        const cJSON *dn = cJSON_GetObjectItemCaseSensitive(v, "displayName");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(v, "type");
        snprintf(path, sizeof path, "%s[%d]", base, i);
        if (!cJSON_IsObject(v))
            return appl_refuse(err, "InvalidTemplate", "%s: expected a view object", path);
        if (!cJSON_IsString(id) || !appl_id_ok(id->valuestring, VIEW_ID_MAX, "_-"))
            return appl_refuse(err, "InvalidTemplate", "%s.id: required, 1..%d of [A-Za-z0-9_-]",
                               path, VIEW_ID_MAX);
        for (const cJSON *w = views->child; w != v; w = w->next) {
            const cJSON *wid = cJSON_GetObjectItemCaseSensitive(w, "id");
            if (strcmp(wid->valuestring, id->valuestring) == 0)
                return appl_refuse(err, "InvalidTemplate", "%s.id: duplicate view id \"%s\"", path,
                                   id->valuestring);
        }
        if (!cJSON_IsString(dn) || dn->valuestring[0] == '\0')
            return appl_refuse(err, "InvalidTemplate", "%s.displayName: required string", path);
        bool dash = cJSON_IsString(type) && strcmp(type->valuestring, "dashboard") == 0;
        bool form = cJSON_IsString(type) && strcmp(type->valuestring, "form") == 0;
        if (!dash && !form)
            return appl_refuse(err, "InvalidTemplate", "%s.type: must be \"dashboard\" or \"form\"",
                               path);
        const cJSON *ro = cJSON_GetObjectItemCaseSensitive(v, "readOnly");
        if (ro != NULL && !cJSON_IsBool(ro))
            return appl_refuse(err, "InvalidTemplate", "%s.readOnly: expected a boolean", path);
        struct view_check vc = {m, dash, cJSON_IsTrue(ro)};
        int rc = check_each(&vc, v, dash ? "tiles" : "sections", path, check_item, err);
        if (rc != CE_OK)
            return rc;
    }
    return CE_OK;
}

static int check_customizations(const struct dtdl_model *m, const cJSON *cz, const char *base,
                                struct appl_error *err)
{
    if (!cJSON_IsObject(cz))
        return appl_refuse(err, "InvalidTemplate", "%s: expected an object keyed by capability",
                           base);
    for (const cJSON *e = cz->child; e != NULL; e = e->next) {
        char comp[256] = "", path[400];
        const char *name = e->string, *slash = strchr(e->string, '/');
        snprintf(path, sizeof path, "%s[\"%s\"]", base, e->string);
        if (slash != NULL) {
            size_t cl = (size_t)(slash - e->string);
            if (cl >= sizeof comp)
                return appl_refuse(err, "InvalidTemplate", "%s: component name too long", path);
            memcpy(comp, e->string, cl);
            comp[cl] = '\0';
            name = slash + 1;
        }
        const struct dtdl_capability *cap = dtdl_find(m, comp, name);
        if (cap == NULL) {
            const char *near = appl_closest_name(m, comp, 0, name);
            return appl_refuse(
                err, "InvalidTemplate", "%s: no capability \"%s\" in the template%s%s%s", path,
                e->string, near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
        }
        if (!cJSON_IsObject(e))
            return appl_refuse(err, "InvalidTemplate", "%s: expected an object", path);
        for (const cJSON *f = e->child; f != NULL; f = f->next) {
            bool is_bool = cap->schema != NULL && cap->schema->type == DTDL_SCHEMA_BOOLEAN;
            if (strcmp(f->string, "displayName") == 0 || strcmp(f->string, "description") == 0) {
                if (!cJSON_IsString(f))
                    return appl_refuse(err, "InvalidTemplate", "%s.%s: expected a string", path,
                                       f->string);
            } else if (strcmp(f->string, "trueName") == 0 || strcmp(f->string, "falseName") == 0) {
                if (!cJSON_IsString(f))
                    return appl_refuse(err, "InvalidTemplate", "%s.%s: expected a string", path,
                                       f->string);
                if (!is_bool)
                    return appl_refuse(err, "InvalidTemplate",
                                       "%s.%s: only boolean capabilities have true/false names",
                                       path, f->string);
            } else if (strcmp(f->string, "queueIfOffline") == 0) {
                if (!cJSON_IsBool(f))
                    return appl_refuse(err, "InvalidTemplate", "%s.%s: expected a boolean", path,
                                       f->string);
                if (cap->kind != DTDL_COMMAND)
                    return appl_refuse(err, "InvalidTemplate", "%s.%s: only commands can be queued",
                                       path, f->string);
            } else {
                return appl_refuse(
                    err, "InvalidTemplate",
                    "%s.%s: unknown customization (displayName, description, trueName, "
                    "falseName, queueIfOffline)",
                    path, f->string);
            }
        }
    }
    return CE_OK;
}

const cJSON *appl_template_custom(const struct appl_template *t, const char *component,
                                  const char *name)
{
    char key[600];
    if (t == NULL || t->customizations == NULL)
        return NULL;
    if (component != NULL && component[0] != '\0')
        snprintf(key, sizeof key, "%s/%s", component, name);
    else
        snprintf(key, sizeof key, "%s", name);
    return cJSON_GetObjectItemCaseSensitive(t->customizations, key);
}

bool appl_template_queue_if_offline(const struct appl_template *t,
                                    const struct dtdl_capability *cap)
{
    const cJSON *c = appl_template_custom(t, cap->component, cap->name);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(c, "queueIfOffline");
    if (cJSON_IsBool(q))
        return cJSON_IsTrue(q);
    return cap->durable;
}

/* ---------------------------------------------------------------- import */

static int opt_string(const cJSON *body, const char *key, char **out, const char *path,
                      struct appl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    if (v == NULL || cJSON_IsNull(v))
        return CE_OK;
    if (!cJSON_IsString(v))
        return appl_refuse(err, "InvalidTemplate", "%s.%s: expected a string", path, key);
    free(*out);
    *out = strdup(v->valuestring);
    return *out ? CE_OK : CE_NOMEM;
}

static int import_model(const cJSON *doc, bool wrapped, struct dtdl_model **out,
                        struct appl_error *err)
{
    struct dtdl_error de;
    int rc = dtdl_import_cjson(doc, out, &de);
    if (rc == IOTC_OK)
        return CE_OK;
    if (rc == IOTC_E_NOMEM)
        return CE_NOMEM;
    const char *p = de.path[0] ? de.path : "$";
    return appl_refuse(err, "InvalidModel", "%s%s: %s", wrapped ? "$.capabilityModel" : "",
                       wrapped ? p + 1 : p,
                       de.message[0] ? de.message : "not a model this server accepts");
}

static int apply_data(struct appl_template *t, const cJSON *body, bool defaults,
                      struct appl_error *err)
{
    const cJSON *views = cJSON_GetObjectItemCaseSensitive(body, "views");
    const cJSON *cz = cJSON_GetObjectItemCaseSensitive(body, "customizations");
    const cJSON *pub = cJSON_GetObjectItemCaseSensitive(body, "published");
    int rc;
    if ((rc = opt_string(body, "displayName", &t->display_name, "$", err)) != CE_OK ||
        (rc = opt_string(body, "description", &t->description, "$", err)) != CE_OK)
        return rc;
    if (pub != NULL && !cJSON_IsBool(pub))
        return appl_refuse(err, "InvalidTemplate", "$.published: expected a boolean");
    if (views != NULL && !cJSON_IsNull(views)) {
        if ((rc = check_views(t->model, views, "$.views", err)) != CE_OK)
            return rc;
        cJSON_Delete(t->views);
        t->views = cJSON_Duplicate(views, 1);
    } else if (defaults || t->views == NULL) {
        cJSON_Delete(t->views);
        t->views = default_views(t->model);
    }
    if (cz != NULL && !cJSON_IsNull(cz)) {
        if ((rc = check_customizations(t->model, cz, "$.customizations", err)) != CE_OK)
            return rc;
        cJSON_Delete(t->customizations);
        t->customizations = cJSON_Duplicate(cz, 1);
    } else if (t->customizations == NULL) {
        t->customizations = cJSON_CreateObject();
    }
    if (pub != NULL)
        t->published = cJSON_IsTrue(pub);
    if (t->views == NULL || t->customizations == NULL)
        return CE_NOMEM;
    return CE_OK;
}

int appl_template_put(struct appl *a, const char *id, const cJSON *body,
                      struct appl_template **out_t, struct appl_error *err)
{
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(body, "capabilityModel");
    bool wrapped = cm != NULL;
    const cJSON *doc = wrapped ? cm : body;
    struct appl_template *t;
    int rc;
    *out_t = NULL;
    if (strlen(id) == 0 || strlen(id) > APPL_TEMPLATE_ID_MAX)
        return appl_refuse(err, "InvalidParameter", "the template id must have 1..%d characters",
                           APPL_TEMPLATE_ID_MAX);
    if (wrapped && !cJSON_IsObject(cm) && !cJSON_IsArray(cm))
        return appl_refuse(err, "InvalidModel", "$.capabilityModel: expected a model object");
    if (!wrapped && !cJSON_IsArray(body) && !cJSON_IsObject(body))
        return appl_refuse(err, "InvalidBody", "$: expected a device template or a model");
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return CE_NOMEM;
    t->id = strdup(id);
    t->capability_model = cJSON_Duplicate(doc, 1);
    if (t->id == NULL || t->capability_model == NULL) {
        appl_template_free(t);
        return CE_NOMEM;
    }
    /* a wrapped model object is imported with its template (dtdl.h): the template's @context
     * serves a capabilityModel that has none, as in IoT Central's device templates how-to */
    if (wrapped && cJSON_IsObject(cm))
        rc = import_model(body, false, &t->model, err);
    else
        rc = import_model(doc, wrapped, &t->model, err);
    if (rc == CE_OK && t->model->display_name != NULL)
        t->display_name = strdup(t->model->display_name);
    if (rc == CE_OK && t->model->description != NULL)
        t->description = strdup(t->model->description);
    /* PUT creates and publishes, as IoT Central's does; a body may still say "published":false
     * (what the web UI's import does: a draft, published in a second step) */
    t->published = true;
    if (rc == CE_OK)
        rc = apply_data(t, wrapped ? body : NULL, true, err);
    if (rc != CE_OK) {
        appl_template_free(t);
        return rc;
    }
    struct appl_template **pp = &a->templates, *old = NULL;
    for (; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            old = *pp;
            break;
        }
    }
    t->created_ms = old ? old->created_ms : app_now_ms();
    t->etag = old ? old->etag + 1 : 1;
    if (old != NULL) {
        t->next = old->next;
        *pp = t;
        appl_template_free(old);
    } else {
        t->next = a->templates;
        a->templates = t;
    }
    appl_template_save(a, t);
    if (t->published)
        appl_template_publish(a, t);
    log_info("appl: template %s imported (DTDL v%d, %zu capabilities)", LOG_STR(t->id),
             t->model->version, t->model->n_caps);
    events_template(a->app, t->etag == 1 ? EV_TEMPLATE_CREATED : EV_TEMPLATE_UPDATED, t->id);
    *out_t = t;
    return CE_OK;
}

int appl_template_patch(struct appl *a, struct appl_template *t, const cJSON *body,
                        struct appl_error *err)
{
    if (!cJSON_IsObject(body))
        return appl_refuse(err, "InvalidBody", "$: expected an object");
    if (cJSON_GetObjectItemCaseSensitive(body, "capabilityModel") != NULL)
        return appl_refuse(err, "InvalidBody",
                           "$.capabilityModel: the model cannot be patched; PUT the template");
    /* Validate on a scratch copy so a failed patch changes nothing. */
    struct appl_template tmp = *t;
    tmp.display_name = appl_strdup(t->display_name);
    tmp.description = appl_strdup(t->description);
    tmp.views = cJSON_Duplicate(t->views, 1);
    tmp.customizations = cJSON_Duplicate(t->customizations, 1);
    int rc = apply_data(&tmp, body, false, err);
    if (rc != CE_OK) {
        free(tmp.display_name);
        free(tmp.description);
        cJSON_Delete(tmp.views);
        cJSON_Delete(tmp.customizations);
        return rc;
    }
    free(t->display_name);
    free(t->description);
    cJSON_Delete(t->views);
    cJSON_Delete(t->customizations);
    bool was = t->published;
    *t = tmp;
    t->etag++;
    appl_template_save(a, t);
    if (t->published && !was)
        appl_template_publish(a, t);
    events_template(a->app, EV_TEMPLATE_UPDATED, t->id);
    return CE_OK;
}

void appl_template_publish(struct appl *a, struct appl_template *t)
{
    if (!t->published) {
        t->published = true;
        t->etag++;
        appl_template_save(a, t);
    }
    /* Devices that announced this model id while it was a draft get associated now. */
    for (size_t b = 0; b < a->n_buckets; b++) {
        for (struct appl_device *d = a->buckets[b]; d != NULL; d = d->hash_next) {
            const struct device *dev = registry_get(a->app, d->id);
            if (dev != NULL)
                appl_device_associate(a, d, dev);
        }
    }
}

int appl_template_delete(struct appl *a, const char *id)
{
    for (struct appl_template **pp = &a->templates; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            if (appl_devices_using(a, id) > 0)
                return CE_EXISTS;
            struct appl_template *t = *pp;
            *pp = t->next;
            store_app_delete(a->db, "app_templates", id);
            events_template(a->app, EV_TEMPLATE_DELETED, t->id);
            appl_template_free(t);
            return CE_OK;
        }
    }
    return CE_NOTFOUND;
}

cJSON *appl_template_to_json(const struct appl_template *t, bool full)
{
    cJSON *o = cJSON_CreateObject(), *types = cJSON_CreateArray();
    cJSON *norm = dtdl_to_json(t->model);
    char etag[32], ts[32];
    if (o == NULL || types == NULL || norm == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(types);
        cJSON_Delete(norm);
        return NULL;
    }
    snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)t->etag);
    cJSON_AddStringToObject(o, "@id", t->id);
    cJSON_AddItemToArray(types, cJSON_CreateString("ModelDefinition"));
    cJSON_AddItemToArray(types, cJSON_CreateString("DeviceModel"));
    cJSON_AddItemToObject(o, "@type", types);
    cJSON_AddStringToObject(o, "etag", etag);
    cJSON_AddStringToObject(o, "displayName", t->display_name ? t->display_name : t->id);
    if (t->description)
        cJSON_AddStringToObject(o, "description", t->description);
    cJSON_AddBoolToObject(o, "published", t->published);
    cJSON_AddNumberToObject(o, "dtdlVersion", t->model->version);
    if (t->model->id)
        cJSON_AddStringToObject(o, "modelId", t->model->id);
    appl_time(t->created_ms, ts);
    cJSON_AddStringToObject(o, "created", ts);
    if (full)
        cJSON_AddItemToObject(o, "capabilityModel", cJSON_Duplicate(t->capability_model, 1));
    cJSON *caps = cJSON_DetachItemFromObjectCaseSensitive(norm, "capabilities");
    cJSON *comps = cJSON_DetachItemFromObjectCaseSensitive(norm, "components");
    if (comps)
        cJSON_AddItemToObject(o, "components", comps);
    if (caps)
        cJSON_AddItemToObject(o, "capabilities", caps);
    cJSON_Delete(norm);
    cJSON_AddItemToObject(o, "views", cJSON_Duplicate(t->views, 1));
    cJSON_AddItemToObject(o, "customizations", cJSON_Duplicate(t->customizations, 1));
    return o;
}

void appl_template_save(struct appl *a, const struct appl_template *t)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return;
    if (t->display_name)
        cJSON_AddStringToObject(o, "displayName", t->display_name);
    if (t->description)
        cJSON_AddStringToObject(o, "description", t->description);
    cJSON_AddItemToObject(o, "capabilityModel", cJSON_Duplicate(t->capability_model, 1));
    cJSON_AddItemToObject(o, "views", cJSON_Duplicate(t->views, 1));
    cJSON_AddItemToObject(o, "customizations", cJSON_Duplicate(t->customizations, 1));
    cJSON_AddBoolToObject(o, "published", t->published);
    cJSON_AddNumberToObject(o, "etag", (double)t->etag);
    cJSON_AddNumberToObject(o, "created", (double)t->created_ms);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text != NULL)
        store_app_put(a->db, "app_templates", t->id, text);
    free(text);
}

struct appl_template *appl_template_from_store(const char *id, const char *json)
{
    cJSON *o = cJSON_Parse(json);
    struct appl_template *t = calloc(1, sizeof *t);
    struct appl_error err;
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(o, "capabilityModel");
    if (o == NULL || t == NULL || cm == NULL)
        goto bad;
    t->id = strdup(id);
    t->capability_model = cJSON_Duplicate(cm, 1);
    if (t->id == NULL || t->capability_model == NULL ||
        import_model(cm, true, &t->model, &err) != CE_OK)
        goto bad;
    const cJSON *v;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "displayName")))
        t->display_name = strdup(v->valuestring);
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "description")))
        t->description = strdup(v->valuestring);
    t->views = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "views"), 1);
    t->customizations = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "customizations"), 1);
    if (t->views == NULL)
        t->views = cJSON_CreateArray();
    if (t->customizations == NULL)
        t->customizations = cJSON_CreateObject();
    t->published = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "published"));
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "etag")))
        t->etag = (uint64_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "created")))
        t->created_ms = (int64_t)v->valuedouble;
    cJSON_Delete(o);
    return t;
bad:
    log_warn("appl: skipping unreadable template row %s", LOG_STR(id));
    cJSON_Delete(o);
    appl_template_free(t);
    return NULL;
}
