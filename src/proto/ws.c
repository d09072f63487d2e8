/*
 * ws.c - WebSocket framing (RFC 6455), see proto/ws.h. Section numbers are RFC 6455's.
 */
#include "proto/ws.h"

#include <string.h>

#include <openssl/evp.h>

#include "iotc/codec.h"
#include "proto/strbuf.h"

static bool is_control(uint8_t op)
{
    return op >= 0x8;
}

static bool known_opcode(uint8_t op)
{
    return op <= IOTC_WS_BINARY || (op >= IOTC_WS_CLOSE && op <= IOTC_WS_PONG);
}

int iotc_ws_decode(struct iotc_span in, size_t max_payload, bool need_mask,
                   struct iotc_ws_frame *out, size_t *used)
{
    const unsigned char *p = (const unsigned char *)in.ptr;
    if (in.len < 2)
        return IOTC_E_AGAIN;
    uint8_t b0 = p[0], b1 = p[1];
    if ((b0 & 0x70) != 0) /* RSV1-3: no extension was negotiated (§5.2) */
        return IOTC_E_MALFORMED;
    uint8_t op = b0 & 0x0f;
    bool fin = (b0 & 0x80) != 0, masked = (b1 & 0x80) != 0;
    if (!known_opcode(op) || (need_mask && !masked))
        return IOTC_E_MALFORMED;
    uint64_t len = b1 & 0x7f;
    size_t off = 2;
    if (is_control(op) && (!fin || len > 125)) /* §5.5 */
        return IOTC_E_MALFORMED;
    if (len == 126) {
        if (in.len < 4)
            return IOTC_E_AGAIN;
        len = (uint64_t)p[2] << 8 | p[3];
        off = 4;
        if (len < 126) /* §5.2: the minimal number of bytes */
            return IOTC_E_MALFORMED;
    } else if (len == 127) {
        if (in.len < 10)
            return IOTC_E_AGAIN;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        off = 10;
        if ((len >> 63) != 0 || len <= 0xffff)
            return IOTC_E_MALFORMED;
    }
    if (len > max_payload)
        return IOTC_E_TOOBIG;
    if (masked) {
        if (in.len < off + 4)
            return IOTC_E_AGAIN;
        memcpy(out->mask, p + off, 4);
        off += 4;
    } else {
        memset(out->mask, 0, 4);
    }
    if (in.len - off < len)
        return IOTC_E_AGAIN;
    out->fin = fin;
    out->masked = masked;
    out->opcode = op;
    out->payload = (struct iotc_span){in.ptr + off, (size_t)len};
    *used = off + (size_t)len;
    return IOTC_OK;
}

void iotc_ws_unmask(const struct iotc_ws_frame *f, void *out)
{
    const unsigned char *src = (const unsigned char *)f->payload.ptr;
    unsigned char *dst = out;
    for (size_t i = 0; i < f->payload.len; i++)
        dst[i] = (unsigned char)(src[i] ^ (f->masked ? f->mask[i & 3] : 0));
}

int iotc_ws_encode_header(uint8_t opcode, bool fin, size_t len, unsigned char *out, size_t out_size,
                          size_t *out_len)
{
    if (!known_opcode(opcode) || (is_control(opcode) && (!fin || len > 125)))
        return IOTC_E_ARG;
    size_t need = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    *out_len = need;
    if (out_size < need)
        return IOTC_E_NOSPACE;
    out[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        out[1] = (unsigned char)len;
    } else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
    } else {
        out[1] = 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    return IOTC_OK;
}

int iotc_ws_accept_key(struct iotc_span key, char *out, size_t out_size)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; /* §1.3 */
    unsigned char raw[24], text[24 + sizeof guid - 1], md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    size_t n = 0;
    if (out_size < IOTC_WS_ACCEPT_LEN + 1)
        return IOTC_E_NOSPACE;
    if (key.len != 24 || iotc_base64_decode(key, raw, sizeof raw, &n) != IOTC_OK || n != 16)
        return IOTC_E_MALFORMED;
    memcpy(text, key.ptr, 24);
    memcpy(text + 24, guid, sizeof guid - 1);
    if (EVP_Digest(text, sizeof text, md, &md_len, EVP_sha1(), NULL) != 1 || md_len != 20)
        return IOTC_E_CRYPTO;
    return iotc_base64_encode(md, md_len, out, out_size, &n) == IOTC_OK ? IOTC_OK : IOTC_E_NOSPACE;
}

int iotc_ws_stream_next(struct iotc_ws_stream *st, const struct iotc_ws_frame *f)
{
    if (is_control(f->opcode))
        return 0;
    if (f->opcode == IOTC_WS_CONTINUATION) {
        if (!st->in_message)
            return IOTC_WS_CLOSE_PROTOCOL;
    } else {
        if (st->in_message)
            return IOTC_WS_CLOSE_PROTOCOL;
        if (f->opcode != IOTC_WS_BINARY)
            return IOTC_WS_CLOSE_UNSUPPORTED;
    }
    st->in_message = !f->fin;
    return 0;
}

bool iotc_ws_close_payload_ok(struct iotc_span payload, uint16_t *out_code)
{
    *out_code = 0;
    if (payload.len == 0)
        return true;
    if (payload.len == 1)
        return false;
    const unsigned char *p = (const unsigned char *)payload.ptr;
    uint16_t code = (uint16_t)(p[0] << 8 | p[1]);
    bool ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
              (code >= 3000 && code <= 4999);
    for (size_t i = 2; ok && i < payload.len;) {
        size_t k = iotc__utf8_seq(p + i, payload.len - i);
        ok = k != 0;
        i += k;
    }
    *out_code = code;
    return ok;
}
