"""Follow-up after infusion: visits, embryo transfers and their outcomes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import Batch, EmbryoTransfer, FollowUpVisit
from batches.models.followup import Menses
from batches.roles import Role, require_role
from batches.services.common import lock_batch
from batches.states import BatchStatus

FOLLOW_UP_STATES = (BatchStatus.INFUSED, BatchStatus.CLOSED)


def _infused_batch(batch_id: int, *, action: str) -> Batch:
    batch = lock_batch(batch_id)
    if batch.status not in FOLLOW_UP_STATES:
        raise StateConflict(
            f"{action} is possible only after the infusion; batch {batch.batch_number} is "
            f"{batch.get_status_display().lower()}."
        )
    if not batch.was_infused:  # closed after rejection: there is nothing to follow up
        raise StateConflict(
            f"{action} is possible only after the infusion; batch {batch.batch_number} was never infused."
        )
    return batch


def _not_before_infusion(batch: Batch, day: date, *, field: str) -> None:
    if day > timezone.localdate():
        raise ValidationError({field: f"{day:%Y-%m-%d} is in the future."})
    infusion = getattr(batch, "infusion", None)
    if infusion is not None and day < timezone.localdate(infusion.started_at):
        raise ValidationError({field: f"{day:%Y-%m-%d} is before the infusion."})


@transaction.atomic
def follow_up_visit_record(
    *,
    actor: User,
    batch_id: int,
    visit_date: date,
    menses: str,
    endometrial_thickness_mm: Decimal | None = None,
    adhesion_score: int | None = None,
    notes: str = "",
) -> FollowUpVisit:
    """Record one follow-up visit of the treated patient."""
    require_role(actor, Role.CLINICIAN, action="Recording a follow-up visit")
    batch = _infused_batch(batch_id, action="Recording a follow-up visit")
    _not_before_infusion(batch, visit_date, field="visit_date")
    if menses not in Menses.values:
        raise ValidationError({"menses": f"Menses must be one of {', '.join(Menses.values)}."})
    visit = FollowUpVisit(
        batch=batch,
        visit_date=visit_date,
        menses=menses,
        endometrial_thickness_mm=endometrial_thickness_mm,
        adhesion_score=adhesion_score,
        notes=notes,
        recorded_by=actor,
    )
    visit.full_clean(exclude=["batch", "recorded_by"])
    with audit_context(actor, reason="follow-up visit"):
        visit.save()
    return visit


@transaction.atomic
def embryo_transfer_record(
    *, actor: User, batch_id: int, transfer_date: date, embryos_transferred: int = 1, notes: str = ""
) -> EmbryoTransfer:
    """Record an embryo transfer; its outcomes follow as they become known."""
    require_role(actor, Role.CLINICIAN, action="Recording an embryo transfer")
    batch = _infused_batch(batch_id, action="Recording an embryo transfer")
    _not_before_infusion(batch, transfer_date, field="transfer_date")
    transfer = EmbryoTransfer(
        batch=batch,
        transfer_date=transfer_date,
        embryos_transferred=embryos_transferred,
        notes=notes,
        recorded_by=actor,
    )
    transfer.full_clean(exclude=["batch", "recorded_by"])
    with audit_context(actor, reason="embryo transfer"):
        transfer.save()
    return transfer


def _outcome_errors(implantation: bool | None, pregnancy: bool | None, live_birth: bool | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if pregnancy is True and implantation is not True:
        errors["clinical_pregnancy"] = _("A clinical pregnancy needs a recorded implantation.")
    if live_birth is True and pregnancy is not True:
        errors["live_birth"] = _("A live birth needs a recorded clinical pregnancy.")
    if implantation is False and pregnancy is not None and pregnancy is not False:
        errors["clinical_pregnancy"] = _("No implantation means no clinical pregnancy.")
    return errors


@transaction.atomic
def embryo_transfer_record_outcome(
    *,
    actor: User,
    transfer_id: int,
    implantation: bool | None,
    clinical_pregnancy: bool | None = None,
    live_birth: bool | None = None,
    reason: str = "",
) -> EmbryoTransfer:
    """Fill in (or correct, with a reason) the outcomes of a transfer: implantation, pregnancy, live birth."""
    require_role(actor, Role.CLINICIAN, action="Recording an embryo-transfer outcome")
    batch_id = EmbryoTransfer.objects.values_list("batch_id", flat=True).get(pk=transfer_id)
    lock_batch(batch_id)
    transfer = EmbryoTransfer.objects.select_for_update().get(pk=transfer_id)
    errors = _outcome_errors(implantation, clinical_pregnancy, live_birth)
    if errors:
        raise ValidationError(errors)
    # Filling a blank is a first entry; changing a known outcome is a correction and needs its reason.
    changed = [
        name
        for name, new in (
            ("implantation", implantation),
            ("clinical_pregnancy", clinical_pregnancy),
            ("live_birth", live_birth),
        )
        if getattr(transfer, name) is not None and getattr(transfer, name) != new
    ]
    why = require_reason(reason, what=f"change the recorded {', '.join(changed)}") if changed else "outcome recorded"
    with audit_context(actor, reason=why):
        transfer.implantation = implantation
        transfer.clinical_pregnancy = clinical_pregnancy
        transfer.live_birth = live_birth
        transfer.save(update_fields=["implantation", "clinical_pregnancy", "live_birth"])
    return transfer
