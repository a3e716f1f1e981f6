"""Database-side guards: what a bug, a shell or raw SQL must not be able to do either."""

from __future__ import annotations

import pgtrigger

from batches.states import BatchStatus, allowed_pairs


def no_delete() -> pgtrigger.Protect:
    """GMP records are voided with a reason, never deleted (ALCOA+: enduring)."""
    return pgtrigger.Protect(name="gmp_no_delete", operation=pgtrigger.Delete)


def batch_status_guard() -> pgtrigger.Trigger:
    """Refuse any status change that is not in batches.states.TRANSITIONS."""
    allowed = " OR ".join(f"(OLD.status = '{a}' AND NEW.status = '{b}')" for a, b in allowed_pairs())
    return pgtrigger.Trigger(
        name="batch_status_transition",
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        func=(
            f"IF NEW.status IS DISTINCT FROM OLD.status AND NOT ({allowed}) THEN "
            "RAISE EXCEPTION 'illegal batch status change from % to %', OLD.status, NEW.status "
            "USING ERRCODE = 'check_violation'; "
            "END IF; RETURN NEW;"
        ),
    )


def batch_starts_registered() -> pgtrigger.Trigger:
    return pgtrigger.Trigger(
        name="batch_starts_registered",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert,
        func=(
            f"IF NEW.status <> '{BatchStatus.REGISTERED}' THEN "
            "RAISE EXCEPTION 'a batch starts registered, not %', NEW.status USING ERRCODE = 'check_violation'; "
            "END IF; RETURN NEW;"
        ),
    )


def verified_step_read_only() -> pgtrigger.Trigger:
    """A verified step cannot change while it stays verified; a correction must withdraw the verification."""
    return pgtrigger.Trigger(
        name="verified_step_read_only",
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        condition=pgtrigger.Condition(
            "OLD.verified_by_id IS NOT NULL AND NEW.verified_by_id IS NOT NULL AND OLD.* IS DISTINCT FROM NEW.*"
        ),
        func="RAISE EXCEPTION 'a verified step is read-only' USING ERRCODE = 'check_violation'; RETURN NULL;",
    )


def read_only_once(name: str, *, status: str = "closed") -> pgtrigger.Protect:
    """A record that is read-only once its status reaches ``status`` (closed, done)."""
    return pgtrigger.Protect(
        name=name, operation=pgtrigger.Update, condition=pgtrigger.Condition(f"OLD.status = '{status}'")
    )
