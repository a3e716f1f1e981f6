"""Batch disposition: QA's release, conditional release or rejection, and the QP's certification.

Each decision is one immutable row signed with a Part 11 signature; the status change itself is a
BatchTransition. The row keeps what QA saw when deciding (the release gate at that moment).
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models

from batches import limits
from batches.audit import gmp_model
from batches.limits import BoundedTextField
from batches.models.batch import Batch
from batches.models.triggers import no_delete


class Decision(models.TextChoices):
    RELEASED = "released", "Released"
    CONDITIONALLY_RELEASED = "conditionally_released", "Conditionally released"
    REJECTED = "rejected", "Rejected"
    CERTIFIED = "certified", "Certified by the Qualified Person"


@gmp_model
class BatchDisposition(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="dispositions")
    decision = models.CharField(max_length=24, choices=Decision.choices)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    comment = BoundedTextField(max_length=limits.REASON, blank=True, help_text="Rationale; required for a rejection.")
    positive_result_plan = BoundedTextField(
        max_length=limits.DESCRIPTION,
        blank=True,
        help_text="Conditional release: what is done if a pending result comes back positive.",
    )
    pending_tests = models.JSONField(default=list, help_text="Tests still pending at a conditional release.")
    specification = models.CharField(max_length=120, help_text="The specification version the batch was tested to.")
    gate = models.JSONField(default=dict, help_text="Blocking reasons and exceptions seen when deciding.")

    class Meta:
        ordering = ["decided_at", "pk"]
        triggers = [no_delete(), pgtrigger.Protect(name="disposition_read_only", operation=pgtrigger.Update)]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(decision="conditionally_released") | ~models.Q(positive_result_plan=""),
                name="disposition_conditional_needs_plan",
            ),
            models.CheckConstraint(
                condition=~models.Q(decision="rejected") | ~models.Q(comment=""),
                name="disposition_rejection_needs_reason",
            ),
            models.UniqueConstraint(
                fields=["batch"], condition=models.Q(decision="certified"), name="disposition_one_certification"
            ),
            models.UniqueConstraint(
                fields=["batch"],
                condition=models.Q(decision__in=["released", "conditionally_released", "rejected"]),
                name="disposition_one_qa_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.get_decision_display().lower()} by {self.decided_by}"
