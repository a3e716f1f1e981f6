"""What a step may use: the guards on scanned lots, equipment and workstations, and the use rows they leave.

One guard each, used by every step service whatever the entry point (admin form, API, demo):
- ``lot_usable``: released, of the grade the step requires or higher, not expiring before the step ends,
  enough left;
- ``equipment_usable``: in service, calibration and maintenance not due before the step ends;
- ``workstation_free``: no other patient's product open on it during the step, a verified line
  clearance since another patient's last use, and, on a grade A workstation, a monitoring session
  that covers the step.

A refusal names the lot, the item, the date or the batch; nothing is written until every check passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context
from batches.models import (
    GRADE_RANK,
    AreaGrade,
    Batch,
    Equipment,
    EquipmentKind,
    EquipmentStatus,
    EquipmentUse,
    LineClearance,
    LotStatus,
    LotUse,
    MaterialGrade,
    MaterialLot,
    MonitoringSession,
    StepEquipmentRequirement,
    StepMaterialRequirement,
)

# Workstations: the equipment on which a patient's product is open (one patient at a time).
WORKSTATION_KINDS = frozenset({EquipmentKind.BIOSAFETY_CABINET})


@dataclass(frozen=True)
class Window:
    """When a step ran: the inputs must be fit for use until its end."""

    start: datetime
    end: datetime

    def describe(self) -> str:
        """``2026-11-30 09:00–10:10``; ``2026-11-30 23:30–2026-12-01 00:40`` when it runs past midnight."""
        start, end = timezone.localtime(self.start), timezone.localtime(self.end)
        until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
        return f"{start:%Y-%m-%d %H:%M}–{until}"


def _day(value: datetime) -> str:
    return f"{timezone.localdate(value):%Y-%m-%d}"


def lot_remaining(lot: MaterialLot) -> Decimal:
    used = lot.uses.aggregate(total=Sum("quantity"))["total"] or Decimal(0)
    return lot.quantity_received - used


def lot_usable(lot: MaterialLot, *, grade: str, quantity: Decimal, until: datetime) -> str:
    """Why ``lot`` may not be used by a step that needs ``grade`` and ends at ``until`` ('' when it may)."""
    name = f"Lot {lot.code} ({lot.material.name}, supplier lot {lot.supplier_lot})"
    if lot.status != LotStatus.RELEASED:
        return gettext("%(name)s is %(status)s, not released by QA; it cannot be used.") % {
            "name": name,
            "status": lot.get_status_display().lower(),
        }
    if GRADE_RANK[MaterialGrade(lot.material.grade)] < GRADE_RANK[MaterialGrade(grade)]:
        return (
            f"{name} is {lot.material.get_grade_display().lower()}; this step requires "
            f"{MaterialGrade(grade).label.lower()} or higher."
        )
    if lot.expiry_date < timezone.localdate(until):
        return gettext("%(name)s expires on %(expiry_date)s, before the step ends on %(until)s.") % {
            "name": name,
            "expiry_date": f"{lot.expiry_date:%Y-%m-%d}",
            "until": _day(until),
        }
    remaining = lot_remaining(lot)
    if remaining < quantity:
        return gettext("%(name)s has %(remaining)s %(unit)s left; this step uses %(quantity)s.") % {
            "name": name,
            "remaining": remaining,
            "unit": lot.material.unit,
            "quantity": quantity,
        }
    return ""


def equipment_usable(item: Equipment, *, until: datetime) -> str:
    """Why ``item`` may not be used by a step that ends at ``until`` ('' when it may)."""
    if item.status != EquipmentStatus.IN_SERVICE:
        return gettext("%(code)s (%(name)s) is %(status)s; it cannot be used.") % {
            "code": item.code,
            "name": item.name,
            "status": item.get_status_display().lower(),
        }
    day = timezone.localdate(until)
    for label, due in (("calibration", item.calibration_due), ("maintenance", item.maintenance_due)):
        if due is not None and due < day:
            return (
                f"{item.code} ({item.name}) was due for {label} on {due:%Y-%m-%d}, "
                f"before the step ends on {_day(until)}; it cannot be used."
            )
    return ""


def _other_patients(workstation: Equipment, batch: Batch) -> models.QuerySet[EquipmentUse]:
    return (
        EquipmentUse.objects.filter(equipment=workstation)
        .exclude(batch__patient_id=batch.patient_id)
        .select_related("batch")
    )


def workstation_free(workstation: Equipment, *, batch: Batch, window: Window) -> str:
    """Why ``batch``'s open step may not run on ``workstation`` during ``window`` ('' when it may)."""
    others = _other_patients(workstation, batch)
    overlap = others.filter(used_from__lt=window.end, used_until__gt=window.start).first()
    if overlap is not None:
        return (
            f"{workstation.code} holds the open product of batch {overlap.batch.batch_number} "
            f"({overlap.step_kind}, {Window(overlap.used_from, overlap.used_until).describe()}); "
            "a second patient's step cannot run on it."
        )
    previous = others.filter(used_until__lte=window.start).order_by("-used_until").first()
    if previous is not None:
        clearances = LineClearance.objects.filter(
            workstation=workstation, performed_at__gte=previous.used_until, performed_at__lte=window.start
        )
        if not clearances.filter(verified_by__isnull=False).exists():
            pending = clearances.first()
            if pending is not None:
                return gettext("%(pending)s is not verified by QA yet; batch %(batch_number)s's step cannot start.") % {
                    "pending": pending,
                    "batch_number": batch.batch_number,
                }
            return (
                f"{workstation.code} was last used for batch {previous.batch.batch_number} "
                f"(until {timezone.localtime(previous.used_until):%Y-%m-%d %H:%M}); a line clearance must be "
                "recorded and verified by QA before another patient's step."
            )
    if workstation.area_grade == AreaGrade.A and monitoring_session_covering(workstation, window) is None:
        return (
            f"No environmental monitoring session covers {window.describe()} on {workstation.code} (grade A): "
            "open one with its settle plate and air sample ids before an open step."
        )
    return ""


def monitoring_session_covering(workstation: Equipment, window: Window) -> MonitoringSession | None:
    return (
        MonitoringSession.objects.filter(workstation=workstation, opened_at__lte=window.start)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=window.end))
        .first()
    )


@dataclass
class StepInputs:
    """The checked lots and equipment of one step, ready to be written once the step is saved."""

    batch: Batch
    kind: str
    window: Window
    lots: list[tuple[MaterialLot, Decimal]]
    equipment: list[Equipment]


def _codes(values: Iterable[str]) -> list[str]:
    return [code.strip() for code in values if code and code.strip()]


def _duplicates(codes: Sequence[str]) -> list[str]:
    return sorted({code for code in codes if codes.count(code) > 1})


def _check_lots(batch: Batch, kind: str, window: Window, codes: list[str]) -> tuple[list[str], list]:
    errors: list[str] = []
    chosen: list[tuple[MaterialLot, Decimal]] = []
    needed = {
        r.category: r
        for r in StepMaterialRequirement.objects.filter(process_definition=batch.process_definition, step_kind=kind)
    }
    found = {lot.code: lot for lot in MaterialLot.objects.filter(code__in=codes).select_related("material")}
    met: set[str] = set()
    for code in codes:
        lot = found.get(code)
        if lot is None:
            errors.append(gettext("No lot %(code)s in the register.") % {"code": code})
            continue
        category = lot.material.category
        requirement = needed.get(category)
        if requirement is None:
            errors.append(
                f"Lot {code} ({lot.material.name}, {category}) is not a material of this step "
                f"in {batch.process_definition}."
            )
            continue
        if category in met:
            errors.append(
                gettext("Two lots of %(category)s are scanned; scan the one this step uses.") % {"category": category}
            )
            continue
        met.add(category)
        why = lot_usable(lot, grade=requirement.grade, quantity=requirement.quantity, until=window.end)
        if why:
            errors.append(why)
        else:
            chosen.append((lot, requirement.quantity))
    for category, requirement in needed.items():
        if category not in met:
            errors.append(
                gettext("Scan the lot of %(category)s this step uses (%(quantity)s %(unit)s).")
                % {"category": category, "quantity": requirement.quantity, "unit": requirement.unit}
            )
    return errors, chosen


def _check_equipment(batch: Batch, kind: str, window: Window, codes: list[str]) -> tuple[list[str], list[Equipment]]:
    errors: list[str] = []
    chosen: list[Equipment] = []
    needed = set(
        StepEquipmentRequirement.objects.filter(
            process_definition=batch.process_definition, step_kind=kind
        ).values_list("kind", flat=True)
    )
    found = {item.code: item for item in Equipment.objects.filter(code__in=codes)}
    named: set[str] = set()
    for code in codes:
        item = found.get(code)
        if item is None:
            errors.append(gettext("No equipment %(code)s in the register.") % {"code": code})
            continue
        named.add(item.kind)
        why = equipment_usable(item, until=window.end)
        if not why and item.kind in WORKSTATION_KINDS:
            why = workstation_free(item, batch=batch, window=window)
        if why:
            errors.append(why)
        else:
            chosen.append(item)
    for missing in sorted(needed - named):
        errors.append(gettext("Scan the %(kind)s this step uses.") % {"kind": EquipmentKind(missing).label.lower()})
    return errors, chosen


def step_inputs_check(
    *, batch: Batch, kind: str, window: Window, lots: Iterable[str], equipment: Iterable[str]
) -> StepInputs:
    """Every scanned lot and item checked against the step's requirements; one ValidationError for all."""
    lot_codes, equipment_codes = _codes(lots), _codes(equipment)
    errors: dict[str, list[str]] = {}
    for field, codes in (("lots", lot_codes), ("equipment", equipment_codes)):
        twice = _duplicates(codes)
        if twice:
            errors.setdefault(field, []).append(f"Scanned twice: {', '.join(twice)}.")
    lot_errors, chosen_lots = _check_lots(batch, kind, window, lot_codes)
    item_errors, chosen_items = _check_equipment(batch, kind, window, equipment_codes)
    if lot_errors:
        errors.setdefault("lots", []).extend(lot_errors)
    if item_errors:
        errors.setdefault("equipment", []).extend(item_errors)
    if errors:
        raise ValidationError(errors)
    return StepInputs(batch=batch, kind=kind, window=window, lots=chosen_lots, equipment=chosen_items)


def step_inputs_record(inputs: StepInputs, *, target: models.Model, actor: User) -> None:
    """Write the use rows of a checked step (in the step service's transaction, after the step is saved)."""
    content_type = ContentType.objects.get_for_model(target)
    where = {"batch": inputs.batch, "step_kind": inputs.kind, "content_type": content_type, "object_id": target.pk}
    with audit_context(actor, reason=f"lots and equipment used at {inputs.kind}"):
        for lot, quantity in inputs.lots:
            material = lot.material
            LotUse.objects.create(
                **where,
                lot=lot,
                quantity=quantity,
                used_at=inputs.window.end,
                material_code=material.code,
                material_name=material.name,
                grade=material.grade,
                supplier_lot=lot.supplier_lot,
                expiry_date=lot.expiry_date,
                status_at_use=lot.status,
                recorded_by=actor,
            )
    equipment_uses_record(
        inputs.equipment, batch=inputs.batch, kind=inputs.kind, target=target, window=inputs.window, actor=actor
    )


def equipment_check(codes: Iterable[str], *, until: datetime) -> list[Equipment]:
    """The scanned items, each usable until ``until`` (a QC result names its instruments this way)."""
    wanted = _codes(codes)
    found = {item.code: item for item in Equipment.objects.select_for_update().filter(code__in=wanted)}
    errors = [f"No equipment {code} in the register." for code in wanted if code not in found]
    errors += [why for item in found.values() if (why := equipment_usable(item, until=until))]
    if errors:
        raise ValidationError({"equipment": errors})
    return list(found.values())


def equipment_uses_record(
    items: Iterable[Equipment], *, batch: Batch, kind: str, target: models.Model, window: Window, actor: User
) -> None:
    """One use row per item, with its status and due dates as they were."""
    content_type = ContentType.objects.get_for_model(target)
    with audit_context(actor, reason=f"equipment used at {kind}"):
        for item in items:
            EquipmentUse.objects.create(
                batch=batch,
                step_kind=kind,
                content_type=content_type,
                object_id=target.pk,
                equipment=item,
                used_from=window.start,
                used_until=window.end,
                status_at_use=item.status,
                calibration_due_at_use=item.calibration_due,
                maintenance_due_at_use=item.maintenance_due,
                recorded_by=actor,
            )


def step_inputs_recheck(target: models.Model, *, window: Window, field: str) -> None:
    """A corrected step's times must still fall within what its lots and equipment allowed at use."""
    where = {"content_type": ContentType.objects.get_for_model(target), "object_id": target.pk}
    day = timezone.localdate(window.end)
    errors = [
        f"Lot {use.lot.code} expires on {use.expiry_date:%Y-%m-%d}, before the corrected end on {day:%Y-%m-%d}."
        for use in LotUse.objects.filter(**where).select_related("lot")
        if use.expiry_date < day
    ]
    errors += [
        f"{use.equipment.code} was due for calibration on {use.calibration_due_at_use:%Y-%m-%d}, "
        f"before the corrected end on {day:%Y-%m-%d}."
        for use in EquipmentUse.objects.filter(**where).select_related("equipment")
        if use.calibration_due_at_use is not None and use.calibration_due_at_use < day
    ]
    if errors:
        raise ValidationError({field: errors})


def lock_inputs(lots: Iterable[str], equipment: Iterable[str]) -> None:
    """Lock the scanned lots and items (FOR UPDATE) so two steps cannot take the last units or a free cabinet."""
    list(MaterialLot.objects.select_for_update().filter(code__in=_codes(lots)).values_list("pk", flat=True))
    list(Equipment.objects.select_for_update().filter(code__in=_codes(equipment)).values_list("pk", flat=True))
