"""Time the batch lists, the batch detail and page, and verification on a database of a given size.

Creates a scratch database next to DATABASE_URL's (cloned from the test template when one for the
current migrations exists on the server, migrated otherwise; dropped at the end). A few template
batches are walked through the real services (every step signed and verified); then batches and
their patients are cloned with set-based SQL with every trigger on, and patient corrections (with a
reason) add audit events up to ``--events``. Everything is sealed, then each request is timed.
Prints JSON: p50/p95/p99 in milliseconds and the number of queries of each request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cellbatch python bench/scale.py --keep scale_100k
    ... python bench/scale.py --reuse scale_100k      (measure again, e.g. on a quieter machine)
    ... python bench/scale.py --batches 2000 --events 50000      (a quick look: about a minute)
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def admin_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))


def scratch_url(database_url: str, name: str) -> str:
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))


STATES = ["registered", "mobilization", "collection", "processing", "quarantine"]


def template_database(base: str) -> str | None:
    """The migrated test template of the current migrations on this server, if any."""
    # Imported by name: the test helpers are not part of the type-checked code.
    template_db = importlib.import_module("tests.template_db")
    suffix = template_db.schema_fingerprint(use_migrations=True)
    with psycopg.connect(admin_url(base), autocommit=True) as admin:
        row = admin.execute(
            "SELECT datname FROM pg_database WHERE datistemplate AND datname LIKE %s LIMIT 1", [f"tmpl_%_{suffix}"]
        ).fetchone()
    return row[0] if row else None


def in_context(cursor: Any, user_id: int, reason: str) -> None:
    context = {"actor": "bench", "reason": reason, "user": user_id}
    cursor.execute("SELECT set_config('pghistory.context_metadata', %s, true)", [json.dumps(context)])


def build(batches: int, events: int) -> dict[str, Any]:
    """Template batches through the services, then set-based clones; returns what the timings need."""
    from django.db import connection, transaction

    from batches.dbrole import owner_session
    from batches.models import Batch

    factories = importlib.import_module("tests.factories")
    people = factories.Personas()
    factories.approved_specification(people)
    templates = [
        factories.walk_batch(people, state, subject_code=f"IGX1-S{n:03d}") for n, state in enumerate(STATES, 1)
    ]
    clones = max(batches - len(templates), 0)
    operator = people.operator.pk
    with transaction.atomic(), connection.cursor() as cursor:
        in_context(cursor, operator, "bench enrolment")
        cursor.execute(
            "INSERT INTO batches_patient (subject_code, consent_date, body_weight_kg, eligibility_confirmed, "
            "enrolled_by_id, enrolled_at) SELECT 'IGX1-B' || lpad(n::text, 7, '0'), CURRENT_DATE - 30, "
            "60 + n %% 40, true, %s, now() FROM generate_series(1, %s) AS n",
            [operator, clones],
        )
        cursor.execute(
            "INSERT INTO batches_batch (batch_number, patient_id, process_definition_id, body_weight_kg, status, "
            "status_changed_at, registered_by_id, registered_at, cancel_reason, is_demo) "
            "SELECT 'BN' || substr(p.subject_code, 7), p.id, %s, p.body_weight_kg, 'registered', "
            "now() - (n || ' minutes')::interval, %s, now() - (n || ' minutes')::interval, '', false "
            "FROM (SELECT id, subject_code, body_weight_kg, row_number() OVER (ORDER BY id) AS n "
            "FROM batches_patient WHERE subject_code LIKE 'IGX1-B%%') AS p",
            [templates[0].process_definition_id, operator],
        )
    long_history = factories.walk_batch(people, "quarantine", subject_code="IGX1-S900")
    with transaction.atomic(), connection.cursor() as cursor:
        in_context(cursor, operator, "bench: a long history")
        # 2,000 single-row updates, each an audit event of the batch (as 2,000 corrections would be).
        cursor.execute(
            "DO $$ BEGIN FOR n IN 1..2000 LOOP UPDATE batches_batch SET cancel_reason = 'note ' || n "
            f"WHERE id = {int(long_history.pk)}; END LOOP; END $$"
        )
    made = _events()
    rounds = 0
    while made < events and clones:
        with transaction.atomic(), connection.cursor() as cursor:
            in_context(cursor, operator, "weight re-measured")
            step = min(clones, events - made)
            cursor.execute(
                "UPDATE batches_patient SET body_weight_kg = body_weight_kg + 0.1 WHERE id IN ("
                "SELECT id FROM batches_patient WHERE subject_code LIKE 'IGX1-B%%' ORDER BY id LIMIT %s)",
                [step],
            )
        made, rounds = made + step, rounds + 1
    with owner_session(), connection.cursor() as cursor:  # VACUUM is the owner's
        # The corrections above rewrote each cloned patient many times over (a live table spreads
        # its updates and reuses the space): compact it, as a busy table looks after autovacuum.
        cursor.execute("VACUUM (FULL, ANALYZE) batches_patient")
        cursor.execute("VACUUM (ANALYZE)")
    return {
        "people": people,
        "detail": templates[-1],
        "long_history": long_history,
        "batches": Batch.objects.count(),
        "number": "BN0001",
        "subject": "IGX1-B0001",
    }


def analyze() -> None:
    """Fresh planner statistics for the tables just filled, as autovacuum keeps them on a live server
    (a server may run without it, as some test machines do: the plans then assume empty tables)."""
    from django.db import connection

    from batches.dbrole import owner_session

    with owner_session(), connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _events() -> int:
    from batches.ledger.chain import event_tables

    return sum(events._default_manager.count() for _label, _model, events in event_tables())


def measure(call: Callable[[], Any], repeats: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call()  # warm caches
    timings = []
    queries = 0
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = call()
            timings.append((time.perf_counter() - started) * 1000)
        status = getattr(response, "status_code", 200)
        if status != 200:
            raise SystemExit(f"{call} answered {status}")
        queries = len(captured)
    cuts = statistics.quantiles(timings, n=100, method="inclusive") if len(timings) > 1 else timings * 99
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1), "queries": queries}


def record_costs(batch: Any, runs: int = 5) -> dict[str, Any]:
    """Median wall and CPU milliseconds of a record's snapshot, drawing and seal, and drawing CPU per page."""
    from batches.pdf import signing
    from batches.pdf.collect import take_snapshot
    from batches.pdf.render import render

    def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        return result, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000

    figures: dict[str, list[float]] = {}
    pages = 0
    for _ in range(runs):
        snapshot, wall, cpu = timed(lambda: take_snapshot(batch, kind="on_request", revision=1))
        figures.setdefault("snapshot_wall", []).append(wall)
        (pdf, pages), wall, cpu = timed(lambda: render(snapshot))  # noqa: B023
        figures.setdefault("render_wall", []).append(wall)
        figures.setdefault("render_cpu", []).append(cpu)
        _, wall, cpu = timed(lambda: signing.seal_pdf(pdf, title="bench"))  # noqa: B023
        figures.setdefault("seal_wall", []).append(wall)
    medians = {name: round(statistics.median(values), 1) for name, values in figures.items()}
    return {
        "audit_events": len(snapshot.audit_trail),
        "pages": pages,
        **{f"{name}_ms": value for name, value in medians.items()},
        "render_cpu_ms_per_page": round(medians["render_cpu"] / pages, 2),
    }


def deep_page(api: Any, pages: int) -> str:
    url = "/api/v1/batches/"
    for _ in range(pages):
        following = api.get(url).json()["next"]
        if not following:
            break
        url = following
    return str(url)


def kept() -> dict[str, Any]:
    """What the timings need, found again in a database an earlier ``--keep`` run built."""
    from django.contrib.auth.models import User

    from batches.models import Batch

    by_subject = Batch.objects.select_related("patient")
    return {
        "people": SimpleNamespace(
            auditor=User.objects.get(username="auditor"), admin=User.objects.get(username="admin")
        ),
        "detail": by_subject.get(patient__subject_code=f"IGX1-S{len(STATES):03d}"),
        "long_history": by_subject.get(patient__subject_code="IGX1-S900"),
        "batches": Batch.objects.count(),
        "number": "BN0001",
        "subject": "IGX1-B0001",
    }


def run(batches: int, events: int, repeats: int, *, reuse: bool = False) -> dict[str, Any]:
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse
    from rest_framework.test import APIClient

    from batches import pki
    from batches.ledger.seal import ledger_seal
    from batches.ledger.verify import verify_audit_trail

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["*"]
    folder = Path(tempfile.mkdtemp(prefix="cellbatch-bench-pki-"))
    settings.CELLBATCH_SIGNING_CA = str(folder / "ca.pem")
    settings.CELLBATCH_SIGNING_CERT = str(folder / "seal.pem")
    settings.CELLBATCH_SIGNING_KEY = str(folder / "seal-key.pem")
    pki.create_development_certificates(
        ca_cert_path=folder / "ca.pem", seal_cert_path=folder / "seal.pem", seal_key_path=folder / "seal-key.pem"
    )
    from django.core.management import call_command

    started = time.perf_counter()
    if reuse:
        data = kept()
    else:
        call_command("migrate", verbosity=0)
        data = build(batches, events)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sealed = ledger_seal().sealed
    seal_seconds = time.perf_counter() - started
    if not reuse:
        analyze()

    people = data["people"]
    gc.freeze()  # as config/wsgi.py does once the server has loaded
    api = APIClient()
    api.force_authenticate(people.auditor)
    browser = Client()
    browser.force_login(people.admin)
    detail = data["detail"]
    deep = deep_page(api, min(data["batches"] // 50 // 2, 200))
    requests: dict[str, Callable[[], Any]] = {
        "api_list_first_page": lambda: api.get("/api/v1/batches/"),
        "api_list_deep_page": lambda: api.get(deep),
        "api_filter_status": lambda: api.get("/api/v1/batches/", {"status": "quarantine"}),
        "api_search_batch_number": lambda: api.get("/api/v1/batches/", {"search": data["number"]}),
        "api_search_subject_code": lambda: api.get("/api/v1/batches/", {"search": data["subject"]}),
        "api_detail": lambda: api.get(f"/api/v1/batches/{detail.pk}/"),
        "admin_changelist": lambda: browser.get(reverse("admin:batches_batch_changelist")),
        "batch_page": lambda: browser.get(reverse("admin:batches_batch_change", args=[detail.pk])),
    }
    timings = {name: measure(call, repeats) for name, call in requests.items()}
    records = {"normal": record_costs(detail), "long_history": record_costs(data["long_history"])}
    records["per_page_cpu_ratio"] = round(
        records["long_history"]["render_cpu_ms_per_page"] / records["normal"]["render_cpu_ms_per_page"], 2
    )
    timings["verify_full"] = measure(lambda: verify_audit_trail(), max(repeats // 10, 3))
    timings["verify_incremental"] = measure(lambda: verify_audit_trail(incremental=True), max(repeats // 10, 3))
    return {
        "benchmark": "scale",
        "batches": data["batches"],
        "events": _events(),
        "sealed": sealed,
        "build_seconds": None if reuse else round(build_seconds, 1),
        "seal_seconds": round(seal_seconds, 1),
        "repeats": repeats,
        "verify_incremental_reads": "what is new since the previous (intact) run: here nothing",
        "timings_ms": timings,
        "records": records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--keep", metavar="NAME", help="build into the scratch database NAME and keep it (to measure it again later)"
    )
    parser.add_argument("--reuse", metavar="NAME", help="measure the database NAME kept by an earlier --keep run")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL")
    if not base:
        sys.exit("Set DATABASE_URL to a PostgreSQL server where a scratch database may be created.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    template = None if args.reuse else template_database(base)
    name = args.reuse or args.keep or f"cellbatch_bench_scale_{os.getpid()}"
    if not args.reuse:
        with psycopg.connect(admin_url(base), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name
    os.environ["DATABASE_URL"] = scratch_url(base, name)
    try:
        result = run(args.batches, args.events, args.repeats, reuse=bool(args.reuse))
        result["cloned_from_template"] = bool(template)
        result["database"] = name
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        connections.close_all()
        if not (args.keep or args.reuse):
            with psycopg.connect(admin_url(base), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
