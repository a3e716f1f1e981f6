"""Follow-up after infusion: what links the batch to the patient's outcome (docs/domain.md §Follow-up)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete


class Menses(models.TextChoices):
    ABSENT = "absent", "Absent (amenorrhoea)"
    HYPOMENORRHOEA = "hypomenorrhoea", "Scant (hypomenorrhoea)"
    NORMAL = "normal", "Normal"
    NOT_ASSESSED = "not_assessed", "Not assessed"


@gmp_model
class FollowUpVisit(ChecksInOneQuery):
    """One follow-up assessment: menses, endometrial thickness (ultrasound), adhesion score (hysteroscopy)."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="follow_up_visits")
    visit_date = models.DateField()
    menses = models.CharField(max_length=16, choices=Menses.choices)
    endometrial_thickness_mm = models.DecimalField(
        "endometrial thickness (mm)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(40)],
    )
    adhesion_score = models.PositiveSmallIntegerField(
        "adhesion score (AFS, 0–12)", null=True, blank=True, validators=[MaxValueValidator(12)]
    )
    notes = BoundedTextField(max_length=limits.NOTES, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "visit_date", "pk"]
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(adhesion_score__isnull=True) | models.Q(adhesion_score__lte=12),
                name="follow_up_adhesion_score_0_to_12",
            ),
            models.CheckConstraint(
                condition=models.Q(endometrial_thickness_mm__isnull=True)
                | models.Q(endometrial_thickness_mm__gte=0, endometrial_thickness_mm__lte=40),
                name="follow_up_thickness_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} follow-up {self.visit_date}"


@gmp_model
class EmbryoTransfer(ChecksInOneQuery):
    """An embryo transfer after treatment; outcomes are filled in as they become known (None = not yet)."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="embryo_transfers")
    transfer_date = models.DateField()
    embryos_transferred = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    implantation = models.BooleanField(null=True, blank=True)
    clinical_pregnancy = models.BooleanField(null=True, blank=True)
    live_birth = models.BooleanField(null=True, blank=True)
    notes = BoundedTextField(max_length=limits.NOTES, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "transfer_date", "pk"]
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(condition=models.Q(embryos_transferred__gte=1), name="embryo_transfer_count"),
            # An outcome can only be positive if the stage before it was.
            models.CheckConstraint(
                condition=~models.Q(clinical_pregnancy=True) | models.Q(implantation__isnull=False, implantation=True),
                name="embryo_transfer_pregnancy_needs_implantation",
            ),
            models.CheckConstraint(
                condition=~models.Q(live_birth=True)
                | models.Q(clinical_pregnancy__isnull=False, clinical_pregnancy=True),
                name="embryo_transfer_birth_needs_pregnancy",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} embryo transfer {self.transfer_date}"
