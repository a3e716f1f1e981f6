"""Celery tasks: thin wrappers that take ids, call a service and exit cleanly."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from batches import task_audit  # noqa: F401  # attributes every task's writes to system:<task>


@shared_task(name="batches.ping_database")
def ping_database() -> int:
    """Health check used by tests and operators: the worker reaches PostgreSQL."""
    from batches.models import Batch

    return Batch.objects.count()


@shared_task(name="batches.audit_ledger_seal", time_limit=1800, soft_time_limit=1700)
def audit_ledger_seal() -> dict[str, Any]:
    """Seal new audit events into the hash chain and sign a checkpoint (periodic, idempotent)."""
    from batches.ledger.seal import ledger_seal

    result = ledger_seal()
    return {"sealed": result.sealed, "head_sequence": result.head_sequence, "checkpoint": result.checkpoint_id}


@shared_task(name="batches.accounts.end_expired_sessions")
def end_expired_sessions() -> int:
    """Beat: log a logout for each session past its idle timeout, then delete it."""
    from batches.accounts.expiry import sessions_end_expired

    return sessions_end_expired()
