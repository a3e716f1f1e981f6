"""The equipment register: items, their calibration and maintenance records, QA's status decisions, and
the kinds of equipment each step of a process definition must name.

The rules that refuse an item at a step (out of service, past a due date, a workstation occupied) are
the step guards' (batches.services.step_inputs).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import (
    Equipment,
    EquipmentKind,
    EquipmentRecord,
    EquipmentStatus,
    RecordKind,
    RecordOutcome,
    StepEquipmentRequirement,
)
from batches.models.signatures import SignatureMeaning
from batches.roles import Domain, Role, require_role
from batches.services.common import confirm_password
from batches.services.materials import KEEPER_ROLES, requirement_guard
from batches.services.signatures import signature_sign


@transaction.atomic
def equipment_register(*, actor: User, values: dict[str, Any]) -> Equipment:
    """Add an item to the register (in service; its due dates come from its records afterwards)."""
    require_role(actor, *KEEPER_ROLES, action="Registering equipment", domain=Domain.MASTER_DATA)
    item = Equipment(**values)
    item.code = item.code.strip()
    item.full_clean()
    with audit_context(actor, reason=f"equipment {item.code} registered"):
        item.save()
    return item


@transaction.atomic
def equipment_record_add(
    *,
    actor: User,
    equipment_id: int,
    kind: str,
    performed_on: date,
    outcome: str,
    certificate_reference: str,
    password: str,
    next_due: date | None = None,
    notes: str = "",
    otp_token: str = "",
) -> EquipmentRecord:
    """Record a calibration or maintenance (signed).

    A pass sets the next due date; a fail takes the item out of service.
    """
    require_role(actor, *KEEPER_ROLES, action="Recording a calibration or maintenance", domain=Domain.MASTER_DATA)
    confirm_password(actor, password, otp_token=otp_token)
    item = Equipment.objects.select_for_update().get(pk=equipment_id)
    errors: dict[str, str] = {}
    if kind not in RecordKind.values:
        errors["kind"] = f"One of {', '.join(RecordKind.values)}."
    if outcome not in RecordOutcome.values:
        errors["outcome"] = f"One of {', '.join(RecordOutcome.values)}."
    if performed_on > timezone.localdate():
        errors["performed_on"] = f"{performed_on:%Y-%m-%d} is in the future."
    if outcome == RecordOutcome.PASS and (next_due is None or next_due <= performed_on):
        errors["next_due"] = "A pass sets the next due date, after the day it was performed."
    if errors:
        raise ValidationError(errors)
    record = EquipmentRecord(
        equipment=item,
        kind=kind,
        performed_on=performed_on,
        outcome=outcome,
        next_due=next_due if outcome == RecordOutcome.PASS else None,
        certificate_reference=certificate_reference.strip(),
        notes=notes.strip(),
        recorded_by=actor,
    )
    record.full_clean()
    label = RecordKind(kind).label.lower()
    with audit_context(actor, reason=f"{label} of {item.code} on {performed_on:%Y-%m-%d}: {outcome}"):
        record.save()
        if outcome == RecordOutcome.PASS:
            setattr(item, f"{kind}_due", next_due)
        else:
            item.status = EquipmentStatus.OUT_OF_SERVICE
        item.save()
    signature_sign(
        signer=actor, password=password, password_checked=True, meaning=SignatureMeaning.PERFORMED, target=record
    )
    return record


@transaction.atomic
def equipment_status_set(
    *, actor: User, equipment_id: int, status: str, reason: str, password: str, otp_token: str = ""
) -> Equipment:
    """QA puts an item in or out of service, or in quarantine (signed, with a reason)."""
    require_role(actor, Role.QA_REVIEWER, action="Changing an equipment status", domain=Domain.MASTER_DATA)
    confirm_password(actor, password, otp_token=otp_token)
    item = Equipment.objects.select_for_update().get(pk=equipment_id)
    if status not in EquipmentStatus.values:
        raise ValidationError({"status": gettext("One of %(value)s.") % {"value": ", ".join(EquipmentStatus.values)}})
    if status == item.status:
        raise StateConflict(f"{item.code} is already {item.get_status_display().lower()}.")
    text = require_reason(reason, what=f"change the status of {item.code}")
    today = timezone.localdate()
    if status == EquipmentStatus.IN_SERVICE:
        for label, due in (("calibration", item.calibration_due), ("maintenance", item.maintenance_due)):
            if due is not None and due < today:
                raise ValidationError(
                    {
                        "status": f"{item.code} was due for {label} on {due:%Y-%m-%d}; "
                        "record it before returning it to service."
                    }
                )
    with audit_context(actor, reason=f"{item.code} {EquipmentStatus(status).label.lower()}: {text}"):
        item.status = status
        item.save()
    meaning = SignatureMeaning.APPROVED if status == EquipmentStatus.IN_SERVICE else SignatureMeaning.REJECTED
    signature_sign(signer=actor, password=password, password_checked=True, meaning=meaning, target=item)
    return item


@transaction.atomic
def equipment_requirement_add(
    *, actor: User, definition_id: int, step_kind: str, kind: str
) -> StepEquipmentRequirement:
    """Declare a kind of equipment a step of a draft process definition must name by scan."""
    definition = requirement_guard(actor, definition_id, step_kind, action="Declaring a step's equipment")
    if kind not in EquipmentKind.values:
        raise ValidationError({"kind": gettext("Unknown equipment kind %(kind)s.") % {"kind": f"{kind!r}"}})
    requirement = StepEquipmentRequirement(process_definition=definition, step_kind=step_kind, kind=kind)
    if StepEquipmentRequirement.objects.filter(process_definition=definition, step_kind=step_kind, kind=kind).exists():
        raise ValidationError(
            {"kind": f"{EquipmentKind(kind).label} is already declared for {step_kind} in {definition}."}
        )
    with audit_context(actor, reason=f"{definition} {step_kind} names a {kind}"):
        requirement.save()
    return requirement
