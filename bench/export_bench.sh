#!/usr/bin/env bash
# Data export throughput (docs/EXPORT.md), part of `make bench`: how many messages iotc-central
# exports to a webhook per CPU-second of its own. Telemetry is ingested first with the export
# disabled, then the export is enabled and drains the backlog to a Node HTTP receiver on
# loopback; only the drain is measured (iotc-central's user+system time from /proc), so the
# figure is the export path alone: read from the store, format, POST, acknowledge, cursor.
#
#   bench/export_bench.sh BUILDDIR [--quick]
#   EXPORT_CALLGRIND=1 bench/export_bench.sh BUILDDIR --quick
#       runs iotc-central under valgrind's callgrind with instrumentation on only during the
#       drain and prints the instructions executed per exported message (repeatable, unlike
#       CPU time on a shared machine; the wall-clock and CPU figures are then meaningless).
# Loopback only, free ports, a temporary directory; everything started here is stopped here.
set -u
B=${1:?usage: bench/export_bench.sh BUILDDIR [--quick]}
QUICK=${BENCH_QUICK:-0}
[ "${2:-}" = --quick ] && QUICK=1
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=$(cd "$B" && pwd) || exit 2
if [ "$QUICK" = 1 ]; then DEVICES=20 RATE=10 SECS=5; else DEVICES=100 RATE=10 SECS=10; fi

. bench/lib.sh
bench_workdir export
log() { printf 'bench-export: %s\n' "$*" >&2; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

CENTRAL=$B/iotc-central
CG=${EXPORT_CALLGRIND:-0}
if [ "$CG" = 1 ]; then
    CENTRAL=$work/central-cg
    printf '#!/bin/sh\nif [ "$1" = serve ]; then exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=%s "%s" "$@"; fi\nexec "%s" "$@"\n' \
        "$work/cg.out" "$B/iotc-central" "$B/iotc-central" >"$CENTRAL"
    chmod +x "$CENTRAL"
fi
bench_central_start "$CENTRAL" "$work/app" || exit 1
IOTC=("$B/iotc" --data-dir "$work/app")

# The receiver: answers 200 to every POST and keeps the count in a file.
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
node "$work/rx.mjs" "$work/rx.count" &
bench_pids+=("$!")
for ((i = 0; i < 50; i++)); do [ -s "$work/rx.count.port" ] && break; sleep 0.1; done
port=$(cat "$work/rx.count.port") || exit 1

"${IOTC[@]}" destinations put rx --body "{\"displayName\":\"rx\",\"type\":\"webhook@v1\",
  \"url\":\"http://127.0.0.1:$port/\",\"authorization\":{\"type\":\"header\",\"value\":\"x\"}}" \
    >/dev/null || exit 1
"${IOTC[@]}" exports put all --body '{"displayName":"all","source":"telemetry","enabled":false,
  "destinations":[{"id":"rx"}]}' >/dev/null || exit 1

log "ingest: $DEVICES devices x $RATE msg/s for ${SECS}s (export disabled)"
"$B/iotc-sim" --app "$work/app.app.json" --devices "$DEVICES" --rate "$RATE" --duration "$SECS" \
    --concurrency 50 >"$work/sim.out" 2>"$work/sim.log" || { log "iotc-sim failed"; tail -3 "$work/sim.log" >&2; exit 1; }
"${IOTC[@]}" --json exports show all >"$work/before.json" || exit 1
N=$(bench_jget "$work/before.json" stats.lagMessages)
[ -n "$N" ] && [ "$N" -gt 0 ] || { log "nothing ingested"; exit 1; }

[ "$CG" = 1 ] && { callgrind_control -i on "$CPID" >/dev/null || exit 1; }
c0=$(cpu_ticks "$CPID")
t0=$(date +%s.%N)
"${IOTC[@]}" exports put all --patch --body '{"enabled":true}' >/dev/null || exit 1
got=0
for ((i = 0; i < 1200; i++)); do
    got=$(cat "$work/rx.count" 2>/dev/null)
    got=${got:-0}
    [ "$got" -ge "$N" ] && break
    sleep 0.05
done
t1=$(date +%s.%N)
c1=$(cpu_ticks "$CPID")
[ "$got" -ge "$N" ] || { log "only $got of $N delivered in 60 s"; exit 1; }
if [ "$CG" = 1 ]; then
    callgrind_control -i off "$CPID" >/dev/null && callgrind_control -d "$CPID" >/dev/null || exit 1
    sleep 1
    ir=$(cat "$work"/cg.out* 2>/dev/null | awk '/^totals:/ {s += $2} END {print s + 0}')
    echo "export (webhook@v1, callgrind): $N messages drained, $ir instructions of iotc-central: $((ir / N)) per message"
    [ -n "${EXPORT_CALLGRIND_KEEP:-}" ] && cp "$work"/cg.out* "$EXPORT_CALLGRIND_KEEP"/
    exit 0
fi
hz=$(getconf CLK_TCK)
node -e '
const [n, c0, c1, hz, t0, t1] = process.argv.slice(1).map(Number);
const cpu = (c1 - c0) / hz, wall = t1 - t0;
console.log(`export (webhook@v1, Node receiver on loopback): ${n} messages drained in ` +
  `${wall.toFixed(2)} s, ${cpu.toFixed(2)} CPU-s of iotc-central: ` +
  `${cpu > 0 ? Math.round(n / cpu) : "n/a"} msg per CPU-second, ${Math.round(n / wall)} msg/s`);
' "$N" "$c0" "$c1" "$hz" "$t0" "$t1"
