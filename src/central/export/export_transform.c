/*
 * export_transform.c - an export destination's jq transform (see export_transform.h): the
 * `iotc` module rewrite (pure), compiling with libjq, and one run per message.
 */
#include "central/export/export_transform.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jq.h>
#include <jv.h>

#include "central/export/export_fmt.h"

struct export_transform {
    jq_state *jq;
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

int export_transform_new(const char *text, struct export_transform **out, char *err,
                         size_t err_size)
{
    *out = NULL;
    char *src = export_transform_source(text, err, err_size);
    if (src == NULL)
        return -1;
    struct export_transform *t = calloc(1, sizeof *t);
    if (t == NULL || (t->jq = jq_init()) == NULL) {
        free(t);
        free(src);
        return export_fail(err, err_size, "out of memory");
    }
    jq_set_error_cb(t->jq, on_jq_error, t);
    /* no module search path: nothing but the program itself is loaded */
    jq_set_attr(t->jq, jv_string("JQ_LIBRARY_PATH"), jv_array());
    int ok = jq_compile(t->jq, src);
    free(src);
    if (!ok) {
        export_fail(err, err_size, "%s", t->err[0] ? t->err : "does not compile");
        export_transform_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void export_transform_free(struct export_transform *t)
{
    if (t == NULL)
        return;
    if (t->jq != NULL)
        jq_teardown(&t->jq);
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
    int rc = 0;
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
        if (jq_halted(t->jq)) {
            jv m = jq_get_error_message(t->jq);
            jv s = jv_get_kind(m) == JV_KIND_STRING ? jv_copy(m) : jv_dump_string(jv_copy(m), 0);
            rc = export_fail(err, err_size, "halted: %s", jv_string_value(s));
            jv_free(s);
            jv_free(m);
            jv_free(v);
            break;
        }
        if (jv_invalid_has_msg(jv_copy(v))) {
            jv m = jv_invalid_get_msg(v);
            jv s = jv_get_kind(m) == JV_KIND_STRING ? jv_copy(m) : jv_dump_string(jv_copy(m), 0);
            rc = export_fail(err, err_size, "%s", jv_string_value(s));
            jv_free(s);
            jv_free(m);
            break;
        }
        jv_free(v); /* the end of the outputs */
        break;
    }
    if (rc != 0)
        export_transform_out_free(out);
    return rc;
}
