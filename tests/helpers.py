"""Helpers the tests share: a logged-in client for a persona, and proof that a refusal wrote nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, overload

from django.apps import apps
from django.db.models import Model
from django.test import Client
from rest_framework.test import APIClient

from batches.models import ApiToken

# The access log records the refusal itself (who was refused, from where): it is meant to grow. API
# tokens are credentials, like sessions: a test's client may log in (issue one) after counting.
NOT_GMP_RECORDS = frozenset(
    {"batches.AccessEvent", "batches.AccessEventEvent", "batches.ApiToken", "batches.ApiTokenEvent"}
)


@overload
def client_for(user: Any, kind: Literal["browser"] = "browser") -> Client: ...
@overload
def client_for(user: Any, kind: Literal["api", "token"]) -> APIClient: ...
def client_for(user: Any, kind: Literal["browser", "api", "token"] = "browser") -> Client | APIClient:
    """A client logged in as ``user``.

    ``browser``: Django's test client with a session, for the admin pages; ``api``: DRF's client
    authenticated without credentials; ``token``: DRF's client sending the user's API token, as a
    real API caller does (the token's expiry and the account checks apply).
    """
    if kind == "browser":
        client = Client()
        client.force_login(user)
        return client
    api = APIClient()
    if kind == "api":
        api.force_authenticate(user)
    else:
        _, key = ApiToken.objects.create(user=user)
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def staff_client_for(user: Any) -> Client:
    """A browser client for ``user`` made staff first (the admin site admits staff only)."""
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return client_for(user)


def gmp_models() -> list[type[Model]]:
    """Every concrete model of the batches and qc apps, their pghistory event models included."""
    return [
        model
        for label in ("batches", "qc")
        for model in apps.get_app_config(label).get_models()
        if not model._meta.proxy and model._meta.label not in NOT_GMP_RECORDS
    ]


def gmp_row_counts() -> dict[str, int]:
    """Row counts of every GMP table. An update shows too: it appends a row to the model's event table."""
    return {model._meta.label: model._default_manager.count() for model in gmp_models()}


def assert_nothing_written(before: dict[str, int], message: str = "", *, but: dict[str, int] | None = None) -> None:
    """No GMP table gained or lost a row since ``before`` (from gmp_row_counts()).

    ``but`` names the rows a refusal is meant to leave, e.g. the refused identity scan that the
    chain of identity keeps: ``but={"batches.IdentityScan": 1, "batches.IdentityScanEvent": 1}``.
    """
    expected = {label: count + (but or {}).get(label, 0) for label, count in before.items()}
    after = gmp_row_counts()
    changed = {label: (expected.get(label), after[label]) for label in after if expected.get(label) != after[label]}
    assert not changed, f"{message} wrote {changed}".strip()


@contextmanager
def nothing_written(message: str = "") -> Iterator[None]:
    """``with nothing_written(): <a refused action>``: the action left every GMP table as it was."""
    before = gmp_row_counts()
    yield
    assert_nothing_written(before, message)


def token_client(user: Any) -> APIClient:
    """DRF's client sending ``user``'s API token, as a real API caller does."""
    return client_for(user, "token")
