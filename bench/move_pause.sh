#!/usr/bin/env bash
# How long the store's writer commits nothing while it moves staged telemetry into the indexed
# table (src/central/store/store.c): iotc-central runs with --log-level debug, iotc-sim registers
# DEVICES devices, the table gets PREFILL rows of history (as in bench/ingest_callgrind.sh), then
# the devices publish QoS 1 over TLS, one message in flight each, for SECONDS. Every move
# transaction logs its rows and time; prints their count, the rows moved, the longest and the mean
# (wall time: on a loaded machine a pause stretches with the load) and iotc-sim's PUBACK p99.
#
#   bench/move_pause.sh BUILDDIR [DEVICES] [PREFILL] [SECONDS]      (1000 200000 30)
#
# Loopback only, free ports, a temporary directory; everything started here is stopped here.
set -u
B=${1:?usage: bench/move_pause.sh BUILDDIR [DEVICES] [PREFILL] [SECONDS]}
DEVICES=${2:-1000}
PREFILL=${3:-200000}
SECS=${4:-30}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
. bench/lib.sh
B=$(cd "$B" && pwd) || exit 2
command -v sqlite3 >/dev/null || { echo "move_pause: sqlite3 is missing (apt-get install sqlite3)"; exit 2; }
bench_workdir movepause
dir=$work/central
mkdir -p "$dir"
bench_central_start "$B/iotc-central" "$dir" --log-level debug || exit 1
hub=$(bench_jget "$dir/ports.json" assignedHub)
"$B/iotc-sim" --quiet --app "$dir.app.json" --dps-only --devices "$DEVICES" --ramp 0 \
    --concurrency 100 --duration 300 >/dev/null 2>>"$work/sim.log" ||
    { echo "move_pause: registration failed"; tail -3 "$work/sim.log"; exit 1; }
if [ "$PREFILL" -gt 0 ]; then
    sqlite3 -cmd ".timeout 60000" "$dir/central.db" \
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $PREFILL / $DEVICES)
         INSERT INTO telemetry(device_id, enqueued_ms, component, props, payload)
         SELECT d.id, n.i, NULL, '{\"\$.ct\":\"application/json\"}', '{\"temperature\":21.5}'
         FROM n, devices AS d ORDER BY n.i, d.id;" || { echo "move_pause: prefill failed"; exit 1; }
fi
"$B/iotc-sim" --quiet --app "$dir.app.json" --hub "$hub" --devices "$DEVICES" --ramp 0 \
    --concurrency 100 --rate max --inflight 1 --qos 1 --warmup 0 \
    --duration "$SECS" >"$work/sim.json" 2>>"$work/sim.log"
bench_stop_pid "$CPID"
p99=$(bench_jget "$work/sim.json" latency_ms.puback.p99)
acked=$(bench_jget "$work/sim.json" acked)
# "moved N staged telemetry rows in T us" (or "... in T ms" before the moves were sliced)
grep -o 'moved [0-9]* staged telemetry rows in [0-9]* [mu]s' "$dir.log" | awk -v d="$DEVICES" \
    -v p99="$p99" -v acked="$acked" '{
        ms = $8 == "us" ? $7 / 1000 : $7; n++; rows += $2; sum += ms; if (ms > max) max = ms }
    END { printf "move pause: %d devices, %s acked, %d move transactions, %d rows moved, longest %.1f ms, mean %.1f ms, PUBACK p99 %s ms\n",
        d, acked, n, rows, max, n ? sum / n : 0, p99 }'
