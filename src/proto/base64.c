/*
 * base64.c - base64 through OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock with the lenient
 * decoding Azure keys need (docs/PROTOCOL.md §2.3 vector 2: "key" must decode to 91 EC).
 *
 * EVP_DecodeBlock neither reports padding nor accepts a partial final group, so the decoder
 * validates the text itself, feeds whole 4-char groups to OpenSSL and completes a short last
 * group with 'A's, keeping only the bytes the real characters carry.
 */
#include <iotc/codec.h>

#include <string.h>

#include <openssl/evp.h>

size_t iotc_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

int iotc_base64_encode(const void *in, size_t in_len, char *out, size_t out_size, size_t *out_len)
{
    const unsigned char *src = in;
    size_t need = iotc_base64_encoded_len(in_len);
    if (out_len != NULL)
        *out_len = need;
    if (need > out_size || (out == NULL && need > 0))
        return IOTC_E_NOSPACE;
    /* EVP_EncodeBlock always NUL-terminates, so encode group by group into a scratch buffer. */
    size_t o = 0;
    while (in_len > 0) {
        unsigned char tmp[5];
        size_t chunk = in_len < 3 ? in_len : 3;
        (void)EVP_EncodeBlock(tmp, src, (int)chunk);
        memcpy(out + o, tmp, 4);
        o += 4;
        src += chunk;
        in_len -= chunk;
    }
    if (out != NULL && o < out_size)
        out[o] = '\0';
    return IOTC_OK;
}

static bool is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Count the significant characters and validate the text; returns -1 when malformed. */
static long b64_significant(struct iotc_span in)
{
    size_t n = in.len;
    size_t pad = 0;
    while (n > 0 && in.ptr[n - 1] == '=') {
        n--;
        pad++;
    }
    if (pad > 2)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_b64((unsigned char)in.ptr[i]))
            return -1;
    }
    /* A lone character carries fewer than 8 bits; padding must complete a 4-group if given. */
    if (n % 4 == 1)
        return -1;
    if (pad > 0 && (n + pad) % 4 != 0)
        return -1;
    return (long)n;
}

int iotc_base64_decode(struct iotc_span in, void *out, size_t out_size, size_t *out_len)
{
    long sig = in.ptr != NULL ? b64_significant(in) : 0;
    if (sig < 0)
        return IOTC_E_MALFORMED;
    size_t n = (size_t)sig;
    size_t need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (out_len != NULL)
        *out_len = need;
    if (need > out_size || (out == NULL && need > 0))
        return IOTC_E_NOSPACE;
    unsigned char *dst = out;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned char grp[4] = {'A', 'A', 'A', 'A'};
        unsigned char bytes[3];
        size_t k = n - i < 4 ? n - i : 4;
        memcpy(grp, in.ptr + i, k);
        if (EVP_DecodeBlock(bytes, grp, 4) != 3)
            return IOTC_E_MALFORMED; /* not reachable after validation; keep OpenSSL honest */
        size_t take = k == 4 ? 3 : k - 1;
        memcpy(dst + o, bytes, take);
        o += take;
    }
    return IOTC_OK;
}
