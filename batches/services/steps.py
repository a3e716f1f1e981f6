"""Recording, correcting and verifying manufacturing steps.

Recording is the performer's signed entry, verification the second person's; both re-ask the
password. A step is recorded only while the batch is in that step's state, and once verified it
is read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from batches.audit import audit_context, require_reason
from batches.models import ApheresisCollection, Batch, Cd133Selection, GcsfAdministration, StepRecord
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services import custody
from batches.services import validation as v
from batches.services.common import confirm_password, event_time_errors, lock_batch, require_status
from batches.services.signatures import signature_sign, signatures_invalidate
from batches.services.step_inputs import (
    Window,
    lock_inputs,
    step_inputs_check,
    step_inputs_recheck,
    step_inputs_record,
)
from batches.states import STEP_STATE

STEP_MODELS: dict[str, type[StepRecord]] = {
    "gcsf": GcsfAdministration,
    "apheresis": ApheresisCollection,
    "selection": Cd133Selection,
}
STEP_LABELS = {"gcsf": "G-CSF administration", "apheresis": "Apheresis collection", "selection": "CD133+ selection"}


def _event_time(values: dict[str, Any], field: str) -> dict[str, str]:
    """The event-time check of a step, reported with the step's other field errors."""
    return event_time_errors(values[field], field=field, late_entry_reason=values.get("late_entry_reason", ""))


def _gcsf_rules(batch: Batch, values: dict[str, Any]) -> dict[str, Any]:
    given = values["administered_at"]
    v.collect(
        _event_time(values, "administered_at"),
        v.gcsf_on_regimen(
            definition=batch.process_definition, day=values["day"], prescribed_ug_per_kg=values["prescribed_ug_per_kg"]
        ),
        v.lot_not_expired(
            field="drug_expiry",
            label="Filgrastim",
            lot=values["drug_lot"],
            expiry=values["drug_expiry"],
            used_on=timezone.localdate(given),
        ),
    )
    dose = v.gcsf_dose_ug(prescribed_ug_per_kg=values["prescribed_ug_per_kg"], body_weight_kg=batch.body_weight_kg)
    return {"dose_ug": dose}


def _apheresis_rules(batch: Batch, values: dict[str, Any]) -> dict[str, Any]:
    v.collect(
        _event_time(values, "ended_at"),
        v.end_after_start(started_at=values["started_at"], ended_at=values["ended_at"]),
        v.non_negative(
            **{
                k: values.get(k)
                for k in (
                    "blood_volumes_processed",
                    "acd_a_ml",
                    "product_volume_ml",
                    "total_nucleated_cells",
                    "cd133_cells_before_selection",
                )
            }
        ),
    )
    return {}


SELECTION_LOTS = (
    ("reagent", "CD133 reagent"),
    ("tubing_set", "Tubing set"),
    ("buffer", "Buffer"),
    ("albumin", "Human serum albumin"),
)


def _selection_rules(batch: Batch, values: dict[str, Any]) -> dict[str, Any]:
    used_on = timezone.localdate(values["started_at"])
    negative = v.non_negative(
        input_cd133_cells=values.get("input_cd133_cells"),
        output_cd133_cells=values.get("output_cd133_cells"),
        final_volume_ml=values.get("final_volume_ml"),
    )
    # A negative count already has its message; the comparison of the counts would only repeat it.
    counts = (
        {}
        if negative.keys() & {"input_cd133_cells", "output_cd133_cells"}
        else v.selection_counts(input_cells=values["input_cd133_cells"], output_cells=values["output_cd133_cells"])
    )
    apheresis = getattr(batch, "apheresis", None)
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
        {"started_at": "Selection cannot start before the apheresis collection ended."}
        if apheresis is not None and values["started_at"] < apheresis.ended_at
        else {},
    )
    return {
        "recovery_pct": v.recovery_pct(
            input_cells=values["input_cd133_cells"], output_cells=values["output_cd133_cells"]
        )
    }


RULES: dict[str, Callable[[Batch, dict[str, Any]], dict[str, Any]]] = {
    "gcsf": _gcsf_rules,
    "apheresis": _apheresis_rules,
    "selection": _selection_rules,
}


# The fields that say when a step ran (start, end): its lots and equipment must be fit for use until the end.
WINDOW_FIELDS = {
    "gcsf": ("administered_at", "administered_at"),
    "apheresis": ("started_at", "ended_at"),
    "selection": ("started_at", "ended_at"),
}


def step_window(kind: str, values: dict[str, Any]) -> Window:
    start, end = WINDOW_FIELDS[kind]
    return Window(start=values[start], end=values[end])


def editable_fields(kind: str) -> list[str]:
    """The fields an operator enters for a step (computed and signature fields excluded)."""
    model = STEP_MODELS[kind]
    return [f.name for f in model._meta.concrete_fields if f.editable and not f.primary_key and f.name != "batch"]


def _clean_values(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    allowed = set(editable_fields(kind))
    unknown = set(values) - allowed
    if unknown:
        raise ValidationError(f"Unknown field(s) for {STEP_LABELS[kind]}: {', '.join(sorted(unknown))}.")
    missing = [f for f in allowed if f not in values and f != "late_entry_reason"]
    if missing:
        raise ValidationError(dict.fromkeys(missing, "This field is required."))
    return {**values, "late_entry_reason": values.get("late_entry_reason", "") or ""}


@transaction.atomic
def step_record(
    *,
    kind: str,
    batch_id: int,
    actor: User,
    password: str,
    values: dict[str, Any],
    otp_token: str = "",
    lots: Sequence[str] = (),
    equipment: Sequence[str] = (),
) -> StepRecord:
    """Record a step of the batch, signed by its performer, with the lots and equipment scanned for it.

    The process definition says which materials (grade, quantity) and which kinds of equipment the step
    needs; each scanned code is checked by the guards of batches.services.step_inputs before anything is
    written, and each use becomes its own row.
    """
    require_role(actor, Role.OPERATOR, action=f"Recording {STEP_LABELS[kind].lower()}")
    confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    require_status(batch, STEP_STATE[kind], action=f"Recording {STEP_LABELS[kind].lower()}")
    values = _clean_values(kind, values)
    model: Any = STEP_MODELS[kind]
    if kind != "gcsf" and model._default_manager.filter(batch=batch).exists():
        raise ValidationError(f"{STEP_LABELS[kind]} is already recorded for {batch}; correct it instead.")
    if kind == "gcsf" and GcsfAdministration.objects.filter(batch=batch, day=values["day"]).exists():
        raise ValidationError({"day": f"G-CSF day {values['day']} is already recorded for {batch}."})
    computed = RULES[kind](batch, values)
    lock_inputs(lots, equipment)
    inputs = step_inputs_check(batch=batch, kind=kind, window=step_window(kind, values), lots=lots, equipment=equipment)
    step = model(batch=batch, performed_by=actor, **values, **computed)
    step.full_clean(exclude=["batch", "performed_by"], validate_unique=False)
    with audit_context(actor, reason=f"record {STEP_LABELS[kind].lower()}"):
        step.save()
    step_inputs_record(inputs, target=step, actor=actor)
    if kind == "apheresis":  # the bag is labelled with its ISBT 128 DIN at collection
        custody.identifiers_allocate(batch=batch, actor=actor)
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.PERFORMED,
        target=step,
        batch=batch,
    )
    return step


def _lock_step(kind: str, step_id: int) -> tuple[StepRecord, Batch]:
    step = STEP_MODELS[kind]._default_manager.select_for_update().get(pk=step_id)
    batch = lock_batch(step.batch_id)  # type: ignore[attr-defined]  # every concrete step has a batch
    return step, batch


@transaction.atomic
def step_correct(
    *,
    kind: str,
    step_id: int,
    actor: User,
    password: str,
    values: dict[str, Any],
    reason: str,
    otp_token: str = "",
) -> StepRecord:
    """Change an unverified step's data; the reason and the old values stay in the audit trail."""
    require_role(actor, Role.OPERATOR, action=f"Correcting {STEP_LABELS[kind].lower()}")
    confirm_password(actor, password, otp_token=otp_token)
    reason = require_reason(reason, what="change a recorded value")
    step, batch = _lock_step(kind, step_id)
    require_status(batch, STEP_STATE[kind], action=f"Correcting {STEP_LABELS[kind].lower()}")
    if step.is_verified:
        raise ValidationError(f"{STEP_LABELS[kind]} of {batch} is verified and read-only.")
    current = {f: getattr(step, f) for f in editable_fields(kind)}
    merged = _clean_values(kind, {**current, **values})
    if (
        kind == "gcsf"
        and GcsfAdministration.objects.filter(batch=batch, day=merged["day"]).exclude(pk=step.pk).exists()
    ):
        raise ValidationError({"day": f"G-CSF day {merged['day']} is already recorded for {batch}."})
    computed = RULES[kind](batch, merged)
    step_inputs_recheck(step, window=step_window(kind, merged), field=WINDOW_FIELDS[kind][1])
    for name, value in {**merged, **computed}.items():
        setattr(step, name, value)
    # performed_by keeps naming who first recorded the step; the row also names who changed it.
    step.corrected_by = actor
    step.corrected_at = timezone.now()
    step.full_clean(exclude=["batch", "performed_by", "corrected_by"], validate_unique=False)
    signatures_invalidate(target=step, actor=actor, reason=f"content changed: {reason}")
    with audit_context(actor, reason=reason):
        step.save()
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.PERFORMED,
        target=step,
        batch=batch,
    )
    return step


@transaction.atomic
def step_verify(*, kind: str, step_id: int, verifier: User, password: str, otp_token: str = "") -> StepRecord:
    """Second-person verification: never by the performer; afterwards the step is read-only."""
    require_role(verifier, Role.VERIFIER, action=f"Verifying {STEP_LABELS[kind].lower()}")
    confirm_password(verifier, password, otp_token=otp_token)
    step, batch = _lock_step(kind, step_id)
    require_status(batch, STEP_STATE[kind], action=f"Verifying {STEP_LABELS[kind].lower()}")
    if step.is_verified:
        raise ValidationError(f"{STEP_LABELS[kind]} of {batch} is already verified.")
    if step.performed_by_id == verifier.pk:
        raise PermissionDenied("You performed this step; a second person must verify it.")
    if step.corrected_by_id == verifier.pk:
        raise PermissionDenied("You corrected this step; a second person must verify it.")
    with audit_context(verifier, reason=f"verify {STEP_LABELS[kind].lower()}"):
        step.verified_by = verifier
        step.verified_at = timezone.now()
        step.save(update_fields=["verified_by", "verified_at"])
    signature_sign(
        signer=verifier,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.VERIFIED,
        target=step,
        batch=batch,
    )
    return step
