/*
 * broker.h - the MQTT/TLS listener and per-connection sessions serving DPS and IoT Hub on one
 * port (told apart by the CONNECT username). Loop thread only.
 */
#ifndef CENTRAL_BROKER_H
#define CENTRAL_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "central/base/app.h"
#include "central/hub/method.h" /* method_free_all(), for main.c */

/* Subscription bits of a hub session (also persisted for CleanSession=0 sessions). */
enum broker_sub {
    SUB_C2D = 1u << 0,          /* devices/{id}/messages/devicebound/# (or devices/+/...) */
    SUB_METHODS = 1u << 1,      /* $iothub/methods/POST/# */
    SUB_TWIN_RES = 1u << 2,     /* $iothub/twin/res/# */
    SUB_TWIN_DESIRED = 1u << 3, /* $iothub/twin/PATCH/properties/desired/# */
};

/** Bind the MQTT listeners (TLS, optional plain) on app->cfg ports. @return 0 or -1. */
int broker_start(struct app *app);
/**
 * Create a non-blocking, close-on-exec TCP socket bound to @p addr:@p port (0 = any free port)
 * and listening. @return the fd and *out_port, or -1 (logged).
 */
int broker_bind_socket(const char *addr, int port, uint16_t *out_port);
/** broker_bind_socket() that logs nothing: on failure -1 and the reason in *out_errno (EINVAL:
 *  not a numeric address), for a caller that says it itself. */
int broker_bind_socket_quiet(const char *addr, int port, uint16_t *out_port, int *out_errno);

/** Stop accepting new connections. */
void broker_stop_accepting(struct app *app);
/**
 * Graceful shutdown (SIGTERM/SIGINT): stop accepting and reading, wait until the store has
 * committed everything queued (so pending PUBACKs go out), close every connection letting its
 * output drain, then exit the event loop (at the latest after 10 s).
 */
void broker_shutdown(struct app *app);
/** Close every connection (graceful shutdown) and free the broker. */
void broker_free(struct app *app);

/**
 * Serve MQTT on @p fd, a connected stream socket that carries the bytes of a connection already
 * secured and framed elsewhere (MQTT over WebSockets, http/http_ws.c); the session is a plain
 * one, under every rule of the listener's (authentication, limits): it counts in the MQTT
 * pre-authentication budget under @p peer's address, and a client certificate of the HTTPS
 * handshake authenticates a CONNECT without a password as on the MQTT listener. Takes ownership
 * of @p fd (closed on failure). @return CE_OK, CE_NOMEM, CE_BUSY (also: the budget refused it).
 */
int broker_adopt(struct app *app, int fd, const struct mqtt_peer *peer);

/** What the loop thread did with device-to-cloud messages since the start (operators'
 * counters, docs/OPERATIONS.md). Plain counters: the loop thread alone writes and reads them. */
struct broker_stats {
    uint64_t parsed;        /**< telemetry PUBLISHes parsed and authorized */
    uint64_t handed_off;    /**< telemetry messages queued for the store */
    uint64_t bag_hits;      /**< ... whose property bag's JSON came from the bag cache */
    uint64_t acks_released; /**< PUBACKs sent once what they acknowledge was durable */
    uint64_t flush_turns;   /**< loop turns that wrote output (each writes every connection once) */
    uint64_t writes;        /**< TLS records / socket writes of those turns */
};

/** Copy the broker's counters into @p out (zeros before broker_start()). Loop thread. */
void broker_stats_get(const struct app *app, struct broker_stats *out);

/** Number of open connections. */
size_t broker_connection_count(const struct app *app);

#endif /* CENTRAL_BROKER_H */
