#!/usr/bin/env bash
# Instructions per row of the store's staged-row move, alone (no server, no TLS): build/.../
# tests/store-move (bench/store_move.c) puts PREFILL rows of history in telemetry_main, commits
# STAGED rows over DEVICES devices into telemetry_staging, then moves them in slices of SLICE rows
# under `valgrind --tool=callgrind --toggle-collect=move_slice`: only the move is counted, and the
# count does not depend on the machine's load. Prints instructions per moved row, the slices and
# the move's wall time (that one does depend on the load).
#
#   bench/store_move.sh BUILDDIR [DEVICES] [PREFILL] [STAGED] [SLICE]      (50 200000 8192 2048)
#
# Everything is in a temporary directory, removed at the end.
set -u
B=${1:?usage: bench/store_move.sh BUILDDIR [DEVICES] [PREFILL] [STAGED] [SLICE]}
DEVICES=${2:-50}
PREFILL=${3:-200000}
STAGED=${4:-8192}
SLICE=${5:-2048}
command -v valgrind >/dev/null || { echo "store_move: valgrind is missing"; exit 2; }
[ -x "$B/tests/store-move" ] || { echo "store_move: $B/tests/store-move is missing (make tests)"; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/iotc-move.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
mkdir "$work/data" || exit 1
valgrind --tool=callgrind --toggle-collect=move_slice --callgrind-out-file="$work/cg.out" \
    "$B/tests/store-move" "$work/data" "$DEVICES" "$PREFILL" "$STAGED" "$SLICE" >"$work/out" 2>"$work/log" ||
    { echo "store_move: the run failed"; tail -5 "$work/log"; exit 1; }
ir=$(callgrind_annotate "$work/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
[ -n "$ir" ] || { echo "store_move: no callgrind totals"; exit 1; }
[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$work/cg.out" "$KEEP/"
printf 'store move: %s devices, %s rows of history, %s staged, slices of %s: %d instructions per moved row; %s\n' \
    "$DEVICES" "$PREFILL" "$STAGED" "$SLICE" "$((ir / STAGED))" "$(cat "$work/out")"
