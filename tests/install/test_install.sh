#!/usr/bin/env bash
# `make install PREFIX=...` then build a tiny outside program against the installed
# copy through pkg-config, linked both shared and static, and run it.
#   tests/install/test_install.sh BUILDDIR
set -u
B=${1:?usage: test_install.sh BUILDDIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
ko() { fail=$((fail + 1)); echo "FAILED: $1"; }

# make install links the programs again: a sanitized build needs the sanitizer at that link too.
if make -s BUILDDIR="$B" PREFIX="$tmp/prefix" LDFLAGS="${IOTC_SAN_FLAGS:-}" install >"$tmp/install.log" 2>&1; then
    ok "make install"
else
    ko "make install"; cat "$tmp/install.log"
    echo "$pass passed, $fail failed"; exit 1
fi

cat >"$tmp/outside.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <iotc/iotc.h>

int main(void)
{
    /* The official group-key derivation vector (DPS docs). */
    static const char group[] =
        "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==";
    static const char reg[] = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6";
    char key[64];
    size_t n = 0;
    int rc = iotc_sas_derive_device_key((struct iotc_span){group, sizeof group - 1},
                                        (struct iotc_span){reg, sizeof reg - 1}, key, sizeof key, &n);
    if (rc != IOTC_OK || strcmp(key, "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=") != 0) {
        printf("derive failed: %s %s\n", iotc_strerror(rc), key);
        return 1;
    }
    printf("derived %s\n", key);
    return 0;
}
C
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# A sanitized library needs the sanitizer runtime in the outside program too.
SAN=${IOTC_SAN_FLAGS:-}
if cc $SAN -Wall -Werror -o "$tmp/outside-shared" "$tmp/outside.c" $(pkg-config --cflags --libs iotc) 2>"$tmp/cc1.log"; then
    ok "compile against installed headers, shared link"
else
    ko "shared link"; cat "$tmp/cc1.log"
fi
if LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/outside-shared" >/dev/null 2>&1; then
    ok "run shared"
else
    ko "run shared"
fi
if cc $SAN -Wall -Werror -o "$tmp/outside-static" "$tmp/outside.c" $(pkg-config --cflags iotc) \
    "$tmp/prefix/lib/libiotc.a" $(pkg-config --static --libs-only-l iotc | sed 's/-liotc//') 2>"$tmp/cc2.log"; then
    ok "static link"
else
    ko "static link"; cat "$tmp/cc2.log"
fi
if "$tmp/outside-static" >/dev/null 2>&1; then ok "run static"; else ko "run static"; fi
# The public headers compile as C++ too.
if command -v g++ >/dev/null && echo '#include <iotc/iotc.h>
int main() { return iotc_strerror(0) == nullptr; }' | g++ -x c++ -std=c++11 -Wall -Werror \
    $(pkg-config --cflags iotc) -o "$tmp/cxx" - $(pkg-config --libs iotc) 2>"$tmp/cxx.log"; then
    ok "headers compile as C++"
else
    ko "C++"; cat "$tmp/cxx.log"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
