/*
 * config.h - parsing of the client's configuration text: "host[:port]" endpoints and device
 * connection strings. Pure functions (no I/O, no allocation), tested in tests/unit.
 */
#ifndef IOTC_DEVICE_CONFIG_H
#define IOTC_DEVICE_CONFIG_H

#include <iotc/common.h>

/*
 * Split "host", "host:port", "[v6]" or "[v6]:port". @p out_host borrows from @p text (brackets
 * removed). *out_port is 0 and *out_has_port false when no port is given.
 * @return IOTC_OK; IOTC_E_ARG (empty host, port not 1..65535, junk after ']', "a:b:c" without
 *         brackets, or a '/' anywhere, which usually means a URL was pasted).
 */
int iotc__endpoint_parse(struct iotc_span text, struct iotc_span *out_host, uint16_t *out_port,
                         bool *out_has_port);

/* A device connection string, each field borrowed from the text; ptr NULL when absent. */
struct iotc__conn_str {
    struct iotc_span host_name;
    struct iotc_span device_id;
    struct iotc_span shared_access_key;
    struct iotc_span module_id;
    struct iotc_span key_name; /* SharedAccessKeyName: a service string, refused by the client */
};

/*
 * Parse "HostName=..;DeviceId=..;SharedAccessKey=.." (fields in any order, split on the first
 * '=', empty segments ignored, unknown fields ignored).
 * @return IOTC_OK; IOTC_E_MALFORMED (a segment without '=', an empty name, a duplicate field);
 *         IOTC_E_ARG (HostName, DeviceId or SharedAccessKey missing or empty).
 */
int iotc__conn_str_parse(struct iotc_span text, struct iotc__conn_str *out);

#endif
