"""Closing a batch record: QA's signed review closes it (after infusion, or after rejection) and requests
the final record."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext_noop

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import Batch, BatchDisposition, Decision, DocumentKind, FollowUpStatus, ReleaseFollowUp
from batches.models.signatures import SignatureMeaning
from batches.release.disposition import QA, S
from batches.release.documents import document_request
from batches.services.actions import StateAction
from batches.services.common import confirm_password, transition
from batches.services.signatures import signature_sign
from batches.states import BatchStatus

CLOSE_REJECTED = StateAction(
    slug="close-rejected",
    roles=QA,
    source=(S.REJECTED,),
    needs_password=True,
    procedure="disposition",
    label=gettext_noop("Close a rejected batch"),
)


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
    closing.require_training(actor, batch)
    followup = ReleaseFollowUp.objects.filter(batch=batch).first()
    if followup is not None and followup.status == FollowUpStatus.OPEN:
        raise StateConflict(
            f"Batch {batch.batch_number} cannot be closed: the follow-up of its conditional release is open "
            f"(pending: {', '.join(followup.pending_tests)})."
        )
    if followup is not None and not BatchDisposition.objects.filter(batch=batch, decision=Decision.CERTIFIED).exists():
        raise StateConflict(f"Batch {batch.batch_number} cannot be closed before the QP's final certification.")
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
