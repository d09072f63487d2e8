/*
 * iotc/central.h - IoT Plug and Play / IoT Central device conventions (docs/PROTOCOL.md §7).
 *
 * Reported-property and writable-property-ack JSON builders, the component marker
 * (`"__t":"c"`) and the `{component}*{command}` method-name convention.
 *
 * Writers follow iotc/codec.h (size first, IOTC_E_NOSPACE writes nothing, *out_len excludes the
 * NUL, NUL-terminated when room). Names and strings are JSON-escaped by the builders; values
 * documented as *_json are pre-serialised JSON, validated (IOTC_E_ARG when invalid).
 * No allocation, no I/O; reentrant.
 */
#ifndef IOTC_CENTRAL_H
#define IOTC_CENTRAL_H

#include <iotc/common.h>
#include <iotc/json.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Member marking an object as a component in reported/desired properties. */
#define IOTC_CENTRAL_COMPONENT_MARKER "__t"
#define IOTC_CENTRAL_COMPONENT_MARKER_VALUE "c"
/** Separator between component and command in a method name. */
#define IOTC_CENTRAL_COMMAND_SEPARATOR '*'

/* Writable-property ack codes (§7.4). */
#define IOTC_CENTRAL_ACK_COMPLETED 200
#define IOTC_CENTRAL_ACK_PENDING 202
#define IOTC_CENTRAL_ACK_DEVICE_INITIATED 203
#define IOTC_CENTRAL_ACK_INVALID 400
#define IOTC_CENTRAL_ACK_ERROR 500

/**
 * Reported property: `{"name":<value_json>}` or, with a component,
 * `{"component":{"__t":"c","name":<value_json>}}`.
 * @param component   optional (ptr NULL or empty: root component)
 * @return IOTC_OK; IOTC_E_ARG (empty name, invalid JSON or UTF-8); IOTC_E_NOSPACE.
 */
IOTC_API int iotc_central_property_build(struct iotc_span component, struct iotc_span name,
                                         struct iotc_span value_json, char *out, size_t out_size,
                                         size_t *out_len);

/**
 * Writable-property acknowledgement: `{"name":{"value":<value_json>,"ac":ac,"av":av,"ad":"desc"}}`,
 * component variant `{"comp":{"__t":"c","name":{...}}}`.
 * @param ac           ack code (200 completed, 202 pending, 203 device-initiated, 4xx, 5xx)
 * @param av           desired $version being acknowledged (0 for device-initiated)
 * @param description  optional `ad` text (omitted when ptr NULL)
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_central_ack_build(struct iotc_span component, struct iotc_span name,
                                    struct iotc_span value_json, int ac, uint64_t av,
                                    struct iotc_span description, char *out, size_t out_size,
                                    size_t *out_len);

/**
 * Long-running command completion (§7.5): a reported property named like the command,
 * `{"command":{"value":"text"}}` or inside the component object with `"__t":"c"`.
 * @param text  plain text, JSON-escaped by this function
 * @return IOTC_OK, IOTC_E_ARG, IOTC_E_NOSPACE.
 */
IOTC_API int iotc_central_command_complete_build(struct iotc_span component,
                                                 struct iotc_span command, struct iotc_span text,
                                                 char *out, size_t out_size, size_t *out_len);

/**
 * True when @p obj is an object whose member "__t" is the string "c".
 */
IOTC_API bool iotc_central_is_component(struct iotc_json_value obj);

/**
 * Split a method name on the first '*': `thermostat1*getMaxMinReport` gives component
 * `thermostat1` and command `getMaxMinReport`; `reboot` gives component {NULL,0} and command
 * `reboot`. Spans are borrowed from @p method_name.
 * @return IOTC_OK; IOTC_E_MALFORMED (empty name, empty component or empty command).
 */
IOTC_API int iotc_central_command_split(struct iotc_span method_name,
                                        struct iotc_span *out_component,
                                        struct iotc_span *out_command);

/**
 * Join `component*command` (just `command` when component is absent/empty).
 * @return IOTC_OK, IOTC_E_ARG (empty command, '*' in the component), IOTC_E_NOSPACE.
 */
IOTC_API int iotc_central_command_join(struct iotc_span component, struct iotc_span command,
                                       char *out, size_t out_size, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* IOTC_CENTRAL_H */
