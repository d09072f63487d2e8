/*
 * wssport.c - on which extra port the HTTPS listener serves MQTT over WebSockets (wssport.h).
 */
#include "central/base/wssport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wssport_parse(const char *text, int *out)
{
    static const char want[] = "auto, off or a port from 1 to 65535";
    if (text == NULL)
        return want;
    if (strcmp(text, "auto") == 0) {
        *out = WSSPORT_AUTO;
        return NULL;
    }
    if (strcmp(text, "off") == 0) {
        *out = WSSPORT_OFF;
        return NULL;
    }
    if (text[0] < '0' || text[0] > '9' || strlen(text) > 5)
        return want;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || v < 1 || v > 65535)
        return want;
    *out = (int)v;
    return NULL;
}

bool wssport_may_bind(int port, bool cap_net_bind, int unprivileged_port_start)
{
    /* Linux: binding below ip_unprivileged_port_start (1024 unless changed, or unknown) takes
     * CAP_NET_BIND_SERVICE in the network namespace's user namespace. */
    int start = unprivileged_port_start >= 0 ? unprivileged_port_start : 1024;
    return cap_net_bind || port >= start;
}

static void say(char *why, size_t size, const char *text)
{
    if (why != NULL && size > 0)
        snprintf(why, size, "%s", text);
}

enum wssport_action wssport_decide(const struct wssport_in *in, int *out_port, char *why,
                                   size_t size)
{
    *out_port = 0;
    say(why, size, "");
    if (in->https_port <= 0 || in->option == WSSPORT_OFF)
        return WSSPORT_NONE;
    if (in->option != WSSPORT_AUTO) {
        if (in->option == in->https_port)
            return WSSPORT_NONE; /* one listener on that port already */
        *out_port = in->option;
        return WSSPORT_MUST;
    }
    if (in->https_port == WSSPORT_AZURE)
        return WSSPORT_NONE;
    if (!wssport_may_bind(WSSPORT_AZURE, in->cap_net_bind, in->unprivileged_port_start)) {
        if (why != NULL && size > 0) {
            char start[32] = "unknown";
            if (in->unprivileged_port_start >= 0)
                snprintf(start, sizeof start, "%d", in->unprivileged_port_start);
            snprintf(why, size,
                     "wss: not listening on port %d, the one the Azure SDKs dial for MQTT over "
                     "WebSockets: it takes root or CAP_NET_BIND_SERVICE "
                     "(net.ipv4.ip_unprivileged_port_start is %s); the WebSocket endpoint is on "
                     "the HTTPS port %d only (--wss-port, docs/OPERATIONS.md)",
                     WSSPORT_AZURE, start, in->https_port);
        }
        return WSSPORT_NONE;
    }
    *out_port = WSSPORT_AZURE;
    return WSSPORT_TRY;
}

void wssport_try_failed(int port, int https_port, const char *addr, bool in_use,
                        const char *err_text, char *out, size_t size)
{
    if (out == NULL || size == 0)
        return;
    snprintf(out, size,
             "wss: cannot listen on %s port %d (%s%s); the WebSocket endpoint is on the HTTPS "
             "port %d only (--wss-port, docs/OPERATIONS.md)",
             addr, port, err_text, in_use ? ": another program holds it" : "", https_port);
}
