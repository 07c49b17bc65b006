#!/usr/bin/env bash
# Benchmark: how fast a bad release is replaced by the previous one. Deploys 1.0.0 of the demo
# app to the example's staging (SQLite), then RUNS times a release that answers its health
# checks with 503; runner rolls it back each time. The journal records, per deploy, the time
# from the first failing health check to the previous version passing health again
# (recovery_ms). Prints median and max, and the goal: interval x unhealthy_after + 2 s.
#
#   scripts/bench-rollback.sh [RUNS]      (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
cargo build --release --quiet --bin runner --bin runner-demo-app
runner=$PWD/target/release/runner
work=$(mktemp -d)
cleanup() { RUNNER_DEMO_STATE="$work/state" scripts/deploy.sh staging "" 0 "" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cp -r migrations scripts "$work/"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s/18081/$port/g" -e 's/^pipeline = .*/pipeline = ["staging"]/' runner.toml > "$work/runner.toml"
export RUNNER_DEMO_APP=$PWD/target/release/runner-demo-app RUNNER_DEMO_STATE=$work/state
cd "$work"
"$runner" deploy --env staging --with-migrations --version 1.0.0 >/dev/null 2>&1
for i in $(seq 1 "$runs"); do
    DEMO_BEHAVIOR="bad-$i=unhealthy" "$runner" deploy --env staging --version "bad-$i" >/dev/null 2>&1 && { echo "bad-$i was not rolled back" >&2; exit 1; }
done
"$runner" history --env staging --format json --limit "$runs" | python3 -c '
import json, sys
entries = [e for e in json.load(sys.stdin) if e["result"] == "rolled_back"]
ms = sorted(e["recovery_ms"] for e in entries)
median, worst = ms[len(ms) // 2], ms[-1]
print(f"bad releases rolled back: {len(ms)}; recovery times (ms): {ms}")
verdict = "met" if worst <= 2750 else "MISSED"
print(f"median {median / 1000:.2f} s, max {worst / 1000:.2f} s; goal <= interval 0.25 s x unhealthy_after 3 + 2 s = 2.75 s: {verdict}")
'
