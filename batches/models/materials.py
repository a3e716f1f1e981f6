"""Materials: the material master, received lots with their QA status, what each step needs, and each use.

A lot is usable only when QA released it; its grade, expiry and status are checked by the step's guard
(batches.services.step_inputs), and each use is its own row carrying the lot as it was at the time, so a
recall finds every batch and patient that received the lot.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MinValueValidator
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.master import ProcessDefinition
from batches.models.triggers import no_delete

POSITIVE = [MinValueValidator(0)]
# The steps a material or an item of equipment can be named at (the keys of batches.services.steps.STEP_MODELS).
STEP_KINDS = [
    ("gcsf", "G-CSF administration"),
    ("apheresis", "Apheresis collection"),
    ("selection", "CD133+ selection"),
]


class MaterialGrade(models.TextChoices):
    """Ordered from the least to the most controlled; a step accepts its required grade or a higher one."""

    RESEARCH = "ruo", "Research use only"
    CLINICAL = "clinical", "Clinical grade"
    GMP = "gmp", "GMP grade"


GRADE_RANK = {MaterialGrade.RESEARCH: 0, MaterialGrade.CLINICAL: 1, MaterialGrade.GMP: 2}


class LotStatus(models.TextChoices):
    QUARANTINE = "quarantine", "Quarantine"
    RELEASED = "released", "Released"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    RECALLED = "recalled", "Recalled"


@gmp_model
class Material(models.Model):
    """One material of the material master: what it is, its grade, and what a received lot must meet."""

    code = models.CharField(max_length=40, unique=True, help_text="Material code, as on the stores' labels.")
    name = models.CharField(max_length=limits.NAME)
    category = models.CharField(
        max_length=80,
        help_text="What the material is for, as steps name it (e.g. CD133 selection reagent); "
        "materials of one category stand in for each other when their grade allows.",
    )
    grade = models.CharField(max_length=10, choices=MaterialGrade.choices)
    supplier = models.CharField(max_length=limits.NAME)
    storage_condition = models.CharField(max_length=limits.NAME, help_text="E.g. 2–8 °C, protected from light.")
    unit = models.CharField(max_length=20, help_text="Unit of issue: vial, bag, kit, mL…")
    specification = BoundedTextField(
        "acceptance specification", max_length=limits.DESCRIPTION, help_text="What a lot's certificate must show."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.code} {self.name} ({self.get_grade_display()})"


@gmp_model
class MaterialLot(ChecksInOneQuery):
    """A received lot; ``code`` is the barcode the stores print at receipt and the operator scans."""

    code = models.CharField(max_length=40, unique=True, help_text="Receipt barcode of the lot.")
    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="lots")
    supplier_lot = models.CharField(max_length=40)
    expiry_date = models.DateField()
    quantity_received = models.DecimalField(max_digits=10, decimal_places=2, validators=POSITIVE)
    certificate_name = models.CharField("certificate of analysis (file name)", max_length=limits.NAME)
    certificate_sha256 = models.CharField(
        "certificate SHA-256", max_length=64, editable=False, help_text="Of the file kept in LotCertificate."
    )
    status = models.CharField(max_length=12, choices=LotStatus.choices, default=LotStatus.QUARANTINE)
    status_reason = BoundedTextField(max_length=limits.REASON, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["material", "expiry_date", "code"]
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity_received__gt=0), name="material_lot_quantity_positive"),
            models.UniqueConstraint(fields=["material", "supplier_lot"], name="material_lot_supplier_lot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.material.code} lot {self.supplier_lot}, exp. {self.expiry_date:%Y-%m-%d})"


@gmp_model
class LotCertificate(models.Model):
    """The certificate of analysis of a lot, as received (the lot keeps its SHA-256, which signatures bind)."""

    lot = models.OneToOneField(MaterialLot, on_delete=models.PROTECT, related_name="certificate")
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()

    class Meta:
        triggers = [no_delete(), pgtrigger.Protect(name="lot_certificate_read_only", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        return f"Certificate of analysis of {self.lot.code}"


@gmp_model
class StepMaterialRequirement(ChecksInOneQuery):
    """A material a step of a process definition needs: its category, minimum grade and the quantity used."""

    process_definition = models.ForeignKey(
        ProcessDefinition, on_delete=models.PROTECT, related_name="material_requirements"
    )
    step_kind = models.CharField(max_length=20, choices=STEP_KINDS)
    category = models.CharField("material category", max_length=80)
    grade = models.CharField("required grade (or higher)", max_length=10, choices=MaterialGrade.choices)
    quantity = models.DecimalField(max_digits=10, decimal_places=2, validators=POSITIVE)
    unit = models.CharField(max_length=20)

    class Meta:
        ordering = ["process_definition", "step_kind", "category"]
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(
                fields=["process_definition", "step_kind", "category"], name="step_material_requirement_unique"
            ),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="step_material_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.process_definition} {self.step_kind}: {self.quantity} {self.unit} {self.category}"


@gmp_model
class LotUse(models.Model):
    """One lot used at one step of one batch, with the lot's identity, expiry and status copied at use."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="lot_uses")
    lot = models.ForeignKey(MaterialLot, on_delete=models.PROTECT, related_name="uses")
    step_kind = models.CharField(max_length=20)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    quantity = models.DecimalField(max_digits=10, decimal_places=2)
    used_at = models.DateTimeField(help_text="When the step that used the lot ended.")
    material_code = models.CharField(max_length=40)
    material_name = models.CharField(max_length=limits.NAME)
    grade = models.CharField(max_length=10, choices=MaterialGrade.choices)
    supplier_lot = models.CharField(max_length=40)
    expiry_date = models.DateField()
    status_at_use = models.CharField(max_length=12, choices=LotStatus.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "used_at", "pk"]
        triggers = [no_delete(), pgtrigger.Protect(name="lot_use_read_only", operation=pgtrigger.Update)]
        indexes = [models.Index(fields=["lot", "used_at"]), models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.batch} {self.step_kind}: {self.quantity} × {self.lot.code}"
