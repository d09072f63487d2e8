# Shared by the install tests (sourced, not run): start an installed iotc-central on loopback
# with free ports and a temporary data dir, drive it with the installed iotc and
# environmental-sensor, stop it. The caller defines ok/ko and a cleanup trap that calls
# stop_server.
#   RUN_SERVER=(prefix...)  how to run the server (e.g. runuser -u USER --; env LD_LIBRARY_PATH=...)
#   RUN_TOOLS=(prefix...)   how to run iotc and environmental-sensor

server_pid=""

stop_server() {
    [ -n "$server_pid" ] || return 0
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
}

# serve_and_check BINDIR DATADIR LOGDIR [serve options...]
serve_and_check() {
    local bin=$1 data=$2 logs=$3
    shift 3
    "${RUN_SERVER[@]}" "$bin/iotc-central" serve --data-dir "$data" --bind 127.0.0.1 \
        --mqtt-port 0 --https-port 0 --wss-port off "$@" >"$logs/serve.out" 2>"$logs/serve.err" &
    server_pid=$!
    local i
    for i in $(seq 1 200); do
        grep -q '^ready$' "$logs/serve.out" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q '^ready$' "$logs/serve.out" 2>/dev/null; then
        ok "installed iotc-central serves ($(grep -c port "$logs/serve.out") listeners; options: $*)"
    else
        ko "installed iotc-central did not get ready"
        cat "$logs/serve.out" "$logs/serve.err"
        stop_server
        return 1
    fi
    local dev=inst-$$
    if "${RUN_TOOLS[@]}" "$bin/iotc" --data-dir "$data" devices create "$dev" >"$logs/cli.out" 2>&1 &&
        "${RUN_TOOLS[@]}" "$bin/iotc" --data-dir "$data" --json devices list >>"$logs/cli.out" 2>&1 &&
        grep -q "\"$dev\"" "$logs/cli.out"; then
        ok "installed iotc creates and lists a device over HTTPS"
    else
        ko "installed iotc against the installed server"
        cat "$logs/cli.out"
    fi
    if "${RUN_TOOLS[@]}" "$bin/iotc" --data-dir "$data" devices credentials "$dev" --env \
        >"$logs/creds.sh" 2>>"$logs/cli.out" &&
        (. "$logs/creds.sh" && timeout 60 "${RUN_TOOLS[@]}" "$bin/environmental-sensor" --count 3 \
            --interval 0.2 --quiet </dev/null >"$logs/sensor.out" 2>&1); then
        ok "installed environmental-sensor provisioned and had 3 messages acknowledged"
    else
        ko "installed environmental-sensor"
        cat "$logs/cli.out" "$logs/sensor.out"
    fi
    kill -TERM "$server_pid"
    local rc=0
    wait "$server_pid" || rc=$?
    server_pid=""
    if [ "$rc" -eq 0 ] && [ ! -e "$data/ports.json" ]; then
        ok "installed iotc-central stops cleanly on SIGTERM"
    else
        ko "installed iotc-central stop (exit $rc)"
        tail -n 20 "$logs/serve.err"
    fi
}

# check_man MANDIR: every page is found by man and renders without a groff warning.
check_man() {
    local mandir=$1 page sec out f
    for page in iotc-central.8 iotc.1 iotc-sim.1 environmental-sensor.1; do
        sec=${page##*.}
        f=$mandir/man$sec/$page
        [ -f "$f" ] || f=$f.gz # the Debian package compresses them
        if [ ! -f "$f" ]; then
            ko "man page $page not installed"
            continue
        fi
        out=$(zcat -f "$f" | groff -man -Tutf8 -ww -z 2>&1)
        if [ -n "$out" ]; then
            ko "groff warns on $page: $out"
        elif ! MANWIDTH=80 MANPATH="$mandir" man "$sec" "${page%.*}" 2>/dev/null |
            grep -q '^NAME'; then
            ko "man $sec ${page%.*} does not render"
        else
            ok "man $sec ${page%.*} renders, no groff warning"
        fi
    done
}
