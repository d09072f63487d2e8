#!/usr/bin/env bash
# Install what iotc needs to build, run and test, when it is missing.
#   tools/deps.sh            build + run dependencies (Debian packages, npm packages)
#   tools/deps.sh --ci       also the tools CI uses (clang, libFuzzer runtime, mosquitto, clang-format, cppcheck)
# Debian packages come from apt; Node packages from the npm registry via `npm ci`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

pkgs="make gcc pkg-config libssl-dev libevent-dev libmosquitto-dev libsqlite3-dev libcjson-dev
      libcurl4-openssl-dev librdkafka-dev libcmocka-dev nodejs npm chromium"
for a in "$@"; do
    case "$a" in
    --ci) pkgs="$pkgs clang libclang-rt-14-dev mosquitto mosquitto-clients clang-format cppcheck" ;;
    *) echo "deps.sh: unknown option $a" >&2; exit 2 ;;
    esac
done

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

# Node packages: reinstall only when the lock file changed since the last install.
stamp=node_modules/.iotc-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    echo "deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    cp package-lock.json "$stamp"
fi
echo "deps: ok"
