"""Batch-record documents through the services, on the real database (no worker needed)."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage

from batches.exceptions import StateConflict
from batches.models import BatchDocument, DocumentDownload, DocumentKind, DocumentStatus
from batches.release import documents
from batches.snapshot import Snapshot
from tests.factories import walk_batch


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path


@pytest.mark.urs("URS-080")
def test_snapshot_of_a_walked_batch_holds_steps_signatures_transitions_and_audit_events(people, media) -> None:
    batch = walk_batch(people, "quarantine")
    document = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)
    snap = Snapshot.from_dict(document.snapshot)
    assert snap.cover.batch_number == batch.batch_number
    assert snap.cover.subject_code == "IGX1-S001"
    assert [s.kind for s in snap.steps] == ["gcsf"] * 4 + ["apheresis", "selection"]
    assert all(s.verified_by for s in snap.steps)
    assert {s.meaning for s in snap.signatures} == {"Performed", "Verified"}
    assert [t.to_status for t in snap.transitions][-1] == "Quarantine"
    assert any(e.record.startswith("CD133+ selection") for e in snap.audit_trail)
    assert not any("document" in e.record.lower() for e in snap.audit_trail)
    assert document.snapshot_sha256 == snap.sha256()
    assert (document.status, document.revision) == (DocumentStatus.QUEUED, 1)


@pytest.mark.urs("URS-081")
def test_building_a_requested_record_stores_a_signed_pdf_and_a_second_build_changes_nothing(
    people, media, signing_pki
) -> None:
    batch = walk_batch(people, "quarantine")
    document = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)
    assert documents.document_build(document_id=document.pk) == "signed"
    document.refresh_from_db()
    data = default_storage.open(document.storage_path).read()
    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == document.sha256
    assert document.page_count
    assert document.page_count >= 3
    assert documents.document_build(document_id=document.pk) == "signed"
    assert BatchDocument.objects.filter(batch=batch).count() == 1
    report = documents.document_verify(data=data)
    assert report.ok, report
    assert (report.batch_number, report.revision) == (batch.batch_number, 1)


@pytest.mark.urs("URS-082")
def test_a_new_request_makes_a_new_revision_and_never_overwrites_the_old_one(people, media, signing_pki) -> None:
    batch = walk_batch(people, "quarantine")
    first = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)
    documents.document_build(document_id=first.pk)
    second = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qp)
    documents.document_build(document_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.revision, second.revision) == (1, 2)
    assert first.storage_path != second.storage_path
    assert first.status == DocumentStatus.SIGNED
    report = documents.document_verify(data=default_storage.open(first.storage_path).read())
    assert report.ok
    assert report.superseded_by == 2


@pytest.mark.urs("URS-083")
def test_record_requests_are_refused_for_wrong_roles_and_states_and_change_nothing(people, media) -> None:
    batch = walk_batch(people, "quarantine")
    with pytest.raises(PermissionDenied):
        documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.operator)
    with pytest.raises(StateConflict, match="released"):
        documents.document_request(batch=batch, kind=DocumentKind.RELEASE_RECORD, actor=people.qa)
    with pytest.raises(StateConflict, match="closed"):
        documents.document_request(batch=batch, kind=DocumentKind.FINAL_RECORD, actor=people.qa)
    assert not BatchDocument.objects.exists()


@pytest.mark.urs("URS-084")
def test_a_download_by_qa_is_recorded_and_an_operator_may_not_download(people, media, signing_pki) -> None:
    batch = walk_batch(people, "quarantine")
    document = documents.document_request(batch=batch, kind=DocumentKind.ON_REQUEST, actor=people.qa)
    documents.document_build(document_id=document.pk)
    with pytest.raises(PermissionDenied):
        documents.document_download(document_id=document.pk, actor=people.operator, channel="api")
    assert not DocumentDownload.objects.exists()
    _, handle = documents.document_download(document_id=document.pk, actor=people.qp, channel="api")
    assert handle.read(4) == b"%PDF"
    assert DocumentDownload.objects.get().user == people.qp
