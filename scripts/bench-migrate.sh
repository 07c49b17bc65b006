#!/usr/bin/env bash
# Benchmark: runner migrate against the database's own client applying the same migrations, in
# one run: psql on a throwaway PostgreSQL cluster (each file in its own transaction), then the
# mariadb client on a throwaway MariaDB (statement by statement, as MySQL commits DDL). Prints
# the wall times (median of N runs, each on a fresh database), the ratio of the medians and the
# median of the paired ratios (each run times the peer and runner back to back, so a paired
# ratio cancels most of the machine's drift between runs; odd runs start with the peer, even
# runs with runner, so neither always pays for the background flushing the other left).
# Goals: PostgreSQL <= 1.10, MariaDB <= 1.30.
#
#   scripts/bench-migrate.sh [MIGRATIONS] [RUNS]      (defaults: 500 migrations, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500}
runs=${2:-3}
cargo build --release --quiet
runner=$PWD/target/release/runner
source scripts/bench/pg-cluster.sh
psql="$BIN/psql -X -q -v ON_ERROR_STOP=1"

work=$(mktemp -d)
trap 'rm -rf "$work"; stop_cluster' EXIT
mkdir -p "$work/migrations"
for i in $(seq 1 "$count"); do
    v=$(printf '%04d' "$i")
    printf 'CREATE TABLE t%s (id bigint PRIMARY KEY, name text NOT NULL);\nINSERT INTO t%s VALUES (1, %s);\n' "$i" "$i" "'row $i'" \
        > "$work/migrations/V${v}__table_$i.sql"
    printf 'DROP TABLE t%s;\n' "$i" > "$work/migrations/V${v}__table_$i.down.sql"
done
# psql: one session, each file in its own transaction.
for f in $(ls "$work"/migrations/V*.sql | grep -v '\.down\.sql$'); do
    printf 'BEGIN;\n\\i %s\nCOMMIT;\n' "$f"
done > "$work/psql-script.sql"

elapsed() { local s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | awk '{split($0,a," - "); printf "%.3f\n", a[1]-a[2]}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# The two tools in the order run R takes them: the peer first in odd runs, runner in even ones.
first_then() { if [ $(($1 % 2)) = 1 ]; then echo "$2 $3"; else echo "$3 $2"; fi; }
# The median of the ratios of two equally long lists of times: paired 'PEER...' 'RUNNER...'.
paired() { paste <(printf '%s\n' $1) <(printf '%s\n' $2) | awk '{printf "%.4f\n", $2 / $1}' | median; }

psql_times=() runner_times=()
for r in $(seq 1 "$runs"); do
    $psql -d postgres -c "CREATE DATABASE psql_$r" -c "CREATE DATABASE runner_$r"
    cat > "$work/runner.toml" <<TOML
[migrations]
dialect = "postgres"
[environments.bench]
database_url = "postgres://bench@127.0.0.1:$PGPORT/runner_$r"
TOML
    # Each tool starts from a checkpoint: neither pays for the WAL the other (or CREATE
    # DATABASE) left to flush.
    for who in $(first_then "$r" psql runner); do
        $psql -d postgres -c CHECKPOINT
        case $who in
            psql) psql_times+=("$(elapsed $psql -d "psql_$r" -f "$work/psql-script.sql")") ;;
            runner) runner_times+=("$(cd "$work" && elapsed "$runner" migrate --env bench)") ;;
        esac
    done
    applied=$($psql -d "runner_$r" -Atc "SELECT count(*) FROM runner_migrations WHERE state = 'applied'")
    [ "$applied" = "$count" ] || { echo "runner applied $applied of $count" >&2; exit 1; }
done
p=$(printf '%s\n' "${psql_times[@]}" | median)
m=$(printf '%s\n' "${runner_times[@]}" | median)
echo "migrations: $count small files (CREATE TABLE + INSERT), each in its own transaction; median of $runs runs"
echo "psql runs:   ${psql_times[*]}"
echo "runner runs: ${runner_times[*]}"
pr=$(paired "${psql_times[*]}" "${runner_times[*]}")
awk -v p="$p" -v m="$m" -v pr="$pr" 'BEGIN { printf "psql %.3f s, runner %.3f s, ratio runner/psql %.2f, paired %.2f (goal <= 1.10)\n", p, m, m / p, pr }'

# MariaDB: the same files (MySQL spelling), the mariadb client in one session against runner.
mdb=$(mktemp -d)
user=(); [ "$(id -u)" -eq 0 ] && user=(--user=root)
mariadb-install-db --no-defaults --datadir="$mdb/data" "${user[@]}" --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
/usr/sbin/mariadbd --no-defaults --datadir="$mdb/data" --socket="$mdb/sock" --pid-file="$mdb/pid" --log-error="$mdb/err" \
    "${user[@]}" --skip-networking --skip-log-bin --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
# One EXIT trap for both servers: the PostgreSQL cluster's own trap would be replaced.
trap 'kill "$(cat "$mdb/pid" 2>/dev/null)" 2>/dev/null; rm -rf "$mdb" "$work"; stop_cluster' EXIT
for _ in $(seq 100); do [ -S "$mdb/sock" ] && break; sleep 0.1; done
mysql="mariadb --no-defaults -S $mdb/sock -u root"
rm -rf "$work/migrations" && mkdir -p "$work/migrations"
for i in $(seq 1 "$count"); do
    v=$(printf '%04d' "$i")
    printf 'CREATE TABLE t%s (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);\nINSERT INTO t%s VALUES (1, %s);\n' "$i" "$i" "'row $i'" \
        > "$work/migrations/V${v}__table_$i.sql"
    printf 'DROP TABLE t%s;\n' "$i" > "$work/migrations/V${v}__table_$i.down.sql"
done
for f in $(ls "$work"/migrations/V*.sql | grep -v '\.down\.sql$'); do printf 'source %s\n' "$f"; done > "$work/mariadb-script.sql"
client_times=() runner_times=()
for r in $(seq 1 "$runs"); do
    $mysql -e "CREATE DATABASE client_$r; CREATE DATABASE runner_$r"
    cat > "$work/runner.toml" <<TOML
[migrations]
dialect = "mysql"
[environments.bench]
database_url = "mysql://root@localhost/runner_$r?socket=$mdb/sock"
TOML
    for who in $(first_then "$r" client runner); do
        case $who in
            client) client_times+=("$(elapsed $mysql "client_$r" -e "source $work/mariadb-script.sql")") ;;
            runner) runner_times+=("$(cd "$work" && elapsed "$runner" migrate --env bench)") ;;
        esac
    done
    applied=$($mysql -N -e "SELECT count(*) FROM runner_$r.runner_migrations WHERE state = 'applied'")
    [ "$applied" = "$count" ] || { echo "runner applied $applied of $count on MariaDB" >&2; exit 1; }
done
c=$(printf '%s\n' "${client_times[@]}" | median)
m=$(printf '%s\n' "${runner_times[@]}" | median)
echo "MariaDB $($mysql -N -e 'SELECT VERSION()'): the same $count files, statement by statement; median of $runs runs"
echo "mariadb client runs: ${client_times[*]}"
echo "runner runs:         ${runner_times[*]}"
pr=$(paired "${client_times[*]}" "${runner_times[*]}")
awk -v p="$c" -v m="$m" -v pr="$pr" 'BEGIN { printf "mariadb %.3f s, runner %.3f s, ratio runner/mariadb %.2f, paired %.2f (goal <= 1.30)\n", p, m, m / p, pr }'
