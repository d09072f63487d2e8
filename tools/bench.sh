#!/usr/bin/env bash
# Benchmarks behind `make bench`: prints a table, never passes or fails on the figures.
#
#   tools/bench.sh BUILDDIR [--quick] [--rows 1,2,3,4,5,6,7,8,9]      (or BENCH_QUICK=1)
#   BENCH_CONNS=100000 tools/bench.sh BUILDDIR --rows 8   (row 8's connection count)
#
# Each row is measured in this one run on this machine with the same load generator
# (iotc-sim), side by side where there is a reference:
#   1 telemetry ingest, QoS 1 over TLS: iotc-central (durable) vs mosquitto (TLS, no
#     persistence, no subscriber: no work beyond acknowledging); acked msg/s and msg per
#     server CPU-second
#   2 idle TLS connections: server RSS growth per connection, iotc-central vs mosquitto
#   3 command round trip REST -> device -> REST (POST /twins/{id}/methods), p50/p99
#   4 DPS registrations per second
#   5 device side: examples/environmental_sensor (libiotc) vs the Node device SDK
#   6 data export to a webhook and to Kafka (librdkafka's mock cluster): msg per iotc-central
#     CPU-second of a drain, then the export lag while 1,000 devices send at row 7's rate
#     (bench/export_bench.sh, printed after the table)
#   7 ingest as devices send: one QoS 1 message in flight per device, at 100 and at 1,000
#     devices, iotc-central (durable) vs mosquitto (persistence off) WITHOUT a subscriber: the
#     primary comparison; acked msg/s, msg per server CPU-second, PUBACK p99
#   8 many connections: BENCH_CONNS TLS devices (default 20,000; 2,000 with --quick; the
#     issue's figure is 100,000) each sending one QoS 1 message a minute, created beforehand,
#     from several loopback source addresses, connects paced (bench/conns.sh); server KB per
#     connection, connect storm, messages acked / sent, iotc-central vs mosquitto
#   9 TLS handshake + CONNECT per server CPU-second, SAS devices next to X.509 (selfSigned)
#     devices with client certificates (bench/x509_handshakes.mjs, printed after the table)
# Loopback only, free ports, a temporary directory; everything started here is stopped here.
# Raw results (JSON) are kept in BUILDDIR/bench/.
set -u
B=${1:?usage: tools/bench.sh BUILDDIR [--quick]}
shift
QUICK=${BENCH_QUICK:-0}
ROWS=1,2,3,4,5,6,7,8,9
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --rows) ROWS=${2:?--rows needs a list such as 5 or 1,3}; shift ;;
    *) echo "bench: unknown argument $1 (usage: tools/bench.sh BUILDDIR [--quick] [--rows LIST])"; exit 2 ;;
    esac
    shift
done
want() { case ",$ROWS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
# Rows 1-3 and 7 connect devices that row 4 registered.
if want 1 || want 2 || want 3 || want 7; then ROWS=$ROWS,4; fi
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=$(cd "$B" && pwd) || exit 2
SIM=$B/iotc-sim
CENTRAL=$B/iotc-central
SENSOR=$B/environmental-sensor
for bin in "$SIM" "$CENTRAL"; do
    [ -x "$bin" ] || { echo "bench: $bin is missing (run make first)"; exit 2; }
done
command -v node >/dev/null || { echo "bench: node is needed for the table"; exit 2; }

if [ "$QUICK" = 1 ]; then
    N_INGEST=100 N_IDLE=1000 N_CMD=100 N_DPS=1000 CALLS=300 MSGS=2000 MEASURE=3 RAMP=500
    CONC=200 DPS_CONC=1000 N_CONNS=${BENCH_CONNS:-2000} ONE_SIZES="100 1000"
else
    N_INGEST=1000 N_IDLE=10000 N_CMD=1000 N_DPS=10000 CALLS=2000 MSGS=10000 MEASURE=10 RAMP=1000
    CONC=500 DPS_CONC=3000 N_CONNS=${BENCH_CONNS:-20000} ONE_SIZES="100 1000"
fi
# Row 8: connects paced at CONN_RAMP per second (bench/conns.sh picks the source addresses).
CONN_RAMP=2000
# --concurrency: at most that many devices handshaking/registering at once, so an overloaded
# server slows the ramp down instead of timing devices out (a closed loop, like a fleet that
# backs off). DPS answers 202 + retry-after >= 1 s, so its rate is at most DPS_CONC per second:
# a mass registration needs thousands in flight to reach 1,000/s.
INFLIGHT=16
# 10,000 connections need 10,000 descriptors in the server and as many in the sim.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N_IDLE + 200)) ]; then
    N_IDLE=$(($(ulimit -n) - 200))
    echo "bench: open-file limit $(ulimit -n): idle connections reduced to $N_IDLE"
fi
# Row 8 (bench/conns.sh) raises the limit itself where it may, or splits its devices over
# several processes where it may not.

. bench/lib.sh
bench_workdir bench
out=$B/bench
rm -rf "$out"
mkdir -p "$out"

log() { printf 'bench: %s\n' "$*" >&2; }
jget() { bench_jget "$@"; }
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() { # PORT SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
stop_pid() { bench_stop_pid "$@"; }
load() { cut -d' ' -f1 /proc/loadavg; }

# ---------------------------------------------------------------- servers
CPID=
start_central() {
    bench_central_start "$CENTRAL" "$work/central" --max-connections 1000000 || return 1
    cp "$work/central.app.json" "$work/app.json" || return 1
    HUB=$(jget "$work/central/ports.json" assignedHub)
}
stop_central() { [ -n "$CPID" ] && stop_pid "$CPID"; CPID=; }

MPID=
MOSQ=$(command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null || true)
mosq_certs() {
    local d=$work/mosq
    mkdir -p "$d"
    openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" 2>/dev/null &&
        openssl req -x509 -new -key "$d/ca.key" -subj "/CN=bench CA" -days 2 -out "$d/ca.pem" 2>/dev/null &&
        openssl ecparam -name prime256v1 -genkey -noout -out "$d/server.key" 2>/dev/null &&
        openssl req -new -key "$d/server.key" -subj "/CN=localhost" -out "$d/server.csr" 2>/dev/null &&
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext.cnf" &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
            -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}
start_mosquitto() {
    MPORT=$(free_port)
    cat >"$work/mosq/mosquitto.conf" <<EOF
listener $MPORT 127.0.0.1
cafile $work/mosq/ca.pem
certfile $work/mosq/server.pem
keyfile $work/mosq/server.key
allow_anonymous true
max_connections -1
persistence false
set_tcp_nodelay true
max_queued_messages 100000
log_dest stderr
log_type error
log_type warning
EOF
    # Started as root, mosquitto switches to the "mosquitto" user, which cannot read our
    # private temporary directory.
    [ "$(id -u)" = 0 ] && echo "user root" >>"$work/mosq/mosquitto.conf"
    "$MOSQ" -c "$work/mosq/mosquitto.conf" 2>>"$work/mosquitto.log" &
    MPID=$!
    bench_pids+=("$MPID")
    wait_port "$MPORT" 10 || { log "mosquitto did not start"; return 1; }
}
stop_mosquitto() { [ -n "$MPID" ] && stop_pid "$MPID"; MPID=; }

sim() { # OUTFILE ARGS...: run iotc-sim, summary to OUTFILE, progress lines to the log
    local outf=$1 p
    shift
    # In the background + wait, so that an interrupt reaches the trap at once.
    timeout --kill-after=10 900 "$SIM" --quiet "$@" >"$outf" 2>>"$work/sim.log" &
    p=$!
    bench_pids+=("$p")
    wait "$p"
}

# ---------------------------------------------------------------- run
node -e 'console.log(JSON.stringify({date:new Date().toISOString().replace(/\..*/,"Z"),cpus:require("os").cpus().length,quick:process.argv[1]==="1",load_start:process.argv[2],node:process.version,mosquitto:process.argv[3]||null,n_ingest:+process.argv[4],n_idle:+process.argv[5],n_cmd:+process.argv[6],n_dps:+process.argv[7],msgs:+process.argv[8],rows:process.argv[9].split(",").map(Number),n_conns:+process.argv[10]}))' \
    "$QUICK" "$(load)" "$([ -n "$MOSQ" ] && "$MOSQ" -h 2>/dev/null | head -1 | sed 's/ is an MQTT.*//')" \
    "$N_INGEST" "$N_IDLE" "$N_CMD" "$N_DPS" "$MSGS" "$ROWS" "$N_CONNS" >"$work/meta.json"
have_mosq=0
if [ -n "$MOSQ" ] && mosq_certs; then have_mosq=1; else log "mosquitto or openssl missing: reference rows are n/a"; fi

# 4 first: it registers the devices that rows 1-3 then connect with directly (--hub), as
# provisioned devices do after their first registration.
if want 4; then
log "row 4: $N_DPS DPS registrations"
start_central || exit 1
sim "$work/r4-central.json" --app "$work/app.json" --dps-only --devices "$N_DPS" --ramp 0 --concurrency "$DPS_CONC" \
    --duration 600 --server-pid "$CPID"
stop_central
fi

if want 2; then
log "row 2: $N_IDLE idle TLS connections (iotc-central)"
start_central || exit 1
sim "$work/r2-central.json" --app "$work/app.json" --hub "$HUB" --devices "$N_IDLE" --ramp "$RAMP" \
    --concurrency "$CONC" --rate 0 --warmup 3 --measure 1 --duration 600 --server-pid "$CPID"
stop_central
if [ "$have_mosq" = 1 ]; then
    log "row 2: $N_IDLE idle TLS connections (mosquitto)"
    start_mosquitto && sim "$work/r2-mosquitto.json" --broker "127.0.0.1:$MPORT" --tls \
        --ca-file "$work/mosq/ca.pem" --devices "$N_IDLE" --ramp "$RAMP" --concurrency "$CONC" --rate 0 --warmup 3 \
        --measure 1 --duration 600 --server-pid "$MPID"
    stop_mosquitto
fi
fi

if want 1; then
log "row 1: ingest, $N_INGEST devices, QoS 1, closed loop of $INFLIGHT (iotc-central)"
start_central || exit 1
sim "$work/r1-central.json" --app "$work/app.json" --hub "$HUB" --devices "$N_INGEST" --ramp "$RAMP" \
    --concurrency "$CONC" --rate max --inflight "$INFLIGHT" --qos 1 --warmup 2 --measure "$MEASURE" --duration 600 \
    --server-pid "$CPID"
stop_central
if [ "$have_mosq" = 1 ]; then
    log "row 1: ingest (mosquitto, no subscriber)"
    start_mosquitto &&
        sim "$work/r1-mosquitto.json" --broker "127.0.0.1:$MPORT" --tls --ca-file "$work/mosq/ca.pem" \
            --devices "$N_INGEST" --ramp "$RAMP" --concurrency "$CONC" --rate max --inflight "$INFLIGHT" --qos 1 --warmup 2 \
            --measure "$MEASURE" --duration 600 --server-pid "$MPID"
    stop_mosquitto
fi
fi

if want 7; then
for n in $ONE_SIZES; do
    [ "$n" -le "$N_DPS" ] || continue
    # The same sim flags for both servers: n devices, one QoS 1 message in flight each.
    one=(--devices "$n" --ramp "$RAMP" --concurrency "$CONC" --rate max --inflight 1 --qos 1 --warmup 2
        --measure "$MEASURE" --duration 600)
    log "row 7: ingest, $n devices, one message in flight (iotc-central)"
    start_central || exit 1
    sim "$work/r7-$n-central.json" --app "$work/app.json" --hub "$HUB" "${one[@]}" --server-pid "$CPID"
    stop_central
    if [ "$have_mosq" = 1 ]; then
        log "row 7: ingest, $n devices, one message in flight (mosquitto, no subscriber)"
        start_mosquitto && sim "$work/r7-$n-mosquitto.json" --broker "127.0.0.1:$MPORT" --tls \
            --ca-file "$work/mosq/ca.pem" "${one[@]}" --server-pid "$MPID"
        stop_mosquitto
    fi
done
fi

if want 8; then
# bench/conns.sh: devices created beforehand (service API bulk import, SAS keys), connects paced
# at CONN_RAMP/s with at most CONC handshakes open, one QoS 1 message a minute per device for a
# 125 s window (every device sends at least two), iotc-central then mosquitto; it splits the
# devices over several server processes when the open-file limit is below N + 300.
log "row 8: $N_CONNS TLS connections, one message a minute each (bench/conns.sh)"
bench/conns.sh "$B" --conns "$N_CONNS" --ramp "$CONN_RAMP" --concurrency "$CONC" \
    --servers "iotc$([ "$have_mosq" = 1 ] && echo ,mosquitto)" --out "$work" | tee "$work/conns.txt" >&2
fi

if want 3; then
log "row 3: $CALLS method calls over the service API, $N_CMD devices connected"
start_central || exit 1
sim "$work/r3-central.json" --app "$work/app.json" --hub "$HUB" --devices "$N_CMD" --ramp "$RAMP" \
    --concurrency "$CONC" --rate 0 --warmup 1 --invoke "$CALLS" --invoke-conns 1 --duration 600 --server-pid "$CPID"
stop_central
fi

if want 5; then

# 5: one device at a time against a fresh server (DPS + hub).
start_central || exit 1
scope=$(jget "$work/app.json" idScope)
gkey=$(jget "$work/app.json" enrollmentGroup.primaryKey)
dps=$(jget "$work/app.json" dpsEndpoint)
ca=$(jget "$work/app.json" caFile)
timed() { # OUTFILE CMD...: wall ms, CPU s, peak RSS and peak own (anonymous) memory of CMD as
    #                  JSON, plus the counters CMD prints
    local outf=$1 t0 t1 rc tp mw u s m
    shift
    t0=$(date +%s%N)
    /usr/bin/time -f '%U %S %M' -o "$work/time.txt" timeout 300 "$@" >"$work/cmd.out" 2>&1 </dev/null &
    tp=$!
    node bench/memwatch.mjs "$tp" >"$work/mem.json" &
    mw=$!
    wait "$tp"
    rc=$?
    t1=$(date +%s%N)
    wait "$mw" 2>/dev/null
    read -r u s m <"$work/time.txt"
    node -e 'const [wall,u,s,m,rc,file,memf]=process.argv.slice(1);const fs=require("fs");let extra={};
        const t=fs.readFileSync(file,"utf8");const j=t.split("\n").filter(l=>l.startsWith("{")).pop();
        if(j)try{extra=JSON.parse(j)}catch{};const a=/Stopped: (\d+) sent, (\d+) acknowledged/.exec(t);
        if(a)extra={sent:+a[1],acked:+a[2]};let mem={};try{mem=JSON.parse(fs.readFileSync(memf,"utf8"))}catch{};
        console.log(JSON.stringify({...extra,...mem,wall_ms:Math.round(wall/1e6),cpu_s:+(+u + +s).toFixed(3),max_rss_kb:+m,exit:+rc}))' \
        "$((t1 - t0))" "$u" "$s" "$m" "$rc" "$work/cmd.out" "$work/mem.json" >"$outf"
}
if [ -x "$SENSOR" ]; then
    log "row 5: environmental-sensor (libiotc)"
    # The same job as bench/node_device.mjs: no line per message, and COUNT messages sent as
    # fast as acknowledgements allow with at most INFLIGHT unacknowledged.
    # Start to the first ack twice: through DPS (the assignment is then kept in the state
    # directory), and again with the kept assignment, straight to the hub.
    mkdir -p "$work/sensor-state"
    timed "$work/r5-c-first.json" "$SENSOR" --id-scope "$scope" --device-id bench-c-1 --group-key "$gkey" \
        --dps-endpoint "$dps" --ca-file "$ca" --count 1 --quiet --state-dir "$work/sensor-state"
    timed "$work/r5-c-cached.json" "$SENSOR" --id-scope "$scope" --device-id bench-c-1 --group-key "$gkey" \
        --dps-endpoint "$dps" --ca-file "$ca" --count 1 --quiet --state-dir "$work/sensor-state"
    timed "$work/r5-c-msgs.json" "$SENSOR" --id-scope "$scope" --device-id bench-c-2 --group-key "$gkey" \
        --dps-endpoint "$dps" --ca-file "$ca" --interval 0 --window "$INFLIGHT" --count "$MSGS" --quiet
    # The floor any client on the same shared libraries has: Debian's mosquitto_pub (libmosquitto,
    # libssl, libcrypto, libc) publishing one QoS 1 message over TLS as device bench-c-1.
    if command -v mosquitto_pub >/dev/null; then
        dkey=$(node -e 'const c=require("crypto");console.log(c.createHmac("sha256",Buffer.from(process.argv[1],"base64")).update(process.argv[2]).digest("base64"))' "$gkey" bench-c-1)
        sas=$(node -e 'const c=require("crypto");const [k,sr]=process.argv.slice(1);const se=Math.floor(Date.now()/1000)+3600;
            const sig=c.createHmac("sha256",Buffer.from(k,"base64")).update(encodeURIComponent(sr)+"\n"+se).digest("base64");
            console.log(`SharedAccessSignature sr=${encodeURIComponent(sr)}&sig=${encodeURIComponent(sig)}&se=${se}`)' "$dkey" "localhost/devices/bench-c-1")
        timed "$work/r5-floor.json" mosquitto_pub -h localhost -p "${HUB##*:}" --cafile "$ca" -V mqttv311 -q 1 \
            -i bench-c-1 -u "localhost/bench-c-1/?api-version=2021-04-12" -P "$sas" \
            -t 'devices/bench-c-1/messages/events/' -m '{"temp":20,"humid":50}'
    fi
else
    log "row 5: $SENSOR missing"
fi
if [ -d node_modules/azure-iot-device-mqtt ]; then
    log "row 5: Node SDK device"
    export NODE_EXTRA_CA_CERTS=$ca
    timed "$work/r5-node-first.json" node bench/node_device.mjs --scope "$scope" --dps "$dps" \
        --group-key "$gkey" --id bench-node-1 --count 1
    timed "$work/r5-node-msgs.json" node bench/node_device.mjs --scope "$scope" --dps "$dps" \
        --group-key "$gkey" --id bench-node-2 --count "$MSGS" --window "$INFLIGHT"
    unset NODE_EXTRA_CA_CERTS
else
    log "row 5: node_modules missing (npm ci): Node reference is n/a"
fi
stop_central
fi

node -e 'const f=process.argv[1];const o=JSON.parse(require("fs").readFileSync(f,"utf8"));o.load_end=process.argv[2];require("fs").writeFileSync(f,JSON.stringify(o))' \
    "$work/meta.json" "$(load)"
cp "$work"/*.json "$out"/ 2>/dev/null
cp "$work/sim.log" "$out/sim.log" 2>/dev/null
node bench/table.mjs "$out"
if want 6; then
    log "row 6: data export drain to a webhook and to Kafka, then the lag while devices send"
    bench/export_bench.sh "$B" $([ "$QUICK" = 1 ] && echo --quick) | tee "$out/export.txt"
    bench/export_bench.sh "$B" --live $([ "$QUICK" = 1 ] && echo --quick) | tee -a "$out/export.txt"
fi
if want 9; then
    if [ -d node_modules/azure-iot-common ]; then
        log "row 9: TLS handshakes with SAS and with X.509 client certificates"
        IOTC_BUILDDIR="$B" node bench/x509_handshakes.mjs --count "$([ "$QUICK" = 1 ] && echo 300 || echo 2000)" |
            tee "$out/x509.txt"
    else
        log "row 9: node_modules missing (npm ci): n/a"
    fi
fi
