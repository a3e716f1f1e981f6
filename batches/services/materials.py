"""The material master and received lots: receipt into quarantine, QA's signed status decisions, and the
materials each step of a process definition needs.

Who: the materials-and-equipment role keeps the master and receives lots; QA releases, rejects, expires
and recalls them (signed); QA (or the system administrator) writes a draft process definition's
requirements, which the two approvals then freeze.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import (
    ApprovalStatus,
    LotCertificate,
    LotStatus,
    Material,
    MaterialGrade,
    MaterialLot,
    ProcessDefinition,
    StepMaterialRequirement,
)
from batches.models.signatures import SignatureMeaning
from batches.roles import Domain, Role, require_role
from batches.services.common import confirm_password
from batches.services.signatures import signature_sign, signatures_invalidate

KEEPER_ROLES = (Role.MATERIALS, Role.ADMIN)
DEFINITION_ROLES = (Role.QA_REVIEWER, Role.ADMIN)
# A certificate of analysis is a PDF or a scan, never larger than this.
CERTIFICATE_MAX_BYTES = 5 * 1024 * 1024
CERTIFICATE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
STEP_KINDS = ("gcsf", "apheresis", "selection")

# QA's decisions on a lot: from which statuses each is allowed, and what its signature means.
LOT_DECISIONS: dict[str, tuple[frozenset[str], SignatureMeaning]] = {
    LotStatus.RELEASED: (frozenset({LotStatus.QUARANTINE}), SignatureMeaning.APPROVED),
    LotStatus.REJECTED: (frozenset({LotStatus.QUARANTINE}), SignatureMeaning.REJECTED),
    LotStatus.EXPIRED: (frozenset({LotStatus.QUARANTINE, LotStatus.RELEASED}), SignatureMeaning.REJECTED),
    LotStatus.RECALLED: (frozenset({LotStatus.RELEASED, LotStatus.EXPIRED}), SignatureMeaning.REJECTED),
}


def _master(actor: User, action: str) -> None:
    require_role(actor, *KEEPER_ROLES, action=action, domain=Domain.MASTER_DATA)


@transaction.atomic
def material_create(*, actor: User, values: dict[str, Any]) -> Material:
    """Add a material to the master (code, name, grade, supplier, storage, acceptance specification)."""
    _master(actor, "Adding a material")
    material = Material(**values, created_by=actor)
    material.full_clean()
    with audit_context(actor, reason=f"material {material.code} added to the master"):
        material.save()
    return material


@transaction.atomic
def lot_receive(
    *,
    actor: User,
    material_id: int,
    code: str,
    supplier_lot: str,
    expiry_date: date,
    quantity: Decimal,
    certificate_name: str,
    certificate: bytes,
    certificate_type: str = "application/pdf",
) -> MaterialLot:
    """Receive a lot into quarantine with its certificate of analysis (kept with its SHA-256).

    A lot past its expiry may be received (a stock count, a return) but never released.
    """
    _master(actor, "Receiving a material lot")
    material = Material.objects.get(pk=material_id)
    errors: dict[str, str] = {}
    if not certificate:
        errors["certificate"] = "Attach the certificate of analysis."
    elif len(certificate) > CERTIFICATE_MAX_BYTES:
        errors["certificate"] = f"The certificate is larger than {CERTIFICATE_MAX_BYTES // (1024 * 1024)} MB."
    if certificate_type not in CERTIFICATE_TYPES:
        errors["certificate"] = f"A certificate is a PDF, PNG or JPEG file, not {certificate_type}."
    if errors:
        raise ValidationError(errors)
    lot = MaterialLot(
        code=code.strip(),
        material=material,
        supplier_lot=supplier_lot.strip(),
        expiry_date=expiry_date,
        quantity_received=quantity,
        certificate_name=certificate_name.strip() or "certificate.pdf",
        certificate_sha256=hashlib.sha256(certificate).hexdigest(),
        received_by=actor,
    )
    lot.full_clean()
    with audit_context(actor, reason=f"lot {lot.code} of {material.code} received into quarantine"):
        lot.save()
        LotCertificate.objects.create(lot=lot, content_type=certificate_type, content=certificate)
    return lot


@transaction.atomic
def lot_status_set(
    *, actor: User, lot_id: int, status: str, password: str, reason: str = "", otp_token: str = ""
) -> MaterialLot:
    """QA's decision on a lot (release, reject, expire, recall), signed; anything but a release needs a reason."""
    require_role(actor, Role.QA_REVIEWER, action="Deciding a material lot's status", domain=Domain.MASTER_DATA)
    confirm_password(actor, password, otp_token=otp_token)
    lot = MaterialLot.objects.select_for_update().select_related("material").get(pk=lot_id)
    if status not in LOT_DECISIONS:
        raise ValidationError(
            {
                "status": gettext("A lot is released, rejected, expired or recalled, not %(status)s.")
                % {"status": f"{status!r}"}
            }
        )
    sources, meaning = LOT_DECISIONS[status]
    if lot.status not in sources:
        raise StateConflict(
            gettext("Lot %(code)s is %(status)s; it cannot become %(new_status)s.")
            % {
                "code": lot.code,
                "status": lot.get_status_display().lower(),
                "new_status": LotStatus(status).label.lower(),
            }
        )
    if status == LotStatus.RELEASED:
        if lot.expiry_date <= timezone.localdate():
            raise ValidationError(
                {"status": f"Lot {lot.code} expired on {lot.expiry_date:%Y-%m-%d}; it is not released."}
            )
        text = reason.strip() or f"certificate {lot.certificate_sha256[:12]}… checked against the specification"
    else:
        text = require_reason(reason, what=f"mark lot {lot.code} {LotStatus(status).label.lower()}")
    with audit_context(actor, reason=f"lot {lot.code} {LotStatus(status).label.lower()}: {text}"):
        lot.status = status
        lot.status_reason = text
        lot.status_changed_by = actor
        lot.status_changed_at = timezone.now()
        lot.full_clean()
        lot.save()
    signature_sign(signer=actor, password=password, password_checked=True, meaning=meaning, target=lot)
    return lot


@transaction.atomic
def lot_expiry_correct(
    *, actor: User, lot_id: int, expiry_date: date, reason: str, password: str, otp_token: str = ""
) -> MaterialLot:
    """QA corrects a lot's expiry (a supplier's shelf-life notice, a misread label), signed with a reason.

    The earlier signatures of the lot are invalidated (its content changed); the uses already recorded keep
    the expiry they were checked against.
    """
    require_role(actor, Role.QA_REVIEWER, action="Correcting a lot's expiry", domain=Domain.MASTER_DATA)
    confirm_password(actor, password, otp_token=otp_token)
    lot = MaterialLot.objects.select_for_update().get(pk=lot_id)
    text = require_reason(reason, what=f"correct the expiry of lot {lot.code}")
    if expiry_date == lot.expiry_date:
        raise ValidationError(
            {
                "expiry_date": gettext("Lot %(code)s already expires on %(expiry_date)s.")
                % {"code": lot.code, "expiry_date": f"{expiry_date:%Y-%m-%d}"}
            }
        )
    signatures_invalidate(target=lot, actor=actor, reason=f"expiry corrected: {text}")
    with audit_context(
        actor, reason=f"expiry of lot {lot.code} {lot.expiry_date:%Y-%m-%d} → {expiry_date:%Y-%m-%d}: {text}"
    ):
        lot.expiry_date = expiry_date
        lot.save()
    meaning = SignatureMeaning.APPROVED if lot.status == LotStatus.RELEASED else SignatureMeaning.REJECTED
    signature_sign(signer=actor, password=password, password_checked=True, meaning=meaning, target=lot)
    return lot


@transaction.atomic
def material_requirement_add(
    *, actor: User, definition_id: int, step_kind: str, category: str, grade: str, quantity: Decimal, unit: str
) -> StepMaterialRequirement:
    """Declare a material a step of a draft process definition uses (category, grade or higher, quantity)."""
    definition = requirement_guard(actor, definition_id, step_kind, action="Declaring a step's materials")
    if grade not in MaterialGrade.values:
        raise ValidationError({"grade": gettext("One of %(value)s.") % {"value": ", ".join(MaterialGrade.values)}})
    category = category.strip()
    if not Material.objects.filter(category=category).exists():
        raise ValidationError(
            {
                "category": gettext("No material of category %(category)s in the material master.")
                % {"category": f"{category!r}"}
            }
        )
    if StepMaterialRequirement.objects.filter(
        process_definition=definition, step_kind=step_kind, category=category
    ).exists():
        raise ValidationError(
            {
                "category": gettext("%(category)s is already declared for %(step_kind)s in %(definition)s.")
                % {"category": category, "step_kind": step_kind, "definition": definition}
            }
        )
    requirement = StepMaterialRequirement(
        process_definition=definition, step_kind=step_kind, category=category, grade=grade, quantity=quantity, unit=unit
    )
    requirement.full_clean(validate_unique=False)
    with audit_context(actor, reason=f"{definition} {step_kind} uses {category}"):
        requirement.save()
    return requirement


def requirement_guard(actor: User, definition_id: int, step_kind: str, *, action: str) -> ProcessDefinition:
    """QA or the administrator, a draft definition (locked), a known step: where every requirement starts."""
    require_role(actor, *DEFINITION_ROLES, action=action, domain=Domain.MASTER_DATA)
    definition = draft_definition(definition_id)
    if step_kind not in STEP_KINDS:
        raise ValidationError({"step_kind": f"Unknown step {step_kind!r}; one of {', '.join(STEP_KINDS)}."})
    return definition


def draft_definition(definition_id: int) -> ProcessDefinition:
    """The definition locked FOR UPDATE, refused unless it is still a draft (approval freezes what it requires)."""
    definition = ProcessDefinition.objects.select_for_update().get(pk=definition_id)
    if definition.status != ApprovalStatus.DRAFT:
        raise StateConflict(
            gettext("%(definition)s is %(status)s; its requirements change only in a new draft.")
            % {"definition": definition, "status": definition.get_status_display().lower()}
        )
    return definition
