#!/usr/bin/env bash
# Start to the first acknowledged message of environmental-sensor (libiotc), both start paths:
# through DPS (a device without a kept assignment), and with the DPS assignment kept from the
# previous start (--state-dir: straight to the hub). Wall time of a process that exits after its
# first acknowledged message (--count 1), RUNS times each on a fresh device id; prints every run.
#
#   bench/device_start.sh BUILDDIR [RUNS]      (5)
#
# Loopback only, free ports, a temporary directory; everything started here is stopped here.
set -u
B=${1:?usage: bench/device_start.sh BUILDDIR [RUNS]}
RUNS=${2:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
. bench/lib.sh
B=$(cd "$B" && pwd) || exit 2
bench_workdir devstart
bench_central_start "$B/iotc-central" "$work/central" || exit 1
app=$work/central.app.json
scope=$(bench_jget "$app" idScope)
gkey=$(bench_jget "$app" enrollmentGroup.primaryKey)
dps=$(bench_jget "$app" dpsEndpoint)
ca=$(bench_jget "$app" caFile)
mkdir -p "$work/state"
one() { # DEVICE: wall ms of one start to first ack
    local t0 t1
    t0=$(date +%s%N)
    timeout 60 "$B/environmental-sensor" --id-scope "$scope" --device-id "$1" --group-key "$gkey" \
        --dps-endpoint "$dps" --ca-file "$ca" --count 1 --quiet --state-dir "$work/state" \
        >/dev/null 2>>"$work/sensor.log" </dev/null || { echo "device_start: sensor failed" >&2; exit 1; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
dps_ms=() cached_ms=()
for i in $(seq "$RUNS"); do
    dps_ms+=("$(one "start-$i")") || exit 1
    cached_ms+=("$(one "start-$i")") || exit 1
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
echo "start -> first acked message, through DPS (ms):            ${dps_ms[*]} (median $(med "${dps_ms[@]}"))"
echo "start -> first acked message, with the kept assignment (ms): ${cached_ms[*]} (median $(med "${cached_ms[@]}"))"
