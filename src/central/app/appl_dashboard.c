/*
 * appl_dashboard.c - iotc's own dashboards (not an IoT Central API; docs/API.md "Dashboards"):
 * named lists of tiles the web UI's home page draws across devices. Kept in memory as JSON
 * objects, written through to the app_dashboards table.
 */
#include "central/app/appl.h"
#include "central/app/appl_docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/base/log.h"
#include "central/store/store_app.h"

#define DASH_TILES_MAX 50
#define DASH_MAX 100 /* dashboards per application */
#define DASH_TEXT_MAX 512

static const char *const tile_types[] = {"deviceCounts", "lastValue", "templateChart",
                                         "groupChart"};

#define TABLE "app_dashboards"

/* Every refusal of a dashboard body is InvalidBody. */
#define refuse(err, ...) appl_refuse(err, "InvalidBody", __VA_ARGS__)

/* A string member no longer than DASH_TEXT_MAX; @p need: it must be there. */
static bool text_ok(const cJSON *o, const char *name, bool need)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v == NULL)
        return !need;
    return cJSON_IsString(v) && strlen(v->valuestring) <= DASH_TEXT_MAX &&
           (!need || v->valuestring[0] != '\0');
}

static int check_tile(const cJSON *t, size_t i, struct appl_error *err)
{
    static const char *const fields[] = {"type",      "displayName", "device", "component",
                                         "telemetry", "template",    "group"};
    if (!cJSON_IsObject(t))
        return refuse(err, "$.tiles[%zu]: expected a tile object.", i);
    for (const cJSON *it = t->child; it != NULL; it = it->next) {
        size_t k;
        for (k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            if (strcmp(it->string, fields[k]) == 0)
                break;
        }
        if (k == sizeof fields / sizeof fields[0])
            return refuse(err, "$.tiles[%zu].%s: unknown tile field.", i, it->string);
        if (!text_ok(t, it->string, false))
            return refuse(err, "$.tiles[%zu].%s: expected a string of at most 512 characters.", i,
                          it->string);
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
    size_t k;
    for (k = 0; type != NULL && k < sizeof tile_types / sizeof tile_types[0]; k++) {
        if (strcmp(type->valuestring, tile_types[k]) == 0)
            break;
    }
    if (type == NULL || k == sizeof tile_types / sizeof tile_types[0])
        return refuse(err,
                      "$.tiles[%zu].type: expected deviceCounts, lastValue, templateChart or "
                      "groupChart.",
                      i);
    const char *need[2] = {NULL, NULL};
    if (strcmp(type->valuestring, "lastValue") == 0) {
        need[0] = "device";
        need[1] = "telemetry";
    } else if (strcmp(type->valuestring, "templateChart") == 0) {
        need[0] = "template";
        need[1] = "telemetry";
    } else if (strcmp(type->valuestring, "groupChart") == 0 &&
               cJSON_GetObjectItemCaseSensitive(t, "group") != NULL) {
        need[0] = "telemetry"; /* a tile without a group (older dashboards) asks for one */
    }
    for (k = 0; k < 2; k++) {
        if (need[k] != NULL && !text_ok(t, need[k], true))
            return refuse(err, "$.tiles[%zu].%s: required for this tile type.", i, need[k]);
    }
    return CE_OK;
}

int appl_dashboard_check(const cJSON *body, struct appl_error *err)
{
    if (!cJSON_IsObject(body))
        return refuse(err, "$: expected a dashboard object.");
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        if (strcmp(it->string, "id") != 0 && strcmp(it->string, "displayName") != 0 &&
            strcmp(it->string, "tiles") != 0)
            return refuse(err, "$.%s: unknown dashboard field.", it->string);
    }
    if (!text_ok(body, "displayName", false))
        return refuse(err, "$.displayName: expected a string of at most 512 characters.");
    const cJSON *tiles = cJSON_GetObjectItemCaseSensitive(body, "tiles");
    if (tiles == NULL)
        return CE_OK;
    if (!cJSON_IsArray(tiles) || cJSON_GetArraySize(tiles) > DASH_TILES_MAX)
        return refuse(err, "$.tiles: expected an array of at most 50 tiles.");
    size_t i = 0;
    for (const cJSON *t = tiles->child; t != NULL; t = t->next, i++) {
        int rc = check_tile(t, i, err);
        if (rc != CE_OK)
            return rc;
    }
    return CE_OK;
}

const cJSON *appl_dashboard_get(struct appl *a, const char *id)
{
    return appl_docs_find(a->dashboards, id);
}

int appl_dashboard_put(struct appl *a, const char *id, const cJSON *body, const cJSON **out,
                       struct appl_error *err)
{
    int rc = appl_dashboard_check(body, err);
    if (rc != CE_OK)
        return rc;
    const cJSON *bid = cJSON_GetObjectItemCaseSensitive(body, "id");
    if (!appl_id_ok(id, APPL_ID_MAX, "-_.") ||
        (bid != NULL && (!cJSON_IsString(bid) || strcmp(bid->valuestring, id) != 0)))
        return refuse(err, "$.id: the dashboard id is 1 to 128 of A-Za-z0-9 -_. and the same as "
                           "in the path.");
    if (appl_dashboard_get(a, id) == NULL && cJSON_GetArraySize(a->dashboards) >= DASH_MAX) {
        refuse(err, "An application has at most %d dashboards; delete one first.", DASH_MAX);
        err->code = "Conflict";
        return CE_EXISTS;
    }
    cJSON *d = cJSON_CreateObject();
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "displayName");
    const cJSON *tiles = cJSON_GetObjectItemCaseSensitive(body, "tiles");
    cJSON *tcopy = tiles != NULL ? cJSON_Duplicate(tiles, true) : cJSON_CreateArray();
    if (d == NULL || tcopy == NULL || cJSON_AddStringToObject(d, "id", id) == NULL ||
        cJSON_AddStringToObject(d, "displayName", name != NULL ? name->valuestring : id) == NULL) {
        cJSON_Delete(d);
        cJSON_Delete(tcopy);
        return CE_NOMEM;
    }
    cJSON_AddItemToObject(d, "tiles", tcopy);
    rc = appl_docs_put(a, a->dashboards, TABLE, id, d);
    if (rc == CE_OK)
        *out = d;
    return rc;
}

int appl_dashboard_delete(struct appl *a, const char *id)
{
    return appl_docs_delete(a, a->dashboards, TABLE, id);
}

int appl_dashboard_load(void *ctx, const char *id, const char *data)
{
    struct appl *a = ctx;
    appl_docs_load(a->dashboards, "dashboard", id, data, appl_dashboard_check);
    return 0;
}
