#!/usr/bin/env bash
# Many connections: N TLS devices, each sending one QoS 1 message a minute, against iotc-central
# and against Mosquitto (persistence off, no subscriber, max_connections -1), with the same
# iotc-sim flags for both. `make bench` row 8 runs it; alone:
#
#   bench/conns.sh BUILDDIR [--conns N] [--servers iotc,mosquitto] [--ramp R] [--concurrency K]
#                  [--measure S] [--out DIR]
#   e.g. nice bench/conns.sh build/release --conns 100000
#
# - Devices are created beforehand through the service API's bulk import (bench/precreate.mjs)
#   with SAS keys, so DPS is not part of the connect storm.
# - Connects are paced: at most R started per second and at most K handshakes open at once
#   (iotc-sim --ramp / --concurrency), so the storm runs at the handshake limit of the machine.
#   Failed handshakes are retried (iotc-sim --retries) and counted, timeouts by name.
# - One loopback source address per 20,000 devices (iotc-sim --source-addrs).
# - The window opens 3 s after every device is up and lasts S seconds (default 125), so that
#   every device sends at least two messages (its first one comes at a random point of its
#   first minute).
#
# What it needs: N + 300 open files in each server and in each iotc-sim. The script raises the
# soft limit to the hard one and, as root with CAP_SYS_RESOURCE, the hard limit too. Where the
# hard limit stays lower, the N devices are split over P server processes (and P iotc-sim
# processes), each holding what its limit allows; the summary says so (processes). sysctls that
# matter at 100,000: net.core.somaxconn (accept queue; read by iotc-central at start),
# net.ipv4.ip_local_port_range (ports per source address), net.netfilter.nf_conntrack_max (when
# conntrack is loaded; the script prints them). Memory: ~25 KB per device in iotc-sim and ~15 KB
# in the server.
#
# Writes DIR/r8-central.json and DIR/r8-mosquitto.json (bench/conns_sum.mjs: the iotc-sim
# summaries of all processes summed) and prints one line per server. Loopback only, free ports,
# a temporary directory; everything started here is stopped here.
set -u
B=${1:?usage: bench/conns.sh BUILDDIR [--conns N] [--servers iotc,mosquitto] [--out DIR]}
shift
N=${BENCH_CONNS:-20000} SERVERS=iotc,mosquitto RAMP=2000 CONC=500 MEASURE=125 OUT=
while [ $# -gt 0 ]; do
    case $1 in
    --conns) N=${2:?}; shift ;;
    --servers) SERVERS=${2:?}; shift ;;
    --ramp) RAMP=${2:?}; shift ;;
    --concurrency) CONC=${2:?}; shift ;;
    --measure) MEASURE=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    *) echo "conns: unknown argument $1"; exit 2 ;;
    esac
    shift
done
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=$(cd "$B" && pwd) || exit 2
[ -n "$OUT" ] || OUT=$B/bench
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || exit 2
for bin in "$B/iotc-sim" "$B/iotc-central"; do
    [ -x "$bin" ] || { echo "conns: $bin is missing (run make first)"; exit 2; }
done
MOSQ=$(command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null || true)

# ------------------------------------------------------------------ descriptors
SLACK=300
hard=$(ulimit -Hn)
# Raising the hard limit works only as root with CAP_SYS_RESOURCE.
[ "$hard" != unlimited ] && [ "$hard" -lt $((N + SLACK)) ] && ulimit -Hn $((N + SLACK)) 2>/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null
lim=$(ulimit -n)
[ "$lim" = unlimited ] && lim=$((N + SLACK))
PER=$((lim - SLACK))
[ "$PER" -ge 100 ] || { echo "conns: open-file limit $lim is too low"; exit 2; }
[ "$PER" -gt "$N" ] && PER=$N
P=$(((N + PER - 1) / PER))
log() { printf 'conns: %s\n' "$*" >&2; }
if [ "$P" -gt 1 ]; then
    log "open-file limit $lim (hard $(ulimit -Hn)); $N connections need $((N + SLACK)) per process." \
        "Raising the hard limit needs root with CAP_SYS_RESOURCE (or LimitNOFILE= / limits.conf);" \
        "without it the devices are split over $P server processes and $P iotc-sim processes."
fi
sysv() { local v; v=$(tr '\t' ' ' 2>/dev/null <"/proc/sys/$1") && [ -n "$v" ] && echo "$v" || echo n/a; }
log "somaxconn $(sysv net/core/somaxconn), ip_local_port_range $(sysv net/ipv4/ip_local_port_range)," \
    "nf_conntrack_max $(sysv net/netfilter/nf_conntrack_max), load average $(cut -d' ' -f1-3 /proc/loadavg)"
ADDRS=$(((N + 19999) / 20000))

. bench/lib.sh
bench_workdir conns
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() { # PORT SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# share K: devices of process K (0-based), and the first device number
share() { echo $((N / P + ($1 < N % P ? 1 : 0))); }
first() { local k=0 f=0; while [ "$k" -lt "$1" ]; do f=$((f + $(share "$k"))); k=$((k + 1)); done; echo "$f"; }

# The same flags for both servers: one QoS 1 message a minute, connects paced over all sims.
common() { # K
    echo --devices "$(share "$1")" --start-index "$(first "$1")" --source-addrs "$ADDRS" \
        --ramp "$(node -e "console.log(${RAMP}/${P})")" --concurrency $(((CONC + P - 1) / P)) \
        --rate 0.0166667 --qos 1 --retries 5 --warmup 3 --measure "$MEASURE" --duration 2200
}

# Run the P sims at once (each against its server K); wait for all; sum their summaries.
run_sims() { # NAME ARGS-FN
    local name=$1 argsfn=$2 k pids=()
    for ((k = 0; k < P; k++)); do
        # shellcheck disable=SC2046
        timeout --kill-after=60 2400 "$B/iotc-sim" --quiet $($argsfn "$k") $(common "$k") \
            >"$work/$name-$k.json" 2>>"$work/sim-$name.log" &
        pids+=($!)
        bench_pids+=($!)
    done
    for k in "${pids[@]}"; do wait "$k"; done
    node bench/conns_sum.mjs "$N" "$P" "$work/$name"-*.json >"$OUT/r8-$name.json"
    node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const s=d.server||{};
        console.log(`${process.argv[2].padEnd(9)} ${d.devices} devices in ${d.processes} process(es): connected ${d.window.connected}, ` +
        `storm ${d.storm.seconds} s (${d.storm.connects_per_s}/s), errors ${JSON.stringify(d.errors)}, reconnects ${d.reconnects}, ` +
        `acked/sent ${d.acked}/${d.sent}, devices with >= 2 acked ${d.devices_acked.two_or_more}, ` +
        `server RSS ${(s.rss_per_connection_bytes / 1024).toFixed(1)} KB/conn, HWM ${s.hwm_kb} KB`)' "$OUT/r8-$name.json" "$name"
}

# ------------------------------------------------------------------ iotc-central
CPIDS=() HUBS=()
if [[ ,$SERVERS, == *,iotc,* ]]; then
    for ((k = 0; k < P; k++)); do
        # shellcheck disable=SC2086 # BENCH_CENTRAL_ARGS: more serve options, e.g. "--commit-delay 5000"
        bench_central_start "$B/iotc-central" "$work/central$k" --max-connections 1000000 ${BENCH_CENTRAL_ARGS:-} || exit 1
        CPIDS+=("$CPID")
        HUBS+=("$(bench_jget "$work/central$k.app.json" assignedHub)")
        # Device identities with SAS keys, straight into the registry.
        node bench/precreate.mjs "$work/central$k.app.json" "$(share "$k")" sim- "$(first "$k")" >>"$work/precreate.log" ||
            { log "creating devices failed"; exit 1; }
    done
    log "iotc-central: $N devices created in $P process(es); connecting"
    iotc_args() { echo --app "$work/central$1.app.json" --hub "${HUBS[$1]}" --server-pid "${CPIDS[$1]}"; }
    run_sims central iotc_args
    # Of the RSS growth, what SQLite holds (page caches, bounded: the writer's is 16 MB): summed
    # over the processes, per connection, so the connections' own share can be told from it.
    sq=0
    for ((k = 0; k < P; k++)); do
        b=$("$B/iotc" --data-dir "$work/central$k" -o json stats 2>/dev/null |
            node -e 'let t="";process.stdin.on("data",(d)=>t+=d).on("end",()=>{try{console.log(JSON.parse(t).store.sqliteBytes|0)}catch{console.log(0)}})')
        sq=$((sq + ${b:-0}))
    done
    node -e 'const [f, n, sq] = process.argv.slice(1); const d = JSON.parse(require("fs").readFileSync(f, "utf8"));
        const c = d.window.connected || 1, r = (d.server || {}).rss_per_connection_bytes;
        d.server = Object.assign(d.server || {}, { sqlite_bytes: +sq, sqlite_per_connection_bytes: Math.round(sq / c) });
        require("fs").writeFileSync(f, JSON.stringify(d, null, 2));
        console.log(`central   of the RSS per connection, SQLite heap (caches) ${(sq / c / 1024).toFixed(1)} KB, ` +
            `the rest ${r == null ? "?" : ((r - sq / c) / 1024).toFixed(1)} KB (SQLite holds ${(sq / 1048576).toFixed(1)} MB in ${n} process(es))`);' \
        "$OUT/r8-central.json" "$P" "$sq"
    for p in "${CPIDS[@]}"; do bench_stop_pid "$p"; done
fi

# ------------------------------------------------------------------ mosquitto
if [[ ,$SERVERS, == *,mosquitto,* ]]; then
    if [ -z "$MOSQ" ]; then
        log "mosquitto is not installed: no reference"
    else
        d=$work/mosq
        mkdir -p "$d"
        openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" 2>/dev/null &&
            openssl req -x509 -new -key "$d/ca.key" -subj "/CN=bench CA" -days 2 -out "$d/ca.pem" 2>/dev/null &&
            openssl ecparam -name prime256v1 -genkey -noout -out "$d/server.key" 2>/dev/null &&
            openssl req -new -key "$d/server.key" -subj "/CN=localhost" -out "$d/server.csr" 2>/dev/null &&
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext.cnf" &&
            openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
                -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null || { log "openssl failed"; exit 1; }
        MPIDS=() MPORTS=()
        for ((k = 0; k < P; k++)); do
            port=$(free_port)
            {
                echo "listener $port 127.0.0.1"
                echo "cafile $d/ca.pem"
                echo "certfile $d/server.pem"
                echo "keyfile $d/server.key"
                echo "allow_anonymous true"
                echo "max_connections -1"
                echo "persistence false"
                echo "set_tcp_nodelay true"
                echo "log_dest stderr"
                echo "log_type error"
                echo "log_type warning"
                # As root it would switch to the "mosquitto" user, who cannot read $work.
                [ "$(id -u)" = 0 ] && echo "user root"
            } >"$d/m$k.conf"
            "$MOSQ" -c "$d/m$k.conf" 2>>"$work/mosquitto.log" &
            MPIDS+=($!)
            MPORTS+=("$port")
            bench_pids+=($!)
            wait_port "$port" 10 || { log "mosquitto did not start"; exit 1; }
        done
        log "mosquitto: $P process(es); connecting"
        mosq_args() { echo --broker "127.0.0.1:${MPORTS[$1]}" --tls --ca-file "$d/ca.pem" --server-pid "${MPIDS[$1]}"; }
        run_sims mosquitto mosq_args
        for p in "${MPIDS[@]}"; do bench_stop_pid "$p"; done
    fi
fi
cp "$work"/sim-*.log "$OUT"/ 2>/dev/null
exit 0
