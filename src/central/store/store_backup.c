/*
 * store_backup.c - a data directory in one SQLite file and back (see store_backup.h).
 */
#include "central/store/store_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "central/base/app.h"

#ifndef IOTC_VERSION
#define IOTC_VERSION "unknown"
#endif

/* The files a data dir holds are small (keys, certificates, app.json); a bigger one is not
 * ours. */
#define FILE_MAX (16 * 1024 * 1024)
/* How long a backup step waits for a database another process holds (WAL recovery). */
#define BUSY_WAIT_MS 10000

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t size, int rc,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return rc;
}

/* Open the SQLite database @p path with @p flags into *@p db; on failure *@p db is NULL and @p code
 * is returned with the reason in @p err. */
static int open_db(const char *path, int flags, int code, sqlite3 **db, char *err, size_t size)
{
    *db = NULL;
    if (sqlite3_open_v2(path, db, flags, NULL) == SQLITE_OK)
        return CE_OK;
    int rc = fail(err, size, code, "cannot open %s: %s", path,
                  *db ? sqlite3_errmsg(*db) : "out of memory");
    sqlite3_close(*db);
    *db = NULL;
    return rc;
}

/* Create the empty file @p path for a database: here, not by SQLite, so it is 0600, never made
 * through a symlink and never an existing file. 0, or -1 with errno set. */
static int create_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

bool store_backup_wants(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return false;
    /* the database travels through the backup API; the rest is the running server's */
    if (strcmp(name, "central.db") == 0 || strncmp(name, "central.db-", 11) == 0 ||
        strcmp(name, "serve.pid") == 0 || strcmp(name, "ports.json") == 0)
        return false;
    /* temporary files of an atomic write (NAME.tmp) or of a backup (NAME.tmp-PID) */
    return strstr(name, ".tmp") == NULL;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t size)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return CE_OK;
    fail(err, size, CE_STORE, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return CE_STORE;
}

static long long count_rows(sqlite3 *db, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *s = NULL;
    long long n = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* All of src's "main" into dst's, in one step: one read transaction, a consistent copy. */
static int copy_db(sqlite3 *dst, sqlite3 *src, struct store_backup_info *info, char *err,
                   size_t size)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL)
        return fail(err, size, CE_STORE, "cannot start the copy: %s", sqlite3_errmsg(dst));
    int rc;
    for (int waited = 0;; waited += 50) {
        rc = sqlite3_backup_step(b, -1);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= BUSY_WAIT_MS)
            break;
        usleep(50 * 1000);
    }
    info->db_pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return fail(err, size, CE_STORE, "copying the database failed: %s", sqlite3_errstr(rc));
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(dst, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        info->db_bytes = info->db_pages * sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return CE_OK;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static void fsync_dir_of(const char *path)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    fsync_dir(dir);
}

/* The whole file DIR/NAME (a regular file, at most FILE_MAX bytes), malloc'ed. */
static int read_file(const char *dir, const char *name, char **out, size_t *len, unsigned *mode,
                     char *err, size_t size)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(err, size, CE_IO, "cannot read %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
        close(fd);
        return fail(err, size, CE_IO, "%s: not a regular file of at most 16 MiB", path);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf != NULL && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || got != (size_t)st.st_size) {
        free(buf);
        return fail(err, size, CE_IO, "cannot read %s (it changed while being read?)", path);
    }
    *out = buf;
    *len = got;
    *mode = st.st_mode & 0777;
    return CE_OK;
}

/* Every file store_backup_wants() of @p dir into iotc_backup_files. */
static int add_files(sqlite3 *dst, const char *dir, struct store_backup_info *info, char *err,
                     size_t size)
{
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(dst, "INSERT INTO iotc_backup_files(name, mode, data) VALUES(?,?,?)", -1,
                           &ins, NULL) != SQLITE_OK)
        return fail(err, size, CE_STORE, "%s", sqlite3_errmsg(dst));
    DIR *d = opendir(dir);
    if (d == NULL) {
        sqlite3_finalize(ins);
        return fail(err, size, CE_IO, "cannot list %s: %s", dir, strerror(errno));
    }
    int rc = CE_OK;
    struct dirent *e;
    while (rc == CE_OK && (e = readdir(d)) != NULL) {
        if (!store_backup_wants(e->d_name))
            continue;
        char path[1200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* gone meanwhile, or not a file: not the server's */
        char *data = NULL;
        size_t len = 0;
        unsigned mode = 0;
        rc = read_file(dir, e->d_name, &data, &len, &mode, err, size);
        if (rc != CE_OK)
            break;
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, e->d_name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(ins, 2, (int)mode);
        sqlite3_bind_blob64(ins, 3, data, len, SQLITE_TRANSIENT);
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = fail(err, size, CE_STORE, "storing %s: %s", e->d_name, sqlite3_errmsg(dst));
        else
            info->files++;
        free(data);
    }
    closedir(d);
    sqlite3_finalize(ins);
    return rc;
}

static void iso_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_backup(sqlite3 *dst, const char *data_dir, bool has_db,
                        struct store_backup_info *info, char *err, size_t size)
{
    if (has_db) {
        char db_path[1200];
        snprintf(db_path, sizeof db_path, "%s/central.db", data_dir);
        sqlite3 *src = NULL;
        /* read-only: a backup never writes the database, running server or not (SQLite may
         * leave an empty -wal and -shm next to a stopped server's database) */
        int orc = open_db(db_path, SQLITE_OPEN_READONLY, CE_STORE, &src, err, size);
        if (orc != CE_OK)
            return orc;
        sqlite3_busy_timeout(src, BUSY_WAIT_MS);
        int rc = copy_db(dst, src, info, err, size);
        sqlite3_close(src);
        if (rc != CE_OK)
            return rc;
        /* one self-contained file: no -wal next to it */
        if ((rc = exec(dst, "PRAGMA journal_mode=DELETE", err, size)) != CE_OK)
            return rc;
        info->devices = count_rows(dst, "devices");
        info->telemetry = count_rows(dst, "telemetry");
    }
    iso_now(info->created);
    char meta[512];
    snprintf(meta, sizeof meta,
             "INSERT INTO iotc_backup(key, value) VALUES('format', '%s'), ('version', '%d'),"
             " ('created', '%s'), ('software', 'iotc-central %s');",
             STORE_BACKUP_FORMAT, STORE_BACKUP_VERSION, info->created, IOTC_VERSION);
    int rc = exec(dst,
                  "BEGIN;"
                  "CREATE TABLE iotc_backup(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                  "CREATE TABLE iotc_backup_files(name TEXT PRIMARY KEY, mode INTEGER NOT NULL,"
                  " data BLOB NOT NULL);",
                  err, size);
    if (rc == CE_OK)
        rc = exec(dst, meta, err, size);
    if (rc == CE_OK)
        rc = add_files(dst, data_dir, info, err, size);
    if (rc == CE_OK)
        rc = exec(dst, "COMMIT", err, size);
    return rc;
}

/* Whether the file @p to would be in @p data_dir or below it (where the next backup would
 * take it in again). Its directory must exist. */
static bool inside(const char *data_dir, const char *to)
{
    char dir[1200], real_dir[PATH_MAX], real_data[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", to);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    if (realpath(dir, real_dir) == NULL || realpath(data_dir, real_data) == NULL)
        return false;
    size_t n = strlen(real_data);
    return strncmp(real_dir, real_data, n) == 0 && (real_dir[n] == '\0' || real_dir[n] == '/');
}

int store_backup(const char *data_dir, const char *to, bool force, struct store_backup_info *info,
                 char *err, size_t size)
{
    memset(info, 0, sizeof *info);
    char path[1200], tmp[1300];
    struct stat st;
    if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail(err, size, CE_INVALID, "no data directory %s", data_dir);
    snprintf(path, sizeof path, "%s/app.json", data_dir);
    if (access(path, R_OK) != 0)
        return fail(err, size, CE_INVALID, "no application in %s (no app.json)", data_dir);
    snprintf(path, sizeof path, "%s/central.db", data_dir);
    bool has_db = stat(path, &st) == 0; /* `init` alone makes no database yet */
    if (inside(data_dir, to))
        return fail(err, size, CE_INVALID,
                    "%s is inside the data directory %s: put backups elsewhere", to, data_dir);
    if (!force && lstat(to, &st) == 0)
        return fail(err, size, CE_INVALID, "%s exists (--force replaces it)", to);
    if (force && lstat(to, &st) == 0 && !S_ISREG(st.st_mode))
        return fail(err, size, CE_INVALID, "%s exists and is not a file", to);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", to, (long)getpid());
    if (create_private(tmp) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return fail(err, size, CE_INVALID,
                        "cannot create %s: its directory does not exist (%s)", to, strerror(errno));
        return fail(err, size, CE_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    sqlite3 *dst = NULL;
    int rc = open_db(tmp, SQLITE_OPEN_READWRITE, CE_STORE, &dst, err, size);
    if (rc == CE_OK)
        rc = write_backup(dst, data_dir, has_db, info, err, size);
    if (sqlite3_close(dst) != SQLITE_OK && rc == CE_OK)
        rc = fail(err, size, CE_STORE, "cannot close %s", tmp);
    if (rc == CE_OK) {
        if (force) {
            if (rename(tmp, to) != 0)
                rc = fail(err, size, CE_IO, "cannot rename %s to %s: %s", tmp, to, strerror(errno));
        } else if (link(tmp, to) != 0) { /* atomically "only if absent" */
            rc = fail(err, size, errno == EEXIST ? CE_INVALID : CE_IO, "cannot create %s: %s", to,
                      errno == EEXIST ? "it exists (--force replaces it)" : strerror(errno));
        }
    }
    (void)unlink(tmp);
    char side[1400];
    snprintf(side, sizeof side, "%s-journal", tmp);
    (void)unlink(side);
    if (rc == CE_OK)
        fsync_dir_of(to);
    return rc;
}

/* ---------------------------------------------------------------- restore */

/* The backup's format and version are ours. */
static int check_backup(sqlite3 *src, const char *from, struct store_backup_info *info, char *err,
                        size_t size)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(src, "SELECT key, value FROM iotc_backup", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        int code = sqlite3_errcode(src);
        sqlite3_finalize(s);
        if (code == SQLITE_NOTADB || code == SQLITE_ERROR || code == SQLITE_CORRUPT)
            return fail(err, size, CE_INVALID, "%s is not an iotc-central backup (%s)", from,
                        sqlite3_errmsg(src));
        return fail(err, size, CE_STORE, "cannot read %s: %s", from, sqlite3_errmsg(src));
    }
    bool ours = false;
    long version = -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        const char *v = (const char *)sqlite3_column_text(s, 1);
        if (k == NULL || v == NULL)
            continue;
        if (strcmp(k, "format") == 0)
            ours = strcmp(v, STORE_BACKUP_FORMAT) == 0;
        else if (strcmp(k, "version") == 0)
            version = strtol(v, NULL, 10);
        else if (strcmp(k, "created") == 0)
            snprintf(info->created, sizeof info->created, "%s", v);
    }
    sqlite3_finalize(s);
    if (!ours)
        return fail(err, size, CE_INVALID, "%s is not an iotc-central backup", from);
    if (version != STORE_BACKUP_VERSION)
        return fail(err, size, CE_INVALID,
                    "%s is a backup of version %ld; this iotc-central restores version %d", from,
                    version, STORE_BACKUP_VERSION);
    return CE_OK;
}

/* Write @p len bytes to the new file DIR/NAME, mode 0600, synced. */
static int write_new(const char *dir, const char *name, const void *data, size_t len, char *err,
                     size_t size)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fail(err, size, CE_IO, "cannot create %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    int rc = done == len && fsync(fd) == 0 ? CE_OK : CE_IO;
    if (rc != CE_OK)
        fail(err, size, CE_IO, "cannot write %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

static int restore_files(sqlite3 *src, const char *dir, struct store_backup_info *info, char *err,
                         size_t size)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(src, "SELECT name, data FROM iotc_backup_files ORDER BY name", -1, &s,
                           NULL) != SQLITE_OK)
        return fail(err, size, CE_INVALID, "the backup has no file table: %s", sqlite3_errmsg(src));
    int rc = CE_OK, step;
    while (rc == CE_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        if (name == NULL || !store_backup_wants(name)) {
            rc = fail(err, size, CE_INVALID, "the backup holds a file named '%.80s': refused",
                      name ? name : "");
            break;
        }
        const void *data = sqlite3_column_blob(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        rc = write_new(dir, name, data != NULL ? data : "", len, err, size);
        if (rc == CE_OK)
            info->files++;
    }
    if (rc == CE_OK && step != SQLITE_DONE)
        rc = fail(err, size, CE_STORE, "reading the backup's files: %s", sqlite3_errmsg(src));
    sqlite3_finalize(s);
    return rc;
}

/* @p dir exists and has no entries. */
static int dir_state(const char *dir, bool *exists, char *err, size_t size)
{
    struct stat st;
    *exists = false;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT)
            return CE_OK;
        return fail(err, size, CE_INVALID, "cannot use %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return fail(err, size, CE_INVALID, "%s exists and is not a directory", dir);
    *exists = true;
    DIR *d = opendir(dir);
    if (d == NULL)
        return fail(err, size, CE_INVALID, "cannot list %s: %s", dir, strerror(errno));
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)) != NULL)
        empty &= strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty)
        return fail(err, size, CE_INVALID,
                    "%s is not empty: restore makes a new data directory (name a new or empty one)",
                    dir);
    return CE_OK;
}

/* Undo a failed restore: everything in @p dir is ours (it was empty or new). */
static void clear_dir(const char *dir, bool remove_dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            (void)unlink(path);
        }
        closedir(d);
    }
    if (remove_dir)
        (void)rmdir(dir);
}

static int restore_into(sqlite3 *src, const char *data_dir, struct store_backup_info *info,
                        char *err, size_t size)
{
    char db_path[1200];
    snprintf(db_path, sizeof db_path, "%s/central.db", data_dir);
    if (create_private(db_path) != 0)
        return fail(err, size, CE_IO, "cannot create %s: %s", db_path, strerror(errno));
    sqlite3 *dst = NULL;
    int rc = open_db(db_path, SQLITE_OPEN_READWRITE, CE_STORE, &dst, err, size);
    if (rc == CE_OK)
        rc = copy_db(dst, src, info, err, size);
    if (rc == CE_OK)
        rc = exec(dst, "BEGIN; DROP TABLE iotc_backup; DROP TABLE iotc_backup_files; COMMIT;", err,
                  size);
    if (rc == CE_OK) {
        sqlite3_stmt *s = NULL;
        const char *verdict = NULL;
        if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            verdict = (const char *)sqlite3_column_text(s, 0);
        if (verdict == NULL || strcmp(verdict, "ok") != 0)
            rc = fail(err, size, CE_STORE, "the restored database fails its check: %.200s",
                      verdict ? verdict : sqlite3_errmsg(dst));
        sqlite3_finalize(s);
    }
    if (rc == CE_OK) {
        info->devices = count_rows(dst, "devices");
        info->telemetry = count_rows(dst, "telemetry");
    }
    if (sqlite3_close(dst) != SQLITE_OK && rc == CE_OK)
        rc = fail(err, size, CE_STORE, "cannot close %s", db_path);
    if (rc == CE_OK)
        rc = restore_files(src, data_dir, info, err, size);
    return rc;
}

int store_restore(const char *from, const char *data_dir, struct store_backup_info *info, char *err,
                  size_t size)
{
    memset(info, 0, sizeof *info);
    struct stat st;
    if (stat(from, &st) != 0)
        return fail(err, size, CE_INVALID, "cannot read %s: %s", from, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(err, size, CE_INVALID, "%s is not a file", from);
    bool existed = false;
    int rc = dir_state(data_dir, &existed, err, size);
    if (rc != CE_OK)
        return rc;
    sqlite3 *src = NULL;
    rc = open_db(from, SQLITE_OPEN_READONLY, CE_INVALID, &src, err, size);
    if (rc != CE_OK)
        return rc;
    rc = check_backup(src, from, info, err, size);
    if (rc == CE_OK) {
        if (!existed && mkdir(data_dir, 0700) != 0)
            rc = fail(err, size, errno == ENOENT ? CE_INVALID : CE_IO, "cannot create %s: %s",
                      data_dir, strerror(errno));
        else if (chmod(data_dir, 0700) != 0)
            rc = fail(err, size, CE_IO, "cannot chmod 0700 %s: %s", data_dir, strerror(errno));
        if (rc == CE_OK) {
            rc = restore_into(src, data_dir, info, err, size);
            if (rc != CE_OK)
                clear_dir(data_dir, !existed);
            else {
                fsync_dir(data_dir);
                fsync_dir_of(data_dir);
            }
        }
    }
    sqlite3_close(src);
    return rc;
}
