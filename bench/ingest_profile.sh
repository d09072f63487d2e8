#!/usr/bin/env bash
# Server CPU per telemetry message, for comparing two builds: iotc-central pinned to one core
# and iotc-sim to the other (so the load generator does not steal the server's time), several
# ingest runs, and the server's CPU time (user + system, from /proc) per acknowledged message
# of each run; prints every run and the best. Bench row 1 shares the two cores between server
# and load generator, and its messages per CPU-second spread by +-15 % from run to run.
#
#   bench/ingest_profile.sh BUILDDIR [DEVICES] [INFLIGHT] [SECONDS] [RUNS]   (100 16 8 3)
#   IOTC_SIM=OTHER_BUILD/iotc-sim bench/ingest_profile.sh BUILDDIR ...   (one load generator)
#
# Loopback only, free ports, a temporary directory; everything started here is stopped here.
set -u
B=${1:?usage: bench/ingest_profile.sh BUILDDIR [DEVICES] [INFLIGHT] [SECONDS]}
SIM=${IOTC_SIM:-$B/iotc-sim} # IOTC_SIM: the same load generator for two builds
DEVICES=${2:-100}
INFLIGHT=${3:-16}
SECONDS_RUN=${4:-8}
RUNS=${5:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
. bench/lib.sh
B=$(cd "$B" && pwd) || exit 2
SIM=$(cd "$(dirname "$SIM")" && pwd)/$(basename "$SIM")
bench_workdir ingest

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
results=()
for run in $(seq "$RUNS"); do
    rm -rf "$work/central" "$work/central".*
    bench_central_start "$B/iotc-central" "$work/central" || exit 1
    taskset -apc 0 "$CPID" >/dev/null # every thread: the loop and the store's writer
    hub=$(bench_jget "$work/central/ports.json" assignedHub)
    taskset -c 1 "$SIM" --quiet --app "$work/central.app.json" --dps-only --devices "$DEVICES" \
        --ramp 0 --concurrency 500 --duration 120 >/dev/null 2>>"$work/sim.log" ||
        { echo "ingest_profile: registration failed"; exit 1; }
    t0=$(cpu_ticks "$CPID")
    taskset -c 1 "$SIM" --quiet --app "$work/central.app.json" --hub "$hub" --devices "$DEVICES" \
        --ramp 0 --concurrency 500 --rate max --inflight "$INFLIGHT" --qos 1 --warmup 1 \
        --measure "$SECONDS_RUN" --duration $((SECONDS_RUN + 60)) >"$work/sim.json" 2>>"$work/sim.log" ||
        { echo "ingest_profile: ingest run failed"; exit 1; }
    t1=$(cpu_ticks "$CPID")
    acked=$(bench_jget "$work/sim.json" acked)
    bench_stop_pid "$CPID"
    us=$(node -e 'console.log(((process.argv[1] - process.argv[2]) / process.argv[3] * 1e6 / process.argv[4]).toFixed(2))' "$t1" "$t0" "$hz" "$acked")
    p99=$(bench_jget "$work/sim.json" latency_ms.puback.p99)
    echo "run $run: $acked messages acknowledged, server CPU $us us per message, PUBACK p99 $p99 ms"
    results+=("$us")
done
best=$(printf '%s\n' "${results[@]}" | sort -n | head -1)
echo "ingest profile: $DEVICES devices, $INFLIGHT in flight, best of $RUNS: $best us of server CPU per message"
