"""The batch page in the admin: lab staff walk a batch to quarantine; refusals are clear and change nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from batches import demo_chain
from batches.audit import audit_context
from batches.demo import gcsf_given_at
from batches.models import (
    ApheresisCollection,
    Batch,
    Cd133Selection,
    ElectronicSignature,
    GcsfAdministration,
    Patient,
)
from batches.signature_checks import signature_is_intact
from tests.factories import (
    PASSWORD,
    Personas,
    apheresis_values,
    approved_definition,
    cast,
    gcsf_values,
    make_user,
    selection_values,
    walk_batch,
    with_scans,
)
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db


def form_data(values: dict[str, Any], **extra: str) -> dict[str, str]:
    """What a browser posts: local datetimes to the second, ISO dates, plain numbers."""
    data: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, list):  # scanned barcodes, one per line
            data[name] = "\n".join(value)
        elif isinstance(value, datetime):
            data[name] = timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S")
        elif isinstance(value, date):
            data[name] = value.isoformat()
        else:
            data[name] = str(value)
    return {"late_entry_reason": "", **data, **extra}


@pytest.fixture
def staff(people: Personas) -> Personas:
    """Lab users reach the admin as staff; their roles (groups) decide what they may do there."""
    for user in vars(people).values():
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return people


def page(batch: Batch) -> str:
    return reverse("admin:batches_batch_change", args=[batch.pk])


def url(batch: Batch, name: str, *args: Any) -> str:
    return reverse(f"admin:batches_batch_{name}", args=[batch.pk, *args])


def post_ok(client: Client, path: str, data: dict[str, str] | None = None) -> None:
    """A successful action answers with a redirect to the batch page (POST-redirect-GET)."""
    response = client.post(path, data or {})
    errors = response.content.decode() if response.status_code != 302 else ""
    assert response.status_code == 302, errors[errors.find("errorlist") - 200 : errors.find("errorlist") + 600]


@pytest.mark.urs("URS-011", "URS-010", "URS-348")
def test_operator_and_verifier_walk_a_batch_to_quarantine_in_the_admin(staff: Personas) -> None:
    definition = approved_definition(staff.qa, staff.qp)
    operator, verifier = client_for(staff.operator), client_for(staff.verifier)
    post_ok(
        operator,
        reverse("admin:batches_patient_add"),
        {
            "subject_code": "igx1-s042",
            "consent_date": (timezone.localdate() - timedelta(days=20)).isoformat(),
            "body_weight_kg": "62.5",
            "eligibility_confirmed": "on",
        },
    )
    patient = Patient.objects.get(subject_code="IGX1-S042")
    post_ok(
        operator,
        reverse("admin:batches_batch_add"),
        {"patient": str(patient.pk), "process_definition": str(definition.pk)},
    )
    batch = Batch.objects.get(patient=patient)
    assert "Start mobilization" in operator.get(page(batch)).content.decode()
    post_ok(operator, url(batch, "transition", "start-mobilization"))

    def given_at(day: int) -> Any:
        return gcsf_given_at(day, days=definition.gcsf_days_min)

    for day in range(1, definition.gcsf_days_min + 1):
        body = operator.get(page(batch)).content.decode()
        assert f"Record G-CSF day {day}" in body
        post_ok(
            operator,
            url(batch, "record", "gcsf"),
            form_data(
                with_scans(
                    staff, batch, "gcsf", gcsf_values(day, at=gcsf_given_at(day, days=definition.gcsf_days_min))
                ),
                password=PASSWORD,
            ),
        )
        step = GcsfAdministration.objects.get(batch=batch, day=day)
        assert f"Verify G-CSF day {day}" in verifier.get(page(batch)).content.decode()
        post_ok(verifier, url(batch, "verify", "gcsf", step.pk), {"password": PASSWORD})
    post_ok(operator, url(batch, "transition", "start-collection"))

    bag = demo_chain.collection_label(cast(staff), batch)  # the system issues the collection bag's label
    post_ok(
        operator,
        url(batch, "record", "apheresis"),
        form_data(with_scans(staff, batch, "apheresis", apheresis_values(collection_bag_id=bag)), password=PASSWORD),
    )
    assert "Verify apheresis collection" in verifier.get(page(batch)).content.decode()
    post_ok(
        verifier,
        url(batch, "verify", "apheresis", ApheresisCollection.objects.get(batch=batch).pk),
        {"password": PASSWORD},
    )
    post_ok(operator, url(batch, "transition", "start-processing"))

    post_ok(
        operator,
        url(batch, "record", "selection"),
        form_data(with_scans(staff, batch, "selection", selection_values()), password=PASSWORD),
    )
    post_ok(
        verifier, url(batch, "verify", "selection", Cd133Selection.objects.get(batch=batch).pk), {"password": PASSWORD}
    )
    post_ok(operator, url(batch, "transition", "quarantine"))

    batch.refresh_from_db()
    assert batch.status == "quarantine"
    signatures = ElectronicSignature.objects.filter(batch=batch)
    assert signatures.count() == 2 * (definition.gcsf_days_min + 2)
    assert all(signature_is_intact(s) for s in signatures)
    body = operator.get(page(batch)).content.decode()
    assert body.count("verified · read-only") == definition.gcsf_days_min + 2
    assert 'id="record-form"' not in body  # no step is left to record
    # What the operator signs next is the packaging record, offered on the batch page as at the desk.
    assert 'id="desk-packaging"' in body
    assert "Verify and sign" not in body
    assert "Correct " not in body
    assert "CD133-7781" in body
    # The scanned lots and equipment, as at use (recorded data marked apart from the translated label).
    assert 'Lot scanned: <span class="recorded">CliniMACS CD133 Reagent</span>' in body
    assert "Equipment scanned: biosafety cabinet" in body
    assert "Quarantine" in body
    assert "QA review and release" in body


@pytest.mark.urs("URS-010")
def test_batch_page_offers_only_the_current_step_and_the_next_need(staff: Personas) -> None:
    batch = walk_batch(staff, "collection")
    body = client_for(staff.operator).get(page(batch)).content.decode()
    assert 'id="record-form"' in body
    assert url(batch, "record", "apheresis") in body
    assert url(batch, "record", "selection") not in body
    assert url(batch, "record", "gcsf") not in body
    assert "Record apheresis collection" in body
    assert body.count("verified · read-only") == 4  # the four G-CSF days, read-only
    # Links only to pages the operator may open: the desk (hand-over to the laboratory), not the audit trail.
    assert reverse("admin:batches_delivery_desk", args=[batch.pk]) in body
    assert reverse("admin:batches_batch_audit", args=[batch.pk]) not in body


@pytest.mark.urs("URS-012")
def test_selection_before_collection_is_refused_with_a_clear_message(staff: Personas) -> None:
    batch = walk_batch(staff, "collection")
    before = gmp_row_counts()
    response = client_for(staff.operator).post(
        url(batch, "record", "selection"), form_data(selection_values(), password=PASSWORD)
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert f"only when batch {batch.batch_number} is processing; it is collection" in body
    assert_nothing_written(before)


@pytest.mark.urs("URS-012")
def test_verifying_ones_own_step_is_refused(staff: Personas) -> None:
    batch = walk_batch(staff, "mobilization")
    staff.operator.groups.add(staff.verifier.groups.get())
    operator = client_for(staff.operator)
    post_ok(
        operator,
        url(batch, "record", "gcsf"),
        form_data(with_scans(staff, batch, "gcsf", gcsf_values(1)), password=PASSWORD),
    )
    step = GcsfAdministration.objects.get(batch=batch)
    assert "a second person must verify it" in operator.get(page(batch)).content.decode()
    before = gmp_row_counts()
    body = operator.post(url(batch, "verify", "gcsf", step.pk), {"password": PASSWORD}).content.decode()
    assert "You performed this step; a second person must verify it." in body
    assert_nothing_written(before)


@pytest.mark.urs("URS-012", "URS-010")
def test_a_verified_step_is_read_only_and_cannot_be_corrected(staff: Personas) -> None:
    batch = walk_batch(staff, "mobilization")
    operator = client_for(staff.operator)
    post_ok(
        operator,
        url(batch, "record", "gcsf"),
        form_data(with_scans(staff, batch, "gcsf", gcsf_values(1)), password=PASSWORD),
    )
    step = GcsfAdministration.objects.get(batch=batch)
    assert "Correct G-CSF day 1" in operator.get(page(batch)).content.decode()
    post_ok(client_for(staff.verifier), url(batch, "verify", "gcsf", step.pk), {"password": PASSWORD})
    assert "Correct G-CSF day 1" not in operator.get(page(batch)).content.decode()
    before = gmp_row_counts()
    data = form_data(gcsf_values(1, drug_lot="FIL-OTHER"), password=PASSWORD, reason="wrong lot typed")
    body = operator.post(url(batch, "correct", "gcsf", step.pk), data).content.decode()
    assert f"G-CSF administration of {batch.batch_number} is verified and read-only." in body
    assert 'value="FIL-OTHER"' in body
    assert_nothing_written(before)


@pytest.mark.urs("URS-012")
def test_correcting_an_unverified_step_keeps_a_reason_and_signs_again(staff: Personas) -> None:
    batch = walk_batch(staff, "processing")
    operator = client_for(staff.operator)
    post_ok(
        operator,
        url(batch, "record", "selection"),
        form_data(with_scans(staff, batch, "selection", selection_values()), password=PASSWORD),
    )
    step = Cd133Selection.objects.get(batch=batch)
    values = {**selection_values(), "started_at": step.started_at, "ended_at": step.ended_at}
    no_reason = operator.post(
        url(batch, "correct", "selection", step.pk), form_data({**values, "final_volume_ml": "12.0"}, password=PASSWORD)
    )
    assert "This field is required" in no_reason.content.decode()
    post_ok(
        operator,
        url(batch, "correct", "selection", step.pk),
        form_data({**values, "final_volume_ml": "12.0"}, password=PASSWORD, reason="volume misread on the scale"),
    )
    step.refresh_from_db()
    assert step.final_volume_ml == Decimal("12.0")
    body = operator.get(page(batch)).content.decode()
    assert "Invalidated" in body
    assert "volume misread on the scale" in body


@pytest.mark.urs("URS-012")
def test_expired_reagent_lot_is_refused_on_its_field_and_the_typed_values_stay(staff: Personas) -> None:
    batch = walk_batch(staff, "processing")
    before = gmp_row_counts()
    expired = timezone.localdate() - timedelta(days=3)
    values = selection_values(reagent_expiry=expired, reagent_lot="CD133-EXPIRED-9")
    body = client_for(staff.operator).post(url(batch, "record", "selection"), form_data(values, password=PASSWORD))
    text = body.content.decode()
    assert f"CD133 reagent lot CD133-EXPIRED-9 expired on {expired:%Y-%m-%d}" in text
    assert 'value="CD133-EXPIRED-9"' in text
    assert 'value="HSA-9912"' in text
    assert "cb-has-error" in text
    assert_nothing_written(before)


@pytest.mark.urs("URS-012")
def test_wrong_password_signs_nothing(staff: Personas) -> None:
    batch = walk_batch(staff, "mobilization")
    before = gmp_row_counts()
    body = client_for(staff.operator).post(
        url(batch, "record", "gcsf"), form_data(gcsf_values(1), password="not-my-password")
    )
    assert "The password is not correct" in body.content.decode()
    assert_nothing_written(before)


@pytest.mark.urs("URS-013")
@pytest.mark.parametrize("persona", ["auditor", "admin"])
def test_auditor_and_admin_read_but_cannot_change_batch_data(staff: Personas, persona: str) -> None:
    batch = walk_batch(staff, "mobilization")
    client = client_for(getattr(staff, persona))
    body = client.get(page(batch)).content.decode()
    assert batch.batch_number in body
    assert "you cannot change it" in body
    assert "Record and sign" not in body
    assert "Start collection" not in body
    before = gmp_row_counts()
    refused = client.post(url(batch, "record", "gcsf"), form_data(gcsf_values(1), password=PASSWORD))
    assert "requires the role Operator" in refused.content.decode()
    client.post(url(batch, "transition", "cancel"), {"reason": "I should not be able to"})
    client.post(url(batch, "transition", "start-collection"))
    assert client.get(reverse("admin:batches_batch_add")).status_code == 403
    assert client.post(reverse("admin:batches_batch_delete", args=[batch.pk])).status_code == 403
    assert_nothing_written(before)


@pytest.mark.urs("URS-013")
def test_anonymous_requests_are_sent_to_the_login_page(staff: Personas) -> None:
    batch = walk_batch(staff, "mobilization")
    before = gmp_row_counts()
    anonymous = Client()
    assert anonymous.get(page(batch)).status_code == 302
    response = anonymous.post(url(batch, "record", "gcsf"), form_data(gcsf_values(1), password=PASSWORD))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert_nothing_written(before)


@pytest.mark.urs("URS-013")
def test_a_user_without_a_role_sees_no_batch(staff: Personas) -> None:
    batch = walk_batch(staff, "registered")
    nobody = make_user("nobody", is_staff=True)
    client = client_for(nobody)
    assert client.get(page(batch)).status_code == 403
    assert client.get(reverse("admin:batches_batch_changelist")).status_code == 403


@pytest.mark.urs("URS-014")
def test_signatures_are_listed_and_a_changed_record_shows_invalid(staff: Personas) -> None:
    batch = walk_batch(staff, "mobilization")
    operator = client_for(staff.operator)
    post_ok(
        operator,
        url(batch, "record", "gcsf"),
        form_data(with_scans(staff, batch, "gcsf", gcsf_values(1)), password=PASSWORD),
    )
    body = operator.get(page(batch)).content.decode()
    assert "Operator" in body
    assert "Performed" in body
    assert " UTC" in body
    assert "cb-sig-valid" in body
    # A change that bypasses the services (a shell, raw SQL) leaves the signature pointing at old content.
    with audit_context("system:db-shell", reason="manual fix"):
        GcsfAdministration.objects.filter(batch=batch).update(drug_lot="FIL-TAMPERED")
    body = operator.get(page(batch)).content.decode()
    assert "cb-sig-invalid" in body
    assert ">INVALID<" in body


@pytest.mark.urs("URS-010")
def test_changelist_filters_by_state_and_searches_subject_code(staff: Personas) -> None:
    walk_batch(staff, "mobilization", subject_code="IGX1-S001")
    walk_batch(staff, "registered", subject_code="IGX1-S002")
    client = client_for(staff.auditor)
    changelist = reverse("admin:batches_batch_changelist")
    assert "IGX1-S002" not in client.get(changelist, {"status__exact": "mobilization"}).content.decode()
    found = client.get(changelist, {"q": "igx1-s002"}).content.decode()  # prefix search, any case
    assert "IGX1-S002" in found
    assert "IGX1-S001" not in found


@pytest.mark.urs("URS-012")
def test_malformed_action_requests_get_a_4xx_never_a_500(staff: Personas) -> None:
    batch = walk_batch(staff, "mobilization")
    operator = client_for(staff.operator)
    before = gmp_row_counts()
    assert operator.post(url(batch, "record", "platelets"), {"password": PASSWORD}).status_code == 404
    assert operator.post(url(batch, "transition", "release"), {}).status_code == 404
    assert operator.post(url(batch, "verify", "gcsf", 999999), {"password": PASSWORD}).status_code == 404
    assert operator.get(url(batch, "transition", "start-collection")).status_code == 405
    assert operator.get(reverse("admin:batches_batch_change", args=["not-a-number"])).status_code in {302, 404}
    incomplete = operator.post(url(batch, "record", "gcsf"), {"day": "1", "password": PASSWORD})
    assert incomplete.status_code == 200
    assert "This field is required" in incomplete.content.decode()
    assert_nothing_written(before)
