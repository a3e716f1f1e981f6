"""Receipt of a hand-off: two independent scans, the temperature logger's file, and a hold on an excursion.

The collection's receipt at the laboratory and the product's at the clinic need two independent scans, as
the process definition says: two people (a first scan, ``custody_receipt_scan``, then the receiver's, who
must be someone else) or the bag and its accompanying document, both scanned by the receiver. Their logger
file is read against the product's transport range; an excursion receives the product on hold and sends
``transport_excursion`` in the receipt's transaction (the QC app opens the deviation). Without a file the
receipt is refused unless QA signed a waiver (``logger_waiver_grant``); QA lifts a hold with a signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import CustodyEvent, IdentityScan, LoggerFileWaiver, ShipmentTemperatureLog, TemperatureLoggerModel
from batches.models.custody import HandOff, ScanPoint
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services import record_limits as rl
from batches.services.common import check_event_time, confirm_password, lock_batch
from batches.services.custody import HAND_OFF_RULES, check_temperature
from batches.services.scans import KeyedOverride, record_matched_scan, require_matching_scan
from batches.services.signatures import signature_sign
from batches.services.temperature import Reading, judge, logger_readings, require_coverage

# Sent with ``event`` and ``log`` when a logger file shows an excursion, inside the receipt's transaction.
transport_excursion = Signal()

TWO_SCAN_KINDS = (HandOff.COLLECTION_TO_LAB, HandOff.LAB_TO_RADIOLOGY)
COVERAGE_SLACK = timedelta(minutes=15)


@dataclass(frozen=True)
class LoggerFile:
    """The logger's CSV export as uploaded, and the logger model that says how to read it."""

    name: str
    content: bytes
    logger_model: str


def _event(custody_event_id: int) -> CustodyEvent:
    return CustodyEvent.objects.select_related("batch__process_definition").get(pk=custody_event_id)


def _two_people(event: CustodyEvent) -> bool:
    return event.kind in TWO_SCAN_KINDS and event.batch.process_definition.receipt_check == "two_people"


def needs_first_scan(event: CustodyEvent) -> bool:
    """Whether the receipt of ``event`` starts with a first scan by someone other than the receiver."""
    return _two_people(event)


def first_scan_of(event: CustodyEvent) -> IdentityScan | None:
    return (
        IdentityScan.objects.filter(custody_event=event, point=ScanPoint.RECEIPT, matched=True)
        .select_related("scanned_by")
        .first()
    )


def _check_receipt(event: CustodyEvent, *, actor: User, received_at: datetime, late_entry_reason: str) -> None:
    if event.is_received:
        raise StateConflict(
            gettext("%(event)s was already received by %(received_by)s at %(received_at)s.")
            % {
                "event": event,
                "received_by": event.received_by,
                "received_at": f"{event.received_at:%Y-%m-%d %H:%M %Z}",
            }
        )
    if event.handed_over_by_id == actor.pk:
        raise PermissionDenied(
            gettext("Custody passes between two people: you handed this over, someone else receives it.")
        )
    check_event_time(received_at, field="received_at", late_entry_reason=late_entry_reason)
    if received_at < event.handed_over_at:
        raise ValidationError({"received_at": gettext("Receipt cannot be before the hand-over.")})


def custody_receipt_scan(
    *, actor: User, custody_event_id: int, scanned_data: str, override: KeyedOverride | None = None
) -> IdentityScan:
    """The first of the two independent scans of a receipt by two people; the receiver makes the second."""
    event = _event(custody_event_id)
    _, receivers, _ = HAND_OFF_RULES[event.kind]
    require_role(actor, *receivers, action=f"Scanning at receipt ({event.get_kind_display()})")
    if event.handed_over_by_id == actor.pk:
        raise PermissionDenied(
            gettext("Custody passes between two people: you handed this over, someone else receives it.")
        )
    if event.is_received:
        raise StateConflict(gettext("%(event)s is received already; no first scan to make.") % {"event": event})
    if not _two_people(event):
        raise StateConflict(
            gettext("%(event)s: the receiver scans the bag and its accompanying document; no first scan.")
            % {"event": event}
        )
    first = IdentityScan.objects.filter(custody_event=event, point=ScanPoint.RECEIPT, matched=True).first()
    if first is not None:
        raise StateConflict(
            gettext("The first scan was made by %(scanned_by)s; a second person receives the product.")
            % {"scanned_by": first.scanned_by}
        )
    require_matching_scan(
        batch=event.batch,
        point=ScanPoint.RECEIPT,
        actor=actor,
        scanned_data=scanned_data,
        event=event,
        override=override,
    )
    with transaction.atomic():
        batch = lock_batch(event.batch_id)
        with audit_context(actor, reason=f"first receipt scan: {HandOff(event.kind).label}"):
            return record_matched_scan(
                batch=batch,
                point=ScanPoint.RECEIPT,
                actor=actor,
                scanned_data=scanned_data,
                event=event,
                override=override,
            )


def _require_another_first_scan(event: CustodyEvent, *, actor: User) -> None:
    """Two people: a first matching scan by someone other than the receiver must be on record."""
    firsts = IdentityScan.objects.filter(custody_event=event, point=ScanPoint.RECEIPT, matched=True)
    if not firsts.exists():
        raise StateConflict(
            gettext(
                "Receipt of %(hand_off)s needs two independent scans: a first person scans the bag, then a second "
                "person receives it."
            )
            % {"hand_off": event.get_kind_display().lower()}
        )
    if not firsts.exclude(scanned_by=actor).exists():
        raise PermissionDenied(
            gettext(
                "You made the first scan of this receipt: a second scan by the same person is not independent. "
                "Someone else scans and receives."
            )
        )


def _logger(event: CustodyEvent, logger_file: LoggerFile | None, received_at: datetime) -> list[Reading] | None:
    if event.kind not in TWO_SCAN_KINDS:
        return None
    if logger_file is None or not logger_file.content:
        if LoggerFileWaiver.objects.filter(custody_event=event).exists():
            return None
        raise ValidationError(
            {
                "logger_file": gettext(
                    "Upload the temperature logger's file to receive %(hand_off)s; without it, receipt needs QA's "
                    "signed waiver."
                )
                % {"hand_off": event.get_kind_display().lower()}
            }
        )
    model = TemperatureLoggerModel.objects.filter(name=logger_file.logger_model).first()
    if model is None:
        raise ValidationError(
            {
                "logger_model": gettext("Unknown logger model %(logger_model)s.")
                % {"logger_model": f"{logger_file.logger_model!r}"}
            }
        )
    readings = logger_readings(logger_file.content, model)
    require_coverage(readings, start=event.handed_over_at, end=received_at, slack=COVERAGE_SLACK)
    return readings


def custody_receive(
    *,
    actor: User,
    custody_event_id: int,
    scanned_data: str,
    received_at: datetime,
    temperature_c: Decimal,
    late_entry_reason: str = "",
    document_scan: str = "",
    override: KeyedOverride | None = None,
    logger_file: LoggerFile | None = None,
    alert_reason: str = "",
) -> CustodyEvent:
    """Take custody: the second independent scan, the logger's file, the temperature at receipt (in its
    alert range only with ``alert_reason``)."""
    event = _event(custody_event_id)
    _, receivers, _ = HAND_OFF_RULES[event.kind]
    require_role(actor, *receivers, action=f"Receiving ({event.get_kind_display()})")
    _check_receipt(event, actor=actor, received_at=received_at, late_entry_reason=late_entry_reason)
    temperature, alerts = check_temperature(
        event.batch, temperature_c, kind=event.kind, field="temperature_c", alert_reason=alert_reason
    )
    two_people = _two_people(event)
    scans = [scanned_data]
    if event.kind in TWO_SCAN_KINDS and not two_people:
        scans.append(document_scan)  # the bag and its accompanying document
    for data, field in zip(scans, ("scanned_data", "document_scan")[: len(scans)], strict=True):
        require_matching_scan(
            batch=event.batch,
            point=ScanPoint.RECEIPT,
            actor=actor,
            scanned_data=data,
            event=event,
            override=override,
            field=field,
        )
    if two_people:
        _require_another_first_scan(event, actor=actor)
    readings = _logger(event, logger_file, received_at)
    return _received(
        actor=actor,
        event_id=event.pk,
        scans=scans,
        received_at=received_at,
        temperature=temperature,
        late_entry_reason=late_entry_reason,
        override=override,
        logger=(logger_file, readings) if logger_file and readings else None,
        alerts=(alerts, alert_reason),
    )


@transaction.atomic
def _received(
    *,
    actor: User,
    event_id: int,
    scans: list[str],
    received_at: datetime,
    temperature: Decimal,
    late_entry_reason: str,
    override: KeyedOverride | None,
    logger: tuple[LoggerFile, list[Reading]] | None,
    alerts: tuple[list[rl.AlertFinding], str],
) -> CustodyEvent:
    batch = lock_batch(CustodyEvent.objects.values_list("batch_id", flat=True).get(pk=event_id))
    event = CustodyEvent.objects.select_for_update().get(pk=event_id)
    _check_receipt(event, actor=actor, received_at=received_at, late_entry_reason=late_entry_reason)
    with audit_context(actor, reason=f"custody received: {HandOff(event.kind).label}"):
        for data in scans:
            record_matched_scan(
                batch=batch, point=ScanPoint.RECEIPT, actor=actor, scanned_data=data, event=event, override=override
            )
        findings, alert_reason = alerts
        source = f"{HandOff(event.kind).label}: receipt"
        rl.exceptions_record(batch=batch, actor=actor, source=source, findings=findings, reason=alert_reason)
        event.received_by = actor
        event.received_at = received_at
        event.temperature_at_receipt_c = temperature
        event.scanned_identifier = scans[0].strip()[:40]
        if late_entry_reason.strip():
            event.notes = f"{event.notes}\nLate entry of receipt: {late_entry_reason.strip()}".strip()
        log = _keep_log(event, actor, logger) if logger else None
        if log is not None and log.excursion:
            event.held = True
            event.hold_reason = (
                f"Temperature excursion in transport: {log.file_name}, {log.minutes_outside} min outside."
            )
        event.save(
            update_fields=[
                "received_by",
                "received_at",
                "temperature_at_receipt_c",
                "scanned_identifier",
                "notes",
                "held",
                "hold_reason",
            ]
        )
        if log is not None and log.excursion:
            transport_excursion.send(sender=CustodyEvent, event=event, log=log, actor=actor)
    return event


def _keep_log(event: CustodyEvent, actor: User, logger: tuple[LoggerFile, list[Reading]]) -> ShipmentTemperatureLog:
    upload, readings = logger
    definition = event.batch.process_definition
    transport = definition.transport_range  # kept as the log's columns store it: one decimal
    low, high = transport.low.quantize(Decimal("0.1")), transport.high.quantize(Decimal("0.1"))
    allowed = definition.transport_minutes_outside
    # Only the journey is judged: the logger may have been started before the hand-over and stopped after.
    start, end = event.handed_over_at, event.received_at or timezone.now()
    journey = [r for r in readings if start <= r[0] <= end] or readings
    verdict = judge(journey, low=low, high=high, allowed_minutes=allowed)
    return ShipmentTemperatureLog.objects.create(
        custody_event=event,
        logger_model=TemperatureLoggerModel.objects.get(name=upload.logger_model),
        file_name=upload.name[:200],
        file_sha256=hashlib.sha256(upload.content).hexdigest(),
        content=upload.content.decode("utf-8-sig"),
        readings=[[at.isoformat(), str(value)] for at, value in readings],
        range_low_c=low,
        range_high_c=high,
        allowed_minutes_outside=allowed,
        minimum_c=verdict.minimum,
        maximum_c=verdict.maximum,
        minutes_outside=verdict.minutes_outside,
        excursion=verdict.excursion,
        uploaded_by=actor,
    )


@transaction.atomic
def logger_waiver_grant(
    *, actor: User, custody_event_id: int, reason: str, password: str, otp_token: str = ""
) -> LoggerFileWaiver:
    """QA lets a hand-off be received without its logger file (signed, with the reason)."""
    require_role(actor, Role.QA_REVIEWER, action="Waiving the temperature logger file")
    confirm_password(actor, password, otp_token=otp_token)
    why = require_reason(reason, what="receive without the logger file")
    event = _event(custody_event_id)
    batch = lock_batch(event.batch_id)
    if event.is_received or LoggerFileWaiver.objects.filter(custody_event=event).exists():
        raise StateConflict(gettext("%(event)s is received already or has its waiver.") % {"event": event})
    with audit_context(actor, reason=f"logger file waived: {why}"):
        waiver = LoggerFileWaiver.objects.create(custody_event=event, reason=why, authorized_by=actor)
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.APPROVED,
        target=waiver,
        batch=batch,
    )
    return waiver


@transaction.atomic
def custody_hold_release(
    *, actor: User, custody_event_id: int, reason: str, password: str, otp_token: str = ""
) -> CustodyEvent:
    """QA lifts the hold of an excursion once assessed (signed; the deviation keeps the investigation)."""
    require_role(actor, Role.QA_REVIEWER, action="Releasing a receipt held for an excursion")
    confirm_password(actor, password, otp_token=otp_token)
    why = require_reason(reason, what="lift a hold")
    batch = lock_batch(_event(custody_event_id).batch_id)
    event = CustodyEvent.objects.select_for_update().get(pk=custody_event_id)
    if not event.held:
        raise StateConflict(gettext("%(event)s is not on hold.") % {"event": event})
    with audit_context(actor, reason=f"hold lifted: {why}"):
        event.held = False
        event.hold_reason = f"{event.hold_reason}\nHold lifted by {actor}: {why}"[:2000]
        event.save(update_fields=["held", "hold_reason"])
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.APPROVED,
        target=event,
        batch=batch,
    )
    return event
