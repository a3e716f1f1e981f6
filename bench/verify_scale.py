"""Full and incremental audit-trail verification at scale; prints JSON.

Creates a scratch database next to DATABASE_URL's (dropped at the end), migrates it, writes GMP rows
with set-based SQL through the real audit triggers (patient enrolments, then a correction of each
with a reason: two events per patient), seals them, then times:

- the full verification (``verify_audit_trail``: chain, checkpoint, every sealed event, every row),
  median of ``--repeats`` runs;
- the incremental verification of ``--new`` events written and sealed after an intact run.

Beside each wall-clock time it reports the CPU seconds of the client and of each PostgreSQL backend
it used, and the load average, so a figure taken on a busy machine can be read for a quiet one.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cellbatch python bench/verify_scale.py [--events N] [--new N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audit_verify import development_pki, scratch_database  # noqa: E402  (the script's own folder)
from scale import analyze  # noqa: E402


def enrol(first: int, count: int, *, correct: bool) -> None:
    """``count`` patients numbered from ``first`` (one insert event each) and, with ``correct``, a
    weight correction of each (one update event each), in two set-based statements."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    operator, _ = User.objects.get_or_create(username="bench-operator")
    for reason, sql, params in (
        (
            "enrolment",
            "INSERT INTO batches_patient (subject_code, consent_date, body_weight_kg, eligibility_confirmed, "
            "enrolled_by_id, enrolled_at) SELECT 'B-' || lpad(n::text, 9, '0'), CURRENT_DATE - 30, 60 + n %% 40, "
            "true, %s, now() FROM generate_series(%s, %s) AS n",
            [operator.pk, first, first + count - 1],
        ),
        (
            "weight re-measured",
            "UPDATE batches_patient SET body_weight_kg = body_weight_kg + 0.5 WHERE subject_code >= %s "
            "AND subject_code <= %s",
            ["B-" + str(first).zfill(9), "B-" + str(first + count - 1).zfill(9)],
        ),
    ):
        if reason != "enrolment" and not correct:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            context = json.dumps({"actor": "bench-operator", "reason": reason, "user": operator.pk})
            cursor.execute("SELECT set_config('pghistory.context_metadata', %s, true)", [context])
            cursor.execute(sql, params)


def backend_cpu(pid: int | None) -> float:
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_run(*, incremental: bool) -> dict[str, Any]:
    from django.db import connection

    from batches.ledger import verify

    side: dict[str, float] = {}
    originals = {"check_events": verify.check_events, "reconcile": verify.reconcile}

    def measured(name: str) -> Any:
        def check(report: Any, start: Any) -> None:
            """A check on its own connection: read its backend's CPU time before the connection closes."""
            connection.ensure_connection()
            pid = connection.connection.info.backend_pid
            originals[name](report, start)
            if threading.current_thread() is not threading.main_thread():
                side[name] = backend_cpu(pid)

        return check

    for name in originals:
        setattr(verify, name, measured(name))
    connection.ensure_connection()
    main_pid = connection.connection.info.backend_pid
    before_main = backend_cpu(main_pid)
    load = Path("/proc/loadavg").read_text().split()[:3]
    client, wall = time.process_time(), time.perf_counter()
    report = verify.verify_audit_trail(incremental=incremental)
    wall, client = time.perf_counter() - wall, time.process_time() - client
    for name, function in originals.items():
        setattr(verify, name, function)
    main = backend_cpu(main_pid) - before_main
    if not report.ok:
        raise SystemExit(f"verification failed: {report.problems[:3]}")
    return {
        "seconds": round(wall, 3),
        "seals_checked": report.seals_checked,
        "rows": report.rows,
        "client_cpu_s": round(client, 3),
        "server_cpu_s_main": round(main, 3),
        "server_cpu_s_events": round(side["check_events"], 3) if "check_events" in side else None,
        "server_cpu_s_rows": round(side["reconcile"], 3) if "reconcile" in side else None,
        "loadavg_before": " ".join(load),
        "loadavg_after": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def run(events: int, new: int, repeats: int) -> dict[str, Any]:
    import django
    from django.core.management import call_command

    django.setup()
    from batches.ledger.seal import ledger_seal

    development_pki()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    enrol(1, events // 2, correct=True)
    build = time.perf_counter() - started
    started = time.perf_counter()
    sealed = ledger_seal().sealed
    seal = time.perf_counter() - started
    analyze()
    full = [timed_run(incremental=False) for _ in range(repeats)]
    median = statistics.median(r["seconds"] for r in full)
    enrol(events // 2 + 1, new, correct=False)
    ledger_seal()
    incremental = timed_run(incremental=True)
    return {
        "benchmark": "verify_audit_trail at scale",
        "events": sealed,
        "build_seconds": round(build, 1),
        "seal_seconds": round(seal, 1),
        "full": {
            "median_seconds": median,
            "events_per_second": round(sealed / median),
            "runs": full,
        },
        "incremental": {"new_events": incremental["seals_checked"], **incremental},
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="sealed events before the full runs")
    parser.add_argument("--new", type=int, default=100_000, help="new events for the incremental run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with scratch_database("cellbatch_bench_verify"):
        result = run(args.events, args.new, args.repeats)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
