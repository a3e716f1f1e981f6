"""Batch disposition by QA (release, conditional release, rejection), QP certification, closure of a rejection.

Each outcome is a signed, immutable BatchDisposition plus the status transition, in one
transaction under the batch lock, together with the request of its signed record (the outbox
row of batches.services.documents). The release gate (qc.selectors) decides what blocks release;
a refusal changes nothing in the database.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import Batch, BatchDisposition, Decision, DocumentKind
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services.common import confirm_password, lock_batch, require_reason, require_status, transition
from batches.services.documents import document_request
from batches.services.signatures import signature_sign
from batches.states import BatchStatus
from qc.selectors import ReleaseGate, participants, release_gate, specification_for_batch

QA_DECISIONS = (Decision.RELEASED, Decision.CONDITIONALLY_RELEASED, Decision.REJECTED)
TARGETS = {
    Decision.RELEASED: BatchStatus.RELEASED,
    Decision.CONDITIONALLY_RELEASED: BatchStatus.CONDITIONALLY_RELEASED,
    Decision.REJECTED: BatchStatus.REJECTED,
}
MEANINGS = {
    Decision.RELEASED: SignatureMeaning.RELEASED,
    Decision.CONDITIONALLY_RELEASED: SignatureMeaning.CONDITIONALLY_RELEASED,
    Decision.REJECTED: SignatureMeaning.REJECTED,
    Decision.CERTIFIED: SignatureMeaning.CERTIFIED,
}


def _refusal(batch: Batch, decision: Decision, gate: ReleaseGate) -> StateConflict:
    reasons = "; ".join(f.message for f in gate.blocking)
    verb = "released conditionally" if decision == Decision.CONDITIONALLY_RELEASED else "released"
    return StateConflict(f"Batch {batch.batch_number} cannot be {verb}: {reasons}")


def _took_part(batch: Batch, actor: User, *, what: str) -> None:
    if actor.pk in participants(batch):
        raise PermissionDenied(
            f"You took part in making or testing batch {batch.batch_number}; someone independent must {what} it."
        )


def _decide(
    *,
    actor: User,
    batch_id: int,
    password: str,
    otp_token: str,
    decision: Decision,
    comment: str = "",
    plan: str = "",
) -> BatchDisposition:
    label = Decision(decision).label.lower()
    require_role(actor, Role.QA_REVIEWER, action=f"Deciding a batch ({label})")
    confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    require_status(batch, BatchStatus.QUARANTINE, action=f"Batch disposition ({label})")
    gate = release_gate(batch, releaser=actor, conditional=decision == Decision.CONDITIONALLY_RELEASED)
    if any(f.code == "releaser_took_part" for f in gate.blocking):
        raise PermissionDenied(
            f"You took part in making or testing batch {batch.batch_number}; someone independent must decide it."
        )
    if decision != Decision.REJECTED and gate.blocking:
        raise _refusal(batch, decision, gate)
    specification = specification_for_batch(batch)
    reason = comment or label
    with audit_context(actor, reason=reason):
        disposition = BatchDisposition.objects.create(
            batch=batch,
            decision=decision,
            decided_by=actor,
            decided_at=timezone.now(),
            comment=comment,
            positive_result_plan=plan,
            pending_tests=gate.pending_tests if decision == Decision.CONDITIONALLY_RELEASED else [],
            specification=f"{specification} (#{specification.pk})" if specification else "none",
            gate=gate.as_dict(),
        )
        signature_sign(
            signer=actor,
            password=password,
            password_checked=True,
            meaning=MEANINGS[decision],
            target=disposition,
            batch=batch,
        )
        transition(batch, TARGETS[decision], actor=actor, reason=reason)
    # The signed release record: its job row commits with the decision, or not at all.
    document_request(batch=batch, kind=DocumentKind.RELEASE_RECORD, actor=actor, reason=f"batch {label}")
    return disposition


@transaction.atomic
def batch_release(
    *, actor: User, batch_id: int, password: str, comment: str = "", otp_token: str = ""
) -> BatchDisposition:
    """QA releases a quarantined batch: every result in and within specification, the record complete."""
    return _decide(
        actor=actor,
        batch_id=batch_id,
        password=password,
        otp_token=otp_token,
        decision=Decision.RELEASED,
        comment=comment,
    )


@transaction.atomic
def batch_release_conditionally(
    *,
    actor: User,
    batch_id: int,
    password: str,
    positive_result_plan: str,
    comment: str = "",
    otp_token: str = "",
) -> BatchDisposition:
    """Release before non-blocking results (sterility) are in, under a written plan for a positive result."""
    require_role(actor, Role.QA_REVIEWER, action="Releasing a batch conditionally")
    plan = (positive_result_plan or "").strip()
    if len(plan) < 20:
        raise ValidationError(
            {"positive_result_plan": "A written plan (at least 20 characters) for a positive result is required."}
        )
    return _decide(
        actor=actor,
        batch_id=batch_id,
        password=password,
        otp_token=otp_token,
        decision=Decision.CONDITIONALLY_RELEASED,
        comment=comment,
        plan=plan,
    )


@transaction.atomic
def batch_reject(*, actor: User, batch_id: int, password: str, reason: str, otp_token: str = "") -> BatchDisposition:
    """QA rejects a quarantined batch; the reason is part of the signed record."""
    require_role(actor, Role.QA_REVIEWER, action="Rejecting a batch")
    cleaned = require_reason(reason, what="reject a batch")
    return _decide(
        actor=actor,
        batch_id=batch_id,
        password=password,
        otp_token=otp_token,
        decision=Decision.REJECTED,
        comment=cleaned,
    )


@transaction.atomic
def batch_certify(
    *, actor: User, batch_id: int, password: str, comment: str = "", otp_token: str = ""
) -> BatchDisposition:
    """The Qualified Person certifies a released batch (EU GMP Annex 11 §15); never the releaser."""
    require_role(actor, Role.QUALIFIED_PERSON, action="Certifying a batch")
    confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    if batch.status not in (BatchStatus.RELEASED, BatchStatus.CONDITIONALLY_RELEASED):
        raise StateConflict(
            f"Only a released batch is certified; batch {batch.batch_number} is "
            f"{BatchStatus(batch.status).label.lower()}."
        )
    if not batch.process_definition.requires_qp_certification:
        raise StateConflict(f"{batch.process_definition} does not require QP certification.")
    if BatchDisposition.objects.filter(batch=batch, decision=Decision.CERTIFIED).exists():
        raise StateConflict(f"Batch {batch.batch_number} is already certified.")
    release = BatchDisposition.objects.filter(batch=batch, decision__in=QA_DECISIONS).get()
    if release.decided_by_id == actor.pk:
        raise PermissionDenied("You released this batch; a different Qualified Person must certify it.")
    _took_part(batch, actor, what="certify")
    with audit_context(actor, reason=comment or "QP certification"):
        disposition = BatchDisposition.objects.create(
            batch=batch,
            decision=Decision.CERTIFIED,
            decided_by=actor,
            decided_at=timezone.now(),
            comment=comment,
            specification=release.specification,
            gate={},
        )
        signature_sign(
            signer=actor,
            password=password,
            password_checked=True,
            meaning=SignatureMeaning.CERTIFIED,
            target=disposition,
            batch=batch,
        )
    # A new revision of the release record carries the certification (it supersedes the one issued at release).
    document_request(batch=batch, kind=DocumentKind.RELEASE_RECORD, actor=actor, reason="QP certification")
    return disposition


def close_reviewed(
    *, actor: User, batch_id: int, password: str, otp_token: str, from_status: BatchStatus, action: str, why: str
) -> Batch:
    """QA closes a batch record (``from_status`` → closed), signed as reviewed, and requests its final record.

    Shared by the two closing services (after infusion, after rejection); call inside their transaction.
    """
    require_role(actor, Role.QA_REVIEWER, action=action)
    confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    require_status(batch, from_status, action=action)
    with audit_context(actor, reason=why):
        transition(batch, BatchStatus.CLOSED, actor=actor, reason=why)
        signature_sign(
            signer=actor,
            password=password,
            password_checked=True,
            meaning=SignatureMeaning.REVIEWED,
            target=batch.transitions.latest("at", "pk"),
            batch=batch,
        )
    # The final executed record is requested in the closing transaction (outbox), after the signature it shows.
    document_request(batch=batch, kind=DocumentKind.FINAL_RECORD, actor=actor, reason=f"{action}: {why}")
    return batch


@transaction.atomic
def batch_close_rejected(*, actor: User, batch_id: int, password: str, reason: str = "", otp_token: str = "") -> Batch:
    """QA closes the record of a rejected batch (rejected → closed), signed as reviewed; issues its final record."""
    return close_reviewed(
        actor=actor,
        batch_id=batch_id,
        password=password,
        otp_token=otp_token,
        from_status=BatchStatus.REJECTED,
        action="Closing a rejected batch",
        why=reason.strip() or "rejected batch closed: product destroyed or returned",
    )


def release_outstanding(batch: Batch) -> list[str]:
    """What still stands between a batch and dispatch: QA release, and QP certification when required."""
    decisions = set(BatchDisposition.objects.filter(batch=batch).values_list("decision", flat=True))
    missing: list[str] = []
    if not decisions & {Decision.RELEASED, Decision.CONDITIONALLY_RELEASED}:
        missing.append("QA release")
    if batch.process_definition.requires_qp_certification and Decision.CERTIFIED not in decisions:
        missing.append("QP certification")
    return missing
