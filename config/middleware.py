"""Response headers the whole site needs and no single view should have to remember."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

API_PREFIX = "/api/"


class ApiNoStoreMiddleware:
    """Every answer under /api/ carries ``Cache-Control: no-store``.

    API answers hold patient identifiers, batch data and tokens: no browser, proxy or shared cache
    may keep a copy once the session that fetched them ends (Annex 11 §12, data security).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX):
            response["Cache-Control"] = "no-store"
        return response
