/*
 * central_proc.c - start/stop iotc-central as a subprocess for integration tests (harness.h).
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "iotc/codec.h"
#include "iotc/sas.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t th_now(void)
{
    return (uint64_t)time(NULL);
}

char *th_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *s = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (s = malloc((size_t)n + 1)) != NULL) {
        if (fread(s, 1, (size_t)n, f) == (size_t)n) {
            s[n] = '\0';
        } else {
            free(s);
            s = NULL;
        }
    }
    fclose(f);
    return s;
}

char *th_repo_file(const char *rel)
{
    char *s = th_read_file(rel);
    if (s != NULL)
        return s;
    char root[1024] = "", path[2400];
    FILE *p = popen("git rev-parse --show-toplevel 2>/dev/null", "r");
    if (p != NULL) {
        if (fgets(root, sizeof root, p) == NULL)
            root[0] = '\0';
        pclose(p);
    }
    root[strcspn(root, "\n")] = '\0';
    if (root[0] == '\0')
        return NULL;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return th_read_file(path);
}

unsigned long th_central_nofile;

const char *th_central_bin(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("IOTC_CENTRAL_BIN");
    if (env != NULL && env[0] != '\0')
        return env;
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
    if (n <= 0)
        return "iotc-central";
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (slash == NULL)
        return "iotc-central";
    snprintf(slash, sizeof path - (size_t)(slash - path), "/../iotc-central");
    return path;
}

static int copy_fact(cJSON *obj, const char *name, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
        return -1;
    snprintf(out, size, "%s", v->valuestring);
    return 0;
}

static int read_facts(struct th_central *c)
{
    char path[400], buf[8192];
    snprintf(path, sizeof path, "%s/app.json", c->data_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    if (o == NULL)
        return -1;
    cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "enrollmentGroup");
    int rc = copy_fact(o, "idScope", c->id_scope, sizeof c->id_scope) |
             copy_fact(o, "hubHost", c->hub_host, sizeof c->hub_host) |
             copy_fact(o, "serviceKey", c->service_key, sizeof c->service_key) |
             copy_fact(g, "primaryKey", c->group_primary_key, sizeof c->group_primary_key) |
             copy_fact(g, "secondaryKey", c->group_secondary_key, sizeof c->group_secondary_key);
    cJSON_Delete(o);
    snprintf(c->ca_path, sizeof c->ca_path, "%s/ca.pem", c->data_dir);
    return rc ? -1 : 0;
}

static int spawn(struct th_central *c, const char *const *extra)
{
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    const char *argv[64];
    int n = 0;
    argv[n++] = th_central_bin();
    argv[n++] = "serve";
    argv[n++] = "--data-dir";
    argv[n++] = c->data_dir;
    if (!c->default_bind) {
        argv[n++] = "--bind";
        argv[n++] = "127.0.0.1";
    }
    argv[n++] = "--mqtt-port";
    argv[n++] = "0";
    argv[n++] = "--https-port";
    argv[n++] = "0";
    argv[n++] = "--log-level";
    argv[n++] = "debug";
    /* never the host's port 443 (as root --wss-port auto would take it); a test that wants
     * it passes --wss-port itself, inside a network namespace of its own */
    argv[n++] = "--wss-port";
    argv[n++] = "off";
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Never outlive a test that crashed or was killed. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (th_central_nofile > 0) {
            struct rlimit rl = {th_central_nofile, th_central_nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(126);
        }
        int logfd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(pipefd[1], 1);
        if (logfd >= 0)
            dup2(logfd, 2);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    c->pid = pid;
    /* Read stdout lines until "ready" (bounded). */
    char buf[4096];
    size_t len = 0;
    int64_t deadline = mono_ms() + 15000;
    int rc = -1;
    while (mono_ms() < deadline && len < sizeof buf - 1) {
        struct pollfd p = {pipefd[0], POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = read(pipefd[0], buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "\nready\n") != NULL || strncmp(buf, "ready\n", 6) == 0) {
            rc = 0;
            break;
        }
    }
    close(pipefd[0]);
    if (rc != 0) {
        fprintf(stderr, "harness: iotc-central did not become ready (see %s)\n", c->log_path);
        th_central_stop(c);
        return -1;
    }
    for (char *line = buf, *nl; line != NULL && *line != '\0'; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (strncmp(line, "mqtts-port ", 11) == 0)
            c->mqtt_port = (uint16_t)strtoul(line + 11, NULL, 10);
        else if (strncmp(line, "https-port ", 11) == 0)
            c->https_port = (uint16_t)strtoul(line + 11, NULL, 10);
        else if (strncmp(line, "mqtt-port ", 10) == 0)
            c->plain_port = (uint16_t)strtoul(line + 10, NULL, 10);
    }
    /* the admin token: first line of DIR/admin-token (written by init; replaced by
     * rotate-admin-token) */
    char tok_path[400];
    snprintf(tok_path, sizeof tok_path, "%s/admin-token", c->data_dir);
    FILE *tf = fopen(tok_path, "r");
    if (tf != NULL) {
        if (fgets(c->admin_token, sizeof c->admin_token, tf) == NULL)
            c->admin_token[0] = '\0';
        c->admin_token[strcspn(c->admin_token, "\r\n")] = '\0';
        fclose(tf);
    }
    if (c->mqtt_port == 0 || read_facts(c) != 0) {
        fprintf(stderr, "harness: could not read ports or app.json\n");
        th_central_stop(c);
        return -1;
    }
    return 0;
}

static int start(struct th_central *c, const char *const *extra_args, bool default_bind)
{
    memset(c, 0, sizeof *c);
    c->default_bind = default_bind;
    const char *tmp = getenv("TMPDIR");
    snprintf(c->root, sizeof c->root, "%s/iotc-central-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(c->root) == NULL)
        return -1;
    snprintf(c->data_dir, sizeof c->data_dir, "%s/app", c->root);
    snprintf(c->log_path, sizeof c->log_path, "%s/server.log", c->root);
    return spawn(c, extra_args);
}

int th_central_start(struct th_central *c, const char *const *extra_args)
{
    return start(c, extra_args, false);
}

int th_central_start_default_bind(struct th_central *c, const char *const *extra_args)
{
    return start(c, extra_args, true);
}

int th_central_restart(struct th_central *c, const char *const *extra_args)
{
    if (c->pid > 0)
        th_central_stop(c);
    c->mqtt_port = c->https_port = c->plain_port = 0;
    return spawn(c, extra_args);
}

int th_central_stop(struct th_central *c)
{
    if (c->pid <= 0)
        return -1;
    kill(c->pid, SIGTERM);
    int status = 0;
    int64_t deadline = mono_ms() + 10000;
    for (;;) {
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid)
            break;
        if (mono_ms() > deadline) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            c->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    c->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void rm_tree(const char *path, int depth)
{
    struct stat st;
    if (depth > 8 || lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            rm_tree(child, depth + 1);
        }
        if (d != NULL)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Remove the temporary tree: everything under our own mkdtemp() directory, including files
 * tests put next to the data dir. Refuses any path that is not such a directory. */
static void rm_rf(const char *dir)
{
    if (strstr(dir, "/iotc-central-test.") != NULL)
        rm_tree(dir, 0);
}

void th_central_cleanup(struct th_central *c)
{
    if (c->pid > 0)
        th_central_stop(c);
    if (c->root[0] != '\0') {
        if (getenv("IOTC_KEEP_TEST_DIRS") == NULL)
            rm_rf(c->root);
        else
            fprintf(stderr, "harness: kept %s\n", c->root);
    }
    c->root[0] = '\0';
}

bool th_central_log_contains(const struct th_central *c, const char *needle, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    do {
        FILE *f = fopen(c->log_path, "r");
        if (f != NULL) {
            char line[4096];
            while (fgets(line, sizeof line, f) != NULL) {
                if (strstr(line, needle) != NULL) {
                    fclose(f);
                    return true;
                }
            }
            fclose(f);
        }
        usleep(20000);
    } while (mono_ms() < deadline);
    return false;
}

int th_hub_token(const struct th_central *c, const char *device_id, const char *key_b64,
                 uint64_t se, char *out, size_t size)
{
    size_t len;
    return iotc_sas_token_hub(iotc_span_from_cstr(key_b64), iotc_span_from_cstr(c->hub_host),
                              iotc_span_from_cstr(device_id), IOTC_SPAN_NULL, IOTC_SPAN_NULL, se,
                              out, size, &len) == IOTC_OK
               ? 0
               : -1;
}

int th_dps_token(const struct th_central *c, const char *reg_id, const char *key_b64, int style,
                 uint64_t se, char *out, size_t size)
{
    size_t len;
    return iotc_sas_token_dps(iotc_span_from_cstr(key_b64), iotc_span_from_cstr(c->id_scope),
                              iotc_span_from_cstr(reg_id), (enum iotc_sas_dps_style)style, se, out,
                              size, &len) == IOTC_OK
               ? 0
               : -1;
}

int th_derive_key(const struct th_central *c, const char *reg_id, char *out, size_t size)
{
    size_t len;
    return iotc_sas_derive_device_key(iotc_span_from_cstr(c->group_primary_key),
                                      iotc_span_from_cstr(reg_id), out, size, &len) == IOTC_OK
               ? 0
               : -1;
}

int th_count_telemetry(const struct th_central *c, const char *device_id)
{
    char path[400];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int n = -1;
    snprintf(path, sizeof path, "%s/central.db", c->data_dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM telemetry WHERE device_id=?", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(s, 1, device_id, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int(s, 0);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}
