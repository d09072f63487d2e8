#!/usr/bin/env bash
# The IoT Central tutorial on one machine: installs what is missing, builds, starts iotc-central
# (data in .demo/ at the top of the repository), imports and publishes the environmental-sensor
# template with its views, creates a device, runs environmental-sensor with that device's
# credentials, prints the addresses and a few `iotc` commands, then shows the sensor's output.
# Ctrl-C stops both programs cleanly; running the script again reuses the same application,
# template and device.
#
#   tools/demo.sh [--no-build] [--misspell NAME] [--device ID] [--mqtt-port N] [--https-port N]
#                 [--http-port N] [--wss-port auto|off|N] [--bind ADDR --hub-host NAME]
#
#   --no-build        skip tools/deps.sh and make (use an existing build)
#   --misspell NAME   the sensor sends its temperature as NAME instead of "temp" (watch
#                     `iotc raw` and `iotc conformance` flag it)
#   --device ID       device id (default sensor-01)
#   --mqtt-port N     MQTT/TLS port for DPS and IoT Hub (default 8883; another free port is
#                     chosen when it is taken)
#   --https-port N    HTTPS port of the REST API and web UI (default 8443; same rule)
#   --http-port N     plain-HTTP web UI and API on 127.0.0.1 only (default 8080; same rule)
#   --wss-port V      iotc-central's --wss-port: auto (default; 443 too when it may bind it),
#                     off or a port
#   --bind ADDR       where MQTT/TLS and HTTPS listen (default 127.0.0.1: this machine only);
#                     0.0.0.0 serves devices and browsers on the network
#   --hub-host NAME   the host name DPS gives devices (default localhost); with --bind, a name
#                     or address of this machine that the other machines reach
# Environment: IOTC_DEMO_DIR (default .demo), BUILDDIR (default: the Makefile's).
#
# The admin token `iotc-central init` writes is in .demo/app/admin-token (mode 0600);
# `iotc --data-dir .demo/app ...` reads it from there.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

build=1
misspell=""
device=sensor-01
mqtt_port=8883
https_port=8443
http_port=8080
wss_port=auto
bind=127.0.0.1
hub_host=""
while [ $# -gt 0 ]; do
    case "$1" in
    --no-build) build=0 ;;
    --misspell) misspell=${2:?--misspell needs a NAME}; shift ;;
    --device) device=${2:?--device needs an ID}; shift ;;
    --mqtt-port) mqtt_port=${2:?--mqtt-port needs N}; shift ;;
    --https-port) https_port=${2:?--https-port needs N}; shift ;;
    --http-port) http_port=${2:?--http-port needs N}; shift ;;
    --wss-port) wss_port=${2:?--wss-port needs auto, off or N}; shift ;;
    --bind) bind=${2:?--bind needs an ADDR}; shift ;;
    --hub-host) hub_host=${2:?--hub-host needs a NAME}; shift ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
    shift
done

demo=${IOTC_DEMO_DIR:-$top/.demo}
data=$demo/app
template='dtmi:iotc:example:EnvironmentalSensor;1'
model=models/environmental-sensor.dtdlv2.json
views=tools/demo-views.json

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

if [ "$build" = 1 ]; then
    tools/deps.sh || die "installing the dependencies failed"
    make -j2 central cli examples || die "the build failed"
fi
B=${BUILDDIR:-$(make -s --no-print-directory print-builddir)}
case "$B" in /*) ;; *) B=$top/$B ;; esac
for p in iotc-central iotc environmental-sensor; do
    [ -x "$B/$p" ] || die "$B/$p is missing (run without --no-build)"
done

mkdir -p "$demo"
central_pid=""
sensor_pid=""
tail_pid=""
sleep_pid=""

stop() {
    local rc=${1:-0}
    trap - INT TERM EXIT
    echo
    for p in $tail_pid $sleep_pid; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ -n "$sensor_pid" ] && kill -0 "$sensor_pid" 2>/dev/null; then
        say "stopping environmental-sensor"
        kill -TERM "$sensor_pid" 2>/dev/null
        wait "$sensor_pid" 2>/dev/null
    fi
    if [ -n "$central_pid" ] && kill -0 "$central_pid" 2>/dev/null; then
        say "stopping iotc-central (everything is saved in $data)"
        kill -TERM "$central_pid" 2>/dev/null
        wait "$central_pid" 2>/dev/null
    fi
    [ "$rc" = 0 ] && say "stopped; run tools/demo.sh again to continue where you left off"
    exit "$rc"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

# 1. The application: created once, with its admin token in $data/admin-token.
if [ ! -f "$data/app.json" ]; then
    say "creating the application in $data"
    "$B/iotc-central" init --data-dir "$data" >/dev/null || die "iotc-central init failed"
    [ -s "$data/admin-token" ] || die "iotc-central init wrote no $data/admin-token"
else
    say "reusing the application in $data"
fi
if [ ! -s "$data/admin-token" ] && [ -z "${IOTC_TOKEN:-}" ]; then
    die "$data/admin-token is missing: set IOTC_TOKEN to an admin token, or remove $demo to start over"
fi

# 2. The server, on the usual ports or, when they are taken, on free ones. A server left running
#    on this data dir (say the script was killed) would share the database: refuse.
old_pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$data/ports.json" 2>/dev/null)
if [ -n "$old_pid" ] && kill -0 "$old_pid" 2>/dev/null &&
    grep -q iotc-central "/proc/$old_pid/cmdline" 2>/dev/null; then
    die "iotc-central (pid $old_pid) is still running on $data: stop it first (kill $old_pid)"
fi
start_central() {
    : > "$demo/central.out"
    local host=()
    [ -n "$hub_host" ] && host=(--hub-host "$hub_host")
    "$B/iotc-central" serve --data-dir "$data" --mqtt-port "$1" --https-port "$2" \
        --http-port "$3" --wss-port "$wss_port" --bind "$bind" "${host[@]}" > "$demo/central.out" \
        2>> "$demo/central.log" < /dev/null &
    central_pid=$!
    for _ in $(seq 1 150); do
        grep -q '^ready$' "$demo/central.out" 2>/dev/null && return 0
        kill -0 "$central_pid" 2>/dev/null || { wait "$central_pid" 2>/dev/null; central_pid=""; return 1; }
        sleep 0.1
    done
    return 1
}
say "starting iotc-central"
if ! start_central "$mqtt_port" "$https_port" "$http_port"; then
    [ -n "$central_pid" ] && die "iotc-central did not get ready (see $demo/central.log)"
    say "port $mqtt_port, $https_port or $http_port is taken: using free ports"
    start_central 0 0 0 || die "iotc-central did not start (see $demo/central.log)"
fi
https_port=$(sed -n 's/^https-port //p' "$demo/central.out")
mqtt_port=$(sed -n 's/^mqtts-port //p' "$demo/central.out")
http_port=$(sed -n 's/^http-port //p' "$demo/central.out")

export IOTC_DATA_DIR=$data
iotc() { "$B/iotc" "$@"; }

# 3. The template with the tutorial's Properties view and the Online/Offline names, published.
say "importing the environmental-sensor template with its views"
iotc templates import "$model" --id "$template" --name "Environmental sensor" --views "$views" \
    --publish || die "importing the template failed"

# 4. The device: created once, associated with the template.
if iotc devices show "$device" > /dev/null 2>&1; then
    say "reusing device $device"
else
    iotc devices create "$device" --template "$template" --name "Environmental sensor ${device##*-}" \
        || die "creating device $device failed"
fi

# 5. The sensor, with the device's own credentials (ID scope, id, key, DPS endpoint, CA).
creds=$(iotc devices credentials "$device" --env) || die "reading the credentials failed"
eval "$creds"
extra=()
[ -n "$misspell" ] && extra+=(--misspell-telemetry "$misspell")
say "starting environmental-sensor as $device"
"$B/environmental-sensor" "${extra[@]}" > "$demo/sensor.log" 2>&1 < /dev/null &
sensor_pid=$!

cat <<EOF

  iotc-central     DPS + IoT Hub on mqtts://localhost:$mqtt_port, REST API on https://localhost:$https_port/api/
                   listening on $bind$([ "$bind" = 127.0.0.1 ] && echo " (this machine only; --bind 0.0.0.0 --hub-host NAME serves a network)")
  web address      http://127.0.0.1:$http_port/#token=$(cat "$data/admin-token" 2>/dev/null)
                   (loopback only; or https://localhost:$https_port/ with the CA $data/ca.pem)
  device           $device, template $template
  logs             $demo/central.log, $demo/sensor.log

  Try, in another terminal:
    export IOTC_DATA_DIR=$data PATH="$B:\$PATH"
    iotc devices list
    iotc properties get $device
    iotc properties set $device name=Contoso brightness=3      # pending, then synced
    iotc command run $device blink --request 2
    iotc command run $device rundiagnostics --wait
    iotc command history $device
    iotc telemetry tail $device
    iotc raw $device --from -5m
    iotc conformance $device

  Ctrl-C stops the sensor and the server; nothing is lost.

EOF
say "sensor output:"
tail -n +1 -f "$demo/sensor.log" &
tail_pid=$!
while kill -0 "$sensor_pid" 2>/dev/null && kill -0 "$central_pid" 2>/dev/null; do
    sleep 1 &
    sleep_pid=$!
    wait "$sleep_pid" 2>/dev/null
done
kill -0 "$central_pid" 2>/dev/null || say "iotc-central stopped (see $demo/central.log)"
kill -0 "$sensor_pid" 2>/dev/null || say "environmental-sensor stopped (see $demo/sensor.log)"
stop 1
