#!/usr/bin/env bash
# Run each libFuzzer target for a bounded time on its seed corpus.
#   tools/fuzz-smoke.sh FUZZ_BUILDDIR SECONDS
# New inputs go to a temporary corpus, never into the repository; a crash
# input is copied to fuzz/ (crash-*) so it can be added to the seed corpus.
set -u
FB=${1:?usage: fuzz-smoke.sh FUZZ_BUILDDIR SECONDS}
SECS=${2:-30}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
for bin in "$FB"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fuzz_}
    mkdir -p "$work/$name"
    log="$work/$name.log"
    dict=""
    [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
    "$bin" "$work/$name" "fuzz/corpus/$name" $dict -max_total_time="$SECS" -rss_limit_mb=2048 \
        -artifact_prefix="fuzz/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1))
        printf 'fuzz_%-20s clean: %s\n' "$name" "${runs:-?}"
    else
        fail=$((fail + 1))
        printf 'fuzz_%-20s FAILED (exit %d)\n' "$name" "$rc"
        tail -n 30 "$log" | sed 's/^/    | /'
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
