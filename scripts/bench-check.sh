#!/usr/bin/env bash
# Benchmark: runner check against squawk on the same corpus of PostgreSQL migrations, in one
# run. Prints each tool's wall time (best of N runs) and peak memory, and the ratio.
#
#   scripts/bench-check.sh [FILES] [RUNS]      (defaults: 2000 migrations, 5 runs)
#
# squawk is installed from PyPI (squawk-cli) into a venv under target/bench/. Both tools lint
# the forward migrations (runner also reads each .down.sql for its pairing checks).
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-2000}
runs=${2:-5}
work=target/bench
mkdir -p "$work"

echo "building runner (release)..."
cargo build --release --quiet
runner=target/release/runner

if [ ! -x "$work/venv/bin/squawk" ]; then
    echo "installing squawk-cli into $work/venv..."
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet squawk-cli
fi
squawk="$work/venv/bin/squawk"

corpus="$work/corpus-$files"
if [ ! -d "$corpus" ]; then
    python3 scripts/bench/make_corpus.py "$corpus" "$files"
fi
forward=$(find "$corpus" -name 'V*.sql' ! -name '*.down.sql' | sort)
echo "corpus: $(echo "$forward" | wc -l) migrations, $(du -sh "$corpus" | cut -f1), $(cat $forward | wc -l) lines"

# best wall time and its peak RSS over $runs runs of "$@"
measure() {
    local best="" mem=""
    for _ in $(seq "$runs"); do
        /usr/bin/time -o "$work/time.txt" -f '%e %M' "$@" >/dev/null 2>&1 || true
        local t m
        read -r t m < <(tail -n 1 "$work/time.txt")
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$t; mem=$m; fi
    done
    echo "$best $mem"
}

read -r rt rm < <(measure "$runner" check --dialect postgres "$corpus")
# shellcheck disable=SC2086
read -r st sm < <(measure "$squawk" $forward)

awk -v st="$st" -v sm="$sm" -v rt="$rt" -v rm="$rm" 'BEGIN {
    printf "\n%-8s %10s %14s\n", "tool", "wall (s)", "peak RSS (MB)"
    printf "%-8s %10.2f %14.1f\n", "squawk", st, sm / 1024
    printf "%-8s %10.2f %14.1f\n", "runner", rt, rm / 1024
    printf "\nratio runner/squawk: wall %.2f, memory %.2f (below 1: runner is faster / smaller)\n", rt / st, rm / sm
}'
printf 'findings: runner %s, squawk %s\n' \
    "$("$runner" check --dialect postgres --format json "$corpus" | grep -c '"rule"' || true)" \
    "$("$squawk" --reporter gcc $forward 2>/dev/null | grep -c ': error\|: warning' || true)"

# A catalog that grows with its files (every file creates a table, statements pick among all
# tables so far), as real projects' do: a file's cost must not grow with the catalog.
echo
printf '%-22s %10s %10s %8s\n' "growing catalog" "runner (s)" "squawk (s)" "ratio"
declare -A growing_time
for n in 1000 3000 10000; do
    g="$work/growing-$n"
    [ -d "$g" ] || python3 scripts/bench/make_corpus.py "$g" "$n" --growing
    gforward=$(find "$g" -name 'V*.sql' ! -name '*.down.sql' | sort)
    read -r grt _ < <(measure "$runner" check --dialect postgres "$g")
    # shellcheck disable=SC2086
    read -r gst _ < <(measure "$squawk" $gforward)
    growing_time[$n]=$grt
    awk -v n="$n" -v r="$grt" -v s="$gst" 'BEGIN { printf "%-22s %10.2f %10.2f %8.2f\n", n " files", r, s, r / s }'
done
awk -v a="${growing_time[3000]}" -v b="${growing_time[10000]}" 'BEGIN {
    printf "runner 10,000 / 3,000 files: %.2fx the time (linear: 3.33x; goal at most 3.9x)\n", b / a
}'
