"""Label issuance and reconciliation: every printed label has its own id, every print is an event.

A print (``LabelPrint``) issues one ``Label`` per copy; a reprint of the same bag voids the labels of
the earlier prints. Each label ends applied, destroyed or returned, and QA's release waits for the
signed ``LabelReconciliation`` (issued = applied + destroyed + returned) that covers every label issued.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete


class LabelBag(models.TextChoices):
    COLLECTION = "collection", "Apheresis collection bag"
    FINAL = "final", "Final product bag"


class LabelFormat(models.TextChoices):
    PDF = "pdf", "PDF (office printer)"
    ZPL = "zpl", "ZPL II (thermal label printer)"


class LabelStatus(models.TextChoices):
    ISSUED = "issued", "Issued (not yet accounted for)"
    APPLIED = "applied", "Applied to the bag"
    DESTROYED = "destroyed", "Destroyed"
    RETURNED = "returned", "Returned to the label store"


@gmp_model
class LabelPrint(ChecksInOneQuery):
    """One print of a bag's label: who, how many, on which printer, why; a specimen is kept."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="label_prints")
    bag = models.CharField(max_length=12, choices=LabelBag.choices)
    label_format = models.CharField("format", max_length=4, choices=LabelFormat.choices)
    copies = models.PositiveSmallIntegerField()
    printer = models.CharField(max_length=80, help_text="The printer's name or asset code.")
    reason = BoundedTextField(max_length=limits.REASON, help_text="Why it was printed (a reprint says why).")
    is_reprint = models.BooleanField(default=False)
    printed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_at = models.DateTimeField(auto_now_add=True)
    specimen_zpl = models.TextField(help_text="The ZPL of the first label of the print, kept as its specimen.")
    specimen_pdf = models.TextField(help_text="The PDF of the first label of the print (base64), kept as its specimen.")

    class Meta:
        ordering = ["printed_at", "pk"]
        triggers = [no_delete()]
        constraints = [models.CheckConstraint(condition=models.Q(copies__gte=1), name="label_print_copies")]

    def __str__(self) -> str:
        return f"{self.batch} {self.get_bag_display()} × {self.copies} ({self.printer})"


@gmp_model
class Label(ChecksInOneQuery):
    """One physical label; ``label_id`` is printed on it and carried in its own barcode."""

    label_id = models.CharField(max_length=24, unique=True)
    print_event = models.ForeignKey(LabelPrint, on_delete=models.PROTECT, related_name="labels")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="labels")
    bag = models.CharField(max_length=12, choices=LabelBag.choices)
    status = models.CharField(max_length=10, choices=LabelStatus.choices, default=LabelStatus.ISSUED)
    voided = models.BooleanField(default=False, help_text="Superseded by a reprint: it may never be applied.")
    voided_by = models.ForeignKey(
        LabelPrint, on_delete=models.PROTECT, null=True, blank=True, related_name="voided_labels"
    )
    accounted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    accounted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["label_id"]
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(voided=True, status="applied"), name="label_voided_never_applied"
            ),
        ]
        indexes = [models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return f"{self.label_id} ({self.get_status_display().lower()}{', voided' if self.voided else ''})"


@gmp_model
class LabelReconciliation(ChecksInOneQuery):
    """The signed count of a batch's labels: issued = applied + destroyed + returned."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="label_reconciliations")
    issued = models.PositiveIntegerField()
    applied = models.PositiveIntegerField()
    destroyed = models.PositiveIntegerField()
    returned = models.PositiveIntegerField()
    voided = models.PositiveIntegerField(help_text="Of those issued, voided by a reprint.")
    last_label_id = models.CharField(max_length=24, help_text="The last label the count covers.")
    reconciled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reconciled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reconciled_at", "pk"]
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(issued=models.F("applied") + models.F("destroyed") + models.F("returned")),
                name="label_reconciliation_balances",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} labels reconciled: {self.issued} issued"


@gmp_model
class FinalContainer(models.Model):
    """The final container of the product (type, lot) and its visual inspection before release (signed)."""

    batch = models.OneToOneField(Batch, on_delete=models.PROTECT, related_name="final_container")
    container_type = models.CharField(max_length=80, help_text="E.g. a 50 mL transfer bag or a 10 mL syringe.")
    container_lot = models.CharField(max_length=40)
    container_expiry = models.DateField()
    appearance_ok = models.BooleanField(help_text="Colour and clarity as expected; no clumps or particles.")
    integrity_ok = models.BooleanField(help_text="No leak, crack or damaged port; seals intact.")
    label_ok = models.BooleanField(help_text="The applied label is the batch's current label, legible and complete.")
    notes = BoundedTextField(max_length=limits.NOTES, blank=True)
    inspected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    inspected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.batch} final container {self.container_type} lot {self.container_lot}"

    @property
    def passed(self) -> bool:
        return self.appearance_ok and self.integrity_ok and self.label_ok
