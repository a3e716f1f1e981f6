"""The access log and lockout counting shared by logins and electronic signatures (21 CFR 11.300).

Successful logins and logouts are written in the request's own transaction. Failures are written
so that they outlive whatever transaction the caller is in (see :mod:`batches.accounts.autonomous`):
the service that asked for a signature rolls back, its refusal stays on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from batches.accounts.autonomous import run_autonomously
from batches.audit import actor_label, audit_context
from batches.models.access import AccessEvent, AccessEventKind, AccessOutcome

ACCOUNTS_ACTOR = "system:accounts"
# django-axes keys an attempt on (username, IP, user agent); a distinct agent keeps signature failures
# in their own attempt row, so they add to the user's count without touching a login's row.
SIGNATURE_AGENT_SUFFIX = " [e-signature]"


@dataclass(frozen=True)
class Client:
    """Where a request came from, as far as the server can tell."""

    ip_address: str | None = None
    user_agent: str = ""
    path: str = ""

    @classmethod
    def from_request(cls, request: Any) -> Client:
        if request is None:
            return cls()
        raw: HttpRequest = getattr(request, "_request", request)  # a DRF Request wraps the HttpRequest
        return cls(
            ip_address=get_client_ip_address(raw) or None,
            user_agent=str(raw.META.get("HTTP_USER_AGENT", ""))[:300],
            path=str(getattr(raw, "path", ""))[:300],
        )


_current_client: ContextVar[Client] = ContextVar("cellbatch_client", default=Client())  # noqa: B039


def current_client() -> Client:
    """The client of the request being served (empty in a command or a task)."""
    return _current_client.get()


@contextmanager
def client_context(client: Client) -> Iterator[None]:
    token = _current_client.set(client)
    try:
        yield
    finally:
        _current_client.reset(token)


def access_event_record(
    *,
    event: AccessEventKind,
    outcome: AccessOutcome,
    username: str,
    user: User | None = None,
    client: Client | None = None,
    detail: str = "",
    occurred_at: datetime | None = None,
    actor: User | str | None = None,
) -> AccessEvent:
    """Write one access event on the current connection (``occurred_at``: now, unless the end of an
    access is noticed after the fact, e.g. an idle session). ``actor``: who made an account change
    to ``user`` (the access log names both)."""
    client = client or current_client()
    writer: User | str = actor or (user if user is not None else ACCOUNTS_ACTOR)
    with audit_context(writer, reason=f"access log: {event.label.lower()}"):
        return AccessEvent.objects.create(
            occurred_at=occurred_at or timezone.now(),
            event=event,
            outcome=outcome,
            username=(username or "")[:150],
            user=user,
            ip_address=client.ip_address,
            user_agent=client.user_agent,
            path=client.path,
            detail=detail[:500],
            actor=actor_label(actor)[:150] if actor else "",
        )


def access_failure_record(**fields: Any) -> None:
    """Write a failed or refused access so that it survives the rollback of the caller's transaction."""
    if connection.in_atomic_block:
        run_autonomously(lambda: access_event_record(**fields))
    else:
        access_event_record(**fields)


def _axes_request(client: Client) -> HttpRequest:
    """The request django-axes needs to count an attempt that did not come through a login form."""
    request = HttpRequest()
    request.method = "POST"
    request.path = request.path_info = client.path or "/e-signature/"
    request.META = {
        "REMOTE_ADDR": client.ip_address or "127.0.0.1",
        "HTTP_USER_AGENT": (client.user_agent + SIGNATURE_AGENT_SUFFIX)[-255:],
        "PATH_INFO": request.path,
    }
    return request


def account_is_locked(username: str) -> bool:
    """True while django-axes holds the account locked out (the same rule the login applies)."""
    return bool(AxesProxyHandler.is_locked(_axes_request(current_client()), {"username": username}))


def signature_failure_record(
    *,
    user: User,
    detail: str,
    counts_towards_lockout: bool,
    event: AccessEventKind = AccessEventKind.SIGNATURE_FAILED,
    outcome: AccessOutcome = AccessOutcome.FAILURE,
) -> bool:
    """Log a refused signature and, for a wrong credential, count it as a failed login.

    Returns True when this failure locked the account. Both writes are committed on their own
    connection before the caller raises, so neither is lost with the caller's rollback.
    """
    client = current_client()
    username = str(user.get_username())

    def write() -> bool:
        access_event_record(event=event, outcome=outcome, username=username, user=user, client=client, detail=detail)
        if not counts_towards_lockout:
            return False
        request = _axes_request(client)
        AxesProxyHandler.user_login_failed(
            sender=signature_failure_record, credentials={"username": username}, request=request
        )
        return bool(getattr(request, "axes_locked_out", False))

    return run_autonomously(write) if connection.in_atomic_block else write()
