/*
 * rest.c - service-side direct-method calls for the command round-trip benchmark:
 * POST /twins/{id}/methods on the IoT Hub service API (HTTPS, service SAS token from the
 * connection string), the way the azure-iothub SDK calls it (docs/PROTOCOL.md §6.4), on a few
 * keep-alive connections, each closed loop (next call when the previous answer is in).
 * A minimal HTTP/1.1 client over bufferevent_openssl: the whole request goes out as one write
 * on a TCP_NODELAY socket, so the figures measure the server and the device, not Nagle.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "iotc/codec.h"
#include "iotc/sas.h"
#include "sim/sim.h"

struct rest_conn {
    struct sim_rest *r;
    struct bufferevent *bev;
    bool busy;
    bool dead;
    uint64_t t0;
};

struct sim_rest {
    struct sim *s;
    struct rest_conn *c;
    int n;
    long issued;
    long done;
    struct sim_addr addr;
    char host[256]; /* HostName: Host header and token sr */
    char sni[256];
    char token[512];
};

static int cs_field(const char *cs, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = cs;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = len - nlen - 1;
            if (vlen >= cap)
                return -1;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return -1;
}

static void issue(struct rest_conn *c);
static void open_conn(struct rest_conn *c);

static void conn_drop(struct rest_conn *c)
{
    if (c->bev != NULL) {
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        if (ssl != NULL)
            SSL_set_quiet_shutdown(ssl, 1);
        bufferevent_free(c->bev);
    }
    c->bev = NULL;
    c->busy = false;
}

static void finish_call(struct rest_conn *c, int status, const char *body, size_t blen)
{
    struct sim *s = c->r->s;
    c->busy = false;
    c->r->done++;
    hist_add(&s->st.rest, (sim_now_ns() - c->t0) / 1000);
    s->st.rest_status[status >= 100 && status < 600 ? status / 100 : 0]++;
    /* Success is HTTP 200 carrying the device's own status 200. */
    if (status == 200 && blen > 0 && memmem(body, blen, "\"status\":200", 12) != NULL)
        s->st.rest_ok++;
    else
        s->st.errors[SIM_ERR_REST]++;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct rest_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        struct evbuffer_ptr hdr_end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (hdr_end.pos < 0)
            return;
        size_t hlen = (size_t)hdr_end.pos + 4;
        char *h = (char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
        if (h == NULL || hlen < 12 || strncmp(h, "HTTP/1.", 7) != 0) {
            c->r->s->st.errors[SIM_ERR_REST]++;
            conn_drop(c);
            return;
        }
        int status = sim_int(h + 9);
        size_t clen = 0;
        bool close_after = false;
        for (char *line = memchr(h, '\n', hlen); line != NULL && line < h + hlen;
             line = memchr(line + 1, '\n', (size_t)(h + hlen - line - 1))) {
            char *l = line + 1;
            if (strncasecmp(l, "Content-Length:", 15) == 0)
                clen = (size_t)strtoul(l + 15, NULL, 10);
            else if (strncasecmp(l, "Connection: close", 17) == 0)
                close_after = true;
        }
        if (evbuffer_get_length(in) < hlen + clen)
            return;
        char *all = (char *)evbuffer_pullup(in, (ev_ssize_t)(hlen + clen));
        finish_call(c, status, all + hlen, clen);
        evbuffer_drain(in, hlen + clen);
        if (close_after) {
            conn_drop(c);
            open_conn(c);
            return;
        }
        issue(c);
        if (c->bev == NULL || !c->busy)
            return;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct rest_conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        (void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        issue(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        bool was_busy = c->busy;
        if (was_busy) {
            c->r->done++;
            c->r->s->st.errors[SIM_ERR_REST]++;
        }
        conn_drop(c);
        if (!c->r->s->stopping && c->r->issued < c->r->s->cfg.invoke_count && !c->dead) {
            c->dead = !was_busy && c->r->done == 0; /* refused before any answer: stop */
            if (!c->dead)
                open_conn(c);
        }
        sim_maybe_finish(c->r->s);
    }
}

static void open_conn(struct rest_conn *c)
{
    struct sim_rest *r = c->r;
    struct sim *s = r->s;
    SSL *ssl = SSL_new(s->ssl);
    if (ssl == NULL)
        return;
    SSL_set_tlsext_host_name(ssl, r->sni);
    if (SSL_CTX_get_verify_mode(s->ssl) != SSL_VERIFY_NONE)
        SSL_set1_host(ssl, r->sni);
    c->bev = bufferevent_openssl_socket_new(s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        SSL_free(ssl);
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&r->addr.sa, (int)r->addr.len) != 0)
        conn_drop(c);
}

static struct sim_device *pick_device(struct sim *s)
{
    int n = s->cfg.devices;
    int start = rand() % n;
    for (int k = 0; k < n; k++) {
        struct sim_device *d = &s->devs[(start + k) % n];
        if (d->state == DEV_RUNNING)
            return d;
    }
    return NULL;
}

static void issue(struct rest_conn *c)
{
    struct sim_rest *r = c->r;
    struct sim *s = r->s;
    char body[256], head[1400], idenc[200];
    size_t idlen;

    if (c->bev == NULL || c->busy || s->stopping || r->issued >= s->cfg.invoke_count) {
        sim_maybe_finish(s);
        return;
    }
    struct sim_device *d = pick_device(s);
    if (d == NULL ||
        iotc_pct_encode(iotc_span_from_cstr(d->id), idenc, sizeof idenc, &idlen) != IOTC_OK) {
        s->st.errors[SIM_ERR_REST]++;
        r->issued = s->cfg.invoke_count; /* nobody to call: stop */
        sim_maybe_finish(s);
        return;
    }
    int blen = snprintf(body, sizeof body,
                        "{\"methodName\":\"%s\",\"responseTimeoutInSeconds\":10,"
                        "\"connectTimeoutInSeconds\":0,\"payload\":{\"n\":%ld}}",
                        s->cfg.invoke_method, r->issued);
    int hlen = snprintf(head, sizeof head,
                        "POST /twins/%s/methods?api-version=2021-04-12 HTTP/1.1\r\n"
                        "Host: %s\r\nAuthorization: %s\r\nUser-Agent: iotc-sim\r\n"
                        "Content-Type: application/json; charset=utf-8\r\n"
                        "Content-Length: %d\r\n\r\n",
                        idenc, r->host, r->token, blen);
    if (blen < 0 || hlen < 0 || (size_t)hlen >= sizeof head || (size_t)blen >= sizeof body)
        return;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_expand(out, (size_t)(hlen + blen));
    evbuffer_add(out, head, (size_t)hlen);
    evbuffer_add(out, body, (size_t)blen);
    c->busy = true;
    c->t0 = sim_now_ns();
    r->issued++;
}

struct sim_rest *rest_start(struct sim *s)
{
    struct sim_rest *r = calloc(1, sizeof *r);
    char policy[128], key[128], host[256];
    int port = 443;
    if (r == NULL)
        return NULL;
    r->s = s;
    if (cs_field(s->cfg.service_cs, "HostName", r->host, sizeof r->host) != 0 ||
        cs_field(s->cfg.service_cs, "SharedAccessKeyName", policy, sizeof policy) != 0 ||
        cs_field(s->cfg.service_cs, "SharedAccessKey", key, sizeof key) != 0) {
        fprintf(stderr,
                "iotc-sim: --service needs HostName, SharedAccessKeyName, SharedAccessKey\n");
        free(r);
        return NULL;
    }
    size_t len;
    if (iotc_sas_token_service(iotc_span_from_cstr(key), iotc_span_from_cstr(r->host),
                               iotc_span_from_cstr(policy), (uint64_t)time(NULL) + 3600, r->token,
                               sizeof r->token, &len) != IOTC_OK) {
        fprintf(stderr, "iotc-sim: cannot build the service token\n");
        free(r);
        return NULL;
    }
    /* Where to connect: --https host:port, else the HostName itself (host[:port]). */
    const char *target = s->cfg.https_host[0] != '\0' ? s->cfg.https_host : r->host;
    const char *colon = strrchr(target, ':');
    size_t hl = colon != NULL ? (size_t)(colon - target) : strlen(target);
    snprintf(host, sizeof host, "%.*s", (int)hl, target);
    if (s->cfg.https_port > 0)
        port = s->cfg.https_port;
    else if (colon != NULL)
        port = sim_int(colon + 1);
    colon = strrchr(r->host, ':');
    snprintf(r->sni, sizeof r->sni, "%.*s",
             (int)(colon != NULL ? (size_t)(colon - r->host) : strlen(r->host)), r->host);
    if (sim_resolve(host, port, &r->addr) != 0) {
        fprintf(stderr, "iotc-sim: cannot resolve %s\n", host);
        free(r);
        return NULL;
    }
    r->n = s->cfg.invoke_conns > 0 ? s->cfg.invoke_conns : 1;
    r->c = calloc((size_t)r->n, sizeof *r->c);
    if (r->c == NULL) {
        free(r);
        return NULL;
    }
    for (int i = 0; i < r->n; i++) {
        r->c[i].r = r;
        open_conn(&r->c[i]);
    }
    return r;
}

bool rest_done(const struct sim_rest *r)
{
    if (r == NULL)
        return true;
    if (r->issued < r->s->cfg.invoke_count) {
        for (int i = 0; i < r->n; i++)
            if (r->c[i].bev != NULL)
                return false;
        return true; /* every connection is gone */
    }
    for (int i = 0; i < r->n; i++)
        if (r->c[i].busy)
            return false;
    return true;
}

void rest_free(struct sim_rest *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->n; i++)
        conn_drop(&r->c[i]);
    free(r->c);
    free(r);
}
