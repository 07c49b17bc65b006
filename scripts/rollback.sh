#!/usr/bin/env bash
# Rollback hook of the example project: puts PREVIOUS_VERSION of the demo app back for ENV
# (or stops it when there is no previous version).
#   rollback = ["scripts/rollback.sh", "{env}", "{previous_version}", "8081", "sqlite://.runner/staging.db"]
set -euo pipefail
exec "$(dirname "$0")/deploy.sh" "$@"
