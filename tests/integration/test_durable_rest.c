/*
 * REST writes are answered only once they are committed, like PUBACKs: while the test holds
 * SQLite's write lock, a device PUT, a desired-twin PATCH and an /api/ property write get no
 * answer; once the lock goes, they are answered, and what was answered survives SIGKILL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "../lib/harness.h"

#define KEY "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

static struct th_central srv;

static sqlite3 *db_open(const struct th_central *c)
{
    char path[400];
    snprintf(path, sizeof path, "%s/central.db", c->data_dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* One request on its own thread, so the test can watch it wait. */
struct call {
    const struct th_central *c;
    const char *method, *path, *headers, *body;
    struct th_http_response resp;
    int rc;
    volatile bool done;
    pthread_t thread;
};

static void *call_main(void *arg)
{
    struct call *k = arg;
    k->rc = th_https(k->c, k->method, k->path, k->headers, k->body, true, 15000, &k->resp);
    k->done = true;
    return NULL;
}

static void call_start(struct call *k, const char *method, const char *path, const char *headers,
                       const char *body)
{
    memset(k, 0, sizeof *k);
    k->c = &srv;
    k->method = method;
    k->path = path;
    k->headers = headers;
    k->body = body;
    assert_int_equal(pthread_create(&k->thread, NULL, call_main, k), 0);
}

static int call_finish(struct call *k)
{
    pthread_join(k->thread, NULL);
    assert_int_equal(k->rc, 0);
    free(k->resp.body);
    return k->resp.status;
}

static int setup(void **state)
{
    (void)state;
    return th_central_start(&srv, NULL);
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

static void test_writes_answered_after_commit_and_survive_sigkill(void **state)
{
    (void)state;
    static const char dev_body[] =
        "{\"deviceId\":\"dur-1\",\"authentication\":{\"type\":\"sas\","
        "\"symmetricKey\":{\"primaryKey\":\"" KEY "\",\"secondaryKey\":\"" KEY "\"}}}";
    struct call put, patch;
    sqlite3 *lock = db_open(&srv);
    assert_non_null(lock);

    /* 1. Device creation waits for the commit. */
    assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    call_start(&put, "PUT", "/devices/dur-1?api-version=2021-04-12", NULL, dev_body);
    usleep(800 * 1000);
    assert_false(put.done);
    assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(call_finish(&put), 200);

    /* 2. A desired-twin patch too. */
    assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    call_start(&patch, "PATCH", "/twins/dur-1?api-version=2021-04-12", "If-Match: \"*\"\r\n",
               "{\"properties\":{\"desired\":{\"mode\":\"eco\"}}}");
    usleep(800 * 1000);
    assert_false(patch.done);
    assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(call_finish(&patch), 200);
    sqlite3_close(lock);

    /* 3. Reads are not held back. */
    struct th_http_response r;
    assert_int_equal(
        th_https(&srv, "GET", "/devices/dur-1?api-version=2021-04-12", NULL, NULL, true, 5000, &r),
        0);
    assert_int_equal(r.status, 200);
    free(r.body);

    /* 4. What was answered is on disk: SIGKILL, restart, read it back. */
    int st;
    assert_int_equal(kill(srv.pid, SIGKILL), 0);
    assert_int_equal(waitpid(srv.pid, &st, 0), srv.pid);
    srv.pid = 0;
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    assert_int_equal(
        th_https(&srv, "GET", "/twins/dur-1?api-version=2021-04-12", NULL, NULL, true, 5000, &r),
        0);
    assert_int_equal(r.status, 200);
    cJSON *o = cJSON_Parse(r.body);
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "properties"),
                                         "desired"),
        "mode"));
    if (mode == NULL || strcmp(mode, "eco") != 0)
        fail_msg("desired patch lost after SIGKILL: %s", r.body);
    cJSON_Delete(o);
    free(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_answered_after_commit_and_survive_sigkill),
    };
    return cmocka_run_group_tests_name("durable_rest", tests, setup, teardown);
}
