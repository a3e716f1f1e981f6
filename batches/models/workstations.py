"""Workstations between patients and under monitoring: line clearances and environmental monitoring.

A workstation (a biosafety cabinet) holds one patient's open product at a time; before another patient's
step, a line clearance is recorded by the operator and verified by QA. Open steps on a grade A workstation
run inside a monitoring session whose settle plates, contact plates and air samples are read days later
against the process definition's alert and action levels.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.utils.translation import gettext

from batches import formatting, limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.equipment import Equipment
from batches.models.master import ProcessDefinition
from batches.models.triggers import no_delete, verified_step_read_only


@gmp_model
class LineClearance(ChecksInOneQuery):
    """The workstation emptied and cleaned after one patient, before the next; verified by QA."""

    workstation = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="line_clearances")
    previous_batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    performed_at = models.DateTimeField()
    product_removed = models.BooleanField("previous product, samples and labels removed")
    surfaces_cleaned = models.BooleanField("surfaces cleaned and disinfected")
    notes = BoundedTextField(max_length=limits.NOTES, blank=True)
    performed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["workstation", "-performed_at", "-pk"]
        triggers = [no_delete(), verified_step_read_only()]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(verified_by=models.F("performed_by")), name="line_clearance_verifier_not_performer"
            ),
            models.CheckConstraint(
                condition=models.Q(product_removed=True, surfaces_cleaned=True), name="line_clearance_complete"
            ),
        ]

    def __str__(self) -> str:
        return gettext("Line clearance #%(number)s of %(workstation)s at %(time)s") % {
            "number": self.pk,
            "workstation": self.workstation.code,
            "time": formatting.moment(self.performed_at),
        }

    @property
    def is_verified(self) -> bool:
        return self.verified_by_id is not None


class SampleKind(models.TextChoices):
    SETTLE_PLATE = "settle", "Settle plate (CFU/4 h)"
    CONTACT_PLATE = "contact", "Contact plate (CFU/plate)"
    AIR_SAMPLE = "air", "Active air sample (CFU/m³)"


class MonitoringLevel(models.TextChoices):
    WITHIN = "within", "Within the alert level"
    ALERT = "alert", "Alert level reached"
    ACTION = "action", "Action level reached"


@gmp_model
class MonitoringLimit(ChecksInOneQuery):
    """A process definition's alert and action levels for one kind of environmental sample."""

    process_definition = models.ForeignKey(
        ProcessDefinition, on_delete=models.PROTECT, related_name="monitoring_limits"
    )
    kind = models.CharField(max_length=10, choices=SampleKind.choices)
    alert_cfu = models.PositiveIntegerField("alert level (CFU)")
    action_cfu = models.PositiveIntegerField("action level (CFU)")

    class Meta:
        ordering = ["process_definition", "kind"]
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(fields=["process_definition", "kind"], name="monitoring_limit_unique"),
            models.CheckConstraint(
                condition=models.Q(alert_cfu__gte=1, action_cfu__gte=models.F("alert_cfu")),
                name="monitoring_limit_levels_ordered",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.process_definition} {self.get_kind_display()}: alert ≥ {self.alert_cfu}, action ≥ {self.action_cfu}"
        )


@gmp_model
class MonitoringSession(ChecksInOneQuery):
    """The time a grade A workstation is monitored while open steps run on it."""

    workstation = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="monitoring_sessions")
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["workstation", "-opened_at"]
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closed_at__isnull=True, closed_by__isnull=True)
                | models.Q(closed_at__gt=models.F("opened_at"), closed_by__isnull=False),
                name="monitoring_session_closure_complete",
            )
        ]

    def __str__(self) -> str:
        return gettext("Monitoring session #%(number)s on %(workstation)s from %(time)s") % {
            "number": self.pk,
            "workstation": self.workstation.code,
            "time": formatting.moment(self.opened_at),
        }


@gmp_model
class MonitoringSample(models.Model):
    """A settle plate, contact plate or air sample of a session; its count arrives days later."""

    session = models.ForeignKey(MonitoringSession, on_delete=models.PROTECT, related_name="samples")
    kind = models.CharField(max_length=10, choices=SampleKind.choices)
    sample_code = models.CharField(max_length=40, unique=True, help_text="Label on the plate or the sampler head.")
    location = models.CharField(max_length=limits.NAME, blank=True)
    cfu = models.PositiveIntegerField("count (CFU)", null=True, blank=True, editable=False)
    level = models.CharField(max_length=8, choices=MonitoringLevel.choices, blank=True, editable=False)
    read_at = models.DateTimeField(null=True, blank=True, editable=False)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        ordering = ["session", "kind", "sample_code"]
        triggers = [
            no_delete(),
            pgtrigger.Protect(
                name="monitoring_result_read_only",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition("OLD.cfu IS NOT NULL"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display().split(' (')[0]} {self.sample_code}"
