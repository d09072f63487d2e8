/*
 * appl_jobs.c - jobs as IoT Central's 2022-07-31 API has them (/api/jobs): a property or command
 * job over the devices of a device group, run by the server on the loop with at most "batch"
 * devices in flight, through the same paths a single write or command takes
 * (appl_properties_write, appl_command_run). The decisions are appl_jobsm.c's (pure); this file
 * does the I/O.
 *
 * The pump works in turns: a turn takes up to TURN_MAX devices the state machine lets start
 * (never more than the batch in flight), queues its store writes through the store's writer and
 * a barrier behind them, and the next turn starts from the barrier's callback once they are
 * committed. The loop serves other requests and devices between turns; no device's write waits
 * for the disk on the loop.
 *
 * Durability: the job (definition, device list, stopped or not) is a row of app_jobs, written
 * synchronously (once per job and per stop, resume or end); each device's state is a row of
 * app_job_devices ("jobId/deviceId", absent: pending), queued. A property job's turn writes the
 * devices' twins and their outcome rows in one loop callback, so they commit in one transaction
 * (store.c seal groups): after a kill -9 a device is either written and "completed" or neither,
 * and is written again only in the second case, so no device is written twice and none is
 * skipped. A command job's turn first commits the devices' "started" rows and sends the commands
 * from the barrier's callback: after a restart a device found "started" without an outcome is
 * failed with "interrupted by restart" (a command is never sent twice). A "started" row of a
 * property job (left by an older version) is written again: a desired-property write is
 * idempotent. The members of the group are taken when the job is created, as IoT Central does.
 */
#include "central/app/appl.h"
#include "central/app/appl_docs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/app/appl_filter.h"
#include "central/app/appl_jobsm.h"
#include "central/base/log.h"
#include "central/store/store.h"
#include "central/store/store_app.h"

#define T_JOBS "app_jobs"
#define T_DEVS "app_job_devices"
#define JOB_DEVICES_MAX 100000
#define JOB_DATA_MAX 20
#define JOB_TEXT_MAX 1024
#define TURN_MAX 64 /* devices started in one loop callback */

struct job_op {
    struct appl *a;
    char job_id[APPL_ID_MAX + 1];
    size_t idx;
};

/* One turn of the pump: devices whose writes wait for the commit of a store barrier. */
struct job_turn {
    struct appl *a;
    struct appl_job *j; /* NULL once the job is freed (shutdown): the callback only frees */
    size_t n;
    size_t idx[TURN_MAX];
    bool ok[TURN_MAX];
};

struct appl_job {
    char id[APPL_ID_MAX + 1];
    cJSON *def; /* id, displayName, description, group, batch, cancellationThreshold, data */
    char **devs;
    char **errors; /* per device, NULL or why it failed */
    uint8_t *st;
    size_t n;
    struct jobsm sm;
    bool command, pumping;
    int64_t start_ms, end_ms;
    struct appl_command_op **ops; /* commands in flight */
    struct job_op **ctx;
    struct job_turn *turn; /* the turn waiting for its commit, or NULL */
    struct appl_job *next;
};

static void job_free(struct appl_job *j)
{
    if (j == NULL)
        return;
    if (j->turn != NULL)
        j->turn->j = NULL; /* its barrier callback frees it */
    for (size_t i = 0; i < j->n; i++) {
        if (j->ops != NULL && j->ops[i] != NULL)
            appl_command_cancel(j->ops[i]);
        if (j->ctx != NULL)
            free(j->ctx[i]);
        if (j->devs != NULL)
            free(j->devs[i]);
        if (j->errors != NULL)
            free(j->errors[i]);
    }
    free(j->ops);
    free(j->ctx);
    free(j->devs);
    free(j->errors);
    free(j->st);
    cJSON_Delete(j->def);
    free(j);
}

struct appl_job *appl_job_get(struct appl *a, const char *id)
{
    for (struct appl_job *j = a->jobs; j != NULL; j = j->next) {
        if (strcmp(j->id, id) == 0)
            return j;
    }
    return NULL;
}

/* ---------------------------------------------------------------- checking a Job body */

/* "comp.name" (the API reference's form), "comp/name" or "name" of a data item's path: DTDL
 * names hold neither '.' nor '/'. */
static void split_path(const char *path, char *comp, size_t csize, const char **name)
{
    const char *sep = strpbrk(path, "./");
    comp[0] = '\0';
    *name = path;
    if (sep != NULL) {
        snprintf(comp, csize, "%.*s", (int)(sep - path), path);
        *name = sep + 1;
    }
}

/* 1 property, 2 command, 0 unknown: the spec's "property"/"command" and the how-to pages'
 * "PropertyJobData"/"CommandJobData". */
static int data_kind(const char *type)
{
    if (strcmp(type, "property") == 0 || strcmp(type, "PropertyJobData") == 0)
        return 1;
    if (strcmp(type, "command") == 0 || strcmp(type, "CommandJobData") == 0)
        return 2;
    return 0;
}

static int check_number_obj(const cJSON *o, const char *what, bool with_batch,
                            struct appl_error *err)
{
    if (!cJSON_IsObject(o))
        return appl_refuse(err, "InvalidBody",
                           "$.%s: expected {\"type\": \"number\" or \"percentage\", "
                           "\"value\"}.",
                           what);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    if (!cJSON_IsString(t) ||
        (strcmp(t->valuestring, "number") != 0 && strcmp(t->valuestring, "percentage") != 0))
        return appl_refuse(err, "InvalidBody", "$.%s.type: expected \"number\" or \"percentage\".",
                           what);
    bool pct = strcmp(t->valuestring, "percentage") == 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < (pct ? 0 : 1) || (pct && v->valuedouble > 100) ||
        v->valuedouble > 1e9)
        return appl_refuse(err, "InvalidBody", "$.%s.value: expected %s.", what,
                           pct ? "a percentage 0..100" : "a number of devices, at least 1");
    for (const cJSON *it = o->child; it != NULL; it = it->next) {
        if (strcmp(it->string, "type") != 0 && strcmp(it->string, "value") != 0 &&
            !(with_batch && strcmp(it->string, "batch") == 0))
            return appl_refuse(err, "InvalidBody", "$.%s.%s: unknown field.", what, it->string);
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "batch");
    if (b != NULL && !cJSON_IsBool(b))
        return appl_refuse(err, "InvalidBody", "$.%s.batch: expected true or false.", what);
    return CE_OK;
}

static int check_body(struct appl *a, const cJSON *body, bool *command, struct appl_error *err)
{
    static const char *const known[] = {"id",    "displayName", "description",
                                        "group", "batch",       "cancellationThreshold",
                                        "data",  "status",      "etag"};
    if (!cJSON_IsObject(body))
        return appl_refuse(err, "InvalidBody", "$: expected a Job object.");
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        size_t k;
        for (k = 0; k < sizeof known / sizeof known[0]; k++) {
            if (strcmp(it->string, known[k]) == 0)
                break;
        }
        if (k == sizeof known / sizeof known[0])
            return appl_refuse(err, "InvalidBody",
                               "$.%s: not supported in a job (scheduled jobs "
                               "and device lists are not).",
                               it->string);
    }
    const char *texts[] = {"displayName", "description"};
    for (size_t k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, texts[k]);
        if (v != NULL && (!cJSON_IsString(v) || strlen(v->valuestring) > JOB_TEXT_MAX))
            return appl_refuse(err, "InvalidBody",
                               "$.%s: expected a string of at most %d "
                               "characters.",
                               texts[k], JOB_TEXT_MAX);
    }
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(body, "group");
    if (!cJSON_IsString(g))
        return appl_refuse(err, "InvalidBody", "$.group: required, the id of a device group.");
    if (appl_devgroup_get(a, g->valuestring) == NULL)
        return appl_refuse(err, "InvalidBody", "$.group: device group %.200s was not found.",
                           g->valuestring);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "batch");
    if (v != NULL && check_number_obj(v, "batch", false, err) != CE_OK)
        return CE_INVALID;
    v = cJSON_GetObjectItemCaseSensitive(body, "cancellationThreshold");
    if (v != NULL && check_number_obj(v, "cancellationThreshold", true, err) != CE_OK)
        return CE_INVALID;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
    if (!cJSON_IsArray(data) || cJSON_GetArraySize(data) == 0 ||
        cJSON_GetArraySize(data) > JOB_DATA_MAX)
        return appl_refuse(err, "InvalidBody", "$.data: required, an array of 1 to %d items.",
                           JOB_DATA_MAX);
    int i = 0, n_cmd = 0, n_prop = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, data)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "type");
        const cJSON *tg = cJSON_GetObjectItemCaseSensitive(d, "target");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "path");
        if (!cJSON_IsObject(d) || !cJSON_IsString(t))
            return appl_refuse(err, "InvalidBody", "$.data[%d].type: required.", i);
        int kind = data_kind(t->valuestring);
        if (kind == 0)
            return appl_refuse(err, "InvalidBody",
                               "$.data[%d].type: '%.60s' is not supported (property, command, "
                               "PropertyJobData or CommandJobData).",
                               i, t->valuestring);
        if (!cJSON_IsString(tg) || tg->valuestring[0] == '\0')
            return appl_refuse(err, "InvalidBody", "$.data[%d].target: required, a template id.",
                               i);
        if (!cJSON_IsString(p) || p->valuestring[0] == '\0' || strlen(p->valuestring) > 256)
            return appl_refuse(err, "InvalidBody",
                               "$.data[%d].path: required, a property or command "
                               "name (component.name or component/name in a component).",
                               i);
        if (kind == 1 && cJSON_GetObjectItemCaseSensitive(d, "value") == NULL)
            return appl_refuse(err, "InvalidBody", "$.data[%d].value: required for a property.", i);
        n_cmd += kind == 2;
        n_prop += kind == 1;
        i++;
    }
    if (n_cmd > 1 || (n_cmd && n_prop))
        return appl_refuse(err, "InvalidBody",
                           "$.data: a job runs one command, or writes properties; "
                           "not both and not several commands (split it into jobs).");
    *command = n_cmd > 0;
    return CE_OK;
}

/* ---------------------------------------------------------------- persistence */

/* Queue device @p i's state row (state @p s: what it will be once the queued writes commit). */
static void save_device_as(struct appl *a, struct appl_job *j, size_t i, int s)
{
    char key[2 * APPL_ID_MAX + 8];
    cJSON *o = cJSON_CreateObject();
    snprintf(key, sizeof key, "%s/%s", j->id, j->devs[i]);
    cJSON_AddNumberToObject(o, "s", s);
    if (j->errors[i] != NULL)
        cJSON_AddStringToObject(o, "error", j->errors[i]);
    char *text = cJSON_PrintUnformatted(o);
    if (text != NULL)
        store_app_put(a->db, T_DEVS, key, text);
    else
        log_error("jobs: job %s device %s: state not stored", j->id, j->devs[i]);
    free(text);
    cJSON_Delete(o);
}

static void save_device(struct appl *a, struct appl_job *j, size_t i)
{
    save_device_as(a, j, i, j->st[i]);
}

static int save_job(struct appl *a, struct appl_job *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *devs = cJSON_CreateArray();
    if (o == NULL || devs == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(devs);
        return CE_NOMEM;
    }
    cJSON_AddItemToObject(o, "def", cJSON_Duplicate(j->def, true));
    for (size_t i = 0; i < j->n; i++)
        cJSON_AddItemToArray(devs, cJSON_CreateString(j->devs[i]));
    cJSON_AddItemToObject(o, "devices", devs);
    cJSON_AddBoolToObject(o, "stopped", j->sm.status == JS_STOPPED);
    cJSON_AddNumberToObject(o, "start", (double)j->start_ms);
    cJSON_AddNumberToObject(o, "end", (double)j->end_ms);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = text != NULL ? store_app_put_sync(a->db, T_JOBS, j->id, text) : CE_NOMEM;
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- running */

static void pump(struct appl *a, struct appl_job *j);

static void set_error(struct appl_job *j, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(struct appl_job *j, size_t i, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(j->errors[i]);
    j->errors[i] = appl_strdup(buf);
}

/* Device @p i finished; its row is queued here unless the turn queued it already (@p saved). */
static void finish(struct appl *a, struct appl_job *j, size_t i, bool ok, bool saved)
{
    int before = j->sm.status;
    jobsm_finish(&j->sm, i, ok);
    if (!saved)
        save_device(a, j, i);
    if (j->sm.status == JS_CANCELLED) { /* the devices cancelled with it */
        for (size_t k = 0; k < j->n; k++) {
            if (j->st[k] == JD_CANCELLED && j->errors[k] == NULL) {
                set_error(j, k, "cancelled: the job's cancellation threshold was reached");
                save_device(a, j, k);
            }
        }
    }
    if (j->sm.status != before && j->sm.status != JS_RUNNING && j->sm.status != JS_STOPPED) {
        j->end_ms = app_now_ms();
        save_job(a, j);
        log_info("jobs: job %s %s", j->id, jobsm_status_name(j->sm.status));
    }
}

static void on_command_done(void *ctx, int rc, const struct appl_command *cmd)
{
    struct job_op *op = ctx;
    struct appl_job *j = appl_job_get(op->a, op->job_id);
    if (j == NULL || op->idx >= j->n)
        return;
    size_t i = op->idx;
    j->ops[i] = NULL;
    bool ok =
        rc == CE_OK && cmd != NULL && (cmd->status == CMD_COMPLETED || cmd->status == CMD_QUEUED);
    if (!ok) {
        if (cmd != NULL && cmd->error != NULL)
            set_error(j, i, "%s", cmd->error);
        else if (cmd != NULL && cmd->response_code != 0)
            set_error(j, i, "the device answered %d", cmd->response_code);
        else
            set_error(j, i, "the command failed (%s)",
                      rc == CE_NOTFOUND  ? "device deleted"
                      : rc == CE_OFFLINE ? "device offline"
                      : rc == CE_TIMEOUT ? "timed out"
                                         : "error");
    }
    finish(op->a, j, i, ok, false);
    pump(op->a, j);
}

/* The job's device @p i and its application record, or NULL (error set). */
static struct appl_device *job_device(struct appl *a, struct appl_job *j, size_t i,
                                      struct device **out_dev)
{
    struct device *dev = registry_get(a->app, j->devs[i]);
    struct appl_device *d = dev != NULL ? appl_device_get(a, dev->id) : NULL;
    *out_dev = dev;
    if (d == NULL)
        set_error(j, i, "the device no longer exists");
    return d;
}

/* Write {name: value} to component @p comp of the device. CE_OK, CE_INVALID (err), ... */
static int write_one(struct appl *a, struct appl_device *d, struct device *dev, const char *comp,
                     const char *name, const cJSON *value, struct appl_error *err)
{
    cJSON *body = cJSON_CreateObject(), *answer = NULL;
    if (body == NULL || !cJSON_AddItemToObject(body, name, cJSON_Duplicate(value, true))) {
        cJSON_Delete(body);
        return CE_NOMEM;
    }
    int rc = appl_properties_write(a, d, dev, comp, body, false, &answer, err);
    cJSON_Delete(body);
    cJSON_Delete(answer);
    return rc;
}

/* A job's value given as a string that reads as a number or a boolean ("56", "true"): that
 * number or boolean (caller frees), else NULL. IoT Central's jobs how-to writes a double
 * property's value as a string; the property's schema, checked by the write, decides. */
static cJSON *typed_value(const cJSON *value)
{
    if (!cJSON_IsString(value) || value->valuestring[0] == '\0')
        return NULL;
    const char *s = value->valuestring;
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
        return cJSON_CreateBool(s[0] == 't');
    cJSON *n = cJSON_Parse(s); /* JSON's number syntax, nothing around it */
    if (cJSON_IsNumber(n))
        return n;
    cJSON_Delete(n);
    return NULL;
}

/* The job data item @p it applies to device @p d of job @p j (index @p i) when the device has the
 * item's template: then @p comp and @p name are its path split, else the device's error is set. */
static bool item_target(struct appl_job *j, size_t i, const struct appl_device *d, const cJSON *it,
                        char *comp, size_t csize, const char **name)
{
    const char *target = cJSON_GetObjectItemCaseSensitive(it, "target")->valuestring;
    const char *path = cJSON_GetObjectItemCaseSensitive(it, "path")->valuestring;
    if (d->template_id == NULL || strcmp(d->template_id, target) != 0) {
        set_error(j, i, "the device's template is not %s", target);
        return false;
    }
    split_path(path, comp, csize, name);
    return true;
}

/* Write every property of the job to device @p i (its twin writes are queued in the store).
 * @return true when all were written, else false with the device's error set. */
static bool write_properties(struct appl *a, struct appl_job *j, size_t i)
{
    struct device *dev;
    struct appl_device *d = job_device(a, j, i, &dev);
    if (d == NULL)
        return false;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j->def, "data"), *it;
    cJSON_ArrayForEach(it, data)
    {
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(it, "value");
        char comp[260];
        const char *name;
        struct appl_error err = {0};
        if (!item_target(j, i, d, it, comp, sizeof comp, &name))
            return false;
        int rc = write_one(a, d, dev, comp, name, value, &err);
        cJSON *typed = rc == CE_INVALID ? typed_value(value) : NULL;
        if (typed != NULL) { /* "56" for a number, as the jobs how-to sends it */
            rc = write_one(a, d, dev, comp, name, typed, &err);
            cJSON_Delete(typed);
        }
        if (rc != CE_OK) {
            set_error(j, i, "%s", rc == CE_INVALID ? err.message : "the write failed");
            return false;
        }
    }
    return true;
}

/* Send the job's command to device @p i; its outcome goes to finish() now or later. */
static void send_command(struct appl *a, struct appl_job *j, size_t i)
{
    struct device *dev;
    struct appl_device *d = job_device(a, j, i, &dev);
    if (d == NULL) {
        finish(a, j, i, false, false);
        return;
    }
    const cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j->def, "data"), 0);
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(it, "value");
    char comp[260];
    const char *name;
    struct appl_error err = {0};
    if (!item_target(j, i, d, it, comp, sizeof comp, &name)) {
        finish(a, j, i, false, false);
        return;
    }
    struct job_op *op = calloc(1, sizeof *op);
    struct appl_command_op *inflight = NULL;
    if (op == NULL) {
        set_error(j, i, "out of memory");
        finish(a, j, i, false, false);
        return;
    }
    op->a = a;
    op->idx = i;
    snprintf(op->job_id, sizeof op->job_id, "%s", j->id);
    free(j->ctx[i]);
    j->ctx[i] = op;
    /* a device gets 30 s to come online, as IoT Central's jobs wait for it */
    int rc = appl_command_run(a, d, dev, comp, name, value, 30, 30, on_command_done, op, &inflight,
                              &err);
    if (rc != CE_OK) {
        set_error(j, i, "%s", rc == CE_INVALID ? err.message : "the command failed");
        finish(a, j, i, false, false);
        return;
    }
    if (j->st[i] == JD_STARTED) /* not answered yet */
        j->ops[i] = inflight;
}

/* The turn's writes are committed: a property job's devices are finished, a command job's
 * commands are sent; then the next turn. */
static void turn_done(void *ctx, uint32_t tag, int rc)
{
    struct job_turn *t = ctx;
    struct appl_job *j = t->j;
    (void)tag;
    if (j == NULL) {
        free(t);
        return;
    }
    struct appl *a = t->a;
    j->turn = NULL;
    if (rc != CE_OK)
        log_error("jobs: job %s: the store failed to commit a turn of %zu devices", j->id, t->n);
    j->pumping = true; /* outcomes arriving inside send_command do not start a turn */
    for (size_t k = 0; k < t->n; k++) {
        if (j->command)
            send_command(a, j, t->idx[k]);
        else
            finish(a, j, t->idx[k], t->ok[k], true);
    }
    j->pumping = false;
    free(t);
    pump(a, j);
}

static void pump(struct appl *a, struct appl_job *j)
{
    if (j->pumping || j->turn != NULL)
        return; /* the turn under way starts the next one when it is done */
    struct job_turn *t = calloc(1, sizeof *t);
    if (t == NULL) {
        log_error("jobs: job %s: out of memory, the job waits", j->id);
        return;
    }
    t->a = a;
    t->j = j;
    long i;
    while (t->n < TURN_MAX && (i = jobsm_next(&j->sm)) >= 0) {
        size_t k = (size_t)i;
        if (j->command) {
            save_device(a, j, k); /* "started" commits before the command is sent */
        } else {
            t->ok[t->n] = write_properties(a, j, k);
            /* the outcome row commits with the twin writes, in this callback's transaction */
            save_device_as(a, j, k, t->ok[t->n] ? JD_COMPLETED : JD_FAILED);
        }
        t->idx[t->n++] = k;
    }
    if (t->n == 0) {
        free(t);
        return;
    }
    j->turn = t;
    if (a->app->store == NULL || store_barrier(a->app->store, turn_done, t, 0) != CE_OK) {
        log_error("jobs: job %s: cannot queue a store barrier; the turn goes on uncommitted",
                  j->id);
        turn_done(t, 0, CE_STORE);
    }
}

/* ---------------------------------------------------------------- building a job */

static struct appl_job *job_new(const char *id, cJSON *def, size_t n)
{
    struct appl_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->def = def;
    j->n = n;
    j->devs = calloc(n + 1, sizeof *j->devs);
    j->errors = calloc(n + 1, sizeof *j->errors);
    j->st = calloc(n + 1, 1);
    j->ops = calloc(n + 1, sizeof *j->ops);
    j->ctx = calloc(n + 1, sizeof *j->ctx);
    if (j->devs == NULL || j->errors == NULL || j->st == NULL || j->ops == NULL || j->ctx == NULL) {
        j->n = 0;
        job_free(j);
        return NULL;
    }
    return j;
}

/* The state machine's settings from the definition. */
static void job_setup(struct appl_job *j)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j->def, "batch");
    size_t batch = j->n ? j->n : 1;
    if (b != NULL)
        batch = jobsm_batch_size(
            strcmp(cJSON_GetObjectItemCaseSensitive(b, "type")->valuestring, "percentage") == 0,
            cJSON_GetObjectItemCaseSensitive(b, "value")->valuedouble, j->n);
    jobsm_init(&j->sm, j->st, j->n, batch);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j->def, "cancellationThreshold");
    if (t != NULL) {
        j->sm.threshold = true;
        j->sm.thr_percent =
            strcmp(cJSON_GetObjectItemCaseSensitive(t, "type")->valuestring, "percentage") == 0;
        j->sm.thr_value = cJSON_GetObjectItemCaseSensitive(t, "value")->valuedouble;
        j->sm.thr_batch = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "batch"));
    }
}

/* The stored definition: the body's fields (not status / etag), id first. */
static cJSON *definition(const char *id, const cJSON *body)
{
    cJSON *def = cJSON_CreateObject();
    if (def == NULL || cJSON_AddStringToObject(def, "id", id) == NULL) {
        cJSON_Delete(def);
        return NULL;
    }
    for (const cJSON *it = body->child; it != NULL; it = it->next) {
        if (strcmp(it->string, "id") == 0 || strcmp(it->string, "status") == 0 ||
            strcmp(it->string, "etag") == 0)
            continue;
        cJSON_AddItemToObject(def, it->string, cJSON_Duplicate(it, true));
    }
    return def;
}

static int add_job(struct appl *a, struct appl_job *j, struct appl_job **out)
{
    j->start_ms = app_now_ms();
    job_setup(j);
    int rc = save_job(a, j);
    if (rc != CE_OK) {
        job_free(j);
        return rc;
    }
    j->next = a->jobs; /* no device rows yet: a device without one is pending */
    a->jobs = j;
    *out = j;
    log_info("jobs: job %s started over %zu devices, %zu at a time", j->id, j->n, j->sm.batch);
    if (j->sm.status != JS_RUNNING)
        j->end_ms = j->start_ms;
    pump(a, j);
    return CE_OK;
}

int appl_job_create(struct appl *a, const char *id, const cJSON *body, struct appl_job **out,
                    struct appl_error *err)
{
    static struct devfilter f; /* loop thread only */
    bool command = false;
    if (!appl_id_ok(id, APPL_ID_MAX, "-_."))
        return appl_refuse(err, "InvalidBody", "A job id is 1 to %d of A-Za-z0-9 -_.", APPL_ID_MAX);
    if (appl_job_get(a, id) != NULL) {
        appl_refuse(err, "Conflict",
                    "Job %s exists; a job cannot be changed (stop, resume or rerun "
                    "it).",
                    id);
        return CE_EXISTS;
    }
    const cJSON *bid = cJSON_GetObjectItemCaseSensitive(body, "id");
    if (bid != NULL && (!cJSON_IsString(bid) || strcmp(bid->valuestring, id) != 0))
        return appl_refuse(err, "InvalidBody", "$.id: must be the id of the path.");
    int rc = check_body(a, body, &command, err);
    if (rc != CE_OK)
        return rc;
    const cJSON *g =
        appl_devgroup_get(a, cJSON_GetObjectItemCaseSensitive(body, "group")->valuestring);
    if (appl_devgroup_filter(g, &f) != CE_OK)
        return appl_refuse(err, "InvalidBody", "$.group: the group's filter cannot be used.");
    /* the group's members now */
    size_t total = registry_count(a->app);
    struct device **all = calloc(total + 1, sizeof *all);
    if (all == NULL)
        return CE_NOMEM;
    total = registry_list(a->app, 0, all, total);
    size_t n = 0;
    for (size_t i = 0; i < total; i++) {
        struct appl_device *d = appl_device_get(a, all[i]->id);
        if (d != NULL && appl_device_passes(&f, d, all[i]))
            all[n++] = all[i];
    }
    if (n > JOB_DEVICES_MAX) {
        free(all);
        return appl_refuse(err, "InvalidBody",
                           "The group has %zu devices; a job runs on at most %d.", n,
                           JOB_DEVICES_MAX);
    }
    cJSON *def = definition(id, body);
    struct appl_job *j = def != NULL ? job_new(id, def, n) : NULL;
    if (j == NULL) {
        cJSON_Delete(def);
        free(all);
        return CE_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        j->devs[i] = appl_strdup(all[i]->id);
        if (j->devs[i] == NULL) {
            free(all);
            job_free(j);
            return CE_NOMEM;
        }
    }
    free(all);
    j->command = command;
    return add_job(a, j, out);
}

int appl_job_rerun(struct appl *a, struct appl_job *from, const char *rerun_id,
                   struct appl_job **out, struct appl_error *err)
{
    if (!appl_id_ok(rerun_id, APPL_ID_MAX, "-_."))
        return appl_refuse(err, "InvalidBody", "A rerun id is 1 to %d of A-Za-z0-9 -_.",
                           APPL_ID_MAX);
    if (appl_job_get(a, rerun_id) != NULL) {
        appl_refuse(err, "Conflict", "Job %s exists.", rerun_id);
        return CE_EXISTS;
    }
    if (from->sm.status == JS_RUNNING) {
        appl_refuse(err, "Conflict", "Job %s is still running; stop it or wait for it to end.",
                    from->id);
        return CE_EXISTS;
    }
    size_t n = 0;
    for (size_t i = 0; i < from->n; i++)
        n += from->st[i] == JD_FAILED || from->st[i] == JD_CANCELLED;
    cJSON *def = definition(rerun_id, from->def);
    struct appl_job *j = def != NULL ? job_new(rerun_id, def, n) : NULL;
    if (j == NULL) {
        cJSON_Delete(def);
        return CE_NOMEM;
    }
    cJSON_AddStringToObject(j->def, "rerunOf", from->id); /* iotc's own member */
    n = 0;
    for (size_t i = 0; i < from->n; i++) {
        if (from->st[i] == JD_FAILED || from->st[i] == JD_CANCELLED) {
            j->devs[n] = appl_strdup(from->devs[i]);
            if (j->devs[n++] == NULL) {
                job_free(j);
                return CE_NOMEM;
            }
        }
    }
    j->command = from->command;
    return add_job(a, j, out);
}

int appl_job_stop(struct appl *a, struct appl_job *j)
{
    if (!jobsm_stop(&j->sm))
        return CE_INVALID;
    return save_job(a, j);
}

int appl_job_resume(struct appl *a, struct appl_job *j)
{
    if (!jobsm_resume(&j->sm))
        return CE_INVALID;
    int rc = save_job(a, j);
    if (j->sm.status != JS_RUNNING) {
        j->end_ms = app_now_ms();
        save_job(a, j);
    }
    pump(a, j);
    return rc;
}

const char *appl_job_status(const struct appl_job *j)
{
    return jobsm_status_name(j->sm.status);
}

cJSON *appl_job_to_json(const struct appl_job *j)
{
    cJSON *o = cJSON_Duplicate(j->def, true);
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "status", jobsm_status_name(j->sm.status));
    /* iotc's own: progress for the UI and scripts (IoT Central shows it in its UI only) */
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    if (p != NULL) {
        cJSON_AddNumberToObject(p, "total", (double)j->n);
        cJSON_AddNumberToObject(p, "pending", (double)jobsm_count(&j->sm, JD_PENDING));
        cJSON_AddNumberToObject(p, "running", (double)jobsm_count(&j->sm, JD_STARTED));
        cJSON_AddNumberToObject(p, "completed", (double)jobsm_count(&j->sm, JD_COMPLETED));
        cJSON_AddNumberToObject(p, "failed", (double)jobsm_count(&j->sm, JD_FAILED));
        cJSON_AddNumberToObject(p, "cancelled", (double)jobsm_count(&j->sm, JD_CANCELLED));
    }
    char t[32];
    appl_time(j->start_ms, t);
    cJSON_AddStringToObject(o, "start", t);
    if (j->end_ms > 0) {
        appl_time(j->end_ms, t);
        cJSON_AddStringToObject(o, "end", t);
    }
    return o;
}

size_t appl_job_count_devices(const struct appl_job *j)
{
    return j->n;
}

cJSON *appl_job_device_json(const struct appl_job *j, size_t i)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "id", j->devs[i]);
    cJSON_AddStringToObject(o, "status", jobsm_dev_name(j->st[i]));
    if (j->errors[i] != NULL)
        cJSON_AddStringToObject(o, "error", j->errors[i]); /* iotc's own */
    return o;
}

struct appl_job *appl_jobs_first(struct appl *a)
{
    return a->jobs;
}

struct appl_job *appl_job_next(struct appl_job *j)
{
    return j->next;
}

/* ---------------------------------------------------------------- load, start, free */

static int load_job(void *ctx, const char *id, const char *data)
{
    struct appl *a = ctx;
    cJSON *o = cJSON_Parse(data);
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(o, "def");
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(o, "devices");
    bool cmd = false;
    struct appl_error err = {0};
    if (o == NULL || !cJSON_IsObject(def) || !cJSON_IsArray(devs)) {
        log_warn("jobs: job %s skipped: not readable", LOG_STR(id));
        cJSON_Delete(o);
        return 0;
    }
    const cJSON *data_arr = cJSON_GetObjectItemCaseSensitive(def, "data"), *it;
    cJSON_ArrayForEach(it, data_arr)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
        cmd |= cJSON_IsString(t) && data_kind(t->valuestring) == 2;
    }
    (void)err;
    struct appl_job *j = job_new(id, cJSON_Duplicate(def, true), (size_t)cJSON_GetArraySize(devs));
    if (j == NULL) {
        cJSON_Delete(o);
        return 1;
    }
    size_t i = 0;
    cJSON_ArrayForEach(it, devs)
    {
        j->devs[i++] = appl_strdup(cJSON_IsString(it) ? it->valuestring : "");
    }
    j->command = cmd;
    j->start_ms = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "start"));
    j->end_ms = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "end"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stopped")))
        j->sm.status = JS_STOPPED; /* kept through job_setup below (see appl_jobs_load) */
    cJSON_Delete(o);
    j->next = a->jobs;
    a->jobs = j;
    return 0;
}

static int load_device(void *ctx, const char *id, const char *data)
{
    struct appl *a = ctx;
    const char *slash = strchr(id, '/');
    if (slash == NULL)
        return 0;
    char job_id[APPL_ID_MAX + 1];
    snprintf(job_id, sizeof job_id, "%.*s", (int)(slash - id), id);
    struct appl_job *j = appl_job_get(a, job_id);
    if (j == NULL)
        return 0;
    for (size_t i = 0; i < j->n; i++) {
        if (strcmp(j->devs[i], slash + 1) != 0)
            continue;
        cJSON *o = cJSON_Parse(data);
        double s = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "s"));
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
        if (s >= 0 && s <= JD_CANCELLED)
            j->st[i] = (uint8_t)s;
        if (cJSON_IsString(e))
            j->errors[i] = appl_strdup(e->valuestring);
        cJSON_Delete(o);
        break;
    }
    return 0;
}

int appl_jobs_load(struct appl *a)
{
    if (store_app_load(a->db, T_JOBS, load_job, a) < 0 ||
        store_app_load(a->db, T_DEVS, load_device, a) < 0)
        return CE_STORE;
    for (struct appl_job *j = a->jobs; j != NULL; j = j->next) {
        bool stopped = j->sm.status == JS_STOPPED;
        job_setup(j);
        if (stopped && j->sm.status == JS_RUNNING)
            j->sm.status = JS_STOPPED;
        /* started but not finished before the restart */
        size_t started = jobsm_count(&j->sm, JD_STARTED);
        if (started == 0)
            continue;
        int before = j->sm.status;
        for (size_t i = 0; i < j->n; i++) {
            if (j->st[i] == JD_STARTED && j->command)
                set_error(j, i,
                          "interrupted by restart: the command may or may not have "
                          "reached the device; it is not sent twice");
        }
        jobsm_recover(&j->sm, !j->command);
        for (size_t i = 0; i < j->n; i++) {
            if (j->errors[i] != NULL && j->st[i] == JD_FAILED && j->command)
                save_device(a, j, i);
        }
        if (j->sm.status != before && j->end_ms == 0) {
            j->end_ms = app_now_ms();
            save_job(a, j);
        }
        log_info("jobs: job %s: %zu devices were in flight at the restart: %s", j->id, started,
                 j->command ? "failed (commands are not sent twice)" : "written again");
    }
    return CE_OK;
}

void appl_jobs_start(struct appl *a)
{
    for (struct appl_job *j = a->jobs; j != NULL; j = j->next)
        pump(a, j);
}

void appl_jobs_free(struct appl *a)
{
    while (a->jobs != NULL) {
        struct appl_job *j = a->jobs;
        a->jobs = j->next;
        job_free(j);
    }
}
