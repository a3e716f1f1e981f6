"""People: personal identities of accounts, the periodic access review, and transcribed entries.

The one-person-one-account rule itself lives in batches.personal; training in batches.services.training.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context, require_reason
from batches.competence import State, training_matrix
from batches.models import AccessReview, Batch, EntrySource, PersonalIdentity
from batches.models.signatures import SignatureMeaning
from batches.personal import identity_problem
from batches.roles import Domain, Role, require_role
from batches.services.common import confirm_password
from batches.services.signatures import signature_sign


@transaction.atomic
def identity_set(
    *, actor: User, user_id: int, full_name: str, employee_number: str, email: str, reason: str
) -> PersonalIdentity:
    """Record the person an account belongs to (full name, unique employee number, unique e-mail)."""
    require_role(actor, Role.ADMIN, action="Recording a personal identity", domain=Domain.ACCOUNTS)
    reason = require_reason(reason, what="record a personal identity")
    user = User.objects.select_for_update().get(pk=user_id)
    values = {"full_name": full_name.strip(), "employee_number": employee_number.strip(), "email": email.strip()}
    errors = {k: "This field is required." for k, v in values.items() if not v}
    others = PersonalIdentity.objects.exclude(user=user)
    if values["employee_number"] and others.filter(employee_number=values["employee_number"]).exists():
        errors["employee_number"] = f"Employee number {values['employee_number']} belongs to another account."
    if values["email"] and others.annotate(e=Lower("email")).filter(e=values["email"].lower()).exists():
        errors["email"] = f"The e-mail {values['email']} belongs to another account."
    if errors:
        raise ValidationError(errors)
    with audit_context(actor, reason=reason):
        identity, _ = PersonalIdentity.objects.update_or_create(user=user, defaults=values)
        identity.full_clean()
    return identity


def access_report() -> list[dict[str, Any]]:
    """Every account: identity, roles, state, last login and training standing (the access review's report)."""
    users = list(User.objects.order_by("username").prefetch_related("groups"))
    identities = {i.user_id: i for i in PersonalIdentity.objects.all()}
    _, rows = training_matrix(users)
    report = []
    for user, row in zip(users, rows, strict=True):
        identity = identities.get(user.pk)
        # A gap is any procedure of the person's work not current; a procedure none of their roles follows is none.
        gaps = [f"{c.version}: {c.state}" for c in row.cells if c.state not in (State.CURRENT, State.NOT_NEEDED)]
        report.append(
            {
                "user_id": user.username,
                "full_name": identity.full_name if identity else "",
                "employee_number": identity.employee_number if identity else "",
                "email": identity.email if identity else "",
                "active": user.is_active,
                "roles": sorted(g.name for g in user.groups.all()),
                "last_login": user.last_login.isoformat(timespec="seconds") if user.last_login else "",
                "identity_problem": identity_problem(user),
                "trained_on": [str(c.version) for c in row.cells if c.counts],
                "training_attention": gaps + [str(u) for u in row.upcoming],
            }
        )
    return report


@transaction.atomic
def access_review_sign(*, reviewer: User, findings: str, password: str, otp_token: str = "") -> AccessReview:
    """QA signs the periodic access review; the report as it stood is kept with the signature."""
    require_role(reviewer, Role.QA_REVIEWER, action="Signing an access review", domain=Domain.ACCOUNTS)
    confirm_password(reviewer, password, otp_token=otp_token)
    findings = require_reason(findings, what="sign an access review (state the findings)")
    report = access_report()
    digest = hashlib.sha256(json.dumps(report, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    with audit_context(reviewer, reason="periodic access review"):
        review = AccessReview(
            reviewed_by=reviewer, reviewed_at=timezone.now(), report=report, report_sha256=digest, findings=findings
        )
        review.full_clean()
        review.save()
    signature_sign(
        signer=reviewer, password=password, password_checked=True, meaning=SignatureMeaning.REVIEWED, target=review
    )
    return review


@dataclass(frozen=True)
class Transcription:
    """An entry written down from a source by someone who did not perform the work."""

    source_reference: str
    performer_name: str = ""
    performer_staff_number: str = ""
    performer_id: int | None = None


def entry_source_record(*, batch: Batch, entry: models.Model, actor: User, source: Transcription) -> EntrySource:
    """Keep who performed a transcribed entry and from which source; the caller holds the audit context."""
    performer = User.objects.filter(pk=source.performer_id).first() if source.performer_id else None
    if source.performer_id and performer is None:
        raise ValidationError({"performer": gettext("No such account.")})
    if performer is not None and performer.pk == actor.pk:
        raise PermissionDenied(gettext("You performed this work yourself: record it as performed, not as transcribed."))
    name = source.performer_name.strip() or (performer.get_full_name() if performer else "")
    errors = {}
    if not source.source_reference.strip():
        errors["source_reference"] = "Name the source the entry is transcribed from (log, sheet, run report)."
    if performer is None and not (name and source.performer_staff_number.strip()):
        errors["performer_name"] = "Name the person who performed the work and give their staff number."
    if errors:
        raise ValidationError(errors)
    record = EntrySource(
        batch=batch,
        entry=entry,
        performer=performer,
        performer_name=name,
        performer_staff_number=source.performer_staff_number.strip(),
        recorded_by=actor,
        source_reference=source.source_reference.strip(),
    )
    record.full_clean()
    record.save()
    return record
