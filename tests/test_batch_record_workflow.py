"""The signed records the workflow produces: at release (and certification), at closure, after a rejection."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pypdf import PdfReader

from batches import demo_chain, isbt128
from batches.audit import GMP_MODELS, event_model
from batches.exceptions import StateConflict
from batches.ledger import trail
from batches.models import Batch, BatchDocument, BatchTransition, DocumentKind, DocumentStatus
from batches.pdf.collect import take_snapshot
from batches.release import adverse_events, bedside, closure, delivery, disposition, documents
from batches.services import custody, receipt
from tests.custody_helpers import infusion_values, scan_of
from tests.factories import PASSWORD, Personas, make_user, quarantined_batch, record_passing_qc, release_batch
from tests.test_batch_record_pipeline import wait_for
from tests.workers import WorkerProcess, running_worker


@pytest.fixture
def worker_env(signing_pki, settings, tmp_path) -> dict[str, str]:
    """The worker seals with this session's development PKI and stores into this test's media root."""
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    return {**signing_pki, "CELLBATCH_MEDIA_ROOT": str(media)}


def pdf_text(data: bytes) -> str:
    """The text of every page, with line breaks inside table cells read as spaces."""
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(data)).pages)


def signed_documents(batch: Batch, kind: DocumentKind) -> list[BatchDocument]:
    return list(BatchDocument.objects.filter(batch=batch, kind=kind, status=DocumentStatus.SIGNED).order_by("revision"))


def wait_signed(batch: Batch, kind: DocumentKind, count: int, worker: WorkerProcess) -> list[BatchDocument]:
    wait_for(
        lambda: len(signed_documents(batch, kind)) >= count,
        timeout=60,
        what=f"{count} signed {kind.label.lower()}(s)",
        worker=worker,
    )
    return signed_documents(batch, kind)


def assert_sealed_and_trusted(data: bytes) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from batches import pki
    from batches.pdf.signing import asn1_certificate

    seal = PdfFileReader(BytesIO(data)).embedded_signatures[-1]
    status = validate_pdf_signature(seal, ValidationContext(trust_roots=[asn1_certificate(pki.trust_roots()[0])]))
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)


def hand_sample_to_qc(people: Personas, batch: Batch) -> None:
    event = custody.custody_hand_over(
        actor=people.operator,
        batch_id=batch.pk,
        kind="lab_to_qc",
        from_location="Cell processing laboratory",
        to_location="QC laboratory",
        handed_over_at=timezone.now() - timedelta(minutes=6),
        temperature_c=Decimal("4.0"),
        sample_reference=f"{batch.batch_number}-QC1",
    )
    receipt.custody_receive(
        actor=people.qc_analyst,
        custody_event_id=event.pk,
        scanned_data=scan_of(batch),
        received_at=timezone.now() - timedelta(minutes=5),
        temperature_c=Decimal("4.5"),
    )


def deliver_and_close(people: Personas, batch: Batch) -> None:
    """Dispatch, receipt at radiology, two-person bedside check, infusion, an adverse event, closure by QA."""
    second = make_user("clinician_b", "clinician", first_name="Béatrice", last_name="Côté")
    event = delivery.batch_dispatch(
        actor=people.operator,
        batch_id=batch.pk,
        to_location="Interventional radiology, room 2",
        temperature_c=Decimal("4.0"),
        password=PASSWORD,
    )
    demo_chain.receive(first=second, receiver=people.clinician, event=event, scan=scan_of(batch))
    # As at the desk: the first scan recorded now, signed with the infusion (one signed manifest of both).
    bedside.bedside_check_scan(
        actor=people.clinician,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code=batch.patient.subject_code,
    )
    bedside.bedside_check_confirm(
        actor=second,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code=batch.patient.subject_code,
        password=PASSWORD,
    )
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    adverse_events.adverse_event_record(
        actor=people.clinician,
        batch_id=batch.pk,
        phase="infusion",
        term="Pelvic pain",
        ctcae_grade=1,
        relatedness="possible",
        onset_at=timezone.now() - timedelta(seconds=5),
    )
    delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)


@pytest.mark.services
@pytest.mark.urs("URS-097", "URS-098")
def test_release_and_closure_produce_complete_signed_records_through_the_worker(
    transactional_db, people, worker_env
) -> None:
    from batches.ledger.seal import ledger_seal

    media = Path(worker_env["CELLBATCH_MEDIA_ROOT"])
    with running_worker(extra_env=worker_env) as worker:
        batch = quarantined_batch(people)
        hand_sample_to_qc(people, batch)
        ledger_seal()  # a checkpoint exists, so the record names the one current at issue
        # QA's decision issues no record; the QP's certification issues the release record (URS-370).
        release_batch(people, batch)
        (first,) = wait_signed(batch, DocumentKind.RELEASE_RECORD, 1, worker)

        data = (media / first.storage_path).read_bytes()
        assert_sealed_and_trusted(data)
        text = pdf_text(data)
        check = isbt128.din_check_character(batch.din)
        assert batch.din in text
        assert first.snapshot["cover"]["din_check"] == check
        for needle in (
            "Batch release record",
            "Quality control results against specification",
            "CD133+ purity",
            "≥ 70 %",
            "92.5 %",
            "Pass",
            "Endotoxin",
            "Qa_Reviewer (qa_reviewer), release decided (qa)",  # QA's signature: printed name and meaning
            "Final certification by the Qualified Person",
            "Product specification file",
            "PSF-IGX1 version 4.0",
            "Electronic signatures",
            "Laboratory → QC sample",
            "Appendix A. Audit trail",
            "qc_analyst",
            "sequence ",
        ):
            assert needle in text, needle

        deliver_and_close(people, batch)
        (final,) = wait_signed(batch, DocumentKind.FINAL_RECORD, 1, worker)

    data = (media / final.storage_path).read_bytes()
    assert_sealed_and_trusted(data)
    text = pdf_text(data)
    for needle in (
        "Final executed batch record",
        "Closed",
        "Laboratory → interventional radiology",
        "Bedside identity check: second clinician",
        "Béatrice Côté",
        "Left uterine artery",
        "57 × 10⁶ CD133+ cells",
        "59 × 10⁶ CD133+ cells",
        "Pelvic pain",
        "Reviewed",
    ):
        assert needle in text, needle
    assert documents.document_verify(data=data).ok
    # Every record signed, the first bedside scan too: by its clinician, in the act that recorded the infusion.
    signed = {(s["record"].split(" #")[0], s["meaning"], s["username"]) for s in final.snapshot["signatures"]}
    assert {
        ("bedside check", "Performed", "clinician"),
        ("bedside check", "Verified", "clinician_b"),
        ("infusion", "Performed", "clinician"),
        ("signature manifest", "Performed", "clinician"),
    } <= signed
    assert not [s for s in final.snapshot["signatures"] if s["status"] != "Valid"]


@pytest.mark.urs("URS-099")
def test_qa_closes_a_rejected_batch_with_a_signature_and_its_final_record_is_built_in_process(
    people, settings, tmp_path, signing_pki
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=("endotoxin", "sterility"))
    disposition.batch_reject(actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="Endotoxin test invalid")
    assert BatchDocument.objects.get(batch=batch).kind == DocumentKind.RELEASE_RECORD  # same transaction

    transitions = BatchTransition.objects.count()
    with pytest.raises(PermissionDenied):
        closure.batch_close_rejected(actor=people.operator, batch_id=batch.pk, password=PASSWORD)
    with pytest.raises(PermissionDenied):
        closure.batch_close_rejected(actor=people.qa, batch_id=batch.pk, password="wrong")
    assert (BatchTransition.objects.count(), BatchDocument.objects.count()) == (transitions, 1)

    closure.batch_close_rejected(actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="product destroyed")
    with pytest.raises(StateConflict):
        closure.batch_close_rejected(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    built = documents.documents_build_now(batch_id=batch.pk)
    assert [(d.kind, d.status) for d in built] == [
        (DocumentKind.FINAL_RECORD, DocumentStatus.SIGNED),
        (DocumentKind.RELEASE_RECORD, DocumentStatus.SIGNED),
    ]
    final = built[0]
    text = pdf_text(default_storage.open(final.storage_path).read())
    for needle in ("Final executed batch record", "Rejected", "Endotoxin test invalid", "product destroyed"):
        assert needle in text, needle
    assert "no result at the time of issue" in text  # the untested endotoxin shows as pending, not missing


@pytest.mark.urs("URS-099")
def test_the_snapshot_reads_each_section_with_a_fixed_number_of_queries(people) -> None:
    bare = quarantined_batch(people)
    full = quarantined_batch(people, subject_code="IGX1-S002")
    release_batch(people, full)
    counts = []
    for batch in (bare, full):
        with CaptureQueriesContext(connection) as queries:
            take_snapshot(batch, kind="on_request", revision=1)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


@pytest.mark.urs("URS-099")
def test_the_one_query_trail_reads_every_value_as_the_orm_does(people) -> None:
    """batch_trail reads all event tables in one UNION; it must match a per-table ORM reading exactly."""
    batch = quarantined_batch(people)
    hand_sample_to_qc(people, batch)
    release_batch(people, batch)
    deliver_and_close(people, batch)
    per_table: list[trail.Entry] = []
    for model in GMP_MODELS:
        lookup = trail.batch_lookup(model)
        if lookup:
            per_table += trail._entries(model, event_model(model).objects.filter(**{lookup: batch.pk}))
    expected = trail._ordered(per_table)
    with CaptureQueriesContext(connection) as queries:
        read = trail.batch_trail(batch)
    assert len(queries) == 1
    assert [e.as_json() for e in read] == [e.as_json() for e in expected]
    assert read == expected
    # The batch exercised the awkward types: decimals with trailing zeros, JSON, microsecond times.
    values = [c.new for e in read for c in e.changes if c.new]
    assert "4.50" in values or "4.5" in values
    assert any(e.record == "batches.BatchDocument" for e in read)
    assert any("." in (e.at_utc_iso[19:26]) for e in read)
    assert trail.batch_trail(batch, excluding=frozenset({"batches.BatchDocument"})) == [
        e for e in expected if e.record != "batches.BatchDocument"
    ]
