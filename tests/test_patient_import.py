"""Patient import from a legacy register: dry run with reconciliation, staging, QA sign-off, then use."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from batches.exceptions import StateConflict
from batches.models import (
    ElectronicSignature,
    ImportStatus,
    Patient,
    PatientImport,
    PatientImportRow,
    RowOutcome,
    SignatureMeaning,
)
from batches.services.batch import batch_register
from batches.services.patient_import import patient_import_preview, patient_import_sign_off, patient_import_stage
from batches.states import BatchStatus
from tests.audit_helpers import events_for, last_event
from tests.factories import PASSWORD, Personas, approved_definition, enrolled_patient

CONSENT = (timezone.localdate() - timedelta(days=400)).isoformat()
FUTURE = (timezone.localdate() + timedelta(days=3)).isoformat()


def legacy_file(*lines: str) -> bytes:
    return ("\ufeffsubject_code,consent_date,body_weight_kg,eligibility_confirmed\n" + "\n".join(lines) + "\n").encode()


@pytest.fixture
def register_file(people: Personas) -> bytes:
    enrolled_patient(people.operator, subject_code="IGX1-S001", weight="62.5")
    existing = Patient.objects.get(subject_code="IGX1-S001")
    return legacy_file(
        f"IGX1-L001,{CONSENT},71.0,yes",
        f"igx1-l002,{CONSENT},58.5,no",
        f"IGX1-S001,{existing.consent_date.isoformat()},62.5,yes",  # already registered, identical
        f"IGX1-L003,{CONSENT},12,yes",  # implausible weight
        f"IGX1-L001,{CONSENT},71.0,yes",  # repeats line 2
        f"John Smith,{CONSENT},70,yes",  # a name, not a pseudonym
        f"IGX1-L004,{FUTURE},70,maybe",
    )


@pytest.mark.urs("URS-390")
def test_the_dry_run_reconciles_every_line_and_writes_nothing(people: Personas, register_file: bytes) -> None:
    patients = Patient.objects.count()
    preview = patient_import_preview(data=register_file)
    assert preview.reconciliation == {"lines": 7, "new": 2, "matched": 1, "conflict": 0, "rejected": 4}
    by_line = {line.line: line for line in preview.lines}
    assert [by_line[n].outcome for n in range(2, 9)] == [
        RowOutcome.NEW,
        RowOutcome.NEW,
        RowOutcome.MATCHED,
        RowOutcome.REJECTED,
        RowOutcome.REJECTED,
        RowOutcome.REJECTED,
        RowOutcome.REJECTED,
    ]
    assert by_line[3].subject_code == "IGX1-L002"
    assert "body_weight_kg" in by_line[5].message
    assert by_line[6].message == "subject_code: IGX1-L001 repeats line 2"
    assert "pseudonym" in by_line[7].message
    assert "eligibility_confirmed: 'maybe' is not yes or no" in by_line[8].message
    assert (Patient.objects.count(), PatientImport.objects.count()) == (patients, 0)


@pytest.mark.urs("URS-390")
def test_the_command_prints_the_reconciliation_and_stages_only_when_asked(
    people: Personas, register_file: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes(register_file)
    out = StringIO()
    call_command("import_patients", str(path), stdout=out)
    assert "7 lines = 2 new + 1 already registered + 0 conflicting + 4 rejected" in out.getvalue()
    assert "line 6 IGX1-L001: rejected - subject_code: IGX1-L001 repeats line 2" in out.getvalue()
    assert "Dry run: nothing was written." in out.getvalue()
    assert not PatientImport.objects.exists()
    call_command(
        "import_patients",
        str(path),
        "--stage",
        "--user",
        "operator",
        "--register",
        "Ward trial log",
        "--reason",
        "subjects enrolled before go-live",
        stdout=out,
    )
    assert PatientImport.objects.get().lines == 7


@pytest.mark.urs("URS-390")
def test_an_unreadable_file_is_refused_naming_what_is_wrong_and_nothing_is_written(people: Personas) -> None:
    for data, message in (
        (b"code,consent\nX,2020-01-01\n", "The header lacks the column(s) subject_code, consent_date, body_weight_kg"),
        (legacy_file(), "The file has a header but no data line."),
        (b"\xff\xfe\x00", "The file is not UTF-8 text"),
    ):
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            patient_import_stage(actor=people.operator, data=data, source_name="x.csv", register="R", reason="legacy")
    assert not PatientImport.objects.exists()


@pytest.mark.urs("URS-391", "URS-392")
def test_staged_patients_are_usable_only_after_qa_signs_the_import_off(people: Personas, register_file: bytes) -> None:
    staged = patient_import_stage(
        actor=people.operator,
        data=register_file,
        source_name="ward-log.csv",
        register="Ward trial log 2019-2024",
        reason="subjects enrolled before the system went live",
    )
    assert (staged.status, staged.reconciled) == (ImportStatus.STAGED, True)
    assert (staged.lines, staged.new, staged.matched, staged.rejected) == (7, 2, 1, 4)
    assert staged.rows.count() == 7
    row = staged.rows.get(line=2)
    assert (last_event(row).actor, last_event(row).reason) == (
        "operator",
        "subjects enrolled before the system went live",
    )
    assert not Patient.objects.filter(subject_code="IGX1-L001").exists()  # nothing usable yet

    refusals = (
        (people.operator, PASSWORD, PermissionDenied, "Signing off a patient import requires the role"),
        (people.qa, "wrong password", PermissionDenied, "password"),
    )
    for actor, password, error, message in refusals:
        with pytest.raises(error, match=message):
            patient_import_sign_off(actor=actor, import_id=staged.pk, password=password)
        staged.refresh_from_db()
        assert staged.status == ImportStatus.STAGED
        assert not Patient.objects.filter(subject_code="IGX1-L001").exists()

    patient_import_sign_off(actor=people.qa, import_id=staged.pk, password=PASSWORD)
    staged.refresh_from_db()
    assert (staged.status, staged.signed_off_by) == (ImportStatus.SIGNED_OFF, people.qa)
    signature = ElectronicSignature.objects.on(staged).get(meaning=SignatureMeaning.APPROVED)
    assert signature.signer == people.qa
    imported = Patient.objects.get(subject_code="IGX1-L001")
    assert (imported.body_weight_kg, imported.eligibility_confirmed, imported.enrolled_by) == (
        71,
        True,
        people.operator,
    )
    event = events_for(imported)[0]
    assert (event.action, event.actor) == ("insert", "qa_reviewer")
    assert event.reason == (
        f"imported from Ward trial log 2019-2024 (ward-log.csv, line 2), import #{staged.pk} signed off"
    )
    assert PatientImportRow.objects.get(patient_import=staged, line=2).patient == imported
    assert Patient.objects.filter(subject_code__in=["IGX1-L003", "IGX1-L004"]).count() == 0

    with pytest.raises(StateConflict, match="is signed off by qa: patients created; it cannot be signed off"):
        patient_import_sign_off(actor=people.qa, import_id=staged.pk, password=PASSWORD)

    definition = approved_definition(people.qa, people.qp)
    batch = batch_register(actor=people.operator, patient_id=imported.pk, process_definition_id=definition.pk)
    assert batch.status == BatchStatus.REGISTERED


@pytest.mark.urs("URS-391")
def test_an_import_that_conflicts_with_the_register_cannot_be_signed_off(people: Personas) -> None:
    enrolled_patient(people.operator, subject_code="IGX1-S001", weight="62.5")
    staged = patient_import_stage(
        actor=people.operator,
        data=legacy_file(f"IGX1-S001,{CONSENT},80,yes", f"IGX1-L010,{CONSENT},70,yes"),
        source_name="log.csv",
        register="Ward log",
        reason="legacy subjects",
    )
    assert staged.conflicts == 1
    assert "registered patient IGX1-S001 differs in: consent_date, body_weight_kg" in staged.rows.get(line=2).message
    with pytest.raises(ValidationError, match=r"1 line\(s\) conflict with registered patients \(line 2\)"):
        patient_import_sign_off(actor=people.qa, import_id=staged.pk, password=PASSWORD)
    staged.refresh_from_db()
    assert staged.status == ImportStatus.STAGED
    assert not Patient.objects.filter(subject_code="IGX1-L010").exists()


@pytest.mark.urs("URS-391")
def test_the_admin_stages_an_upload_and_qa_signs_it_off_with_a_signature(
    people: Personas, register_file: bytes, client: Client
) -> None:
    client.force_login(people.operator)
    upload = SimpleUploadedFile("ward-log.csv", register_file, content_type="text/csv")
    response = client.post(
        "/admin/batches/patientimport/add/",
        {"file": upload, "register": "Ward trial log", "reason": "subjects enrolled before go-live"},
    )
    staged = PatientImport.objects.get()
    assert response.status_code == 302
    page = client.get(f"/admin/batches/patientimport/{staged.pk}/change/").content.decode()
    assert "IGX1-L001 repeats line 2" in page
    sign_off = f"/admin/batches/patientimport/{staged.pk}/sign-off/"
    assert client.get(sign_off).status_code == 403  # the importer is no QA reviewer

    client.force_login(people.qa)
    assert "Sign off this import" in client.get(f"/admin/batches/patientimport/{staged.pk}/change/").content.decode()
    refused = client.post(sign_off, {"password": "wrong", "confirm": "on"})
    assert refused.status_code == 200
    assert "password" in refused.content.decode().lower()
    assert not Patient.objects.filter(subject_code="IGX1-L001").exists()
    assert client.post(sign_off, {"password": PASSWORD, "confirm": "on"}).status_code == 302
    assert Patient.objects.filter(subject_code__in=["IGX1-L001", "IGX1-L002"]).count() == 2
