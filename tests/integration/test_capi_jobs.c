/*
 * test_capi_jobs.c - /api/jobs as IoT Central's 2022-07-31 API has them, against a real
 * iotc-central and 20 real libiotc devices (DPS with the group key, announcing the environmental
 * sensor's model): a property job and a command job over a device group with batch size 5
 * (each device counts what it received; the command handlers measure how many run at once),
 * per-device status, the cancellation threshold, stop and resume, a command job and a property job
 * across a kill -9 of the server (no command reaches a device twice, no device is left out), the
 * restart of devices left "started" (a property write redone, a command failed, not sent), and bad
 * input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../lib/capi_http.h"
#include "device_util.h"

#define TID "dtmi:iotc:example:EnvironmentalSensor;1"
#define TID_URL "dtmi%3Aiotc%3Aexample%3AEnvironmentalSensor%3B1"
#define N_DEV 20
#define FAILING 13 /* this device answers blink with 500 */

static struct th_central srv;
static struct capi_resp R;
static struct du_client devs[N_DEV]; /* static: see device_util.h */

struct seen {
    pthread_mutex_t mu;
    int blinks, brightness_writes;
    long last_brightness;
};
static struct seen seen[N_DEV];
static pthread_mutex_t conc_mu = PTHREAD_MUTEX_INITIALIZER;
static int in_handler, max_in_handler, handler_ms = 100;

static long admin(const char *method, const char *path, const char *body)
{
    return capi_call(srv.ca_path, srv.https_port, srv.admin_token, method, path, body, 15000, &R);
}

static int on_blink(void *user, struct iotc_client *c, const struct iotc_command *cmd,
                    const char **out_json)
{
    struct seen *s = user;
    (void)c;
    (void)cmd;
    pthread_mutex_lock(&conc_mu);
    if (++in_handler > max_in_handler)
        max_in_handler = in_handler;
    int ms = handler_ms;
    pthread_mutex_unlock(&conc_mu);
    pthread_mutex_lock(&s->mu);
    s->blinks++;
    pthread_mutex_unlock(&s->mu);
    du_sleep_ms(ms);
    pthread_mutex_lock(&conc_mu);
    in_handler--;
    pthread_mutex_unlock(&conc_mu);
    *out_json = "{\"description\":\"blinked\"}";
    return s == &seen[FAILING] ? 500 : 200;
}

static int on_brightness(void *user, struct iotc_client *c, const struct iotc_property *p,
                         const char **out_desc)
{
    struct seen *s = user;
    (void)c;
    (void)out_desc;
    pthread_mutex_lock(&s->mu);
    if (!p->from_twin || s->last_brightness != strtol(p->value, NULL, 10))
        s->brightness_writes++;
    s->last_brightness = strtol(p->value, NULL, 10);
    pthread_mutex_unlock(&s->mu);
    return 200;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (th_central_start(&srv, NULL) < 0)
        return -1;
    char *doc = th_repo_file("models/environmental-sensor.dtdlv2.json");
    if (doc == NULL)
        return -1;
    size_t len = strlen(doc) + 256;
    char *body = malloc(len);
    snprintf(body, len, "{\"displayName\":\"Environmental sensor\",\"capabilityModel\":%s}", doc);
    long st = admin("PUT", "/api/deviceTemplates/" TID_URL, body);
    free(body);
    free(doc);
    if (st != 200 ||
        admin("PUT", "/api/deviceGroups/env",
              "{\"displayName\":\"Sensors\",\"filter\":\"SELECT * FROM devices WHERE $template = "
              "\\\"" TID "\\\" AND $provisioned = true\"}") != 200)
        return -1;
    static char ids[N_DEV][32], eps[N_DEV][64];
    for (int i = 0; i < N_DEV; i++) {
        struct iotc_config cfg;
        pthread_mutex_init(&seen[i].mu, NULL);
        snprintf(ids[i], sizeof ids[i], "job-dev-%02d", i);
        du_dps_config(&cfg, &srv, ids[i], eps[i], sizeof eps[i]);
        cfg.model_id = TID;
        if (du_start(&devs[i], &cfg, false) != 0 ||
            iotc_client_on_command(devs[i].c, "blink", on_blink, &seen[i]) != IOTC_OK ||
            iotc_client_on_property(devs[i].c, NULL, "brightness", on_brightness, &seen[i]) !=
                IOTC_OK ||
            du_run(&devs[i]) != 0)
            return -1;
    }
    for (int i = 0; i < N_DEV; i++) {
        if (!du_wait_connected(&devs[i], 1, 30000))
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N_DEV; i++)
        du_stop(&devs[i]);
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* Poll GET /api/jobs/{id} until its status is @p want (R holds it). */
static bool job_becomes(const char *id, const char *want, int timeout_ms)
{
    char path[200];
    snprintf(path, sizeof path, "/api/jobs/%s", id);
    for (int t = 0; t < timeout_ms; t += 100) {
        if (admin("GET", path, NULL) == 200 && strcmp(capi_jstr(R.json, "status"), want) == 0)
            return true;
        du_sleep_ms(100);
    }
    fprintf(stderr, "job %s: status %s, wanted %s\n", id,
            R.json ? capi_jstr(R.json, "status") : "?", want);
    return false;
}

/* Statuses of the job's devices (every page) counted by name; index by device number. */
static int listed[N_DEV]; /* device_statuses: the devices in the order the job lists them */

static void device_statuses(const char *id, char st[N_DEV][16], char err[N_DEV][200])
{
    char path[300];
    int n = 0;
    memset(st, 0, N_DEV * 16);
    memset(err, 0, N_DEV * 200);
    snprintf(path, sizeof path, "/api/jobs/%s/devices?$top=7", id);
    for (int page = 0; page < 10; page++) {
        assert_int_equal(admin("GET", path, NULL), 200);
        const cJSON *v;
        cJSON_ArrayForEach(v, capi_jget(R.json, "value"))
        {
            int k = (int)strtol(capi_jstr(v, "id") + strlen("job-dev-"), NULL, 10);
            assert_true(k >= 0 && k < N_DEV && n < N_DEV);
            listed[n++] = k;
            snprintf(st[k], 16, "%s", capi_jstr(v, "status"));
            const char *e = capi_jstr(v, "error");
            snprintf(err[k], 200, "%s", e ? e : "");
        }
        const char *next = capi_jstr(R.json, "nextLink");
        if (next == NULL)
            return;
        const char *tok = strstr(next, "$skiptoken=");
        assert_non_null(tok);
        snprintf(path, sizeof path, "/api/jobs/%s/devices?$top=7&%.*s", id, (int)strcspn(tok, "&"),
                 tok);
    }
    fail_msg("too many pages");
}

static int blinks(int i)
{
    pthread_mutex_lock(&seen[i].mu);
    int n = seen[i].blinks;
    pthread_mutex_unlock(&seen[i].mu);
    return n;
}

static void reset_counts(void)
{
    for (int i = 0; i < N_DEV; i++) {
        pthread_mutex_lock(&seen[i].mu);
        seen[i].blinks = seen[i].brightness_writes = 0;
        pthread_mutex_unlock(&seen[i].mu);
    }
    pthread_mutex_lock(&conc_mu);
    max_in_handler = 0;
    pthread_mutex_unlock(&conc_mu);
}

static void test_property_job(void **state)
{
    (void)state;
    char st[N_DEV][16], err[N_DEV][200];
    reset_counts();
    /* the how-to's shape: type PropertyJobData, batch and threshold as percentages */
    assert_int_equal(admin("PUT", "/api/jobs/set-brightness",
                           "{\"displayName\":\"Set brightness\",\"group\":\"env\","
                           "\"batch\":{\"type\":\"number\",\"value\":5},"
                           "\"cancellationThreshold\":{\"type\":\"percentage\",\"value\":50,"
                           "\"batch\":false},"
                           "\"data\":[{\"type\":\"PropertyJobData\",\"target\":\"" TID "\","
                           "\"path\":\"brightness\",\"value\":2}]}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "id"), "set-brightness");
    assert_string_equal(capi_jstr(R.json, "group"), "env");
    assert_true(job_becomes("set-brightness", "complete", 20000));
    assert_int_equal((int)capi_jget(R.json, "progress.completed")->valuedouble, N_DEV);
    device_statuses("set-brightness", st, err);
    for (int i = 0; i < N_DEV; i++)
        assert_string_equal(st[i], "completed");
    /* every device got the value, once */
    for (int t = 0; t < 100; t++) {
        int got = 0;
        for (int i = 0; i < N_DEV; i++) {
            pthread_mutex_lock(&seen[i].mu);
            got += seen[i].last_brightness == 2;
            pthread_mutex_unlock(&seen[i].mu);
        }
        if (got == N_DEV)
            break;
        du_sleep_ms(100);
    }
    for (int i = 0; i < N_DEV; i++) {
        assert_int_equal(seen[i].last_brightness, 2);
        assert_int_equal(seen[i].brightness_writes, 1);
    }
    assert_int_equal(admin("GET", "/api/jobs", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "value.0.id"), "set-brightness");
}

static void test_command_job(void **state)
{
    (void)state;
    char st[N_DEV][16], err[N_DEV][200];
    reset_counts();
    /* the API spec's shape: type command */
    assert_int_equal(admin("PUT", "/api/jobs/blink-all",
                           "{\"displayName\":\"Blink\",\"group\":\"env\","
                           "\"batch\":{\"type\":\"number\",\"value\":5},"
                           "\"data\":[{\"type\":\"command\",\"target\":\"" TID "\","
                           "\"path\":\"blink\",\"value\":3}]}"),
                     200);
    assert_true(job_becomes("blink-all", "complete", 30000));
    device_statuses("blink-all", st, err);
    for (int i = 0; i < N_DEV; i++) {
        assert_string_equal(st[i], i == FAILING ? "failed" : "completed");
        assert_int_equal(blinks(i), 1);
    }
    assert_non_null(strstr(err[FAILING], "500"));
    /* at most a batch at once, and the batch was used */
    assert_int_equal(max_in_handler, 5);
    /* rerun: the failed device only */
    assert_int_equal(admin("PUT", "/api/jobs/blink-all/rerun/blink-again", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "rerunOf"), "blink-all");
    assert_true(job_becomes("blink-again", "failed", 20000));
    assert_int_equal((int)capi_jget(R.json, "progress.total")->valuedouble, 1);
    assert_int_equal(blinks(FAILING), 2);
    assert_int_equal(blinks(0), 1);
}

/* The cancellation threshold on the pump: one failure cancels the job; the devices not yet
 * started are "cancelled" (never sent the command). One device at a time, so which devices had
 * started when the failure came back does not depend on how fast each one answers. */
static void test_threshold_cancels(void **state)
{
    (void)state;
    char st[N_DEV][16], err[N_DEV][200];
    reset_counts();
    assert_int_equal(admin("PUT", "/api/jobs/blink-thr",
                           "{\"group\":\"env\",\"batch\":{\"type\":\"number\",\"value\":1},"
                           "\"cancellationThreshold\":{\"type\":\"number\",\"value\":1,"
                           "\"batch\":false},"
                           "\"data\":[{\"type\":\"command\",\"target\":\"" TID "\","
                           "\"path\":\"blink\",\"value\":1}]}"),
                     200);
    assert_true(job_becomes("blink-thr", "cancelled", 30000));
    du_sleep_ms(500); /* nothing more happens after the cancel */
    device_statuses("blink-thr", st, err);
    assert_string_equal(st[FAILING], "failed");
    int cancelled = 0, at = -1; /* in the job's order: done before the failure, none after */
    for (int n = 0; n < N_DEV; n++) {
        int i = listed[n];
        if (i == FAILING) {
            at = n;
        } else if (at < 0) {
            assert_string_equal(st[i], "completed");
            assert_int_equal(blinks(i), 1);
        } else {
            assert_string_equal(st[i], "cancelled");
            assert_non_null(strstr(err[i], "cancellation threshold"));
            assert_int_equal(blinks(i), 0);
            cancelled++;
        }
    }
    assert_int_equal(cancelled, N_DEV - 1 - at); /* none when the failing device came last */
    assert_int_equal(admin("GET", "/api/jobs/blink-thr", NULL), 200);
    assert_int_equal((int)capi_jget(R.json, "progress.cancelled")->valuedouble, cancelled);
}

static void test_stop_resume(void **state)
{
    (void)state;
    char st[N_DEV][16], err[N_DEV][200];
    reset_counts();
    handler_ms = 400;
    assert_int_equal(admin("PUT", "/api/jobs/slow-blink",
                           "{\"group\":\"env\",\"batch\":{\"type\":\"percentage\",\"value\":10},"
                           "\"data\":[{\"type\":\"CommandJobData\",\"target\":\"" TID "\","
                           "\"path\":\"blink\",\"value\":1}]}"),
                     200);
    assert_int_equal(admin("POST", "/api/jobs/slow-blink/stop", NULL), 204);
    assert_true(job_becomes("slow-blink", "stopped", 1000));
    assert_int_equal(admin("POST", "/api/jobs/slow-blink/stop", NULL), 409);
    du_sleep_ms(1500); /* the 2 in flight finish; nothing new starts */
    int total = 0;
    for (int i = 0; i < N_DEV; i++)
        total += blinks(i);
    assert_int_equal(total, 2);
    device_statuses("slow-blink", st, err);
    int pending = 0;
    for (int i = 0; i < N_DEV; i++)
        pending += strcmp(st[i], "pending") == 0;
    assert_int_equal(pending, N_DEV - 2);
    handler_ms = 20;
    assert_int_equal(admin("POST", "/api/jobs/slow-blink/resume", NULL), 204);
    assert_true(job_becomes("slow-blink", "complete", 30000));
    for (int i = 0; i < N_DEV; i++)
        assert_int_equal(blinks(i), 1);
    assert_int_equal(admin("POST", "/api/jobs/slow-blink/resume", NULL), 409);
    handler_ms = 100;
}

/* kill -9 in the middle of a command job: devices in flight are failed, never sent twice; the
 * others are done after the restart; then the same for a property job (written again). */
static void test_restart_mid_job(void **state)
{
    (void)state;
    char st[N_DEV][16], err[N_DEV][200];
    reset_counts();
    handler_ms = 600;
    assert_int_equal(admin("PUT", "/api/jobs/blink-restart",
                           "{\"group\":\"env\",\"batch\":{\"type\":\"number\",\"value\":5},"
                           "\"data\":[{\"type\":\"command\",\"target\":\"" TID "\","
                           "\"path\":\"blink\",\"value\":1}]}"),
                     200);
    du_sleep_ms(900); /* the first batch answered, the second in the handlers */
    du_kill_server(&srv);
    handler_ms = 50;
    assert_int_equal(du_restart_same_ports(&srv), 0);
    assert_true(job_becomes("blink-restart", "complete", 60000));
    device_statuses("blink-restart", st, err);
    int interrupted = 0, completed = 0;
    for (int i = 0; i < N_DEV; i++) {
        assert_true(blinks(i) <= 1); /* never twice */
        if (strcmp(st[i], "failed") == 0 && strstr(err[i], "interrupted by restart") != NULL) {
            interrupted++;
            continue;
        }
        if (i == FAILING && strcmp(st[i], "failed") == 0) {
            assert_int_equal(blinks(i), 1);
            continue;
        }
        assert_string_equal(st[i], "completed");
        assert_int_equal(blinks(i), 1); /* none skipped */
        completed++;
    }
    assert_true(interrupted >= 1 && interrupted <= 5);
    assert_int_equal(
        completed + interrupted +
            (strcmp(st[FAILING], "failed") == 0 && strstr(err[FAILING], "interrupted") == NULL),
        N_DEV);
    fprintf(stderr, "restart: %d interrupted, %d completed\n", interrupted, completed);

    /* a property job across a kill -9: everything written, the value is the job's */
    assert_int_equal(admin("PUT", "/api/jobs/bright-restart",
                           "{\"group\":\"env\",\"batch\":{\"type\":\"number\",\"value\":5},"
                           "\"data\":[{\"type\":\"property\",\"target\":\"" TID "\","
                           "\"path\":\"brightness\",\"value\":3}]}"),
                     200);
    du_kill_server(&srv);
    assert_int_equal(du_restart_same_ports(&srv), 0);
    assert_true(job_becomes("bright-restart", "complete", 30000));
    device_statuses("bright-restart", st, err);
    for (int i = 0; i < N_DEV; i++)
        assert_string_equal(st[i], "completed");
    handler_ms = 100;
}

/* Set job device rows to "started" in the stopped server's database, as a kill between the
 * "started" mark and the outcome leaves them. */
static void mark_started(const char *const *keys, size_t n)
{
    char path[400];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/central.db", srv.data_dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "UPDATE app_job_devices SET data = '{\"s\":1}' "
                                            "WHERE id = ?",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        assert_int_equal(sqlite3_changes(db), 1);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

/* The restart path for devices "started" without an outcome, made exact: the property write of
 * device 3 is done again (its desired version moves on), the command of device 4 is failed with
 * "interrupted by restart" and not sent again; nothing else is redone. */
static void test_restart_started_rows(void **state)
{
    (void)state;
    char st[N_DEV][16], err[N_DEV][200];
    handler_ms = 20;
    reset_counts();
    assert_int_equal(admin("PUT", "/api/jobs/bright-5",
                           "{\"group\":\"env\",\"data\":[{\"type\":\"property\",\"target\":\"" TID
                           "\",\"path\":\"brightness\",\"value\":5}]}"),
                     200);
    assert_true(job_becomes("bright-5", "complete", 20000));
    assert_int_equal(admin("PUT", "/api/jobs/blink-x",
                           "{\"group\":\"env\",\"data\":[{\"type\":\"command\",\"target\":\"" TID
                           "\",\"path\":\"blink\",\"value\":1}]}"),
                     200);
    assert_true(job_becomes("blink-x", "complete", 30000));
    for (int t = 0; t < 100; t++) {
        int got = 0;
        for (int i = 0; i < N_DEV; i++) {
            pthread_mutex_lock(&seen[i].mu);
            got += seen[i].last_brightness == 5;
            pthread_mutex_unlock(&seen[i].mu);
        }
        if (got == N_DEV)
            break;
        du_sleep_ms(100);
    }
    long version[4] = {0};
    for (int i = 2; i <= 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "job-dev-%02d", i);
        cJSON *tw = du_get_twin(&srv, id);
        assert_non_null(tw);
        const cJSON *v = du_twin_prop(tw, "desired", "$version");
        assert_true(cJSON_IsNumber(v));
        version[i] = (long)v->valuedouble;
        cJSON_Delete(tw);
    }
    assert_int_equal(th_central_stop(&srv), 0);
    const char *const keys[] = {"bright-5/job-dev-03", "blink-x/job-dev-04"};
    mark_started(keys, 2);
    reset_counts();
    assert_int_equal(du_restart_same_ports(&srv), 0);
    assert_true(job_becomes("bright-5", "complete", 20000));
    assert_true(job_becomes("blink-x", "complete", 20000));
    device_statuses("blink-x", st, err);
    assert_string_equal(st[4], "failed");
    assert_non_null(strstr(err[4], "interrupted by restart"));
    device_statuses("bright-5", st, err);
    assert_string_equal(st[3], "completed");
    /* device 3's write was done again (its desired version moved on), no other one's; no
     * device got a command */
    for (int i = 2; i <= 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "job-dev-%02d", i);
        cJSON *tw = du_get_twin(&srv, id);
        assert_non_null(tw);
        const cJSON *v = du_twin_prop(tw, "desired", "$version");
        assert_true(cJSON_IsNumber(v));
        assert_int_equal((long)v->valuedouble, version[i] + (i == 3));
        cJSON_Delete(tw);
    }
    du_sleep_ms(300);
    for (int i = 0; i < N_DEV; i++)
        assert_int_equal(blinks(i), 0);
    handler_ms = 100;
}

static void test_bad_input(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *says;
    } cases[] = {
        {"{\"data\":[]}", "$.group: required"},
        {"{\"group\":\"nope\",\"data\":[]}", "device group nope was not found"},
        {"{\"group\":\"env\"}", "$.data: required"},
        {"{\"group\":\"env\",\"data\":[{\"type\":\"cloudProperty\",\"target\":\"" TID
         "\",\"path\":\"x\",\"value\":1}]}",
         "'cloudProperty' is not supported"},
        {"{\"group\":\"env\",\"data\":[{\"type\":\"property\",\"target\":\"" TID
         "\",\"path\":\"brightness\"}]}",
         "$.data[0].value: required"},
        {"{\"group\":\"env\",\"data\":[{\"type\":\"property\",\"path\":\"brightness\","
         "\"value\":1}]}",
         "$.data[0].target"},
        {"{\"group\":\"env\",\"batch\":{\"type\":\"lots\",\"value\":1},\"data\":[{\"type\":"
         "\"command\",\"target\":\"t\",\"path\":\"blink\"}]}",
         "$.batch.type"},
        {"{\"group\":\"env\",\"batch\":{\"type\":\"percentage\",\"value\":150},\"data\":[{"
         "\"type\":\"command\",\"target\":\"t\",\"path\":\"blink\"}]}",
         "$.batch.value"},
        {"{\"group\":\"env\",\"data\":[{\"type\":\"command\",\"target\":\"t\",\"path\":\"a\"},"
         "{\"type\":\"command\",\"target\":\"t\",\"path\":\"b\"}]}",
         "one command"},
        {"{\"group\":\"env\",\"scheduledJobId\":\"s\",\"data\":[{\"type\":\"command\","
         "\"target\":\"t\",\"path\":\"a\"}]}",
         "$.scheduledJobId: not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(admin("PUT", "/api/jobs/bad", cases[i].body), 400);
        const char *msg = capi_jstr(R.json, "error.message");
        if (msg == NULL || strstr(msg, cases[i].says) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, msg ? msg : "(none)",
                     cases[i].says);
    }
    assert_int_equal(admin("GET", "/api/jobs/bad", NULL), 404);
    assert_string_equal(capi_jstr(R.json, "error.code"), "JobNotFound");
    assert_int_equal(admin("POST", "/api/jobs/bad/stop", NULL), 404);
    assert_int_equal(admin("PUT", "/api/jobs/set-brightness",
                           "{\"group\":\"env\",\"data\":[{\"type\":\"command\",\"target\":\"t\","
                           "\"path\":\"blink\"}]}"),
                     409);
    assert_int_equal(admin("POST", "/api/jobs/set-brightness/stop", NULL), 409);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_job),      cmocka_unit_test(test_command_job),
        cmocka_unit_test(test_threshold_cancels), cmocka_unit_test(test_stop_resume),
        cmocka_unit_test(test_restart_mid_job),   cmocka_unit_test(test_restart_started_rows),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
