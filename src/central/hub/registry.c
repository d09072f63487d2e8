/*
 * registry.c - in-memory device registry with write-through persistence (see registry.h).
 *
 * Devices sit in a chained hash table (lookup on every CONNECT) and in a doubly linked list
 * in creation order (paged listing).
 */
#include "central/hub/registry.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "central/base/events.h"
#include "central/base/log.h"
#include "central/hub/c2d.h"
#include "central/hub/method.h"
#include "central/hub/plane.h"
#include "central/hub/x509.h"
#include "central/store/store.h"
#include "iotc/codec.h"

struct registry {
    struct device **buckets;
    size_t n_buckets;
    size_t count;
    TAILQ_HEAD(device_list, device) devices;
    const struct plane_listener *listener; /* the broker's, while it runs (plane.h) */
};

/* FNV-1a over the id with ASCII letters folded to lower case: ids that differ only in case
 * share a bucket, so registry_get_nocase() (DPS registration ids) reads one chain like
 * registry_get(). */
static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        h ^= c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
        h *= 1099511628211ull;
    }
    return h;
}

static bool id_eq_nocase(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + ('a' - 'A'));
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + ('a' - 'A'));
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

/* A zeroed device with its empty c2d queue; NULL when out of memory. */
static struct device *device_alloc(void)
{
    struct device *dev = calloc(1, sizeof *dev);
    if (dev != NULL)
        STAILQ_INIT(&dev->c2d);
    return dev;
}

int registry_new(struct app *app)
{
    struct registry *r = calloc(1, sizeof *r);
    if (r == NULL)
        return CE_NOMEM;
    TAILQ_INIT(&r->devices);
    r->n_buckets = 4096;
    r->buckets = calloc(r->n_buckets, sizeof *r->buckets);
    if (r->buckets == NULL) {
        free(r);
        return CE_NOMEM;
    }
    app->reg = r;
    return CE_OK;
}

void registry_device_free(struct device *dev)
{
    if (dev == NULL)
        return;
    free(dev->status_reason);
    free(dev->model_id);
    free(dev->enrollment_group);
    cJSON_Delete(dev->tags);
    cJSON_Delete(dev->desired);
    cJSON_Delete(dev->desired_meta);
    cJSON_Delete(dev->reported);
    cJSON_Delete(dev->reported_meta);
    while (!STAILQ_EMPTY(&dev->c2d)) {
        struct c2d_msg *m = STAILQ_FIRST(&dev->c2d);
        STAILQ_REMOVE_HEAD(&dev->c2d, link);
        c2d_msg_free(m);
    }
    free(dev);
}

void registry_free(struct app *app)
{
    struct registry *r = app->reg;
    x509_ca_free(app);
    if (r == NULL)
        return;
    while (!TAILQ_EMPTY(&r->devices)) {
        struct device *d = TAILQ_FIRST(&r->devices);
        TAILQ_REMOVE(&r->devices, d, link);
        registry_device_free(d);
    }
    free(r->buckets);
    free(r);
    app->reg = NULL;
}

static void grow(struct registry *r)
{
    size_t nb = r->n_buckets * 2;
    struct device **b = calloc(nb, sizeof *b);
    if (b == NULL)
        return; /* keep the old table: slower, still correct */
    struct device *d;
    TAILQ_FOREACH(d, &r->devices, link)
    {
        size_t i = id_hash(d->id) & (nb - 1);
        d->hash_next = b[i];
        b[i] = d;
    }
    free(r->buckets);
    r->buckets = b;
    r->n_buckets = nb;
}

static void insert(struct app *app, struct device *dev)
{
    struct registry *r = app->reg;
    if (r->count + 1 > r->n_buckets)
        grow(r);
    size_t i = id_hash(dev->id) & (r->n_buckets - 1);
    dev->hash_next = r->buckets[i];
    r->buckets[i] = dev;
    TAILQ_INSERT_TAIL(&r->devices, dev, link);
    r->count++;
}

struct device *registry_get(struct app *app, const char *id)
{
    struct registry *r = app->reg;
    CENTRAL_ASSERT_LOOP(app);
    if (id == NULL || r == NULL)
        return NULL;
    for (struct device *d = r->buckets[id_hash(id) & (r->n_buckets - 1)]; d; d = d->hash_next)
        if (strcmp(d->id, id) == 0)
            return d;
    return NULL;
}

struct device *registry_get_nocase(struct app *app, const char *id)
{
    struct registry *r = app->reg;
    CENTRAL_ASSERT_LOOP(app);
    if (id == NULL || r == NULL)
        return NULL;
    struct device *found = NULL;
    for (struct device *d = r->buckets[id_hash(id) & (r->n_buckets - 1)]; d; d = d->hash_next) {
        if (strcmp(d->id, id) == 0)
            return d;
        if (found == NULL && id_eq_nocase(d->id, id))
            found = d;
    }
    return found;
}

size_t registry_count(struct app *app)
{
    return app->reg ? app->reg->count : 0;
}

bool registry_id_is_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > DEVICE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr("-.%_*?!(),:=@$'", c) == NULL)
            return false;
    }
    return true;
}

bool registry_key_is_valid(const char *key)
{
    unsigned char raw[128];
    size_t len = 0;
    if (key == NULL ||
        iotc_base64_decode(iotc_span_from_cstr(key), raw, sizeof raw, &len) != IOTC_OK)
        return false;
    return len >= 16 && len <= 64 && strlen(key) < DEVICE_KEY_MAX;
}

static int gen_key(char out[DEVICE_KEY_MAX])
{
    unsigned char raw[32];
    size_t len;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return CE_NOMEM;
    return iotc_base64_encode(raw, sizeof raw, out, DEVICE_KEY_MAX, &len) == IOTC_OK ? CE_OK
                                                                                     : CE_NOMEM;
}

static int set_key(char out[DEVICE_KEY_MAX], const char *key)
{
    if (key == NULL || key[0] == '\0')
        return gen_key(out);
    if (!registry_key_is_valid(key))
        return CE_INVALID;
    memcpy(out, key, strlen(key) + 1);
    return CE_OK;
}

static void set_generation(struct device *dev)
{
    unsigned char r[4];
    if (RAND_bytes(r, sizeof r) != 1)
        memset(r, 0, sizeof r);
    unsigned long long v =
        (unsigned long long)dev->created_ms * 10000ull + (((unsigned)r[0] << 8 | r[1]) % 10000u);
    snprintf(dev->generation_id, sizeof dev->generation_id, "%llu", v);
}

void registry_persist(struct app *app, struct device *dev)
{
    if (app->store == NULL)
        return;
    char *record = registry_device_to_store_json(dev);
    if (record == NULL || store_put_device(app->store, dev->id, record) != CE_OK)
        log_error("cannot queue the store write of device %s", LOG_STR(dev->id));
    free(record);
}

int registry_create(struct app *app, const char *id, const char *primary_key,
                    const char *secondary_key, bool enabled, const char *group,
                    struct device **out_dev)
{
    CENTRAL_ASSERT_LOOP(app);
    if (!registry_id_is_valid(id))
        return CE_INVALID;
    if (registry_get(app, id) != NULL)
        return CE_EXISTS;
    struct device *dev = device_alloc();
    if (dev == NULL)
        return CE_NOMEM;
    memcpy(dev->id, id, strlen(id) + 1);
    int rc = set_key(dev->primary_key, primary_key);
    if (rc == CE_OK)
        rc = set_key(dev->secondary_key, secondary_key);
    dev->tags = cJSON_CreateObject();
    dev->desired = cJSON_CreateObject();
    dev->desired_meta = cJSON_CreateObject();
    dev->reported = cJSON_CreateObject();
    dev->reported_meta = cJSON_CreateObject();
    if (rc == CE_OK && (!dev->tags || !dev->desired || !dev->desired_meta || !dev->reported ||
                        !dev->reported_meta))
        rc = CE_NOMEM;
    if (rc == CE_OK && group != NULL && (dev->enrollment_group = strdup(group)) == NULL)
        rc = CE_NOMEM;
    if (rc != CE_OK) {
        registry_device_free(dev);
        return rc;
    }
    dev->status = enabled ? DEVICE_ENABLED : DEVICE_DISABLED;
    dev->created_ms = app_now_ms();
    dev->status_updated_ms = dev->created_ms;
    dev->connection_state_updated_ms = dev->created_ms;
    dev->etag_version = 1;
    dev->desired_version = 1;
    dev->reported_version = 1;
    dev->twin_version = 1;
    set_generation(dev);
    char now[32];
    app_format_time(dev->created_ms, now);
    cJSON_AddStringToObject(dev->desired_meta, "$lastUpdated", now);
    cJSON_AddNumberToObject(dev->desired_meta, "$lastUpdatedVersion", 1);
    cJSON_AddStringToObject(dev->reported_meta, "$lastUpdated", now);
    insert(app, dev);
    registry_persist(app, dev);
    log_info("registry: created device %s (%s%s)", LOG_STR(id), group ? "group " : "individual",
             LOG_STR(group));
    if (out_dev)
        *out_dev = dev;
    return CE_OK;
}

/* A thumbprint field: NULL or "" -> none (""), else it must normalise. CE_OK / CE_INVALID. */
static int set_thumb(char out[AUTH_THUMB_MAX + 1], const char *in)
{
    out[0] = '\0';
    if (in == NULL || in[0] == '\0')
        return CE_OK;
    return auth_thumbprint_normalize(in, out) < 0 ? CE_INVALID : CE_OK;
}

/* Applies @p x to @p dev when valid; sets *changed when anything differs. */
static int apply_x509(struct device *dev, const struct device_x509 *x, bool *changed)
{
    char t1[AUTH_THUMB_MAX + 1], t2[AUTH_THUMB_MAX + 1];
    if (x->type > AUTH_TYPE_CA || set_thumb(t1, x->primary) != CE_OK ||
        set_thumb(t2, x->secondary) != CE_OK)
        return CE_INVALID;
    if (x->type == AUTH_TYPE_SELF_SIGNED && t1[0] == '\0')
        return CE_INVALID;
    if (x->type != AUTH_TYPE_SELF_SIGNED)
        t1[0] = t2[0] = '\0';
    *changed = x->type != dev->auth_type || strcmp(t1, dev->thumb_primary) != 0 ||
               strcmp(t2, dev->thumb_secondary) != 0;
    dev->auth_type = x->type;
    memcpy(dev->thumb_primary, t1, sizeof t1);
    memcpy(dev->thumb_secondary, t2, sizeof t2);
    return CE_OK;
}

int registry_update(struct app *app, struct device *dev, const struct device_update *upd)
{
    char pk[DEVICE_KEY_MAX], sk[DEVICE_KEY_MAX];
    CENTRAL_ASSERT_LOOP(app);
    if (upd->x509 != NULL) {
        struct device probe = {0};
        bool unused;
        if (apply_x509(&probe, upd->x509, &unused) != CE_OK)
            return CE_INVALID;
    }
    memcpy(pk, dev->primary_key, sizeof pk);
    memcpy(sk, dev->secondary_key, sizeof sk);
    if (upd->primary_key != NULL && set_key(pk, upd->primary_key) != CE_OK)
        return CE_INVALID;
    if (upd->secondary_key != NULL && set_key(sk, upd->secondary_key) != CE_OK)
        return CE_INVALID;
    if (upd->status > DEVICE_DISABLED)
        return CE_INVALID;
    if (upd->status_reason != NULL) {
        char *r = strdup(upd->status_reason);
        if (r == NULL)
            return CE_NOMEM;
        free(dev->status_reason);
        dev->status_reason = r;
    }
    bool keys_changed = strcmp(pk, dev->primary_key) != 0 || strcmp(sk, dev->secondary_key) != 0;
    bool auth_changed = false;
    if (upd->x509 != NULL)
        (void)apply_x509(dev, upd->x509, &auth_changed); /* validated above */
    memcpy(dev->primary_key, pk, sizeof pk);
    memcpy(dev->secondary_key, sk, sizeof sk);
    bool disable = upd->status == DEVICE_DISABLED && dev->status != DEVICE_DISABLED;
    if (upd->status >= 0 && (enum device_status)upd->status != dev->status) {
        dev->status = (enum device_status)upd->status;
        dev->status_updated_ms = app_now_ms();
    }
    dev->etag_version++;
    registry_persist(app, dev);
    if (disable)
        plane_device_blocked(app, dev, "device disabled");
    else if (keys_changed)
        plane_device_blocked(app, dev, "device keys changed");
    else if (auth_changed)
        plane_device_blocked(app, dev, "device authentication (type or thumbprints) changed");
    return CE_OK;
}

void registry_set_model_id(struct app *app, struct device *dev, const char *model_id)
{
    if ((model_id == NULL && dev->model_id == NULL) ||
        (model_id && dev->model_id && strcmp(model_id, dev->model_id) == 0))
        return;
    char *copy = model_id ? strdup(model_id) : NULL;
    if (model_id != NULL && copy == NULL)
        return;
    free(dev->model_id);
    dev->model_id = copy;
    dev->twin_version++;
    registry_persist(app, dev);
}

int registry_set_group(struct app *app, struct device *dev, const char *group)
{
    char *copy = strdup(group);
    if (copy == NULL)
        return CE_NOMEM;
    free(dev->enrollment_group);
    dev->enrollment_group = copy;
    registry_persist(app, dev);
    return CE_OK;
}

int registry_delete(struct app *app, const char *id)
{
    struct registry *r = app->reg;
    struct device *dev = registry_get(app, id);
    if (dev == NULL)
        return CE_NOTFOUND;
    plane_device_blocked(app, dev, "device deleted");
    method_device_removed(app, dev->id);
    /* after the kick: its "disconnected" event must not outlive the deletion */
    events_device(app, EV_DEVICE_DELETED, dev->id);
    struct device **pp = &r->buckets[id_hash(id) & (r->n_buckets - 1)];
    while (*pp != dev)
        pp = &(*pp)->hash_next;
    *pp = dev->hash_next;
    TAILQ_REMOVE(&r->devices, dev, link);
    CENTRAL_ASSERT(r->count > 0);
    r->count--;
    if (app->store != NULL)
        store_delete_device(app->store, dev->id);
    log_info("registry: deleted device %s", LOG_STR(dev->id));
    registry_device_free(dev);
    return CE_OK;
}

size_t registry_list(struct app *app, size_t offset, struct device **out, size_t cap)
{
    size_t n = 0, i = 0;
    struct device *d;
    TAILQ_FOREACH(d, &app->reg->devices, link)
    {
        if (n == cap)
            break;
        if (i++ >= offset)
            out[n++] = d;
    }
    return n;
}

void registry_device_etag(const struct device *dev, char out[32])
{
    char num[24];
    size_t len;
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)dev->etag_version);
    if (iotc_base64_encode(num, (size_t)n, out, 32, &len) != IOTC_OK)
        out[0] = '\0';
}

static void add_time(cJSON *obj, const char *name, int64_t ms)
{
    char buf[32];
    if (ms <= 0)
        snprintf(buf, sizeof buf, "0001-01-01T00:00:00Z");
    else
        app_format_time(ms, buf);
    cJSON_AddStringToObject(obj, name, buf);
}

cJSON *registry_device_to_json(const struct device *dev)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    char etag[32];
    registry_device_etag(dev, etag);
    cJSON_AddStringToObject(o, "deviceId", dev->id);
    cJSON_AddStringToObject(o, "generationId", dev->generation_id);
    cJSON_AddStringToObject(o, "etag", etag);
    cJSON_AddStringToObject(o, "connectionState", dev->connected ? "Connected" : "Disconnected");
    cJSON_AddStringToObject(o, "status", dev->status == DEVICE_ENABLED ? "enabled" : "disabled");
    if (dev->status_reason)
        cJSON_AddStringToObject(o, "statusReason", dev->status_reason);
    else
        cJSON_AddNullToObject(o, "statusReason");
    add_time(o, "connectionStateUpdatedTime", dev->connection_state_updated_ms);
    add_time(o, "statusUpdatedTime", dev->status_updated_ms);
    add_time(o, "lastActivityTime", dev->last_activity_ms);
    cJSON_AddNumberToObject(o, "cloudToDeviceMessageCount", (double)dev->c2d_count);
    cJSON *auth = cJSON_AddObjectToObject(o, "authentication");
    cJSON_AddStringToObject(auth, "type", registry_auth_type_name(dev->auth_type));
    cJSON *sk = cJSON_AddObjectToObject(auth, "symmetricKey");
    cJSON *x = cJSON_AddObjectToObject(auth, "x509Thumbprint");
    if (dev->auth_type == AUTH_TYPE_SAS) {
        cJSON_AddStringToObject(sk, "primaryKey", dev->primary_key);
        cJSON_AddStringToObject(sk, "secondaryKey", dev->secondary_key);
    } else {
        cJSON_AddNullToObject(sk, "primaryKey");
        cJSON_AddNullToObject(sk, "secondaryKey");
    }
    if (dev->thumb_primary[0] != '\0')
        cJSON_AddStringToObject(x, "primaryThumbprint", dev->thumb_primary);
    else
        cJSON_AddNullToObject(x, "primaryThumbprint");
    if (dev->thumb_secondary[0] != '\0')
        cJSON_AddStringToObject(x, "secondaryThumbprint", dev->thumb_secondary);
    else
        cJSON_AddNullToObject(x, "secondaryThumbprint");
    cJSON *cap = cJSON_AddObjectToObject(o, "capabilities");
    cJSON_AddFalseToObject(cap, "iotEdge");
    if (dev->model_id)
        cJSON_AddStringToObject(o, "modelId", dev->model_id);
    else
        cJSON_AddStringToObject(o, "modelId", "");
    if (dev->enrollment_group)
        cJSON_AddStringToObject(o, "enrollmentGroupId", dev->enrollment_group);
    return o;
}

const char *registry_auth_type_name(enum auth_type t)
{
    return t == AUTH_TYPE_SELF_SIGNED ? "selfSigned"
           : t == AUTH_TYPE_CA        ? "certificateAuthority"
                                      : "sas";
}

/* ---------------------------------------------------------------- plane announcements */

void plane_listen(struct app *app, const struct plane_listener *l)
{
    CENTRAL_ASSERT_LOOP(app);
    app->reg->listener = l;
}

void plane_device_blocked(struct app *app, struct device *dev, const char *reason)
{
    if (app->reg->listener != NULL)
        app->reg->listener->device_blocked(app, dev, reason);
}

void plane_desired_changed(struct app *app, struct device *dev, const char *patch, size_t len,
                           int64_t version)
{
    if (app->reg->listener != NULL)
        app->reg->listener->desired_changed(app, dev, patch, len, version);
    events_patch(app, EV_DESIRED, dev->id, patch, len, version);
}

void plane_c2d_queued(struct app *app, struct device *dev)
{
    if (app->reg->listener != NULL)
        app->reg->listener->c2d_queued(app, dev);
}

int plane_method_requested(struct app *app, struct device *dev,
                           const struct plane_method_request *req)
{
    if (app->reg->listener == NULL)
        return CE_OFFLINE;
    return app->reg->listener->method_requested(app, dev, req);
}

/* ---------------------------------------------------------------- store record */

static void add_json(cJSON *o, const char *name, const cJSON *v)
{
    cJSON *dup = v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
    if (dup)
        cJSON_AddItemToObject(o, name, dup);
}

char *registry_device_to_store_json(const struct device *dev)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "pk", dev->primary_key);
    cJSON_AddStringToObject(o, "sk", dev->secondary_key);
    cJSON_AddNumberToObject(o, "status", dev->status);
    if (dev->auth_type != AUTH_TYPE_SAS) {
        cJSON_AddNumberToObject(o, "auth", dev->auth_type);
        cJSON_AddStringToObject(o, "tp1", dev->thumb_primary);
        cJSON_AddStringToObject(o, "tp2", dev->thumb_secondary);
    }
    if (dev->status_reason)
        cJSON_AddStringToObject(o, "statusReason", dev->status_reason);
    cJSON_AddStringToObject(o, "gen", dev->generation_id);
    cJSON_AddNumberToObject(o, "etagv", (double)dev->etag_version);
    if (dev->model_id)
        cJSON_AddStringToObject(o, "modelId", dev->model_id);
    if (dev->enrollment_group)
        cJSON_AddStringToObject(o, "group", dev->enrollment_group);
    cJSON_AddNumberToObject(o, "created", (double)dev->created_ms);
    cJSON_AddNumberToObject(o, "statusUpdated", (double)dev->status_updated_ms);
    cJSON_AddNumberToObject(o, "lastActivity", (double)dev->last_activity_ms);
    cJSON_AddNumberToObject(o, "connUpdated", (double)dev->connection_state_updated_ms);
    cJSON_AddNumberToObject(o, "subMask", dev->sub_mask);
    cJSON_AddBoolToObject(o, "session", dev->session_present);
    add_json(o, "tags", dev->tags);
    add_json(o, "desired", dev->desired);
    add_json(o, "desiredMeta", dev->desired_meta);
    add_json(o, "reported", dev->reported);
    add_json(o, "reportedMeta", dev->reported_meta);
    cJSON_AddNumberToObject(o, "dv", (double)dev->desired_version);
    cJSON_AddNumberToObject(o, "rv", (double)dev->reported_version);
    cJSON_AddNumberToObject(o, "tv", (double)dev->twin_version);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static char *str_dup(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static cJSON *take_obj(cJSON *o, const char *name)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(o, name);
    if (cJSON_IsObject(v))
        return v;
    cJSON_Delete(v);
    return cJSON_CreateObject();
}

struct device *registry_device_from_store_json(const char *id, const char *json)
{
    if (!registry_id_is_valid(id))
        return NULL;
    cJSON *o = cJSON_Parse(json);
    if (o == NULL)
        return NULL;
    struct device *dev = device_alloc();
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(o, "pk");
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(o, "sk");
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(o, "gen");
    if (dev == NULL || !cJSON_IsString(pk) || !cJSON_IsString(sk) ||
        strlen(pk->valuestring) >= DEVICE_KEY_MAX || strlen(sk->valuestring) >= DEVICE_KEY_MAX) {
        free(dev);
        cJSON_Delete(o);
        return NULL;
    }
    memcpy(dev->id, id, strlen(id) + 1);
    memcpy(dev->primary_key, pk->valuestring, strlen(pk->valuestring) + 1);
    memcpy(dev->secondary_key, sk->valuestring, strlen(sk->valuestring) + 1);
    if (cJSON_IsString(gen))
        snprintf(dev->generation_id, sizeof dev->generation_id, "%s", gen->valuestring);
    dev->status = num(o, "status") == 1 ? DEVICE_DISABLED : DEVICE_ENABLED;
    double auth = num(o, "auth");
    if (auth == AUTH_TYPE_SELF_SIGNED || auth == AUTH_TYPE_CA) {
        const cJSON *t1 = cJSON_GetObjectItemCaseSensitive(o, "tp1");
        const cJSON *t2 = cJSON_GetObjectItemCaseSensitive(o, "tp2");
        dev->auth_type = (enum auth_type)auth;
        (void)set_thumb(dev->thumb_primary, cJSON_IsString(t1) ? t1->valuestring : NULL);
        (void)set_thumb(dev->thumb_secondary, cJSON_IsString(t2) ? t2->valuestring : NULL);
    }
    dev->status_reason = str_dup(o, "statusReason");
    dev->etag_version = (uint64_t)num(o, "etagv");
    dev->model_id = str_dup(o, "modelId");
    dev->enrollment_group = str_dup(o, "group");
    dev->created_ms = (int64_t)num(o, "created");
    dev->status_updated_ms = (int64_t)num(o, "statusUpdated");
    dev->last_activity_ms = (int64_t)num(o, "lastActivity");
    dev->connection_state_updated_ms = (int64_t)num(o, "connUpdated");
    dev->sub_mask = (uint32_t)num(o, "subMask");
    dev->session_present = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "session"));
    dev->tags = take_obj(o, "tags");
    dev->desired = take_obj(o, "desired");
    dev->desired_meta = take_obj(o, "desiredMeta");
    dev->reported = take_obj(o, "reported");
    dev->reported_meta = take_obj(o, "reportedMeta");
    dev->desired_version = (int64_t)num(o, "dv");
    dev->reported_version = (int64_t)num(o, "rv");
    dev->twin_version = (uint64_t)num(o, "tv");
    cJSON_Delete(o);
    if (!dev->tags || !dev->desired || !dev->desired_meta || !dev->reported ||
        !dev->reported_meta) {
        registry_device_free(dev);
        return NULL;
    }
    return dev;
}

/* ---------------------------------------------------------------- loading */

struct load_state {
    struct app *app;
    int devices, c2d;
    int rc;
};

static int load_device_row(void *ctx, const char *id, const char *data)
{
    struct load_state *ls = ctx;
    struct device *dev = registry_device_from_store_json(id, data);
    if (dev == NULL) {
        log_warn("skipping unreadable device row %s", LOG_STR(id));
        return 0;
    }
    insert(ls->app, dev);
    ls->devices++;
    return 0;
}

static int load_c2d_row(void *ctx, const struct store_c2d_row *row)
{
    struct load_state *ls = ctx;
    if (row->seq > ls->app->c2d_seq)
        ls->app->c2d_seq = row->seq;
    struct device *dev = registry_get(ls->app, row->device_id);
    if (dev == NULL)
        return 0;
    int rc = c2d_load_row(dev, row);
    if (rc != CE_OK) {
        ls->rc = rc;
        return 1;
    }
    ls->c2d++;
    return 0;
}

int registry_load(struct app *app)
{
    struct load_state ls = {.app = app, .rc = CE_OK};
    CENTRAL_ASSERT_LOOP(app);
    int rc = store_load_devices(app->store, load_device_row, &ls);
    if (rc == CE_OK)
        rc = store_load_c2d(app->store, load_c2d_row, &ls);
    if (rc == CE_OK)
        rc = x509_ca_init(app); /* the CA certificates X.509 identities chain to */
    if (rc != CE_OK)
        return rc;
    if (ls.rc != CE_OK)
        log_error("store: loading pending C2D messages stopped: %s", central_strerror(ls.rc));
    log_info("store: loaded %d devices, %d pending C2D messages", ls.devices, ls.c2d);
    return CE_OK;
}
