#!/usr/bin/env bash
# Turns a gobuffalo/pop migrations folder (SRC/<version>_<name>[.<dialect>][.autocommit].up.sql
# and .down.sql, as in ory/kratos's persistence/sql/migrations/sql) into a runner migrations
# folder DEST for one DIALECT (mysql, postgres, sqlite3, cockroach): per version, the file for
# that dialect, else the generic one; empty forward files (no-ops for this dialect) are left
# out; a missing or empty down file makes the migration irreversible. Nothing is committed:
# point it at a checkout you have.
#
#   scripts/corpus-from-pop.sh SRC DEST DIALECT
set -euo pipefail
src=${1:?usage: corpus-from-pop.sh SRC DEST DIALECT}
dest=${2:?usage: corpus-from-pop.sh SRC DEST DIALECT}
dialect=${3:?usage: corpus-from-pop.sh SRC DEST DIALECT}
mkdir -p "$dest"
python3 - "$src" "$dest" "$dialect" <<'PY'
import os, re, sys
src, dest, dialect = sys.argv[1:4]
files = set(os.listdir(src))
pattern = re.compile(r'^(\d+_[^.]+)\.(?:(mysql|postgres|cockroach|sqlite3|sqlite)\.)?(?:autocommit\.)?(up|down)\.sql$')
ids = sorted({m.group(1) for m in map(pattern.match, files) if m})
def pick(i, d):
    for c in (f'{i}.{dialect}.{d}.sql', f'{i}.{dialect}.autocommit.{d}.sql', f'{i}.{d}.sql', f'{i}.autocommit.{d}.sql'):
        if c in files:
            return open(os.path.join(src, c)).read()
    return None
n = empty = irreversible = 0
for i in ids:
    up = pick(i, 'up')
    if up is None:
        continue
    if not up.strip():
        empty += 1
        continue
    n += 1
    name = re.sub(r'[^a-zA-Z0-9_]+', '_', i.split('_', 1)[1]).lower().strip('_') or 'migration'
    stem = os.path.join(dest, f'V{n:04d}__{name}')
    down = pick(i, 'down') or ''
    if down.strip():
        open(stem + '.sql', 'w').write(up)
        open(stem + '.down.sql', 'w').write(down)
    else:
        irreversible += 1
        open(stem + '.sql', 'w').write('-- runner:irreversible the source has no down migration\n' + up)
print(f'{n} migrations in {dest} ({empty} empty for {dialect} left out, {irreversible} without a down migration)')
PY
