"""Work queues: each role's home lists what waits for that person, each item opening exactly that item; the
auditor's home, pages and API create nothing."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from batches.admin.queues import QUEUES
from batches.models import BatchDocument, DocumentKind
from batches.release import documents
from batches.services import steps
from tests.factories import PASSWORD, Personas, gcsf_values, quarantined_batch, scans, walk_batch
from tests.helpers import client_for, nothing_written
from tests.spanish_text import english_phrases, visible_text

pytestmark = pytest.mark.django_db


def queue_links(body: str, label: str) -> list[str]:
    """The item links listed under a queue's link on the home page."""
    start = body.index(f">{label}</a>")
    block = body[start : body.index("</ul>", start)]
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', block)]


@pytest.mark.urs("URS-426")
def test_the_verifiers_queue_counts_and_opens_exactly_the_steps_waiting(people: Personas) -> None:
    waiting = walk_batch(people, "mobilization", subject_code="IGX1-S201")
    steps.step_record(
        kind="gcsf",
        batch_id=waiting.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(1),
        **scans(people, waiting, "gcsf", gcsf_values(1)),
    )
    walk_batch(people, "quarantine", subject_code="IGX1-S202")  # everything verified: not in the queue

    client = client_for(people.verifier)
    body = client.get(reverse("admin:index")).content.decode()
    queue_url = reverse("admin:work_queue", args=["verify-steps"])
    assert f'<a href="{queue_url}">Steps to verify</a> <span class="cb-count">(1)</span>' in body
    assert queue_links(body, "Steps to verify") == [f"/admin/batches/batch/{waiting.pk}/change/#section-gcsf"]
    page = client.get(queue_url).content.decode()
    assert f"{waiting.batch_number}: G-CSF day 1" in page
    assert "IGX1-S202" not in page
    assert page.count("<li><a") == 1


@pytest.mark.urs("URS-426")
def test_a_batch_in_quarantine_is_in_the_analysts_and_qas_queues_and_leaves_them_when_decided(
    people: Personas,
) -> None:
    batch = quarantined_batch(people)
    assert [i.title for i in QUEUES["record-results"].items()] == [batch.batch_number]
    assert QUEUES["record-results"].items()[0].url == reverse("admin:qc_batch_results", args=[batch.pk])
    decide = QUEUES["decide"].items()
    assert [(i.title, i.url) for i in decide] == [(batch.batch_number, f"/admin/qa-review/{batch.pk}/")]
    assert decide[0].detail.startswith("waiting for CD133+ purity")
    for persona in ("qc_analyst", "qa"):
        assert client_for(getattr(people, persona)).get(reverse("admin:index")).status_code == 200
    entry = client_for(people.qc_analyst).get(
        reverse("admin:qc_batch_results", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE="es"
    )
    text = visible_text(entry.content.decode())  # the entry table names each test and sampling point in Spanish
    assert "Pureza CD133+: instrumento" in text
    assert "Producto de aféresis (antes de la selección)" in text
    assert "CD133+ purity" not in text
    assert english_phrases(text) == []


@pytest.mark.urs("URS-426")
def test_a_queue_is_refused_to_a_role_it_does_not_serve_and_an_unknown_queue_is_not_found(people: Personas) -> None:
    answer = client_for(people.clinician).get(reverse("admin:work_queue", args=["verify-steps"]))
    assert answer.status_code == 403
    assert client_for(people.verifier).get(reverse("admin:work_queue", args=["nothing"])).status_code == 404


@pytest.mark.urs("URS-433")
def test_the_auditor_cannot_issue_a_new_record_revision_and_nothing_is_written(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    with nothing_written(), pytest.raises(PermissionDenied, match="Requesting a batch record requires the role"):
        documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.auditor)
    api = client_for(people.auditor, "api")
    with nothing_written():
        answer = api.post("/api/v1/documents/", {"batch": batch.pk}, format="json")
    assert answer.status_code == 403
    assert not BatchDocument.objects.exists()


@pytest.mark.urs("URS-433")
def test_the_auditors_pages_offer_nothing_that_creates(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    client = client_for(people.auditor)
    for url in (
        reverse("admin:index"),
        reverse("admin:batches_batch_change", args=[batch.pk]),
        reverse("admin:qc_review_batch", args=[batch.pk]),
        reverse("admin:batches_delivery_desk", args=[batch.pk]),
        reverse("admin:batches_batchdocument_changelist"),
    ):
        body = client.get(url).content.decode()
        # No form that posts (the log-out form, and the admin list's own wrapper around an action menu that is
        # empty here, apart), no add link, no action menu.
        forms = [
            f
            for f in re.findall(r"<form[^>]*>", body)
            if 'method="post"' in f and "logout" not in f and "changelist-form" not in f
        ]
        assert forms == [], (url, forms)
        assert "/add/" not in body, url
        assert 'name="action"' not in body, url


@pytest.mark.urs("URS-432")
def test_the_record_list_refreshes_itself_while_a_record_is_building_and_stops_once_signed(
    people: Personas, signing_pki: dict[str, str], settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    from django.db import transaction

    batch = walk_batch(people, "quarantine")
    client = client_for(people.qa)
    url = reverse("admin:batches_batchdocument_changelist")
    assert 'http-equiv="refresh"' not in client.get(url).content.decode()
    with transaction.atomic():
        document = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)
    body = client.get(url).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in body
    assert "1 record is being built; this page refreshes itself." in body
    documents.document_build(document_id=document.pk)  # signed now (the worker's own build path)
    assert BatchDocument.objects.get(pk=document.pk).status == "signed"
    assert 'http-equiv="refresh"' not in client.get(url).content.decode()


@pytest.mark.urs("URS-427")
def test_the_apheresis_form_names_the_equipment_of_the_last_batch_and_no_lot_or_result(people: Personas) -> None:
    from batches.admin.workflow import record_initial

    walk_batch(people, "quarantine", subject_code="IGX1-S301")
    batch = walk_batch(people, "collection", subject_code="IGX1-S302")
    assert record_initial(batch, "apheresis") == {"device": "Spectra Optia", "device_serial": "OPT-2231"}
    page = client_for(people.operator).get(reverse("admin:batches_batch_change", args=[batch.pk])).content.decode()
    assert 'value="Spectra Optia"' in page
    assert 'name="total_nucleated_cells"' in page
    assert 'name="total_nucleated_cells" value' not in page
