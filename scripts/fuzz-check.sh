#!/usr/bin/env bash
# Fuzzes the whole `runner check` text path (directives, checksums, the linter in every
# dialect) with libFuzzer through cargo-fuzz, seeded with every migration in the repository.
#
#   scripts/fuzz-check.sh [SECONDS]        (default 600)
#
# cargo-fuzz wants nightly for sanitizers; without them it runs on the stable toolchain
# (RUSTC_BOOTSTRAP lets it pass the flags libFuzzer's coverage needs). A crash is saved under
# fuzz/artifacts/check/ and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
corpus=fuzz/corpus/check
mkdir -p "$corpus"
find migrations fixtures -name '*.sql' -size -64k -exec cp {} "$corpus/" \; 2>/dev/null || true
cd fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none -O check "corpus/check" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1
