"""Time ``verify_audit_trail`` on 100,000 audit events; prints JSON.

Creates a scratch database next to DATABASE_URL's (dropped at the end), migrates it, writes GMP
rows with set-based SQL so that the real audit triggers produce the events, seals them, then runs
the command several times and reports the median.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cellbatch python bench/audit_verify.py [--events N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def admin_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))


def scratch_url(database_url: str, name: str) -> str:
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))


def development_pki() -> None:
    """A throw-away organisation seal for the scratch database's checkpoints."""
    from django.conf import settings

    from batches import pki

    folder = Path(tempfile.mkdtemp(prefix="cellbatch-bench-pki-"))
    settings.CELLBATCH_SIGNING_CA = str(folder / "ca.pem")
    settings.CELLBATCH_SIGNING_CERT = str(folder / "seal.pem")
    settings.CELLBATCH_SIGNING_KEY = str(folder / "seal-key.pem")
    pki.create_development_certificates(
        ca_cert_path=folder / "ca.pem", seal_cert_path=folder / "seal.pem", seal_key_path=folder / "seal-key.pem"
    )


@contextmanager
def scratch_database(prefix: str) -> Iterator[None]:
    """A database created next to DATABASE_URL's for the block (DATABASE_URL points at it), then dropped."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        sys.exit("Set DATABASE_URL to a PostgreSQL server where a scratch database may be created.")
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(admin_url(base), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = scratch_url(base, name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url(base), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build(events: int) -> None:
    """Half the events are patient enrolments (insert), half corrections with a reason (update)."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    operator = User.objects.create(username="bench-operator")
    rows = events // 2
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pghistory.context_metadata', %s, true)",
            [json.dumps({"actor": "bench-operator", "reason": "enrolment", "user": operator.pk})],
        )
        cursor.execute(
            "INSERT INTO batches_patient (subject_code, consent_date, body_weight_kg, eligibility_confirmed, "
            "enrolled_by_id, enrolled_at) SELECT 'B-' || lpad(n::text, 8, '0'), CURRENT_DATE - 30, 60 + n %% 40, "
            "true, %s, now() FROM generate_series(1, %s) AS n",
            [operator.pk, rows],
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pghistory.context_metadata', %s, true)",
            [json.dumps({"actor": "bench-operator", "reason": "weight re-measured", "user": operator.pk})],
        )
        cursor.execute("UPDATE batches_patient SET body_weight_kg = body_weight_kg + 0.5")


def run(events: int, repeats: int) -> dict[str, object]:
    import django
    from django.core.management import call_command

    django.setup()
    from batches.ledger.seal import ledger_seal

    development_pki()
    call_command("migrate", verbosity=0)

    started = time.perf_counter()
    build(events)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sealed = ledger_seal().sealed
    seal_seconds = time.perf_counter() - started

    timings = []
    for _ in range(repeats):
        out = StringIO()
        started = time.perf_counter()
        call_command("verify_audit_trail", "--no-progress", stdout=out)
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    return {
        "benchmark": "verify_audit_trail",
        "events": sealed,
        "seconds": round(median, 3),
        "events_per_second": round(sealed / median),
        "runs": [round(t, 3) for t in timings],
        "seal_seconds": round(seal_seconds, 3),
        "build_seconds": round(build_seconds, 3),
        "result": out.getvalue().strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with scratch_database("cellbatch_bench_audit"):
        result = run(args.events, args.repeats)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
