/*
 * appdata.c - application facts (app.json), TLS context, `show` output. See appdata.h.
 */
#include "central/setup/appdata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "central/base/log.h"
#include "central/base/wssport.h"
#include "central/setup/pki.h"
#include "iotc/codec.h"

void app_config_defaults(struct app_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mqtt_port = 8883;
    cfg->https_port = 8443;
    cfg->wss_port = WSSPORT_AUTO;
    cfg->plain_mqtt_port = -1;
    cfg->dps_retry_after_s = 1;
    cfg->max_connections = 100000;
    cfg->max_store_backlog = 200000;
    cfg->read_threads = 2;
    cfg->max_read_jobs = 32;
}

static int random_b64(size_t nbytes, char *out, size_t out_size)
{
    unsigned char raw[64];
    size_t len;
    if (nbytes > sizeof raw || RAND_bytes(raw, (int)nbytes) != 1)
        return -1;
    return iotc_base64_encode(raw, nbytes, out, out_size, &len) == IOTC_OK ? 0 : -1;
}

static void sha256_hex(const char *text, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int copy_str(cJSON *obj, const char *name, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
        return -1;
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

static int facts_parse(struct app_facts *f, const char *text)
{
    cJSON *root = cJSON_Parse(text);
    if (root == NULL)
        return -1;
    cJSON *grp = cJSON_GetObjectItemCaseSensitive(root, "enrollmentGroup");
    int rc =
        copy_str(root, "idScope", f->id_scope, sizeof f->id_scope) |
        copy_str(grp, "id", f->group_id, sizeof f->group_id) |
        copy_str(grp, "primaryKey", f->group_primary_key, sizeof f->group_primary_key) |
        copy_str(grp, "secondaryKey", f->group_secondary_key, sizeof f->group_secondary_key) |
        copy_str(root, "servicePolicy", f->service_policy, sizeof f->service_policy) |
        copy_str(root, "serviceKey", f->service_key, sizeof f->service_key) |
        copy_str(root, "hubHost", f->hub_host, sizeof f->hub_host) |
        copy_str(root, "adminTokenSha256", f->admin_token_sha256, sizeof f->admin_token_sha256);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "createdMs");
    f->created_ms = cJSON_IsNumber(c) ? (int64_t)c->valuedouble : 0;
    cJSON_Delete(root);
    return rc ? -1 : 0;
}

/* Write DIR/NAME atomically (temp file, fsync, rename, fsync of the dir), mode 0600. */
static int write_private(const char *dir, const char *name, const char *text)
{
    char path[1200], tmp[1300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        size_t len = strlen(text);
        /* fchmod: a temp file left by a crash may have been created with another mode */
        if (fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len &&
            write(fd, "\n", 1) == 1 && fsync(fd) == 0)
            rc = 0;
        close(fd);
    }
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc == 0) {
        /* make the rename itself durable: a regenerated key must not come back after a crash */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    if (rc < 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        (void)unlink(tmp);
    }
    return rc;
}

static int facts_write_to(const char *dir, const struct app_facts *f)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *grp = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "idScope", f->id_scope);
    cJSON_AddItemToObject(root, "enrollmentGroup", grp);
    cJSON_AddStringToObject(grp, "id", f->group_id);
    cJSON_AddStringToObject(grp, "attestation", "symmetricKey");
    cJSON_AddStringToObject(grp, "primaryKey", f->group_primary_key);
    cJSON_AddStringToObject(grp, "secondaryKey", f->group_secondary_key);
    cJSON_AddStringToObject(root, "servicePolicy", f->service_policy);
    cJSON_AddStringToObject(root, "serviceKey", f->service_key);
    cJSON_AddStringToObject(root, "hubHost", f->hub_host);
    cJSON_AddStringToObject(root, "adminTokenSha256", f->admin_token_sha256);
    cJSON_AddNumberToObject(root, "createdMs", (double)f->created_ms);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL)
        return -1;
    int rc = write_private(dir, "app.json", text);
    free(text);
    return rc;
}

static int facts_write(const struct app *app)
{
    return facts_write_to(app->cfg.data_dir, &app->facts);
}

int app_group_keys_set(struct app *app, const char *primary, const char *secondary)
{
    struct app_facts next = app->facts;
    if ((size_t)snprintf(next.group_primary_key, sizeof next.group_primary_key, "%s", primary) >=
            sizeof next.group_primary_key ||
        (size_t)snprintf(next.group_secondary_key, sizeof next.group_secondary_key, "%s",
                         secondary) >= sizeof next.group_secondary_key)
        return -1;
    if (facts_write_to(app->cfg.data_dir, &next) < 0)
        return -1;
    app->facts = next;
    return 0;
}

/* A new admin token "iotc-admin.<43 base64url>" into @p out; its hash into f. */
static int admin_token_new(struct app_facts *f, char *out, size_t size)
{
    char token[96];
    if (random_b64(32, token, sizeof token) < 0)
        return -1;
    /* The admin token travels in headers; keep it URL/header safe. */
    for (char *p = token; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = '\0';
    }
    if ((size_t)snprintf(out, size, "iotc-admin.%s", token) >= size)
        return -1;
    sha256_hex(out, f->admin_token_sha256);
    return 0;
}

static int facts_create(struct app *app, char *out_token, size_t token_size)
{
    struct app_facts *f = &app->facts;
    unsigned char scope[4];
    if (RAND_bytes(scope, sizeof scope) != 1)
        return -1;
    snprintf(f->id_scope, sizeof f->id_scope, "0ne%02X%02X%02X%02X", scope[0], scope[1], scope[2],
             scope[3]);
    snprintf(f->group_id, sizeof f->group_id, "SAS-IoT-Devices");
    snprintf(f->service_policy, sizeof f->service_policy, "iothubowner");
    snprintf(f->hub_host, sizeof f->hub_host, "%s",
             app->cfg.hub_host ? app->cfg.hub_host : "localhost");
    if (random_b64(64, f->group_primary_key, sizeof f->group_primary_key) < 0 ||
        random_b64(64, f->group_secondary_key, sizeof f->group_secondary_key) < 0 ||
        random_b64(32, f->service_key, sizeof f->service_key) < 0 ||
        admin_token_new(f, out_token, token_size) < 0)
        return -1;
    f->created_ms = app_now_ms();
    return 0;
}

int app_read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

/*
 * The data dir holds device keys, the CA key and the admin token hash in clear: the dir is
 * 0700 and every file in it 0600, whatever the umask was when something created them. A dir
 * or file found wider is narrowed (the dir with a warning: someone made it by hand).
 */
static int data_dir_secure(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_error("cannot create data dir %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        log_error("data dir %s is not a directory", dir);
        return -1;
    }
    if ((st.st_mode & 0777) != 0700) {
        if ((st.st_mode & 0077) != 0)
            log_warn("data dir %s had mode %04o, readable by others: now 0700", dir,
                     (unsigned)(st.st_mode & 0777));
        if (chmod(dir, 0700) != 0) {
            log_error("cannot chmod 0700 %s: %s", dir, strerror(errno));
            return -1;
        }
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        log_error("cannot read data dir %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            (st.st_mode & 0777) == 0600)
            continue;
        if (fchmodat(fd, e->d_name, 0600, 0) != 0)
            log_warn("cannot chmod 0600 %s/%s: %s", dir, e->d_name, strerror(errno));
    }
    closedir(d);
    return 0;
}

int app_data_open(struct app *app, bool *out_created)
{
    char token[128];
    const char *dir = app->cfg.data_dir;
    *out_created = false;
    if (data_dir_secure(dir) < 0)
        return -1;
    char path[1200];
    snprintf(path, sizeof path, "%s/app.json", dir);
    char buf[8192];
    if (app_read_file(path, buf, sizeof buf) == 0) {
        if (facts_parse(&app->facts, buf) < 0) {
            log_error("%s is not a valid application file", path);
            return -1;
        }
        if (app->cfg.hub_host != NULL && strcmp(app->cfg.hub_host, app->facts.hub_host) != 0) {
            snprintf(app->facts.hub_host, sizeof app->facts.hub_host, "%s", app->cfg.hub_host);
            if (facts_write(app) < 0)
                return -1;
        }
    } else {
        /* app.json first: an admin-token file without it would name a token nobody checks */
        int rc = facts_create(app, token, sizeof token);
        if (rc == 0)
            rc = facts_write(app);
        if (rc == 0)
            rc = write_private(dir, "admin-token", token);
        OPENSSL_cleanse(token, sizeof token);
        if (rc < 0) {
            log_error("cannot create the application in %s", dir);
            return -1;
        }
        *out_created = true;
        log_info("created application %s in %s; admin token in %s/admin-token", app->facts.id_scope,
                 dir, dir);
    }
    const char *names[66];
    size_t n = 0;
    names[n++] = app->facts.hub_host;
    for (size_t i = 0; i < app->cfg.n_dns_names && n < 66; i++)
        names[n++] = app->cfg.dns_names[i];
    if (pki_ensure(dir, names, n) < 0)
        return -1;
    snprintf(app->ca_path, sizeof app->ca_path, "%s/ca.pem", dir);
    return 0;
}

static int facts_load(const char *dir, struct app_facts *out)
{
    char path[1200], buf[8192];
    snprintf(path, sizeof path, "%s/app.json", dir);
    if (app_read_file(path, buf, sizeof buf) < 0) {
        log_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (facts_parse(out, buf) < 0) {
        log_error("%s is not a valid application file", path);
        return -1;
    }
    return 0;
}

int app_admin_token_rotate(const char *dir, char out_id[9])
{
    struct app_facts f;
    char token[128];
    if (facts_load(dir, &f) < 0)
        return -1;
    if (admin_token_new(&f, token, sizeof token) < 0) {
        log_error("cannot generate a random admin token");
        return -1;
    }
    int rc = facts_write_to(dir, &f);
    if (rc == 0)
        rc = write_private(dir, "admin-token", token);
    OPENSSL_cleanse(token, sizeof token);
    if (rc < 0)
        return -1;
    app_admin_token_id(&f, out_id);
    return 0;
}

int app_admin_token_reload(struct app *app)
{
    struct app_facts f;
    if (facts_load(app->cfg.data_dir, &f) < 0)
        return -1;
    if (strcmp(f.admin_token_sha256, app->facts.admin_token_sha256) == 0)
        return 0;
    memcpy(app->facts.admin_token_sha256, f.admin_token_sha256,
           sizeof app->facts.admin_token_sha256);
    return 1;
}

void app_admin_token_id(const struct app_facts *f, char out[9])
{
    memcpy(out, f->admin_token_sha256, 8);
    out[8] = '\0';
}

int app_data_lock(const char *dir, long *out_holder)
{
    *out_holder = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_error("cannot create data dir %s: %s", dir, strerror(errno));
        return -2;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/serve.pid", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("cannot open %s: %s", path, strerror(errno));
        return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            char buf[32];
            ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
            buf[n > 0 ? n : 0] = '\0';
            *out_holder = strtol(buf, NULL, 10);
            close(fd);
            return -1;
        }
        close(fd);
        log_error("cannot lock %s: %s", path, strerror(err));
        return -2;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        log_error("cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -2;
    }
    return fd;
}

void app_data_unlock(int fd)
{
    if (fd < 0)
        return;
    /* the pid of a server that stopped means nothing; if it stays, the lock says it is stale */
    if (ftruncate(fd, 0) != 0)
        log_debug("data dir lock: cannot empty serve.pid: %s", strerror(errno));
    close(fd);
}

int app_tls_init(struct app *app)
{
    char cert[1200], key[1200];
    snprintf(cert, sizeof cert, "%s/server.pem", app->cfg.data_dir);
    snprintf(key, sizeof key, "%s/server-key.pem", app->cfg.data_dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return -1;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Fewer per-connection buffers matter at tens of thousands of idle connections. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* No session resumption: the clients (Azure device SDKs, libmosquitto, iotc-sim) open a
     * connection and keep it for hours, and none of them offers a saved session. A server-side
     * cache would keep every TLS 1.2 session for 5 minutes after its connection, and the two
     * TLS 1.3 tickets OpenSSL sends by default cost a session copy, an encryption and a MAC per
     * handshake for nothing. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    if (SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_error("cannot load %s / %s", cert, key);
        SSL_CTX_free(ctx);
        return -1;
    }
    app->ssl_ctx = ctx;
    return 0;
}

void app_set_assigned_hub(struct app *app)
{
    uint16_t port = app->mqtt_port ? app->mqtt_port : (uint16_t)app->cfg.mqtt_port;
    if (port == 8883 || port == 0)
        snprintf(app->assigned_hub, sizeof app->assigned_hub, "%s", app->facts.hub_host);
    else
        snprintf(app->assigned_hub, sizeof app->assigned_hub, "%s:%u", app->facts.hub_host,
                 (unsigned)port);
}

void app_show(const struct app *app, FILE *out, bool json)
{
    const struct app_facts *f = &app->facts;
    char conn[512];
    int https = app->https_port ? app->https_port : app->cfg.https_port;
    /* a server serving the HTTPS site on 443 too (--wss-port): the port-less HostName that
     * azure-iothub can use, as on Azure */
    if (https == 443 || https <= 0 || app->wss_port == WSSPORT_AZURE)
        snprintf(conn, sizeof conn, "HostName=%s;SharedAccessKeyName=%s;SharedAccessKey=%s",
                 f->hub_host, f->service_policy, f->service_key);
    else
        snprintf(conn, sizeof conn, "HostName=%s:%d;SharedAccessKeyName=%s;SharedAccessKey=%s",
                 f->hub_host, https, f->service_policy, f->service_key);
    int mqtt = app->mqtt_port ? app->mqtt_port : app->cfg.mqtt_port;
    /* MQTT over WebSockets: on the second port when the server has one (ports.json), else on
     * the HTTPS port; the SDKs dial 443, where the URL then needs no port */
    char wss[400];
    int wss_port = app->wss_port ? app->wss_port : https;
    if (wss_port == WSSPORT_AZURE)
        snprintf(wss, sizeof wss, "wss://%s/$iothub/websocket", f->hub_host);
    else
        snprintf(wss, sizeof wss, "wss://%s:%d/$iothub/websocket", f->hub_host, wss_port);
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "idScope", f->id_scope);
        char ep[300];
        snprintf(ep, sizeof ep, "%s:%d", f->hub_host, mqtt);
        cJSON_AddStringToObject(root, "dpsEndpoint", ep);
        cJSON_AddStringToObject(root, "hubHost", f->hub_host);
        cJSON_AddStringToObject(root, "assignedHub", app->assigned_hub);
        cJSON_AddNumberToObject(root, "mqttPort", mqtt);
        cJSON_AddNumberToObject(root, "httpsPort", https);
        cJSON_AddNumberToObject(root, "wssPort", app->wss_port); /* 0: none, see "https" */
        if (https > 0)
            cJSON_AddStringToObject(root, "webSocketUrl", wss);
        cJSON_AddStringToObject(root, "caFile", app->ca_path);
        cJSON *grp = cJSON_AddObjectToObject(root, "enrollmentGroup");
        cJSON_AddStringToObject(grp, "id", f->group_id);
        cJSON_AddStringToObject(grp, "primaryKey", f->group_primary_key);
        cJSON_AddStringToObject(grp, "secondaryKey", f->group_secondary_key);
        cJSON_AddStringToObject(root, "serviceConnectionString", conn);
        char *text = cJSON_Print(root);
        if (text != NULL)
            fprintf(out, "%s\n", text);
        free(text);
        cJSON_Delete(root);
        return;
    }
    fprintf(out,
            "ID scope:                 %s\n"
            "DPS endpoint:             %s:%d  (MQTT over TLS; DPS and IoT Hub share this port)\n"
            "Assigned IoT Hub:         %s\n"
            "%s%s%s"
            "CA certificate:           %s\n"
            "Enrollment group:         %s (symmetric key)\n"
            "  primary key:            %s\n"
            "  secondary key:          %s\n"
            "Service connection string:\n  %s\n",
            f->id_scope, f->hub_host, mqtt, app->assigned_hub,
            https > 0 ? "MQTT over WebSockets:     " : "", https > 0 ? wss : "",
            https <= 0                  ? ""
            : wss_port == WSSPORT_AZURE ? "\n"
                                        : "  (the Azure SDKs dial 443: see --wss-port)\n",
            app->ca_path, f->group_id, f->group_primary_key, f->group_secondary_key, conn);
}

void app_release(struct app *app)
{
    if (app->ssl_ctx != NULL)
        SSL_CTX_free(app->ssl_ctx);
    app->ssl_ctx = NULL;
    free(app->cfg.data_dir);
    free(app->cfg.bind_addr);
    free(app->cfg.hub_host);
    for (size_t i = 0; i < app->cfg.n_dns_names; i++)
        free(app->cfg.dns_names[i]);
    free(app->cfg.dns_names);
    memset(&app->cfg, 0, sizeof app->cfg);
}
