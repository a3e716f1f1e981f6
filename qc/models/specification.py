"""Specification versions: the QC part of the master record, approved by two people."""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from batches.audit import gmp_model
from batches.models import ApprovalStatus
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete
from qc.evaluation import (
    CATEGORICAL_OUTCOMES,
    TEST_LABELS,
    CategoricalLimit,
    Limit,
    NumericLimit,
    Operator,
    QcTest,
    plain,
)


class QcTestChoices(models.TextChoices):
    CD133_PURITY = "cd133_purity", "CD133+ purity"
    VIABILITY = "viability", "Viability"
    VIABLE_CD133_DOSE = "viable_cd133_dose", "Viable CD133+ dose"
    GRAM_STAIN = "gram_stain", "Gram stain"
    ENDOTOXIN = "endotoxin", "Endotoxin"
    STERILITY = "sterility", "Sterility"
    MYCOPLASMA = "mycoplasma", "Mycoplasma"


class OperatorChoices(models.TextChoices):
    GTE = "gte", "≥ (at least)"
    GT = "gt", "> (more than)"
    LTE = "lte", "≤ (at most)"
    LT = "lt", "< (less than)"
    BETWEEN = "between", "between (inclusive)"


# The database choices mirror the pure enums of qc.evaluation; a drift fails at import.
if {c.value: c.label for c in QcTestChoices} != {t.value: TEST_LABELS[t] for t in QcTest}:
    raise ImproperlyConfigured("QcTestChoices no longer match qc.evaluation.QcTest and its labels")
if set(OperatorChoices.values) != {o.value for o in Operator}:
    raise ImproperlyConfigured("OperatorChoices no longer match qc.evaluation.Operator")


def approved_read_only() -> pgtrigger.Trigger:
    """Once approved, only the retirement of a specification version may change it."""
    return pgtrigger.Trigger(
        name="approved_specification_read_only",
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        condition=pgtrigger.Condition("OLD.status <> 'draft'"),
        func=(
            "IF NOT (OLD.status = 'approved' AND NEW.status = 'retired' "
            "AND (to_jsonb(OLD) - 'status') = (to_jsonb(NEW) - 'status')) THEN "
            "RAISE EXCEPTION 'an approved specification version is read-only' USING ERRCODE = 'check_violation'; "
            "END IF; RETURN NEW;"
        ),
    )


def limits_frozen_after_first_approval() -> pgtrigger.Trigger:
    """The limits a first approver signed cannot change under the second approver."""
    return pgtrigger.Trigger(
        name="limits_frozen_after_approval",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update,
        func=(
            "IF EXISTS (SELECT 1 FROM qc_specification s WHERE s.id = NEW.specification_id "
            "AND (s.status <> 'draft' OR s.first_approved_by_id IS NOT NULL)) THEN "
            "RAISE EXCEPTION 'the limits of an approved specification are read-only' "
            "USING ERRCODE = 'check_violation'; END IF; RETURN NEW;"
        ),
    )


@gmp_model
class Specification(ChecksInOneQuery):
    """One version of the QC specification of a product (a process-definition code)."""

    product = models.CharField(max_length=20, help_text="Code of the process definition it applies to, e.g. IGX1.")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    requested_effective_from = models.DateTimeField(
        help_text="The earliest time it may apply; approval never makes it apply retroactively."
    )
    effective_from = models.DateTimeField(null=True, blank=True, editable=False)
    max_collection_to_processing_hours = models.PositiveSmallIntegerField(
        "collection end to processing start (hours, at most)", default=24
    )
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.DRAFT)
    limits_snapshot = models.JSONField(
        default=list, editable=False, help_text="The limits as approved (part of the signed content)."
    )
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
        ordering = ["product", "-version"]
        triggers = [no_delete(), approved_read_only()]
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="specification_product_version_unique"),
            models.CheckConstraint(
                condition=~models.Q(first_approved_by=models.F("second_approved_by")),
                name="specification_two_different_approvers",
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft")
                | (
                    models.Q(first_approved_by__isnull=False)
                    & models.Q(second_approved_by__isnull=False)
                    & models.Q(effective_from__isnull=False)
                ),
                name="specification_approved_needs_two_approvals",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} QC specification v{self.version}"


@gmp_model
class SpecificationLimit(ChecksInOneQuery):
    """The acceptance criterion of one test within a specification version."""

    specification = models.ForeignKey(Specification, on_delete=models.PROTECT, related_name="limits")
    test = models.CharField(max_length=24, choices=QcTestChoices.choices)
    method = models.CharField(max_length=120)
    operator = models.CharField(max_length=8, choices=OperatorChoices.choices, blank=True)
    value = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    upper = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    expected_result = models.CharField(max_length=40, blank=True)
    blocks_release = models.BooleanField(
        default=True, help_text="A missing result blocks full release; conditional release may proceed without it."
    )

    class Meta:
        ordering = ["specification", "pk"]
        triggers = [no_delete(), limits_frozen_after_first_approval()]
        constraints = [
            models.UniqueConstraint(fields=["specification", "test"], name="specification_one_limit_per_test"),
            models.CheckConstraint(
                condition=(
                    models.Q(expected_result="", operator__in=["gte", "gt", "lte", "lt"], value__isnull=False)
                    & models.Q(upper__isnull=True)
                )
                | models.Q(expected_result="", operator="between", value__isnull=False, upper__gte=models.F("value"))
                | models.Q(~models.Q(expected_result=""), operator="", value__isnull=True, upper__isnull=True),
                name="specification_limit_numeric_or_categorical",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_test_display()}: {self.as_limit().describe()}"

    @property
    def qc_test(self) -> QcTest:
        return QcTest(self.test)

    @property
    def is_categorical(self) -> bool:
        return self.qc_test in CATEGORICAL_OUTCOMES

    def as_limit(self) -> Limit:
        """The pure-evaluation form of this limit."""
        if self.expected_result:
            return CategoricalLimit(self.expected_result)
        return NumericLimit(
            Operator(self.operator),
            plain(Decimal(self.value or 0)),
            self.unit,
            upper=plain(Decimal(self.upper)) if self.upper is not None else None,
        )
