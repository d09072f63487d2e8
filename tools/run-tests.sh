#!/usr/bin/env bash
# Run every test of a build and print one closing line: "N passed, N failed".
#
#   tools/run-tests.sh BUILDDIR [unit|integration|replay|interop|install|all]
#
# Each test program reports its own counts, either as cmocka's summary
# ("[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)") or as a plain
# "N passed, N failed" line; a program that exits non-zero without
# reporting any failure counts as one failed test. Logs go to BUILDDIR/test-logs/.
set -u
B=${1:?usage: run-tests.sh BUILDDIR [group]}
GROUP=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=$(cd "$B" && pwd) || exit 2
export IOTC_BUILDDIR="$B"
LOGS="$B/test-logs"
mkdir -p "$LOGS"
TIMEOUT=${IOTC_TEST_TIMEOUT:-600}

total_pass=0
total_fail=0
failed_names=()

# count NAME LOGFILE EXITCODE SECONDS
count() {
    local name=$1 log=$2 rc=$3 secs=$4 p=0 f=0 n
    n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    p=$((p + n))
    n=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s).*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$((f + n))
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        n=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
        if [ -n "$n" ]; then
            p=$(echo "$n" | sed -E 's/^([A-Za-z]+: )?([0-9]+) passed.*/\2/')
            f=$(echo "$n" | sed -E 's/.* ([0-9]+) failed.*/\1/')
        fi
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$f" -ne 0 ]; then
        failed_names+=("$name")
        printf '%-40s %4d passed, %d FAILED (exit %d, %d s) - log: %s\n' "$name" "$p" "$f" "$rc" \
            "$secs" "$log"
        tail -n 40 "$log" | sed 's/^/    | /'
    else
        printf '%-40s %4d passed  %4d s\n' "$name" "$p" "$secs"
    fi
}

# run NAME CMD...
run() {
    local name=$1
    shift
    local log="$LOGS/$name.log" rc t0=$SECONDS
    timeout --kill-after=10 "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null
    rc=$?
    [ "$rc" -eq 124 ] && echo "run-tests: timed out after ${TIMEOUT}s" >>"$log"
    count "$name" "$log" "$rc" $((SECONDS - t0))
}

want() { [ "$GROUP" = all ] || [ "$GROUP" = "$1" ]; }

if want unit; then
    for t in tests/unit/test_*.c; do
        [ -e "$t" ] || continue
        n=$(basename "$t" .c)
        run "$n" "$B/tests/$n"
    done
fi
if want replay; then
    for f in fuzz/fuzz_*.c; do
        [ -e "$f" ] || continue
        n=${f#fuzz/fuzz_}
        n=${n%.c}
        run "replay_$n" "$B/tests/replay_$n" "fuzz/corpus/$n"
    done
fi
if want integration; then
    for t in tests/integration/test_*.c; do
        [ -e "$t" ] || continue
        n=$(basename "$t" .c)
        run "$n" "$B/tests/$n"
    done
fi
if want interop; then
    if [ -d node_modules ]; then
        for t in tests/interop/*.test.mjs; do
            [ -e "$t" ] || continue
            run "$(basename "$t" .test.mjs)" node "$t"
        done
    else
        echo "run-tests: node_modules missing (run tools/deps.sh); interop tests not run"
        total_fail=$((total_fail + 1))
    fi
fi
if want install; then
    for t in tests/install/*.sh; do
        [ -e "$t" ] || continue
        run "$(basename "$t" .sh)" bash "$t" "$B"
    done
fi
if want browser; then
    for t in tests/browser/*.test.mjs; do
        [ -e "$t" ] || continue
        run "browser_$(basename "$t" .test.mjs)" node "$t"
    done
fi

echo
if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
