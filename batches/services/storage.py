"""Storage monitoring: fridges, incubators and liquid-nitrogen storage of the equipment register.

A monitoring system pushes readings (``storage_readings_push``, through the API). Beat runs
``storage_evaluate``: a unit outside its limits for longer than allowed opens a ``StorageExcursion`` and
alerts the unit's responsible person; unacknowledged after the unit's escalation delay, it goes to QA.
The responsible person or QA acknowledges it with what was done (``storage_excursion_acknowledge``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import EquipmentKind, EscalationLevel, StorageExcursion, StorageMonitor, StorageReading
from batches.roles import Role, has_role, require_role
from batches.services.common import CLOCK_SKEW

STORAGE_KINDS = (EquipmentKind.FRIDGE, EquipmentKind.FREEZER, EquipmentKind.INCUBATOR)
PUSH_ROLES = (Role.OPERATOR, Role.QA_REVIEWER)
MAX_PUSH = 1000
SYSTEM_ACTOR = "system:storage-monitoring"


@transaction.atomic
def storage_readings_push(*, actor: User, equipment_code: str, readings: list[tuple[datetime, Decimal]]) -> int:
    """Store the readings of one storage unit; a reading already received for the same time is ignored."""
    require_role(actor, *PUSH_ROLES, action="Pushing storage temperatures")
    monitor = StorageMonitor.objects.select_related("equipment").filter(equipment__code=equipment_code).first()
    if monitor is None or monitor.equipment.kind not in STORAGE_KINDS:
        raise ValidationError(
            {
                "equipment": gettext("%(equipment_code)s is not a monitored storage unit of the register.")
                % {"equipment_code": f"{equipment_code!r}"}
            }
        )
    if not 1 <= len(readings) <= MAX_PUSH:
        raise ValidationError(
            {"readings": gettext("Push 1 to %(max_push)s readings at a time.") % {"max_push": MAX_PUSH}}
        )
    latest = timezone.now() + CLOCK_SKEW
    future = [at for at, _ in readings if at > latest]
    if future:
        raise ValidationError(
            {
                "readings": gettext("A reading at %(future)s is in the future.")
                % {"future": f"{future[0]:%Y-%m-%d %H:%M %Z}"}
            }
        )
    known = set(
        monitor.readings.filter(measured_at__in=[at for at, _ in readings]).values_list("measured_at", flat=True)
    )
    rows = {
        at: StorageReading(monitor=monitor, measured_at=at, temperature_c=value, pushed_by=actor)
        for at, value in readings
        if at not in known
    }
    StorageReading.objects.bulk_create(rows.values(), ignore_conflicts=True)
    return len(rows)


def _alert(recipients: list[str], subject: str, body: str) -> None:
    if recipients:
        EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients).send()


def _qa_addresses() -> list[str]:
    users = User.objects.filter(is_active=True, groups__name=Role.QA_REVIEWER).exclude(email="")
    return sorted({u.email.strip().lower() for u in users})


def _describe(excursion: StorageExcursion) -> str:
    monitor = excursion.monitor
    start = timezone.localtime(excursion.started_at)
    return (
        f"{monitor.equipment.code} ({monitor.equipment.name}, {monitor.equipment.location or 'no location'}) has been "
        f"outside {monitor.low_c} to {monitor.high_c} °C since {start:%Y-%m-%d %H:%M %Z}; extreme "
        f"{excursion.extreme_c} °C. Check the unit and the products in it, then acknowledge the alarm."
    )


def _excursion_state(monitor: StorageMonitor, now: datetime) -> None:
    """Open, update or end the monitor's excursion from its latest readings."""
    recent = list(monitor.readings.order_by("-measured_at")[:500])
    if not recent:
        return
    current = StorageExcursion.objects.filter(monitor=monitor, ended_at__isnull=True).first()
    inside = [r for r in recent if monitor.low_c <= r.temperature_c <= monitor.high_c]
    if recent[0] in inside:
        if current is not None:
            current.ended_at = recent[0].measured_at
            current.save(update_fields=["ended_at"])
        return
    run = recent[: recent.index(inside[0])] if inside else recent
    start = run[-1].measured_at
    extreme = max((r.temperature_c for r in run), key=lambda t: max(t - monitor.high_c, monitor.low_c - t))
    if current is None and (now - start).total_seconds() / 60 > monitor.allowed_minutes_outside:
        StorageExcursion.objects.create(monitor=monitor, started_at=start, extreme_c=extreme)
    elif current is not None and current.extreme_c != extreme:
        current.extreme_c = extreme
        current.save(update_fields=["extreme_c"])


def _escalate(excursion: StorageExcursion, now: datetime) -> None:
    monitor = excursion.monitor
    if excursion.level == EscalationLevel.OPEN:
        _alert([monitor.responsible.email], f"Storage alarm: {monitor.equipment.code}", _describe(excursion))
        excursion.level, excursion.responsible_alerted_at = EscalationLevel.RESPONSIBLE, now
        excursion.save(update_fields=["level", "responsible_alerted_at"])
    elif excursion.level == EscalationLevel.RESPONSIBLE and excursion.responsible_alerted_at is not None:
        waited = (now - excursion.responsible_alerted_at).total_seconds() / 60
        if waited >= monitor.escalate_after_minutes:
            body = f"{_describe(excursion)}\n\n{monitor.responsible} has not acknowledged it in {int(waited)} min."
            _alert(_qa_addresses(), f"ESCALATED storage alarm: {monitor.equipment.code}", body)
            excursion.level, excursion.qa_alerted_at = EscalationLevel.QA, now
            excursion.save(update_fields=["level", "qa_alerted_at"])


def storage_evaluate(*, now: datetime | None = None) -> int:
    """Evaluate every monitored unit and escalate unacknowledged excursions; returns the open excursions."""
    moment = now or timezone.now()
    open_count = 0
    for monitor in StorageMonitor.objects.select_related("equipment", "responsible"):
        with transaction.atomic(), audit_context(SYSTEM_ACTOR, reason="storage temperatures evaluated"):
            _excursion_state(monitor, moment)
            for excursion in StorageExcursion.objects.select_for_update().filter(
                monitor=monitor, acknowledged_at__isnull=True
            ):
                open_count += 1
                _escalate(excursion, moment)
    return open_count


@transaction.atomic
def storage_excursion_acknowledge(*, actor: User, excursion_id: int, note: str) -> StorageExcursion:
    """The responsible person or QA acknowledges an excursion and says what was done."""
    excursion = StorageExcursion.objects.select_for_update().select_related("monitor").get(pk=excursion_id)
    if actor.pk != excursion.monitor.responsible_id and not has_role(actor, Role.QA_REVIEWER):
        raise PermissionDenied(gettext("Only the unit's responsible person or QA acknowledges its alarm."))
    if excursion.acknowledged_at is not None:
        raise StateConflict(
            gettext("%(excursion)s was acknowledged by %(acknowledged_by)s already.")
            % {"excursion": excursion, "acknowledged_by": excursion.acknowledged_by}
        )
    what = require_reason(note, what="acknowledge a storage alarm (what was done)")
    with audit_context(actor, reason=f"storage alarm acknowledged: {what}"):
        excursion.acknowledged_by = actor
        excursion.acknowledged_at = timezone.now()
        excursion.acknowledgement = what
        excursion.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement"])
    return excursion
