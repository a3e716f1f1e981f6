"""Ends of access the server has to notice itself: API tokens past their lifetime, idle sessions.

A browser session that times out simply stops being found, and a token kept in a script would
otherwise work for ever. Both are turned into access-log entries (21 CFR 11.300(d), Annex 11 §12)
so that the log shows when each access ended, not only when it began:

- an API token is valid for ``CELLBATCH_API_TOKEN_HOURS`` after it was issued; each token login
  issues a new one (the old one stops working) and logs a login; a request with an expired token
  is refused (401), the token deleted and a logout logged;
- a beat task logs a logout for each database session past its expiry (idle timeout, or the
  browser closed) and deletes the session.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from batches.accounts.access import Client, access_event_record
from batches.models.access import AccessEventKind, AccessOutcome


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


def token_expires_at(token: Token) -> datetime:
    return token.created + token_lifetime()


@transaction.atomic
def token_issue(*, user: User, client: Client) -> Token:
    """A fresh token for ``user`` (any earlier one stops working), logged as a login."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    _log(
        AccessEventKind.LOGIN,
        user,
        client,
        f"API token issued, valid until {timezone.localtime(token_expires_at(token)):%Y-%m-%d %H:%M %Z}",
    )
    return token


@transaction.atomic
def token_revoke(*, user: User, client: Client) -> bool:
    """The user ends their API access before the token expires (logged as a logout)."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        _log(AccessEventKind.LOGOUT, user, client, "API token revoked by its user")
    return bool(deleted)


@transaction.atomic
def token_expire(*, token: Token, client: Client) -> bool:
    """Delete an expired token and log the end of its access (once, whoever notices first)."""
    deleted, _ = Token.objects.filter(pk=token.pk).delete()
    if deleted:
        _log(
            AccessEventKind.LOGOUT,
            token.user,
            client,
            f"API token expired {settings.CELLBATCH_API_TOKEN_HOURS} h after it was issued",
            occurred_at=token_expires_at(token),
        )
    return bool(deleted)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF token authentication that refuses (and retires) a token past its lifetime."""

    def authenticate(self, request):  # type: ignore[no-untyped-def]  # DRF's own signature is untyped
        self._client = Client.from_request(request)
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        user, token = super().authenticate_credentials(key)
        if timezone.now() >= token_expires_at(token):
            token_expire(token=token, client=getattr(self, "_client", Client()))
            raise AuthenticationFailed(
                f"The API token expired {settings.CELLBATCH_API_TOKEN_HOURS} h after it was issued; "
                "ask for a new one with POST /api/v1/auth/token/."
            )
        return user, token


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
