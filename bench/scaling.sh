#!/usr/bin/env bash
# How iotc-central's ingest cost grows with the number of devices and the message size:
# telemetry QoS 1 over TLS, closed loop (16 outstanding per device), for each combination of
# DEVICES and SIZES. Prints one line per run; figures only, nothing asserted.
#
#   bench/scaling.sh BUILDDIR [DEVICES] [SIZES]     e.g. bench/scaling.sh build/release "100 1000" "64 1024 16384"
#
# Loopback only, temporary directory, stops what it starts.
set -u
B=${1:?usage: bench/scaling.sh BUILDDIR [DEVICES] [SIZES]}
DEVICES=${2:-100 1000}
SIZES=${3:-64 1024 16384}
MEASURE=${SCALING_MEASURE:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=$(cd "$B" && pwd) || exit 2
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
. bench/lib.sh
bench_workdir scaling
bench_central_start "$B/iotc-central" "$work/central" --max-connections 1000000 || exit 1
cp "$work/central.app.json" "$work/app.json"
hub=$(bench_jget "$work/app.json" assignedHub)

printf '%-8s %-8s %12s %10s %16s %16s %12s\n' devices bytes 'acked msg/s' 'MB/s' 'server us/msg' 'PUBACK p50/p99' 'server cores'
for n in $DEVICES; do
    for size in $SIZES; do
        # --hub: devices registered by an earlier run connect directly; new ones go through DPS.
        "$B/iotc-sim" --quiet --app "$work/app.json" --hub "$hub" --devices "$n" --ramp 1000 \
            --concurrency 500 --rate max --inflight 16 --qos 1 --payload-size "$size" --warmup 2 \
            --measure "$MEASURE" --duration 600 --server-pid "$CPID" >"$work/r.json" 2>>"$work/sim.log" &
        wait $!
        node -e '
            const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
            const [n, size] = process.argv.slice(2).map(Number);
            const w = d.window || {}, s = d.server || {}, p = (d.latency_ms || {}).puback || {};
            const rate = w.acked_per_s || 0, us = w.acked > 0 ? (s.cpu_s * 1e6) / w.acked : NaN;
            console.log(`${String(n).padEnd(8)} ${String(size).padEnd(8)} ${rate.toFixed(0).padStart(12)} ` +
                `${(rate * size / 1e6).toFixed(1).padStart(10)} ${us.toFixed(1).padStart(16)} ` +
                `${(`${p.p50}/${p.p99}`).padStart(16)} ${String(s.cpu_util).padStart(12)}`);
        ' "$work/r.json" "$n" "$size"
    done
done
