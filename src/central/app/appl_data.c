/*
 * appl_data.c - device data against the template: modeled / unmodeled split of raw payloads
 * and the device conformance report.
 */
#include "central/app/appl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/store/store_app.h"

#define CONFORMANCE_SCAN 5000
#define ASYNC_GRACE_MS 60000

bool appl_name_ignored(const char *name)
{
    static const char *const reserved[] = {"EventEnqueuedUtcTime",
                                           "EventProcessedUtcTime",
                                           "PartitionId",
                                           "EventHub",
                                           "User",
                                           "$metadata",
                                           "$version"};
    if (name[0] == '_')
        return true;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (strcmp(name, reserved[i]) == 0)
            return true;
    }
    return false;
}

/* "$: expected double" -> "expected double"; deeper paths stay as they are. */
static const char *why_text(const char *why)
{
    return strncmp(why, "$: ", 3) == 0 ? why + 3 : why;
}

static bool marked_component(const cJSON *v)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "__t");
    return cJSON_IsObject(v) && cJSON_IsString(t) && strcmp(t->valuestring, "c") == 0;
}

static void add_error(cJSON *errors, const char *comp, const char *name, const char *why)
{
    char msg[700];
    const char *w = why[0] == '$' ? why + 1 : why;
    snprintf(msg, sizeof msg, "%s%s%s%s%s", comp[0] ? comp : "", comp[0] ? "." : "", name,
             w[0] == ':' || w[0] == '.' ? "" : ": ", w);
    cJSON_AddItemToArray(errors, cJSON_CreateString(msg));
}

/* The value to check against a property's schema: an ack's "value" for writable properties. */
static const cJSON *property_value(const struct dtdl_capability *cap, const cJSON *v)
{
    if (cap->writable && cJSON_IsObject(v) && cJSON_GetObjectItemCaseSensitive(v, "value") &&
        (cJSON_GetObjectItemCaseSensitive(v, "ac") || cJSON_GetObjectItemCaseSensitive(v, "av")))
        return cJSON_GetObjectItemCaseSensitive(v, "value");
    return v;
}

static void classify_level(const struct dtdl_model *m, int kind, const char *comp,
                           const cJSON *payload, cJSON *modeled, cJSON *unmodeled, cJSON *errors,
                           bool top)
{
    char why[300];
    for (const cJSON *it = payload->child; it != NULL; it = it->next) {
        const char *name = it->string;
        if (strcmp(name, "__t") == 0 || appl_name_ignored(name))
            continue;
        if (kind == 2 && top &&
            (marked_component(it) ||
             (m != NULL && name[0] && dtdl_find_component(m, name) != NULL &&
              cJSON_IsObject(it)))) {
            cJSON *mo = cJSON_CreateObject(), *un = cJSON_CreateObject();
            classify_level(m, kind, name, it, mo, un, errors, false);
            if (mo->child)
                cJSON_AddItemToObject(modeled, name, mo);
            else
                cJSON_Delete(mo);
            if (un->child)
                cJSON_AddItemToObject(unmodeled, name, un);
            else
                cJSON_Delete(un);
            continue;
        }
        const struct dtdl_capability *cap = m ? dtdl_find(m, comp, name) : NULL;
        bool match = cap != NULL && ((kind == 1 && cap->kind == DTDL_TELEMETRY) ||
                                     (kind == 2 && cap->kind != DTDL_TELEMETRY));
        if (!match) {
            cJSON_AddItemToObject(unmodeled, name, cJSON_Duplicate(it, 1));
            continue;
        }
        cJSON_AddItemToObject(modeled, name, cJSON_Duplicate(it, 1));
        if (cap->kind == DTDL_COMMAND || cap->schema == NULL)
            continue;
        const cJSON *v = kind == 2 ? property_value(cap, it) : it;
        if (!dtdl_check_value(cap->schema, v, why, sizeof why))
            add_error(errors, comp, name, why);
    }
}

void appl_classify(const struct dtdl_model *m, int kind, const char *component,
                   const cJSON *payload, cJSON *modeled, cJSON *unmodeled, cJSON *errors)
{
    if (!cJSON_IsObject(payload)) {
        cJSON_AddItemToArray(errors, cJSON_CreateString("the payload is not a JSON object"));
        return;
    }
    classify_level(m, kind == 1 ? 1 : 2, component ? component : "", payload, modeled, unmodeled,
                   errors, true);
}

/* ---------------------------------------------------------------- conformance */

struct conf {
    const struct dtdl_model *m;
    cJSON *stats;     /* "comp/name" -> {"count","bad","why","last"} of modeled capabilities */
    cJSON *unmodeled; /* "t|comp|name" / "p|comp|name" -> count */
    long messages, reports;
};

static void key_of(char *out, size_t size, const char *comp, const char *name)
{
    if (comp[0])
        snprintf(out, size, "%s/%s", comp, name);
    else
        snprintf(out, size, "%s", name);
}

static void bump(cJSON *obj, const char *key, const char *field, const char *why)
{
    cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (s == NULL) {
        s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "count", 0);
        cJSON_AddNumberToObject(s, "bad", 0);
        cJSON_AddItemToObject(obj, key, s);
    }
    cJSON *n = cJSON_GetObjectItemCaseSensitive(s, field);
    if (n == NULL)
        n = cJSON_AddNumberToObject(s, field, 0);
    cJSON_SetNumberValue(n, n->valuedouble + 1);
    if (why != NULL && cJSON_GetObjectItemCaseSensitive(s, "why") == NULL)
        cJSON_AddStringToObject(s, "why", why_text(why));
}

static void count_unmodeled(struct conf *c, char kind, const char *comp, const char *name)
{
    char key[700];
    snprintf(key, sizeof key, "%c|%s|%s", kind, comp, name);
    bump(c->unmodeled, key, "count", NULL);
}

static void conf_level(struct conf *c, char kind, const char *comp, const cJSON *obj, bool top)
{
    char key[600], why[300];
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        if (strcmp(it->string, "__t") == 0 || appl_name_ignored(it->string))
            continue;
        if (kind == 'p' && top &&
            (marked_component(it) ||
             (it->string[0] && dtdl_find_component(c->m, it->string) != NULL))) {
            if (cJSON_IsObject(it))
                conf_level(c, kind, it->string, it, false);
            continue;
        }
        const struct dtdl_capability *cap = dtdl_find(c->m, comp, it->string);
        bool match = cap != NULL && ((kind == 't' && cap->kind == DTDL_TELEMETRY) ||
                                     (kind == 'p' && cap->kind != DTDL_TELEMETRY));
        if (!match) {
            count_unmodeled(c, kind, comp, it->string);
            continue;
        }
        key_of(key, sizeof key, comp, it->string);
        bump(c->stats, key, "count", NULL);
        if (cap->schema != NULL) {
            const cJSON *v = kind == 'p' ? property_value(cap, it) : it;
            if (!dtdl_check_value(cap->schema, v, why, sizeof why))
                bump(c->stats, key, "bad", why);
        }
    }
}

static int conf_tel(void *ctx, const struct store_app_telemetry *row)
{
    struct conf *c = ctx;
    cJSON *p = cJSON_ParseWithLength(row->payload, row->payload_len);
    c->messages++;
    if (cJSON_IsObject(p))
        conf_level(c, 't', row->component ? row->component : "", p, true);
    cJSON_Delete(p);
    return 0;
}

static int conf_raw(void *ctx, const struct store_app_raw *row)
{
    struct conf *c = ctx;
    if (strcmp(row->kind, "property") != 0 || row->data == NULL)
        return 0;
    cJSON *p = cJSON_Parse(row->data);
    c->reports++;
    if (cJSON_IsObject(p))
        conf_level(c, 'p', "", p, true);
    cJSON_Delete(p);
    return 0;
}

static void mismatch(cJSON *list, const char *kind, const char *comp, const char *name,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void mismatch(cJSON *list, const char *kind, const char *comp, const char *name,
                     const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "component", comp);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddItemToArray(list, o);
}

static cJSON *cap_entry(const struct dtdl_capability *cap, const char *kind)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "component", cap->component);
    cJSON_AddStringToObject(o, "name", cap->name);
    cJSON_AddStringToObject(o, "kind", kind);
    return o;
}

static void set_status(cJSON *e, bool exercised, const char *status, const char *detail)
{
    cJSON_AddBoolToObject(e, "exercised", exercised);
    cJSON_AddStringToObject(e, "status", status);
    if (detail != NULL && detail[0])
        cJSON_AddStringToObject(e, "detail", detail);
}

static void check_telemetry(struct conf *c, const struct dtdl_capability *cap, cJSON *caps,
                            cJSON *mm)
{
    char key[600], detail[500] = "";
    cJSON *e = cap_entry(cap, "telemetry");
    key_of(key, sizeof key, cap->component, cap->name);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(c->stats, key);
    int count = s ? cJSON_GetObjectItemCaseSensitive(s, "count")->valueint : 0;
    int badn = s ? cJSON_GetObjectItemCaseSensitive(s, "bad")->valueint : 0;
    cJSON_AddNumberToObject(e, "count", count);
    if (badn > 0) {
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(s, "why");
        snprintf(detail, sizeof detail, "%d of %d values do not match %s: %s", badn, count,
                 dtdl_schema_type_name(cap->schema->type),
                 cJSON_IsString(why) ? why->valuestring : "");
        mismatch(mm, "schema", cap->component, cap->name, "telemetry \"%s\": %s", cap->name,
                 detail);
    }
    set_status(e, count > 0, count == 0 ? "unused" : badn ? "mismatch" : "ok", detail);
    cJSON_AddItemToArray(caps, e);
}

static void check_property(struct conf *c, const struct dtdl_capability *cap,
                           const struct device *dev, cJSON *caps, cJSON *mm)
{
    char key[600], detail[500] = "", why[300];
    const char *status = "unused";
    bool exercised = false;
    const cJSON *rep = cap->component[0]
                           ? cJSON_GetObjectItemCaseSensitive(dev->reported, cap->component)
                           : dev->reported;
    const cJSON *des = cap->component[0]
                           ? cJSON_GetObjectItemCaseSensitive(dev->desired, cap->component)
                           : dev->desired;
    const cJSON *dmeta = cap->component[0]
                             ? cJSON_GetObjectItemCaseSensitive(dev->desired_meta, cap->component)
                             : dev->desired_meta;
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(rep, cap->name);
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(des, cap->name);
    cJSON *e = cap_entry(cap, cap->writable ? "writableProperty" : "property");
    key_of(key, sizeof key, cap->component, cap->name);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(c->stats, key);
    cJSON_AddNumberToObject(e, "count",
                            s ? cJSON_GetObjectItemCaseSensitive(s, "count")->valueint : 0);
    if (rv != NULL) {
        exercised = true;
        status = "ok";
    }
    if (!cap->writable) {
        if (rv != NULL && cap->schema && !dtdl_check_value(cap->schema, rv, why, sizeof why)) {
            status = "mismatch";
            snprintf(detail, sizeof detail, "reported value: %s", why_text(why));
            mismatch(mm, "schema", cap->component, cap->name, "property \"%s\": %s", cap->name,
                     why_text(why));
        }
    } else {
        const cJSON *dver = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(dmeta, cap->name), "$lastUpdatedVersion");
        double want = cJSON_IsNumber(dver) ? dver->valuedouble : 0;
        bool ack = cJSON_IsObject(rv) && (cJSON_GetObjectItemCaseSensitive(rv, "av") ||
                                          cJSON_GetObjectItemCaseSensitive(rv, "ac"));
        const cJSON *av = ack ? cJSON_GetObjectItemCaseSensitive(rv, "av") : NULL;
        const cJSON *ac = ack ? cJSON_GetObjectItemCaseSensitive(rv, "ac") : NULL;
        if (rv != NULL && !ack) {
            status = "mismatch";
            snprintf(detail, sizeof detail, "reported without the {value, ac, av} envelope");
            mismatch(mm, "ackMissing", cap->component, cap->name,
                     "writable property \"%s\" was reported as a plain value; acknowledge with "
                     "{\"value\":..,\"ac\":200,\"av\":<desired $version>}",
                     cap->name);
        } else if (ack && (!cJSON_IsNumber(av) || !cJSON_IsNumber(ac))) {
            status = "mismatch";
            snprintf(detail, sizeof detail, "ack lacks a numeric ac or av");
            mismatch(mm, "ackMissing", cap->component, cap->name,
                     "writable property \"%s\": the ack needs numeric \"ac\" and \"av\"",
                     cap->name);
        } else if (ack && av->valuedouble > want && dv != NULL) {
            status = "mismatch";
            snprintf(detail, sizeof detail, "av %g is higher than the desired version %g",
                     av->valuedouble, want);
            mismatch(mm, "ackVersion", cap->component, cap->name,
                     "writable property \"%s\": av %g acknowledges a desired version that was "
                     "never written (latest %g)",
                     cap->name, av->valuedouble, want);
        } else if (ack && dv != NULL && av->valuedouble < want) {
            status = "pending";
            snprintf(detail, sizeof detail, "desired version %g not acknowledged yet (av %g)", want,
                     av->valuedouble);
        } else if (ack && ac->valueint >= 400) {
            status = "mismatch";
            snprintf(detail, sizeof detail, "the device refused the value: ac %d", ac->valueint);
            mismatch(mm, "ackFailed", cap->component, cap->name,
                     "writable property \"%s\": the device answered ac %d", cap->name,
                     ac->valueint);
        } else if (ack) {
            snprintf(detail, sizeof detail, "acknowledged desired version %g with ac %d",
                     av->valuedouble, ac->valueint);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rv, "value");
            if (v && cap->schema && !dtdl_check_value(cap->schema, v, why, sizeof why)) {
                status = "mismatch";
                mismatch(mm, "schema", cap->component, cap->name, "property \"%s\": %s", cap->name,
                         why_text(why));
            }
        } else if (dv != NULL) {
            exercised = true;
            status = "pending";
            snprintf(detail, sizeof detail, "desired version %g written, no ack yet", want);
        }
    }
    set_status(e, exercised, status, detail);
    cJSON_AddItemToArray(caps, e);
}

static void check_command(struct appl_device *d, const struct dtdl_capability *cap, cJSON *caps,
                          cJSON *mm)
{
    char detail[500] = "";
    int count = 0, ok = 0, failed = 0, timeouts = 0, stuck = 0;
    int64_t now = app_now_ms();
    const struct appl_command *last = NULL;
    cJSON *e = cap_entry(cap, "command");
    for (size_t i = 0; i < d->n_cmds; i++) {
        const struct appl_command *c = d->cmds[i];
        if (strcmp(c->name, cap->name) != 0 || strcmp(c->component, cap->component) != 0)
            continue;
        count++;
        last = c;
        if (c->status == CMD_COMPLETED)
            ok++;
        else if (c->status == CMD_FAILED && c->response_code == 0)
            timeouts++;
        else if (c->status == CMD_FAILED)
            failed++;
        else if (c->status == CMD_PENDING && now - c->time_ms > ASYNC_GRACE_MS)
            stuck++;
    }
    cJSON_AddNumberToObject(e, "count", count);
    const char *status = count == 0 ? "unused" : "ok";
    if (timeouts > 0) {
        status = "mismatch";
        mismatch(mm, "commandTimeout", cap->component, cap->name,
                 "command \"%s\": %d of %d calls got no answer in time", cap->name, timeouts,
                 count);
    }
    if (failed > 0) {
        status = "mismatch";
        mismatch(mm, "commandFailed", cap->component, cap->name,
                 "command \"%s\": %d of %d calls answered with an error status", cap->name, failed,
                 count);
    }
    if (stuck > 0) {
        status = "mismatch";
        mismatch(mm, "asyncNotCompleted", cap->component, cap->name,
                 "command \"%s\": answered 202 but no reported property \"%s\" followed within "
                 "%d s",
                 cap->name, cap->name, ASYNC_GRACE_MS / 1000);
    }
    if (last != NULL) {
        if (last->status == CMD_COMPLETED && last->completion != NULL)
            snprintf(detail, sizeof detail, "answered %d, completion property received",
                     last->response_code);
        else if (last->response_code != 0)
            snprintf(detail, sizeof detail, "last answer %d in %lld ms", last->response_code,
                     (long long)(last->completed_ms > 0 ? last->completed_ms - last->time_ms : 0));
        else
            snprintf(detail, sizeof detail, "last call: %s", appl_cmd_status_name(last->status));
    }
    (void)ok;
    set_status(e, count > 0, status, detail);
    cJSON_AddItemToArray(caps, e);
}

static void report_unmodeled(struct conf *c, cJSON *mm)
{
    for (const cJSON *u = c->unmodeled->child; u != NULL; u = u->next) {
        char kind = u->string[0], comp[256] = "";
        const char *p = u->string + 2, *bar = strchr(p, '|');
        int count = cJSON_GetObjectItemCaseSensitive(u, "count")->valueint;
        if (bar == NULL || (size_t)(bar - p) >= sizeof comp)
            continue;
        memcpy(comp, p, (size_t)(bar - p));
        comp[bar - p] = '\0';
        const char *name = bar + 1;
        enum dtdl_kind want = kind == 't' ? DTDL_TELEMETRY : DTDL_PROPERTY;
        const char *what = kind == 't' ? "telemetry" : "property";
        /* Same name in another component: the device used the wrong component. */
        const struct dtdl_capability *other = NULL;
        for (size_t i = 0; i < c->m->n_caps && other == NULL; i++) {
            const struct dtdl_capability *cap = &c->m->caps[i];
            if (cap->kind == want && strcmp(cap->name, name) == 0 && strcmp(cap->component, comp))
                other = cap;
        }
        if (other != NULL) {
            mismatch(mm, "wrongComponent", comp, name,
                     "%s \"%s\" was sent %s%s%s but the template has it %s%s%s", what, name,
                     comp[0] ? "in component \"" : "at the root", comp, comp[0] ? "\"" : "",
                     other->component[0] ? "in component \"" : "at the root", other->component,
                     other->component[0] ? "\"" : "");
        } else {
            const char *near = appl_closest_name(c->m, comp, want, name);
            char hint[200] = "";
            if (near != NULL)
                snprintf(hint, sizeof hint, "; did you mean \"%s\"?", near);
            mismatch(mm, kind == 't' ? "unmodeledTelemetry" : "unmodeledProperty", comp, name,
                     "%s \"%s\"%s%s%s matches no capability of the template%s", what, name,
                     comp[0] ? " (component \"" : "", comp, comp[0] ? "\")" : "", hint);
            if (near != NULL)
                cJSON_AddStringToObject(cJSON_GetArrayItem(mm, cJSON_GetArraySize(mm) - 1),
                                        "suggestion", near);
        }
        cJSON_AddNumberToObject(cJSON_GetArrayItem(mm, cJSON_GetArraySize(mm) - 1), "count", count);
    }
}

cJSON *appl_conformance(struct appl *a, struct appl_device *d, const struct device *dev)
{
    struct appl_template *t = appl_device_template(a, d);
    struct conf c = {.m = t ? t->model : NULL};
    if (t == NULL)
        return NULL;
    c.stats = cJSON_CreateObject();
    c.unmodeled = cJSON_CreateObject();
    cJSON *o = cJSON_CreateObject(), *caps = cJSON_CreateArray(), *mm = cJSON_CreateArray();
    if (!c.stats || !c.unmodeled || !o || !caps || !mm) {
        cJSON_Delete(c.stats);
        cJSON_Delete(c.unmodeled);
        cJSON_Delete(o);
        cJSON_Delete(caps);
        cJSON_Delete(mm);
        return NULL;
    }
    store_app_scan_telemetry(a->db, d->id, 0, INT64_MAX, 0, true, CONFORMANCE_SCAN, conf_tel, &c);
    store_app_scan_raw(a->db, d->id, 0, INT64_MAX, 0, true, CONFORMANCE_SCAN, conf_raw, &c);
    for (size_t i = 0; i < c.m->n_caps; i++) {
        const struct dtdl_capability *cap = &c.m->caps[i];
        if (cap->kind == DTDL_TELEMETRY)
            check_telemetry(&c, cap, caps, mm);
        else if (cap->kind == DTDL_PROPERTY && !cap->cloud)
            check_property(&c, cap, dev, caps, mm);
        else if (cap->kind == DTDL_COMMAND)
            check_command(d, cap, caps, mm);
    }
    report_unmodeled(&c, mm);
    cJSON_AddStringToObject(o, "deviceId", d->id);
    cJSON_AddStringToObject(o, "template", t->id);
    if (dev->model_id)
        cJSON_AddStringToObject(o, "modelId", dev->model_id);
    else
        cJSON_AddNullToObject(o, "modelId");
    cJSON_AddNumberToObject(o, "messagesChecked", (double)c.messages);
    cJSON_AddNumberToObject(o, "propertyReportsChecked", (double)c.reports);
    cJSON_AddBoolToObject(o, "conformant", cJSON_GetArraySize(mm) == 0);
    cJSON_AddItemToObject(o, "capabilities", caps);
    cJSON_AddItemToObject(o, "mismatches", mm);
    cJSON_Delete(c.stats);
    cJSON_Delete(c.unmodeled);
    return o;
}
