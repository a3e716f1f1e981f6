"""The rules of each manufacturing step's values: what is computed from them and what is refused.

Each step kind has one function; it returns the computed values and the findings in an alert range
(accepted only with a reason). Hard limits, time order and the regimen come from the batch's process
definition (batches.services.validation, batches.services.record_limits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from batches.master_limits import AlertFinding
from batches.models import Batch
from batches.services import record_limits as rl
from batches.services import validation as v
from batches.services.common import event_time_errors

STEP_LABELS = {"gcsf": "G-CSF administration", "apheresis": "Apheresis collection", "selection": "CD133+ selection"}
Checked = tuple[dict[str, Any], list[AlertFinding]]  # computed values, alert-range findings needing a reason


def _event_time(values: dict[str, Any], field: str) -> dict[str, str]:
    """The event-time check of a step, reported with the step's other field errors."""
    return event_time_errors(values[field], field=field, late_entry_reason=values.get("late_entry_reason", ""))


def _gcsf_rules(batch: Batch, values: dict[str, Any]) -> Checked:
    given = values["administered_at"]
    v.collect(
        _event_time(values, "administered_at"),
        v.gcsf_on_regimen(
            definition=batch.process_definition, day=values["day"], prescribed_ug_per_kg=values["prescribed_ug_per_kg"]
        ),
        v.lot_not_expired(
            field="drug_expiry",
            label=gettext("Filgrastim"),
            lot=values["drug_lot"],
            expiry=values["drug_expiry"],
            used_on=timezone.localdate(given),
        ),
    )
    dose = v.gcsf_dose_ug(prescribed_ug_per_kg=values["prescribed_ug_per_kg"], body_weight_kg=batch.body_weight_kg)
    return {"dose_ug": dose}, []


APHERESIS_PARAMETERS = (
    "blood_volumes_processed",
    "acd_a_ml",
    "product_volume_ml",
    "total_nucleated_cells",
    "cd133_cells_before_selection",
)


def _apheresis_rules(batch: Batch, values: dict[str, Any]) -> Checked:
    errors, alerts = rl.parameter_errors(batch, {k: values.get(k) for k in APHERESIS_PARAMETERS}, prefix="apheresis")
    alerts = rl.not_yet_accepted(batch, STEP_LABELS["apheresis"], alerts)
    tnc, cd133 = values.get("total_nucleated_cells"), values.get("cd133_cells_before_selection")
    v.collect(
        v.collection_bag_label(batch=batch, bag_id=values.get("collection_bag_id", "")),
        _event_time(values, "ended_at"),
        v.end_after_start(started_at=values["started_at"], ended_at=values["ended_at"]),
        errors,
        v.output_not_above_input(
            field="cd133_cells_before_selection",
            output=cd133,
            input_=tnc,
            what="CD133+ cells before selection",
            of="the total nucleated cells",
        ),
        rl.order_errors(
            batch,
            {"apheresis_started": values["started_at"], "apheresis_ended": values["ended_at"]},
            fields={"apheresis_started": "started_at", "apheresis_ended": "ended_at"},
        ),
        rl.alert_reason_errors(alerts, values.get("alert_reason", "")),
    )
    return {}, alerts


SELECTION_LOTS = (
    ("reagent", gettext_noop("CD133 reagent")),
    ("tubing_set", gettext_noop("Tubing set")),
    ("buffer", gettext_noop("Buffer")),
    ("albumin", gettext_noop("Human serum albumin")),
)


def _selection_rules(batch: Batch, values: dict[str, Any]) -> Checked:
    used_on = timezone.localdate(values["ended_at"])  # the lots are in use until the run ends, past midnight too
    negative = v.non_negative(
        input_cd133_cells=values.get("input_cd133_cells"),
        output_cd133_cells=values.get("output_cd133_cells"),
    )
    # A negative count already has its message; the comparison of the counts would only repeat it.
    counts = (
        {}
        if negative.keys() & {"input_cd133_cells", "output_cd133_cells"}
        else v.selection_counts(input_cells=values["input_cd133_cells"], output_cells=values["output_cd133_cells"])
    )
    apheresis = getattr(batch, "apheresis", None)
    recovery = (
        v.recovery_pct(input_cells=values["input_cd133_cells"], output_cells=values["output_cd133_cells"])
        if not negative and not counts
        else None
    )
    errors, alerts = rl.parameter_errors(
        batch,
        {"final_volume_ml": values.get("final_volume_ml"), "recovery_pct": recovery},
        prefix="selection",
        fields={"recovery_pct": "output_cd133_cells"},
    )
    alerts = rl.not_yet_accepted(batch, STEP_LABELS["selection"], alerts)
    v.collect(
        _event_time(values, "ended_at"),
        v.end_after_start(started_at=values["started_at"], ended_at=values["ended_at"]),
        *(
            v.lot_not_expired(
                field=f"{prefix}_expiry",
                label=label,
                lot=values[f"{prefix}_lot"],
                expiry=values[f"{prefix}_expiry"],
                used_on=used_on,
            )
            for prefix, label in SELECTION_LOTS
        ),
        negative,
        counts,
        errors,
        v.output_not_above_input(
            field="input_cd133_cells",
            output=values.get("input_cd133_cells"),
            input_=apheresis.cd133_cells_before_selection if apheresis is not None else None,
            what="The selection's input CD133+ cells",
            of="the CD133+ cells collected at apheresis",
        ),
        rl.order_errors(
            batch,
            {"selection_started": values["started_at"], "selection_ended": values["ended_at"]},
            fields={"selection_started": "started_at", "selection_ended": "ended_at"},
        ),
        rl.alert_reason_errors(alerts, values.get("alert_reason", "")),
    )
    return {"recovery_pct": recovery}, alerts


RULES: dict[str, Callable[[Batch, dict[str, Any]], Checked]] = {
    "gcsf": _gcsf_rules,
    "apheresis": _apheresis_rules,
    "selection": _selection_rules,
}


# The fields that say when a step ran (start, end): its lots and equipment must be fit for use until the end.
