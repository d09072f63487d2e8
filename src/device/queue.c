/* queue.c - see queue.h. */
#include "device/queue.h"

#include <stdlib.h>
#include <string.h>

#include <iotc/common.h>

#include "device/alloc.h"

#define QUEUE_DEFAULT_COUNT 64
#define QUEUE_DEFAULT_BYTES (64 * 1024)

void iotc__queue_init(struct iotc__queue *q, size_t max_count, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->max_count = max_count ? max_count : QUEUE_DEFAULT_COUNT;
    q->max_bytes = max_bytes ? max_bytes : QUEUE_DEFAULT_BYTES;
    q->next_id = 1;
}

int iotc__queue_push(struct iotc__queue *q, enum iotc__qkind kind, const char *aux, size_t aux_len,
                     const char *body, size_t body_len, iotc__qfn cb, void *cb_user,
                     struct iotc__qentry **out)
{
    size_t need = aux_len + body_len;

    if (need < aux_len || need > q->max_bytes) {
        q->overflowed++;
        return IOTC_E_TOOBIG;
    }
    if (q->count >= q->max_count || q->bytes + need > q->max_bytes) {
        q->overflowed++;
        return IOTC_E_NOSPACE;
    }
    struct iotc__qentry *e = iotc__malloc(sizeof(*e) + need + 2);
    if (e == NULL)
        return IOTC_E_NOMEM;
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->id = q->next_id++;
    if (q->next_id == 0)
        q->next_id = 1;
    e->mid = -1;
    e->cb = cb;
    e->cb_user = cb_user;
    e->aux_len = aux_len;
    e->body_len = body_len;
    if (aux_len)
        memcpy(e->data, aux, aux_len);
    e->data[aux_len] = '\0';
    if (body_len)
        memcpy(e->data + aux_len + 1, body, body_len);
    e->data[aux_len + 1 + body_len] = '\0';

    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->count++;
    q->bytes += need;
    if (out)
        *out = e;
    return IOTC_OK;
}

struct iotc__qentry *iotc__queue_find_mid(struct iotc__queue *q, int mid)
{
    for (struct iotc__qentry *e = q->head; e; e = e->next) {
        if (e->in_flight && e->kind == IOTC__Q_TELEMETRY && e->mid == mid)
            return e;
    }
    return NULL;
}

struct iotc__qentry *iotc__queue_find_rid(struct iotc__queue *q, uint32_t rid)
{
    for (struct iotc__qentry *e = q->head; e; e = e->next) {
        if (e->in_flight && e->kind == IOTC__Q_REPORTED && e->rid == rid)
            return e;
    }
    return NULL;
}

struct iotc__qentry *iotc__queue_next_unsent(struct iotc__queue *q)
{
    for (struct iotc__qentry *e = q->head; e; e = e->next) {
        if (!e->in_flight)
            return e;
    }
    return NULL;
}

void iotc__queue_unlink(struct iotc__queue *q, struct iotc__qentry *e)
{
    struct iotc__qentry *prev = NULL;

    for (struct iotc__qentry *it = q->head; it; prev = it, it = it->next) {
        if (it != e)
            continue;
        if (prev)
            prev->next = e->next;
        else
            q->head = e->next;
        if (q->tail == e)
            q->tail = prev;
        e->next = NULL;
        q->count--;
        q->bytes -= e->aux_len + e->body_len;
        return;
    }
}

void iotc__queue_mark_all_unsent(struct iotc__queue *q)
{
    for (struct iotc__qentry *e = q->head; e; e = e->next) {
        e->in_flight = false;
        e->mid = -1;
        e->rid = 0;
    }
}

struct iotc__qentry *iotc__queue_pop(struct iotc__queue *q)
{
    struct iotc__qentry *e = q->head;
    if (e)
        iotc__queue_unlink(q, e);
    return e;
}

size_t iotc__queue_in_flight(const struct iotc__queue *q)
{
    size_t n = 0;
    for (const struct iotc__qentry *e = q->head; e; e = e->next)
        n += e->in_flight ? 1 : 0;
    return n;
}
