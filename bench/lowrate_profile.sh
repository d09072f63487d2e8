#!/usr/bin/env bash
# Where one iotc-central process spends its CPU at a fleet's low rate: N TLS devices (SAS,
# created beforehand), each sending one QoS 1 message a minute, all held connected; then, once
# every device is up and a first minute has passed, S seconds measured three ways in turn:
#
#   1. plain: the server's CPU (utime + stime of /proc/PID/stat) and GET /api/stats before and
#      after (messages committed, commits, rows per commit, loop wake-ups): CPU per message.
#   2. perf record -e cpu-clock -g on the server for S seconds (report in DIR/perf.txt).
#   3. strace -c -f on the server for S seconds (DIR/strace.txt; strace slows the process, so
#      only the call counts per message are meant, not its times).
#
#   bench/lowrate_profile.sh BUILDDIR [--conns N] [--seconds S] [--rate R] [--out DIR] [--no-perf]
#                            [--no-strace] [--commit-delay US]
# (--rate: messages a second per device, default 1/60; 0 measures idle connections.)
#   e.g. nice bench/lowrate_profile.sh build/release --conns 15000 --seconds 60
#
# Loopback only, free ports, a temporary directory; everything started here is stopped here.
set -u
B=${1:?usage: bench/lowrate_profile.sh BUILDDIR [--conns N] [--seconds S] [--out DIR]}
shift
N=2000 S=60 OUT='' PERF=1 STRACE=1 RATE=0.0166667 DELAY=0
while [ $# -gt 0 ]; do
    case $1 in
    --conns) N=${2:?}; shift ;;
    --seconds) S=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    --rate) RATE=${2:?}; shift ;;
    --commit-delay) DELAY=${2:?}; shift ;;
    --no-perf) PERF=0 ;;
    --no-strace) STRACE=0 ;;
    *) echo "lowrate: unknown argument $1"; exit 2 ;;
    esac
    shift
done
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=$(cd "$B" && pwd) || exit 2
[ -n "$OUT" ] || OUT=$B/bench/lowrate
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || exit 2
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((N + 300)) ] ||
    { echo "lowrate: the open-file limit $(ulimit -n) is below $((N + 300))"; exit 2; }
log() { printf 'lowrate: %s\n' "$*" >&2; }

. bench/lib.sh
bench_workdir lowrate
bench_central_start "$B/iotc-central" "$work/central" --max-connections 1000000 --commit-delay "$DELAY" || exit 1
node bench/precreate.mjs "$work/central.app.json" "$N" sim- 0 >"$work/precreate.log" ||
    { log "creating devices failed"; exit 1; }
hub=$(bench_jget "$work/central.app.json" assignedHub)
stats() { "$B/iotc" --data-dir "$work/central" stats -o json; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$CPID/stat"; }

"$B/iotc-sim" --quiet --app "$work/central.app.json" --hub "$hub" --devices "$N" --start-index 0 \
    --source-addrs $(((N + 19999) / 20000)) --ramp 1000 --concurrency 200 --rate "$RATE" --qos 1 \
    --retries 5 --duration $((S * 3 + 900)) >"$work/sim.json" 2>"$work/sim.log" &
bench_pids+=($!)
for ((i = 0; i < 900; i++)); do
    c=$(stats 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).hub.connections)}catch{console.log(0)}})')
    [ "$c" -ge "$N" ] && break
    sleep 1
done
log "$c of $N connected after ${i} s; a minute for every device's first message"
sleep 60

hz=$(getconf CLK_TCK)
export DELAY
report() { # NAME before.json after.json t0 t1 ticks0 ticks1
    node -e '
const fs=require("fs");const [name,a,b,t0,t1,k0,k1,hz,n]=process.argv.slice(1);
const A=JSON.parse(fs.readFileSync(a)),Bj=JSON.parse(fs.readFileSync(b));
const d=(g,k)=>Bj[g][k]-A[g][k];const secs=(t1-t0)/1e9,cpu=(k1-k0)/hz,msgs=d("store","committed");
console.log(`${name.padEnd(7)} ${n} devices, delay ${process.env.DELAY} us, ${secs.toFixed(1)} s: ${msgs} rows committed (${(msgs/secs).toFixed(1)}/s), ` +
 `${d("store","commits")} commits (${(msgs/Math.max(1,d("store","commits"))).toFixed(2)} rows each), ` +
 `${d("store","wakeups")} loop wake-ups, ${d("hub","writes")} writes, server CPU ${cpu.toFixed(2)} s ` +
 `(${(cpu/secs*100).toFixed(1)} % of a core), ${msgs?(cpu*1e6/msgs).toFixed(0):"-"} us per row`);
' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$hz" "$N"
}
measure() { # NAME COMMAND...
    local name=$1
    shift
    stats >"$work/$name-a.json"
    local t0 k0 t1 k1
    t0=$(date +%s%N) k0=$(cpu_ticks)
    "$@"
    t1=$(date +%s%N) k1=$(cpu_ticks)
    stats >"$work/$name-b.json"
    report "$name" "$work/$name-a.json" "$work/$name-b.json" "$t0" "$t1" "$k0" "$k1" | tee -a "$OUT/summary.txt"
}
: >"$OUT/summary.txt"
measure plain sleep "$S"
if [ "$PERF" = 1 ]; then
    measure perf perf record -q -e cpu-clock -g -o "$work/perf.data" -p "$CPID" -- sleep "$S" 2>/dev/null
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^$' | head -400 >"$OUT/perf.txt"
    perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v '^$' | head -120 >"$OUT/perf-children.txt"
fi
if [ "$STRACE" = 1 ]; then
    measure strace timeout -s INT "$S" strace -c -f -o "$OUT/strace.txt" -p "$CPID"
fi
cp "$work/central.log" "$OUT/" 2>/dev/null
exit 0
