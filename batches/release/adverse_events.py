"""Adverse events after dispatch: the clinician records each with its CTCAE grade and relatedness."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import AdverseEvent
from batches.models.delivery import AdverseEventPhase, Relatedness
from batches.roles import Role, require_role
from batches.services.common import check_event_time, lock_batch
from batches.states import BatchStatus

ADVERSE_EVENT_STATES = {
    AdverseEventPhase.INFUSION: (BatchStatus.DISPATCHED, BatchStatus.INFUSED, BatchStatus.CLOSED),
    AdverseEventPhase.FOLLOW_UP: (BatchStatus.INFUSED, BatchStatus.CLOSED),
}


@transaction.atomic
def adverse_event_record(
    *,
    actor: User,
    batch_id: int,
    phase: str,
    term: str,
    ctcae_grade: int,
    relatedness: str,
    onset_at: datetime,
    serious: bool = False,
    resolved_at: datetime | None = None,
    notes: str = "",
) -> AdverseEvent:
    """Record an adverse event with its CTCAE grade and relatedness."""
    require_role(actor, Role.CLINICIAN, action="Recording an adverse event")
    errors: dict[str, str] = {}
    if phase not in AdverseEventPhase.values:
        errors["phase"] = f"Phase must be one of {', '.join(AdverseEventPhase.values)}."
    if relatedness not in Relatedness.values:
        errors["relatedness"] = f"Relatedness must be one of {', '.join(Relatedness.values)}."
    if not isinstance(ctcae_grade, int) or not 1 <= ctcae_grade <= 5:
        errors["ctcae_grade"] = gettext("The CTCAE grade is 1 (mild) to 5 (death).")
    if not term.strip():
        errors["term"] = gettext("Name the adverse event (CTCAE term).")
    if resolved_at is not None and resolved_at < onset_at:
        errors["resolved_at"] = gettext("Resolution cannot be before onset.")
    if errors:
        raise ValidationError(errors)
    check_event_time(onset_at, field="onset_at", late_entry_reason="adverse events are reported when known")
    batch = lock_batch(batch_id)
    states = ADVERSE_EVENT_STATES[AdverseEventPhase(phase)]
    if batch.status not in states:
        raise StateConflict(
            f"An adverse event of phase {phase} needs batch {batch.batch_number} to be "
            f"{' or '.join(s.label.lower() for s in states)}; it is {batch.get_status_display().lower()}."
        )
    if batch.status == BatchStatus.CLOSED and not batch.was_infused:
        raise StateConflict(
            gettext("Batch %(batch_number)s was closed without an infusion; it has no adverse events.")
            % {"batch_number": batch.batch_number}
        )
    with audit_context(actor, reason=f"adverse event: {term.strip()} grade {ctcae_grade}"):
        return AdverseEvent.objects.create(
            batch=batch,
            phase=phase,
            term=term.strip(),
            ctcae_grade=ctcae_grade,
            relatedness=relatedness,
            serious=serious or ctcae_grade >= 4,
            onset_at=onset_at,
            resolved_at=resolved_at,
            notes=notes,
            reported_by=actor,
        )
