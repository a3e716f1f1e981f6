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
from django.utils.translation import gettext, gettext_noop

from batches.audit import audit_context, require_reason
from batches.master_limits import AlertFinding
from batches.models import (
    ApheresisCollection,
    Batch,
    Cd133Selection,
    GcsfAdministration,
    Label,
    LabelStatus,
    StepRecord,
)
from batches.models.signatures import SignatureManifest, SignatureMeaning
from batches.roles import Role, require_role
from batches.services import custody
from batches.services import record_limits as rl
from batches.services import validation as v
from batches.services.actions import StateAction
from batches.services.batch import batch_start_collection, batch_start_processing
from batches.services.common import confirm_password, event_time_errors, lock_batch, require_status, row_error
from batches.services.people import Transcription, entry_source_record
from batches.services.signatures import (
    manifest_open,
    manifest_seal,
    signature_sign,
    signatures_invalidate,
    signatures_sign_manifest,
)
from batches.services.step_inputs import (
    Window,
    lock_inputs,
    step_inputs_check,
    step_inputs_recheck,
    step_inputs_record,
)
from batches.services.training import training_require
from batches.states import STEP_STATE, BatchStatus

# The transition that opens the stage of a step, taken in the same act as recording it (step_record).
STAGE_STARTS = {"apheresis": batch_start_collection, "selection": batch_start_processing}

VERIFY_GCSF_DAYS = StateAction(
    slug="verify-gcsf-days",
    label="Verify all open G-CSF days",
    roles=(Role.VERIFIER,),
    source=(BatchStatus.MOBILIZATION,),
    needs_password=True,
)

STEP_MODELS: dict[str, type[StepRecord]] = {
    "gcsf": GcsfAdministration,
    "apheresis": ApheresisCollection,
    "selection": Cd133Selection,
}
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
    used_on = timezone.localdate(values["started_at"])
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
    """The step's values; ``alert_reason`` (why a value in its alert range is accepted) rides along."""
    allowed = {*editable_fields(kind), rl.ALERT_REASON_FIELD}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationError(f"Unknown field(s) for {STEP_LABELS[kind]}: {', '.join(sorted(unknown))}.")
    missing = [f for f in allowed if f not in values and f not in ("late_entry_reason", rl.ALERT_REASON_FIELD)]
    if missing:
        raise ValidationError(dict.fromkeys(missing, gettext("This field is required.")))
    return {
        **values,
        "late_entry_reason": values.get("late_entry_reason", "") or "",
        rl.ALERT_REASON_FIELD: (values.get(rl.ALERT_REASON_FIELD, "") or "").strip(),
    }


def _accept_alerts(batch: Batch, actor: User, kind: str, alerts: list[AlertFinding], reason: str) -> None:
    rl.exceptions_record(batch=batch, actor=actor, source=STEP_LABELS[kind], findings=alerts, reason=reason)


@transaction.atomic
def step_record(
    *,
    kind: str,
    batch_id: int,
    actor: User,
    password: str,
    values: dict[str, Any],
    otp_token: str = "",
    transcribed: Transcription | None = None,
    lots: Sequence[str] = (),
    equipment: Sequence[str] = (),
    password_checked: bool = False,
    manifest: SignatureManifest | None = None,
    start_stage: bool = False,
) -> StepRecord:
    """Record a step of the batch, signed by its performer (``manifest``: one of several signed in one act),
    with the lots and equipment scanned for it; or, ``transcribed`` from a source, signed as recorded by
    the actor, with the person who performed it and the source kept beside it.

    The process definition says which materials (grade, quantity) and which kinds of equipment the step
    needs; each scanned code is checked by the guards of batches.services.step_inputs before anything is
    written, and each use becomes its own row. ``start_stage``: the operator starts the step's stage in the
    same act (Start collection before the apheresis, Start processing before the selection), through that
    transition's own declared service.
    """
    require_role(actor, Role.OPERATOR, action=f"Recording {STEP_LABELS[kind].lower()}")
    if not password_checked:
        confirm_password(actor, password, otp_token=otp_token)
    if start_stage:
        if kind not in STAGE_STARTS:
            raise ValidationError(f"{STEP_LABELS[kind]} starts no stage of its own.")
        STAGE_STARTS[kind](actor=actor, batch_id=batch_id)
    batch = lock_batch(batch_id)
    require_status(batch, STEP_STATE[kind], action=f"Recording {STEP_LABELS[kind].lower()}")
    training_require(actor, batch.process_definition, kind)
    values = _clean_values(kind, values)
    model: Any = STEP_MODELS[kind]
    if kind != "gcsf" and model._default_manager.filter(batch=batch).exists():
        raise ValidationError(f"{STEP_LABELS[kind]} is already recorded for {batch}; correct it instead.")
    if kind == "gcsf" and GcsfAdministration.objects.filter(batch=batch, day=values["day"]).exists():
        raise ValidationError({"day": f"G-CSF day {values['day']} is already recorded for {batch}."})
    computed, alerts = RULES[kind](batch, values)
    alert_reason = values.pop(rl.ALERT_REASON_FIELD)
    lock_inputs(lots, equipment)
    inputs = step_inputs_check(batch=batch, kind=kind, window=step_window(kind, values), lots=lots, equipment=equipment)
    step = model(batch=batch, performed_by=actor, **values, **computed)
    step.full_clean(exclude=["batch", "performed_by"], validate_unique=False)
    with audit_context(actor, reason=f"record {STEP_LABELS[kind].lower()}"):
        step.save()
        if transcribed is not None:
            entry_source_record(batch=batch, entry=step, actor=actor, source=transcribed)
        _accept_alerts(batch, actor, kind, alerts, alert_reason)
    step_inputs_record(inputs, target=step, actor=actor)
    if kind == "apheresis":  # the bag is labelled with its ISBT 128 DIN at collection
        custody.identifiers_allocate(batch=batch, actor=actor)
        _collection_label_applied(batch, actor, step.collection_bag_id)
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.RECORDED if transcribed else SignatureMeaning.PERFORMED,
        target=step,
        batch=batch,
        manifest=manifest,
    )
    return step


@transaction.atomic
def gcsf_days_record(
    *,
    actor: User,
    batch_id: int,
    password: str,
    days: list[dict[str, Any]],
    otp_token: str = "",
    lots: Sequence[str] = (),
    equipment: Sequence[str] = (),
) -> SignatureManifest:
    """Record several G-CSF days (transcribed from the ward's log) in one act: one password, one manifest.

    Every rule of a single day applies to each, the scans of the course's lots and equipment included;
    one refused day refuses them all, its errors named ``day<N>-<field>``.
    """
    require_role(actor, Role.OPERATOR, action="Recording G-CSF administrations")
    if not days:
        raise ValidationError("Enter the administration time of at least one day.")
    confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    numbers = ", ".join(str(values["day"]) for values in days)
    manifest = manifest_open(
        signer=actor,
        meaning=SignatureMeaning.PERFORMED,
        batch=batch,
        statement=f"Recorded G-CSF days {numbers} of batch {batch.batch_number}",
    )
    for values in days:
        try:
            step_record(
                kind="gcsf",
                batch_id=batch.pk,
                actor=actor,
                password=password,
                values=values,
                password_checked=True,
                manifest=manifest,
                lots=lots,
                equipment=equipment,
            )
        except ValidationError as error:
            raise row_error(error, f"day{values['day']}") from None
    return manifest_seal(manifest=manifest, signer=actor, password=password)


def _collection_label_applied(batch: Batch, actor: User, label_id: str) -> None:
    """The label scanned off the collection bag into the apheresis record is on the bag: an issued label is
    accounted for as applied by the same act (its id was checked as this batch's current collection label)."""
    with audit_context(actor, reason=f"label {label_id.strip().upper()} applied: scanned on the collection bag"):
        Label.objects.filter(batch=batch, label_id=label_id.strip().upper(), status=LabelStatus.ISSUED).update(
            status=LabelStatus.APPLIED, accounted_by=actor, accounted_at=timezone.now()
        )


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
    training_require(actor, batch.process_definition, kind)
    if step.is_verified:
        raise ValidationError(f"{STEP_LABELS[kind]} of {batch} is verified and read-only.")
    current = {f: getattr(step, f) for f in editable_fields(kind)}
    merged = _clean_values(kind, {**current, **values})
    if (
        kind == "gcsf"
        and GcsfAdministration.objects.filter(batch=batch, day=merged["day"]).exclude(pk=step.pk).exists()
    ):
        raise ValidationError({"day": f"G-CSF day {merged['day']} is already recorded for {batch}."})
    computed, alerts = RULES[kind](batch, merged)
    alert_reason = merged.pop(rl.ALERT_REASON_FIELD)
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
        _accept_alerts(batch, actor, kind, alerts, alert_reason)
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
    training_require(verifier, batch.process_definition, kind, performing=False)
    if step.is_verified:
        raise ValidationError(f"{STEP_LABELS[kind]} of {batch} is already verified.")
    if step.performed_by_id == verifier.pk:
        raise PermissionDenied(gettext("You performed this step; a second person must verify it."))
    if step.corrected_by_id == verifier.pk:
        raise PermissionDenied(gettext("You corrected this step; a second person must verify it."))
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


def _verifier_independent(step: StepRecord, verifier: User, title: str) -> None:
    if step.performed_by_id == verifier.pk:
        raise PermissionDenied(f"You performed {title}; a second person must verify it. Nothing was signed.")
    if step.corrected_by_id == verifier.pk:
        raise PermissionDenied(f"You corrected {title}; a second person must verify it. Nothing was signed.")


@VERIFY_GCSF_DAYS.implemented_by
@transaction.atomic
def gcsf_days_verify(*, actor: User, batch_id: int, password: str, otp_token: str = "") -> SignatureManifest:
    """Verify every recorded, unverified G-CSF day of the batch in one act: one password, one manifest.

    Each day still gets its own verification signature (naming the manifest); one day the verifier
    performed or corrected refuses the whole act.
    """
    batch = VERIFY_GCSF_DAYS.guard(actor, batch_id)
    days = list(
        GcsfAdministration.objects.select_for_update().filter(batch=batch, verified_by__isnull=True).order_by("day")
    )
    if not days:
        raise ValidationError(f"Batch {batch.batch_number} has no G-CSF day awaiting verification.")
    for day in days:
        _verifier_independent(day, actor, f"G-CSF day {day.day}")
    confirm_password(actor, password, otp_token=otp_token, purpose="sign as verified")
    now = timezone.now()
    with audit_context(actor, reason="verify G-CSF administrations (one act)"):
        for day in days:
            day.verified_by = actor
            day.verified_at = now
            day.save(update_fields=["verified_by", "verified_at"])
    return signatures_sign_manifest(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.VERIFIED,
        batch=batch,
        statement=f"Verified G-CSF days {', '.join(str(d.day) for d in days)} of batch {batch.batch_number}",
        records=days,
    )
