"""Integrity alarms: the scheduled verification of the audit trail, and what a failure sets off.

Each run is stored (AuditVerification) with its findings (IntegrityFinding, one per broken seal,
event, row or trigger switched off, with its batch when there is one). A failed run e-mails QA at
once; the batches named stay flagged on their pages and in the API.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage

from batches.ledger.findings import Report
from batches.ledger.verify import verify_audit_trail
from batches.models import Batch
from batches.roles import Role

logger = logging.getLogger(__name__)
# Lines of the report quoted in the e-mail; the full list is stored with the run and shown per batch.
QUOTED = 40


def integrity_recipients() -> list[str]:
    """Active QA reviewers and qualified persons with an e-mail address."""
    users = User.objects.filter(is_active=True, groups__name__in=[Role.QA_REVIEWER, Role.QUALIFIED_PERSON]).exclude(
        email=""
    )
    return sorted({u.email.strip().lower() for u in users})


def integrity_alarm_message(report: Report, run_id: int | None) -> EmailMessage:
    numbers = list(Batch.objects.filter(pk__in=report.batch_ids).values_list("batch_number", flat=True))
    subject = f"ALARM: audit trail verification failed ({len(report.findings)} findings)"
    lines = [f"- {text}" for text in report.problems[:QUOTED]]
    if len(report.problems) > QUOTED:
        lines.append(f"- … and {len(report.problems) - QUOTED} more (stored with verification run #{run_id}).")
    body = (
        f"The {report.mode} verification of the audit trail (run #{run_id}) found data that no longer matches "
        "its audited, sealed state, or triggers switched off:\n\n"
        + "\n".join(lines)
        + "\n\nBatches affected: "
        + (", ".join(sorted(numbers)) if numbers else "none identified")
        + ".\nThese batches are flagged on their pages and in the API. Open a deviation, investigate, and run "
        "`manage.py verify_audit_trail` to see the current state. This message was sent by the batch record system."
    )
    return EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=integrity_recipients())


def integrity_verify(*, full: bool) -> dict[str, Any]:
    """Verify (incrementally, or the whole trail) and raise the alarm when anything is broken."""
    report = verify_audit_trail(incremental=not full)
    run = report.run_id
    sent = False
    if not report.ok:
        message = integrity_alarm_message(report, run)
        logger.error("audit trail verification #%s failed: %s", run, "; ".join(report.problems[:5]))
        if message.to:
            try:
                message.send(fail_silently=False)
                sent = True
            except (OSError, smtplib.SMTPException):
                # The run and its findings are stored and the batches flagged; the next run alarms again.
                logger.exception("integrity alarm e-mail for verification #%s not sent", run)
    return {
        "ok": report.ok,
        "mode": str(report.mode),
        "run": run,
        "checked": report.seals_checked,
        "problems": report.problems,
        "batches": report.batch_ids,
        "alarm_sent": sent,
    }
