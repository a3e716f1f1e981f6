"""Deviations the chain of identity and the cold chain raise themselves, and the alert that goes at once.

Connected to the batches services' signals (``qc.apps``): a refused identity scan that names another
product or another patient (``batches.services.scans.identity_mismatch``) opens a critical
chain-of-identity deviation and alerts QA and the treating physicians, in the transaction that records
the refused scan; a logger file with an excursion (``batches.services.receipt.transport_excursion``)
opens a major deviation on the receipt it holds.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from batches.models import CustodyEvent, IdentityScan, ShipmentTemperatureLog
from batches.models.custody import HandOff, ScanPoint
from batches.roles import Role
from batches.services import receipt, scans
from qc.models import Classification, Deviation, DeviationKind
from qc.services.deviations import deviation_open_automatic
from qc.services.notifications import notification_create


def identity_alert_recipients() -> list[str]:
    """QA and the treating physicians (the clinician role)."""
    users = User.objects.filter(is_active=True, groups__name__in=[Role.CLINICIAN, Role.QA_REVIEWER]).exclude(email="")
    return sorted({u.email.strip().lower() for u in users})


def on_identity_mismatch(sender: Any, *, scan: IdentityScan, actor: User, **kwargs: Any) -> Deviation:
    batch = scan.batch
    at = timezone.localtime(scan.scanned_at)
    point = ScanPoint(scan.point).label.lower()  # stored text: as written, whoever's language is active
    description = (
        f"Chain of identity: at {point} on {at:%Y-%m-%d %H:%M %Z}, {actor} scanned "
        f"{scan.scanned_data!r} for batch {batch.batch_number} (DIN {batch.din}, patient "
        f"{batch.patient.subject_code}). {scan.message}"
    )
    deviation = deviation_open_automatic(
        batch_id=batch.pk,
        kind=DeviationKind.IDENTITY,
        classification=Classification.CRITICAL,
        description=description,
        actor=actor,
        reason="identity mismatch opens a chain-of-identity deviation",
    )
    notification_create(
        deviation=deviation,
        subject=f"URGENT: identity mismatch, batch {batch.batch_number} ({point})",
        body=f"{description}\n\nThe step was refused. Critical deviation {deviation.number} is open. "
        "This message was sent by the batch record system.",
        recipients=identity_alert_recipients(),
    )
    return deviation


def on_transport_excursion(
    sender: Any, *, event: CustodyEvent, log: ShipmentTemperatureLog, actor: User, **kwargs: Any
) -> Deviation:
    return deviation_open_automatic(
        batch_id=event.batch_id,
        kind=DeviationKind.EXCURSION,
        classification=Classification.MAJOR,
        description=(
            f"Temperature excursion in transport ({HandOff(event.kind).label}), logger file {log.file_name}: "
            f"{log.minutes_outside} min outside {log.range_low_c} to {log.range_high_c} °C (allowed "
            f"{log.allowed_minutes_outside} min); minimum {log.minimum_c} °C, maximum {log.maximum_c} °C. "
            "The receipt is on hold."
        ),
        actor=actor,
        reason="transport excursion opens a deviation",
    )


def connect() -> None:
    scans.identity_mismatch.connect(on_identity_mismatch, dispatch_uid="qc-identity-mismatch")
    receipt.transport_excursion.connect(on_transport_excursion, dispatch_uid="qc-transport-excursion")
