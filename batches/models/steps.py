"""Manufacturing steps of the batch record: G-CSF mobilization, apheresis, CD133+ selection.

Each step is performed by one person and verified by another; verified data are read-only
(enforced by the services and by a database trigger).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete, verified_step_read_only

NON_NEGATIVE = [MinValueValidator(0)]


class StepRecord(ChecksInOneQuery):
    """Who performed a step, who last corrected it, who verified it, and when (server time)."""

    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    performed_at = models.DateTimeField(auto_now_add=True, help_text="Server time of the entry.")
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True, editable=False
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A correction keeps performed_by (who first recorded the step) and names who changed it last.
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True, editable=False
    )
    corrected_at = models.DateTimeField(null=True, blank=True, editable=False)
    late_entry_reason = BoundedTextField(
        max_length=limits.REASON,
        blank=True,
        help_text="Required when the entry is made long after the event; flagged for QA review.",
    )

    step_kind: str = ""

    class Meta:
        abstract = True

    @property
    def is_verified(self) -> bool:
        return self.verified_by_id is not None

    @classmethod
    def step_constraints(cls, prefix: str) -> list[models.BaseConstraint]:
        return [
            models.CheckConstraint(
                condition=~models.Q(verified_by=models.F("performed_by")),
                name=f"{prefix}_verifier_is_not_performer",
            ),
            models.CheckConstraint(
                condition=models.Q(verified_by__isnull=True, verified_at__isnull=True)
                | models.Q(verified_by__isnull=False, verified_at__isnull=False),
                name=f"{prefix}_verification_complete",
            ),
            # Whoever last changed the data is as much its author as the performer: not its verifier.
            models.CheckConstraint(
                condition=~models.Q(verified_by=models.F("corrected_by")),
                name=f"{prefix}_verifier_is_not_corrector",
            ),
            models.CheckConstraint(
                condition=models.Q(corrected_by__isnull=True, corrected_at__isnull=True)
                | models.Q(corrected_by__isnull=False, corrected_at__isnull=False),
                name=f"{prefix}_correction_complete",
            ),
        ]


@gmp_model
class GcsfAdministration(StepRecord):
    """One G-CSF (filgrastim) injection during mobilization."""

    step_kind = "gcsf"

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="gcsf_administrations")
    day = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    prescribed_ug_per_kg = models.DecimalField("prescribed dose (µg/kg)", max_digits=6, decimal_places=2)
    dose_ug = models.DecimalField("dose (µg)", max_digits=8, decimal_places=1, editable=False)
    drug_lot = models.CharField("filgrastim lot", max_length=40)
    drug_expiry = models.DateField("filgrastim expiry")
    administered_at = models.DateTimeField()

    class Meta:
        ordering = ["batch", "day"]
        verbose_name = "G-CSF administration"
        triggers = [no_delete(), verified_step_read_only()]
        constraints = [
            models.UniqueConstraint(fields=["batch", "day"], name="gcsf_one_administration_per_day"),
            models.CheckConstraint(condition=models.Q(dose_ug__gt=0), name="gcsf_dose_positive"),
            *StepRecord.step_constraints("gcsf"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} G-CSF day {self.day}"


@gmp_model
class ApheresisCollection(StepRecord):
    step_kind = "apheresis"

    batch = models.OneToOneField(Batch, on_delete=models.PROTECT, related_name="apheresis")
    device = models.CharField(max_length=80)
    device_serial = models.CharField("device serial number", max_length=40)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    blood_volumes_processed = models.DecimalField(max_digits=4, decimal_places=2, validators=NON_NEGATIVE)
    acd_a_ml = models.DecimalField("ACD-A (mL)", max_digits=7, decimal_places=1, validators=NON_NEGATIVE)
    product_volume_ml = models.DecimalField(
        "product volume (mL)", max_digits=7, decimal_places=1, validators=NON_NEGATIVE
    )
    total_nucleated_cells = models.BigIntegerField(validators=NON_NEGATIVE)
    cd133_cells_before_selection = models.BigIntegerField("CD133+ cells before selection", validators=NON_NEGATIVE)
    collection_bag_id = models.CharField("collection bag identifier", max_length=40)

    class Meta:
        verbose_name = "apheresis collection"
        triggers = [no_delete(), verified_step_read_only()]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__gt=models.F("started_at")), name="apheresis_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(blood_volumes_processed__gte=0, acd_a_ml__gte=0, product_volume_ml__gte=0)
                & models.Q(total_nucleated_cells__gte=0, cd133_cells_before_selection__gte=0),
                name="apheresis_quantities_non_negative",
            ),
            *StepRecord.step_constraints("apheresis"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} apheresis"


@gmp_model
class Cd133Selection(StepRecord):
    step_kind = "selection"

    batch = models.OneToOneField(Batch, on_delete=models.PROTECT, related_name="selection")
    instrument = models.CharField(max_length=80)
    instrument_serial = models.CharField("instrument serial number", max_length=40)
    program = models.CharField(max_length=80)
    reagent_lot = models.CharField("CD133 reagent lot", max_length=40)
    reagent_expiry = models.DateField("CD133 reagent expiry")
    tubing_set_lot = models.CharField(max_length=40)
    tubing_set_expiry = models.DateField()
    buffer_lot = models.CharField(max_length=40)
    buffer_expiry = models.DateField()
    albumin_lot = models.CharField("human serum albumin lot", max_length=40)
    albumin_expiry = models.DateField("human serum albumin expiry")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    input_cd133_cells = models.BigIntegerField("input CD133+ cells", validators=NON_NEGATIVE)
    output_cd133_cells = models.BigIntegerField("output CD133+ cells", validators=NON_NEGATIVE)
    recovery_pct = models.DecimalField("recovery (%)", max_digits=6, decimal_places=2, editable=False)
    final_volume_ml = models.DecimalField(
        "final formulation volume (mL)", max_digits=6, decimal_places=1, validators=NON_NEGATIVE
    )

    class Meta:
        verbose_name = "CD133+ selection"
        triggers = [no_delete(), verified_step_read_only()]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__gt=models.F("started_at")), name="selection_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(input_cd133_cells__gt=0, output_cd133_cells__gte=0, final_volume_ml__gt=0)
                & models.Q(output_cd133_cells__lte=models.F("input_cd133_cells")),
                name="selection_cell_counts_valid",
            ),
            *StepRecord.step_constraints("selection"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} CD133+ selection"
