#!/usr/bin/env bash
# The server's layers, checked: each folder of src/central may include only the folders
# listed for it below (its own always). A line "a.c includes central/x/y.h" that breaks
# the table is printed and the script exits 1. docs/ARCHITECTURE.md draws the same table.
#
#   folder    may use
set -u
cd "$(dirname "$0")/.." || exit 2
allowed() {
    case "$1" in
    base | dtdl) echo "" ;;
    setup) echo "base" ;;
    store) echo "base" ;;
    hub) echo "base store" ;;
    http) echo "base store" ;;
    service) echo "base store hub http" ;;
    app) echo "base store hub dtdl" ;;
    export) echo "base store hub app dtdl" ;;
    api) echo "base store setup hub http app export dtdl" ;;
    top) echo "base store setup hub http service app export api dtdl" ;;
    *) echo "?" ;;
    esac
}
bad=0
for f in $(git ls-files 'src/central/*.c' 'src/central/*.h' 'src/sim/*.c' 'src/sim/*.h' 'src/dtdl/*' \
           'src/proto/*' 'src/device/*'); do
    dir=${f#src/}
    dir=${dir%/*}
    case "$dir" in
    central) layer=top ;;
    central/*) layer=${dir#central/} ;;
    dtdl) layer=dtdl ;;
    *) layer=other:$dir ;;
    esac
    while read -r inc; do
        case "$inc" in
        central/*/*) used=${inc#central/}; used=${used%%/*} ;;
        central/*) used=top ;;
        dtdl/*) used=dtdl ;;
        *) continue ;;
        esac
        [ "$used" = "$layer" ] && continue
        ok=0
        case "$layer" in
        other:proto | other:device) ok=0 ;;             # below the server: nothing of it
        other:sim) [ "$used" = dtdl ] && ok=1 ;;          # the simulator: DTDL only
        *) for a in $(allowed "$layer"); do [ "$a" = "$used" ] && ok=1; done ;;
        esac
        if [ "$ok" -eq 0 ]; then
            echo "layers: $f includes $inc (${layer#other:} may not use $used)"
            bad=1
        fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
[ "$bad" -eq 0 ] && echo "layers: ok"
exit "$bad"
