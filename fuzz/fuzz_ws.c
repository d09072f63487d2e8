/*
 * fuzz_ws.c - WebSocket framing (src/proto/ws.c) on any byte stream: frames are decoded one
 * after the other, as the server reads them (client frames must be masked when byte 0 is
 * odd), through the stream rules and the close-payload check.
 * Invariants: a decoded frame lies inside the input and uses at least its header; every strict
 * prefix of a decoded frame is IOTC_E_AGAIN; a re-encoded header of the same length decodes
 * back to the same opcode, FIN bit and length.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool need_mask = (data[0] & 1) != 0;
    struct iotc_span in = {(const char *)data + 1, size - 1};
    struct iotc_ws_stream st = {0};
    static unsigned char payload[1 << 16];
    while (in.len > 0) {
        struct iotc_ws_frame f;
        size_t used = 0;
        int rc = iotc_ws_decode(in, sizeof payload, need_mask, &f, &used);
        if (rc != IOTC_OK)
            break;
        if (used < 2 || used > in.len || f.payload.ptr < in.ptr ||
            f.payload.ptr + f.payload.len != in.ptr + used)
            abort();
        for (size_t n = used > 16 ? used - 16 : 0; n < used; n++) {
            struct iotc_ws_frame g;
            size_t u = 0;
            if (iotc_ws_decode((struct iotc_span){in.ptr, n}, sizeof payload, need_mask, &g, &u) !=
                IOTC_E_AGAIN)
                abort();
        }
        iotc_ws_unmask(&f, payload);
        unsigned char hdr[IOTC_WS_HEADER_MAX];
        size_t hlen;
        if (iotc_ws_encode_header(f.opcode, f.fin, f.payload.len, hdr, sizeof hdr, &hlen) !=
            IOTC_OK)
            abort();
        struct iotc_ws_frame back;
        size_t bu;
        rc = iotc_ws_decode((struct iotc_span){(const char *)hdr, hlen}, sizeof payload, false,
                            &back, &bu);
        if (f.payload.len == 0 ? rc != IOTC_OK || back.opcode != f.opcode || back.fin != f.fin
                               : rc != IOTC_E_AGAIN)
            abort();
        if (iotc_ws_stream_next(&st, &f) != 0)
            break;
        if (f.opcode == IOTC_WS_CLOSE) {
            uint16_t code;
            (void)iotc_ws_close_payload_ok((struct iotc_span){(const char *)payload, f.payload.len},
                                           &code);
            break;
        }
        in.ptr += used;
        in.len -= used;
    }
    return 0;
}
