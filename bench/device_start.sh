#!/usr/bin/env bash
# Start to the first acknowledged message of environmental-sensor (libiotc), both start paths:
# through DPS (a device without a kept assignment), and with the DPS assignment kept from the
# previous start (--state-dir: straight to the hub). Wall time of a process that exits after its
# first acknowledged message (--count 1), RUNS times each on a fresh device id; prints every run.
#
#   bench/device_start.sh BUILDDIR [RUNS]      (5)
#
# Then the breakdown of the kept-assignment start: RUNS more starts with IOTC_START_TIME (the
# moment just before the start, bash's $EPOCHREALTIME) and -vv, whose debug lines carry the ms
# since then; the median of each step's end and of the step itself:
#   main             process start, exec, dynamic loading of libiotc's libraries
#   client created   OpenSSL's initialisation, configuration, key derivation, kept assignment
#   TCP connected    name lookup, TCP connect, TLS context (CA file), first handshake flight
#   TLS done         the rest of the TLS 1.3 handshake (ECDHE, certificate chain check)
#   CONNACK          CONNECT (SAS token) -> CONNACK
#   PUBLISH          subscriptions, twin GET, start-up report and the telemetry, one write
#   PUBACK           the server's durable commit (one fsync) and the PUBACK
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
one() { # DEVICE [ARGS]: wall ms of one start to first ack
    local t0 t1 dev=$1
    shift
    t0=$(date +%s%N)
    timeout 60 "$B/environmental-sensor" --id-scope "$scope" --device-id "$dev" --group-key "$gkey" \
        --dps-endpoint "$dps" --ca-file "$ca" --count 1 --quiet --state-dir "$work/state" "$@" \
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

# Breakdown: the debug lines of RUNS more kept-assignment starts (the devices of the runs above).
keys="main|client created|TCP connected|TLS handshake done|CONNACK|PUBLISH telemetry|PUBACK telemetry"
names=("main" "client created" "TCP connected" "TLS done" "CONNACK" "PUBLISH" "PUBACK" "exit")
: >"$work/steps"
for i in $(seq "$RUNS"); do
    t0=$EPOCHREALTIME
    IOTC_START_TIME=$t0 timeout 60 "$B/environmental-sensor" -vv --id-scope "$scope" \
        --device-id "start-$i" --group-key "$gkey" --dps-endpoint "$dps" --ca-file "$ca" --count 1 \
        --quiet --state-dir "$work/state" >/dev/null 2>"$work/trace" </dev/null ||
        { echo "device_start: sensor failed" >&2; exit 1; }
    t1=$EPOCHREALTIME
    awk -v keys="$keys" -v t0="$t0" -v t1="$t1" '
        BEGIN { n = split(keys, k, "|") }
        /^\+[0-9.]+ ms iotc / { for (j = 1; j <= n; j++) if (!(j in at) && index($0, ": " k[j]) > 0) at[j] = substr($1, 2) }
        END { for (j = 1; j <= n; j++) print (j in at) ? at[j] : "-"; printf "%.2f\n", (t1 - t0) * 1000 }' \
        "$work/trace" >>"$work/steps"
done
echo "kept-assignment start, step by step (medians over $RUNS starts of the moment a step ends"
echo "and of its own time in that start; the debug log itself adds a little):"
printf '  %-16s %10s %10s\n' "step" "ends at ms" "takes ms"
n=${#names[@]}
med_of() { sort -n | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : "-" }'; }
for j in "${!names[@]}"; do
    ends=$(awk -v j="$j" -v n="$n" '(NR - 1) % n == j && $1 != "-"' "$work/steps" | med_of)
    takes=$(awk -v j="$j" -v n="$n" '
        { r = int((NR - 1) / n); v[r, (NR - 1) % n] = $1 }
        END { for (q = 0; q <= r; q++) {
                  p = 0; for (i = j - 1; i >= 0; i--) if (v[q, i] != "-") { p = v[q, i]; break }
                  if (v[q, j] != "-") printf "%.2f\n", v[q, j] - p } }' "$work/steps" | med_of)
    printf '  %-16s %10s %10s\n' "${names[$j]}" "$ends" "$takes"
done
