#!/usr/bin/env bash
# Smoke hook of the example project: the demo app at BASE_URL must reach its database.
#   smoke = ["scripts/smoke.sh", "127.0.0.1", "8081"]
set -euo pipefail
host=$1 port=$2
exec 3<>"/dev/tcp/$host/$port"
printf 'GET /health/db HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
answer=$(cat <&3)
echo "$answer" | tail -n 1
echo "$answer" | grep -q '"status":"connected"'
