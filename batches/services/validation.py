"""Domain checks of entered values; each failure names the field and says what is wrong."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from batches import formatting
from batches.models import Batch, Label, LabelBag, ProcessDefinition


def collect(*checks: dict[str, str]) -> None:
    """Raise one ValidationError holding every failed check, so the user fixes all in one go.

    Two checks may fault the same field (an end time in the future and before the start): both
    messages are kept.
    """
    errors: dict[str, list[str]] = {}
    for check in checks:
        for field, message in check.items():
            errors.setdefault(field, []).append(message)
    if errors:
        raise ValidationError(errors)


def lot_not_expired(*, field: str, label: str, lot: str, expiry: date | None, used_on: date) -> dict[str, str]:
    if expiry is not None and expiry < used_on:
        return {
            field: _("%(material)s lot %(lot)s expired on %(expiry)s, before its use on %(used)s.")
            % {"material": _(label), "lot": lot, "expiry": formatting.day(expiry), "used": formatting.day(used_on)}
        }
    return {}


def end_after_start(*, started_at: datetime | None, ended_at: datetime | None) -> dict[str, str]:
    if started_at and ended_at and ended_at <= started_at:
        return {"ended_at": _("The end time must be after the start time.")}
    return {}


def output_not_above_input(*, field: str, output: int | None, input_: int | None, what: str, of: str) -> dict[str, str]:
    """What comes out of a step cannot exceed what went in."""
    if output is not None and input_ is not None and output > input_:
        return {field: f"{what} ({output:,}) cannot exceed {of} ({input_:,}).".replace(",", " ")}
    return {}


def non_negative(**values: int | Decimal | None) -> dict[str, str]:
    return {name: _("Must not be negative.") for name, value in values.items() if value is not None and value < 0}


def gcsf_dose_ug(*, prescribed_ug_per_kg: Decimal, body_weight_kg: Decimal) -> Decimal:
    return (prescribed_ug_per_kg * body_weight_kg).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def gcsf_on_regimen(*, definition: ProcessDefinition, day: int, prescribed_ug_per_kg: Decimal) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not 1 <= day <= definition.gcsf_days_max:
        errors["day"] = f"Day {day} is outside the regimen (days 1 to {definition.gcsf_days_max} in {definition})."
    target = definition.gcsf_dose_ug_per_kg
    tolerance = target * definition.gcsf_dose_tolerance_pct / 100
    if abs(prescribed_ug_per_kg - target) > tolerance:
        errors["prescribed_ug_per_kg"] = (
            f"{prescribed_ug_per_kg} µg/kg is off the regimen of {definition}: "
            f"{target} µg/kg/day ± {definition.gcsf_dose_tolerance_pct} %."
        )
    return errors


def recovery_pct(*, input_cells: int, output_cells: int) -> Decimal:
    return (Decimal(output_cells) * 100 / Decimal(input_cells)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def selection_counts(*, input_cells: int, output_cells: int) -> dict[str, str]:
    if input_cells is not None and input_cells <= 0:
        return {"input_cd133_cells": _("The input CD133+ cell count must be greater than zero.")}
    if output_cells is not None and input_cells is not None and output_cells > input_cells:
        return {"output_cd133_cells": _("The output cannot exceed the input CD133+ cell count.")}
    return {}


def collection_bag_label(*, batch: Batch, bag_id: str) -> dict[str, str]:
    """The collection bag carries a label the system issued for this batch: unique, never another patient's."""
    code = (bag_id or "").strip().upper()
    label = Label.objects.select_related("batch__patient").filter(label_id=code).first()
    if label is None or label.bag != LabelBag.COLLECTION:
        return {
            "collection_bag_id": f"{bag_id!r} is not a collection bag label issued by the system: print the "
            "collection bag's label at the delivery desk and scan its id."
        }
    if label.batch_id != batch.pk:
        return {
            "collection_bag_id": f"Label {code} was issued for batch {label.batch.batch_number} (patient "
            f"{label.batch.patient.subject_code}), not for batch {batch.batch_number} (patient "
            f"{batch.patient.subject_code}): a bag label is never reused. Stop: check the bag and the order."
        }
    if label.voided:
        return {"collection_bag_id": f"Label {code} was voided by a reprint: use the bag's current label."}
    return {}
