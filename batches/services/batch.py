"""Batch life cycle up to quarantine: one function per state change."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import ApprovalStatus, Batch, Patient, ProcessDefinition
from batches.roles import Role, require_role
from batches.services.common import lock_batch, require_reason, require_status, transition
from batches.states import BatchStatus


def _next_batch_number(definition: ProcessDefinition) -> str:
    # The table lock serialises numbering; registrations are rare, so the cost is nil.
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE batches_batch IN SHARE ROW EXCLUSIVE MODE")
    year = timezone.now().year
    prefix = f"{definition.code}-{year}-"
    count = Batch.objects.filter(batch_number__startswith=prefix).count()
    return f"{prefix}{count + 1:04d}"


@transaction.atomic
def batch_register(*, actor: User, patient_id: int, process_definition_id: int) -> Batch:
    """Open a batch for an eligible patient under an approved process definition."""
    require_role(actor, Role.OPERATOR, action="Registering a batch")
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
            batch_number=_next_batch_number(definition),
            patient=patient,
            process_definition=definition,
            body_weight_kg=patient.body_weight_kg,
            registered_by=actor,
        )
    return batch


@transaction.atomic
def batch_start_mobilization(*, actor: User, batch_id: int) -> Batch:
    require_role(actor, Role.OPERATOR, action="Starting mobilization")
    batch = lock_batch(batch_id)
    require_status(batch, BatchStatus.REGISTERED, action="Starting mobilization")
    with audit_context(actor, reason="start G-CSF mobilization"):
        return transition(batch, BatchStatus.MOBILIZATION, actor=actor)


@transaction.atomic
def batch_start_collection(*, actor: User, batch_id: int) -> Batch:
    """Close mobilization: the regimen's minimum days are given and every administration is verified."""
    require_role(actor, Role.OPERATOR, action="Starting collection")
    batch = lock_batch(batch_id)
    require_status(batch, BatchStatus.MOBILIZATION, action="Starting collection")
    administrations = list(batch.gcsf_administrations.all())
    minimum = batch.process_definition.gcsf_days_min
    if len(administrations) < minimum:
        raise StateConflict(f"Mobilization needs at least {minimum} G-CSF days; {len(administrations)} recorded.")
    unverified = [a.day for a in administrations if not a.is_verified]
    if unverified:
        raise StateConflict(f"G-CSF day(s) {', '.join(map(str, unverified))} not verified by a second person.")
    with audit_context(actor, reason="mobilization complete; start apheresis"):
        return transition(batch, BatchStatus.COLLECTION, actor=actor)


@transaction.atomic
def batch_start_processing(*, actor: User, batch_id: int) -> Batch:
    require_role(actor, Role.OPERATOR, action="Starting processing")
    batch = lock_batch(batch_id)
    require_status(batch, BatchStatus.COLLECTION, action="Starting processing")
    apheresis = getattr(batch, "apheresis", None)
    if apheresis is None or not apheresis.is_verified:
        raise StateConflict("The apheresis collection must be recorded and verified before processing.")
    with audit_context(actor, reason="collection complete; start CD133+ selection"):
        return transition(batch, BatchStatus.PROCESSING, actor=actor)


@transaction.atomic
def batch_quarantine(*, actor: User, batch_id: int) -> Batch:
    """End processing: the product waits in quarantine for QC and QA release."""
    require_role(actor, Role.OPERATOR, action="Moving to quarantine")
    batch = lock_batch(batch_id)
    require_status(batch, BatchStatus.PROCESSING, action="Moving to quarantine")
    selection = getattr(batch, "selection", None)
    if selection is None or not selection.is_verified:
        raise StateConflict("The CD133+ selection must be recorded and verified before quarantine.")
    with audit_context(actor, reason="processing complete; quarantine"):
        Batch.objects.filter(pk=batch.pk).update(end_of_processing_at=selection.ended_at)
        batch.end_of_processing_at = selection.ended_at
        return transition(batch, BatchStatus.QUARANTINE, actor=actor)


@transaction.atomic
def batch_cancel(*, actor: User, batch_id: int, reason: str) -> Batch:
    """Cancel a batch before release; the record stays, with the reason."""
    require_role(actor, Role.OPERATOR, Role.QA_REVIEWER, action="Cancelling a batch")
    reason = require_reason(reason, what="cancel a batch")
    batch = lock_batch(batch_id)
    with audit_context(actor, reason=reason):
        Batch.objects.filter(pk=batch.pk).update(cancel_reason=reason)
        batch.cancel_reason = reason
        return transition(batch, BatchStatus.CANCELLED, actor=actor, reason=reason)
