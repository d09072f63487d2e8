/*
 * https_client.c - one-shot HTTPS/1.1 requests to the service REST API (harness.h).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "iotc/codec.h"
#include "iotc/sas.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ssl_write_all(SSL *ssl, const char *p, size_t len)
{
    while (len > 0) {
        int n = SSL_write(ssl, p, (int)len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int parse_response(char *buf, size_t len, struct th_http_response *out, bool *complete)
{
    *complete = false;
    char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i;
            break;
        }
    }
    if (end == NULL)
        return 0;
    size_t hlen = (size_t)(end - buf);
    size_t body_off = hlen + 4;
    if (strncmp(buf, "HTTP/1.", 7) != 0 || hlen < 12)
        return -1;
    out->status = (int)strtol(buf + 9, NULL, 10);
    size_t copy = hlen < sizeof out->headers - 1 ? hlen : sizeof out->headers - 1;
    memcpy(out->headers, buf, copy);
    out->headers[copy] = '\0';
    long clen = -1;
    for (char *p = out->headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            clen = strtol(p + 15, NULL, 10);
    }
    if (clen < 0)
        clen = 0;
    if (len - body_off < (size_t)clen)
        return 0;
    out->body = malloc((size_t)clen + 1);
    if (out->body == NULL)
        return -1;
    memcpy(out->body, buf + body_off, (size_t)clen);
    out->body[clen] = '\0';
    out->body_len = (size_t)clen;
    *complete = true;
    return 0;
}

int th_https(const struct th_central *c, const char *method, const char *path,
             const char *extra_headers, const char *body, bool with_auth, int timeout_ms,
             struct th_http_response *out)
{
    memset(out, 0, sizeof *out);
    int rc = -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    char *buf = malloc(1 << 20);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->https_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ctx == NULL || buf == NULL ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        SSL_CTX_load_verify_locations(ctx, c->ca_path, NULL) != 1)
        goto out;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    ssl = SSL_new(ctx);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1)
        goto out;
    char auth[700] = "";
    if (with_auth) {
        char host[300], token[600];
        size_t tl;
        snprintf(host, sizeof host, "%s:%u", c->hub_host, c->https_port);
        if (iotc_sas_token_service(iotc_span_from_cstr(c->service_key), iotc_span_from_cstr(host),
                                   IOTC_SPAN_LIT("iothubowner"), th_now() + 3600, token,
                                   sizeof token, &tl) != IOTC_OK)
            goto out;
        snprintf(auth, sizeof auth, "Authorization: %s\r\n", token);
    }
    size_t blen = body ? strlen(body) : 0;
    char head[4096];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: localhost:%u\r\n%s%s%sContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      method, path, c->https_port, auth, extra_headers ? extra_headers : "",
                      body ? "Content-Type: application/json; charset=utf-8\r\n" : "", blen);
    if (hl < 0 || (size_t)hl >= sizeof head || ssl_write_all(ssl, head, (size_t)hl) != 0 ||
        (blen && ssl_write_all(ssl, body, blen) != 0))
        goto out;
    size_t len = 0;
    int64_t deadline = mono_ms() + timeout_ms;
    bool complete = false;
    while (!complete && len < (1 << 20) - 1) {
        if (SSL_pending(ssl) == 0) {
            int64_t left = deadline - mono_ms();
            struct pollfd p = {fd, POLLIN, 0};
            if (left <= 0 || poll(&p, 1, (int)left) <= 0)
                goto out;
        }
        int n = SSL_read(ssl, buf + len, (int)((1 << 20) - 1 - len));
        if (n <= 0)
            break;
        len += (size_t)n;
        if (parse_response(buf, len, out, &complete) < 0)
            goto out;
    }
    rc = complete ? 0 : -1;
out:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    if (ctx)
        SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int th_tls_open(const struct th_central *c, struct th_tls *t)
{
    return th_tls_open_from(c, t, NULL);
}

int th_tls_open_from(const struct th_central *c, struct th_tls *t, const char *src)
{
    return th_tls_open_cert(c, t, src, NULL, NULL);
}

int th_tls_open_cert(const struct th_central *c, struct th_tls *t, const char *src,
                     const char *cert_path, const char *key_path)
{
    memset(t, 0, sizeof *t);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->https_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in from = {.sin_family = AF_INET};
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    t->ctx = SSL_CTX_new(TLS_client_method());
    t->cap = 65536;
    t->text = calloc(1, t->cap);
    if (t->fd < 0 || t->ctx == NULL || t->text == NULL ||
        (src != NULL && (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
                         bind(t->fd, (struct sockaddr *)&from, sizeof from) != 0)) ||
        connect(t->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        SSL_CTX_load_verify_locations(t->ctx, c->ca_path, NULL) != 1)
        goto fail;
    if (cert_path != NULL && (SSL_CTX_use_certificate_chain_file(t->ctx, cert_path) != 1 ||
                              SSL_CTX_use_PrivateKey_file(t->ctx, key_path, SSL_FILETYPE_PEM) != 1))
        goto fail;
    if (src != NULL) { /* a flood's connection: a server that does not answer is no hang */
        struct timeval tv = {10, 0};
        setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    t->ssl = SSL_new(t->ctx);
    if (t->ssl == NULL)
        goto fail;
    SSL_set_tlsext_host_name(t->ssl, "localhost");
    SSL_set1_host(t->ssl, "localhost");
    SSL_set_fd(t->ssl, t->fd);
    if (SSL_connect(t->ssl) != 1)
        goto fail;
    return 0;
fail:
    th_tls_close(t);
    return -1;
}

int th_tls_send(struct th_tls *t, const void *data, size_t len)
{
    return t->ssl != NULL ? ssl_write_all(t->ssl, data, len) : -1;
}

int th_tls_wait(struct th_tls *t, const char *until, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    while (t->ssl != NULL) {
        if (until != NULL && strstr(t->text, until) != NULL)
            return 1;
        if (t->closed)
            return until == NULL;
        if (SSL_pending(t->ssl) == 0) {
            int64_t left = deadline - mono_ms();
            struct pollfd p = {t->fd, POLLIN, 0};
            if (left <= 0 || poll(&p, 1, (int)left) <= 0)
                return 0;
        }
        if (t->len + 4096 + 1 > t->cap) {
            char *n = realloc(t->text, t->cap * 2);
            if (n == NULL)
                return 0;
            t->text = n;
            t->cap *= 2;
        }
        int n = SSL_read(t->ssl, t->text + t->len, 4096);
        if (n <= 0) {
            int err = SSL_get_error(t->ssl, n);
            if (err == SSL_ERROR_WANT_READ)
                continue;
            t->closed = true;
            continue;
        }
        t->len += (size_t)n;
        t->text[t->len] = '\0';
    }
    return 0;
}

void th_tls_close(struct th_tls *t)
{
    if (t->ssl != NULL) {
        SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
    }
    if (t->ctx != NULL)
        SSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
    free(t->text);
    memset(t, 0, sizeof *t);
    t->fd = -1;
}

int th_put_device(const struct th_central *c, const char *id, const char *primary_key,
                  const char *secondary_key, bool enabled)
{
    char body[1024], path[300];
    snprintf(body, sizeof body,
             "{\"deviceId\":\"%s\",\"status\":\"%s\",\"authentication\":{\"type\":\"sas\","
             "\"symmetricKey\":{\"primaryKey\":\"%s\",\"secondaryKey\":\"%s\"}}}",
             id, enabled ? "enabled" : "disabled", primary_key, secondary_key);
    snprintf(path, sizeof path, "/devices/%s?api-version=2021-04-12", id);
    struct th_http_response resp;
    if (th_https(c, "PUT", path, NULL, body, true, 5000, &resp) != 0)
        return -1;
    free(resp.body);
    return resp.status;
}
