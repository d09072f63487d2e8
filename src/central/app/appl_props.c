/*
 * appl_props.c - the IoT Central properties view of a twin (values + $metadata with the
 * writable-property sync state), the validation of property writes and the writes themselves
 * (device properties through the twin, cloud properties kept here) (docs/PROTOCOL.md §7.4, §8).
 */
#include "central/app/appl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/base/events.h"
#include "central/hub/twin.h"

static bool is_marked_component(const cJSON *v)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "__t");
    return cJSON_IsObject(v) && cJSON_IsString(t) && strcmp(t->valuestring, "c") == 0;
}

static bool is_component(const struct dtdl_model *m, const char *key, const cJSON *rv,
                         const cJSON *dv)
{
    if (m != NULL && key[0] != '\0' && dtdl_find_component(m, key) != NULL)
        return true;
    return is_marked_component(rv) || is_marked_component(dv);
}

static bool is_ack(const cJSON *v)
{
    return cJSON_IsObject(v) && (cJSON_GetObjectItemCaseSensitive(v, "av") != NULL ||
                                 cJSON_GetObjectItemCaseSensitive(v, "ac") != NULL);
}

static const char *meta_time(const cJSON *meta)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(meta, "$lastUpdated");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* pending / synced / failed for a written property (docs/PROTOCOL.md §7.4). */
static const char *sync_state(const cJSON *ack, double desired_version)
{
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(ack, "av");
    const cJSON *ac = cJSON_GetObjectItemCaseSensitive(ack, "ac");
    if (!cJSON_IsNumber(av) || av->valuedouble < desired_version || !cJSON_IsNumber(ac))
        return "pending";
    int code = ac->valueint;
    if (code == 201 || code == 202)
        return "pending";
    if (code >= 200 && code < 300)
        return "synced";
    return "failed";
}

static cJSON *level(const struct dtdl_model *m, const cJSON *rep, const cJSON *rmeta,
                    const cJSON *des, const cJSON *dmeta, const char *comp, bool top)
{
    cJSON *o = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    if (o == NULL || meta == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(meta);
        return NULL;
    }
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *src = pass == 0 ? rep : des;
        for (const cJSON *it = src ? src->child : NULL; it != NULL; it = it->next) {
            const char *key = it->string;
            if (key[0] == '$' || strcmp(key, "__t") == 0)
                continue;
            if (pass == 1 && cJSON_GetObjectItemCaseSensitive(rep, key) != NULL)
                continue; /* already done from the reported side */
            const cJSON *rv = cJSON_GetObjectItemCaseSensitive(rep, key);
            const cJSON *dv = cJSON_GetObjectItemCaseSensitive(des, key);
            const cJSON *rm = cJSON_GetObjectItemCaseSensitive(rmeta, key);
            const cJSON *dm = cJSON_GetObjectItemCaseSensitive(dmeta, key);
            if (top && is_component(m, key, rv, dv)) {
                cJSON *sub = level(m, rv, rm, dv, dm, key, false);
                if (sub != NULL)
                    cJSON_AddItemToObject(o, key, sub);
                continue;
            }
            const struct dtdl_capability *cap = m ? dtdl_find(m, comp, key) : NULL;
            if (cap != NULL && cap->kind == DTDL_COMMAND)
                continue; /* async command completion, shown in the command history */
            bool writable = cap != NULL ? cap->writable : dv != NULL;
            const cJSON *ack = writable && is_ack(rv) ? rv : NULL;
            const cJSON *value = ack ? cJSON_GetObjectItemCaseSensitive(ack, "value") : rv;
            if (value == NULL)
                value = dv;
            cJSON *md = cJSON_CreateObject();
            if (md == NULL)
                continue;
            if (value != NULL)
                cJSON_AddItemToObject(o, key, cJSON_Duplicate(value, 1));
            const char *lu = meta_time(rm);
            const char *dl = meta_time(dm);
            if (lu == NULL || (dl != NULL && strcmp(dl, lu) > 0))
                lu = dl != NULL ? dl : lu;
            double dver = 0;
            if (dv != NULL) {
                const cJSON *ver = cJSON_GetObjectItemCaseSensitive(dm, "$lastUpdatedVersion");
                dver = cJSON_IsNumber(ver) ? ver->valuedouble : 0;
                cJSON_AddItemToObject(md, "desiredValue", cJSON_Duplicate(dv, 1));
                cJSON_AddNumberToObject(md, "desiredVersion", dver);
            }
            if (ack != NULL) {
                const cJSON *ac = cJSON_GetObjectItemCaseSensitive(ack, "ac");
                const cJSON *av = cJSON_GetObjectItemCaseSensitive(ack, "av");
                const cJSON *ad = cJSON_GetObjectItemCaseSensitive(ack, "ad");
                if (cJSON_IsNumber(ac))
                    cJSON_AddNumberToObject(md, "ackCode", ac->valuedouble);
                if (cJSON_IsNumber(av))
                    cJSON_AddNumberToObject(md, "ackVersion", av->valuedouble);
                if (cJSON_IsString(ad))
                    cJSON_AddStringToObject(md, "ackDescription", ad->valuestring);
            }
            if (lu != NULL)
                cJSON_AddStringToObject(md, "lastUpdateTime", lu);
            if (dv != NULL)
                cJSON_AddStringToObject(md, "state", sync_state(ack, dver));
            cJSON_AddItemToObject(meta, key, md);
        }
    }
    cJSON_AddItemToObject(o, "$metadata", meta);
    return o;
}

static int bad(struct appl_error *err, const char *code, const char *msg)
{
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", msg);
    return CE_INVALID;
}

/* Put the stored cloud values of the view's scope into @p view (IoT Central shows them beside
 * the device's properties, with only a lastUpdateTime). */
void appl_properties_add_cloud(cJSON *view, const char *component, const cJSON *cloud)
{
    bool whole = component == NULL || component[0] == '\0';
    for (const cJSON *it = cloud ? cloud->child : NULL; it != NULL; it = it->next) {
        const char *slash = strchr(it->string, '/');
        char comp[256] = "";
        const char *name = it->string;
        if (slash != NULL) {
            size_t cl = (size_t)(slash - it->string);
            if (cl >= sizeof comp)
                continue;
            memcpy(comp, it->string, cl);
            comp[cl] = '\0';
            name = slash + 1;
        }
        cJSON *target = view;
        if (!whole && strcmp(comp, component) != 0)
            continue;
        if (whole && comp[0]) {
            target = cJSON_GetObjectItemCaseSensitive(view, comp);
            if (target == NULL) {
                target = cJSON_CreateObject();
                cJSON_AddItemToObject(target, "$metadata", cJSON_CreateObject());
                cJSON_AddItemToObject(view, comp, target);
            }
        }
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(target, "$metadata");
        if (meta == NULL) {
            meta = cJSON_CreateObject();
            cJSON_AddItemToObject(target, "$metadata", meta);
        }
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "value");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "time");
        if (meta == NULL || v == NULL)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(target, name);
        cJSON_AddItemToObject(target, name, cJSON_Duplicate(v, 1));
        cJSON *md = cJSON_CreateObject();
        if (cJSON_IsString(t))
            cJSON_AddStringToObject(md, "lastUpdateTime", t->valuestring);
        cJSON_DeleteItemFromObjectCaseSensitive(meta, name);
        cJSON_AddItemToObject(meta, name, md);
    }
}

cJSON *appl_properties_view(const struct dtdl_model *m, const struct device *dev,
                            const char *component, const cJSON *cloud)
{
    cJSON *v;
    if (component == NULL || component[0] == '\0')
        v = level(m, dev->reported, dev->reported_meta, dev->desired, dev->desired_meta, "", true);
    else
        v = level(m, cJSON_GetObjectItemCaseSensitive(dev->reported, component),
                  cJSON_GetObjectItemCaseSensitive(dev->reported_meta, component),
                  cJSON_GetObjectItemCaseSensitive(dev->desired, component),
                  cJSON_GetObjectItemCaseSensitive(dev->desired_meta, component), component, false);
    if (v != NULL)
        appl_properties_add_cloud(v, component, cloud);
    return v;
}

/* Take the cloud properties of one scope's object @p obj (component @p comp). */
static int take_scope(const struct dtdl_model *m, const char *comp, cJSON *obj, cJSON *out,
                      const char *path, struct appl_error *err)
{
    char msg[600], why[300], key[600];
    for (cJSON *it = obj->child; it != NULL;) {
        cJSON *next = it->next;
        const struct dtdl_capability *cap = dtdl_find(m, comp, it->string);
        if (cap != NULL && cap->kind == DTDL_PROPERTY && cap->cloud) {
            if (!cJSON_IsNull(it) && cap->schema != NULL &&
                !dtdl_check_value(cap->schema, it, why, sizeof why)) {
                snprintf(msg, sizeof msg, "%s.%s%s", path, it->string,
                         why[0] == '$' ? why + 1 : why);
                return bad(err, "InvalidBody", msg);
            }
            if (comp[0])
                snprintf(key, sizeof key, "%s/%s", comp, it->string);
            else
                snprintf(key, sizeof key, "%s", it->string);
            cJSON_DetachItemViaPointer(obj, it);
            cJSON_AddItemToObject(out, key, it);
        }
        it = next;
    }
    return CE_OK;
}

int appl_properties_take_cloud(const struct dtdl_model *m, const char *component, cJSON *body,
                               cJSON *out_cloud, struct appl_error *err)
{
    char path[300];
    if (m == NULL || !cJSON_IsObject(body))
        return CE_OK;
    if (component != NULL && component[0] != '\0')
        return take_scope(m, component, body, out_cloud, "$", err);
    for (cJSON *it = body->child; it != NULL;) {
        cJSON *next = it->next;
        if (it->string[0] && cJSON_IsObject(it) && dtdl_find_component(m, it->string) != NULL) {
            snprintf(path, sizeof path, "$.%s", it->string);
            int rc = take_scope(m, it->string, it, out_cloud, path, err);
            if (rc != CE_OK)
                return rc;
            if (it->child == NULL)
                cJSON_Delete(cJSON_DetachItemViaPointer(body, it)); /* only cloud values */
        }
        it = next;
    }
    return take_scope(m, "", body, out_cloud, "$", err);
}

void appl_properties_store_cloud(struct appl_device *d, const cJSON *taken, int64_t now_ms)
{
    char ts[32];
    appl_time(now_ms, ts);
    for (const cJSON *it = taken ? taken->child : NULL; it != NULL; it = it->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(d->cloud, it->string);
        if (cJSON_IsNull(it))
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "value", cJSON_Duplicate(it, 1));
        cJSON_AddStringToObject(e, "time", ts);
        cJSON_AddItemToObject(d->cloud, it->string, e);
    }
}

/* Validate and copy the properties of one scope into @p out. */
static int scope(const struct dtdl_model *m, const char *comp, const cJSON *body, cJSON *out,
                 const char *path, struct appl_error *err)
{
    char msg[600], why[300];
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        if (it->string[0] == '$' || strcmp(it->string, "__t") == 0) {
            snprintf(msg, sizeof msg, "%s.%s: reserved name", path, it->string);
            return bad(err, "InvalidBody", msg);
        }
        if (m != NULL && !cJSON_IsNull(it)) {
            const struct dtdl_capability *cap = dtdl_find(m, comp, it->string);
            if (cap == NULL || cap->kind != DTDL_PROPERTY) {
                const char *near = appl_closest_name(m, comp, DTDL_PROPERTY, it->string);
                snprintf(msg, sizeof msg, "%s.%s: no property \"%s\" in the template%s%s%s", path,
                         it->string, it->string, near ? " (did you mean \"" : "", near ? near : "",
                         near ? "\"?)" : "");
                return bad(err, "InvalidBody", msg);
            }
            if (!cap->writable && !cap->cloud) {
                snprintf(msg, sizeof msg,
                         "%s.%s: property \"%s\" is read-only (reported by the device)", path,
                         it->string, it->string);
                return bad(err, "InvalidBody", msg);
            }
            if (cap->schema != NULL && !dtdl_check_value(cap->schema, it, why, sizeof why)) {
                snprintf(msg, sizeof msg, "%s.%s%s", path, it->string,
                         why[0] == '$' ? why + 1 : why);
                return bad(err, "InvalidBody", msg);
            }
        }
        cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, 1));
    }
    return CE_OK;
}

static void null_missing(const cJSON *desired, const cJSON *body, cJSON *out,
                         const struct dtdl_model *m, bool top)
{
    for (const cJSON *it = desired ? desired->child : NULL; it != NULL; it = it->next) {
        if (it->string[0] == '$' || strcmp(it->string, "__t") == 0 ||
            cJSON_GetObjectItemCaseSensitive(body, it->string) != NULL)
            continue;
        if (top && is_component(m, it->string, NULL, it))
            continue;
        cJSON_AddNullToObject(out, it->string);
    }
}

int appl_properties_patch(const struct dtdl_model *m, const struct device *dev,
                          const char *component, const cJSON *body, bool replace, cJSON **out_patch,
                          struct appl_error *err)
{
    char path[300], msg[400];
    cJSON *out = cJSON_CreateObject();
    int rc = CE_OK;
    *out_patch = NULL;
    if (out == NULL)
        return CE_NOMEM;
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(out);
        return bad(err, "InvalidBody", "$: expected an object of property values");
    }
    if (component != NULL && component[0] != '\0') {
        if (m != NULL && dtdl_find_component(m, component) == NULL) {
            cJSON_Delete(out);
            snprintf(msg, sizeof msg, "the template has no component \"%s\"", component);
            return bad(err, "CapabilityNotFound", msg);
        }
        cJSON *inner = cJSON_CreateObject();
        cJSON_AddStringToObject(inner, "__t", "c");
        rc = scope(m, component, body, inner, "$", err);
        if (rc == CE_OK && replace)
            null_missing(cJSON_GetObjectItemCaseSensitive(dev->desired, component), body, inner, m,
                         false);
        cJSON_AddItemToObject(out, component, inner);
    } else {
        cJSON *root = cJSON_CreateObject();
        for (const cJSON *it = body->child; it != NULL && rc == CE_OK; it = it->next) {
            bool comp = m != NULL
                            ? (dtdl_find_component(m, it->string) != NULL && it->string[0] != '\0')
                            : is_marked_component(it);
            if (!comp) {
                continue;
            }
            if (!cJSON_IsObject(it)) {
                snprintf(msg, sizeof msg, "$.%s: a component takes an object of properties",
                         it->string);
                rc = bad(err, "InvalidBody", msg);
                break;
            }
            cJSON *inner = cJSON_CreateObject();
            cJSON_AddStringToObject(inner, "__t", "c");
            cJSON *stripped = cJSON_Duplicate(it, 1);
            cJSON_DeleteItemFromObjectCaseSensitive(stripped, "__t");
            snprintf(path, sizeof path, "$.%s", it->string);
            rc = scope(m, it->string, stripped, inner, path, err);
            cJSON_Delete(stripped);
            cJSON_AddItemToObject(out, it->string, inner);
        }
        /* the root component's own properties */
        cJSON *plain = cJSON_CreateObject();
        for (const cJSON *it = body->child; it != NULL && rc == CE_OK; it = it->next) {
            if (cJSON_GetObjectItemCaseSensitive(out, it->string) == NULL)
                cJSON_AddItemToObject(plain, it->string, cJSON_Duplicate(it, 1));
        }
        if (rc == CE_OK)
            rc = scope(m, "", plain, root, "$", err);
        if (rc == CE_OK && replace)
            null_missing(dev->desired, body, root, m, true);
        for (cJSON *it = root->child; it != NULL && rc == CE_OK;) {
            cJSON *next = it->next;
            cJSON_DetachItemViaPointer(root, it);
            cJSON_AddItemToObject(out, it->string, it);
            it = next;
        }
        cJSON_Delete(plain);
        cJSON_Delete(root);
    }
    if (rc != CE_OK) {
        cJSON_Delete(out);
        return rc;
    }
    if (out->child == NULL) {
        cJSON_Delete(out);
        return bad(err, "InvalidBody", "$: no property to write");
    }
    *out_patch = out;
    return CE_OK;
}

/* meta[name] = {"desiredValue": value, "desiredVersion": version, "state": "pending"} */
static void add_pending(cJSON *meta, const cJSON *value, int64_t version)
{
    cJSON *md = cJSON_CreateObject();
    cJSON_AddItemToObject(md, "desiredValue", cJSON_Duplicate(value, 1));
    cJSON_AddNumberToObject(md, "desiredVersion", (double)version);
    cJSON_AddStringToObject(md, "state", "pending");
    cJSON_AddItemToObject(meta, value->string, md);
}

static cJSON *written_meta(const cJSON *body, int64_t version)
{
    cJSON *meta = cJSON_CreateObject();
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        if (strcmp(it->string, "__t") != 0)
            add_pending(meta, it, version);
    }
    return meta;
}

cJSON *appl_properties_written(const char *component, const cJSON *patch, int64_t version)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *rootmeta = NULL;
    if (o == NULL)
        return NULL;
    for (const cJSON *it = patch->child; it != NULL; it = it->next) {
        if (is_marked_component(it)) {
            bool scoped = component != NULL && component[0] != '\0';
            cJSON *meta = written_meta(it, version);
            if (scoped) {
                cJSON_AddItemToObject(o, "$metadata", meta);
            } else {
                cJSON *sub = cJSON_CreateObject();
                cJSON_AddItemToObject(sub, "$metadata", meta);
                cJSON_AddItemToObject(o, it->string, sub);
            }
            continue;
        }
        if (rootmeta == NULL) {
            rootmeta = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "$metadata", rootmeta);
        }
        add_pending(rootmeta, it, version);
    }
    return o;
}

/* The stored values of the cloud properties just taken ({"key":{"value","time"}}). */
static cJSON *stored_cloud(const struct appl_device *d, const cJSON *taken)
{
    cJSON *stored = cJSON_CreateObject();
    for (const cJSON *it = taken->child; stored != NULL && it != NULL; it = it->next) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(d->cloud, it->string);
        if (e != NULL)
            cJSON_AddItemToObject(stored, it->string, cJSON_Duplicate(e, 1));
    }
    return stored;
}

/* EV_CLOUD_PROPERTIES for data export: the values set, as a patch ({"name": v}, a component's
 * under {"comp": {"__t": "c", ...}}) like the device's own property events. */
static void publish_cloud(struct appl *a, const struct appl_device *d, const cJSON *cloud)
{
    cJSON *patch = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, cloud)
    {
        const char *slash = patch != NULL ? strchr(it->string, '/') : NULL;
        cJSON *into = patch;
        if (slash != NULL) {
            char comp[128];
            snprintf(comp, sizeof comp, "%.*s", (int)(slash - it->string), it->string);
            into = cJSON_GetObjectItemCaseSensitive(patch, comp);
            if (into == NULL && (into = cJSON_AddObjectToObject(patch, comp)) != NULL)
                cJSON_AddStringToObject(into, "__t", "c");
        }
        if (into != NULL)
            cJSON_AddItemToObject(into, slash ? slash + 1 : it->string, cJSON_Duplicate(it, true));
    }
    char *text = patch != NULL ? cJSON_PrintUnformatted(patch) : NULL;
    if (text != NULL) {
        struct central_event ev = {.type = EV_CLOUD_PROPERTIES,
                                   .device_id = d->id,
                                   .time_ms = app_now_ms(),
                                   .body = text,
                                   .body_len = strlen(text)};
        events_publish(a->app, &ev);
    }
    free(text);
    cJSON_Delete(patch);
}

int appl_properties_write(struct appl *a, struct appl_device *d, struct device *dev,
                          const char *component, cJSON *body, bool replace, cJSON **out_answer,
                          struct appl_error *err)
{
    struct appl_template *t = appl_device_template(a, d);
    const struct dtdl_model *m = t ? t->model : NULL;
    cJSON *patch = NULL, *cloud = cJSON_CreateObject();
    int rc = cloud ? appl_properties_take_cloud(m, component, body, cloud, err) : CE_NOMEM;

    *out_answer = NULL;
    /* a body of cloud properties only does not touch the device */
    bool device_part =
        rc == CE_OK && (!cJSON_IsObject(body) || body->child != NULL || cloud->child == NULL);
    if (device_part)
        rc = appl_properties_patch(m, dev, component, body, replace, &patch, err);
    if (rc == CE_OK && patch != NULL)
        rc = twin_update(a->app, dev, NULL, patch, NULL, false); /* pushes, publishes EV_DESIRED */
    if (rc == CE_OK) {
        cJSON *o = patch ? appl_properties_written(component, patch, dev->desired_version)
                         : cJSON_CreateObject();
        if (cloud->child != NULL) {
            publish_cloud(a, d, cloud);
            appl_properties_store_cloud(d, cloud, app_now_ms());
            d->etag++;
            appl_device_save(a, d);
            cJSON *stored = stored_cloud(d, cloud);
            if (o != NULL)
                appl_properties_add_cloud(o, component, stored);
            cJSON_Delete(stored);
        }
        *out_answer = o;
    }
    cJSON_Delete(cloud);
    cJSON_Delete(patch);
    return rc;
}
