#!/usr/bin/env bash
# Reads real projects' migrations folders in place and reports what runner finds, beside the
# renamed copy scripts/corpus-from-diesel.sh makes of a Diesel folder. Nothing is committed:
# point it at checkouts you have, e.g.
#
#   git clone --depth 1 https://github.com/rust-lang/crates.io /tmp/crates.io
#   git clone --depth 1 https://github.com/LemmyNet/lemmy /tmp/lemmy
#   git clone --depth 1 https://github.com/atuinsh/atuin /tmp/atuin
#   git clone --depth 1 https://github.com/stashapp/stash /tmp/stash
#   scripts/corpus-layouts.sh postgres:/tmp/crates.io/migrations postgres:/tmp/lemmy/migrations \
#       postgres:/tmp/atuin/crates/atuin-server-postgres/migrations sqlite:/tmp/stash/pkg/sqlite/migrations
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --quiet --manifest-path "$root/Cargo.toml"
runner="$root/target/debug/runner"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

summary() { # folder dialect -> "N migrations in LAYOUT; check: <summary line>; rules"
    local dir=$1 dialect=$2 out
    out=$("$runner" check "$dir" --dialect "$dialect" 2>&1 || true)
    local json
    json=$("$runner" --migrations-dir "$dir" catalog --format json 2>/dev/null || true)
    printf '%s\n' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  layout %s: %d migrations, %d with a rollback" % (d.get("layout","(folder has errors)"), len(d.get("migrations",[])), sum(1 for m in d.get("migrations",[]) if m["rollback"]["status"]=="paired")))'
    printf '  check: %s\n' "$(printf '%s\n' "$out" | tail -1)"
    printf '%s\n' "$out" | grep -o '\(error\|warning\)\[[a-z-]*\]' | sort | uniq -c | sort -rn | sed 's/^/    /'
}

for arg in "$@"; do
    dialect=${arg%%:*}
    dir=${arg#*:}
    echo "== $dir ($dialect), read in place"
    ( time summary "$dir" "$dialect" ) 2>&1 | grep -v '^$\|^user\|^sys' | sed 's/^real/  check + catalog wall time/'
    if compgen -G "$dir/*/up.sql" >/dev/null; then
        copy="$work/$(basename "$(dirname "$dir")")/migrations"
        "$root/scripts/corpus-from-diesel.sh" "$dir" "$copy" >/dev/null
        echo "== the same folder renamed to runner's layout (scripts/corpus-from-diesel.sh)"
        summary "$copy" "$dialect"
    fi
done
