"""Celery tasks of QC: thin, idempotent, ids in, retried only on named transient errors."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from batches.task_names import DELIVER_NOTIFICATION, REMIND_REPORTABILITY, REPUBLISH_NOTIFICATIONS
from qc.services.notifications import TRANSIENT_EMAIL_ERRORS, notification_deliver, notifications_undelivered
from qc.services.reportability import reportability_reminders_send

# Backoff doubles from 5 s up to 10 minutes; no retry limit, because the alert must be delivered.
RETRY_BACKOFF_SECONDS = 5
RETRY_BACKOFF_MAX_SECONDS = 600
# The beat entry re-publishes a pending notification that has been quiet this long.
REPUBLISH_AFTER = timedelta(minutes=15)


@shared_task(
    name=DELIVER_NOTIFICATION,
    autoretry_for=TRANSIENT_EMAIL_ERRORS,
    retry_backoff=RETRY_BACKOFF_SECONDS,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=None,
    acks_late=True,
)
def deliver_notification(notification_id: int) -> bool:
    """Email one late-result notification; a no-op once it was delivered (or if the row is gone)."""
    return notification_deliver(notification_id=notification_id)


@shared_task(name=REPUBLISH_NOTIFICATIONS)
def republish_undelivered_notifications() -> int:
    """Beat entry: queue again every pending notification whose task was lost or has gone quiet."""
    ids = notifications_undelivered(quiet_for=REPUBLISH_AFTER)
    for notification_id in ids:
        deliver_notification.delay(notification_id)
    return len(ids)


@shared_task(name=REMIND_REPORTABILITY)
def remind_reportability() -> int:
    """Beat entry: e-mail a reminder for each reportability assessment due soon or overdue (once a day each)."""
    return len(reportability_reminders_send())
