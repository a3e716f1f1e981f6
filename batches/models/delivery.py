"""Delivery at the bedside: two-person identity check, the infusion, adverse events."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.custody import ExpiredUseAuthorization
from batches.models.triggers import no_delete


@gmp_model
class BedsideCheck(ChecksInOneQuery):
    """Identity at the bedside: one clinician scans bag and patient, a second one scans and confirms."""

    batch = models.OneToOneField(Batch, on_delete=models.PROTECT, related_name="bedside_check")
    patient_subject_code = models.CharField(max_length=20, help_text="Read from the patient's wristband.")
    scanned_data = models.CharField(max_length=80)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(auto_now_add=True)
    confirmation_scanned_data = models.CharField(max_length=80, blank=True)
    confirmation_patient_subject_code = models.CharField(
        max_length=20, blank=True, help_text="The wristband as the second clinician scanned it."
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    # What each signature binds (batches.signature_checks.declared_fields): the first clinician's signature
    # binds the first scan; the second clinician's confirmation, filled in later, binds both.
    FIRST_SCAN = ("batch", "patient_subject_code", "scanned_data", "checked_by", "checked_at")
    CONFIRMATION = ("confirmation_scanned_data", "confirmation_patient_subject_code", "confirmed_by", "confirmed_at")
    SIGNED_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "performed": FIRST_SCAN,
        "verified": FIRST_SCAN + CONFIRMATION,
    }

    class Meta:
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(confirmed_by=models.F("checked_by")), name="bedside_check_two_people"
            ),
            models.CheckConstraint(
                condition=models.Q(confirmed_by__isnull=True, confirmed_at__isnull=True)
                | models.Q(confirmed_by__isnull=False, confirmed_at__isnull=False),
                name="bedside_confirmation_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} bedside check"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_by_id is not None


@gmp_model
class Infusion(ChecksInOneQuery):
    """Infusion through uterine-artery catheterization, cells and volume per side."""

    batch = models.OneToOneField(Batch, on_delete=models.PROTECT, related_name="infusion")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    left_cells = models.BigIntegerField("left uterine artery: CD133+ cells", validators=[MinValueValidator(0)])
    left_volume_ml = models.DecimalField(
        "left uterine artery: volume (mL)", max_digits=6, decimal_places=1, validators=[MinValueValidator(0)]
    )
    right_cells = models.BigIntegerField("right uterine artery: CD133+ cells", validators=[MinValueValidator(0)])
    right_volume_ml = models.DecimalField(
        "right uterine artery: volume (mL)", max_digits=6, decimal_places=1, validators=[MinValueValidator(0)]
    )
    minutes_from_end_of_processing = models.PositiveIntegerField(editable=False)
    expired_use_authorization = models.ForeignKey(
        ExpiredUseAuthorization, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notes = BoundedTextField(max_length=limits.NOTES, blank=True)
    late_entry_reason = BoundedTextField(max_length=limits.REASON, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__gt=models.F("started_at")), name="infusion_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(left_cells__gte=0, right_cells__gte=0, left_volume_ml__gte=0, right_volume_ml__gte=0)
                & (models.Q(left_cells__gt=0) | models.Q(right_cells__gt=0)),
                name="infusion_quantities_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} infusion"

    @property
    def total_cells(self) -> int:
        return self.left_cells + self.right_cells


class AdverseEventPhase(models.TextChoices):
    INFUSION = "infusion", "During or right after infusion"
    FOLLOW_UP = "follow_up", "During follow-up"


class Relatedness(models.TextChoices):
    UNRELATED = "unrelated", "Unrelated"
    UNLIKELY = "unlikely", "Unlikely"
    POSSIBLE = "possible", "Possible"
    PROBABLE = "probable", "Probable"
    DEFINITE = "definite", "Definite"


@gmp_model
class AdverseEvent(ChecksInOneQuery):
    """An adverse event with its CTCAE grade (1–5) and relatedness to the cells or the procedure."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="adverse_events")
    phase = models.CharField(max_length=12, choices=AdverseEventPhase.choices)
    term = models.CharField("CTCAE term", max_length=120)
    ctcae_grade = models.PositiveSmallIntegerField(
        "CTCAE grade", validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    relatedness = models.CharField(max_length=12, choices=Relatedness.choices)
    serious = models.BooleanField(default=False)
    onset_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    notes = BoundedTextField(max_length=limits.NOTES, blank=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["onset_at", "pk"]
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ctcae_grade__gte=1, ctcae_grade__lte=5), name="adverse_event_ctcae_grade_1_to_5"
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True) | models.Q(resolved_at__gte=models.F("onset_at")),
                name="adverse_event_resolved_after_onset",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.term} (grade {self.ctcae_grade})"
