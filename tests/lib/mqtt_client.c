/*
 * mqtt_client.c - blocking MQTT 3.1.1 test client over TLS, built on the iotc codec (harness.h).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "iotc/codec.h"

#define TH_BUF_CAP (1024 * 1024)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int th_mqtt_open(struct th_mqtt *m, uint16_t port, const char *ca_path)
{
    return th_mqtt_open_cert(m, port, ca_path, NULL, NULL);
}

int th_mqtt_open_cert(struct th_mqtt *m, uint16_t port, const char *ca_path, const char *cert_path,
                      const char *key_path)
{
    memset(m, 0, sizeof *m);
    m->fd = -1;
    /* The server closes on purpose in many tests; a write into that must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    m->buf = malloc(TH_BUF_CAP);
    m->cap = TH_BUF_CAP;
    if (m->buf == NULL)
        return -1;
    m->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (m->fd < 0 || connect(m->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto fail;
    int one = 1;
    setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {10, 0};
    setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(m->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (ca_path == NULL)
        return 0; /* plain TCP */
    m->ctx = SSL_CTX_new(TLS_client_method());
    if (m->ctx == NULL || SSL_CTX_load_verify_locations(m->ctx, ca_path, NULL) != 1)
        goto fail;
    SSL_CTX_set_verify(m->ctx, SSL_VERIFY_PEER, NULL);
    if (cert_path != NULL && (SSL_CTX_use_certificate_chain_file(m->ctx, cert_path) != 1 ||
                              SSL_CTX_use_PrivateKey_file(m->ctx, key_path, SSL_FILETYPE_PEM) != 1))
        goto fail;
    m->ssl = SSL_new(m->ctx);
    if (m->ssl == NULL)
        goto fail;
    SSL_set_tlsext_host_name(m->ssl, "localhost");
    SSL_set1_host(m->ssl, "localhost");
    SSL_set_fd(m->ssl, m->fd);
    if (SSL_connect(m->ssl) != 1)
        goto fail;
    return 0;
fail:
    th_mqtt_close(m);
    return -1;
}

void th_mqtt_close(struct th_mqtt *m)
{
    if (m->ssl) {
        SSL_shutdown(m->ssl);
        SSL_free(m->ssl);
    }
    if (m->ctx)
        SSL_CTX_free(m->ctx);
    if (m->fd >= 0)
        close(m->fd);
    free(m->buf);
    memset(m, 0, sizeof *m);
    m->fd = -1;
}

int th_mqtt_send_raw(struct th_mqtt *m, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        int n = m->ssl ? SSL_write(m->ssl, p, len > 1 << 30 ? 1 << 30 : (int)len)
                       : (int)send(m->fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int th_mqtt_send(struct th_mqtt *m, const struct iotc_mqtt_packet *pkt)
{
    size_t size = 0;
    if (iotc_mqtt_encoded_size(pkt, &size) != IOTC_OK)
        return -1;
    unsigned char *buf = malloc(size);
    size_t len = 0;
    int rc = -1;
    if (buf != NULL && iotc_mqtt_encode(pkt, buf, size, &len) == IOTC_OK)
        rc = th_mqtt_send_raw(m, buf, len);
    free(buf);
    return rc;
}

/* Read more bytes within the deadline: 1 read, 0 timeout, -2 closed. */
static int fill(struct th_mqtt *m, int64_t deadline)
{
    if (m->len == m->cap)
        return -2;
    if (m->ssl == NULL || SSL_pending(m->ssl) == 0) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {m->fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r == 0)
            return 0;
        if (r < 0)
            return -2;
    }
    if (m->ssl == NULL) {
        ssize_t r = recv(m->fd, m->buf + m->len, m->cap - m->len, 0);
        if (r <= 0)
            return -2;
        m->len += (size_t)r;
        return 1;
    }
    int n = SSL_read(m->ssl, m->buf + m->len, (int)(m->cap - m->len));
    if (n <= 0) {
        int err = SSL_get_error(m->ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            return 1;
        return -2;
    }
    m->len += (size_t)n;
    return 1;
}

int th_mqtt_read(struct th_mqtt *m, struct iotc_mqtt_packet *out, int timeout_ms)
{
    if (m->fd < 0)
        return -2;
    if (m->consumed > 0) {
        memmove(m->buf, m->buf + m->consumed, m->len - m->consumed);
        m->len -= m->consumed;
        m->consumed = 0;
    }
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        size_t used = 0;
        int rc = iotc_mqtt_decode((struct iotc_span){(const char *)m->buf, m->len},
                                  IOTC_MQTT_MAX_PACKET, out, &used);
        if (rc == IOTC_OK) {
            m->consumed = used;
            return 0;
        }
        if (rc != IOTC_E_AGAIN)
            return -3;
        int f = fill(m, deadline);
        if (f == 0)
            return -1;
        if (f < 0)
            return -2;
    }
}

int th_mqtt_expect(struct th_mqtt *m, enum iotc_mqtt_type type, struct iotc_mqtt_packet *out,
                   int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - mono_ms();
        int rc = th_mqtt_read(m, out, left > 0 ? (int)left : 0);
        if (rc != 0)
            return rc;
        if (out->type == type)
            return 0;
    }
}

bool th_mqtt_wait_closed(struct th_mqtt *m, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    struct iotc_mqtt_packet pkt;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return false;
        int rc = th_mqtt_read(m, &pkt, (int)left);
        if (rc == -2)
            return true;
        if (rc == -1)
            return false;
        if (rc == -3)
            return false;
    }
}

int th_mqtt_connect(struct th_mqtt *m, const char *client_id, const char *username,
                    const char *password, uint16_t keepalive, bool clean)
{
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_CONNECT};
    p.connect.protocol_level = 4;
    p.connect.clean_session = clean;
    p.connect.keep_alive = keepalive;
    p.connect.client_id = iotc_span_from_cstr(client_id ? client_id : "");
    if (username) {
        p.connect.has_username = true;
        p.connect.username = iotc_span_from_cstr(username);
    }
    if (password) {
        p.connect.has_password = true;
        p.connect.password = iotc_span_from_cstr(password);
    }
    if (th_mqtt_send(m, &p) != 0)
        return -2;
    struct iotc_mqtt_packet r;
    int rc = th_mqtt_read(m, &r, 5000);
    if (rc != 0)
        return rc == -1 ? -1 : -2;
    if (r.type != IOTC_MQTT_CONNACK)
        return -3;
    return r.connack.return_code;
}

static uint16_t next_pid(struct th_mqtt *m)
{
    if (++m->next_pid == 0)
        m->next_pid = 1;
    return m->next_pid;
}

int th_mqtt_subscribe(struct th_mqtt *m, const char *filter, uint8_t qos)
{
    struct iotc_mqtt_subscription sub = {iotc_span_from_cstr(filter), qos};
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_SUBSCRIBE};
    p.subscribe.packet_id = next_pid(m);
    p.subscribe.count = 1;
    p.subscribe.list = &sub;
    if (th_mqtt_send(m, &p) != 0)
        return -2;
    struct iotc_mqtt_packet r;
    int rc = th_mqtt_expect(m, IOTC_MQTT_SUBACK, &r, 5000);
    if (rc != 0)
        return rc;
    if (r.suback.packet_id != p.subscribe.packet_id || r.suback.count != 1)
        return -3;
    return r.suback.codes[0];
}

int th_mqtt_publish(struct th_mqtt *m, const char *topic, const void *payload, size_t len,
                    uint8_t qos)
{
    struct iotc_mqtt_packet p = {.type = IOTC_MQTT_PUBLISH};
    p.publish.qos = qos;
    p.publish.packet_id = qos ? next_pid(m) : 0;
    p.publish.topic = iotc_span_from_cstr(topic);
    p.publish.payload = (struct iotc_span){payload, len};
    if (th_mqtt_send(m, &p) != 0)
        return -2;
    return p.publish.packet_id;
}

int th_hub_connect(struct th_mqtt *m, const struct th_central *c, const char *device_id,
                   const char *key_b64)
{
    char user[512], token[512];
    snprintf(user, sizeof user, "%s/%s/?api-version=2021-04-12", c->hub_host, device_id);
    if (th_hub_token(c, device_id, key_b64, th_now() + 3600, token, sizeof token) != 0)
        return -10;
    if (th_mqtt_open(m, c->mqtt_port, c->ca_path) != 0)
        return -11;
    return th_mqtt_connect(m, device_id, user, token, 60, true);
}
