/*
 * test_central_ws.c - MQTT over WebSockets on iotc-central's HTTPS listener, frame by frame:
 * the upgrade, a CONNECT split over two masked binary frames with a ping between them,
 * telemetry acknowledged after the commit, and the closes (an unmasked frame 1002, a text
 * frame 1003, a refused CONNECT then 1000); the server stops cleanly with a WebSocket open;
 * X.509 through the HTTPS handshake, isolation between devices and the pre-authentication
 * budget hold as on the MQTT listener.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/harness.h"
#include "central/setup/pki.h"
#include "iotc/codec.h"
#include "proto/mqtt.h"
#include "proto/ws.h"

static struct th_central srv;
static const char KEY[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/* Send the upgrade on an open TLS connection to @p c; 101 expected. */
static void ws_upgrade(struct th_tls *t);

/* Upgrade a raw TLS connection; leaves t->text empty for the frames. */
static void ws_open(struct th_tls *t)
{
    assert_int_equal(th_tls_open(&srv, t), 0);
    ws_upgrade(t);
}

static void ws_upgrade(struct th_tls *t)
{
    static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /$iothub/websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
                     key);
    assert_int_equal(th_tls_send(t, req, (size_t)n), 0);
    assert_int_equal(th_tls_wait(t, "\r\n\r\n", 5000), 1);
    assert_non_null(strstr(t->text, "HTTP/1.1 101"));
    assert_non_null(strstr(t->text, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_non_null(strstr(t->text, "Sec-WebSocket-Protocol: mqtt"));
    size_t head = (size_t)(strstr(t->text, "\r\n\r\n") + 4 - t->text);
    memmove(t->text, t->text + head, t->len - head);
    t->len -= head;
}

/* A client frame, masked unless @p unmasked. */
static void ws_send(struct th_tls *t, uint8_t op, bool fin, const void *data, size_t len,
                    bool unmasked)
{
    unsigned char buf[4096];
    size_t n = 0;
    assert_int_equal(iotc_ws_encode_header(op, fin, len, buf, sizeof buf, &n), IOTC_OK);
    static const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    if (!unmasked) {
        buf[1] |= 0x80;
        memcpy(buf + n, mask, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        buf[n + i] =
            (unsigned char)(((const unsigned char *)data)[i] ^ (unmasked ? 0 : mask[i & 3]));
    assert_int_equal(th_tls_send(t, buf, n + len), 0);
}

/* The next server frame (waits up to 5 s); its payload is copied to @p out. */
static struct iotc_ws_frame ws_next(struct th_tls *t, unsigned char *out, size_t *out_len)
{
    for (int i = 0; i < 100; i++) {
        struct iotc_ws_frame f;
        size_t used = 0;
        int rc = iotc_ws_decode((struct iotc_span){t->text, t->len}, 1 << 20, false, &f, &used);
        if (rc == IOTC_OK) {
            iotc_ws_unmask(&f, out);
            *out_len = f.payload.len;
            memmove(t->text, t->text + used, t->len - used);
            t->len -= used;
            return f;
        }
        assert_int_equal(rc, IOTC_E_AGAIN);
        if (t->closed)
            break;
        th_tls_wait(t, "\xff\xfe never", 50);
    }
    fail_msg("no frame from the server");
    return (struct iotc_ws_frame){0};
}

/* A CONNECT for hub device @p id of @p c; @p password NULL: none (X.509). */
static size_t connect_packet_to(const struct th_central *c, const char *id, const char *password,
                                unsigned char *out, size_t size)
{
    char user[300];
    snprintf(user, sizeof user, "%s/%s/?api-version=2021-04-12", c->hub_host, id);
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_CONNECT};
    p.connect.protocol_name = IOTC_SPAN_LIT("MQTT");
    p.connect.protocol_level = 4;
    p.connect.clean_session = true;
    p.connect.keep_alive = 60;
    p.connect.client_id = iotc_span_from_cstr(id);
    p.connect.has_username = true;
    p.connect.has_password = password != NULL;
    p.connect.username = iotc_span_from_cstr(user);
    if (password != NULL)
        p.connect.password = iotc_span_from_cstr(password);
    size_t n = 0;
    assert_int_equal(iotc_mqtt_encode(&p, out, size, &n), IOTC_OK);
    return n;
}

static size_t connect_packet(const char *id, const char *password, unsigned char *out, size_t size)
{
    return connect_packet_to(&srv, id, password, out, size);
}

static int setup(void **state)
{
    (void)state;
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    return th_put_device(&srv, "ws-c-1", KEY, KEY, true) == 200 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    th_central_cleanup(&srv);
    return 0;
}

static void test_mqtt_over_frames(void **state)
{
    (void)state;
    struct th_tls t;
    ws_open(&t);
    char token[512];
    assert_int_equal(th_hub_token(&srv, "ws-c-1", KEY, th_now() + 3600, token, sizeof token), 0);
    unsigned char pkt[1024], got[4096];
    size_t n = connect_packet("ws-c-1", token, pkt, sizeof pkt), len;
    /* CONNECT in two fragments of one binary message, a ping between them */
    ws_send(&t, IOTC_WS_BINARY, false, pkt, 10, false);
    ws_send(&t, IOTC_WS_PING, true, "hi", 2, false);
    ws_send(&t, IOTC_WS_CONTINUATION, true, pkt + 10, n - 10, false);
    struct iotc_ws_frame f = ws_next(&t, got, &len);
    assert_int_equal(f.opcode, IOTC_WS_PONG);
    assert_int_equal(len, 2);
    assert_memory_equal(got, "hi", 2);
    f = ws_next(&t, got, &len);
    assert_int_equal(f.opcode, IOTC_WS_BINARY);
    static const unsigned char connack_ok[] = {0x20, 0x02, 0x00, 0x00};
    assert_int_equal(len, 4);
    assert_memory_equal(got, connack_ok, 4);

    /* telemetry at QoS 1: PUBACK once stored */
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_PUBLISH};
    p.publish.qos = 1;
    p.publish.packet_id = 7;
    p.publish.topic = IOTC_SPAN_LIT("devices/ws-c-1/messages/events/");
    p.publish.payload = IOTC_SPAN_LIT("{\"t\":1}");
    assert_int_equal(iotc_mqtt_encode(&p, pkt, sizeof pkt, &n), IOTC_OK);
    ws_send(&t, IOTC_WS_BINARY, true, pkt, n, false);
    f = ws_next(&t, got, &len);
    static const unsigned char puback[] = {0x40, 0x02, 0x00, 0x07};
    assert_int_equal(len, 4);
    assert_memory_equal(got, puback, 4);
    assert_int_equal(th_count_telemetry(&srv, "ws-c-1"), 1);
    assert_true(th_central_log_contains(&srv, "upgraded to MQTT over WebSockets", 1000));

    /* the server stops cleanly with this WebSocket still open */
    assert_int_equal(th_central_stop(&srv), 0);
    th_tls_close(&t);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
}

/* Each bad input closes with its code. */
static void test_closes(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint8_t op;
        bool unmasked;
        uint16_t code;
    } cases[] = {
        {"unmasked", IOTC_WS_BINARY, true, 1002},
        {"text", IOTC_WS_TEXT, false, 1003},
        {"continuation first", IOTC_WS_CONTINUATION, false, 1002},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct th_tls t;
        unsigned char got[256];
        size_t len;
        ws_open(&t);
        ws_send(&t, cases[i].op, true, "\x10\x00", 2, cases[i].unmasked);
        struct iotc_ws_frame f = ws_next(&t, got, &len);
        if (f.opcode != IOTC_WS_CLOSE || len != 2 || (got[0] << 8 | got[1]) != cases[i].code)
            fail_msg("%s: opcode %u len %zu", cases[i].name, f.opcode, len);
        th_tls_wait(&t, NULL, 3000);
        assert_true(t.closed);
        th_tls_close(&t);
    }

    /* a refused CONNECT: CONNACK 5 as a binary frame, then close 1000 */
    struct th_tls t;
    unsigned char pkt[1024], got[256];
    size_t len;
    ws_open(&t);
    size_t n = connect_packet("ws-c-1", "SharedAccessSignature sr=x&sig=y&se=1", pkt, sizeof pkt);
    ws_send(&t, IOTC_WS_BINARY, true, pkt, n, false);
    struct iotc_ws_frame f = ws_next(&t, got, &len);
    assert_int_equal(f.opcode, IOTC_WS_BINARY);
    assert_int_equal(len, 4);
    assert_int_equal(got[3], 5);
    f = ws_next(&t, got, &len);
    assert_int_equal(f.opcode, IOTC_WS_CLOSE);
    assert_int_equal(got[0] << 8 | got[1], 1000);
    th_tls_close(&t);
    assert_true(th_central_log_contains(&srv, "authentication failed for 'ws-c-1' from ws:", 2000));
}

/* CONNACK code of a CONNECT for @p id (password NULL: X.509) through an upgraded @p t. */
static int ws_connack(struct th_tls *t, const struct th_central *c, const char *id,
                      const char *password)
{
    unsigned char pkt[1024], got[4096];
    size_t len, n = connect_packet_to(c, id, password, pkt, sizeof pkt);
    ws_send(t, IOTC_WS_BINARY, true, pkt, n, false);
    struct iotc_ws_frame f = ws_next(t, got, &len);
    assert_int_equal(f.opcode, IOTC_WS_BINARY);
    assert_int_equal(len, 4);
    assert_int_equal(got[0], 0x20);
    return got[3];
}

/* X.509 over WebSockets: the HTTPS listener asks for a client certificate (SAS clients send
 * none and are unaffected); the broker session gets its facts: a selfSigned device connects with
 * its certificate and no password, another certificate is refused with the reason. */
static void test_x509_over_ws(void **state)
{
    (void)state;
    char cert[600], key[600], other[600], okey[600], sha1[41], sha256[65], body[400];
    snprintf(cert, sizeof cert, "%s/ws-x1.pem", srv.root);
    snprintf(key, sizeof key, "%s/ws-x1-key.pem", srv.root);
    snprintf(other, sizeof other, "%s/ws-other.pem", srv.root);
    snprintf(okey, sizeof okey, "%s/ws-other-key.pem", srv.root);
    struct pki_req r1 = {
        .cert_path = cert, .key_path = key, .cn = "ws-x1", .start_s = -3600, .days = 30};
    struct pki_req r2 = {
        .cert_path = other, .key_path = okey, .cn = "ws-x1", .start_s = -3600, .days = 30};
    assert_int_equal(pki_issue(&r1), 0);
    assert_int_equal(pki_issue(&r2), 0);
    assert_int_equal(pki_thumbprints(cert, sha1, sha256), 0);
    snprintf(body, sizeof body,
             "{\"deviceId\":\"ws-x1\",\"authentication\":{\"type\":\"selfSigned\","
             "\"x509Thumbprint\":{\"primaryThumbprint\":\"%s\"}}}",
             sha1);
    struct th_http_response hr;
    assert_int_equal(th_https(&srv, "PUT", "/devices/ws-x1?api-version=2021-04-12", NULL, body,
                              true, 10000, &hr),
                     0);
    assert_int_equal(hr.status, 200);
    free(hr.body);

    struct th_tls t;
    assert_int_equal(th_tls_open_cert(&srv, &t, NULL, cert, key), 0);
    ws_upgrade(&t);
    assert_int_equal(ws_connack(&t, &srv, "ws-x1", NULL), 0);
    th_tls_close(&t);

    assert_int_equal(th_tls_open_cert(&srv, &t, NULL, other, okey), 0);
    ws_upgrade(&t);
    assert_int_equal(ws_connack(&t, &srv, "ws-x1", NULL), 5);
    th_tls_close(&t);
    assert_true(th_central_log_contains(&srv, "authentication failed for 'ws-x1' from ws:", 3000));
    assert_true(th_central_log_contains(&srv, "unknown certificate", 3000));

    /* without a certificate and without a password: refused as on the MQTT listener */
    ws_open(&t);
    assert_int_equal(ws_connack(&t, &srv, "ws-x1", NULL), 5);
    th_tls_close(&t);
    assert_true(th_central_log_contains(&srv, "no password and no client certificate", 3000));
}

/* Isolation holds over WebSockets as on the MQTT listener (test_central_hub.c
 * test_authorization_refusals): a device's session may use its own topics only; another
 * device's telemetry or C2D topic, a server-to-device topic or a wildcard closes the session
 * (close 1000 after the MQTT close), nothing reaches the other device's data, and the log says
 * why. Its own C2D subscription is granted (the control). */
static void test_isolation_over_ws(void **state)
{
    (void)state;
    assert_int_equal(th_put_device(&srv, "ws-c-2", KEY, KEY, true), 200);
    char token[512];
    assert_int_equal(th_hub_token(&srv, "ws-c-1", KEY, th_now() + 3600, token, sizeof token), 0);
    static const struct {
        bool subscribe;
        const char *topic;
        bool allowed;
    } cases[] = {
        {true, "devices/ws-c-1/messages/devicebound/#", true},  /* its own C2D */
        {false, "devices/ws-c-2/messages/events/", false},      /* another device's telemetry */
        {false, "devices/ws-c-1/messages/devicebound/", false}, /* server-to-device topic */
        {true, "devices/ws-c-2/messages/devicebound/#", false}, /* another device's C2D */
        {true, "#", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct th_tls t;
        ws_open(&t);
        assert_int_equal(ws_connack(&t, &srv, "ws-c-1", token), 0);
        struct iotc_mqtt_packet p;
        struct iotc_mqtt_subscription sub = {iotc_span_from_cstr(cases[i].topic), 1};
        if (cases[i].subscribe) {
            p = (struct iotc_mqtt_packet){.type = IOTC_MQTT_SUBSCRIBE};
            p.subscribe.packet_id = 9;
            p.subscribe.count = 1;
            p.subscribe.list = &sub;
        } else {
            p = (struct iotc_mqtt_packet){.type = IOTC_MQTT_PUBLISH};
            p.publish.qos = 1;
            p.publish.packet_id = 3;
            p.publish.topic = iotc_span_from_cstr(cases[i].topic);
            p.publish.payload = IOTC_SPAN_LIT("{\"t\":9}");
        }
        unsigned char pkt[512], got[256];
        size_t n = 0, len = 0;
        assert_int_equal(iotc_mqtt_encode(&p, pkt, sizeof pkt, &n), IOTC_OK);
        ws_send(&t, IOTC_WS_BINARY, true, pkt, n, false);
        struct iotc_ws_frame f = ws_next(&t, got, &len);
        if (cases[i].allowed) {
            /* SUBACK 9 granting QoS 1 */
            static const unsigned char suback[] = {0x90, 0x03, 0x00, 0x09, 0x01};
            if (f.opcode != IOTC_WS_BINARY || len != sizeof suback || memcmp(got, suback, len) != 0)
                fail_msg("case %zu (%s): no SUBACK", i, cases[i].topic);
        } else if (f.opcode != IOTC_WS_CLOSE || len < 2 || (got[0] << 8 | got[1]) != 1000) {
            fail_msg("case %zu (%s): opcode %u, not close 1000", i, cases[i].topic, f.opcode);
        }
        th_tls_close(&t);
    }
    assert_int_equal(th_count_telemetry(&srv, "ws-c-2"), 0);
    assert_true(th_central_log_contains(&srv, "publish not authorized", 1000));
    assert_true(th_central_log_contains(&srv, "subscription not authorized", 1000));
}

/* WebSocket sessions count in the MQTT pre-authentication budget under the HTTP peer's address:
 * a flood of upgrades from one address that never CONNECT gets its per-address share and no
 * more (the rest are refused, 503), and a device from another address still connects. */
static void test_ws_flood_admission(void **state)
{
    (void)state;
    static const char *const args[] = {"--max-pending-per-address", "4", "--auth-timeout", "20",
                                       NULL};
    struct th_central c2;
    assert_int_equal(th_central_start(&c2, args), 0);
    assert_int_equal(th_put_device(&c2, "ws-f-1", KEY, KEY, true), 200);
    enum { FLOOD = 12 };
    struct th_tls flood[FLOOD];
    static const char req[] =
        "GET /$iothub/websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
    int upgraded = 0, refused = 0;
    bool open[FLOOD] = {false};
    for (int i = 0; i < FLOOD; i++) {
        /* refused: 503, or closed by the HTTP listener's own budget */
        open[i] = th_tls_open_from(&c2, &flood[i], "127.0.0.9") == 0;
        if (open[i] && th_tls_send(&flood[i], req, sizeof req - 1) == 0 &&
            th_tls_wait(&flood[i], "\r\n\r\n", 5000) == 1 &&
            strstr(flood[i].text, "HTTP/1.1 101") != NULL)
            upgraded++;
        else
            refused++;
    }
    print_message("flood from 127.0.0.9: %d upgraded, %d refused\n", upgraded, refused);
    assert_true(upgraded >= 1 && upgraded <= 4);
    assert_int_equal(upgraded + refused, FLOOD);
    /* refused by the MQTT budget (before the change, WebSocket sessions were not counted) */
    assert_true(th_central_log_contains(
        &c2, "too many unauthenticated connections from one address (latest from 127.0.0.9", 3000));
    assert_true(th_central_log_contains(&c2, "limits: mqtt:", 3000));

    /* another address: upgraded and authenticated while the flood holds its slots */
    struct th_tls t;
    char token[512];
    assert_int_equal(th_tls_open_from(&c2, &t, "127.0.0.1"), 0);
    ws_upgrade(&t);
    assert_int_equal(th_hub_token(&c2, "ws-f-1", KEY, th_now() + 3600, token, sizeof token), 0);
    assert_int_equal(ws_connack(&t, &c2, "ws-f-1", token), 0);
    th_tls_close(&t);
    for (int i = 0; i < FLOOD; i++)
        if (open[i])
            th_tls_close(&flood[i]);
    th_central_cleanup(&c2);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a refused flood connection may be closed under a write */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mqtt_over_frames),   cmocka_unit_test(test_closes),
        cmocka_unit_test(test_x509_over_ws),       cmocka_unit_test(test_isolation_over_ws),
        cmocka_unit_test(test_ws_flood_admission),
    };
    return cmocka_run_group_tests_name("central_ws", tests, setup, teardown);
}
