"""Batch disposition by QA (release, conditional release, rejection), QP certification, closure of a rejection.

Each outcome is a signed, immutable BatchDisposition plus the status transition, in one
transaction under the batch lock, together with the request of its signed record (the outbox
row of batches.release.documents). The release gate (qc.selectors) decides what blocks release;
a refusal changes nothing in the database.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import (
    Batch,
    BatchDisposition,
    Decision,
    DocumentKind,
    ElectronicSignature,
    ReleaseFollowUp,
)
from batches.models.release import CERTIFICATIONS
from batches.models.signatures import SignatureMeaning, SignatureStatus
from batches.release.documents import document_request
from batches.release.labelling import packaging_outstanding
from batches.roles import Role
from batches.services.actions import StateAction
from batches.services.common import confirm_password, transition
from batches.services.signatures import signature_sign
from batches.states import BatchStatus
from qc.selectors import ReleaseGate, participants, release_gate, specification_for_batch

S = BatchStatus
QA = (Role.QA_REVIEWER,)
RELEASE = StateAction(
    slug="release",
    label=gettext_noop("Release"),
    roles=QA,
    source=(S.QUARANTINE,),
    needs_password=True,
    procedure="disposition",
)
RELEASE_CONDITIONALLY = StateAction(
    slug="release-conditionally",
    label=gettext_noop("Release conditionally"),
    roles=QA,
    source=(S.QUARANTINE,),
    needs_reason=True,  # the written plan for a positive result
    needs_password=True,
    procedure="disposition",
)
REJECT = StateAction(
    slug="reject",
    label=gettext_noop("Reject"),
    roles=QA,
    source=(S.QUARANTINE,),
    needs_reason=True,
    needs_password=True,
    procedure="disposition",
)
CERTIFY = StateAction(
    slug="certify",
    label=gettext_noop("Certify (Qualified Person)"),
    roles=(Role.QUALIFIED_PERSON,),
    source=(S.AWAITING_CERTIFICATION,),
    needs_password=True,
    procedure="certification",
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
    Decision.CERTIFIED_INITIAL: SignatureMeaning.CERTIFIED,
}


def _refusal(batch: Batch, decision: Decision, gate: ReleaseGate) -> StateConflict:
    reasons = "; ".join(f.message for f in gate.blocking)
    verb = gettext("released conditionally") if decision == Decision.CONDITIONALLY_RELEASED else "released"
    return StateConflict(f"Batch {batch.batch_number} cannot be {verb}: {reasons}")


def refuse_participant(batch: Batch, actor: User, *, what: str) -> None:
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
    declared.require_training(actor, batch)
    gate = release_gate(batch, releaser=actor, conditional=decision == Decision.CONDITIONALLY_RELEASED)
    if any(f.code == "releaser_took_part" for f in gate.blocking):
        raise PermissionDenied(
            f"You took part in making or testing batch {batch.batch_number}; someone independent must decide it."
        )
    if decision != Decision.REJECTED and gate.blocking:
        raise _refusal(batch, decision, gate)
    packaging = packaging_outstanding(batch) if decision != Decision.REJECTED else None
    if packaging:
        raise StateConflict(f"Batch {batch.batch_number} cannot be released: {packaging}.")
    specification = specification_for_batch(batch)
    reason = comment or label
    # QA's decision releases nothing for administration where the QP certifies: the batch waits for it.
    awaits_qp = decision != Decision.REJECTED and batch.process_definition.requires_qp_certification
    target = BatchStatus.AWAITING_CERTIFICATION if awaits_qp else TARGETS[decision]
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
            acknowledged=[f.as_dict() for f in gate.exceptions],
        )
        signature_sign(
            signer=actor,
            password=password,
            password_checked=True,
            meaning=MEANINGS[decision],
            target=disposition,
            batch=batch,
        )
        transition(batch, target, actor=actor, reason=reason)
        if decision == Decision.CONDITIONALLY_RELEASED:
            ReleaseFollowUp.objects.create(batch=batch, disposition=disposition, pending_tests=gate.pending_tests)
    if not awaits_qp:
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
    """The Qualified Person certifies the batch QA decided on, releasing it for administration (EU GMP for
    ATMPs, Part IV ch. 11): a final certification after QA's release, an initial one (the pending results
    listed) after QA's conditional release. Never the releaser nor anyone who took part in the batch.
    """
    CERTIFY.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = CERTIFY.lock(batch_id)
    CERTIFY.require_training(actor, batch)
    release = BatchDisposition.objects.filter(batch=batch, decision__in=QA_DECISIONS).get()
    if release.decided_by_id == actor.pk:
        raise PermissionDenied(gettext("You released this batch; a different Qualified Person must certify it."))
    refuse_participant(batch, actor, what="certify")
    conditional = release.decision == Decision.CONDITIONALLY_RELEASED
    if conditional:
        missing = conditional_signatures_missing(release)
        if missing:
            lacks = " and ".join(missing)
            raise StateConflict(
                f"Batch {batch.batch_number} cannot be certified: the conditional release lacks {lacks}."
            )
    gate = certification_gate(batch, conditional=conditional, verb="certified")
    decision = Decision.CERTIFIED_INITIAL if conditional else Decision.CERTIFIED
    disposition = certification_write(
        actor=actor,
        password=password,
        batch=batch,
        release=release,
        decision=decision,
        comment=comment,
        pending=list(release.pending_tests) if conditional else [],
        now_seen=gate,
    )
    with audit_context(actor, reason=Decision(decision).label):
        target = BatchStatus.CONDITIONALLY_RELEASED if conditional else BatchStatus.RELEASED
        transition(batch, target, actor=actor, reason=Decision(decision).label)
    # The release record is issued once the QP has certified, never on QA's decision alone.
    document_request(batch=batch, kind=DocumentKind.RELEASE_RECORD, actor=actor, reason=Decision(decision).label)
    return disposition


def certification_gate(
    batch: Batch, *, conditional: bool, verb: str, codes: frozenset[str] | None = None
) -> ReleaseGate:
    """The gate at certification, evaluated again under the lock; anything blocking (of ``codes``) refuses it."""
    gate = release_gate(batch, conditional=conditional)
    # A pending result that came in before the certification is assessed in the follow-up, not refused here.
    blocking = [f for f in gate.blocking if f.code != "nothing_pending" and (codes is None or f.code in codes)]
    if blocking:
        reasons = "; ".join(f.message for f in blocking)
        raise StateConflict(f"Batch {batch.batch_number} cannot be {verb}: {reasons}")
    return gate


def certification_write(
    *,
    actor: User,
    password: str,
    batch: Batch,
    release: BatchDisposition,
    decision: Decision,
    comment: str,
    pending: list[str],
    now_seen: ReleaseGate,
) -> BatchDisposition:
    """Write and sign a certification: the gate content QA saw, what is pending, the trial and PSF references."""
    trial = batch.process_definition.clinical_trial
    if trial is None:
        raise StateConflict(
            f"{batch.process_definition} names no clinical trial and product specification file; "
            "the Qualified Person certifies against them."
        )
    with audit_context(actor, reason=comment or Decision(decision).label):
        disposition = BatchDisposition.objects.create(
            batch=batch,
            decision=decision,
            decided_by=actor,
            decided_at=timezone.now(),
            comment=comment,
            pending_tests=pending,
            specification=release.specification,
            gate={"qa_decision": release.gate, "at_certification": now_seen.as_dict()},
            acknowledged=[f.as_dict() for f in now_seen.exceptions],
            references=trial.references(),
        )
        signature_sign(
            signer=actor,
            password=password,
            password_checked=True,
            meaning=SignatureMeaning.CERTIFIED,
            target=disposition,
            batch=batch,
        )
    return disposition


def conditional_signatures_missing(release: BatchDisposition) -> list[str]:
    """What a conditional release still lacks: the medical director's and the treating physician's signatures."""
    signed = set(
        ElectronicSignature.objects.filter(
            content_type=ContentType.objects.get_for_model(BatchDisposition),
            object_id=release.pk,
            status=SignatureStatus.VALID,
        ).values_list("meaning", flat=True)
    )
    missing = []
    if SignatureMeaning.AUTHORISED not in signed:
        missing.append("the medical director's signature (authorised)")
    if SignatureMeaning.ACKNOWLEDGED not in signed:
        missing.append("the treating physician's acknowledgement (signed)")
    return missing


def release_outstanding(batch: Batch) -> list[str]:
    """What still stands between a batch and dispatch: QA's decision, the medical director's and treating
    physician's signatures on a conditional one, and the QP's certification when required.
    """
    dispositions = list(BatchDisposition.objects.filter(batch=batch))
    decisions = {d.decision for d in dispositions}
    missing: list[str] = []
    release = next(
        (d for d in dispositions if d.decision in (Decision.RELEASED, Decision.CONDITIONALLY_RELEASED)), None
    )
    if release is None:
        missing.append(gettext("QA release"))
    elif release.decision == Decision.CONDITIONALLY_RELEASED:
        missing += conditional_signatures_missing(release)
    if batch.process_definition.requires_qp_certification and not decisions & set(CERTIFICATIONS):
        missing.append(gettext("QP certification"))
    return missing
