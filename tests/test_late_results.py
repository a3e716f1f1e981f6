"""Late results after release: critical deviation, flagged batch, and an alert that gets through."""

from __future__ import annotations

import smtplib
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from batches.audit import audit_context
from batches.models import Batch
from qc.models import Deviation, Notification, NotificationAttempt
from qc.selectors import batch_alerts
from qc.tasks import deliver_notification, republish_undelivered_notifications
from tests.factories import Personas, quarantined_batch, record_result, release_batch
from tests.workers import running_worker


class FlakyBackend(LocmemBackend):
    """Fails like a mail server that dropped the connection, the first ``failures`` times."""

    failures = 1

    def send_messages(self, messages: Any) -> int:
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class BrokenBackend(LocmemBackend):
    def send_messages(self, messages: Any) -> int:
        raise ValueError("a bug, not a transient error")


def released_with_late_positive_sterility(people: Personas, capture: Any) -> tuple[Batch, Deviation]:
    people.clinician.email = "dr.ruiz@hospital.example"
    people.clinician.save()
    people.qa.email = "qa@facility.example"
    people.qa.save()
    batch = quarantined_batch(people)
    release_batch(people, batch, conditionally=True)
    with capture(execute=False) as callbacks:
        result = record_result(people, batch, "sterility", "growth", sample=batch.qc_samples.first())
    deviation = Deviation.objects.get(source_result=result)
    assert any("deliver_notification" in repr(cb) or cb.__qualname__.endswith("<lambda>") for cb in callbacks)
    return batch, deviation


@pytest.mark.django_db
@pytest.mark.urs("URS-077")
def test_late_positive_sterility_raises_a_critical_deviation_flags_the_batch_and_emails_everyone(
    people: Personas, django_capture_on_commit_callbacks: Any
) -> None:
    batch, deviation = released_with_late_positive_sterility(people, django_capture_on_commit_callbacks)
    assert (deviation.kind, deviation.classification, deviation.raised_after_release) == ("oos", "critical", True)
    assert batch_alerts(batch) == [deviation]
    notification = Notification.objects.get(deviation=deviation)
    assert notification.status == "pending"
    assert notification.recipients == ["dr.ruiz@hospital.example", "qa@facility.example", "sponsor@example.org"]

    # The task body, in this process: Django's outbox holds what was sent.
    assert deliver_notification.apply(args=[notification.pk]).get() is True
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert set(message.to) == {"dr.ruiz@hospital.example", "qa@facility.example", "sponsor@example.org"}
    assert batch.batch_number in message.subject
    assert "Sterility growth" in message.body
    assert deviation.number in message.body
    notification.refresh_from_db()
    assert notification.status == "sent"
    assert notification.attempts == 1
    # Idempotent: a second delivery of the same id sends nothing.
    deliver_notification.apply(args=[notification.pk])
    assert len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.urs("URS-078")
def test_delivery_is_retried_on_a_transient_mail_error_and_each_attempt_is_recorded(
    people: Personas, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _, deviation = released_with_late_positive_sterility(people, django_capture_on_commit_callbacks)
    notification = Notification.objects.get(deviation=deviation)
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 2
    deliver_notification.apply(args=[notification.pk])
    attempts = list(NotificationAttempt.objects.filter(notification=notification).values_list("delivered", "error"))
    assert [delivered for delivered, _ in attempts] == [False, False, True]
    assert attempts[0][1].startswith("SMTPServerDisconnected")
    assert len(mail.outbox) == 1
    # The audit trail names the system actor for every attempt.
    events = Notification.pgh_event_model.objects.filter(pgh_obj_id=notification.pk, pgh_label="update")
    assert {e.pgh_context["actor"] for e in events} == {"system:notifications"}


@pytest.mark.django_db
@pytest.mark.urs("URS-078")
def test_a_non_transient_error_is_not_retried_and_the_notification_stays_pending(
    people: Personas, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _, deviation = released_with_late_positive_sterility(people, django_capture_on_commit_callbacks)
    notification = Notification.objects.get(deviation=deviation)
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"
    outcome = deliver_notification.apply(args=[notification.pk])
    assert isinstance(outcome.result, ValueError)
    notification.refresh_from_db()
    assert notification.status == "pending"
    assert not NotificationAttempt.objects.filter(notification=notification, delivered=True).exists()
    assert settings.CELERY_BEAT_SCHEDULE["qc-republish-undelivered-notifications"]["task"] == (
        republish_undelivered_notifications.name
    )


@pytest.mark.django_db
@pytest.mark.urs("URS-077")
def test_an_oos_result_on_a_rejected_batch_raises_no_alert(people: Personas) -> None:
    from batches.release.disposition import batch_reject
    from tests.factories import PASSWORD, qc_sample

    batch = quarantined_batch(people)
    qc_sample(people, batch)  # taken in quarantine; the culture reads positive after rejection
    batch_reject(actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="Bag damaged in transport.")
    result = record_result(people, batch, "sterility", "growth", sample=batch.qc_samples.first())
    deviation = Deviation.objects.get(source_result=result)
    assert not deviation.raised_after_release
    assert not Notification.objects.exists()


def _wait_for(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.services
@pytest.mark.urs("URS-078")
def test_a_real_worker_emails_the_alert_and_the_beat_task_republishes_a_lost_one(
    transactional_db: None, tmp_path: Path
) -> None:
    people = Personas()
    people.clinician.email = "dr.ruiz@hospital.example"
    people.clinician.save()
    mail_dir = tmp_path / "mail"
    env = {
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DJANGO_EMAIL_FILE_PATH": str(mail_dir),
    }
    batch = quarantined_batch(people)
    release_batch(people, batch, conditionally=True)
    with running_worker(extra_env=env) as worker:
        result = record_result(
            people, batch, "sterility", "growth", sample=batch.qc_samples.first()
        )  # commits: the task is published
        notification = Notification.objects.get(deviation__source_result=result)
        delivered = _wait_for(lambda: Notification.objects.get(pk=notification.pk).status == "sent")
        assert delivered, worker.log()[-3000:]
        files = list(mail_dir.glob("*.log"))
        assert len(files) == 1
        text = files[0].read_text()
        assert "dr.ruiz@hospital.example" in text
        assert batch.batch_number in text

        # A notification whose task was lost: the beat entry queues it again.
        lost = Notification.objects.create(
            batch=batch, deviation=notification.deviation, subject="lost alert", body="b", recipients=["qa@x.example"]
        )
        with audit_context("system:test", reason="the notification's task was lost an hour ago"):
            Notification.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
        assert republish_undelivered_notifications.apply().get() == 1
        assert _wait_for(lambda: Notification.objects.get(pk=lost.pk).status == "sent"), worker.log()[-3000:]
        assert "lost alert" in "".join(p.read_text() for p in mail_dir.glob("*.log"))
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
