"""The quality decisions over the API: roles, refusals (400/403/404/409) and nothing written on a refusal."""

from __future__ import annotations

import pytest

from qc.models import Deviation, DeviationReclassification
from tests.factories import PASSWORD, Personas, quarantined_batch, record_passing_qc, record_result
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db
PLAN = "Retest the retained vial in duplicate, second analyst, fresh reagent lot."


@pytest.mark.urs("URS-361")
@pytest.mark.urs("URS-365")
def test_investigation_retest_approval_and_reclassification_over_the_api(people: Personas) -> None:
    batch = quarantined_batch(people)
    failing = record_result(people, batch, "cd133_purity", "65", "%")
    deviation = Deviation.objects.get(source_result=failing)
    listed = client_for(people.auditor, "api").get(f"/api/v1/oos-investigations/?batch={batch.pk}").json()
    assert listed["count"] == 1
    url = f"/api/v1/oos-investigations/{listed['results'][0]['id']}/"
    recorded = client_for(people.qc_analyst, "api").post(
        url + "record/", {"hypotheses": "Gating drift.", "laboratory_error": False}, format="json"
    )
    assert recorded.status_code == 200
    assert recorded.json()["phase"] == "full_scale"
    before = gmp_row_counts()
    body = {"kind": "retest", "plan": PLAN, "password": PASSWORD}
    assert client_for(people.qc_analyst, "api").post(url + "approve-retest/", body).status_code == 403
    assert client_for(people.qa, "api").post(url + "approve-retest/", {**body, "plan": "short"}).status_code == 400
    assert client_for(people.qa, "api").post("/api/v1/oos-investigations/999999/close/", body).status_code == 404
    assert_nothing_written(before)
    assert client_for(people.qa, "api").post(url + "approve-retest/", body).status_code == 201

    reclassify = f"/api/v1/deviations/{deviation.pk}/reclassify/"
    change = {"classification": "minor", "reason": "Gating drift confirmed.", "password": PASSWORD}
    before = gmp_row_counts()
    assert client_for(people.operator, "api").post(reclassify, change).status_code == 403
    refused = client_for(people.operator, "api").patch(
        f"/api/v1/deviations/{deviation.pk}/", {"classification": "minor"}, format="json"
    )
    assert refused.status_code == 400
    assert "reason and a signature" in str(refused.json())
    assert_nothing_written(before)
    done = client_for(people.qa, "api").post(reclassify, change)
    assert done.status_code == 201
    assert done.json()["classification"] == "minor"
    assert DeviationReclassification.objects.filter(deviation=deviation).count() == 1


@pytest.mark.urs("URS-366")
@pytest.mark.urs("URS-371")
def test_conditional_release_signatures_follow_up_and_final_certification_over_the_api(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch)
    url = f"/api/v1/batches/{batch.pk}/"
    plan = {"password": PASSWORD, "positive_result_plan": "Call the physician and start the antibiotic protocol."}
    assert client_for(people.qa, "api").post(url + "release-conditionally/", plan).status_code == 201
    before = gmp_row_counts()
    refused = client_for(people.qp, "api").post(url + "certify/", {"password": PASSWORD})
    assert refused.status_code == 409
    assert "medical director" in refused.json()["detail"]
    assert (
        client_for(people.qa, "api").post(url + "authorise-conditional-release/", {"password": PASSWORD}).status_code
        == 403
    )
    assert_nothing_written(before)
    for user, slug in ((people.medical_director, "authorise"), (people.clinician, "acknowledge")):
        answer = client_for(user, "api").post(url + f"{slug}-conditional-release/", {"password": PASSWORD})
        assert answer.status_code == 200
    assert client_for(people.qp, "api").post(url + "certify/", {"password": PASSWORD}).status_code == 201
    early = client_for(people.qp, "api").post(url + "certify-final/", {"password": PASSWORD})
    assert early.status_code == 409
    record_result(people, batch, "sterility", "no growth", sample=batch.qc_samples.first())
    closed = client_for(people.qa, "api").post(
        url + "close-follow-up/", {"password": PASSWORD, "reason": "No growth at 14 days."}
    )
    assert closed.status_code == 200
    final = client_for(people.qp, "api").post(url + "certify-final/", {"password": PASSWORD})
    assert final.status_code == 200
    assert final.json()["status"] == "released"
