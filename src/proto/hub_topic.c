/*
 * hub_topic.c - IoT Hub topic parsing, publish authorisation and subscription filters
 * (docs/PROTOCOL.md §5.3-§5.6, §10).
 */
#include <iotc/hub.h>

#include <string.h>

#include "proto/strbuf.h"

static const char *const kind_names[] = {
    "unknown",  "telemetry",           "c2d",           "method-request", "method-response",
    "twin-get", "twin-patch-reported", "twin-response", "twin-desired",
};

const char *iotc_hub_topic_kind_str(enum iotc_hub_topic_kind kind)
{
    if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
        return kind_names[0];
    return kind_names[kind];
}

static bool bag_valid(struct iotc_span bag)
{
    struct iotc_bag_iter it;
    struct iotc_bag_pair p;
    int rc;
    iotc_bag_iter_init(&it, bag);
    do {
        rc = iotc_bag_next(&it, &p);
    } while (rc == IOTC_OK);
    return rc == IOTC_E_NOTFOUND;
}

/* After "devices/{d}[/modules/{m}]": "/messages/events[/bag]" or "/messages/devicebound[/bag]". */
static int parse_message_tail(struct iotc_span rest, struct iotc_hub_topic *t)
{
    if (iotc__eat(&rest, "/messages/events"))
        t->kind = IOTC_HUB_TOPIC_TELEMETRY;
    else if (t->module_id.ptr == NULL && iotc__eat(&rest, "/messages/devicebound"))
        t->kind = IOTC_HUB_TOPIC_C2D;
    else
        return IOTC_E_MALFORMED;
    if (rest.len > 0 && !iotc__eat(&rest, "/"))
        return IOTC_E_MALFORMED; /* e.g. ".../messages/eventsX" */
    if (!bag_valid(rest))
        return IOTC_E_MALFORMED;
    t->bag = rest;
    return IOTC_OK;
}

static int parse_devices(struct iotc_span rest, struct iotc_hub_topic *t)
{
    const char *slash = rest.len ? memchr(rest.ptr, '/', rest.len) : NULL;
    if (slash == NULL || slash == rest.ptr)
        return IOTC_E_MALFORMED;
    t->device_id = (struct iotc_span){rest.ptr, (size_t)(slash - rest.ptr)};
    rest.len -= t->device_id.len;
    rest.ptr = slash;
    if (iotc__eat(&rest, "/modules/")) {
        const char *s2 = rest.len ? memchr(rest.ptr, '/', rest.len) : NULL;
        if (s2 == NULL || s2 == rest.ptr)
            return IOTC_E_MALFORMED;
        t->module_id = (struct iotc_span){rest.ptr, (size_t)(s2 - rest.ptr)};
        rest.len -= t->module_id.len;
        rest.ptr = s2;
    }
    return parse_message_tail(rest, t);
}

/* "{status}/?query" for responses; status 0..65535. */
static int parse_status(struct iotc_span *rest, unsigned *status)
{
    struct iotc_span text;
    uint64_t v;
    if (!iotc__split(rest, '/', &text) || !iotc__parse_u64(text, 5, &v) || v > 65535)
        return IOTC_E_MALFORMED;
    *status = (unsigned)v;
    return IOTC_OK;
}

/* "?query" with $rid (required unless need_rid is false) and $version. */
static int parse_query(struct iotc_span rest, bool need_rid, bool need_version,
                       struct iotc_hub_topic *t)
{
    static const char *const keys[] = {"$rid", "$version"};
    struct iotc_span vals[2] = {{NULL, 0}, {NULL, 0}};
    if (!iotc__eat(&rest, "?") || iotc__query_pick(rest, keys, vals, 2) < 0)
        return IOTC_E_MALFORMED;
    if (need_rid && vals[0].len == 0)
        return IOTC_E_MALFORMED;
    if (vals[1].ptr != NULL) {
        if (!iotc__parse_u64(vals[1], 20, &t->version))
            return IOTC_E_MALFORMED;
        t->has_version = true;
    } else if (need_version) {
        return IOTC_E_MALFORMED;
    }
    t->rid = vals[0];
    return IOTC_OK;
}

static int parse_iothub(struct iotc_span rest, struct iotc_hub_topic *t)
{
    if (iotc__eat(&rest, "methods/POST/")) {
        t->kind = IOTC_HUB_TOPIC_METHOD_REQUEST;
        if (!iotc__split(&rest, '/', &t->method_name) || t->method_name.len == 0)
            return IOTC_E_MALFORMED;
        return parse_query(rest, true, false, t);
    }
    if (iotc__eat(&rest, "methods/res/")) {
        t->kind = IOTC_HUB_TOPIC_METHOD_RESPONSE;
        if (parse_status(&rest, &t->status) < 0)
            return IOTC_E_MALFORMED;
        return parse_query(rest, true, false, t);
    }
    if (iotc__eat(&rest, "twin/GET/")) {
        t->kind = IOTC_HUB_TOPIC_TWIN_GET;
        return parse_query(rest, true, false, t);
    }
    if (iotc__eat(&rest, "twin/PATCH/properties/reported/")) {
        t->kind = IOTC_HUB_TOPIC_TWIN_PATCH_REPORTED;
        return parse_query(rest, true, false, t);
    }
    if (iotc__eat(&rest, "twin/res/")) {
        t->kind = IOTC_HUB_TOPIC_TWIN_RESPONSE;
        if (parse_status(&rest, &t->status) < 0)
            return IOTC_E_MALFORMED;
        return parse_query(rest, true, false, t);
    }
    if (iotc__eat(&rest, "twin/PATCH/properties/desired/")) {
        t->kind = IOTC_HUB_TOPIC_TWIN_DESIRED;
        return parse_query(rest, false, true, t);
    }
    return IOTC_E_MALFORMED;
}

int iotc_hub_topic_parse(struct iotc_span topic, struct iotc_hub_topic *out)
{
    struct iotc_hub_topic t;
    struct iotc_span rest = topic;
    int rc;
    memset(&t, 0, sizeof(t));
    if (topic.ptr == NULL)
        return IOTC_E_MALFORMED;
    if (iotc__eat(&rest, "devices/"))
        rc = parse_devices(rest, &t);
    else if (iotc__eat(&rest, "$iothub/"))
        rc = parse_iothub(rest, &t);
    else
        rc = IOTC_E_MALFORMED;
    if (rc < 0)
        return IOTC_E_MALFORMED;
    *out = t;
    return IOTC_OK;
}

int iotc_hub_topic_authorize(const struct iotc_hub_topic *t, struct iotc_span device_id,
                             struct iotc_span module_id)
{
    switch (t->kind) {
    case IOTC_HUB_TOPIC_TELEMETRY:
        if (device_id.len == 0 || !iotc_span_eq(t->device_id, device_id))
            return IOTC_E_AUTH;
        if ((module_id.ptr == NULL) != (t->module_id.ptr == NULL))
            return IOTC_E_AUTH;
        if (module_id.ptr != NULL && !iotc_span_eq(t->module_id, module_id))
            return IOTC_E_AUTH;
        return IOTC_OK;
    case IOTC_HUB_TOPIC_METHOD_RESPONSE:
    case IOTC_HUB_TOPIC_TWIN_GET:
    case IOTC_HUB_TOPIC_TWIN_PATCH_REPORTED:
        return IOTC_OK;
    default:
        return IOTC_E_AUTH; /* hub -> device topics are never published by a device */
    }
}

int iotc_hub_topic_classify(struct iotc_span topic, struct iotc_span device_id,
                            struct iotc_span module_id, enum iotc_hub_topic_kind *out_kind)
{
    struct iotc_hub_topic t;
    if (iotc_hub_topic_parse(topic, &t) < 0)
        return IOTC_E_MALFORMED;
    if (out_kind != NULL)
        *out_kind = t.kind;
    return iotc_hub_topic_authorize(&t, device_id, module_id);
}

int iotc_hub_subscription_classify(struct iotc_span filter, struct iotc_span device_id,
                                   struct iotc_span module_id, enum iotc_hub_sub_kind *out_kind)
{
    enum iotc_hub_sub_kind k = IOTC_HUB_SUB_UNKNOWN;
    struct iotc_span rest = filter, id;
    int rc = IOTC_OK;
    if (filter.ptr == NULL) {
        rc = IOTC_E_NOTFOUND;
    } else if (iotc_span_eq(filter, IOTC_SPAN_LIT(IOTC_HUB_METHODS_SUBSCRIBE_TOPIC))) {
        k = IOTC_HUB_SUB_METHODS;
    } else if (iotc_span_eq(filter, IOTC_SPAN_LIT(IOTC_HUB_TWIN_RES_SUBSCRIBE_TOPIC))) {
        k = IOTC_HUB_SUB_TWIN_RES;
    } else if (iotc_span_eq(filter, IOTC_SPAN_LIT(IOTC_HUB_TWIN_DESIRED_SUBSCRIBE_TOPIC))) {
        k = IOTC_HUB_SUB_TWIN_DESIRED;
    } else if (iotc__eat(&rest, "devices/") && iotc__split(&rest, '/', &id) && id.len > 0) {
        struct iotc_span mod;
        bool own = iotc_span_eq(id, device_id) && device_id.len > 0;
        if (iotc_span_eq(rest, IOTC_SPAN_LIT("messages/devicebound/#"))) {
            /* §5.4: the C SDK subscribes with '+' in the device position. */
            k = IOTC_HUB_SUB_C2D;
            if (!own && !iotc_span_eq(id, IOTC_SPAN_LIT("+")))
                rc = IOTC_E_AUTH;
        } else if (iotc__eat(&rest, "modules/") && iotc__split(&rest, '/', &mod) && mod.len > 0 &&
                   iotc_span_eq(rest, IOTC_SPAN_LIT("#"))) {
            k = IOTC_HUB_SUB_MODULE;
            if (!own || module_id.ptr == NULL || !iotc_span_eq(mod, module_id))
                rc = IOTC_E_AUTH;
        } else {
            rc = IOTC_E_NOTFOUND;
        }
    } else {
        rc = IOTC_E_NOTFOUND;
    }
    if (out_kind != NULL)
        *out_kind = rc == IOTC_E_NOTFOUND ? IOTC_HUB_SUB_UNKNOWN : k;
    return rc;
}

/* ---- per-family wrappers ---- */

/* Where one wrapper wants the fields of its family; a NULL pointer is a field it does not give. */
struct topic_out {
    enum iotc_hub_topic_kind *kind;
    struct iotc_span *device_id, *module_id, *bag, *method_name, *rid;
    unsigned *status;
    bool *has_version;
    uint64_t *version;
};

/* Parse @p topic; IOTC_E_MALFORMED unless it is of kind @p want or @p also; then copy the fields
 * @p o asks for. Every family wrapper below is this one call. */
static int parse_family(struct iotc_span topic, enum iotc_hub_topic_kind want,
                        enum iotc_hub_topic_kind also, struct topic_out o)
{
    struct iotc_hub_topic t;
    if (iotc_hub_topic_parse(topic, &t) < 0 || (t.kind != want && t.kind != also))
        return IOTC_E_MALFORMED;
    if (o.kind != NULL)
        *o.kind = t.kind;
    if (o.device_id != NULL)
        *o.device_id = t.device_id;
    if (o.module_id != NULL)
        *o.module_id = t.module_id;
    if (o.bag != NULL)
        *o.bag = t.bag;
    if (o.method_name != NULL)
        *o.method_name = t.method_name;
    if (o.rid != NULL)
        *o.rid = t.rid;
    if (o.status != NULL)
        *o.status = t.status;
    if (o.has_version != NULL)
        *o.has_version = t.has_version;
    if (o.version != NULL)
        *o.version = t.version;
    return IOTC_OK;
}

int iotc_hub_telemetry_topic_parse(struct iotc_span topic, struct iotc_span *out_device,
                                   struct iotc_span *out_module, struct iotc_span *out_bag)
{
    return parse_family(
        topic, IOTC_HUB_TOPIC_TELEMETRY, IOTC_HUB_TOPIC_TELEMETRY,
        (struct topic_out){.device_id = out_device, .module_id = out_module, .bag = out_bag});
}

int iotc_hub_c2d_topic_parse(struct iotc_span topic, struct iotc_span *out_device,
                             struct iotc_span *out_bag)
{
    return parse_family(topic, IOTC_HUB_TOPIC_C2D, IOTC_HUB_TOPIC_C2D,
                        (struct topic_out){.device_id = out_device, .bag = out_bag});
}

int iotc_hub_method_request_topic_parse(struct iotc_span topic, struct iotc_span *out_name,
                                        struct iotc_span *out_rid)
{
    return parse_family(topic, IOTC_HUB_TOPIC_METHOD_REQUEST, IOTC_HUB_TOPIC_METHOD_REQUEST,
                        (struct topic_out){.method_name = out_name, .rid = out_rid});
}

int iotc_hub_method_response_topic_parse(struct iotc_span topic, unsigned *out_status,
                                         struct iotc_span *out_rid)
{
    return parse_family(topic, IOTC_HUB_TOPIC_METHOD_RESPONSE, IOTC_HUB_TOPIC_METHOD_RESPONSE,
                        (struct topic_out){.status = out_status, .rid = out_rid});
}

int iotc_hub_twin_request_topic_parse(struct iotc_span topic, enum iotc_hub_topic_kind *out_kind,
                                      struct iotc_span *out_rid)
{
    return parse_family(topic, IOTC_HUB_TOPIC_TWIN_GET, IOTC_HUB_TOPIC_TWIN_PATCH_REPORTED,
                        (struct topic_out){.kind = out_kind, .rid = out_rid});
}

int iotc_hub_twin_response_topic_parse(struct iotc_span topic, unsigned *out_status,
                                       struct iotc_span *out_rid, bool *out_has_version,
                                       uint64_t *out_version)
{
    return parse_family(topic, IOTC_HUB_TOPIC_TWIN_RESPONSE, IOTC_HUB_TOPIC_TWIN_RESPONSE,
                        (struct topic_out){.status = out_status,
                                           .rid = out_rid,
                                           .has_version = out_has_version,
                                           .version = out_version});
}

int iotc_hub_twin_desired_topic_parse(struct iotc_span topic, uint64_t *out_version)
{
    return parse_family(topic, IOTC_HUB_TOPIC_TWIN_DESIRED, IOTC_HUB_TOPIC_TWIN_DESIRED,
                        (struct topic_out){.version = out_version});
}
