"""Request audit context: every write made while serving a request names the signed-in user."""

from __future__ import annotations

from typing import Any

import pghistory
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from pghistory.middleware import HistoryMiddleware
from pghistory.middleware import WSGIRequest as HistoryWSGIRequest


def request_actor(user: Any) -> str:
    """The audit actor of a request: the user name, or ``anonymous`` before sign-in."""
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.get_username())
    return "anonymous"


class AuditedWSGIRequest(HistoryWSGIRequest):
    """DRF authenticates inside the view (token auth): keep the context's actor in step with ``user``."""

    def __setattr__(self, attr: str, value: Any) -> None:
        super().__setattr__(attr, value)
        if attr == "user":
            pghistory.context(actor=request_actor(value))


class AuditMiddleware(HistoryMiddleware):
    """pghistory's HistoryMiddleware plus the actor label used by every GMP event."""

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(request)
        context["actor"] = request_actor(getattr(request, "user", None))
        return context

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Every method, reads included: a GET that writes (it should not) is still attributed.
        with pghistory.context(**self.get_context(request)):
            if isinstance(request, WSGIRequest):
                request.__class__ = AuditedWSGIRequest
            return self.get_response(request)
