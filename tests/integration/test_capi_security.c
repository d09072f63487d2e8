/*
 * test_capi_security.c - the /api/ surface run as a server (docs/API.md): event streams end
 * when their API token is deleted or expires, and those of the administrator token when it is
 * rotated; one token cannot take every stream;
 * malformed HTTP input (duplicate or huge Content-Length, NUL or bad UTF-8 in JSON) is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../lib/capi_http.h"
#include "../lib/harness.h"

#define V "api-version=2022-07-31"
#define DEV "sec-1"

static struct th_central srv;
static struct capi_resp R;

static long req(const char *auth, const char *method, const char *path, const char *body)
{
    return capi_call(srv.ca_path, srv.https_port, auth, method, path, body, 15000, &R);
}

static long admin(const char *method, const char *path, const char *body)
{
    return req(srv.admin_token, method, path, body);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Create API token @p id (operator; @p expiry NULL = the default) and copy its text. */
static void make_token(const char *id, const char *expiry, char *out, size_t size)
{
    char path[128], body[200];
    snprintf(path, sizeof path, "/api/apiTokens/%s", id);
    snprintf(body, sizeof body, "{\"roles\":[{\"role\":\"operator\"}]%s%s%s}",
             expiry ? ",\"expiry\":\"" : "", expiry ? expiry : "", expiry ? "\"" : "");
    assert_int_equal(admin("PUT", path, body), 200);
    snprintf(out, size, "%s", capi_jstr(R.json, "token"));
}

/* Open the event stream of DEV with @p auth on @p t. @return the HTTP status line's code. */
static int open_stream(struct th_tls *t, const char *auth)
{
    char head[1200];
    int n = snprintf(head, sizeof head,
                     "GET /api/devices/" DEV "/events?" V " HTTP/1.1\r\nHost: localhost\r\n"
                     "Authorization: %s\r\n\r\n",
                     auth);
    if (th_tls_open(&srv, t) != 0 || th_tls_send(t, head, (size_t)n) != 0)
        return -1;
    if (th_tls_wait(t, "\r\n\r\n", 5000) != 1)
        return -1;
    int status = (int)strtol(t->text + 9, NULL, 10);
    if (status == 200 && th_tls_wait(t, ": connected", 5000) != 1)
        return -1;
    return status;
}

static int setup(void **state)
{
    (void)state;
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    return admin("PUT", "/api/devices/" DEV, "{\"displayName\":\"Security\"}") == 200 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- streams and tokens */

static void test_stream_ends_when_token_deleted(void **state)
{
    (void)state;
    char op[600];
    struct th_tls s, other;
    make_token("sse-del", NULL, op, sizeof op);
    assert_int_equal(open_stream(&s, op), 200);
    assert_int_equal(open_stream(&other, srv.admin_token), 200);
    assert_int_equal(admin("DELETE", "/api/apiTokens/sse-del", NULL), 204);
    int64_t t0 = mono_ms();
    assert_int_equal(th_tls_wait(&s, NULL, 2000), 1); /* the server closed it */
    assert_true(mono_ms() - t0 <= 2000);
    assert_non_null(strstr(s.text, ": closed: the API token was deleted"));
    /* a stream of another token stays */
    assert_int_equal(th_tls_wait(&other, NULL, 500), 0);
    assert_false(other.closed);
    th_tls_close(&s);
    th_tls_close(&other);
}

static void test_stream_ends_when_token_expires(void **state)
{
    (void)state;
    char op[600], expiry[32];
    struct th_tls s;
    time_t at = time(NULL) + 4;
    struct tm tm;
    gmtime_r(&at, &tm);
    strftime(expiry, sizeof expiry, "%Y-%m-%dT%H:%M:%SZ", &tm);
    make_token("sse-exp", expiry, op, sizeof op);
    assert_int_equal(open_stream(&s, op), 200);
    /* still open a second before the expiry */
    int64_t left_ms = ((int64_t)at - (int64_t)time(NULL)) * 1000;
    assert_true(left_ms >= 2000);
    assert_int_equal(th_tls_wait(&s, NULL, 1000), 0);
    /* closed within 2 s after it */
    int64_t t0 = mono_ms();
    assert_int_equal(th_tls_wait(&s, NULL, (int)left_ms + 2000), 1);
    assert_true(mono_ms() - t0 <= left_ms + 2000);
    assert_non_null(strstr(s.text, ": closed: the API token has expired"));
    th_tls_close(&s);
    assert_int_equal(admin("DELETE", "/api/apiTokens/sse-exp", NULL), 204);
}

/* A stream opened with the administrator token ends when `iotc-central rotate-admin-token`
 * replaces it on the running server; a stream of an API token stays. */
static void test_admin_stream_ends_when_admin_token_rotated(void **state)
{
    (void)state;
    char op[600];
    struct th_tls s, other;
    make_token("sse-rot", NULL, op, sizeof op);
    assert_int_equal(open_stream(&s, srv.admin_token), 200);
    assert_int_equal(open_stream(&other, op), 200);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' rotate-admin-token --data-dir '%s' >/dev/null",
             th_central_bin(), srv.data_dir);
    int64_t t0 = mono_ms();
    assert_int_equal(system(cmd), 0);
    assert_int_equal(th_tls_wait(&s, NULL, 2000), 1); /* the server closed it */
    assert_true(mono_ms() - t0 <= 4000);
    assert_non_null(strstr(s.text, ": closed: the administrator token was replaced"));
    assert_int_equal(th_tls_wait(&other, NULL, 500), 0);
    assert_false(other.closed);
    th_tls_close(&s);
    th_tls_close(&other);
    /* the new token, for the tests after this one */
    char path[400];
    snprintf(path, sizeof path, "%s/admin-token", srv.data_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(srv.admin_token, sizeof srv.admin_token, f));
    fclose(f);
    srv.admin_token[strcspn(srv.admin_token, "\r\n")] = '\0';
    assert_int_equal(admin("DELETE", "/api/apiTokens/sse-rot", NULL), 204);
}

/* SSE_MAX_PER_TOKEN in capi_sse.c, docs/API.md */
#define PER_TOKEN 16

static void test_streams_per_token_cap(void **state)
{
    (void)state;
    char op[600], op2[600];
    struct th_tls s[PER_TOKEN + 1], other;
    make_token("sse-cap", NULL, op, sizeof op);
    make_token("sse-cap2", NULL, op2, sizeof op2);
    for (int i = 0; i < PER_TOKEN; i++)
        assert_int_equal(open_stream(&s[i], op), 200);
    assert_int_equal(open_stream(&s[PER_TOKEN], op), 503);
    assert_int_equal(th_tls_wait(&s[PER_TOKEN], "for this token", 2000), 1);
    assert_non_null(strstr(s[PER_TOKEN].text, "ServiceUnavailable"));
    /* another token still gets one */
    assert_int_equal(open_stream(&other, op2), 200);
    for (int i = 0; i <= PER_TOKEN; i++)
        th_tls_close(&s[i]);
    th_tls_close(&other);
    assert_int_equal(admin("DELETE", "/api/apiTokens/sse-cap", NULL), 204);
    assert_int_equal(admin("DELETE", "/api/apiTokens/sse-cap2", NULL), 204);
}

/* ---------------------------------------------------------------- HTTP input */

/* Send raw request bytes; wait for the whole answer (the server closes). */
static void raw(const char *bytes, size_t len, struct th_tls *t)
{
    assert_int_equal(th_tls_open(&srv, t), 0);
    assert_int_equal(th_tls_send(t, bytes, len), 0);
}

static void test_duplicate_content_length(void **state)
{
    (void)state;
    struct th_tls t;
    char r[1200];
    int n = snprintf(r, sizeof r,
                     "PATCH /api/devices/" DEV "?" V " HTTP/1.1\r\nHost: localhost\r\n"
                     "Authorization: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}",
                     srv.admin_token);
    raw(r, (size_t)n, &t);
    assert_int_equal(th_tls_wait(&t, "\r\n\r\n", 5000), 1);
    assert_true(strncmp(t.text, "HTTP/1.1 400", 12) == 0);
    th_tls_wait(&t, NULL, 2000);
    assert_true(t.closed);
    assert_non_null(strstr(t.text, "more than one Content-Length"));
    th_tls_close(&t);
}

static void test_huge_content_length_refused_at_once(void **state)
{
    (void)state;
    struct th_tls t;
    char r[1200];
    /* the body is never sent: the answer must not wait for it */
    int n = snprintf(r, sizeof r,
                     "PUT /api/devices/x?" V " HTTP/1.1\r\nHost: localhost\r\n"
                     "Authorization: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000000000000\r\n\r\n{",
                     srv.admin_token);
    raw(r, (size_t)n, &t);
    assert_int_equal(th_tls_wait(&t, "\r\n\r\n", 3000), 1);
    assert_true(strncmp(t.text, "HTTP/1.1 413", 12) == 0);
    th_tls_close(&t);
    /* and over the service API too */
    n = snprintf(r, sizeof r,
                 "PUT /devices/x?api-version=2021-04-12 HTTP/1.1\r\nHost: localhost\r\n"
                 "Content-Length: 5000000\r\n\r\n");
    raw(r, (size_t)n, &t);
    assert_int_equal(th_tls_wait(&t, "\r\n\r\n", 3000), 1);
    assert_true(strncmp(t.text, "HTTP/1.1 413", 12) == 0);
    th_tls_close(&t);
}

static void test_json_nul_and_utf8_refused(void **state)
{
    (void)state;
#define C(body, message)               \
    {                                  \
        body, sizeof body - 1, message \
    }
    static const struct {
        const char *body;
        size_t len;
        const char *message;
    } cases[] = {
        C("{\"displayName\":\"ab\\u0000cd\"}", "NUL"),
        C("{\"displayName\":\"ab\0cd\"}", "NUL"),
        C("{\"displayName\":\"ab\xff\xfe\"}", "UTF-8"),
        C("{\"displayName\":\"ab\xc0\xaf\"}", "UTF-8"),
    };
#undef C
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct th_tls t;
        char r[1500];
        int n = snprintf(r, sizeof r,
                         "PATCH /api/devices/" DEV "?" V " HTTP/1.1\r\nHost: localhost\r\n"
                         "Authorization: %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                         srv.admin_token, cases[i].len);
        memcpy(r + n, cases[i].body, cases[i].len);
        raw(r, (size_t)n + cases[i].len, &t);
        th_tls_wait(&t, NULL, 5000);
        if (strncmp(t.text, "HTTP/1.1 400", 12) != 0 || strstr(t.text, "InvalidBody") == NULL ||
            strstr(t.text, cases[i].message) == NULL)
            fail_msg("case %zu: %s", i, t.text);
        th_tls_close(&t);
    }
    /* an escaped backslash before u0000 is text, not a NUL */
    assert_int_equal(admin("PATCH", "/api/devices/" DEV, "{\"displayName\":\"a\\\\u0000\"}"), 200);
    assert_string_equal(capi_jstr(R.json, "displayName"), "a\\u0000");
    /* the service API refuses them too */
    struct th_http_response h;
    assert_int_equal(th_https(&srv, "PUT", "/devices/sec-2?api-version=2021-04-12", NULL,
                              "{\"deviceId\":\"sec-2\",\"x\":\"\\u0000\"}", true, 5000, &h),
                     0);
    assert_int_equal(h.status, 400);
    assert_non_null(strstr(h.body, "NUL"));
    free(h.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_ends_when_token_deleted),
        cmocka_unit_test(test_stream_ends_when_token_expires),
        cmocka_unit_test(test_admin_stream_ends_when_admin_token_rotated),
        cmocka_unit_test(test_streams_per_token_cap),
        cmocka_unit_test(test_duplicate_content_length),
        cmocka_unit_test(test_huge_content_length_refused_at_once),
        cmocka_unit_test(test_json_nul_and_utf8_refused),
    };
    return cmocka_run_group_tests_name("capi_security", tests, setup, teardown);
}
