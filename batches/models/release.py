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
from batches.models.checks import ChecksInOneQuery
from batches.models.triggers import no_delete, read_only_once


class Decision(models.TextChoices):
    # QA's decisions name themselves as such: only the Qualified Person's certification releases the product
    # for administration (EU GMP for ATMPs, Part IV ch. 11).
    RELEASED = "released", "QA decision: release"
    CONDITIONALLY_RELEASED = "conditionally_released", "QA decision: conditional release"
    REJECTED = "rejected", "Rejected"
    CERTIFIED = "certified", "Final certification by the Qualified Person"
    CERTIFIED_INITIAL = "certified_initial", "Initial certification by the Qualified Person (results pending)"


# The Qualified Person's certifications (initial, with results pending, and final); the other decisions are QA's.
CERTIFICATIONS = (Decision.CERTIFIED_INITIAL, Decision.CERTIFIED)


@gmp_model
class BatchDisposition(ChecksInOneQuery):
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
    # Both added after records were signed: signed once set (batches.signature_checks.SIGNED_WHEN_SET).
    acknowledged = models.JSONField(
        null=True, blank=True, help_text="What the decider acknowledged: every exception and open deviation."
    )
    references = models.JSONField(
        null=True, blank=True, help_text="Certification: the trial and product specification file certified against."
    )

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
                condition=models.Q(decision="certified_initial"),
                name="disposition_one_initial_certification",
            ),
            models.UniqueConstraint(
                fields=["batch"],
                condition=models.Q(decision__in=["released", "conditionally_released", "rejected"]),
                name="disposition_one_qa_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} {self.get_decision_display().lower()} by {self.decided_by}"


class FollowUpStatus(models.TextChoices):
    OPEN = "open", "Open: pending results awaited"
    CLOSED = "closed", "Closed: results in and assessed"


@gmp_model
class ReleaseFollowUp(ChecksInOneQuery):
    """The follow-up of a conditional release: open until every pending result is in and assessed by QA."""

    batch = models.OneToOneField(Batch, on_delete=models.PROTECT, related_name="release_followup")
    disposition = models.OneToOneField(BatchDisposition, on_delete=models.PROTECT, related_name="followup")
    pending_tests = models.JSONField(default=list)
    opened_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=8, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN)
    assessment = BoundedTextField(max_length=limits.DESCRIPTION, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        triggers = [
            no_delete(),
            read_only_once("followup_closed_read_only"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", closed_by__isnull=True, closed_at__isnull=True)
                | models.Q(status="closed", closed_by__isnull=False, closed_at__isnull=False)
                & ~models.Q(assessment=""),
                name="release_followup_closure_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Follow-up of {self.batch}: {', '.join(self.pending_tests)} ({self.get_status_display().lower()})"
