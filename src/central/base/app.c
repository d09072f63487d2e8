/*
 * app.c - what every layer of the server shares: wall-clock time, error texts, the loop
 * thread check and a bounded string copy. See app.h.
 */
#include "central/base/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

void app_bind_loop(struct app *app)
{
    app->loop_thread = pthread_self();
    app->loop_bound = true;
}

bool app_in_loop(const struct app *app)
{
    return !app->loop_bound || pthread_equal(app->loop_thread, pthread_self());
}

char *app_strndup(const void *p, size_t len)
{
    char *s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    if (len > 0)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

uint64_t app_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

int64_t app_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void app_hex(const void *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = d;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void app_format_time(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

const char *central_strerror(int err)
{
    switch (err) {
    case CE_OK:
        return "ok";
    case CE_NOTFOUND:
        return "not found";
    case CE_EXISTS:
        return "already exists";
    case CE_INVALID:
        return "invalid argument";
    case CE_ETAG:
        return "etag mismatch";
    case CE_OFFLINE:
        return "device offline";
    case CE_TIMEOUT:
        return "device timeout";
    case CE_NOMEM:
        return "out of memory";
    case CE_STORE:
        return "store failure";
    case CE_BUSY:
        return "busy";
    case CE_TOOBIG:
        return "too big";
    case CE_IO:
        return "system call failed";
    default:
        return "unknown error";
    }
}

/* Any chain passes the handshake (app_request_client_cert()). */
static int accept_any_cert(int preverify_ok, X509_STORE_CTX *ctx)
{
    (void)preverify_ok;
    (void)ctx;
    return 1;
}

void app_request_client_cert(SSL *ssl, const char *sid_ctx)
{
    SSL_set_verify(ssl, SSL_VERIFY_PEER, accept_any_cert);
    SSL_set_session_id_context(ssl, (const unsigned char *)sid_ctx, (unsigned)strlen(sid_ctx));
}
