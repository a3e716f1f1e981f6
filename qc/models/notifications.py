"""Durable notifications: written with the event that causes them, delivered by a Celery task."""

from __future__ import annotations

import pgtrigger
from django.db import models

from batches import formatting, limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models import Batch
from batches.models.triggers import no_delete


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending delivery"
    SENT = "sent", "Sent"


@gmp_model
class Notification(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="qc_notifications")
    deviation = models.ForeignKey("qc.Deviation", on_delete=models.PROTECT, related_name="notifications")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    recipients = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = BoundedTextField(max_length=limits.REASON, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        triggers = [no_delete()]
        indexes = [models.Index(fields=["status", "last_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.subject} ({self.get_status_display().lower()})"


@gmp_model
class NotificationAttempt(models.Model):
    """One delivery attempt and its outcome (the send and each failure stay on record)."""

    notification = models.ForeignKey(Notification, on_delete=models.PROTECT, related_name="delivery_attempts")
    at = models.DateTimeField(auto_now_add=True)
    delivered = models.BooleanField()
    error = BoundedTextField(max_length=limits.REASON, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        triggers = [no_delete(), pgtrigger.Protect(name="attempt_read_only", operation=pgtrigger.Update)]

    def __str__(self) -> str:
        return f"{self.notification_id} {'delivered' if self.delivered else 'failed'} at {formatting.moment(self.at)}"
