/*
 * capi_http.h - libcurl helpers for tests of the /api/ application API (docs/API.md):
 * one HTTPS request to iotc-central verified against the application's CA, with the JSON body
 * parsed and the x-ms-error-code header captured. Blocking, bounded by a timeout.
 */
#ifndef IOTC_TESTS_CAPI_HTTP_H
#define IOTC_TESTS_CAPI_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct capi_resp {
    long status; /**< HTTP status, 0 when the request failed */
    char *body;  /**< NUL-terminated body (caller frees via capi_resp_free) */
    size_t body_len;
    cJSON *json;         /**< parsed body or NULL */
    char error_code[96]; /**< x-ms-error-code header value, "" when absent */
    char content_type[128];
};

/**
 * One request. @p target is a path with query ("/api/devices?api-version=...") or a full URL
 * (a nextLink). @p auth is the Authorization header value (NULL = none); @p body may be NULL.
 * @p max_ms bounds the whole request. @return 0 when a response arrived, -1 otherwise.
 */
int capi_http(const char *ca_path, uint16_t port, const char *auth, const char *method,
              const char *target, const char *body, long max_ms, struct capi_resp *out);

/**
 * One /api/ call as the tests make them: frees what @p out held, appends the API version the
 * server speaks (CAPI_TEST_API_VERSION) to @p path, and sends it like capi_http.
 * @return the HTTP status, or -1 when no response arrived.
 */
#define CAPI_TEST_API_VERSION "api-version=2022-07-31"
long capi_call(const char *ca_path, uint16_t port, const char *auth, const char *method,
               const char *path, const char *body, long max_ms, struct capi_resp *out);

/** Member at a dotted path of object members ("error.code"; a number indexes an array:
 * "value.0.id"), or NULL. Borrowed from @p o. */
const cJSON *capi_jget(const cJSON *o, const char *path);

/** String at a dotted path, or NULL when absent or not a string. Borrowed from @p o. */
const char *capi_jstr(const cJSON *o, const char *path);

/** Free what capi_http allocated. */
void capi_resp_free(struct capi_resp *r);

/**
 * Open GET @p target as an event stream and collect what arrives until @p stop_text appears in
 * it or @p max_ms passes. @p on_open (may be NULL) runs in a helper thread ~300 ms after the
 * request started, to cause the events. @return the text received (caller frees), or NULL.
 */
char *capi_stream(const char *ca_path, uint16_t port, const char *auth, const char *target,
                  const char *stop_text, long max_ms, void (*on_open)(void *arg), void *arg);

#endif /* IOTC_TESTS_CAPI_HTTP_H */
