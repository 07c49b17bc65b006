#!/usr/bin/env bash
# The query check of `runner check --verify` on N queries (default 1,000) of a release, beside
# psql preparing the same queries (PREPARE) on the same schema, in one run on a throwaway
# PostgreSQL: prints the time per query of each and the ratio. runner prepares each query
# twice (before and after the pending migration) and describes its result columns.
#
#   scripts/bench-compat.sh [QUERIES]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n=${1:-1000}
. "$root/scripts/bench/pg-cluster.sh"
cargo build --quiet --release --manifest-path "$root/Cargo.toml" --bin runner
runner="$root/target/release/runner"
work=$(mktemp -d)
trap 'rm -rf "$work"; stop_cluster' EXIT
"$BIN/createdb" bench_compat
url="postgres://bench@127.0.0.1:$PGPORT/bench_compat"
cd "$work"
mkdir migrations queries
python3 - "$n" <<'PY'
import sys
n = int(sys.argv[1])
tables = 50
with open("migrations/V1__tables.sql", "w") as f:
    for t in range(tables):
        f.write(f"CREATE TABLE t{t} (id bigint PRIMARY KEY, name text NOT NULL, amount numeric, created_at timestamptz NOT NULL, owner bigint, note text);\n")
with open("migrations/V1__tables.down.sql", "w") as f:
    for t in range(tables):
        f.write(f"DROP TABLE t{t};\n")
with open("queries/app.sql", "w") as q, open("prepare.sql", "w") as p:
    for i in range(n):
        t, u = i % tables, (i * 7 + 3) % tables
        shapes = [
            f"SELECT id, name, amount FROM t{t} WHERE id = $1",
            f"SELECT a.id, b.note FROM t{t} a JOIN t{u} b ON b.owner = a.id WHERE a.created_at > $1",
            f"UPDATE t{t} SET note = $1 WHERE id = $2",
            f"INSERT INTO t{t} (id, name, created_at) VALUES ($1, $2, now())",
            f"SELECT count(*) AS n FROM t{t} WHERE owner = $1 AND amount > $2",
        ]
        sql = shapes[i % len(shapes)]
        q.write(sql + ";\n")
        p.write(f"PREPARE q{i} AS {sql};\n")
PY
printf '[migrations]\ndialect = "postgres"\n[compat]\nqueries = ["queries"]\n' > runner.toml
git init -q && git -c user.name=b -c user.email=b@example.test add -A && git -c user.name=b -c user.email=b@example.test commit -qm base
printf 'ALTER TABLE t1 ADD COLUMN extra integer;\n' > migrations/V2__extra.sql
printf 'ALTER TABLE t1 DROP COLUMN extra;\n' > migrations/V2__extra.down.sql
"$BIN/psql" -q -d bench_compat -f migrations/V1__tables.sql
now() { python3 -c 'import time; print(time.monotonic())'; }
t0=$(now); "$runner" check --since HEAD --verify --database-url "$url" >/dev/null; t1=$(now)
sed -i 's/^\[compat\]$/[compat]\nenabled = false/' runner.toml
t2=$(now); "$runner" check --since HEAD --verify --database-url "$url" >/dev/null; t3=$(now)
t4=$(now); "$BIN/psql" -q -d bench_compat -f prepare.sql >/dev/null; t5=$(now)
python3 - "$n" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" <<'PY'
import sys
n = int(sys.argv[1]); t = [float(x) for x in sys.argv[2:]]
with_q, without, psql = t[1]-t[0], t[3]-t[2], t[5]-t[4]
compat = with_q - without
print(f"{n} queries: check --verify {with_q:.2f} s, of which the query check {compat:.2f} s "
      f"({compat/n*1000:.2f} ms per query, prepared twice and described); psql PREPARE once: "
      f"{psql:.2f} s ({psql/n*1000:.2f} ms per query); ratio per prepare {compat/2/psql:.2f}")
PY
