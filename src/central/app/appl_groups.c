/*
 * appl_groups.c - the application's enrollment groups (groups.h holds them for DPS): loading,
 * create / replace / update / delete / regenerate a key, their IoT Central JSON shape, and the
 * keys a device created through the API is given.
 *
 * Storage: every group is a row of app_enrollment_groups (id, JSON). The application's first
 * group (app->facts.group_id, "SAS-IoT-Devices") keeps its keys in app.json, where iotc-central
 * `show` and the simulator read them; its row (when there is one) holds the rest, or
 * {"deleted":true} once it was deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include <iotc/codec.h>
#include <iotc/sas.h>

#include "central/app/appl.h"
#include "central/app/appl_docs.h"
#include "central/base/log.h"
#include "central/hub/groups.h"
#include "central/hub/x509.h"
#include "central/store/store_app.h"

#define TABLE "app_enrollment_groups"
#define DISPLAY_NAME_MAX 256

/* A new group key: base64 of 64 random bytes, as IoT Central's. */
static int random_key(char *out, size_t size)
{
    unsigned char raw[64];
    size_t len = 0;
    if (RAND_bytes(raw, sizeof raw) != 1 ||
        iotc_base64_encode(raw, sizeof raw, out, size, &len) != IOTC_OK)
        return -1;
    return 0;
}

static bool is_default(const struct app *app, const char *id)
{
    return strcmp(id, app->facts.group_id) == 0;
}

static void free_group(struct egroup *g)
{
    if (g != NULL) {
        free(g->display_name);
        free(g);
    }
}

static void append(struct egroups *gs, struct egroup *g)
{
    struct egroup **pp = &gs->head;
    while (*pp != NULL)
        pp = &(*pp)->next;
    g->next = NULL;
    *pp = g;
    gs->count++;
    if (g->serial == 0)
        g->serial = ++gs->next_serial;
}

/* The CA-store name of @p g's certificate in @p slot. */
static bool cert_name(const struct egroup *g, bool secondary, char out[X509_CA_KEY_MAX + 1])
{
    return x509_group_ca_name(g->id, secondary, out) == 0;
}

cJSON *appl_group_cert_json(struct app *app, const struct egroup *g, bool secondary)
{
    char name[X509_CA_KEY_MAX + 1], etag[40];
    struct x509_ca_info ca;
    if (g->attestation != EGROUP_X509 || !cert_name(g, secondary, name) ||
        !x509_ca_get(app, name, &ca))
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    /* the etag follows the certificate and its verification */
    snprintf(etag, sizeof etag, "\"%.16s-%c\"", ca.facts.sha1, ca.verified ? 'v' : 'u');
    cJSON_AddBoolToObject(o, "verified", ca.verified);
    cJSON_AddStringToObject(o, "certificate", ca.pem);
    cJSON *info = cJSON_AddObjectToObject(o, "info");
    cJSON_AddStringToObject(info, "sha1Thumbprint", ca.facts.sha1);
    cJSON_AddStringToObject(o, "etag", etag);
    return o;
}

/* The "attestation" member of @p g, as the API shows it (@p full) and the table keeps it (keys
 * and certificates left out when @p full is false). One case per attestation kind. */
static void add_attestation(struct app *app, cJSON *o, const struct egroup *g, bool full)
{
    cJSON *att = cJSON_AddObjectToObject(o, "attestation");
    switch (g->attestation) {
    case EGROUP_X509:
        cJSON_AddStringToObject(att, "type", "x509");
        if (full) {
            cJSON *sc = cJSON_AddObjectToObject(cJSON_AddObjectToObject(att, "x509"),
                                                "signingCertificates");
            cJSON *p = appl_group_cert_json(app, g, false);
            cJSON *q = appl_group_cert_json(app, g, true);
            if (p != NULL)
                cJSON_AddItemToObject(sc, "primary", p);
            if (q != NULL)
                cJSON_AddItemToObject(sc, "secondary", q);
        }
        break;
    case EGROUP_SYMMETRIC_KEY:
    default:
        cJSON_AddStringToObject(att, "type", "symmetricKey");
        if (full) {
            cJSON *sk = cJSON_AddObjectToObject(att, "symmetricKey");
            cJSON_AddStringToObject(sk, "primaryKey", g->primary_key);
            cJSON_AddStringToObject(sk, "secondaryKey", g->secondary_key);
        }
        break;
    }
}

/* The row of @p g (keys left out for the default group: app.json has them). */
static void save(struct appl *a, const struct egroup *g)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return;
    cJSON_AddStringToObject(o, "displayName", g->display_name);
    cJSON_AddBoolToObject(o, "enabled", g->enabled);
    cJSON_AddStringToObject(o, "type", g->iot_edge ? "iotEdge" : "iot");
    add_attestation(a->app, o, g, !is_default(a->app, g->id) && g->attestation != EGROUP_X509);
    cJSON_AddNumberToObject(o, "etag", (double)g->etag);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text != NULL)
        store_app_put(a->db, TABLE, g->id, text);
    free(text);
}

/* ---------------------------------------------------------------- validation */

/* A SAS key: base64 of 16..64 bytes. */
static bool key_ok(const char *k)
{
    unsigned char raw[80];
    size_t len = 0;
    return strlen(k) < EGROUP_KEY_SIZE &&
           iotc_base64_decode(iotc_span_from_cstr(k), raw, sizeof raw, &len) == IOTC_OK &&
           len >= 16 && len <= 64;
}

/*
 * Check @p body against the EnrollmentGroup shape and apply it to @p g: with @p replace (PUT)
 * displayName, type and attestation are required; otherwise (PATCH) only what is present
 * changes. Keys absent from a new group are generated. Nothing is changed on error.
 */
static int apply(struct egroup *g, const cJSON *body, bool replace, bool is_new, bool is_dflt,
                 struct appl_error *err)
{
    static const char *const known[] = {"id",   "etag",        "displayName", "enabled",
                                        "type", "attestation", "idScope"};
    if (!cJSON_IsObject(body))
        return appl_refuse(err, "InvalidBody", "$: expected an enrollment group object");
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(it->string, known[i]) != 0)
            i++;
        if (i == sizeof known / sizeof known[0])
            return appl_refuse(err, "InvalidBody", "$.%s: unknown enrollment group field",
                               it->string);
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "displayName");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(body, "enabled");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(body, "type");
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(body, "attestation");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "id");
    if (id != NULL && (!cJSON_IsString(id) || strcmp(id->valuestring, g->id) != 0))
        return appl_refuse(err, "InvalidBody", "$.id: must be the id of the path (%s)", g->id);
    if (name != NULL && (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
                         strlen(name->valuestring) > DISPLAY_NAME_MAX))
        return appl_refuse(err, "InvalidBody",
                           "$.displayName: expected a string of 1..256 characters");
    if (name == NULL && replace)
        return appl_refuse(err, "InvalidBody", "$.displayName: required");
    if (en != NULL && !cJSON_IsBool(en))
        return appl_refuse(err, "InvalidBody", "$.enabled: expected a boolean");
    if (type != NULL && (!cJSON_IsString(type) || (strcmp(type->valuestring, "iot") != 0 &&
                                                   strcmp(type->valuestring, "iotEdge") != 0)))
        return appl_refuse(err, "InvalidBody", "$.type: expected \"iot\" or \"iotEdge\"");
    if (type == NULL && replace)
        return appl_refuse(err, "InvalidBody", "$.type: required (\"iot\" or \"iotEdge\")");
    if (att == NULL && replace)
        return appl_refuse(err, "InvalidBody", "$.attestation: required");
    const char *pk = NULL, *sk = NULL;
    enum egroup_attestation kind = g->attestation;
    if (att != NULL) {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(att, "type");
        if (!cJSON_IsObject(att) || !cJSON_IsString(at))
            return appl_refuse(err, "InvalidBody", "$.attestation.type: required");
        kind = strcmp(at->valuestring, "x509") == 0 ? EGROUP_X509 : EGROUP_SYMMETRIC_KEY;
        if (kind == EGROUP_X509 && is_dflt)
            return appl_refuse(
                err, "InvalidBody",
                "$.attestation.type: the application's SAS group (%s) stays symmetricKey", g->id);
        if (kind == EGROUP_X509 && cJSON_GetObjectItemCaseSensitive(att, "symmetricKey") != NULL)
            return appl_refuse(err, "InvalidBody",
                               "$.attestation.symmetricKey: not for an x509 attestation");
        /* certificates are set through /certificates/{primary|secondary}; x509 here is ignored */
        if (kind != EGROUP_X509 && strcmp(at->valuestring, "symmetricKey") != 0)
            return appl_refuse(err, "InvalidBody", "$.attestation.type: unknown attestation \"%s\"",
                               at->valuestring);
        const cJSON *keys = cJSON_GetObjectItemCaseSensitive(att, "symmetricKey");
        if (keys != NULL && !cJSON_IsNull(keys)) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(keys, "primaryKey");
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(keys, "secondaryKey");
            if (!cJSON_IsObject(keys) || !cJSON_IsString(p) || !cJSON_IsString(s))
                return appl_refuse(
                    err, "InvalidBody",
                    "$.attestation.symmetricKey: expected primaryKey and secondaryKey");
            if (!key_ok(p->valuestring) || !key_ok(s->valuestring))
                return appl_refuse(
                    err, "InvalidBody",
                    "$.attestation.symmetricKey: a key must be base64 of 16..64 bytes");
            pk = p->valuestring;
            sk = s->valuestring;
        }
    }
    char *dn = name != NULL ? strdup(name->valuestring) : NULL;
    if (name != NULL && dn == NULL)
        return CE_NOMEM;
    char gen_p[EGROUP_KEY_SIZE], gen_s[EGROUP_KEY_SIZE];
    if (pk == NULL && is_new) {
        if (random_key(gen_p, sizeof gen_p) < 0 || random_key(gen_s, sizeof gen_s) < 0) {
            free(dn);
            return CE_NOMEM;
        }
        pk = gen_p;
        sk = gen_s;
    }
    if (dn != NULL) {
        free(g->display_name);
        g->display_name = dn;
    }
    if (en != NULL)
        g->enabled = cJSON_IsTrue(en);
    else if (replace)
        g->enabled = true;
    if (type != NULL)
        g->iot_edge = strcmp(type->valuestring, "iotEdge") == 0;
    g->attestation = kind;
    if (pk != NULL) {
        snprintf(g->primary_key, sizeof g->primary_key, "%s", pk);
        snprintf(g->secondary_key, sizeof g->secondary_key, "%s", sk);
    }
    return CE_OK;
}

/* The default group's keys live in app.json: write them there first. */
static int keep_default_keys(struct appl *a, struct egroup *g)
{
    if (!is_default(a->app, g->id))
        return CE_OK;
    const struct app_facts *f = &a->app->facts;
    if (strcmp(f->group_primary_key, g->primary_key) == 0 &&
        strcmp(f->group_secondary_key, g->secondary_key) == 0)
        return CE_OK;
    if (a->save_group_keys == NULL ||
        a->save_group_keys(a->app, g->primary_key, g->secondary_key) < 0)
        return CE_IO;
    return CE_OK;
}

/* ---------------------------------------------------------------- load */

static int load_row(void *ctx, const char *id, const char *data)
{
    struct appl *a = ctx;
    struct egroups *gs = a->app->groups;
    cJSON *o = cJSON_Parse(data);
    struct egroup *g = egroups_find(a->app, id);
    bool deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deleted"));
    if (o == NULL || !appl_id_ok(id, EGROUP_ID_MAX, "-._:")) {
        log_warn("appl: enrollment group %s: unreadable row skipped", LOG_STR(id));
        cJSON_Delete(o);
        return 0;
    }
    if (deleted) { /* only the default group leaves such a row */
        for (struct egroup **pp = &gs->head; g != NULL && *pp != NULL; pp = &(*pp)->next) {
            if (*pp == g) {
                *pp = g->next;
                gs->count--;
                free_group(g);
                break;
            }
        }
        cJSON_Delete(o);
        return 0;
    }
    bool is_new = g == NULL;
    if (is_new) {
        g = calloc(1, sizeof *g);
        if (g == NULL) {
            cJSON_Delete(o);
            return -1;
        }
        snprintf(g->id, sizeof g->id, "%s", id);
    }
    struct appl_error err = {0};
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "etag");
    g->etag = cJSON_IsNumber(e) ? (uint64_t)e->valuedouble : 1;
    int rc = apply(g, o, true, is_new && !is_default(a->app, id), is_default(a->app, id), &err);
    cJSON_Delete(o);
    if (rc != CE_OK) {
        log_warn("appl: enrollment group %s: %s; skipped", LOG_STR(id), err.message);
        if (is_new)
            free_group(g);
        return 0;
    }
    if (is_default(a->app, id)) { /* app.json has its keys */
        snprintf(g->primary_key, sizeof g->primary_key, "%s", a->app->facts.group_primary_key);
        snprintf(g->secondary_key, sizeof g->secondary_key, "%s",
                 a->app->facts.group_secondary_key);
    }
    if (is_new)
        append(gs, g);
    return 0;
}

int appl_groups_load(struct appl *a)
{
    struct app *app = a->app;
    egroups_free(app);
    struct egroups *gs = calloc(1, sizeof *gs);
    struct egroup *g = calloc(1, sizeof *g);
    if (gs == NULL || g == NULL || (g->display_name = strdup(app->facts.group_id)) == NULL) {
        free(gs);
        free_group(g);
        return CE_NOMEM;
    }
    app->groups = gs;
    snprintf(g->id, sizeof g->id, "%s", app->facts.group_id);
    g->enabled = true;
    g->etag = 1;
    snprintf(g->primary_key, sizeof g->primary_key, "%s", app->facts.group_primary_key);
    snprintf(g->secondary_key, sizeof g->secondary_key, "%s", app->facts.group_secondary_key);
    append(gs, g);
    return store_app_load(a->db, TABLE, load_row, a) < 0 ? CE_STORE : CE_OK;
}

/* ---------------------------------------------------------------- changes */

int appl_group_put(struct appl *a, const char *id, const cJSON *body, struct egroup **out,
                   struct appl_error *err)
{
    struct egroups *gs = a->app->groups;
    *out = NULL;
    if (gs == NULL)
        return CE_NOMEM;
    if (!appl_id_ok(id, EGROUP_ID_MAX, "-._:"))
        return appl_refuse(err, "InvalidParameter",
                           "Invalid enrollment group id \"%s\" (1..128 of A-Za-z0-9 - . _ :)", id);
    struct egroup *old = egroups_find(a->app, id);
    if (old == NULL && gs->count >= EGROUP_MAX)
        return appl_refuse(err, "InvalidParameter",
                           "An application has at most 64 enrollment groups");
    struct egroup *g = calloc(1, sizeof *g);
    if (g == NULL)
        return CE_NOMEM;
    snprintf(g->id, sizeof g->id, "%s", id);
    if (old != NULL) { /* replace: keys stay unless the body gives new ones */
        memcpy(g->primary_key, old->primary_key, sizeof g->primary_key);
        memcpy(g->secondary_key, old->secondary_key, sizeof g->secondary_key);
    }
    if (old != NULL)
        g->attestation = old->attestation;
    int rc = apply(g, body, true, old == NULL, is_default(a->app, id), err);
    if (rc == CE_OK)
        rc = keep_default_keys(a, g);
    if (rc != CE_OK) {
        free_group(g);
        return rc;
    }
    if (old != NULL) {
        free(old->display_name);
        old->display_name = g->display_name;
        g->display_name = NULL;
        old->enabled = g->enabled;
        old->iot_edge = g->iot_edge;
        old->attestation = g->attestation;
        memcpy(old->primary_key, g->primary_key, sizeof g->primary_key);
        memcpy(old->secondary_key, g->secondary_key, sizeof g->secondary_key);
        old->etag++;
        free_group(g);
        g = old;
    } else {
        g->etag = 1;
        append(gs, g);
    }
    save(a, g);
    log_info("appl: enrollment group %s %s (%s)", LOG_STR(id), old ? "replaced" : "created",
             g->enabled ? "enabled" : "disabled");
    *out = g;
    return CE_OK;
}

int appl_group_update(struct appl *a, struct egroup *g, const cJSON *body, struct appl_error *err)
{
    struct egroup tmp = *g;
    tmp.display_name = strdup(g->display_name);
    if (tmp.display_name == NULL)
        return CE_NOMEM;
    int rc = apply(&tmp, body, false, false, is_default(a->app, g->id), err);
    if (rc == CE_OK)
        rc = keep_default_keys(a, &tmp);
    if (rc != CE_OK) {
        free(tmp.display_name);
        return rc;
    }
    free(g->display_name);
    *g = tmp;
    g->etag++;
    save(a, g);
    return CE_OK;
}

int appl_group_delete(struct appl *a, const char *id)
{
    struct egroups *gs = a->app->groups;
    for (struct egroup **pp = gs ? &gs->head : NULL; pp != NULL && *pp != NULL; pp = &(*pp)->next) {
        struct egroup *g = *pp;
        if (strcmp(g->id, id) != 0)
            continue;
        *pp = g->next;
        gs->count--;
        for (int slot = 0; slot < 2; slot++) { /* an X.509 group's CAs go with it */
            char name[X509_CA_KEY_MAX + 1];
            if (cert_name(g, slot == 1, name))
                x509_ca_delete(a->app, name);
        }
        if (is_default(a->app, id))
            store_app_put(a->db, TABLE, id, "{\"deleted\":true}");
        else
            store_app_delete(a->db, TABLE, id);
        log_info("appl: enrollment group %s deleted", LOG_STR(id));
        free_group(g);
        return CE_OK;
    }
    return CE_NOTFOUND;
}

int appl_group_regenerate(struct appl *a, struct egroup *g, bool secondary)
{
    struct egroup next = *g;
    if (random_key(secondary ? next.secondary_key : next.primary_key, EGROUP_KEY_SIZE) < 0)
        return CE_NOMEM;
    int rc = keep_default_keys(a, &next); /* app.json first: a failure keeps the old key */
    if (rc != CE_OK)
        return rc;
    memcpy(g->primary_key, next.primary_key, sizeof g->primary_key);
    memcpy(g->secondary_key, next.secondary_key, sizeof g->secondary_key);
    log_info("appl: enrollment group %s: %s key regenerated", LOG_STR(g->id),
             secondary ? "secondary" : "primary");
    g->etag++;
    save(a, g);
    return CE_OK;
}

/* ---------------------------------------------------------------- X.509 certificates */

static int not_x509(const struct egroup *g, struct appl_error *err)
{
    return appl_refuse(
        err, "InvalidParameter",
        "Enrollment group %s attests with symmetric keys; certificates are for x509 groups", g->id);
}

/* The "certificate" string of @p body, or NULL (err filled). */
static const char *body_cert(const cJSON *body, struct appl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "certificate");
    if (!cJSON_IsObject(body) || !cJSON_IsString(v) || v->valuestring[0] == '\0') {
        appl_refuse(err, "InvalidBody",
                    "$.certificate: required (PEM, base64 DER or base64 of PEM)");
        return NULL;
    }
    return v->valuestring;
}

int appl_group_cert_put(struct appl *a, struct egroup *g, bool secondary, const cJSON *body,
                        struct appl_error *err)
{
    char name[X509_CA_KEY_MAX + 1];
    if (g->attestation != EGROUP_X509)
        return not_x509(g, err);
    const char *text = body_cert(body, err);
    if (text == NULL)
        return CE_INVALID;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "verified")))
        return appl_refuse(err, "InvalidBody",
                           "$.verified: a certificate is verified by proof of possession "
                           "(generateVerificationCode, then verify), not on upload");
    if (!cert_name(g, secondary, name))
        return appl_refuse(err, "InvalidParameter",
                           "Enrollment group id too long for a certificate");
    int rc = x509_ca_put(a->app, name, text);
    if (rc == CE_INVALID)
        return appl_refuse(err, "InvalidBody",
                           "$.certificate: not a certificate (PEM, base64 DER or base64 of PEM)");
    if (rc == CE_BUSY)
        return appl_refuse(err, "InvalidParameter", "Too many CA certificates in this application");
    if (rc == CE_OK) {
        g->etag++;
        save(a, g);
    }
    return rc;
}

int appl_group_cert_delete(struct appl *a, struct egroup *g, bool secondary)
{
    char name[X509_CA_KEY_MAX + 1];
    if (g->attestation != EGROUP_X509 || !cert_name(g, secondary, name))
        return CE_NOTFOUND;
    int rc = x509_ca_delete(a->app, name);
    if (rc == CE_OK) {
        g->etag++;
        save(a, g);
    }
    return rc;
}

int appl_group_cert_code(struct appl *a, struct egroup *g, bool secondary, char code[33])
{
    char name[X509_CA_KEY_MAX + 1];
    if (g->attestation != EGROUP_X509 || !cert_name(g, secondary, name))
        return CE_NOTFOUND;
    return x509_ca_new_code(a->app, name, code);
}

int appl_group_cert_verify(struct appl *a, struct egroup *g, bool secondary, const cJSON *body,
                           struct appl_error *err)
{
    char name[X509_CA_KEY_MAX + 1];
    const char *why = NULL;
    if (g->attestation != EGROUP_X509)
        return not_x509(g, err);
    const char *text = body_cert(body, err);
    if (text == NULL)
        return CE_INVALID;
    if (!cert_name(g, secondary, name))
        return CE_NOTFOUND;
    int rc = x509_ca_verify(a->app, name, text, &why);
    if (rc == CE_INVALID) {
        log_warn("appl: enrollment group %s: proof of possession of the %s certificate refused: %s",
                 LOG_STR(g->id), secondary ? "secondary" : "primary", why ? why : "?");
        return appl_refuse(err, "InvalidCertificate", "Verification failed: %s.", why ? why : "?");
    }
    if (rc == CE_OK) {
        g->etag++;
        save(a, g);
    }
    return rc;
}

/* ---------------------------------------------------------------- JSON, device keys */

cJSON *appl_group_to_json(struct app *app, const struct egroup *g)
{
    char etag[32];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)g->etag);
    cJSON_AddStringToObject(o, "id", g->id);
    cJSON_AddStringToObject(o, "displayName", g->display_name);
    cJSON_AddBoolToObject(o, "enabled", g->enabled);
    cJSON_AddStringToObject(o, "type", g->iot_edge ? "iotEdge" : "iot");
    add_attestation(app, o, g, true);
    cJSON_AddStringToObject(o, "etag", etag);
    cJSON_AddStringToObject(o, "idScope", app->facts.id_scope);
    return o;
}

bool appl_derive_device_keys(struct appl *a, const char *id, char pk[64], char sk[64])
{
    /* the application's SAS group; once that is gone, the first enabled SAS group for devices */
    struct egroup_keys gk;
    const struct egroup *g = egroups_find(a->app, a->app->facts.group_id);
    if (g != NULL && g->attestation == EGROUP_SYMMETRIC_KEY) {
        gk = (struct egroup_keys){g->id, g->primary_key, g->secondary_key, g->serial};
    } else {
        bool found = false;
        for (g = a->app->groups ? a->app->groups->head : NULL; g != NULL && !found; g = g->next) {
            found = g->enabled && !g->iot_edge && g->attestation == EGROUP_SYMMETRIC_KEY;
            if (found)
                gk = (struct egroup_keys){g->id, g->primary_key, g->secondary_key, g->serial};
        }
        if (!found && egroups_sas_keys(a->app, &gk, 1) != 1)
            return false;
    }
    size_t l1, l2;
    return iotc_sas_derive_device_key(iotc_span_from_cstr(gk.primary_key), iotc_span_from_cstr(id),
                                      pk, 64, &l1) == IOTC_OK &&
           iotc_sas_derive_device_key(iotc_span_from_cstr(gk.secondary_key),
                                      iotc_span_from_cstr(id), sk, 64, &l2) == IOTC_OK;
}
