/*
 * appl_docs.c - the in-memory JSON collections written through to store_app (appl_docs.h).
 */
#include "central/app/appl_docs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/base/log.h"
#include "central/store/store_app.h"

bool appl_id_ok(const char *id, size_t max, const char *extra)
{
    size_t n = strlen(id);
    if (n == 0 || n > max)
        return false;
    for (const char *p = id; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(extra, *p) != NULL))
            return false;
    }
    return true;
}

int appl_refuse(struct appl_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return CE_INVALID;
}

cJSON *appl_docs_find(const cJSON *docs, const char *id)
{
    cJSON *d;
    cJSON_ArrayForEach(d, docs)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "id");
        if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0)
            return d;
    }
    return NULL;
}

int appl_docs_put(struct appl *a, cJSON *docs, const char *table, const char *id, cJSON *doc)
{
    char *text = cJSON_PrintUnformatted(doc);
    if (text == NULL) {
        cJSON_Delete(doc);
        return CE_NOMEM;
    }
    cJSON *old = appl_docs_find(docs, id);
    if (old != NULL)
        cJSON_Delete(cJSON_DetachItemViaPointer(docs, old));
    cJSON_AddItemToArray(docs, doc);
    store_app_put(a->db, table, id, text);
    free(text);
    return CE_OK;
}

int appl_docs_delete(struct appl *a, cJSON *docs, const char *table, const char *id)
{
    cJSON *old = appl_docs_find(docs, id);
    if (old == NULL)
        return CE_NOTFOUND;
    cJSON_Delete(cJSON_DetachItemViaPointer(docs, old));
    store_app_delete(a->db, table, id);
    return CE_OK;
}

void appl_docs_load(cJSON *docs, const char *what, const char *id, const char *data,
                    int (*check)(const cJSON *doc, struct appl_error *err))
{
    cJSON *d = cJSON_Parse(data);
    struct appl_error err = {0};
    if (d == NULL || check(d, &err) != CE_OK) {
        /* a row this version cannot read is skipped, not fatal */
        log_warn("appl: %s %s skipped: %s", what, LOG_STR(id),
                 d == NULL ? "not JSON" : err.message);
        cJSON_Delete(d);
        return;
    }
    cJSON_AddItemToArray(docs, d);
}
