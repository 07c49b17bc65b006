#!/usr/bin/env bash
# Deploy hook of the example project: (re)starts the demo app of ENV at VERSION on
# 127.0.0.1:PORT, pointed at DATABASE_URL. The running version is stopped first (pid file under
# .runner/). An empty VERSION only stops it. runner passes these as argv (no shell string):
#   deploy = ["scripts/deploy.sh", "{env}", "{version}", "8081", "sqlite://.runner/staging.db"]
set -euo pipefail
env=$1 version=${2:-} port=$3 database=$4
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${RUNNER_DEMO_STATE:-$root/.runner}
mkdir -p "$dir"
pidfile=$dir/app-$env.pid

if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    # Gone, or a zombie nobody reaped yet (its parent shell has exited).
    for _ in $(seq 100); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
        case "$state" in ""|Z*) break ;; esac
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "stopped the demo app of $env (pid $pid)"
fi
[ -n "$version" ] || exit 0

app=${RUNNER_DEMO_APP:-}
if [ -z "$app" ]; then
    for candidate in "$root/target/debug/runner-demo-app" "$root/target/release/runner-demo-app"; do
        if [ -x "$candidate" ]; then app=$candidate; break; fi
    done
fi
if [ -z "$app" ]; then
    cargo build --quiet --manifest-path "$root/Cargo.toml" --bin runner-demo-app
    app=$root/target/debug/runner-demo-app
fi
# Its feature flags: the environment's flagd file (`runner flag`, in the project runner runs
# this hook in), read on each request.
flags=${RUNNER_FLAGS_FILE:-$PWD/flags/${env%%-*}.flagd.json}
FLAGS_FILE=$flags VERSION=$version PORT=$port DATABASE_URL=$database nohup "$app" >>"$dir/app-$env.log" 2>&1 </dev/null &
echo $! > "$pidfile"
echo "started demo app $version for $env on 127.0.0.1:$port (pid $!)"
