"""Keys that make a repeated request harmless: the API's ``Idempotency-Key`` and the admin forms' one-time token.

A client that retries a create after a lost answer (a dropped connection, a double click) must not
record the deviation, sample or patient twice. The first answer is kept for a day under the caller's
key; a repeat gets that answer back and writes nothing. Not a GMP record: it holds no batch data, only
the answer already given, and old keys are deleted.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models

# How long a key is remembered; a retry after that is a new request.
KEY_LIFETIME = timedelta(hours=24)


class IdempotencyKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8, help_text="POST for the API; FORM for an admin form's one-time token.")
    path = models.CharField(max_length=2000)
    body_sha256 = models.CharField(max_length=64, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(blank=True, default=b"")
    response_content_type = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
