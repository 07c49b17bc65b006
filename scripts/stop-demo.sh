#!/usr/bin/env bash
# Stops the demo apps the example project's deploys started (staging and production).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for env in staging production; do
    "$root/scripts/deploy.sh" "$env" "" 0 ""
done
