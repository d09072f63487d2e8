/*
 * kafka_mock.c - the Kafka side of the export benchmark (bench/export_bench.sh): librdkafka's
 * mock cluster (three brokers on loopback) with one topic, and a consumer that reads every
 * partition from the start and keeps the number of messages it received in a file, the way the
 * webhook receiver of the benchmark does. No broker runs on the benchmark machine; this is the
 * same mock the Kafka integration test uses.
 *
 *   kafka-mock TOPIC PARTITIONS COUNT_FILE
 *
 * Prints the bootstrap servers on the first line of stdout, then runs until SIGTERM / SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka-mock: %s: %s\n", name, err);
        return -1;
    }
    return 0;
}

static void write_count(const char *path, unsigned long long n)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return;
    fprintf(f, "%llu\n", n);
    if (fclose(f) == 0)
        rename(tmp, path);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kafka-mock TOPIC PARTITIONS COUNT_FILE\n");
        return 2;
    }
    const char *topic = argv[1], *count_path = argv[3];
    char *end = NULL;
    long parts = strtol(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || parts < 1 || parts > 1000) {
        fprintf(stderr, "kafka-mock: PARTITIONS must be 1-1000\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "log_level", "2") != 0)
        return 1;
    rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (host == NULL) {
        fprintf(stderr, "kafka-mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 3);
    if (mc == NULL || rd_kafka_mock_topic_create(mc, topic, (int)parts, 3) != 0) {
        fprintf(stderr, "kafka-mock: cannot start the mock cluster\n");
        return 1;
    }
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);

    conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", bootstrap) != 0 ||
        conf_set(conf, "group.id", "iotc-bench") != 0 || conf_set(conf, "log_level", "2") != 0 ||
        conf_set(conf, "enable.auto.commit", "false") != 0)
        return 1;
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (consumer == NULL) {
        fprintf(stderr, "kafka-mock: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(consumer);
    /* every partition from its first offset, no group coordination to wait for */
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new((int)parts);
    for (int p = 0; p < (int)parts; p++)
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t rc = rd_kafka_assign(consumer, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka-mock: assign: %s\n", rd_kafka_err2str(rc));
        return 1;
    }
    printf("%s\n", bootstrap);
    fflush(stdout);

    unsigned long long n = 0;
    long long last = 0;
    write_count(count_path, 0);
    while (!stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 50);
        if (m != NULL) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                n++;
            rd_kafka_message_destroy(m);
        }
        if (now_ms() - last >= 100) {
            last = now_ms();
            write_count(count_path, n);
        }
    }
    write_count(count_path, n);
    /* no orderly close: it takes librdkafka seconds, and exiting frees everything */
    return 0;
}
