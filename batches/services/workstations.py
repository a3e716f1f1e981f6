"""Workstations between patients and under monitoring: line clearances (operator, verified by QA) and
environmental monitoring sessions with their samples; the process definition's alert and action levels.

The results of the samples are QC's to record (qc.services.environment), which opens the deviations.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import (
    Equipment,
    EquipmentUse,
    LineClearance,
    MonitoringLimit,
    MonitoringSample,
    MonitoringSession,
    SampleKind,
)
from batches.models.signatures import SignatureMeaning
from batches.roles import Domain, Role, require_role
from batches.services.common import CLOCK_SKEW, check_event_time, confirm_password
from batches.services.materials import DEFINITION_ROLES, draft_definition
from batches.services.signatures import signature_sign
from batches.services.step_inputs import WORKSTATION_KINDS

# (kind, sample code, location) of one plate or air sample.
SampleSpec = tuple[str, str, str]


def _workstation(workstation_id: int) -> Equipment:
    item = Equipment.objects.select_for_update().get(pk=workstation_id)
    if item.kind not in WORKSTATION_KINDS:
        raise ValidationError(
            {"workstation": f"{item.code} is a {item.get_kind_display().lower()}, not a workstation."}
        )
    return item


@transaction.atomic
def line_clearance_record(
    *,
    actor: User,
    workstation_id: int,
    performed_at: datetime,
    product_removed: bool,
    surfaces_cleaned: bool,
    password: str,
    notes: str = "",
    late_entry_reason: str = "",
    otp_token: str = "",
) -> LineClearance:
    """The operator's signed line clearance after a patient's product left the workstation."""
    require_role(actor, Role.OPERATOR, action="Recording a line clearance")
    confirm_password(actor, password, otp_token=otp_token)
    workstation = _workstation(workstation_id)
    check_event_time(performed_at, field="performed_at", late_entry_reason=late_entry_reason)
    missing = {
        name: "Confirm this before signing the line clearance."
        for name, done in (("product_removed", product_removed), ("surfaces_cleaned", surfaces_cleaned))
        if not done
    }
    if missing:
        raise ValidationError(missing)
    last = EquipmentUse.objects.filter(equipment=workstation).select_related("batch").order_by("-used_until").first()
    if last is not None and last.used_until > performed_at:
        raise ValidationError(
            {
                "performed_at": f"Batch {last.batch.batch_number} used {workstation.code} until "
                f"{last.used_until:%Y-%m-%d %H:%M} UTC; the clearance comes after it."
            }
        )
    with audit_context(actor, reason=f"line clearance of {workstation.code}"):
        clearance = LineClearance.objects.create(
            workstation=workstation,
            previous_batch=last.batch if last is not None else None,
            performed_at=performed_at,
            product_removed=True,
            surfaces_cleaned=True,
            notes=notes.strip(),
            performed_by=actor,
        )
    signature_sign(
        signer=actor, password=password, password_checked=True, meaning=SignatureMeaning.PERFORMED, target=clearance
    )
    return clearance


@transaction.atomic
def line_clearance_verify(*, actor: User, clearance_id: int, password: str, otp_token: str = "") -> LineClearance:
    """QA verifies the clearance (signed, meaning approved); afterwards another patient's step may start."""
    require_role(actor, Role.QA_REVIEWER, action="Verifying a line clearance", domain=Domain.MASTER_DATA)
    confirm_password(actor, password, otp_token=otp_token)
    clearance = LineClearance.objects.select_for_update().get(pk=clearance_id)
    if clearance.is_verified:
        raise StateConflict(gettext("%(clearance)s is already verified.") % {"clearance": clearance})
    if clearance.performed_by_id == actor.pk:
        raise ValidationError(gettext("You performed this line clearance; someone else from QA verifies it."))
    with audit_context(actor, reason=f"verify line clearance #{clearance.pk} of {clearance.workstation.code}"):
        clearance.verified_by = actor
        clearance.verified_at = timezone.now()
        clearance.save(update_fields=["verified_by", "verified_at"])
    signature_sign(
        signer=actor, password=password, password_checked=True, meaning=SignatureMeaning.APPROVED, target=clearance
    )
    return clearance


def _not_future(value: datetime, *, field: str) -> None:
    """A session's times are written on its plates when they are exposed: never in the future."""
    if value > timezone.now() + CLOCK_SKEW:
        raise ValidationError({field: f"{timezone.localtime(value):%Y-%m-%d %H:%M} is in the future (server time)."})


def _add_samples(session: MonitoringSession, samples: Iterable[SampleSpec]) -> list[MonitoringSample]:
    added = []
    for kind, code, location in samples:
        if kind not in SampleKind.values:
            raise ValidationError({"samples": f"Unknown sample kind {kind!r}; one of {', '.join(SampleKind.values)}."})
        code = code.strip()
        if MonitoringSample.objects.filter(sample_code=code).exists():
            raise ValidationError({"samples": gettext("Sample %(code)s is already recorded.") % {"code": code}})
        sample = MonitoringSample(session=session, kind=kind, sample_code=code, location=location.strip())
        sample.full_clean(exclude=["session"])
        sample.save()
        added.append(sample)
    return added


@transaction.atomic
def monitoring_session_open(
    *, actor: User, workstation_id: int, opened_at: datetime, samples: Iterable[SampleSpec]
) -> MonitoringSession:
    """Start monitoring a workstation: at least one settle plate and one active air sample, with their ids."""
    require_role(actor, Role.OPERATOR, action="Opening an environmental monitoring session")
    workstation = _workstation(workstation_id)
    _not_future(opened_at, field="opened_at")
    samples = list(samples)
    kinds = {kind for kind, _, _ in samples}
    needed = [
        label
        for kind, label in (
            (SampleKind.SETTLE_PLATE, "a settle plate"),
            (SampleKind.AIR_SAMPLE, "an active air sample"),
        )
        if kind not in kinds
    ]
    if needed:
        raise ValidationError(
            {"samples": gettext("A session starts with %(value)s.") % {"value": " and ".join(needed)}}
        )
    if MonitoringSession.objects.filter(workstation=workstation, closed_at__isnull=True).exists():
        raise StateConflict(
            gettext("%(code)s has an open monitoring session; close it first.") % {"code": workstation.code}
        )
    with audit_context(actor, reason=f"monitoring of {workstation.code} started"):
        session = MonitoringSession.objects.create(workstation=workstation, opened_at=opened_at, opened_by=actor)
        _add_samples(session, samples)
    return session


@transaction.atomic
def monitoring_session_close(
    *, actor: User, session_id: int, closed_at: datetime, samples: Iterable[SampleSpec] = ()
) -> MonitoringSession:
    """End the session, adding the samples taken at the end (contact plates of gloves and surfaces)."""
    require_role(actor, Role.OPERATOR, action="Closing an environmental monitoring session")
    session = MonitoringSession.objects.select_for_update().get(pk=session_id)
    if session.closed_at is not None:
        raise StateConflict(gettext("%(session)s is already closed.") % {"session": session})
    _not_future(closed_at, field="closed_at")
    if closed_at <= session.opened_at:
        raise ValidationError({"closed_at": gettext("A session closes after it opened.")})
    running = EquipmentUse.objects.filter(equipment=session.workstation, used_until__gt=closed_at).first()
    if running is not None:
        raise ValidationError(
            {
                "closed_at": gettext("Batch %(batch_number)s's step on it ends later.")
                % {"batch_number": running.batch.batch_number}
            }
        )
    with audit_context(actor, reason=f"monitoring of {session.workstation.code} ended"):
        _add_samples(session, samples)
        session.closed_at = closed_at
        session.closed_by = actor
        session.save()
    return session


@transaction.atomic
def monitoring_limit_set(
    *, actor: User, definition_id: int, kind: str, alert_cfu: int, action_cfu: int
) -> MonitoringLimit:
    """The alert and action levels of one kind of sample in a draft process definition."""
    require_role(actor, *DEFINITION_ROLES, action="Setting monitoring levels", domain=Domain.MASTER_DATA)
    definition = draft_definition(definition_id)
    limit = MonitoringLimit(process_definition=definition, kind=kind, alert_cfu=alert_cfu, action_cfu=action_cfu)
    limit.full_clean(validate_unique=False, validate_constraints=False)
    if not 1 <= alert_cfu <= action_cfu:
        raise ValidationError(
            {"action_cfu": gettext("The alert level is at least 1 CFU and the action level not below it.")}
        )
    if MonitoringLimit.objects.filter(process_definition=definition, kind=kind).exists():
        raise ValidationError(
            {
                "kind": gettext("%(definition)s already has levels for %(sample_kind)s.")
                % {"definition": definition, "sample_kind": SampleKind(kind).label}
            }
        )
    with audit_context(actor, reason=f"{definition} monitoring levels for {kind}"):
        limit.save()
    return limit
