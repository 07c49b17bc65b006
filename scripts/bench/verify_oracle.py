"""The oracle of scripts/verify-corpus.sh: does each rollback restore what pg_dump shows?

For each migration in order on a fresh database: dump the schema, apply it, apply its
rollback, dump again, compare, then apply it again. Compares the verdicts with runner's JSON.
"""
import json
import os
import re
import subprocess
import sys
import time

folder, bindir, port, runner_json = sys.argv[1:5]
env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=port, PGUSER="postgres")


def psql(db, *args, **kw):
    return subprocess.run([f"{bindir}/psql", "-X", "-q", "-d", db, *args], env=env, capture_output=True, text=True, **kw)


def apply(db, path):
    sql = open(path, encoding="utf-8").read()
    single = [] if re.search(r"\bconcurrently\b", sql, re.I) else ["-1"]
    return psql(db, "-v", "ON_ERROR_STOP=1", *single, "-f", path).returncode == 0


def dump(db):
    out = subprocess.run([f"{bindir}/pg_dump", "-s", "-d", db], env=env, capture_output=True, text=True).stdout
    keep = [l for l in out.splitlines() if l.strip() and not l.startswith("--") and not l.startswith("SET ")
            and not l.startswith("SELECT pg_catalog.set_config") and not l.startswith("\\restrict") and not l.startswith("\\unrestrict")]
    return "\n".join(keep)


started = time.monotonic()
psql("postgres", "-c", "DROP DATABASE IF EXISTS oracle")
psql("postgres", "-c", "CREATE DATABASE oracle")
files = sorted(f for f in os.listdir(folder) if re.match(r"V\d+__.*\.sql$", f) and not f.endswith(".down.sql"))
oracle = {}
for f in files:
    version = int(re.match(r"V(\d+)", f).group(1))
    up = os.path.join(folder, f)
    down = up[:-4] + ".down.sql"
    before = dump("oracle")
    if not apply("oracle", up):
        oracle[version] = "forward fails"
        break
    if not os.path.exists(down):
        oracle[version] = "skipped"
        continue
    if not apply("oracle", down):
        oracle[version] = "rollback fails"
        # Back to "this migration applied" for the next ones.
        psql("postgres", "-c", "DROP DATABASE oracle")
        psql("postgres", "-c", "CREATE DATABASE oracle")
        for g in files[: files.index(f) + 1]:
            apply("oracle", os.path.join(folder, g))
        continue
    after = dump("oracle")
    oracle[version] = "restores" if before == after else "differs"
    if not apply("oracle", up):
        oracle[version] = "differs"
        psql("postgres", "-c", "DROP DATABASE oracle")
        psql("postgres", "-c", "CREATE DATABASE oracle")
        for g in files[: files.index(f) + 1]:
            apply("oracle", os.path.join(folder, g))

print(f"pg_dump oracle: {time.monotonic() - started:.1f} s")
runner = {r["version"]: r["result"] for r in json.load(open(runner_json))["verified"]}
counts = {}
for r in runner.values():
    counts[r] = counts.get(r, 0) + 1
print("runner:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
ocounts = {}
for r in oracle.values():
    ocounts[r] = ocounts.get(r, 0) + 1
print("pg_dump:", ", ".join(f"{k} {v}" for k, v in sorted(ocounts.items())))
agree = {"restores": {"ok"}, "differs": {"mismatch", "column_order", "reapply_failed"},
         "rollback fails": {"rollback_failed"}, "skipped": {"skipped"}, "forward fails": {"forward_failed"}}
disagree = [(v, oracle[v], runner.get(v)) for v in sorted(oracle) if runner.get(v) not in agree[oracle[v]]]
missing = [v for v in runner if v not in oracle]
print(f"migrations: {len(files)}; judged by both: {len(oracle)}; disagreements: {len(disagree)}")
for v, o, r in disagree[:40]:
    print(f"  V{v:04d}: pg_dump {o}, runner {r}")
if missing:
    print(f"  runner judged {len(missing)} migration(s) the oracle never reached")
