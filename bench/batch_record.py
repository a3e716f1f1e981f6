"""Benchmark of the signed batch record; prints JSON.

Medians of 20 runs: snapshot of a walked batch (database), build (drawing) and sign (PAdES seal) of
the 8-page demo record, end-to-end of the demo record (snapshot JSON in, signed file stored), the
drawing cost per page of a record with a 2,000-event audit trail against the demo's, and end-to-end
of a real request built in-process. Then the throughput of 100 records through two Celery workers
on Redis, requests included (each snapshots the batch, as a release does): in phases (100 requests
in one transaction, then the workers build and seal them; both phases timed apart) and pipelined
(requests one by one, each committed, while the workers build, as releases arrive in production). Runs on a
throw-away copy of the configured database (test_<name>, cloned from the suite's migrated template).

    DATABASE_URL=... CELERY_BROKER_URL=redis://... python bench/batch_record.py
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("CELLBATCH_ENV", "test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test.utils import setup_test_environment, teardown_databases  # noqa: E402

RUNS = 20
RECORDS = 100


def median_ms(action: Callable[[], Any], runs: int = RUNS) -> dict[str, float]:
    """Median wall-clock and CPU milliseconds (CPU time shows the cost when other jobs share the cores)."""
    action()  # warm-up: fonts, key and signer are loaded once per process
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"wall": round(statistics.median(wall) * 1000, 1), "cpu": round(statistics.median(cpu) * 1000, 1)}


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="cellbatch-bench-"))
    pki_paths = {
        "CELLBATCH_SIGNING_CA": str(scratch / "ca.pem"),
        "CELLBATCH_SIGNING_CERT": str(scratch / "seal.pem"),
        "CELLBATCH_SIGNING_KEY": str(scratch / "key.pem"),
    }
    for name, value in pki_paths.items():
        setattr(settings, name, value)
    settings.MEDIA_ROOT = str(scratch / "media")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    setup_test_environment()
    # The test database, cloned from the migrated template the suite keeps (built when missing).
    template_db = importlib.import_module("tests.template_db")
    databases = template_db.setup_test_databases(
        aliases={"default"}, serialized_aliases=set(), keepdb=False, use_migrations=True, verbosity=0
    )
    try:
        report = run(scratch, pki_paths)
    finally:
        teardown_databases(databases, verbosity=0)
    print(json.dumps(report, indent=2))


def cpu_ms(action: Callable[[], Any]) -> float:
    start = time.process_time()
    action()
    return (time.process_time() - start) * 1000


def wait_signed(ids: list[int], start: float) -> float:
    from batches.models import BatchDocument, DocumentStatus

    while BatchDocument.objects.filter(pk__in=ids, status=DocumentStatus.SIGNED).count() < len(ids):
        if time.perf_counter() - start > 300:
            raise RuntimeError("throughput run did not finish within 300 s")
        time.sleep(0.05)
    return time.perf_counter()


def throughput_in_phases(batch: Any, people: Any) -> dict[str, Any]:
    """All requests first (one transaction), then the two workers build them: the phases timed apart."""
    from batches.models import DocumentKind
    from batches.release import documents

    start = time.perf_counter()
    with transaction.atomic():
        ids = [
            documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa).pk
            for _ in range(RECORDS)
        ]
    queued = time.perf_counter()
    finished = wait_signed(ids, start)
    return {
        "records": RECORDS,
        "workers": 2,
        "request_seconds": round(queued - start, 2),
        "build_seconds": round(finished - queued, 2),
        "seconds": round(finished - start, 2),
        "records_per_second": round(RECORDS / (finished - start), 2),
        "built_per_second": round(RECORDS / (finished - queued), 2),
    }


def throughput_pipelined(batch: Any, people: Any) -> dict[str, Any]:
    """Requests one after another, each in its own transaction as a release makes it, while the two
    workers build: from the first request to the last signed record, requests included."""
    from batches.models import DocumentKind
    from batches.release import documents

    start = time.perf_counter()
    ids = []
    for _ in range(RECORDS):
        with transaction.atomic():
            ids.append(documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa).pk)
    requested = time.perf_counter()
    finished = wait_signed(ids, start)
    return {
        "records": RECORDS,
        "workers": 2,
        "request_seconds": round(requested - start, 2),
        "seconds": round(finished - start, 2),
        "records_per_second": round(RECORDS / (finished - start), 2),
    }


def long_record(pairs: int = 9) -> dict[str, Any]:
    """Drawing cost per page of the demo record and of the same record with a 2,000-event audit trail.

    The two are drawn alternately, and the ratio is the median of each pair's: a machine whose speed
    drifts during the run (this one's does, by up to 2×) slows both records of a pair alike.
    """
    from batches.pdf.render import render
    from tests.sample_snapshot import sample_snapshot

    normal, long = sample_snapshot(), sample_snapshot(audit_events=2000)
    normal_pages, long_pages = render(normal)[1], render(long)[1]  # also the warm-up
    per_page: dict[str, list[float]] = {"normal": [], "long": []}
    for _ in range(pairs):
        per_page["normal"].append(cpu_ms(lambda: render(normal)) / normal_pages)
        per_page["long"].append(cpu_ms(lambda: render(long)) / long_pages)
    ratios = [b / a for a, b in zip(per_page["normal"], per_page["long"], strict=True)]
    return {
        "normal": {"pages": normal_pages, "cpu_ms_per_page": round(statistics.median(per_page["normal"]), 2)},
        "audit_events_2000": {"pages": long_pages, "cpu_ms_per_page": round(statistics.median(per_page["long"]), 2)},
        "ratio": round(statistics.median(ratios), 2),
        "ratio_range": [round(min(ratios), 2), round(max(ratios), 2)],
        "pairs": pairs,
        "target_ratio_max": 1.2,
    }


def run(scratch: Path, pki_paths: dict[str, str]) -> dict[str, Any]:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from batches.models import BatchDocument, DocumentKind, DocumentStatus
    from batches.pdf import signing
    from batches.pdf.collect import take_snapshot
    from batches.pdf.render import render
    from batches.pki import create_development_certificates
    from batches.release import documents
    from batches.snapshot import Snapshot
    from tests.factories import Personas, walk_batch
    from tests.sample_snapshot import sample_snapshot
    from tests.workers import WorkerProcess

    create_development_certificates(
        ca_cert_path=Path(pki_paths["CELLBATCH_SIGNING_CA"]),
        seal_cert_path=Path(pki_paths["CELLBATCH_SIGNING_CERT"]),
        seal_key_path=Path(pki_paths["CELLBATCH_SIGNING_KEY"]),
    )
    people = Personas()
    batch = walk_batch(people, "quarantine")
    demo = sample_snapshot()
    demo_json = demo.to_dict()
    pdf, pages = render(demo)
    sealed = signing.seal_pdf(pdf, title="bench")

    def end_to_end_demo() -> None:
        snapshot = Snapshot.from_dict(demo_json)
        signed, _ = documents.build_pdf(snapshot)
        default_storage.save("bench/demo.pdf", ContentFile(signed))

    def end_to_end_request() -> None:
        with transaction.atomic():
            document = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)
        documents.document_build(document_id=document.pk)

    figures: dict[str, Any] = {
        "runs": RUNS,
        "medians": "wall and CPU milliseconds",
        "load_average_at_start": os.getloadavg()[0],
        "demo_record": {"pages": pages, "bytes": len(sealed)},
        "snapshot_ms": median_ms(lambda: take_snapshot(batch, kind="on_request", revision=1)),
        "build_ms": median_ms(lambda: render(demo)),
        "sign_ms": median_ms(lambda: signing.seal_pdf(pdf, title="bench")),
        "end_to_end_demo_ms": median_ms(end_to_end_demo),
        "long_record": long_record(),
    }
    # The request's on_commit publish goes to a broker no worker listens to yet: purge it afterwards.
    figures["end_to_end_request_ms"] = median_ms(end_to_end_request)
    last = BatchDocument.objects.filter(status=DocumentStatus.SIGNED).order_by("-pk").first()
    figures["request_record"] = {"pages": last.page_count if last else None, "bytes": last.size_bytes if last else None}

    from config.celery import app

    app.control.purge()
    env = {**pki_paths, "CELLBATCH_MEDIA_ROOT": str(scratch / "media"), "CELLBATCH_LOG_LEVEL": "WARNING"}
    workers = [WorkerProcess(extra_env=env).start() for _ in range(2)]
    try:
        figures["throughput"] = throughput_in_phases(batch, people)
        figures["throughput_pipelined"] = throughput_pipelined(batch, people)
    finally:
        for worker in workers:
            worker.stop()
    figures["targets"] = {"end_to_end_ms_median_max": 250, "records_per_second_min": 10}
    return figures


if __name__ == "__main__":
    main()
