#!/usr/bin/env bash
# Reject calls that are easy to misuse with untrusted lengths (after curl's list).
set -u
cd "$(dirname "$0")/.." || exit 2
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|strncpy|sscanf)[[:space:]]*\('
hits=$(git ls-files '*.c' '*.h' | xargs -r grep -nE "$banned" | grep -v 'banned-ok' || true)
if [ -n "$hits" ]; then
    echo "banned functions used:"
    echo "$hits"
    exit 1
fi
# The HTTP server keeps its own close callback on every connection (the pre-authentication
# guard, src/central/http/http_server.c); everyone else goes through http_conn_set_closecb().
hits=$(git ls-files 'src/*.c' | grep -v '^src/central/http/http_server.c$' |
    xargs -r grep -n 'evhttp_connection_set_closecb' || true)
if [ -n "$hits" ]; then
    echo "evhttp_connection_set_closecb outside http_server.c (use http_conn_set_closecb):"
    echo "$hits"
    exit 1
fi
echo "check-banned: clean"
