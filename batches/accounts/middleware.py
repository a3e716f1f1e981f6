"""Makes the client (IP, user agent, path) of the request known to services that log refusals."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from batches.accounts.access import Client, client_context


class ClientMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with client_context(Client.from_request(request)):
            return self.get_response(request)
