/*
 * conn.c - one MQTT client connection on a libevent bufferevent (TLS through
 * bufferevent_openssl, or plain TCP). Packets are framed and decoded with the core codec
 * straight from the input evbuffer; only a packet that spans chain segments is pulled up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "sim/sim.h"

/* Largest packet the sim accepts from a server: a 256 KB telemetry forward plus headers. */
#define SIM_MAX_PACKET (300u * 1024u)

static void on_read(struct bufferevent *bev, void *arg)
{
    struct sim_device *d = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint32_t gen = d->conn.gen;

    for (;;) {
        size_t avail = evbuffer_get_length(in), total = 0, used = 0;
        unsigned char hdr[5];
        size_t h = avail < sizeof hdr ? avail : sizeof hdr;
        enum iotc_mqtt_type type;
        struct iotc_mqtt_packet pkt;
        int rc;

        if (avail < 2)
            return;
        evbuffer_copyout(in, hdr, h);
        rc = iotc_mqtt_frame((struct iotc_span){(const char *)hdr, h}, SIM_MAX_PACKET, &type,
                             &total);
        if (rc == IOTC_E_AGAIN)
            return;
        if (rc != IOTC_OK) {
            dev_fail(d, SIM_ERR_PROTOCOL, "bad fixed header from server");
            return;
        }
        if (avail < total)
            return;
        const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)total);
        if (p == NULL) {
            dev_fail(d, SIM_ERR_PROTOCOL, "out of memory");
            return;
        }
        rc = iotc_mqtt_decode((struct iotc_span){(const char *)p, total}, SIM_MAX_PACKET, &pkt,
                              &used);
        if (rc != IOTC_OK) {
            dev_fail(d, SIM_ERR_PROTOCOL, "malformed packet from server");
            return;
        }
        dev_on_packet(d, &pkt);
        /* The handler may have closed (and even reopened) the connection. */
        if (d->conn.gen != gen || d->conn.bev != bev)
            return;
        evbuffer_drain(in, used);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct sim_device *d = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        d->conn.up = true;
        dev_on_up(d);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)) {
        enum sim_err why = SIM_ERR_CLOSED;
        if (!d->conn.up) {
            unsigned long e = d->conn.tls ? bufferevent_get_openssl_error(bev) : 0;
            why = e != 0 ? SIM_ERR_TLS : SIM_ERR_TCP;
            if (e != 0 && !d->sim->cfg.quiet && d->sim->st.errors[SIM_ERR_TLS] == 0) {
                char buf[256];
                ERR_error_string_n(e, buf, sizeof buf);
                fprintf(stderr, "iotc-sim: %s: TLS: %s\n", d->id, buf);
            }
        }
        dev_on_closed(d, why);
    }
}

SSL_CTX *conn_ssl_ctx(const char *ca_file, bool verify)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Thousands of idle connections: let OpenSSL drop its read/write buffers when idle. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (verify) {
        if (ca_file != NULL) {
            if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
                SSL_CTX_free(ctx);
                return NULL;
            }
        } else {
            SSL_CTX_set_default_verify_paths(ctx);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

/* --source-addrs N: one TCP source address has only the ephemeral port range (about 28,000
 * ports) per server address and port, so device k binds to 127.0.0.(2 + k mod N) first; the
 * port is still chosen at connect() (IP_BIND_ADDRESS_NO_PORT). Loopback IPv4 targets only. */
static int bind_source(int fd, const struct sockaddr *sa, int n_addrs, int index)
{
    if (n_addrs <= 1 || sa->sa_family != AF_INET ||
        (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) != 127)
        return 0;
    int one = 1;
#ifdef IP_BIND_ADDRESS_NO_PORT
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(2 + index % n_addrs));
    return bind(fd, (const struct sockaddr *)&src, sizeof src);
}

static int make_socket(const struct sim_device *d, const struct sockaddr *sa)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    /* MQTT is request/response: Nagle would hold PUBACKs and method answers back. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind_source(fd, sa, d->sim->cfg.source_addrs, d->index) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int conn_open(struct sim_device *d, const struct sockaddr *sa, socklen_t salen, const char *sni)
{
    struct sim *s = d->sim;
    struct bufferevent *bev;
    int fd;

    conn_close(d);
    fd = make_socket(d, sa);
    if (fd < 0)
        return -1;
    d->conn.tls = s->ssl != NULL;
    if (d->conn.tls) {
        SSL *ssl = SSL_new(s->ssl);
        if (ssl == NULL) {
            close(fd);
            return -1;
        }
        if (sni != NULL && sni[0] != '\0') {
            unsigned char ip[16];
            bool is_ip = inet_pton(AF_INET, sni, ip) == 1 || inet_pton(AF_INET6, sni, ip) == 1;
            if (!is_ip)
                SSL_set_tlsext_host_name(ssl, sni);
            if (SSL_CTX_get_verify_mode(s->ssl) != SSL_VERIFY_NONE) {
                if (is_ip)
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sni);
                else
                    SSL_set1_host(ssl, sni);
            }
        }
        bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE);
        if (bev != NULL)
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        else
            SSL_free(ssl);
    } else {
        bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (bev == NULL) {
        close(fd);
        return -1;
    }
    d->conn.bev = bev;
    d->conn.up = false;
    d->conn.gen++;
    bufferevent_setcb(bev, on_read, NULL, on_event, d);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(bev, sa, (int)salen) != 0) {
        conn_close(d);
        return -1;
    }
    return 0;
}

void conn_close(struct sim_device *d)
{
    if (d->conn.bev == NULL)
        return;
    if (d->conn.tls) {
        SSL *ssl = bufferevent_openssl_get_ssl(d->conn.bev);
        /* No close_notify round trip: a simulated device just drops the socket. */
        if (ssl != NULL)
            SSL_set_quiet_shutdown(ssl, 1);
    }
    bufferevent_free(d->conn.bev);
    d->conn.bev = NULL;
    d->conn.up = false;
    d->conn.gen++;
}

static void on_flushed(struct bufferevent *bev, void *arg)
{
    (void)arg;
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    /* The socket BIO writes close_notify straight to the fd: a clean TLS close. */
    if (ssl != NULL)
        SSL_shutdown(ssl);
    bufferevent_free(bev);
}

static void on_flush_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    (void)what;
    bufferevent_free(bev);
}

void conn_disconnect(struct sim_device *d)
{
    static const unsigned char disconnect[2] = {0xE0, 0x00};
    struct bufferevent *bev = d->conn.bev;
    if (bev == NULL)
        return;
    if (!d->conn.up) {
        conn_close(d);
        return;
    }
    /* Hand the connection over to a flush-then-free callback: the device moves on at once
     * while its DISCONNECT still reaches the server (as an SDK's disconnect() does). */
    d->conn.bev = NULL;
    d->conn.up = false;
    d->conn.gen++;
    bufferevent_setcb(bev, NULL, on_flushed, on_flush_event, NULL);
    bufferevent_disable(bev, EV_READ);
    if (bufferevent_write(bev, disconnect, sizeof disconnect) != 0)
        bufferevent_free(bev);
}

int conn_send(struct sim_device *d, const struct iotc_mqtt_packet *pkt)
{
    unsigned char small[1024];
    size_t need = 0, len = 0;
    unsigned char *buf = small;
    int rc;

    if (d->conn.bev == NULL)
        return -1;
    if (iotc_mqtt_encoded_size(pkt, &need) != IOTC_OK)
        return -1;
    if (need > sizeof small) {
        buf = malloc(need);
        if (buf == NULL)
            return -1;
    }
    rc = iotc_mqtt_encode(pkt, buf, need, &len);
    if (rc == IOTC_OK)
        rc = bufferevent_write(d->conn.bev, buf, len) == 0 ? 0 : -1;
    else
        rc = -1;
    if (buf != small)
        free(buf);
    return rc;
}

int conn_publish(struct sim_device *d, const char *topic, size_t topic_len, const void *payload,
                 size_t len, int qos, uint16_t pid)
{
    struct iotc_mqtt_publish pub = {
        .qos = (uint8_t)qos,
        .packet_id = qos > 0 ? pid : 0,
        .topic = {topic, topic_len},
        .payload = {payload, len},
    };
    unsigned char hdr[IOTC_MQTT_PUBLISH_HEADER_MAX(512)];
    size_t hlen = 0;
    struct evbuffer *out;

    if (d->conn.bev == NULL || topic_len > 512)
        return -1;
    if (iotc_mqtt_encode_publish_header(&pub, hdr, sizeof hdr, &hlen) != IOTC_OK)
        return -1;
    /* Both pieces land in the same evbuffer chain, so TLS sends them as one record. */
    out = bufferevent_get_output(d->conn.bev);
    if (evbuffer_expand(out, hlen + len) != 0 || evbuffer_add(out, hdr, hlen) != 0 ||
        evbuffer_add(out, payload, len) != 0)
        return -1;
    return 0;
}

int conn_connect(struct sim_device *d, const char *client_id, const char *username,
                 const char *password, bool clean, int keepalive)
{
    struct iotc_mqtt_packet pkt = {.type = IOTC_MQTT_CONNECT};
    pkt.connect.clean_session = clean;
    pkt.connect.keep_alive = (uint16_t)keepalive;
    pkt.connect.client_id = iotc_span_from_cstr(client_id);
    if (username != NULL) {
        pkt.connect.has_username = true;
        pkt.connect.username = iotc_span_from_cstr(username);
        if (password != NULL) {
            pkt.connect.has_password = true;
            pkt.connect.password = iotc_span_from_cstr(password);
        }
    }
    return conn_send(d, &pkt);
}
