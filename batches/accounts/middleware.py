"""Request middleware of the account controls: the session (whose idle timeout only a person's own requests
renew), the client of each request, the user's language, a forced password change."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from batches.accounts.access import Client, client_context
from batches.accounts.changes import MUST_CHANGE, password_change_required
from batches.accounts.language import SESSION_KEY, remember_in_session, user_language

ALLOWED_WHILE_CHANGE_REQUIRED = ("admin:password_change", "admin:password_change_done", "admin:logout", "admin:jsi18n")
PASSIVE = "cellbatch_passive"


def not_activity(request: HttpRequest) -> None:
    """Mark a request the page made by itself (a live update): it does not renew the session."""
    setattr(request, PASSIVE, True)


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's sessions, except that a request marked ``not_activity`` neither saves the session nor renews
    its cookie: a page that polls for others' work does not keep an unattended session open past the idle
    timeout (``SESSION_COOKIE_AGE``, renewed by every request of the person)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if getattr(request, PASSIVE, False):
            patch_vary_headers(response, ("Cookie",))
            return response
        return super().process_response(request, response)


class ClientMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with client_context(Client.from_request(request)):
            return self.get_response(request)


class UserLanguageMiddleware:
    """The signed-in user's own language, over the browser's (after LocaleMiddleware, which it overrides).

    The language is read from the session (copied there at login); a session older than the
    setting reads it from the account once and keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is not None and user.is_authenticated and session is not None:
            language = session.get(SESSION_KEY)
            if language is None:
                language = user_language(user)
            remember_in_session(request, language)
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """A user whose password someone else set changes it before anything else.

    In the admin every page but the password change itself (and logout) redirects there; any other
    request of such a session (the API) is refused with 403. Token logins are refused at the token
    endpoint, and signing refuses too (batches.accounts.identity), so no path is left open.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not password_change_required(user):
            return self.get_response(request)
        allowed = {reverse(name) for name in ALLOWED_WHILE_CHANGE_REQUIRED}
        if request.path in allowed or request.path.startswith(settings.STATIC_URL or "/static/"):
            return self.get_response(request)
        if request.path.startswith(reverse("admin:index")):
            messages.warning(request, MUST_CHANGE)
            return HttpResponseRedirect(reverse("admin:password_change"))
        return JsonResponse({"detail": MUST_CHANGE}, status=403)
