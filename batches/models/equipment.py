"""The equipment register: instruments, cabinets, storage units and shippers that records name by scan.

Only the register itself lives here; its calibration and maintenance records and the use log are in
batches.models.equipment_log, and the rules that refuse equipment out of service or past a due date
in batches.services.step_inputs.
"""

from __future__ import annotations

from django.db import models

from batches import limits
from batches.audit import gmp_model


class EquipmentKind(models.TextChoices):
    INSTRUMENT = "instrument", "Instrument (cell selection system)"
    BIOSAFETY_CABINET = "cabinet", "Biosafety cabinet"
    CENTRIFUGE = "centrifuge", "Centrifuge"
    CELL_COUNTER = "cell_counter", "Cell counter"
    FLOW_CYTOMETER = "cytometer", "Flow cytometer"
    INCUBATOR = "incubator", "Incubator"
    FRIDGE = "fridge", "Fridge"
    FREEZER = "freezer", "Freezer or liquid-nitrogen storage"
    SHIPPER = "shipper", "Shipper (transport container)"
    APHERESIS = "apheresis", "Apheresis machine"
    OTHER = "other", "Other"


class AreaGrade(models.TextChoices):
    """EU GMP Annex 1 cleanroom grade of the air a workstation gives an open product."""

    A = "A", "Grade A"
    B = "B", "Grade B"
    C = "C", "Grade C"
    D = "D", "Grade D"


class EquipmentStatus(models.TextChoices):
    IN_SERVICE = "in_service", "In service"
    OUT_OF_SERVICE = "out_of_service", "Out of service"
    QUARANTINED = "quarantined", "Quarantined"


@gmp_model
class Equipment(models.Model):
    """One item of equipment; ``code`` is what its barcode carries and what an operator scans."""

    code = models.CharField(max_length=40, unique=True, help_text="Equipment id as printed on its barcode label.")
    name = models.CharField(max_length=limits.NAME)
    kind = models.CharField(max_length=20, choices=EquipmentKind.choices)
    serial_number = models.CharField(max_length=80, blank=True)
    location = models.CharField(max_length=limits.NAME, blank=True)
    status = models.CharField(max_length=20, choices=EquipmentStatus.choices, default=EquipmentStatus.IN_SERVICE)
    calibration_due = models.DateField(null=True, blank=True, help_text="Empty when the item needs no calibration.")
    maintenance_due = models.DateField(null=True, blank=True, help_text="Empty when the item needs no maintenance.")
    area_grade = models.CharField(
        max_length=1,
        choices=AreaGrade.choices,
        blank=True,
        help_text="For a workstation (biosafety cabinet): its air grade; grade A needs environmental monitoring.",
    )

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "equipment"

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"
