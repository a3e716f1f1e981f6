"""Recording, correcting and verifying manufacturing steps.

Recording is the performer's signed entry, verification the second person's; both re-ask the
password. A step is recorded only while the batch is in that step's state, and once verified it
is read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

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
from batches.services.batch import batch_start_collection, batch_start_processing
from batches.services.common import confirm_password, lock_batch, require_status
from batches.services.people import Transcription, entry_source_record
from batches.services.signatures import (
    signature_sign,
    signatures_invalidate,
)
from batches.services.step_inputs import (
    Window,
    lock_inputs,
    step_inputs_check,
    step_inputs_recheck,
    step_inputs_record,
)
from batches.services.step_rules import RULES, STEP_LABELS
from batches.services.training import training_require
from batches.states import STEP_STATE

# The transition that opens the stage of a step, taken in the same act as recording it (step_record).
STAGE_STARTS = {"apheresis": batch_start_collection, "selection": batch_start_processing}

STEP_MODELS: dict[str, type[StepRecord]] = {
    "gcsf": GcsfAdministration,
    "apheresis": ApheresisCollection,
    "selection": Cd133Selection,
}
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


def verifier_independent(step: StepRecord, verifier: User, title: str) -> None:
    if step.performed_by_id == verifier.pk:
        raise PermissionDenied(f"You performed {title}; a second person must verify it. Nothing was signed.")
    if step.corrected_by_id == verifier.pk:
        raise PermissionDenied(f"You corrected {title}; a second person must verify it. Nothing was signed.")
