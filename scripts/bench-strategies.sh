#!/usr/bin/env bash
# Benchmark: requests and errors during each deployment strategy through a real HAProxy (and
# blue-green and a canary abort through a real nginx), and the time from `runner rollback`
# (blue-green, canary after its rollout, rolling) or `runner abort` (a paused canary) to 100 %
# of the traffic on the previous release. The peer is "restart in place": the same app
# restarted by its deploy hook behind the same HAProxy. Needs haproxy and nginx (scripts/setup-tests-tests
# installs them). Goal: 0 errors for the routed strategies, and a blue-green switch back under
# 1 s.
#
#   scripts/bench-strategies.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin runner --bin runner-demo-app
python3 scripts/bench/strategies.py "$PWD/target/release/runner" "$PWD/target/release/runner-demo-app" "$PWD"
