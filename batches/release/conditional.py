"""Conditional release (EU GMP for ATMPs §11.3): the medical director authorises it and the treating physician
acknowledges it, each with a signature; a follow-up stays open until every pending result is in and assessed
by QA; then the Qualified Person certifies the batch finally.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
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
    FollowUpStatus,
    ReleaseFollowUp,
)
from batches.models.signatures import SignatureMeaning
from batches.release.disposition import (
    CERTIFICATIONS,
    certification_gate,
    certification_write,
    refuse_participant,
)
from batches.release.documents import document_request
from batches.roles import Role
from batches.services.actions import StateAction
from batches.services.common import confirm_password, transition
from batches.services.signatures import signature_sign
from batches.states import BatchStatus
from qc.selectors import results_in

S = BatchStatus
# Until the product has left: afterwards the signatures no longer decide anything.
BEFORE_ADMINISTRATION = (S.AWAITING_CERTIFICATION, S.CONDITIONALLY_RELEASED)
AFTER_CONDITIONAL_RELEASE = (S.AWAITING_CERTIFICATION, S.CONDITIONALLY_RELEASED, S.DISPATCHED, S.INFUSED, S.CLOSED)
AUTHORISE = StateAction(
    slug="authorise-conditional-release",
    label=gettext_noop("Authorise the conditional release (medical director)"),
    roles=(Role.MEDICAL_DIRECTOR,),
    source=BEFORE_ADMINISTRATION,
    needs_password=True,
)
ACKNOWLEDGE = StateAction(
    slug="acknowledge-conditional-release",
    label=gettext_noop("Acknowledge the conditional release (treating physician)"),
    roles=(Role.CLINICIAN,),
    source=BEFORE_ADMINISTRATION,
    needs_password=True,
)
CLOSE_FOLLOW_UP = StateAction(
    slug="close-follow-up",
    label=gettext_noop("Close the follow-up of a conditional release"),
    roles=(Role.QA_REVIEWER,),
    source=AFTER_CONDITIONAL_RELEASE,
    needs_reason=True,  # QA's assessment of the results that were pending
    needs_password=True,
)
# What the final certification of a batch already handed over re-judges: its results and quality records.
# (Delivery records signed then completed at receipt or at the bedside are not release findings.)
QUALITY_CODES = frozenset(
    {"no_specification", "result_missing", "result_pending", "result_oos", "result_unverified"}
    | {"deviation_open", "deviation_no_impact", "oos_investigation_open"}
)
CERTIFY_FINAL = StateAction(
    slug="certify-final",
    label=gettext_noop("Final certification (Qualified Person)"),
    roles=(Role.QUALIFIED_PERSON,),
    source=(S.CONDITIONALLY_RELEASED, S.DISPATCHED, S.INFUSED),
    needs_password=True,
)


def _conditional_release(batch: Batch) -> BatchDisposition:
    release = BatchDisposition.objects.filter(batch=batch, decision=Decision.CONDITIONALLY_RELEASED).first()
    if release is None:
        raise StateConflict(
            gettext("Batch %(batch_number)s was not released conditionally.") % {"batch_number": batch.batch_number}
        )
    return release


def _sign_release(
    declared: StateAction, meaning: SignatureMeaning, *, actor: User, batch_id: int, password: str, otp_token: str
) -> ElectronicSignature:
    declared.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = declared.lock(batch_id)
    release = _conditional_release(batch)
    if release.decided_by_id == actor.pk:
        raise StateConflict(gettext("QA's decision and this signature must come from two different people."))
    already = ElectronicSignature.objects.filter(batch=batch, object_id=release.pk, meaning=meaning).first()
    if already is not None:
        raise StateConflict(
            gettext("The conditional release of batch %(batch_number)s is already %(lower)s.")
            % {"batch_number": batch.batch_number, "lower": meaning.label.lower()}
        )
    with audit_context(actor, reason=f"conditional release of {batch.batch_number}: {meaning.label.lower()}"):
        return signature_sign(
            signer=actor, password=password, password_checked=True, meaning=meaning, target=release, batch=batch
        )


@AUTHORISE.implemented_by
@transaction.atomic
def conditional_release_authorise(
    *, actor: User, batch_id: int, password: str, otp_token: str = ""
) -> ElectronicSignature:
    """The medical director signs QA's conditional release (meaning authorised): the clinical risk is accepted."""
    return _sign_release(
        AUTHORISE, SignatureMeaning.AUTHORISED, actor=actor, batch_id=batch_id, password=password, otp_token=otp_token
    )


@ACKNOWLEDGE.implemented_by
@transaction.atomic
def conditional_release_acknowledge(
    *, actor: User, batch_id: int, password: str, otp_token: str = ""
) -> ElectronicSignature:
    """The treating physician signs QA's conditional release (meaning acknowledged): the pending tests and the
    plan for a positive result are known at the bedside.
    """
    return _sign_release(
        ACKNOWLEDGE,
        SignatureMeaning.ACKNOWLEDGED,
        actor=actor,
        batch_id=batch_id,
        password=password,
        otp_token=otp_token,
    )


@CLOSE_FOLLOW_UP.implemented_by
@transaction.atomic
def followup_close(*, actor: User, batch_id: int, password: str, reason: str, otp_token: str = "") -> ReleaseFollowUp:
    """QA closes the follow-up once every pending result is in and reviewed, with its assessment (signed)."""
    CLOSE_FOLLOW_UP.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = CLOSE_FOLLOW_UP.lock(batch_id)
    followup = ReleaseFollowUp.objects.select_for_update().filter(batch=batch).first()
    if followup is None or followup.status != FollowUpStatus.OPEN:
        raise StateConflict(
            gettext("Batch %(batch_number)s has no open follow-up of a conditional release.")
            % {"batch_number": batch.batch_number}
        )
    outstanding = [test for test, reviewed in results_in(batch, followup.pending_tests).items() if not reviewed]
    if outstanding:
        raise StateConflict(
            f"The follow-up of batch {batch.batch_number} stays open: no reviewed result yet for "
            f"{', '.join(outstanding)}."
        )
    assessment = require_reason(reason, what="close the follow-up (QA's assessment of the results)")
    with audit_context(actor, reason=f"follow-up of the conditional release of {batch.batch_number} closed"):
        followup.status = FollowUpStatus.CLOSED
        followup.assessment = assessment
        followup.closed_by = actor
        followup.closed_at = timezone.now()
        followup.full_clean(exclude=["batch", "disposition"], validate_unique=False)
        followup.save()
        signature_sign(
            signer=actor,
            password=password,
            password_checked=True,
            meaning=SignatureMeaning.REVIEWED,
            target=followup,
            batch=batch,
        )
    return followup


@CERTIFY_FINAL.implemented_by
@transaction.atomic
def batch_certify_final(
    *, actor: User, batch_id: int, password: str, comment: str = "", otp_token: str = ""
) -> BatchDisposition:
    """The QP's final certification after an initial one: the follow-up closed, every result in and passing."""
    CERTIFY_FINAL.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = CERTIFY_FINAL.lock(batch_id)
    release = _conditional_release(batch)
    done = set(
        BatchDisposition.objects.filter(batch=batch, decision__in=CERTIFICATIONS).values_list("decision", flat=True)
    )
    if Decision.CERTIFIED in done:
        raise StateConflict(
            gettext("Batch %(batch_number)s is already finally certified.") % {"batch_number": batch.batch_number}
        )
    if Decision.CERTIFIED_INITIAL not in done:
        raise StateConflict(
            gettext("Batch %(batch_number)s has no initial certification to complete.")
            % {"batch_number": batch.batch_number}
        )
    followup = ReleaseFollowUp.objects.filter(batch=batch).first()
    if followup is None or followup.status != FollowUpStatus.CLOSED:
        raise StateConflict(
            f"Batch {batch.batch_number} cannot be finally certified: QA has not closed the follow-up of its "
            "conditional release (pending results in and assessed)."
        )
    if release.decided_by_id == actor.pk:
        raise PermissionDenied(gettext("You released this batch; a different Qualified Person must certify it."))
    refuse_participant(batch, actor, what="certify")
    handed_over = batch.status != S.CONDITIONALLY_RELEASED
    codes = QUALITY_CODES if handed_over else None
    gate = certification_gate(batch, conditional=False, verb="finally certified", codes=codes)
    disposition = certification_write(
        actor=actor,
        password=password,
        batch=batch,
        release=release,
        decision=Decision.CERTIFIED,
        comment=comment,
        pending=[],
        now_seen=gate,
    )
    if batch.status == S.CONDITIONALLY_RELEASED:
        with audit_context(actor, reason=Decision.CERTIFIED.label):
            transition(batch, S.RELEASED, actor=actor, reason=Decision.CERTIFIED.label)
    document_request(batch=batch, kind=DocumentKind.RELEASE_RECORD, actor=actor, reason=Decision.CERTIFIED.label)
    return disposition
