#!/usr/bin/env bash
# The telemetry table layouts compared on SQLite alone (no server, no TLS): what one message costs
# the writer with one message per device per commit (one message in flight per device), on a
# table that already holds history. For each layout: PREFILL rows of history (interleaved over
# DEVICES devices), then COMMITS transactions of BATCH rows each from successive devices, with
# the WAL never checkpointed (wal_autocheckpoint=0) and synchronous=OFF, so that the WAL's size
# counts the page frames written and the CPU time excludes the disk. Prints WAL pages per message
# and CPU microseconds per message (the sqlite3 shell's own statement parsing included, the same
# for every layout).
#
#   bench/store_layout.sh [DEVICES] [PREFILL] [COMMITS] [BATCH] [MOVE_ROWS...]  (50 200000 2000 30 8192)
#
# Layouts: "direct" = the rows into the table with both per-device indexes (schema 1);
# "staged N" = the rows into an unindexed table, moved into the indexed one every N rows (schema 2,
# src/central/store/store.c); "staged 0" = never moved, so (staged N - staged 0) x N is the CPU
# of one move, the time the writer commits nothing. Everything is in a temporary directory,
# removed at the end.
set -u
DEVICES=${1:-50}
PREFILL=${2:-200000}
COMMITS=${3:-2000}
BATCH=${4:-30}
shift 4 2>/dev/null || shift $#
MOVES=("$@")
[ ${#MOVES[@]} -gt 0 ] || MOVES=(8192)
command -v sqlite3 >/dev/null || { echo "store_layout: sqlite3 is missing (apt-get install sqlite3)"; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/iotc-layout.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT

schema="PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA wal_autocheckpoint=0;
PRAGMA cache_size=-16384;
CREATE TABLE m(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL, enqueued_ms INTEGER NOT NULL,
 component TEXT, props TEXT, payload BLOB);
CREATE INDEX m_dev ON m(device_id, seq); CREATE INDEX m_time ON m(device_id, enqueued_ms);
CREATE TABLE s(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL, enqueued_ms INTEGER NOT NULL,
 component TEXT, props TEXT, payload BLOB);"

# The measured part as one SQL script: TABLE gets the rows, every MOVE rows (0: never) move.
gen() {
    awk -v dev="$DEVICES" -v pre="$PREFILL" -v n="$COMMITS" -v b="$BATCH" -v tbl="$1" -v mv="$2" 'BEGIN {
        seq = pre; staged = 0
        for (c = 0; c < n; c++) {
            print "BEGIN IMMEDIATE;"
            for (k = 0; k < b; k++) {
                seq++
                printf "INSERT INTO %s VALUES(%d,%s%05d%s,%d,NULL,%s,%s);\n", tbl, seq, "'\''sim-device-",
                    seq % dev, "'\''", seq, "'\''{\"$.ct\":\"application/json\"}'\''",
                    "'\''{\"temperature\":21.5,\"n\":12345}'\''"
            }
            print "COMMIT;"
            staged += b
            if (mv > 0 && staged >= mv) {
                print "BEGIN IMMEDIATE; INSERT INTO m SELECT * FROM s ORDER BY seq; DELETE FROM s; COMMIT;"
                staged = 0
            }
        }
    }'
}

run() { # name table move_rows
    local db=$work/t.db
    rm -f "$db" "$db-wal" "$db-shm"
    sqlite3 "$db" "$schema
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $PREFILL)
      INSERT INTO m SELECT i, printf('sim-device-%05d', i % $DEVICES), i, NULL,
        '{\"\$.ct\":\"application/json\"}', '{\"temperature\":21.5,\"n\":12345}' FROM n;
      PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null || exit 1
    gen "$2" "$3" >"$work/run.sql"
    local t0 t1 wal
    t0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    # one shell process, the pragmas again (they are per connection), then the script
    { echo ".filectrl persist_wal 1"
      echo "PRAGMA synchronous=OFF; PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-16384;"
      cat "$work/run.sql"; } | sqlite3 "$db" >/dev/null || exit 1
    t1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    wal=$(stat -c %s "$db-wal")
    awk -v name="$1" -v wal="$wal" -v n="$((COMMITS * BATCH))" -v ticks="$((t1 - t0))" \
        -v hz="$(getconf CLK_TCK)" 'BEGIN {
        printf "%-14s %8.3f WAL pages per message  %7.2f us CPU per message\n", name,
            (wal - 32) / 4120 / n, ticks / hz * 1e6 / n }'
}

echo "store layouts: $DEVICES devices, $PREFILL rows of history, $COMMITS commits of $BATCH rows"
run "direct" m 0
for mv in "${MOVES[@]}"; do
    if [ "$mv" = 0 ]; then run "staged, never" s 0; else run "staged $mv" s "$mv"; fi
done
