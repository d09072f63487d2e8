/*
 * admit.h - who may hold a connection before it has authenticated (docs/OPERATIONS.md,
 * "Limits and flood protection").
 *
 * Pure policy, no I/O: the MQTT listener (hub/broker.c) and the HTTP listeners
 * (http/http_server.c) ask admit_decide() about every accepted socket, register it with
 * admit_enter(), say when it has authenticated (MQTT CONNECT accepted) or sent its request
 * (HTTP headers and body read) with admit_done(), and close it once admit_wait_ms() has
 * passed if it has not.
 * Time is always an argument, so the unit test (tests/unit/test_central_admit.c) drives it.
 *
 * Two classes share the process's descriptors, each with its own budget so that a flood of
 * one cannot lock the other out: MQTT (every connection counts toward `open`, those before
 * CONNECT also toward `pending`) and HTTP (every connection counts toward `open` and,
 * while it waits for a request, toward `pending`). Per class:
 *  - an address with `per_address` pending connections gets no more (refused at once);
 *  - at the class's `open` or `pending` cap, the oldest pending connection of the address
 *    that holds the most pending connections is evicted (the oldest of all when no address
 *    holds more than one); without a pending connection to evict, the new one is refused.
 * A flood from a few addresses thus recycles its own connections, and a device from another
 * address gets in. Refusals, evictions and deadlines are counted per reason and logged at
 * most once a second per reason, with the count (admit_report, admit_flush).
 */
#ifndef CENTRAL_ADMIT_H
#define CENTRAL_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

enum admit_class { ADMIT_MQTT = 0, ADMIT_HTTP = 1, ADMIT_NCLASS = 2 };

enum admit_verdict {
    ADMIT_OK = 0,      /**< take it */
    ADMIT_EVICT,       /**< take it after closing *victim (which calls admit_leave) */
    ADMIT_REFUSE_ADDR, /**< its address has per_address pending connections already */
    ADMIT_REFUSE_FULL, /**< the class is full and nothing is pending to make room */
};

enum admit_reason {
    ADMIT_R_REFUSED_ADDR = 0,
    ADMIT_R_REFUSED_FULL,
    ADMIT_R_EVICTED,
    ADMIT_R_DEADLINE,
    ADMIT_NREASON
};

/** Descriptors kept aside for the database, the log, the listeners and the like. */
#define ADMIT_RESERVED_FDS 64
#define ADMIT_DEFAULT_AUTH_TIMEOUT_S 10
#define ADMIT_DEFAULT_HTTP_MAX 256

struct admit_limits {
    size_t open[ADMIT_NCLASS];        /**< connections of the class */
    size_t pending[ADMIT_NCLASS];     /**< of which not authenticated / waiting for a request */
    size_t per_address[ADMIT_NCLASS]; /**< pending connections from one address */
    int64_t deadline_ms;              /**< accept (or the last response) to CONNECT (request) */
};

/** What the command line asked for; 0 = the default. */
struct admit_plan_in {
    uint64_t nofile;        /**< RLIMIT_NOFILE in force (after raising it to the hard limit) */
    size_t max_connections; /**< --max-connections (MQTT) */
    size_t max_pending;     /**< --max-pending (MQTT before CONNECT) */
    size_t max_per_address; /**< --max-pending-per-address (both classes) */
    size_t max_http;        /**< --max-http-connections */
    int auth_timeout_s;     /**< --auth-timeout */
};

/**
 * The limits for @p in: the descriptors above ADMIT_RESERVED_FDS are split between HTTP
 * (max_http, default min(256, 1/8 of them)) and MQTT (the rest: what is accepted). Defaults:
 * pending MQTT half the MQTT share, per address half of the pending MQTT (half the HTTP cap
 * for HTTP), 10 s.
 * @return the effective --max-connections: the smaller of max_connections and the MQTT share
 * (above it authenticated sessions get CONNACK 3).
 */
size_t admit_plan(const struct admit_plan_in *in, struct admit_limits *out);

/** A source address (IPv4 as its IPv4-mapped IPv6 form; the port is not part of it). */
struct admit_key {
    unsigned char b[16];
};

/** The key of @p sa (AF_INET or AF_INET6; anything else: all zero). */
struct admit_key admit_key_of(const struct sockaddr *sa);

struct admit_addr;

/** Embedded in what owns the connection (a session, an HTTP connection guard). */
struct admit_slot {
    struct admit_slot *prev, *next;   /* the class's pending list, oldest first */
    struct admit_slot *aprev, *anext; /* its address's pending list, oldest first */
    struct admit_addr *addr;          /* while pending */
    struct admit_key key;
    int64_t since_ms; /* accepted, or pending again since */
    uint8_t cls;
    bool open;
    bool pending;
};

struct admit;

struct admit *admit_new(const struct admit_limits *lim);
void admit_free(struct admit *a);

/** May a connection of @p cls from @p key be taken now? On ADMIT_EVICT, *victim is the
 * pending connection to close first. */
enum admit_verdict admit_decide(struct admit *a, const struct admit_key *key, enum admit_class cls,
                                struct admit_slot **victim);
/** Registers @p s (zeroed or left) as open and pending since @p now_ms. CE_OK or CE_NOMEM. */
int admit_enter(struct admit *a, struct admit_slot *s, const struct admit_key *key,
                enum admit_class cls, int64_t now_ms);
/** Authenticated (MQTT) or a request read (HTTP): no longer pending; still open. */
void admit_done(struct admit *a, struct admit_slot *s);
/** HTTP: the response is out; waiting for the next request, pending again from @p now_ms
 * (without a per-address check: the connection is open already). CE_OK or CE_NOMEM. */
int admit_again(struct admit *a, struct admit_slot *s, int64_t now_ms);
/** Closed: forget it. Safe on a slot that was never entered or has left. */
void admit_leave(struct admit *a, struct admit_slot *s);
/** How long a pending @p s has left at @p now_ms before it is to be closed (0: now); the
 * whole deadline for a slot that is not pending (not counted: out of memory). */
int64_t admit_wait_ms(const struct admit *a, const struct admit_slot *s, int64_t now_ms);

size_t admit_open_count(const struct admit *a, enum admit_class cls);
size_t admit_pending_count(const struct admit *a, enum admit_class cls);

/**
 * Counts one event of @p r; logs a warning (with @p peer, the latest, and the count since the
 * last line) when none was logged for @p r in the last second.
 * @return the number of events the line logged now covers; 0: counted for a later line.
 */
uint64_t admit_report(struct admit *a, enum admit_reason r, enum admit_class cls, const char *peer,
                      int64_t now_ms);
/** Logs what was counted but not logged yet, once its second is over (a periodic timer).
 * @return the number of events logged now. */
uint64_t admit_flush(struct admit *a, int64_t now_ms);

#endif /* CENTRAL_ADMIT_H */
