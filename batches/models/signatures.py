"""Electronic signatures (21 CFR 11.50, 11.70): who signed what, when, meaning what.

A signature stores the SHA-256 of the canonical content it signs; verification recomputes it,
so a signature copied onto other content, or content changed after signing, fails visibly.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from batches import formatting, limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete


class SignatureMeaning(models.TextChoices):
    PERFORMED = "performed", "Performed"
    VERIFIED = "verified", "Verified"
    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"
    RELEASED = "released", "Release decided (QA)"
    CONDITIONALLY_RELEASED = "conditionally_released", "Conditional release decided (QA)"
    REJECTED = "rejected", "Rejected"
    CERTIFIED = "certified", "Certified (QP)"
    # Transcribed from a source: the signer wrote the entry down; someone else (named) did the work.
    RECORDED = "recorded", "Recorded (transcribed from a source)"
    TRAINED = "trained", "Trained (trainee: read, understood, assessed)"
    TRAINER = "trainer", "Trainer (gave and assessed the training)"
    AUTHORISED = "authorised", "Authorised (medical director)"
    ACKNOWLEDGED = "acknowledged", "Acknowledged (treating physician)"


class SignatureStatus(models.TextChoices):
    VALID = "valid", "Valid"
    INVALIDATED = "invalidated", "Invalidated (content changed after signing)"


@gmp_model
class SignatureManifest(models.Model):
    """One act that signs several records with one password entry (21 CFR 11.200(a)(1)).

    ``entries`` lists every record signed in the act with the SHA-256 of its signed content; the manifest
    itself carries a signature of the same meaning (so the list is signed too), and each record's own
    signature names the manifest it was made in.
    """

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="signature_manifests")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    meaning = models.CharField(max_length=24, choices=SignatureMeaning.choices)
    statement = models.CharField(max_length=limits.NAME, help_text="What the signer declared, in words.")
    entries = models.JSONField(help_text="The records signed: [{record, pk, title, sha256}], in signing order.")
    signed_at = models.DateTimeField(help_text="Server time (UTC).")

    class Meta:
        ordering = ["signed_at", "pk"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.statement} ({len(self.entries)} records)"


class SignatureQuerySet(models.QuerySet["ElectronicSignature"]):
    def on(self, record: models.Model) -> SignatureQuerySet:
        """The signatures on ``record``: its content type and primary key (an id alone may name another
        kind of record's signatures too)."""
        return self.filter(content_type=ContentType.objects.get_for_model(record), object_id=record.pk)


@gmp_model
class ElectronicSignature(ChecksInOneQuery):
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="signatures", null=True, blank=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    objects = SignatureQuerySet.as_manager()
    target = GenericForeignKey("content_type", "object_id")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures")
    printed_name = models.CharField(max_length=300)
    signer_role = models.CharField(
        max_length=120, blank=True, help_text="The signer's role that grants the meaning, in plain words, at signing."
    )
    meaning = models.CharField(max_length=24, choices=SignatureMeaning.choices)
    signed_at = models.DateTimeField(help_text="Server time (UTC).")
    content_sha256 = models.CharField(max_length=64)
    content = models.TextField(help_text="The canonical content that was signed (JSON).")
    status = models.CharField(max_length=12, choices=SignatureStatus.choices, default=SignatureStatus.VALID)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalidated_reason = BoundedTextField(max_length=limits.REASON, blank=True)
    # Set when the record was signed together with others in one act (one password entry).
    manifest = models.ForeignKey(
        SignatureManifest, on_delete=models.PROTECT, related_name="signatures", null=True, blank=True
    )

    class Meta:
        ordering = ["signed_at", "pk"]
        triggers = [no_delete()]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="valid", invalidated_at__isnull=True)
                | models.Q(status="invalidated", invalidated_at__isnull=False),
                name="signature_invalidation_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.printed_name} · {self.get_meaning_display()} · {formatting.moment(self.signed_at)}"
