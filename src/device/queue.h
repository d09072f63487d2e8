/*
 * queue.h - the bounded outgoing queue of the device client.
 *
 * Every telemetry message and every reported-property patch lives in this queue from the moment
 * the application hands it over until the service acknowledges it (PUBACK for telemetry, the
 * twin response for a patch). While disconnected the entries simply wait; after a reconnect
 * every entry not yet acknowledged is sent again, in order. The queue is bounded both in
 * entries and in payload bytes; a push that does not fit is refused (IOTC_E_NOSPACE) and
 * counted, never dropped silently. No I/O, no clock: the client drives it.
 */
#ifndef IOTC_DEVICE_QUEUE_H
#define IOTC_DEVICE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum iotc__qkind {
    IOTC__Q_TELEMETRY = 1, /* aux = percent-encoded property bag (may be empty) */
    IOTC__Q_REPORTED = 2,  /* aux unused; body = reported-properties patch JSON */
};

/* A generic callback slot; the client casts it back to the kind's real type. */
typedef void (*iotc__qfn)(void);

struct iotc__qentry {
    struct iotc__qentry *next;
    enum iotc__qkind kind;
    uint32_t id;    /* queue-assigned id, unique per queue, never 0 */
    bool in_flight; /* sent on the current connection, waiting for its ack */
    bool sent_once; /* sent at least once (a later send is a resend) */
    int mid;        /* MQTT message id while in flight (telemetry) */
    uint32_t rid;   /* twin request id while in flight (reported) */
    iotc__qfn cb;
    void *cb_user;
    size_t aux_len;  /* aux text, NUL-terminated, at data[0] */
    size_t body_len; /* body bytes, NUL-terminated, at data[aux_len + 1] */
    char data[];
};

struct iotc__queue {
    struct iotc__qentry *head, *tail;
    size_t count, bytes; /* bytes = sum of aux_len + body_len */
    size_t max_count, max_bytes;
    uint32_t next_id;
    uint64_t overflowed; /* pushes refused because the queue was full */
};

/* Set up an empty queue with the given caps (0 means the default: 64 entries, 64 KiB). */
void iotc__queue_init(struct iotc__queue *q, size_t max_count, size_t max_bytes);

/*
 * Append a copy of aux/body. Returns 0 and sets *out (borrowed, owned by the queue) on success;
 * IOTC_E_NOSPACE when the entry would exceed a cap (q->overflowed is incremented);
 * IOTC_E_TOOBIG when the entry alone is larger than max_bytes (also counted);
 * IOTC_E_NOMEM when allocation fails.
 */
int iotc__queue_push(struct iotc__queue *q, enum iotc__qkind kind, const char *aux, size_t aux_len,
                     const char *body, size_t body_len, iotc__qfn cb, void *cb_user,
                     struct iotc__qentry **out);

static inline const char *iotc__qentry_aux(const struct iotc__qentry *e)
{
    return e->data;
}

static inline const char *iotc__qentry_body(const struct iotc__qentry *e)
{
    return e->data + e->aux_len + 1;
}

/* The in-flight telemetry entry with this MQTT message id, or NULL. */
struct iotc__qentry *iotc__queue_find_mid(struct iotc__queue *q, int mid);

/* The in-flight reported entry with this twin request id, or NULL. */
struct iotc__qentry *iotc__queue_find_rid(struct iotc__queue *q, uint32_t rid);

/* The first entry not in flight, or NULL. */
struct iotc__qentry *iotc__queue_next_unsent(struct iotc__queue *q);

/* Unlink @p e from the queue (it must be in it); the caller frees it with free(). */
void iotc__queue_unlink(struct iotc__queue *q, struct iotc__qentry *e);

/* After a disconnect: every entry becomes unsent again (it will be resent). */
void iotc__queue_mark_all_unsent(struct iotc__queue *q);

/* Unlink and return the first entry, or NULL when empty; the caller frees it. */
struct iotc__qentry *iotc__queue_pop(struct iotc__queue *q);

/* Number of entries currently in flight. */
size_t iotc__queue_in_flight(const struct iotc__queue *q);

#endif
