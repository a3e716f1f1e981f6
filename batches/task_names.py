"""Registered names of the Celery tasks, and publishing a task by its name.

Services publish work for the workers (build a signed record, deliver a notification) but sit below the
task modules, which import the services. Publishing by the registered name keeps that one-way: the
task modules declare their tasks under these names, the services send to them.
"""

from __future__ import annotations

from typing import Any

from celery import current_app

BUILD_BATCH_RECORD = "batches.build_batch_record"
REPUBLISH_BATCH_RECORDS = "batches.republish_batch_records"
AUDIT_LEDGER_SEAL = "batches.audit_ledger_seal"
AUDIT_TRAIL_VERIFY = "batches.audit_trail_verify"
END_EXPIRED_SESSIONS = "batches.accounts.end_expired_sessions"
PING_DATABASE = "batches.ping_database"
STORAGE_EVALUATE = "batches.storage_evaluate"
DELIVER_NOTIFICATION = "qc.deliver_notification"
REPUBLISH_NOTIFICATIONS = "qc.republish_undelivered_notifications"
REMIND_REPORTABILITY = "qc.remind_reportability"


def task_publish(name: str, *args: Any, retry: bool = True) -> None:
    """Send the task ``name`` with ``args`` to the broker (``retry=False`` fails at once when it is down)."""
    current_app.send_task(name, args=args, retry=retry)
