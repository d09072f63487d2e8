/*
 * store_move.c - the staged-row move of the store alone (src/central/store/store.c), no server:
 * PREFILL rows of history in telemetry_main (interleaved over DEVICES devices), then STAGED rows
 * committed into telemetry_staging (interleaved the same way, in commits of 30), then one move
 * in slices of SLICE rows. Prints the rows moved, the slices, and their wall time.
 *
 * Run it under `valgrind --tool=callgrind --toggle-collect=move_slice` (bench/store_move.sh) to
 * count the move's instructions alone: they do not depend on the machine's load.
 *
 *   store-move DIR DEVICES PREFILL STAGED SLICE
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "central/base/app.h"
#include "central/store/store.h"

static int prefill(const char *dir, long devices, long rows)
{
    char path[1100], sql[1024];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/central.db", dir);
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %ld)"
             " INSERT INTO telemetry_main(seq, device_id, enqueued_ms, component, props, payload)"
             " SELECT i, printf('sim-device-%%05d', i %% %ld), i, NULL,"
             " '{\"$.ct\":\"application/json\"}', '{\"temperature\":21.5}' FROM n;"
             "UPDATE telemetry_seq SET last = %ld;"
             "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);",
             rows, devices, rows);
    int rc =
        sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
            ? 0
            : -1;
    if (rc != 0)
        fprintf(stderr, "store-move: prefill: %s\n", db ? sqlite3_errmsg(db) : "?");
    sqlite3_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: store-move DIR DEVICES PREFILL STAGED SLICE\n");
        return 2;
    }
    long v[4];
    for (int i = 0; i < 4; i++) {
        char *end = NULL;
        v[i] = strtol(argv[2 + i], &end, 10);
        if (end == argv[2 + i] || *end != '\0' || v[i] < 0) {
            fprintf(stderr, "store-move: not a count: %s\n", argv[2 + i]);
            return 2;
        }
    }
    long devices = v[0], pre = v[1], staged = v[2];
    size_t slice = (size_t)v[3];
    struct app app = {0};
    app.cfg.data_dir = argv[1];
    if (devices <= 0 || staged <= 0 || store_open(&app) != CE_OK)
        return 1;
    store_close(&app); /* the schema */
    if (pre > 0 && prefill(argv[1], devices, pre) != 0)
        return 1;
    if (store_open(&app) != CE_OK)
        return 1;
    store_set_move(app.store, 0, 0);
    store_set_move_slice(app.store, slice);
    if (store_start(&app) != CE_OK)
        return 1;
    for (long i = 0; i < staged; i++) {
        char dev[32], body[48];
        snprintf(dev, sizeof dev, "sim-device-%05ld", (pre + 1 + i) % devices);
        snprintf(body, sizeof body, "{\"temperature\":21.5,\"n\":%ld}", i);
        struct store_telemetry t = {.device_id = dev,
                                    .enqueued_ms = pre + 1 + i,
                                    .props_json = "{\"$.ct\":\"application/json\"}",
                                    .payload = body,
                                    .payload_len = strlen(body)};
        if (store_add_telemetry(app.store, &t, NULL, NULL, 0) != CE_OK)
            return 1;
        while (store_backlog(app.store) > 30)
            usleep(100);
    }
    while (store_backlog(app.store) > 0)
        usleep(1000);
    store_set_move(app.store, 1, 0);
    for (int i = 0; i < 600000 && store_moves(app.store) < 1; i++)
        usleep(100);
    store_set_move(app.store, 0, 0);
    struct store_move_stats ms;
    store_move_stats(app.store, &ms);
    store_close(&app);
    printf("moved %llu rows in %llu slices, %.1f ms (longest slice %.1f ms)\n",
           (unsigned long long)ms.rows, (unsigned long long)ms.slices, ms.total_us / 1000.0,
           ms.max_us / 1000.0);
    return ms.rows == (uint64_t)staged ? 0 : 1;
}
