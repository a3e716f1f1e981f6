"""Nobody acts as somebody else: no token for another user, hashed tokens, traced account changes,
a password set by an administrator changed before its user signs, tokens that end with the account."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client

from batches.accounts.services import user_deactivate
from batches.audit import audit_context, event_model
from batches.models import AccessEvent, ApiToken, UserAccount, UserRoleGrant
from batches.models.accounts import AccountState
from batches.roles import Role
from batches.services import steps
from tests.factories import PASSWORD, Personas, make_user, scans, selection_values, walk_batch

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"
NEW_PASSWORD = "a-new-one-set-by-the-admin-2026"
OWN_PASSWORD = "chosen-by-me-after-the-reset-2026"


def admin_client(people: Personas) -> Client:
    client = Client()
    client.force_login(people.admin)
    return client


def token_for(username: str, password: str = PASSWORD) -> str:
    response = Client().post(TOKEN_URL, {"username": username, "password": password})
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def me(token: str) -> int:
    return Client().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code


def admin_sets_password(people: Personas, user: User, password: str = NEW_PASSWORD) -> int:
    url = f"/admin/auth/user/{user.pk}/password/"
    data = {"password1": password, "password2": password, "usable_password": "true"}
    return admin_client(people).post(url, data).status_code


def account_events(username: str, *kinds: str) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(username=username, event__in=kinds).order_by("pk"))


@pytest.mark.urs("URS-140")
def test_no_admin_page_lists_shows_or_creates_an_api_token(people: Personas) -> None:
    client = admin_client(people)
    token_for("operator")

    index = client.get("/admin/")
    urls = [
        "/admin/authtoken/tokenproxy/",
        "/admin/authtoken/tokenproxy/add/",
        "/admin/authtoken/token/",
        "/admin/knox/authtoken/",
        "/admin/knox/authtoken/add/",
        "/admin/batches/apitoken/",
        "/admin/batches/apitoken/add/",
    ]

    assert index.status_code == 200
    assert b"authtoken" not in index.content.lower()
    assert b"api token" not in index.content.lower()
    assert {url: client.get(url).status_code for url in urls} == dict.fromkeys(urls, 404)


@pytest.mark.urs("URS-141")
def test_the_token_table_holds_no_token_and_the_token_is_named_nowhere(people: Personas) -> None:
    token = token_for("operator")

    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(t)::text FROM batches_apitoken t")
        rows = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT row_to_json(e)::text FROM batches_apitokenevent e")
        events = [row[0] for row in cursor.fetchall()]
    logged = list(AccessEvent.objects.filter(username="operator").values_list("detail", flat=True))

    assert len(rows) == len(events) == 1
    assert token not in rows[0]  # only its digest and its first characters, for the lookup
    assert token[:15] not in events[0]  # the audit leaves the lookup prefix out, and the digest
    assert "digest" not in events[0]
    assert not [detail for detail in logged if token[:8] in detail]
    issued = AccessEvent.objects.get(username="operator", event="token_issued")
    assert (issued.actor, issued.user_id) == ("operator", people.operator.pk)
    assert me(token) == 200


@pytest.mark.urs("URS-142")
def test_a_password_set_by_the_admin_is_logged_audited_and_ends_the_users_token(people: Personas) -> None:
    token = token_for("operator")

    assert admin_sets_password(people, people.operator) == 302

    logged = account_events("operator", "password_set")[-1]  # the first: the test's own user set-up
    assert (logged.actor, logged.user_id, logged.outcome) == ("admin", people.operator.pk, "success")
    assert logged.detail == "password set by admin; the user must change it before anything else"
    state = AccountState.objects.get(user=people.operator)
    assert (state.password_change_required, state.password_changed_by) == (True, "admin")
    audited = event_model(AccountState).objects.filter(pgh_obj_id=state.pk).order_by("pgh_id").last()
    assert audited is not None
    assert (audited.pgh_actor, audited.password_change_required) == ("admin", True)
    # The API token the user had is ended by the reset: a logout is logged, the token refused.
    assert me(token) == 401
    assert AccessEvent.objects.filter(username="operator", event="logout", detail__contains="set by admin").exists()
    assert event_model(ApiToken).objects.get(pgh_label="delete").pgh_actor == "admin"
    page = admin_client(people).get(f"/admin/auth/user/{people.operator.pk}/change/")
    assert b"the user must change it before anything else" in page.content
    # The admin's own log names the change, not the password.
    entries = LogEntry.objects.filter(object_id=str(people.operator.pk))
    assert entries.exists()
    assert not [e for e in entries if NEW_PASSWORD in f"{e.object_repr} {e.change_message}"]


@pytest.mark.urs("URS-142", "URS-144")
def test_a_new_accounts_first_password_chosen_by_the_admin_must_be_changed(people: Personas) -> None:
    form = {"username": "newqa", "usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}

    response = admin_client(people).post("/admin/auth/user/add/", form)

    assert response.status_code == 302, response.content
    created = User.objects.get(username="newqa")
    assert AccountState.objects.get(user=created).password_change_required
    logged = account_events("newqa", "password_set")
    assert [(e.actor, e.detail) for e in logged] == [
        ("admin", "initial password set by admin; the user must change it before anything else")
    ]
    assert Client().post(TOKEN_URL, {"username": "newqa", "password": NEW_PASSWORD}).status_code == 403


@pytest.mark.urs("URS-143")
def test_a_role_grant_in_the_admin_user_form_and_by_any_other_path_is_logged_and_audited(people: Personas) -> None:
    tech = make_user("newtech", Role.OPERATOR, is_staff=True, first_name="New", last_name="Tech")
    verifier_group = Group.objects.get_or_create(name=str(Role.VERIFIER))[0]
    operator_group = Group.objects.get(name=str(Role.OPERATOR))
    form = {
        "first_name": "New",
        "last_name": "Tech",
        "email": "",
        "is_staff": "on",
        "groups": [operator_group.pk, verifier_group.pk],
        "user_permissions": [],
    }

    response = admin_client(people).post(f"/admin/auth/user/{tech.pk}/change/", form)

    assert response.status_code == 302, response.content
    granted = account_events("newtech", "role_granted")
    assert [(e.actor, e.detail) for e in granted][-1] == ("admin", "role verifier granted by admin")
    grants = event_model(UserRoleGrant).objects.filter(user_id=tech.pk, group_id=verifier_group.pk)
    assert [(e.pgh_label, e.pgh_actor) for e in grants] == [("insert", "admin")]

    # Any other path: from the group's side, in a service's audit context.
    with audit_context(people.admin, reason="rota change"):
        verifier_group.user_set.remove(tech)
    removed = account_events("newtech", "role_removed")
    assert [(e.actor, e.detail) for e in removed] == [("admin", "role verifier removed by admin; reason: rota change")]
    assert event_model(UserRoleGrant).objects.filter(user_id=tech.pk, pgh_label="delete").get().pgh_actor == "admin"


@pytest.mark.urs("URS-144")
def test_a_password_reset_by_the_admin_cannot_sign_until_its_user_changed_it(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    assert admin_sets_password(people, people.operator) == 302

    scanned = scans(people, batch, "selection", selection_values())

    def sign(password: str) -> None:
        steps.step_record(
            kind="selection",
            batch_id=batch.pk,
            actor=people.operator,
            password=password,
            values=selection_values(),
            **scanned,
        )

    people.operator.refresh_from_db()  # the new password hash
    with pytest.raises(PermissionDenied, match="change your password before signing"):
        sign(NEW_PASSWORD)
    assert Client().post(TOKEN_URL, {"username": "operator", "password": NEW_PASSWORD}).status_code == 403

    client = Client()
    client.force_login(people.operator)
    first_page = client.get("/admin/")
    assert (first_page.status_code, first_page["Location"]) == (302, "/admin/password_change/")
    assert client.get("/api/v1/auth/me/").status_code == 403
    changed = client.post(
        "/admin/password_change/",
        {"old_password": NEW_PASSWORD, "new_password1": OWN_PASSWORD, "new_password2": OWN_PASSWORD},
    )
    assert changed.status_code == 302

    assert client.get("/admin/").status_code == 200
    people.operator.refresh_from_db()
    sign(OWN_PASSWORD)
    assert account_events("operator", "password_changed")[-1].actor == "operator"
    assert not AccountState.objects.get(user=people.operator).password_change_required
    assert token_for("operator", OWN_PASSWORD)


@pytest.mark.urs("URS-145")
def test_a_locked_accounts_token_is_refused_and_ended(people: Personas) -> None:
    token = token_for("operator")

    for _ in range(5):
        Client().post("/admin/login/", {"username": "operator", "password": "not-it", "next": "/admin/"})

    refused = Client().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert refused.status_code == 401
    assert not ApiToken.objects.filter(user=people.operator).exists()
    assert AccessEvent.objects.filter(username="operator", event="logout", detail__contains="locked").exists()


@pytest.mark.urs("URS-143", "URS-145")
def test_a_deactivated_accounts_token_is_refused(people: Personas) -> None:
    token = token_for("operator")

    user_deactivate(actor=people.admin, user_id=people.operator.pk, reason="left the company")

    assert me(token) == 401
    deactivated = account_events("operator", "account_deactivated")
    assert [(e.actor, e.detail) for e in deactivated] == [
        ("admin", "account deactivated by admin; reason: left the company")
    ]
    assert (
        event_model(UserAccount).objects.filter(pgh_obj_id=people.operator.pk, is_active=False).get().pgh_actor
        == "admin"
    )


@pytest.mark.urs("URS-144")
def test_a_newer_hash_of_the_same_password_is_not_a_password_change(people: Personas, settings: Any) -> None:
    assert admin_sets_password(people, people.operator) == 302
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    user = User.objects.get(pk=people.operator.pk)

    assert user.check_password(NEW_PASSWORD)  # Django re-hashes it with the preferred hasher and saves

    assert User.objects.get(pk=user.pk).password.startswith("pbkdf2_sha256$")
    assert AccountState.objects.get(user=user).password_change_required
    assert not account_events("operator", "password_changed")
