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
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from batches import formatting, isbt128
from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import Batch, CustodyEvent, Equipment, EquipmentKind, ExpiredUseAuthorization, PatientIdentity
from batches.models.custody import HandOff
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services import record_limits as rl
from batches.services.common import check_event_time, confirm_password, identifier_next, lock_batch
from batches.services.signatures import signature_sign
from batches.states import BatchStatus

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


def temperature_prefix(kind: str) -> str:
    """The final product travels to radiology within its transport range; other hand-offs stay in the hospital."""
    return "transport" if kind == HandOff.LAB_TO_RADIOLOGY else "handover"


def temperature_help(batch: Batch, kind: str) -> str:
    """The temperature range a hand-off of ``kind`` accepts, for its form."""
    return rl.help_text(rl.limits_of(batch).parameter(f"{temperature_prefix(kind)}.temperature_c"))


def check_temperature(
    batch: Batch, value: Decimal, *, kind: str, field: str, alert_reason: str
) -> tuple[Decimal, list[rl.AlertFinding]]:
    """The temperature against the process definition's range: outside the hard range refused; in the
    alert range only with ``alert_reason``. Returns the value and the findings to record as exceptions."""
    if value is None:
        raise ValidationError({field: "Record the temperature (°C)."})
    errors, alerts = rl.parameter_errors(batch, {"temperature_c": Decimal(value)}, prefix=temperature_prefix(kind))
    errors = {field: " ".join(errors.values())} if errors else rl.alert_reason_errors(alerts, alert_reason)
    if errors:
        raise ValidationError(errors)
    return Decimal(value), alerts


def shipper_from_register(code: str) -> Equipment | None:
    """The shipper named by its register code (scanned), refused unless it is an in-service shipper."""
    if not (code or "").strip():
        return None
    shipper = Equipment.objects.filter(code=code.strip()).first()
    if shipper is None or shipper.kind != EquipmentKind.SHIPPER:
        raise ValidationError({"shipper_code": f"{code!r} is not a shipper of the equipment register."})
    if shipper.status != "in_service":
        raise ValidationError({"shipper_code": f"Shipper {shipper.code} is {shipper.get_status_display().lower()}."})
    return shipper


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
    alert_reason: str = "",
    shipper_code: str = "",
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
    label = HandOff(kind).label
    temperature, alerts = check_temperature(
        batch, temperature_c, kind=kind, field="temperature_c", alert_reason=alert_reason
    )
    with audit_context(actor, reason=f"custody hand-over: {label}"):
        rl.exceptions_record(
            batch=batch, actor=actor, source=f"{label}: hand-over", findings=alerts, reason=alert_reason
        )
    shipper = shipper_from_register(shipper_code)
    with audit_context(actor, reason=f"custody hand-over: {label}"):
        return CustodyEvent.objects.create(
            shipper=shipper,
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
