#!/usr/bin/env bash
# Benchmark: runner check against squawk on a real corpus of migrations, on the same files, in
# one run. Fetches nothing: point it at a runner migrations folder (for a diesel project such as
# rust-lang/crates.io, convert it first with scripts/corpus-from-diesel.sh).
#
#   scripts/bench-check-corpus.sh DIR [RUNS]      (default 7 runs; the median is reported)
#
# Two measures, each with the same files for both tools:
#   folder: runner check DIR          vs  squawk on every .sql of DIR (forward and rollback)
#   files:  runner check F1 F2 ...    vs  squawk F1 F2 ... (the forward files as arguments,
#           what CI and pre-commit hooks pass)
set -euo pipefail
dir=${1:?usage: bench-check-corpus.sh DIR [RUNS]}
runs=${2:-7}
cd "$(dirname "$0")/.."
work=target/bench
mkdir -p "$work"
cargo build --release --quiet --bin runner
runner=$PWD/target/release/runner
if [ ! -x "$work/venv/bin/squawk" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet squawk-cli
fi
squawk=$PWD/$work/venv/bin/squawk

all=$(find "$dir" -maxdepth 1 -name '*.sql' | sort)
forward=$(find "$dir" -maxdepth 1 -name '*.sql' ! -name '*.down.sql' | sort)

# median wall time (s) over $runs runs of "$@"
median() {
    local times=()
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || true
        t1=$(date +%s.%N)
        times+=("$(echo "$t1 - $t0" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# shellcheck disable=SC2086
{
    rf=$(median "$runner" check --dialect postgres "$dir")
    sf=$(median "$squawk" $all)
    ra=$(median "$runner" check --dialect postgres $forward)
    sa=$(median "$squawk" $forward)
}
printf '%-28s %6s %10s %10s %8s\n' measure files runner squawk ratio
printf '%-28s %6d %10.3f %10.3f %8.2f\n' "folder (forward+rollback)" "$(echo "$all" | wc -l)" "$rf" "$sf" "$(echo "$rf / $sf" | bc -l)"
printf '%-28s %6d %10.3f %10.3f %8.2f\n' "files as arguments" "$(echo "$forward" | wc -l)" "$ra" "$sa" "$(echo "$ra / $sa" | bc -l)"
echo "(ratio runner/squawk: below 1, runner is faster; median of $runs runs each)"
