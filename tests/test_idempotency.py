"""A repeated create writes once: the API's Idempotency-Key, and the admin forms' one-time token."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from batches.models import GcsfAdministration, IdempotencyKey, Patient
from qc.models import Deviation
from tests.factories import PASSWORD, Personas, gcsf_values, walk_batch, with_scans
from tests.helpers import client_for, nothing_written, staff_client_for
from tests.test_admin_batch import form_data

pytestmark = pytest.mark.django_db
API = "/api/v1"


def patient_body(code: str = "IGX1-S081") -> dict[str, Any]:
    return {
        "subject_code": code,
        "consent_date": str(timezone.localdate()),
        "body_weight_kg": "60.0",
        "eligibility_confirmed": True,
    }


def post(client: Any, url: str, body: dict[str, Any], key: str) -> Any:
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.urs("URS-205")
def test_a_repeated_create_with_the_same_key_answers_the_first_answer_and_writes_nothing(people: Personas) -> None:
    client = client_for(people.operator, "api")
    first = post(client, f"{API}/patients/", patient_body(), "enrol-S081")
    assert first.status_code == 201, first.content
    with nothing_written("the repeat"):
        again = post(client, f"{API}/patients/", patient_body(), "enrol-S081")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again["Idempotent-Replayed"] == "true"
    assert Patient.objects.filter(subject_code="IGX1-S081").count() == 1


@pytest.mark.urs("URS-205")
def test_the_same_key_with_another_body_answers_422_and_writes_nothing(people: Personas) -> None:
    client = client_for(people.operator, "api")
    assert post(client, f"{API}/patients/", patient_body(), "k-1").status_code == 201
    with nothing_written("the reused key"):
        reused = post(client, f"{API}/patients/", patient_body("IGX1-S082"), "k-1")
    assert reused.status_code == 422
    assert "different request" in reused.json()["detail"]
    assert not Patient.objects.filter(subject_code="IGX1-S082").exists()


@pytest.mark.urs("URS-205")
def test_keys_belong_to_their_user_and_expire_after_a_day(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    body = {"batch": batch.pk, "kind": "unplanned", "classification": "minor", "description": "Tubing kinked."}
    qa = client_for(people.qa, "api")
    assert post(qa, f"{API}/deviations/", body, "dev-1").status_code == 201
    # Another user's identical key is another request.
    other = make_qa(people)
    assert post(client_for(other, "api"), f"{API}/deviations/", body, "dev-1").status_code == 201
    assert Deviation.objects.filter(batch=batch).count() == 2
    # A day later the key is forgotten: the same request is a new one.
    IdempotencyKey.objects.filter(user=people.qa).update(created_at=timezone.now() - timedelta(hours=25))
    assert post(qa, f"{API}/deviations/", body, "dev-1").status_code == 201
    assert Deviation.objects.filter(batch=batch).count() == 3


def make_qa(people: Personas) -> Any:
    from batches.roles import Role
    from tests.factories import make_user

    return make_user("qa_reviewer2", Role.QA_REVIEWER)


@pytest.mark.urs("URS-205")
def test_a_refused_create_keeps_no_key_so_the_corrected_retry_runs(people: Personas) -> None:
    client = client_for(people.operator, "api")
    refused = post(client, f"{API}/patients/", {**patient_body(), "eligibility_confirmed": None}, "k-2")
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(client, f"{API}/patients/", patient_body(), "k-2").status_code == 201


@pytest.mark.urs("URS-205")
def test_an_overlong_key_is_refused_and_requests_without_a_key_are_not_deduplicated(people: Personas) -> None:
    client = client_for(people.operator, "api")
    with nothing_written("the overlong key"):
        assert post(client, f"{API}/patients/", patient_body(), "k" * 201).status_code == 400
    assert client.post(f"{API}/patients/", patient_body(), format="json").status_code == 201
    assert client.post(f"{API}/patients/", patient_body(), format="json").status_code == 400  # the service's own check


def form_token(page: bytes) -> str:
    found = re.search(rb'name="form_token" value="([^"]+)"', page)
    assert found, "the form carries no one-time token"
    return found.group(1).decode()


@pytest.mark.urs("URS-206")
def test_a_double_submitted_step_form_records_once_and_says_already_recorded(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    browser = staff_client_for(people.operator)
    page = browser.get(f"/admin/batches/batch/{batch.pk}/change/")
    token = form_token(page.content)
    data = form_data(with_scans(people, batch, "gcsf", gcsf_values(day=1)), password=PASSWORD, form_token=token)
    url = f"/admin/batches/batch/{batch.pk}/record/gcsf/"
    first = browser.post(url, data)
    assert first.status_code == 302, first.content.decode()[:2000]
    assert GcsfAdministration.objects.filter(batch=batch).count() == 1
    with nothing_written("the second submit"):
        again = browser.post(url, data, follow=True)
    assert "already submitted and recorded" in again.content.decode()
    assert GcsfAdministration.objects.filter(batch=batch).count() == 1


@pytest.mark.urs("URS-206")
def test_a_double_submitted_service_form_records_once(people: Personas) -> None:
    browser = staff_client_for(people.operator)
    page = browser.get("/admin/batches/patient/add/")
    data = {
        "subject_code": "IGX1-S085",
        "consent_date": str(timezone.localdate()),
        "body_weight_kg": "61.0",
        "eligibility_confirmed": "on",
        "form_token": form_token(page.content),
    }
    assert browser.post("/admin/batches/patient/add/", data).status_code == 302
    with nothing_written("the second submit"):
        again = browser.post("/admin/batches/patient/add/", data)
    assert again.status_code == 200
    assert "already submitted and recorded" in again.content.decode()
    assert Patient.objects.filter(subject_code="IGX1-S085").count() == 1
    # A fresh page carries a fresh token: the next enrolment goes through.
    assert form_token(browser.get("/admin/batches/patient/add/").content) != data["form_token"]
