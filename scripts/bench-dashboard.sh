#!/usr/bin/env bash
# `runner dashboard` with a deploy journal of RUNS runs (default 10,000) in production, on a copy
# of the example project (SQLite, HAProxy; the ports of the quickstart, so stop its demo first:
# scripts/stop-demo.sh). Prints, in one run:
#   - /api/status (every environment, as the page gets it): median and worst of 30 requests,
#     beside `runner status --format json` of both environments (the terminal's way to the
#     same data) and beside a static asset from the same server (the floor);
#   - the page's first render in chromium: navigation start until both environments show
#     what serves (median and worst of 10 fresh loads);
#   - the server's CPU time while no page is open (10 s).
# Goals (issue 23): first render under 100 ms and the JSON under 20 ms with 10,000 runs.
#
#   scripts/bench-dashboard.sh [RUNS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=${1:-10000}
cargo build --quiet --release --manifest-path "$root/Cargo.toml" --bin runner --bin runner-demo-app
runner="$root/target/release/runner"
test -f "$root/scripts/dashboard-test/node_modules/puppeteer-core/package.json" ||
    { echo "bench-dashboard: puppeteer-core is missing: run scripts/setup-tests" >&2; exit 2; }
work=$(mktemp -d)
dashboard_pid=
cleanup() {
    [ -n "$dashboard_pid" ] && kill "$dashboard_pid" 2>/dev/null || true
    (cd "$work" && scripts/stop-demo.sh >/dev/null 2>&1) || true
    if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
(cd "$root" && git ls-files -z | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$work"
cd "$work"
export RUNNER_DEMO_APP="$root/target/release/runner-demo-app"
"$runner" deploy --with-migrations --version 1.0.0 --approve >/dev/null
# A canary of 1.1.0 waits at 5 % in production (no traffic to judge: it pauses).
"$runner" deploy --version 1.1.0 --approve >/dev/null 2>&1 || true
# The journal grows to RUNS runs: copies of the first deploy, older, each its own release; one
# run in ten is a rollback to the release before (the release stack is thousands deep).
python3 - "$runs" <<'PY'
import sqlite3, sys
runs = int(sys.argv[1])
db = sqlite3.connect(".runner/production.db")
table = next(n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%deploys'"))
cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
have = db.execute(f"SELECT count(*) FROM {table} WHERE environment = 'production'").fetchone()[0]
first = dict(zip(cols, db.execute(f"SELECT * FROM {table} WHERE environment = 'production' ORDER BY started_at LIMIT 1").fetchone()))
rows = []
for i in range(max(0, runs - have)):
    r = dict(first)
    r["id"] = f"bench-{i:06d}"
    r["kind"] = "rollback" if i % 10 == 9 else "deploy"
    r["version"] = f"0.{i - 2 if r['kind'] == 'rollback' else i}.0"
    r["started_at"] = f"2020-01-01T00:00:00.{i:06d}Z"
    rows.append(tuple(r[c] for c in cols))
db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", rows)
db.commit()
print(f"journal: {db.execute(f'SELECT count(*) FROM {table} WHERE environment = ?', ('production',)).fetchone()[0]} runs in production")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$runner" dashboard --listen "127.0.0.1:$port" >/dev/null 2>${DASHBOARD_ERR:-/dev/null} &
dashboard_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/assets/app.js" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port"
# Median and worst of N curl timings of a path, in ms.
timings() {
    local path=$1 n=$2
    for _ in $(seq "$n"); do curl -s -o /dev/null -w '%{time_total}\n' "$url$path"; done |
        python3 -c 'import sys; t=sorted(float(x)*1000 for x in sys.stdin); print(f"{t[len(t)//2]:.1f} {t[-1]:.1f}")'
}
read -r json_med json_max < <(timings /api/status 30)
read -r asset_med _ < <(timings /assets/app.js 30)
cli=$(python3 - "$runner" <<'PY'
import subprocess, sys, time
t = []
for _ in range(5):
    s = time.monotonic()
    for env in ("staging", "production"):
        subprocess.run([sys.argv[1], "status", "--env", env, "--format", "json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.append((time.monotonic() - s) * 1000)
t.sort(); print(f"{t[len(t)//2]:.1f}")
PY
)
read -r _ render_med render_max < <(node "$root/scripts/dashboard-test/bench.mjs" "$url/" 10)
# Quiet: no page open for 10 s (after the sampler's 10 s of grace), CPU ticks of the server.
sleep 11
ticks() { awk '{print $14 + $15}' "/proc/$dashboard_pid/stat"; }
before=$(ticks); sleep 10; after=$(ticks)
python3 - "$runs" "$json_med" "$json_max" "$asset_med" "$cli" "$render_med" "$render_max" "$before" "$after" <<'PY'
import os, sys
runs = int(sys.argv[1]); jm, jx, asset, cli, rm, rx = map(float, sys.argv[2:8]); b, a = map(int, sys.argv[8:10])
hz = os.sysconf("SC_CLK_TCK")
print(f"journal of {runs:,} runs in production")
print(f"  /api/status (both environments): median {jm:.1f} ms, worst {jx:.1f} ms   (goal < 20 ms)")
print(f"  runner status --format json x2:   median {cli:.1f} ms (a second of live metrics each) -> {cli/jm:.0f}x the API")
print(f"  a static asset, same server:      median {asset:.1f} ms (the floor)")
print(f"  first render in chromium:         median {rm:.1f} ms, worst {rx:.1f} ms   (goal < 100 ms)")
print(f"  CPU with no page open for 10 s:   {(a-b)*1000/hz:.0f} ms")
PY
