/*
 * c2d.c - cloud-to-device message queue per device (see c2d.h).
 */
#include "central/hub/c2d.h"

#include <stdlib.h>
#include <string.h>

#include "central/hub/broker.h"
#include "central/base/log.h"
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

void c2d_insert_loaded(struct device *dev, struct c2d_msg *m)
{
    m->next = NULL;
    if (dev->c2d_tail)
        dev->c2d_tail->next = m;
    else
        dev->c2d_head = m;
    dev->c2d_tail = m;
    dev->c2d_count++;
}

static char *build_bag(const struct device *dev, const struct c2d_prop *props, size_t n)
{
    struct iotc_prop list[C2D_MAX_PROPS + 1];
    size_t k = 0;
    bool has_to = false;
    for (size_t i = 0; i < n && k < C2D_MAX_PROPS; i++) {
        if (props[i].key == NULL || props[i].key[0] == '\0')
            return NULL;
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
        return NULL;
    char *bag = malloc(len + 1);
    if (bag == NULL || iotc_bag_build(list, k, bag, len + 1, &len) != IOTC_OK) {
        free(bag);
        return NULL;
    }
    return bag;
}

int c2d_send(struct app *app, struct device *dev, const char *payload, size_t len,
             const struct c2d_prop *props, size_t n_props, int64_t ttl_ms)
{
    if (len > C2D_MAX_SIZE)
        return CE_TOOBIG;
    if (n_props > C2D_MAX_PROPS)
        return CE_INVALID;
    int64_t now = app_now_ms();
    c2d_expire(app, dev, now);
    if (dev->c2d_count >= C2D_MAX_QUEUE)
        return CE_BUSY;
    struct c2d_msg *m = calloc(1, sizeof *m);
    if (m == NULL)
        return CE_NOMEM;
    m->bag = build_bag(dev, props, n_props);
    m->payload = malloc(len + 1);
    if (m->bag == NULL || m->payload == NULL) {
        int rc = m->bag == NULL && m->payload != NULL ? CE_INVALID : CE_NOMEM;
        c2d_msg_free(m);
        return rc;
    }
    if (len)
        memcpy(m->payload, payload, len);
    m->payload_len = len;
    m->seq = ++app->c2d_seq;
    m->enqueued_ms = now;
    if (ttl_ms <= 0 || ttl_ms > C2D_DEFAULT_TTL_MS)
        ttl_ms = C2D_DEFAULT_TTL_MS;
    m->expiry_ms = now + ttl_ms;
    c2d_insert_loaded(dev, m);
    if (app->store != NULL)
        store_put_c2d(app->store, dev->id, m);
    log_info("c2d: queued message %lld for %s (%zu bytes, %zu pending)", (long long)m->seq, dev->id,
             len, dev->c2d_count);
    broker_c2d_kick(app, dev);
    return CE_OK;
}

static void unlink_msg(struct device *dev, struct c2d_msg *m)
{
    struct c2d_msg **pp = &dev->c2d_head, *prev = NULL;
    while (*pp != NULL && *pp != m) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = m->next;
    if (dev->c2d_tail == m)
        dev->c2d_tail = prev;
    dev->c2d_count--;
}

void c2d_complete(struct app *app, struct device *dev, struct c2d_msg *m)
{
    unlink_msg(dev, m);
    if (app->store != NULL)
        store_delete_c2d(app->store, m->seq);
    log_info("c2d: message %lld delivered to %s", (long long)m->seq, dev->id);
    c2d_msg_free(m);
}

void c2d_expire(struct app *app, struct device *dev, int64_t now_ms)
{
    struct c2d_msg *m = dev->c2d_head;
    while (m != NULL) {
        struct c2d_msg *next = m->next;
        if (m->expiry_ms > 0 && m->expiry_ms <= now_ms && m->packet_id == 0) {
            unlink_msg(dev, m);
            if (app->store != NULL)
                store_delete_c2d(app->store, m->seq);
            log_info("c2d: message %lld for %s expired", (long long)m->seq, dev->id);
            c2d_msg_free(m);
        }
        m = next;
    }
}
