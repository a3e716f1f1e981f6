"""API and admin of batch records: request, status, audited download, verification of an upload."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from batches.models import BatchDocument, DocumentDownload
from batches.release import documents
from tests.factories import walk_batch
from tests.helpers import client_for


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.mark.urs("URS-094")
def test_api_request_queues_a_record_and_an_operator_is_refused(people, media) -> None:
    batch = walk_batch(people, "quarantine")
    refused = client_for(people.operator, "api").post("/api/v1/documents/", {"batch": batch.pk}, format="json")
    assert refused.status_code == 403
    assert not BatchDocument.objects.exists()
    answer = client_for(people.qa, "api").post(
        "/api/v1/documents/", {"batch": batch.pk, "reason": "inspection"}, format="json"
    )
    assert answer.status_code == 202, answer.content
    assert (answer.json()["status"], answer.json()["revision"]) == ("queued", 1)
    listed = client_for(people.auditor, "api").get(f"/api/v1/documents/?batch={batch.pk}")
    assert listed.json()["results"][0]["status"] == "queued"
    missing = client_for(people.qa, "api").post("/api/v1/documents/", {"batch": 999999}, format="json")
    assert missing.status_code == 400


@pytest.mark.urs("URS-095")
def test_api_download_is_audited_and_verify_reports_the_batch_and_revision(people, media, signing_pki) -> None:
    batch = walk_batch(people, "quarantine")
    document = documents.document_request(batch=batch, kind="on_request", actor=people.qa)
    documents.document_build(document_id=document.pk)
    answer = client_for(people.auditor, "api").get(f"/api/v1/documents/{document.pk}/download/")
    assert answer.status_code == 200
    data = b"".join(answer.streaming_content)
    assert DocumentDownload.objects.get().user == people.auditor
    verified = APIClient().post("/api/v1/verify/", {"file": SimpleUploadedFile("r.pdf", data)}, format="multipart")
    body = verified.json()
    assert (body["ok"], body["batch_number"], body["revision"]) == (True, batch.batch_number, 1)
    forged = APIClient().post("/api/v1/verify/", {"file": SimpleUploadedFile("r.pdf", data[:-10])}, format="multipart")
    assert forged.status_code == 200
    assert forged.json()["ok"] is False
    assert APIClient().post("/api/v1/verify/", {}, format="multipart").status_code == 400


@pytest.mark.urs("URS-096")
def test_admin_lists_record_status_and_downloads_through_the_audited_service(
    people, media, signing_pki, client
) -> None:
    batch = walk_batch(people, "quarantine")
    document = documents.document_request(batch=batch, kind="on_request", actor=people.qa)
    people.qa.is_staff = True
    people.qa.save()
    client.force_login(people.qa)
    page = client.get("/admin/batches/batchdocument/")
    assert page.status_code == 200
    assert b"queued" in page.content.lower()
    documents.document_build(document_id=document.pk)
    download = client.get(f"/admin/batches/batchdocument/{document.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == default_storage.open(BatchDocument.objects.get().storage_path).read()
    assert DocumentDownload.objects.get().channel == "admin"
