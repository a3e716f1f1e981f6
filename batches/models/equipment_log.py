"""What happened to an item of equipment: its calibration and maintenance records, and every use.

Both are append-only: a record or a use is never changed or deleted (ALCOA+: enduring); a mistaken
calibration record is followed by a new one.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.equipment import Equipment, EquipmentKind, EquipmentStatus
from batches.models.materials import STEP_KINDS
from batches.models.triggers import no_delete


class RecordKind(models.TextChoices):
    CALIBRATION = "calibration", "Calibration"
    MAINTENANCE = "maintenance", "Maintenance"


class RecordOutcome(models.TextChoices):
    PASS = "pass", "Pass: fit for use"
    FAIL = "fail", "Fail: taken out of service"


def append_only(name: str) -> list[pgtrigger.Trigger]:
    return [no_delete(), pgtrigger.Protect(name=name, operation=pgtrigger.Update)]


@gmp_model
class EquipmentRecord(ChecksInOneQuery):
    """A calibration or maintenance done on an item; a pass sets the next due date, a fail takes it out of service."""

    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="records")
    kind = models.CharField(max_length=12, choices=RecordKind.choices)
    performed_on = models.DateField()
    outcome = models.CharField(max_length=4, choices=RecordOutcome.choices)
    next_due = models.DateField(null=True, blank=True, help_text="Required for a pass.")
    certificate_reference = models.CharField(max_length=80, help_text="Certificate or work-order number.")
    notes = BoundedTextField(max_length=limits.NOTES, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["equipment", "-performed_on", "-pk"]
        triggers = append_only("equipment_record_read_only")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome="fail") | models.Q(next_due__gt=models.F("performed_on")),
                name="equipment_record_pass_sets_next_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.equipment.code} {self.get_kind_display().lower()} {self.performed_on:%Y-%m-%d} ({self.outcome})"


@gmp_model
class EquipmentUse(ChecksInOneQuery):
    """One use of an item at a step of a batch (or a QC result), with its status and due dates at the time."""

    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="uses")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="equipment_uses")
    step_kind = models.CharField(max_length=20)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    used_from = models.DateTimeField()
    used_until = models.DateTimeField()
    status_at_use = models.CharField(max_length=20, choices=EquipmentStatus.choices)
    calibration_due_at_use = models.DateField(null=True, blank=True)
    maintenance_due_at_use = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["equipment", "used_from", "pk"]
        triggers = append_only("equipment_use_read_only")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(used_until__gte=models.F("used_from")), name="equipment_use_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["equipment", "used_until"]), models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.equipment.code} for {self.batch} ({self.step_kind})"


@gmp_model
class StepEquipmentRequirement(models.Model):
    """A kind of equipment a step of a process definition must name (by scan) when it is recorded."""

    process_definition = models.ForeignKey(
        "batches.ProcessDefinition", on_delete=models.PROTECT, related_name="equipment_requirements"
    )
    step_kind = models.CharField(max_length=20, choices=STEP_KINDS)
    kind = models.CharField("equipment kind", max_length=20, choices=EquipmentKind.choices)

    class Meta:
        ordering = ["process_definition", "step_kind", "kind"]
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(
                fields=["process_definition", "step_kind", "kind"], name="step_equipment_requirement_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.process_definition} {self.step_kind}: {self.get_kind_display()}"
