/*
 * export_webhook.c - the webhook@v1 destination: one HTTP POST per message, libcurl's multi
 * interface driven by the export's sender thread's libevent loop (export_sender.h;
 * curl_multi_socket_action from socket and timer events, no blocking call). The instance below
 * runs on that thread only; the pipes on the loop thread talk to it through the sender's proxy.
 * Keep-alive comes from the multi handle's connection cache; EXPORT_WEBHOOK_CONCURRENCY bounds
 * the requests in flight.
 */
#include "central/export/export_dest.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "central/base/log.h"
#include "central/export/export_oauth.h"
#include "central/export/export_sender.h"

#define EXPORT_WEBHOOK_CONCURRENCY 16
#define EXPORT_WEBHOOK_TIMEOUT_MS 30000L

/* An Authorization header list of one oauth token, shared by the requests sent with it. */
struct token_hdrs {
    struct curl_slist *list;
    unsigned gen;
    unsigned refs;
};

struct request {
    struct webhook *wh;
    CURL *easy;
    export_sent_fn cb;
    void *ctx;
    char *body;
    struct token_hdrs *hdrs; /* oauth: the token it was sent with */
    bool retried_401;        /* oauth: already sent again after a 401 with a new token */
    struct request *next;
    struct request *wnext; /* oauth: in the waiting list */
};

/* webhook@v1 `oauth` (export_oauth.h): a client-credentials token fetched on the same multi
 * handle, used until shortly before it expires or until the receiver answers 401. */
struct oauth {
    char *url, *body;
    struct curl_slist *req_headers; /* the token request's Content-Type */
    CURL *fetch;                    /* the token request in flight, or NULL */
    char *answer;
    size_t answer_len;
    struct token_hdrs *current; /* NULL: no usable token */
    int64_t use_until_ms;
    unsigned gen;
    struct request *waiting, **waiting_tail; /* accepted sends waiting for a token */
};

struct sock {
    struct event *ev;
    curl_socket_t fd;
    struct sock *next;
};

struct webhook {
    struct export_dest base;
    struct event_base *ev_base; /* the sender thread's */
    CURLM *multi;
    struct event *timer;
    struct curl_slist *headers;
    char *url;
    struct request *reqs;                   /* in flight */
    struct sock *socks;                     /* sockets libcurl asked us to watch */
    CURL *idle[EXPORT_WEBHOOK_CONCURRENCY]; /* finished handles, options set, for reuse */
    size_t n_idle;
    size_t n_inflight;   /* in the multi handle or waiting for a token */
    struct oauth *oauth; /* NULL unless authorization.type is oauth */
};

static void check_done(struct webhook *wh);
static int add_header(struct curl_slist **list, const char *name, const char *value);

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    struct webhook *wh = arg;
    int running = 0;
    int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(wh->multi, fd, flags, &running);
    check_done(wh);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct webhook *wh = arg;
    int running = 0;
    curl_multi_socket_action(wh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(wh);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct webhook *wh = userp;
    struct sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            for (struct sock **pp = &wh->socks; *pp != NULL; pp = &(*pp)->next) {
                if (*pp == s) {
                    *pp = s->next;
                    break;
                }
            }
            if (s->ev != NULL)
                event_free(s->ev);
            free(s);
            curl_multi_assign(wh->multi, fd, NULL);
        }
        return 0;
    }
    short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
                         (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL)
            return -1;
        s->fd = fd;
        s->next = wh->socks;
        wh->socks = s;
        curl_multi_assign(wh->multi, fd, s);
    } else if (s->ev != NULL) {
        event_free(s->ev);
    }
    s->ev = event_new(wh->ev_base, fd, kind, on_socket_event, wh);
    if (s->ev == NULL || event_add(s->ev, NULL) != 0)
        return -1;
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct webhook *wh = userp;
    if (timeout_ms < 0) {
        evtimer_del(wh->timer);
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    evtimer_add(wh->timer, &tv);
    return 0;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static void hdrs_release(struct token_hdrs *h)
{
    if (h != NULL && --h->refs == 0) {
        curl_slist_free_all(h->list);
        free(h);
    }
}

static void request_free(struct request *r)
{
    hdrs_release(r->hdrs);
    if (r->easy != NULL)
        curl_easy_cleanup(r->easy);
    free(r->body);
    free(r);
}

/* A finished request's handle goes back to the pool (its options stay set: keep-alive state and
 * the per-request allocations of a new handle are what reuse saves). */
static void request_done(struct webhook *wh, struct request *r)
{
    if (r->easy != NULL && wh->n_idle < EXPORT_WEBHOOK_CONCURRENCY) {
        wh->idle[wh->n_idle++] = r->easy;
        r->easy = NULL;
    }
    request_free(r);
}

/* A handle with the options every request of this destination shares. */
static CURL *easy_get(struct webhook *wh)
{
    if (wh->n_idle > 0)
        return wh->idle[--wh->n_idle];
    CURL *e = curl_easy_init();
    if (e == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, wh->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, wh->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, EXPORT_WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    return e;
}

static void unlink_req(struct webhook *wh, struct request *r)
{
    for (struct request **pp = &wh->reqs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
}

static bool oauth_token_ok(const struct webhook *wh);
static int oauth_fetch(struct webhook *wh);
static void oauth_flush(struct webhook *wh);
static void oauth_failed(struct webhook *wh, const char *why);
static void oauth_done(struct webhook *wh, CURLcode res, long status);

static void link_req(struct webhook *wh, struct request *r)
{
    r->next = wh->reqs;
    wh->reqs = r;
}

static void oauth_wait(struct webhook *wh, struct request *r)
{
    r->wnext = NULL;
    *wh->oauth->waiting_tail = r;
    wh->oauth->waiting_tail = &r->wnext;
}

/* A 401 from the receiver with an oauth token: that token is dropped (when it is still the
 * current one) and the message sent once more with a new one. */
static void oauth_on_401(struct webhook *wh, struct request *r)
{
    struct oauth *o = wh->oauth;
    if (o->current != NULL && r->hdrs != NULL && r->hdrs->gen == o->current->gen) {
        hdrs_release(o->current);
        o->current = NULL;
    }
    hdrs_release(r->hdrs);
    r->hdrs = NULL;
    r->retried_401 = true;
    oauth_wait(wh, r);
    if (oauth_token_ok(wh))
        oauth_flush(wh);
    else if (o->fetch == NULL && oauth_fetch(wh) != CE_OK)
        oauth_failed(wh, "webhook: oauth: cannot start the token request");
}

/* Collect finished transfers, classify them, and run their callbacks. */
static void check_done(struct webhook *wh)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(wh->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode res = msg->data.result;
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (wh->oauth != NULL && msg->easy_handle == wh->oauth->fetch) {
            oauth_done(wh, res, status);
            continue;
        }
        struct request *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(wh->multi, msg->easy_handle);
        if (wh->oauth != NULL && res == CURLE_OK && status == 401 && !r->retried_401) {
            oauth_on_401(wh, r);
            continue;
        }
        unlink_req(wh, r);
        wh->n_inflight--;
        char why[160];
        enum export_outcome out = export_classify(res == CURLE_OK, status);
        if (res != CURLE_OK)
            snprintf(why, sizeof why, "webhook: %s", curl_easy_strerror(res));
        else
            snprintf(why, sizeof why, "webhook: HTTP %ld", status);
        r->cb(r->ctx, out, out == EXPORT_OUT_OK ? NULL : why);
        request_done(wh, r);
    }
}

/* ---------------------------------------------------------------- oauth */

#define OAUTH_ANSWER_MAX 65536

static size_t on_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct oauth *o = userdata;
    size_t n = size * nmemb;
    if (o->answer_len + n > OAUTH_ANSWER_MAX)
        return 0; /* too large: the transfer fails */
    char *a = realloc(o->answer, o->answer_len + n + 1);
    if (a == NULL)
        return 0;
    memcpy(a + o->answer_len, ptr, n);
    o->answer = a;
    o->answer_len += n;
    a[o->answer_len] = '\0';
    return n;
}

static bool oauth_token_ok(const struct webhook *wh)
{
    return wh->oauth->current != NULL && app_now_ms() < wh->oauth->use_until_ms;
}

/* Start the token request (client credentials) on the multi handle. */
static int oauth_fetch(struct webhook *wh)
{
    struct oauth *o = wh->oauth;
    CURL *e = curl_easy_init();
    if (e == NULL)
        return CE_NOMEM;
    free(o->answer);
    o->answer = NULL;
    o->answer_len = 0;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->req_headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, o);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, EXPORT_WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    if (curl_multi_add_handle(wh->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return CE_NOMEM;
    }
    o->fetch = e;
    return CE_OK;
}

/* Send with the current token. */
static int oauth_attach(struct webhook *wh, struct request *r)
{
    struct token_hdrs *h = wh->oauth->current;
    h->refs++;
    r->hdrs = h;
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, h->list);
    return curl_multi_add_handle(wh->multi, r->easy) == CURLM_OK ? CE_OK : CE_NOMEM;
}

/* Take every waiting send out of the list; each is still counted in flight. */
static struct request *oauth_take_waiting(struct oauth *o)
{
    struct request *w = o->waiting;
    o->waiting = NULL;
    o->waiting_tail = &o->waiting;
    return w;
}

static void fail_request(struct webhook *wh, struct request *r, const char *why)
{
    unlink_req(wh, r);
    wh->n_inflight--;
    r->cb(r->ctx, EXPORT_OUT_RETRY, why);
    request_done(wh, r);
}

static void oauth_flush(struct webhook *wh)
{
    for (struct request *r = oauth_take_waiting(wh->oauth), *next; r != NULL; r = next) {
        next = r->wnext;
        if (oauth_attach(wh, r) != CE_OK)
            fail_request(wh, r, "webhook: cannot start the request");
    }
}

/* No token: every waiting send completes as "retry" with @p why (the pipe backs off; its next
 * send asks for a token again), so the error shows in the export's status and nothing is lost. */
static void oauth_failed(struct webhook *wh, const char *why)
{
    for (struct request *r = oauth_take_waiting(wh->oauth), *next; r != NULL; r = next) {
        next = r->wnext;
        fail_request(wh, r, why);
    }
}

static void oauth_done(struct webhook *wh, CURLcode res, long status)
{
    struct oauth *o = wh->oauth;
    curl_multi_remove_handle(wh->multi, o->fetch);
    curl_easy_cleanup(o->fetch);
    o->fetch = NULL;
    char why[200], reason[128], header[8192];
    int64_t expires_in = 0;
    if (res != CURLE_OK) {
        snprintf(why, sizeof why, "webhook: oauth token request failed: %s",
                 curl_easy_strerror(res));
    } else if (status < 200 || status > 299) {
        snprintf(why, sizeof why, "webhook: oauth token request answered HTTP %ld", status);
    } else if (export_oauth_parse_token(o->answer != NULL ? o->answer : "", o->answer_len, header,
                                        sizeof header, &expires_in, reason, sizeof reason) != 0) {
        snprintf(why, sizeof why, "webhook: oauth: %s", reason);
    } else {
        struct token_hdrs *h = calloc(1, sizeof *h);
        bool ok = h != NULL;
        for (struct curl_slist *l = wh->headers; ok && l != NULL; l = l->next) {
            struct curl_slist *n = curl_slist_append(h->list, l->data);
            ok = n != NULL;
            h->list = ok ? n : h->list;
        }
        if (ok)
            ok = add_header(&h->list, "Authorization", header) == CE_OK;
        explicit_bzero(header, sizeof header);
        if (ok) {
            h->refs = 1;
            h->gen = ++o->gen;
            hdrs_release(o->current);
            o->current = h;
            o->use_until_ms = app_now_ms() + export_oauth_use_ms(expires_in);
            oauth_flush(wh);
            return;
        }
        if (h != NULL)
            curl_slist_free_all(h->list);
        free(h);
        snprintf(why, sizeof why, "webhook: oauth: out of memory");
    }
    oauth_failed(wh, why);
}

static size_t wh_room(struct export_dest *d)
{
    struct webhook *wh = (struct webhook *)d;
    return wh->n_inflight < EXPORT_WEBHOOK_CONCURRENCY ? EXPORT_WEBHOOK_CONCURRENCY - wh->n_inflight
                                                       : 0;
}

static int wh_send(struct export_dest *d, const char *key, const char *body, size_t len,
                   export_sent_fn cb, void *ctx)
{
    (void)key;
    struct webhook *wh = (struct webhook *)d;
    if (wh_room(d) == 0)
        return CE_BUSY;
    struct request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return CE_NOMEM;
    r->wh = wh;
    r->cb = cb;
    r->ctx = ctx;
    r->body = malloc(len + 1);
    r->easy = r->body != NULL ? easy_get(wh) : NULL;
    if (r->body == NULL || r->easy == NULL) {
        request_free(r);
        return CE_NOMEM;
    }
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    if (wh->oauth != NULL && !oauth_token_ok(wh)) {
        /* no token yet (or it is about to expire): wait for the one being fetched */
        if (wh->oauth->fetch == NULL && oauth_fetch(wh) != CE_OK) {
            request_free(r);
            return CE_NOMEM;
        }
        oauth_wait(wh, r);
    } else if ((wh->oauth != NULL                                 ? oauth_attach(wh, r)
                : curl_multi_add_handle(wh->multi, e) == CURLM_OK ? CE_OK
                                                                  : CE_NOMEM) != CE_OK) {
        request_free(r);
        return CE_NOMEM;
    }
    link_req(wh, r);
    wh->n_inflight++;
    return CE_OK;
}

static void wh_free(struct export_dest *d)
{
    struct webhook *wh = (struct webhook *)d;
    if (wh == NULL)
        return;
    if (wh->oauth != NULL && wh->oauth->fetch != NULL) {
        curl_multi_remove_handle(wh->multi, wh->oauth->fetch);
        curl_easy_cleanup(wh->oauth->fetch);
    }
    for (struct request *r = wh->reqs, *next; r != NULL; r = next) {
        next = r->next;
        curl_multi_remove_handle(wh->multi, r->easy);
        request_free(r);
    }
    for (size_t i = 0; i < wh->n_idle; i++)
        curl_easy_cleanup(wh->idle[i]);
    if (wh->multi != NULL)
        curl_multi_cleanup(wh->multi);
    /* whatever socket libcurl did not say goodbye to */
    for (struct sock *s = wh->socks, *next; s != NULL; s = next) {
        next = s->next;
        if (s->ev != NULL)
            event_free(s->ev);
        free(s);
    }
    if (wh->timer != NULL)
        event_free(wh->timer);
    if (wh->oauth != NULL) {
        struct oauth *o = wh->oauth;
        hdrs_release(o->current);
        curl_slist_free_all(o->req_headers);
        free(o->url);
        if (o->body != NULL)
            explicit_bzero(o->body, strlen(o->body)); /* it holds the client secret */
        free(o->body);
        free(o->answer);
        free(o);
    }
    curl_slist_free_all(wh->headers);
    free(wh->url);
    free(wh);
}

static const struct export_dest_ops webhook_ops = {
    .room = wh_room,
    .send = wh_send,
    .free = wh_free,
};

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (line == NULL)
        return CE_NOMEM;
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(*list, line);
    free(line);
    if (l == NULL)
        return CE_NOMEM;
    *list = l;
    return CE_OK;
}

static int oauth_new(struct webhook *wh, const cJSON *auth)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(auth, "tokenUrl");
    struct oauth *o = calloc(1, sizeof *o);
    if (o == NULL)
        return CE_NOMEM;
    wh->oauth = o;
    o->waiting_tail = &o->waiting;
    const char *ctype = NULL;
    o->url = cJSON_IsString(url) ? strdup(url->valuestring) : NULL;
    o->body = export_oauth_request_body(auth, &ctype);
    if (o->url == NULL || o->body == NULL)
        return CE_NOMEM;
    int rc = add_header(&o->req_headers, "Content-Type", ctype);
    if (rc == CE_OK)
        rc = add_header(&o->req_headers, "Accept", "application/json");
    if (rc == CE_OK)
        rc = add_header(&o->req_headers, "Expect", "");
    return rc;
}

int export_webhook_new(struct export_sender *s, const cJSON *def, struct export_dest **out)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(def, "url");
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(def, "authorization");
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(auth, "value");
    const cJSON *hc = cJSON_GetObjectItemCaseSensitive(def, "headerCustomizations"), *h;
    *out = NULL;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(auth, "type");
    bool oauth = cJSON_IsString(at) && strcmp(at->valuestring, "oauth") == 0;
    /* a rule's webhook may have no authorization at all; an export's always has one */
    if (!cJSON_IsString(url) || (auth != NULL && !oauth && !cJSON_IsString(av)))
        return CE_INVALID;
    struct webhook *wh = calloc(1, sizeof *wh);
    if (wh == NULL)
        return CE_NOMEM;
    wh->base.ops = &webhook_ops;
    wh->ev_base = export_sender_base(s);
    wh->url = strdup(url->valuestring);
    wh->multi = curl_multi_init();
    wh->timer = evtimer_new(wh->ev_base, on_timer, wh);
    int rc = wh->url && wh->multi && wh->timer ? CE_OK : CE_NOMEM;
    if (rc == CE_OK)
        rc = add_header(&wh->headers, "Content-Type", "application/json");
    if (rc == CE_OK && !oauth && av != NULL)
        rc = add_header(&wh->headers, "Authorization", av->valuestring);
    if (rc == CE_OK && oauth)
        rc = oauth_new(wh, auth);
    if (rc == CE_OK)
        rc = add_header(&wh->headers, "Expect", ""); /* no 100-continue round trip */
    cJSON_ArrayForEach(h, hc)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "value");
        if (rc == CE_OK && cJSON_IsString(v))
            rc = add_header(&wh->headers, h->string, v->valuestring);
    }
    if (rc != CE_OK) {
        wh_free(&wh->base);
        return rc;
    }
    curl_multi_setopt(wh->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(wh->multi, CURLMOPT_SOCKETDATA, wh);
    curl_multi_setopt(wh->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(wh->multi, CURLMOPT_TIMERDATA, wh);
    curl_multi_setopt(wh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)EXPORT_WEBHOOK_CONCURRENCY);
    return export_sender_wrap(s, &wh->base, EXPORT_WEBHOOK_CONCURRENCY, out);
}

int export_webhook_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? CE_OK : CE_NOMEM;
}

void export_webhook_global_cleanup(void)
{
    curl_global_cleanup();
}
