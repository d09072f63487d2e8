/*
 * test_store_backup.c - store_backup.c without a server: which data dir files a backup takes,
 * a round trip (database rows and files, modes), and the refusals that only a hand-made file
 * can reach (a file name with a slash, a later format version); a refused restore leaves
 * nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "central/base/app.h"
#include "central/store/store_backup.h"

static void test_wants(void **state)
{
    (void)state;
    static const char *const yes[] = {"app.json",   "admin-token",    "ca.pem",
                                      "ca-key.pem", "server-key.pem", "future-file_2.bin"};
    static const char *const no[] = {"central.db",
                                     "central.db-wal",
                                     "central.db-shm",
                                     "central.db-journal",
                                     "serve.pid",
                                     "ports.json",
                                     "app.json.tmp",
                                     "x.backup.tmp-123",
                                     ".hidden",
                                     "",
                                     "a/b",
                                     "..",
                                     "sp ace",
                                     "new\nline"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!store_backup_wants(yes[i]))
            fail_msg("'%s' should be backed up", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (store_backup_wants(no[i]))
            fail_msg("'%s' should not be backed up", no[i]);
}

static char root[256];

static void path_in(char *out, size_t size, const char *a, const char *b)
{
    snprintf(out, size, "%s/%s%s%s", root, a, b ? "/" : "", b ? b : "");
}

static void put(const char *dir, const char *name, const char *text)
{
    char p[512];
    path_in(p, sizeof p, dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *get(const char *dir, const char *name)
{
    char p[512];
    path_in(p, sizeof p, dir, name);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void sql(const char *db_path, const char *statements)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, statements, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", statements, msg);
    sqlite3_close(db);
}

static int entries(const char *dir)
{
    char p[512];
    path_in(p, sizeof p, dir, NULL);
    DIR *d = opendir(p);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/test_store_backup.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(root) == NULL)
        return -1;
    char p[512];
    path_in(p, sizeof p, "app", NULL);
    if (mkdir(p, 0700) != 0)
        return -1;
    put("app", "app.json", "{\"idScope\":\"0ne00000001\"}\n");
    put("app", "ca.pem", "CA\n");
    put("app", "serve.pid", "123\n");
    put("app", "ports.json", "{}\n");
    put("app", "app.json.tmp", "half\n");
    path_in(p, sizeof p, "app", "central.db");
    sql(p, "PRAGMA journal_mode=WAL; CREATE TABLE devices(id TEXT PRIMARY KEY, data TEXT);"
           "CREATE TABLE telemetry(seq INTEGER PRIMARY KEY, device_id TEXT);"
           "INSERT INTO devices VALUES('d1','{}'),('d2','{}');"
           "INSERT INTO telemetry(device_id) VALUES('d1'),('d1'),('d2');");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trip(void **state)
{
    (void)state;
    char from[512], to[512], err[1500];
    path_in(from, sizeof from, "app", NULL);
    path_in(to, sizeof to, "b1", NULL);
    struct store_backup_info info;
    int rc = store_backup(from, to, false, &info, err, sizeof err);
    if (rc != CE_OK)
        fail_msg("backup: %s", err);
    assert_int_equal(info.files, 2); /* app.json, ca.pem */
    assert_int_equal(info.devices, 2);
    assert_int_equal(info.telemetry, 3);
    assert_true(info.db_pages > 0);
    struct stat st;
    assert_int_equal(stat(to, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* not into the data dir (the next backup would take it in) */
    char in_dir[512];
    path_in(in_dir, sizeof in_dir, "app", "self.backup");
    assert_int_equal(store_backup(from, in_dir, false, &info, err, sizeof err), CE_INVALID);
    assert_non_null(strstr(err, "is inside the data directory"));
    assert_int_not_equal(access(in_dir, F_OK), 0);
    /* not again without force; with force yes */
    assert_int_equal(store_backup(from, to, false, &info, err, sizeof err), CE_INVALID);
    assert_non_null(strstr(err, "exists (--force replaces it)"));
    assert_int_equal(store_backup(from, to, true, &info, err, sizeof err), CE_OK);

    char dir[512];
    path_in(dir, sizeof dir, "r1", NULL);
    rc = store_restore(to, dir, &info, err, sizeof err);
    if (rc != CE_OK)
        fail_msg("restore: %s", err);
    assert_int_equal(info.files, 2);
    assert_int_equal(info.devices, 2);
    assert_int_equal(info.telemetry, 3);
    assert_string_equal(get("r1", "app.json"), "{\"idScope\":\"0ne00000001\"}\n");
    assert_string_equal(get("r1", "ca.pem"), "CA\n");
    assert_null(get("r1", "serve.pid"));
    assert_null(get("r1", "ports.json"));
    assert_null(get("r1", "app.json.tmp"));
    assert_int_equal(entries("r1"), 3); /* central.db, app.json, ca.pem */
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char p[512];
    path_in(p, sizeof p, "r1", "ca.pem");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* the restored database has the rows and not the backup's own tables */
    path_in(p, sizeof p, "r1", "central.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM devices), (SELECT count(*) "
                                        "FROM sqlite_master WHERE name LIKE 'iotc_backup%')",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 2);
    assert_int_equal(sqlite3_column_int(s, 1), 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    /* a second restore into the same (now full) dir is refused */
    assert_int_equal(store_restore(to, dir, &info, err, sizeof err), CE_INVALID);
    assert_non_null(strstr(err, "is not empty"));
}

/* Hand-made backups: a file name with a slash, a later version: refused, nothing left. */
static void test_refused_backups(void **state)
{
    (void)state;
    char from[512], good[512], bad[512], dir[512], err[1500];
    struct store_backup_info info;
    path_in(from, sizeof from, "app", NULL);
    path_in(good, sizeof good, "b2", NULL);
    assert_int_equal(store_backup(from, good, false, &info, err, sizeof err), CE_OK);

    path_in(bad, sizeof bad, "b-slash", NULL);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, bad);
    assert_int_equal(system(cmd), 0);
    sql(bad, "INSERT INTO iotc_backup_files VALUES('../escape', 384, x'41')");
    path_in(dir, sizeof dir, "r-slash", NULL);
    assert_int_equal(store_restore(bad, dir, &info, err, sizeof err), CE_INVALID);
    assert_non_null(strstr(err, "'../escape': refused"));
    assert_int_equal(entries("r-slash"), -1); /* made and removed again */
    char esc[512];
    path_in(esc, sizeof esc, "escape", NULL);
    assert_int_not_equal(access(esc, F_OK), 0);

    path_in(bad, sizeof bad, "b-v2", NULL);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, bad);
    assert_int_equal(system(cmd), 0);
    sql(bad, "UPDATE iotc_backup SET value='2' WHERE key='version'");
    /* an existing empty dir stays, empty */
    path_in(dir, sizeof dir, "r-v2", NULL);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(store_restore(bad, dir, &info, err, sizeof err), CE_INVALID);
    assert_non_null(strstr(err, "is a backup of version 2; this iotc-central restores version 1"));
    assert_int_equal(entries("r-v2"), 0);

    /* a database that is not a backup, and a file that is not a database */
    path_in(bad, sizeof bad, "app", "central.db");
    assert_int_equal(store_restore(bad, dir, &info, err, sizeof err), CE_INVALID);
    assert_non_null(strstr(err, "is not an iotc-central backup"));
    path_in(bad, sizeof bad, "app", "app.json");
    assert_int_equal(store_restore(bad, dir, &info, err, sizeof err), CE_INVALID);
    assert_non_null(strstr(err, "is not an iotc-central backup"));
    assert_int_equal(entries("r-v2"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wants),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused_backups),
    };
    return cmocka_run_group_tests_name("store_backup", tests, setup, teardown);
}
