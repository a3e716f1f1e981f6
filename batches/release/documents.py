"""Batch-record documents: request (outbox row), build and seal, re-publish, download, verify.

The job is the BatchDocument row, written in the caller's transaction; Celery is only told about
it after commit, and a beat task re-publishes any job still unfinished past its deadline, so a
broker outage or a killed worker delays a record but never loses it. Building claims the row with
a compare-and-set, so a job delivered twice is built once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from batches import pki
from batches.accounts.language import LANGUAGE_CODES, language_for
from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.ledger.seal import ledger_seal
from batches.models import Batch, BatchDocument, DocumentDownload, DocumentKind, DocumentStatus
from batches.models.documents import UNFINISHED
from batches.pdf.collect import take_snapshot
from batches.pdf.providers import current_checkpoint
from batches.roles import Domain, Role, require_role
from batches.services.common import lock_batch
from batches.snapshot import Snapshot, digest
from batches.states import BatchStatus
from batches.task_names import BUILD_BATCH_RECORD, task_publish

logger = logging.getLogger(__name__)
SYSTEM = "system:documents"
# The auditor reads and downloads; issuing a revision creates a record, which an inspection never does.
REQUEST_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON)
DOWNLOAD_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.AUDITOR)
S = BatchStatus
# The batch states in which each kind of record may be issued (None: any state).
KIND_STATES: dict[DocumentKind, frozenset[BatchStatus] | None] = {
    DocumentKind.RELEASE_RECORD: frozenset(
        {S.RELEASED, S.CONDITIONALLY_RELEASED, S.REJECTED, S.DISPATCHED, S.INFUSED, S.CLOSED}
    ),
    DocumentKind.FINAL_RECORD: frozenset({S.CLOSED}),
    DocumentKind.ON_REQUEST: None,
}


def _build_window() -> timedelta:
    return timedelta(seconds=settings.CELLBATCH_DOCUMENT_BUILD_SECONDS)


@transaction.atomic
def document_request(
    *, batch: Batch | int, kind: DocumentKind | str, actor: User | str, reason: str = "", language: str = ""
) -> BatchDocument:
    """Queue a new revision of a batch record; it is published to the workers after commit.

    The record is written in ``language`` (a code of ``settings.LANGUAGES``), by default the
    requester's own (batches.accounts.language); the snapshot stores it, so every rendering of the
    revision is in the language chosen at issue.

    Services that release or close a batch call this inside their own transaction, after the
    transition, so the record shows the new state and the job exists exactly when the change does.
    """
    kind = DocumentKind(kind)
    if kind == DocumentKind.ON_REQUEST:
        if isinstance(actor, str):
            raise ValidationError({"actor": _("A record on request is asked for by a person, not by the system.")})
        require_role(actor, *REQUEST_ROLES, action="Requesting a batch record", domain=Domain.RECORDS)
    locked = lock_batch(batch.pk if isinstance(batch, Batch) else batch)
    allowed = KIND_STATES[kind]
    if allowed is not None and locked.status not in allowed:
        raise StateConflict(
            f"A {kind.label.lower()} is issued only when batch {locked.batch_number} is "
            f"{', '.join(sorted(BatchStatus(s).label.lower() for s in allowed))}; "
            f"it is {BatchStatus(locked.status).label.lower()}."
        )
    last = BatchDocument.objects.filter(batch=locked, kind=kind).aggregate(n=Max("revision"))["n"] or 0
    if language and language not in LANGUAGE_CODES:
        raise ValidationError({"language": f"{language!r} is not one of {', '.join(sorted(LANGUAGE_CODES))}."})
    language = language or (settings.LANGUAGE_CODE if isinstance(actor, str) else language_for(actor))
    snapshot = take_snapshot(locked, kind=kind, revision=last + 1, language=language).to_dict()
    with audit_context(actor, reason=reason or f"request {kind.label.lower()}"):
        document = BatchDocument.objects.create(
            batch=locked,
            kind=kind,
            revision=last + 1,
            requested_by=actor if isinstance(actor, str) else actor.get_username(),
            request_reason=reason,
            snapshot=snapshot,
            snapshot_sha256=digest(snapshot),
            deadline=timezone.now() + _build_window(),
        )
    transaction.on_commit(partial(document_publish, document_id=document.pk))
    return document


def document_publish(*, document_id: int) -> bool:
    """Hand the job to Celery; if the broker is unreachable, leave it for the re-publisher (due now)."""
    try:
        task_publish(BUILD_BATCH_RECORD, document_id, retry=False)
    except Exception as exc:  # kombu/redis raise many connection error types; the row keeps the job safe
        logger.warning("batch record %s not published (%s); the re-publisher will retry", document_id, exc)
        with audit_context(SYSTEM, reason="broker unreachable: publish again at the next re-publish pass"):
            BatchDocument.objects.filter(pk=document_id, status__in=UNFINISHED).update(deadline=timezone.now())
        return False
    return True


def documents_republish_due() -> list[int]:
    """Publish again every job still queued or building past its deadline (or give up after too many tries)."""
    now = timezone.now()
    due: list[int] = []
    with transaction.atomic(), audit_context(SYSTEM, reason="unfinished past its deadline: publish again"):
        stale = BatchDocument.objects.select_for_update(skip_locked=True).filter(
            status__in=UNFINISHED, deadline__lte=now
        )
        for document in stale.only("pk", "attempts"):
            if document.attempts >= settings.CELLBATCH_DOCUMENT_MAX_ATTEMPTS:
                BatchDocument.objects.filter(pk=document.pk).update(
                    status=DocumentStatus.FAILED,
                    failure_reason=f"not finished after {document.attempts} attempts; request a new revision",
                )
                continue
            # A job still "building" past its deadline lost its worker: queue it again so the next
            # delivery may claim it (a slow original attempt then finds itself superseded).
            BatchDocument.objects.filter(pk=document.pk).update(
                status=DocumentStatus.QUEUED, deadline=now + _build_window()
            )
            due.append(document.pk)
    for document_id in due:
        document_publish(document_id=document_id)
    return due


def _claim(document_id: int) -> tuple[BatchDocument | None, str]:
    """Compare-and-set the job to building; only one delivery wins, a stale building job may be retaken."""
    now = timezone.now()
    with transaction.atomic():
        document = BatchDocument.objects.select_for_update().select_related("batch").filter(pk=document_id).first()
        if document is None:
            return None, "missing"
        if document.status in (DocumentStatus.SIGNED, DocumentStatus.FAILED):
            return None, str(document.status)
        if document.status == DocumentStatus.BUILDING and document.deadline > now:
            return None, "busy"
        with audit_context(SYSTEM, reason=f"build attempt {document.attempts + 1}"):
            BatchDocument.objects.filter(pk=document.pk).update(
                status=DocumentStatus.BUILDING,
                attempts=document.attempts + 1,
                started_at=now,
                deadline=now + _build_window(),
            )
        document.attempts += 1
        return document, "building"


def sealed_snapshot(snapshot: Snapshot) -> Snapshot:
    """The snapshot with the checkpoint the ledger signs once it has sealed every committed event, so
    the checkpoint printed on the record covers every event of its batch up to this build."""
    ledger_seal()
    return replace(snapshot, checkpoint=current_checkpoint())


def build_pdf(snapshot: Snapshot) -> tuple[bytes, int]:
    """Render and seal a snapshot: the whole CPU-bound part of a build."""
    # ReportLab and pyHanko take about half a second of CPU to import: a process that never builds a
    # record (web server, beat, a management command) never loads them. A worker loads them before it
    # forks its children (config.celery), so a child renewed after its quota of tasks has them already.
    from batches.pdf import signing
    from batches.pdf.render import KIND_TITLES, render

    pdf, pages = render(snapshot)
    with translation.override(snapshot.language):
        title = f"{KIND_TITLES.get(snapshot.document_kind, 'Batch record')} {snapshot.cover.batch_number}"
        title = _("%(title)s revision %(revision)s") % {"title": title, "revision": snapshot.revision}
    return signing.seal_pdf(pdf, title=title), pages


def document_build(*, document_id: int) -> str:
    """Build, seal and store one job; returns the job's resulting status (idempotent)."""
    document, outcome = _claim(document_id)
    if document is None:
        return outcome
    pause = settings.CELLBATCH_DOCUMENT_BUILD_PAUSE_SECONDS
    if pause:  # fault-injection for validation tests: keeps the job observably "building"
        import time

        time.sleep(pause)
    try:
        signed, pages = build_pdf(sealed_snapshot(Snapshot.from_dict(document.snapshot)))
    except (OSError, ConnectionError):
        raise  # transient (timestamp authority, file system): the task retries with backoff
    except Exception as exc:  # a record that cannot be drawn or sealed will not succeed by retrying
        logger.exception("batch record %s failed", document_id)
        with audit_context(SYSTEM, reason="build failed"):
            BatchDocument.objects.filter(pk=document_id, attempts=document.attempts).update(
                status=DocumentStatus.FAILED, failure_reason=f"{type(exc).__name__}: {exc}"[:2000]
            )
        return str(DocumentStatus.FAILED)
    path = default_storage.save(f"batch-records/{document.batch.batch_number}/{document.filename}", ContentFile(signed))
    with transaction.atomic(), audit_context(SYSTEM, reason="record built and sealed"):
        finished = BatchDocument.objects.filter(
            pk=document_id, status=DocumentStatus.BUILDING, attempts=document.attempts
        ).update(
            status=DocumentStatus.SIGNED,
            signed_at=timezone.now(),
            storage_path=path,
            sha256=hashlib.sha256(signed).hexdigest(),
            size_bytes=len(signed),
            page_count=pages,
            certificate_fingerprint=pki.certificate_fingerprint(pki.organisation_certificate()),
            failure_reason="",
        )
    if not finished:  # another attempt took the job over after our deadline: its file is the record
        default_storage.delete(path)
        return "superseded-attempt"
    return str(DocumentStatus.SIGNED)


def documents_build_now(*, batch_id: int) -> list[BatchDocument]:
    """Build, in this process, every unfinished record of a batch, through the task's own claim/build/seal path.

    For management commands (the demo seed) that need the signed file before they return. Call it
    after the releasing or closing transaction has committed. A job a worker is building already is
    left to it (returned still "building"); the worker's own later delivery of a job built here finds
    it signed and does nothing.
    """
    pending = list(
        BatchDocument.objects.filter(batch_id=batch_id, status__in=UNFINISHED)
        .order_by("kind", "revision")
        .values_list("pk", flat=True)
    )
    for document_id in pending:
        document_build(document_id=document_id)
    return list(BatchDocument.objects.filter(pk__in=pending).order_by("kind", "revision"))


@transaction.atomic
def document_download(*, document_id: int, actor: User, channel: str) -> tuple[BatchDocument, File]:
    """Open a signed record for a QA reviewer, QP or auditor, and record the download."""
    require_role(actor, *DOWNLOAD_ROLES, action="Downloading a signed batch record", domain=Domain.RECORDS)
    document = BatchDocument.objects.select_related("batch").get(pk=document_id)
    if document.status != DocumentStatus.SIGNED:
        raise StateConflict(f"{document} is {document.get_status_display().lower()}, not signed; nothing to download.")
    with audit_context(actor, reason=f"download of {document} ({channel})"):
        DocumentDownload.objects.create(document=document, user=actor, channel=channel)
    return document, default_storage.open(document.storage_path, "rb")


@dataclass
class VerificationReport:
    sha256: str
    intact: bool
    trusted: bool
    issued: bool
    batch_number: str = ""
    kind: str = ""
    revision: int | None = None
    superseded_by: int | None = None
    signer: str = ""
    timestamped_at: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.intact and self.trusted and self.issued


def document_verify(*, data: bytes) -> VerificationReport:
    """Is ``data`` intact, sealed by a trusted certificate, and byte-identical to an issued record?"""
    from batches.pdf import verify  # pyHanko's validation: imported by the processes that verify (see build_pdf)

    digest = hashlib.sha256(data).hexdigest()
    seal = verify.check_seal(data)
    report = VerificationReport(
        sha256=digest,
        intact=seal.intact,
        trusted=seal.trusted,
        issued=False,
        signer=seal.signer,
        timestamped_at=seal.timestamped_at,
        problems=seal.problems,
    )
    document = BatchDocument.objects.select_related("batch").filter(sha256=digest, status=DocumentStatus.SIGNED).first()
    if document is None:
        report.problems.append(_("no record issued by this system has this SHA-256"))
        return report
    report.issued = True
    report.batch_number = document.batch.batch_number
    report.kind = document.kind
    report.revision = document.revision
    newer = (
        BatchDocument.objects.filter(
            batch=document.batch, kind=document.kind, revision__gt=document.revision, status=DocumentStatus.SIGNED
        )
        .order_by("-revision")
        .values_list("revision", flat=True)
        .first()
    )
    report.superseded_by = newer
    return report
