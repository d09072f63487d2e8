/*
 * broker_io.c - a connection's socket, TLS state and buffers, driven by one libevent event.
 *
 * Why not bufferevent_openssl: an idle MQTT connection needs its SSL object and little else,
 * but a bufferevent_openssl keeps 1,048 bytes in 5 allocations per connection whether or not a
 * byte moves (the bufferevent with its two embedded events, an input and an output evbuffer
 * and their callbacks; heaptrack). Here the input buffer exists only while a packet is
 * incomplete (or reading is paused with bytes left), the output buffer only while output waits
 * for the socket, and one event is registered for what the connection waits for. Measured at
 * 10,000 idle TLS connections: 16.0 -> 15.1-15.2 KB of server RSS per connection.
 *
 * Reads decrypt into a stack buffer and complete packets are handled in place (no copy).
 * Writes are appended to the output buffer and written once per event-loop iteration for all
 * connections that have output (one broker-wide event, no epoll change per write); only a
 * socket that is full adds EV_WRITE to the connection's event.
 *
 * Also here: after a burst of handshakes the heap is trimmed (see trim_cb).
 */
#include "central/hub/broker_int.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "central/base/log.h"

#define IO_CHUNK 16384      /* one TLS record's plaintext: a read takes all a record holds */
#define IO_READS_PER_CB 16  /* fairness: at most this many reads per readiness callback */
#define BROKER_TRIM_MIN 256 /* connections since the last trim that make a burst */

enum { IO_EOF = 0, IO_WANT_READ = -1, IO_WANT_WRITE = -2, IO_ERROR = -3 };

static void io_cb(evutil_socket_t fd, short what, void *arg);

/* ---------------------------------------------------------------- memory after bursts */

/* A burst of TLS handshakes (a fleet registering or coming back) leaves holes in the heap:
 * each handshake briefly holds some 40 KB of record and handshake buffers between the
 * long-lived state of the connections around it, and DPS connections go away after their
 * registration. glibc gives only the top of the heap back to the system by itself. Once
 * handshakes and CONNECTs have stopped for a second, malloc_trim() returns the whole free
 * pages inside those holes. Measured: RSS 4 s after 10,000 DPS registrations 145 MB without,
 * 69 MB with; 10,000 idle hub connections lose the occasional fragmentation outlier (+0.3 to
 * +0.7 KB per connection). While a burst lasts this costs a counter check per second. */
static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker *b = arg;
    if (b->burst_recent > 0) { /* still going: look again in a second */
        b->burst_recent = 0;
        struct timeval tv = {1, 0};
        event_add(b->trim_ev, &tv);
        return;
    }
    if (b->burst_total >= BROKER_TRIM_MIN) {
#ifdef __GLIBC__
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int released = malloc_trim(0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        log_debug("memory: heap trimmed after %u connections in %ld us (%s)", b->burst_total,
                  (long)((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000),
                  released ? "pages returned" : "nothing to return");
#endif
    }
    b->burst_total = 0;
}

void broker_note_burst(struct broker *b)
{
    b->burst_total++;
    b->burst_recent++;
    if (b->trim_ev != NULL && !evtimer_pending(b->trim_ev, NULL)) {
        struct timeval tv = {1, 0};
        event_add(b->trim_ev, &tv);
    }
}

/* ---------------------------------------------------------------- socket and TLS */

static int tls_result(struct conn *c, int r, const char *what)
{
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: /* close_notify, or an EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
        return IO_EOF;
    case SSL_ERROR_SYSCALL:
        c->io_reason = errno == 0 ? "connection closed by peer" : "socket error";
        return IO_ERROR;
    default: {
        unsigned long e = ERR_peek_error();
        log_debug("mqtt: TLS error from %s during %s: %s", conn_session(c)->peer, what,
                  e ? ERR_reason_error_string(e) : "?");
        c->io_reason = "TLS error";
        return IO_ERROR;
    }
    }
}

/* SSL_get_error() reads this thread's error queue, so it must be empty before a TLS call. It
 * nearly always is: ERR_clear_error() wipes each of its slots even then, which cost more
 * instructions per message than parsing the PUBLISH; looking first costs little. */
static void clear_errors(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

/* > 0: bytes read; otherwise IO_EOF, IO_WANT_READ, IO_WANT_WRITE or IO_ERROR (c->io_reason). */
static int io_read(struct conn *c, void *buf, size_t n)
{
    if (c->ssl != NULL) {
        clear_errors();
        c->rx_drained = true; /* unless sock_read() gets as much as it asked for */
        int r = SSL_read(c->ssl, buf, (int)n);
        return r > 0 ? r : tls_result(c, r, "read");
    }
    ssize_t r = recv(c->fd, buf, n, 0);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return IO_WANT_READ;
    c->io_reason = "socket error";
    return IO_ERROR;
}

static int io_write(struct conn *c, const void *buf, size_t n)
{
    if (c->ssl != NULL) {
        clear_errors();
        int r = SSL_write(c->ssl, buf, (int)n);
        return r > 0 ? r : tls_result(c, r, "write");
    }
    ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (r > 0)
        return (int)r;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return IO_WANT_WRITE;
    c->io_reason = "socket error";
    return IO_ERROR;
}

/* Register the event for exactly what the connection waits for now. */
void conn_update(struct conn *c)
{
    short want = 0;
    if (c->open) {
        if (c->handshaking) {
            want = c->hs_wants_write ? EV_WRITE : EV_READ;
        } else {
            if ((!conn_session(c)->read_paused && !conn_session(c)->closing) || c->write_wants_read)
                want |= EV_READ;
            if (c->write_blocked || c->read_wants_write)
                want |= EV_WRITE;
        }
    }
    if (want == c->io_events)
        return;
    event_del(c->io);
    c->io_events = want;
    if (want == 0)
        return;
    event_assign(c->io, event_get_base(c->io), c->fd, want | EV_PERSIST, io_cb, c);
    event_add(c->io, NULL);
}

/* ---------------------------------------------------------------- input */

/* Keep @p n unprocessed bytes (a partial packet) for the next read. */
static int keep_input(struct conn *c, const unsigned char *p, size_t n)
{
    if (n == 0) {
        free(c->in);
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        return CE_OK;
    }
    if (p == c->in) { /* the unprocessed tail of c->in itself */
        memmove(c->in, c->in + (c->in_len - n), n);
        c->in_len = n;
        return CE_OK;
    }
    if (c->in_len + n > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 256;
        while (cap < c->in_len + n)
            cap *= 2;
        unsigned char *q = realloc(c->in, cap);
        if (q == NULL)
            return CE_NOMEM;
        c->in = q;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
    return CE_OK;
}

/* Handle what is buffered (after a pause). Not re-entered: a resume from inside a packet
 * handler lets the loop that runs the handler go on. The caller holds a reference. */
void conn_process_buffered(struct conn *c)
{
    if (c->in_len == 0 || !c->open || c->processing)
        return;
    c->processing = true;
    size_t used = session_process(conn_session(c), c->in, c->in_len);
    c->processing = false;
    if (c->open)
        keep_input(c, c->in, c->in_len - used);
}

/* Bytes from the peer: handle the complete packets, keep the rest. */
static void feed(struct conn *c, const unsigned char *p, size_t n)
{
    if (c->in_len == 0) {
        c->processing = true;
        size_t used = session_process(conn_session(c), p, n);
        c->processing = false;
        if (c->open && used < n && keep_input(c, p + used, n - used) != CE_OK)
            session_close(conn_session(c), "out of memory", false);
        return;
    }
    if (keep_input(c, p, n) != CE_OK) {
        session_close(conn_session(c), "out of memory", false);
        return;
    }
    conn_process_buffered(c);
}

/* Whether bytes may be waiting: in the TLS object (records read ahead but not decrypted yet)
 * or in the socket (the last read filled what it asked for). */
static bool more_to_read(const struct conn *c)
{
    return !c->rx_drained || (c->ssl != NULL && SSL_has_pending(c->ssl));
}

/* Make the event loop call io_cb for reading although the socket may not become readable
 * again: records that TLS read ahead are in the SSL object, not in the socket. */
void conn_kick_read(struct conn *c)
{
    if (c->open && c->io != NULL && !c->handshaking && !conn_session(c)->closing &&
        !conn_session(c)->read_paused && c->ssl != NULL && SSL_has_pending(c->ssl))
        event_active(c->io, EV_READ, 1);
}

/* Reads until the bytes at hand are used up. A read that comes back short has drained the
 * socket, so the loop stops there instead of asking again only to get EAGAIN: the event is
 * level-triggered and reports bytes that arrive meanwhile. Each read() is a system call, and
 * a DPS registration made 24 of them before (header and body of each of its 8 TLS records
 * read separately, plus one EAGAIN per readiness); now about 8. */
static void do_read(struct conn *c)
{
    unsigned char buf[IO_CHUNK];
    for (int i = 0; i < IO_READS_PER_CB && c->open && !conn_session(c)->closing &&
                    !conn_session(c)->read_paused;
         i++) {
        if (i > 0 && !more_to_read(c))
            return;
        int r = io_read(c, buf, sizeof buf);
        if (r > 0) {
            if (c->ssl == NULL)
                c->rx_drained = (size_t)r < sizeof buf;
            conn_session(c)->last_rx_ms = broker_now_ms(conn_session(c)->app);
            feed(c, buf, (size_t)r);
            continue;
        }
        if (r == IO_WANT_WRITE) { /* e.g. an alert to send first */
            c->read_wants_write = true;
            conn_update(c);
        } else if (r == IO_EOF) {
            session_close(conn_session(c), "connection closed by peer", false);
        } else if (r == IO_ERROR) {
            session_close(conn_session(c), c->io_reason, false);
        }
        return;
    }
    /* Stopped for fairness with records still inside TLS: the socket will not say so. */
    conn_kick_read(c);
}

/* ---------------------------------------------------------------- output */

static void do_flush(struct conn *c)
{
    while (c->open) {
        /* small[] holds output older than the evbuffer's (see conn_write). */
        const unsigned char *p = c->small_len > 0 ? c->small : NULL;
        size_t len = c->small_len;
        if (p == NULL && (c->out == NULL || (len = evbuffer_get_length(c->out)) == 0))
            break;
        /* After WANT_*, TLS needs the same bytes again (the buffer may move:
         * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER). */
        size_t n = c->out_retry ? c->out_retry : (len < IO_CHUNK ? len : IO_CHUNK);
        if (p == NULL)
            p = evbuffer_pullup(c->out, (ev_ssize_t)n);
        if (p == NULL) {
            session_close(conn_session(c), "out of memory", false);
            return;
        }
        int r = io_write(c, p, n);
        if (conn_session(c)->app->broker != NULL)
            conn_session(c)->app->broker->stats.writes++;
        if (r > 0) {
            if (c->small_len > 0) {
                c->small_len = (uint8_t)(c->small_len - (size_t)r);
                memmove(c->small, c->small + r, c->small_len);
            } else {
                evbuffer_drain(c->out, (size_t)r);
            }
            c->out_retry = 0;
            continue;
        }
        if (r == IO_WANT_WRITE || r == IO_WANT_READ) {
            c->out_retry = c->ssl != NULL ? n : 0;
            c->write_blocked = r == IO_WANT_WRITE;
            c->write_wants_read = r == IO_WANT_READ;
            conn_update(c);
            return;
        }
        if (c->flushing)
            session_finish(conn_session(c)); /* the peer is gone: nothing left to wait for */
        else
            session_close(conn_session(c), r == IO_EOF ? "connection closed by peer" : c->io_reason,
                          false);
        return;
    }
    if (!c->open)
        return;
    if (c->out != NULL) {
        evbuffer_free(c->out);
        c->out = NULL;
    }
    c->write_blocked = c->write_wants_read = false;
    conn_update(c);
    if (c->flushing)
        session_finish(conn_session(c));
}

static void flush_dirty_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker *b = arg;
    /* Take the list: flushing may close sessions, and output added meanwhile re-queues. */
    struct conn *c = b->dirty;
    b->dirty = NULL;
    b->stats.flush_turns++;
    while (c != NULL) {
        struct conn *next = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        if (c->open && !c->handshaking && !c->write_blocked && !c->write_wants_read)
            do_flush(c);
        session_unref(conn_session(c));
        c = next;
    }
}

int conn_write(struct conn *c, const void *data, size_t len)
{
    if (!c->open)
        return CE_OFFLINE;
    if (c->out == NULL && c->small_len + len <= sizeof c->small) {
        if (len > 0)
            memcpy(c->small + c->small_len, data, len);
        c->small_len = (uint8_t)(c->small_len + len);
    } else {
        if (c->out == NULL) {
            c->out = evbuffer_new();
            if (c->out == NULL)
                return CE_NOMEM;
        }
        /* From now on output goes to the evbuffer; small[] is written first (do_flush). */
        if (len > 0 && evbuffer_add(c->out, data, len) != 0)
            return CE_NOMEM;
    }
    struct broker *b = conn_session(c)->app->broker;
    if (!c->dirty && b != NULL && b->flush_ev != NULL) {
        c->dirty = true;
        session_ref(conn_session(c)); /* the dirty list's reference */
        c->dirty_next = b->dirty;
        b->dirty = c;
        event_active(b->flush_ev, EV_TIMEOUT, 0);
    }
    return CE_OK;
}

size_t conn_pending_output(const struct conn *c)
{
    return c->small_len + (c->out != NULL ? evbuffer_get_length(c->out) : 0);
}

/* ---------------------------------------------------------------- events */

static void do_handshake(struct conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->handshaking = false;
        /* From now on an idle connection gives its record buffers back (see conn_open). */
        SSL_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
        conn_update(c);
        if (more_to_read(c))
            do_read(c); /* the CONNECT came with the Finished */
        return;
    }
    r = tls_result(c, r, "handshake");
    if (r == IO_WANT_READ || r == IO_WANT_WRITE) {
        c->hs_wants_write = r == IO_WANT_WRITE;
        conn_update(c);
        return;
    }
    session_close(conn_session(c), r == IO_EOF ? "connection closed by peer" : c->io_reason, false);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct conn *c = arg;
    struct session *s = conn_session(c);
    session_ref(s);
    if (c->handshaking) {
        do_handshake(c);
    } else {
        if ((what & EV_WRITE && c->write_blocked) || (what & EV_READ && c->write_wants_read)) {
            c->write_blocked = c->write_wants_read = false;
            do_flush(c);
        }
        if (c->open && (what & EV_READ || (what & EV_WRITE && c->read_wants_write))) {
            if (c->read_wants_write) {
                c->read_wants_write = false;
                conn_update(c);
            }
            do_read(c);
        }
    }
    session_unref(s);
}

/* ---------------------------------------------------------------- the socket under TLS */

/* TLS reads and writes the socket through this BIO rather than OpenSSL's socket BIO with a
 * callback: the read notes whether it got all it asked for (c->rx_drained, so do_read() knows
 * whether to read again), which a callback on the socket BIO also did, but such a callback runs
 * around every BIO call, and OpenSSL makes about a dozen BIO_ctrl() calls per record it reads or
 * writes (flush, KTLS queries, EOF checks): ~1,000 instructions per message for nothing. The
 * BIO's data is the connection; it never closes the descriptor. */
static int sock_write(BIO *b, const char *buf, int len)
{
    const struct conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = send(c->fd, buf, (size_t)len, MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)r;
}

static int sock_read(BIO *b, char *buf, int len)
{
    struct conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = recv(c->fd, buf, (size_t)len, 0);
    c->rx_drained = r < (ssize_t)len;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    else if (r == 0)
        BIO_set_flags(b, BIO_FLAGS_IN_EOF); /* BIO_eof(): a closed socket, not "try again" */
    return (int)r;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    const struct conn *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: /* nothing is buffered here */
    case BIO_CTRL_DUP:
    case BIO_CTRL_SET_CLOSE:
        return 1;
    case BIO_CTRL_EOF:
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    case BIO_C_GET_FD:
        if (ptr != NULL)
            *(int *)ptr = c->fd;
        return c->fd;
    case BIO_CTRL_GET_CLOSE:
        return BIO_NOCLOSE;
    default: /* pending bytes, KTLS, ...: none */
        return 0;
    }
}

static BIO_METHOD *sock_method(void)
{
    static BIO_METHOD *m; /* made once, on the loop thread; lives as long as the process */
    if (m == NULL) {
        BIO_METHOD *n = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "iotc socket");
        if (n == NULL || BIO_meth_set_write(n, sock_write) != 1 ||
            BIO_meth_set_read(n, sock_read) != 1 || BIO_meth_set_ctrl(n, sock_ctrl) != 1) {
            BIO_meth_free(n);
            return NULL;
        }
        m = n;
    }
    return m;
}

int conn_open(struct conn *c, struct event_base *base)
{
    /* The listener made the socket non-blocking. */
    c->io = event_new(base, c->fd, 0, io_cb, c);
    if (c->io == NULL)
        return CE_NOMEM;
    SSL *ssl = c->ssl;
    if (ssl != NULL) {
        BIO_METHOD *m = sock_method();
        BIO *bio = m != NULL ? BIO_new(m) : NULL;
        if (bio == NULL)
            return CE_NOMEM;
        BIO_set_data(bio, c);
        BIO_set_init(bio, 1);
        SSL_set_bio(ssl, bio, bio); /* the SSL object owns it (one reference for both ends) */
        SSL_set_accept_state(ssl);
        /* Retrying a write after WANT_WRITE passes the same bytes from wherever the output
         * buffer has them now; an EOF without close_notify is a normal close for MQTT. */
        SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
        SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
        /* Read what the socket holds (up to the record buffer), not a record header and then
         * its body: half the read() calls. Records left over stay in the SSL object. */
        SSL_set_read_ahead(ssl, 1);
        /* The handshake reads and writes several records in a few milliseconds; releasing
         * the record buffers after each (the context's SSL_MODE_RELEASE_BUFFERS, for idle
         * connections) would allocate and free them again for every record. */
        SSL_clear_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
        c->handshaking = true;
    }
    c->open = true;
    conn_update(c);
    return CE_OK;
}

void conn_close(struct conn *c)
{
    if (c->io != NULL)
        event_del(c->io);
    c->io_events = 0;
    if (c->ssl != NULL) {
        SSL_free(c->ssl); /* its BIO (sock_method) does not close the descriptor */
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        evutil_closesocket(c->fd);
        c->fd = -1;
    }
    c->open = false;
}

void conn_release(struct conn *c)
{
    conn_close(c);
    if (c->io != NULL) {
        event_free(c->io);
        c->io = NULL;
    }
    if (c->out != NULL) {
        evbuffer_free(c->out);
        c->out = NULL;
    }
    c->small_len = 0;
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
}

int broker_io_init(struct broker *b, struct event_base *base)
{
    b->flush_ev = event_new(base, -1, 0, flush_dirty_cb, b);
    b->trim_ev = evtimer_new(base, trim_cb, b);
    return b->flush_ev != NULL && b->trim_ev != NULL ? CE_OK : CE_NOMEM;
}

void broker_io_free(struct broker *b)
{
    while (b->dirty != NULL) { /* the loop has ended: output that was never written */
        struct conn *c = b->dirty;
        b->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        session_unref(conn_session(c));
    }
    if (b->flush_ev != NULL)
        event_free(b->flush_ev);
    if (b->trim_ev != NULL)
        event_free(b->trim_ev);
    b->flush_ev = b->trim_ev = NULL;
}
