/*
 * capi_http.c - libcurl helpers for the /api/ tests (see capi_http.h).
 */
#include "capi_http.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

struct buf {
    char *p;
    size_t len;
    const char *stop;
    bool stopped;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    char *p = realloc(b->p, b->len + add + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, ptr, add);
    b->p = p;
    b->len += add;
    b->p[b->len] = '\0';
    if (b->stop != NULL && strstr(b->p, b->stop) != NULL) {
        b->stopped = true;
        return 0; /* abort the transfer: we have what we waited for */
    }
    return add;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vl = (size_t)(end - v) < size - 1 ? (size_t)(end - v) : size - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t n, void *arg)
{
    struct capi_resp *r = arg;
    header_value(ptr, size * n, "x-ms-error-code", r->error_code, sizeof r->error_code);
    header_value(ptr, size * n, "Content-Type", r->content_type, sizeof r->content_type);
    return size * n;
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static CURL *make(const char *ca_path, uint16_t port, const char *target, char *url, size_t size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    if (strncmp(target, "https://", 8) == 0)
        snprintf(url, size, "%s", target);
    else
        snprintf(url, size, "https://localhost:%u%s", (unsigned)port, target);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca_path);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* "localhost" must resolve to the loopback address the server listens on */
    curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
    return h;
}

int capi_http(const char *ca_path, uint16_t port, const char *auth, const char *method,
              const char *target, const char *body, long max_ms, struct capi_resp *out)
{
    char url[4096], hdr[2048];
    struct buf b = {0};
    struct curl_slist *hl = NULL;
    memset(out, 0, sizeof *out);
    CURL *h = make(ca_path, port, target, url, sizeof url);
    if (h == NULL)
        return -1;
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, max_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    if (auth != NULL) {
        snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
        hl = curl_slist_append(hl, hdr);
    }
    if (body != NULL) {
        hl = curl_slist_append(hl, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    else
        fprintf(stderr, "capi_http %s %s: %s\n", method, url, curl_easy_strerror(rc));
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    out->body = b.p != NULL ? b.p : calloc(1, 1);
    out->body_len = b.len;
    out->json = b.len > 0 ? cJSON_Parse(out->body) : NULL;
    return rc == CURLE_OK ? 0 : -1;
}

void capi_resp_free(struct capi_resp *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

struct opener {
    void (*fn)(void *arg);
    void *arg;
};

static void *open_thread(void *arg)
{
    struct opener *o = arg;
    usleep(300 * 1000);
    o->fn(o->arg);
    return NULL;
}

char *capi_stream(const char *ca_path, uint16_t port, const char *auth, const char *target,
                  const char *stop_text, long max_ms, void (*on_open)(void *arg), void *arg)
{
    char url[4096], hdr[2048];
    struct buf b = {.stop = stop_text};
    struct curl_slist *hl = NULL;
    struct capi_resp r = {0};
    pthread_t t;
    struct opener o = {on_open, arg};
    CURL *h = make(ca_path, port, target, url, sizeof url);
    if (h == NULL)
        return NULL;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, max_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
    hl = curl_slist_append(hl, hdr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    bool started = on_open != NULL && pthread_create(&t, NULL, open_thread, &o) == 0;
    curl_easy_perform(h);
    if (started)
        pthread_join(t, NULL);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (b.p == NULL)
        b.p = calloc(1, 1);
    return b.p;
}

const cJSON *capi_jget(const cJSON *o, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *k = strtok_r(buf, ".", &save); k != NULL && cur != NULL;
         k = strtok_r(NULL, ".", &save)) {
        /* a number steps into an array ("value.0.id") */
        if (cJSON_IsArray(cur) && k[0] >= '0' && k[0] <= '9')
            cur = cJSON_GetArrayItem(cur, (int)strtol(k, NULL, 10));
        else
            cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    }
    return cur;
}

const char *capi_jstr(const cJSON *o, const char *path)
{
    const cJSON *v = capi_jget(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

long capi_call(const char *ca_path, uint16_t port, const char *auth, const char *method,
               const char *path, const char *body, long max_ms, struct capi_resp *out)
{
    char target[2048];
    capi_resp_free(out);
    snprintf(target, sizeof target, "%s%s" CAPI_TEST_API_VERSION, path,
             strchr(path, '?') ? "&" : "?");
    if (capi_http(ca_path, port, auth, method, target, body, max_ms, out) < 0)
        return -1;
    return out->status;
}
