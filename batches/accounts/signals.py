"""Access-log receivers: every login, logout, failed login and lockout is written (21 CFR 11.300(d))."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from batches.accounts.access import Client, access_event_record, access_failure_record
from batches.accounts.expiry import tokens_end
from batches.models.access import AccessEventKind, AccessOutcome
from batches.personal import SIGNING_ROLES, identity_problem
from batches.roles import Role


def _known_user(username: str) -> User | None:
    return User.objects.filter(username=username).first() if username else None


@receiver(user_logged_in, dispatch_uid="cellbatch_access_login")
def record_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    access_event_record(
        event=AccessEventKind.LOGIN,
        outcome=AccessOutcome.SUCCESS,
        username=str(user.get_username()),
        user=user,
        client=Client.from_request(request),
    )


@receiver(user_logged_out, dispatch_uid="cellbatch_access_logout")
def record_logout(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is None or not user.is_authenticated:
        return  # logging out an anonymous session ends nobody's access
    access_event_record(
        event=AccessEventKind.LOGOUT,
        outcome=AccessOutcome.SUCCESS,
        username=str(user.get_username()),
        user=user,
        client=Client.from_request(request),
    )


@receiver(user_login_failed, dispatch_uid="cellbatch_access_login_failed")
def record_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username") or "")
    # django-axes's receiver runs first (its app is listed earlier): it counts this failure and flags
    # the request when the account is locked, either by this very failure or already before it.
    locked = bool(getattr(request, "axes_locked_out", False))
    failures = getattr(request, "axes_failures_since_start", None)
    locked_by_this = locked and failures is not None and failures <= settings.AXES_FAILURE_LIMIT
    if locked and not locked_by_this:
        outcome, detail = AccessOutcome.REFUSED, "account locked out"
    else:
        outcome = AccessOutcome.FAILURE
        detail = "wrong user ID or password" + ("; the account is now locked" if locked_by_this else "")
    access_failure_record(
        event=AccessEventKind.LOGIN_FAILED,
        outcome=outcome,
        username=username,
        user=_known_user(username),
        client=Client.from_request(request),
        detail=detail,
    )


@receiver(user_locked_out, dispatch_uid="cellbatch_access_locked_out")
def record_locked_out(sender: Any, request: Any, username: str | None, **kwargs: Any) -> None:
    failures = getattr(request, "axes_failures_since_start", None)
    detail = f"{failures} failed attempts" if failures else "attempt while locked"
    user = _known_user(username or "")
    if user is not None:
        # A locked account's API token ends now, not when the lock lifts (it is refused meanwhile too).
        tokens_end(user=user, why="the account is locked out", client=Client.from_request(request))
    access_failure_record(
        event=AccessEventKind.LOCKED_OUT,
        outcome=AccessOutcome.REFUSED,
        username=username or "",
        user=user,
        client=Client.from_request(request),
        detail=f"{detail} (limit {settings.AXES_FAILURE_LIMIT}, cool-off {settings.AXES_COOLOFF_TIME})",
    )


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="cellbatch_signing_role_needs_a_person")
def refuse_signing_role_for_impersonal_account(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """A signing role is granted only to an account of one identified person, whatever path grants it."""
    if action != "pre_add" or not pk_set:
        return
    if reverse:  # group.user_set.add(...): the instance is the role, the keys are the users
        if instance.name not in SIGNING_ROLES:
            return
        users = list(User.objects.filter(pk__in=pk_set))
        role = instance.name
    else:
        names = set(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True)) & SIGNING_ROLES
        if not names:
            return
        users, role = [instance], sorted(names)[0]
    for user in users:
        problem = identity_problem(user)
        if problem:
            raise ValidationError(f"The role {Role(role).label} cannot be given: {problem}")
