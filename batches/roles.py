"""Roles (Django groups) and the checks every service makes before acting (21 CFR 11.10(d, g)).

Who holds each role and what it signs: docs/domain.md §Who does what.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext, gettext_noop


class Role(models.TextChoices):
    # Labels in English (the services' messages, which the audit trail keeps); gettext(role.label) on pages.
    OPERATOR = "operator", gettext_noop("Operator")
    QC_ANALYST = "qc_analyst", gettext_noop("QC analyst")
    VERIFIER = "verifier", gettext_noop("Verifier")
    QA_REVIEWER = "qa_reviewer", gettext_noop("QA reviewer")
    QUALIFIED_PERSON = "qualified_person", gettext_noop("Qualified Person")
    CLINICIAN = "clinician", gettext_noop("Clinician")
    MEDICAL_DIRECTOR = "medical_director", gettext_noop("Medical director")
    AUDITOR = "auditor", gettext_noop("Auditor")
    # Keeps the material master, receives lots and keeps the equipment register; QA decides their status.
    MATERIALS = "materials", gettext_noop("Materials and equipment")
    ADMIN = "admin", gettext_noop("System administrator")


class Domain(models.TextChoices):
    """What a service acts on; a role may be barred from a whole domain whatever else it holds."""

    BATCH_DATA = "batch_data", "batch data"
    MASTER_DATA = "master_data", "master data"
    ACCOUNTS = "accounts", "user accounts"
    RECORDS = "records", "reading and issuing the record"


# The one table of domain bars. Holding a role listed here removes the right to act in that domain,
# even together with a role that would grant it: the system administrator manages accounts and
# master data but never enters or changes batch data (21 CFR 11.10(g), separation of duties).
BARRED_FROM: dict[Domain, frozenset[Role]] = {
    Domain.BATCH_DATA: frozenset({Role.ADMIN}),
    Domain.MASTER_DATA: frozenset(),
    Domain.ACCOUNTS: frozenset(),
    Domain.RECORDS: frozenset(),
}

UserLike = User | AnonymousUser

# Everyone who works on or reads batch records: every role but the system administrator's alone.
BATCH_ROLES: tuple[Role, ...] = tuple(role for role in Role if role != Role.ADMIN)


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


def barring_roles(user: UserLike, domain: Domain) -> list[Role]:
    """The roles the user holds that bar them from ``domain`` (none: they may act there)."""
    held = user_roles(user)
    return sorted((role for role in BARRED_FROM[domain] if role in held), key=list(Role).index)


def may_act(user: UserLike, *roles: Role | str, domain: Domain = Domain.BATCH_DATA) -> bool:
    """What ``require_role`` decides, as a yes or no (for showing or hiding a form or a button)."""
    return has_role(user, *roles) and not barring_roles(user, domain)


def role_names(roles: Iterable[Role]) -> str:
    """The roles' names in the reader's language, for a page (the services' kept messages name them in English)."""
    return " / ".join(gettext(role.label) for role in roles)


def require_role(user: UserLike, *roles: Role | str, action: str, domain: Domain = Domain.BATCH_DATA) -> None:
    """Refuse ``action`` unless the user holds one of ``roles`` and no role that bars them from ``domain``.

    Batch data is the default, so a service that does not say otherwise is closed to the admin role.
    """
    if not has_role(user, *roles):
        names = ", ".join(Role(r).label if r in Role.values else str(r) for r in roles)
        raise PermissionDenied(f"{action} requires the role {names}.")
    barred = barring_roles(user, domain)
    if barred:
        names = " or ".join(role.label.lower() for role in barred)
        raise PermissionDenied(
            f"{action} is not allowed for a {names} account, whatever other role it holds: "
            f"it never enters or changes {domain.label}."
        )
