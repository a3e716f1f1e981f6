"""Ends of access the server notices itself: API tokens past their lifetime and idle sessions (11.300(d))."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from batches.accounts.expiry import sessions_end_expired
from batches.models import AccessEvent, ApiToken
from batches.roles import Role
from tests.factories import PASSWORD, make_user
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def analyst() -> User:
    return make_user("analyst", Role.QC_ANALYST, is_staff=True)


def me(token: str) -> int:
    return Client().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code


def access(username: str) -> list[tuple[str, str]]:
    return list(AccessEvent.objects.filter(username=username).order_by("pk").values_list("event", "detail"))


@pytest.mark.urs("URS-127")
def test_each_token_login_issues_a_new_token_with_its_expiry_and_is_logged(analyst: User) -> None:
    first = Client().post(TOKEN_URL, {"username": "analyst", "password": PASSWORD}).json()
    second = Client().post(TOKEN_URL, {"username": "analyst", "password": PASSWORD}).json()

    assert first["token"] != second["token"]
    assert (me(first["token"]), me(second["token"])) == (401, 200)  # the earlier token stops working
    expires = timezone.datetime.fromisoformat(second["expires_at"])
    live = ApiToken.objects.get(user=analyst)  # one live token per user
    assert expires == live.expiry
    lifetime = live.expiry - live.created  # knox stamps both in the same call
    assert abs(lifetime - timedelta(hours=settings.CELLBATCH_API_TOKEN_HOURS)) < timedelta(seconds=1)
    logins = [detail for event, detail in access("analyst") if event == "login"]
    assert len(logins) == 2
    assert all(detail.startswith("API token issued, valid until") for detail in logins)


@pytest.mark.urs("URS-127")
def test_an_expired_token_is_refused_retired_and_its_end_logged(analyst: User) -> None:
    token = Client().post(TOKEN_URL, {"username": "analyst", "password": PASSWORD}).json()["token"]
    issued = timezone.now() - timedelta(hours=settings.CELLBATCH_API_TOKEN_HOURS, minutes=1)
    expired_at = issued + timedelta(hours=settings.CELLBATCH_API_TOKEN_HOURS)
    ApiToken.objects.filter(user__username="analyst").update(created=issued, expiry=expired_at)

    refused = Client().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Token {token}")

    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    assert "POST /api/v1/auth/token/" in refused.json()["detail"]
    assert not ApiToken.objects.filter(user__username="analyst").exists()
    ended = AccessEvent.objects.filter(username="analyst", event="logout").get()
    assert ended.occurred_at == expired_at
    assert "expired" in ended.detail
    assert me(token) == 401  # still refused, and logged once only
    assert AccessEvent.objects.filter(username="analyst", event="logout").count() == 1


@pytest.mark.urs("URS-127")
def test_the_api_logout_ends_the_token_and_is_logged(analyst: User) -> None:
    token = Client().post(TOKEN_URL, {"username": "analyst", "password": PASSWORD}).json()["token"]

    response = Client().post("/api/v1/auth/logout/", HTTP_AUTHORIZATION=f"Token {token}")

    assert response.status_code == 204
    assert me(token) == 401
    assert access("analyst")[-1] == ("logout", "API token revoked by its user")


@pytest.mark.urs("URS-128")
def test_a_session_past_its_idle_timeout_is_logged_as_a_logout_once(analyst: User) -> None:
    browser = client_for(analyst)
    other = make_user("verifier", Role.VERIFIER, is_staff=True)
    client_for(other)  # still active: left alone
    session = Session.objects.get(session_key=browser.session.session_key)
    expired_at = timezone.now() - timedelta(minutes=2)
    Session.objects.filter(pk=session.pk).update(expire_date=expired_at)

    assert sessions_end_expired() == 1
    assert sessions_end_expired() == 0

    ended = AccessEvent.objects.filter(username="analyst", event="logout").get()
    assert ended.occurred_at == expired_at
    assert f"no activity for {settings.SESSION_COOKIE_AGE // 60} min" in ended.detail
    assert not Session.objects.filter(pk=session.pk).exists()
    assert not AccessEvent.objects.filter(username="verifier", event="logout").exists()
    assert browser.get("/admin/").status_code == 302  # the browser is sent to the login page
    assert "accounts-end-expired-sessions" in settings.CELERY_BEAT_SCHEDULE
