"""OOS investigations: opened with the OOS result, worked through phase I and II, retests approved by QA,
closed by QA with a conclusion (FDA guidance, Investigating OOS test results; 21 CFR 211.192).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services.common import confirm_password, lock_batch
from batches.services.signatures import signature_sign
from qc.models import Deviation, OosInvestigation, OosPhase, OosRetestApproval, PlanKind, QcResult

WORK_ROLES = (Role.QC_ANALYST, Role.QA_REVIEWER)
TEXT_FIELDS = ("hypotheses", "assignable_cause", "conclusion")


def investigation_open_for_oos(*, result: QcResult, deviation: Deviation, actor: User | str) -> OosInvestigation:
    """Open the phase I investigation of an OOS result, in the caller's transaction (with its deviation)."""
    with audit_context(actor, reason="out-of-specification result opens its investigation"):
        return OosInvestigation.objects.create(deviation=deviation, result=result, batch=result.batch)


def _locked(investigation_id: int) -> OosInvestigation:
    investigation = (
        OosInvestigation.objects.select_for_update().select_related("deviation", "result").get(pk=investigation_id)
    )
    lock_batch(investigation.batch_id)
    if not investigation.is_open:
        raise StateConflict(
            gettext("The OOS investigation of %(number)s is closed and read-only.")
            % {"number": investigation.deviation.number}
        )
    return investigation


@transaction.atomic
def investigation_record(
    *,
    actor: User,
    investigation_id: int,
    hypotheses: str | None = None,
    laboratory_error: bool | None = None,
    assignable_cause: str | None = None,
    conclusion: str | None = None,
    reason: str = "",
) -> OosInvestigation:
    """Record hypotheses, the phase I outcome (laboratory error or not), the assignable cause, the conclusion.

    No laboratory error found moves the investigation to phase II (full scale: manufacturing, materials,
    the process). Overwriting recorded text needs a reason; the audit trail keeps the old value.
    """
    require_role(actor, *WORK_ROLES, action="Recording an OOS investigation")
    investigation = _locked(investigation_id)
    values = {
        name: value.strip()
        for name, value in (
            ("hypotheses", hypotheses),
            ("assignable_cause", assignable_cause),
            ("conclusion", conclusion),
        )
        if value is not None
    }
    overwrites = [n for n, v in values.items() if getattr(investigation, n) and v != getattr(investigation, n)]
    changes_outcome = (
        laboratory_error is not None
        and investigation.laboratory_error is not None
        and laboratory_error != investigation.laboratory_error
    )
    if overwrites or changes_outcome:
        reason = require_reason(reason, what="change what was recorded on an OOS investigation")
    for name, value in values.items():
        setattr(investigation, name, value)
    if laboratory_error is not None:
        investigation.laboratory_error = laboratory_error
        if not laboratory_error:
            investigation.phase = OosPhase.FULL_SCALE
    investigation.full_clean(exclude=["deviation", "result", "batch"], validate_unique=False)
    with audit_context(actor, reason=reason or "OOS investigation recorded"):
        investigation.save()
    return investigation


@transaction.atomic
def retest_approve(
    *, actor: User, investigation_id: int, kind: str, plan: str, password: str, otp_token: str = ""
) -> OosRetestApproval:
    """QA approves, with a signature, the retest plan, the resample or the invalidation under an investigation."""
    require_role(actor, Role.QA_REVIEWER, action="Approving a retest under an OOS investigation")
    confirm_password(actor, password, otp_token=otp_token)
    investigation = _locked(investigation_id)
    if kind not in PlanKind.values:
        raise ValidationError({"kind": gettext("One of %(value)s.") % {"value": ", ".join(PlanKind.values)}})
    text = (plan or "").strip()
    if len(text) < 20:
        raise ValidationError(
            {"plan": gettext("A written plan (at least 20 characters): what is retested, how, by whom.")}
        )
    if kind == PlanKind.INVALIDATION and not (investigation.laboratory_error and investigation.assignable_cause):
        raise ValidationError(
            {"kind": "A result is invalidated only for an assignable laboratory error recorded on the investigation."}
        )
    with audit_context(actor, reason=f"{PlanKind(kind).label} approved under {investigation.deviation.number}"):
        approval = OosRetestApproval.objects.create(
            investigation=investigation, kind=kind, plan=text, approved_by=actor, approved_at=timezone.now()
        )
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.APPROVED,
        target=approval,
        batch=investigation.batch,
    )
    return approval


@transaction.atomic
def investigation_close(*, actor: User, investigation_id: int, password: str, otp_token: str = "") -> OosInvestigation:
    """QA closes the investigation with its conclusion (signed, meaning approved); afterwards it is read-only."""
    require_role(actor, Role.QA_REVIEWER, action="Closing an OOS investigation")
    confirm_password(actor, password, otp_token=otp_token)
    investigation = _locked(investigation_id)
    missing: dict[str, str] = {}
    if not investigation.hypotheses:
        missing["hypotheses"] = "Hypotheses are required before QA closes the investigation."
    if investigation.laboratory_error is None:
        missing["laboratory_error"] = "The phase I outcome (laboratory error found or not) is required."
    elif investigation.laboratory_error and not investigation.assignable_cause:
        missing["assignable_cause"] = "A laboratory error was found: record the assignable cause."
    if not investigation.conclusion:
        missing["conclusion"] = "The conclusion is required before QA closes the investigation."
    if missing:
        raise ValidationError(missing)
    with audit_context(actor, reason=f"close the OOS investigation of {investigation.deviation.number}"):
        investigation.status = "closed"
        investigation.closed_by = actor
        investigation.closed_at = timezone.now()
        investigation.save()
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.APPROVED,
        target=investigation,
        batch=investigation.batch,
    )
    return investigation
