/*
 * hub_inbound.c - what the hub sends to the device (docs/PROTOCOL.md §5.5, §5.6, §7): direct
 * methods dispatched to command handlers (answered at once or later), twin responses (the full-twin
 * read reconciled into writable-property deliveries, reported-patch outcomes), and desired-property
 * pushes, and cloud-to-device messages (IoT Central's queued commands carry method-name).
 * Writable properties are acknowledged with IoT Central's {value, ac, av, ad}.
 */
#include "device/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include <iotc/central.h>
#include <iotc/codec.h>
#include <iotc/hub.h>
#include <iotc/json.h>

#include "device/alloc.h"
#include "device/twin_sync.h"

#define NAME_MAX_LEN 256
#define RETRY_LATER_MS 2000u

/* ---------------------------------------------------------------------------------------- */
/* Commands                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static bool rid_ok(const char *rid)
{
    size_t n = rid ? strlen(rid) : 0;
    if (n == 0 || n >= sizeof(((struct iotc_command *)0)->rid))
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)rid[i] <= 0x20 || strchr("&=?#+/", rid[i]) != NULL)
            return false;
    }
    return true;
}

static int respond_locked(struct iotc_client *c, const char *rid, int status, const char *json)
{
    char topic[96];
    size_t n;
    struct iotc_json_value v;
    struct iotc_span body = IOTC_SPAN_LIT("null");

    if (!rid_ok(rid) || status < 0 || status > 65535)
        return IOTC_E_ARG;
    if (json != NULL) {
        body = iotc_span_from_cstr(json);
        if (iotc_json_parse(body, &v) != IOTC_OK)
            return IOTC_E_ARG;
    }
    if (c->phase != PH_HUB || !c->mosq_connected || c->teardown)
        return IOTC_E_STATE;
    if (iotc_hub_method_response_topic_build((unsigned)status, iotc_span_from_cstr(rid), topic,
                                             sizeof(topic), &n) != IOTC_OK)
        return IOTC_E_ARG;
    if (mosquitto_publish(c->mosq, NULL, topic, (int)body.len, body.ptr, 0, false) !=
        MOSQ_ERR_SUCCESS)
        return IOTC_E_IO;
    iotc__wake(c);
    return IOTC_OK;
}

int iotc_client_command_respond(struct iotc_client *c, const char *rid, int status,
                                const char *json)
{
    pthread_mutex_lock(&c->lock);
    int rc = respond_locked(c, rid, status, json);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Answer a direct method; queued (C2D) commands have nobody to answer to. */
static void reply(struct iotc_client *c, const struct iotc_command *cmd, int status,
                  const char *json)
{
    if (!cmd->queued)
        respond_locked(c, cmd->rid, status, json);
}

/*
 * The request value as JSON text in a new string: "null" for none (or IoT Central's "@" placeholder
 * of a queued command without parameter); a queued command's plain-text value becomes a string.
 */
static char *command_payload(struct iotc_span body, bool queued, size_t *out_len)
{
    struct iotc_json_value v;
    size_t n = 0;
    char *p;

    if (body.len == 0 || (queued && body.len == 1 && body.ptr[0] == '@')) {
        *out_len = 4;
        return iotc__strndup("null", 4);
    }
    if (!queued || iotc_json_parse(body, &v) == IOTC_OK) {
        *out_len = body.len;
        return iotc__strndup(body.ptr, body.len);
    }
    if (iotc_json_escape(body, NULL, 0, &n) != IOTC_E_NOSPACE)
        return NULL; /* not UTF-8: not a value IoT Central sends */
    p = iotc__malloc(n + 1);
    if (p != NULL && iotc_json_escape(body, p, n + 1, out_len) != IOTC_OK) {
        free(p);
        p = NULL;
    }
    return p;
}

/* Run the handler of command @p name; @p rid NULL for a queued (cloud-to-device) command. */
static void dispatch_command(struct iotc_client *c, struct iotc_span name, struct iotc_span rid,
                             struct iotc_span body, bool queued)
{
    char full[NAME_MAX_LEN], comp[NAME_MAX_LEN], cmdname[NAME_MAX_LEN];
    struct iotc_span sc, sn;
    struct iotc_command cmd;
    const char *out_json = NULL;
    size_t plen = 0;

    memset(&cmd, 0, sizeof(cmd));
    cmd.queued = queued;
    if (!queued) {
        if (rid.len == 0 || rid.len >= sizeof(cmd.rid)) {
            iotc__log(c, IOTC_LOG_WARN, "method request with an unusable $rid ignored");
            return;
        }
        memcpy(cmd.rid, rid.ptr, rid.len);
    }
    if (name.len == 0 || name.len >= sizeof(full)) {
        reply(c, &cmd, 400, "{\"error\":\"bad command name\"}");
        return;
    }
    memcpy(full, name.ptr, name.len);
    full[name.len] = '\0';
    if (iotc_central_command_split(name, &sc, &sn) != IOTC_OK) {
        sc = IOTC_SPAN_NULL;
        sn = name;
    }
    if (sc.ptr != NULL) {
        memcpy(comp, sc.ptr, sc.len);
        comp[sc.len] = '\0';
    }
    memcpy(cmdname, sn.ptr, sn.len);
    cmdname[sn.len] = '\0';

    struct iotc__handler *h = iotc__handler_find(c->cmd_handlers, NULL, full);
    if (h == NULL) {
        iotc__log(c, IOTC_LOG_INFO, "no handler for %scommand %s", queued ? "queued " : "", full);
        reply(c, &cmd, 404, "{\"error\":\"unknown command\"}");
        return;
    }
    char *payload = command_payload(body, queued, &plen);
    if (payload == NULL) {
        reply(c, &cmd, 500, "{\"error\":\"out of memory\"}");
        return;
    }
    cmd.component = sc.ptr ? comp : NULL;
    cmd.name = cmdname;
    cmd.payload = payload;
    cmd.payload_len = plen;
    iotc__log(c, IOTC_LOG_INFO, "%scommand %s (%zu bytes)", queued ? "queued " : "", full, plen);
    int status = h->fn.cmd(h->user, c, &cmd, &out_json);
    if (!queued && status != IOTC_COMMAND_DEFER) {
        /* out_json may point into the request (an echo): answer before freeing it. */
        int rc = respond_locked(c, cmd.rid, status, out_json);
        if (rc == IOTC_E_ARG) {
            iotc__log(c, IOTC_LOG_ERROR, "command %s: handler returned invalid JSON or status",
                      full);
            respond_locked(c, cmd.rid, 500, NULL);
        }
    }
    free(payload);
}

/* ---------------------------------------------------------------------------------------- */
/* Cloud-to-device messages                                                                  */
/* ---------------------------------------------------------------------------------------- */

#define C2D_MAX_PROPS 32

static char *decode_dup(struct iotc_span s)
{
    size_t n = 0;
    if (iotc_pct_decoded_len(s, &n) != IOTC_OK)
        return NULL;
    char *out = iotc__malloc(n + 1);
    if (out != NULL && iotc_pct_decode(s, out, n + 1, &n) != IOTC_OK) {
        free(out);
        out = NULL;
    }
    return out;
}

static void handle_c2d(struct iotc_client *c, struct iotc_span bag, struct iotc_span body)
{
    struct iotc_msg_prop props[C2D_MAX_PROPS];
    struct iotc_bag_iter it;
    struct iotc_bag_pair pair;
    size_t n = 0;
    const char *method = NULL;

    iotc_bag_iter_init(&it, bag);
    while (n < C2D_MAX_PROPS && iotc_bag_next(&it, &pair) == IOTC_OK) {
        char *k = decode_dup(pair.key);
        char *v = pair.has_value ? decode_dup(pair.value) : NULL;
        if (k == NULL || (pair.has_value && v == NULL)) {
            free(k);
            free(v);
            continue;
        }
        props[n].name = k;
        props[n].value = v;
        if (strcmp(k, IOTC_HUB_PROP_METHOD_NAME) == 0 && v != NULL)
            method = v;
        n++;
    }
    if (method != NULL) {
        dispatch_command(c, iotc_span_from_cstr(method), IOTC_SPAN_NULL, body, true);
    } else if (c->c2d_fn != NULL) {
        char *copy = iotc__strndup(body.ptr ? body.ptr : "", body.len);
        if (copy != NULL) {
            struct iotc_c2d_message m = {copy, body.len, props, n};
            c->c2d_fn(c->c2d_user, c, &m);
            free(copy);
        }
    } else {
        iotc__log(c, IOTC_LOG_INFO, "cloud-to-device message (%zu bytes) dropped: no handler",
                  body.len);
    }
    for (size_t i = 0; i < n; i++) {
        free((char *)(uintptr_t)props[i].name);
        free((char *)(uintptr_t)props[i].value);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Writable properties                                                                       */
/* ---------------------------------------------------------------------------------------- */

static struct iotc__prop_seen *find_seen(struct iotc_client *c, struct iotc_span comp,
                                         struct iotc_span name)
{
    size_t cl = comp.ptr ? comp.len : 0;
    for (struct iotc__prop_seen *s = c->seen; s; s = s->next) {
        if (s->comp_len == cl && s->name_len == name.len &&
            (cl == 0 || memcmp(s->key, comp.ptr, cl) == 0) &&
            memcmp(s->key + cl, name.ptr, name.len) == 0)
            return s;
    }
    return NULL;
}

static void mark_seen(struct iotc_client *c, struct iotc_span comp, struct iotc_span name,
                      uint64_t version)
{
    struct iotc__prop_seen *s = find_seen(c, comp, name);
    size_t cl = comp.ptr ? comp.len : 0;

    if (s == NULL) {
        s = iotc__malloc(sizeof(*s) + cl + name.len);
        if (s == NULL)
            return; /* worst case the property is delivered again: harmless */
        s->comp_len = cl;
        s->name_len = name.len;
        if (cl)
            memcpy(s->key, comp.ptr, cl);
        memcpy(s->key + cl, name.ptr, name.len);
        s->next = c->seen;
        c->seen = s;
    }
    s->version = version;
}

struct deliver_ctx {
    struct iotc_client *c;
    bool from_twin;
};

static bool ops_is_component(void *ctx, struct iotc_span name)
{
    struct iotc_client *c = ((struct deliver_ctx *)ctx)->c;
    for (struct iotc__handler *h = c->prop_handlers; h; h = h->next) {
        if (h->component && iotc_span_eq(iotc_span_from_cstr(h->component), name))
            return true;
    }
    return false;
}

static uint64_t ops_delivered(void *ctx, struct iotc_span comp, struct iotc_span name)
{
    struct iotc__prop_seen *s = find_seen(((struct deliver_ctx *)ctx)->c, comp, name);
    return s ? s->version : 0;
}

static bool unescape_into(struct iotc_span s, char *out, size_t size)
{
    size_t n;
    return iotc_json_unescape(s, out, size, &n) == IOTC_OK && n < size && memchr(out, 0, n) == NULL;
}

static int ops_deliver(void *ctx, struct iotc_span comp, struct iotc_span name,
                       struct iotc_json_value value, uint64_t version)
{
    struct deliver_ctx *d = ctx;
    struct iotc_client *c = d->c;
    char cbuf[NAME_MAX_LEN], nbuf[NAME_MAX_LEN];
    const char *desc = NULL;

    if ((comp.ptr && !unescape_into(comp, cbuf, sizeof(cbuf))) ||
        !unescape_into(name, nbuf, sizeof(nbuf))) {
        iotc__log(c, IOTC_LOG_WARN, "desired property with an unusable name skipped");
        return IOTC_OK;
    }
    mark_seen(c, comp, name, version);
    const char *cname = comp.ptr ? cbuf : NULL;
    struct iotc__handler *h = iotc__handler_find(c->prop_handlers, cname, nbuf);
    if (h == NULL) {
        iotc__log(c, IOTC_LOG_INFO, "no handler for desired property %s%s%s (version %llu)",
                  cname ? cname : "", cname ? "." : "", nbuf, (unsigned long long)version);
        return IOTC_OK;
    }
    char *val = iotc__strndup(value.raw.ptr, value.raw.len);
    if (val == NULL)
        return IOTC_OK;
    struct iotc_property p = {cname, nbuf, val, value.raw.len, version, d->from_twin};
    iotc__log(c, IOTC_LOG_INFO, "desired %s%s%s = %s (version %llu%s)", cname ? cname : "",
              cname ? "." : "", nbuf, val, (unsigned long long)version,
              d->from_twin ? ", from twin" : "");
    int code = h->fn.prop(h->user, c, &p, &desc);
    if (code != IOTC_PROPERTY_DEFER) {
        if (desc == NULL && code == IOTC_CENTRAL_ACK_COMPLETED)
            desc = "completed";
        int rc =
            iotc_client_ack_property(c, cname, nbuf, val, code, version, desc, NULL, NULL, NULL);
        if (rc != IOTC_OK)
            iotc__log(c, IOTC_LOG_WARN, "cannot acknowledge %s: %s", nbuf, iotc_strerror(rc));
    }
    free(val);
    return IOTC_OK;
}

static void handle_twin_get(struct iotc_client *c, unsigned status, struct iotc_span body)
{
    struct deliver_ctx d = {c, true};
    struct iotc__twin_ops ops = {ops_is_component, ops_delivered, ops_deliver, &d};
    uint64_t v = 0;

    c->twin_get_rid = 0;
    c->deadline_ms = 0;
    if (status != 200) {
        iotc__log(c, IOTC_LOG_WARN, "twin GET answered %u; asking again", status);
        c->twin_get_needed = true;
        c->resend_ms = iotc__now_ms() + RETRY_LATER_MS;
        return;
    }
    /* First only read the document's version (processed = max: nothing is delivered). */
    if (iotc__twin_reconcile(body, &ops, UINT64_MAX, &v) != IOTC_OK) {
        iotc__log(c, IOTC_LOG_WARN, "twin document unreadable; writable properties not synced");
        return;
    }
    uint64_t processed = c->desired_version;
    if (v < c->desired_version) {
        /* The service went back to an older state (restored, or an emulator that lost recent
         * writes) and will hand out the same versions again: what we delivered under those
         * numbers means nothing now, so reconcile from scratch against its acks. */
        iotc__log(c, IOTC_LOG_WARN, "desired $version went back from %llu to %llu",
                  (unsigned long long)c->desired_version, (unsigned long long)v);
        while (c->seen != NULL) {
            struct iotc__prop_seen *next = c->seen->next;
            free(c->seen);
            c->seen = next;
        }
        processed = 0;
    }
    if (iotc__twin_reconcile(body, &ops, processed, &v) != IOTC_OK)
        return;
    c->twin_synced = true;
    c->desired_version = v;
}

static void handle_twin_response(struct iotc_client *c, const struct iotc_hub_topic *t,
                                 struct iotc_span body)
{
    char ridbuf[16];
    unsigned long rid;
    char *end;

    if (t->rid.len == 0 || t->rid.len >= sizeof(ridbuf))
        return;
    memcpy(ridbuf, t->rid.ptr, t->rid.len);
    ridbuf[t->rid.len] = '\0';
    rid = strtoul(ridbuf, &end, 10);
    if (*end != '\0' || rid == 0 || rid > UINT32_MAX)
        return;
    if (rid == c->twin_get_rid) {
        handle_twin_get(c, t->status, body);
        return;
    }
    struct iotc__qentry *e = iotc__queue_find_rid(&c->queue, (uint32_t)rid);
    if (e == NULL)
        return;
    if (t->status >= 200 && t->status < 300) {
        iotc__hub_finish_entry(c, e, IOTC_OK, t->status, t->version);
    } else if (t->status == 429 || t->status >= 500) {
        e->in_flight = false;
        c->resend_ms = iotc__now_ms() + RETRY_LATER_MS;
    } else {
        iotc__log(c, IOTC_LOG_WARN, "reported patch %u refused with %u", (unsigned)e->id,
                  t->status);
        iotc__hub_finish_entry(c, e, IOTC_E_REFUSED, t->status, 0);
    }
}

static void handle_desired(struct iotc_client *c, uint64_t version, struct iotc_span body)
{
    struct deliver_ctx d = {c, false};
    struct iotc__twin_ops ops = {ops_is_component, ops_delivered, ops_deliver, &d};

    if (c->twin_synced && version <= c->desired_version) {
        iotc__log(c, IOTC_LOG_DEBUG, "desired push %llu already covered by the twin read",
                  (unsigned long long)version);
        return;
    }
    if (iotc__twin_desired_patch(body, version, &ops) != IOTC_OK)
        iotc__log(c, IOTC_LOG_WARN, "malformed desired-properties push ignored");
    if (version > c->desired_version)
        c->desired_version = version;
}

void iotc__hub_on_message(struct iotc_client *c, const struct mosquitto_message *msg)
{
    struct iotc_hub_topic t;
    struct iotc_span body = {msg->payload, msg->payload ? (size_t)msg->payloadlen : 0};

    if (iotc_hub_topic_parse(iotc_span_from_cstr(msg->topic), &t) != IOTC_OK) {
        iotc__log(c, IOTC_LOG_WARN, "ignoring message on unknown topic %s", msg->topic);
        return;
    }
    switch (t.kind) {
    case IOTC_HUB_TOPIC_METHOD_REQUEST:
        dispatch_command(c, t.method_name, t.rid, body, false);
        break;
    case IOTC_HUB_TOPIC_C2D:
        handle_c2d(c, t.bag, body);
        break;
    case IOTC_HUB_TOPIC_TWIN_RESPONSE:
        handle_twin_response(c, &t, body);
        break;
    case IOTC_HUB_TOPIC_TWIN_DESIRED:
        handle_desired(c, t.version, body);
        break;
    default:
        iotc__log(c, IOTC_LOG_DEBUG, "ignoring %s message", iotc_hub_topic_kind_str(t.kind));
        break;
    }
}
