"""The custody, delivery and follow-up API: the whole path by HTTP, and its refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from batches import demo_chain
from batches.models import Batch, BatchDocument, BedsideCheck, CustodyEvent, IdentityScan, Infusion
from qc import demo as qc_demo
from tests.custody_helpers import released_batch, scan_of
from tests.factories import PASSWORD, Personas, crew, make_user, quarantined_batch
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.urs("URS-119")
def test_delivery_path_by_api_from_dispatch_to_closure(people: Personas) -> None:
    batch = released_batch(people)
    second = make_user("clinician_b", "clinician")
    operator, clinician, other, qa = (
        client_for(u, "api") for u in (people.operator, people.clinician, second, people.qa)
    )
    base = f"/api/v1/batches/{batch.pk}"

    dispatched = operator.post(f"{base}/dispatch/", {"to_location": "IR", "temperature_c": "4.0", "password": PASSWORD})
    assert dispatched.status_code == 200, dispatched.content
    event_id = dispatched.json()["id"]
    first = other.post(f"/api/v1/custody-events/{event_id}/receipt-scan/", {"scanned_data": scan_of(batch)})
    assert first.status_code == 201, first.content
    now = timezone.now()
    handed_over = CustodyEvent.objects.get(pk=event_id).handed_over_at
    received = clinician.post(
        f"/api/v1/custody-events/{event_id}/receive/",
        {
            "scanned_data": scan_of(batch),
            "received_at": now.isoformat(),
            "temperature_c": "5.0",
            "logger_model": demo_chain.demo_logger_model().name,
            "logger_file_name": "shipper-07.csv",
            "logger_csv": demo_chain.logger_csv(handed_over - timedelta(minutes=1), now).decode(),
        },
    )
    assert received.status_code == 200, received.content
    scan = {"scanned_data": scan_of(batch), "password": PASSWORD, "patient_subject_code": "IGX1-S001"}
    assert clinician.post(f"{base}/bedside-check/", scan).status_code == 200
    assert clinician.post(f"{base}/bedside-confirm/", scan).status_code == 403
    assert other.post(f"{base}/bedside-confirm/", scan).status_code == 200
    infusion = {
        "started_at": (timezone.now() - timedelta(seconds=20)).isoformat(),
        "ended_at": timezone.now().isoformat(),
        "left_cells": 50_000_000,
        "left_volume_ml": "4.5",
        "right_cells": 51_000_000,
        "right_volume_ml": "4.5",
        "password": PASSWORD,
    }
    infused = clinician.post(f"{base}/infusion/", infusion)
    assert infused.status_code == 200, infused.content
    assert infused.json()["total_cells"] == 101_000_000
    assert clinician.post(f"{base}/infusion/", infusion).status_code == 409

    adverse = clinician.post(
        "/api/v1/adverse-events/",
        {
            "batch": batch.pk,
            "phase": "infusion",
            "term": "Pelvic pain",
            "ctcae_grade": 1,
            "relatedness": "possible",
            "onset_at": timezone.now().isoformat(),
        },
    )
    assert adverse.status_code == 201, adverse.content
    visit = clinician.post(
        "/api/v1/follow-up-visits/",
        {"batch": batch.pk, "visit_date": timezone.localdate().isoformat(), "menses": "normal", "adhesion_score": 2},
    )
    assert visit.status_code == 201, visit.content
    transfer = clinician.post(
        "/api/v1/embryo-transfers/", {"batch": batch.pk, "transfer_date": timezone.localdate().isoformat()}
    )
    assert transfer.status_code == 201, transfer.content
    outcome = clinician.post(
        f"/api/v1/embryo-transfers/{transfer.json()['id']}/outcome/",
        {"implantation": True, "clinical_pregnancy": True},
        format="json",
    )
    assert outcome.status_code == 200, outcome.content
    closed = qa.post(f"{base}/close/", {"password": PASSWORD})
    assert closed.json()["status"] == "closed"

    auditor = client_for(people.auditor, "api")
    assert auditor.get(f"/api/v1/infusions/?batch={batch.pk}").json()["count"] == 1
    assert auditor.get(f"{base}/labels/")["Content-Type"] == "application/pdf"


@pytest.mark.urs("URS-119")
def test_api_refusals_are_clear_and_change_nothing(people: Personas) -> None:
    batch = released_batch(people)
    operator, clinician, auditor = (client_for(u, "api") for u in (people.operator, people.clinician, people.auditor))
    base = f"/api/v1/batches/{batch.pk}"
    body = {"to_location": "IR", "temperature_c": "4.0", "password": PASSWORD}
    assert auditor.post(f"{base}/dispatch/", body).status_code == 403
    assert (
        clinician.post(
            f"{base}/bedside-check/", {"scanned_data": "x", "patient_subject_code": "IGX1-S001", "password": PASSWORD}
        ).status_code
        == 409
    )
    assert operator.post(f"{base}/dispatch/", {**body, "temperature_c": "90"}).status_code == 400
    assert operator.post("/api/v1/batches/999999/dispatch/", body).status_code == 404
    batch.refresh_from_db()
    assert batch.status == "released"

    event_id = operator.post(f"{base}/dispatch/", body).json()["id"]
    wrong = clinician.post(
        f"/api/v1/custody-events/{event_id}/receive/",
        {"scanned_data": "=G12341765432170", "received_at": timezone.now().isoformat(), "temperature_c": "5.0"},
    )
    assert wrong.status_code == 400
    assert "Wrong product" in wrong.json()["scanned_data"][0]
    assert IdentityScan.objects.filter(batch=batch, matched=False).count() == 1
    assert auditor.get(f"/api/v1/identity-scans/?batch={batch.pk}&matched=false").json()["count"] == 1
    assert not BedsideCheck.objects.exists()
    assert not Infusion.objects.exists()
    assert Batch.objects.get(pk=batch.pk).status == "dispatched"

    people.admin.groups.clear()
    assert client_for(people.admin, "api").get("/api/v1/custody-events/").status_code == 403


def test_api_schema_of_custody_endpoints_validates_without_warnings(tmp_path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/batches/{id}/dispatch/" in (tmp_path / "schema.yml").read_text()


@pytest.mark.urs("URS-099")
def test_qa_closes_a_rejected_batch_by_api_and_others_cannot(people: Personas) -> None:
    batch = qc_demo.reject_batch(crew(people), quarantined_batch(people))
    base = f"/api/v1/batches/{batch.pk}"
    refused = client_for(people.clinician, "api").post(f"{base}/close/", {"password": PASSWORD})
    assert refused.status_code == 403, refused.content
    closed = client_for(people.qa, "api").post(
        f"{base}/close/", {"password": PASSWORD, "reason": "Destroyed (CW-119)."}
    )
    assert closed.status_code == 200, closed.content
    assert closed.json()["status"] == "closed"
    assert BatchDocument.objects.filter(batch=batch, kind="final_record").count() == 1
    again = client_for(people.qa, "api").post(f"{base}/close/", {"password": PASSWORD})
    assert again.status_code == 409, again.content
