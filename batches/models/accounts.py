"""Account state and API tokens in the database, audited like GMP records (21 CFR 11.10(d), 11.300).

- ``AccountState``: one row per user that holds what Django's user does not: whether the password
  was set by someone else and must be changed by its user before anything else, when and by
  whom the password last changed (the hash itself is never audited), and the user's language.
- ``ApiToken``: django-rest-knox's token with an integer key. Only a SHA-512 digest of the token and
  its first characters (the lookup prefix) are stored; the audit leaves both out.
- ``UserRoleGrant``: Django's user ↔ group table (roles are groups), audited through this proxy.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS

from batches.audit import account_model, gmp_model


@gmp_model
class AccountState(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="account_state")
    password_change_required = models.BooleanField(
        default=False, help_text="Set when someone else set the password; cleared when the user changes it."
    )
    password_changed_at = models.DateTimeField(null=True, blank=True)
    password_changed_by = models.CharField(
        max_length=150, blank=True, help_text="User name, or system:<name> for a command."
    )
    # The language of the user's interface (batches.accounts.language); empty: the browser's.
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The language of your screens and e-mails; empty follows the browser."),
    )

    class Meta:
        verbose_name = "account state"

    def __str__(self) -> str:
        return f"account state of user #{self.user_id}"


@account_model(exclude=("digest", "token_key"))
class ApiToken(AbstractAuthToken):
    """An API token: knox's fields, an integer primary key instead of the digest."""

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=CONSTANTS.DIGEST_LENGTH, unique=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        # knox prints the digest; nothing about the secret belongs in a log line or an admin page.
        return f"API token #{self.pk} of user #{self.user_id}"


@account_model()
class UserRoleGrant(User.groups.through):  # type: ignore[name-defined]
    """A role (group) held by a user: Django's auth_user_groups row."""

    class Meta:
        proxy = True
        verbose_name = "role grant"
