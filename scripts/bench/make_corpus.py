#!/usr/bin/env python3
"""Writes a corpus of realistic PostgreSQL migrations for scripts/bench-check.sh.

Each V{n}__{name}.sql gets a .down.sql. The statements are a varied mix of what real
migrations hold (tables, columns with all kinds of defaults, indexes, constraints, renames,
drops, backfills, functions, views); most files are short, some are long. Deterministic:
the same seed gives the same corpus.

    make_corpus.py DIR [COUNT] [--growing]

--growing: the catalog grows with the files, as real projects' does: every file creates a table
of its own and the statements pick their table among all created so far (without it they draw
from 200 fixed names, so the catalog stays small).
"""
import random
import sys
from pathlib import Path


def statements(r: random.Random, n: int, tables: int = 0):
    t = f"g{r.randrange(tables)}" if tables else f"t{r.randrange(200)}"
    c = f"c{n}"
    choices = [
        f"CREATE TABLE {t}_{n} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    customer_id bigint NOT NULL REFERENCES customers (id),\n    status text NOT NULL DEFAULT 'new',\n    amount numeric(12, 2) NOT NULL DEFAULT 0,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX {t}_{n}_customer_idx ON {t}_{n} (customer_id);",
        f"ALTER TABLE {t} ADD COLUMN {c} text;",
        f"ALTER TABLE {t} ADD COLUMN {c} timestamptz NOT NULL DEFAULT now();",
        f"ALTER TABLE {t} ADD COLUMN {c} uuid DEFAULT gen_random_uuid();",
        f"ALTER TABLE {t} ADD COLUMN {c} integer NOT NULL;",
        f"ALTER TABLE {t} ADD COLUMN {c} bigserial;",
        f"CREATE INDEX CONCURRENTLY {t}_{c}_idx ON {t} ({c}) WHERE deleted_at IS NULL;",
        f"CREATE INDEX {t}_{c}_idx ON {t} (lower({c}));",
        f"DROP INDEX IF EXISTS {t}_{c}_old_idx;",
        f"ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_fk FOREIGN KEY ({c}) REFERENCES accounts (id) NOT VALID;",
        f"ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_check CHECK ({c} > 0);",
        f"ALTER TABLE {t} VALIDATE CONSTRAINT {t}_{c}_fk;",
        f"ALTER TABLE {t} RENAME COLUMN {c} TO {c}_new;",
        f"ALTER TABLE {t} ALTER COLUMN {c} TYPE bigint;",
        f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;",
        f"ALTER TABLE {t} DROP COLUMN IF EXISTS {c}_legacy;",
        f"UPDATE {t} SET {c} = 'x' WHERE id BETWEEN {n} AND {n + 1000};",
        f"UPDATE {t} SET {c} = 0;",
        f"DELETE FROM {t} WHERE created_at < now() - interval '90 days';",
        f"TRUNCATE {t}_staging;",
        f"CREATE OR REPLACE FUNCTION {t}_touch_{n}() RETURNS trigger AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;",
        f"CREATE VIEW {t}_summary_{n} AS\nSELECT customer_id, count(*) AS orders, sum(amount) AS total\nFROM {t}\nWHERE status <> 'cancelled'\nGROUP BY customer_id;",
        f"COMMENT ON COLUMN {t}.{c} IS 'set by the billing job; see runbook section {n}';",
        f"INSERT INTO settings (key, value) VALUES ('{t}.{c}', '{{\"enabled\": true}}') ON CONFLICT (key) DO NOTHING;",
    ]
    return r.choice(choices)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    growing = "--growing" in sys.argv
    out = Path(args[0])
    count = int(args[1]) if len(args) > 1 else 2000
    out.mkdir(parents=True, exist_ok=True)
    r = random.Random(42)
    n = 0
    for v in range(1, count + 1):
        size = r.choice([1, 1, 1, 2, 3, 5, 8]) if v % 50 else r.randrange(200, 400)
        body = []
        if growing:
            body.append(f"CREATE TABLE g{v - 1} (\n    id bigint PRIMARY KEY,\n    note text,\n    created_at timestamptz NOT NULL DEFAULT now()\n);")
        for _ in range(size):
            n += 1
            body.append(statements(r, n, v if growing else 0))
        name = f"V{v:05d}__migration_{v}"
        (out / f"{name}.sql").write_text("-- generated for the check benchmark\n" + "\n\n".join(body) + "\n")
        (out / f"{name}.down.sql").write_text(f"-- rollback of {name}\nSELECT 1;\n")


if __name__ == "__main__":
    main()
