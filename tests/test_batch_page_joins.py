"""The batch page joins the parts: links per role, the late-result flag, and what is needed next after quarantine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from batches import demo_chain
from batches.admin.progress import next_steps
from batches.models import Batch
from batches.release import bedside, delivery, disposition
from qc.models import Deviation, QcResult
from qc.services.testing import qc_result_review
from tests.custody_helpers import infusion_values, scan_of
from tests.factories import (
    PASSWORD,
    Personas,
    make_user,
    qc_sample,
    quarantined_batch,
    record_passing_qc,
    record_result,
    release_batch,
    walk_batch,
)
from tests.helpers import client_for
from tests.spanish_text import english_phrases, visible_text

pytestmark = pytest.mark.django_db
PLAN = "Recall if not infused; inform the clinician and start antibiotics per protocol."


def page_of(user: Any, batch: Batch) -> str:
    client = client_for(user)
    response = client.get(reverse("admin:batches_batch_change", args=[batch.pk]))
    assert response.status_code == 200
    return response.content.decode()


def links_card(body: str) -> str:
    """The page's card of links (audit trail, documents, QA review, delivery)."""
    start = body.index('id="batch-links"')
    return body[start : body.index('<div class="cb-card', start)]


def needed(batch: Batch) -> list[str]:
    batch.refresh_from_db()
    return [step.label for step in next_steps(batch)]


def links_of(batch: Batch) -> dict[str, str]:
    return {
        "audit": reverse("admin:batches_batch_audit", args=[batch.pk]),
        "csv": reverse("admin:batches_batch_audit_export", args=[batch.pk, "csv"]),
        "json": reverse("admin:batches_batch_audit_export", args=[batch.pk, "json"]),
        "review": reverse("admin:qc_review_batch", args=[batch.pk]),
        "desk": reverse("admin:batches_delivery_desk", args=[batch.pk]),
        "labels": reverse("admin:batch_labels", args=[batch.pk]),
        "documents": f"{reverse('admin:batches_batchdocument_changelist')}?batch__id__exact={batch.pk}",
    }


@pytest.mark.urs("URS-126")
def test_the_batch_page_links_each_role_to_the_pages_it_may_open_and_every_link_works(people: Personas) -> None:
    batch = release_batch(people, quarantined_batch(people), certify=False)
    links = links_of(batch)
    users = {"auditor": people.auditor, "qa": people.qa, "qp": people.qp}
    users |= {"operator": people.operator, "clinician": people.clinician}
    seen = {}
    for role, user in users.items():
        card = links_card(page_of(user, batch))
        seen[role] = {name for name, url in links.items() if f'href="{url}"'.replace("&", "&amp;") in card}
    assert seen["auditor"] == seen["qa"] == seen["qp"] == set(links)
    assert seen["operator"] == seen["clinician"] == {"desk", "labels"}

    auditor = client_for(people.auditor)
    for name, url in links.items():
        response = auditor.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
    assert auditor.get(links["labels"])["Content-Type"] == "application/pdf"
    assert auditor.get(links["csv"])["X-Content-SHA256"]


@pytest.mark.urs("URS-126")
def test_a_late_result_flags_the_batch_at_the_top_of_its_page_and_in_the_api_detail(people: Personas) -> None:
    batch = quarantined_batch(people)
    release_batch(people, batch, conditionally=True)
    api = client_for(people.clinician, "token")
    before = api.get(f"/api/v1/batches/{batch.pk}/").json()
    assert (before["flagged"], before["late_result_alerts"]) == (False, [])
    assert 'id="late-result-flag"' not in page_of(people.operator, batch)

    record_result(people, batch, "sterility", "growth", sample=batch.qc_samples.first())
    deviation = Deviation.objects.get(batch=batch, raised_after_release=True)

    body = page_of(people.operator, batch)
    assert 'id="late-result-flag"' in body
    assert body.index('id="late-result-flag"') < body.index('id="batch-header"')
    assert deviation.number in body
    assert reverse("admin:qc_review_batch", args=[batch.pk]) in body
    assert "Handle the late result" in body

    detail = api.get(f"/api/v1/batches/{batch.pk}/").json()
    assert detail["flagged"] is True
    [alert] = detail["late_result_alerts"]
    assert (alert["number"], alert["classification"], alert["status"]) == (deviation.number, "critical", "open")


@pytest.mark.urs("URS-123")
def test_what_is_needed_next_follows_qc_release_delivery_and_closure(people: Personas) -> None:
    batch = quarantined_batch(people)
    assert needed(batch) == ["Record QC results", "QA review and release"]
    body = page_of(people.qa, batch)
    assert f'href="{reverse("admin:qc_review_batch", args=[batch.pk])}">QA review and release</a>' in body
    assert "CD133+ purity" in body

    sample = qc_sample(people, batch)
    record_passing_qc(people, batch, skip=("sterility",))
    record_result(people, batch, "sterility", "no growth", sample=sample, review=False)
    assert needed(batch) == ["Review QC results (second person)", "QA review and release"]

    for result in QcResult.objects.filter(batch=batch, verified_by__isnull=True):
        qc_result_review(reviewer=people.qc_reviewer, result_id=result.pk, password=PASSWORD)
    disposition.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert needed(batch) == ["QP certification", "Dispatch"]
    disposition.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    assert needed(batch) == ["Dispatch"]
    assert f'href="{reverse("admin:batches_delivery_desk", args=[batch.pk])}">Dispatch</a>' in page_of(
        people.operator, batch
    )

    event = delivery.batch_dispatch(
        actor=people.operator, batch_id=batch.pk, to_location="IR", temperature_c=Decimal("4.0"), password=PASSWORD
    )
    assert needed(batch) == ["Receipt in radiology"]
    demo_chain.receive(
        first=make_user("clinician_first", "clinician"), receiver=people.clinician, event=event, scan=scan_of(batch)
    )
    assert needed(batch) == ["Bedside identity check"]
    bedside.bedside_check_scan(
        actor=people.clinician,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code=batch.patient.subject_code,
        password=PASSWORD,
    )
    assert [str(step) for step in next_steps(batch)] == ["Bedside identity check: confirmation by a second clinician"]
    second = make_user("clinician_b", "clinician")
    bedside.bedside_check_confirm(
        actor=second,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code=batch.patient.subject_code,
        password=PASSWORD,
    )
    assert needed(batch) == ["Record infusion"]
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    assert needed(batch) == ["Close the batch"]
    delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert needed(batch) == ["Nothing: the batch is closed."]


@pytest.mark.urs("URS-123")
def test_a_conditionally_released_batch_still_asks_for_its_pending_result(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch)
    steps = next_steps(batch)
    assert [s.label for s in steps] == ["QA review and release"]
    assert "release conditionally while Sterility" in steps[0].detail

    disposition.batch_release_conditionally(
        actor=people.qa, batch_id=batch.pk, password=PASSWORD, positive_result_plan=PLAN
    )
    batch.refresh_from_db()
    assert next(str(s) for s in next_steps(batch)) == "Record QC results: Sterility (pending)"
    # QA's decision awaits the medical director's and physician's signatures and the QP's certification.
    assert needed(batch)[1:] == ["Conditional release signatures", "QP certification", "Dispatch"]


@pytest.mark.urs("URS-123")
def test_the_review_page_offers_a_decision_only_to_whoever_can_take_it_now(people: Personas) -> None:
    batch = release_batch(people, quarantined_batch(people), certify=False)
    review = reverse("admin:qc_review_batch", args=[batch.pk])
    qa, qp = client_for(people.qa), client_for(people.qp)
    assert 'name="decision"' not in qa.get(review).content.decode()
    offered = qp.get(review).content.decode()
    assert '<option value="certify">' in offered
    assert '<option value="release">' not in offered
    assert reverse("admin:batches_batch_change", args=[batch.pk]) in offered
    assert qp.post(review, {"decision": "certify", "password": PASSWORD}).status_code == 302
    assert needed(batch) == ["Dispatch"]
    assert 'name="decision"' not in qp.get(review).content.decode()


def test_the_step_form_speaks_the_operators_language_down_to_the_transcription_and_alert_fields(
    people: Personas,
) -> None:
    batch = walk_batch(people, "processing")
    page = client_for(people.operator).get(
        reverse("admin:batches_batch_change", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE="es"
    )
    text = visible_text(page.content.decode())
    for label in (
        "Transcrito de (fuente)",
        "Realizado por (nombre)",
        "Motivo para aceptar un valor en su intervalo de alerta",
    ):
        assert label in text, label
    assert english_phrases(text) == []
