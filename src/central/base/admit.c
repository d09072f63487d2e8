/*
 * admit.c - the pre-authentication connection policy (admit.h): budgets per class, pending
 * connections per source address, eviction of the heaviest address's oldest, deadlines and
 * rate-limited log lines. No I/O but the log lines.
 */
#include "central/base/admit.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "central/base/app.h"
#include "central/base/log.h"

#define ADMIT_BUCKETS 1024 /* power of two */
#define ADMIT_LOG_EVERY_MS 1000

/* One source address with pending connections (freed when it has none). */
struct admit_addr {
    struct admit_key key;
    struct admit_addr *next; /* bucket chain */
    struct admit_slot *head[ADMIT_NCLASS], *tail[ADMIT_NCLASS];
    size_t n[ADMIT_NCLASS];
};

struct admit_log {
    int64_t logged_ms; /* when the last line for this reason was written; 0: never */
    uint64_t count;    /* events since */
    char peer[64];     /* the latest of them */
};

struct admit {
    struct admit_limits lim;
    size_t n_open[ADMIT_NCLASS], n_pending[ADMIT_NCLASS];
    struct admit_slot *head[ADMIT_NCLASS], *tail[ADMIT_NCLASS];
    struct admit_addr *buckets[ADMIT_BUCKETS];
    struct admit_log log[ADMIT_NREASON][ADMIT_NCLASS];
};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static size_t at_least_1(size_t v)
{
    return v > 0 ? v : 1;
}

size_t admit_plan(const struct admit_plan_in *in, struct admit_limits *out)
{
    memset(out, 0, sizeof *out);
    uint64_t avail64 = in->nofile > ADMIT_RESERVED_FDS + 16 ? in->nofile - ADMIT_RESERVED_FDS : 16;
    size_t avail = avail64 > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)avail64;
    size_t http =
        in->max_http > 0 ? in->max_http : min_size(ADMIT_DEFAULT_HTTP_MAX, at_least_1(avail / 8));
    http = at_least_1(min_size(http, avail / 2));
    /* the descriptors bound what is accepted; --max-connections, within them, is where
     * authenticated sessions get CONNACK 3 (broker.c on_connect) */
    size_t mqtt = at_least_1(avail - http);
    size_t cap = in->max_connections > 0 ? min_size(mqtt, in->max_connections) : mqtt;
    out->open[ADMIT_MQTT] = mqtt;
    out->pending[ADMIT_MQTT] =
        at_least_1(in->max_pending > 0 ? min_size(in->max_pending, mqtt) : mqtt / 2);
    out->open[ADMIT_HTTP] = http;
    out->pending[ADMIT_HTTP] = http;
    if (in->max_per_address > 0) {
        out->per_address[ADMIT_MQTT] = min_size(in->max_per_address, out->pending[ADMIT_MQTT]);
        out->per_address[ADMIT_HTTP] = min_size(in->max_per_address, http);
    } else {
        out->per_address[ADMIT_MQTT] = at_least_1(out->pending[ADMIT_MQTT] / 2);
        out->per_address[ADMIT_HTTP] = at_least_1(http / 2);
    }
    int t = in->auth_timeout_s > 0 ? in->auth_timeout_s : ADMIT_DEFAULT_AUTH_TIMEOUT_S;
    out->deadline_ms = (int64_t)t * 1000;
    return cap;
}

struct admit_key admit_key_of(const struct sockaddr *sa)
{
    struct admit_key k;
    memset(&k, 0, sizeof k);
    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        k.b[10] = k.b[11] = 0xff;
        memcpy(k.b + 12, &in->sin_addr, 4);
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(k.b, &in6->sin6_addr, 16);
    }
    return k;
}

struct admit *admit_new(const struct admit_limits *lim)
{
    struct admit *a = calloc(1, sizeof *a);
    if (a != NULL)
        a->lim = *lim;
    return a;
}

void admit_free(struct admit *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < ADMIT_BUCKETS; i++) {
        while (a->buckets[i] != NULL) {
            struct admit_addr *n = a->buckets[i]->next;
            free(a->buckets[i]);
            a->buckets[i] = n;
        }
    }
    free(a);
}

static size_t bucket_of(const struct admit_key *k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < sizeof k->b; i++) {
        h ^= k->b[i];
        h *= 1099511628211ULL;
    }
    return (size_t)(h & (ADMIT_BUCKETS - 1));
}

static struct admit_addr *find_addr(const struct admit *a, const struct admit_key *k)
{
    for (struct admit_addr *p = a->buckets[bucket_of(k)]; p != NULL; p = p->next) {
        if (memcmp(p->key.b, k->b, sizeof k->b) == 0)
            return p;
    }
    return NULL;
}

/* The oldest pending connection of the address holding the most of @p cls; the oldest of all
 * when none holds more than one. */
static struct admit_slot *pick_victim(const struct admit *a, enum admit_class cls)
{
    const struct admit_addr *best = NULL;
    for (size_t i = 0; i < ADMIT_BUCKETS; i++) {
        for (const struct admit_addr *p = a->buckets[i]; p != NULL; p = p->next) {
            if (p->n[cls] > 1 && (best == NULL || p->n[cls] > best->n[cls]))
                best = p;
        }
    }
    return best != NULL ? best->head[cls] : a->head[cls];
}

enum admit_verdict admit_decide(struct admit *a, const struct admit_key *key, enum admit_class cls,
                                struct admit_slot **victim)
{
    *victim = NULL;
    const struct admit_addr *ad = find_addr(a, key);
    if (ad != NULL && ad->n[cls] >= a->lim.per_address[cls])
        return ADMIT_REFUSE_ADDR;
    if (a->n_open[cls] < a->lim.open[cls] && a->n_pending[cls] < a->lim.pending[cls])
        return ADMIT_OK;
    *victim = pick_victim(a, cls);
    return *victim != NULL ? ADMIT_EVICT : ADMIT_REFUSE_FULL;
}

/* Append @p s to the pending lists (class and address). */
static void pend(struct admit *a, struct admit_slot *s, int64_t now_ms)
{
    enum admit_class cls = (enum admit_class)s->cls;
    struct admit_addr *ad = s->addr;
    s->since_ms = now_ms;
    s->pending = true;
    s->next = NULL;
    s->prev = a->tail[cls];
    if (a->tail[cls] != NULL)
        a->tail[cls]->next = s;
    else
        a->head[cls] = s;
    a->tail[cls] = s;
    s->anext = NULL;
    s->aprev = ad->tail[cls];
    if (ad->tail[cls] != NULL)
        ad->tail[cls]->anext = s;
    else
        ad->head[cls] = s;
    ad->tail[cls] = s;
    ad->n[cls]++;
    a->n_pending[cls]++;
}

static void free_addr_if_idle(struct admit *a, struct admit_addr *ad)
{
    for (int c = 0; c < ADMIT_NCLASS; c++) {
        if (ad->n[c] > 0)
            return;
    }
    struct admit_addr **pp = &a->buckets[bucket_of(&ad->key)];
    while (*pp != ad)
        pp = &(*pp)->next;
    *pp = ad->next;
    free(ad);
}

/* Take @p s off the pending lists; its address record goes when it has none left. */
static void unpend(struct admit *a, struct admit_slot *s)
{
    if (!s->pending)
        return;
    enum admit_class cls = (enum admit_class)s->cls;
    struct admit_addr *ad = s->addr;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        a->head[cls] = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        a->tail[cls] = s->prev;
    if (s->aprev != NULL)
        s->aprev->anext = s->anext;
    else
        ad->head[cls] = s->anext;
    if (s->anext != NULL)
        s->anext->aprev = s->aprev;
    else
        ad->tail[cls] = s->aprev;
    s->prev = s->next = s->aprev = s->anext = NULL;
    s->pending = false;
    ad->n[cls]--;
    a->n_pending[cls]--;
    s->addr = NULL;
    free_addr_if_idle(a, ad);
}

static int attach_addr(struct admit *a, struct admit_slot *s, const struct admit_key *key)
{
    struct admit_addr *ad = find_addr(a, key);
    if (ad == NULL) {
        ad = calloc(1, sizeof *ad);
        if (ad == NULL)
            return CE_NOMEM;
        ad->key = *key;
        size_t b = bucket_of(key);
        ad->next = a->buckets[b];
        a->buckets[b] = ad;
    }
    s->addr = ad;
    return CE_OK;
}

int admit_enter(struct admit *a, struct admit_slot *s, const struct admit_key *key,
                enum admit_class cls, int64_t now_ms)
{
    memset(s, 0, sizeof *s);
    s->cls = (uint8_t)cls;
    s->key = *key;
    if (attach_addr(a, s, key) != CE_OK)
        return CE_NOMEM;
    s->open = true;
    a->n_open[cls]++;
    pend(a, s, now_ms);
    return CE_OK;
}

void admit_done(struct admit *a, struct admit_slot *s)
{
    if (s->open)
        unpend(a, s);
}

int admit_again(struct admit *a, struct admit_slot *s, int64_t now_ms)
{
    if (!s->open || s->pending)
        return CE_OK;
    if (attach_addr(a, s, &s->key) != CE_OK)
        return CE_NOMEM;
    pend(a, s, now_ms);
    return CE_OK;
}

void admit_leave(struct admit *a, struct admit_slot *s)
{
    if (!s->open)
        return;
    unpend(a, s);
    s->open = false;
    a->n_open[s->cls]--;
}

int64_t admit_wait_ms(const struct admit *a, const struct admit_slot *s, int64_t now_ms)
{
    if (!s->pending)
        return a->lim.deadline_ms;
    int64_t left = s->since_ms + a->lim.deadline_ms - now_ms;
    return left > 0 ? left : 0;
}

size_t admit_open_count(const struct admit *a, enum admit_class cls)
{
    return a->n_open[cls];
}

size_t admit_pending_count(const struct admit *a, enum admit_class cls)
{
    return a->n_pending[cls];
}

static const char *reason_text(enum admit_reason r, enum admit_class cls)
{
    switch (r) {
    case ADMIT_R_REFUSED_ADDR:
        return "refused: too many unauthenticated connections from one address";
    case ADMIT_R_REFUSED_FULL:
        return "refused: connection limit reached";
    case ADMIT_R_EVICTED:
        return "closed to make room (the oldest unauthenticated one of the busiest address)";
    case ADMIT_R_DEADLINE:
        return cls == ADMIT_MQTT ? "closed: no TLS handshake and CONNECT within the deadline"
                                 : "closed: no complete request within the deadline";
    case ADMIT_NREASON:
        break;
    }
    return "?";
}

static void write_line(enum admit_reason r, enum admit_class cls, const struct admit_log *l)
{
    log_warn("limits: %s %" PRIu64 " connection%s %s (latest from %s)",
             cls == ADMIT_MQTT ? "mqtt:" : "http:", l->count, l->count == 1 ? "" : "s",
             reason_text(r, cls), LOG_STR(l->peer));
}

uint64_t admit_report(struct admit *a, enum admit_reason r, enum admit_class cls, const char *peer,
                      int64_t now_ms)
{
    struct admit_log *l = &a->log[r][cls];
    l->count++;
    snprintf(l->peer, sizeof l->peer, "%s", peer != NULL ? peer : "?");
    if (l->logged_ms != 0 && now_ms - l->logged_ms < ADMIT_LOG_EVERY_MS)
        return 0;
    uint64_t n = l->count;
    write_line(r, cls, l);
    l->logged_ms = now_ms;
    l->count = 0;
    return n;
}

uint64_t admit_flush(struct admit *a, int64_t now_ms)
{
    uint64_t total = 0;
    for (int r = 0; r < ADMIT_NREASON; r++) {
        for (int c = 0; c < ADMIT_NCLASS; c++) {
            struct admit_log *l = &a->log[r][c];
            if (l->count == 0 || now_ms - l->logged_ms < ADMIT_LOG_EVERY_MS)
                continue;
            total += l->count;
            write_line((enum admit_reason)r, (enum admit_class)c, l);
            l->logged_ms = now_ms;
            l->count = 0;
        }
    }
    return total;
}
