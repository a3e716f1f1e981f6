"""Master data in the admin: a process definition drafted and approved by two people, a patient enrolled."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from batches.models import Patient, ProcessDefinition
from batches.roles import Role
from tests.factories import PASSWORD, Personas, enrolled_patient, make_user
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.urs("URS-015")
def test_process_definition_is_drafted_and_approved_by_two_people_in_the_admin(people: Personas) -> None:
    qa_reviewer = make_user("qa_two", Role.QA_REVIEWER, is_staff=True)
    qa, second = client_for(people.qa), client_for(qa_reviewer)
    data = {
        "code": "IGX2",
        "name": "Second product",
        "product_code": "YA002",
        "gcsf_dose_ug_per_kg": "10",
        "gcsf_dose_tolerance_pct": "10",
        "gcsf_days_min": "4",
        "gcsf_days_max": "5",
        "target_dose_min_cells": "37000000",
        "target_dose_max_cells": "166000000",
        "shelf_life_hours": "24",
        "requires_qp_certification": "on",
        "sponsor_contact_email": "",
        "trial_reference": "EudraCT 2016-003975-23",
        "transport_minutes_outside": "30",
        "receipt_check": "two_people",
    }
    response = qa.post(reverse("admin:batches_processdefinition_add"), data)
    assert response.status_code == 302
    definition = ProcessDefinition.objects.get(code="IGX2")
    approve = reverse("admin:batches_processdefinition_approve", args=[definition.pk])
    assert (
        "Approve (sign)"
        in qa.get(reverse("admin:batches_processdefinition_change", args=[definition.pk])).content.decode()
    )
    assert qa.post(approve, {"password": PASSWORD, "confirm": "on"}).status_code == 302
    again = qa.post(approve, {"password": PASSWORD, "confirm": "on"}).content.decode()
    assert "second approval by a different person" in again
    assert second.post(approve, {"password": "wrong", "confirm": "on"}).status_code == 200
    assert second.post(approve, {"password": PASSWORD, "confirm": "on"}).status_code == 302
    definition.refresh_from_db()
    assert definition.status == "approved"
    page_body = qa.get(reverse("admin:batches_processdefinition_change", args=[definition.pk])).content.decode()
    assert "Approve (sign)" not in page_body
    assert 'name="_save"' not in page_body


@pytest.mark.urs("URS-015")
def test_patient_enrolment_refuses_a_name_like_code_and_keeps_the_form(people: Personas) -> None:
    enrolled_patient(people.operator, subject_code="IGX1-S001")
    response = client_for(people.operator).post(
        reverse("admin:batches_patient_add"),
        {"subject_code": "Maria Lopez", "consent_date": timezone.localdate().isoformat(), "body_weight_kg": "60"},
    )
    body = response.content.decode()
    assert "never a name or ID number" in body
    assert 'value="60"' in body
    assert Patient.objects.count() == 1
