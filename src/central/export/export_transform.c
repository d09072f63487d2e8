/*
 * export_transform.c - an export destination's jq transform (see export_transform.h): the
 * `iotc` module rewrite (pure), compiling with libjq, one run per message, and the watchdog
 * thread that stops a run past its time budget.
 */
#include "central/export/export_transform.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jq.h>
#include <jv.h>

#include "central/export/export_fmt.h"

struct export_transform {
    jq_state *jq;
    bool watched;  /* counted in the watchdog's users */
    char err[256]; /* what the error callback last reported */
};

/* ---------------------------------------------------------------- the iotc module */

/* IoT Central's module has one function: find(f), the elements of the input array for which f
 * holds. The directive becomes its definition; `iotc::find` calls are renamed to it. */
#define IOTC_FIND_DEF "def _iotc_find(f): .[] | select(f);"
#define IOTC_FIND_CALL "_iotc_find"

static const char *skip_space(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p != '#')
            return p;
        while (*p != '\0' && *p != '\n')
            p++;
    }
}

static bool word_at(const char *p, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(p, w, n) != 0)
        return false;
    char c = p[n];
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_');
}

/* Length of `import "iotc" as iotc;` at @p p (comments and spaces allowed between), or 0. */
static size_t iotc_import_len(const char *p)
{
    const char *q = p;
    if (!word_at(q, "import"))
        return 0;
    q = skip_space(q + 6);
    if (strncmp(q, "\"iotc\"", 6) != 0)
        return 0;
    q = skip_space(q + 6);
    if (!word_at(q, "as"))
        return 0;
    q = skip_space(q + 2);
    if (!word_at(q, "iotc"))
        return 0;
    q = skip_space(q + 4);
    if (*q != ';')
        return 0;
    return (size_t)(q + 1 - p);
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

char *export_transform_source(const char *text, char *err, size_t err_size)
{
    size_t len = strlen(text);
    if (len > EXPORT_TRANSFORM_MAX_TEXT) {
        export_fail(err, err_size, "longer than %d characters", EXPORT_TRANSFORM_MAX_TEXT);
        return NULL;
    }
    /* each rename shortens ("iotc::find" is 10, "_iotc_find" 10) or keeps the length; the
     * directive (at least 22 characters) becomes the definition (36) at most once */
    size_t cap = len + sizeof IOTC_FIND_DEF + 1;
    char *out = malloc(cap);
    if (out == NULL) {
        export_fail(err, err_size, "out of memory");
        return NULL;
    }
    size_t o = 0;
    const char *p = text;
    bool in_string = false, imported = false;
    while (*p != '\0') {
        if (in_string) {
            if (*p == '\\' && p[1] != '\0') {
                out[o++] = *p++;
            } else if (*p == '"') {
                in_string = false;
            }
            out[o++] = *p++;
            continue;
        }
        if (*p == '"') {
            in_string = true;
            out[o++] = *p++;
            continue;
        }
        if (*p == '#') {
            while (*p != '\0' && *p != '\n')
                out[o++] = *p++;
            continue;
        }
        bool at_word = p == text || !ident_char(p[-1]);
        size_t imp = !imported && at_word ? iotc_import_len(p) : 0;
        if (imp > 0) {
            memcpy(out + o, IOTC_FIND_DEF, sizeof IOTC_FIND_DEF - 1);
            o += sizeof IOTC_FIND_DEF - 1;
            p += imp;
            imported = true;
            continue;
        }
        if (imported && at_word && strncmp(p, "iotc::find", 10) == 0 && !ident_char(p[10])) {
            memcpy(out + o, IOTC_FIND_CALL, sizeof IOTC_FIND_CALL - 1);
            o += sizeof IOTC_FIND_CALL - 1;
            p += 10;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    return out;
}

/* ---------------------------------------------------------------- the budget: time and memory */

/*
 * jq 1.6 has no step limit, but jq_next() tests the state's `halted` flag before every
 * instruction and jq_halt() sets it; jq_start() clears it again (test_export_xf checks all three
 * on the installed libjq). So one watchdog thread for the process stops a run that outlives its
 * budget: the runner arms a watch (its jq state, a deadline) after jq_start and disarms it after
 * its last jq_next, both under wd.mu; the watchdog calls jq_halt under wd.mu, and only on an
 * armed watch, so it never touches a state that is freed or being reset (jq_start resets the
 * halt and frees its reason: arming before it would let the two meet).
 *
 * jq_halt asserts that the state is not halted yet, and a program could halt itself at the same
 * moment (`halt`, `halt_error`, the only other callers): the compiled program shadows both with
 * jq errors (HALT_DEFS), so while a watch is armed only the watchdog can halt that state.
 *
 * Memory: jq has no allocation hook either, so the watchdog samples the process's heap in use
 * (mallinfo2) at each tick (MEM_TICK_MS) while a run lasts, and stops the run once the heap has
 * grown by more than EXPORT_TRANSFORM_MEMORY_MB since the first sample. A run is first sampled
 * at the first tick that finds it armed, so short runs (nearly all) are rarely sampled at all.
 * The heap is the process's: other threads' allocations count too; a transform would have to
 * run far longer than any sane one (ms, not µs) while they allocate that much.
 *
 * The watchdog wakes at the earliest deadline or tick; with nothing armed it ticks on while runs
 * keep coming (so arming needs no wake-up), and sleeps until signalled once they stop. The
 * thread exists while at least one compiled transform does.
 */
#define MEM_TICK_MS 5

enum stop { STOP_NONE, STOP_TIME, STOP_MEMORY };

struct watch {
    jq_state *jq;
    clockid_t cpu;             /* the running thread's CPU clock */
    struct timespec cpu_start; /* its reading when the run began */
    struct timespec deadline;  /* on CLOCK_MONOTONIC: when to look at the CPU clock next */
    size_t heap_base;          /* heap in use at the first sample (heap_known) */
    bool heap_known;
    enum stop fired; /* whether and why the watchdog halted this run */
    struct watch *prev, *next;
};

static struct {
    pthread_mutex_t life; /* serialises starting and stopping the thread; guards users */
    size_t users;         /* live compiled transforms */
    pthread_t thread;
    pthread_mutex_t mu; /* guards everything below and every armed watch */
    pthread_cond_t cv;  /* on CLOCK_MONOTONIC */
    bool cv_ready, stop, idle;
    struct watch *armed;
    uint64_t arms, arms_seen;
    struct timespec wake_at; /* when the watchdog wakes next (unless idle) */
} wd = {.life = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER};

static void ts_add_ms(struct timespec *ts, long ms)
{
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static long ts_diff_ms(const struct timespec *later, const struct timespec *earlier)
{
    return (long)(later->tv_sec - earlier->tv_sec) * 1000 +
           (later->tv_nsec - earlier->tv_nsec) / 1000000L;
}

/* The budget is CPU time of the running thread, not wall time: a run whose thread the kernel
 * did not schedule for a while (a loaded machine) is not stopped for that. At its wall deadline
 * a run that has used less gets a new deadline for what is left. */
static bool over_budget(struct watch *w, const struct timespec *now)
{
    struct timespec c;
    if (clock_gettime(w->cpu, &c) != 0)
        return true; /* cannot happen while the thread runs; wall time then */
    long left = EXPORT_TRANSFORM_BUDGET_MS - ts_diff_ms(&c, &w->cpu_start);
    if (left <= 0)
        return true;
    w->deadline = *now;
    ts_add_ms(&w->deadline, left);
    return false;
}

/* Bytes the process's malloc has handed out and not got back (arenas and mmapped chunks). */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static bool over_memory(struct watch *w, size_t heap)
{
    if (!w->heap_known) {
        w->heap_base = heap;
        w->heap_known = true;
        return false;
    }
    return heap > w->heap_base && heap - w->heap_base > (size_t)EXPORT_TRANSFORM_MEMORY_MB << 20;
}

static void *wd_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd.mu);
    while (!wd.stop) {
        /* mallinfo2 walks every arena: not while holding up the runners' arm and disarm */
        size_t heap = 0;
        bool sampled = false;
        for (struct watch *w = wd.armed; w != NULL; w = w->next) {
            if (w->fired == STOP_NONE) {
                pthread_mutex_unlock(&wd.mu); /* w may be gone after this */
                heap = heap_in_use();
                pthread_mutex_lock(&wd.mu);
                sampled = true;
                break;
            }
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        bool running = false;
        struct watch *first = NULL; /* the earliest deadline still ahead */
        for (struct watch *w = wd.armed; w != NULL; w = w->next) {
            if (w->fired != STOP_NONE)
                continue;
            if (!ts_before(&now, &w->deadline) && over_budget(w, &now)) {
                w->fired = STOP_TIME;
            } else if (sampled && over_memory(w, heap)) {
                w->fired = STOP_MEMORY;
            } else {
                running = true;
                if (first == NULL || ts_before(&w->deadline, &first->deadline))
                    first = w;
                continue;
            }
            if (!jq_halted(w->jq))
                jq_halt(w->jq, jv_invalid(), jv_invalid());
        }
        if (running || wd.arms != wd.arms_seen) {
            wd.arms_seen = wd.arms;
            wd.wake_at = now;
            ts_add_ms(&wd.wake_at, MEM_TICK_MS);
            if (first != NULL && ts_before(&first->deadline, &wd.wake_at))
                wd.wake_at = first->deadline;
        } else {
            wd.idle = true;
            pthread_cond_wait(&wd.cv, &wd.mu);
            wd.idle = false;
            continue;
        }
        pthread_cond_timedwait(&wd.cv, &wd.mu, &wd.wake_at);
    }
    pthread_mutex_unlock(&wd.mu);
    return NULL;
}

/* One more transform: start the watchdog if it is the first. */
static int wd_acquire(void)
{
    int rc = 0;
    pthread_mutex_lock(&wd.life);
    if (wd.users == 0) {
        if (!wd.cv_ready) {
            pthread_condattr_t ca;
            pthread_condattr_init(&ca);
            pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
            rc = pthread_cond_init(&wd.cv, &ca);
            pthread_condattr_destroy(&ca);
            wd.cv_ready = rc == 0;
        }
        if (rc == 0) {
            wd.stop = false;
            wd.arms_seen = wd.arms;
            /* the thread takes no signals: they stay with the threads that handle them */
            sigset_t all, old;
            sigfillset(&all);
            pthread_sigmask(SIG_SETMASK, &all, &old);
            rc = pthread_create(&wd.thread, NULL, wd_main, NULL);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
    }
    if (rc == 0)
        wd.users++;
    pthread_mutex_unlock(&wd.life);
    return rc == 0 ? 0 : -1;
}

/* One transform less: stop and join the watchdog after the last. */
static void wd_release(void)
{
    pthread_mutex_lock(&wd.life);
    if (--wd.users == 0) {
        pthread_mutex_lock(&wd.mu);
        wd.stop = true;
        pthread_cond_signal(&wd.cv);
        pthread_mutex_unlock(&wd.mu);
        pthread_join(wd.thread, NULL);
    }
    pthread_mutex_unlock(&wd.life);
}

static void watch_arm(struct watch *w, jq_state *jq)
{
    w->jq = jq;
    w->fired = STOP_NONE;
    w->heap_known = false;
    if (pthread_getcpuclockid(pthread_self(), &w->cpu) != 0)
        w->cpu = CLOCK_MONOTONIC;
    clock_gettime(w->cpu, &w->cpu_start);
    clock_gettime(CLOCK_MONOTONIC, &w->deadline);
    ts_add_ms(&w->deadline, EXPORT_TRANSFORM_BUDGET_MS);
    pthread_mutex_lock(&wd.mu);
    w->prev = NULL;
    w->next = wd.armed;
    if (wd.armed != NULL)
        wd.armed->prev = w;
    wd.armed = w;
    wd.arms++;
    if (wd.idle || ts_before(&w->deadline, &wd.wake_at))
        pthread_cond_signal(&wd.cv);
    pthread_mutex_unlock(&wd.mu);
}

/* @return whether and why the watchdog stopped the run. After this it no longer sees the run. */
static enum stop watch_disarm(struct watch *w)
{
    pthread_mutex_lock(&wd.mu);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        wd.armed = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    enum stop fired = w->fired;
    pthread_mutex_unlock(&wd.mu);
    return fired;
}

/* ---------------------------------------------------------------- libjq */

/* jq reports compile errors through this callback, one or more lines; keep the first. */
static void on_jq_error(void *data, jv msg)
{
    struct export_transform *t = data;
    if (t->err[0] == '\0') {
        jv s = jv_get_kind(msg) == JV_KIND_STRING ? jv_copy(msg) : jv_dump_string(jv_copy(msg), 0);
        const char *text = jv_string_value(s);
        if (strncmp(text, "jq: error: ", 11) == 0)
            text += 11;
        snprintf(t->err, sizeof t->err, "%s", text);
        t->err[strcspn(t->err, "\n")] = '\0';
        jv_free(s);
    }
    jv_free(msg);
}

/* `halt` and `halt_error` as jq errors (see the time budget above); on the program's first line,
 * so jq's line numbers stay the program's own. */
#define HALT_DEFS                                                                               \
    "def halt: error(\"halted\"); "                                                             \
    "def halt_error(c): error(\"halted: \" + (if type == \"string\" then . else tojson end)); " \
    "def halt_error: halt_error(5); "

int export_transform_new(const char *text, struct export_transform **out, char *err,
                         size_t err_size)
{
    *out = NULL;
    char *src = export_transform_source(text, err, err_size);
    if (src == NULL)
        return -1;
    size_t len = strlen(src);
    char *prog = malloc(sizeof HALT_DEFS + len);
    struct export_transform *t = prog != NULL ? calloc(1, sizeof *t) : NULL;
    if (t == NULL || (t->jq = jq_init()) == NULL) {
        free(t);
        free(prog);
        free(src);
        return export_fail(err, err_size, "out of memory");
    }
    memcpy(prog, HALT_DEFS, sizeof HALT_DEFS - 1);
    memcpy(prog + sizeof HALT_DEFS - 1, src, len + 1);
    free(src);
    jq_set_error_cb(t->jq, on_jq_error, t);
    /* no module search path: nothing but the program itself is loaded */
    jq_set_attr(t->jq, jv_string("JQ_LIBRARY_PATH"), jv_array());
    int ok = jq_compile(t->jq, prog);
    free(prog);
    if (!ok) {
        export_fail(err, err_size, "%s", t->err[0] ? t->err : "does not compile");
        export_transform_free(t);
        return -1;
    }
    if (wd_acquire() != 0) {
        export_transform_free(t);
        return export_fail(err, err_size, "cannot start the transform watchdog thread");
    }
    t->watched = true;
    *out = t;
    return 0;
}

void export_transform_free(struct export_transform *t)
{
    if (t == NULL)
        return;
    if (t->jq != NULL)
        jq_teardown(&t->jq);
    if (t->watched)
        wd_release();
    free(t);
}

void export_transform_out_free(struct export_transform_out *out)
{
    for (size_t i = 0; i < out->n; i++)
        free(out->text[i]);
    out->n = 0;
}

/* IoT Central's transform input: telemetry as [{"name", "value"}], and a device object. */
static jv shape_input(jv msg)
{
    jv tel = jv_object_get(jv_copy(msg), jv_string("telemetry"));
    if (jv_get_kind(tel) == JV_KIND_OBJECT) {
        jv arr = jv_array();
        jv_object_foreach(tel, k, v)
        {
            jv e = jv_object_set(jv_object(), jv_string("name"), k);
            arr = jv_array_append(arr, jv_object_set(e, jv_string("value"), v));
        }
        msg = jv_object_set(msg, jv_string("telemetry"), arr);
    }
    jv_free(tel);
    jv id = jv_object_get(jv_copy(msg), jv_string("deviceId"));
    jv tid = jv_object_get(jv_copy(msg), jv_string("templateId"));
    jv dev = jv_object();
    if (jv_get_kind(id) == JV_KIND_STRING)
        dev = jv_object_set(dev, jv_string("id"), jv_copy(id));
    if (jv_get_kind(tid) == JV_KIND_STRING)
        dev = jv_object_set(dev, jv_string("templateId"), jv_copy(tid));
    jv_free(id);
    jv_free(tid);
    return jv_object_set(msg, jv_string("device"), dev);
}

int export_transform_run(struct export_transform *t, const char *msg, size_t len,
                         struct export_transform_out *out, char *err, size_t err_size)
{
    out->n = 0;
    if (len > (size_t)0x7fffffff)
        return export_fail(err, err_size, "message too large");
    jv in = jv_parse_sized(msg, (int)len);
    if (jv_get_kind(in) != JV_KIND_OBJECT) {
        jv_free(in);
        return export_fail(err, err_size, "the message is not a JSON object");
    }
    jq_start(t->jq, shape_input(in), 0);
    struct watch w;
    watch_arm(&w, t->jq);
    int rc = 0;
    bool halted = false;
    for (;;) {
        jv v = jq_next(t->jq);
        if (jv_is_valid(v)) {
            if (out->n == EXPORT_TRANSFORM_MAX_OUTPUTS) {
                jv_free(v);
                rc = export_fail(err, err_size, "more than %d outputs for one message",
                                 EXPORT_TRANSFORM_MAX_OUTPUTS);
                break;
            }
            jv s = jv_dump_string(v, 0);
            out->text[out->n] = strdup(jv_string_value(s));
            jv_free(s);
            if (out->text[out->n] == NULL) {
                rc = export_fail(err, err_size, "out of memory");
                break;
            }
            out->n++;
            continue;
        }
        /* halted: only the watchdog halts (HALT_DEFS), and that is told after disarming */
        halted = jq_halted(t->jq);
        if (!halted && jv_invalid_has_msg(jv_copy(v))) {
            jv m = jv_invalid_get_msg(v);
            jv s = jv_get_kind(m) == JV_KIND_STRING ? jv_copy(m) : jv_dump_string(jv_copy(m), 0);
            rc = export_fail(err, err_size, "%s", jv_string_value(s));
            jv_free(s);
            jv_free(m);
        } else {
            jv_free(v);
        }
        break; /* an error, or the end of the outputs */
    }
    enum stop why = watch_disarm(&w);
    if (why != STOP_NONE || halted) {
        if (why == STOP_MEMORY)
            export_fail(err, err_size, "stopped after using more than %d MB",
                        EXPORT_TRANSFORM_MEMORY_MB);
        else
            export_fail(err, err_size, "stopped after %d ms", EXPORT_TRANSFORM_BUDGET_MS);
        rc = EXPORT_TRANSFORM_STOPPED;
        /* let go of what the runaway built (its stack, its values) now, not at the next run */
        jq_start(t->jq, jv_null(), 0);
    }
    if (rc != 0)
        export_transform_out_free(out);
    return rc;
}
