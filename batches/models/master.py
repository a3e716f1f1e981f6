"""The master batch record: a versioned process definition approved by two people."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from batches import master_limits
from batches.audit import gmp_model
from batches.models.checks import ChecksInOneQuery


class ApprovalStatus(models.TextChoices):
    DRAFT = "draft", "Draft (awaiting two approvals)"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


def default_required_steps() -> list[str]:
    return ["gcsf", "apheresis", "selection"]


def validate_limits(value: object) -> None:
    try:
        master_limits.parse(value)
    except master_limits.LimitsError as error:
        raise ValidationError(str(error)) from None


@gmp_model
class ProcessDefinition(ChecksInOneQuery):
    """One version of the master record; a batch keeps the version it was made under."""

    code = models.CharField(max_length=20, help_text="Product code name, e.g. IGX1.")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    product_code = models.CharField(max_length=5, help_text="ISBT 128 product code (clinical trial: Y code).")
    gcsf_dose_ug_per_kg = models.DecimalField(
        "G-CSF dose (µg/kg/day)", max_digits=6, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    gcsf_dose_tolerance_pct = models.DecimalField(
        "G-CSF dose tolerance (%)", max_digits=5, decimal_places=2, default=Decimal("10")
    )
    gcsf_days_min = models.PositiveSmallIntegerField("G-CSF days (minimum)", default=4)
    gcsf_days_max = models.PositiveSmallIntegerField("G-CSF days (maximum)", default=5)
    target_dose_min_cells = models.BigIntegerField("target dose, minimum (CD133+ cells)")
    target_dose_max_cells = models.BigIntegerField("target dose, maximum (CD133+ cells)")
    shelf_life_hours = models.PositiveIntegerField(help_text="From end of processing to the latest infusion.")
    requires_qp_certification = models.BooleanField(default=True)
    sponsor_contact_email = models.EmailField(blank=True)
    clinical_trial = models.ForeignKey(
        "batches.ClinicalTrial",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="process_definitions",
        help_text="The trial (EU CT number, protocol, sponsor, sites) and PSF version the QP certifies against.",
    )
    required_steps = models.JSONField(default=default_required_steps)
    limits = models.JSONField(
        default=master_limits.default_limits,
        validators=[validate_limits],
        help_text="Ranges of values, order of events and minimum durations, required hand-overs "
        "(batches.master_limits).",
    )
    trial_reference = models.CharField(
        max_length=120, blank=True, help_text="Clinical-trial particulars for the label: EudraCT number, protocol."
    )
    # The transport range itself is the limits' ``transport.temperature_c`` (``transport_range``).
    transport_minutes_outside = models.PositiveIntegerField(
        "time allowed outside the transport range (minutes)", default=30
    )
    receipt_check = models.CharField(
        max_length=16,
        choices=[("two_people", "Two people scan the bag"), ("bag_and_document", "Bag and accompanying document")],
        default="two_people",
        help_text="The two independent scans a receipt needs.",
    )
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.DRAFT)
    effective_from = models.DateTimeField(null=True, blank=True)
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
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="process_definition_code_version_unique"),
            models.CheckConstraint(
                condition=~models.Q(first_approved_by=models.F("second_approved_by")),
                name="process_definition_two_different_approvers",
            ),
            models.CheckConstraint(
                condition=models.Q(gcsf_days_min__lte=models.F("gcsf_days_max")),
                name="process_definition_gcsf_days_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(target_dose_min_cells__gt=0)
                & models.Q(target_dose_min_cells__lte=models.F("target_dose_max_cells")),
                name="process_definition_dose_window_ordered",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved")
                | (models.Q(first_approved_by__isnull=False) & models.Q(second_approved_by__isnull=False)),
                name="process_definition_approved_needs_two_approvals",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"

    @property
    def parsed_limits(self) -> master_limits.MasterLimits:
        """The validated limits (the column is validated when the version is drafted)."""
        return master_limits.parse(self.limits)

    @property
    def transport_range(self) -> master_limits.Range:
        """The range the product is shipped in: the alert range of ``transport.temperature_c`` in the limits
        (its hard range when no alert range is set, the default limits' when the parameter is absent)."""
        key = "transport.temperature_c"
        parameter = self.parsed_limits.parameter(key) or master_limits.parse(master_limits.default_limits()).parameter(
            key
        )
        if parameter is None:  # pragma: no cover - the default limits declare it
            raise master_limits.LimitsError(f"The limits declare no {key}.")
        return parameter.alert or parameter.hard
