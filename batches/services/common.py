"""Building blocks shared by the services: locking, transitions, identity re-check, server time."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from batches import formatting
from batches.accounts.identity import signer_identity_confirm
from batches.exceptions import StateConflict
from batches.models import Batch, BatchTransition
from batches.states import BatchStatus, can_transition

# Clocks of bedside devices drift; a time this far ahead of the server is still accepted.
CLOCK_SKEW = timedelta(minutes=2)


def lock_batch(batch_id: int) -> Batch:
    """Fetch the batch FOR UPDATE: concurrent changes to one batch run one after the other."""
    return Batch.objects.select_for_update().get(pk=batch_id)


def require_status(batch: Batch, status: BatchStatus, *, action: str) -> None:
    if batch.status != status:
        raise StateConflict(
            _("%(action)s is possible only when batch %(batch)s is %(status)s; it is %(current)s.")
            % {
                "action": action,
                "batch": batch.batch_number,
                "status": _(status.label).lower(),
                "current": _(BatchStatus(batch.status).label).lower(),
            }
        )


def transition(batch: Batch, target: BatchStatus, *, actor: User, reason: str = "") -> Batch:
    """Move a locked batch to ``target`` with a compare-and-set update and record the transition."""
    source = BatchStatus(batch.status)
    if not can_transition(source, target):
        raise StateConflict(
            f"Batch {batch.batch_number} cannot go from {source.label.lower()} to {target.label.lower()}."
        )
    now = timezone.now()
    updated = Batch.objects.filter(pk=batch.pk, status=source).update(status=target, status_changed_at=now)
    if updated != 1:
        raise StateConflict(
            _("Batch %(batch)s was changed by someone else; reload and try again.") % {"batch": batch.batch_number}
        )
    BatchTransition.objects.create(batch=batch, from_status=source, to_status=target, actor=actor, reason=reason)
    batch.status = target
    batch.status_changed_at = now
    return batch


def confirm_password(user: User, password: str, *, otp_token: str | None = None, purpose: str = "") -> None:
    """Re-check the signer's identity before a signed action (21 CFR 11.200).

    The password, then the TOTP code when the user has a confirmed authenticator. A refusal is
    logged on its own connection (it survives the rollback of the calling service) and a wrong
    credential counts towards the account lockout; see batches.accounts.identity.
    """
    signer_identity_confirm(user=user, password=password, otp_token=otp_token, purpose=purpose)


def event_time_errors(value: datetime, *, field: str, late_entry_reason: str = "") -> dict[str, str]:
    """Why an event time is refused ({} when it is not): in the future, or late without a late-entry reason.

    Returned rather than raised, so that a service reports it together with the other fields' errors.
    """
    now = timezone.now()
    if value > now + CLOCK_SKEW:
        return {field: _("%(time)s is in the future (server time).") % {"time": formatting.moment(value)}}
    late_after = timedelta(minutes=settings.CELLBATCH_LATE_ENTRY_MINUTES)
    if now - value > late_after and not late_entry_reason.strip():
        return {
            "late_entry_reason": (
                _("This entry is more than %(minutes)s minutes after the event (%(field)s); give a late-entry reason.")
                % {"minutes": settings.CELLBATCH_LATE_ENTRY_MINUTES, "field": field}
            )
        }
    return {}


def check_event_time(value: datetime, *, field: str, late_entry_reason: str = "") -> None:
    """Refuse times in the future; an entry long after the event needs a late-entry reason."""
    errors = event_time_errors(value, field=field, late_entry_reason=late_entry_reason)
    if errors:
        raise ValidationError(errors)


def identifier_next(*, kind: str, scope: str, year: int, issued: int = 0) -> int:
    """The next number of an identifier series (batch numbers, DINs, chain-of-identity serials).

    Bumped in one statement on the series' counter row, so numbers stay unique under concurrency (the row
    lock serialises callers). ``issued`` is how many numbers of the series exist already; a counter never
    goes below it, so a series started before its counter row existed continues without a clash.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO batches_identifiercounter (kind, scope, year, last_value) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (kind, scope, year) DO UPDATE "
            "SET last_value = GREATEST(batches_identifiercounter.last_value, EXCLUDED.last_value - 1) + 1 "
            "RETURNING last_value",
            [kind, scope, year, issued + 1],
        )
        row = cursor.fetchone()
    if row is None:
        raise StateConflict(f"No {kind} number could be allocated for {scope} {year}.")
    return int(row[0])


def row_error(error: ValidationError, prefix: str, label: str = "") -> ValidationError:
    """A refusal of one row of a form of several (``<prefix>-<field>``), each message naming ``label`` once."""
    messages = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    return ValidationError(
        {
            f"{prefix}-{field}": [m if not label or m.startswith(label) else f"{label}: {m}" for m in texts]
            for field, texts in messages.items()
        }
    )
