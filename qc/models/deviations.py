"""Deviations: planned, unplanned or OOS; investigated, then closed by QA with a signature."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete


class DeviationKind(models.TextChoices):
    PLANNED = "planned", "Planned"
    UNPLANNED = "unplanned", "Unplanned"
    OOS = "oos", "Out of specification"
    IDENTITY = "identity", "Chain of identity (a scan did not match)"
    EXCURSION = "excursion", "Temperature excursion in transport"


class Classification(models.TextChoices):
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


class DeviationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed (approved by QA)"


BLOCKING_CLASSIFICATIONS = (Classification.MAJOR, Classification.CRITICAL)


@gmp_model
class Deviation(ChecksInOneQuery):
    number = models.CharField(max_length=20, unique=True, editable=False)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="deviations")
    kind = models.CharField(max_length=10, choices=DeviationKind.choices)
    classification = models.CharField(max_length=8, choices=Classification.choices)
    description = BoundedTextField(max_length=limits.DESCRIPTION)
    source_result = models.ForeignKey(
        "qc.QcResult", on_delete=models.PROTECT, null=True, blank=True, related_name="deviations", editable=False
    )
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(auto_now_add=True)
    raised_after_release = models.BooleanField(
        default=False, editable=False, help_text="A late result on a released batch: the batch is flagged."
    )
    investigation = BoundedTextField(max_length=limits.NARRATIVE, blank=True)
    root_cause = BoundedTextField(max_length=limits.NARRATIVE, blank=True)
    impact = BoundedTextField("impact assessment", max_length=limits.NARRATIVE, blank=True)
    capa = BoundedTextField("CAPA (corrective and preventive action)", max_length=limits.NARRATIVE, blank=True)
    # Added after deviations were signed: signed once set (batches.signature_checks.SIGNED_WHEN_SET).
    disposal = BoundedTextField(
        "disposal of the product",
        max_length=limits.NARRATIVE,
        null=True,
        blank=True,
        help_text="For a rejected batch: how the product was destroyed or returned, when, by whom.",
    )
    status = models.CharField(max_length=8, choices=DeviationStatus.choices, default=DeviationStatus.OPEN)
    closure_summary = BoundedTextField(max_length=limits.NARRATIVE, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        triggers = [
            no_delete(),
            pgtrigger.Protect(
                name="closed_deviation_read_only",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition("OLD.status = 'closed'"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", closed_by__isnull=True, closed_at__isnull=True)
                | models.Q(status="closed", closed_by__isnull=False, closed_at__isnull=False),
                name="deviation_closure_complete",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="oos") | models.Q(source_result__isnull=False),
                name="deviation_oos_names_its_result",
            ),
        ]
        indexes = [models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return f"{self.number} ({self.get_classification_display()}, {self.get_status_display().lower()})"

    @property
    def is_open(self) -> bool:
        return self.status == DeviationStatus.OPEN

    @property
    def blocks_release(self) -> bool:
        return self.is_open and self.classification in BLOCKING_CLASSIFICATIONS


@gmp_model
class DeviationReclassification(models.Model):
    """A change of a deviation's classification: QA's signed decision with its reason (release-critical)."""

    deviation = models.ForeignKey(Deviation, on_delete=models.PROTECT, related_name="reclassifications")
    from_classification = models.CharField(max_length=8, choices=Classification.choices)
    to_classification = models.CharField(max_length=8, choices=Classification.choices)
    reason = BoundedTextField(max_length=limits.REASON)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "pk"]
        triggers = [no_delete(), pgtrigger.Protect(name="reclassification_read_only", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        return (
            f"Deviation {self.deviation.number} reclassified from {self.get_from_classification_display().lower()} "
            f"to {self.get_to_classification_display().lower()}"
        )
