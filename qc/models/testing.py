"""QC samples and results; a result's verdict is computed (qc.evaluation), never typed in."""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext

from batches import formatting, limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete, verified_step_read_only
from qc.evaluation import Verdict
from qc.models.specification import QcTestChoices, SpecificationLimit


class SampleStep(models.TextChoices):
    APHERESIS_PRODUCT = "apheresis_product", "Apheresis product (before selection)"
    FINAL_PRODUCT = "final_product", "Final formulated product"


class VerdictChoices(models.TextChoices):
    PASS = "pass", "Pass"
    OOS = "oos", "Out of specification"
    PENDING = "pending", "Pending"


# The database choices mirror qc.evaluation.Verdict; a drift fails at import.
if set(VerdictChoices.values) != {v.value for v in Verdict}:
    raise ImproperlyConfigured("VerdictChoices no longer match qc.evaluation.Verdict")


@gmp_model
class QcSample(ChecksInOneQuery):
    """A sample drawn from the batch at one step, by whom and when."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="qc_samples")
    step = models.CharField(max_length=20, choices=SampleStep.choices)
    sample_code = models.CharField(max_length=40, unique=True, help_text="Label on the sample container.")
    volume_ml = models.DecimalField(
        "volume drawn (mL)",
        max_digits=5,
        decimal_places=1,
        default=0,
        help_text="Taken out of the product: the infusion reconciles what remains.",
    )
    taken_at = models.DateTimeField()
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    late_entry_reason = BoundedTextField(max_length=limits.REASON, blank=True)

    class Meta:
        ordering = ["batch", "taken_at", "pk"]
        verbose_name = "QC sample"
        constraints = [models.CheckConstraint(condition=models.Q(volume_ml__gte=0), name="qc_sample_volume_ok")]
        triggers = [no_delete(), pgtrigger.Protect(name="qc_sample_read_only", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        return f"{self.sample_code} ({self.get_step_display()})"


@gmp_model
class QcResult(ChecksInOneQuery):
    """One test result on a sample, checked by a second person."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="qc_results")
    sample = models.ForeignKey(QcSample, on_delete=models.PROTECT, related_name="results")
    limit = models.ForeignKey(SpecificationLimit, on_delete=models.PROTECT, related_name="results")
    test = models.CharField(max_length=24, choices=QcTestChoices.choices)
    numeric_value = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    text_value = models.CharField(max_length=40, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    method = models.CharField(max_length=120)
    instrument = models.CharField(max_length=120, blank=True)
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tested_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    verdict = models.CharField(max_length=8, choices=VerdictChoices.choices, editable=False)
    computed_from = BoundedTextField(
        max_length=limits.REASON, blank=True, help_text="For a calculated result: the inputs used."
    )
    investigation = models.ForeignKey(
        "qc.Deviation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retests",
        help_text="The open investigation under which a test is repeated after a failing result.",
    )
    recorded_after_release = models.BooleanField(default=False, editable=False)
    preliminary = models.BooleanField(
        default=False,
        editable=False,
        help_text="Reported before its method's minimum duration (process definition); an exception for QA.",
    )
    late_entry_reason = BoundedTextField(max_length=limits.REASON, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["batch", "recorded_at", "pk"]
        verbose_name = "QC result"
        triggers = [no_delete(), verified_step_read_only()]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(verified_by=models.F("analyst")), name="qc_result_reviewer_is_not_analyst"
            ),
            models.CheckConstraint(
                condition=models.Q(verified_by__isnull=True, verified_at__isnull=True)
                | models.Q(verified_by__isnull=False, verified_at__isnull=False),
                name="qc_result_review_complete",
            ),
            models.CheckConstraint(
                condition=models.Q(numeric_value__isnull=False, text_value="")
                | models.Q(numeric_value__isnull=True) & ~models.Q(text_value=""),
                name="qc_result_one_value",
            ),
            models.CheckConstraint(condition=models.Q(verdict__in=["pass", "oos"]), name="qc_result_verdict_final"),
        ]
        indexes = [models.Index(fields=["batch", "test"])]

    def __str__(self) -> str:
        return f"{self.batch} {self.get_test_display()}: {self.display_value}"

    @property
    def value(self) -> Decimal | str:
        return self.numeric_value if self.numeric_value is not None else self.text_value

    @property
    def display_value(self) -> str:
        return self.shown_value()

    def shown_value(self, *, localized: bool = False) -> str:
        """``92.5 %``; ``localized``: with the reader's decimal mark (``92,5 %``), as the signed record prints it."""
        if self.numeric_value is None:
            return self.text_value
        from qc.evaluation import plain

        if self.unit == "cells":  # a cell count reads as 124.45 × 10⁶ cells (batches.formatting)
            return f"{formatting.cells(self.numeric_value)} {gettext('cells')}"
        number = plain(self.numeric_value)
        return f"{formatting.number(number) if localized else number} {self.unit}".strip()

    @property
    def is_verified(self) -> bool:
        return self.verified_by_id is not None

    @property
    def is_oos(self) -> bool:
        return self.verdict == Verdict.OOS
