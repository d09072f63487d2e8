/*
 * export_kafka.c - the Kafka destinations (eventhubs@v1 through the namespace's Kafka endpoint,
 * and iotc's kafka@v1) on librdkafka: an idempotent producer (acks=all, no reordering or
 * duplicates from its own retries), message key = device id so a device's messages stay in one
 * partition, and delivery reports (served on the loop thread) complete each send. librdkafka
 * runs its own threads; it wakes the loop through a pipe (rd_kafka_queue_io_event_enable) when
 * reports are ready, and a slow timer polls as a fallback.
 *
 * A producer that hits a fatal error (idempotence state it cannot recover, e.g. after messages
 * timed out in flight) refuses every later message. It is then closed and a new one is made from
 * the same definition: whatever was in flight completes as "retry" with the fatal reason (so the
 * pipe resends it from its window, and the export's status shows the error meanwhile).
 */
#include "central/export/export_dest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "central/base/log.h"

#define EXPORT_KAFKA_INFLIGHT 1000
#define EXPORT_KAFKA_POLL_MS 200

struct kreq {
    export_sent_fn cb;
    void *ctx;
    struct kreq *prev, *next;
};

struct kafka {
    struct export_dest base;
    struct app *app;
    struct export_kafka_conf kc;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char topic[256];
    int pipefd[2];
    struct event *wake, *poll;
    size_t inflight;
    struct kreq *reqs;
    bool dying;          /* delivery reports are ignored (being freed) */
    bool fatal;          /* the producer is unusable: recreate it at the next serve() */
    char fatal_why[200]; /* its reason, for the retried sends */
    unsigned generation; /* producers made so far (1 = the first) */
};

static int producer_open(struct kafka *k);
static void producer_close(struct kafka *k, const char *why);

static void unlink_req(struct kafka *k, struct kreq *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        k->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct kafka *k = opaque;
    struct kreq *r = m->_private;
    if (r == NULL || k->dying) /* the owner frees what is left in k->reqs */
        return;
    unlink_req(k, r);
    k->inflight--;
    {
        enum export_outcome out = EXPORT_OUT_OK;
        char why[300];
        if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
            m->err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
            m->err == RD_KAFKA_RESP_ERR_INVALID_MSG ||
            m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
            out = EXPORT_OUT_PERMANENT;
        else if (m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
            out = EXPORT_OUT_RETRY_NOW; /* librdkafka retried it for message.timeout.ms */
        else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            out = EXPORT_OUT_RETRY;
        if (k->fatal && out != EXPORT_OUT_OK)
            out = EXPORT_OUT_RETRY; /* purged with a broken producer: a new one sends it */
        snprintf(why, sizeof why, "kafka: %s%s%s", rd_kafka_err2str(m->err),
                 k->fatal ? "; fatal producer error, producer recreated: " : "",
                 k->fatal ? k->fatal_why : "");
        r->cb(r->ctx, out, out == EXPORT_OUT_OK ? NULL : why);
    }
    free(r);
}

/* Remember a fatal error; serve() recreates the producer after the poll that reported it. */
static void mark_fatal(struct kafka *k)
{
    char why[160];
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(k->rk, why, sizeof why);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || k->fatal)
        return;
    k->fatal = true;
    snprintf(k->fatal_why, sizeof k->fatal_why, "%s: %s", rd_kafka_err2name(err), why);
    log_error("export: kafka fatal error (producer %u): %s", k->generation, k->fatal_why);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kafka *k = opaque;
    if (rd_kafka_fatal_error(rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
        mark_fatal(k);
    else
        log_warn("export: kafka: %s: %s", rd_kafka_err2name(err), reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        log_warn("export: kafka %s: %s", fac, buf);
    else
        log_debug("export: kafka %s: %s", fac, buf);
}

static void serve(struct kafka *k)
{
    if (k->rk != NULL)
        rd_kafka_poll(k->rk, 0);
    if (!k->fatal && k->rk != NULL)
        return;
    /* a fatal error, or no producer since the last attempt failed: start over */
    if (k->rk != NULL)
        producer_close(k, k->fatal_why);
    if (producer_open(k) != CE_OK)
        log_error("export: kafka: cannot make a new producer (retrying)");
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    serve(arg);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    serve(arg);
}

static size_t k_room(struct export_dest *d)
{
    struct kafka *k = (struct kafka *)d;
    if (k->rk == NULL || k->fatal)
        return 0;
    return k->inflight < EXPORT_KAFKA_INFLIGHT ? EXPORT_KAFKA_INFLIGHT - k->inflight : 0;
}

static int k_send(struct export_dest *d, const char *key, const char *body, size_t len,
                  export_sent_fn cb, void *ctx)
{
    struct kafka *k = (struct kafka *)d;
    struct kreq *r = calloc(1, sizeof *r);
    if (r == NULL)
        return CE_NOMEM;
    r->cb = cb;
    r->ctx = ctx;
    /* rd_kafka_produce rather than producev: the latter's type checks are GNU extensions.
     * The default partitioner maps equal keys to one partition. */
    if (k->rkt == NULL) {
        free(r);
        return CE_BUSY;
    }
    if (rd_kafka_produce(k->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         (void *)(uintptr_t)body, len, key, strlen(key), r) != 0) {
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        free(r);
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            mark_fatal(k);
            event_active(k->poll, EV_TIMEOUT, 0); /* recreate it soon, not from inside send */
            return CE_BUSY;
        }
        return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? CE_BUSY : CE_IO;
    }
    r->next = k->reqs;
    if (k->reqs != NULL)
        k->reqs->prev = r;
    k->reqs = r;
    k->inflight++;
    return CE_OK;
}

static void k_free(struct export_dest *d)
{
    struct kafka *k = (struct kafka *)d;
    if (k == NULL)
        return;
    k->dying = true;
    producer_close(k, NULL);
    if (k->wake != NULL)
        event_free(k->wake);
    if (k->poll != NULL)
        event_free(k->poll);
    for (int i = 0; i < 2; i++) {
        if (k->pipefd[i] >= 0)
            close(k->pipefd[i]);
    }
    free(k);
}

static const struct export_dest_ops kafka_ops = {
    .room = k_room,
    .send = k_send,
    .free = k_free,
};

static int set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        log_error("export: kafka config %s: %s", name, errstr);
        return CE_INVALID;
    }
    return CE_OK;
}

/*
 * Close the producer: what is queued or in flight is purged; with @p why (a fatal error) each of
 * those sends completes as "retry" with that reason, without it (freeing) nothing calls back.
 */
static void producer_close(struct kafka *k, const char *why)
{
    if (k->rk != NULL) {
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->rk, 0); /* delivery reports of the purged messages, when ready */
    }
    /* whatever was not reported yet is given back now; librdkafka's late reports are ignored */
    for (struct kreq *r = k->reqs, *next; r != NULL; r = next) {
        next = r->next;
        if (!k->dying && why != NULL) {
            char msg[300];
            snprintf(msg, sizeof msg, "kafka: fatal producer error, producer recreated: %s", why);
            r->cb(r->ctx, EXPORT_OUT_RETRY, msg);
        }
        free(r);
    }
    k->reqs = NULL;
    k->inflight = 0;
    bool was_dying = k->dying;
    k->dying = true;
    if (k->rkt != NULL)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk != NULL)
        rd_kafka_destroy(k->rk);
    k->rkt = NULL;
    k->rk = NULL;
    k->dying = was_dying;
    k->fatal = false;
}

/* A new producer (and topic handle) from k->kc, its reports waking the loop through k->pipefd. */
static int producer_open(struct kafka *k)
{
    const struct export_kafka_conf *kc = &k->kc;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *proto =
        kc->tls ? (kc->sasl ? "sasl_ssl" : "ssl") : (kc->sasl ? "sasl_plaintext" : "plaintext");
    int rc = conf != NULL ? CE_OK : CE_NOMEM;
    if (rc == CE_OK)
        rc = set(conf, "bootstrap.servers", kc->bootstrap);
    if (rc == CE_OK)
        rc = set(conf, "enable.idempotence", "true"); /* acks=all, in order, no duplicates */
    if (rc == CE_OK)
        rc = set(conf, "acks", "all");
    if (rc == CE_OK)
        rc = set(conf, "message.timeout.ms", "30000"); /* then the pipe retries it */
    if (rc == CE_OK)
        rc = set(conf, "linger.ms", "5");
    if (rc == CE_OK)
        rc = set(conf, "client.id", "iotc-central");
    if (rc == CE_OK)
        rc = set(conf, "security.protocol", proto);
    if (rc == CE_OK && kc->sasl)
        rc = set(conf, "sasl.mechanisms", "PLAIN");
    if (rc == CE_OK && kc->sasl)
        rc = set(conf, "sasl.username", kc->user);
    if (rc == CE_OK && kc->sasl)
        rc = set(conf, "sasl.password", kc->password);
    /* librdkafka's own debug contexts (e.g. "msg,eos,broker,protocol") for a diagnosis, shown
     * at --log-level debug; never set by default (docs/EXPORT.md) */
    const char *dbg = getenv("IOTC_KAFKA_DEBUG");
    if (rc == CE_OK && dbg != NULL && dbg[0] != '\0')
        rc = set(conf, "debug", dbg);
    if (rc != CE_OK) {
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (k->rk == NULL) {
        log_error("export: kafka producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return CE_INVALID;
    }
    k->generation++;
    k->rkt = rd_kafka_topic_new(k->rk, k->topic, NULL);
    if (k->rkt == NULL) {
        log_error("export: kafka topic %s: %s", k->topic, rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_destroy(k->rk);
        k->rk = NULL;
        return CE_INVALID;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(k->rk);
    rd_kafka_queue_io_event_enable(q, k->pipefd[1], "1", 1);
    rd_kafka_queue_destroy(q);
    return CE_OK;
}

int export_kafka_new(struct app *app, const cJSON *def, struct export_dest **out)
{
    char errstr[512];
    *out = NULL;
    struct kafka *k = calloc(1, sizeof *k);
    if (k == NULL)
        return CE_NOMEM;
    if (export_kafka_conf_of(def, &k->kc, errstr, sizeof errstr) < 0) {
        free(k);
        return CE_INVALID;
    }
    k->base.ops = &kafka_ops;
    k->app = app;
    k->pipefd[0] = k->pipefd[1] = -1;
    snprintf(k->topic, sizeof k->topic, "%s", k->kc.topic);
    if (pipe(k->pipefd) != 0 || fcntl(k->pipefd[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(k->pipefd[1], F_SETFL, O_NONBLOCK) != 0) {
        k_free(&k->base);
        return CE_IO;
    }
    int rc = producer_open(k);
    if (rc != CE_OK) {
        k_free(&k->base);
        return rc;
    }
    k->wake = event_new(app->base, k->pipefd[0], EV_READ | EV_PERSIST, on_wake, k);
    k->poll = event_new(app->base, -1, EV_PERSIST, on_poll, k);
    struct timeval tv = {.tv_sec = 0, .tv_usec = EXPORT_KAFKA_POLL_MS * 1000};
    if (k->wake == NULL || k->poll == NULL || event_add(k->wake, NULL) != 0 ||
        event_add(k->poll, &tv) != 0) {
        k_free(&k->base);
        return CE_NOMEM;
    }
    *out = &k->base;
    return CE_OK;
}
