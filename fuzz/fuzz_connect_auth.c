/*
 * fuzz_connect_auth.c - libFuzzer target for the CONNECT-to-authentication path of
 * iotc-central: bytes -> MQTT CONNECT decode -> auth_decide() against a fixed in-memory
 * registry (a device, a disabled device, a group-registered device) and a fixed clock.
 *
 * Input: byte 0 selects the mode. Mode 'M': the rest is a raw MQTT packet; a decoded CONNECT
 * feeds its client id / username / password. Mode 'X': the rest is "clientid\nusername\ncn"
 * for auth_decide_cert() with a fixed certificate (thumbprint of x509ss, chain to a verified
 * CA) bearing that CN. Otherwise: the rest is
 * "clientid\nusername\npassword" (so seeds can carry readable, valid SAS tokens).
 * Checks invariants: an accepted decision names a known, enabled identity (hub) or a key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "central/hub/auth.h"
#include "iotc/codec.h"
#include "proto/mqtt.h"

#define NOW_S 1700000000u

static const struct auth_group groups[] = {
    {"Z3JvdXAtcHJpbWFyeS1rZXktZ3JvdXAtcHJpbWFyeS1rZXktZ3JvdXAtcHJpbWFyeS1rZXktZ3I=",
     "Z3JvdXAtc2Vjb25kYXJ5LWtleS1ncm91cC1zZWNvbmRhcnkta2V5LWdyb3VwLXNlY29uZGE="},
};

static const struct auth_config cfg = {
    .id_scope = "0ne0000F00D",
    .hub_host = "hub.example",
    .groups = groups,
    .n_groups = 1,
    .service_policy = "iothubowner",
    .service_key = "c2VydmljZS1rZXktc2VydmljZS1rZXktc2VydmljZS0=",
};

static const struct {
    const char *id;
    struct auth_identity ident;
} devices[] = {
    {"dev1",
     {"ZGV2aWNlLW9uZS1wcmltYXJ5LWtleS0wMTIzNDU2Nzg=",
      "ZGV2aWNlLW9uZS1zZWNvbmRhcnkta2V5LTAxMjM0NTY=", true, false, AUTH_TYPE_SAS, NULL, NULL}},
    {"dev2",
     {"ZGV2aWNlLXR3by1wcmltYXJ5LWtleS0wMTIzNDU2Nzg=",
      "ZGV2aWNlLXR3by1zZWNvbmRhcnkta2V5LTAxMjM0NTY=", false, false, AUTH_TYPE_SAS, NULL, NULL}},
    {"grp1",
     {"Z3JwMS1kZXJpdmVkLWtleS1wbGFjZWhvbGRlci0wMTI=", "", true, true, AUTH_TYPE_SAS, NULL, NULL}},
    {"x509ss",
     {"", "", true, false, AUTH_TYPE_SELF_SIGNED, "00112233445566778899aabbccddeeff00112233", ""}},
    {"x509ca", {"", "", true, false, AUTH_TYPE_CA, "", ""}},
};

static bool lookup(void *ctx, struct iotc_span id, bool any_case, struct auth_identity *out)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        struct iotc_span want = iotc_span_from_cstr(devices[i].id);
        if (any_case ? iotc_span_eq_nocase(id, want) : iotc_span_eq(id, want)) {
            *out = devices[i].ident;
            return true;
        }
    }
    return false;
}

static void check(const struct auth_result *r)
{
    if (r->reason == NULL || r->connack > 5)
        abort();
    if (r->connack == 0) {
        if (r->key == AUTH_KEY_NONE)
            abort();
        if (r->kind == AUTH_HUB && (!r->known || !r->enabled))
            abort();
        bool cert = r->key == AUTH_KEY_CERT_PRIMARY || r->key == AUTH_KEY_CERT_SECONDARY ||
                    r->key == AUTH_KEY_CERT_CA;
        if (!cert && r->expiry <= NOW_S)
            abort();
    }
}

static void decide_cert(struct iotc_span cid, struct iotc_span user, struct iotc_span cn)
{
    char cn_buf[160];
    if (cn.len >= sizeof cn_buf || memchr(cn.ptr, '\0', cn.len) != NULL)
        return;
    memcpy(cn_buf, cn.ptr, cn.len);
    cn_buf[cn.len] = '\0';
    const struct auth_cert cert = {
        .sha1 = "00112233445566778899aabbccddeeff00112233",
        .sha256 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        .cn = cn_buf,
        .not_before_s = NOW_S - 10,
        .not_after_s = NOW_S + 10,
        .chain = AUTH_CHAIN_VERIFIED,
    };
    struct auth_result r;
    auth_decide_cert(&cfg, cid, user, &cert, NOW_S, lookup, NULL, &r);
    check(&r);
    if (r.connack == 0 && r.key != AUTH_KEY_CERT_PRIMARY && r.key != AUTH_KEY_CERT_CA)
        abort();
    /* a CA identity is accepted only for a CN equal to its id */
    if (r.connack == 0 && r.key == AUTH_KEY_CERT_CA && r.kind == AUTH_HUB &&
        !iotc_span_eq(r.id, iotc_span_from_cstr(cn_buf)))
        abort();
}

static void decide(struct iotc_span cid, struct iotc_span user, struct iotc_span pass,
                   bool has_pass)
{
    struct auth_result r;
    auth_decide(&cfg, cid, user, pass, has_pass, NOW_S, lookup, NULL, &r);
    check(&r);
}

static struct iotc_span next_line(struct iotc_span *rest)
{
    const char *nl = memchr(rest->ptr, '\n', rest->len);
    size_t n = nl ? (size_t)(nl - rest->ptr) : rest->len;
    struct iotc_span line = {rest->ptr, n};
    rest->ptr += nl ? n + 1 : n;
    rest->len -= nl ? n + 1 : n;
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct iotc_span in = {(const char *)data + 1, size - 1};
    if (data[0] == 'M') {
        struct iotc_mqtt_packet pkt;
        size_t used;
        if (iotc_mqtt_decode(in, 1 << 20, &pkt, &used) == IOTC_OK &&
            pkt.type == IOTC_MQTT_CONNECT && pkt.connect.protocol_ok)
            decide(pkt.connect.client_id,
                   pkt.connect.has_username ? pkt.connect.username : IOTC_SPAN_NULL,
                   pkt.connect.password, pkt.connect.has_password);
        return 0;
    }
    struct iotc_span cid = next_line(&in);
    struct iotc_span user = next_line(&in);
    struct iotc_span pass = in;
    if (data[0] == 'X') {
        decide_cert(cid, user, pass);
        return 0;
    }
    decide(cid, user, pass, true);
    return 0;
}
