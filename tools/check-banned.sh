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
echo "check-banned: clean"
