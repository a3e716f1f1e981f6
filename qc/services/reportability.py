"""Reportability of a late positive or any OOS after release: assessed by QA (reportable or not, under which
rule, by when), tracked to its submission, with e-mail reminders before the due date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.roles import Role, require_role
from batches.services.common import lock_batch
from batches.task_names import DELIVER_NOTIFICATION, task_publish
from qc.models import Deviation, Notification, ReportabilityAssessment, ReportabilityStatus
from qc.services.notifications import late_result_recipients

# The shortest expedited timeline that may apply (a serious unexpected reaction: 15 days, Regulation
# (EU) 536/2014 art. 42); QA shortens or confirms it when assessing.
DEFAULT_DUE_DAYS = 15
# Reminders start this many days before the due date, once a day, and continue while overdue.
REMIND_DAYS_BEFORE = 3
SYSTEM_ACTOR = "system:reportability"


def reportability_open(*, deviation: Deviation, actor: User | str) -> ReportabilityAssessment:
    """Open the assessment with the critical deviation, in the caller's transaction."""
    due = timezone.localdate() + timedelta(days=DEFAULT_DUE_DAYS)
    with audit_context(actor, reason=f"reportability of deviation {deviation.number} to be assessed"):
        return ReportabilityAssessment.objects.create(deviation=deviation, batch=deviation.batch, due_date=due)


def _locked(assessment_id: int) -> ReportabilityAssessment:
    assessment = ReportabilityAssessment.objects.select_for_update().select_related("deviation").get(pk=assessment_id)
    lock_batch(assessment.batch_id)
    return assessment


@transaction.atomic
def reportability_assess(
    *,
    actor: User,
    assessment_id: int,
    reportable: bool,
    rule: str,
    rationale: str,
    due_date: date | None = None,
) -> ReportabilityAssessment:
    """QA decides whether the event is reportable and under which rule; not reportable completes it."""
    require_role(actor, Role.QA_REVIEWER, action="Assessing reportability")
    assessment = _locked(assessment_id)
    if assessment.status != ReportabilityStatus.OPEN:
        raise StateConflict(
            gettext("The reportability of %(number)s is already assessed.") % {"number": assessment.deviation.number}
        )
    errors: dict[str, str] = {}
    if not (rule or "").strip():
        errors["rule"] = "Name the rule the decision applies (e.g. Regulation (EU) 536/2014 art. 42)."
    if not (rationale or "").strip():
        errors["rationale"] = "The rationale of the decision is required."
    if due_date is not None and due_date < timezone.localdate():
        errors["due_date"] = f"The due date {due_date:%Y-%m-%d} is in the past."
    if errors:
        raise ValidationError(errors)
    with audit_context(actor, reason=f"reportability of {assessment.deviation.number} assessed"):
        assessment.reportable = reportable
        assessment.rule = rule.strip()
        assessment.rationale = rationale.strip()
        assessment.due_date = due_date or assessment.due_date
        assessment.assessed_by = actor
        assessment.assessed_at = timezone.now()
        assessment.status = ReportabilityStatus.TO_SUBMIT if reportable else ReportabilityStatus.DONE
        assessment.full_clean(exclude=["deviation", "batch"], validate_unique=False)
        assessment.save()
    return assessment


@transaction.atomic
def reportability_submit(
    *, actor: User, assessment_id: int, submitted_at: datetime, reference: str
) -> ReportabilityAssessment:
    """QA records when the report was submitted and its reference; the assessment is then complete."""
    require_role(actor, Role.QA_REVIEWER, action="Recording a regulatory submission")
    assessment = _locked(assessment_id)
    if assessment.status != ReportabilityStatus.TO_SUBMIT:
        raise StateConflict(
            f"The reportability of {assessment.deviation.number} is {assessment.get_status_display().lower()}; "
            "only a reportable event awaiting submission is submitted."
        )
    if submitted_at > timezone.now():
        raise ValidationError({"submitted_at": gettext("The submission time is in the future.")})
    cleaned = require_reason(reference, what="record a submission (its reference)")
    with audit_context(actor, reason=f"report on {assessment.deviation.number} submitted"):
        assessment.submitted_at = submitted_at
        assessment.submission_reference = cleaned
        assessment.status = ReportabilityStatus.DONE
        assessment.full_clean(exclude=["deviation", "batch"], validate_unique=False)
        assessment.save()
    return assessment


def reportability_reminders_send(*, today: date | None = None) -> list[int]:
    """Write a reminder notification for each open assessment due within REMIND_DAYS_BEFORE days (or overdue),
    at most once a day; each is e-mailed by the notification task once its transaction commits.
    """
    today = today or timezone.localdate()
    horizon = today + timedelta(days=REMIND_DAYS_BEFORE)
    sent: list[int] = []
    due = ReportabilityAssessment.objects.exclude(status=ReportabilityStatus.DONE).filter(due_date__lte=horizon)
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            assessment = (
                ReportabilityAssessment.objects.select_for_update().select_related("deviation", "batch").get(pk=pk)
            )
            if assessment.status == ReportabilityStatus.DONE or assessment.last_reminded_on == today:
                continue
            notification = _reminder(assessment, today)
            sent.append(notification.pk)
            transaction.on_commit(partial(task_publish, DELIVER_NOTIFICATION, notification.pk))
    return sent


def _reminder(assessment: ReportabilityAssessment, today: date) -> Notification:
    days = (assessment.due_date - today).days
    when = f"due in {days} day(s)" if days >= 0 else f"OVERDUE by {-days} day(s)"
    deviation = assessment.deviation
    step = "decide whether it is reportable" if assessment.status == ReportabilityStatus.OPEN else "submit the report"
    with audit_context(SYSTEM_ACTOR, reason=f"reportability reminder for {deviation.number}"):
        assessment.last_reminded_on = today
        assessment.save(update_fields=["last_reminded_on"])
        return Notification.objects.create(
            batch=assessment.batch,
            deviation=deviation,
            subject=f"Reminder: reportability of {deviation.number} (batch {assessment.batch.batch_number}) {when}",
            body=(
                f"Deviation {deviation.number} on batch {assessment.batch.batch_number}: {deviation.description}\n\n"
                f"{assessment.get_status_display()}. Due {assessment.due_date:%Y-%m-%d} ({when}): {step}.\n"
                "This message was sent by the batch record system."
            ),
            recipients=late_result_recipients(deviation),
        )
