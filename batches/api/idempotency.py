"""``Idempotency-Key`` for every POST under /api/: a retried create is answered from the first answer.

A client that lost the answer to a POST (a dropped connection, a timeout) sends it again with the same
key; it gets the first answer back (same status and body, header ``Idempotent-Replayed: true``) and
nothing is written again. The same key with a different body or address answers 422: the client
reused a key by mistake. Keys belong to a user and are remembered for 24 hours (batches.models.idempotency).

Only successful answers (2xx) are kept: a refused POST wrote nothing, so a retry with the same key runs
again (the caller may have fixed what was refused). Concurrent requests with the same key are serialised
by a PostgreSQL advisory lock, so the second waits and is then answered from the first.

A middleware, because it must answer before any view runs; it authenticates the caller the same way
the API does (REST framework's authentication classes), and leaves every refusal to the view.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import cast

from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from batches.models.idempotency import KEY_LIFETIME, IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# Logging in and out is not a create: a retried login is a new login.
NOT_DEDUPLICATED = ("/api/v1/auth/",)


def _problem(status: int, detail: str) -> HttpResponse:
    return HttpResponse(json.dumps({"detail": detail}), status=status, content_type="application/json")


def api_user(request: HttpRequest) -> User | None:
    """The caller as the API will see it (token or session), or None when it is not signed in."""
    # DRF's settings object has already imported the dotted paths into classes.
    classes = cast(list[type[BaseAuthentication]], api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    authenticators = [auth() for auth in classes]
    try:
        user = Request(request, authenticators=authenticators).user
    except APIException:
        return None  # a refused credential: the view answers 401/403 itself
    return user if isinstance(user, User) and user.is_authenticated else None


def _lock_id(user: User, key: str) -> int:
    """A signed 64-bit number for pg_advisory_lock, from the user and the key."""
    digest = hashlib.sha256(f"{user.pk}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = request.headers.get(HEADER, "")
        if (
            request.method != "POST"
            or not key
            or not request.path.startswith("/api/")
            or request.path.startswith(NOT_DEDUPLICATED)
        ):
            return self.get_response(request)
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _problem(400, f"{HEADER} must be at most {MAX_KEY_LENGTH} printable characters.")
        user = api_user(request)
        if user is None:
            return self.get_response(request)
        try:
            body = request.body
        except RequestDataTooBig:
            return self.get_response(request)  # the view refuses the body (413) and nothing is kept
        fingerprint = hashlib.sha256(b"%s %s\n%s" % (request.method.encode(), request.path.encode(), body)).hexdigest()
        lock = _lock_id(user, key)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [lock])
        try:
            # Prefixed: an admin form's one-time token (batches.web) lives in the same table.
            return self._answer(request, user, f"api:{key}", fingerprint)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock])

    def _answer(self, request: HttpRequest, user: User, key: str, fingerprint: str) -> HttpResponseBase:
        IdempotencyKey.objects.filter(user=user, created_at__lt=timezone.now() - KEY_LIFETIME).delete()
        earlier = IdempotencyKey.objects.filter(user=user, key=key).first()
        if earlier is not None:
            if earlier.body_sha256 != fingerprint or earlier.method != request.method:
                return _problem(
                    422, f"This {HEADER} was used for a different request; use a new key for a new request."
                )
            replay = HttpResponse(
                bytes(earlier.response_body),
                status=earlier.response_status or 200,
                content_type=earlier.response_content_type or "application/json",
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = self.get_response(request)
        if 200 <= response.status_code < 300 and isinstance(response, HttpResponse):
            IdempotencyKey.objects.create(
                user=user,
                key=key,
                method=str(request.method),
                path=request.path[:2000],
                body_sha256=fingerprint,
                response_status=response.status_code,
                response_body=response.content,
                response_content_type=response.get("Content-Type", ""),
            )
        return response
