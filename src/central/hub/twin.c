/*
 * twin.c - twin documents: merge with null-deletes, $metadata, versions, pushes (twin.h).
 *
 * A patch is validated and merged into copies first, so a rejected patch changes nothing.
 */
#include "central/hub/twin.h"

#include <stdlib.h>
#include <string.h>

#include "central/base/log.h"
#include "central/hub/plane.h"
#include "iotc/codec.h"

#define TWIN_SECTION_MAX (32 * 1024)
#define TWIN_TAGS_MAX (8 * 1024)
#define TWIN_DEPTH_MAX 10
#define TWIN_KEY_MAX 1024
#define TWIN_STRING_MAX 4096
#define TWIN_INT_MAX 4503599627370495.0

void twin_etag(const struct device *dev, char out[32])
{
    unsigned char be[8];
    size_t len;
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(dev->twin_version >> (56 - 8 * i));
    if (iotc_base64_encode(be, sizeof be, out, 32, &len) != IOTC_OK)
        out[0] = '\0';
}

static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > TWIN_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c < 0x20 || c == 0x7f || c == '.' || c == '$' || c == ' ')
            return false;
    }
    return true;
}

/* Check a patch (object) recursively: key rules, depth, string sizes, integer range. */
static bool patch_ok(const cJSON *obj, int depth)
{
    if (depth > TWIN_DEPTH_MAX)
        return false;
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        if (depth == 1 && it->string && it->string[0] == '$')
            continue; /* $version / $metadata sent back by clients: ignored */
        if (it->string == NULL || !key_ok(it->string))
            return false;
        if (cJSON_IsString(it) && strlen(it->valuestring) > TWIN_STRING_MAX)
            return false;
        if (cJSON_IsNumber(it) &&
            (it->valuedouble > TWIN_INT_MAX || it->valuedouble < -TWIN_INT_MAX - 1))
            return false;
        if (cJSON_IsObject(it) && !patch_ok(it, depth + 1))
            return false;
        if (cJSON_IsArray(it)) {
            for (const cJSON *e = it->child; e != NULL; e = e->next)
                if (cJSON_IsObject(e) && !patch_ok(e, depth + 1))
                    return false;
        }
    }
    return true;
}

static cJSON *leaf_meta(const char *now, int64_t version)
{
    cJSON *m = cJSON_CreateObject();
    if (m == NULL)
        return NULL;
    cJSON_AddStringToObject(m, "$lastUpdated", now);
    if (version > 0)
        cJSON_AddNumberToObject(m, "$lastUpdatedVersion", (double)version);
    return m;
}

static void set_item(cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
}

static void stamp(cJSON *meta, const char *now, int64_t version)
{
    cJSON *ts = cJSON_CreateString(now);
    if (ts)
        set_item(meta, "$lastUpdated", ts);
    if (version > 0) {
        cJSON *v = cJSON_CreateNumber((double)version);
        if (v)
            set_item(meta, "$lastUpdatedVersion", v);
    }
}

/* Merge @p patch into @p target (and its @p meta mirror); null deletes. */
static int merge(cJSON *target, cJSON *meta, const cJSON *patch, const char *now, int64_t version,
                 bool top)
{
    for (const cJSON *it = patch->child; it != NULL; it = it->next) {
        if (top && it->string[0] == '$')
            continue;
        const char *k = it->string;
        if (cJSON_IsNull(it)) {
            cJSON_DeleteItemFromObjectCaseSensitive(target, k);
            if (meta)
                cJSON_DeleteItemFromObjectCaseSensitive(meta, k);
            continue;
        }
        if (cJSON_IsObject(it)) {
            cJSON *sub = cJSON_GetObjectItemCaseSensitive(target, k);
            if (!cJSON_IsObject(sub)) {
                sub = cJSON_CreateObject();
                if (sub == NULL)
                    return CE_NOMEM;
                set_item(target, k, sub);
            }
            cJSON *msub = NULL;
            if (meta) {
                msub = cJSON_GetObjectItemCaseSensitive(meta, k);
                if (!cJSON_IsObject(msub) ||
                    cJSON_GetObjectItemCaseSensitive(msub, "$lastUpdated") == NULL ||
                    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(target, k))) {
                    msub = cJSON_CreateObject();
                    if (msub == NULL)
                        return CE_NOMEM;
                    set_item(meta, k, msub);
                }
                stamp(msub, now, version);
            }
            int rc = merge(sub, msub, it, now, version, false);
            if (rc != CE_OK)
                return rc;
            continue;
        }
        cJSON *dup = cJSON_Duplicate(it, 1);
        if (dup == NULL)
            return CE_NOMEM;
        set_item(target, k, dup);
        if (meta) {
            cJSON *m = leaf_meta(now, version);
            if (m == NULL)
                return CE_NOMEM;
            set_item(meta, k, m);
        }
    }
    return CE_OK;
}

static size_t json_size(const cJSON *o)
{
    char *t = cJSON_PrintUnformatted(o);
    size_t n = t ? strlen(t) : SIZE_MAX;
    free(t);
    return n;
}

/* Merge into copies of (*target, *meta); swap in on success. */
static int merge_section(cJSON **target, cJSON **meta, const cJSON *patch, int64_t version,
                         size_t limit, bool replace)
{
    if (!cJSON_IsObject(patch) || !patch_ok(patch, 1))
        return CE_INVALID;
    char now[32];
    app_format_time(app_now_ms(), now);
    cJSON *t = replace ? cJSON_CreateObject() : cJSON_Duplicate(*target, 1);
    cJSON *m = meta ? (replace ? cJSON_CreateObject() : cJSON_Duplicate(*meta, 1)) : NULL;
    int rc = (t == NULL || (meta && m == NULL)) ? CE_NOMEM : merge(t, m, patch, now, version, true);
    if (rc == CE_OK && json_size(t) > limit)
        rc = CE_TOOBIG;
    if (rc != CE_OK) {
        cJSON_Delete(t);
        cJSON_Delete(m);
        return rc == CE_TOOBIG ? CE_INVALID : rc;
    }
    if (m)
        stamp(m, now, version);
    cJSON_Delete(*target);
    *target = t;
    if (meta) {
        cJSON_Delete(*meta);
        *meta = m;
    }
    return CE_OK;
}

static cJSON *section_with_version(const cJSON *props, const cJSON *meta, int64_t version)
{
    cJSON *o = cJSON_Duplicate(props, 1);
    if (o == NULL)
        return NULL;
    if (meta) {
        cJSON *m = cJSON_Duplicate(meta, 1);
        if (m)
            cJSON_AddItemToObject(o, "$metadata", m);
    }
    cJSON_AddNumberToObject(o, "$version", (double)version);
    return o;
}

char *twin_device_get_text(const struct device *dev)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON *d = section_with_version(dev->desired, NULL, dev->desired_version);
    cJSON *r = section_with_version(dev->reported, NULL, dev->reported_version);
    if (d)
        cJSON_AddItemToObject(o, "desired", d);
    if (r)
        cJSON_AddItemToObject(o, "reported", r);
    char *text = (d && r) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

int twin_patch_reported(struct app *app, struct device *dev, const char *json, size_t len,
                        int64_t *out_version)
{
    CENTRAL_ASSERT_LOOP(app);
    cJSON *patch = cJSON_ParseWithLength(json, len);
    if (patch == NULL)
        return CE_INVALID;
    int rc = merge_section(&dev->reported, &dev->reported_meta, patch, 0, TWIN_SECTION_MAX, false);
    cJSON_Delete(patch);
    if (rc != CE_OK)
        return rc;
    dev->reported_version++;
    dev->twin_version++;
    *out_version = dev->reported_version;
    registry_persist(app, dev);
    return CE_OK;
}

static bool etag_matches(const struct device *dev, const char *if_match)
{
    if (if_match == NULL)
        return true;
    size_t n = strlen(if_match);
    while (n > 0 && (*if_match == ' ' || *if_match == '"')) {
        if_match++;
        n--;
    }
    while (n > 0 && (if_match[n - 1] == ' ' || if_match[n - 1] == '"'))
        n--;
    if (n == 1 && if_match[0] == '*')
        return true;
    char etag[32];
    twin_etag(dev, etag);
    return strlen(etag) == n && memcmp(etag, if_match, n) == 0;
}

/* The desired push body: the patch's own keys in order, "$version" last (docs/PROTOCOL.md §5.6). */
static char *desired_push_text(const cJSON *patch, const cJSON *old_desired, bool replace,
                               int64_t version)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    for (const cJSON *it = patch->child; it != NULL; it = it->next) {
        if (it->string[0] == '$')
            continue;
        cJSON *dup = cJSON_Duplicate(it, 1);
        if (dup)
            cJSON_AddItemToObject(o, it->string, dup);
    }
    if (replace && old_desired) {
        for (const cJSON *it = old_desired->child; it != NULL; it = it->next)
            if (cJSON_GetObjectItemCaseSensitive(patch, it->string) == NULL)
                cJSON_AddNullToObject(o, it->string);
    }
    cJSON_AddNumberToObject(o, "$version", (double)version);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

int twin_update(struct app *app, struct device *dev, const cJSON *tags_patch,
                const cJSON *desired_patch, const char *if_match, bool replace)
{
    CENTRAL_ASSERT_LOOP(app);
    if (!etag_matches(dev, if_match))
        return CE_ETAG;
    if ((tags_patch && !cJSON_IsObject(tags_patch)) ||
        (desired_patch && !cJSON_IsObject(desired_patch)))
        return CE_INVALID;
    cJSON *old_desired = NULL;
    if (desired_patch) {
        old_desired = cJSON_Duplicate(dev->desired, 1);
        int rc = merge_section(&dev->desired, &dev->desired_meta, desired_patch,
                               dev->desired_version + 1, TWIN_SECTION_MAX, replace);
        if (rc != CE_OK) {
            cJSON_Delete(old_desired);
            return rc;
        }
        dev->desired_version++;
    }
    if (tags_patch) {
        int rc = merge_section(&dev->tags, NULL, tags_patch, 0, TWIN_TAGS_MAX, replace);
        if (rc != CE_OK) {
            cJSON_Delete(old_desired);
            /* desired already applied: keep it (persisted below), report the tags error */
            dev->twin_version++;
            registry_persist(app, dev);
            return rc;
        }
    }
    dev->twin_version++;
    registry_persist(app, dev);
    if (desired_patch) {
        char *push = desired_push_text(desired_patch, old_desired, replace, dev->desired_version);
        if (push) /* the one announcement: to the live connection and to the event bus */
            plane_desired_changed(app, dev, push, strlen(push), dev->desired_version);
        free(push);
        log_info("twin: desired properties of %s now at $version %lld", LOG_STR(dev->id),
                 (long long)dev->desired_version);
    }
    cJSON_Delete(old_desired);
    return CE_OK;
}

cJSON *twin_to_service_json(const struct device *dev)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    char etag[32], devetag[32], t[32];
    twin_etag(dev, etag);
    registry_device_etag(dev, devetag);
    cJSON_AddStringToObject(o, "deviceId", dev->id);
    cJSON_AddStringToObject(o, "etag", etag);
    cJSON_AddStringToObject(o, "deviceEtag", devetag);
    cJSON_AddStringToObject(o, "status", dev->status == DEVICE_ENABLED ? "enabled" : "disabled");
    if (dev->status_reason)
        cJSON_AddStringToObject(o, "statusReason", dev->status_reason);
    app_format_time(dev->status_updated_ms, t);
    cJSON_AddStringToObject(o, "statusUpdateTime", t);
    cJSON_AddStringToObject(o, "connectionState", dev->connected ? "Connected" : "Disconnected");
    if (dev->last_activity_ms > 0)
        app_format_time(dev->last_activity_ms, t);
    else
        snprintf(t, sizeof t, "0001-01-01T00:00:00Z");
    cJSON_AddStringToObject(o, "lastActivityTime", t);
    cJSON_AddNumberToObject(o, "cloudToDeviceMessageCount", (double)dev->c2d_count);
    cJSON_AddStringToObject(o, "authenticationType", "sas");
    cJSON *x = cJSON_AddObjectToObject(o, "x509Thumbprint");
    cJSON_AddNullToObject(x, "primaryThumbprint");
    cJSON_AddNullToObject(x, "secondaryThumbprint");
    cJSON_AddStringToObject(o, "modelId", dev->model_id ? dev->model_id : "");
    cJSON_AddNumberToObject(o, "version", (double)dev->twin_version);
    cJSON *tags = cJSON_Duplicate(dev->tags, 1);
    if (tags)
        cJSON_AddItemToObject(o, "tags", tags);
    cJSON *props = cJSON_AddObjectToObject(o, "properties");
    cJSON *d = section_with_version(dev->desired, dev->desired_meta, dev->desired_version);
    cJSON *r = section_with_version(dev->reported, dev->reported_meta, dev->reported_version);
    if (props == NULL || d == NULL || r == NULL || tags == NULL) {
        cJSON_Delete(d);
        cJSON_Delete(r);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddItemToObject(props, "desired", d);
    cJSON_AddItemToObject(props, "reported", r);
    cJSON *cap = cJSON_AddObjectToObject(o, "capabilities");
    cJSON_AddFalseToObject(cap, "iotEdge");
    return o;
}
