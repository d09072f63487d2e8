/*
 * test_audit_device_plane.c - points of the device-plane issue that the other central tests
 * do not show directly (see docs/DEVICE_PLANE.md):
 *   - a QoS 1 PUBACK waits for the commit, and many messages share one transaction
 *     (the database write lock is held by the test, then the WAL's commit frames are counted);
 *   - SIGINT: stop accepting, flush the store (the PUBACK of a queued message still reaches
 *     the device), close connections, exit 0;
 *   - one log line per connect / disconnect / authentication failure;
 *   - no thread per connection;
 *   - the 256 KB limit at its exact boundary (topic + payload);
 *   - desired patches only to subscribed devices;
 *   - the Node SDK's unencoded model-id in the username, in the registry and the twin;
 *   - init facts: default hub host, port 0 written to ports.json, plain MQTT off unless
 *     asked for, the admin token stored nowhere in the data dir, `show` text output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "../lib/harness.h"
#include "iotc/codec.h"

static struct th_central srv;
static const char KEY[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

static int create_device(const struct th_central *c, const char *id)
{
    return th_put_device(c, id, KEY, KEY, true) == 200 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    static const char *const ids[] = {"aud-gc", "aud-log", "aud-thr", "aud-big",
                                      "aud-ds", "aud-mid", "aud-sig", "aud-sas"};
    if (th_central_start(&srv, NULL) != 0)
        return -1;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (create_device(&srv, ids[i]) != 0)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = th_central_stop(&srv);
    th_central_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ helpers */

static sqlite3 *db_open(const struct th_central *c, int flags)
{
    char path[400];
    snprintf(path, sizeof path, "%s/central.db", c->data_dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int db_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Count the transactions in the valid part of the WAL: one commit frame (non-zero "database
 * size after commit") per transaction, frames valid while their salts match the header's.
 * @p out_salt receives salt-1 so callers can check the WAL was not restarted in between.
 */
static int wal_commits(const struct th_central *c, uint32_t *out_salt)
{
    char path[400];
    snprintf(path, sizeof path, "%s/central.db-wal", c->data_dir);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    unsigned char hdr[32], fh[24];
    int commits = -1;
    if (fread(hdr, 1, sizeof hdr, f) == sizeof hdr) {
        uint32_t page = be32(hdr + 8), s1 = be32(hdr + 16), s2 = be32(hdr + 20);
        *out_salt = s1;
        commits = 0;
        while (page >= 512 && fread(fh, 1, sizeof fh, f) == sizeof fh) {
            if (be32(fh + 8) != s1 || be32(fh + 12) != s2)
                break;
            if (be32(fh + 4) != 0)
                commits++;
            if (fseek(f, (long)page, SEEK_CUR) != 0)
                break;
        }
    }
    fclose(f);
    return commits;
}

static int hub_connect_as(struct th_mqtt *m, const struct th_central *c, const char *id,
                          const char *query)
{
    char user[600], token[600];
    snprintf(user, sizeof user, "%s/%s/?%s", c->hub_host, id, query);
    if (th_hub_token(c, id, KEY, th_now() + 3600, token, sizeof token) != 0 ||
        th_mqtt_open(m, c->mqtt_port, c->ca_path) != 0)
        return -1;
    return th_mqtt_connect(m, id, user, token, 60, true);
}

/* PINGREQ and read up to its PINGRESP; packets are processed in order, so everything sent
 * before has been handled. @return the number of PUBACKs seen on the way, or -1. */
static int sync_ping(struct th_mqtt *m)
{
    struct iotc_mqtt_packet ping = {.type = IOTC_MQTT_PINGREQ}, p;
    int pubacks = 0;
    if (th_mqtt_send(m, &ping) != 0)
        return -1;
    for (;;) {
        if (th_mqtt_read(m, &p, 10000) != 0)
            return -1;
        if (p.type == IOTC_MQTT_PINGRESP)
            return pubacks;
        if (p.type == IOTC_MQTT_PUBACK)
            pubacks++;
    }
}

static int log_count(const struct th_central *c, const char *a, const char *b)
{
    FILE *f = fopen(c->log_path, "r");
    char line[4096];
    int n = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
            n++;
    fclose(f);
    return n;
}

static int thread_count(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    int n = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "Threads:", 8) == 0)
            n = (int)strtol(line + 8, NULL, 10);
    fclose(f);
    return n;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ durability */

/*
 * While the test holds SQLite's write lock, the server can queue but not commit: a QoS 1
 * message gets no PUBACK. Once released, the PUBACK comes, and the 2001 messages queued
 * meanwhile were committed in a handful of transactions, not one per message.
 */
static void test_puback_after_commit_and_group_commit(void **state)
{
    (void)state;
    enum { N = 2000 };
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &srv, "aud-gc", KEY), 0);
    usleep(300000); /* let the connect's registry write land first */

    sqlite3 *pin = db_open(&srv, SQLITE_OPEN_READONLY);
    sqlite3 *lock = db_open(&srv, SQLITE_OPEN_READWRITE);
    assert_non_null(pin);
    assert_non_null(lock);
    /* A read transaction keeps the WAL from being checkpointed away or restarted. */
    assert_int_equal(db_exec(pin, "BEGIN; SELECT count(*) FROM telemetry;"), 0);
    uint32_t salt0 = 0, salt1 = 0;
    int c0 = wal_commits(&srv, &salt0);
    assert_true(c0 >= 0);
    assert_int_equal(db_exec(lock, "BEGIN IMMEDIATE"), 0);

    for (int i = 0; i < N; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "{\"i\":%d}", i);
        assert_int_equal(th_mqtt_publish(&m, "devices/aud-gc/messages/events/", body, (size_t)n, 0),
                         0);
    }
    int pid = th_mqtt_publish(&m, "devices/aud-gc/messages/events/", "{\"last\":1}", 10, 1);
    assert_true(pid > 0);
    /* Everything was read and queued: the PINGRESP comes, the PUBACK does not. */
    assert_int_equal(sync_ping(&m), 0);
    assert_int_equal(th_mqtt_read(&m, &p, 700), -1);
    assert_int_equal(th_count_telemetry(&srv, "aud-gc"), 0);

    assert_int_equal(db_exec(lock, "COMMIT"), 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 10000), 0);
    assert_int_equal(p.packet_id, pid);
    /* PUBACK means committed: every row is visible to another reader now. */
    assert_int_equal(th_count_telemetry(&srv, "aud-gc"), N + 1);

    int c1 = wal_commits(&srv, &salt1);
    assert_int_equal(salt1, salt0);
    int tx = c1 - c0;
    print_message("group commit: %d messages in %d transaction(s)\n", N + 1, tx);
    assert_true(tx >= 1);
    assert_true(tx <= 5);
    db_exec(pin, "COMMIT");
    sqlite3_close(pin);
    sqlite3_close(lock);
    th_mqtt_close(&m);
}

/* ------------------------------------------------------------------ shutdown */

static bool port_refuses(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool refused = connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

/*
 * SIGINT with writes still queued (the test holds the write lock): the listener closes at
 * once, the queued messages are committed when the lock goes, the device still gets the
 * PUBACK of its QoS 1 message and then a closed connection, and the process exits 0.
 */
static void test_sigint_flushes_then_closes(void **state)
{
    (void)state;
    enum { N = 300 };
    struct th_central c;
    assert_int_equal(th_central_start(&c, NULL), 0);
    assert_int_equal(create_device(&c, "aud-sig"), 0);
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &c, "aud-sig", KEY), 0);
    usleep(300000);
    sqlite3 *lock = db_open(&c, SQLITE_OPEN_READWRITE);
    assert_non_null(lock);
    assert_int_equal(db_exec(lock, "BEGIN IMMEDIATE"), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(th_mqtt_publish(&m, "devices/aud-sig/messages/events/", "{}", 2, 0), 0);
    int pid = th_mqtt_publish(&m, "devices/aud-sig/messages/events/", "{\"q\":1}", 7, 1);
    assert_true(pid > 0);
    assert_int_equal(sync_ping(&m), 0);

    assert_int_equal(kill(c.pid, SIGINT), 0);
    assert_true(th_central_log_contains(&c, "received SIGINT", 3000));
    /* Stop accepting: the MQTT port refuses new connections while the store flushes. */
    bool refused = false;
    for (int i = 0; i < 40 && !(refused = port_refuses(c.mqtt_port)); i++)
        usleep(50000);
    assert_true(refused);
    usleep(500000);
    assert_int_equal(db_exec(lock, "COMMIT"), 0);
    sqlite3_close(lock);

    /* Flush before close: the PUBACK arrives, then the connection ends. */
    int64_t end = mono_ms() + 10000;
    int got_ack = 0, rc;
    while ((rc = th_mqtt_read(&m, &p, (int)(end - mono_ms()))) == 0)
        if (p.type == IOTC_MQTT_PUBACK && p.packet_id == pid)
            got_ack = 1;
    assert_int_equal(rc, -2); /* closed by the server */
    th_mqtt_close(&m);
    int status = 0;
    pid_t w = 0;
    for (int i = 0; i < 500 && (w = waitpid(c.pid, &status, WNOHANG)) == 0; i++)
        usleep(20000);
    assert_int_equal(w, c.pid);
    c.pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(th_count_telemetry(&c, "aud-sig"), N + 1);
    assert_true(th_central_log_contains(&c, "hub: disconnect aud-sig", 100));
    th_central_cleanup(&c);
    if (!got_ack)
        fail_msg("the QoS 1 message was committed but its PUBACK never reached the device");
}

/* ------------------------------------------------------------------ logs */

static void test_one_log_line_per_event(void **state)
{
    (void)state;
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &srv, "aud-log", KEY), 0);
    struct iotc_mqtt_packet d = {.type = IOTC_MQTT_DISCONNECT};
    assert_int_equal(th_mqtt_send(&m, &d), 0);
    assert_true(th_mqtt_wait_closed(&m, 3000));
    th_mqtt_close(&m);
    /* Authentication failure (wrong key) with its reason. */
    char user[300], token[600];
    snprintf(user, sizeof user, "%s/aud-log/?api-version=2021-04-12", srv.hub_host);
    assert_int_equal(th_hub_token(&srv, "aud-log", "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc=",
                                  th_now() + 600, token, sizeof token),
                     0);
    assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
    assert_int_equal(th_mqtt_connect(&m, "aud-log", user, token, 60, true), 5);
    th_mqtt_close(&m);
    assert_true(th_central_log_contains(&srv, "authentication failed for 'aud-log'", 2000));
    usleep(200000);
    assert_int_equal(log_count(&srv, "hub: connect aud-log ", NULL), 1);
    assert_int_equal(log_count(&srv, "hub: disconnect aud-log ", "(client disconnected)"), 1);
    assert_int_equal(log_count(&srv, "hub: disconnect aud-log ", NULL), 1);
    assert_int_equal(
        log_count(&srv, "authentication failed for 'aud-log'", "SAS signature does not verify"), 1);
}

/* ------------------------------------------------------------------ threads */

static void test_no_thread_per_connection(void **state)
{
    (void)state;
    enum { N = 40 };
    static struct th_mqtt conns[N];
    int before = thread_count(srv.pid);
    assert_true(before >= 2); /* the loop and the store writer */
    for (int i = 0; i < N; i++) {
        /* The same device reconnecting would drop the previous one; use DPS sessions
         * (kept open, unregistered group devices) and hub sessions alternately. */
        char reg[32], key[64], token[600], user[300];
        snprintf(reg, sizeof reg, "aud-thr-%d", i);
        assert_int_equal(th_derive_key(&srv, reg, key, sizeof key), 0);
        assert_int_equal(th_dps_token(&srv, reg, key, 0, th_now() + 600, token, sizeof token), 0);
        snprintf(user, sizeof user, "%s/registrations/%s/api-version=2019-03-31", srv.id_scope,
                 reg);
        assert_int_equal(th_mqtt_open(&conns[i], srv.mqtt_port, srv.ca_path), 0);
        assert_int_equal(th_mqtt_connect(&conns[i], reg, user, token, 60, true), 0);
    }
    int during = thread_count(srv.pid);
    print_message("threads: %d before, %d with %d more connections\n", before, during, N);
    assert_true(during <= before + 1);
    for (int i = 0; i < N; i++)
        th_mqtt_close(&conns[i]);
}

/* ------------------------------------------------------------------ 256 KB */

static void test_256k_boundary(void **state)
{
    (void)state;
    const char *topic = "devices/aud-big/messages/events/";
    size_t limit = 256 * 1024, tlen = strlen(topic);
    char *payload = malloc(limit);
    assert_non_null(payload);
    memset(payload, 'y', limit);
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &srv, "aud-big", KEY), 0);
    /* topic + payload == 262144 bytes: accepted and stored. */
    int pid = th_mqtt_publish(&m, topic, payload, limit - tlen, 1);
    assert_true(pid > 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 10000), 0);
    assert_int_equal(p.packet_id, pid);
    assert_int_equal(th_count_telemetry(&srv, "aud-big"), 1);
    /* One byte more: refused by closing, not stored. */
    th_mqtt_publish(&m, topic, payload, limit - tlen + 1, 1);
    assert_true(th_mqtt_wait_closed(&m, 5000));
    th_mqtt_close(&m);
    free(payload);
    assert_int_equal(th_count_telemetry(&srv, "aud-big"), 1);
    assert_true(th_central_log_contains(&srv, "aud-big sent a 262145-byte message", 1000));
}

/* ------------------------------------------------------------------ desired push */

static int patch_desired(const char *id, const char *json)
{
    char path[200], body[400];
    snprintf(path, sizeof path, "/twins/%s?api-version=2021-04-12", id);
    snprintf(body, sizeof body, "{\"properties\":{\"desired\":%s}}", json);
    struct th_http_response r;
    if (th_https(&srv, "PATCH", path, "If-Match: \"*\"\r\n", body, true, 5000, &r) != 0)
        return -1;
    free(r.body);
    return r.status;
}

static void test_desired_only_to_subscribed(void **state)
{
    (void)state;
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    assert_int_equal(th_hub_connect(&m, &srv, "aud-ds", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/twin/res/#", 0), 0);
    assert_int_equal(patch_desired("aud-ds", "{\"a\":1}"), 200);
    assert_int_equal(th_mqtt_read(&m, &p, 1000), -1); /* not subscribed to desired: nothing */
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/twin/PATCH/properties/desired/#", 0), 0);
    assert_int_equal(patch_desired("aud-ds", "{\"b\":null,\"c\":{\"d\":2}}"), 200);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    const char *topic = "$iothub/twin/PATCH/properties/desired/?$version=3";
    assert_int_equal(p.publish.topic.len, strlen(topic));
    assert_memory_equal(p.publish.topic.ptr, topic, strlen(topic));
    const char *body = "{\"b\":null,\"c\":{\"d\":2},\"$version\":3}";
    assert_int_equal(p.publish.payload.len, strlen(body));
    assert_memory_equal(p.publish.payload.ptr, body, strlen(body));
    th_mqtt_close(&m);
}

/* ------------------------------------------------------------------ model id */

/* NODE puts model-id unencoded before DeviceClientType (docs/PROTOCOL.md §5.2). */
static void test_model_id_node_style(void **state)
{
    (void)state;
    struct th_mqtt m;
    assert_int_equal(hub_connect_as(&m, &srv, "aud-mid",
                                    "api-version=2021-04-12&model-id=dtmi:com:example:Thermostat;1"
                                    "&DeviceClientType=azure-iot-device%2F1.18.4%20(node)"),
                     0);
    th_mqtt_close(&m);
    static const char *const paths[] = {"/devices/aud-mid?api-version=2021-04-12",
                                        "/twins/aud-mid?api-version=2021-04-12"};
    for (size_t i = 0; i < 2; i++) {
        struct th_http_response r;
        assert_int_equal(th_https(&srv, "GET", paths[i], NULL, NULL, true, 5000, &r), 0);
        assert_int_equal(r.status, 200);
        cJSON *o = cJSON_Parse(r.body);
        const cJSON *mid = cJSON_GetObjectItemCaseSensitive(o, "modelId");
        if (!cJSON_IsString(mid) || strcmp(mid->valuestring, "dtmi:com:example:Thermostat;1") != 0)
            fail_msg("%s: modelId missing or wrong: %s", paths[i], r.body);
        cJSON_Delete(o);
        free(r.body);
    }
    assert_true(th_central_log_contains(&srv, "model=dtmi:com:example:Thermostat;1", 1000));
}

/* ------------------------------------------------------------------ init facts */

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    size_t cap = 1 << 20, n;
    char *buf = malloc(cap + 1);
    bool found = false;
    size_t nl = strlen(needle);
    while (buf != NULL && (n = fread(buf, 1, cap, f)) > 0) {
        for (size_t i = 0; i + nl <= n && !found; i++)
            found = memcmp(buf + i, needle, nl) == 0;
        if (found || n < cap)
            break;
        fseek(f, -(long)nl, SEEK_CUR);
    }
    free(buf);
    fclose(f);
    return found;
}

static void test_init_facts(void **state)
{
    (void)state;
    /* Default hub host. */
    assert_string_equal(srv.hub_host, "localhost");
    /* Port 0: the chosen ports were printed (the harness read them) and written. */
    char path[600], buf[2048];
    snprintf(path, sizeof path, "%s/ports.json", srv.data_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "mqtts")->valueint, srv.mqtt_port);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "https")->valueint, srv.https_port);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "mqtt")->valueint, 0); /* no plain */
    assert_true(srv.mqtt_port != 0 && srv.https_port != 0 && srv.mqtt_port != srv.https_port);
    cJSON_Delete(o);
    assert_int_equal(srv.plain_port, 0);

    /* The admin token, made by the first start, is in clear in DIR/admin-token only (0600). */
    assert_true(strncmp(srv.admin_token, "iotc-admin.", 11) == 0);
    DIR *d = opendir(srv.data_dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", srv.data_dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        files++;
        if (strcmp(e->d_name, "admin-token") == 0) {
            assert_int_equal(st.st_mode & 0777, 0600);
            continue;
        }
        if (file_contains(path, srv.admin_token))
            fail_msg("the admin token is stored in %s", e->d_name);
    }
    closedir(d);
    assert_true(files >= 4);

    /* show (text): the CA file, the ID scope, the endpoint with the running server's port. */
    char cmd[800], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' show --data-dir '%s' 2>/dev/null", th_central_bin(),
             srv.data_dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    snprintf(path, sizeof path, "%s/ca.pem", srv.data_dir);
    if (strstr(out, path) == NULL || strstr(out, srv.id_scope) == NULL)
        fail_msg("show output lacks the CA path or the ID scope:\n%s", out);
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "localhost:%u", srv.mqtt_port);
    if (strstr(out, endpoint) == NULL)
        fail_msg("show output lacks %s:\n%s", endpoint, out);
    assert_null(strstr(out, srv.admin_token));
}

/* A free loopback port (bound, read, closed). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Ports given by flag are the ports served, printed and written. */
static void test_explicit_ports(void **state)
{
    (void)state;
    char mqtt[16], https[16];
    uint16_t pm = free_port(), ph = free_port();
    assert_true(pm != 0 && ph != 0 && pm != ph);
    snprintf(mqtt, sizeof mqtt, "%u", pm);
    snprintf(https, sizeof https, "%u", ph);
    const char *const extra[] = {"--mqtt-port", mqtt, "--https-port", https, NULL};
    struct th_central c;
    assert_int_equal(th_central_start(&c, extra), 0);
    assert_int_equal(c.mqtt_port, pm);
    assert_int_equal(c.https_port, ph);
    assert_int_equal(create_device(&c, "aud-port"), 0);
    struct th_mqtt m;
    assert_int_equal(th_hub_connect(&m, &c, "aud-port", KEY), 0);
    th_mqtt_close(&m);
    char path[600], buf[512];
    snprintf(path, sizeof path, "%s/ports.json", c.data_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "mqtts")->valueint, pm);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "https")->valueint, ph);
    cJSON_Delete(o);
    assert_int_equal(th_central_stop(&c), 0);
    th_central_cleanup(&c);
}

/* A fresh `init` (no server ran): ECDSA P-256 server key; `show` gives the default ports,
 * MQTT/TLS 8883 (DPS endpoint, assigned hub without port) and HTTPS 8443 (connection string). */
static void test_init_defaults(void **state)
{
    (void)state;
    char dir[600], cmd[1400], out[8192];
    snprintf(dir, sizeof dir, "%s/fresh", srv.root);
    snprintf(
        cmd, sizeof cmd,
        "'%s' init --data-dir '%s' >/dev/null 2>&1 && '%s' show --data-dir '%s' --json 2>/dev/null",
        th_central_bin(), dir, th_central_bin(), dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "dpsEndpoint")),
                        "localhost:8883");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "assignedHub")),
                        "localhost");
    const char *cs =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "serviceConnectionString"));
    assert_non_null(cs);
    const char *want = "HostName=localhost:8443;SharedAccessKeyName=iothubowner;SharedAccessKey=";
    assert_int_equal(strncmp(cs, want, strlen(want)), 0);
    cJSON_Delete(o);

    char path[700];
    snprintf(path, sizeof path, "%s/server.pem", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(cert);
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    assert_int_equal(EVP_PKEY_base_id(pk), EVP_PKEY_EC);
    char group[64];
    size_t glen = 0;
    assert_int_equal(EVP_PKEY_get_group_name(pk, group, sizeof group, &glen), 1);
    assert_int_equal(OBJ_sn2nid(group), NID_X9_62_prime256v1);
    assert_int_equal(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(cert, "::1", 0), 1);
    X509_free(cert);
}

/* ------------------------------------------------------------------ verbatim sr */

/* The URL-encoded signature of "{sr_text}\n{se}" with KEY. */
static void sign(const char *sr_text, uint64_t se, char *out, size_t size)
{
    unsigned char key[64], mac[EVP_MAX_MD_SIZE];
    size_t klen = 0, blen = 0, olen = 0;
    unsigned int mlen = 0;
    char msg[600], b64[128];
    assert_int_equal(iotc_base64_decode(iotc_span_from_cstr(KEY), key, sizeof key, &klen), 0);
    int n = snprintf(msg, sizeof msg, "%s\n%llu", sr_text, (unsigned long long)se);
    assert_non_null(
        HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, (size_t)n, mac, &mlen));
    assert_int_equal(iotc_base64_encode(mac, mlen, b64, sizeof b64, &blen), 0);
    assert_int_equal(iotc_pct_encode((struct iotc_span){b64, blen}, out, size - 1, &olen), 0);
    out[olen] = '\0';
}

/*
 * The hub verifies the HMAC over the sr text exactly as sent (docs/PROTOCOL.md §2.4, the
 * "sign what was sent" rule): lower-case hex and raw slashes are accepted when signed as sent,
 * fields may come in any order, and a signature over a re-encoded (canonical) sr does not verify.
 */
static void test_hub_sas_verbatim_sr(void **state)
{
    (void)state;
    uint64_t se = th_now() + 600;
    char lower[300], raw[300], upper[300];
    snprintf(lower, sizeof lower, "%s%%2fdevices%%2faud-sas", srv.hub_host);
    snprintf(raw, sizeof raw, "%s/devices/aud-sas", srv.hub_host);
    snprintf(upper, sizeof upper, "%s%%2Fdevices%%2Faud-sas", srv.hub_host);
    char sig_lower[200], sig_raw[200], sig_upper[200];
    sign(lower, se, sig_lower, sizeof sig_lower);
    sign(raw, se, sig_raw, sizeof sig_raw);
    sign(upper, se, sig_upper, sizeof sig_upper);
    char tokens[4][800];
    snprintf(tokens[0], sizeof tokens[0], "SharedAccessSignature sr=%s&sig=%s&se=%llu", lower,
             sig_lower, (unsigned long long)se);
    snprintf(tokens[1], sizeof tokens[1], "SharedAccessSignature sr=%s&sig=%s&se=%llu", raw,
             sig_raw, (unsigned long long)se);
    snprintf(tokens[2], sizeof tokens[2], "SharedAccessSignature sig=%s&se=%llu&sr=%s", sig_upper,
             (unsigned long long)se, upper);
    /* Same resource, but the signature is over another spelling of it. */
    snprintf(tokens[3], sizeof tokens[3], "SharedAccessSignature sr=%s&sig=%s&se=%llu", lower,
             sig_upper, (unsigned long long)se);
    const int expect[4] = {0, 0, 0, 5};
    char user[300];
    snprintf(user, sizeof user, "%s/aud-sas/?api-version=2021-04-12", srv.hub_host);
    for (int i = 0; i < 4; i++) {
        struct th_mqtt m;
        assert_int_equal(th_mqtt_open(&m, srv.mqtt_port, srv.ca_path), 0);
        int code = th_mqtt_connect(&m, "aud-sas", user, tokens[i], 60, true);
        th_mqtt_close(&m);
        if (code != expect[i])
            fail_msg("token %d (%s): CONNACK %d, expected %d", i, tokens[i], code, expect[i]);
    }
}

/* ------------------------------------------------------------------ crash */

static void kill_hard(struct th_central *c)
{
    int status;
    assert_int_equal(kill(c->pid, SIGKILL), 0);
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    c->pid = 0;
}

/*
 * What was acknowledged survives SIGKILL right after the acknowledgement: PUBACKed telemetry and
 * a reported patch answered 204, together with the service API writes made before them (device
 * creation, desired patch, queued C2D message; their replies also wait for the commit, see
 * test_durable_rest.c).
 */
static void test_acknowledged_survives_sigkill(void **state)
{
    (void)state;
    enum { N = 300 };
    struct th_central c;
    struct th_mqtt m;
    struct iotc_mqtt_packet p;
    struct th_http_response r;
    assert_int_equal(th_central_start(&c, NULL), 0);
    assert_int_equal(create_device(&c, "aud-kill"), 0);
    assert_int_equal(th_https(&c, "PATCH", "/twins/aud-kill?api-version=2021-04-12",
                              "If-Match: \"*\"\r\n",
                              "{\"properties\":{\"desired\":{\"mode\":\"eco\"}}}", true, 5000, &r),
                     0);
    assert_int_equal(r.status, 200);
    free(r.body);
    assert_int_equal(th_https(&c, "POST",
                              "/devices/aud-kill/messages/deviceBound?api-version=2021-04-12",
                              "iothub-messageid: kill-1\r\n", "after the crash", true, 5000, &r),
                     0);
    assert_int_equal(r.status / 100, 2);
    free(r.body);

    assert_int_equal(th_hub_connect(&m, &c, "aud-kill", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "$iothub/twin/res/#", 0), 0);
    int last = 0;
    for (int i = 0; i < N; i++) {
        last = th_mqtt_publish(&m, "devices/aud-kill/messages/events/", "{\"k\":1}", 7, 1);
        assert_true(last > 0);
    }
    for (int acked = 0; acked < N; acked++)
        assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBACK, &p, 10000), 0);
    assert_int_equal(p.packet_id, last);
    const char *patch = "{\"fw\":\"9.9\"}";
    assert_true(th_mqtt_publish(&m, "$iothub/twin/PATCH/properties/reported/?$rid=k1", patch,
                                strlen(patch), 0) >= 0);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    kill_hard(&c); /* no chance to flush anything; the device is still connected */
    th_mqtt_close(&m);

    assert_int_equal(th_central_restart(&c, NULL), 0);
    assert_int_equal(th_count_telemetry(&c, "aud-kill"), N);
    assert_int_equal(
        th_https(&c, "GET", "/twins/aud-kill?api-version=2021-04-12", NULL, NULL, true, 5000, &r),
        0);
    assert_int_equal(r.status, 200);
    cJSON *o = cJSON_Parse(r.body);
    cJSON *props = cJSON_GetObjectItemCaseSensitive(o, "properties");
    const char *fw = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(props, "reported"), "fw"));
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(props, "desired"), "mode"));
    if (fw == NULL || strcmp(fw, "9.9") != 0 || mode == NULL || strcmp(mode, "eco") != 0)
        fail_msg("twin after SIGKILL: %s", r.body);
    cJSON_Delete(o);
    free(r.body);
    assert_int_equal(th_hub_connect(&m, &c, "aud-kill", KEY), 0);
    assert_int_equal(th_mqtt_subscribe(&m, "devices/aud-kill/messages/devicebound/#", 1), 1);
    assert_int_equal(th_mqtt_expect(&m, IOTC_MQTT_PUBLISH, &p, 5000), 0);
    assert_int_equal(p.publish.payload.len, strlen("after the crash"));
    assert_memory_equal(p.publish.payload.ptr, "after the crash", p.publish.payload.len);
    th_mqtt_close(&m);
    assert_int_equal(th_central_stop(&c), 0);
    th_central_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_facts),
        cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_explicit_ports),
        cmocka_unit_test(test_puback_after_commit_and_group_commit),
        cmocka_unit_test(test_one_log_line_per_event),
        cmocka_unit_test(test_no_thread_per_connection),
        cmocka_unit_test(test_256k_boundary),
        cmocka_unit_test(test_desired_only_to_subscribed),
        cmocka_unit_test(test_model_id_node_style),
        cmocka_unit_test(test_hub_sas_verbatim_sr),
        cmocka_unit_test(test_sigint_flushes_then_closes),
        cmocka_unit_test(test_acknowledged_survives_sigkill),
    };
    return cmocka_run_group_tests_name("audit_device_plane", tests, setup, teardown);
}
