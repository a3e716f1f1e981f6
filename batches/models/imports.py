"""Patient import from a legacy register: a staging area, its dry run, and QA's sign-off.

A CSV file is parsed into staging rows (one per line, with its outcome); nothing becomes a patient
until QA signs the reconciliation off. Both tables are GMP records (audited, no delete).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.patient import Patient
from batches.models.triggers import no_delete


class ImportStatus(models.TextChoices):
    STAGED = "staged", "Staged: dry run done, awaiting QA sign-off"
    SIGNED_OFF = "signed_off", "Signed off by QA: patients created"
    CANCELLED = "cancelled", "Cancelled"


class RowOutcome(models.TextChoices):
    NEW = "new", "New patient"
    MATCHED = "matched", "Already registered, identical"
    CONFLICT = "conflict", "Already registered with different values"
    REJECTED = "rejected", "Rejected"


@gmp_model
class PatientImport(models.Model):
    source_name = models.CharField(max_length=limits.NAME, help_text="The file's name as uploaded.")
    source_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the uploaded bytes.")
    register = models.CharField(max_length=limits.NAME, help_text="The legacy register the file was exported from.")
    reason = BoundedTextField(max_length=limits.REASON)
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.STAGED)
    staged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    staged_at = models.DateTimeField(auto_now_add=True)
    lines = models.PositiveIntegerField(help_text="Data lines in the file (the header excluded).")
    new = models.PositiveIntegerField()
    matched = models.PositiveIntegerField()
    conflicts = models.PositiveIntegerField()
    rejected = models.PositiveIntegerField()
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.source_name} ({self.get_status_display().lower()})"

    @property
    def reconciled(self) -> bool:
        """Every line of the file is accounted for, once."""
        return self.lines == self.new + self.matched + self.conflicts + self.rejected


@gmp_model
class PatientImportRow(models.Model):
    patient_import = models.ForeignKey(PatientImport, on_delete=models.PROTECT, related_name="rows")
    line = models.PositiveIntegerField(help_text="Line number in the file (the header is line 1).")
    raw = models.JSONField(help_text="The line's cells as read, by column name.")
    subject_code = models.CharField(max_length=limits.SHORT_COMMENT, blank=True)
    outcome = models.CharField(max_length=8, choices=RowOutcome.choices)
    message = BoundedTextField(max_length=limits.REASON, blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["patient_import", "line"]
        triggers = [no_delete()]
        constraints = [models.UniqueConstraint(fields=["patient_import", "line"], name="import_row_line_once")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.subject_code or '?'} ({self.outcome})"
