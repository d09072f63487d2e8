/*
 * client.c - lifecycle of struct iotc_client, its event loop (own or the caller's), timers,
 * reconnection with backoff, and the libmosquitto glue. Provisioning is in dps.c, the hub
 * session in hub.c.
 */
#include "device/client_int.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <openssl/ssl.h>

#include <iotc/codec.h>
#include <iotc/dps.h>
#include <iotc/sas.h>

#include "device/alloc.h"
#include "device/assignment.h"
#include "device/backoff.h"
#include "device/config.h"

#define DEFAULT_KEEPALIVE_S 60u
#define DEFAULT_BACKOFF_BASE_MS 1000u
#define DEFAULT_BACKOFF_MAX_MS 60000u
#define DEFAULT_OP_TIMEOUT_MS 30000u
#define DEFAULT_MQTT_PORT 8883u
#define MAX_POLL_MS 1000
#define SYSTEM_CA_DIR "/etc/ssl/certs" /* Debian/Ubuntu: the system trust store, hashed */

static pthread_once_t mosq_once = PTHREAD_ONCE_INIT;

static void mosq_global_init(void)
{
    mosquitto_lib_init();
}

/* libmosquitto 2.0 sets up its process-wide TLS state (an OpenSSL UI method and an ex-data
 * index) at the first TLS connect of the process, without a lock: clients connecting for the
 * first time on two threads at once both make it and one copy leaks (LeakSanitizer saw it with
 * several devices starting in one process). So connects are made under a lock until one has
 * succeeded (TLS set up, first flight sent); after that they run freely. */
static pthread_mutex_t first_connect_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool tls_state_ready;

static int mosq_connect(struct mosquitto *m, const char *host, int port, int keepalive)
{
    if (atomic_load_explicit(&tls_state_ready, memory_order_acquire))
        return mosquitto_connect(m, host, port, keepalive);
    pthread_mutex_lock(&first_connect_mu);
    int rc = mosquitto_connect(m, host, port, keepalive);
    if (rc == MOSQ_ERR_SUCCESS)
        atomic_store_explicit(&tls_state_ready, true, memory_order_release);
    pthread_mutex_unlock(&first_connect_mu);
    return rc;
}

uint64_t iotc__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* xorshift32: only used to spread retries, not for anything secret. */
uint32_t iotc__random(struct iotc_client *c)
{
    uint32_t x = c->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c->rng = x;
    return x;
}

void iotc__log(struct iotc_client *c, enum iotc_log_level level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (c->log_fn == NULL || level > c->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    c->log_fn(c->log_user, level, buf);
}

const char *iotc_state_str(enum iotc_state s)
{
    switch (s) {
    case IOTC_STATE_IDLE:
        return "idle";
    case IOTC_STATE_PROVISIONING:
        return "provisioning";
    case IOTC_STATE_CONNECTING:
        return "connecting";
    case IOTC_STATE_CONNECTED:
        return "connected";
    case IOTC_STATE_WAITING:
        return "waiting";
    case IOTC_STATE_STOPPED:
        return "stopped";
    }
    return "unknown";
}

const char *iotc_reason_str(enum iotc_reason r)
{
    switch (r) {
    case IOTC_REASON_NONE:
        return "none";
    case IOTC_REASON_START:
        return "start";
    case IOTC_REASON_PROVISIONED:
        return "provisioned";
    case IOTC_REASON_CONNECTED:
        return "connected";
    case IOTC_REASON_NETWORK:
        return "network error or connection lost";
    case IOTC_REASON_TIMEOUT:
        return "timeout";
    case IOTC_REASON_AUTH:
        return "credentials refused";
    case IOTC_REASON_REFUSED:
        return "refused";
    case IOTC_REASON_TOKEN_RENEWAL:
        return "token renewal";
    case IOTC_REASON_REPROVISION:
        return "re-provisioning";
    case IOTC_REASON_STOP:
        return "stopped by the application";
    case IOTC_REASON_CONFIG:
        return "unusable configuration";
    }
    return "unknown";
}

void iotc__set_state(struct iotc_client *c, enum iotc_state s, enum iotc_reason r)
{
    enum iotc_state old = c->state;

    c->state = s;
    iotc__log(c, IOTC_LOG_INFO, "state %s -> %s (%s)", iotc_state_str(old), iotc_state_str(s),
              iotc_reason_str(r));
    if (c->state_fn != NULL)
        c->state_fn(c->state_user, s, r);
}

void iotc__request_teardown(struct iotc_client *c, enum iotc_reason r, bool retry_now)
{
    if (c->teardown)
        return;
    c->teardown = true;
    c->teardown_reason = r;
    c->teardown_retry_now = retry_now;
}

void iotc__wake(struct iotc_client *c)
{
    uint64_t one = 1;

    /* Outside process() nothing else would send what the call just wrote. */
    if (!c->in_process && iotc__net_flush(c) != 0)
        iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
    if (c->loop_thread_set && pthread_equal(c->loop_thread, pthread_self()))
        return;
    /* A full eventfd counter (EAGAIN) already means "wake up": nothing to do. */
    ssize_t n = write(c->wake_fd, &one, sizeof(one));
    (void)n;
    atomic_store(&c->wake_pending, 1);
}

int iotc__topic_reserve(struct iotc_client *c, size_t n)
{
    if (n <= c->topic_cap)
        return IOTC_OK;
    char *p = iotc__malloc(n);
    if (p == NULL)
        return IOTC_E_NOMEM;
    free(c->topic_buf);
    c->topic_buf = p;
    c->topic_cap = n;
    return IOTC_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* libmosquitto glue                                                                         */
/* ---------------------------------------------------------------------------------------- */

/*
 * Write coalescing. Every PUBLISH libmosquitto hands to OpenSSL becomes one TLS record and,
 * with the socket as OpenSSL's output, one write(2): a window of acknowledgements arriving
 * together would be answered by as many writes (and as many loopback or radio wake-ups).
 * Once the session is up, a buffering BIO sits between OpenSSL and the socket: records
 * collect in it and net_flush() sends them with one write at the end of each
 * iotc_client_process() and of each API call made outside it.
 */
#define NET_BUFFER_BYTES 16384

static SSL *net_ssl(struct iotc_client *c)
{
    return c->mosq != NULL ? mosquitto_ssl_get(c->mosq) : NULL;
}

/* Without the buffering BIO (not installed yet, or it could not be) the output is the socket
 * BIO, which never holds bytes back: BIO_wpending() is 0 and nothing needs flushing. */
static void net_buffer_install(struct iotc_client *c)
{
    SSL *ssl = net_ssl(c);
    BIO *sock = ssl != NULL ? SSL_get_wbio(ssl) : NULL;
    if (sock == NULL || BIO_method_type(sock) == BIO_TYPE_BUFFER)
        return;
    BIO *buf = BIO_new(BIO_f_buffer());
    if (buf == NULL || BIO_set_write_buffer_size(buf, NET_BUFFER_BYTES) != 1 || !BIO_up_ref(sock)) {
        BIO_free(buf); /* fine without: every record is then written as it is made */
        return;
    }
    BIO_push(buf, sock);
    SSL_set0_wbio(ssl, buf); /* drops the SSL's reference to sock; the chain holds ours */
}

int iotc__net_flush(struct iotc_client *c)
{
    SSL *ssl = net_ssl(c);
    BIO *b = ssl != NULL ? SSL_get_wbio(ssl) : NULL;
    if (b == NULL || BIO_wpending(b) == 0)
        return 0;
    if (BIO_flush(b) > 0 || BIO_should_retry(b))
        return 0; /* sent, or the rest goes when the socket is writable (want_write) */
    return -1;
}

static bool net_want_write(struct iotc_client *c)
{
    SSL *ssl = net_ssl(c);
    return ssl != NULL && BIO_wpending(SSL_get_wbio(ssl)) > 0;
}

/* Records OpenSSL has already decrypted are invisible to poll(). */
static bool net_read_pending(struct iotc_client *c)
{
    SSL *ssl = net_ssl(c);
    return ssl != NULL && SSL_pending(ssl) > 0;
}

/*
 * The callbacks keep errno as they found it: mosquitto_loop_read() stops reading as soon as
 * errno is EAGAIN after a packet, and what a callback does (a publish whose wake-up byte finds
 * libmosquitto's socketpair full) must not end a read of many PUBACKs after the first.
 */
/* Debug only: the moment the TLS handshake is seen finished (the CONNECT follows it). */
static void log_tls_done(struct iotc_client *c)
{
    SSL *ssl;

    if (c->tls_logged || c->log_fn == NULL || c->log_level < IOTC_LOG_DEBUG)
        return;
    ssl = net_ssl(c);
    if (ssl == NULL || !SSL_is_init_finished(ssl))
        return;
    c->tls_logged = true;
    iotc__log(c, IOTC_LOG_DEBUG, "TLS handshake done (%s, %s%s)", SSL_get_version(ssl),
              SSL_get_cipher_name(ssl), SSL_session_reused(ssl) ? ", resumed" : "");
}

static void on_connect(struct iotc_client *c, int rc)
{
    log_tls_done(c);
    iotc__log(c, IOTC_LOG_DEBUG, "CONNACK %d", rc);
    if (rc == 0)
        net_buffer_install(c);
    if (c->phase == PH_DPS)
        iotc__dps_on_connect(c, rc);
    else if (c->phase == PH_HUB)
        iotc__hub_on_connect(c, rc);
}

static void on_message(struct iotc_client *c, const struct mosquitto_message *msg)
{
    if (c->teardown)
        return;
    if (c->phase == PH_DPS)
        iotc__dps_on_message(c, msg);
    else if (c->phase == PH_HUB)
        iotc__hub_on_message(c, msg);
}

static void on_publish(struct iotc_client *c, int mid)
{
    if (c->phase == PH_HUB)
        iotc__hub_on_publish(c, mid);
}

/* NAME: the libmosquitto callback that runs FN(client, arg) and then puts errno back. */
#define ERRNO_KEEPING_CB(NAME, FN, ARG_TYPE)                       \
    static void NAME(struct mosquitto *m, void *obj, ARG_TYPE arg) \
    {                                                              \
        int saved = errno;                                         \
        (void)m;                                                   \
        FN(obj, arg);                                              \
        errno = saved;                                             \
    }

ERRNO_KEEPING_CB(on_connect_cb, on_connect, int)
ERRNO_KEEPING_CB(on_message_cb, on_message, const struct mosquitto_message *)
ERRNO_KEEPING_CB(on_publish_cb, on_publish, int)

static void on_disconnect_cb(struct mosquitto *m, void *obj, int rc)
{
    struct iotc_client *c = obj;
    (void)m;
    iotc__log(c, IOTC_LOG_DEBUG, "mosquitto disconnect: %s", mosquitto_strerror(rc));
    iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
}

static void on_log_cb(struct mosquitto *m, void *obj, int level, const char *str)
{
    struct iotc_client *c = obj;
    (void)m;
    /* libmosquitto's errors are mostly TLS failures (e.g. certificate verify failed): the one
     * clue a user needs when the CA file is wrong, so they are not hidden at debug level. */
    if (level & MOSQ_LOG_ERR)
        iotc__log(c, IOTC_LOG_WARN, "mosquitto: %s", str);
    else if (level & MOSQ_LOG_WARNING)
        iotc__log(c, IOTC_LOG_INFO, "mosquitto: %s", str);
}

/* OpenSSL's pass phrase callback, through libmosquitto, which hands it the mosquitto handle
 * (whose user data is the client). */
static int key_pass_cb(char *buf, int size, int rwflag, void *userdata)
{
    const struct iotc_client *c = userdata ? mosquitto_userdata(userdata) : NULL;
    (void)rwflag;
    if (c == NULL || c->key_pass == NULL || size <= 0)
        return 0;
    size_t n = strlen(c->key_pass);
    if (n >= (size_t)size)
        return 0;
    memcpy(buf, c->key_pass, n + 1);
    return (int)n;
}

int iotc__mosq_open(struct iotc_client *c, const char *client_id, bool clean_session,
                    const char *username, const char *password, const char *host, uint16_t port)
{
    int rc;

    c->mosq = mosquitto_new(client_id, clean_session, c);
    if (c->mosq == NULL)
        return errno == ENOMEM ? IOTC_E_NOMEM : IOTC_E_ARG;
    c->mosq_connected = false;
    mosquitto_connect_callback_set(c->mosq, on_connect_cb);
    mosquitto_disconnect_callback_set(c->mosq, on_disconnect_cb);
    mosquitto_message_callback_set(c->mosq, on_message_cb);
    mosquitto_publish_callback_set(c->mosq, on_publish_cb);
    mosquitto_log_callback_set(c->mosq, on_log_cb);
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, (int)TELEMETRY_WINDOW + 4);

    rc = mosquitto_username_pw_set(c->mosq, username, password);
    if (rc == MOSQ_ERR_SUCCESS && c->cert_file != NULL) {
        /* X.509: libmosquitto wants a CA file or directory beside a client certificate; the
         * system's directory stands for the system trust store. */
        rc = mosquitto_tls_set(c->mosq, c->ca_file, c->ca_file ? NULL : SYSTEM_CA_DIR, c->cert_file,
                               c->key_file, key_pass_cb);
    } else if (rc == MOSQ_ERR_SUCCESS) {
        if (c->ca_file != NULL)
            rc = mosquitto_tls_set(c->mosq, c->ca_file, NULL, NULL, NULL, NULL);
        else
            rc = mosquitto_int_option(c->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        iotc__log(c, IOTC_LOG_ERROR, "TLS/credential setup failed: %s", mosquitto_strerror(rc));
        return rc == MOSQ_ERR_NOMEM ? IOTC_E_NOMEM : IOTC_E_ARG;
    }
    iotc__log(c, IOTC_LOG_DEBUG, "connecting to %s:%u as %s", host, (unsigned)port, client_id);
    c->tls_logged = false;
    rc = mosq_connect(c->mosq, host, port, (int)c->keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        iotc__log(c, IOTC_LOG_WARN, "connect to %s:%u failed: %s", host, (unsigned)port,
                  rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        return IOTC_E_IO;
    }
    /* mosquitto_connect() resolved the name, connected, set up TLS and sent its first flight. */
    iotc__log(c, IOTC_LOG_DEBUG, "TCP connected, TLS handshake started");
    return IOTC_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Connection state machine                                                                  */
/* ---------------------------------------------------------------------------------------- */

static void close_mosq(struct iotc_client *c, bool graceful)
{
    if (c->mosq == NULL)
        return;
    /* Our own close must not be reported back to us as a lost connection. */
    mosquitto_disconnect_callback_set(c->mosq, NULL);
    mosquitto_connect_callback_set(c->mosq, NULL);
    mosquitto_message_callback_set(c->mosq, NULL);
    mosquitto_publish_callback_set(c->mosq, NULL);
    if (graceful && c->mosq_connected) {
        /* Non-threaded libmosquitto writes the DISCONNECT packet right away; best effort. */
        mosquitto_disconnect(c->mosq);
        (void)mosquitto_loop_write(c->mosq, 1);
        (void)iotc__net_flush(c);
    }
    mosquitto_destroy(c->mosq);
    c->mosq = NULL;
    c->mosq_connected = false;
}

static void schedule_retry(struct iotc_client *c, bool now_please)
{
    uint64_t now = iotc__now_ms();
    uint32_t delay = 0;

    if (!now_please) {
        delay = iotc__backoff_delay_ms(c->attempt, c->backoff_base_ms, c->backoff_max_ms,
                                       iotc__random(c));
        c->attempt++;
    }
    c->next_attempt_ms = now + delay;
    if (delay > 0)
        iotc__log(c, IOTC_LOG_INFO, "retrying in %u ms (attempt %u)", (unsigned)delay,
                  (unsigned)c->attempt);
}

/* Perform a teardown recorded by a callback or a timer. */
static void do_teardown(struct iotc_client *c)
{
    enum iotc_reason r = c->teardown_reason;
    bool graceful =
        r == IOTC_REASON_TOKEN_RENEWAL || r == IOTC_REASON_STOP || r == IOTC_REASON_PROVISIONED;
    bool was_hub = c->phase == PH_HUB && c->mosq_connected;

    c->teardown = false;
    close_mosq(c, graceful);
    c->deadline_ms = 0;
    c->renew_ms = 0;
    if (was_hub) {
        c->stats.disconnects++;
        iotc__hub_on_close(c);
    }
    if (c->phase == PH_DPS)
        iotc__dps_reset(c);
    /* A cached assignment (assignment.h) whose first attempt failed may be stale (the device
     * moved, the hub is gone): DPS knows better, as it does when the hub refuses us. */
    bool stale = c->assignment_cached && c->phase == PH_HUB && r != IOTC_REASON_STOP &&
                 r != IOTC_REASON_CONFIG && r != IOTC_REASON_PROVISIONED;
    if ((r == IOTC_REASON_REPROVISION || stale) && c->use_dps) {
        if (stale)
            iotc__log(c, IOTC_LOG_INFO, "the cached hub assignment failed: provisioning");
        free(c->hub_host);
        c->hub_host = NULL;
        c->assignment_cached = false;
    }
    if (r == IOTC_REASON_STOP || r == IOTC_REASON_CONFIG) {
        c->phase = PH_STOPPED;
        c->config_error = r == IOTC_REASON_CONFIG;
        iotc__set_state(c, IOTC_STATE_STOPPED, r);
        return;
    }
    c->phase = PH_WAIT;
    schedule_retry(c, c->teardown_retry_now);
    if (r != IOTC_REASON_PROVISIONED)
        iotc__set_state(c, IOTC_STATE_WAITING, r);
}

/* Start the next connection attempt (DPS when the hub is not known yet). */
static void begin_attempt(struct iotc_client *c)
{
    int rc;

    if (c->use_dps && c->hub_host == NULL) {
        c->phase = PH_DPS;
        iotc__set_state(c, IOTC_STATE_PROVISIONING, IOTC_REASON_START);
        rc = iotc__dps_begin(c);
    } else {
        c->phase = PH_HUB;
        iotc__set_state(c, IOTC_STATE_CONNECTING, IOTC_REASON_START);
        rc = iotc__hub_begin(c);
    }
    if (rc == IOTC_E_ARG)
        iotc__request_teardown(c, IOTC_REASON_CONFIG, false);
    else if (rc < 0)
        iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
    else
        c->deadline_ms = iotc__now_ms() + c->op_timeout_ms;
}

static void run_timers(struct iotc_client *c)
{
    uint64_t now = iotc__now_ms();

    if (c->phase == PH_WAIT && now >= c->next_attempt_ms) {
        begin_attempt(c);
        return;
    }
    if (c->deadline_ms != 0 && now >= c->deadline_ms && !c->teardown) {
        iotc__log(c, IOTC_LOG_WARN, "no answer from the service in %u ms",
                  (unsigned)c->op_timeout_ms);
        iotc__request_teardown(c, IOTC_REASON_TIMEOUT, false);
        return;
    }
    if (c->phase == PH_DPS)
        iotc__dps_timers(c, now);
    else if (c->phase == PH_HUB)
        iotc__hub_timers(c, now);
}

/* Writers set wake_pending after their write(2), so a readable wake fd is always drained by
 * a process() that sees the flag, and a turn woken by the socket costs no read of it. */
static void drain_wake_fd(struct iotc_client *c)
{
    uint64_t v;
    if (!atomic_exchange(&c->wake_pending, 0))
        return;
    ssize_t n = read(c->wake_fd, &v, sizeof(v));
    (void)n;
}

int iotc_client_process(struct iotc_client *c, bool readable, bool writable)
{
    int rc = IOTC_OK;

    pthread_mutex_lock(&c->lock);
    if (c->in_process) {
        pthread_mutex_unlock(&c->lock);
        return IOTC_E_STATE;
    }
    c->in_process = true;
    c->loop_thread = pthread_self();
    c->loop_thread_set = true;
    if (readable)
        drain_wake_fd(c);

    if (c->stop_requested && c->phase != PH_STOPPED) {
        c->teardown = false;
        iotc__request_teardown(c, IOTC_REASON_STOP, false);
    }
    if (c->mosq != NULL && !c->teardown) {
        int mrc = MOSQ_ERR_SUCCESS;
        /* libmosquitto reads at most as many packets as it has messages in flight per call;
         * what it leaves decrypted in OpenSSL is read here rather than after another poll. */
        for (int i = 0; i < 8 && mrc == MOSQ_ERR_SUCCESS && c->mosq != NULL && !c->teardown &&
                        ((i == 0 && readable) || net_read_pending(c));
             i++) {
            errno = 0;
            mrc = mosquitto_loop_read(c->mosq, 100);
        }
        if (mrc == MOSQ_ERR_SUCCESS && c->mosq != NULL && !c->teardown &&
            (writable || mosquitto_want_write(c->mosq)))
            mrc = mosquitto_loop_write(c->mosq, 100);
        if (c->mosq != NULL)
            log_tls_done(c);
        if (mrc == MOSQ_ERR_SUCCESS && c->mosq != NULL && !c->teardown)
            mrc = mosquitto_loop_misc(c->mosq);
        if (mrc == MOSQ_ERR_SUCCESS && c->mosq != NULL && !c->teardown)
            run_timers(c);
        if (mrc == MOSQ_ERR_SUCCESS && c->mosq != NULL && iotc__net_flush(c) != 0) {
            mrc = MOSQ_ERR_ERRNO;
            if (errno == 0)
                errno = EPIPE;
        }
        if (mrc != MOSQ_ERR_SUCCESS) {
            iotc__log(c, IOTC_LOG_INFO, "connection lost: %s",
                      mrc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(mrc));
            iotc__request_teardown(c, IOTC_REASON_NETWORK, false);
        }
    } else if (!c->teardown && c->phase != PH_STOPPED && c->phase != PH_IDLE)
        run_timers(c);
    /* A teardown may schedule an immediate retry (renewal, provisioned): run it now. */
    for (int i = 0; i < 2 && c->teardown; i++) {
        do_teardown(c);
        if (c->phase == PH_WAIT && iotc__now_ms() >= c->next_attempt_ms)
            begin_attempt(c);
    }
    if (c->phase == PH_STOPPED)
        rc = c->config_error ? IOTC_E_ARG : IOTC_E_STATE;
    c->in_process = false;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int iotc_client_poll_info(struct iotc_client *c, struct iotc_poll_info *out)
{
    uint64_t now, next = UINT64_MAX;

    pthread_mutex_lock(&c->lock);
    now = iotc__now_ms();
    out->wake_fd = c->wake_fd;
    out->fd = c->mosq != NULL ? mosquitto_socket(c->mosq) : -1;
    out->want_read = out->fd >= 0;
    out->want_write = out->fd >= 0 && (mosquitto_want_write(c->mosq) || net_want_write(c));
    if (c->phase == PH_WAIT)
        next = c->next_attempt_ms;
    if (c->deadline_ms != 0 && c->deadline_ms < next)
        next = c->deadline_ms;
    if (c->renew_ms != 0 && c->renew_ms < next)
        next = c->renew_ms;
    if (c->resend_ms != 0 && c->resend_ms < next)
        next = c->resend_ms;
    if (c->phase == PH_DPS && c->dps_step == DPS_WAIT_POLL && c->dps_poll_ms < next)
        next = c->dps_poll_ms;
    if (c->teardown || c->stop_requested)
        next = now;
    if (net_read_pending(c))
        next = now;
    out->timeout_ms =
        next <= now ? 0 : (next - now > MAX_POLL_MS ? MAX_POLL_MS : (int)(next - now));
    pthread_mutex_unlock(&c->lock);
    return IOTC_OK;
}

int iotc_client_start(struct iotc_client *c)
{
    int rc = IOTC_OK;

    pthread_mutex_lock(&c->lock);
    if (c->phase == PH_STOPPED || c->stop_requested) {
        rc = IOTC_E_STATE;
    } else if (c->phase == PH_IDLE) {
        c->phase = PH_WAIT;
        c->next_attempt_ms = iotc__now_ms();
        iotc__wake(c);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void iotc_client_stop(struct iotc_client *c)
{
    uint64_t one = 1;

    /* Async-signal-safe: a flag and a write(2); the loop does the rest. */
    c->stop_requested = 1;
    ssize_t n = write(c->wake_fd, &one, sizeof(one));
    (void)n;
    atomic_store(&c->wake_pending, 1);
}

int iotc_client_run(struct iotc_client *c)
{
    struct iotc_poll_info pi;
    struct pollfd fds[2];
    int rc;

    pthread_mutex_lock(&c->lock);
    if (c->running || c->in_process) {
        pthread_mutex_unlock(&c->lock);
        return IOTC_E_STATE;
    }
    c->running = true;
    pthread_mutex_unlock(&c->lock);

    rc = iotc_client_start(c);
    if (rc == IOTC_E_STATE)
        rc = IOTC_OK; /* stopped before running: nothing to do */
    while (rc == IOTC_OK) {
        iotc_client_poll_info(c, &pi);
        nfds_t n = 0;
        fds[n++] = (struct pollfd){.fd = pi.wake_fd, .events = POLLIN};
        if (pi.fd >= 0)
            fds[n++] = (struct pollfd){.fd = pi.fd,
                                       .events = (short)(POLLIN | (pi.want_write ? POLLOUT : 0))};
        int prc = poll(fds, n, pi.timeout_ms);
        if (prc < 0 && errno != EINTR) {
            rc = IOTC_E_IO;
            break;
        }
        bool readable = prc > 0 && ((fds[0].revents & POLLIN) ||
                                    (n > 1 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))));
        bool writable = prc > 0 && n > 1 && (fds[1].revents & POLLOUT);
        rc = iotc_client_process(c, readable, writable);
    }
    if (rc == IOTC_E_STATE)
        rc = IOTC_OK;
    pthread_mutex_lock(&c->lock);
    c->running = false;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Creation                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static int dup_span(struct iotc_span s, char **out)
{
    *out = iotc__strndup(s.ptr, s.len);
    return *out != NULL ? IOTC_OK : IOTC_E_NOMEM;
}

static int copy_endpoint(const char *text, char **host, uint16_t *port, bool *explicit_port)
{
    struct iotc_span h;
    uint16_t p;
    bool has;
    int rc = iotc__endpoint_parse(iotc_span_from_cstr(text), &h, &p, &has);

    if (rc != IOTC_OK)
        return rc;
    *port = has ? p : DEFAULT_MQTT_PORT;
    if (explicit_port)
        *explicit_port = has;
    return dup_span(h, host);
}

static bool key_is_valid(const char *key)
{
    unsigned char buf[IOTC_SAS_MAX_KEY_LEN];
    size_t n = 0;
    struct iotc_span k = iotc_span_from_cstr(key);

    if (k.len == 0 || iotc_base64_decode(k, buf, sizeof(buf), &n) != IOTC_OK || n == 0)
        return false;
    return true;
}

static int setup_identity(struct iotc_client *c, const struct iotc_config *cfg)
{
    int rc;

    if (cfg->connection_string != NULL) {
        struct iotc__conn_str cs;
        uint16_t port;
        rc = iotc__conn_str_parse(iotc_span_from_cstr(cfg->connection_string), &cs);
        if (rc != IOTC_OK || cs.key_name.ptr != NULL || cs.module_id.ptr != NULL)
            return IOTC_E_ARG;
        char *hosttext = iotc__strndup(cs.host_name.ptr, cs.host_name.len);
        if (hosttext == NULL)
            return IOTC_E_NOMEM;
        rc = copy_endpoint(hosttext, &c->hub_host, &port, NULL);
        free(hosttext);
        if (rc != IOTC_OK)
            return rc;
        c->hub_port = port;
        rc = dup_span(cs.device_id, &c->device_id);
        if (rc == IOTC_OK)
            rc = dup_span(cs.shared_access_key, &c->device_key);
        return rc;
    }
    if (cfg->id_scope != NULL) {
        if (cfg->registration_id == NULL || cfg->id_scope[0] == '\0' ||
            cfg->registration_id[0] == '\0')
            return IOTC_E_ARG;
        c->use_dps = true;
        c->id_scope = iotc__strdup(cfg->id_scope);
        c->registration_id = iotc__strdup(cfg->registration_id);
        if (c->id_scope == NULL || c->registration_id == NULL)
            return IOTC_E_NOMEM;
        rc = copy_endpoint(cfg->dps_endpoint ? cfg->dps_endpoint : IOTC_DPS_GLOBAL_HOST,
                           &c->dps_host, &c->dps_port, &c->dps_port_explicit);
        if (rc != IOTC_OK)
            return rc;
        if (cfg->cert_file != NULL && cfg->device_key == NULL)
            return IOTC_OK; /* X.509 */
        if (cfg->device_key == NULL && cfg->group_key != NULL) {
            char key[64];
            size_t n;
            rc = iotc_sas_derive_device_key(iotc_span_from_cstr(cfg->group_key),
                                            iotc_span_from_cstr(cfg->registration_id), key,
                                            sizeof(key), &n);
            if (rc != IOTC_OK)
                return IOTC_E_ARG;
            c->device_key = iotc__strndup(key, n);
            return c->device_key ? IOTC_OK : IOTC_E_NOMEM;
        }
        if (cfg->device_key == NULL)
            return IOTC_E_ARG;
        c->device_key = iotc__strdup(cfg->device_key);
        return c->device_key ? IOTC_OK : IOTC_E_NOMEM;
    }
    if (cfg->hub_host != NULL && cfg->device_id != NULL && cfg->device_key == NULL &&
        cfg->cert_file != NULL) {
        rc = copy_endpoint(cfg->hub_host, &c->hub_host, &c->hub_port, NULL);
        if (rc != IOTC_OK)
            return rc;
        c->device_id = iotc__strdup(cfg->device_id);
        return c->device_id ? IOTC_OK : IOTC_E_NOMEM;
    }
    if (cfg->hub_host != NULL && cfg->device_id != NULL && cfg->device_key != NULL) {
        rc = copy_endpoint(cfg->hub_host, &c->hub_host, &c->hub_port, NULL);
        if (rc != IOTC_OK)
            return rc;
        c->device_id = iotc__strdup(cfg->device_id);
        c->device_key = iotc__strdup(cfg->device_key);
        return (c->device_id && c->device_key) ? IOTC_OK : IOTC_E_NOMEM;
    }
    return IOTC_E_ARG;
}

int iotc_client_new(const struct iotc_config *cfg, struct iotc_client **out)
{
    struct iotc_client *c;
    pthread_mutexattr_t attr;
    int rc;

    if (cfg == NULL || out == NULL)
        return IOTC_E_ARG;
    *out = NULL;
    pthread_once(&mosq_once, mosq_global_init);
    c = iotc__calloc(1, sizeof(*c));
    if (c == NULL)
        return IOTC_E_NOMEM;
    c->wake_fd = -1;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&c->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    iotc__queue_init(&c->queue, cfg->queue_max_msgs, cfg->queue_max_bytes);
    c->log_level = IOTC_LOG_WARN;
    c->sas_lifetime_s = cfg->sas_lifetime_s ? cfg->sas_lifetime_s : IOTC_DEFAULT_SAS_LIFETIME_S;
    c->keepalive_s = cfg->keepalive_s ? cfg->keepalive_s : DEFAULT_KEEPALIVE_S;
    c->backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : DEFAULT_BACKOFF_BASE_MS;
    c->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    c->op_timeout_ms = cfg->op_timeout_ms ? cfg->op_timeout_ms : DEFAULT_OP_TIMEOUT_MS;
    c->hub_port_cfg = cfg->hub_port;
    c->next_rid = 1;

    rc = setup_identity(c, cfg);
    if (rc == IOTC_OK && cfg->cert_file != NULL && c->device_key == NULL) {
        c->cert_file = iotc__strdup(cfg->cert_file);
        c->key_file = iotc__strdup(cfg->key_file ? cfg->key_file : cfg->cert_file);
        c->key_pass = cfg->key_pass ? iotc__strdup(cfg->key_pass) : NULL;
        if (c->cert_file == NULL || c->key_file == NULL || (cfg->key_pass && !c->key_pass))
            rc = IOTC_E_NOMEM;
    } else if (rc == IOTC_OK && !key_is_valid(c->device_key)) {
        rc = IOTC_E_ARG;
    }
    if (rc == IOTC_OK && cfg->model_id != NULL) {
        c->model_id = iotc__strdup(cfg->model_id);
        rc = c->model_id ? IOTC_OK : IOTC_E_NOMEM;
    }
    if (rc == IOTC_OK && cfg->ca_file != NULL) {
        c->ca_file = iotc__strdup(cfg->ca_file);
        rc = c->ca_file ? IOTC_OK : IOTC_E_NOMEM;
    }
    if (rc == IOTC_OK && c->use_dps && cfg->assignment_file != NULL) {
        c->assignment_file = iotc__strdup(cfg->assignment_file);
        if (c->assignment_file == NULL)
            rc = IOTC_E_NOMEM;
        else
            iotc__assignment_load(c);
    }
    if (rc == IOTC_OK) {
        c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (c->wake_fd < 0)
            rc = IOTC_E_IO;
    }
    if (rc == IOTC_OK && getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) != sizeof(c->rng))
        c->rng = (uint32_t)iotc__now_ms() ^ (uint32_t)(uintptr_t)c;
    if (c->rng == 0)
        c->rng = 0x9e3779b9u;
    if (rc != IOTC_OK) {
        iotc_client_free(c);
        return rc;
    }
    *out = c;
    return IOTC_OK;
}

void iotc_client_free(struct iotc_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    close_mosq(c, true);
    iotc__hub_fail_all(c);
    iotc__dps_reset(c);
    iotc__handlers_free(&c->cmd_handlers);
    iotc__handlers_free(&c->prop_handlers);
    while (c->seen) {
        struct iotc__prop_seen *s = c->seen;
        c->seen = s->next;
        free(s);
    }
    free(c->id_scope);
    free(c->registration_id);
    if (c->device_key)
        memset(c->device_key, 0, strlen(c->device_key));
    free(c->device_key);
    free(c->dps_host);
    free(c->hub_host);
    free(c->device_id);
    free(c->assignment_file);
    free(c->model_id);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    if (c->key_pass)
        memset(c->key_pass, 0, strlen(c->key_pass));
    free(c->key_pass);
    free(c->topic_buf);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
