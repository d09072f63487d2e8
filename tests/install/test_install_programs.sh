#!/usr/bin/env bash
# The install path from a fresh clone: `git clone` of HEAD, `make install` into a temporary
# PREFIX (and once more with DESTDIR), the clone deleted, then the installed programs run:
# iotc-central init + serve on free loopback ports, the installed iotc and environmental-sensor
# against it; each program finds the installed libiotc (RUNPATH); the man pages render; the
# systemd unit names the installed binary and `systemd-analyze verify` accepts it; nothing is
# written outside DESTDIR; `make uninstall` removes everything.
#   tests/install/test_install_programs.sh BUILDDIR   (BUILDDIR is not used: the clone builds)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
. tests/install/common.bash
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
ko() { fail=$((fail + 1)); echo "FAILED: $1"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

if [ -n "${IOTC_SAN_FLAGS:-}" ]; then
    # The clone is built without the sanitizer: the plain run of the install group covers it.
    echo "sanitizer run: the install-from-a-clone test runs in the plain build only"
    finish
fi
tmp=$(mktemp -d)
RUN_SERVER=()
RUN_TOOLS=()
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
prefix=$tmp/prefix
src=$tmp/src
logs=$tmp/logs
mkdir -p "$logs"

if git clone -q --no-local "$top" "$src" 2>"$logs/clone.log"; then
    ok "git clone of HEAD ($(git -C "$src" rev-parse --short HEAD))"
else
    ko "git clone"; cat "$logs/clone.log"; finish
fi
# The web UI needs uPlot from npm at build time (tools/deps.sh installs it).
[ -d "$top/node_modules/uplot" ] && ln -s "$top/node_modules" "$src/node_modules"
t0=$(date +%s)
if make -C "$src" -s -j2 PREFIX="$prefix" install >"$logs/install.log" 2>&1; then
    ok "make install PREFIX=... in the clone ($(($(date +%s) - t0)) s)"
else
    ko "make install in the clone"; tail -n 30 "$logs/install.log"; finish
fi
if make -C "$src" -s PREFIX=/opt/iotc-test DESTDIR="$tmp/stage" install >"$logs/stage.log" 2>&1 &&
    [ -x "$tmp/stage/opt/iotc-test/bin/iotc-central" ] &&
    [ -z "$(find "$tmp/stage" -mindepth 1 -not -path "$tmp/stage/opt" -not -path "$tmp/stage/opt/iotc-test" \
        -not -path "$tmp/stage/opt/iotc-test/*")" ]; then
    ok "make install DESTDIR=... PREFIX=/opt/iotc-test writes only under DESTDIR/PREFIX"
else
    ko "DESTDIR install"; cat "$logs/stage.log"; find "$tmp/stage" | head -40
fi
if make -C "$src" -s PREFIX=/opt/iotc-test DESTDIR="$tmp/stage" uninstall >>"$logs/stage.log" 2>&1 &&
    [ -z "$(find "$tmp/stage" -type f -o -type l)" ]; then
    ok "make uninstall removes every installed file"
else
    ko "make uninstall left:"; find "$tmp/stage" -type f -o -type l
fi
rm -rf "$src"
[ ! -e "$src" ] && ok "the clone and its build tree are deleted"

for b in iotc-central iotc iotc-sim environmental-sensor; do
    [ -x "$prefix/bin/$b" ] || ko "$prefix/bin/$b missing"
done
for b in iotc-central iotc-sim environmental-sensor; do
    dyn=$(readelf -d "$prefix/bin/$b" 2>/dev/null)
    lib=$(ldd "$prefix/bin/$b" 2>/dev/null | awk '$1 == "libiotc.so.0" {print $3}')
    if echo "$dyn" | grep -q 'NEEDED.*\[libiotc\.so\.0\]' &&
        echo "$dyn" | grep -q "RUNPATH.*\[$prefix/lib\]" && [ "$lib" = "$prefix/lib/libiotc.so.0" ]; then
        ok "$b: NEEDED libiotc.so.0, RUNPATH $prefix/lib, resolves to the installed copy"
    else
        ko "$b does not use the installed libiotc (ldd: ${lib:-none})"; echo "$dyn" | grep -E 'NEEDED|PATH'
    fi
done
if "$prefix/bin/iotc-sim" --version >/dev/null && "$prefix/bin/iotc" --version >/dev/null; then
    ok "installed iotc-sim and iotc run"
else
    ko "installed iotc-sim / iotc --version"
fi

data=$tmp/data
if "$prefix/bin/iotc-central" init --data-dir "$data" >"$logs/init.out" 2>"$logs/init.err" &&
    [ -f "$data/admin-token" ] && [ "$(stat -c %a "$data")" = 700 ]; then
    ok "installed iotc-central init (data dir 0700, admin-token written)"
else
    ko "installed iotc-central init"; cat "$logs/init.err"
fi
conf=$prefix/etc/iotc-central/iotc-central.conf
if cmp -s "$conf" "$top/etc/iotc-central.conf"; then
    ok "configuration installed in PREFIX/etc/iotc-central (SYSCONFDIR's default)"
else
    ko "no $conf, or not etc/iotc-central.conf"
fi
serve_and_check "$prefix/bin" "$data" "$logs" --config "$conf"

check_man "$prefix/share/man"

unit=$prefix/lib/systemd/system/iotc-central.service
if grep -q "^ExecStart=$prefix/bin/iotc-central serve --config $prefix/etc/iotc-central/iotc-central.conf --data-dir /var/lib/iotc-central$" "$unit" &&
    grep -q '^User=iotc-central$' "$unit" && [ -f "$prefix/lib/sysusers.d/iotc-central.conf" ]; then
    ok "unit runs the installed binary with the installed config, as user iotc-central"
else
    ko "unit ExecStart/User"; grep -E '^(ExecStart|User)=' "$unit"
fi
if command -v systemd-analyze >/dev/null; then
    # Documentation=man:iotc-central(8) is checked too: the prefix's man pages are on MANPATH.
    if out=$(MANPATH="$prefix/share/man:" systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify iotc-central.service: no finding"
    else
        ko "systemd-analyze verify: $out"
    fi
else
    echo "systemd-analyze not installed: unit not verified"
fi
finish
