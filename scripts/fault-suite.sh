#!/usr/bin/env bash
# The fault suite: N random faults (default 120) at random points of migrate, rollback, recover
# and deploy, on a real PostgreSQL, real SQLite files and a real MariaDB: SIGKILL, SIGINT, and
# the server ending runner's session mid-run (PostgreSQL's 57P01, MariaDB's KILL CONNECTION: what
# a restart does to its clients). After each one only runner commands,
# taken from what runner prints, bring the environment back; the rows are then checked (nothing
# applied twice, nothing lost). Prints "recovered N/N, manual 0, lost 0" and the longest time
# until the migration lock was free again. Not part of the default test run (a fast subset is).
#
#   scripts/fault-suite.sh [N]           RUNNER_FAULT_SEED=... replays a run;
#                                        RUNNER_FAULT_ONLY=mariadb|postgres|sqlite|deploy one kind
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tests >/dev/null
RUNNER_FAULT_TRIALS=${1:-120} cargo test --release --locked --test integration \
    fault_suite -- --nocapture 2>&1 | grep -E '^fault suite|panicked|manual|FAILED|test result'
