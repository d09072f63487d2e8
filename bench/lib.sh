# Sourced by the benchmark scripts (tools/bench.sh, bench/scaling.sh, bench/device_profile.sh):
# a private temporary directory removed on exit, iotc-central started on free loopback ports,
# and a JSON field reader. Callers set -u and define nothing of their own under these names.

# bench_workdir NAME: make $work (a fresh directory under TMPDIR) and arrange that on exit the
# processes listed in $bench_pids are stopped (SIGTERM, then SIGKILL after 0.5 s) and $work removed.
bench_pids=()
bench_workdir() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/iotc-$1.XXXXXX") || exit 2
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
bench_cleanup() {
    local p
    [ ${#bench_pids[@]} -gt 0 ] || { rm -rf "$work"; return; }
    for p in "${bench_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${bench_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$work"
}

# bench_jget FILE PATH: print the value at PATH (a.b.c) of the JSON in FILE, empty when absent.
bench_jget() {
    node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const v=process.argv[2].split(".").reduce((a,k)=>a==null?a:a[k],o);console.log(v===undefined?"":v)' "$1" "$2"
}

# bench_central_start CENTRAL DIR [SERVE_ARGS...]: start iotc-central with its data in DIR (logs
# in DIR.out / DIR.log), wait until it is ready, write DIR.app.json (`show --json`); sets CPID and
# adds it to $bench_pids. Returns 1, with the end of its log on stderr, if it does not come up.
bench_central_start() {
    local bin=$1 dir=$2 i
    shift 2
    "$bin" serve --data-dir "$dir" --bind 127.0.0.1 --mqtt-port 0 --https-port 0 --wss-port off --log-level warn "$@" \
        >"$dir.out" 2>>"$dir.log" &
    CPID=$!
    bench_pids+=("$CPID")
    for ((i = 0; i < 300; i++)); do
        grep -q '^ready' "$dir.out" 2>/dev/null && break
        if ! kill -0 "$CPID" 2>/dev/null; then
            echo "iotc-central exited; the end of its log:" >&2
            tail -5 "$dir.log" >&2
            return 1
        fi
        sleep 0.1
    done
    "$bin" show --data-dir "$dir" --json >"$dir.app.json"
}

# bench_stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL.
bench_stop_pid() {
    local p=$1 i
    kill -TERM "$p" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
}
