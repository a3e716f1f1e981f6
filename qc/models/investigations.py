"""OOS investigations (FDA, Investigating OOS test results, 2006 rev. 2022) and reportability assessments.

An out-of-specification result opens its investigation: phase I (laboratory) first, phase II (full
scale) when no laboratory error is found. A retest, a resample or the invalidation of the result is
allowed only under that investigation once QA has approved the plan with a signature; every run stays
on record. Release needs every investigation of the batch closed with a conclusion.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.utils.translation import gettext

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete, read_only_once
from qc.models.deviations import Deviation
from qc.models.testing import QcResult


class OosPhase(models.TextChoices):
    LABORATORY = "laboratory", "Phase I: laboratory investigation"
    FULL_SCALE = "full_scale", "Phase II: full-scale investigation"


class InvestigationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed with a conclusion"


class PlanKind(models.TextChoices):
    RETEST = "retest", "Retest of the same sample"
    RESAMPLE = "resample", "Resample"
    INVALIDATION = "invalidation", "Invalidation of the result (assignable laboratory error) and retest"


@gmp_model
class OosInvestigation(ChecksInOneQuery):
    deviation = models.OneToOneField(Deviation, on_delete=models.PROTECT, related_name="oos_investigation")
    result = models.OneToOneField(QcResult, on_delete=models.PROTECT, related_name="oos_investigation")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="oos_investigations")
    opened_at = models.DateTimeField(auto_now_add=True)
    phase = models.CharField(max_length=10, choices=OosPhase.choices, default=OosPhase.LABORATORY)
    hypotheses = BoundedTextField(
        max_length=limits.NARRATIVE, blank=True, help_text="What could have caused the result, and how each was tested."
    )
    laboratory_error = models.BooleanField(
        null=True, blank=True, help_text="Phase I outcome: an assignable laboratory error found (yes), or not (no)."
    )
    assignable_cause = BoundedTextField(max_length=limits.NARRATIVE, blank=True)
    conclusion = BoundedTextField(max_length=limits.NARRATIVE, blank=True)
    status = models.CharField(max_length=8, choices=InvestigationStatus.choices, default=InvestigationStatus.OPEN)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["opened_at", "pk"]
        verbose_name = "OOS investigation"
        triggers = [no_delete(), read_only_once("oos_investigation_closed_read_only")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", closed_by__isnull=True, closed_at__isnull=True)
                | models.Q(status="closed", closed_by__isnull=False, closed_at__isnull=False)
                & ~models.Q(conclusion=""),
                name="oos_investigation_closure_complete",
            ),
        ]

    def __str__(self) -> str:
        return gettext("OOS investigation of %(result)s (%(deviation)s, %(status)s)") % {
            "result": self.result,
            "deviation": self.deviation.number,
            "status": self.get_status_display().lower(),
        }

    @property
    def is_open(self) -> bool:
        return self.status == InvestigationStatus.OPEN


@gmp_model
class OosRetestApproval(models.Model):
    """QA's signed approval of a retest plan, a resample or an invalidation under one OOS investigation."""

    investigation = models.ForeignKey(OosInvestigation, on_delete=models.PROTECT, related_name="approvals")
    kind = models.CharField(max_length=12, choices=PlanKind.choices)
    plan = BoundedTextField(max_length=limits.DESCRIPTION)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField()

    class Meta:
        ordering = ["approved_at", "pk"]
        verbose_name = "OOS retest approval"
        triggers = [no_delete(), pgtrigger.Protect(name="retest_approval_read_only", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        return gettext("%(kind)s, approved under %(deviation)s") % {
            "kind": self.get_kind_display(),
            "deviation": self.investigation.deviation.number,
        }


class ReportabilityStatus(models.TextChoices):
    OPEN = "open", "Awaiting the reportability decision"
    TO_SUBMIT = "to_submit", "Reportable: awaiting submission"
    DONE = "done", "Complete"


@gmp_model
class ReportabilityAssessment(ChecksInOneQuery):
    """After a late positive or any OOS after release: is it reportable, under which rule, by when, sent when."""

    deviation = models.OneToOneField(Deviation, on_delete=models.PROTECT, related_name="reportability")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="reportability_assessments")
    opened_at = models.DateTimeField(auto_now_add=True)
    due_date = models.DateField(help_text="The date by which a report is due if it is reportable.")
    status = models.CharField(max_length=10, choices=ReportabilityStatus.choices, default=ReportabilityStatus.OPEN)
    reportable = models.BooleanField(null=True, blank=True)
    rule = models.CharField(
        max_length=limits.NAME, blank=True, help_text="The rule applied (e.g. Regulation (EU) 536/2014 art. 42)."
    )
    rationale = BoundedTextField(max_length=limits.REASON, blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assessed_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submission_reference = models.CharField(max_length=limits.NAME, blank=True)
    last_reminded_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "pk"]
        triggers = [
            no_delete(),
            read_only_once("reportability_done_read_only", status="done"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", reportable__isnull=True)
                | models.Q(status="to_submit", reportable=True, submitted_at__isnull=True)
                | models.Q(status="done", reportable=False, submitted_at__isnull=True)
                | models.Q(status="done", reportable=True, submitted_at__isnull=False),
                name="reportability_status_consistent",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Reportability of %(deviation)s (due %(due)s, %(status)s)") % {
            "deviation": self.deviation.number,
            "due": f"{self.due_date:%Y-%m-%d}",
            "status": self.get_status_display(),
        }
