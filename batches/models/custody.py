"""Chain of identity and custody: identifiers, hand-offs, every identity scan, expired-use authorisations."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.equipment import Equipment
from batches.models.patient import Patient
from batches.models.triggers import no_delete


class IdentifierCounter(models.Model):
    """The last number handed out per identifier kind, scope and year (bumped atomically in SQL).

    The scope is the facility for DINs and chain-of-identity identifiers, the product code for batch numbers.
    """

    kind = models.CharField(max_length=8)
    scope = models.CharField(max_length=20)
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        triggers = [no_delete()]
        constraints = [
            models.UniqueConstraint(fields=["kind", "scope", "year"], name="identifier_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope} {self.year}: {self.last_value}"


@gmp_model
class PatientIdentity(models.Model):
    """The patient's Chain of Identity identifier (ISBT 128), allocated once, at the first collection."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="identity")
    coi_identifier = models.CharField("chain of identity identifier", max_length=16, unique=True)
    allocated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "patient identities"
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.patient} · {self.coi_identifier}"


class HandOff(models.TextChoices):
    COLLECTION_TO_LAB = "collection_to_lab", "Collection → laboratory"
    LAB_TO_QC = "lab_to_qc", "Laboratory → QC sample"
    LAB_TO_RADIOLOGY = "lab_to_radiology", "Laboratory → interventional radiology"


@gmp_model
class CustodyEvent(ChecksInOneQuery):
    """One hand-off of the product (or a QC sample of it): handed over, then received with a matching scan."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="custody_events")
    kind = models.CharField(max_length=24, choices=HandOff.choices)
    from_location = models.CharField(max_length=120)
    to_location = models.CharField(max_length=120)
    sample_reference = models.CharField(max_length=40, blank=True, help_text="QC sample identifier, if any.")
    handed_over_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    handed_over_at = models.DateTimeField()
    temperature_at_handover_c = models.DecimalField("temperature at hand-over (°C)", max_digits=4, decimal_places=1)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    received_at = models.DateTimeField(null=True, blank=True)
    temperature_at_receipt_c = models.DecimalField(
        "temperature at receipt (°C)", max_digits=4, decimal_places=1, null=True, blank=True
    )
    scanned_identifier = models.CharField(
        max_length=40, blank=True, help_text="Exactly what the scanner read at receipt."
    )
    notes = BoundedTextField(max_length=limits.NOTES, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    shipper = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="From the register."
    )
    held = models.BooleanField(default=False, help_text="Received on hold: a temperature excursion is investigated.")
    hold_reason = BoundedTextField(max_length=limits.REASON, blank=True)

    # What each signature binds (batches.signature_checks.declared_fields). The hand-over (dispatch) binds the
    # hand-over; the receipt (received_*, scan, temperature, hold) is the receiver's own act, filled in later;
    # QA's signature lifting a hold binds the hand-over, the receipt and the hold. ``notes`` is left out of
    # the hand-over: a late receipt adds its reason there.
    HANDED_OVER = (
        "batch",
        "kind",
        "from_location",
        "to_location",
        "sample_reference",
        "handed_over_by",
        "handed_over_at",
        "temperature_at_handover_c",
        "shipper",
        "recorded_at",
    )
    RECEIVED = ("received_by", "received_at", "temperature_at_receipt_c", "scanned_identifier", "notes")
    SIGNED_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "performed": HANDED_OVER,
        "approved": HANDED_OVER + RECEIVED + ("held", "hold_reason"),
    }

    class Meta:
        ordering = ["handed_over_at", "pk"]
        triggers = [no_delete()]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(received_by__isnull=True, received_at__isnull=True, scanned_identifier="")
                | models.Q(received_by__isnull=False, received_at__isnull=False, temperature_at_receipt_c__isnull=False)
                & ~models.Q(scanned_identifier=""),
                name="custody_receipt_complete",
            ),
            models.CheckConstraint(
                condition=models.Q(received_at__isnull=True) | models.Q(received_at__gte=models.F("handed_over_at")),
                name="custody_received_after_handover",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.get_kind_display()}"

    @property
    def is_received(self) -> bool:
        return self.received_at is not None


class ScanPoint(models.TextChoices):
    RECEIPT = "receipt", "Receipt of a hand-off"
    BEDSIDE = "bedside", "Bedside identity check"
    BEDSIDE_CONFIRMATION = "bedside_confirmation", "Bedside check, second person"


class ScanEntry(models.TextChoices):
    SCANNED = "scanned", "Scanned (barcode data identifier and check)"
    KEYED = "keyed", "Keyed by hand"


@gmp_model
class IdentityScan(models.Model):
    """Every identity scan, matching or not: a refused scan leaves this row even though its step is blocked."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="identity_scans")
    point = models.CharField(max_length=24, choices=ScanPoint.choices)
    custody_event = models.ForeignKey(CustodyEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    scanned_data = models.CharField(max_length=80)
    expected = models.CharField(max_length=40, help_text="The identifier the batch carries.")
    matched = models.BooleanField()
    message = BoundedTextField(max_length=limits.REASON, blank=True, help_text="Why the scan was refused.")
    entry = models.CharField(max_length=8, choices=ScanEntry.choices, default=ScanEntry.SCANNED)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_reason = BoundedTextField(max_length=limits.REASON, blank=True, help_text="Why it was keyed.")
    scanned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    scanned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scanned_at", "pk"]
        triggers = [no_delete()]
        indexes = [models.Index(fields=["batch", "matched"])]

    def __str__(self) -> str:
        return f"{self.batch} {self.point} {'match' if self.matched else 'MISMATCH'}"


@gmp_model
class ExpiredUseAuthorization(models.Model):
    """QA's signed authorisation, under a documented deviation, to dispatch or infuse a product past its expiry."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="expired_use_authorizations")
    deviation_reference = models.CharField(max_length=40, help_text="The documented deviation, e.g. DEV-2026-014.")
    reason = BoundedTextField(
        max_length=limits.REASON, help_text="Risk evaluation and the treating physician's documented request."
    )
    valid_until = models.DateTimeField(help_text="The authorisation covers use up to this time only.")
    authorized_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    authorized_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["authorized_at", "pk"]
        triggers = [no_delete()]

    def __str__(self) -> str:
        return f"{self.batch} expired use under {self.deviation_reference}"
