"""Specification versions: drafted by QA, approved by two different people, then read-only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from batches.audit import audit_context
from batches.models import ApprovalStatus
from batches.models.signatures import SignatureMeaning
from batches.roles import Domain, Role, require_role
from batches.services.common import confirm_password
from batches.services.signatures import signature_sign
from qc.evaluation import CATEGORICAL_OUTCOMES, DEFAULT_LIMITS, TEST_LABELS, NumericLimit, QcTest
from qc.models import Specification, SpecificationLimit

MASTER_DATA_ROLES = (Role.QA_REVIEWER,)
APPROVER_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON)


def default_limit_values() -> list[dict[str, Any]]:
    """The default limits (docs/domain.md §QC testing) as editable limit rows (one dict per test)."""
    rows: list[dict[str, Any]] = []
    for default in DEFAULT_LIMITS:
        row: dict[str, Any] = {
            "test": str(default.test),
            "method": default.method,
            "blocks_release": default.blocks_release,
        }
        if isinstance(default.limit, NumericLimit):
            row |= {
                "operator": str(default.limit.operator),
                "value": default.limit.value,
                "upper": default.limit.upper,
                "unit": default.limit.unit,
            }
        else:
            row |= {"expected_result": default.limit.expected}
        rows.append(row)
    return rows


def _decimal(value: object, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError({field: f"{value!r} is not a number."}) from None
    if not number.is_finite():
        raise ValidationError({field: _("A limit must be a finite number.")})
    return number


def _limit(specification: Specification, row: dict[str, Any]) -> SpecificationLimit:
    try:
        test = QcTest(str(row.get("test")))
    except ValueError:
        raise ValidationError({"test": f"Unknown QC test {row.get('test')!r}."}) from None
    label = TEST_LABELS[test]
    unknown = set(row) - {"test", "method", "operator", "value", "upper", "unit", "expected_result", "blocks_release"}
    if unknown:
        raise ValidationError(f"{label}: unknown field(s) {', '.join(sorted(unknown))}.")
    limit = SpecificationLimit(
        specification=specification,
        test=test,
        method=str(row.get("method") or "").strip(),
        blocks_release=bool(row.get("blocks_release", True)),
    )
    if test in CATEGORICAL_OUTCOMES:
        expected = " ".join(str(row.get("expected_result") or "").split()).lower()
        if expected not in CATEGORICAL_OUTCOMES[test]:
            raise ValidationError(
                {"expected_result": f"{label}: expected result must be one of {', '.join(CATEGORICAL_OUTCOMES[test])}."}
            )
        limit.expected_result = expected
    else:
        limit.operator = str(row.get("operator") or "")
        limit.value = _decimal(row.get("value"), "value")
        limit.upper = _decimal(row.get("upper"), "upper")
        limit.unit = str(row.get("unit") or "").strip()
        if limit.value is None or not limit.unit:
            raise ValidationError({"value": f"{label}: a numeric limit needs a value and a unit."})
        try:
            limit.as_limit()
        except ValueError as error:
            raise ValidationError({"operator": f"{label}: {error}."}) from None
    if not limit.method:
        raise ValidationError({"method": f"{label}: the test method is required."})
    limit.full_clean(exclude=["specification"], validate_unique=False, validate_constraints=False)
    return limit


@transaction.atomic
def specification_create(
    *,
    actor: User,
    product: str,
    title: str,
    requested_effective_from: datetime,
    limits: list[dict[str, Any]] | None = None,
    max_collection_to_processing_hours: int = 24,
) -> Specification:
    """Draft the next version of a product's specification (the defaults of qc.evaluation when no limits given)."""
    require_role(actor, *MASTER_DATA_ROLES, action="Drafting a QC specification", domain=Domain.MASTER_DATA)
    rows = default_limit_values() if limits is None else limits
    tests = [row.get("test") for row in rows]
    if len(set(tests)) != len(tests):
        raise ValidationError({"limits": _("Each test appears once in a specification.")})
    if not rows:
        raise ValidationError({"limits": _("A specification needs at least one test.")})
    product = product.strip().upper()
    latest = Specification.objects.filter(product=product).aggregate(v=Max("version"))["v"] or 0
    with audit_context(actor, reason=f"draft {product} QC specification v{latest + 1}"):
        specification = Specification(
            product=product,
            version=latest + 1,
            title=title.strip(),
            requested_effective_from=requested_effective_from,
            max_collection_to_processing_hours=max_collection_to_processing_hours,
            created_by=actor,
        )
        specification.full_clean()
        specification.save()
        built = [_limit(specification, row) for row in rows]
        SpecificationLimit.objects.bulk_create(built)
    return specification


def _snapshot(specification: Specification) -> list[dict[str, str]]:
    return [
        {
            "test": limit.test,
            "method": limit.method,
            "limit": limit.as_limit().describe(),
            "blocks_release": "yes" if limit.blocks_release else "no",
        }
        for limit in specification.limits.order_by("pk")
    ]


@transaction.atomic
def specification_approve(
    *, specification_id: int, approver: User, password: str, otp_token: str = ""
) -> Specification:
    """One approval (signed, meaning approved); the second, by someone else, makes the version effective."""
    require_role(approver, *APPROVER_ROLES, action="Approving a QC specification", domain=Domain.MASTER_DATA)
    confirm_password(approver, password, otp_token=otp_token)
    specification = Specification.objects.select_for_update().get(pk=specification_id)
    if specification.status != ApprovalStatus.DRAFT:
        raise ValidationError(f"{specification} is already {specification.get_status_display().lower()}.")
    now = timezone.now()
    with audit_context(approver, reason=f"approve {specification}"):
        if specification.first_approved_by_id is None:
            specification.limits_snapshot = _snapshot(specification)
            specification.first_approved_by = approver
            specification.first_approved_at = now
        elif specification.first_approved_by_id == approver.pk:
            raise PermissionDenied(f"{specification} needs a second approval by a different person.")
        else:
            specification.second_approved_by = approver
            specification.second_approved_at = now
            specification.status = ApprovalStatus.APPROVED
            # Never retroactive: batches already in processing keep the version effective then.
            specification.effective_from = max(specification.requested_effective_from, now)
        specification.save()
    signature_sign(
        signer=approver,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.APPROVED,
        target=specification,
    )
    return specification
