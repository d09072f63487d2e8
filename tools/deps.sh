#!/usr/bin/env bash
# Install what iotc needs, when it is missing.
#   tools/deps.sh          build and run: the compiler, the libraries, Node and uPlot for the web
#                          UI (what tools/demo.sh and `make central cli sim examples` need)
#   tools/deps.sh --test   also what the tests need (tools/test-all.sh): cmocka, Chromium, the
#                          Azure IoT SDKs and playwright-core (npm devDependencies), the sqlite3
#                          command, mosquitto clients, debhelper (the .deb test), man and groff
#                          (the man pages), ip and unshare (a private network for the 443 test)
#   tools/deps.sh --ci     also the tools CI uses (.ci/run): clang, the libFuzzer runtime, the
#                          mosquitto broker (benchmarks), clang-format, cppcheck; implies --test
# Debian packages come from apt; Node packages from the npm registry via `npm ci`
# (`npm ci --omit=dev` without --test).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

build_pkgs="make gcc pkg-config libssl-dev libevent-dev libmosquitto-dev libsqlite3-dev libcjson-dev
            libcurl4-openssl-dev librdkafka-dev libjq-dev nodejs npm"
# sqlite3 (the command): tests/browser/views.test.mjs fills a store with 1200 messages;
# iproute2 (`ip`) and util-linux (unshare, setpriv): tests/interop/lib/netns.mjs
test_pkgs="libcmocka-dev chromium sqlite3 mosquitto-clients debhelper dpkg-dev git man-db groff-base
           iproute2 util-linux"
ci_pkgs="clang libclang-rt-14-dev mosquitto clang-format cppcheck"
pkgs=$build_pkgs
test=0
for a in "$@"; do
    case "$a" in
    --test) test=1 ;;
    --ci) test=1; pkgs="$pkgs $ci_pkgs" ;;
    *) echo "deps.sh: unknown option $a (--test, --ci)" >&2; exit 2 ;;
    esac
done
[ "$test" = 1 ] && pkgs="$pkgs $test_pkgs"

missing=""
for p in $pkgs; do
    # nodejs/npm may come from elsewhere than apt; a working binary is enough.
    case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing Debian packages:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Node packages: reinstall only when the lock file changed since the last install. A full
# install (the stamp "-all") serves the build too; a build-only one (--omit=dev) does not
# serve the tests.
stamp_all=node_modules/.iotc-lock-stamp-all
stamp_build=node_modules/.iotc-lock-stamp-build
if [ "$test" = 1 ]; then
    if [ ! -f "$stamp_all" ] || ! cmp -s package-lock.json "$stamp_all"; then
        echo "deps: npm ci"
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
        cp package-lock.json "$stamp_all"
    fi
elif ! { [ -f "$stamp_all" ] && cmp -s package-lock.json "$stamp_all"; } &&
    ! { [ -f "$stamp_build" ] && cmp -s package-lock.json "$stamp_build"; }; then
    echo "deps: npm ci --omit=dev"
    npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null
    cp package-lock.json "$stamp_build"
fi
echo "deps: ok"
