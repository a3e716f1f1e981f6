"""Ends of access the server has to notice itself: API tokens past their lifetime, idle sessions.

A browser session that times out simply stops being found, and a token kept in a script would
otherwise work for ever. Both are turned into access-log entries (21 CFR 11.300(d), Annex 11 §12)
so that the log shows when each access ended, not only when it began:

- an API token is valid for ``CELLBATCH_API_TOKEN_HOURS`` after it was issued; each token login
  issues a new one (the old one stops working) and logs a login; a request with an expired token
  is refused (401), the token deleted and a logout logged; so is a request with the token of an
  account that is locked out or deactivated (the token ends then, not when the lock lifts);
- a beat task logs a logout for each database session past its expiry (idle timeout, or the
  browser closed) and deletes the session.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS
from rest_framework.exceptions import AuthenticationFailed

from batches import formatting
from batches.accounts.access import ACCOUNTS_ACTOR, Client, access_event_record, account_is_locked, current_client
from batches.audit import as_actor, audit_context, current_actor
from batches.models.access import AccessEventKind, AccessOutcome
from batches.models.accounts import ApiToken


def _log(
    event: AccessEventKind, user: User, client: Client, detail: str, *, occurred_at: datetime | None = None
) -> None:
    access_event_record(
        event=event,
        outcome=AccessOutcome.SUCCESS,
        username=str(user.get_username()),
        user=user,
        client=client,
        detail=detail,
        occurred_at=occurred_at,
    )


def token_lifetime() -> timedelta:
    return timedelta(hours=settings.CELLBATCH_API_TOKEN_HOURS)


def token_expires_at(token: ApiToken) -> datetime:
    return token.expiry or token.created + token_lifetime()


def _tokens_delete(tokens: QuerySet[ApiToken], *, actor: User | str, reason: str) -> list[ApiToken]:
    """Delete ``tokens`` (audited, with ``reason``); returns the rows this call deleted."""
    with audit_context(actor, reason=reason):
        ended = list(tokens.select_for_update())
        ApiToken.objects.filter(pk__in=[t.pk for t in ended]).delete()
    return ended


@transaction.atomic
def token_issue(*, user: User, client: Client) -> tuple[ApiToken, str]:
    """A fresh token for ``user`` (any earlier one stops working), logged as a login.

    Returns the row and the token itself: the token is shown this once and only its digest is kept.
    """
    _tokens_delete(ApiToken.objects.filter(user=user), actor=user, reason="API token login: the earlier token ends")
    with audit_context(user, reason="API token login"):
        token, key = ApiToken.objects.create(user=user, expiry=token_lifetime())
    until = formatting.moment(token_expires_at(token))
    _log(AccessEventKind.LOGIN, user, client, f"API token issued, valid until {until}")
    access_event_record(
        event=AccessEventKind.TOKEN_ISSUED,
        outcome=AccessOutcome.SUCCESS,
        username=str(user.get_username()),
        user=user,
        client=client,
        actor=user,
        detail=f"API token #{token.pk} issued to its user at the token login, valid until {until}",
    )
    return token, key


@transaction.atomic
def token_revoke(*, user: User, client: Client) -> bool:
    """The user ends their API access before the token expires (logged as a logout)."""
    ended = _tokens_delete(ApiToken.objects.filter(user=user), actor=user, reason="API logout")
    if ended:
        _log(AccessEventKind.LOGOUT, user, client, "API token revoked by its user")
    return bool(ended)


@transaction.atomic
def token_expire(*, token: ApiToken, client: Client) -> bool:
    """Delete an expired token and log the end of its access (once, whoever notices first)."""
    reason = f"API token expired {settings.CELLBATCH_API_TOKEN_HOURS} h after it was issued"
    ended = _tokens_delete(ApiToken.objects.filter(pk=token.pk), actor=ACCOUNTS_ACTOR, reason=reason)
    if ended:
        _log(AccessEventKind.LOGOUT, token.user, client, reason, occurred_at=token_expires_at(token))
    return bool(ended)


@transaction.atomic
def tokens_end(*, user: User, why: str, client: Client | None = None) -> int:
    """End every API token of ``user`` (lockout, deactivation, password set by someone else), logged."""
    actor = as_actor(current_actor(), default=ACCOUNTS_ACTOR)
    ended = _tokens_delete(ApiToken.objects.filter(user=user), actor=actor, reason=why)
    if ended:
        _log(AccessEventKind.LOGOUT, user, client or current_client(), f"API token ended: {why}")
    return len(ended)


EXPIRED = "The API token expired {hours} h after it was issued; ask for a new one with POST /api/v1/auth/token/."


class ExpiringTokenAuthentication(TokenAuthentication):
    """knox's token authentication (hashed tokens), refusing and retiring a token that may no longer work:
    past its lifetime, or of an account that is locked out or deactivated."""

    def authenticate(self, request):  # type: ignore[no-untyped-def]  # DRF's own signature is untyped
        self._client = Client.from_request(request)
        return super().authenticate(request)

    def authenticate_credentials(self, token: bytes) -> tuple[User, ApiToken]:
        key = token.decode("utf-8", errors="replace")
        candidates = ApiToken.objects.filter(token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH]).select_related("user")
        # The digest is compared in constant time, as knox does; the prefix alone proves nothing.
        match = next((t for t in candidates if compare_digest(hash_token(key), t.digest)), None)
        if match is None:
            raise AuthenticationFailed("Invalid token.")
        client = getattr(self, "_client", Client())
        user: User = match.user
        if timezone.now() >= token_expires_at(match):
            token_expire(token=match, client=client)
            raise AuthenticationFailed(EXPIRED.format(hours=settings.CELLBATCH_API_TOKEN_HOURS))
        if not user.is_active:
            tokens_end(user=user, why="the account is deactivated", client=client)
            raise AuthenticationFailed("This account is deactivated; its API token no longer works.")
        if account_is_locked(str(user.get_username())):
            tokens_end(user=user, why="the account is locked out", client=client)
            raise AuthenticationFailed(
                "This account is locked after repeated failed attempts; its API token no longer works. "
                "Ask an administrator to unlock it, then ask for a new token with POST /api/v1/auth/token/."
            )
        return user, match


def sessions_end_expired(*, now: datetime | None = None) -> int:
    """Log a logout for every session past its expiry, then delete it; returns how many ended."""
    now = now or timezone.now()
    idle = settings.SESSION_COOKIE_AGE // 60
    ended = 0
    expired = [(s, s.get_decoded().get("_auth_user_id")) for s in Session.objects.filter(expire_date__lte=now)]
    users = User.objects.in_bulk({int(user_id) for _, user_id in expired if user_id})
    for session, user_id in sorted(expired, key=lambda pair: pair[0].expire_date):
        user = users.get(int(user_id)) if user_id else None
        with transaction.atomic():
            # Deleting first makes two beat runs racing on one session log it once.
            if not Session.objects.filter(pk=session.pk).delete()[0] or user is None:
                continue
            _log(
                AccessEventKind.LOGOUT,
                user,
                Client(),
                f"session expired: no activity for {idle} min, or the browser was closed",
                occurred_at=session.expire_date,
            )
            ended += 1
    return ended
