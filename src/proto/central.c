/*
 * central.c - IoT Plug and Play / IoT Central property and command conventions
 * (docs/PROTOCOL.md §7).
 */
#include <iotc/central.h>

#include <string.h>

#include <iotc/json.h>

#include "proto/strbuf.h"

static bool nonempty(struct iotc_span s)
{
    return s.ptr != NULL && s.len > 0;
}

/* `{` + optional `"comp":{"__t":"c",` ... the caller writes members, then close_component. */
static void open_component(struct iotc_json_writer *w, struct iotc_span component)
{
    iotc_json_write_object_begin(w);
    if (nonempty(component)) {
        iotc_json_write_key(w, component);
        iotc_json_write_object_begin(w);
        iotc_json_write_key(w, IOTC_SPAN_LIT(IOTC_CENTRAL_COMPONENT_MARKER));
        iotc_json_write_string(w, IOTC_SPAN_LIT(IOTC_CENTRAL_COMPONENT_MARKER_VALUE));
    }
}

static void close_component(struct iotc_json_writer *w, struct iotc_span component)
{
    if (nonempty(component))
        iotc_json_write_object_end(w);
    iotc_json_write_object_end(w);
}

/* open_component + `"name":{"value":` ... the caller writes the value (and more members of
 * name's object), then close_value: the envelope of a writable-property ack and of a command's
 * completion. */
static void open_value(struct iotc_json_writer *w, struct iotc_span component,
                       struct iotc_span name)
{
    open_component(w, component);
    iotc_json_write_key(w, name);
    iotc_json_write_object_begin(w);
    iotc_json_write_key(w, IOTC_SPAN_LIT("value"));
}

static void close_value(struct iotc_json_writer *w, struct iotc_span component)
{
    iotc_json_write_object_end(w);
    close_component(w, component);
}

static int emit_property(struct iotc_json_writer *w, struct iotc_span component,
                         struct iotc_span name, struct iotc_span value)
{
    if (!nonempty(name) || value.ptr == NULL)
        return IOTC_E_ARG;
    open_component(w, component);
    iotc_json_write_key(w, name);
    iotc_json_write_raw(w, value);
    close_component(w, component);
    return 0;
}

int iotc_central_property_build(struct iotc_span component, struct iotc_span name,
                                struct iotc_span value_json, char *out, size_t out_size,
                                size_t *out_len)
{
    IOTC__JSON_BUILD(w, out, out_size, out_len, emit_property(w, component, name, value_json));
}

struct ack {
    struct iotc_span component, name, value, desc;
    int ac;
    uint64_t av;
};

static int emit_ack(struct iotc_json_writer *w, const struct ack *a)
{
    if (!nonempty(a->name) || a->value.ptr == NULL)
        return IOTC_E_ARG;
    open_value(w, a->component, a->name);
    iotc_json_write_raw(w, a->value);
    iotc_json_write_key(w, IOTC_SPAN_LIT("ac"));
    iotc_json_write_int(w, a->ac);
    iotc_json_write_key(w, IOTC_SPAN_LIT("av"));
    iotc_json_write_uint(w, a->av);
    if (a->desc.ptr != NULL) {
        iotc_json_write_key(w, IOTC_SPAN_LIT("ad"));
        iotc_json_write_string(w, a->desc);
    }
    close_value(w, a->component);
    return 0;
}

int iotc_central_ack_build(struct iotc_span component, struct iotc_span name,
                           struct iotc_span value_json, int ac, uint64_t av,
                           struct iotc_span description, char *out, size_t out_size,
                           size_t *out_len)
{
    const struct ack a = {component, name, value_json, description, ac, av};
    IOTC__JSON_BUILD(w, out, out_size, out_len, emit_ack(w, &a));
}

static int emit_complete(struct iotc_json_writer *w, struct iotc_span component,
                         struct iotc_span command, struct iotc_span text)
{
    if (!nonempty(command))
        return IOTC_E_ARG;
    open_value(w, component, command);
    iotc_json_write_string(w, text);
    close_value(w, component);
    return 0;
}

int iotc_central_command_complete_build(struct iotc_span component, struct iotc_span command,
                                        struct iotc_span text, char *out, size_t out_size,
                                        size_t *out_len)
{
    IOTC__JSON_BUILD(w, out, out_size, out_len, emit_complete(w, component, command, text));
}

bool iotc_central_is_component(struct iotc_json_value obj)
{
    struct iotc_json_value v;
    if (obj.type != IOTC_JSON_OBJECT ||
        iotc_json_object_find(obj, IOTC_SPAN_LIT(IOTC_CENTRAL_COMPONENT_MARKER), &v) != IOTC_OK)
        return false;
    return v.type == IOTC_JSON_STRING &&
           iotc_json_string_eq(v, IOTC_SPAN_LIT(IOTC_CENTRAL_COMPONENT_MARKER_VALUE));
}

int iotc_central_command_split(struct iotc_span method_name, struct iotc_span *out_component,
                               struct iotc_span *out_command)
{
    struct iotc_span rest = method_name, comp = {NULL, 0};
    if (!nonempty(method_name))
        return IOTC_E_MALFORMED;
    if (iotc__split(&rest, IOTC_CENTRAL_COMMAND_SEPARATOR, &comp)) {
        if (comp.len == 0 || rest.len == 0)
            return IOTC_E_MALFORMED;
    } else {
        comp = IOTC_SPAN_NULL;
    }
    if (out_component != NULL)
        *out_component = comp;
    if (out_command != NULL)
        *out_command = rest;
    return IOTC_OK;
}

static int emit_join(struct iotc__sb *sb, struct iotc_span component, struct iotc_span command)
{
    if (!nonempty(command) ||
        (component.len > 0 &&
         memchr(component.ptr, IOTC_CENTRAL_COMMAND_SEPARATOR, component.len) != NULL))
        return IOTC_E_ARG;
    if (nonempty(component)) {
        iotc__sb_span(sb, component);
        iotc__sb_putc(sb, IOTC_CENTRAL_COMMAND_SEPARATOR);
    }
    iotc__sb_span(sb, command);
    return 0;
}

int iotc_central_command_join(struct iotc_span component, struct iotc_span command, char *out,
                              size_t out_size, size_t *out_len)
{
    IOTC__SB_BUILD(sb, out, out_size, out_len, emit_join(sb, component, command));
}
