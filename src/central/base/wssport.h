/*
 * wssport.h - on which extra port the HTTPS listener serves MQTT over WebSockets
 * (docs/DEVICE_PLANE.md "MQTT over WebSockets", option --wss-port).
 *
 * The Azure device SDKs' WebSocket transports (Python websockets=True, Node MqttWs, C
 * MQTT_WebSocket_Protocol) always dial wss://HOST:443/$iothub/websocket, for DPS and for the
 * hub; Azure serves that and its HTTPS APIs on 443. iotc-central's HTTPS port is 8443 by default,
 * so by default ("auto") it also listens on 443 when the process may bind it: it has
 * CAP_NET_BIND_SERVICE in its effective set (root has), or net.ipv4.ip_unprivileged_port_start
 * is 443 or less. "off" never adds a port; a number is a port the server must bind or not start.
 *
 * Pure: the facts about the process come in as arguments (main.c reads them), so
 * tests/unit/test_central_wssport.c drives every case.
 */
#ifndef CENTRAL_WSSPORT_H
#define CENTRAL_WSSPORT_H

#include <stdbool.h>
#include <stddef.h>

/** --wss-port values besides a port number. */
#define WSSPORT_AUTO (-1)
#define WSSPORT_OFF 0
/** The port the SDKs dial. */
#define WSSPORT_AZURE 443

/**
 * Parse a --wss-port value: "auto", "off" or a port 1..65535 into @p out (WSSPORT_AUTO,
 * WSSPORT_OFF or the port). NULL when it parsed; else what the value should be (for opt.h's
 * message), and @p out is unchanged.
 */
const char *wssport_parse(const char *text, int *out);

/** What is known when the HTTPS port is bound. */
struct wssport_in {
    int option;                  /**< WSSPORT_AUTO, WSSPORT_OFF or a port */
    int https_port;              /**< the bound HTTPS port; 0 or less: no HTTPS listener */
    bool cap_net_bind;           /**< CAP_NET_BIND_SERVICE is in the effective set */
    int unprivileged_port_start; /**< net.ipv4.ip_unprivileged_port_start; -1 unknown */
};

enum wssport_action {
    WSSPORT_NONE, /**< no extra listener (the WebSocket endpoint is on the HTTPS port) */
    WSSPORT_TRY,  /**< try *out_port; when it cannot be bound, log why and go on without it */
    WSSPORT_MUST, /**< bind *out_port or do not start (the option named it) */
};

/**
 * Decide. @p out_port: the port to bind for WSSPORT_TRY and WSSPORT_MUST, else 0. @p why
 * (@p size bytes, NUL-terminated; may be NULL with @p size 0): for WSSPORT_NONE the one line
 * to log, or "" when there is nothing worth saying (off, no HTTPS listener, or the HTTPS port
 * is that port already); "" for the others.
 */
enum wssport_action wssport_decide(const struct wssport_in *in, int *out_port, char *why,
                                   size_t size);

/** May a process with these facts bind @p port (below 1024 takes a privilege)? */
bool wssport_may_bind(int port, bool cap_net_bind, int unprivileged_port_start);

/**
 * The one line logged when WSSPORT_TRY could not bind: @p err_text (strerror), @p in_use
 * (EADDRINUSE: another program holds it), into @p out (@p size bytes, NUL-terminated).
 */
void wssport_try_failed(int port, int https_port, const char *addr, bool in_use,
                        const char *err_text, char *out, size_t size);

#endif /* CENTRAL_WSSPORT_H */
