/*
 * http.c - iotc CLI: the REST client on libcurl. One easy handle per run (keep-alive), bounded
 * response bodies, API error reporting mapped to the CLI's exit codes, collection paging
 * (nextLink followed verbatim) and the server-sent event stream of a device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"

#define BODY_MAX (64u * 1024 * 1024) /* a response larger than this is refused */
#define PAGE_LIMIT 100000            /* pages followed at most, against a looping nextLink */

struct buf {
    char *p;
    size_t len, cap;
    bool too_big;
};

static size_t buf_add(struct buf *b, const char *data, size_t n)
{
    if (b->len + n > BODY_MAX) {
        b->too_big = true;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL)
            return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    return buf_add(user, data, size * nmemb);
}

static CURL *handle(struct cli *c)
{
    if (c->curl == NULL) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        c->curl = curl_easy_init();
    } else {
        curl_easy_reset(c->curl);
    }
    return c->curl;
}

/* The full URL for @p path: nextLinks are absolute, everything else is relative to server. */
static char *make_url(const struct cli *c, const char *path)
{
    bool absolute = strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0;
    bool has_version = strstr(path, "api-version=") != NULL;
    size_t n = strlen(c->server) + strlen(path) + 64;
    char *url = malloc(n);
    if (url == NULL)
        return NULL;
    snprintf(url, n, "%s%s%s%s", absolute ? "" : c->server, path,
             has_version ? "" : (strchr(path, '?') ? "&" : "?"),
             has_version ? "" : "api-version=" CLI_API_VERSION);
    return url;
}

static struct curl_slist *headers(const struct cli *c, bool with_body, bool sse)
{
    struct curl_slist *h = NULL;
    if (c->token[0] != '\0') {
        size_t n = strlen(c->token) + 32;
        char *line = malloc(n);
        if (line != NULL) {
            snprintf(line, n, "Authorization: %s", c->token);
            h = curl_slist_append(h, line);
            free(line);
        }
    }
    h = curl_slist_append(h, sse ? "Accept: text/event-stream" : "Accept: application/json");
    if (with_body)
        h = curl_slist_append(h, "Content-Type: application/json");
    /* curl would otherwise send "Expect: 100-continue" for bodies over 1 KiB */
    h = curl_slist_append(h, "Expect:");
    return h;
}

static void common_opts(struct cli *c, CURL *h, const char *url)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "iotc-cli/" IOTC_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
    if (c->ca_file[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->verbose > 1)
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
}

int cli_http(struct cli *c, const char *method, const char *path, const cJSON *body, long timeout_s,
             struct cli_resp *out)
{
    memset(out, 0, sizeof *out);
    CURL *h = handle(c);
    if (h == NULL) {
        snprintf(out->transport, sizeof out->transport, "cannot initialise libcurl");
        return -1;
    }
    char *url = make_url(c, path);
    char *text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
    struct curl_slist *hl = headers(c, text != NULL, false);
    struct buf b = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    if (url == NULL || (body != NULL && text == NULL)) {
        snprintf(out->transport, sizeof out->transport, "out of memory");
        free(url);
        free(text);
        curl_slist_free_all(hl);
        return -1;
    }
    common_opts(c, h, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (text != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
               strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 60L);
    if (c->verbose)
        fprintf(stderr, "> %s %s\n", method, url);
    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK) {
        snprintf(out->transport, sizeof out->transport, "%s",
                 b.too_big ? "response too large" : (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
        out->status = rc == CURLE_OPERATION_TIMEDOUT ? -1 : 0;
        free(b.p);
        ret = -1;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        out->body = b.p;
        out->len = b.len;
        if (b.p != NULL && b.len > 0)
            out->json = cJSON_ParseWithLength(b.p, b.len);
        if (c->verbose)
            fprintf(stderr, "< %ld (%zu bytes)\n", out->status, b.len);
    }
    free(url);
    free(text);
    curl_slist_free_all(hl);
    return ret;
}

void cli_resp_free(struct cli_resp *r)
{
    cJSON_Delete(r->json);
    free(r->body);
    r->json = NULL;
    r->body = NULL;
}

int cli_fail(const struct cli *c, const struct cli_resp *r, const char *what)
{
    if (r->status <= 0) {
        if (r->status < 0)
            return cli_err(c, CLI_TIMEOUT, "%s: no answer in time from %s (%s)", what, c->server,
                           r->transport);
        cli_err(c, CLI_API, "%s: cannot reach %s: %s", what, c->server, r->transport);
        if (c->data_dir[0] != '\0' && strstr(r->transport, "onnect") != NULL)
            fprintf(stderr, "  (is `iotc-central serve --data-dir %s` running?)\n", c->data_dir);
        return CLI_API;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    const char *code = cli_str(e, "code", NULL);
    const char *msg = cli_str(e, "message", NULL);
    int ec = CLI_API;
    if (r->status == 401 || r->status == 403)
        ec = CLI_AUTH;
    else if (r->status == 404)
        ec = CLI_NOTFOUND;
    else if (r->status == 504)
        ec = CLI_TIMEOUT;
    size_t cl = code != NULL ? strlen(code) : 0;
    if (code != NULL && msg != NULL && strncmp(msg, code, cl) == 0 && msg[cl] == ':')
        cli_err(c, ec, "%s: %s (HTTP %ld)", what, msg, r->status); /* the message names it */
    else if (code != NULL)
        cli_err(c, ec, "%s: %s: %s (HTTP %ld)", what, code, msg ? msg : "", r->status);
    else
        cli_err(c, ec, "%s: HTTP %ld from the server%s%.200s", what, r->status,
                r->body && r->len ? ": " : "", r->body && r->len ? r->body : "");
    if (ec == CLI_AUTH && c->token[0] == '\0')
        fprintf(stderr, "  (no token: use --token, IOTC_TOKEN, or --data-dir DIR with "
                        "DIR/admin-token)\n");
    return ec;
}

int cli_send(struct cli *c, const char *method, const char *path, const cJSON *body, long timeout_s,
             int created, bool need_json, const char *what, struct cli_resp *r)
{
    int rc = cli_setup(c);
    if (rc != 0)
        return rc;
    if (cli_http(c, method, path, body, timeout_s, r) < 0 ||
        (r->status != created && r->status != 200) || (need_json && r->json == NULL)) {
        rc = cli_fail(c, r, what);
        cli_resp_free(r);
        return rc;
    }
    return 0;
}

int cli_delete(struct cli *c, const char *path, const char *kind, const char *id)
{
    char what[600];
    struct cli_resp r;
    int rc = 0;
    snprintf(what, sizeof what, "cannot delete %s %s", kind, id);
    if (cli_http(c, "DELETE", path, NULL, 60, &r) < 0 || (r.status != 204 && r.status != 200)) {
        rc = cli_fail(c, &r, what);
    } else if (!c->json) {
        printf("deleted %s %s\n", kind, id);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddBoolToObject(o, "deleted", true);
        cli_print_json(o);
        cJSON_Delete(o);
    }
    cli_resp_free(&r);
    return rc;
}

int cli_get(struct cli *c, const char *path, const char *what, cJSON **out)
{
    struct cli_resp r;
    *out = NULL;
    if (cli_http(c, "GET", path, NULL, 60, &r) < 0 || r.status != 200 || r.json == NULL) {
        int ec = r.status == 200 ? cli_err(c, CLI_API, "%s: the server sent no JSON", what)
                                 : cli_fail(c, &r, what);
        cli_resp_free(&r);
        return ec;
    }
    *out = r.json;
    r.json = NULL;
    cli_resp_free(&r);
    return 0;
}

/* With -o json, print and free @p doc (*out = NULL): a list as {"value": [...]}; with -o tsv,
 * an object as name/value lines; else hand it to the caller. Returns 0. */
static int json_or_out(const struct cli *c, cJSON *doc, cJSON **out)
{
    *out = NULL;
    if (c->json && cJSON_IsArray(doc))
        cli_print_list(doc);
    else if (c->json)
        cli_print_json(doc);
    else if (c->tsv && cJSON_IsObject(doc))
        cli_print_tsv_object(doc);
    else
        *out = doc;
    if (*out == NULL)
        cJSON_Delete(doc);
    return 0;
}

int cli_show(struct cli *c, const char *path, const char *what, cJSON **out)
{
    cJSON *doc = NULL;
    int rc = cli_get(c, path, what, &doc);
    *out = NULL;
    return rc != 0 ? rc : json_or_out(c, doc, out);
}

int cli_get_all(struct cli *c, const char *path, size_t limit, const char *what, cJSON **out)
{
    cJSON *all = cJSON_CreateArray();
    char *next = NULL;
    char first[2048];
    *out = NULL;
    if (limit > 0) {
        snprintf(first, sizeof first, "%s%s$top=%zu", path, strchr(path, '?') ? "&" : "?",
                 limit < 1000 ? limit : (size_t)1000);
    } else {
        snprintf(first, sizeof first, "%s", path);
    }
    const char *cur = first;
    for (int page = 0; page < PAGE_LIMIT; page++) {
        cJSON *doc;
        int ec = cli_get(c, cur, what, &doc);
        free(next);
        next = NULL;
        if (ec != 0) {
            cJSON_Delete(all);
            return ec;
        }
        cJSON *value = cJSON_GetObjectItemCaseSensitive(doc, "value");
        if (!cJSON_IsArray(value)) {
            cJSON_Delete(doc);
            cJSON_Delete(all);
            return cli_err(c, CLI_API, "%s: the answer has no \"value\" list", what);
        }
        while (value->child != NULL && (limit == 0 || (size_t)cJSON_GetArraySize(all) < limit))
            cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(value, value->child));
        const char *link = cli_str(doc, "nextLink", NULL);
        if (link != NULL && (limit == 0 || (size_t)cJSON_GetArraySize(all) < limit))
            next = strdup(link);
        cJSON_Delete(doc);
        if (next == NULL)
            break;
        cur = next;
    }
    free(next);
    *out = all;
    return 0;
}

/* ---------------------------------------------------------------- server-sent events */

struct sse {
    struct cli *c;
    CURL *h;
    bool (*on_event)(void *user, const char *event, const char *data);
    void *user;
    struct buf line; /* bytes of the current, unfinished line */
    struct buf data; /* data lines of the current event */
    char event[64];
    bool stop;    /* the callback asked to stop */
    bool checked; /* status looked at */
    long status;
    struct buf err;   /* body of a non-200 answer */
    int64_t deadline; /* monotonic ms, 0 = none */
};

static void sse_line(struct sse *s, char *l)
{
    if (l[0] == '\0') {
        if (s->data.len > 0 || s->event[0] != '\0') {
            if (!s->on_event(s->user, s->event[0] ? s->event : "message",
                             s->data.p ? s->data.p : ""))
                s->stop = true;
        }
        s->event[0] = '\0';
        s->data.len = 0;
        if (s->data.p)
            s->data.p[0] = '\0';
        return;
    }
    if (l[0] == ':')
        return; /* comment (keep-alive) */
    char *colon = strchr(l, ':');
    char *val = colon ? colon + 1 : l + strlen(l);
    if (colon)
        *colon = '\0';
    if (*val == ' ')
        val++;
    if (strcmp(l, "event") == 0) {
        snprintf(s->event, sizeof s->event, "%s", val);
    } else if (strcmp(l, "data") == 0) {
        if (s->data.len > 0)
            buf_add(&s->data, "\n", 1);
        buf_add(&s->data, val, strlen(val));
    }
}

static size_t on_sse(char *data, size_t size, size_t nmemb, void *user)
{
    struct sse *s = user;
    size_t n = size * nmemb;
    if (!s->checked) {
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
        s->checked = true;
    }
    if (s->status != 200)
        return on_body(data, size, nmemb, &s->err);
    for (size_t i = 0; i < n && !s->stop; i++) {
        if (data[i] == '\n') {
            char *l = s->line.p ? s->line.p : (char *)"";
            size_t len = s->line.len;
            if (len > 0 && l[len - 1] == '\r')
                l[len - 1] = '\0';
            sse_line(s, l);
            s->line.len = 0;
            if (s->line.p)
                s->line.p[0] = '\0';
        } else if (buf_add(&s->line, data + i, 1) != 1) {
            return 0;
        }
    }
    return s->stop ? 0 : n;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct sse *s = user;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    if (cli_interrupted)
        return 1;
    if (s->deadline > 0 && cli_now_ms() >= s->deadline)
        return 1;
    return 0;
}

int cli_sse(struct cli *c, const char *path, double timeout_s,
            bool (*on_event)(void *user, const char *event, const char *data), void *user)
{
    struct sse s;
    memset(&s, 0, sizeof s);
    s.c = c;
    s.h = handle(c);
    s.on_event = on_event;
    s.user = user;
    if (timeout_s > 0)
        s.deadline = cli_now_ms() + (int64_t)(timeout_s * 1000);
    char *url = make_url(c, path);
    struct curl_slist *hl = headers(c, false, true);
    char errbuf[CURL_ERROR_SIZE] = "";
    if (s.h == NULL || url == NULL) {
        free(url);
        curl_slist_free_all(hl);
        return cli_err(c, CLI_API, "out of memory");
    }
    common_opts(c, s.h, url);
    curl_easy_setopt(s.h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(s.h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(s.h, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, errbuf);
    if (c->verbose)
        fprintf(stderr, "> GET %s (event stream)\n", url);
    cli_catch_signals();
    CURLcode rc = curl_easy_perform(s.h);
    int ret = 0;
    if (!s.checked)
        curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &s.status);
    if (s.status != 0 && s.status != 200) {
        struct cli_resp r;
        memset(&r, 0, sizeof r);
        r.status = s.status;
        r.body = s.err.p;
        r.len = s.err.len;
        r.json = s.err.p ? cJSON_ParseWithLength(s.err.p, s.err.len) : NULL;
        ret = cli_fail(c, &r, "event stream");
        cli_resp_free(&r);
        s.err.p = NULL;
    } else if (rc != CURLE_OK && !s.stop && !cli_interrupted &&
               !(rc == CURLE_ABORTED_BY_CALLBACK && s.deadline > 0)) {
        struct cli_resp r;
        memset(&r, 0, sizeof r);
        snprintf(r.transport, sizeof r.transport, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
        ret = cli_fail(c, &r, "event stream");
    } else if (rc == CURLE_OK && !s.stop) {
        /* the server ended the stream (e.g. it is shutting down) */
        ret = cli_err(c, CLI_API, "the server closed the event stream");
    }
    free(s.line.p);
    free(s.data.p);
    free(s.err.p);
    free(url);
    curl_slist_free_all(hl);
    return ret;
}

int cli_list(struct cli *c, int argc, char **argv, const char *path, const char *what, cJSON **out)
{
    long top = 0;
    const struct opt o[] = {{"top", 0, OPT_LONG, &top, 1, 1000000, .arg = "N"}, {0}};
    struct cli_args args = {.min = 0, .max = 0};
    int rc = cli_parse(c, argc, argv, o, &args);
    *out = NULL;
    if (rc != 0)
        return rc;
    return cli_fetch(c, path, (size_t)top, what, out);
}

int cli_fetch(struct cli *c, const char *path, size_t limit, const char *what, cJSON **out)
{
    cJSON *all = NULL;
    int rc = cli_setup(c);
    *out = NULL;
    if (rc == 0)
        rc = cli_get_all(c, path, limit, what, &all);
    return rc != 0 ? rc : json_or_out(c, all, out);
}
