#!/usr/bin/env bash
# Server instructions per telemetry message, split by stage: iotc-central runs under
# `valgrind --tool=callgrind` (instruction counts do not depend on what else the machine runs),
# iotc-sim registers DEVICES devices through DPS (not counted), connects them straight to the
# hub, and once every one is connected the count is switched on; the devices then publish QoS 1
# over TLS with one message in flight each (--rate max --inflight INFLIGHT) for SECONDS; the
# count is switched off before the server stops. Messages = telemetry messages the server handed
# to its store while counting. Prints instructions per message of the whole process, of each stage
# (inclusive counts of the functions named below; stages nest, see docs/PERFORMANCE.md).
#
#   bench/ingest_callgrind.sh BUILDDIR [DEVICES] [SECONDS] [INFLIGHT]      (50 20 1)
#   KEEP=DIR bench/ingest_callgrind.sh ...   keep callgrind.out in DIR (callgrind_annotate it)
#   PREFILL=N bench/ingest_callgrind.sh ...  N rows of history in the table before the run
#
# Loopback only, free ports, a temporary directory; everything started here is stopped here.
set -u
B=${1:?usage: bench/ingest_callgrind.sh BUILDDIR [DEVICES] [SECONDS] [INFLIGHT]}
DEVICES=${2:-50}
SECONDS_RUN=${3:-20}
INFLIGHT=${4:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
. bench/lib.sh
B=$(cd "$B" && pwd) || exit 2
for t in valgrind callgrind_control callgrind_annotate; do
    command -v "$t" >/dev/null || { echo "ingest_callgrind: $t is missing (apt-get install valgrind)"; exit 2; }
done
bench_workdir callgrind
dir=$work/central
cg=$work/callgrind.out

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$cg" \
    "$B/iotc-central" serve --data-dir "$dir" --bind 127.0.0.1 --mqtt-port 0 --https-port 0 --wss-port off \
    --log-level warn >"$dir.out" 2>>"$dir.log" &
CPID=$!
bench_pids+=("$CPID")
for ((i = 0; i < 1200; i++)); do
    grep -q '^ready' "$dir.out" 2>/dev/null && break
    kill -0 "$CPID" 2>/dev/null || { echo "ingest_callgrind: iotc-central exited"; tail -5 "$dir.log"; exit 1; }
    sleep 0.1
done
"$B/iotc-central" show --data-dir "$dir" --json >"$work/app.json" || exit 1
hub=$(bench_jget "$dir/ports.json" assignedHub)
"$B/iotc-sim" --quiet --app "$work/app.json" --dps-only --devices "$DEVICES" --ramp 0 \
    --concurrency 100 --duration 300 >/dev/null 2>>"$work/sim.log" ||
    { echo "ingest_callgrind: registration failed"; tail -3 "$work/sim.log"; exit 1; }

# PREFILL=N: N rows of history first (N / DEVICES per device, interleaved as devices send), so
# that each device's index entries fill leaf pages of their own, as on a server that has run a
# while: what one new row costs then is not what it costs in an empty table.
if [ "${PREFILL:-0}" -gt 0 ]; then
    command -v sqlite3 >/dev/null || { echo "ingest_callgrind: PREFILL needs sqlite3"; exit 2; }
    sqlite3 -cmd ".timeout 60000" "$dir/central.db" \
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $PREFILL / $DEVICES)
         INSERT INTO telemetry(device_id, enqueued_ms, component, props, payload)
         SELECT d.id, n.i, NULL, '{\"\$.ct\":\"application/json\"}', '{\"temperature\":21.5}'
         FROM n, devices AS d ORDER BY n.i, d.id;" ||
        { echo "ingest_callgrind: prefill failed"; exit 1; }
fi

# Connect, then wait until every device is connected before counting.
status=$work/status.json
"$B/iotc-sim" --quiet --app "$work/app.json" --hub "$hub" --devices "$DEVICES" --ramp 0 \
    --concurrency 100 --rate max --inflight "$INFLIGHT" --qos 1 --warmup 0 \
    --duration $((SECONDS_RUN + 60)) --status-file "$status" >"$work/sim.json" 2>>"$work/sim.log" &
SPID=$!
bench_pids+=("$SPID")
acked0=
for ((i = 0; i < 600; i++)); do
    if [ -s "$status" ] && [ "$(bench_jget "$status" connected)" = "$DEVICES" ]; then
        callgrind_control -i on "$CPID" >/dev/null 2>&1 || { echo "ingest_callgrind: callgrind_control failed"; exit 1; }
        acked0=$(bench_jget "$status" acked)
        break
    fi
    sleep 0.1
done
[ -n "$acked0" ] || { echo "ingest_callgrind: devices did not connect"; tail -3 "$work/sim.log"; exit 1; }
sleep "$SECONDS_RUN"
# The status file is rewritten every second: take the acks known when counting stops.
callgrind_control -i off "$CPID" >/dev/null 2>&1
acked1=$(bench_jget "$status" acked)
bench_stop_pid "$SPID"
callgrind_control -d "$CPID" >/dev/null 2>&1 # dump while the process still runs
bench_stop_pid "$CPID"
msgs=$((acked1 - acked0))
[ "$msgs" -gt 0 ] || { echo "ingest_callgrind: no message acknowledged while counting"; exit 1; }
# The messages divided by are the calls of store_add_telemetry in the counted window (exact);
# the sim's figure (its status file, up to 1 s old) is printed next to it as a check.

# The dump taken while the server still ran holds exactly the counted window.
part=$cg.1
[ -s "$part" ] || { echo "ingest_callgrind: no callgrind output"; exit 1; }
callgrind_annotate --inclusive=yes --threshold=100 "$part" >"$work/incl.txt" 2>/dev/null
callgrind_annotate --inclusive=no --threshold=100 "$part" >"$work/self.txt" 2>/dev/null
[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$part" "$work/incl.txt" "$work/self.txt" "$KEEP"/

# Inclusive counts of the functions named (callgrind_annotate's "file:function [object]" lines).
node - "$work/incl.txt" "$work/self.txt" "$part" "$DEVICES" "$INFLIGHT" "$msgs" <<'EOF'
const fs = require("fs");
const [incF, selfF, rawF, devices, inflight, msgs] = process.argv.slice(2);
// Call counts from the raw file: "cfn=(id) name" (the name only the first time) then "calls=N".
const calls = new Map();
{
    const names = new Map();
    let cur = null;
    for (const l of fs.readFileSync(rawF, "utf8").split("\n")) {
        let m = /^c?fn=\((\d+)\)(?: (.*))?$/.exec(l);
        if (m) {
            if (m[2]) names.set(m[1], m[2]);
            cur = l.startsWith("cfn") ? names.get(m[1]) : null;
            continue;
        }
        m = /^calls=(\d+)/.exec(l);
        if (m && cur) {
            const k = cur.replace(/'\d+$/, "").replace(/@.*$/, "");
            calls.set(k, (calls.get(k) || 0) + +m[1]);
            cur = null;
        }
    }
}
const ncalls = (f) => calls.get(f) || 0;
function parse(f) {
    const m = new Map();
    let total = 0;
    for (const line of fs.readFileSync(f, "utf8").split("\n")) {
        let r = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+PROGRAM TOTALS/.exec(line);
        if (r) { total = +r[1].replace(/,/g, ""); continue; }
        r = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\S*?):(\S+?)(?:'\d+)?\s+\[([^\]]*)\]/.exec(line) ||
            /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\S*?):(\S+?)(?:'\d+)?\s*$/.exec(line);
        if (!r) continue;
        const v = +r[1].replace(/,/g, "");
        m.set(r[2], Math.max(m.get(r[2]) || 0, v));
    }
    return { m, total };
}
const inc = parse(incF), self = parse(selfF);
// Messages: telemetry handed to the store while counting (exact; the sim's status file lags).
const n = ncalls("store_add_telemetry");
if (!n) { console.log("ingest_callgrind: no telemetry counted"); process.exit(1); }
const per = (v) => (v / n).toFixed(0).padStart(9);
const incl = (...fs) => fs.reduce((a, f) => a + (inc.m.get(f) || 0), 0);
const selfs = (re) => [...self.m].filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0);
const rows = [
    ["whole process (every thread)", inc.total],
    ["event loop: io_cb (socket readable: read, decrypt, parse, dispatch)", incl("io_cb")],
    ["  TLS decrypt: SSL_read (incl. the read system call)", incl("SSL_read")],
    ["  MQTT parse: iotc_mqtt_frame + iotc_mqtt_decode", incl("iotc_mqtt_frame", "iotc_mqtt_decode")],
    ["  broker dispatch: hub_on_publish (incl. everything below)", incl("hub_on_publish")],
    ["    topic parse: iotc_hub_topic_classify + iotc_hub_telemetry_topic_parse", incl("iotc_hub_topic_classify", "iotc_hub_telemetry_topic_parse")],
    ["    property bag -> JSON + hand-off: record_telemetry", incl("record_telemetry")],
    ["    hand-off to the store thread: store_add_telemetry", incl("store_add_telemetry")],
    ["    event bus: events_telemetry", incl("events_telemetry")],
    ["  seal for the writer: seal_cb", incl("seal_cb")],
    ["store writer thread: writer_main", incl("writer_main")],
    ["  SQLite, every statement: sqlite3_step", incl("sqlite3_step")],
    ["    SQLite row + index b-tree inserts: sqlite3BtreeInsert", incl("sqlite3BtreeInsert")],
    ["    COMMIT: sqlite3VdbeHalt (WAL frames, checksums, write, fsync)", incl("sqlite3VdbeHalt")],
    ["      WAL frames written: sqlite3WalFrames", incl("sqlite3WalFrames")],
    ["  move of staged rows into the indexed table: move_slice (its share)", incl("move_staged", "move_slice")],
    ["  wake the loop: event_active (both threads)", incl("event_active")],
    ["wake-up on the loop: done_cb (incl. PUBACK encode + queue)", incl("done_cb")],
    ["PUBACK write: flush_dirty_cb (encrypt + write)", incl("flush_dirty_cb")],
    ["  TLS encrypt + write: SSL_write", incl("SSL_write")],
    ["libevent loop itself: event_base_loop self + epoll_wait", (self.m.get("event_base_loop") || 0) + incl("epoll_wait")],
    ["allocation: malloc/calloc/realloc/free (self, every caller)", selfs(/^(malloc|calloc|realloc|free|_int_malloc|_int_free|malloc_consolidate|_int_realloc|cfree)$/)],
    ["locks: pthread_mutex_* / pthread_cond_* (self)", selfs(/^(__)?pthread_(mutex|cond)_/)],
    ["system calls made from libc (self of the wrappers)", selfs(/^(__libc_)?(read|write|fsync|fdatasync|epoll_wait|pwrite64|pread64|__write_nocancel|__read_nocancel)$/)],
];
console.log(`ingest callgrind: ${devices} devices, ${inflight} in flight, QoS 1 over TLS, ${n} messages acknowledged while counting`);
console.log(`(sim status file: ${msgs} acknowledged; user-space instructions only: the kernel's share of system calls is not counted)`);
console.log("instructions per message  stage");
for (const [name, v] of rows) console.log(`${per(v)}  ${name}`);
const commits = ncalls("fdatasync") + ncalls("fsync");
const r = (a, b) => (b ? a / b : 0).toFixed(2);
console.log(`per message: ${r(ncalls("malloc") + ncalls("calloc") + ncalls("realloc"), n)} allocations, ` +
    `${r(ncalls("read") + ncalls("write") + ncalls("epoll_wait") + ncalls("pwrite") + ncalls("pwrite64") + commits, n)} system calls ` +
    `(read ${r(ncalls("read"), n)}, write ${r(ncalls("write"), n)}, epoll_wait ${r(ncalls("epoll_wait"), n)}, pwrite ${r(ncalls("pwrite") + ncalls("pwrite64"), n)}), ` +
    `loop wake-ups done_cb ${r(ncalls("done_cb"), n)}, PUBACK flushes flush_dirty_cb ${r(ncalls("flush_dirty_cb"), n)}`);
const mv = ncalls("move_staged") + ncalls("move_slice");
console.log(`staged-row move transactions (slices): ${mv}, ${r(n, mv)} messages per move transaction`);
console.log(`commits (fdatasync): ${commits}, ${r(n, commits)} messages per commit, ${r(ncalls("pwrite") + ncalls("pwrite64"), commits)} WAL pwrites per commit (2 per page frame)`);
EOF
