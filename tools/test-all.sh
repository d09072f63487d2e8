#!/usr/bin/env bash
# Run every test on a fresh machine: install what is missing, build, test.
#   tools/test-all.sh              release build (gcc) into build/release
#   tools/test-all.sh --sanitize   the same tests under ASan + UBSan (build/release-san)
# Ends with the line "N passed, N failed"; exits non-zero on any failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
san=""
for a in "$@"; do
    case "$a" in
    --sanitize) san="address,undefined" ;;
    *) echo "usage: tools/test-all.sh [--sanitize]" >&2; exit 2 ;;
    esac
done
tools/deps.sh --test || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
if [ -n "$san" ]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
    make -s -j"$jobs" SANITIZE="$san" WERROR="${WERROR:-0}" all || { echo "0 passed, 1 failed"; exit 1; }
    make -s SANITIZE="$san" WERROR="${WERROR:-0}" test
else
    make -s -j"$jobs" WERROR="${WERROR:-0}" all || { echo "0 passed, 1 failed"; exit 1; }
    make -s WERROR="${WERROR:-0}" test
fi
