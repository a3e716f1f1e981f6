"""Master data: process definitions (versioned master batch records) and patient enrolment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from batches.audit import audit_context
from batches.models import ApprovalStatus, Patient, ProcessDefinition
from batches.models.signatures import SignatureMeaning
from batches.roles import Domain, Role, require_role
from batches.services.common import confirm_password
from batches.services.signatures import signature_sign

MASTER_DATA_ROLES = (Role.QA_REVIEWER, Role.ADMIN)


@transaction.atomic
def process_definition_create(*, actor: User, values: dict[str, Any]) -> ProcessDefinition:
    """Draft the next version of a process definition; it is usable only after two approvals."""
    require_role(actor, *MASTER_DATA_ROLES, action="Drafting a process definition", domain=Domain.MASTER_DATA)
    code = values["code"]
    latest = ProcessDefinition.objects.filter(code=code).aggregate(v=Max("version"))["v"] or 0
    with audit_context(actor, reason=f"draft {code} v{latest + 1}"):
        definition = ProcessDefinition(**values, version=latest + 1, created_by=actor)
        definition.full_clean()
        definition.save()
    return definition


@transaction.atomic
def process_definition_approve(
    *, definition_id: int, approver: User, password: str, otp_token: str = ""
) -> ProcessDefinition:
    """Record one approval; the second, by a different person, makes the version effective."""
    require_role(
        approver,
        Role.QA_REVIEWER,
        Role.QUALIFIED_PERSON,
        action="Approving a process definition",
        domain=Domain.MASTER_DATA,
    )
    confirm_password(approver, password, otp_token=otp_token)
    definition = ProcessDefinition.objects.select_for_update().get(pk=definition_id)
    if definition.status != ApprovalStatus.DRAFT:
        raise ValidationError(f"{definition} is already {definition.get_status_display().lower()}.")
    now = timezone.now()
    with audit_context(approver, reason=f"approve {definition}"):
        if definition.first_approved_by_id is None:
            definition.first_approved_by = approver
            definition.first_approved_at = now
        elif definition.first_approved_by_id == approver.pk:
            raise PermissionDenied(f"{definition} needs a second approval by a different person.")
        else:
            definition.second_approved_by = approver
            definition.second_approved_at = now
            definition.status = ApprovalStatus.APPROVED
            definition.effective_from = now
            ProcessDefinition.objects.filter(code=definition.code, status=ApprovalStatus.APPROVED).update(
                status=ApprovalStatus.RETIRED
            )
        definition.save()
    signature_sign(
        signer=approver, password=password, password_checked=True, meaning=SignatureMeaning.APPROVED, target=definition
    )
    return definition


@transaction.atomic
def patient_enrol(
    *,
    actor: User,
    subject_code: str,
    consent_date: date,
    body_weight_kg: Decimal,
    eligibility_confirmed: bool,
) -> Patient:
    """Enrol a trial subject under a pseudonymous code."""
    require_role(actor, Role.OPERATOR, Role.CLINICIAN, action="Enrolling a patient")
    if consent_date > timezone.localdate():
        raise ValidationError({"consent_date": _("The consent date cannot be in the future.")})
    with audit_context(actor, reason="enrolment"):
        patient = Patient(
            subject_code=subject_code.strip().upper(),
            consent_date=consent_date,
            body_weight_kg=body_weight_kg,
            eligibility_confirmed=eligibility_confirmed,
            enrolled_by=actor,
        )
        patient.full_clean()
        patient.save()
    return patient
