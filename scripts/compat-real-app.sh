#!/usr/bin/env bash
# The query check on a real application with sqlx offline data and migrations, e.g.
#   git clone --depth 1 https://github.com/LukeMathWalker/zero-to-production /tmp/z2p
#   scripts/compat-real-app.sh /tmp/z2p "ALTER TABLE subscriptions RENAME COLUMN email TO email_address;"
# On a copy of the checkout (nothing is committed anywhere): a runner.toml is added, then
# `runner check --since HEAD --verify` runs at HEAD (no finding expected), and again with the
# given breaking migration added (the findings it prints are the ones to expect).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src=${1:?usage: compat-real-app.sh CHECKOUT BREAKING_SQL}
breaking=${2:?usage: compat-real-app.sh CHECKOUT BREAKING_SQL}
. "$root/scripts/bench/pg-cluster.sh"
cargo build --quiet --manifest-path "$root/Cargo.toml" --bin runner
runner="$root/target/debug/runner"
work=$(mktemp -d)
trap 'rm -rf "$work"; stop_cluster' EXIT
cp -r "$src/." "$work/app"
cd "$work/app"
rm -rf .git
printf '[migrations]\ndialect = "postgres"\n' > runner.toml
git init -q && git -c user.name=b -c user.email=b@example.test add -A && git -c user.name=b -c user.email=b@example.test commit -qm app
"$BIN/createdb" scratch_server
url="postgres://bench@127.0.0.1:$PGPORT/scratch_server"
queries=$(ls .sqlx/query-*.json 2>/dev/null | wc -l)
echo "== at HEAD: $queries sqlx queries, $(ls migrations | wc -l) migration files"
"$runner" check --since HEAD --verify --database-url "$url" --format json |
    python3 -c 'import json,sys; f=json.load(sys.stdin)["findings"]; q=[x for x in f if x["rule"] in ("query-breaks","query-shape-changed","select-star-shape")]; print(f"  query findings: {len(q)}"); [print("  ", x["severity"], x["rule"], x["message"]) for x in q]'
name="migrations/$(date -u +%Y%m%d%H%M%S)_breaking.sql"
printf -- '-- runner:allow-file rename-column measuring the query check\n-- runner:allow-file rename-table measuring the query check\n-- runner:allow-file drop-column measuring the query check\n-- runner:allow-file change-column-type measuring the query check\n%s\n' "$breaking" > "$name"
echo "== with $name: $breaking"
"$runner" check --since HEAD --verify --database-url "$url" --format json |
    python3 -c 'import json,sys; f=json.load(sys.stdin)["findings"]; q=[x for x in f if x["rule"] in ("query-breaks","query-shape-changed","select-star-shape")]; print(f"  query findings: {len(q)}"); [print("  ", x["severity"], x["rule"], x["file"], x["message"]) for x in q]'
