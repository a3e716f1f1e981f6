"""QC API: role permissions, explicit POST actions, clear refusals (never a 500)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from batches.models import BatchDisposition
from batches.release import conditional
from batches.release import disposition as release
from tests.factories import PASSWORD, Personas, qc_sample, quarantined_batch, record_passing_qc, record_result
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.urs("URS-065")
def test_analyst_records_a_result_and_a_verifier_reviews_it_over_the_api(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = client_for(people.qc_analyst, "api").post(
        "/api/v1/qc-samples/",
        {
            "batch": batch.pk,
            "step": "final_product",
            "sample_code": "S-API-1",
            "taken_at": (timezone.now() - timedelta(minutes=40)).isoformat(),  # flow cytometry takes 30 min
        },
        format="json",
    )
    assert sample.status_code == 201, sample.json()
    body = {
        "sample": sample.json()["id"],
        "test": "cd133_purity",
        "value": "69.99",
        "unit": "%",
        "tested_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "password": PASSWORD,
    }
    assert client_for(people.verifier, "api").post("/api/v1/qc-results/", body, format="json").status_code == 403
    created = client_for(people.qc_analyst, "api").post(
        "/api/v1/qc-results/", {**body, "verdict": "pass"}, format="json"
    )
    assert created.status_code == 201
    result = created.json()
    assert result["verdict"] == "oos"  # computed; a verdict sent by the client is ignored
    assert result["limit_description"] == "≥ 70 %"
    deviations = client_for(people.auditor, "api").get(f"/api/v1/deviations/?batch={batch.pk}").json()
    assert deviations["count"] == 1
    assert deviations["results"][0]["kind"] == "oos"

    # The reviewer is independent of production (people.verifier verified the batch's steps).
    reviewed = client_for(people.qc_reviewer, "api").post(
        f"/api/v1/qc-results/{result['id']}/review/", {"password": PASSWORD}, format="json"
    )
    assert reviewed.status_code == 200
    assert reviewed.json()["verified_by"] == people.qc_reviewer.pk
    again = client_for(people.qc_reviewer, "api").post(
        f"/api/v1/qc-results/{result['id']}/review/", {"password": PASSWORD}, format="json"
    )
    assert again.status_code == 400
    assert "already reviewed" in str(again.json())


@pytest.mark.urs("URS-070")
def test_release_and_certify_are_explicit_posts_with_the_password(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    url = f"/api/v1/batches/{batch.pk}/"
    assert client_for(people.auditor, "api").post(url + "release/", {"password": PASSWORD}).status_code == 403
    assert client_for(people.qa, "api").post(url + "release/", {"password": "wrong"}).status_code == 403
    assert client_for(people.qa, "api").post(url + "release/", {}).status_code == 400
    released = client_for(people.qa, "api").post(url + "release/", {"password": PASSWORD}, format="json")
    assert released.status_code == 201
    assert released.json()["decision"] == "released"
    assert (
        client_for(people.qa, "api").post(url + "reject/", {"password": PASSWORD, "reason": "Too late."}).status_code
        == 409
    )
    assert client_for(people.qa, "api").post(url + "certify/", {"password": PASSWORD}).status_code == 403
    certified = client_for(people.qp, "api").post(url + "certify/", {"password": PASSWORD})
    assert certified.status_code == 201
    assert BatchDisposition.objects.filter(batch=batch).count() == 2


@pytest.mark.urs("URS-073")
def test_refused_release_answers_409_with_the_reasons_and_changes_nothing(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=("endotoxin", "sterility"))
    response = client_for(people.qa, "api").post(
        f"/api/v1/batches/{batch.pk}/release-conditionally/",
        {"password": PASSWORD, "positive_result_plan": "Call the clinician and start the antibiotic protocol."},
    )
    assert response.status_code == 409
    assert "Endotoxin: no result" in response.json()["detail"]
    batch.refresh_from_db()
    assert batch.status == "quarantine"
    assert not BatchDisposition.objects.filter(batch=batch).exists()
    gate = client_for(people.auditor, "api").get(f"/api/v1/batches/{batch.pk}/qc/").json()
    assert gate["flagged"] is False
    assert [f["code"] for f in gate["blocking"]] == ["result_missing", "result_pending"]
    assert client_for(people.auditor, "api").get("/api/v1/batches/999999/qc/").status_code == 404
    assert (
        client_for(people.qa, "api")
        .post("/api/v1/batches/999999/reject/", {"password": PASSWORD, "reason": "x" * 9})
        .status_code
        == 404
    )


@pytest.mark.urs("URS-077")
def test_a_late_positive_sterility_flags_the_batch_in_the_api(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch)
    client_for(people.qa, "api").post(
        f"/api/v1/batches/{batch.pk}/release-conditionally/",
        {"password": PASSWORD, "positive_result_plan": "Call the clinician and start the antibiotic protocol."},
    )
    # Released for administration once the medical director, the physician and the QP have signed.
    conditional.conditional_release_authorise(actor=people.medical_director, batch_id=batch.pk, password=PASSWORD)
    conditional.conditional_release_acknowledge(actor=people.clinician, batch_id=batch.pk, password=PASSWORD)
    release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    record_result(people, batch, "sterility", "growth", sample=batch.qc_samples.first())
    body = client_for(people.clinician, "api").get(f"/api/v1/batches/{batch.pk}/qc/").json()
    assert body["flagged"] is True
    assert body["alerts"][0]["classification"] == "critical"
    notes = client_for(people.auditor, "api").get(f"/api/v1/qc-notifications/?batch={batch.pk}").json()
    assert notes["count"] == 1


@pytest.mark.urs("URS-069")
def test_deviation_workflow_and_specification_approval_over_the_api(people: Personas) -> None:
    batch = quarantined_batch(people)
    opened = client_for(people.operator, "api").post(
        "/api/v1/deviations/",
        {"batch": batch.pk, "kind": "unplanned", "classification": "minor", "description": "Late transport."},
    )
    assert opened.status_code == 201
    dev = opened.json()["id"]
    assert client_for(people.auditor, "api").patch(f"/api/v1/deviations/{dev}/", {"impact": "x"}).status_code == 403
    patched = client_for(people.operator, "api").patch(
        f"/api/v1/deviations/{dev}/",
        {"investigation": "Courier delay.", "root_cause": "Traffic.", "impact": "None.", "capa": "Earlier pickup."},
    )
    assert patched.status_code == 200
    closed = client_for(people.qa, "api").post(
        f"/api/v1/deviations/{dev}/close/", {"password": PASSWORD, "closure_summary": "Accepted."}
    )
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert (
        client_for(people.qa, "api")
        .post(f"/api/v1/deviations/{dev}/close/", {"password": PASSWORD, "closure_summary": "Again."})
        .status_code
        == 409
    )
    assert client_for(people.qa, "api").get("/api/v1/deviations/abc/").status_code == 404

    spec = client_for(people.qa, "api").post(
        "/api/v1/specifications/",
        {
            "product": "IGX1",
            "title": "v2",
            "requested_effective_from": timezone.now().isoformat(),
            "limits": [{"test": "endotoxin", "method": "LAL", "operator": "lt", "value": "0.25", "unit": "EU/mL"}],
        },
        format="json",
    )
    assert spec.status_code == 201
    assert spec.json()["limits"][0]["description"] == "< 0.25 EU/mL"
    approve = f"/api/v1/specifications/{spec.json()['id']}/approve/"
    assert client_for(people.qa, "api").post(approve, {"password": PASSWORD}).status_code == 200
    assert client_for(people.qa, "api").post(approve, {"password": PASSWORD}).status_code == 403
    assert client_for(people.qp, "api").post(approve, {"password": PASSWORD}).json()["status"] == "approved"
    bad = client_for(people.qa, "api").post(
        "/api/v1/specifications/",
        {
            "product": "IGX1",
            "title": "bad",
            "requested_effective_from": timezone.now().isoformat(),
            "limits": [
                {
                    "test": "endotoxin",
                    "method": "LAL",
                    "operator": "between",
                    "value": "1",
                    "upper": "0.5",
                    "unit": "EU/mL",
                }
            ],
        },
        format="json",
    )
    assert bad.status_code == 400


@pytest.mark.urs("URS-065")
def test_bad_result_input_is_a_400_never_a_500(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    client = client_for(people.qc_analyst, "api")
    base = {"sample": sample.pk, "tested_at": timezone.now().isoformat(), "password": PASSWORD}
    for body in (
        {**base, "test": "endotoxin", "value": "abc", "unit": "EU/mL"},
        {**base, "test": "endotoxin", "value": "0.1", "unit": "EU/L"},
        {**base, "test": "viable_cd133_dose", "value": "1", "unit": "cells"},
        {**base, "test": "sterility", "value": "cloudy"},
        {**base, "test": "nonsense", "value": "1"},
    ):
        assert client.post("/api/v1/qc-results/", body, format="json").status_code == 400, body
    assert (
        client.post("/api/v1/qc-results/", {**base, "sample": 999999, "test": "endotoxin", "value": "1"}).status_code
        == 404
    )


@pytest.mark.urs("URS-063")
def test_openapi_schema_of_the_qc_endpoints_has_no_warnings(tmp_path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/batches/{id}/release/" in (tmp_path / "schema.yml").read_text()
