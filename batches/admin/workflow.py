"""What the batch page shows: the steps in order, what is needed next, the state-change buttons.

Pure reading of the record; nothing here writes. The state-change buttons come from the actions'
declarations (batches.services.actions), the same ones the services' guards read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.utils.html import format_html
from django.utils.translation import gettext as _

from batches import formatting
from batches.models import Batch, StepRecord
from batches.services.actions import StateAction, declared_actions, offered_actions
from batches.services.record_limits import missing_hand_offs
from batches.services.steps import STEP_LABELS, STEP_MODELS, editable_fields
from batches.signature_checks import printed_name
from batches.states import STEP_STATE, BatchStatus
from batches.usage import batch_equipment_uses, batch_lot_uses

S = BatchStatus


def format_value(value: Any, *, name: str = "") -> str:
    """One value of a step as the batch page shows it (batches.formatting): times local with their zone."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return formatting.moment(value, seconds=True)
    if isinstance(value, date):
        return formatting.day(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and "cells" in name:
        return formatting.cells(value)
    if isinstance(value, int | Decimal):
        return formatting.number(value)
    return str(value)


def step_rows(step: StepRecord) -> list[tuple[str, str]]:
    """(label with unit, value) for every entered and computed field, in model order."""
    skip = {"id", "batch", "performed_by", "performed_at", "verified_by", "verified_at", "late_entry_reason"}
    rows = []
    for f in step._meta.concrete_fields:
        if f.name in skip:
            continue
        label = str(f.verbose_name)
        rows.append((label[:1].upper() + label[1:], format_value(f.value_from_object(step), name=f.name)))
    return rows


@dataclass
class StepView:
    kind: str
    title: str
    step: StepRecord
    rows: list[tuple[str, str]]
    performed_by: str
    verified_by: str
    editable: bool
    verify_hint: str = ""
    forms: dict[str, Any] = field(default_factory=dict)


@dataclass
class SectionView:
    kind: str
    label: str
    active: bool
    steps: list[StepView]
    number: int = 0

    @property
    def open_steps(self) -> list[StepView]:
        return [view for view in self.steps if not view.step.is_verified or view.forms]

    @property
    def verified_steps(self) -> list[StepView]:
        """Verified, read-only steps: folded on the page (the signatures list them too)."""
        return [view for view in self.steps if view.step.is_verified and not view.forms]


def steps_of(batch: Batch, kind: str) -> list[StepRecord]:
    model: Any = STEP_MODELS[kind]
    return list(model._default_manager.filter(batch=batch).select_related("performed_by", "verified_by"))


def step_title(step: StepRecord) -> str:
    if step.step_kind == "gcsf":
        return _("G-CSF day %(day)s") % {"day": step.day}  # type: ignore[attr-defined]
    return _(STEP_LABELS[step.step_kind])


def _recorded(text: str) -> str:
    """Recorded data inside a translated label: marked so that a reader (and the language check) tells it apart."""
    return format_html('<span class="recorded">{}</span>', text)


def scanned_rows(batch: Batch) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """(step kind, step id) → the rows of its scanned lots and equipment (two queries for the whole batch)."""
    rows: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for lot in batch_lot_uses(batch):
        rows.setdefault((lot.step_kind, lot.object_id), []).append(
            (
                format_html(_("Lot scanned: {material}"), material=_recorded(lot.material_name)),
                _("%(code)s (supplier lot %(lot)s, %(grade)s, exp. %(expiry)s, %(status)s, %(quantity)s)")
                % {
                    "code": lot.lot.code,
                    "lot": lot.supplier_lot,
                    "grade": lot.get_grade_display().lower(),
                    "expiry": format_value(lot.expiry_date),
                    "status": lot.get_status_at_use_display().lower(),
                    "quantity": lot.quantity,
                },
            )
        )
    for use in batch_equipment_uses(batch):
        rows.setdefault((use.step_kind, use.object_id), []).append(
            (
                _("Equipment scanned: %(kind)s") % {"kind": use.equipment.get_kind_display().lower()},
                _("%(equipment)s (%(status)s, calibration due %(due)s)")
                % {
                    "equipment": use.equipment,
                    "status": use.get_status_at_use_display().lower(),
                    "due": format_value(use.calibration_due_at_use),
                },
            )
        )
    return rows


def sections(batch: Batch, user: User) -> list[SectionView]:
    """Every step of the batch, in manufacturing order, with who may do what on it."""
    scanned = scanned_rows(batch)
    result: list[SectionView] = []
    for kind in STEP_MODELS:
        views = []
        for step in steps_of(batch, kind):
            hint = ""
            if not step.is_verified and step.performed_by_id == user.pk:
                hint = _("You performed this step; a second person must verify it.")
            views.append(
                StepView(
                    kind=kind,
                    title=step_title(step),
                    step=step,
                    rows=step_rows(step) + scanned.get((kind, step.pk), []),
                    performed_by=printed_name(step.performed_by),
                    verified_by=printed_name(step.verified_by) if step.verified_by else "",
                    editable=not step.is_verified and batch.status == STEP_STATE[kind],
                    verify_hint=hint,
                )
            )
        result.append(SectionView(kind, STEP_LABELS[kind], batch.status == STEP_STATE[kind], views, len(result) + 1))
    return result


def recordable_step(batch: Batch) -> tuple[str, str] | None:
    """(kind, title) of the step that may be recorded now, or None."""
    kind = batch.current_step
    if kind is None:
        return None
    recorded = steps_of(batch, kind)
    if kind == "gcsf":
        if len(recorded) >= batch.process_definition.gcsf_days_max:
            return None
        return kind, _("Record G-CSF day %(day)s") % {"day": next_gcsf_day(recorded)}
    if recorded:
        return None
    return kind, _("Record %(step)s") % {"step": in_sentence(_(STEP_LABELS[kind]))}


def next_gcsf_day(recorded: list[StepRecord]) -> int:
    days = {s.day for s in recorded}  # type: ignore[attr-defined]
    return next(d for d in range(1, len(days) + 2) if d not in days)


def in_sentence(title: str) -> str:
    """'Apheresis collection' → 'apheresis collection'; acronyms (G-CSF, CD133+) keep their capitals."""
    if len(title) > 1 and title[1].islower():
        return title[0].lower() + title[1:]
    return title


def next_actions(batch: Batch) -> list[str]:
    """What manufacturing needs next (registration to quarantine), in words read at a glance."""
    status = BatchStatus(batch.status)
    if status == S.REGISTERED:
        return [_("Start mobilization")]
    if status in STEP_STATE.values():
        kind = batch.current_step or ""
        recorded = steps_of(batch, kind)
        needed = [_("Verify %(step)s") % {"step": in_sentence(step_title(s))} for s in recorded if not s.is_verified]
        if kind == "gcsf":
            minimum = batch.process_definition.gcsf_days_min
            if len(recorded) < minimum:
                needed.insert(0, _("Record G-CSF day %(day)s") % {"day": next_gcsf_day(recorded)})
            elif not needed:
                needed.append(_("Start collection"))
        elif not recorded:
            needed.insert(0, _("Record %(step)s") % {"step": in_sentence(_(STEP_LABELS[kind]))})
        elif not needed:
            entering = {"apheresis": S.PROCESSING, "selection": S.QUARANTINE}[kind]
            needed += [
                _("Hand over and receive: %(label)s") % {"label": label} for label in missing_hand_offs(batch, entering)
            ]

            needed.append({"apheresis": _("Start processing"), "selection": _("Move to quarantine")}[kind])
        return needed
    # From quarantine on, QC, release and delivery decide: batches.admin.progress.
    return []


def available_actions(batch: Batch, user: User) -> list[StateAction]:
    """The batch page's state-change buttons open to this user in this state (as the services will judge)."""
    return offered_actions(batch, user, [a for a in declared_actions() if a.on_batch_page])


# The equipment a step names, prefilled from the last batch's record of the same step (checked, not retyped).
EQUIPMENT_FIELDS = {
    "apheresis": ("device", "device_serial"),
    "selection": ("instrument", "instrument_serial", "program"),
}


def record_initial(batch: Batch, kind: str) -> dict[str, Any]:
    """Sensible defaults that save typing under time pressure (never lots or results)."""
    if kind == "gcsf":
        return {
            "day": next_gcsf_day(steps_of(batch, kind)),
            "prescribed_ug_per_kg": batch.process_definition.gcsf_dose_ug_per_kg,
        }
    manager: Any = STEP_MODELS[kind]._default_manager
    last = manager.exclude(batch=batch).order_by("-performed_at").first()
    return {name: getattr(last, name) for name in EQUIPMENT_FIELDS.get(kind, ())} if last else {}


def step_values(step: StepRecord) -> dict[str, Any]:
    return {name: getattr(step, name) for name in editable_fields(step.step_kind)}
