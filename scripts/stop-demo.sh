#!/usr/bin/env bash
# Stops what the example project's deploys started: the demo apps of staging and of each
# production server, and production's HAProxy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${RUNNER_DEMO_STATE:-$root/.runner}
for pidfile in "$dir"/app-*.pid; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    "$root/scripts/deploy.sh" "${name#app-}" "" 0 ""
done
"$root/scripts/haproxy.sh" stop
