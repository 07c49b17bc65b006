#!/usr/bin/env bash
# Turns a diesel-style migrations folder (SRC/<timestamp>_<name>/up.sql and down.sql, as in
# rust-lang/crates.io) into a runner migrations folder DEST (V0001__<name>.sql and
# V0001__<name>.down.sql, in the same order), for benchmarks and `runner verify` on a real
# corpus. Nothing is committed: point it at a checkout you have.
#
#   scripts/corpus-from-diesel.sh SRC DEST
set -euo pipefail
src=${1:?usage: corpus-from-diesel.sh SRC DEST}
dest=${2:?usage: corpus-from-diesel.sh SRC DEST}
mkdir -p "$dest"
n=0
# diesel orders by version: the folder name's leading part with its dashes removed.
for dir in $(find "$src" -mindepth 1 -maxdepth 1 -type d | while read -r d; do
    b=$(basename "$d"); printf '%s %s\n' "$(printf '%s' "${b%%_*}" | tr -d -)" "$d"
done | sort | cut -d' ' -f2-); do
    [ -f "$dir/up.sql" ] || continue
    n=$((n + 1))
    name=$(basename "$dir" | sed -E 's/^[0-9_-]+//; s/[^a-zA-Z0-9_]+/_/g; s/^_+//' | tr 'A-Z' 'a-z')
    [ -n "$name" ] || name=migration
    stem=$(printf 'V%04d__%s' "$n" "$name")
    cp "$dir/up.sql" "$dest/$stem.sql"
    if [ -f "$dir/down.sql" ] && [ -s "$dir/down.sql" ]; then
        cp "$dir/down.sql" "$dest/$stem.down.sql"
    else
        { echo "-- runner:irreversible the source has no down.sql"; cat "$dir/up.sql"; } > "$dest/$stem.sql"
    fi
done
echo "$n migrations in $dest"
