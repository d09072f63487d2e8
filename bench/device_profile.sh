#!/usr/bin/env bash
# Where environmental-sensor's CPU goes in bench row 5's job, as figures:
#
#   bench/device_profile.sh BUILDDIR [MESSAGES]      (default 10000)
#
# Starts iotc-central (loopback, free ports, temporary directory), then runs the sensor in burst
# mode (--interval 0 --window 16 --quiet --count MESSAGES) three ways:
#   1. under /usr/bin/time: user and system CPU seconds, peak RSS;
#   2. under `perf stat` (if perf can count syscalls here): write/read/poll calls and task-clock;
#   3. under `strace -c -f` (if installed): every system call with its error count; strace slows
#      the process, which changes how messages batch, so read its counts as an upper bound;
# and once with --count 1 for the start-up cost. Prints the figures; passes or fails nothing.
set -u
B=${1:?usage: bench/device_profile.sh BUILDDIR [MESSAGES]}
N=${2:-10000}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=$(cd "$B" && pwd) || exit 2
CENTRAL=$B/iotc-central SENSOR=$B/environmental-sensor
for bin in "$CENTRAL" "$SENSOR"; do
    [ -x "$bin" ] || { echo "device_profile: $bin is missing (run make first)"; exit 2; }
done
. bench/lib.sh
bench_workdir devprof
bench_central_start "$CENTRAL" "$work/c" || exit 1
jget() { bench_jget "$work/c.app.json" "$1"; }
common=(--id-scope "$(jget idScope)" --group-key "$(jget enrollmentGroup.primaryKey)"
    --dps-endpoint "$(jget dpsEndpoint)" --ca-file "$(jget caFile)" --quiet)
burst=(--interval 0 --window 16 --count "$N")
dev=0
# sensor WRAPPER... -- SENSOR_ARGS...: run the sensor as a new device under WRAPPER
sensor() {
    local wrap=()
    while [ "$1" != -- ]; do wrap+=("$1"); shift; done
    shift
    dev=$((dev + 1))
    "${wrap[@]}" "$SENSOR" --device-id "prof-$dev" "${common[@]}" "$@"
}

echo "environmental-sensor, $N messages, burst mode (16 unacknowledged at most)"
sensor /usr/bin/time -f '%U %S %M' -o "$work/time.txt" -- "${burst[@]}" >"$work/out.txt" 2>&1 </dev/null
read -r u s m <"$work/time.txt"
echo "  CPU: user $u s, system $s s; peak RSS $m KB; $(grep -o 'Stopped:.*' "$work/out.txt")"
sensor /usr/bin/time -f '%U %S' -o "$work/time.txt" -- --count 1 >"$work/out.txt" 2>&1 </dev/null
read -r u s <"$work/time.txt"
echo "  start-up alone (--count 1): user $u s, system $s s"

if command -v perf >/dev/null &&
    perf stat -e 'syscalls:sys_enter_write' true >/dev/null 2>&1; then
    sensor perf stat -x, -o "$work/perf.txt" \
        -e 'syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_poll,task-clock' \
        -- "${burst[@]}" >/dev/null 2>&1 </dev/null
    echo "  perf stat (system calls made over the whole run):"
    awk -F, '/^[0-9.]+,/ { printf "    %-32s %s\n", $3, $1 }' "$work/perf.txt"
    sensor perf stat -x, -o "$work/perf1.txt" -e task-clock -- --count 1 >/dev/null 2>&1 </dev/null
    awk -F, '/^[0-9.]+,/ { printf "  start-up alone (--count 1), perf stat: %s ms task-clock\n", $1 }' "$work/perf1.txt"
else
    echo "  perf stat: not available here"
fi

if command -v strace >/dev/null; then
    sensor strace -c -f -o "$work/strace.txt" -- "${burst[@]}" >/dev/null 2>&1 </dev/null
    echo "  strace -c (calls, errors; the tracing itself slows the process):"
    awk '$NF ~ /^(write|read|poll)$/ { printf "    %-8s calls %s, errors %s\n", $NF, $4, (NF == 6 ? $5 : 0) }' \
        "$work/strace.txt"
else
    echo "  strace: not installed"
fi
