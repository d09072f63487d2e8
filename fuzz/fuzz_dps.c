/*
 * fuzz_dps.c - every DPS parser; the first byte picks which one gets the rest of the input.
 */
#include <stddef.h>
#include <stdint.h>

#include <iotc/dps.h>
#include <iotc/json.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct iotc_span in = {(const char *)data + 1, size - 1};
    char buf[512];
    size_t n;
    switch (data[0] % 5) {
    case 0: {
        struct iotc_dps_username u;
        (void)iotc_dps_username_parse(in, &u);
        break;
    }
    case 1: {
        struct iotc_dps_request_topic t;
        /* a parsed request can always be answered: its rid is echoable */
        if (iotc_dps_request_topic_parse(in, &t) == IOTC_OK)
            (void)iotc_dps_response_topic_build(200, t.rid, 3, buf, sizeof(buf), &n);
        break;
    }
    case 2: {
        struct iotc_dps_response_topic t;
        (void)iotc_dps_response_topic_parse(in, &t);
        break;
    }
    case 3: {
        struct iotc_dps_register_body b;
        if (iotc_dps_register_body_parse(in, &b) == IOTC_OK && b.registration_id.ptr != NULL)
            (void)iotc_json_unescape(b.registration_id, buf, sizeof(buf), &n);
        break;
    }
    default: {
        struct iotc_dps_response_view r;
        if (iotc_dps_response_body_parse(in, &r) == IOTC_OK && r.assigned_hub.ptr != NULL)
            (void)iotc_json_unescape(r.assigned_hub, buf, sizeof(buf), &n);
        break;
    }
    }
    return 0;
}
