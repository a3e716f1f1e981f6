"""Batch life cycle up to quarantine: one function per state change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import ApprovalStatus, Batch, Patient, ProcessDefinition
from batches.roles import Role, require_role
from batches.services import custody
from batches.services.actions import StateAction
from batches.services.common import identifier_next, transition
from batches.services.master import patient_enrol
from batches.services.record_limits import require_hand_offs
from batches.states import BatchStatus

S = BatchStatus
OPERATOR = (Role.OPERATOR,)
START_MOBILIZATION = StateAction(
    slug="start-mobilization",
    label=gettext_noop("Start mobilization"),
    roles=OPERATOR,
    source=(S.REGISTERED,),
    on_batch_page=True,
)
START_COLLECTION = StateAction(
    slug="start-collection",
    label=gettext_noop("Start collection"),
    roles=OPERATOR,
    source=(S.MOBILIZATION,),
    on_batch_page=True,
)
START_PROCESSING = StateAction(
    slug="start-processing",
    label=gettext_noop("Start processing"),
    roles=OPERATOR,
    source=(S.COLLECTION,),
    on_batch_page=True,
)
QUARANTINE = StateAction(
    slug="quarantine",
    label=gettext_noop("Move to quarantine"),
    roles=OPERATOR,
    source=(S.PROCESSING,),
    on_batch_page=True,
)
CANCEL = StateAction(
    slug="cancel",
    label=gettext_noop("Cancel batch"),
    roles=(Role.OPERATOR, Role.QA_REVIEWER),
    source=(S.REGISTERED, S.MOBILIZATION, S.COLLECTION, S.PROCESSING, S.QUARANTINE),
    needs_reason=True,
    on_batch_page=True,
)


DEMO_PREFIX = "DEMO-"


def _next_batch_number(definition: ProcessDefinition, *, demo: bool) -> str:
    year = timezone.now().year
    # Demonstration batches have their own series, so a demo never uses up or mimics a real number.
    scope = f"{DEMO_PREFIX if demo else ''}{definition.code}"
    prefix = f"{scope}-{year}-"
    issued = Batch.objects.filter(batch_number__startswith=prefix).count()
    return f"{prefix}{identifier_next(kind='batch', scope=scope, year=year, issued=issued):04d}"


@transaction.atomic
def batch_register(
    *,
    actor: User,
    process_definition_id: int,
    patient_id: int | None = None,
    new_patient: dict[str, Any] | None = None,
    demo: bool = False,
    start_mobilization: bool = False,
) -> Batch:
    """Open a batch for an eligible patient under an approved process definition.

    ``demo`` marks a demonstration batch (seed_demo only): numbered DEMO-…, marked not for clinical use.
    ``start_mobilization``: the subject starts G-CSF now; the batch also takes its first transition (the
    operator's own act, recorded as any start of mobilization is). ``new_patient``: patient_enrol's
    arguments, to enrol the subject in the same act instead of naming an enrolled ``patient_id``.
    """
    require_role(actor, Role.OPERATOR, action="Registering a batch")
    if new_patient is not None:
        patient_id = patient_enrol(actor=actor, **new_patient).pk
    if patient_id is None:
        raise ValidationError({"patient": "Choose an enrolled subject, or enrol a new one."})
    patient = Patient.objects.get(pk=patient_id)
    definition = ProcessDefinition.objects.get(pk=process_definition_id)
    if definition.status != ApprovalStatus.APPROVED:
        raise ValidationError({"process_definition": f"{definition} is not approved by two people; it cannot be used."})
    if not patient.eligibility_confirmed:
        raise ValidationError({"patient": f"Eligibility of {patient} is not confirmed."})
    if Batch.objects.filter(patient=patient).exclude(status__in=[BatchStatus.CLOSED, BatchStatus.CANCELLED]).exists():
        raise ValidationError({"patient": f"{patient} already has an open batch."})
    with audit_context(actor, reason="batch registration"):
        batch = Batch.objects.create(
            batch_number=_next_batch_number(definition, demo=demo),
            patient=patient,
            process_definition=definition,
            body_weight_kg=patient.body_weight_kg,
            registered_by=actor,
            is_demo=demo,
        )
    if start_mobilization:
        return batch_start_mobilization(actor=actor, batch_id=batch.pk)
    return batch


@START_MOBILIZATION.implemented_by
@transaction.atomic
def batch_start_mobilization(*, actor: User, batch_id: int) -> Batch:
    batch = START_MOBILIZATION.guard(actor, batch_id)
    with audit_context(actor, reason="start G-CSF mobilization"):
        return transition(batch, BatchStatus.MOBILIZATION, actor=actor)


@START_COLLECTION.implemented_by
@transaction.atomic
def batch_start_collection(*, actor: User, batch_id: int) -> Batch:
    """Close mobilization: the regimen's minimum days are given and every administration is verified."""
    batch = START_COLLECTION.guard(actor, batch_id)
    administrations = list(batch.gcsf_administrations.all())
    minimum = batch.process_definition.gcsf_days_min
    if len(administrations) < minimum:
        raise StateConflict(f"Mobilization needs at least {minimum} G-CSF days; {len(administrations)} recorded.")
    unverified = [a.day for a in administrations if not a.is_verified]
    if unverified:
        raise StateConflict(f"G-CSF day(s) {', '.join(map(str, unverified))} not verified by a second person.")
    with audit_context(actor, reason="mobilization complete; start apheresis"):
        transition(batch, BatchStatus.COLLECTION, actor=actor)
    # The DIN (and the patient's chain-of-identity id) from the start: the collection bag is labelled before use.
    return custody.identifiers_allocate(batch=batch, actor=actor)


@START_PROCESSING.implemented_by
@transaction.atomic
def batch_start_processing(*, actor: User, batch_id: int) -> Batch:
    batch = START_PROCESSING.guard(actor, batch_id)
    apheresis = getattr(batch, "apheresis", None)
    if apheresis is None or not apheresis.is_verified:
        raise StateConflict(gettext("The apheresis collection must be recorded and verified before processing."))
    require_hand_offs(batch, BatchStatus.PROCESSING)
    with audit_context(actor, reason="collection complete; start CD133+ selection"):
        return transition(batch, BatchStatus.PROCESSING, actor=actor)


@QUARANTINE.implemented_by
@transaction.atomic
def batch_quarantine(*, actor: User, batch_id: int) -> Batch:
    """End processing: the product waits in quarantine for QC and QA release."""
    batch = QUARANTINE.guard(actor, batch_id)
    selection = getattr(batch, "selection", None)
    if selection is None or not selection.is_verified:
        raise StateConflict(gettext("The CD133+ selection must be recorded and verified before quarantine."))
    require_hand_offs(batch, BatchStatus.QUARANTINE)
    with audit_context(actor, reason="processing complete; quarantine"):
        Batch.objects.filter(pk=batch.pk).update(end_of_processing_at=selection.ended_at)
        batch.end_of_processing_at = selection.ended_at
        return transition(batch, BatchStatus.QUARANTINE, actor=actor)


@CANCEL.implemented_by
@transaction.atomic
def batch_cancel(*, actor: User, batch_id: int, reason: str) -> Batch:
    """Cancel a batch before release; the record stays, with the reason."""
    CANCEL.require_role(actor)
    reason = require_reason(reason, what="cancel a batch")
    batch = CANCEL.lock(batch_id)
    with audit_context(actor, reason=reason):
        Batch.objects.filter(pk=batch.pk).update(cancel_reason=reason)
        batch.cancel_reason = reason
        return transition(batch, BatchStatus.CANCELLED, actor=actor, reason=reason)
