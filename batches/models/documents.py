"""Issued batch-record documents (the job and its result) and the audited downloads of them.

A document row is the durable record of a build job (the outbox): written in the requesting
transaction, published to Celery after commit, re-published while it stays unfinished past its
deadline. A signed document is never changed or deleted; a later revision supersedes it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from batches import formatting, limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete


class DocumentKind(models.TextChoices):
    RELEASE_RECORD = "release_record", "Batch release record"
    FINAL_RECORD = "final_record", "Final executed batch record"
    ON_REQUEST = "on_request", "Batch record on request"


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    SIGNED = "signed", "Signed"
    FAILED = "failed", "Failed"


UNFINISHED = (DocumentStatus.QUEUED, DocumentStatus.BUILDING)


@gmp_model
class BatchDocument(ChecksInOneQuery):
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    revision = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED)
    failure_reason = BoundedTextField(max_length=limits.REASON, blank=True)
    requested_by = models.CharField(max_length=150, help_text="Username, or system:<name> for an automatic request.")
    requested_at = models.DateTimeField(auto_now_add=True)
    request_reason = BoundedTextField(max_length=limits.REASON, blank=True)
    snapshot = models.JSONField(help_text="The frozen content the PDF is drawn from.")
    snapshot_sha256 = models.CharField(max_length=64)
    deadline = models.DateTimeField(help_text="Re-published when still unfinished after this time.")
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    storage_path = models.CharField(max_length=300, blank=True)
    sha256 = models.CharField("SHA-256 of the signed PDF", max_length=64, blank=True, db_index=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    certificate_fingerprint = models.CharField("seal certificate SHA-256", max_length=64, blank=True)

    class Meta:
        ordering = ["batch", "kind", "-revision"]
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(fields=["batch", "kind", "revision"], name="document_one_revision_per_kind"),
            models.CheckConstraint(
                condition=~models.Q(status="signed")
                | (
                    ~models.Q(sha256="")
                    & ~models.Q(storage_path="")
                    & models.Q(signed_at__isnull=False, size_bytes__isnull=False)
                ),
                name="document_signed_is_complete",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="failed") | ~models.Q(failure_reason=""), name="document_failure_has_reason"
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return f"{self.batch} {self.get_kind_display()} rev {self.revision}"

    @property
    def filename(self) -> str:
        return f"{self.batch.batch_number}-{self.kind}-rev{self.revision}.pdf"


@gmp_model
class DocumentDownload(models.Model):
    """Who took a copy of a signed record, and when (downloads by QA, QP and auditors are GMP events)."""

    document = models.ForeignKey(BatchDocument, on_delete=models.PROTECT, related_name="downloads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    channel = models.CharField(max_length=10, help_text="admin or api")

    class Meta:
        ordering = ["-at"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.document} downloaded by {self.user} at {formatting.moment(self.at)}"
