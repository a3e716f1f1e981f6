"""Exceptions of a batch record: values accepted outside their expected range, with the reason.

One row per exception, written by the service that accepted the value; the QA review page and the
signed record list them. Other checks add their own kind (``ExceptionKind``) and write rows through
``batches.services.exceptions``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete


class ExceptionKind(models.TextChoices):
    ALERT_RANGE = "alert_range", "Value in the alert range"
    PRELIMINARY_RESULT = "preliminary_result", "Result before its method's minimum duration (preliminary)"


@gmp_model
class RecordException(ChecksInOneQuery):
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="record_exceptions")
    kind = models.CharField(max_length=30, choices=ExceptionKind.choices)
    source = models.CharField(max_length=80, help_text="Where the value was recorded, e.g. Apheresis collection.")
    parameter = models.CharField(max_length=120)
    value = models.CharField(max_length=80)
    limit = models.CharField(max_length=160, help_text="The range or rule the value is outside of.")
    reason = BoundedTextField(max_length=limits.REASON)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "recorded_at", "pk"]
        triggers = [no_delete()]
        constraints = [models.CheckConstraint(condition=~models.Q(reason=""), name="record_exception_has_reason")]

    def __str__(self) -> str:
        return f"{self.batch} {self.source}: {self.parameter} {self.value} ({self.limit})"
