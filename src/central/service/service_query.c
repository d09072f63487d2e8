/*
 * service_query.c - POST /devices/query, the IoT Hub query language over device twins, as far
 * as the service SDK's Registry.createQuery needs it (docs/PROTOCOL.md §6.3, "optional"). The
 * language itself is in service_query_lang.c (see service_query.h).
 *
 * Body {"query": "..."}. Paging: request header x-ms-max-item-count (1..1000, default 100);
 * when more devices remain the reply carries x-ms-continuation, which the next request sends
 * back (it is the position in the registry where the next page starts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/hub/registry.h"
#include "central/hub/twin.h"
#include "central/service/service_http.h"
#include "central/service/service_query.h"

#define Q_MAX_TEXT 8192
#define Q_PAGE_DEFAULT 100
#define Q_PAGE_MAX 1000
#define Q_SCAN_BATCH 256

/* Parse the query text out of the body {"query": "..."}; replies on error. */
static char *query_text(struct http_ctx *c)
{
    cJSON *j = http_body_json(c, false);
    const cJSON *t;
    char *text = NULL;
    if (j == NULL)
        return NULL;
    t = cJSON_GetObjectItemCaseSensitive(j, "query");
    if (!cJSON_IsString(t) || t->valuestring[0] == '\0' || strlen(t->valuestring) > Q_MAX_TEXT)
        http_reply_error(c, 400, "ArgumentInvalid",
                         "The body must be {\"query\": \"SELECT ...\"} (at most %d characters).",
                         Q_MAX_TEXT);
    else if ((text = strdup(t->valuestring)) == NULL)
        http_reply_central_err(c, CE_NOMEM, NULL);
    cJSON_Delete(j);
    return text;
}

/* Header as a number in [lo, hi]; @p def when absent; -1 when malformed. */
static long header_num(const struct http_ctx *c, const char *name, long def, long lo, long hi)
{
    const char *h = http_header(c, name);
    char *end = NULL;
    long v;
    if (h == NULL || *h == '\0')
        return def;
    v = strtol(h, &end, 10);
    return end == h || *end != '\0' || v < lo || v > hi ? -1 : v;
}

void service_device_query(struct http_ctx *c)
{
    char *text = query_text(c), cont[24];
    long page = header_num(c, "x-ms-max-item-count", Q_PAGE_DEFAULT, 1, Q_PAGE_MAX);
    long offset = header_num(c, "x-ms-continuation", 0, 0, 100000000L);
    struct device *batch[Q_SCAN_BATCH];
    struct service_query *q = NULL;
    cJSON *out = cJSON_CreateArray();
    const char *alias = NULL, *why = NULL;
    size_t n, i, pos, matched = 0, at = 0;
    bool more = false;
    int rc;

    if (text == NULL)
        goto done; /* replied */
    if (out == NULL) {
        http_reply_central_err(c, CE_NOMEM, NULL);
        goto done;
    }
    if (page < 0 || offset < 0) {
        http_reply_error(c, 400, "ArgumentInvalid",
                         "x-ms-max-item-count must be 1..%d; x-ms-continuation must come from a "
                         "previous reply.",
                         Q_PAGE_MAX);
        goto done;
    }
    rc = service_query_compile(text, &q, &why, &at);
    if (rc != CE_OK) {
        if (rc == CE_INVALID)
            http_reply_error(c, 400, "BadRequest",
                             "Query not supported or malformed: %s (near '%.20s').", why,
                             text + at);
        else
            http_reply_central_err(c, rc, NULL);
        goto done;
    }
    alias = service_query_count_alias(q);
    pos = alias != NULL ? 0 : (size_t)offset;
    do {
        n = registry_list(c->app, pos, batch, Q_SCAN_BATCH);
        for (i = 0; i < n && !more; i++) {
            cJSON *twin = twin_to_service_json(batch[i]);
            if (twin == NULL) {
                http_reply_central_err(c, CE_NOMEM, NULL);
                goto done;
            }
            if (service_query_match(q, twin)) {
                if (alias == NULL && matched == (size_t)page) {
                    more = true; /* this device starts the next page */
                    cJSON_Delete(twin);
                    break;
                }
                matched++;
                if (alias == NULL) {
                    cJSON_AddItemToArray(out, twin);
                    twin = NULL;
                }
            }
            cJSON_Delete(twin);
            pos++;
        }
    } while (n == Q_SCAN_BATCH && !more);
    if (alias != NULL) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || cJSON_AddNumberToObject(o, alias, (double)matched) == NULL) {
            cJSON_Delete(o);
            http_reply_central_err(c, CE_NOMEM, NULL);
            goto done;
        }
        cJSON_AddItemToArray(out, o);
    }
    if (more) {
        snprintf(cont, sizeof cont, "%zu", pos);
        http_add_header(c, "x-ms-continuation", cont);
    }
    http_add_header(c, "x-ms-item-type", alias != NULL ? "JSON" : "Twin");
    http_reply_json(c, 200, out);
done:
    cJSON_Delete(out);
    service_query_free(q);
    free(text);
}
