"""Account controls (21 CFR 11.300): lockout, idle timeout, access log, permanent user IDs, TOTP enrolment."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from batches.accounts import services
from batches.models import AccessEvent
from batches.models.access import ACCOUNT_CHANGE_KINDS
from batches.roles import Role
from batches.services.common import confirm_password
from tests.factories import PASSWORD, Personas, make_user

LOGIN = "/admin/login/"


def log_in(client: Client, username: str, password: str = PASSWORD, **extra: str) -> int:
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, **extra).status_code


def events(username: str) -> list[tuple[str, str]]:
    """The user's accesses and refusals, without the account changes (creation, roles) of the set-up."""
    accesses = AccessEvent.objects.filter(username=username).exclude(event__in=ACCOUNT_CHANGE_KINDS)
    return list(accesses.order_by("pk").values_list("event", "outcome"))


@pytest.fixture
def staff(db: None) -> User:
    return make_user("labtech", Role.OPERATOR, is_staff=True)


# --- Lockout (django-axes) ---------------------------------------------------------------------


@pytest.mark.urs("URS-050", "URS-052")
@pytest.mark.django_db
def test_five_failed_admin_logins_lock_the_account_even_against_the_right_password(client: Client) -> None:
    make_user("labtech", Role.OPERATOR, is_staff=True)

    statuses = [log_in(client, "labtech", f"wrong-{n}") for n in range(5)]
    locked = log_in(client, "labtech")

    assert statuses == [200, 200, 200, 200, 429]  # the form again, then the lockout page
    assert locked == 429
    assert "_auth_user_id" not in client.session
    recorded = events("labtech")
    assert recorded[:6] == [("login_failed", "failure")] * 4 + [("locked_out", "refused"), ("login_failed", "failure")]
    assert ("login_failed", "refused") in recorded  # the right password, refused while locked
    assert ("login", "success") not in recorded
    locked_out = AccessEvent.objects.filter(username="labtech", event="locked_out").order_by("pk").first()
    assert locked_out is not None
    assert locked_out.detail.startswith("5 failed attempts")


@pytest.mark.urs("URS-050")
@pytest.mark.django_db
def test_api_token_login_counts_failures_and_refuses_a_locked_account(client: Client) -> None:
    make_user("analyst", Role.QC_ANALYST)
    token_url = "/api/v1/auth/token/"

    first = client.post(token_url, {"username": "analyst", "password": PASSWORD})
    failures = [client.post(token_url, {"username": "analyst", "password": "nope"}).status_code for _ in range(5)]
    after = client.post(token_url, {"username": "analyst", "password": PASSWORD})

    assert first.status_code == 200
    assert first.json()["token"]
    assert failures[:4] == [400] * 4
    assert failures[4] == 429
    assert after.status_code == 429
    assert "locked" in after.json()["detail"]
    assert "token" not in after.json()
    assert AccessEvent.objects.filter(username="analyst", event="login_failed").count() >= 6
    assert AccessEvent.objects.filter(username="analyst", event="locked_out").exists()
    with pytest.raises(PermissionDenied, match="account is locked"):
        confirm_password(User.objects.get(username="analyst"), PASSWORD)


@pytest.mark.urs("URS-050")
@pytest.mark.django_db
def test_api_accepts_token_and_session_authentication(client: Client, staff: User) -> None:
    token = client.post("/api/v1/auth/token/", {"username": "labtech", "password": PASSWORD}).json()["token"]

    by_token = Client().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Token {token}")
    log_in(client, "labtech")
    by_session = client.get("/api/v1/auth/me/")

    assert by_token.status_code == by_session.status_code == 200
    assert by_session.json() == {
        "username": "labtech",
        "printed_name": "Labtech",
        "roles": ["operator"],
        "signature_meanings": ["performed", "recorded", "trained", "trainer"],
        "authenticator_enrolled": False,
        "idle_timeout_minutes": 15,
    }
    assert Client().get("/api/v1/auth/me/").status_code in (401, 403)


# --- Idle session timeout ------------------------------------------------------------------------


def idle_for(minutes: int) -> None:
    """Move the clock of every stored session forward, as if nobody had used it for ``minutes``."""
    for session in Session.objects.all():
        session.expire_date -= timedelta(minutes=minutes)
        session.save()


@pytest.mark.urs("URS-051")
def test_idle_timeout_defaults_to_fifteen_minutes(settings: pytest.FixtureRequest) -> None:
    assert settings.SESSION_COOKIE_AGE == 15 * 60  # type: ignore[attr-defined]
    assert settings.SESSION_SAVE_EVERY_REQUEST  # type: ignore[attr-defined]


@pytest.mark.urs("URS-051")
@pytest.mark.django_db
def test_session_survives_activity_and_ends_after_fifteen_idle_minutes(client: Client, staff: User) -> None:
    log_in(client, "labtech")
    assert client.get("/admin/").status_code == 200

    idle_for(14)
    assert client.get("/admin/").status_code == 200  # used in time: the 15 minutes start again
    assert Session.objects.get().expire_date > timezone.now() + timedelta(minutes=14)

    idle_for(15)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert client.get("/api/v1/auth/me/").status_code in (401, 403)


@pytest.mark.urs("URS-051")
@pytest.mark.django_db
def test_idle_timeout_is_configurable(client: Client, staff: User, settings: pytest.FixtureRequest) -> None:
    settings.SESSION_COOKIE_AGE = 5 * 60  # type: ignore[attr-defined]
    log_in(client, "labtech")

    idle_for(5)

    assert client.get("/admin/").status_code == 302


# --- Access log -----------------------------------------------------------------------------------


@pytest.mark.urs("URS-052")
@pytest.mark.django_db
def test_login_logout_and_failed_login_are_logged_with_time_ip_and_outcome(client: Client) -> None:
    make_user("labtech", Role.OPERATOR, is_staff=True)  # its creation and role are logged too: not read here
    started = timezone.now()
    last_before = AccessEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    log_in(client, "labtech", "wrong", REMOTE_ADDR="10.1.2.3")
    log_in(client, "labtech", REMOTE_ADDR="10.1.2.3")
    client.post("/admin/logout/", REMOTE_ADDR="10.1.2.3")
    log_in(client, "nobody-by-that-name", "x", REMOTE_ADDR="10.1.2.4")

    logged = list(AccessEvent.objects.filter(pk__gt=last_before).order_by("pk"))
    assert [(e.username, e.event, e.outcome, e.ip_address) for e in logged] == [
        ("labtech", "login_failed", "failure", "10.1.2.3"),
        ("labtech", "login", "success", "10.1.2.3"),
        ("labtech", "logout", "success", "10.1.2.3"),
        ("nobody-by-that-name", "login_failed", "failure", "10.1.2.4"),
    ]
    assert all(started <= e.occurred_at <= timezone.now() for e in logged)
    assert logged[1].user_id == User.objects.get(username="labtech").pk
    assert logged[3].user_id is None


@pytest.mark.urs("URS-052")
@pytest.mark.django_db
def test_access_log_cannot_be_changed_or_deleted(client: Client, staff: User) -> None:
    log_in(client, "labtech")
    event = AccessEvent.objects.get(username="labtech", event="login")

    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).update(outcome="failure")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).delete()

    event.refresh_from_db()
    assert event.outcome == "success"
    assert client.get(f"/admin/batches/accessevent/{event.pk}/delete/").status_code == 403


# --- User IDs: unique, permanent, never reused ------------------------------------------------------


@pytest.mark.urs("URS-053")
@pytest.mark.django_db
def test_users_cannot_be_deleted_in_the_database_or_the_admin(client: Client, people: Personas) -> None:
    client.force_login(people.admin)
    operator = people.operator

    with pytest.raises(IntegrityError, match="cannot be deleted: deactivate the account instead"), transaction.atomic():
        User.objects.filter(pk=operator.pk).delete()
    page = client.get(f"/admin/auth/user/{operator.pk}/delete/")
    listing = client.get("/admin/auth/user/")

    assert page.status_code == 403
    assert "delete_selected" not in listing.content.decode()
    assert User.objects.filter(pk=operator.pk).exists()


@pytest.mark.urs("URS-053")
@pytest.mark.django_db
def test_user_ids_cannot_be_renamed(people: Personas) -> None:
    operator = people.operator
    operator.username = "operator-2"

    with pytest.raises(IntegrityError, match="cannot be renamed"), transaction.atomic():
        operator.save()

    assert User.objects.filter(username="operator").exists()


@pytest.mark.urs("URS-053")
@pytest.mark.django_db
def test_a_user_id_used_before_is_refused_in_any_letter_case(client: Client, people: Personas) -> None:
    services.user_deactivate(actor=people.admin, user_id=people.verifier.pk, reason="left the company")
    client.force_login(people.admin)
    count = User.objects.count()

    with pytest.raises(IntegrityError, match="was used before"), transaction.atomic():
        User.objects.create_user("OPERATOR", password=PASSWORD)
    with pytest.raises(ValidationError) as refused:
        services.user_create(
            actor=people.admin, username="Verifier", password=PASSWORD, first_name="New", last_name="Person"
        )
    form = client.post(
        "/admin/auth/user/add/",
        {"username": "Qa_Reviewer", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )

    assert "a deactivated account 'verifier'" in refused.value.message_dict["username"][0]
    assert form.status_code == 200
    assert re.search(r"user ID .*Qa_Reviewer.* was issued before", form.content.decode())
    assert User.objects.count() == count


@pytest.mark.urs("URS-054")
@pytest.mark.django_db
def test_new_passwords_must_pass_the_password_validators(people: Personas) -> None:
    count = User.objects.count()

    with pytest.raises(ValidationError) as refused:
        services.user_create(actor=people.admin, username="newtech", password="12345", first_name="N", last_name="T")

    messages = " ".join(refused.value.message_dict["password"])
    assert "at least 12 characters" in messages
    assert "entirely numeric" in messages
    assert User.objects.count() == count
    created = services.user_create(
        actor=people.admin,
        username="newtech",
        password=PASSWORD,
        first_name="New",
        last_name="Tech",
        roles=[Role.OPERATOR],
        employee_number="HM-2041",
        email="new.tech@example.org",
    )
    assert created.check_password(PASSWORD)
    assert created.groups.get().name == "operator"


@pytest.mark.urs("URS-056")
@pytest.mark.django_db
def test_deactivation_needs_a_reason_and_withdraws_login_sessions_and_signing(client: Client, staff: User) -> None:
    admin = make_user("sysadmin", Role.ADMIN, is_staff=True, is_superuser=True)
    log_in(client, "labtech")
    with pytest.raises(ValidationError, match="reason"):
        services.user_deactivate(actor=admin, user_id=staff.pk, reason="")

    services.user_deactivate(actor=admin, user_id=staff.pk, reason="left the company")

    staff.refresh_from_db()
    assert not staff.is_active
    assert client.get("/admin/").status_code == 302
    assert log_in(Client(), "labtech") == 200  # the login form again: no session
    with pytest.raises(PermissionDenied, match="deactivated"):
        confirm_password(staff, PASSWORD)
    with pytest.raises(PermissionDenied, match="Deactivating a user account requires"):
        services.user_deactivate(actor=staff, user_id=admin.pk, reason="not allowed to")


# --- TOTP enrolment -------------------------------------------------------------------------------


@pytest.mark.urs("URS-055")
@pytest.mark.django_db
def test_user_enrols_an_authenticator_and_confirms_it_with_a_code(client: Client, staff: User) -> None:
    log_in(client, "labtech")
    url = "/admin/auth/user/authenticator/"

    assert "No authenticator app is enrolled" in client.get(url).content.decode()
    started = client.post(url, {"begin": "1"})
    device = TOTPDevice.objects.get(user=staff)
    wrong = client.post(url, {"token": "000000" if device.bin_key else ""})
    code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    confirmed = client.post(url, {"token": f"{code:06d}"})

    assert "<svg" in started.content.decode()
    assert not device.confirmed
    assert wrong.status_code == 200
    assert confirmed.status_code == 302
    assert TOTPDevice.objects.get(user=staff).confirmed
    assert client.get("/api/v1/auth/me/").json()["authenticator_enrolled"] is True
