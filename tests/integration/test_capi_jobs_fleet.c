/*
 * test_capi_jobs_fleet.c - a property job over a large device group (500 devices created through
 * /api/devices with the environmental sensor's template, not connected: their desired
 * properties are written, as IoT Central's jobs do for offline devices), run by the server's
 * job pump: the PUT answers before the job has written anything, the server answers other
 * requests while the job runs, every device gets its own status, and a kill -9 in the middle
 * of the job loses nothing and writes nothing twice (each device's desired $version moves by
 * exactly one across the restart).
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
#define N_DEV 500

static struct th_central srv;
static struct capi_resp R;

static long admin(const char *method, const char *path, const char *body)
{
    return capi_call(srv.ca_path, srv.https_port, srv.admin_token, method, path, body, 15000, &R);
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
        admin("PUT", "/api/deviceGroups/fleet",
              "{\"displayName\":\"Fleet\",\"filter\":\"SELECT * FROM devices WHERE $template = "
              "\\\"" TID "\\\"\"}") != 200)
        return -1;
    for (int i = 0; i < N_DEV; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/devices/fleet-%03d", i);
        if (admin("PUT", path, "{\"displayName\":\"Fleet device\",\"template\":\"" TID "\"}") !=
            200) {
            fprintf(stderr, "device %d: %s\n", i, R.body ? R.body : "(no answer)");
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    capi_resp_free(&R);
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

static int progress(const char *what)
{
    const cJSON *v = capi_jget(R.json, what);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
}

/* Poll GET /api/jobs/{id} until its status is @p want (R holds it). */
static bool job_becomes(const char *id, const char *want, int timeout_ms)
{
    char path[200];
    snprintf(path, sizeof path, "/api/jobs/%s", id);
    for (int t = 0; t < timeout_ms; t += 50) {
        if (admin("GET", path, NULL) == 200 && strcmp(capi_jstr(R.json, "status"), want) == 0)
            return true;
        du_sleep_ms(50);
    }
    fprintf(stderr, "job %s: status %s, wanted %s\n", id,
            R.json ? capi_jstr(R.json, "status") : "?", want);
    return false;
}

/* Every device's status in the job (all pages of GET /api/jobs/{id}/devices) is "completed". */
static void all_completed(const char *id)
{
    char path[300];
    static bool seen[N_DEV];
    int n = 0;
    memset(seen, 0, sizeof seen);
    snprintf(path, sizeof path, "/api/jobs/%s/devices?$top=100", id);
    for (int page = 0; page < 20; page++) {
        assert_int_equal(admin("GET", path, NULL), 200);
        const cJSON *v;
        cJSON_ArrayForEach(v, capi_jget(R.json, "value"))
        {
            int k = (int)strtol(capi_jstr(v, "id") + strlen("fleet-"), NULL, 10);
            assert_true(k >= 0 && k < N_DEV);
            assert_false(seen[k]);
            seen[k] = true;
            n++;
            if (strcmp(capi_jstr(v, "status"), "completed") != 0)
                fail_msg("device %d: %s", k, capi_jstr(v, "status"));
        }
        const char *next = capi_jstr(R.json, "nextLink");
        if (next == NULL) {
            assert_int_equal(n, N_DEV);
            return;
        }
        const char *tok = strstr(next, "$skiptoken=");
        assert_non_null(tok);
        snprintf(path, sizeof path, "/api/jobs/%s/devices?$top=100&%.*s", id,
                 (int)strcspn(tok, "&"), tok);
    }
    fail_msg("too many pages");
}

/* Every device's desired $version into @p version, and its desired brightness (-1: none):
 * one IoT Hub service query (the registry's twins, up to 1000 a page). */
static void read_twins(long version[N_DEV], long brightness[N_DEV])
{
    struct th_http_response r;
    for (int i = 0; i < N_DEV; i++)
        version[i] = brightness[i] = -2;
    assert_int_equal(th_https(&srv, "POST", "/devices/query?api-version=2021-04-12",
                              "Content-Type: application/json\r\nx-ms-max-item-count: 1000\r\n",
                              "{\"query\":\"SELECT * FROM devices\"}", true, 20000, &r),
                     0);
    assert_int_equal(r.status, 200);
    cJSON *arr = cJSON_Parse(r.body);
    free(r.body);
    assert_true(cJSON_IsArray(arr));
    const cJSON *tw;
    cJSON_ArrayForEach(tw, arr)
    {
        const char *id = capi_jstr(tw, "deviceId");
        assert_non_null(id);
        if (strncmp(id, "fleet-", 6) != 0)
            continue;
        int k = (int)strtol(id + 6, NULL, 10);
        assert_true(k >= 0 && k < N_DEV);
        const cJSON *v = du_twin_prop(tw, "desired", "$version");
        const cJSON *b = du_twin_prop(tw, "desired", "brightness");
        assert_true(cJSON_IsNumber(v));
        version[k] = (long)v->valuedouble;
        brightness[k] = cJSON_IsNumber(b) ? (long)b->valuedouble : -1;
    }
    cJSON_Delete(arr);
    for (int i = 0; i < N_DEV; i++) {
        if (version[i] == -2)
            fail_msg("device fleet-%03d is not in the query's answer", i);
    }
}

static long version0[N_DEV], bright0[N_DEV], version1[N_DEV], bright1[N_DEV];

/* The PUT answers at once (nothing written yet); the server answers other requests while the
 * job runs (some answers see it part-way); every device ends "completed", written once. */
static void test_large_property_job(void **state)
{
    (void)state;
    read_twins(version0, bright0);
    int64_t t0 = du_now_ms();
    assert_int_equal(admin("PUT", "/api/jobs/fleet-bright",
                           "{\"displayName\":\"Brightness 7\",\"group\":\"fleet\","
                           "\"batch\":{\"type\":\"number\",\"value\":1},"
                           "\"data\":[{\"type\":\"PropertyJobData\",\"target\":\"" TID "\","
                           "\"path\":\"brightness\",\"value\":7}]}"),
                     200);
    int64_t t_put = du_now_ms() - t0; /* reported, not asserted: a loaded machine */
    fprintf(stderr, "large job: PUT answered in %lld ms (status %s)\n", (long long)t_put,
            capi_jstr(R.json, "status"));
    assert_string_equal(capi_jstr(R.json, "status"), "running");
    assert_int_equal(progress("progress.total"), N_DEV);
    assert_int_equal(progress("progress.completed"), 0);
    assert_true(progress("progress.running") <= 1);
    int answered = 0, part_way = 0, last = -1;
    for (int t = 0; t < 2000; t++) {
        /* another request, then the job: both answered while it runs */
        assert_int_equal(admin("GET", "/api/devices/fleet-499", NULL), 200);
        assert_int_equal(admin("GET", "/api/jobs/fleet-bright", NULL), 200);
        answered++;
        int done = progress("progress.completed");
        assert_true(done >= last); /* progress never goes back */
        assert_true(progress("progress.running") <= 1);
        last = done;
        if (strcmp(capi_jstr(R.json, "status"), "complete") == 0)
            break;
        assert_string_equal(capi_jstr(R.json, "status"), "running");
        part_way += done > 0 && done < N_DEV;
        du_sleep_ms(5);
    }
    fprintf(stderr, "large job: %d answers while it ran, %d of them part-way; done in %lld ms\n",
            answered, part_way, (long long)(du_now_ms() - t0));
    assert_string_equal(capi_jstr(R.json, "status"), "complete");
    assert_int_equal(progress("progress.completed"), N_DEV);
    assert_true(part_way >= 1);
    assert_non_null(capi_jstr(R.json, "end"));
    all_completed("fleet-bright");
    read_twins(version1, bright1);
    for (int i = 0; i < N_DEV; i++) {
        assert_int_equal(bright1[i], 7);
        assert_int_equal(version1[i], version0[i] + 1); /* written once */
    }
}

/* kill -9 while the job runs (at least 50 devices written, not all): after the restart the job
 * completes, every device is "completed", and each device's desired version moved by exactly
 * one (none written twice, none skipped). */
static void test_restart_mid_property_job(void **state)
{
    (void)state;
    read_twins(version0, bright0);
    assert_int_equal(admin("PUT", "/api/jobs/fleet-restart",
                           "{\"group\":\"fleet\",\"batch\":{\"type\":\"number\",\"value\":1},"
                           "\"data\":[{\"type\":\"property\",\"target\":\"" TID "\","
                           "\"path\":\"brightness\",\"value\":8}]}"),
                     200);
    int done = 0;
    for (int t = 0; t < 2000 && done < 50; t++) {
        assert_int_equal(admin("GET", "/api/jobs/fleet-restart", NULL), 200);
        done = progress("progress.completed");
    }
    assert_string_equal(capi_jstr(R.json, "status"), "running");
    du_kill_server(&srv);
    fprintf(stderr, "restart: killed with %d of %d devices seen completed\n", done, N_DEV);
    assert_true(done >= 50 && done < N_DEV);
    assert_int_equal(du_restart_same_ports(&srv), 0);
    assert_true(job_becomes("fleet-restart", "complete", 60000));
    assert_int_equal(progress("progress.completed"), N_DEV);
    all_completed("fleet-restart");
    read_twins(version1, bright1);
    for (int i = 0; i < N_DEV; i++) {
        if (bright1[i] != 8 || version1[i] != version0[i] + 1)
            fail_msg("device %d: brightness %ld, desired version %ld -> %ld", i, bright1[i],
                     version0[i], version1[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_property_job),
        cmocka_unit_test(test_restart_mid_property_job),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
