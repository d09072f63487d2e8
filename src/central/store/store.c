/*
 * store.c - SQLite persistence with a writer thread and group commit (see store.h).
 *
 * Threads: the loop thread creates ops and pushes them on `queue` (mutex + condvar). The
 * writer thread takes the whole queue (up to BATCH_MAX ops), runs it in one transaction,
 * commits, then moves the ops that carry a callback to `done` and wakes the loop with
 * event_active() (libevent is initialised with evthread_use_pthreads()).
 *
 * Telemetry is staged (see store.h): the writer inserts each row into telemetry_staging, which has
 * no index but its row id, so a commit writes the table's last page or two whatever the devices;
 * between commits, once MOVE_ROWS rows are staged or the oldest is MOVE_AGE_MS old (the writer
 * waits with a timeout for that while idle), the staged rows move into telemetry_main with their
 * seq, in slices of about MOVE_SLICE rows (the rows of a range of devices), one transaction each,
 * the writer committing what was queued between two slices: each leaf page of the per-device
 * indexes is written once per move for all the rows it receives, not once per commit, and a
 * commit waits for one slice at most.
 * The writer assigns seq itself, above the highest of both tables and of telemetry_seq's mark
 * (read once per transaction; the mark is raised in the same transaction), so a seq is never
 * given twice, even after the rows that held the highest were deleted.
 *
 * Seal groups: the writer only takes ops that are sealed. What one loop callback queues (a
 * state change and whatever the event bus's subscribers queue about it, e.g. data export's
 * export_events row) is sealed together when `seal_ev` runs, right after that callback, and a
 * group is never split between two transactions: a change and the record of it commit together.
 * A callback whose writes nothing waits on may defer its group (store_defer_seal): it is then
 * sealed with the next group that is not deferred, or after DEFER_MS.
 */
#include "central/store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "central/base/check.h"
#include "central/base/log.h"

#define BATCH_MAX 8192
#define SCHEMA_VERSION 3
#define MOVE_ROWS 8192
#define MOVE_AGE_MS 10000
#define DEFER_MS 100 /* the longest a deferred group waits (store_defer_seal) */
#define MOVE_SLICE 1536
#define DELAY_BELOW 64 /* --commit-delay: a batch of this many sealed ops commits at once */

enum op_kind { OP_NOP, OP_TELEMETRY, OP_PUT_DEVICE, OP_DEL_DEVICE, OP_PUT_C2D, OP_DEL_C2D, OP_SQL };

struct store_op {
    STAILQ_ENTRY(store_op) link; /* the writer's queue, or its batch */
    enum op_kind kind;
    bool group_end; /* the last op of a seal group */
    store_done_cb cb;
    void *ctx;
    uint32_t tag;
    int rc;
    int64_t i1, i2;           /* telemetry: enqueued_ms; c2d: seq, expiry */
    int64_t i3;               /* c2d enqueued */
    const char *s1, *s2, *s3; /* point into data[] */
    const void *blob;
    size_t blob_len;
    struct store_arg *args; /* OP_SQL: s1 = statement, args[i1] point into data[] */
    char data[];
};

enum stmt_id {
    ST_TELEMETRY,
    ST_PUT_DEVICE,
    ST_DEL_DEVICE,
    ST_DEL_DEVICE_C2D,
    ST_PUT_C2D,
    ST_DEL_C2D,
    ST_MAX_SEQ,
    ST_SET_SEQ,
    ST_MOVE_END,
    ST_MOVE_BOUND,
    ST_MOVE,
    ST_MOVE_CLEAR,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    ("INSERT INTO telemetry_staging(seq, device_id, enqueued_ms, component, props, payload)"
     " VALUES(?,?,?,?,?,?)"),
    "INSERT INTO devices(id, data) VALUES(?,?) ON CONFLICT(id) DO UPDATE SET data=excluded.data",
    "DELETE FROM devices WHERE id=?",
    "DELETE FROM c2d WHERE device_id=?",
    ("INSERT OR REPLACE INTO c2d(seq, device_id, enqueued_ms, expiry_ms, bag, payload) "
     "VALUES(?,?,?,?,?,?)"),
    "DELETE FROM c2d WHERE seq=?",
    ("SELECT MAX(last, COALESCE((SELECT MAX(seq) FROM telemetry_main), 0),"
     " COALESCE((SELECT MAX(seq) FROM telemetry_staging), 0)) FROM telemetry_seq"),
    "UPDATE telemetry_seq SET last=?1 WHERE last < ?1",
    ("SELECT COALESCE(MAX(seq), 0) FROM telemetry_staging"),
    "SELECT device_id FROM telemetry_staging WHERE seq <= ?1",
    ("INSERT INTO telemetry_main(seq, device_id, enqueued_ms, component, props, payload)"
     " SELECT seq, device_id, enqueued_ms, component, props, payload FROM telemetry_staging"
     " WHERE seq <= ?1 AND (?2 IS NULL OR device_id <= ?2) ORDER BY seq"),
    ("DELETE FROM telemetry_staging"
     " WHERE seq <= ?1 AND (?2 IS NULL OR device_id <= ?2)"),
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    STAILQ_HEAD(op_queue, store_op) q;
    size_t q_len;
    size_t unsealed;       /* ops at the tail of q the writer may not take yet */
    struct store_op *tail; /* the op queued last (still in q while unsealed > 0) */
    size_t in_flight;      /* taken by the writer, not yet committed */
    bool stop;
    struct op_queue done; /* run, waiting for their callbacks on the loop */
    struct event *done_ev;
    struct event *seal_ev;  /* seals what the current loop callback queued */
    bool seal_armed;        /* loop thread only */
    struct event *defer_ev; /* timer: seals a deferred group nothing sealed since */
    bool defer;             /* loop thread only: what is unsealed may wait (store_defer_seal) */
    struct event *drain_ev; /* one-shot "backlog is low again" notification */
    bool drain_armed;
    size_t drain_level;
    void (*drain_cb)(void *ctx);
    void *drain_ctx;
    pthread_t loop; /* the thread that opened the store: every store_* call but the writer's */
    /* writer thread only: */
    int64_t next_seq;     /* the seq of the next telemetry row of this transaction, 0: unknown */
    size_t staged;        /* rows in telemetry_staging (an upper bound) */
    int64_t staged_since; /* monotonic ms when the oldest of them was committed */
    bool move_failed;     /* logged once */
    bool moving;          /* a move is under way: */
    int64_t move_end;     /* it moves the rows staged when it began, seq <= move_end, */
    char **move_cut;      /* device after device in id order; slice i moves the devices above */
    size_t move_cuts;     /* move_cut[i - 1] up to move_cut[i] (the last one: all the rest) */
    size_t move_i;        /* the next slice */
    int64_t delay_us;     /* --commit-delay (set before the writer starts) */
    /* under mu: */
    size_t move_rows; /* move once this many rows are staged (0: never) */
    int64_t move_age_ms;
    struct store_stats stats;   /* under mu; queue_depth is filled in by store_stats_get() */
    size_t move_slice;          /* rows per move transaction */
    uint64_t moves;             /* moves completed */
    struct store_move_stats ms; /* slices: the writer's pauses */
};

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS devices(id TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS telemetry(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
    " enqueued_ms INTEGER NOT NULL, component TEXT, props TEXT, payload BLOB);"
    "CREATE INDEX IF NOT EXISTS telemetry_device ON telemetry(device_id, seq);"
    "CREATE TABLE IF NOT EXISTS c2d(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
    " enqueued_ms INTEGER NOT NULL, expiry_ms INTEGER NOT NULL, bag TEXT NOT NULL, payload BLOB);"
    "CREATE INDEX IF NOT EXISTS c2d_device ON c2d(device_id, seq);";

/* Version 2: telemetry becomes two tables behind a view of the old name and columns. New rows
 * are committed into telemetry_staging (no index), and moved in batches into telemetry_main
 * (the old table, with its per-device indexes). The view is what every reader queries: each row
 * is in exactly one of the two tables in any snapshot, with the same seq before and after its
 * move. An INSERT into the view (a test, a tool) goes straight to telemetry_main, above every
 * seq of both tables. */
static const char schema_v2[] =
    "ALTER TABLE telemetry RENAME TO telemetry_main;"
    "CREATE INDEX IF NOT EXISTS telemetry_device_time ON telemetry_main(device_id, enqueued_ms);"
    "CREATE TABLE telemetry_staging(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
    " enqueued_ms INTEGER NOT NULL, component TEXT, props TEXT, payload BLOB);"
    "CREATE VIEW telemetry AS"
    " SELECT seq, device_id, enqueued_ms, component, props, payload FROM telemetry_main"
    " UNION ALL"
    " SELECT seq, device_id, enqueued_ms, component, props, payload FROM telemetry_staging;"
    "CREATE TRIGGER telemetry_insert INSTEAD OF INSERT ON telemetry BEGIN"
    " INSERT INTO telemetry_main(seq, device_id, enqueued_ms, component, props, payload)"
    " VALUES(COALESCE(NEW.seq, MAX(COALESCE((SELECT MAX(seq) FROM telemetry_main), 0),"
    " COALESCE((SELECT MAX(seq) FROM telemetry_staging), 0)) + 1),"
    " NEW.device_id, NEW.enqueued_ms, NEW.component, NEW.props, NEW.payload);"
    " END;";

/* Version 3: the highest telemetry seq ever given, kept in the transactions that give seqs. The
 * tables' MAX(seq) goes back when the device that held the newest rows is deleted; seq may not
 * (an export cursor past those rows would skip the next ones), so the writer numbers above
 * this mark too. Being a row of the database, it goes through restarts, backup and restore. */
static const char schema_v3[] =
    "CREATE TABLE telemetry_seq(id INTEGER PRIMARY KEY CHECK(id = 1), last INTEGER NOT NULL);"
    "INSERT INTO telemetry_seq(id, last) VALUES(1, MAX(COALESCE((SELECT MAX(seq) FROM"
    " telemetry_main), 0), COALESCE((SELECT MAX(seq) FROM telemetry_staging), 0)));"
    "DROP TRIGGER telemetry_insert;"
    "CREATE TRIGGER telemetry_insert INSTEAD OF INSERT ON telemetry BEGIN"
    " INSERT INTO telemetry_main(seq, device_id, enqueued_ms, component, props, payload)"
    " VALUES(COALESCE(NEW.seq, (SELECT MAX(last, COALESCE((SELECT MAX(seq) FROM telemetry_main),"
    " 0), COALESCE((SELECT MAX(seq) FROM telemetry_staging), 0)) FROM telemetry_seq) + 1),"
    " NEW.device_id, NEW.enqueued_ms, NEW.component, NEW.props, NEW.payload);"
    " UPDATE telemetry_seq SET last = MAX(last, (SELECT MAX(seq) FROM telemetry_main));"
    " END;";

/* The application's CA certificates (hub/x509.c), one JSON record per name. */
static const char schema_cas[] =
    "CREATE TABLE IF NOT EXISTS x509_cas(name TEXT PRIMARY KEY, data TEXT NOT NULL);";

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("sqlite: %s (%s)", err ? err : "?", sql);
        sqlite3_free(err);
        return CE_STORE;
    }
    return CE_OK;
}

static int migrate(sqlite3 *db)
{
    sqlite3_stmt *s;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return CE_STORE;
    if (sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > SCHEMA_VERSION) {
        log_error("database schema %d is newer than this program (%d)", version, SCHEMA_VERSION);
        return CE_STORE;
    }
    if (version < 1 && (exec(db, "BEGIN") != CE_OK || exec(db, schema_v1) != CE_OK ||
                        exec(db, "PRAGMA user_version=1") != CE_OK || exec(db, "COMMIT") != CE_OK))
        return CE_STORE;
    if (version < 2 &&
        (exec(db, "BEGIN") != CE_OK || exec(db, schema_v2) != CE_OK ||
         exec(db, "PRAGMA user_version=2") != CE_OK || exec(db, "COMMIT") != CE_OK)) {
        exec(db, "ROLLBACK");
        return CE_STORE;
    }
    if (version < 3 &&
        (exec(db, "BEGIN") != CE_OK || exec(db, schema_v3) != CE_OK ||
         exec(db, "PRAGMA user_version=3") != CE_OK || exec(db, "COMMIT") != CE_OK)) {
        exec(db, "ROLLBACK");
        return CE_STORE;
    }
    return CE_OK;
}

/* ---------------------------------------------------------------- writer thread */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
    return mono_us() / 1000;
}

/* Step a prepared statement once and make it ready for the next use. SQLITE_DONE or error. */
static int step_reset(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* OP_SQL (store_exec): prepared per op; these are rare next to telemetry. */
static int run_sql(struct store *st, struct store_op *op)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, op->s1, -1, &s, NULL) != SQLITE_OK) {
        log_error("sqlite prepare failed: %s (%s)", sqlite3_errmsg(st->db), op->s1);
        return CE_STORE;
    }
    for (int i = 0; i < (int)op->i1; i++) {
        const struct store_arg *a = &op->args[i];
        if (a->type == STORE_ARG_INT)
            sqlite3_bind_int64(s, i + 1, a->i);
        else if (a->type == STORE_ARG_TEXT && a->s != NULL)
            sqlite3_bind_text(s, i + 1, a->s, -1, SQLITE_STATIC);
        else if (a->type == STORE_ARG_BLOB)
            sqlite3_bind_blob(s, i + 1, a->s, (int)a->len, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, i + 1);
    }
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        log_error("sqlite write failed: %s (%s)", sqlite3_errmsg(st->db), op->s1);
        return CE_STORE;
    }
    return CE_OK;
}

static int run_op(struct store *st, struct store_op *op)
{
    sqlite3_stmt *s = NULL, *s2 = NULL;
    switch (op->kind) {
    case OP_NOP:
        return CE_OK;
    case OP_TELEMETRY:
        if (st->next_seq == 0) { /* first row of this transaction: above both tables */
            sqlite3_stmt *m = st->st[ST_MAX_SEQ];
            if (sqlite3_step(m) == SQLITE_ROW)
                st->next_seq = sqlite3_column_int64(m, 0) + 1;
            sqlite3_reset(m);
            if (st->next_seq == 0) {
                log_error("sqlite: cannot read the last telemetry seq: %s", sqlite3_errmsg(st->db));
                return CE_STORE;
            }
        }
        s = st->st[ST_TELEMETRY];
        sqlite3_bind_int64(s, 1, st->next_seq++);
        bind_text(s, 2, op->s1);
        sqlite3_bind_int64(s, 3, op->i1);
        bind_text(s, 4, op->s2);
        bind_text(s, 5, op->s3);
        sqlite3_bind_blob(s, 6, op->blob, (int)op->blob_len, SQLITE_STATIC);
        break;
    case OP_PUT_DEVICE:
        s = st->st[ST_PUT_DEVICE];
        bind_text(s, 1, op->s1);
        bind_text(s, 2, op->s2);
        break;
    case OP_DEL_DEVICE:
        s = st->st[ST_DEL_DEVICE];
        bind_text(s, 1, op->s1);
        s2 = st->st[ST_DEL_DEVICE_C2D];
        bind_text(s2, 1, op->s1);
        break;
    case OP_PUT_C2D:
        s = st->st[ST_PUT_C2D];
        sqlite3_bind_int64(s, 1, op->i1);
        bind_text(s, 2, op->s1);
        sqlite3_bind_int64(s, 3, op->i3);
        sqlite3_bind_int64(s, 4, op->i2);
        bind_text(s, 5, op->s2);
        sqlite3_bind_blob(s, 6, op->blob, (int)op->blob_len, SQLITE_STATIC);
        break;
    case OP_DEL_C2D:
        s = st->st[ST_DEL_C2D];
        sqlite3_bind_int64(s, 1, op->i1);
        break;
    case OP_SQL:
        return run_sql(st, op);
    }
    int rc = step_reset(s);
    if (rc == SQLITE_DONE && s2 != NULL)
        rc = step_reset(s2);
    if (rc != SQLITE_DONE) {
        log_error("sqlite write failed: %s", sqlite3_errmsg(st->db));
        return CE_STORE;
    }
    return CE_OK;
}

static int step_simple(struct store *st, enum stmt_id id)
{
    return step_reset(st->st[id]) == SQLITE_DONE ? CE_OK : CE_STORE;
}

/* One slice of a move, in one transaction: a crash before its commit leaves its rows staged, after
 * it moved; a reader's snapshot sees each row exactly once. A move takes the rows staged when it
 * begins, device after device in id order, about move_slice rows (all of a device's rows) per
 * slice, cut where cuts_plan() found at its first slice: each slice writes the index leaves of its
 * own devices only, so a move writes each leaf once whatever the count of slices, as a move in one
 * transaction did. The writer commits what was queued between two slices, so a commit waits for one
 * slice at most. */
static void cuts_free(struct store *st)
{
    for (size_t i = 0; i < st->move_cuts; i++)
        free(st->move_cut[i]);
    free(st->move_cut);
    st->move_cut = NULL;
    st->move_cuts = 0;
    st->move_i = 0;
}

struct move_dev {
    char *id;
    size_t rows;
};

static int dev_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct move_dev *const *)a)->id,
                  (*(const struct move_dev *const *)b)->id);
}

static uint32_t id_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* The staged rows of each device (cuts_plan()'s working memory). */
struct move_count {
    struct move_dev *dev;
    size_t ndev, capdev;
    uint32_t *slot; /* open addressing: dev index + 1, 0: empty */
    size_t nslot;
};

static void count_free(struct move_count *c)
{
    for (size_t i = 0; i < c->ndev; i++)
        free(c->dev[i].id);
    free(c->dev);
    free(c->slot);
}

/* Count one row of device @p id (@p n bytes). CE_NOMEM if out of memory. */
static int count_row(struct move_count *c, const char *id, size_t n)
{
    if (2 * (c->ndev + 1) > c->nslot) { /* grow and rehash: at most half full */
        size_t ns = c->nslot ? 2 * c->nslot : 256;
        uint32_t *sl = calloc(ns, sizeof *sl);
        if (sl == NULL)
            return CE_NOMEM;
        for (size_t d = 0; d < c->ndev; d++) {
            size_t h = id_hash(c->dev[d].id, strlen(c->dev[d].id)) & (ns - 1);
            while (sl[h] != 0)
                h = (h + 1) & (ns - 1);
            sl[h] = (uint32_t)d + 1;
        }
        free(c->slot);
        c->slot = sl;
        c->nslot = ns;
    }
    size_t h = id_hash(id, n) & (c->nslot - 1);
    for (; c->slot[h] != 0; h = (h + 1) & (c->nslot - 1)) {
        struct move_dev *d = &c->dev[c->slot[h] - 1];
        if (strncmp(d->id, id, n) == 0 && d->id[n] == '\0') {
            d->rows++;
            return CE_OK;
        }
    }
    if (c->ndev == c->capdev) {
        size_t cap = c->capdev ? 2 * c->capdev : 64;
        struct move_dev *nd = realloc(c->dev, cap * sizeof *nd);
        if (nd == NULL)
            return CE_NOMEM;
        c->dev = nd;
        c->capdev = cap;
    }
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return CE_NOMEM;
    memcpy(copy, id, n);
    copy[n] = '\0';
    c->dev[c->ndev] = (struct move_dev){.id = copy, .rows = 1};
    c->slot[h] = (uint32_t)++c->ndev;
    return CE_OK;
}

/* A move begins: the rows staged now, and where to cut them. One pass over the staged rows in
 * row id order counts the rows of each device in a hash table (no sort of the rows, as a GROUP
 * BY device_id would do); the devices, not the rows, are then sorted by id and cut. */
static int cuts_plan(struct store *st, int64_t slice)
{
    sqlite3_stmt *e = st->st[ST_MOVE_END], *b = st->st[ST_MOVE_BOUND];
    int rc = sqlite3_step(e);
    st->move_end = rc == SQLITE_ROW ? sqlite3_column_int64(e, 0) : -1;
    sqlite3_reset(e);
    if (st->move_end < 0)
        return CE_STORE;
    struct move_count c = {0};
    sqlite3_bind_int64(b, 1, st->move_end);
    while ((rc = sqlite3_step(b)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(b, 0);
        if (id == NULL || count_row(&c, id, (size_t)sqlite3_column_bytes(b, 0)) != CE_OK) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(b);
    sqlite3_clear_bindings(b);
    struct move_dev **order = rc == SQLITE_DONE ? malloc((c.ndev + 1) * sizeof *order) : NULL;
    if (order != NULL) {
        for (size_t d = 0; d < c.ndev; d++)
            order[d] = &c.dev[d];
        qsort(order, c.ndev, sizeof *order, dev_cmp);
        /* cut after the device that brings a slice to `slice` rows (none after the last) */
        st->move_cut = malloc((c.ndev + 1) * sizeof *st->move_cut);
        int64_t acc = 0;
        for (size_t d = 0; st->move_cut != NULL && d + 1 < c.ndev; d++) {
            if ((acc += (int64_t)order[d]->rows) < slice)
                continue;
            acc = 0;
            st->move_cut[st->move_cuts++] = order[d]->id;
            order[d]->id = NULL; /* kept by the cuts */
        }
    }
    bool ok = order != NULL && st->move_cut != NULL;
    free(order);
    count_free(&c);
    if (!ok) {
        cuts_free(st);
        return CE_STORE;
    }
    return CE_OK;
}

static int slice_step(struct store *st, int64_t slice, int64_t *moved, bool *last)
{
    if (!st->moving && cuts_plan(st, slice) != CE_OK)
        return CE_STORE;
    /* The rows up to move_end of the devices below this slice's are gone: the slices before it
     * moved them (every row of their range up to move_end) and the rows committed since have
     * higher seqs. So a slice takes what is left up to its last device, one comparison a row. */
    const char *hi = st->move_i < st->move_cuts ? st->move_cut[st->move_i] : NULL;
    *last = hi == NULL;
    for (int id = ST_MOVE; id <= ST_MOVE_CLEAR; id++) {
        sqlite3_stmt *m = st->st[id];
        sqlite3_bind_int64(m, 1, st->move_end);
        bind_text(m, 2, hi);
        if (step_reset(m) != SQLITE_DONE)
            return CE_STORE;
        if (id == ST_MOVE)
            *moved = sqlite3_changes(st->db);
    }
    return CE_OK;
}

static void move_slice(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    int64_t slice = (int64_t)st->move_slice;
    pthread_mutex_unlock(&st->mu);
    int64_t t0 = mono_us(), moved = 0;
    bool done = false;
    int rc = step_simple(st, ST_BEGIN);
    if (rc == CE_OK)
        rc = slice_step(st, slice, &moved, &done);
    if (rc == CE_OK && step_simple(st, ST_COMMIT) != CE_OK)
        rc = CE_STORE;
    int64_t t1 = mono_us();
    if (rc != CE_OK) {
        if (!st->move_failed)
            log_error("sqlite: moving staged telemetry failed (the rows stay staged): %s",
                      sqlite3_errmsg(st->db));
        step_simple(st, ST_ROLLBACK);
        st->move_failed = true; /* retried after MOVE_AGE_MS (not at every commit), logged once */
        st->moving = false;
        cuts_free(st);
        st->staged_since = t1 / 1000;
        return;
    }
    st->move_failed = false;
    st->move_i++;
    st->moving = !done;
    st->staged = st->staged > (size_t)moved ? st->staged - (size_t)moved : 0;
    if (st->staged == 0) /* nothing left (staged is an upper bound) */
        done = true;
    if (done) {
        st->moving = false;
        cuts_free(st);
    }
    if (done)
        st->staged_since = t1 / 1000; /* what is staged now ages from here */
    log_debug("store: moved %lld staged telemetry rows in %lld us%s", (long long)moved,
              (long long)(t1 - t0), done ? " (move done)" : "");
    pthread_mutex_lock(&st->mu);
    st->moves += done;
    st->ms.slices++;
    st->ms.rows += (uint64_t)moved;
    st->ms.total_us += (uint64_t)(t1 - t0);
    if ((uint64_t)(t1 - t0) > st->ms.max_us)
        st->ms.max_us = (uint64_t)(t1 - t0);
    pthread_mutex_unlock(&st->mu);
}

/* Whether the staged rows are due for a move (mu held). */
static bool move_due(const struct store *st, int64_t now)
{
    return st->staged > 0 && st->move_rows > 0 &&
           (st->moving || (st->staged >= st->move_rows && !st->move_failed) ||
            now - st->staged_since >= st->move_age_ms);
}

/* Wait on cv (mu held) until ops are sealed, stop is set, or a staged move is due. */
static void writer_wait(struct store *st)
{
    while (st->q_len == st->unsealed && !st->stop) {
        int64_t now = mono_ms();
        if (move_due(st, now))
            return;
        if (st->staged == 0 || st->move_rows == 0) {
            pthread_cond_wait(&st->cv, &st->mu);
            continue;
        }
        int64_t at = st->staged_since + st->move_age_ms;
        struct timespec ts = {.tv_sec = (time_t)(at / 1000),
                              .tv_nsec = (long)(at % 1000) * 1000000};
        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
    }
}

static void *writer_main(void *arg)
{
    struct store *st = arg;
    for (;;) {
        pthread_mutex_lock(&st->mu);
        writer_wait(st);
        if (st->stop)
            st->unsealed = 0; /* store_close: everything queued goes */
        if (st->q_len == st->unsealed) {
            bool move = !st->stop && move_due(st, mono_ms());
            pthread_mutex_unlock(&st->mu);
            if (!move)
                break;
            move_slice(st); /* idle: nothing waits for it */
            continue;
        }
        if (st->delay_us > 0 && !st->stop && st->q_len - st->unsealed < DELAY_BELOW) {
            /* --commit-delay: a small batch waits once, without the lock, for more to join it:
             * one commit, fsync and wake-up of the loop for all of them. Seals meanwhile signal
             * nobody (no syscall); a store_close waits at most the delay longer. */
            pthread_mutex_unlock(&st->mu);
            struct timespec d = {.tv_sec = (time_t)(st->delay_us / 1000000),
                                 .tv_nsec = (long)(st->delay_us % 1000000) * 1000};
            while (nanosleep(&d, &d) != 0 && errno == EINTR) /* the rest */
                ;
            pthread_mutex_lock(&st->mu);
            if (st->stop)
                st->unsealed = 0;
            st->stats.delayed++;
        }
        struct op_queue batch = STAILQ_HEAD_INITIALIZER(batch);
        size_t n = 0;
        bool at_end = true; /* BATCH_MAX only cuts between seal groups */
        for (struct store_op *op; n < st->q_len - st->unsealed && (n < BATCH_MAX || !at_end) &&
                                  (op = STAILQ_FIRST(&st->q)) != NULL;
             n++) {
            STAILQ_REMOVE_HEAD(&st->q, link);
            STAILQ_INSERT_TAIL(&batch, op, link);
            at_end = op->group_end;
        }
        st->q_len -= n;
        st->in_flight = n;
        pthread_mutex_unlock(&st->mu);

        struct timespec t0, t1; /* one clock pair per transaction, not per row */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int txrc = step_simple(st, ST_BEGIN);
        struct store_op *op, *next;
        size_t staged = 0;
        st->next_seq = 0;
        STAILQ_FOREACH(op, &batch, link)
        {
            op->rc = txrc == CE_OK ? run_op(st, op) : CE_STORE;
            staged += op->kind == OP_TELEMETRY && op->rc == CE_OK;
        }
        if (txrc == CE_OK && st->next_seq != 0) { /* the high-water mark, in the same commit */
            sqlite3_bind_int64(st->st[ST_SET_SEQ], 1, st->next_seq - 1);
            if (step_simple(st, ST_SET_SEQ) != CE_OK) {
                log_error("sqlite: cannot keep the last telemetry seq: %s", sqlite3_errmsg(st->db));
                step_simple(st, ST_ROLLBACK);
                txrc = CE_STORE;
            }
        }
        if (txrc == CE_OK && step_simple(st, ST_COMMIT) != CE_OK) {
            log_error("sqlite commit failed: %s", sqlite3_errmsg(st->db));
            step_simple(st, ST_ROLLBACK);
            txrc = CE_STORE;
        }
        if (txrc == CE_OK && staged > 0) {
            if (st->staged == 0)
                st->staged_since = mono_ms();
            st->staged += staged;
        }
        /* Hand callback-carrying ops back to the loop; free the rest here. */
        struct op_queue done = STAILQ_HEAD_INITIALIZER(done);
        for (op = STAILQ_FIRST(&batch); op != NULL; op = next) {
            next = STAILQ_NEXT(op, link);
            if (txrc != CE_OK)
                op->rc = txrc;
            if (op->cb == NULL)
                free(op);
            else
                STAILQ_INSERT_TAIL(&done, op, link);
        }
        bool any_done = !STAILQ_EMPTY(&done);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_mutex_lock(&st->mu);
        st->in_flight = 0;
        if (txrc == CE_OK) {
            st->stats.commits++;
            st->stats.committed += n;
            if (n > st->stats.batch_max)
                st->stats.batch_max = n;
            st->stats.commit_ns +=
                (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
        }
        STAILQ_CONCAT(&st->done, &done);
        bool drained = st->drain_armed && st->q_len <= st->drain_level;
        if (drained)
            st->drain_armed = false;
        pthread_mutex_unlock(&st->mu);
        if (any_done && st->done_ev != NULL)
            event_active(st->done_ev, EV_READ, 0);
        if (drained && st->drain_ev != NULL)
            event_active(st->drain_ev, EV_READ, 0);
        /* After the completions are handed back: the PUBACKs of this commit do not wait for it. */
        pthread_mutex_lock(&st->mu);
        bool move = move_due(st, mono_ms());
        pthread_mutex_unlock(&st->mu);
        if (move)
            move_slice(st); /* one slice; what was queued meanwhile is committed first */
    }
    return NULL;
}

/* ---------------------------------------------------------------- loop side */

static void run_done(struct store *st)
{
    CENTRAL_ASSERT_THREAD(st->loop);
    pthread_mutex_lock(&st->mu);
    struct op_queue done = STAILQ_HEAD_INITIALIZER(done);
    STAILQ_CONCAT(&done, &st->done);
    st->stats.wakeups++;
    pthread_mutex_unlock(&st->mu);
    uint64_t n = 0;
    for (struct store_op *op = STAILQ_FIRST(&done), *next; op != NULL; op = next) {
        next = STAILQ_NEXT(op, link);
        op->cb(op->ctx, op->tag, op->rc);
        free(op);
        n++;
    }
    st->stats.completions += n; /* the writer never touches this one */
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct store *st = arg;
    if (st->drain_cb != NULL)
        st->drain_cb(st->drain_ctx);
}

void store_notify_drain(struct store *st, size_t level, void (*cb)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&st->mu);
    st->drain_cb = cb;
    st->drain_ctx = ctx;
    st->drain_level = level;
    bool now = st->q_len + st->in_flight <= level;
    st->drain_armed = !now;
    pthread_mutex_unlock(&st->mu);
    if (now && st->drain_ev != NULL)
        event_active(st->drain_ev, EV_READ, 0);
}

/* Seal what is queued: the writer may take it now, as one group. */
static void seal(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    if (st->unsealed > 0) {
        st->tail->group_end = true;
        st->unsealed = 0;
        pthread_cond_signal(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
}

static void seal_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct store *st = arg;
    st->seal_armed = false;
    if (st->defer) {
        if (!evtimer_pending(st->defer_ev, NULL)) {
            struct timeval tv = {0, DEFER_MS * 1000};
            evtimer_add(st->defer_ev, &tv);
        }
        return;
    }
    seal(st);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct store *st = arg;
    st->defer = false;
    seal(st);
}

size_t store_unsealed(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    size_t n = st->unsealed;
    pthread_mutex_unlock(&st->mu);
    return n;
}

void store_defer_seal(struct store *st, size_t unsealed_before)
{
    CENTRAL_ASSERT_THREAD(st->loop);
    if (unsealed_before == 0 && st->seal_ev != NULL && st->defer_ev != NULL)
        st->defer = true;
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_done(arg);
}

static struct store_op *op_new(enum op_kind kind, size_t extra)
{
    struct store_op *op = calloc(1, sizeof *op + extra);
    if (op != NULL)
        op->kind = kind;
    return op;
}

static char *put_str(struct store_op *op, size_t *pos, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *dst = op->data + *pos;
    memcpy(dst, s, n);
    *pos += n;
    return dst;
}

static void enqueue(struct store *st, struct store_op *op)
{
    CENTRAL_ASSERT_THREAD(st->loop);
    pthread_mutex_lock(&st->mu);
    STAILQ_INSERT_TAIL(&st->q, op, link);
    st->q_len++;
    if (st->q_len + st->in_flight > st->stats.queue_max)
        st->stats.queue_max = st->q_len + st->in_flight;
    st->unsealed++;
    st->tail = op;
    pthread_mutex_unlock(&st->mu);
    st->defer = false; /* a write of any other callback seals the deferred group with its own */
    if (st->seal_ev == NULL) {
        seal(st); /* no loop (tests): every op is its own group */
    } else if (!st->seal_armed) {
        st->seal_armed = true;
        event_active(st->seal_ev, EV_READ, 0);
    }
}

static size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

int store_barrier(struct store *st, store_done_cb cb, void *ctx, uint32_t tag)
{
    struct store_op *op = op_new(OP_NOP, 0);
    if (op == NULL)
        return CE_NOMEM;
    op->cb = cb;
    op->ctx = ctx;
    op->tag = tag;
    enqueue(st, op);
    return CE_OK;
}

int store_add_telemetry(struct store *st, const struct store_telemetry *t, store_done_cb cb,
                        void *ctx, uint32_t tag)
{
    size_t extra = slen(t->device_id) + slen(t->component) + slen(t->props_json) + t->payload_len;
    struct store_op *op = op_new(OP_TELEMETRY, extra);
    if (op == NULL)
        return CE_NOMEM;
    size_t pos = 0;
    op->s1 = put_str(op, &pos, t->device_id);
    op->s2 = put_str(op, &pos, t->component);
    op->s3 = put_str(op, &pos, t->props_json);
    if (t->payload_len)
        memcpy(op->data + pos, t->payload, t->payload_len);
    op->blob = op->data + pos;
    op->blob_len = t->payload_len;
    op->i1 = t->enqueued_ms;
    op->cb = cb;
    op->ctx = ctx;
    op->tag = tag;
    enqueue(st, op);
    return CE_OK;
}

int store_exec(struct store *st, const char *sql, const struct store_arg *args, size_t n)
{
    size_t extra = n * sizeof(struct store_arg) + slen(sql);
    for (size_t i = 0; i < n; i++) {
        if (args[i].type == STORE_ARG_TEXT)
            extra += slen(args[i].s);
        else if (args[i].type == STORE_ARG_BLOB)
            extra += args[i].len;
    }
    /* data[] holds the aligned argument array first, then the bytes it points to */
    struct store_op *op = op_new(OP_SQL, extra + sizeof(int64_t));
    if (op == NULL)
        return CE_NOMEM;
    size_t pos = 0;
    op->args = (struct store_arg *)(void *)op->data;
    pos = n * sizeof(struct store_arg);
    for (size_t i = 0; i < n; i++) {
        op->args[i] = args[i];
        if (args[i].type == STORE_ARG_TEXT) {
            op->args[i].s = put_str(op, &pos, args[i].s);
        } else if (args[i].type == STORE_ARG_BLOB) {
            if (args[i].len)
                memcpy(op->data + pos, args[i].s, args[i].len);
            op->args[i].s = op->data + pos;
            pos += args[i].len;
        }
    }
    op->s1 = put_str(op, &pos, sql);
    op->i1 = (int64_t)n;
    enqueue(st, op);
    return CE_OK;
}

int store_put_device(struct store *st, const char *id, const char *data)
{
    struct store_op *op = op_new(OP_PUT_DEVICE, slen(id) + slen(data));
    if (op == NULL)
        return CE_NOMEM;
    size_t pos = 0;
    op->s1 = put_str(op, &pos, id);
    op->s2 = put_str(op, &pos, data);
    enqueue(st, op);
    return CE_OK;
}

int store_delete_device(struct store *st, const char *id)
{
    struct store_op *op = op_new(OP_DEL_DEVICE, slen(id));
    if (op == NULL)
        return CE_NOMEM;
    size_t pos = 0;
    op->s1 = put_str(op, &pos, id);
    enqueue(st, op);
    return CE_OK;
}

int store_put_c2d(struct store *st, const struct store_c2d_row *row)
{
    const char *bag = row->bag ? row->bag : "";
    struct store_op *op = op_new(OP_PUT_C2D, slen(row->device_id) + slen(bag) + row->payload_len);
    if (op == NULL)
        return CE_NOMEM;
    size_t pos = 0;
    op->s1 = put_str(op, &pos, row->device_id);
    op->s2 = put_str(op, &pos, bag);
    if (row->payload_len)
        memcpy(op->data + pos, row->payload, row->payload_len);
    op->blob = op->data + pos;
    op->blob_len = row->payload_len;
    op->i1 = row->seq;
    op->i2 = row->expiry_ms;
    op->i3 = row->enqueued_ms;
    enqueue(st, op);
    return CE_OK;
}

int store_delete_c2d(struct store *st, int64_t seq)
{
    struct store_op *op = op_new(OP_DEL_C2D, 0);
    if (op == NULL)
        return CE_NOMEM;
    op->i1 = seq;
    enqueue(st, op);
    return CE_OK;
}

void store_set_move(struct store *st, size_t rows, int64_t age_ms)
{
    pthread_mutex_lock(&st->mu);
    st->move_rows = rows;
    st->move_age_ms = age_ms;
    pthread_cond_signal(&st->cv); /* a due move starts now */
    pthread_mutex_unlock(&st->mu);
}

void store_set_move_slice(struct store *st, size_t rows)
{
    pthread_mutex_lock(&st->mu);
    st->move_slice = rows > 0 ? rows : MOVE_SLICE;
    pthread_mutex_unlock(&st->mu);
}

void store_move_stats(const struct store *st, struct store_move_stats *out)
{
    pthread_mutex_lock((pthread_mutex_t *)&st->mu);
    *out = st->ms;
    pthread_mutex_unlock((pthread_mutex_t *)&st->mu);
}

uint64_t store_moves(const struct store *st)
{
    pthread_mutex_lock((pthread_mutex_t *)&st->mu);
    uint64_t n = st->moves;
    pthread_mutex_unlock((pthread_mutex_t *)&st->mu);
    return n;
}

size_t store_backlog(const struct store *st)
{
    pthread_mutex_lock((pthread_mutex_t *)&st->mu);
    size_t n = st->q_len + st->in_flight;
    pthread_mutex_unlock((pthread_mutex_t *)&st->mu);
    return n;
}

void store_stats_get(const struct store *st, struct store_stats *out)
{
    pthread_mutex_lock((pthread_mutex_t *)&st->mu);
    *out = st->stats;
    out->queue_depth = st->q_len + st->in_flight;
    pthread_mutex_unlock((pthread_mutex_t *)&st->mu);
    sqlite3_int64 cur = 0, max = 0;
    if (sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &max, 0) == SQLITE_OK) {
        out->sqlite_bytes = (uint64_t)cur;
        out->sqlite_bytes_max = (uint64_t)max;
    }
}

int store_open(struct app *app)
{
    struct store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return CE_NOMEM;
    st->loop = pthread_self();
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the move's deadline (writer_wait) */
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    st->move_rows = MOVE_ROWS;
    st->move_age_ms = MOVE_AGE_MS;
    st->move_slice = MOVE_SLICE;
    st->delay_us = app->cfg.commit_delay_us;
    STAILQ_INIT(&st->q);
    STAILQ_INIT(&st->done);
    app->store = st;
    char path[1200];
    snprintf(path, sizeof path, "%s/central.db", app->cfg.data_dir);
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        log_error("cannot open %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "?");
        return CE_STORE;
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* WAL + synchronous=FULL: a COMMIT returns only once the WAL is on disk, which is the
     * promise behind every PUBACK. Readers (tests, later the REST API) never block us. */
    if (exec(st->db, "PRAGMA journal_mode=WAL") != CE_OK ||
        exec(st->db, "PRAGMA synchronous=FULL") != CE_OK ||
        /* A move writes a leaf page of each index per device (2,000 pages at 1,000 devices)
         * plus the rows: they must stay cached through it, or they are spilled to the WAL and
         * read back (2 MB by default; this is a bound, the cache grows only as it is used). */
        exec(st->db, "PRAGMA cache_size=-16384") != CE_OK ||
        exec(st->db, "PRAGMA foreign_keys=OFF") != CE_OK || migrate(st->db) != CE_OK ||
        exec(st->db, schema_cas) != CE_OK)
        return CE_STORE;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i],
                               NULL) != SQLITE_OK) {
            log_error("sqlite prepare failed: %s", sqlite3_errmsg(st->db));
            return CE_STORE;
        }
    }
    /* Rows a previous run committed but did not move yet: moved once MOVE_AGE_MS has passed. */
    sqlite3_stmt *c = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT COUNT(*) FROM telemetry_staging", -1, &c, NULL) !=
            SQLITE_OK ||
        sqlite3_step(c) != SQLITE_ROW) {
        log_error("sqlite: %s", sqlite3_errmsg(st->db));
        sqlite3_finalize(c);
        return CE_STORE;
    }
    st->staged = (size_t)sqlite3_column_int64(c, 0);
    st->staged_since = mono_ms();
    sqlite3_finalize(c);
    if (app->base != NULL) {
        st->done_ev = event_new(app->base, -1, EV_READ, done_cb, st);
        st->drain_ev = event_new(app->base, -1, EV_READ, drain_cb, st);
        st->seal_ev = event_new(app->base, -1, EV_READ, seal_cb, st);
        st->defer_ev = evtimer_new(app->base, defer_cb, st);
        if (st->done_ev == NULL || st->drain_ev == NULL || st->seal_ev == NULL ||
            st->defer_ev == NULL)
            return CE_NOMEM;
    }
    return CE_OK;
}

int store_start(struct app *app)
{
    struct store *st = app->store;
    CENTRAL_ASSERT_THREAD(st->loop);
    if (st->thread_started)
        return CE_OK;
    if (pthread_create(&st->thread, NULL, writer_main, st) != 0) {
        log_error("cannot start the store writer thread");
        return CE_STORE;
    }
    st->thread_started = true;
    return CE_OK;
}

/* Loaders run on the loop thread before the writer starts: nothing else uses st->db then. */
static sqlite3_stmt *prepare_load(struct store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    CENTRAL_ASSERT_THREAD(st->loop);
    CENTRAL_ASSERT(!st->thread_started);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        log_error("sqlite prepare failed: %s (%s)", sqlite3_errmsg(st->db), sql);
        return NULL;
    }
    return s;
}

int store_load_devices(struct store *st, store_row_fn fn, void *ctx)
{
    sqlite3_stmt *s = prepare_load(st, "SELECT id, data FROM devices ORDER BY rowid");
    if (s == NULL)
        return CE_STORE;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *data = (const char *)sqlite3_column_text(s, 1);
        if (id == NULL || data == NULL) {
            log_warn("skipping unreadable device row %s", id ? id : "?");
            continue;
        }
        if (fn(ctx, id, data) != 0)
            break;
    }
    sqlite3_finalize(s);
    return CE_OK;
}

int store_load_cas(struct store *st, store_row_fn fn, void *ctx)
{
    sqlite3_stmt *s = prepare_load(st, "SELECT name, data FROM x509_cas ORDER BY rowid");
    if (s == NULL)
        return CE_STORE;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        const char *data = (const char *)sqlite3_column_text(s, 1);
        if (name != NULL && data != NULL && fn(ctx, name, data) != 0)
            break;
    }
    sqlite3_finalize(s);
    return CE_OK;
}

int store_load_c2d(struct store *st, store_c2d_row_fn fn, void *ctx)
{
    sqlite3_stmt *s = prepare_load(
        st, "SELECT seq, device_id, enqueued_ms, expiry_ms, bag, payload FROM c2d ORDER BY seq");
    if (s == NULL)
        return CE_STORE;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *bag = (const char *)sqlite3_column_text(s, 4);
        struct store_c2d_row row = {
            .seq = sqlite3_column_int64(s, 0),
            .device_id = (const char *)sqlite3_column_text(s, 1),
            .enqueued_ms = sqlite3_column_int64(s, 2),
            .expiry_ms = sqlite3_column_int64(s, 3),
            .bag = bag ? bag : "",
            .payload = sqlite3_column_blob(s, 5),
            .payload_len = (size_t)sqlite3_column_bytes(s, 5),
        };
        if (row.device_id != NULL && fn(ctx, &row) != 0)
            break;
    }
    sqlite3_finalize(s);
    return CE_OK;
}

void store_close(struct app *app)
{
    struct store *st = app->store;
    if (st == NULL)
        return;
    if (st->thread_started) {
        pthread_mutex_lock(&st->mu);
        st->stop = true;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->thread, NULL);
    } else if (st->db != NULL && st->st[ST_COUNT - 1] != NULL) {
        /* Never started (early failure or test use): commit what was queued synchronously. */
        st->stop = true;
        writer_main(st);
    }
    run_done(st);
    if (st->done_ev)
        event_free(st->done_ev);
    if (st->drain_ev)
        event_free(st->drain_ev);
    if (st->seal_ev)
        event_free(st->seal_ev);
    if (st->defer_ev)
        event_free(st->defer_ev);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st->st[i]);
    if (st->db != NULL) {
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(st->db);
    }
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    cuts_free(st);
    free(st);
    app->store = NULL;
}
