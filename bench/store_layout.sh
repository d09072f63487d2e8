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
#   bench/store_layout.sh [DEVICES] [PREFILL] [COMMITS] [BATCH] [MOVE_ROWS[/SLICE]...]
#                                                               (50 200000 2000 30 8192)
#
# Layouts: "direct" = the rows into the table with both per-device indexes (schema 1);
# "staged N" = the rows into an unindexed table, moved into the indexed one every N rows (schema 2,
# src/central/store/store.c); "staged 0" = never moved, so (staged N - staged 0) x N is the CPU
# of one move; "staged N/S" = the move in slices of S rows, one transaction each, one slice after
# each commit while a move is under way (as the server's writer does), so the longest time the
# writer commits nothing is one slice: (staged N/S - staged 0) x N / ceil(N/S) CPU on average.
# Everything is in a temporary directory, removed at the end.
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
    awk -v dev="$DEVICES" -v pre="$PREFILL" -v n="$COMMITS" -v b="$BATCH" -v tbl="$1" -v mv="$2" \
        -v sl="${3:-0}" -v bydev="${4:-0}" 'BEGIN {
        seq = pre; staged = 0; left = 0
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
            if (sl > 0 && bydev) { # sliced by device: the rows of the next devices in order
                if (left == 0 && mv > 0 && staged >= mv) {
                    left = staged
                    print "DELETE FROM mv; INSERT INTO mv VALUES(\x27\x27, (SELECT MAX(seq) FROM s));"
                    # the cuts, planned once: where the running count of rows passes a multiple of S
                    printf "DELETE FROM cuts; INSERT INTO cuts SELECT device_id FROM (SELECT device_id, c, SUM(c) OVER (ORDER BY device_id) AS run FROM (SELECT device_id, COUNT(*) AS c FROM s WHERE seq <= (SELECT e FROM mv) GROUP BY device_id)) WHERE run / %d > (run - c) / %d;\n", sl, sl
                }
                if (left > 0) {
                    print "BEGIN IMMEDIATE; DELETE FROM hi;"
                    print "INSERT INTO hi SELECT COALESCE((SELECT MIN(v) FROM cuts, mv WHERE v > mv.lo), (SELECT MAX(device_id) FROM s));"
                    print "INSERT INTO m SELECT s.* FROM s, mv, hi WHERE s.seq <= mv.e AND s.device_id > mv.lo AND s.device_id <= hi.v ORDER BY s.seq;"
                    print "DELETE FROM s WHERE seq <= (SELECT e FROM mv) AND device_id > (SELECT lo FROM mv) AND device_id <= (SELECT v FROM hi);"
                    print "UPDATE mv SET lo = (SELECT v FROM hi); COMMIT;"
                    staged -= (left < sl ? left : sl); left -= sl
                    if (left <= 0) left = 0
                }
            } else if (sl > 0) { # sliced: a move is the rows staged when it starts, S rows at a time
                if (left == 0 && mv > 0 && staged >= mv)
                    left = staged
                if (left > 0) {
                    printf "BEGIN IMMEDIATE; INSERT INTO m SELECT * FROM s WHERE seq <= (SELECT MAX(seq) FROM (SELECT seq FROM s ORDER BY seq LIMIT %d)) ORDER BY seq; DELETE FROM s WHERE seq <= (SELECT MAX(seq) FROM (SELECT seq FROM s ORDER BY seq LIMIT %d)); COMMIT;\n", sl, sl
                    k = staged < sl ? staged : sl
                    staged -= k; left -= k
                    if (left < 0 || staged == 0) left = 0
                }
            } else if (mv > 0 && staged >= mv) {
                print "BEGIN IMMEDIATE; INSERT INTO m SELECT * FROM s ORDER BY seq; DELETE FROM s; COMMIT;"
                staged = 0
            }
        }
    }'
}

run() { # name table move_rows [slice [by_device]]
    local db=$work/t.db
    rm -f "$db" "$db-wal" "$db-shm"
    sqlite3 "$db" "$schema
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $PREFILL)
      INSERT INTO m SELECT i, printf('sim-device-%05d', i % $DEVICES), i, NULL,
        '{\"\$.ct\":\"application/json\"}', '{\"temperature\":21.5,\"n\":12345}' FROM n;
      PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null || exit 1
    gen "$2" "$3" "${4:-0}" "${5:-0}" >"$work/run.sql"
    local t0 t1 wal
    t0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    # one shell process, the pragmas again (they are per connection), then the script
    { echo ".filectrl persist_wal 1"
      echo "PRAGMA synchronous=OFF; PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-16384;"
      echo "CREATE TEMP TABLE mv(lo TEXT, e INTEGER); CREATE TEMP TABLE hi(v TEXT); CREATE TEMP TABLE cuts(v TEXT);"
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
    if [ "$mv" = 0 ]; then run "staged, never" s 0
    elif [ "${mv%d}" != "$mv" ]; then m2=${mv%d}; run "staged $mv" s "${m2%/*}" "${m2#*/}" 1
    elif [ "${mv#*/}" != "$mv" ]; then run "staged $mv" s "${mv%/*}" "${mv#*/}"
    else run "staged $mv" s "$mv"; fi
done
