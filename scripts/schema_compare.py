"""Are two databases' schemas the same? The proof that a schema baseline builds what its chain built.

    python scripts/schema_compare.py postgres://postgres@127.0.0.1:5432/chain postgres://…/baseline

Compares, up to the order of statements, what ``pg_dump --schema-only --no-owner`` writes for each
(tables with their columns in order, constraints, indexes, functions, triggers and their comments,
event triggers, privileges), then the catalogs by kind, so that a difference is named by what it is.
Exits non-zero on any difference (docs/decisions.md, D-schema-1).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import psycopg

CATALOG = {
    "columns": """SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision,
                         numeric_scale, is_nullable, column_default, is_identity, identity_generation,
                         rank() OVER (PARTITION BY table_name ORDER BY ordinal_position)
                  FROM information_schema.columns WHERE table_schema = 'public'""",
    "constraints": """SELECT c.relname, n.conname, pg_get_constraintdef(n.oid), n.condeferrable, n.condeferred
                      FROM pg_constraint n JOIN pg_class c ON c.oid = n.conrelid
                      WHERE c.relnamespace = 'public'::regnamespace""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "triggers": """SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled,
                          obj_description(t.oid, 'pg_trigger')
                   FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                   WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace""",
    "functions": """SELECT proname, pg_get_functiondef(oid), proacl::text FROM pg_proc
                    WHERE pronamespace = 'public'::regnamespace""",
    "event triggers": """SELECT evtname, evtevent, evtenabled, evtfoid::regproc::text, evttags::text
                         FROM pg_event_trigger""",
    "relations": """SELECT relname, relkind, relacl::text, relpersistence FROM pg_class
                    WHERE relnamespace = 'public'::regnamespace""",
    "table privileges": """SELECT grantee, table_name, privilege_type, is_grantable
                           FROM information_schema.role_table_grants WHERE table_schema = 'public'""",
    "column privileges": """SELECT grantee, table_name, column_name, privilege_type
                            FROM information_schema.column_privileges WHERE table_schema = 'public'""",
}


def dump_statements(url: str) -> Counter[str]:
    """pg_dump's statements, without its comments and per-run settings, as a multiset."""
    dump = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", url], check=True, capture_output=True, text=True
    ).stdout
    statements: Counter[str] = Counter()
    for part in re.split(r"\n--\n-- Name: [^\n]*\n--\n", dump):
        lines = [line for line in part.splitlines() if line.strip() and not line.startswith("--")]
        text = re.sub(r"^\\(un)?restrict \S+$", "", "\n".join(lines), flags=re.M).strip()
        if text:
            statements[text] += 1
    return statements


def catalog(url: str) -> dict[str, Counter[str]]:
    with psycopg.connect(url) as connection:
        return {kind: Counter(map(repr, connection.execute(sql).fetchall())) for kind, sql in CATALOG.items()}


def report(kind: str, first: Counter[str], second: Counter[str]) -> bool:
    only_first, only_second = first - second, second - first
    same = not only_first and not only_second
    print(f"{kind:18} {first.total():6} {second.total():6}  {'same' if same else 'DIFFERENT'}")
    for label, rows in (("first", only_first), ("second", only_second)):
        for row in sorted(rows)[:10]:
            print(f"    only in the {label}: {row[:400]}")
    return same


def main(first: str, second: str) -> int:
    print(f"{'':18} {'first':>6} {'second':>6}")
    same = report("pg_dump statements", dump_statements(first), dump_statements(second))
    first_catalog, second_catalog = catalog(first), catalog(second)
    for kind in CATALOG:
        same = report(kind, first_catalog[kind], second_catalog[kind]) and same
    return 0 if same else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
