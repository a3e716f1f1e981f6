"""Late-result alerts: a durable row in the caller's transaction, delivered by a Celery task."""

from __future__ import annotations

import smtplib
import socket
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from batches.audit import audit_context
from batches.roles import Role
from batches.task_names import DELIVER_NOTIFICATION, task_publish
from qc.models import Deviation, Notification, NotificationAttempt, NotificationStatus

# Only these are retried: the mail server or the network is unavailable for a while. Anything
# else is a bug; it fails the task loudly, and the notification stays pending for the beat entry.
TRANSIENT_EMAIL_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPException, socket.error)
SYSTEM_ACTOR = "system:notifications"


def late_result_recipients(deviation: Deviation) -> list[str]:
    """Treating clinicians, QA and the sponsor contact of the batch's process definition."""
    users = User.objects.filter(is_active=True, groups__name__in=[Role.CLINICIAN, Role.QA_REVIEWER]).exclude(email="")
    addresses = {u.email.strip().lower() for u in users}
    sponsor = deviation.batch.process_definition.sponsor_contact_email
    if sponsor:
        addresses.add(sponsor.strip().lower())
    return sorted(addresses)


def _late_result_message(deviation: Deviation) -> tuple[str, str]:
    """Subject and body in the active language."""
    batch = deviation.batch
    result = deviation.source_result
    what = f"{result.get_test_display()} {result.display_value}" if result else deviation.description
    values = {
        "batch": batch.batch_number,
        "patient": batch.patient.subject_code,
        "what": what,
        "deviation": deviation.number,
        "description": deviation.description,
        "status": batch.get_status_display(),
    }
    subject = gettext("URGENT: out-of-specification result after release, batch %(batch)s") % values
    body = "\n\n".join(
        (
            gettext(
                "A result was recorded after batch %(batch)s (patient %(patient)s) was released; "
                "it is out of specification: %(what)s."
            )
            % values,
            gettext("Critical deviation %(deviation)s is open: %(description)s") % values,
            gettext(
                "Batch status: %(status)s. Assess the patient and follow the written plan for a positive "
                "result. This message was sent by the batch record system."
            )
            % values,
        )
    )
    return subject, body


def late_result_message(deviation: Deviation) -> tuple[str, str]:
    """The alert in every language of the site, the facility's first: its readers do not share one."""
    languages = sorted((code for code, _name in settings.LANGUAGES), key=lambda code: code != "es")
    parts = []
    for language in languages:
        with translation.override(language):
            parts.append(_late_result_message(deviation))
    subject = " / ".join(dict.fromkeys(s for s, _b in parts))
    body = "\n\n— — —\n\n".join(b for _s, b in parts)
    return subject, body


def notification_create_for_late_result(*, deviation: Deviation) -> Notification:
    """Write the alert in the caller's transaction; it is sent once that transaction commits."""
    batch = deviation.batch
    subject, body = late_result_message(deviation)
    with audit_context(SYSTEM_ACTOR, reason=f"late result alert for deviation {deviation.number}"):
        notification = Notification.objects.create(
            batch=batch,
            deviation=deviation,
            subject=subject,
            body=body,
            recipients=late_result_recipients(deviation),
        )
    transaction.on_commit(lambda: task_publish(DELIVER_NOTIFICATION, notification.pk))
    return notification


def notification_create(*, deviation: Deviation, subject: str, body: str, recipients: list[str]) -> Notification:
    """Write an alert about ``deviation`` in the caller's transaction; it is sent once that transaction commits."""
    with audit_context(SYSTEM_ACTOR, reason=f"alert for deviation {deviation.number}"):
        notification = Notification.objects.create(
            batch=deviation.batch, deviation=deviation, subject=subject[:200], body=body, recipients=recipients
        )
    transaction.on_commit(lambda: task_publish(DELIVER_NOTIFICATION, notification.pk))
    return notification


def notification_deliver(*, notification_id: int) -> bool:
    """Send one pending notification; True once delivered. A transient error is recorded, then raised."""
    error: BaseException | None = None
    with transaction.atomic():
        # The row lock makes a concurrent or re-published delivery wait, then see it was sent.
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None or notification.status == NotificationStatus.SENT:
            return notification is not None
        now = timezone.now()
        if not notification.recipients:
            error = smtplib.SMTPRecipientsRefused({})
        else:
            try:
                EmailMessage(
                    subject=notification.subject,
                    body=notification.body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=list(notification.recipients),
                ).send(fail_silently=False)
            except TRANSIENT_EMAIL_ERRORS as exc:
                error = exc
        with audit_context(SYSTEM_ACTOR, reason="late result alert delivery"):
            notification.attempts += 1
            notification.last_attempt_at = now
            if error is None:
                notification.status = NotificationStatus.SENT
                notification.sent_at = now
                notification.last_error = ""
            else:
                notification.last_error = f"{type(error).__name__}: {error}"
            notification.save()
            NotificationAttempt.objects.create(
                notification=notification, delivered=error is None, error=notification.last_error
            )
    if error is not None:
        raise error
    return True


def notifications_undelivered(*, quiet_for: timedelta) -> list[int]:
    """Pending notifications with no attempt in ``quiet_for`` (a lost task or an exhausted retry)."""
    cutoff = timezone.now() - quiet_for
    return list(
        Notification.objects.filter(status=NotificationStatus.PENDING, created_at__lt=cutoff)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=cutoff))
        .values_list("pk", flat=True)
    )
