/*
 * test_export_xf.c - an export destination's jq `transform` (export_transform.c) with the
 * example queries of IoT Central's transform documentation as vectors, and the pure part of
 * webhook@v1 `oauth` (export_oauth.c): definition checks, token request, token answer, reuse.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jq.h>

#include "central/export/export_fmt.h"
#include "central/export/export_oauth.h"
#include "central/export/export_transform.h"

/* A telemetry message as export_message_text writes it (IoT Central's default@v1), with the
 * values of the documentation's sample message. */
static const char *const MSG =
    "{\"applicationId\":\"0ne00000001\",\"messageSource\":\"telemetry\","
    "\"deviceId\":\"31edabe6\",\"schema\":\"default@v1\","
    "\"templateId\":\"urn:sbq3croo:modelDefinition:nf7st1wn3\","
    "\"enqueuedTime\":\"2021-03-23T19:55:56.971Z\","
    "\"telemetry\":{\"Acceleration\":{\"x\":19.212770659918583,\"y\":20.596296675217335,"
    "\"z\":54.04859440697045},\"RangeOfMotion\":110},"
    "\"messageProperties\":{\"prop1\":\"prop-value\"},"
    "\"enrichments\":{\"your-enrichment-key\":\"enrichment-value\"}}";

static void assert_json_text(const char *got, const char *want_text)
{
    cJSON *g = cJSON_Parse(got), *w = cJSON_Parse(want_text);
    assert_non_null(g);
    assert_non_null(w);
    if (!cJSON_Compare(g, w, true))
        fail_msg("got  %s\nwant %s", got, want_text);
    cJSON_Delete(g);
    cJSON_Delete(w);
}

/* Compile @p prog, run it on @p msg, check the outputs against @p want (n of them). */
static void run_vector(const char *prog, const char *msg, const char *const *want, size_t n)
{
    struct export_transform *t = NULL;
    char err[256] = "";
    if (export_transform_new(prog, &t, err, sizeof err) != 0)
        fail_msg("does not compile: %s\n%s", err, prog);
    struct export_transform_out out;
    if (export_transform_run(t, msg, strlen(msg), &out, err, sizeof err) != 0)
        fail_msg("run failed: %s\n%s", err, prog);
    assert_int_equal(out.n, n);
    for (size_t i = 0; i < n; i++)
        assert_json_text(out.text[i], want[i]);
    export_transform_out_free(&out);
    export_transform_free(t);
}

static void test_docs_examples(void **state)
{
    (void)state;
    /* Example 1: each telemetry value as its own message */
    const char *const ex1[] = {"{\"name\":\"Acceleration\",\"value\":{\"x\":19.212770659918583,"
                               "\"y\":20.596296675217335,\"z\":54.04859440697045}}",
                               "{\"name\":\"RangeOfMotion\",\"value\":110}"};
    run_vector(".telemetry[]", MSG, ex1, 2);
    /* Example 2: telemetry names as keys */
    const char *const ex2[] = {"{\"Acceleration\":{\"x\":19.212770659918583,"
                               "\"y\":20.596296675217335,\"z\":54.04859440697045},"
                               "\"RangeOfMotion\":110}"};
    run_vector(".telemetry | map({ key: .name, value: .value }) | from_entries", MSG, ex2, 1);
    /* Example 3: the iotc module, degrees to radians */
    const char *const ex3[] = {"{\"rangeOfMotion\":1.9198621771937625}"};
    run_vector("import \"iotc\" as iotc;\n{\n  rangeOfMotion: (\n    .telemetry\n"
               "    | iotc::find(.name == \"RangeOfMotion\").value\n"
               "    | . * 3.14159265358979323846 / 180\n  )\n}",
               MSG, ex3, 1);
    /* Example 4: a row */
    const char *const ex4[] = {"{\"deviceId\":\"31edabe6\",\"timestamp\":"
                               "\"2021-03-23T19:55:56.971Z\",\"rangeOfMotion\":110}"};
    run_vector("import \"iotc\" as iotc;\n{\n    deviceId: .deviceId,\n"
               "    timestamp: .enqueuedTime,\n"
               "    rangeOfMotion: .telemetry | iotc::find(.name == \"RangeOfMotion\").value\n}",
               MSG, ex4, 1);
    /* the module's find on its own, and `.` (the message as IoT Central's transform sees it) */
    const char *const find[] = {"{\"name\":\"RangeOfMotion\",\"value\":110}"};
    run_vector("import \"iotc\" as iotc; .telemetry | iotc::find(.name == \"RangeOfMotion\")", MSG,
               find, 1);
    const char *const dev[] = {
        "{\"id\":\"31edabe6\",\"templateId\":\"urn:sbq3croo:modelDefinition:nf7st1wn3\"}"};
    run_vector(".device", MSG, dev, 1);
}

static void test_docs_scenarios(void **state)
{
    (void)state;
    const char *msg =
        "{\"applicationId\":\"a\",\"messageSource\":\"telemetry\",\"deviceId\":\"oozrnl1zs857\","
        "\"schema\":\"default@v1\",\"templateId\":\"dtmi:modelDefinition:nhhbjotee:qytxnp8hi\","
        "\"enqueuedTime\":\"1933-01-26T03:10:44.480Z\",\"telemetry\":{"
        "\"t1\":1.1889838348731093e+308,\"t2\":1.4347093391531383e+308,"
        "\"t3\":2.9700885230380616e+307},\"messageProperties\":{},\"enrichments\":{}}";
    /* Scenario 1 (Azure Data Explorer row), with its trailing comma */
    const char *const s1[] = {"{\"T1\":1.1889838348731093e+308,\"T2\":1.4347093391531383e+308,"
                              "\"T3\":2.9700885230380616e+307,"
                              "\"Timestamp\":\"1933-01-26T03:10:44.480Z\","
                              "\"deviceId\":\"oozrnl1zs857\"}"};
    run_vector("import \"iotc\" as iotc;\n{\n  deviceId: .device.id,\n"
               "  Timestamp: .enqueuedTime,\n"
               "  T1: .telemetry | iotc::find(.name == \"t1\").value,\n"
               "  T2: .telemetry | iotc::find(.name == \"t2\").value,\n"
               "  T3: .telemetry | iotc::find(.name == \"t3\").value,\n}",
               msg, s1, 1);
    /* Scenario 2: one message broken into a message per sub-device */
    const char *msg2 =
        "{\"applicationId\":\"a\",\"messageSource\":\"telemetry\",\"deviceId\":\"9xwhr7khkfri\","
        "\"schema\":\"default@v1\",\"enqueuedTime\":\"1909-10-10T07:11:56.078Z\","
        "\"telemetry\":{\"data\":[{\"id\":\"subdevice1\",\"values\":{\"running\":true,"
        "\"cycleCount\":2315}},{\"id\":\"subdevice2\",\"values\":{\"running\":false,"
        "\"cycleCount\":824567}}],\"parentStatus\":\"healthy\"},"
        "\"messageProperties\":{},\"enrichments\":{}}";
    const char *const s2[] = {
        "{\"cycleCount\":2315,\"deviceId\":\"9xwhr7khkfri\",\"enqueuedTime\":"
        "\"1909-10-10T07:11:56.078Z\",\"parentStatus\":\"healthy\",\"running\":true,"
        "\"subdeviceId\":\"subdevice1\"}",
        "{\"cycleCount\":824567,\"deviceId\":\"9xwhr7khkfri\",\"enqueuedTime\":"
        "\"1909-10-10T07:11:56.078Z\",\"parentStatus\":\"healthy\",\"running\":false,"
        "\"subdeviceId\":\"subdevice2\"}"};
    run_vector("import \"iotc\" as iotc;\n{\n    enqueuedTime: .enqueuedTime,\n"
               "    deviceId: .device.id,\n"
               "    parentStatus: .telemetry | iotc::find(.name == \"parentStatus\").value\n"
               "} + (\n    .telemetry\n    | iotc::find(.name == \"data\").value[]\n"
               "    | {\n        subdeviceId: .id,\n        running: .values.running,\n"
               "        cycleCount: .values.cycleCount\n    }\n)",
               msg2, s2, 2);
}

static void test_transform_errors(void **state)
{
    (void)state;
    struct export_transform *t = NULL;
    char err[256] = "";
    /* does not compile: jq's own message */
    assert_int_equal(export_transform_new("{a: .b", &t, err, sizeof err), -1);
    assert_null(t);
    assert_non_null(strstr(err, "syntax error"));
    err[0] = '\0';
    assert_int_equal(export_transform_new("nosuchfunction(1)", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "nosuchfunction/1 is not defined"));
    /* another module than iotc cannot be loaded: there is no search path */
    err[0] = '\0';
    assert_int_equal(export_transform_new("import \"other\" as o; .", &t, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    /* iotc::find without the import is not defined */
    assert_int_equal(export_transform_new(".telemetry | iotc::find(.x)", &t, err, sizeof err), -1);

    struct export_transform_out out;
    /* a runtime error for one message */
    assert_int_equal(export_transform_new(".telemetry[0].value + 1", &t, err, sizeof err), 0);
    err[0] = '\0';
    assert_int_equal(export_transform_run(t, MSG, strlen(MSG), &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot be added"));
    assert_int_equal(out.n, 0);
    /* the same state serves the next message */
    const char *ok = "{\"telemetry\":{\"a\":1}}";
    assert_int_equal(export_transform_run(t, ok, strlen(ok), &out, err, sizeof err), 0);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.text[0], "2");
    export_transform_out_free(&out);
    /* input that is not an object */
    assert_int_equal(export_transform_run(t, "[1]", 3, &out, err, sizeof err), -1);
    assert_int_equal(export_transform_run(t, "{", 1, &out, err, sizeof err), -1);
    export_transform_free(t);
    /* too many outputs; none at all */
    assert_int_equal(export_transform_new("range(100)", &t, err, sizeof err), 0);
    assert_int_equal(export_transform_run(t, MSG, strlen(MSG), &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 32 outputs"));
    export_transform_free(t);
    assert_int_equal(export_transform_new("select(.deviceId == \"x\")", &t, err, sizeof err), 0);
    assert_int_equal(export_transform_run(t, MSG, strlen(MSG), &out, err, sizeof err), 0);
    assert_int_equal(out.n, 0);
    export_transform_free(t);
    /* error and halt_error are errors of that message */
    assert_int_equal(export_transform_new("error(\"bad one\")", &t, err, sizeof err), 0);
    assert_int_equal(export_transform_run(t, MSG, strlen(MSG), &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad one"));
    export_transform_free(t);
    assert_int_equal(export_transform_new("\"stop\" | halt_error", &t, err, sizeof err), 0);
    assert_int_equal(export_transform_run(t, MSG, strlen(MSG), &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "stop"));
    export_transform_free(t);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *halt_later(void *arg)
{
    struct timespec d = {0, 50 * 1000000L};
    nanosleep(&d, NULL);
    jq_halt(arg, jv_invalid(), jv_invalid());
    return NULL;
}

/* What the time budget relies on, checked on the installed libjq rather than its header: a
 * jq_halt from another thread stops a jq_next that never returns on its own, jq_next then
 * answers invalid without a message, and jq_start clears the halt for the next input. */
static void test_libjq_halt(void **state)
{
    (void)state;
    jq_state *jq = jq_init();
    assert_non_null(jq);
    assert_true(jq_compile(jq, "if . == 0 then (def f: f; f) else . + 1 end"));
    jq_start(jq, jv_number(0), 0);
    assert_false(jq_halted(jq));
    pthread_t th;
    double t0 = now_ms();
    assert_int_equal(pthread_create(&th, NULL, halt_later, jq), 0);
    jv v = jq_next(jq); /* returns only because of the other thread */
    pthread_join(th, NULL);
    assert_true(now_ms() - t0 >= 50.0);
    assert_false(jv_is_valid(v));
    assert_false(jv_invalid_has_msg(v));
    assert_true(jq_halted(jq));
    jv_free(v);
    jq_start(jq, jv_number(1), 0);
    assert_false(jq_halted(jq));
    v = jq_next(jq);
    assert_int_equal(jv_get_kind(v), JV_KIND_NUMBER);
    assert_true(jv_number_value(v) == 2.0);
    jv_free(v);
    jq_teardown(&jq);
}

/* Runaway programs: each run is stopped at its budget with a clear error, and the same compiled
 * transform serves the next message normally. */
static void test_transform_budget(void **state)
{
    (void)state;
    enum { TIME = 1, MEMORY = 2, EITHER = 3 };
#ifdef __SANITIZE_ADDRESS__
    const int memory = EITHER; /* ASan's allocator is not the heap mallinfo2 reports */
#else
    const int memory = MEMORY;
#endif
    const struct {
        const char *prog;
        int stop;
    } runaway[] = {
        {"def f: f; f", TIME},                              /* loops without allocating */
        {"[range(1e12)]", TIME},                            /* allocates slowly as it goes */
        {"def f: 1 + f; f", EITHER},                        /* jq's stack grows: near the line */
        {"last(repeat(.))", TIME},                          /* a generator without end */
        {"\"a\" | until(false; . + \"a\" | .[0:1])", TIME}, /* a loop of builtins */
        {"\"x\" | until(false; . + .)", memory},            /* a string doubling */
    };
    const char *ok1 = "{\"telemetry\":{\"n\":1}}", *ok2 = "{\"telemetry\":{\"n\":2}}";
    const char *bad = "{\"telemetry\":{\"loop\":true}}";
    char prog[256], err[256];
    struct export_transform_out out;
    for (size_t i = 0; i < sizeof runaway / sizeof runaway[0]; i++) {
        struct export_transform *t = NULL;
        snprintf(prog, sizeof prog,
                 "if .telemetry[0].name == \"loop\" then (%s) else {n: "
                 ".telemetry[0].value} end",
                 runaway[i].prog);
        if (export_transform_new(prog, &t, err, sizeof err) != 0)
            fail_msg("%s: %s", prog, err);
        assert_int_equal(export_transform_run(t, ok1, strlen(ok1), &out, err, sizeof err), 0);
        assert_int_equal(out.n, 1);
        assert_string_equal(out.text[0], "{\"n\":1}");
        export_transform_out_free(&out);
        double t0 = now_ms();
        err[0] = '\0';
        assert_int_equal(export_transform_run(t, bad, strlen(bad), &out, err, sizeof err),
                         EXPORT_TRANSFORM_STOPPED);
        double took = now_ms() - t0;
        assert_int_equal(out.n, 0);
        int got = strcmp(err, "stopped after 100 ms") == 0                  ? TIME
                  : strcmp(err, "stopped after using more than 64 MB") == 0 ? MEMORY
                                                                            : 0;
        if ((got & runaway[i].stop) == 0)
            fail_msg("%s: %s", runaway[i].prog, err);
        /* not before the budget; the upper bound is generous for a loaded machine */
        if ((got == TIME && took < EXPORT_TRANSFORM_BUDGET_MS) || took > 5000)
            fail_msg("%s: stopped after %.1f ms", runaway[i].prog, took);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        print_message("%-42s %s after %6.1f ms, peak RSS so far %ld kB\n", runaway[i].prog, err,
                      took, ru.ru_maxrss);
        assert_int_equal(export_transform_run(t, ok2, strlen(ok2), &out, err, sizeof err), 0);
        assert_int_equal(out.n, 1);
        assert_string_equal(out.text[0], "{\"n\":2}");
        export_transform_out_free(&out);
        export_transform_free(t);
    }
    /* halt and halt_error are errors of the message, as before (the watchdog alone halts) */
    struct export_transform *t = NULL;
    assert_int_equal(export_transform_new("halt", &t, err, sizeof err), 0);
    assert_int_equal(export_transform_run(t, ok1, strlen(ok1), &out, err, sizeof err), -1);
    assert_string_equal(err, "halted");
    export_transform_free(t);
    assert_int_equal(export_transform_new("{a: 1} | halt_error(1)", &t, err, sizeof err), 0);
    assert_int_equal(export_transform_run(t, ok1, strlen(ok1), &out, err, sizeof err), -1);
    assert_string_equal(err, "halted: {\"a\":1}");
    export_transform_free(t);
}

struct budget_job {
    struct export_transform *t;
    int rc;
    char err[256];
};

static void *run_runaway(void *arg)
{
    struct budget_job *j = arg;
    struct export_transform_out out;
    const char *bad = "{\"telemetry\":{\"loop\":true}}";
    j->rc = export_transform_run(j->t, bad, strlen(bad), &out, j->err, sizeof j->err);
    return NULL;
}

/* Several runs at once on different threads (one transform each): every one is stopped, each
 * at its own deadline, and the watchdog survives its last transform being freed and a new one
 * being compiled. */
static void test_transform_budget_threads(void **state)
{
    (void)state;
    enum { N = 4 };
    for (int round = 0; round < 2; round++) {
        struct budget_job jobs[N];
        pthread_t th[N];
        char err[256];
        for (int i = 0; i < N; i++) {
            memset(&jobs[i], 0, sizeof jobs[i]);
            assert_int_equal(export_transform_new(".telemetry[0].name as $x | def f: f; f",
                                                  &jobs[i].t, err, sizeof err),
                             0);
        }
        for (int i = 0; i < N; i++)
            assert_int_equal(pthread_create(&th[i], NULL, run_runaway, &jobs[i]), 0);
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(jobs[i].rc, EXPORT_TRANSFORM_STOPPED);
            assert_string_equal(jobs[i].err, "stopped after 100 ms");
            export_transform_free(jobs[i].t);
        }
    }
}

static atomic_bool spin_stop;

static void *spin(void *arg)
{
    (void)arg;
    while (!atomic_load(&spin_stop))
        ;
    return NULL;
}

struct cpu_job {
    struct export_transform *t;
    int rc;
    char err[256];
    double cpu_ms, wall_ms;
};

static void *run_measured(void *arg)
{
    struct cpu_job *j = arg;
    struct export_transform_out out;
    struct timespec c0, c1;
    double t0 = now_ms();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    j->rc = export_transform_run(j->t, "{}", 2, &out, j->err, sizeof j->err);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    j->wall_ms = now_ms() - t0;
    j->cpu_ms = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
    return NULL;
}

/* The budget is the running thread's CPU time: with two busy threads on the same CPU the run
 * gets about a third of it, and is still stopped only after using its 100 ms (a budget on the
 * clock would stop it after about 33 ms of work). */
static void test_transform_budget_cpu(void **state)
{
    (void)state;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
    struct cpu_job j = {0};
    char err[256];
    assert_int_equal(export_transform_new("def f: f; f", &j.t, err, sizeof err), 0);
    pthread_t sp[2], runner;
    atomic_store(&spin_stop, false);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&sp[i], NULL, spin, NULL), 0);
        assert_int_equal(pthread_setaffinity_np(sp[i], sizeof one, &one), 0);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    assert_int_equal(pthread_attr_setaffinity_np(&attr, sizeof one, &one), 0);
    assert_int_equal(pthread_create(&runner, &attr, run_measured, &j), 0);
    pthread_attr_destroy(&attr);
    pthread_join(runner, NULL);
    atomic_store(&spin_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(sp[i], NULL);
    export_transform_free(j.t);
    print_message("sharing a CPU with two busy threads: stopped after %.1f ms of CPU, %.1f ms "
                  "of wall time\n",
                  j.cpu_ms, j.wall_ms);
    assert_int_equal(j.rc, EXPORT_TRANSFORM_STOPPED);
    assert_string_equal(j.err, "stopped after 100 ms");
    /* the thread clock ticks in at most a few ms; the run was not cut short by the wall clock */
    if (j.cpu_ms < EXPORT_TRANSFORM_BUDGET_MS - 5 || j.wall_ms > 10000)
        fail_msg("stopped after %.1f ms of CPU, %.1f ms of wall time", j.cpu_ms, j.wall_ms);
}

static void test_transform_source(void **state)
{
    (void)state;
    char err[64];
    char *s = export_transform_source("import \"iotc\" as iotc; .a | iotc::find(.b)", err, 64);
    assert_string_equal(s, "def _iotc_find(f): .[] | select(f); .a | _iotc_find(.b)");
    free(s);
    /* comments and line breaks inside the directive; strings and comments left alone */
    s = export_transform_source("# t\nimport # c\n \"iotc\"\n as iotc ;\n"
                                "\"iotc::find\" + (.x|iotc::find(.)) # iotc::find\n",
                                err, 64);
    assert_string_equal(s, "# t\ndef _iotc_find(f): .[] | select(f);\n"
                           "\"iotc::find\" + (.x|_iotc_find(.)) # iotc::find\n");
    free(s);
    /* no import: nothing renamed; a longer name is not the module's */
    s = export_transform_source(".a | iotc::find(.b)", err, 64);
    assert_string_equal(s, ".a | iotc::find(.b)");
    free(s);
    s = export_transform_source("import \"iotc\" as iotc; myiotc::find | iotc::findall", err, 64);
    assert_string_equal(s, "def _iotc_find(f): .[] | select(f); myiotc::find | iotc::findall");
    free(s);
    char *big = malloc(EXPORT_TRANSFORM_MAX_TEXT + 2);
    memset(big, ' ', EXPORT_TRANSFORM_MAX_TEXT + 1);
    big[EXPORT_TRANSFORM_MAX_TEXT + 1] = '\0';
    assert_null(export_transform_source(big, err, sizeof err));
    assert_non_null(strstr(err, "longer than"));
    free(big);
}

/* ---------------------------------------------------------------- oauth */

static int check_dest(const char *json, char *err, size_t n)
{
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    int rc = export_check_destination(o, err, n);
    cJSON_Delete(o);
    return rc;
}

#define WH "{\"displayName\":\"d\",\"type\":\"webhook@v1\",\"url\":\"http://127.0.0.1:1/h\","

static void test_oauth_check(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(check_dest(WH "\"authorization\":{\"type\":\"oauth\",\"tokenUrl\":"
                                   "\"https://login.example.net/t\",\"clientId\":\"c\","
                                   "\"clientSecret\":\"s\",\"audience\":\"a\",\"scope\":\"x y\","
                                   "\"requestType\":\"json\"}}",
                                err, sizeof err),
                     0);
    static const struct {
        const char *auth, *field;
    } bad[] = {
        {"{\"type\":\"oauth\",\"clientId\":\"c\",\"clientSecret\":\"s\"}",
         "authorization.tokenUrl: required"},
        {"{\"type\":\"oauth\",\"tokenUrl\":\"login/token\",\"clientId\":\"c\","
         "\"clientSecret\":\"s\"}",
         "authorization.tokenUrl: not an absolute"},
        {"{\"type\":\"oauth\",\"tokenUrl\":\"ftp://x/t\",\"clientId\":\"c\","
         "\"clientSecret\":\"s\"}",
         "authorization.tokenUrl: not an absolute"},
        {"{\"type\":\"oauth\",\"tokenUrl\":\"http://x/t\",\"clientSecret\":\"s\"}",
         "authorization.clientId:"},
        {"{\"type\":\"oauth\",\"tokenUrl\":\"http://x/t\",\"clientId\":\"c\"}",
         "authorization.clientSecret:"},
        {"{\"type\":\"oauth\",\"tokenUrl\":\"http://x/t\",\"clientId\":\"c\","
         "\"clientSecret\":\"\"}",
         "authorization.clientSecret:"},
        {"{\"type\":\"oauth\",\"tokenUrl\":\"http://x/t\",\"clientId\":\"c\","
         "\"clientSecret\":\"s\",\"scope\":3}",
         "authorization.scope:"},
        {"{\"type\":\"oauth\",\"tokenUrl\":\"http://x/t\",\"clientId\":\"c\","
         "\"clientSecret\":\"s\",\"requestType\":\"xml\"}",
         "authorization.requestType:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, WH "\"authorization\":%s}", bad[i].auth);
        err[0] = '\0';
        assert_int_equal(check_dest(body, err, sizeof err), -1);
        if (strstr(err, bad[i].field) == NULL)
            fail_msg("case %zu: got '%s', want '%s'", i, err, bad[i].field);
    }
}

static void test_oauth_request(void **state)
{
    (void)state;
    cJSON *a =
        cJSON_Parse("{\"type\":\"oauth\",\"tokenUrl\":\"http://x/t\",\"clientId\":\"my app\","
                    "\"clientSecret\":\"p&ss=w%rd\",\"scope\":\"https://x/.default\"}");
    const char *ct = NULL;
    char *b = export_oauth_request_body(a, &ct);
    assert_string_equal(ct, "application/x-www-form-urlencoded");
    assert_string_equal(b, "grant_type=client_credentials&client_id=my%20app&client_secret="
                           "p%26ss%3Dw%25rd&scope=https%3A%2F%2Fx%2F.default");
    free(b);
    cJSON_AddStringToObject(a, "requestType", "json");
    cJSON_AddStringToObject(a, "audience", "urn:aud");
    b = export_oauth_request_body(a, &ct);
    assert_string_equal(ct, "application/json");
    assert_json_text(b, "{\"grant_type\":\"client_credentials\",\"client_id\":\"my app\","
                        "\"client_secret\":\"p&ss=w%rd\",\"audience\":\"urn:aud\","
                        "\"scope\":\"https://x/.default\"}");
    free(b);
    cJSON_Delete(a);
}

static void test_oauth_token(void **state)
{
    (void)state;
    char h[128], err[128];
    int64_t exp = 0;
    const char *t1 = "{\"access_token\":\"abc.def\",\"token_type\":\"bearer\",\"expires_in\":120}";
    assert_int_equal(export_oauth_parse_token(t1, strlen(t1), h, sizeof h, &exp, err, 128), 0);
    assert_string_equal(h, "Bearer abc.def");
    assert_int_equal(exp, 120);
    const char *t2 = "{\"access_token\":\"x\",\"expires_in\":\"3599\"}"; /* Azure AD v1 */
    assert_int_equal(export_oauth_parse_token(t2, strlen(t2), h, sizeof h, &exp, err, 128), 0);
    assert_string_equal(h, "Bearer x");
    assert_int_equal(exp, 3599);
    const char *t3 = "{\"access_token\":\"x\"}";
    assert_int_equal(export_oauth_parse_token(t3, strlen(t3), h, sizeof h, &exp, err, 128), 0);
    assert_int_equal(exp, 3600);
    const char *t4 = "{\"access_token\":\"x\",\"expires_in\":0.5}";
    assert_int_equal(export_oauth_parse_token(t4, strlen(t4), h, sizeof h, &exp, err, 128), 0);
    assert_int_equal(exp, 1);
    static const char *const bad[] = {"not json",
                                      "{\"token_type\":\"Bearer\"}",
                                      "{\"access_token\":\"a\\r\\nX-Evil: 1\"}",
                                      "{\"access_token\":\"a b\"}",
                                      "{\"access_token\":\"a\",\"expires_in\":-5}",
                                      "{\"access_token\":\"a\",\"token_type\":7}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            export_oauth_parse_token(bad[i], strlen(bad[i]), h, sizeof h, &exp, err, 128), -1);
        assert_true(err[0] != '\0');
        assert_null(strstr(err, "X-Evil")); /* the answer is never quoted */
    }
    assert_int_equal(export_oauth_use_ms(3600), 3540000);
    assert_int_equal(export_oauth_use_ms(100), 90000);
    assert_int_equal(export_oauth_use_ms(1), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_examples),
        cmocka_unit_test(test_docs_scenarios),
        cmocka_unit_test(test_transform_errors),
        cmocka_unit_test(test_transform_source),
        cmocka_unit_test(test_oauth_check),
        cmocka_unit_test(test_oauth_request),
        cmocka_unit_test(test_oauth_token),
        cmocka_unit_test(test_libjq_halt),
        cmocka_unit_test(test_transform_budget),
        cmocka_unit_test(test_transform_budget_threads),
        cmocka_unit_test(test_transform_budget_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
