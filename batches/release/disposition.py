"""Batch disposition by QA (release, conditional release, rejection), QP certification, closure of a rejection.

Each outcome is a signed, immutable BatchDisposition plus the status transition, in one
transaction under the batch lock, together with the request of its signed record (the outbox
row of batches.release.documents). The release gate (qc.selectors) decides what blocks release;
a refusal changes nothing in the database.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import Batch, BatchDisposition, Decision, DocumentKind
from batches.models.signatures import SignatureMeaning
from batches.release.documents import document_request
from batches.roles import Role
from batches.services.actions import StateAction
from batches.services.common import confirm_password, transition
from batches.services.signatures import signature_sign
from batches.states import BatchStatus
from qc.selectors import ReleaseGate, participants, release_gate, specification_for_batch

S = BatchStatus
QA = (Role.QA_REVIEWER,)
RELEASE = StateAction(
    slug="release", label=gettext_noop("Release"), roles=QA, source=(S.QUARANTINE,), needs_password=True
)
RELEASE_CONDITIONALLY = StateAction(
    slug="release-conditionally",
    label=gettext_noop("Release conditionally"),
    roles=QA,
    source=(S.QUARANTINE,),
    needs_reason=True,  # the written plan for a positive result
    needs_password=True,
)
REJECT = StateAction(
    slug="reject",
    label=gettext_noop("Reject"),
    roles=QA,
    source=(S.QUARANTINE,),
    needs_reason=True,
    needs_password=True,
)
CERTIFY = StateAction(
    slug="certify",
    label=gettext_noop("Certify (Qualified Person)"),
    roles=(Role.QUALIFIED_PERSON,),
    source=(S.RELEASED, S.CONDITIONALLY_RELEASED),
    needs_password=True,
)
CLOSE_REJECTED = StateAction(
    slug="close-rejected",
    label=gettext_noop("Close a rejected batch"),
    roles=QA,
    source=(S.REJECTED,),
    needs_password=True,
)
DECISION_ACTIONS = {
    Decision.RELEASED: RELEASE,
    Decision.CONDITIONALLY_RELEASED: RELEASE_CONDITIONALLY,
    Decision.REJECTED: REJECT,
}

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
    verb = gettext("released conditionally") if decision == Decision.CONDITIONALLY_RELEASED else "released"
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
    declared = DECISION_ACTIONS[decision]
    declared.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = declared.lock(batch_id)
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


@RELEASE.implemented_by
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


@RELEASE_CONDITIONALLY.implemented_by
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
    RELEASE_CONDITIONALLY.require_role(actor)
    plan = (positive_result_plan or "").strip()
    if len(plan) < 20:
        raise ValidationError(
            {
                "positive_result_plan": gettext(
                    "A written plan (at least 20 characters) for a positive result is required."
                )
            }
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


@REJECT.implemented_by
@transaction.atomic
def batch_reject(*, actor: User, batch_id: int, password: str, reason: str, otp_token: str = "") -> BatchDisposition:
    """QA rejects a quarantined batch; the reason is part of the signed record."""
    REJECT.require_role(actor)
    cleaned = require_reason(reason, what="reject a batch")
    return _decide(
        actor=actor,
        batch_id=batch_id,
        password=password,
        otp_token=otp_token,
        decision=Decision.REJECTED,
        comment=cleaned,
    )


@CERTIFY.implemented_by
@transaction.atomic
def batch_certify(
    *, actor: User, batch_id: int, password: str, comment: str = "", otp_token: str = ""
) -> BatchDisposition:
    """The Qualified Person certifies a released batch (EU GMP Annex 11 §15); never the releaser."""
    CERTIFY.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = CERTIFY.lock(batch_id)
    if not batch.process_definition.requires_qp_certification:
        raise StateConflict(f"{batch.process_definition} does not require QP certification.")
    if BatchDisposition.objects.filter(batch=batch, decision=Decision.CERTIFIED).exists():
        raise StateConflict(f"Batch {batch.batch_number} is already certified.")
    release = BatchDisposition.objects.filter(batch=batch, decision__in=QA_DECISIONS).get()
    if release.decided_by_id == actor.pk:
        raise PermissionDenied(gettext("You released this batch; a different Qualified Person must certify it."))
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
    *, actor: User, batch_id: int, password: str, otp_token: str, closing: StateAction, why: str
) -> Batch:
    """QA closes a batch record (``closing``'s source state → closed), signed as reviewed, and requests its
    final record. Shared by the two closing services (after infusion, after rejection); call inside their
    transaction.
    """
    closing.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = closing.lock(batch_id)
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
    document_request(batch=batch, kind=DocumentKind.FINAL_RECORD, actor=actor, reason=f"{closing.label}: {why}")
    return batch


@CLOSE_REJECTED.implemented_by
@transaction.atomic
def batch_close_rejected(*, actor: User, batch_id: int, password: str, reason: str = "", otp_token: str = "") -> Batch:
    """QA closes the record of a rejected batch (rejected → closed), signed as reviewed; issues its final record."""
    return close_reviewed(
        actor=actor,
        batch_id=batch_id,
        password=password,
        otp_token=otp_token,
        closing=CLOSE_REJECTED,
        why=reason.strip() or "rejected batch closed: product destroyed or returned",
    )


def release_outstanding(batch: Batch) -> list[str]:
    """What still stands between a batch and dispatch: QA release, and QP certification when required."""
    decisions = set(BatchDisposition.objects.filter(batch=batch).values_list("decision", flat=True))
    missing: list[str] = []
    if not decisions & {Decision.RELEASED, Decision.CONDITIONALLY_RELEASED}:
        missing.append(gettext("QA release"))
    if batch.process_definition.requires_qp_certification and Decision.CERTIFIED not in decisions:
        missing.append(gettext("QP certification"))
    return missing
