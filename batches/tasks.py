"""Celery tasks of the batches app: thin wrappers that take ids, call a service and exit cleanly.

Every task runs inside ``audit_context("system:<task name>")`` (batches.task_audit, connected in
BatchesConfig.ready()), so no task writes GMP data unattributed.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from batches.task_names import (
    AUDIT_LEDGER_SEAL,
    AUDIT_TRAIL_VERIFY,
    BUILD_BATCH_RECORD,
    END_EXPIRED_SESSIONS,
    PING_DATABASE,
    REPUBLISH_BATCH_RECORDS,
    STORAGE_EVALUATE,
)


@shared_task(name=PING_DATABASE)
def ping_database() -> int:
    """Health check used by tests and operators: the worker reaches PostgreSQL."""
    from batches.models import Batch

    return Batch.objects.count()


@shared_task(name=AUDIT_LEDGER_SEAL, time_limit=1800, soft_time_limit=1700)
def audit_ledger_seal() -> dict[str, Any]:
    """Seal new audit events into the hash chain and sign a checkpoint (periodic, idempotent)."""
    from batches.ledger.seal import ledger_seal

    result = ledger_seal()
    return {"sealed": result.sealed, "head_sequence": result.head_sequence, "checkpoint": result.checkpoint_id}


@shared_task(name=AUDIT_TRAIL_VERIFY, time_limit=3600, soft_time_limit=3500)
def audit_trail_verify(full: bool = False) -> dict[str, Any]:
    """Beat: verify the audit trail (what is new since the last intact run, or with ``full`` all of it);
    the run is stored, and a failure e-mails QA and flags the batches concerned."""
    from batches.services.integrity import integrity_verify

    return integrity_verify(full=full)


@shared_task(name=END_EXPIRED_SESSIONS)
def end_expired_sessions() -> int:
    """Beat: log a logout for each session past its idle timeout, then delete it."""
    from batches.accounts.expiry import sessions_end_expired

    return sessions_end_expired()


@shared_task(
    name=BUILD_BATCH_RECORD,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError, OSError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def build_batch_record(document_id: int) -> str:
    """Build and seal one record; a second delivery of a finished or running job does nothing."""
    from batches.release.documents import document_build

    return document_build(document_id=document_id)


@shared_task(name=REPUBLISH_BATCH_RECORDS, acks_late=True)
def republish_batch_records() -> list[int]:
    """Beat: publish again the records still unfinished past their deadline."""
    from batches.release.documents import documents_republish_due

    return documents_republish_due()


@shared_task(name=STORAGE_EVALUATE, time_limit=300, soft_time_limit=270)
def storage_evaluate() -> int:
    """Evaluate the storage units' readings and escalate unacknowledged excursions (periodic, idempotent)."""
    from batches.services.storage import storage_evaluate as evaluate

    return evaluate()
