"""The REST API: a batch walked to quarantine with tokens; refusals map to status codes and change nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.test import APIClient

from batches import demo_chain, register_demo
from batches.api.exceptions import exception_handler
from batches.demo import gcsf_given_at
from batches.demo_people import procedures_assign
from batches.exceptions import StateConflict
from batches.models import (
    Batch,
    ElectronicSignature,
    Equipment,
    GcsfAdministration,
    ProcessDefinition,
)
from tests.factories import (
    PASSWORD,
    Personas,
    apheresis_values,
    cast,
    definition_values,
    gcsf_values,
    selection_values,
    selection_with_an_expired_reagent,
    walk_batch,
    with_scans,
)
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db
API = "/api/v1"


def as_json(values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    return {**{k: plain(v) for k, v in values.items()}, **extra}


def ok(response: Any, code: int = 200) -> Any:
    assert response.status_code == code, response.content.decode()[:800]
    return response.json()


@pytest.mark.urs("URS-016", "URS-015", "URS-348")
def test_a_batch_walks_to_quarantine_through_the_api_with_tokens(people: Personas) -> None:
    qa, qp = client_for(people.qa, "token"), client_for(people.qp, "token")
    operator, verifier = client_for(people.operator, "token"), client_for(people.verifier, "token")

    definition = ok(qa.post(f"{API}/process-definitions/", as_json(definition_values()), format="json"), 201)
    assert definition["status"] == "draft"
    # What each step needs, declared on the draft: materials of the register (scanned at each step) and equipment.
    register_demo.ensure_register(cast(people))
    drafted = f"{API}/process-definitions/{definition['id']}"
    for kind, needs in register_demo.REQUIREMENTS.items():
        for category, grade, quantity, unit in needs:
            body = {"step_kind": kind, "category": category, "grade": grade, "quantity": quantity, "unit": unit}
            ok(
                qa.post(f"{drafted}/material-requirements/", body, format="json"),
                201,
            )
    for kind, items in register_demo.EQUIPMENT_NEEDED.items():
        for item in items:
            body = {"step_kind": kind, "kind": item}
            ok(
                qa.post(f"{drafted}/equipment-requirements/", body, format="json"),
                201,
            )
    # The procedure behind each activity is named in the admin (document control), before the approvals.
    draft = ProcessDefinition.objects.get(pk=definition["id"])
    procedures_assign(qa=people.qa, qp=people.qp, password=PASSWORD, definition=draft)
    ok(qa.post(f"{API}/process-definitions/{definition['id']}/approve/", {"password": PASSWORD}, format="json"))
    approved = ok(qp.post(f"{API}/process-definitions/{definition['id']}/approve/", {"password": PASSWORD}))
    assert approved["status"] == "approved"

    patient = ok(
        operator.post(
            f"{API}/patients/",
            {
                "subject_code": "IGX1-S077",
                "consent_date": str(timezone.localdate() - timedelta(days=10)),
                "body_weight_kg": "58.0",
                "eligibility_confirmed": True,
            },
            format="json",
        ),
        201,
    )
    batch = ok(
        operator.post(
            f"{API}/batches/", {"patient": patient["id"], "process_definition": definition["id"]}, format="json"
        ),
        201,
    )
    base = f"{API}/batches/{batch['id']}"
    assert ok(operator.post(f"{base}/start-mobilization/"))["status"] == "mobilization"
    for day in range(1, 5):
        body = as_json(gcsf_values(day, at=gcsf_given_at(day, days=4)), password=PASSWORD, lots=["L-FIL-0117"])
        step = ok(operator.post(f"{base}/steps/gcsf/", body, format="json"), 201)
        assert step["dose_ug"] == "580.0"  # 10 µg/kg × 58 kg
        assert "password" not in step
        assert ok(verifier.post(f"{API}/steps/gcsf/{step['id']}/verify/", {"password": PASSWORD}))["is_verified"]
    ok(operator.post(f"{base}/start-collection/"))
    scanned = {"lots": ["L-ACDA-0032", "L-OPT-0508"], "equipment": ["APH-01"]}
    bag = demo_chain.collection_label(cast(people), Batch.objects.get(pk=batch["id"]))  # issued by the system
    body = as_json(apheresis_values(collection_bag_id=bag), password=PASSWORD, **scanned)
    step = ok(operator.post(f"{base}/steps/apheresis/", body, format="json"), 201)
    ok(verifier.post(f"{API}/steps/apheresis/{step['id']}/verify/", {"password": PASSWORD}))
    ok(operator.post(f"{base}/start-processing/"))
    cabinet = Equipment.objects.get(code="BSC-01")
    session = {
        "workstation": cabinet.pk,
        "opened_at": (timezone.now() - timedelta(hours=4)).isoformat(),
        "samples": [{"kind": "settle", "sample_code": "SP-API-1"}, {"kind": "air", "sample_code": "AS-API-1"}],
    }
    ok(operator.post(f"{API}/monitoring-sessions/", session, format="json"), 201)
    scanned = {
        "lots": ["L-CD133-7781", "L-TS-5531", "L-BUF-2210", "L-HSA-9912", "L-BAG-3307"],
        "equipment": ["CMP-01", "BSC-01", "CEN-01"],
    }
    body = as_json(selection_values(), password=PASSWORD, **scanned)
    step = ok(operator.post(f"{base}/steps/selection/", body, format="json"), 201)
    ok(verifier.post(f"{API}/steps/selection/{step['id']}/verify/", {"password": PASSWORD}))
    final = ok(operator.post(f"{base}/quarantine/"))

    assert final["status"] == "quarantine"
    assert final["selection"]["recovery_pct"] == "68.95"
    assert len(final["gcsf_administrations"]) == 4
    assert len(final["signatures"]) == 12
    assert all(s["intact"] for s in final["signatures"])
    assert [t["to_status"] for t in final["transitions"]] == ["mobilization", "collection", "processing", "quarantine"]
    assert ok(operator.get(f"{base}/steps/gcsf/"))["count"] == 4
    used = ok(operator.get(f"{base}/inputs/"))
    assert [u["lot_code"] for u in used["lots"]].count("L-FIL-0117") == 4
    assert {u["equipment_code"] for u in used["equipment"]} == {"APH-01", "CMP-01", "BSC-01", "CEN-01"}


@pytest.mark.urs("URS-016")
def test_batches_are_filtered_searched_and_paginated(people: Personas) -> None:
    walk_batch(people, "mobilization", subject_code="IGX1-S001")
    walk_batch(people, "registered", subject_code="IGX1-S002")
    auditor = client_for(people.auditor, "token")
    listed = ok(auditor.get(f"{API}/batches/", {"status": "registered"}))
    assert [b["subject_code"] for b in listed["results"]] == ["IGX1-S002"]
    assert ok(auditor.get(f"{API}/batches/", {"search": "igx1-s001"}))["results"][0]["status"] == "mobilization"
    # Cursor pagination: no count of every batch, an opaque cursor to the next page.
    assert set(ok(auditor.get(f"{API}/batches/"))) == {"next", "previous", "results"}
    first = ok(auditor.get(f"{API}/batches/", {"page_size": 1}))
    second = ok(auditor.get(first["next"]))
    assert [first["results"][0]["subject_code"], second["results"][0]["subject_code"]] == ["IGX1-S002", "IGX1-S001"]
    assert second["next"] is None


@pytest.mark.urs("URS-017")
def test_selection_before_collection_is_a_409_and_changes_nothing(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    before = gmp_row_counts()
    response = client_for(people.operator, "token").post(
        f"{API}/batches/{batch.pk}/steps/selection/", as_json(selection_values(), password=PASSWORD), format="json"
    )
    assert response.status_code == 409
    assert "is processing; it is collection" in response.json()["detail"]
    assert_nothing_written(before)


@pytest.mark.urs("URS-017")
def test_verifying_ones_own_step_is_a_403(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    people.operator.groups.add(people.verifier.groups.get())
    operator = client_for(people.operator, "token")
    body = as_json(with_scans(people, batch, "gcsf", gcsf_values(1)), password=PASSWORD)
    step = ok(operator.post(f"{API}/batches/{batch.pk}/steps/gcsf/", body, format="json"), 201)
    before = gmp_row_counts()
    response = operator.post(f"{API}/steps/gcsf/{step['id']}/verify/", {"password": PASSWORD})
    assert response.status_code == 403
    assert response.json()["detail"] == "You performed this step; a second person must verify it."
    assert_nothing_written(before)


@pytest.mark.urs("URS-017")
def test_expired_reagent_lot_is_a_400_on_its_field(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    before = gmp_row_counts()
    values = selection_with_an_expired_reagent()
    response = client_for(people.operator, "token").post(
        f"{API}/batches/{batch.pk}/steps/selection/",
        as_json(values, password=PASSWORD),
        format="json",
    )
    assert response.status_code == 400
    assert "CD133 reagent lot CD133-7781 expired on" in response.json()["reagent_expiry"][0]
    assert_nothing_written(before)


@pytest.mark.urs("URS-018")
def test_correction_needs_the_current_etag_a_reason_and_the_password(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    operator = client_for(people.operator, "token")
    body = as_json(with_scans(people, batch, "gcsf", gcsf_values(1)), password=PASSWORD)
    step = ok(operator.post(f"{API}/batches/{batch.pk}/steps/gcsf/", body, format="json"), 201)
    url = f"{API}/steps/gcsf/{step['id']}/"
    etag = operator.get(url)["ETag"]
    change = {"drug_lot": "FIL-24-118", "reason": "lot number misread", "password": PASSWORD}
    before = gmp_row_counts()

    assert operator.patch(url, change, format="json").status_code == 428
    assert operator.patch(url, change, format="json", HTTP_IF_MATCH='"stale"').status_code == 412
    missing = operator.patch(url, {"drug_lot": "FIL-24-118"}, format="json", HTTP_IF_MATCH=etag)
    assert missing.status_code == 400
    assert set(missing.json()) == {"reason", "password"}
    assert_nothing_written(before)

    corrected = operator.patch(url, change, format="json", HTTP_IF_MATCH=etag)
    assert ok(corrected)["drug_lot"] == "FIL-24-118"
    assert corrected["ETag"] != etag
    assert operator.patch(url, change, format="json", HTTP_IF_MATCH=etag).status_code == 412
    statuses = list(ElectronicSignature.objects.filter(object_id=step["id"]).values_list("status", flat=True))
    assert statuses == ["invalidated", "valid"]


@pytest.mark.urs("URS-017", "URS-018")
def test_a_verified_step_cannot_be_corrected_through_the_api(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    step = ok(
        client_for(people.operator, "token").post(
            f"{API}/batches/{batch.pk}/steps/gcsf/",
            as_json(with_scans(people, batch, "gcsf", gcsf_values(1)), password=PASSWORD),
            format="json",
        ),
        201,
    )
    ok(client_for(people.verifier, "token").post(f"{API}/steps/gcsf/{step['id']}/verify/", {"password": PASSWORD}))
    operator = client_for(people.operator, "token")
    url = f"{API}/steps/gcsf/{step['id']}/"
    before = gmp_row_counts()
    response = operator.patch(
        url,
        {"drug_lot": "X-1", "reason": "late change", "password": PASSWORD},
        format="json",
        HTTP_IF_MATCH=operator.get(url)["ETag"],
    )
    assert response.status_code == 400
    assert "verified and read-only" in response.json()["non_field_errors"][0]
    assert_nothing_written(before)


@pytest.mark.urs("URS-013")
@pytest.mark.parametrize("persona", ["auditor", "admin"])
def test_auditor_and_admin_read_but_cannot_change_batch_data(people: Personas, persona: str) -> None:
    batch = walk_batch(people, "mobilization")
    step = GcsfAdministration.objects.create(
        batch=batch, performed_by=people.operator, dose_ug=625, **gcsf_values(1)
    )  # an unverified step to aim at; created directly only to set the scene
    client = client_for(getattr(people, persona), "token")
    assert ok(client.get(f"{API}/batches/{batch.pk}/"))["batch_number"] == batch.batch_number
    before = gmp_row_counts()
    refused = [
        client.post(f"{API}/batches/{batch.pk}/steps/gcsf/", as_json(gcsf_values(2), password=PASSWORD)),
        client.post(f"{API}/batches/{batch.pk}/start-collection/"),
        client.post(f"{API}/batches/{batch.pk}/cancel/", {"reason": "not mine to cancel"}),
        client.post(f"{API}/steps/gcsf/{step.pk}/verify/", {"password": PASSWORD}),
        client.patch(f"{API}/steps/gcsf/{step.pk}/", {"drug_lot": "X", "reason": "nope", "password": PASSWORD}),
        client.delete(f"{API}/batches/{batch.pk}/"),
    ]
    assert [r.status_code for r in refused] == [403] * 6
    assert "requires the role Operator" in refused[0].json()["detail"]
    assert_nothing_written(before)


@pytest.mark.urs("URS-013")
def test_anonymous_requests_are_refused(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    before = gmp_row_counts()
    anonymous = APIClient()
    assert anonymous.get(f"{API}/batches/").status_code in {401, 403}
    response = anonymous.post(f"{API}/batches/{batch.pk}/steps/gcsf/", as_json(gcsf_values(1), password=PASSWORD))
    assert response.status_code in {401, 403}
    assert_nothing_written(before)


@pytest.mark.urs("URS-016")
def test_a_token_is_issued_for_a_correct_password_only(people: Personas) -> None:
    client = APIClient()
    assert client.post(f"{API}/auth/token/", {"username": "operator", "password": "wrong"}).status_code == 400
    token = ok(client.post(f"{API}/auth/token/", {"username": "operator", "password": PASSWORD}))["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(f"{API}/batches/").status_code == 200


@pytest.mark.urs("URS-017")
def test_missing_records_are_404_and_session_login_works(people: Personas) -> None:
    client = APIClient()  # a session login, as the browsable API uses
    client.force_login(people.operator)
    assert client.get(f"{API}/batches/999999/").status_code == 404
    missing = client.post(f"{API}/batches/999999/steps/gcsf/", as_json(gcsf_values(1), password=PASSWORD))
    assert missing.status_code == 404
    assert client.get(f"{API}/steps/selection/999999/").status_code == 404


@pytest.mark.urs("URS-017")
def test_errors_map_to_status_codes_with_their_message() -> None:
    guard = exception_handler(IntegrityError("a verified step is read-only\nCONTEXT: PL/pgSQL function"), {})
    assert guard is not None
    assert (guard.status_code, guard.data) == (409, {"detail": "a verified step is read-only"})
    conflict = exception_handler(StateConflict("Batch B-1 is cancelled."), {})
    assert conflict is not None
    assert (conflict.status_code, conflict.data) == (409, {"detail": "Batch B-1 is cancelled."})
    missing = exception_handler(ProcessDefinition.DoesNotExist("No such process definition."), {})
    assert missing is not None
    assert missing.status_code == 404
