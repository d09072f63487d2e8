/*
 * capi_int.h - internals shared by the capi_*.c request handlers: IoT Central error shape,
 * bodies, paging. Not an interface for other modules.
 */
#ifndef CENTRAL_CAPI_INT_H
#define CENTRAL_CAPI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "central/app/appl.h"
#include "central/http/http_server.h"

#define CAPI_API_VERSION "2022-07-31"
#define CAPI_API_VERSIONS_TEXT "2022-07-31, 2022-05-31, 2022-10-31-preview and 1.0"
/* the data export routes (/api/dataExport/...) exist in this version only */
#define CAPI_EXPORT_API_VERSION "2022-10-31-preview"
#define CAPI_MAX_BODY (256 * 1024)
#define CAPI_MAX_TEMPLATE_BODY (1024 * 1024)
#define CAPI_TOP_DEFAULT 100
#define CAPI_TOP_MAX 1000

struct store_app;

/**
 * A request answered from a long read-only query (capi_read.c): the handler embeds this as the
 * first member of its job, which holds copies of what the query needs and room for its result
 * (the query runs on a reader thread and must not touch the loop's state).
 */
struct capi_read {
    struct http_ctx *c; /**< NULL once the request was answered without the result (shutdown) */
    /** Loop thread: reply to @p c from the job's result; @p rc is what run returned. */
    void (*finish)(struct capi_read *job, struct http_ctx *c, long rc);
    /** Free the job (always called once, after finish or without it). */
    void (*release)(struct capi_read *job);
};

/**
 * Run @p run(store handle, job) on the store's reader threads and reply later with
 * job->finish (asynchronous context); 503 + Retry-After when the reader's queue is full.
 * Without reader threads the query runs here. The job is released in every case.
 */
void capi_read_start(struct http_ctx *c, struct capi_read *job,
                     long (*run)(struct store_app *sa, void *job));

/**
 * The component ("" when none) and telemetry name of a .../telemetry/NAME or
 * .../components/COMP/telemetry/NAME path; true for the component form.
 */
bool capi_telemetry_path(const struct http_ctx *c, const char **comp, const char **name);

/** A zeroed job of @p size bytes (a struct beginning with struct capi_read) with its callbacks. */
void *capi_read_new(size_t size, void (*finish)(struct capi_read *, struct http_ctx *, long),
                    void (*release)(struct capi_read *));

/**
 * capi_read_start when @p ok; otherwise (the job or a copy it needed could not be allocated)
 * release @p job when there is one and answer 500.
 */
void capi_read_go(struct http_ctx *c, struct capi_read *job, bool ok,
                  long (*run)(struct store_app *sa, void *job));

/**
 * For a finish callback: answer a failed read (@p rc < 0): 503 when the server is shutting down,
 * 500 out of memory, else 500 "The @p store store failed.". True when it answered.
 */
bool capi_read_failed(struct http_ctx *c, long rc, const char *store);

/** IoT Central error: {"error":{"code","message","requestId","time"}} + x-ms-error-code. */
void capi_error(struct http_ctx *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Map a CE_* code to an error reply; @p what names the subject ("device x"). */
void capi_error_ce(struct http_ctx *c, int rc, const char *what);
/** An application-layer refusal (CE_INVALID): 404 for CapabilityNotFound, else 400. */
void capi_app_error(struct http_ctx *c, const struct appl_error *err);
/** 500 InternalError "Out of memory." */
void capi_oom(struct http_ctx *c);
/** Reply with @p o (takes ownership; NULL = 500 out of memory). */
void capi_reply(struct http_ctx *c, int status, cJSON *o);
/** True for an api-version this server accepts (CAPI_API_VERSIONS_TEXT). */
bool capi_version_ok(const char *v);
/** Parse the JSON body (max @p max bytes). On failure replies (400/413) and returns NULL. */
cJSON *capi_body(struct http_ctx *c, size_t max);
/**
 * A text query parameter ($filter, $orderby) decoded as a form field: '+' is a space, then
 * percent-decoding. 1 found, 0 absent; CE_INVALID after replying 400.
 */
int capi_query_text(struct http_ctx *c, const char *name, char *out, size_t size);
/** $top (or maxpagesize): CAPI_TOP_DEFAULT when absent. On a bad value replies 400 and returns
 * CE_INVALID. */
int capi_top(struct http_ctx *c, size_t *out);
/** Query parameter (decoded) into out; 1 found, 0 absent; CE_INVALID after replying 400. */
int capi_param(struct http_ctx *c, const char *name, char *out, size_t size);
/** Optional time parameter; on a bad value replies 400 and returns -1. */
int capi_time_param(struct http_ctx *c, const char *name, int64_t dflt, int64_t *out);
/**
 * Reply 200 {"value": @p value, "nextLink"?}. @p next_token (NULL = last page) is put in
 * $skiptoken; @p extra_query ("from=..&to=..", already encoded, may be NULL) is kept.
 */
void capi_page(struct http_ctx *c, cJSON *value, size_t top, const char *next_token,
               const char *extra_query);
/**
 * A new array for a page gathered through @p scratch (the caller's heap vector; NULL when its
 * allocation failed). Out of memory: frees @p scratch, replies 500 and returns NULL.
 */
cJSON *capi_page_array(struct http_ctx *c, void *scratch);
/** Not-found helpers replying 404 with the right code. */
void capi_no_device(struct http_ctx *c, const char *id);

/**
 * $skiptoken as a decimal number at most @p max into *out (0 when absent).
 * @return CE_OK, or CE_INVALID after replying 400.
 */
int capi_skiptoken(struct http_ctx *c, uint64_t max, uint64_t *out);

/* Handlers (the routes of capi_router.c): c->seg[] holds the path ("api", ...), c->auth the
 * caller's role; the application layer is c->app->appl. */
/* capi_stats.c: GET /api/stats */
void capi_stats(struct http_ctx *c);

/* capi_admin.c */
void capi_tokens_list(struct http_ctx *c);
void capi_token_get(struct http_ctx *c);
void capi_token_put(struct http_ctx *c);
void capi_token_delete(struct http_ctx *c);
void capi_templates_list(struct http_ctx *c);
void capi_template_get(struct http_ctx *c);
void capi_template_put(struct http_ctx *c);
void capi_template_patch(struct http_ctx *c);
void capi_template_delete(struct http_ctx *c);
void capi_template_publish(struct http_ctx *c);
/* capi_groups.c */
void capi_groups_list(struct http_ctx *c);
void capi_group_get(struct http_ctx *c);
void capi_group_put(struct http_ctx *c);
void capi_group_patch(struct http_ctx *c);
void capi_group_delete(struct http_ctx *c);
void capi_group_regenerate(struct http_ctx *c);
void capi_group_cert_get(struct http_ctx *c);
void capi_group_cert_put(struct http_ctx *c);
void capi_group_cert_delete(struct http_ctx *c);
void capi_group_cert_code(struct http_ctx *c);
void capi_group_cert_verify(struct http_ctx *c);
/* capi_devgroups.c */
void capi_devgroups_list(struct http_ctx *c);
void capi_devgroup_get(struct http_ctx *c);
void capi_devgroup_put(struct http_ctx *c);
void capi_devgroup_patch(struct http_ctx *c);
void capi_devgroup_delete(struct http_ctx *c);
void capi_devgroup_devices(struct http_ctx *c);
/* capi_jobs.c */
void capi_jobs_list(struct http_ctx *c);
void capi_job_get(struct http_ctx *c);
void capi_job_put(struct http_ctx *c);
void capi_job_devices(struct http_ctx *c);
void capi_job_stop(struct http_ctx *c);
void capi_job_resume(struct http_ctx *c);
void capi_job_rerun(struct http_ctx *c);
/* capi_rules.c (iotc's own) */
void capi_rules_list(struct http_ctx *c);
void capi_rule(struct http_ctx *c);
void capi_rule_devices(struct http_ctx *c);
void capi_alerts_list(struct http_ctx *c);
void capi_alert(struct http_ctx *c);
/* capi_attestation.c */
void capi_attestation(struct http_ctx *c);
/** The device's attestation as IoT Central shows it (caller frees with cJSON_Delete). */
cJSON *capi_attestation_json(const struct device *dev);
/* capi_devices.c */
void capi_devices_list(struct http_ctx *c);
struct devfilter;
/** Reply with the page of devices passing @p f (sorted by display name when @p ordered) from
 * offset @p skip; @p extra is kept in nextLink (NULL: nothing). */
void capi_devices_page(struct http_ctx *c, struct appl *a, const struct devfilter *f, bool ordered,
                       bool desc, size_t top, uint64_t skip, const char *extra);
void capi_device_get(struct http_ctx *c);
void capi_device_put(struct http_ctx *c);
void capi_device_patch(struct http_ctx *c);
void capi_device_delete(struct http_ctx *c);
void capi_device_credentials(struct http_ctx *c);
void capi_device_components(struct http_ctx *c);
void capi_properties(struct http_ctx *c);
/* capi_commands.c */
void capi_command(struct http_ctx *c);
/* capi_data.c */
void capi_telemetry(struct http_ctx *c);
void capi_raw(struct http_ctx *c);
void capi_conformance(struct http_ctx *c);
/* capi_dashboards.c (iotc's own) */
void capi_dashboards_list(struct http_ctx *c);
void capi_dashboard(struct http_ctx *c);
/* capi_series.c */
void capi_series(struct http_ctx *c);
/* capi_query.c */
void capi_query(struct http_ctx *c);
/* capi_sse.c */
void capi_events(struct http_ctx *c);
/* capi_export.c: GET a list of destinations or exports (c->seg[2]), and one of them */
void capi_dx_list(struct http_ctx *c);
void capi_dx_one(struct http_ctx *c);

/** The device of c->seg[2] with its appl record; replies 404 and returns NULL when absent. */
struct device *capi_device(struct http_ctx *c, struct appl *a, struct appl_device **out_d);

#endif /* CENTRAL_CAPI_INT_H */
