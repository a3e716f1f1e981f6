"""Audit-trail pages (admin) and API: who, what, when, why, old → new; exports with their SHA-256; roles."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from batches.models import Batch, LotCertificate
from batches.services import batch as batch_services
from tests.factories import Personas, walk_batch
from tests.helpers import client_for, staff_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(people: Personas) -> Batch:
    batch = walk_batch(people, "mobilization")
    batch_services.batch_cancel(actor=people.operator, batch_id=batch.pk, reason="patient withdrew consent")
    return batch


@pytest.mark.urs("URS-032")
@pytest.mark.parametrize("role", ["auditor", "qa", "qp"])
def test_the_batch_audit_trail_shows_who_what_when_why_and_old_to_new(
    people: Personas, batch: Batch, role: str
) -> None:
    page = staff_client_for(getattr(people, role)).get(reverse("admin:batches_batch_audit", args=[batch.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "patient withdrew consent" in html  # why
    assert "<del>Mobilization</del>" in html  # a status in words; the export keeps its code
    assert "<ins>Cancelled</ins>" in html  # old → new
    assert "operator" in html  # who
    entry = page.context["entries"][-1]
    assert entry.at_utc_iso in html  # when, UTC
    assert entry.at_local.strftime("%Y-%m-%d %H:%M:%S") in html  # and local


@pytest.mark.urs("URS-032")
@pytest.mark.parametrize("role", ["operator", "verifier", "clinician", "admin"])
def test_the_batch_audit_trail_is_refused_to_other_roles(people: Personas, batch: Batch, role: str) -> None:
    page = staff_client_for(getattr(people, role)).get(reverse("admin:batches_batch_audit", args=[batch.pk]))
    assert page.status_code == 403


@pytest.mark.urs("URS-034")
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_carries_the_sha256_shown_on_the_page(people: Personas, batch: Batch, fmt: str) -> None:
    client = staff_client_for(people.auditor)
    page = client.get(reverse("admin:batches_batch_audit", args=[batch.pk]))
    download = client.get(reverse("admin:batches_batch_audit_export", args=[batch.pk, fmt]))
    digest = hashlib.sha256(download.content).hexdigest()
    assert download["X-Content-SHA256"] == digest
    assert f'<code class="sha256">{digest}</code>' in page.content.decode()
    assert batch.batch_number in download["Content-Disposition"]
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(download.content.decode())))
        status = next(r for r in rows if r["field"] == "status" and r["new"] == "cancelled")
        assert (status["old"], status["actor"], status["reason"]) == (
            "mobilization",
            "operator",
            "patient withdrew consent",
        )
    else:
        document = json.loads(download.content)
        assert document["batch"] == batch.batch_number
        assert document["event_count"] == len(document["events"]) == len(page.context["entries"])


@pytest.mark.urs("URS-033")
def test_an_auditor_sees_a_users_activity_and_qa_does_not(people: Personas, batch: Batch) -> None:
    url = reverse("admin:audit_user_activity", args=[people.operator.pk])
    page = staff_client_for(people.auditor).get(url)
    assert page.status_code == 200
    entries = page.context["entries"]
    assert entries
    assert {e.actor for e in entries} == {"operator"}
    assert entries[0].reason == "patient withdrew consent"  # newest first
    assert "enrolment" in page.content.decode()
    assert staff_client_for(people.qa).get(url).status_code == 403
    # A certificate's file reads as its digest and size, not as Python's notation of its bytes.
    certificate = LotCertificate.objects.select_related("lot").first()
    assert certificate is not None
    actor = LotCertificate.pgh_event_model.objects.get(pgh_obj_id=certificate.pk).pgh_context["actor"]  # type: ignore[attr-defined]
    received = staff_client_for(people.auditor).get(
        reverse("admin:audit_user_activity", args=[User.objects.get(username=actor).pk])
    )
    digest = hashlib.sha256(bytes(certificate.content)).hexdigest()
    assert f"SHA-256 {digest} ({len(certificate.content)} B)" in received.content.decode()
    assert "b&#x27;%PDF" not in received.content.decode()


@pytest.mark.urs("URS-035")
def test_the_api_serves_the_trail_its_exports_and_user_activity_read_only(people: Personas, batch: Batch) -> None:
    client = client_for(people.qp, "api")
    trail = client.get(f"/api/v1/batches/{batch.pk}/audit-trail/")
    assert trail.status_code == 200
    cancelled = [e for e in trail.json()["results"] if any(c["new"] == "cancelled" for c in e["changes"])]
    assert cancelled[0]["reason"] == "patient withdrew consent"
    assert cancelled[0]["at_utc"].endswith("+00:00")
    export = client.get(f"/api/v1/batches/{batch.pk}/audit-trail/export.json")
    assert export["X-Content-SHA256"] == hashlib.sha256(export.content).hexdigest()
    assert client.post(f"/api/v1/batches/{batch.pk}/audit-trail/").status_code == 405
    activity = client_for(people.auditor, "api").get(f"/api/v1/users/{people.operator.pk}/activity/")
    assert activity.status_code == 200
    assert {e["actor"] for e in activity.json()["results"]} == {"operator"}


@pytest.mark.urs("URS-035")
def test_the_api_refuses_other_roles_and_unknown_records(people: Personas, batch: Batch) -> None:
    refused = client_for(people.operator, "api").get(f"/api/v1/batches/{batch.pk}/audit-trail/")
    assert refused.status_code == 403
    assert "auditor" in refused.json()["detail"].lower()
    assert client_for(people.qa, "api").get(f"/api/v1/users/{people.operator.pk}/activity/").status_code == 403
    assert client_for(people.auditor, "api").get("/api/v1/batches/999999/audit-trail/export.csv").status_code == 404
    assert APIClient().get(f"/api/v1/batches/{batch.pk}/audit-trail/").status_code in (401, 403)


@pytest.mark.urs("URS-032")
def test_a_long_value_shows_its_beginning_and_opens_to_the_whole_of_it(people: Personas) -> None:
    """A record request freezes the batch's content (tens of kilobytes) in one field: the trail page and the
    batch page show its beginning, with the whole value one click (or Enter) away; short values as they are."""
    from batches.models import DocumentKind
    from batches.release import documents

    batch = walk_batch(people, "quarantine")
    document = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)
    auditor = staff_client_for(people.auditor)
    for url in (
        reverse("admin:batches_batch_audit", args=[batch.pk]),
        reverse("admin:batches_batch_change", args=[batch.pk]),
    ):
        page = auditor.get(url).content.decode()
        blocks = [b.split("</details>")[0] for b in page.split('<details class="audit-long">')[1:]]
        assert blocks, url
        for block in blocks:
            preview = html.unescape(block.split('class="audit-preview">')[1].split("…</ins>")[0])
            whole = html.unescape(block.split("</summary><ins>")[1].split("</ins>")[0])
            assert len(preview) == 240
            assert whole.startswith(preview)
            assert len(whole) > 300
            assert f"show all {len(whole)} characters" in block
            if whole.startswith("{"):  # content frozen as JSON reads as JSON, not as Python prints it
                frozen = json.loads(whole)
                assert "cover" not in frozen or frozen == document.snapshot
        assert any(batch.batch_number in html.unescape(block) and "cover" in block for block in blocks), url
        assert "<ins>Batch record on request</ins>" in page  # a short value is shown whole, outside any <details>
