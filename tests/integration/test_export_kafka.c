/*
 * test_export_kafka.c - data export to Kafka (docs/EXPORT.md) through librdkafka's mock cluster
 * (no real broker runs here): MQTT devices -> iotc-central -> a kafka@v1 destination -> the mock
 * cluster this test runs -> a librdkafka consumer in this test. Every message arrives with the
 * device id as key, each device's messages in one partition and in order; brokers down for a
 * while, then up: everything arrives; a fatal producer error: the producer is made again and
 * everything arrives; kill -9 of iotc-central and a restart: every acknowledged
 * message arrives at least once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "capi_device_util.h"

#define XV "api-version=2022-10-31-preview"
#define TOPIC "iotc-telemetry"
#define NPART 4

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mc;
static rd_kafka_t *consumer;

/* What the consumer read: per message the device (key), its n and the partition. */
struct got {
    char dev[64];
    int n;
    int partition;
};
static struct got *gots;
static size_t n_gots, cap_gots;

static long dx(const char *method, const char *path, const char *body)
{
    char target[600];
    snprintf(target, sizeof target, "%s?" XV, path);
    capi_resp_free(&R);
    int rc =
        capi_http(srv.ca_path, srv.https_port, srv.admin_token, method, target, body, 20000, &R);
    return rc == 0 ? R.status : -1;
}

static void consumer_free(void)
{
    if (consumer != NULL) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    consumer = NULL;
}

/*
 * A new consumer reading every partition from its beginning, made for each wait_all(): what it
 * reads is the topic as the brokers store it now. No consumer group: a group member sometimes
 * had no assignment for over a minute after every broker (so its coordinator) was down, and a
 * consumer assigned its partitions that lived through the outage sometimes stopped fetching
 * part way; either made test_deliver_outage_kill9 miss messages the export had delivered (its
 * status said delivered 150, lag 0). This test checks the producer side, so its consumer is
 * made after the outage. (librdkafka's assign() wants a group.id; nothing joins the group.)
 */
static void consumer_new(void)
{
    char errstr[256];
    consumer_free();
    n_gots = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), errstr,
                          sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", "iotc-test", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        fail_msg("consumer config: %s", errstr);
    consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (consumer == NULL)
        fail_msg("consumer: %s", errstr);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(NPART);
    for (int i = 0; i < NPART; i++)
        rd_kafka_topic_partition_list_add(parts, TOPIC, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("consumer assign: %s", rd_kafka_err2str(err));
}

static void consume(int ms)
{
    for (int waited = 0; waited < ms; waited += 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->key_len > 0 && m->key_len < 64) {
            cJSON *o = cJSON_ParseWithLength(m->payload, m->len);
            const cJSON *n = capi_jget(o, "telemetry.n");
            const char *dev = capi_jstr(o, "deviceId");
            if (dev == NULL || strlen(dev) != m->key_len || memcmp(dev, m->key, m->key_len) != 0)
                fail_msg("message key is not the device id");
            assert_string_equal(capi_jstr(o, "messageSource"), "telemetry");
            assert_string_equal(capi_jstr(o, "schema"), "default@v1");
            if (n_gots == cap_gots) {
                cap_gots = cap_gots ? cap_gots * 2 : 512;
                gots = realloc(gots, cap_gots * sizeof *gots);
            }
            struct got *g = &gots[n_gots++];
            snprintf(g->dev, sizeof g->dev, "%s", dev);
            g->n = cJSON_IsNumber(n) ? n->valueint : -1;
            g->partition = (int)m->partition;
            cJSON_Delete(o);
        }
        rd_kafka_message_destroy(m);
    }
}

/* Read the topic from its beginning (a new consumer) until every n in [0, count) of @p dev is
 * there (bounded); check order and partition.
 * @return the number of distinct values. */
static int wait_all(const char *dev, int count, int timeout_s)
{
    int distinct = 0;
    consumer_new();
    for (int t = 0; t <= timeout_s * 2; t++) {
        char *seen = calloc((size_t)count, 1);
        int last = -1, part = -1;
        distinct = 0;
        for (size_t i = 0; i < n_gots; i++) {
            const struct got *g = &gots[i];
            if (strcmp(g->dev, dev) != 0)
                continue;
            if (g->n < 0 || g->n >= count)
                fail_msg("%s: unexpected n %d", dev, g->n);
            if (part >= 0 && g->partition != part)
                fail_msg("%s: messages in partitions %d and %d", dev, part, g->partition);
            part = g->partition;
            if (!seen[g->n]) {
                seen[g->n] = 1;
                distinct++;
                if (g->n < last)
                    fail_msg("%s: %d arrived after %d", dev, g->n, last);
                last = g->n;
            }
        }
        free(seen);
        if (distinct == count)
            break;
        consume(500);
    }
    return distinct;
}

/* A shortfall explained: the export's status (lag, delivered, errors: did iotc-central send it?),
 * the consumer's positions (did the test read it?) and the end of the server's log, which is
 * kept (IOTC_KEEP_TEST_DIRS) so a flaky failure can be read afterwards. */
static void explain(const char *dev, int got, int want)
{
    fprintf(stderr, "%s: %d of %d messages arrived\n", dev, got, want);
    if (dx("GET", "/api/dataExport/exports/k", NULL) == 200) {
        char *text = cJSON_PrintUnformatted(R.json);
        fprintf(stderr, "export k: %s\n", text != NULL ? text : "?");
        free(text);
    }
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_position(consumer, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < parts->cnt; i++)
            fprintf(stderr, "consumer: partition %d at offset %lld\n",
                    (int)parts->elems[i].partition, (long long)parts->elems[i].offset);
    }
    if (parts != NULL)
        rd_kafka_topic_partition_list_destroy(parts);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "tail -n 80 '%s' >&2", srv.log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no server log)\n");
    setenv("IOTC_KEEP_TEST_DIRS", "1", 1);
}

/* wait_all() that must see all @p count, explaining a shortfall. */
static void expect_all(const char *dev, int count, int timeout_s)
{
    int got = wait_all(dev, count, timeout_s);
    if (got != count) {
        explain(dev, got, count);
        fail_msg("%s: %d of %d messages arrived within %d s", dev, got, count, timeout_s);
    }
}

static void pub_many(struct th_mqtt *m, const char *dev, int from, int to)
{
    char topic[160], payload[64];
    snprintf(topic, sizeof topic, "devices/%s/messages/events/%%24.ct=application%%2Fjson", dev);
    for (int i = from; i < to; i++) {
        int n = snprintf(payload, sizeof payload, "{\"n\":%d}", i);
        assert_true(th_mqtt_publish(m, topic, payload, (size_t)n, 1) > 0);
    }
    struct iotc_mqtt_packet p;
    for (int i = from; i < to; i++)
        assert_int_equal(th_mqtt_expect(m, IOTC_MQTT_PUBACK, &p, 10000), 0);
}

static void make_device(const char *id, char *key, size_t size)
{
    char path[200];
    snprintf(path, sizeof path, "/api/devices/%s", id);
    assert_int_equal(admin("PUT", path, "{\"displayName\":\"x\",\"template\":\"" TID "\"}"), 200);
    snprintf(path, sizeof path, "/api/devices/%s/credentials", id);
    assert_int_equal(admin("GET", path, NULL), 200);
    snprintf(key, size, "%s", capi_jstr(R.json, "symmetricKey.primaryKey"));
}

static void test_checks(void **state)
{
    (void)state;
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"topic\":\"t\","
         "\"authorization\":{\"type\":\"none\"}}",
         "bootstrapServers:"},
        {"{\"displayName\":\"k\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"h:1\","
         "\"topic\":\"t\"}",
         "authorization:"},
        {"{\"displayName\":\"k\",\"type\":\"eventhubs@v1\",\"authorization\":{\"type\":"
         "\"connectionString\",\"connectionString\":\"Endpoint=sb://ns.example.net/;"
         "SharedAccessKeyName=a;SharedAccessKey=b\"}}",
         "authorization.connectionString: no EntityPath"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dx("PUT", "/api/dataExport/destinations/bad", bad[i].body), 400);
        const char *msg = capi_jstr(R.json, "error.message");
        if (msg == NULL || strncmp(msg, bad[i].field, strlen(bad[i].field)) != 0)
            fail_msg("%s: '%s' does not name %s", bad[i].body, msg ? msg : "", bad[i].field);
    }
    /* an Event Hubs destination is accepted (nothing connects until an export uses it) and its
     * secret is not answered back */
    assert_int_equal(dx("PUT", "/api/dataExport/destinations/eh",
                        "{\"displayName\":\"eh\",\"type\":\"eventhubs@v1\",\"authorization\":{"
                        "\"type\":\"connectionString\",\"connectionString\":\"Endpoint=sb://"
                        "ns.example.net/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=h\"}}"),
                     200);
    assert_string_equal(capi_jstr(R.json, "authorization.connectionString"), "*****");
    assert_int_equal(dx("DELETE", "/api/dataExport/destinations/eh", NULL), 204);
}

static void test_deliver_outage_kill9(void **state)
{
    (void)state;
    enum { N = 100 };
    char body[600], key2[128], key3[128];
    snprintf(body, sizeof body,
             "{\"displayName\":\"mock\",\"type\":\"kafka@v1\",\"bootstrapServers\":\"%s\","
             "\"topic\":\"" TOPIC "\",\"authorization\":{\"type\":\"none\"}}",
             rd_kafka_mock_cluster_bootstraps(mc));
    assert_int_equal(dx("PUT", "/api/dataExport/destinations/kafka", body), 200);
    assert_int_equal(dx("PUT", "/api/dataExport/exports/k",
                        "{\"displayName\":\"k\",\"source\":\"telemetry\","
                        "\"destinations\":[{\"id\":\"kafka\"}]}"),
                     200);
    make_device("kf-2", key2, sizeof key2);
    make_device("kf-3", key3, sizeof key3);
    struct th_mqtt m2, m3;
    assert_int_equal(th_hub_connect(&m2, &srv, "kf-2", key2), 0);
    assert_int_equal(th_hub_connect(&m3, &srv, "kf-3", key3), 0);

    /* 1. delivery */
    pub_many(&m2, "kf-2", 0, N / 2);
    pub_many(&m3, "kf-3", 0, N / 2);
    expect_all("kf-2", N / 2, 30);
    expect_all("kf-3", N / 2, 30);
    assert_int_equal(dx("GET", "/api/dataExport/exports/k", NULL), 200);
    assert_string_equal(capi_jstr(R.json, "status"), "healthy");

    /* 2. every broker down for a while: lag, then everything drains */
    for (int b = 1; b <= 3; b++)
        assert_int_equal(rd_kafka_mock_broker_set_down(mc, b), 0);
    pub_many(&m2, "kf-2", N / 2, N);
    usleep(1500 * 1000);
    assert_int_equal(dx("GET", "/api/dataExport/exports/k", NULL), 200);
    assert_true(jnum(R.json, "stats.lagMessages") > 0);
    for (int b = 1; b <= 3; b++)
        assert_int_equal(rd_kafka_mock_broker_set_up(mc, b), 0);
    expect_all("kf-2", N, 60);

    /* 2b. a fatal producer error (the broker answers a first Produce with
     * OUT_OF_ORDER_SEQUENCE_NUMBER: sequence desynchronisation, which an idempotent producer
     * cannot recover from): the export shows the error, makes a new
     * producer and resends from its cursor; nothing of kf-2 is missing afterwards */
    rd_kafka_mock_push_request_errors(mc, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    pub_many(&m2, "kf-2", N, N + N / 2);
    expect_all("kf-2", N + N / 2, 60);
    bool shown = false;
    for (int i = 0; i < 100 && !shown; i++) { /* among the last errors (bounded wait) */
        assert_int_equal(dx("GET", "/api/dataExport/exports/k", NULL), 200);
        for (int j = 0; j < 5 && !shown; j++) {
            char path[32];
            snprintf(path, sizeof path, "errors.%d.message", j);
            const char *msg = capi_jstr(R.json, path);
            shown = msg != NULL && strstr(msg, "fatal producer error") != NULL;
        }
        if (!shown)
            usleep(100 * 1000);
    }
    if (!shown)
        fail_msg("the fatal producer error is not in the export's errors");
    assert_true(th_central_log_contains(&srv, "kafka fatal error (producer 1)", 1000));

    /* 3. kill -9 right after the acknowledgements, restart: at least once */
    pub_many(&m3, "kf-3", N / 2, N);
    int status;
    assert_int_equal(kill(srv.pid, SIGKILL), 0);
    assert_int_equal(waitpid(srv.pid, &status, 0), srv.pid);
    srv.pid = 0;
    th_mqtt_close(&m2);
    th_mqtt_close(&m3);
    assert_int_equal(th_central_restart(&srv, NULL), 0);
    expect_all("kf-3", N, 60);
}

static int setup_all(void **state)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (mock_rk == NULL)
        return -1;
    mc = rd_kafka_mock_cluster_new(mock_rk, 3);
    if (mc == NULL || rd_kafka_mock_topic_create(mc, TOPIC, NPART, 3) != 0)
        return -1;
    return setup(state);
}

static int teardown_all(void **state)
{
    int rc = teardown(state);
    consumer_free();
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mock_rk);
    free(gots);
    return rc;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_deliver_outage_kill9),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
