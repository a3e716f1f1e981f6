"""Identity re-check at signing (21 CFR 11.200): the password, then a TOTP code when one is enrolled.

Every refusal is written to the access log on its own connection before it is raised, so it
survives the rollback of the service that asked. A wrong password or a wrong code also counts as
a failed login towards the django-axes lockout: guessing at the signing prompt is as much an
attack on the account as guessing at the login form.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext
from django_otp import devices_for_user, verify_token

from batches.accounts.access import account_is_locked, signature_failure_record
from batches.accounts.changes import password_change_required

NOTHING_DONE = "nothing was signed or saved"


class _VerifiedPasswords:
    """Passwords already checked with the full hasher in this block: (user id, stored hash) → a salted
    digest of the password (the password itself is not kept)."""

    def __init__(self) -> None:
        self.salt = os.urandom(16)
        self.digests: dict[tuple[int, str], bytes] = {}

    def digest(self, password: str) -> bytes:
        return hashlib.sha256(self.salt + password.encode()).digest()


# None everywhere except inside passwords_verified_once(), which only the demo seeding enters.
_verified_passwords: ContextVar[_VerifiedPasswords | None] = ContextVar("verified_passwords", default=None)


@contextmanager
def passwords_verified_once() -> Iterator[None]:
    """Check each user's password with the full hasher once in this block, not at every signature.

    For seed_demo only, which makes hundreds of signatures with the same few demo passwords in one
    process: each would otherwise cost a full PBKDF2 run. The first signature of each user is checked
    in full; later ones are accepted only with the same password against the same stored hash (a
    changed password is checked again). The lockout, deactivation and one-time-code checks still run
    every time, and no request ever runs inside this block.
    """
    token = _verified_passwords.set(_VerifiedPasswords())
    try:
        yield
    finally:
        _verified_passwords.reset(token)


def _password_matches(user: User, password: str) -> bool:
    verified = _verified_passwords.get()
    if verified is None:
        return user.check_password(password)
    digest = verified.digest(password)
    known = verified.digests.get((user.pk, user.password))
    if known is not None and hmac.compare_digest(known, digest):
        return True
    if not user.check_password(password):
        return False
    verified.digests[(user.pk, user.password)] = digest  # after the check, which may upgrade the stored hash
    return True


def _refuse(user: User, *, detail: str, message: str, purpose: str, counts: bool) -> PermissionDenied:
    locked_now = signature_failure_record(
        user=user, detail=f"{purpose}: {detail}" if purpose else detail, counts_towards_lockout=counts
    )
    if locked_now:
        message += (
            f" Your account is now locked after {settings.AXES_FAILURE_LIMIT} failed attempts;"
            " ask an administrator to unlock it."
        )
    return PermissionDenied(message)


def one_time_code_required(user: User) -> bool:
    """True when signing asks ``user`` for a code as well: they have a confirmed authenticator."""
    return bool(user.is_authenticated) and any(True for _ in devices_for_user(user, confirmed=True))


def signer_identity_confirm(*, user: User, password: str, otp_token: str | None = None, purpose: str = "") -> None:
    """Raise PermissionDenied unless ``user`` may sign now and proved it with the re-entered credentials."""
    username = str(user.get_username())
    if not user.is_active:
        raise _refuse(
            user,
            detail="deactivated account",
            message=gettext("This account is deactivated and cannot sign."),
            purpose=purpose,
            counts=False,
        )
    if account_is_locked(username):
        raise _refuse(
            user,
            detail="account locked out",
            message=gettext(
                "Your account is locked after repeated failed attempts; nothing was signed or saved. "
                "Ask an administrator to unlock it or wait for the lock to expire."
            ),
            purpose=purpose,
            counts=False,
        )
    if password_change_required(user):
        raise _refuse(
            user,
            detail="password set by another user, not yet changed",
            message=gettext(
                "Your password was set by an administrator: change your password before signing "
                "(Change password, at the top of the admin); nothing was signed or saved."
            ),
            purpose=purpose,
            counts=False,
        )
    if not password or not _password_matches(user, password):
        raise _refuse(
            user,
            detail="wrong password",
            message=gettext("The password is not correct; nothing was signed or saved."),
            purpose=purpose,
            counts=True,
        )
    devices = list(devices_for_user(user, confirmed=True))
    if not devices:
        return
    token = (otp_token or "").strip()
    if not token:
        raise _refuse(
            user,
            detail="one-time code missing",
            message=gettext("Enter the 6-digit code from your authenticator app; nothing was signed or saved."),
            purpose=purpose,
            counts=False,
        )
    # Verified device by device (django-otp's advice): each check is throttled and refuses a replayed code.
    if not any(verify_token(user, device.persistent_id, token) is not None for device in devices):
        raise _refuse(
            user,
            detail="wrong one-time code",
            message=gettext("The one-time code is not correct or was already used; nothing was signed or saved."),
            purpose=purpose,
            counts=True,
        )
