"""Controlled documents (SOPs and forms), the procedure behind each activity of a process definition, and
training records (21 CFR 211.25, EU GMP chapter 2, ATMP GMP guideline §3, 21 CFR 11.10(i)).

What counts as current training, and the gate that refuses untrained work, live in
batches.services.training; these are the records only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.checks import ChecksInOneQuery
from batches.models.master import ApprovalStatus, ProcessDefinition
from batches.models.triggers import no_delete


class DocumentKind(models.TextChoices):
    SOP = "sop", "Standard operating procedure"
    FORM = "form", "Form"


class ProcedureActivity(models.TextChoices):
    """The work a person signs for, each following the procedure its process definition names."""

    GCSF = "gcsf", "G-CSF administration"
    APHERESIS = "apheresis", "Apheresis collection"
    SELECTION = "selection", "CD133+ selection"
    QC_TESTING = "qc_testing", "QC sampling and testing"
    QC_REVIEW = "qc_review", "QC result review"
    DISPOSITION = "disposition", "Batch review, release or rejection"
    CERTIFICATION = "certification", "QP certification"
    DELIVERY = "delivery", "Dispatch to interventional radiology"
    BEDSIDE_CHECK = "bedside_check", "Bedside identity check"
    INFUSION = "infusion", "Infusion"


class TrainingMethod(models.TextChoices):
    READ = "read", "Read and understood"
    DEMONSTRATION = "demonstration", "Demonstration"
    SUPERVISED = "supervised", "Supervised practice"


@gmp_model
class ControlledDocument(models.Model):
    """One SOP or form of the document register; its content lives in its versions."""

    number = models.CharField(max_length=30, unique=True, help_text="Document number, e.g. SOP-MFG-002.")
    title = models.CharField(max_length=limits.NAME)
    kind = models.CharField(max_length=4, choices=DocumentKind.choices, default=DocumentKind.SOP)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


@gmp_model
class DocumentVersion(ChecksInOneQuery):
    """One version of a controlled document: its file (with SHA-256), effective date and two approvals."""

    document = models.ForeignKey(ControlledDocument, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    change_summary = BoundedTextField(max_length=limits.DESCRIPTION, blank=True)
    file_name = models.CharField(max_length=limits.NAME)
    storage_path = models.CharField(max_length=300)
    sha256 = models.CharField("SHA-256 of the file", max_length=64)
    size_bytes = models.PositiveIntegerField()
    effective_from = models.DateField(help_text="The day the version comes into force (it may be in the future).")
    grace_days = models.PositiveSmallIntegerField(
        default=0, help_text="Days from the effective date during which training on the earlier version still counts."
    )
    retraining_interval_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Training expires this many days after it was given (empty: no expiry)."
    )
    supervised_practices_required = models.PositiveSmallIntegerField(
        default=0, help_text="Signed supervised practices needed before a person performs the work alone."
    )
    superseded_on = models.DateField(null=True, blank=True, help_text="The effective date of the next version.")
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    second_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    second_approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["document__number", "-version"]
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="document_version_unique"),
            models.CheckConstraint(
                condition=~models.Q(first_approved_by=models.F("second_approved_by")),
                name="document_version_two_different_approvers",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved")
                | (models.Q(first_approved_by__isnull=False) & models.Q(second_approved_by__isnull=False)),
                name="document_version_approved_needs_two_approvals",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document.number} v{self.version}"


@gmp_model
class StepProcedure(models.Model):
    """The procedure (a document version) a process definition names for one activity."""

    definition = models.ForeignKey(ProcessDefinition, on_delete=models.PROTECT, related_name="procedures")
    activity = models.CharField(max_length=20, choices=ProcedureActivity.choices)
    document_version = models.ForeignKey(DocumentVersion, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["definition", "activity"]
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(fields=["definition", "activity"], name="step_procedure_one_per_activity"),
        ]

    def __str__(self) -> str:
        return f"{self.definition}: {self.get_activity_display()} follows {self.document_version}"


@gmp_model
class TrainingRecord(ChecksInOneQuery):
    """One training of one person on one document version, signed by the trainer and then the trainee."""

    # Users are never deleted (a database trigger refuses it, with its own message); the keys still hold.
    trainee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="training_records")
    document_version = models.ForeignKey(DocumentVersion, on_delete=models.PROTECT, related_name="training_records")
    trainer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+")
    trained_on = models.DateField()
    method = models.CharField(max_length=14, choices=TrainingMethod.choices)
    assessment = BoundedTextField(max_length=limits.NOTES, help_text="How understanding or competence was assessed.")
    passed = models.BooleanField(help_text="The assessment found the trainee competent.")
    valid_until = models.DateField(null=True, blank=True, help_text="Retraining due (empty: no expiry).")
    trainer_signed_at = models.DateTimeField()
    trainee_signed_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trainee", "document_version", "trained_on", "pk"]
        triggers = [no_delete()]
        indexes = [models.Index(fields=["trainee", "trainee_signed_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(trainer=models.F("trainee")), name="training_trainer_not_trainee"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_version} · {self.get_method_display()} · {self.trained_on}"

    @property
    def is_signed(self) -> bool:
        return self.trainee_signed_at is not None
