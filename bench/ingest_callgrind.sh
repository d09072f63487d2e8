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
# Then Mosquitto (the system's, persistence off, no subscriber, TLS) is counted the same way
# with the same iotc-sim flags: instructions per message (messages = its handle__publish calls)
# and the same split, printed next to iotc-central's; MOSQUITTO=0 skips it.
#
#   bench/ingest_callgrind.sh BUILDDIR [DEVICES] [SECONDS] [INFLIGHT]      (50 20 1)
#   KEEP=DIR bench/ingest_callgrind.sh ...   keep callgrind.out in DIR (callgrind_annotate it)
#   PREFILL=N bench/ingest_callgrind.sh ...  N rows of history in the table before the run
#   RULES=N bench/ingest_callgrind.sh ...    N rules (temperature > 1000, never true) on a group
#                                            of every device, evaluated on each message
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
if [ "${RULES:-0}" -gt 0 ]; then
    "$B/iotc" --data-dir "$dir" device-groups create all --filter 'SELECT * FROM devices' >/dev/null ||
        { echo "ingest_callgrind: cannot create the device group"; exit 1; }
    for ((r = 1; r <= RULES; r++)); do
        "$B/iotc" --data-dir "$dir" rules create "r$r" --group all --telemetry temperature \
            --operator '>' --value 1000 >/dev/null || { echo "ingest_callgrind: cannot create rule r$r"; exit 1; }
    done
fi
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

# Rows in the indexed table: only moves add to it here, so its growth while counting is the rows
# the counted move slices moved (a slice under way at either end makes it approximate).
main_rows() {
    command -v sqlite3 >/dev/null && sqlite3 -cmd ".timeout 10000" "file:$dir/central.db?mode=ro" \
        "SELECT COUNT(*) FROM telemetry_main" 2>/dev/null || echo 0
}

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
        main0=$(main_rows)
        break
    fi
    sleep 0.1
done
[ -n "$acked0" ] || { echo "ingest_callgrind: devices did not connect"; tail -3 "$work/sim.log"; exit 1; }
sleep "$SECONDS_RUN"
# The status file is rewritten every second: take the acks known when counting stops.
callgrind_control -i off "$CPID" >/dev/null 2>&1
acked1=$(bench_jget "$status" acked)
main1=$(main_rows)
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
node - "$work/incl.txt" "$work/self.txt" "$part" "$DEVICES" "$INFLIGHT" "$msgs" "$work/ours.json" "$((main1 - main0))" <<'EOF' || exit 1
const fs = require("fs");
const [incF, selfF, rawF, devices, inflight, msgs, summaryF, movedRows] = process.argv.slice(2);
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
    ["    topic parse: iotc_hub_topic_parse (inside classify where that is called)", incl("iotc_hub_topic_parse")],
    ["    property bag -> JSON + hand-off: record_telemetry", incl("record_telemetry")],
    ["    hand-off to the store thread: store_add_telemetry", incl("store_add_telemetry")],
    ["    event bus: events_telemetry", incl("events_telemetry")],
    ["      rules: rules_telemetry (RULES=N)", incl("rules_telemetry")],
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
    ["system calls made from libc (self of the wrappers)", selfs(/^(__libc_)?(read|write|recv|send|fsync|fdatasync|epoll_wait|pwrite64|pread64|__write_nocancel|__read_nocancel)$/)],
];
console.log(`ingest callgrind: ${devices} devices, ${inflight} in flight, QoS 1 over TLS, ${n} messages acknowledged while counting`);
console.log(`(sim status file: ${msgs} acknowledged; user-space instructions only: the kernel's share of system calls is not counted)`);
console.log("instructions per message  stage");
for (const [name, v] of rows) console.log(`${per(v)}  ${name}`);
const commits = ncalls("fdatasync") + ncalls("fsync");
const rd = ncalls("read") + ncalls("recv"), wr = ncalls("write") + ncalls("send");
const r = (a, b) => (b ? a / b : 0).toFixed(2);
console.log(`per message: ${r(ncalls("malloc") + ncalls("calloc") + ncalls("realloc"), n)} allocations, ` +
    `${r(rd + wr + ncalls("epoll_wait") + ncalls("pwrite") + ncalls("pwrite64") + commits, n)} system calls ` +
    `(read/recv ${r(rd, n)}, write/send ${r(wr, n)}, epoll_wait ${r(ncalls("epoll_wait"), n)}, pwrite ${r(ncalls("pwrite") + ncalls("pwrite64"), n)}), ` +
    `loop wake-ups done_cb ${r(ncalls("done_cb"), n)}, PUBACK flushes flush_dirty_cb ${r(ncalls("flush_dirty_cb"), n)}`);
const mv = ncalls("move_staged") + ncalls("move_slice");
console.log(`staged-row move transactions (slices): ${mv}, ${r(n, mv)} messages per move transaction`);
if (+movedRows > 0)
    console.log(`rows moved while counting: ${movedRows}, ${(incl("move_staged", "move_slice") / movedRows).toFixed(0)} move instructions per moved row`);
console.log(`commits (fdatasync): ${commits}, ${r(n, commits)} messages per commit, ${r(ncalls("pwrite") + ncalls("pwrite64"), commits)} WAL pwrites per commit (2 per page frame)`);
fs.writeFileSync(summaryF, JSON.stringify({
    n, whole: inc.total, tls_read: incl("SSL_read"), tls_write: incl("SSL_write"),
    store: incl("writer_main"),
    alloc: selfs(/^(malloc|calloc|realloc|free|_int_malloc|_int_free|malloc_consolidate|_int_realloc|cfree)$/),
    allocs: ncalls("malloc") + ncalls("calloc") + ncalls("realloc"),
}));
EOF
[ "${MOSQUITTO:-1}" = 0 ] && exit 0

# ---------------------------------------------------------------- Mosquitto, the same way
MOSQ=$(command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null || true)
[ -n "$MOSQ" ] || { echo "ingest_callgrind: mosquitto is missing: no comparison (MOSQUITTO=0 skips it)"; exit 0; }
m=$work/mosq
mkdir -p "$m" || exit 1
{ openssl ecparam -name prime256v1 -genkey -noout -out "$m/ca.key" &&
    openssl req -x509 -new -key "$m/ca.key" -subj "/CN=bench CA" -days 2 -out "$m/ca.pem" &&
    openssl ecparam -name prime256v1 -genkey -noout -out "$m/server.key" &&
    openssl req -new -key "$m/server.key" -subj "/CN=localhost" -out "$m/server.csr" &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$m/ext.cnf" &&
    openssl x509 -req -in "$m/server.csr" -CA "$m/ca.pem" -CAkey "$m/ca.key" -CAcreateserial \
        -days 2 -extfile "$m/ext.cnf" -out "$m/server.pem"; } 2>>"$m/log" ||
    { echo "ingest_callgrind: openssl could not make Mosquitto's certificate"; exit 1; }
mport=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# As tools/bench.sh runs it: persistence off, no subscriber, TCP_NODELAY like iotc-central.
cat >"$m/mosquitto.conf" <<CONF
listener $mport 127.0.0.1
cafile $m/ca.pem
certfile $m/server.pem
keyfile $m/server.key
allow_anonymous true
max_connections -1
persistence false
set_tcp_nodelay true
max_queued_messages 100000
log_dest stderr
log_type error
log_type warning
CONF
# Started as root, mosquitto would switch to its own user, which cannot read this directory.
[ "$(id -u)" = 0 ] && echo "user root" >>"$m/mosquitto.conf"
mcg=$work/mosq-callgrind.out
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$mcg" "$MOSQ" -c "$m/mosquitto.conf" \
    >"$m/out" 2>>"$m/log" &
MPID=$!
bench_pids+=("$MPID")
for ((i = 0; i < 300; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break
    kill -0 "$MPID" 2>/dev/null || { echo "ingest_callgrind: mosquitto exited"; tail -5 "$m/log"; exit 1; }
    sleep 0.1
done
mstatus=$work/mosq-status.json
"$B/iotc-sim" --quiet --broker "127.0.0.1:$mport" --tls --ca-file "$m/ca.pem" --devices "$DEVICES" \
    --ramp 0 --concurrency 100 --rate max --inflight "$INFLIGHT" --qos 1 --warmup 0 \
    --duration $((SECONDS_RUN + 60)) --status-file "$mstatus" >"$work/mosq-sim.json" 2>>"$work/sim.log" &
SPID=$!
bench_pids+=("$SPID")
on=
for ((i = 0; i < 600; i++)); do
    if [ -s "$mstatus" ] && [ "$(bench_jget "$mstatus" connected)" = "$DEVICES" ]; then
        callgrind_control -i on "$MPID" >/dev/null 2>&1 || { echo "ingest_callgrind: callgrind_control failed (mosquitto)"; exit 1; }
        on=1
        break
    fi
    sleep 0.1
done
[ -n "$on" ] || { echo "ingest_callgrind: devices did not connect to mosquitto"; tail -3 "$work/sim.log"; exit 1; }
sleep "$SECONDS_RUN"
callgrind_control -i off "$MPID" >/dev/null 2>&1
bench_stop_pid "$SPID"
callgrind_control -d "$MPID" >/dev/null 2>&1
bench_stop_pid "$MPID"
mpart=$mcg.1
[ -s "$mpart" ] || { echo "ingest_callgrind: no callgrind output (mosquitto)"; exit 1; }
callgrind_annotate --inclusive=yes --threshold=100 "$mpart" >"$work/mosq-incl.txt" 2>/dev/null
callgrind_annotate --inclusive=no --threshold=100 "$mpart" >"$work/mosq-self.txt" 2>/dev/null
[ -n "${KEEP:-}" ] && cp "$mpart" "$KEEP/mosq-callgrind.out.1" && cp "$work/mosq-incl.txt" "$work/mosq-self.txt" "$KEEP"/

node - "$work/mosq-incl.txt" "$work/mosq-self.txt" "$mpart" "$work/ours.json" <<'EOF'
const fs = require("fs");
const [incF, selfF, rawF, oursF] = process.argv.slice(2);
const ours = JSON.parse(fs.readFileSync(oursF, "utf8"));
// The same readers as above: call counts from the raw file, inclusive/self from the annotations.
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
// Messages: the PUBLISH packets Mosquitto handled while counting (handle__publish is exported).
const n = ncalls("handle__publish");
if (!n) { console.log("ingest_callgrind: mosquitto handled no PUBLISH while counting"); process.exit(1); }
const incl = (...fs) => fs.reduce((a, f) => a + (inc.m.get(f) || 0), 0);
const selfs = (re) => [...self.m].filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0);
const m = {
    n, whole: inc.total, tls_read: incl("SSL_read"), tls_write: incl("SSL_write"), store: 0,
    alloc: selfs(/^(malloc|calloc|realloc|free|_int_malloc|_int_free|malloc_consolidate|_int_realloc|cfree)$/),
    allocs: ncalls("malloc") + ncalls("calloc") + ncalls("realloc"),
};
const per = (v, k) => (k ? v / k : 0).toFixed(0).padStart(9);
const f2 = (v, k) => (k ? v / k : 0).toFixed(2);
console.log("");
console.log(`mosquitto, the same load: ${n} PUBLISH handled while counting (persistence off, no subscriber)`);
console.log("instructions per message  stage");
const mrows = [
    ["whole process", m.whole],
    ["  TLS decrypt: SSL_read (incl. the read system call)", m.tls_read],
    ["  PUBACK encrypt + write: SSL_write (incl. the write system call)", m.tls_write],
    ["  packet read: packet__read (incl. SSL_read and handle__publish)", incl("packet__read")],
    ["  PUBLISH handling: handle__publish (incl. queueing the PUBACK)", incl("handle__publish")],
    ["  packet write: packet__write (incl. SSL_write)", incl("packet__write")],
    ["  allocation: malloc/calloc/realloc/free (self, every caller)", m.alloc],
];
for (const [name, v] of mrows) console.log(`${per(v, n)}  ${name}`);
console.log(`per message: ${f2(m.allocs, n)} allocations, read ${f2(ncalls("read"), n)}, ` +
    `write ${f2(ncalls("write"), n)}, epoll_wait ${f2(ncalls("epoll_wait"), n)} system calls`);
console.log("");
console.log("instructions per message           iotc-central  mosquitto");
const row = (name, a, b) => console.log(`${name.padEnd(34)}${per(a, ours.n).padStart(12)}${per(b, n).padStart(11)}`);
const rest = (o) => o.whole - o.tls_read - o.tls_write - o.store;
row("whole process", ours.whole, m.whole);
row("TLS decrypt (SSL_read)", ours.tls_read, m.tls_read);
row("PUBACK encrypt + write (SSL_write)", ours.tls_write, m.tls_write);
row("storing (the writer thread)", ours.store, 0);
row("everything else", rest(ours), rest(m));
row("  of which allocation (self)", ours.alloc, m.alloc);
console.log(`${"allocations per message".padEnd(34)}${f2(ours.allocs, ours.n).padStart(12)}${f2(m.allocs, n).padStart(11)}`);
console.log(`TLS floor (SSL_read + SSL_write): iotc-central ${per(ours.tls_read + ours.tls_write, ours.n).trim()}, ` +
    `mosquitto ${per(m.tls_read + m.tls_write, n).trim()} instructions per message`);
EOF
