/*
 * fuzz_central.c - IoT Central helpers: command split/join round trip, component detection
 * and the ack builder with arbitrary value JSON and text.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <iotc/central.h>
#include <iotc/json.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct iotc_span in = {(const char *)data, size};
    struct iotc_span comp, cmd;
    struct iotc_json_value v;
    char out[1024];
    size_t n;

    if (iotc_central_command_split(in, &comp, &cmd) == IOTC_OK) {
        int rc = iotc_central_command_join(comp, cmd, out, sizeof(out), &n);
        if (rc == IOTC_OK && (n != size || memcmp(out, data, n) != 0))
            __builtin_trap(); /* split then join gives the name back */
    }
    if (iotc_json_parse(in, &v) == IOTC_OK)
        (void)iotc_central_is_component(v);
    (void)iotc_central_ack_build(IOTC_SPAN_LIT("thermostat1"), IOTC_SPAN_LIT("t"), in, 200, 1, in,
                                 out, sizeof(out), &n);
    (void)iotc_central_command_complete_build(IOTC_SPAN_NULL, in, in, out, sizeof(out), &n);
    return 0;
}
