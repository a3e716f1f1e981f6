"""Audit capture through the user interfaces: a step recorded and corrected in the admin and in the API.

Each event names the signed-in user, carries the reason typed for the correction, and shows old → new
values; every change made in one request keeps the reason it was made with.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from batches.models import ElectronicSignature, GcsfAdministration
from tests.audit_helpers import events_for, last_event
from tests.factories import PASSWORD, Personas, gcsf_values, walk_batch, with_scans
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


# A correction also stamps who made it and when (corrected_by, corrected_at); the values are the rest.
CORRECTION_STAMP = frozenset({"corrected_by_id", "corrected_at"})


def values_changed(diff: dict[str, Any]) -> dict[str, Any]:
    return {field: change for field, change in diff.items() if field not in CORRECTION_STAMP}


def browser_form(values: dict[str, Any], **extra: str) -> dict[str, str]:
    """What the admin form posts: local datetimes to the second, ISO dates, plain numbers."""
    data = {"late_entry_reason": ""}
    for name, value in values.items():
        if isinstance(value, list):  # scanned barcodes, one per line
            data[name] = "\n".join(value)
        elif isinstance(value, datetime):
            data[name] = timezone.localtime(value).strftime("%Y-%m-%dT%H:%M:%S")
        elif isinstance(value, date):
            data[name] = value.isoformat()
        else:
            data[name] = str(value)
    return {**data, **extra}


def json_body(values: dict[str, Any], **extra: str) -> dict[str, Any]:
    plain = {
        k: v.isoformat() if isinstance(v, datetime | date) else v if isinstance(v, list) else str(v)
        for k, v in values.items()
    }
    return {**plain, **extra}


def admin_url(batch_pk: int, name: str, *args: Any) -> str:
    return reverse(f"admin:batches_batch_{name}", args=[batch_pk, *args])


def signatures_of(step: GcsfAdministration) -> list[ElectronicSignature]:
    return list(ElectronicSignature.objects.filter(batch=step.batch, object_id=step.pk).order_by("pk"))


@pytest.mark.urs("URS-037")
def test_a_step_recorded_and_corrected_in_the_admin_names_the_user_the_reason_and_old_and_new(
    people: Personas,
) -> None:
    batch = walk_batch(people, "mobilization")
    operator = client_for(people.operator)
    recorded = operator.post(
        admin_url(batch.pk, "record", "gcsf"),
        browser_form(with_scans(people, batch, "gcsf", gcsf_values(1)), password=PASSWORD),
    )
    assert recorded.status_code == 302
    step = GcsfAdministration.objects.get(batch=batch, day=1)

    values = {**gcsf_values(1, at=step.administered_at), "drug_lot": "FIL-24-118"}
    corrected = operator.post(
        admin_url(batch.pk, "correct", "gcsf", step.pk),
        browser_form(values, password=PASSWORD, reason="Lot number mistyped; the vial reads FIL-24-118."),
    )
    assert corrected.status_code == 302

    created, changed = events_for(step)
    assert (created.action, created.actor) == ("insert", "operator")
    assert created.diff["drug_lot"] == (None, "FIL-24-117")
    assert (changed.action, changed.actor) == ("update", "operator")
    assert changed.reason == "Lot number mistyped; the vial reads FIL-24-118."
    assert values_changed(changed.diff) == {"drug_lot": ("FIL-24-117", "FIL-24-118")}
    assert changed.diff["corrected_by_id"] == (None, str(people.operator.pk))

    # The auditor reads the same events on the batch's audit-trail page.
    page = client_for(people.auditor).get(reverse("admin:batches_batch_audit", args=[batch.pk])).content.decode()
    assert "Lot number mistyped; the vial reads FIL-24-118." in page
    assert "FIL-24-117" in page
    assert "FIL-24-118" in page


@pytest.mark.urs("URS-038")
def test_a_step_recorded_and_corrected_through_the_api_names_the_user_the_reason_and_old_and_new(
    people: Personas,
) -> None:
    batch = walk_batch(people, "mobilization")
    api = client_for(people.operator, "token")
    response = api.post(
        f"/api/v1/batches/{batch.pk}/steps/gcsf/",
        json_body(with_scans(people, batch, "gcsf", gcsf_values(1)), password=PASSWORD),
        format="json",
    )
    assert response.status_code == 201, response.content
    url = f"/api/v1/steps/gcsf/{response.json()['id']}/"
    change = {
        "prescribed_ug_per_kg": "9.5",
        "reason": "Prescription reduced by the investigator.",
        "password": PASSWORD,
    }
    corrected = api.patch(url, change, format="json", HTTP_IF_MATCH=api.get(url)["ETag"])
    assert corrected.status_code == 200, corrected.content

    step = GcsfAdministration.objects.get(pk=response.json()["id"])
    created, changed = events_for(step)
    assert (created.action, created.actor) == ("insert", "operator")
    assert (changed.action, changed.actor) == ("update", "operator")
    assert changed.reason == "Prescription reduced by the investigator."
    # The dose in µg is computed from the body weight: it changes with the prescription, in the same event.
    assert set(values_changed(changed.diff)) == {"prescribed_ug_per_kg", "dose_ug"}
    assert changed.diff["prescribed_ug_per_kg"] == ("10.00", "9.50")
    old_dose, new_dose = changed.diff["dose_ug"]
    assert old_dose == created.diff["dose_ug"][1]
    assert new_dose is not None
    assert Decimal(new_dose) == step.dose_ug

    # The API's audit trail of the batch (read by an auditor) shows the event with its actor and reason.
    trail = client_for(people.auditor, "token").get(f"/api/v1/batches/{batch.pk}/audit-trail/")
    assert trail.status_code == 200, trail.content
    entry = next(e for e in trail.json()["results"] if e["reason"] == "Prescription reduced by the investigator.")
    assert entry["actor"] == "operator"
    changes = {c["field"]: (c["old"], c["new"]) for c in entry["changes"]}
    assert changes == changed.diff


@pytest.mark.urs("URS-039")
def test_each_change_made_in_one_admin_request_keeps_its_own_reason(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    operator = client_for(people.operator)
    operator.post(
        admin_url(batch.pk, "record", "gcsf"),
        browser_form(with_scans(people, batch, "gcsf", gcsf_values(1)), password=PASSWORD),
    )
    step = GcsfAdministration.objects.get(batch=batch, day=1)

    def correct(lot: str, reason: str) -> None:
        values = {**gcsf_values(1, at=step.administered_at), "drug_lot": lot}
        response = operator.post(
            admin_url(batch.pk, "correct", "gcsf", step.pk), browser_form(values, password=PASSWORD, reason=reason)
        )
        assert response.status_code == 302

    # One request, two services: the signatures service invalidates the old signature with its reason,
    # then the step service writes the new value with the reason typed, then a new signature is made.
    correct("FIL-24-118", "Lot number mistyped.")
    first_signature, second_signature = signatures_of(step)
    invalidated = last_event(first_signature)
    assert (invalidated.actor, invalidated.reason) == ("operator", "content changed: Lot number mistyped.")
    assert invalidated.diff["status"] == ("valid", "invalidated")
    signed = events_for(second_signature)[0]
    assert (signed.action, signed.reason) == ("insert", "electronic signature: Performed")
    assert last_event(step).reason == "Lot number mistyped."

    # A later request with another reason leaves the earlier events' reasons as they were.
    correct("FIL-24-119", "Second vial from another lot.")
    _created, first, second = events_for(step)
    assert (first.reason, values_changed(first.diff)) == (
        "Lot number mistyped.",
        {"drug_lot": ("FIL-24-117", "FIL-24-118")},
    )
    assert (second.reason, values_changed(second.diff)) == (
        "Second vial from another lot.",
        {"drug_lot": ("FIL-24-118", "FIL-24-119")},
    )
    assert last_event(first_signature).reason == "content changed: Lot number mistyped."
    assert last_event(second_signature).reason == "content changed: Second vial from another lot."
