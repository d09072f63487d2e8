#!/usr/bin/env bash
# Data export throughput (docs/EXPORT.md), part of `make bench` (row 6): how many messages
# iotc-central exports per CPU-second of its own, to a webhook (a Node HTTP receiver on loopback)
# and to Kafka (librdkafka's mock cluster, BUILDDIR/tests/kafka-mock, consumed back and counted).
# Telemetry is ingested first with both exports disabled, then each export in turn is enabled and
# drains the backlog; only the drain is measured (iotc-central's user+system time from /proc), so
# the figure is the export path alone: read from the store, format, send, acknowledge, cursor.
#
#   bench/export_bench.sh BUILDDIR [--quick] [--dest webhook|kafka|both] [--live|--live-rate R]
#   EXPORT_CALLGRIND=1 bench/export_bench.sh BUILDDIR --quick [--dest webhook|kafka]
#       runs iotc-central under valgrind's callgrind with instrumentation on only during the
#       drain and prints the instructions executed per exported message (repeatable, unlike
#       CPU time on a shared machine; the wall-clock and CPU figures are then meaningless).
#       EXPORT_CALLGRIND_KEEP=DIR keeps the profile. One profile per thread: each thread's share
#       is printed too (thread 1 is the event loop that serves MQTT and HTTPS).
#   --live: 1,000 devices (100 with --quick) sending at bench row 7's rate (one QoS 1 message in
#       flight per device, as fast as acknowledged) with both exports enabled; every second the
#       exports' lag (messages and seconds, from their status) is printed, then after the devices
#       stop, how long each export took to catch up (or that it had not within 120 s), and where
#       the machine's cores went while the devices sent (iotc-central, iotc-sim, the receiver, the
#       Kafka mock, and the machine's busy share).
#   --live-rate R: the same with the devices sending R msg/s in all (iotc-sim --rate R/total, up
#       to 16 QoS 1 messages in flight per device) instead of as fast as acknowledged, so that the
#       load does not depend on how the cores are shared; it then says whether each export kept
#       up: its lag stayed within 2 s (lagSeconds) in every sample after the first 5 s of sending.
# Loopback only, free ports, a temporary directory; everything started here is stopped here.
set -u
B=${1:?usage: bench/export_bench.sh BUILDDIR [--quick] [--dest webhook|kafka|both] [--live|--live-rate R]}
shift
QUICK=${BENCH_QUICK:-0}
DEST=both
LIVE=0
LIVE_RATE=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --dest) DEST=${2:?--dest needs webhook, kafka or both}; shift ;;
    --live) LIVE=1 ;;
    --live-rate)
        LIVE=1 LIVE_RATE=${2:?--live-rate needs msgs per second}
        shift
        [[ $LIVE_RATE =~ ^[1-9][0-9]*$ ]] || { echo "bench-export: --live-rate: a positive integer"; exit 2; }
        ;;
    *) echo "bench-export: unknown argument $1"; exit 2 ;;
    esac
    shift
done
case $DEST in webhook) DESTS=(webhook) ;; kafka) DESTS=(kafka) ;; both) DESTS=(webhook kafka) ;;
*) echo "bench-export: --dest webhook, kafka or both"; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=$(cd "$B" && pwd) || exit 2
if [ "$QUICK" = 1 ]; then DEVICES=20 RATE=10 SECS=5 LIVE_N=100 LIVE_SECS=10; else
    DEVICES=100 RATE=10 SECS=10 LIVE_N=1000 LIVE_SECS=30; fi
KMOCK=$B/tests/kafka-mock
[ -x "$KMOCK" ] || { echo "bench-export: $KMOCK is missing (make BUILDDIR=... $KMOCK)"; exit 2; }

. bench/lib.sh
bench_workdir export
log() { printf 'bench-export: %s\n' "$*" >&2; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

CENTRAL=$B/iotc-central
CG=${EXPORT_CALLGRIND:-0}
if [ "$CG" = 1 ]; then
    [ ${#DESTS[@]} = 1 ] || DESTS=(webhook)
    CENTRAL=$work/central-cg
    printf '#!/bin/sh\nif [ "$1" = serve ]; then exec valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --callgrind-out-file=%s "%s" "$@"; fi\nexec "%s" "$@"\n' \
        "$work/cg.out" "$B/iotc-central" "$B/iotc-central" >"$CENTRAL"
    chmod +x "$CENTRAL"
fi
bench_central_start "$CENTRAL" "$work/app" || exit 1
IOTC=("$B/iotc" --data-dir "$work/app")

# The webhook receiver: answers 200 to every POST and keeps the count in a file.
cat >"$work/rx.mjs" <<'JS'
import http from 'node:http';
import fs from 'node:fs';
let n = 0;
const out = process.argv[2];
const srv = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => { n++; res.writeHead(200); res.end(); });
});
srv.keepAliveTimeout = 60000;
srv.listen(0, '127.0.0.1', () => fs.writeFileSync(out + '.port', String(srv.address().port)));
setInterval(() => fs.writeFileSync(out, String(n)), 100);
JS
node "$work/rx.mjs" "$work/webhook.count" &
RXPID=$!
bench_pids+=("$RXPID")
# The Kafka side: the mock cluster (3 brokers, 8 partitions) and a counting consumer.
"$KMOCK" iotc-bench 8 "$work/kafka.count" >"$work/kafka.bootstrap" 2>"$work/kafka.log" &
KPID=$!
bench_pids+=("$KPID")
for ((i = 0; i < 50; i++)); do
    [ -s "$work/webhook.count.port" ] && [ -s "$work/kafka.bootstrap" ] && break
    sleep 0.1
done
port=$(cat "$work/webhook.count.port") || exit 1
bootstrap=$(head -1 "$work/kafka.bootstrap")
[ -n "$bootstrap" ] || { log "the Kafka mock did not start"; cat "$work/kafka.log" >&2; exit 1; }

"${IOTC[@]}" destinations put webhook --body "{\"displayName\":\"rx\",\"type\":\"webhook@v1\",
  \"url\":\"http://127.0.0.1:$port/\",\"authorization\":{\"type\":\"header\",\"value\":\"x\"}}" \
    >/dev/null || exit 1
"${IOTC[@]}" destinations put kafka --body "{\"displayName\":\"mock\",\"type\":\"kafka@v1\",
  \"bootstrapServers\":\"$bootstrap\",\"topic\":\"iotc-bench\",\"authorization\":{\"type\":\"none\"}}" \
    >/dev/null || exit 1
for d in "${DESTS[@]}"; do
    "${IOTC[@]}" exports put "$d" --body "{\"displayName\":\"$d\",\"source\":\"telemetry\",
      \"enabled\":$([ "$LIVE" = 1 ] && echo true || echo false),\"destinations\":[{\"id\":\"$d\"}]}" \
        >/dev/null || exit 1
done
label() { [ "$1" = webhook ] && echo "webhook@v1, Node receiver on loopback" ||
    echo "kafka@v1, librdkafka mock cluster"; }
count() { local c; c=$(cat "$work/$1.count" 2>/dev/null); echo "${c:-0}"; }

# ---------------------------------------------------------------- --live: lag while devices send
if [ "$LIVE" = 1 ]; then
    if [ -n "$LIVE_RATE" ]; then
        log "live: $LIVE_N devices, $LIVE_RATE msg/s in all, ${LIVE_SECS}s, exports: ${DESTS[*]}"
        rate=(--rate "$LIVE_RATE/total" --inflight 16) desc="$LIVE_RATE msg/s in all"
    else
        log "live: $LIVE_N devices, one message in flight each (bench row 7's rate), ${LIVE_SECS}s, exports: ${DESTS[*]}"
        rate=(--rate max --inflight 1) desc="one message in flight each"
    fi
    "$B/iotc-sim" --app "$work/app.app.json" --devices "$LIVE_N" --ramp 1000 --concurrency 500 \
        "${rate[@]}" --qos 1 --warmup 1 --measure "$LIVE_SECS" --duration 600 --quiet \
        --server-pid "$CPID" >"$work/sim.json" 2>"$work/sim.log" &
    sim=$!
    bench_pids+=("$sim")
    t0=$(date +%s.%N)
    # Where the two cores go while the devices send: each process's CPU (user + system ticks) and
    # the machine's busy share (/proc/stat), from here to the load generator's end.
    busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
    procs=("$CPID" "$sim" "$RXPID" "$KPID")
    pnames=(iotc-central iotc-sim "webhook receiver (Node)" "Kafka mock + consumer")
    ticks0=() m0=$(busy)
    for p in "${procs[@]}"; do ticks0+=("$(cpu_ticks "$p" 2>/dev/null || echo 0)"); done
    ticks1=("${ticks0[@]}") m1=$m0
    sample() { # one line per export: seconds since the devices started, lag, delivered
        "${IOTC[@]}" --json exports list >"$work/s.json" 2>/dev/null || return 0
        node -e 'const [f, t0] = process.argv.slice(1), now = Date.now() / 1000;
const o = JSON.parse(require("fs").readFileSync(f, "utf8")), xs = Array.isArray(o) ? o : o.value || [];
for (const x of xs) console.log(`export lag: t=${(now - t0).toFixed(1)}s ${x.id}: ` +
  `${x.stats.lagMessages} messages, ${x.stats.lagSeconds} s behind; delivered ${x.stats.delivered}`);' \
            "$work/s.json" "$t0" | tee -a "$work/lag.log"
    }
    while kill -0 "$sim" 2>/dev/null; do
        ticks1=() m1=$(busy)
        for p in "${procs[@]}"; do ticks1+=("$(cpu_ticks "$p" 2>/dev/null || echo 0)"); done
        sample
        sleep 1
    done
    wait "$sim"
    hz=$(getconf CLK_TCK)
    read -r b0 a0 <<<"$m0"
    read -r b1 a1 <<<"$m1"
    line="cpu while the devices sent (cores):"
    for i in "${!procs[@]}"; do
        line+=" ${pnames[$i]} $(node -e "console.log(((${ticks1[$i]} - ${ticks0[$i]}) / $hz / (($a1 - $a0) / $hz / $(nproc))).toFixed(2))"),"
    done
    echo "$line machine busy $(node -e "console.log((($b1 - $b0) / ($a1 - $a0) * $(nproc)).toFixed(2))") of $(nproc)"
    sent_end=$(date +%s.%N)
    sent_secs=$(node -e "console.log(($sent_end - $t0).toFixed(1))")
    node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")), w=r.window||{}, s=r.server||{};
console.log(`ingest (iotc-sim, ${r.devices} devices, ${process.argv[2]}, exports on): ${w.acked_per_s} msg/s ` +
  `acknowledged in the ${w.seconds} s window, ${s.msgs_per_cpu_s} msg per iotc-central CPU-second, ${r.acked} in all`)' \
        "$work/sim.json" "$desc" \
        2>/dev/null || log "(no iotc-sim summary: $(tail -1 "$work/sim.log"))"
    declare -A caught
    for ((i = 0; i < 120; i++)); do
        pending=0
        for d in "${DESTS[@]}"; do
            [ -n "${caught[$d]:-}" ] && continue
            "${IOTC[@]}" --json exports show "$d" >"$work/s.json" 2>/dev/null || continue
            if [ "$(bench_jget "$work/s.json" stats.lagMessages)" = 0 ]; then
                caught[$d]=$(node -e "console.log((Date.now()/1000 - $sent_end).toFixed(1))")
            else
                pending=1
            fi
        done
        [ "$pending" = 0 ] && break
        sample
        sleep 1
    done
    for d in "${DESTS[@]}"; do
        if [ -n "${caught[$d]:-}" ]; then
            echo "export ($(label "$d")): caught up ${caught[$d]} s after the devices stopped"
        else
            echo "export ($(label "$d")): still behind 120 s after the devices stopped"
        fi
        [ -n "$LIVE_RATE" ] || continue
        # kept up: lagSeconds within 2 s in every sample from 5 s after the start until the stop
        node -e 'const [f, id, end] = process.argv.slice(1); let worst = 0, worstN = 0, n = 0;
for (const l of require("fs").readFileSync(f, "utf8").split("\n")) {
  const m = /^export lag: t=([0-9.]+)s (\S+): (\d+) messages, (\d+) s behind/.exec(l);
  if (!m || m[2] !== id || +m[1] < 5 || +m[1] > +end) continue;
  n++; worst = Math.max(worst, +m[4]); worstN = Math.max(worstN, +m[3]); }
console.log(`export (${id}) at ${process.argv[4]} msg/s: ${n === 0 ? "no samples" : worst <= 2 ?
  "kept up" : "fell behind"}: the most lag while sending was ${worstN} messages, ${worst} s ` +
  `(${n} samples from 5 s to ${end} s)`);' "$work/lag.log" "$d" "$sent_secs" "$LIVE_RATE"
    done
    exit 0
fi

# ---------------------------------------------------------------- drain: msgs per CPU-second
log "ingest: $DEVICES devices x $RATE msg/s for ${SECS}s (exports disabled)"
"$B/iotc-sim" --app "$work/app.app.json" --devices "$DEVICES" --rate "$RATE" --duration "$SECS" \
    --concurrency 50 >"$work/sim.out" 2>"$work/sim.log" || { log "iotc-sim failed"; tail -3 "$work/sim.log" >&2; exit 1; }
for d in "${DESTS[@]}"; do
    "${IOTC[@]}" --json exports show "$d" >"$work/before.json" || exit 1
    N=$(bench_jget "$work/before.json" stats.lagMessages)
    [ -n "$N" ] && [ "$N" -gt 0 ] || { log "nothing ingested"; exit 1; }
    base=$(count "$d")
    [ "$CG" = 1 ] && { callgrind_control -i on "$CPID" >/dev/null || exit 1; }
    c0=$(cpu_ticks "$CPID")
    t0=$(date +%s.%N)
    "${IOTC[@]}" exports put "$d" --patch --body '{"enabled":true}' >/dev/null || exit 1
    got=0
    for ((i = 0; i < 1200; i++)); do
        got=$(($(count "$d") - base))
        [ "$got" -ge "$N" ] && break
        sleep 0.05
    done
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$CPID")
    [ "$got" -ge "$N" ] || { log "$d: only $got of $N delivered in 60 s"; exit 1; }
    if [ "$CG" = 1 ]; then
        callgrind_control -i off "$CPID" >/dev/null && callgrind_control -d "$CPID" >/dev/null || exit 1
        sleep 1
        ir=$(cat "$work"/cg.out* 2>/dev/null | awk '/^totals:/ {s += $2} END {print s + 0}')
        echo "export ($d, callgrind): $N messages drained, $ir instructions of iotc-central: $((ir / N)) per message"
        # one profile per thread (--separate-threads): thread 1 is the event loop (MQTT, HTTPS)
        for f in "$work"/cg.out*; do
            awk -v n="$N" '/^thread:/ {t = $2} /^totals:/ {s += $2}
                END {if (s > 0) printf "  thread %s: %d instructions per message%s\n", t, s / n, t == 1 ? " (event loop)" : ""}' "$f"
        done
        [ -n "${EXPORT_CALLGRIND_KEEP:-}" ] && cp "$work"/cg.out* "$EXPORT_CALLGRIND_KEEP"/
        exit 0
    fi
    hz=$(getconf CLK_TCK)
    node -e '
const [n, c0, c1, hz, t0, t1] = process.argv.slice(2).map(Number);
const cpu = (c1 - c0) / hz, wall = t1 - t0;
console.log(`export (${process.argv[1]}): ${n} messages drained in ` +
  `${wall.toFixed(2)} s, ${cpu.toFixed(2)} CPU-s of iotc-central: ` +
  `${cpu > 0 ? Math.round(n / cpu) : "n/a"} msg per CPU-second, ${Math.round(n / wall)} msg/s`);
' "$(label "$d")" "$N" "$c0" "$c1" "$hz" "$t0" "$t1"
done
