"""The batch: one patient's product, made under one process-definition version."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.indexes import prefix_search
from batches.models.master import ProcessDefinition
from batches.models.patient import Patient
from batches.models.triggers import batch_starts_registered, batch_status_guard, no_delete
from batches.states import STEP_STATE, BatchStatus


@gmp_model
class Batch(models.Model):
    batch_number = models.CharField(max_length=20, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="batches")
    process_definition = models.ForeignKey(ProcessDefinition, on_delete=models.PROTECT, related_name="batches")
    body_weight_kg = models.DecimalField(
        "body weight at registration (kg)", max_digits=5, decimal_places=1, editable=False
    )
    status = models.CharField(
        max_length=24, choices=BatchStatus.choices, default=BatchStatus.REGISTERED, editable=False
    )
    status_changed_at = models.DateTimeField(auto_now_add=True)
    din = models.CharField("ISBT 128 DIN", max_length=13, unique=True, null=True, blank=True, editable=False)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(auto_now_add=True)
    end_of_processing_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancel_reason = BoundedTextField(max_length=limits.REASON, blank=True, editable=False)
    # Set only by seed_demo: the batch page and every page of its record then say "not for clinical
    # use", and production refuses to start while such a batch exists (batches.checks).
    is_demo = models.BooleanField("demonstration batch", default=False, editable=False)

    class Meta:
        ordering = ["-registered_at"]
        verbose_name_plural = "batches"
        triggers = [no_delete(), batch_status_guard(), batch_starts_registered()]
        # The lists' default order and filters, and prefix search on the batch number
        # (UPPER(batch_number::text) LIKE 'X%' is what istartswith sends), each served by an index
        # instead of a sequential scan and a sort of every batch.
        indexes = [
            models.Index(fields=["-registered_at", "-id"], name="batch_registered_idx"),
            models.Index(fields=["status", "-registered_at"], name="batch_status_idx"),
            models.Index(fields=["process_definition", "-registered_at"], name="batch_definition_idx"),
            models.Index(prefix_search("batch_number"), name="batch_number_prefix_idx"),
        ]

    def __str__(self) -> str:
        return self.batch_number

    @property
    def was_infused(self) -> bool:
        """The infusion is recorded (a batch closed after rejection never was)."""
        return getattr(self, "infusion", None) is not None

    @property
    def current_step(self) -> str | None:
        """The manufacturing step that may be recorded now, if any."""
        for step, state in STEP_STATE.items():
            if self.status == state:
                return step
        return None


@gmp_model
class BatchTransition(models.Model):
    """One row per status change: who moved the batch, when, and why."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="transitions")
    from_status = models.CharField(max_length=24, choices=BatchStatus.choices)
    to_status = models.CharField(max_length=24, choices=BatchStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    reason = BoundedTextField(max_length=limits.REASON, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.batch} {self.from_status} → {self.to_status}"
