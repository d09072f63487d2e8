/*
 * c2d.c - cloud-to-device message queue per device (see c2d.h).
 */
#include "central/hub/c2d.h"

#include <stdlib.h>
#include <string.h>

#include "central/base/log.h"
#include "central/hub/plane.h"
#include "central/store/store.h"
#include "iotc/codec.h"

#define C2D_DEFAULT_TTL_MS (2LL * 24 * 3600 * 1000)
#define C2D_MAX_PROPS 32

void c2d_msg_free(struct c2d_msg *m)
{
    if (m == NULL)
        return;
    free(m->bag);
    free(m->payload);
    free(m);
}

static void append(struct device *dev, struct c2d_msg *m)
{
    STAILQ_INSERT_TAIL(&dev->c2d, m, link);
    dev->c2d_count++;
}

/* A message that owns @p bag (heap; freed here on failure) and a copy of @p payload; NULL when
 * out of memory. */
static struct c2d_msg *msg_new(int64_t seq, int64_t enqueued_ms, int64_t expiry_ms, char *bag,
                               const void *payload, size_t len)
{
    struct c2d_msg *m = calloc(1, sizeof *m);
    if (m == NULL) {
        free(bag);
        return NULL;
    }
    m->bag = bag;
    m->payload = app_strndup(payload, len);
    if (m->bag == NULL || m->payload == NULL) {
        c2d_msg_free(m);
        return NULL;
    }
    m->payload_len = len;
    m->seq = seq;
    m->enqueued_ms = enqueued_ms;
    m->expiry_ms = expiry_ms;
    return m;
}

int c2d_load_row(struct device *dev, const struct store_c2d_row *row)
{
    char *bag = strdup(row->bag);
    struct c2d_msg *m =
        msg_new(row->seq, row->enqueued_ms, row->expiry_ms, bag, row->payload, row->payload_len);
    if (m == NULL)
        return CE_NOMEM;
    append(dev, m);
    return CE_OK;
}

/* The encoded property bag of a new message into *out (heap). CE_OK, CE_INVALID, CE_NOMEM. */
static int build_bag(const struct device *dev, const struct c2d_prop *props, size_t n, char **out)
{
    struct iotc_prop list[C2D_MAX_PROPS + 1];
    size_t k = 0;
    bool has_to = false;
    for (size_t i = 0; i < n && k < C2D_MAX_PROPS; i++) {
        if (props[i].key == NULL || props[i].key[0] == '\0')
            return CE_INVALID;
        has_to |= strcmp(props[i].key, "$.to") == 0;
        list[k].key = iotc_span_from_cstr(props[i].key);
        list[k].value = iotc_span_from_cstr(props[i].value);
        k++;
    }
    char to[DEVICE_ID_MAX + 64];
    if (!has_to) {
        /* The hub always sets `to`; its '/' gets percent-encoded, so the bag stays one segment. */
        snprintf(to, sizeof to, "/devices/%s/messages/deviceBound", dev->id);
        list[k].key = IOTC_SPAN_LIT("$.to");
        list[k].value = iotc_span_from_cstr(to);
        k++;
    }
    size_t len = 0;
    int rc = iotc_bag_build(list, k, NULL, 0, &len);
    if (rc != IOTC_OK && rc != IOTC_E_NOSPACE)
        return CE_INVALID;
    char *bag = malloc(len + 1);
    if (bag == NULL)
        return CE_NOMEM;
    if (iotc_bag_build(list, k, bag, len + 1, &len) != IOTC_OK) {
        free(bag);
        return CE_INVALID;
    }
    *out = bag;
    return CE_OK;
}

int c2d_send(struct app *app, struct device *dev, const char *payload, size_t len,
             const struct c2d_prop *props, size_t n_props, int64_t ttl_ms)
{
    CENTRAL_ASSERT_LOOP(app);
    if (len > C2D_MAX_SIZE)
        return CE_TOOBIG;
    if (n_props > C2D_MAX_PROPS)
        return CE_INVALID;
    int64_t now = app_now_ms();
    c2d_expire(app, dev, now);
    if (dev->c2d_count >= C2D_MAX_QUEUE)
        return CE_BUSY;
    char *bag = NULL;
    int rc = build_bag(dev, props, n_props, &bag);
    if (rc != CE_OK)
        return rc;
    if (ttl_ms <= 0 || ttl_ms > C2D_DEFAULT_TTL_MS)
        ttl_ms = C2D_DEFAULT_TTL_MS;
    struct c2d_msg *m = msg_new(app->c2d_seq + 1, now, now + ttl_ms, bag, payload, len);
    if (m == NULL)
        return CE_NOMEM;
    app->c2d_seq = m->seq;
    append(dev, m);
    struct store_c2d_row row = {
        .seq = m->seq,
        .device_id = dev->id,
        .enqueued_ms = m->enqueued_ms,
        .expiry_ms = m->expiry_ms,
        .bag = m->bag,
        .payload = m->payload,
        .payload_len = m->payload_len,
    };
    if (app->store != NULL && store_put_c2d(app->store, &row) != CE_OK)
        log_error("c2d: cannot queue the store write of message %lld", (long long)m->seq);
    log_info("c2d: queued message %lld for %s (%zu bytes, %zu pending)", (long long)m->seq,
             LOG_STR(dev->id), len, dev->c2d_count);
    plane_c2d_queued(app, dev);
    return CE_OK;
}

/* @p m is on @p dev's queue: the broker and c2d_expire find it there. */
static void unlink_msg(struct device *dev, struct c2d_msg *m)
{
    STAILQ_REMOVE(&dev->c2d, m, c2d_msg, link);
    CENTRAL_ASSERT(dev->c2d_count > 0);
    dev->c2d_count--;
}

void c2d_complete(struct app *app, struct device *dev, struct c2d_msg *m)
{
    unlink_msg(dev, m);
    if (app->store != NULL)
        store_delete_c2d(app->store, m->seq);
    log_info("c2d: message %lld delivered to %s", (long long)m->seq, LOG_STR(dev->id));
    c2d_msg_free(m);
}

void c2d_expire(struct app *app, struct device *dev, int64_t now_ms)
{
    struct c2d_msg *m = STAILQ_FIRST(&dev->c2d);
    while (m != NULL) {
        struct c2d_msg *next = STAILQ_NEXT(m, link);
        if (m->expiry_ms > 0 && m->expiry_ms <= now_ms && m->packet_id == 0) {
            unlink_msg(dev, m);
            if (app->store != NULL)
                store_delete_c2d(app->store, m->seq);
            log_info("c2d: message %lld for %s expired", (long long)m->seq, LOG_STR(dev->id));
            c2d_msg_free(m);
        }
        m = next;
    }
}
