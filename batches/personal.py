"""One person, one account (21 CFR 11.100(a), 11.300): the rule and its wording, in one place.

An account may hold a signing role only when it carries a personal identity (full name, unique
employee number, unique e-mail) and is not named as a shared or generic account. The rule is applied
when a role is granted (batches.accounts.signals, the account services and forms) and again at every
signature (batches.duties), so an account that slipped through by another path still cannot sign.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied

from batches.models.people import PersonalIdentity
from batches.roles import Role

# Roles whose holders sign batch records, QC results, dispositions, certifications or master data.
SIGNING_ROLES: frozenset[str] = frozenset(
    {Role.OPERATOR, Role.QC_ANALYST, Role.VERIFIER, Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.CLINICIAN}
)

# A word of these in the user ID or the name marks an account shared by several people or by nobody.
GENERIC_WORDS: frozenset[str] = frozenset(
    {
        "shared",
        "share",
        "generic",
        "common",
        "team",
        "group",
        "department",
        "dept",
        "ward",
        "station",
        "guest",
        "temp",
        "temporary",
        "service",
        "account",
        "pool",
        "anonymous",
        "unknown",
    }
)


def generic_words(*names: str) -> list[str]:
    """The generic words found in ``names`` (split on anything but letters and digits)."""
    words = {w for name in names for w in re.split(r"[^0-9a-z]+", (name or "").lower()) if w}
    return sorted(words & GENERIC_WORDS)


def candidate_problem(*, username: str, full_name: str, employee_number: str, email: str) -> str:
    """Why an account with these particulars may not hold a signing role, or "" when it may."""
    generic = generic_words(username, full_name)
    if generic:
        return (
            f"The account {username!r} is named as a shared or generic account ({', '.join(generic)}); "
            "a signing role belongs to one identified person only."
        )
    if not (full_name.strip() and employee_number.strip() and email.strip()):
        return (
            f"The account {username!r} carries no personal identity (full name, employee number and "
            "e-mail); a signing role belongs to one identified person only."
        )
    return ""


def identity_problem(user: User) -> str:
    """Why ``user`` may not hold a signing role, or "" when it may."""
    identity = PersonalIdentity.objects.filter(user_id=user.pk).first() if user.pk else None
    if identity is None:
        return candidate_problem(username=user.username, full_name=user.get_full_name(), employee_number="", email="")
    return candidate_problem(
        username=user.username,
        # the account's own name fields count as much as its recorded identity
        full_name=f"{identity.full_name} {user.get_full_name()}",
        employee_number=identity.employee_number,
        email=identity.email,
    )


def require_personal_account(user: User, *, action: str) -> None:
    """Refuse ``action`` (holding a signing role, signing) for an account that is not one identified person."""
    problem = identity_problem(user)
    if problem:
        raise PermissionDenied(f"{action} is refused: {problem}")
