"""Account controls in the database (21 CFR 11.300): the access log, the user-ID rules, the user audit.

``AccessEvent`` is the GMP record of every login, logout, failed login, lockout and refused
signature. ``UserAccount`` is a proxy of Django's user that carries the database triggers which
keep user IDs unique and permanent: a user is deactivated, never deleted; a username never
changes; and no username may differ from an existing one only by letter case.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone

from batches import formatting
from batches.audit import account_model, gmp_model
from batches.models.triggers import no_delete


class AccessEventKind(models.TextChoices):
    LOGIN = "login", "Login"
    LOGOUT = "logout", "Logout"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOCKED_OUT = "locked_out", "Account locked out"
    SIGNATURE_FAILED = "signature_failed", "Failed signature (identity not confirmed)"
    SIGNATURE_REFUSED = "signature_refused", "Signature refused (separation of duties)"
    # Account changes: ``actor`` made them, ``user`` is the account changed.
    PASSWORD_SET = "password_set", "Password set by another user"
    PASSWORD_CHANGED = "password_changed", "Password changed by its user"
    ROLE_GRANTED = "role_granted", "Role granted"
    ROLE_REMOVED = "role_removed", "Role removed"
    ACCOUNT_ACTIVATED = "account_activated", "Account activated"
    ACCOUNT_DEACTIVATED = "account_deactivated", "Account deactivated"
    TOKEN_ISSUED = "token_issued", "API token issued"


# What an account change is logged as (the rest of the kinds are accesses and refusals).
ACCOUNT_CHANGE_KINDS = frozenset(
    {
        AccessEventKind.PASSWORD_SET,
        AccessEventKind.PASSWORD_CHANGED,
        AccessEventKind.ROLE_GRANTED,
        AccessEventKind.ROLE_REMOVED,
        AccessEventKind.ACCOUNT_ACTIVATED,
        AccessEventKind.ACCOUNT_DEACTIVATED,
        AccessEventKind.TOKEN_ISSUED,
    }
)


class AccessOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    REFUSED = "refused", "Refused"


@gmp_model
class AccessEvent(models.Model):
    """One access attempt; written once, never changed or deleted."""

    occurred_at = models.DateTimeField(default=timezone.now, help_text="Server time (UTC).")
    event = models.CharField(max_length=20, choices=AccessEventKind.choices)
    outcome = models.CharField(max_length=8, choices=AccessOutcome.choices)
    username = models.CharField(max_length=150, help_text="As typed; it may name no account.")
    # No database foreign key: a refusal is written on its own connection (see batches.accounts.autonomous),
    # which must not wait for, or fail on, a user row the refused transaction has not committed.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=300, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    actor = models.CharField(
        max_length=150,
        blank=True,
        help_text="Who made an account change: a user name, or system:<name> for a command or task.",
    )

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["username", "occurred_at"], name="access_event_user_time")]
        triggers = [
            no_delete(),
            pgtrigger.Protect(name="access_event_no_update", operation=pgtrigger.Update),
        ]

    def __str__(self) -> str:
        return f"{formatting.moment(self.occurred_at, seconds=True)} · {self.username} · {self.get_event_display()}"


# Serialises inserts of usernames that are equal ignoring case (an advisory lock held to commit),
# so two concurrent creations of "JDoe" and "jdoe" cannot both pass the existence check.
USERNAME_UNIQUE_IGNORING_CASE = (
    "PERFORM pg_advisory_xact_lock(hashtext('cellbatch.username:' || lower(NEW.username)));"
    " IF EXISTS (SELECT 1 FROM auth_user WHERE lower(username) = lower(NEW.username) AND id <> NEW.id) THEN"
    "   RAISE EXCEPTION 'the user ID % was used before (user IDs are never reused)', NEW.username"
    "   USING ERRCODE = 'unique_violation';"
    " END IF;"
    " RETURN NEW;"
)


# Audited like a GMP table; the password hash is a secret and the last login time is noise (the access
# log has every login). A password change shows in batches.AccountState instead.
@account_model(exclude=("password", "last_login"))
class UserAccount(User):  # type: ignore[django-manager-missing]  # knox names the token relation
    """Django's user with the database rules that make user IDs unique and never reused."""

    class Meta:
        proxy = True
        verbose_name = "user account"
        triggers = [
            pgtrigger.Trigger(
                name="user_never_deleted",
                when=pgtrigger.Before,
                operation=pgtrigger.Delete,
                func=(
                    "RAISE EXCEPTION 'user % cannot be deleted: deactivate the account instead', OLD.username"
                    " USING ERRCODE = 'restrict_violation'; RETURN NULL;"
                ),
            ),
            pgtrigger.Trigger(
                name="username_never_changes",
                when=pgtrigger.Before,
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange("username"),
                func=(
                    "RAISE EXCEPTION 'user ID % cannot be renamed to %: user IDs are permanent', OLD.username,"
                    " NEW.username USING ERRCODE = 'restrict_violation'; RETURN NULL;"
                ),
            ),
            pgtrigger.Trigger(
                name="username_unique_ignoring_case",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert,
                func=USERNAME_UNIQUE_IGNORING_CASE,
            ),
        ]
