"""Account changes are traced, whoever makes them and by whatever path (21 CFR 11.10(d), 11.300).

A password set by another person, a role granted or removed, an account activated or deactivated:
each is written to the access log with the actor, the account and what changed (never the
password), in the transaction of the change. The rows themselves are audited by database triggers
(``batches.UserAccount``, ``batches.UserRoleGrant``, ``batches.AccountState``) with the same actor.

Django changes these rows through ``User.save()`` and the groups relation from many places (the
admin's user and password forms, the services, the shell), so the changes are observed through
Django's model signals. The actor is the audit context's: the signed-in user of the request, the
``actor`` of a service's ``audit_context``, or ``system:<name>`` for a command.

A password set by a person other than the account's user (an administrator's reset, or a new account
with the password the administrator chose) must be changed by that user before they do anything
else: ``AccountState.password_change_required``. A password set with no person behind it (a
deployment command, the demo seed, the test factories) is logged but not flagged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from batches.accounts.access import ACCOUNTS_ACTOR, access_event_record
from batches.accounts.expiry import tokens_end
from batches.audit import as_actor, audit_context, current_actor, current_reason
from batches.models.access import AccessEventKind, AccessOutcome
from batches.models.accounts import AccountState

MUST_CHANGE = "Your password was set by an administrator: change your password before signing or anything else."
MUST_CHANGE_API = (
    "The password of this account was set by another user and must be changed first: "
    "sign in to the admin, change it at /admin/password_change/, then ask for a token again."
)
_BEFORE = "_cellbatch_account_before"


def password_change_required(user: User) -> bool:
    """True while ``user`` must change a password someone else set (read fresh from the database)."""
    if user.pk is None:
        return False
    return AccountState.objects.filter(user_id=user.pk, password_change_required=True).exists()


def _actor() -> str:
    return current_actor() or ACCOUNTS_ACTOR


def _is_person(actor: str) -> bool:
    return bool(actor) and not actor.startswith(("system:", "db:")) and actor != "anonymous"


def _as_actor(actor: str) -> User | str:
    """The person an actor label names (the access log and the audit then name them as such)."""
    return as_actor(actor, default=ACCOUNTS_ACTOR)


def _record(kind: AccessEventKind, user: User, actor: str, detail: str) -> None:
    reason = current_reason()
    if reason and not reason.startswith("access log"):
        detail = f"{detail}; reason: {reason}"
    access_event_record(
        event=kind,
        outcome=AccessOutcome.SUCCESS,
        username=str(user.get_username()),
        user=user,
        actor=_as_actor(actor),
        detail=detail,
    )


def _password_recorded(user: User, *, actor: str, created: bool) -> None:
    """Log the new password (never its value) and say whether its user must change it."""
    by_someone_else = actor != user.get_username()
    must_change = by_someone_else and _is_person(actor)
    reason = "password set by another user" if by_someone_else else "password changed by its user"
    with audit_context(_as_actor(actor), reason=reason):
        AccountState.objects.update_or_create(
            user=user,
            defaults={
                "password_change_required": must_change,
                "password_changed_at": timezone.now(),
                "password_changed_by": actor[:150],
            },
        )
    what = "initial password" if created else "password"
    if not by_someone_else:
        _record(AccessEventKind.PASSWORD_CHANGED, user, actor, "password changed by its user")
        return
    _record(
        AccessEventKind.PASSWORD_SET,
        user,
        actor,
        f"{what} set by {actor}" + ("; the user must change it before anything else" if must_change else ""),
    )
    if must_change and not created:
        tokens_end(user=user, why=f"the password was set by {actor}")


@receiver(pre_save, sender=User, dispatch_uid="cellbatch_account_before")
def remember_account(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        return  # a login saves only last_login: nothing to compare, no extra query
    if update_fields is not None and set(update_fields) == {"password"} and instance._password is None:  # type: ignore[attr-defined]
        return  # check_password() re-hashing the same password with a newer hasher: no change of password
    before = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    setattr(instance, _BEFORE, before)


@receiver(post_save, sender=User, dispatch_uid="cellbatch_account_changed")
def record_account_change(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    before = instance.__dict__.pop(_BEFORE, None)
    actor = _actor()
    if created:
        if instance.password and instance.has_usable_password():  # not an account created without one
            _password_recorded(instance, actor=actor, created=True)
        return
    if before is None:
        return
    if before["password"] != instance.password:
        _password_recorded(instance, actor=actor, created=False)
    if before["is_active"] != instance.is_active:
        kind = AccessEventKind.ACCOUNT_ACTIVATED if instance.is_active else AccessEventKind.ACCOUNT_DEACTIVATED
        _record(kind, instance, actor, f"account {'activated' if instance.is_active else 'deactivated'} by {actor}")


def _role_names(pks: set[int] | None) -> list[str]:
    return sorted(Group.objects.filter(pk__in=pks or ()).values_list("name", flat=True))


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="cellbatch_role_changes")
def record_role_change(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """Role grants and removals, from either side of the relation (user.groups or group.user_set)."""
    if action == "pre_clear":
        # clear() sends no primary keys afterwards: note what it is about to remove.
        held = instance.groups.all() if not reverse else instance.user_set.all()
        instance.__dict__["_cellbatch_cleared"] = set(held.values_list("pk", flat=True))
        return
    if action == "post_clear":
        pk_set, action = instance.__dict__.pop("_cellbatch_cleared", set()), "post_remove"
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    kind = AccessEventKind.ROLE_GRANTED if action == "post_add" else AccessEventKind.ROLE_REMOVED
    verb = "granted" if action == "post_add" else "removed"
    actor = _actor()
    if reverse:  # the instance is the group, the keys name users
        for user in User.objects.filter(pk__in=pk_set).order_by("pk"):
            _record(kind, user, actor, f"role {instance.name} {verb} by {actor}")
        return
    for name in _role_names(pk_set):
        _record(kind, instance, actor, f"role {name} {verb} by {actor}")
