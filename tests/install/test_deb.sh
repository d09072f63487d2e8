#!/usr/bin/env bash
# The Debian package from the tree: `dpkg-buildpackage -b -us -uc` in a fresh clone of HEAD
# (output in a temporary directory, the tree untouched), its contents checked with `dpkg -c`,
# then installed and started without systemd: the installed /usr/bin/iotc-central with the
# installed configuration on a temporary data dir and free loopback ports, driven by the
# installed iotc and environmental-sensor, stopped, and the packages purged.
# As root: `dpkg -i`, the server run as the package's user iotc-central, `dpkg --purge`
# (the user, if this test created it, removed too). Otherwise: `dpkg -x` into a temporary root
# and the programs run from there (said in the output).
#   tests/install/test_deb.sh BUILDDIR   (BUILDDIR is not used: the clone builds)
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
    echo "sanitizer run: the package is built without the sanitizer; the plain run tests it"
    finish
fi
for t in dpkg-buildpackage dh; do
    command -v "$t" >/dev/null || { ko "$t not found: run tools/deps.sh --test (debhelper)"; finish; }
done

tmp=$(mktemp -d)
chmod 711 "$tmp" # the package's user reaches its data dir below
RUN_SERVER=()
RUN_TOOLS=()
installed="" # packages this test installed with dpkg -i
made_user=0
cleanup() {
    stop_server
    if [ -n "$installed" ]; then
        dpkg --purge $installed >"$tmp/purge.log" 2>&1 || cat "$tmp/purge.log"
        [ "$made_user" = 1 ] && { userdel iotc-central 2>/dev/null; groupdel iotc-central 2>/dev/null; }
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
logs=$tmp/logs
mkdir -p "$logs" "$tmp/pkg"

if git clone -q --no-local "$top" "$tmp/pkg/iotc" 2>"$logs/clone.log"; then
    ok "git clone of HEAD ($(git -C "$tmp/pkg/iotc" rev-parse --short HEAD))"
else
    ko "git clone"; cat "$logs/clone.log"; finish
fi
[ -d "$top/node_modules/uplot" ] && ln -s "$top/node_modules" "$tmp/pkg/iotc/node_modules"
status_before=$(git status --porcelain)
t0=$(date +%s)
if (cd "$tmp/pkg/iotc" && DEB_BUILD_OPTIONS="parallel=2 noddebs" dpkg-buildpackage -b -us -uc) \
    >"$logs/build.log" 2>&1; then
    ok "dpkg-buildpackage -b -us -uc ($(($(date +%s) - t0)) s)"
else
    ko "dpkg-buildpackage"; tail -n 40 "$logs/build.log"; finish
fi
deb=$(ls "$tmp"/pkg/iotc_*.deb 2>/dev/null | head -n 1)
dev=$(ls "$tmp"/pkg/libiotc-dev_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] && [ -n "$dev" ] || { ko "no iotc and libiotc-dev .deb"; ls "$tmp/pkg"; finish; }
if [ "$(git status --porcelain)" = "$status_before" ]; then
    ok "the source tree is untouched (git status unchanged)"
else
    ko "the tree changed during the build"; git status --short
fi

dpkg -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$logs/contents"
dpkg -c "$dev" | awk '{print $6}' | sed 's|^\./|/|' >>"$logs/contents"
missing=""
for f in /usr/bin/iotc-central /usr/bin/iotc /usr/bin/iotc-sim /usr/bin/environmental-sensor \
    /usr/lib/libiotc.so.0 /usr/share/man/man8/iotc-central.8.gz /usr/share/man/man1/iotc.1.gz \
    /usr/share/man/man1/iotc-sim.1.gz /usr/share/man/man1/environmental-sensor.1.gz \
    /lib/systemd/system/iotc-central.service /usr/lib/sysusers.d/iotc-central.conf \
    /etc/iotc-central/iotc-central.conf /usr/include/iotc/iotc.h /usr/lib/libiotc.a \
    /usr/lib/pkgconfig/iotc.pc; do
    grep -qx "$f" "$logs/contents" || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "dpkg -c: programs, library, man pages, unit, sysusers, config, headers"; else ko "missing from the packages:$missing"; fi
if dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null |
    grep -qx /etc/iotc-central/iotc-central.conf; then
    ok "the configuration is a conffile (dpkg keeps local edits)"
else
    ko "/etc/iotc-central/iotc-central.conf is not a conffile"
fi
if grep -q '^/usr/local' "$logs/contents"; then ko "files under /usr/local"; else ok "nothing under /usr/local"; fi
if dpkg-deb -f "$deb" Depends | grep -q libmosquitto1; then ok "iotc depends on its shared libraries (\${shlibs:Depends})"; else ko "Depends: $(dpkg-deb -f "$deb" Depends)"; fi

# As root, install for real unless an iotc package is already there (not ours to replace).
mode=extract
if [ "$(id -u)" = 0 ] && ! dpkg-query -W -f='${Status}' iotc 2>/dev/null | grep -q installed; then
    mode=install
fi
data_parent=$tmp/var
mkdir -p "$data_parent"
if [ "$mode" = install ]; then
    getent passwd iotc-central >/dev/null || made_user=1
    # one run of this test at a time on a machine (the lock lasts until the script ends)
    exec 9>/run/lock/iotc-test-deb.lock
    flock -w 180 9 || echo "note: another test_deb.sh holds the lock; going on"
    installed="iotc libiotc-dev" # purged on the way out, even after a half-done dpkg -i
    if dpkg -i "$deb" "$dev" >"$logs/dpkg-i.log" 2>&1 ||
        { sleep 5 && dpkg -i "$deb" "$dev" >>"$logs/dpkg-i.log" 2>&1; }; then
        ok "dpkg -i (systemd not running: the maintainer scripts do not need it)"
    else
        ko "dpkg -i"; cat "$logs/dpkg-i.log"; finish
    fi
    if getent passwd iotc-central >/dev/null; then ok "postinst created the system user iotc-central"; else ko "no user iotc-central"; fi
    root=""
    # setpriv execs (runuser would stay the parent and turn SIGTERM into its own exit)
    RUN_SERVER=(setpriv --reuid=iotc-central --regid=iotc-central --clear-groups)
    install -d -m 700 -o iotc-central -g iotc-central "$data_parent/iotc-central"
    echo "installed the packages with dpkg -i; the server runs as user iotc-central"
else
    root=$tmp/root
    dpkg -x "$deb" "$root" && dpkg -x "$dev" "$root"
    # /usr/lib is searched by default only on the real root
    RUN_SERVER=(env LD_LIBRARY_PATH="$root/usr/lib")
    RUN_TOOLS=(env LD_LIBRARY_PATH="$root/usr/lib")
    echo "not root (or iotc already installed): dpkg -x into a temporary root; programs run from there"
fi
bin=$root/usr/bin
conf=$root/etc/iotc-central/iotc-central.conf
if [ "$mode" = install ]; then
    lib=$(ldd "$bin/iotc-central" | awk '$1 == "libiotc.so.0" {print $3}')
    [ -n "$lib" ] && [ "$(readlink -f "$lib")" = "$(readlink -f /usr/lib/libiotc.so.0)" ] && ok "/usr/bin/iotc-central uses /usr/lib/libiotc.so.0" ||
        ko "iotc-central resolves libiotc.so.0 to '${lib:-nothing}'"
    if command -v systemd-analyze >/dev/null; then
        out=$(systemd-analyze verify /lib/systemd/system/iotc-central.service 2>&1)
        [ -z "$out" ] && ok "systemd-analyze verify of the installed unit: no finding" ||
            ko "systemd-analyze verify: $out"
    fi
fi
check_man "$root/usr/share/man"
if [ -f "$conf" ]; then
    serve_and_check "$bin" "$data_parent/iotc-central" "$logs" --config "$conf"
else
    ko "no $conf in the package"
    serve_and_check "$bin" "$data_parent/iotc-central" "$logs"
fi
if [ "$mode" = install ]; then
    owner=$(stat -c '%U %a' "$data_parent/iotc-central/central.db" 2>/dev/null)
    [ "$owner" = "iotc-central 600" ] && ok "data written by the service user, mode 0600" ||
        ko "central.db owner/mode: ${owner:-missing}"
    stop_server
    if dpkg --purge $installed >"$logs/purge.log" 2>&1 && ! dpkg-query -W iotc >/dev/null 2>&1 &&
        [ ! -e /usr/bin/iotc-central ] && [ ! -e /etc/iotc-central/iotc-central.conf ]; then
        ok "dpkg --purge removes the programs and the configuration"
        installed=""
        [ "$made_user" = 1 ] && { userdel iotc-central 2>/dev/null; groupdel iotc-central 2>/dev/null; made_user=0; }
    else
        ko "dpkg --purge"; cat "$logs/purge.log"
    fi
fi
finish
