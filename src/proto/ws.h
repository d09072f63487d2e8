/*
 * proto/ws.h - WebSocket framing (RFC 6455) for MQTT over WebSockets (pure core, private
 * header, like proto/mqtt.h): the handshake's accept key, frame decode and header encode, and
 * the rules of a message stream (fragmentation, control frames, close codes).
 *
 * Decoding follows proto/mqtt.h: hand iotc_ws_decode() everything received so far; it decodes
 * one frame and says how many bytes it used, or IOTC_E_AGAIN for a strict prefix of a frame,
 * which is never IOTC_E_MALFORMED. The payload is a borrowed view, still masked: copy it out
 * with iotc_ws_unmask(). Nothing is allocated, no state is hidden (the stream rules take their
 * state as an argument).
 */
#ifndef IOTC_PROTO_WS_H
#define IOTC_PROTO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotc/common.h"

/** Largest header: 2 bytes, 8 of extended length, 4 of mask. */
#define IOTC_WS_HEADER_MAX 14
/** Length of Sec-WebSocket-Accept (base64 of a SHA-1). */
#define IOTC_WS_ACCEPT_LEN 28

enum iotc_ws_opcode {
    IOTC_WS_CONTINUATION = 0x0,
    IOTC_WS_TEXT = 0x1,
    IOTC_WS_BINARY = 0x2,
    IOTC_WS_CLOSE = 0x8,
    IOTC_WS_PING = 0x9,
    IOTC_WS_PONG = 0xA,
};

/** Close codes this server sends (RFC 6455 §7.4.1). */
enum iotc_ws_close_code {
    IOTC_WS_CLOSE_NORMAL = 1000,
    IOTC_WS_CLOSE_GOING_AWAY = 1001,
    IOTC_WS_CLOSE_PROTOCOL = 1002,
    IOTC_WS_CLOSE_UNSUPPORTED = 1003, /**< a text frame where MQTT needs binary */
    IOTC_WS_CLOSE_TOOBIG = 1009,
};

struct iotc_ws_frame {
    bool fin;
    bool masked;
    uint8_t opcode;
    uint8_t mask[4];
    struct iotc_span payload; /**< borrowed from the input, still masked */
};

/**
 * Decode one frame at the start of @p in. Malformed: reserved bits set, unknown opcode, a
 * control frame fragmented or over 125 bytes, a length not in its shortest form or with the
 * top bit set, an unmasked frame when @p need_mask (a client's frames, §5.1).
 * @return IOTC_OK (*out, *used set); IOTC_E_AGAIN (a strict prefix); IOTC_E_MALFORMED;
 *         IOTC_E_TOOBIG (payload over @p max_payload; *used untouched).
 */
int iotc_ws_decode(struct iotc_span in, size_t max_payload, bool need_mask,
                   struct iotc_ws_frame *out, size_t *used);

/** Copy @p f's payload to @p out (f->payload.len bytes), unmasked. */
void iotc_ws_unmask(const struct iotc_ws_frame *f, void *out);

/**
 * Write an unmasked frame header (a server's) for a payload of @p len bytes.
 * @return IOTC_OK; IOTC_E_NOSPACE (nothing written; *out_len the size needed); IOTC_E_ARG
 * (a control frame over 125 bytes or not final, an unknown opcode).
 */
int iotc_ws_encode_header(uint8_t opcode, bool fin, size_t len, unsigned char *out, size_t out_size,
                          size_t *out_len);

/**
 * Sec-WebSocket-Accept for the client's Sec-WebSocket-Key (§4.2.2): base64(SHA-1(key + GUID)).
 * The key must be base64 of 16 bytes. @return IOTC_OK (IOTC_WS_ACCEPT_LEN characters and a
 * NUL in @p out); IOTC_E_MALFORMED; IOTC_E_NOSPACE (out_size < IOTC_WS_ACCEPT_LEN + 1).
 */
int iotc_ws_accept_key(struct iotc_span key, char *out, size_t out_size);

/** A data stream's state between frames: whether a fragmented message is open. */
struct iotc_ws_stream {
    bool in_message;
};

/**
 * Apply the message rules to the next decoded frame: a continuation needs an open message, a
 * new data frame needs none; data must be binary (MQTT over WebSockets). Control frames pass
 * (they may come between fragments).
 * @return 0 when the frame may be used, else the close code to send.
 */
int iotc_ws_stream_next(struct iotc_ws_stream *st, const struct iotc_ws_frame *f);

/**
 * Check a close frame's payload (§5.5.1, §7.4): empty, or a 2-byte code a peer may send
 * (1000-1003, 1007-1011, 3000-4999) and a UTF-8 reason. @return true when valid.
 */
bool iotc_ws_close_payload_ok(struct iotc_span payload, uint16_t *out_code);

#endif /* IOTC_PROTO_WS_H */
