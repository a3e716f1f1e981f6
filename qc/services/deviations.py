"""Deviations: opened (by hand, or automatically for an OOS result), investigated, closed by QA."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, has_role, require_role
from batches.services.common import confirm_password, lock_batch
from batches.services.signatures import signature_sign
from batches.states import BatchStatus
from qc.evaluation import QcTest
from qc.models import Classification, Deviation, DeviationKind, DeviationStatus, QcResult
from qc.queries import was_released
from qc.services.notifications import notification_create_for_late_result

RAISE_ROLES = (Role.OPERATOR, Role.QC_ANALYST, Role.VERIFIER, Role.QA_REVIEWER)
INVESTIGATION_FIELDS = ("description", "investigation", "root_cause", "impact", "capa")


def _next_number() -> str:
    # Serialises numbering; deviations are rare, so the table lock costs nothing.
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE qc_deviation IN SHARE ROW EXCLUSIVE MODE")
    prefix = f"DEV-{timezone.now().year}-"
    count = Deviation.objects.filter(number__startswith=prefix).count()
    return f"{prefix}{count + 1:04d}"


@transaction.atomic
def deviation_open(*, actor: User, batch_id: int, kind: str, classification: str, description: str) -> Deviation:
    """Raise a planned or unplanned deviation on a batch (OOS deviations open themselves)."""
    require_role(actor, *RAISE_ROLES, action="Raising a deviation")
    batch = lock_batch(batch_id)
    if batch.status == BatchStatus.CANCELLED:
        raise StateConflict(f"Batch {batch.batch_number} is cancelled.")
    if kind not in (DeviationKind.PLANNED, DeviationKind.UNPLANNED):
        raise ValidationError({"kind": _("Raise a planned or unplanned deviation; an OOS result opens its own.")})
    if classification not in Classification.values:
        raise ValidationError({"classification": f"One of {', '.join(Classification.values)}."})
    text = require_reason(description, what="describe the deviation")
    with audit_context(actor, reason=f"raise {kind} deviation"):
        return Deviation.objects.create(
            number=_next_number(),
            batch=batch,
            kind=kind,
            classification=classification,
            description=text,
            raised_by=actor,
        )


def deviation_open_for_oos(*, result: QcResult, actor: User) -> Deviation:
    """Open the deviation of an OOS result in the caller's transaction; after release it is critical."""
    late = result.recorded_after_release or was_released(result.batch)
    critical = late or result.test == QcTest.STERILITY
    limit = result.limit.as_limit().describe()
    description = (
        f"{result.get_test_display()} result {result.display_value} is out of specification "
        f"({limit}) on sample {result.sample.sample_code}."
    )
    if late:
        description += " Recorded after the batch was released."
    with audit_context(actor, reason="out-of-specification result opens a deviation"):
        deviation = Deviation.objects.create(
            number=_next_number(),
            batch=result.batch,
            kind=DeviationKind.OOS,
            classification=Classification.CRITICAL if critical else Classification.MAJOR,
            description=description,
            source_result=result,
            raised_by=actor,
            raised_after_release=late,
        )
    if late:
        notification_create_for_late_result(deviation=deviation)
    return deviation


@transaction.atomic
def deviation_update(*, actor: User, deviation_id: int, values: dict[str, str], reason: str = "") -> Deviation:
    """Record the investigation (root cause, impact, CAPA); overwriting text or reclassifying needs a reason."""
    require_role(actor, *RAISE_ROLES, action="Updating a deviation")
    deviation = Deviation.objects.select_for_update().get(pk=deviation_id)
    lock_batch(deviation.batch_id)
    if deviation.status != DeviationStatus.OPEN:
        raise StateConflict(f"Deviation {deviation.number} is closed and read-only.")
    unknown = set(values) - {*INVESTIGATION_FIELDS, "classification"}
    if unknown:
        raise ValidationError(f"Unknown deviation field(s): {', '.join(sorted(unknown))}.")
    overwrites = [
        f for f in INVESTIGATION_FIELDS if f in values and getattr(deviation, f) and values[f] != getattr(deviation, f)
    ]
    reclassify = "classification" in values and values["classification"] != deviation.classification
    if reclassify:
        if not has_role(actor, Role.QA_REVIEWER):
            raise ValidationError({"classification": _("Only QA reclassifies a deviation.")})
        if values["classification"] not in Classification.values:
            raise ValidationError({"classification": f"One of {', '.join(Classification.values)}."})
    if overwrites or reclassify:
        reason = require_reason(reason, what="change what was recorded on a deviation")
    for name, value in values.items():
        setattr(deviation, name, value.strip() if isinstance(value, str) else value)
    deviation.full_clean(exclude=["batch", "raised_by", "source_result"], validate_unique=False)
    with audit_context(actor, reason=reason or "investigation recorded"):
        deviation.save()
    return deviation


@transaction.atomic
def deviation_close(
    *, actor: User, deviation_id: int, password: str, closure_summary: str, otp_token: str = ""
) -> Deviation:
    """QA approves the investigation and closes the deviation (signed, meaning approved)."""
    require_role(actor, Role.QA_REVIEWER, action="Closing a deviation")
    confirm_password(actor, password, otp_token=otp_token)
    deviation = Deviation.objects.select_for_update().get(pk=deviation_id)
    batch = lock_batch(deviation.batch_id)
    if deviation.status != DeviationStatus.OPEN:
        raise StateConflict(f"Deviation {deviation.number} is already closed.")
    needed = ["investigation", "impact"]
    if deviation.kind == DeviationKind.OOS or deviation.classification != Classification.MINOR:
        needed += ["root_cause", "capa"]
    missing = {f: _("Required before QA closes the deviation.") for f in needed if not getattr(deviation, f).strip()}
    if missing:
        raise ValidationError(missing)
    summary = require_reason(closure_summary, what="close a deviation (closure summary)")
    with audit_context(actor, reason=f"close deviation {deviation.number}"):
        deviation.status = DeviationStatus.CLOSED
        deviation.closure_summary = summary
        deviation.closed_by = actor
        deviation.closed_at = timezone.now()
        deviation.save()
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.APPROVED,
        target=deviation,
        batch=batch,
    )
    return deviation
