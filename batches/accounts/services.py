"""Account services: user IDs that are never reused, deactivation instead of deletion, TOTP enrolment."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from batches.accounts.expiry import tokens_end
from batches.audit import audit_context, require_reason
from batches.models.people import PersonalIdentity
from batches.personal import SIGNING_ROLES, candidate_problem
from batches.roles import Domain, Role, require_role

TOTP_DEVICE_NAME = "Authenticator app"


def username_problem(username: str) -> str:
    """Why ``username`` cannot be given to a new account, or "" when it can."""
    cleaned = (username or "").strip()
    if not cleaned:
        return gettext("A user ID is required.")
    # Users are never deleted and never renamed, so every ID ever issued is still in the table.
    earlier = User.objects.filter(username__iexact=cleaned).first()
    if earlier is not None:
        state = "an active" if earlier.is_active else "a deactivated"
        return (
            f"The user ID {cleaned!r} was issued before (to {state} account {earlier.username!r}); "
            "user IDs are never reused."
        )
    return ""


@transaction.atomic
def user_create(
    *,
    actor: User,
    username: str,
    password: str,
    first_name: str,
    last_name: str,
    email: str = "",
    roles: Iterable[Role] = (),
    employee_number: str = "",
) -> User:
    """Issue a new user ID (never one used before, in any letter case) with a validated password, and
    record the person it belongs to when an employee number is given (a signing role needs one).

    The password is the actor's choice, so its user must change it before anything else
    (batches.accounts.changes)."""
    require_role(actor, Role.ADMIN, action="Creating a user account", domain=Domain.ACCOUNTS)
    errors: dict[str, list[str]] = {}
    problem = username_problem(username)
    if problem:
        errors["username"] = [problem]
    if not first_name.strip() or not last_name.strip():
        errors["last_name"] = [gettext("The full name is required: it is printed with every signature.")]
    candidate = User(username=username.strip(), first_name=first_name.strip(), last_name=last_name.strip(), email=email)
    roles = list(roles)
    if set(map(str, roles)) & SIGNING_ROLES:
        problem = candidate_problem(
            username=candidate.username,
            full_name=candidate.get_full_name(),
            employee_number=employee_number,
            email=email,
        )
        if problem:
            errors["roles"] = [problem]
    if employee_number.strip() and PersonalIdentity.objects.filter(employee_number=employee_number.strip()).exists():
        errors["employee_number"] = [f"Employee number {employee_number.strip()} belongs to another account."]
    if email.strip() and PersonalIdentity.objects.filter(email__iexact=email.strip()).exists():
        errors["email"] = [f"The e-mail {email.strip()} belongs to another account."]
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    with audit_context(actor, reason=f"create user account {candidate.username}"):
        user = User.objects.create_user(
            username=candidate.username,
            password=password,
            first_name=candidate.first_name,
            last_name=candidate.last_name,
            email=email,
        )
        if employee_number.strip():
            PersonalIdentity.objects.create(
                user=user, full_name=user.get_full_name(), employee_number=employee_number.strip(), email=email.strip()
            )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=str(role))[0])
    return user


def _end_sessions(user: User) -> int:
    """Delete the database sessions that belong to ``user``."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def user_deactivate(*, actor: User, user_id: int, reason: str) -> User:
    """Withdraw an account's access for good (sessions, API token, authenticators); the user ID stays
    issued and its records attributable."""
    require_role(actor, Role.ADMIN, action="Deactivating a user account", domain=Domain.ACCOUNTS)
    reason = require_reason(reason, what="deactivate a user account")
    user = User.objects.select_for_update().get(pk=user_id)
    if user.pk == actor.pk:
        raise ValidationError(gettext("You cannot deactivate your own account."))
    if not user.is_active:
        raise ValidationError(f"The account {user.username!r} is already deactivated.")
    with audit_context(actor, reason=reason):
        user.is_active = False
        user.save(update_fields=["is_active"])
        TOTPDevice.objects.filter(user=user).delete()
    _end_sessions(user)
    tokens_end(user=user, why="the account is deactivated")
    return user


@transaction.atomic
def totp_device_begin(*, user: User) -> TOTPDevice:
    """Start enrolling an authenticator: a new unconfirmed device (an earlier unfinished one is discarded)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


@transaction.atomic
def totp_device_confirm(*, user: User, token: str) -> TOTPDevice:
    """Finish enrolling: the first code from the app confirms the device, which replaces any earlier one."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        raise ValidationError(gettext("Start the enrolment first: no authenticator is waiting for confirmation."))
    if not device.verify_token((token or "").strip()):
        raise ValidationError(
            {"token": gettext("The code is not correct; check the app's clock and try the next code.")}
        )
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device
