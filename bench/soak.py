"""Soak: 2,000 signed records through one Celery worker; prints the worker's resident memory over time (JSON).

The worker runs as it does in production and under `make run` (prefork pool, a pool process replaced
after CELERY_WORKER_MAX_TASKS_PER_CHILD tasks). Records are requested in rounds of 100 (each request
takes its snapshot, as a release does); during each round the resident memory (RSS) of the worker's
whole process tree is read four times a second and the round's highest reading kept. The figure
that matters is how much it moves over the last 1,000 records.
Runs on a throw-away copy of the configured database (test_<name>, cloned from the suite's template).

    DATABASE_URL=... CELERY_BROKER_URL=redis://... python bench/soak.py [--records 2000]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("CELLBATCH_ENV", "test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test.utils import setup_test_environment, teardown_databases  # noqa: E402

ROUND = 100


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MiB."""
    parent = psutil.Process(pid)
    processes = [parent, *parent.children(recursive=True)]
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # a pool process replaced while we read
    return round(total / 2**20, 1)


def soak(records: int, scratch: Path, pki: dict[str, str]) -> dict[str, Any]:
    from batches.models import BatchDocument, DocumentKind, DocumentStatus
    from batches.pki import create_development_certificates
    from batches.release import documents
    from config.celery import app
    from tests.factories import Personas, walk_batch
    from tests.workers import WorkerProcess

    create_development_certificates(
        ca_cert_path=Path(pki["CELLBATCH_SIGNING_CA"]),
        seal_cert_path=Path(pki["CELLBATCH_SIGNING_CERT"]),
        seal_key_path=Path(pki["CELLBATCH_SIGNING_KEY"]),
    )
    people = Personas()
    batch = walk_batch(people, "quarantine")
    app.control.purge()
    env = {**pki, "CELLBATCH_MEDIA_ROOT": str(scratch / "media"), "CELLBATCH_LOG_LEVEL": "WARNING"}
    worker = WorkerProcess(extra_env=env).start()
    if worker.proc is None:
        raise RuntimeError("the worker did not start")
    samples: list[dict[str, float]] = []
    started = time.perf_counter()
    try:
        done = 0
        while done < records:
            with transaction.atomic():
                ids = [
                    documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa).pk
                    for _ in range(min(ROUND, records - done))
                ]
            deadline = time.perf_counter() + 600
            readings = [tree_rss_mb(worker.proc.pid)]
            while BatchDocument.objects.filter(pk__in=ids, status=DocumentStatus.SIGNED).count() < len(ids):
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"round ending at record {done + len(ids)} did not finish within 600 s")
                time.sleep(0.25)
                readings.append(tree_rss_mb(worker.proc.pid))
            done += len(ids)
            # The highest reading of the round: a reading taken while a pool process is being replaced
            # sees only the parent, which says nothing about growth.
            samples.append({"records": done, "rss_mib": max(readings)})
    finally:
        worker.stop()
    seconds = time.perf_counter() - started
    last_half = [s["rss_mib"] for s in samples if s["records"] > records // 2]
    middle = statistics.median(last_half)
    return {
        "benchmark": "soak",
        "records": records,
        "seconds": round(seconds, 1),
        "records_per_second": round(records / seconds, 2),
        "max_tasks_per_child": settings.CELERY_WORKER_MAX_TASKS_PER_CHILD,
        "load_average": os.getloadavg(),
        "rss_mib_after_each_round": samples,
        "last_half": {
            "median_mib": middle,
            "min_mib": min(last_half),
            "max_mib": max(last_half),
            "spread_pct_of_median": round(100 * (max(last_half) - min(last_half)) / middle, 1),
            "target_spread_pct_max": 20,  # flat: within ±10 % of the median
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="cellbatch-soak-"))
    pki = {
        "CELLBATCH_SIGNING_CA": str(scratch / "ca.pem"),
        "CELLBATCH_SIGNING_CERT": str(scratch / "seal.pem"),
        "CELLBATCH_SIGNING_KEY": str(scratch / "key.pem"),
    }
    for name, value in pki.items():
        setattr(settings, name, value)
    settings.MEDIA_ROOT = str(scratch / "media")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    setup_test_environment()
    template_db = importlib.import_module("tests.template_db")
    databases = template_db.setup_test_databases(
        aliases={"default"}, serialized_aliases=set(), keepdb=False, use_migrations=True, verbosity=0
    )
    try:
        report = soak(args.records, scratch, pki)
    finally:
        teardown_databases(databases, verbosity=0)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
