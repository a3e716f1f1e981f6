"""Deviations: opened (by hand, or automatically for an OOS result), investigated, closed by QA."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import Batch
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services.common import confirm_password, lock_batch
from batches.services.signatures import signature_sign
from batches.states import BatchStatus
from qc.evaluation import QcTest
from qc.models import (
    Classification,
    Deviation,
    DeviationKind,
    DeviationReclassification,
    DeviationStatus,
    OosInvestigation,
    QcResult,
)
from qc.queries import was_released
from qc.services.investigations import investigation_open_for_oos
from qc.services.notifications import notification_create_for_late_result
from qc.services.reportability import reportability_open

RAISE_ROLES = (Role.OPERATOR, Role.QC_ANALYST, Role.VERIFIER, Role.QA_REVIEWER)
INVESTIGATION_FIELDS = ("description", "investigation", "root_cause", "impact", "capa", "disposal")
RECLASSIFY_HERE = "Reclassifying is release-critical: QA reclassifies with a reason and a signature (Reclassify)."
# Every deviation records these before QA closes it; the disposal too when the batch was rejected.
CLOSING_FIELDS = ("investigation", "root_cause", "impact", "capa")


def _label(name: str) -> str:
    field = Deviation._meta.get_field(name)
    return str(getattr(field, "verbose_name", name))


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
    with translation.override(None):  # stored text: as written, whoever's language is active
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
    investigation_open_for_oos(result=result, deviation=deviation, actor=actor)
    if late:
        notification_create_for_late_result(deviation=deviation)
        reportability_open(deviation=deviation, actor=actor)
    return deviation


def deviation_open_for_monitoring(*, batch: Batch, description: str, actor: User) -> Deviation:
    """Open the deviation of an action-level environmental result on one batch of its session (caller's transaction).

    Major, so that it blocks release until QA closes it; critical once the batch was released, with the
    same alert as a late out-of-specification result.
    """
    late = was_released(batch)
    if late:
        description += " Read after the batch was released."
    with audit_context(actor, reason="action-level environmental monitoring result opens a deviation"):
        deviation = Deviation.objects.create(
            number=_next_number(),
            batch=batch,
            kind=DeviationKind.UNPLANNED,
            classification=Classification.CRITICAL if late else Classification.MAJOR,
            description=description,
            raised_by=actor,
            raised_after_release=late,
        )
    if late:
        notification_create_for_late_result(deviation=deviation)
    return deviation


def deviation_open_automatic(
    *, batch_id: int, kind: str, classification: str, description: str, actor: User, reason: str
) -> Deviation:
    """Open a deviation the system raises itself (a refused identity, an excursion), in the caller's transaction."""
    with audit_context(actor, reason=reason):
        return Deviation.objects.create(
            number=_next_number(),
            batch_id=batch_id,
            kind=kind,
            classification=classification,
            description=description[:2000],
            raised_by=actor,
        )


@transaction.atomic
def deviation_update(*, actor: User, deviation_id: int, values: dict[str, str], reason: str = "") -> Deviation:
    """Record the investigation (root cause, impact, CAPA, disposal); overwriting text needs a reason."""
    require_role(actor, *RAISE_ROLES, action="Updating a deviation")
    deviation = Deviation.objects.select_for_update().get(pk=deviation_id)
    lock_batch(deviation.batch_id)
    if deviation.status != DeviationStatus.OPEN:
        raise StateConflict(f"Deviation {deviation.number} is closed and read-only.")
    if "classification" in values and values["classification"] != deviation.classification:
        raise ValidationError({"classification": RECLASSIFY_HERE})
    values = {k: v for k, v in values.items() if k != "classification"}
    unknown = set(values) - set(INVESTIGATION_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown deviation field(s): {', '.join(sorted(unknown))}.")
    overwrites = [
        f for f in INVESTIGATION_FIELDS if f in values and getattr(deviation, f) and values[f] != getattr(deviation, f)
    ]
    if overwrites:
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
    oos = OosInvestigation.objects.filter(deviation=deviation).first()
    if oos is not None and oos.is_open:
        raise StateConflict(f"Deviation {deviation.number}: QA closes its OOS investigation (with a conclusion) first.")
    rejected = batch.dispositions.filter(decision="rejected").exists()
    needed = [*CLOSING_FIELDS, *(["disposal"] if rejected else [])]
    missing = {
        f: f"{capfirst(_label(f))} is required before QA closes deviation {deviation.number}."
        for f in needed
        if not (getattr(deviation, f) or "").strip()
    }
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


@transaction.atomic
def deviation_reclassify(
    *, actor: User, deviation_id: int, classification: str, reason: str, password: str, otp_token: str = ""
) -> DeviationReclassification:
    """QA changes a deviation's classification with a reason and a signature (meaning approved).

    Release-critical: the change is listed on the review page and kept in the signed disposition.
    """
    require_role(actor, Role.QA_REVIEWER, action="Reclassifying a deviation")
    confirm_password(actor, password, otp_token=otp_token)
    deviation = Deviation.objects.select_for_update().get(pk=deviation_id)
    batch = lock_batch(deviation.batch_id)
    if deviation.status != DeviationStatus.OPEN:
        raise StateConflict(f"Deviation {deviation.number} is closed and read-only.")
    if classification not in Classification.values:
        raise ValidationError({"classification": f"One of {', '.join(Classification.values)}."})
    if classification == deviation.classification:
        raise ValidationError({"classification": f"Deviation {deviation.number} is already {classification}."})
    why = require_reason(reason, what="reclassify a deviation")
    with audit_context(actor, reason=f"reclassify deviation {deviation.number}: {why}"):
        change = DeviationReclassification.objects.create(
            deviation=deviation,
            from_classification=deviation.classification,
            to_classification=classification,
            reason=why,
            decided_by=actor,
            decided_at=timezone.now(),
        )
        deviation.classification = classification
        deviation.save(update_fields=["classification"])
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.APPROVED,
        target=change,
        batch=batch,
    )
    return change
