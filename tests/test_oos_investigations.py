"""OOS investigations (FDA guidance), retests under them, and release-critical deviation changes."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from batches import formatting
from batches.accounts.language import account_language_set
from batches.exceptions import StateConflict
from batches.models import BatchDisposition, ElectronicSignature
from batches.release import disposition as release
from qc.models import Deviation, DeviationReclassification, OosInvestigation, QcResult
from qc.selectors import release_gate
from qc.services import deviations
from qc.services.investigations import investigation_close, investigation_record, retest_approve
from tests.factories import PASSWORD, Personas, qc_sample, quarantined_batch, record_passing_qc, record_result
from tests.helpers import assert_nothing_written, gmp_row_counts, staff_client_for

pytestmark = pytest.mark.django_db

PLAN = "Retest the retained vial in duplicate, second analyst, fresh reagent lot."
FULL_ANSWER = {
    "investigation": "Reviewed sampling, transport and the run.",
    "root_cause": "Cytometer gating drift, confirmed on the control beads.",
    "impact": "None on the product: the retest on the retained vial passes.",
    "capa": "Daily bead check before every run.",
}


def _oos_purity(people: Personas):
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=("cd133_purity",))
    failing = record_result(people, batch, "cd133_purity", "65", "%")
    return batch, failing, Deviation.objects.get(source_result=failing)


@pytest.mark.urs("URS-360")
def test_an_oos_result_opens_its_phase_i_investigation_which_moves_to_phase_ii_without_a_lab_error(
    people: Personas,
) -> None:
    batch, failing, deviation = _oos_purity(people)
    investigation = OosInvestigation.objects.get(result=failing)
    assert (investigation.deviation, investigation.batch, investigation.phase) == (deviation, batch, "laboratory")
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as refused:
        investigation_close(actor=people.qa, investigation_id=investigation.pk, password=PASSWORD)
    assert set(refused.value.message_dict) == {"hypotheses", "laboratory_error", "conclusion"}
    assert_nothing_written(before)

    investigation_record(
        actor=people.qc_analyst,
        investigation_id=investigation.pk,
        hypotheses="Gating drift; pipetting error; sample mix-up. Checked beads, pipettes, labels.",
        laboratory_error=False,
    )
    investigation.refresh_from_db()
    assert investigation.phase == "full_scale"  # no laboratory error: phase II
    with pytest.raises(ValidationError, match="reason"):
        investigation_record(actor=people.qc_analyst, investigation_id=investigation.pk, hypotheses="Other text.")
    investigation_record(
        actor=people.qa,
        investigation_id=investigation.pk,
        conclusion="No assignable cause; the OOS result stands and the batch is rejected.",
    )
    closed = investigation_close(actor=people.qa, investigation_id=investigation.pk, password=PASSWORD)
    assert closed.status == "closed"
    assert closed.closed_by == people.qa
    assert ElectronicSignature.objects.on(closed).filter(meaning="approved", signer=people.qa).exists()
    with pytest.raises(StateConflict, match="closed and read-only"):
        investigation_record(actor=people.qa, investigation_id=investigation.pk, conclusion="Rewritten.")


@pytest.mark.urs("URS-361")
def test_a_retest_without_qa_approval_or_under_another_deviation_is_refused_and_every_run_stays_visible(
    people: Personas,
) -> None:
    batch, _, deviation = _oos_purity(people)
    retained = qc_sample(people, batch)
    own_minor = deviations.deviation_open(
        actor=people.qc_analyst,
        batch_id=batch.pk,
        kind="unplanned",
        classification="minor",
        description="Analyst's own deviation to cover a repeat.",
    )
    before = gmp_row_counts()
    with pytest.raises(
        ValidationError,
        match=f"only under that result's OOS investigation \\({deviation.number}\\), not under {own_minor.number}",
    ):
        record_result(people, batch, "cd133_purity", "75", "%", investigation_id=own_minor.pk, sample=retained)
    with pytest.raises(ValidationError, match=f"QA has not approved a retest plan.*under {deviation.number}"):
        record_result(people, batch, "cd133_purity", "75", "%", investigation_id=deviation.pk, sample=retained)
    assert_nothing_written(before)

    investigation = deviation.oos_investigation
    with pytest.raises(ValidationError, match="assignable laboratory error"):
        retest_approve(
            actor=people.qa, investigation_id=investigation.pk, kind="invalidation", plan=PLAN, password=PASSWORD
        )
    with pytest.raises(PermissionDenied, match="QA reviewer"):
        retest_approve(
            actor=people.qc_analyst, investigation_id=investigation.pk, kind="retest", plan=PLAN, password=PASSWORD
        )
    assert_nothing_written(before)
    approval = retest_approve(
        actor=people.qa, investigation_id=investigation.pk, kind="retest", plan=PLAN, password=PASSWORD
    )
    assert ElectronicSignature.objects.on(approval).get(meaning="approved").signer == people.qa
    retest = record_result(people, batch, "cd133_purity", "75", "%", investigation_id=deviation.pk)
    assert retest.investigation == deviation
    runs = list(QcResult.objects.filter(batch=batch, test="cd133_purity").values_list("numeric_value", flat=True))
    assert [str(v) for v in runs] == ["65.0000", "75.0000"]  # every run stays on record


@pytest.mark.urs("URS-362")
def test_release_is_refused_while_an_oos_investigation_is_open_even_after_reclassification(people: Personas) -> None:
    batch, _, deviation = _oos_purity(people)
    investigation = deviation.oos_investigation
    retest_approve(actor=people.qa, investigation_id=investigation.pk, kind="retest", plan=PLAN, password=PASSWORD)
    record_result(people, batch, "cd133_purity", "75", "%", investigation_id=deviation.pk)
    deviations.deviation_update(actor=people.qc_analyst, deviation_id=deviation.pk, values=FULL_ANSWER)
    deviations.deviation_reclassify(
        actor=people.qa,
        deviation_id=deviation.pk,
        classification="minor",
        reason="Gating drift confirmed; product unaffected.",
        password=PASSWORD,
    )
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=r"OOS investigation of CD133\+ purity 65 % .* is open"):
        release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)
    with pytest.raises(StateConflict, match="closes its OOS investigation"):
        deviations.deviation_close(actor=people.qa, deviation_id=deviation.pk, password=PASSWORD, closure_summary="ok")

    investigation_record(
        actor=people.qc_analyst,
        investigation_id=investigation.pk,
        hypotheses="Gating drift suspected; bead check run.",
        laboratory_error=True,
        assignable_cause="Gating template drifted after the cytometer service.",
        conclusion="Laboratory error; the original result is invalid, the retest is reportable.",
    )
    investigation_close(actor=people.qa, investigation_id=investigation.pk, password=PASSWORD)
    assert "oos_investigation_open" not in [f.code for f in release_gate(batch).findings]


@pytest.mark.urs("URS-363")
def test_release_is_refused_with_an_open_deviation_lacking_an_impact_assessment_and_lists_what_it_acknowledged(
    people: Personas,
) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    deviation = deviations.deviation_open(
        actor=people.operator, batch_id=batch.pk, kind="planned", classification="minor", description="Planned delay."
    )
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=f"Deviation {deviation.number} .* without an impact assessment"):
        release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)
    deviations.deviation_update(
        actor=people.operator, deviation_id=deviation.pk, values={"impact": "None: within the validated hold time."}
    )
    decided = release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    acknowledged = [f["message"] for f in decided.acknowledged or []]
    assert any(deviation.number in m and "is open" in m for m in acknowledged)
    assert any("within the validated hold time" in m for m in acknowledged)
    signature = ElectronicSignature.objects.on(decided).get(meaning="released")
    assert "within the validated hold time" in signature.content  # signed with the decision


@pytest.mark.urs("URS-364")
def test_a_refused_close_names_each_missing_field_once_and_a_rejected_batch_needs_the_disposal(
    people: Personas,
) -> None:
    batch = quarantined_batch(people)
    deviation = deviations.deviation_open(
        actor=people.operator, batch_id=batch.pk, kind="unplanned", classification="minor", description="Label smudged."
    )
    release.batch_reject(actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="Identity label unreadable.")
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as refused:
        deviations.deviation_close(actor=people.qa, deviation_id=deviation.pk, password=PASSWORD, closure_summary="ok")
    messages = {field: list(text) for field, text in refused.value.message_dict.items()}
    assert messages == {
        "investigation": [f"Investigation is required before QA closes deviation {deviation.number}."],
        "root_cause": [f"Root cause is required before QA closes deviation {deviation.number}."],
        "impact": [f"Impact assessment is required before QA closes deviation {deviation.number}."],
        "capa": [f"CAPA (corrective and preventive action) is required before QA closes deviation {deviation.number}."],
        "disposal": [f"Disposal of the product is required before QA closes deviation {deviation.number}."],
    }
    assert_nothing_written(before)
    deviations.deviation_update(
        actor=people.operator,
        deviation_id=deviation.pk,
        values={**FULL_ANSWER, "disposal": "Destroyed as clinical waste on 2026-11-30, witnessed (form DW-17)."},
    )
    closed = deviations.deviation_close(
        actor=people.qa, deviation_id=deviation.pk, password=PASSWORD, closure_summary="Closed with disposal."
    )
    assert (closed.disposal or "").startswith("Destroyed")
    page = staff_client_for(people.qa).get(reverse("admin:qc_deviation_change", args=[deviation.pk])).content.decode()
    assert f"Closed by qa_reviewer at {formatting.moment(closed.closed_at)}" in page


@pytest.mark.urs("URS-365")
def test_a_reclassification_needs_a_reason_and_qa_signature_and_shows_on_the_review_page_and_disposition(
    people: Personas,
) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    deviation = deviations.deviation_open(
        actor=people.operator, batch_id=batch.pk, kind="unplanned", classification="major", description="Bag leak."
    )
    deviations.deviation_update(actor=people.operator, deviation_id=deviation.pk, values=FULL_ANSWER)
    before = gmp_row_counts()
    with pytest.raises(ValidationError, match="reason"):
        deviations.deviation_reclassify(
            actor=people.qa, deviation_id=deviation.pk, classification="minor", reason="", password=PASSWORD
        )
    with pytest.raises(PermissionDenied, match="QA reviewer"):
        deviations.deviation_reclassify(
            actor=people.operator, deviation_id=deviation.pk, classification="minor", reason="Small.", password=PASSWORD
        )
    assert_nothing_written(before)
    change = deviations.deviation_reclassify(
        actor=people.qa,
        deviation_id=deviation.pk,
        classification="minor",
        reason="Leak at the sampling port only; closed system intact.",
        password=PASSWORD,
    )
    assert (change.from_classification, change.to_classification) == ("major", "minor")
    assert ElectronicSignature.objects.on(change).get(meaning="approved").signer == people.qa
    assert DeviationReclassification.objects.filter(deviation=deviation).count() == 1

    client = Client()
    client.force_login(people.qa)
    page = client.get(reverse("admin:qc_review_batch", args=[batch.pk])).content.decode()
    assert f"Deviation {deviation.number} reclassified from major to minor" in page
    assert "closed system intact" in page

    decided = release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    reclassified = [f for f in decided.gate["exceptions"] if f["code"] == "deviation_reclassified"]
    assert len(reclassified) == 1
    assert "from major to minor" in reclassified[0]["message"]
    signature = ElectronicSignature.objects.on(decided).get(meaning="released")
    assert "reclassified from major to minor" in signature.content
    assert BatchDisposition.objects.filter(batch=batch).count() == 1


@pytest.mark.urs("URS-360")
@pytest.mark.urs("URS-365")
def test_the_admin_pages_record_the_investigation_approve_the_retest_and_reclassify(people: Personas) -> None:
    _, _, deviation = _oos_purity(people)
    investigation = deviation.oos_investigation
    analyst = Client()
    analyst.force_login(people.qc_analyst)
    recorded = analyst.post(
        reverse("admin:qc_oosinvestigation_record", args=[investigation.pk]),
        {"hypotheses": "Gating drift; pipetting.", "laboratory_error": "no", "assignable_cause": "", "conclusion": ""},
    )
    assert recorded.status_code == 302
    investigation.refresh_from_db()
    assert investigation.phase == "full_scale"
    refused = analyst.post(
        reverse("admin:qc_oosinvestigation_approve", args=[investigation.pk]),
        {"kind": "retest", "plan": PLAN, "password": PASSWORD},
    )
    assert refused.status_code in (200, 403)
    assert not investigation.approvals.exists()

    qa = Client()
    qa.force_login(people.qa)
    approved = qa.post(
        reverse("admin:qc_oosinvestigation_approve", args=[investigation.pk]),
        {"kind": "retest", "plan": PLAN, "password": PASSWORD},
    )
    assert approved.status_code == 302
    assert investigation.approvals.count() == 1
    blank = qa.post(
        reverse("admin:qc_deviation_reclassify", args=[deviation.pk]),
        {"classification": "minor", "reason": "", "password": PASSWORD},
    )
    assert blank.status_code == 200
    assert not DeviationReclassification.objects.exists()
    done = qa.post(
        reverse("admin:qc_deviation_reclassify", args=[deviation.pk]),
        {"classification": "minor", "reason": "Laboratory cause suspected.", "password": PASSWORD},
    )
    assert done.status_code == 302
    deviation.refresh_from_db()
    assert deviation.classification == "minor"
    page = qa.get(reverse("admin:qc_deviation_change", args=[deviation.pk])).content.decode()
    assert reverse("admin:qc_deviation_reclassify", args=[deviation.pk]) in page
    home = qa.get(reverse("admin:index")).content.decode()
    assert "Open OOS investigations" in home
    listing = qa.get(reverse("admin:qc_oosinvestigation_changelist") + "?status__exact=open").content.decode()
    assert deviation.number in listing


def test_a_deviation_and_its_investigation_offer_each_reader_only_the_actions_their_roles_allow(
    people: Personas,
) -> None:
    _, _, deviation = _oos_purity(people)
    investigation = deviation.oos_investigation
    pages = {
        "qc_deviation": (deviation.pk, ("update", "reclassify", "close")),
        "qc_oosinvestigation": (investigation.pk, ("record", "approve", "close")),
    }
    # What each role may do: QA everything, the analyst records, the auditor reads.
    allowed = {people.qa: 3, people.qc_analyst: 1, people.auditor: 0}
    for user, count in allowed.items():
        client = staff_client_for(user)
        for page, (pk, actions) in pages.items():
            content = client.get(reverse(f"admin:{page}_change", args=[pk])).content.decode()
            links = [f'href="{reverse(f"admin:{page}_{action}", args=[pk])}"' for action in actions]
            expected = [True] * count + [False] * (len(actions) - count)
            assert [link in content for link in links] == expected, (user, page)
    account_language_set(actor=people.qa, user=people.qa, language="es")
    spanish = staff_client_for(people.qa).get(reverse("admin:qc_deviation_change", args=[deviation.pk])).text
    assert "Registrar la investigación" in spanish
    assert "Cerrar la desviación" in spanish
    assert "Record investigation" not in spanish
    page = reverse("admin:qc_oosinvestigation_change", args=[investigation.pk])
    title = staff_client_for(people.qa).get(page).text
    assert "Investigación OOS de" in title
    assert "OOS investigation of" not in title
