"""Roles (Django groups) and the checks every service makes before acting (DESIGN.md §1)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import models


class Role(models.TextChoices):
    OPERATOR = "operator", "Operator"
    QC_ANALYST = "qc_analyst", "QC analyst"
    VERIFIER = "verifier", "Verifier"
    QA_REVIEWER = "qa_reviewer", "QA reviewer"
    QUALIFIED_PERSON = "qualified_person", "Qualified Person"
    CLINICIAN = "clinician", "Clinician"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "System administrator"


UserLike = User | AnonymousUser


def user_roles(user: UserLike) -> frozenset[str]:
    """The role names a user holds; an inactive or anonymous user holds none."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_cellbatch_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        # Cached on the instance: one query per request, reset by a fresh instance.
        setattr(user, "_cellbatch_roles", cached)  # noqa: B010
    return cached


def has_role(user: UserLike, *roles: Role | str) -> bool:
    return bool(user_roles(user) & {str(r) for r in roles})


def require_role(user: UserLike, *roles: Role | str, action: str) -> None:
    """Refuse ``action`` unless the user holds one of ``roles``; the admin role never edits batch data."""
    if not has_role(user, *roles):
        names = ", ".join(Role(r).label if r in Role.values else str(r) for r in roles)
        raise PermissionDenied(f"{action} requires the role {names}.")
