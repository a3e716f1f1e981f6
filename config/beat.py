"""Celery beat's schedule: the periodic tasks and how often each runs (intervals from the settings)."""

from __future__ import annotations

from typing import Any


def beat_schedule(
    *,
    session_sweep: int,
    document_republish: int,
    audit_seal: int,
    audit_verify: int,
    audit_verify_full: int,
    storage_evaluate: int,
) -> dict[str, dict[str, Any]]:
    return {
        "accounts-end-expired-sessions": {
            "task": "batches.accounts.end_expired_sessions",
            "schedule": float(session_sweep),
        },
        # Reminders before a reportability assessment's due date (each assessment at most once a day).
        "qc-remind-reportability": {"task": "qc.remind_reportability", "schedule": 3600.0},
        "qc-republish-undelivered-notifications": {"task": "qc.republish_undelivered_notifications", "schedule": 300.0},
        "republish-batch-records": {"task": "batches.republish_batch_records", "schedule": float(document_republish)},
        "audit-ledger-seal": {"task": "batches.audit_ledger_seal", "schedule": float(audit_seal)},
        "storage-evaluate": {"task": "batches.storage_evaluate", "schedule": float(storage_evaluate)},
        # Checks only what is new since the last intact run, so it stays cheap as the trail grows.
        "audit-trail-verify": {"task": "batches.audit_trail_verify", "schedule": float(audit_verify)},
        # The whole trail and every row: what an incremental run cannot see (a row changed with triggers off).
        "audit-trail-verify-full": {
            "task": "batches.audit_trail_verify",
            "schedule": float(audit_verify_full),
            "kwargs": {"full": True},
        },
    }
