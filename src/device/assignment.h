/*
 * assignment.h - the DPS assignment a device keeps between runs (iotc_config.assignment_file),
 * as the Azure SDKs advise: a device that cached its assigned hub and device id connects
 * straight to that hub at the next start and goes back to DPS only when the hub refuses it
 * (or, for a cached assignment, when its very first attempt fails).
 *
 * The file is text, one "key value" line each:
 *
 *   iotc-dps-assignment 1
 *   scope 0ne0012ABCD
 *   registration my-device
 *   hub my-hub.azure-devices.net
 *   port 8883
 *   device my-device
 *
 * It belongs to one ID scope and registration id: a file made for another is ignored.
 */
#ifndef IOTC_DEVICE_ASSIGNMENT_H
#define IOTC_DEVICE_ASSIGNMENT_H

#include <stddef.h>
#include <stdint.h>

#include <iotc/common.h>

struct iotc_client;

/* The fields, as spans into the parsed text (parse) or the caller's strings (format). */
struct iotc__assignment {
    struct iotc_span scope, registration_id, hub_host, device_id;
    uint16_t hub_port;
};

/* Pure. @return IOTC_OK, IOTC_E_NOSPACE (*out_len = size needed, NUL included) or IOTC_E_ARG
 * (an empty field, a port of 0, or a value with white space or control characters). */
int iotc__assignment_format(const struct iotc__assignment *a, char *out, size_t cap,
                            size_t *out_len);

/* Pure. @return IOTC_OK or IOTC_E_MALFORMED (not such a file, a field missing or repeated). */
int iotc__assignment_parse(struct iotc_span text, struct iotc__assignment *out);

/* Read c->assignment_file; when it holds this client's scope and registration id, take its hub,
 * port and device id and mark the assignment as cached. Missing or foreign file: nothing. */
void iotc__assignment_load(struct iotc_client *c);

/* Write the client's assignment to c->assignment_file (a new file renamed over the old one).
 * Failures are logged, never fatal: the next start provisions again. */
void iotc__assignment_save(struct iotc_client *c);

#endif
