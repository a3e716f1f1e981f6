"""Chain of identity and custody: identifiers at collection, hand-offs proved by a scan, shelf life.

A scan that does not match the batch blocks its step. The refusal is written as an IdentityScan in
its own transaction before the error is raised, so the attempt stays on record (and in the audit
trail) although nothing else is saved. Services are entry points: callers do not wrap them in a
transaction of their own, or a refused scan would be rolled back with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from batches import formatting, isbt128
from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import Batch, CustodyEvent, ExpiredUseAuthorization, IdentityScan, PatientIdentity
from batches.models.custody import HandOff, ScanPoint
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services.common import check_event_time, confirm_password, identifier_next, lock_batch
from batches.services.signatures import signature_sign
from batches.states import BatchStatus

TEMPERATURE_RANGE = (Decimal("-196"), Decimal("45"))

# Who hands over and who receives each kind of hand-off, and in which batch states it may happen.
HAND_OFF_RULES: dict[str, tuple[tuple[Role, ...], tuple[Role, ...], tuple[BatchStatus, ...]]] = {
    HandOff.COLLECTION_TO_LAB: ((Role.OPERATOR,), (Role.OPERATOR,), (BatchStatus.COLLECTION, BatchStatus.PROCESSING)),
    HandOff.LAB_TO_QC: ((Role.OPERATOR,), (Role.QC_ANALYST,), (BatchStatus.PROCESSING, BatchStatus.QUARANTINE)),
    HandOff.LAB_TO_RADIOLOGY: ((Role.OPERATOR,), (Role.CLINICIAN,), (BatchStatus.DISPATCHED,)),
}


def identifiers_allocate(*, batch: Batch, actor: User) -> Batch:
    """Give a locked batch its DIN, and its patient a chain-of-identity identifier, at collection."""
    if batch.din:
        return batch
    fin = isbt128.validate_fin(settings.CELLBATCH_FACILITY_ID)
    year = timezone.localdate().year
    sequence = identifier_next(kind="din", scope=fin, year=year)
    if sequence > isbt128.SEQUENCE_MAX:
        raise StateConflict(f"DIN sequence for facility {fin} in {year} is exhausted.")
    din = isbt128.format_din(fin=fin, year=year, sequence=sequence)
    with audit_context(actor, reason="ISBT 128 DIN allocated at collection"):
        Batch.objects.filter(pk=batch.pk, din__isnull=True).update(din=din)
        batch.din = din
        if not PatientIdentity.objects.filter(patient_id=batch.patient_id).exists():
            serial = f"{identifier_next(kind='coi', scope=fin, year=year):06d}"
            PatientIdentity.objects.create(
                patient_id=batch.patient_id, coi_identifier=isbt128.coi_identifier(fin=fin, year=year, serial=serial)
            )
    return batch


def expires_at(batch: Batch) -> datetime | None:
    """End of processing + the process definition's shelf life; None before processing ends."""
    if batch.end_of_processing_at is None:
        return None
    return batch.end_of_processing_at + timedelta(hours=batch.process_definition.shelf_life_hours)


def require_within_shelf_life(batch: Batch, at: datetime, *, action: str) -> ExpiredUseAuthorization | None:
    """Refuse ``action`` at ``at`` past expiry unless QA authorised it under a documented deviation."""
    expiry = expires_at(batch)
    if expiry is None:
        raise StateConflict(f"{action}: batch {batch.batch_number} has no end of processing, so no expiry.")
    if at <= expiry:
        return None
    authorization = (
        ExpiredUseAuthorization.objects.filter(batch=batch, valid_until__gte=at).order_by("-authorized_at").first()
    )
    if authorization is None:
        raise StateConflict(
            f"{action} refused: batch {batch.batch_number} expired at {formatting.moment(expiry)} "
            f"(shelf life {batch.process_definition.shelf_life_hours} h from end of processing). "
            "Use past expiry needs a documented deviation authorised by QA."
        )
    return authorization


def check_temperature(value: Decimal, *, field: str) -> Decimal:
    low, high = TEMPERATURE_RANGE
    if value is None or not low <= Decimal(value) <= high:
        raise ValidationError({field: f"Temperature {value} °C is outside the plausible range {low} to {high} °C."})
    return Decimal(value)


def scan_refusal(batch: Batch, scanned_data: str) -> str | None:
    """Why ``scanned_data`` does not identify ``batch`` (None when it does)."""
    if not batch.din:
        return f"Batch {batch.batch_number} has no DIN yet; it cannot be identified by scan."
    try:
        scanned = isbt128.parse_din_scan(scanned_data)
    except isbt128.IdentifierError as exc:
        return str(exc)
    if scanned.value != batch.din:
        return (
            f"Wrong product: the scan reads DIN {scanned.value} but batch {batch.batch_number} is DIN {batch.din}. "
            "Stop: do not accept or use this bag."
        )
    return None


def record_refused_scan(
    *, batch: Batch, point: ScanPoint, actor: User, scanned_data: str, message: str, event: CustodyEvent | None = None
) -> IdentityScan:
    """Write the refused scan in its own transaction, so that it stays when the step is then blocked."""
    with transaction.atomic(), audit_context(actor, reason=f"identity scan refused: {message}"):
        return IdentityScan.objects.create(
            batch=batch,
            point=point,
            custody_event=event,
            scanned_data=(scanned_data or "")[:80],
            expected=batch.din or "",
            matched=False,
            message=message,
            scanned_by=actor,
        )


def require_matching_scan(
    *, batch: Batch, point: ScanPoint, actor: User, scanned_data: str, event: CustodyEvent | None = None
) -> None:
    """Block the step on a scan that does not identify ``batch``, leaving a record of the attempt."""
    message = scan_refusal(batch, scanned_data)
    if message is not None:
        record_refused_scan(
            batch=batch, point=point, actor=actor, scanned_data=scanned_data, message=message, event=event
        )
        raise ValidationError({"scanned_data": message})


def record_matched_scan(
    *, batch: Batch, point: ScanPoint, actor: User, scanned_data: str, event: CustodyEvent | None = None
) -> IdentityScan:
    return IdentityScan.objects.create(
        batch=batch,
        point=point,
        custody_event=event,
        scanned_data=scanned_data.strip()[:80],
        expected=batch.din or "",
        matched=True,
        scanned_by=actor,
    )


@transaction.atomic
def custody_hand_over(
    *,
    actor: User,
    batch_id: int,
    kind: str,
    from_location: str,
    to_location: str,
    handed_over_at: datetime,
    temperature_c: Decimal,
    sample_reference: str = "",
    notes: str = "",
) -> CustodyEvent:
    """Hand the product (or a QC sample) over; custody passes when the receiver scans it."""
    if kind not in HandOff.values:
        raise ValidationError({"kind": f"Unknown hand-off {kind!r}; choose one of {', '.join(HandOff.values)}."})
    if kind == HandOff.LAB_TO_RADIOLOGY:
        raise ValidationError(
            {"kind": _("The hand-over to interventional radiology is the dispatch of a released batch.")}
        )
    giver_roles, _receivers, states = HAND_OFF_RULES[kind]
    require_role(actor, *giver_roles, action=f"Handing over ({HandOff(kind).label})")
    batch = lock_batch(batch_id)
    if batch.status not in states:
        raise StateConflict(
            f"{HandOff(kind).label} is possible only while batch {batch.batch_number} is "
            f"{' or '.join(BatchStatus(s).label.lower() for s in states)}; it is {batch.get_status_display().lower()}."
        )
    if not batch.din:
        raise StateConflict(f"Batch {batch.batch_number} has no DIN yet; label the bag at collection first.")
    if kind == HandOff.LAB_TO_QC and not sample_reference.strip():
        raise ValidationError({"sample_reference": _("A QC sample hand-off names the sample.")})
    if not from_location.strip() or not to_location.strip():
        raise ValidationError({"to_location": _("Both the place handed from and the place handed to are required.")})
    check_event_time(handed_over_at, field="handed_over_at", late_entry_reason=notes)
    temperature = check_temperature(temperature_c, field="temperature_c")
    with audit_context(actor, reason=f"custody hand-over: {HandOff(kind).label}"):
        return CustodyEvent.objects.create(
            batch=batch,
            kind=kind,
            from_location=from_location.strip(),
            to_location=to_location.strip(),
            sample_reference=sample_reference.strip(),
            handed_over_by=actor,
            handed_over_at=handed_over_at,
            temperature_at_handover_c=temperature,
            notes=notes,
        )


def custody_receive(
    *,
    actor: User,
    custody_event_id: int,
    scanned_data: str,
    received_at: datetime,
    temperature_c: Decimal,
    late_entry_reason: str = "",
) -> CustodyEvent:
    """Take custody: the receiver scans the bag; a scan that is not this batch's DIN blocks the receipt."""
    event = CustodyEvent.objects.select_related("batch").get(pk=custody_event_id)
    _givers, receiver_roles, _states = HAND_OFF_RULES[event.kind]
    require_role(actor, *receiver_roles, action=f"Receiving ({event.get_kind_display()})")
    _check_receipt(event, actor=actor, received_at=received_at, late_entry_reason=late_entry_reason)
    temperature = check_temperature(temperature_c, field="temperature_c")
    require_matching_scan(
        batch=event.batch, point=ScanPoint.RECEIPT, actor=actor, scanned_data=scanned_data, event=event
    )
    return _custody_receive_matched(
        actor=actor,
        event_id=event.pk,
        scanned_data=scanned_data,
        received_at=received_at,
        temperature=temperature,
        late_entry_reason=late_entry_reason,
    )


def _check_receipt(event: CustodyEvent, *, actor: User, received_at: datetime, late_entry_reason: str) -> None:
    if event.is_received:
        raise StateConflict(
            f"{event} was already received by {event.received_by} at {formatting.moment(event.received_at)}."
        )
    if event.handed_over_by_id == actor.pk:
        raise PermissionDenied(_("Custody passes between two people: you handed this over, someone else receives it."))
    check_event_time(received_at, field="received_at", late_entry_reason=late_entry_reason)
    if received_at < event.handed_over_at:
        raise ValidationError({"received_at": _("Receipt cannot be before the hand-over.")})


@transaction.atomic
def _custody_receive_matched(
    *,
    actor: User,
    event_id: int,
    scanned_data: str,
    received_at: datetime,
    temperature: Decimal,
    late_entry_reason: str,
) -> CustodyEvent:
    batch = lock_batch(CustodyEvent.objects.values_list("batch_id", flat=True).get(pk=event_id))
    event = CustodyEvent.objects.select_for_update().get(pk=event_id)
    _check_receipt(event, actor=actor, received_at=received_at, late_entry_reason=late_entry_reason)
    with audit_context(actor, reason=f"custody received: {event.get_kind_display()}"):
        record_matched_scan(batch=batch, point=ScanPoint.RECEIPT, actor=actor, scanned_data=scanned_data, event=event)
        event.received_by = actor
        event.received_at = received_at
        event.temperature_at_receipt_c = temperature
        event.scanned_identifier = scanned_data.strip()[:40]
        if late_entry_reason.strip():
            event.notes = f"{event.notes}\nLate entry of receipt: {late_entry_reason.strip()}".strip()
        event.save(
            update_fields=["received_by", "received_at", "temperature_at_receipt_c", "scanned_identifier", "notes"]
        )
    return event


@transaction.atomic
def expired_use_authorize(
    *,
    actor: User,
    batch_id: int,
    deviation_reference: str,
    reason: str,
    valid_until: datetime,
    password: str,
    otp_token: str = "",
) -> ExpiredUseAuthorization:
    """QA authorises, under a documented deviation, dispatch or infusion of an expired product (signed)."""
    require_role(actor, Role.QA_REVIEWER, action="Authorising use of an expired product")
    confirm_password(actor, password, otp_token=otp_token)
    reason = require_reason(reason, what="authorise use past expiry")
    if not deviation_reference.strip():
        raise ValidationError({"deviation_reference": _("Name the documented deviation that covers this use.")})
    batch = lock_batch(batch_id)
    allowed = (BatchStatus.RELEASED, BatchStatus.CONDITIONALLY_RELEASED, BatchStatus.DISPATCHED)
    if batch.status not in allowed:
        raise StateConflict(
            f"Batch {batch.batch_number} is {batch.get_status_display().lower()}; nothing to authorise."
        )
    expiry = expires_at(batch)
    if expiry is None or valid_until <= expiry:
        raise ValidationError({"valid_until": _("The authorisation must extend beyond the product's expiry.")})
    with audit_context(actor, reason=f"expired use authorised under {deviation_reference.strip()}: {reason}"):
        authorization = ExpiredUseAuthorization.objects.create(
            batch=batch,
            deviation_reference=deviation_reference.strip(),
            reason=reason,
            valid_until=valid_until,
            authorized_by=actor,
        )
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.APPROVED,
        target=authorization,
        batch=batch,
    )
    return authorization
