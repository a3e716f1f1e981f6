"""Controlled SOPs and training that gates the work (21 CFR 211.25, EU GMP chapter 2, ATMP GMP §3, 11.10(i))."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from batches import demo_people
from batches.accounts.language import account_language_set
from batches.competence import State, standing
from batches.models import ApprovalStatus, DocumentVersion, ElectronicSignature, TrainingRecord
from batches.models.signatures import SignatureMeaning
from batches.personal import SIGNING_ROLES
from batches.release import bedside, delivery, disposition
from batches.roles import Role
from batches.services import master, steps, training
from qc.services.testing import qc_result_record, qc_result_review, qc_sample_record
from tests.custody_helpers import infusion_values, scan_of
from tests.factories import (
    PASSWORD,
    Personas,
    definition_values,
    gcsf_values,
    make_user,
    qc_sample,
    quarantined_batch,
    record_passing_qc,
    record_result,
    scans,
    walk_batch,
)
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db


def refused(call: Callable[[], Any], sop: str, what: str = "") -> None:
    """``call`` is refused for want of training on ``sop`` (named with its version), and writes nothing."""
    before = gmp_row_counts()
    with pytest.raises(PermissionDenied, match=f"{what}.*requires current training on {sop} \\(") as refusal:
        call()
    assert_nothing_written(before, f"the refusal of an untrained user ({refusal.value})")


def read_training(trainer: User, trainee: User, version: DocumentVersion) -> TrainingRecord:
    """A "read and understood" training the trainer records and signs (the trainee has not signed yet)."""
    return training.training_record(
        trainer=trainer,
        trainee_id=trainee.pk,
        document_version_id=version.pk,
        trained_on=timezone.localdate(),
        method="read",
        assessment="Ten-question test, 10/10.",
        passed=True,
        password=PASSWORD,
    )


@pytest.fixture
def newcomer() -> User:
    """An account created minutes ago: every signing role, one identified person, no training at all."""
    return make_user("newcomer", *SIGNING_ROLES, trained=False, first_name="Nadia", last_name="Newman")


@pytest.mark.urs("URS-302")
def test_an_untrained_user_is_refused_at_every_gated_action_with_the_sop_named(
    people: Personas, newcomer: User
) -> None:
    """One batch walked from mobilization to closure; at each gated action the newcomer is refused first."""
    batch = walk_batch(people, "mobilization")
    gcsf = gcsf_values(1)
    lots_and_equipment = scans(people, batch, "gcsf", gcsf)
    refused(
        lambda: steps.step_record(kind="gcsf", batch_id=batch.pk, actor=newcomer, password=PASSWORD, values=gcsf),
        "SOP-MFG-001 v1",
        "G-CSF administration",
    )
    step = steps.step_record(
        kind="gcsf", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=gcsf, **lots_and_equipment
    )
    refused(
        lambda: steps.step_verify(kind="gcsf", step_id=step.pk, verifier=newcomer, password=PASSWORD),
        "SOP-MFG-001 v1",
    )
    batch = quarantined_batch(people, subject_code="IGX1-S002")
    refused(
        lambda: qc_sample_record(
            actor=newcomer, batch_id=batch.pk, step="final_product", sample_code="S-NEW-1", taken_at=timezone.now()
        ),
        "SOP-QC-001 v1",
        "QC sampling and testing",
    )
    sample = qc_sample(people, batch)
    refused(
        lambda: qc_result_record(
            actor=newcomer,
            sample_id=sample.pk,
            test="cd133_purity",
            value="91.0",
            unit="%",
            instrument="FACSCanto II",
            tested_at=timezone.now() - timedelta(minutes=1),
            password=PASSWORD,
        ),
        "SOP-QC-001 v1",
    )
    result = record_result(people, batch, "cd133_purity", Decimal("91.0"), "%", review=False, sample=sample)
    refused(
        lambda: qc_result_review(reviewer=newcomer, result_id=result.pk, password=PASSWORD),
        "SOP-QC-001 v1",
        "QC result review",
    )
    record_passing_qc(people, batch, skip=("cd133_purity",))
    for decide in (
        lambda: disposition.batch_release(actor=newcomer, batch_id=batch.pk, password=PASSWORD),
        lambda: disposition.batch_reject(actor=newcomer, batch_id=batch.pk, password=PASSWORD, reason="test reason"),
    ):
        refused(decide, "SOP-QA-001 v1", "Batch review, release or rejection")
    disposition.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    refused(
        lambda: disposition.batch_certify(actor=newcomer, batch_id=batch.pk, password=PASSWORD),
        "SOP-QA-001 v1",
        "QP certification",
    )
    disposition.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    dispatch = {"to_location": "Interventional radiology", "temperature_c": Decimal("4.0"), "password": PASSWORD}
    refused(lambda: delivery.batch_dispatch(actor=newcomer, batch_id=batch.pk, **dispatch), "SOP-CLI-001 v1")
    event = delivery.batch_dispatch(actor=people.operator, batch_id=batch.pk, **dispatch)
    from batches import demo_chain

    batch.refresh_from_db()
    # Receipt: two independent scans and the logger file (the receiver is trained; receipt is not gated).
    receipt_first = make_user("clinician_receipt", Role.CLINICIAN)
    demo_chain.receive(first=receipt_first, receiver=people.clinician, event=event, scan=scan_of(batch))
    # Both clinicians scan the bag and the patient's wristband.
    scan = {"scanned_data": scan_of(batch), "patient_subject_code": "IGX1-S002", "password": PASSWORD}
    refused(
        lambda: bedside.bedside_check_scan(actor=newcomer, batch_id=batch.pk, **scan),
        "SOP-CLI-001 v1",
        "Bedside identity check",
    )
    bedside.bedside_check_scan(actor=people.clinician, batch_id=batch.pk, **scan)
    refused(lambda: bedside.bedside_check_confirm(actor=newcomer, batch_id=batch.pk, **scan), "SOP-CLI-001 v1")
    bedside.bedside_check_confirm(actor=make_user("clinician_b", Role.CLINICIAN), batch_id=batch.pk, **scan)
    refused(
        lambda: delivery.infusion_record(actor=newcomer, batch_id=batch.pk, password=PASSWORD, **infusion_values()),
        "SOP-CLI-001 v1",
        "Infusion",
    )
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    refused(lambda: delivery.batch_close(actor=newcomer, batch_id=batch.pk, password=PASSWORD), "SOP-QA-001 v1")
    delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)


@pytest.mark.urs("URS-302")
def test_training_counts_once_trainer_and_trainee_have_signed_and_then_the_work_passes(
    people: Personas, newcomer: User
) -> None:
    batch = walk_batch(people, "mobilization")
    version = DocumentVersion.objects.get(document__number="SOP-MFG-001", version=1)
    record = read_training(people.qa, newcomer, version)
    record_gcsf = lambda: steps.step_record(  # noqa: E731
        kind="gcsf",
        batch_id=batch.pk,
        actor=newcomer,
        password=PASSWORD,
        values=gcsf_values(1),
        **scans(people, batch, "gcsf", gcsf_values(1)),
    )
    refused(record_gcsf, "SOP-MFG-001 v1")  # the trainee has not signed yet
    with pytest.raises(PermissionDenied, match="Only the trainee signs"):
        training.training_acknowledge(trainee=people.operator, record_id=record.pk, password=PASSWORD)
    training.training_acknowledge(trainee=newcomer, record_id=record.pk, password=PASSWORD)

    step = record_gcsf()

    assert step.performed_by == newcomer
    meanings = set(ElectronicSignature.objects.on(record).values_list("meaning", "signer__username"))
    assert meanings == {(SignatureMeaning.TRAINER, "qa_reviewer"), (SignatureMeaning.TRAINED, "newcomer")}
    with pytest.raises(PermissionDenied, match="cannot record your own training"):
        read_training(newcomer, newcomer, version)


@pytest.mark.urs("URS-302")
def test_performing_a_cd133_selection_alone_needs_the_supervised_practices_verifying_does_not(
    people: Personas, newcomer: User
) -> None:
    version = DocumentVersion.objects.get(document__number="SOP-MFG-002", version=1)
    assert version.supervised_practices_required == 3
    demo_people.train(trainer=people.qa, trainee=newcomer, version=version, password=PASSWORD)  # read + 3 practices
    assert (
        TrainingRecord.objects.filter(trainee=newcomer, method="supervised", trainee_signed_at__isnull=False).count()
        == 3
    )
    definition = walk_batch(people, "registered").process_definition

    assert training.training_require(newcomer, definition, "selection") == version
    untrained_hand = make_user("trainee_op", Role.OPERATOR, trained=False)
    record = read_training(people.qa, untrained_hand, version)
    training.training_acknowledge(trainee=untrained_hand, record_id=record.pk, password=PASSWORD)
    with pytest.raises(PermissionDenied, match="needs 3 signed supervised practices; 0 recorded"):
        training.training_require(untrained_hand, definition, "selection")
    assert training.training_require(untrained_hand, definition, "selection", performing=False) == version


@pytest.mark.urs("URS-303")
def test_a_superseded_version_stops_counting_after_its_successors_grace_period(people: Personas) -> None:
    definition = walk_batch(people, "registered").process_definition
    today = timezone.localdate()
    v2 = training.document_version_create(
        actor=people.qa,
        number="SOP-MFG-001",
        title="G-CSF mobilization and apheresis collection records",
        file_name="SOP-MFG-001-v2.pdf",
        content=b"%PDF-1.4 v2",
        effective_from=today,
        grace_days=10,
    )
    training.document_version_approve(version_id=v2.pk, approver=people.qa, password=PASSWORD)
    training.document_version_approve(version_id=v2.pk, approver=people.qp, password=PASSWORD)
    v1 = DocumentVersion.objects.get(document__number="SOP-MFG-001", version=1)
    assert v1.superseded_on == today

    now = standing(people.operator, v2, on=today)
    assert (now.state, now.counts, now.until) == (State.GRACE, True, today + timedelta(days=9))
    assert training.training_require(people.operator, definition, "gcsf") == v2  # still within the grace period
    later = standing(people.operator, v2, on=today + timedelta(days=10))
    assert (later.state, later.counts) == (State.LAPSED, False)
    assert f"stopped counting on {today + timedelta(days=10)}" in later.detail

    v3 = training.document_version_create(
        actor=people.qa,
        number="SOP-MFG-001",
        title="G-CSF mobilization and apheresis collection records",
        file_name="SOP-MFG-001-v3.pdf",
        content=b"%PDF-1.4 v3",
        effective_from=today + timedelta(days=1),
    )
    training.document_version_approve(version_id=v3.pk, approver=people.qa, password=PASSWORD)
    training.document_version_approve(version_id=v3.pk, approver=people.qp, password=PASSWORD)
    assert not standing(people.operator, v3, on=today + timedelta(days=1)).counts  # no grace on v3
    # v3 is not in force before tomorrow: today the work follows v2.
    assert training.training_require(people.operator, definition, "gcsf") == v2


@pytest.mark.urs("URS-303")
def test_a_new_version_without_grace_refuses_the_work_at_once_naming_the_new_version(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    v2 = training.document_version_create(
        actor=people.qa,
        number="SOP-MFG-001",
        title="G-CSF mobilization and apheresis collection records",
        file_name="SOP-MFG-001-v2.pdf",
        content=b"%PDF-1.4 v2",
        effective_from=timezone.localdate(),
    )
    training.document_version_approve(version_id=v2.pk, approver=people.qa, password=PASSWORD)
    training.document_version_approve(version_id=v2.pk, approver=people.qp, password=PASSWORD)
    record = lambda: steps.step_record(  # noqa: E731
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(1),
        **scans(people, batch, "gcsf", gcsf_values(1)),
    )
    refused(record, "SOP-MFG-001 v2")
    demo_people.train(trainer=people.qa, trainee=people.operator, version=v2, password=PASSWORD)
    assert record().performed_by == people.operator


@pytest.mark.urs("URS-300")
def test_a_controlled_document_version_keeps_its_file_hash_and_needs_two_different_approvers(
    people: Personas,
) -> None:
    content = b"%PDF-1.4 SOP-QC-002 stability sampling"
    draft = training.document_version_create(
        actor=people.qa,
        number="sop-qc-002",
        title="Stability sampling",
        file_name="SOP-QC-002.pdf",
        content=content,
        effective_from=timezone.localdate(),
        retraining_interval_days=365,
    )
    assert draft.document.number == "SOP-QC-002"
    assert draft.sha256 == hashlib.sha256(content).hexdigest()
    with default_storage.open(draft.storage_path, "rb") as stored:
        assert stored.read() == content
    with pytest.raises(ValidationError, match="is a draft; nobody is trained on a draft"):
        training.training_record(
            trainer=people.qa,
            trainee_id=people.operator.pk,
            document_version_id=draft.pk,
            trained_on=timezone.localdate(),
            method="read",
            assessment="x",
            passed=True,
            password=PASSWORD,
        )
    training.document_version_approve(version_id=draft.pk, approver=people.qa, password=PASSWORD)
    before = gmp_row_counts()
    with pytest.raises(PermissionDenied, match="needs a second approval by a different person"):
        training.document_version_approve(version_id=draft.pk, approver=people.qa, password=PASSWORD)
    assert_nothing_written(before)
    with pytest.raises(PermissionDenied, match="requires the role QA reviewer"):
        training.document_version_approve(version_id=draft.pk, approver=people.operator, password=PASSWORD)
    approved = training.document_version_approve(version_id=draft.pk, approver=people.qp, password=PASSWORD)
    assert approved.status == ApprovalStatus.APPROVED
    signers = ElectronicSignature.objects.on(approved).filter(meaning="approved")
    assert {s.signer.username for s in signers} == {"qa_reviewer", "qualified_person"}


@pytest.mark.urs("URS-301")
def test_a_definition_names_a_procedure_per_activity_and_without_one_the_work_is_refused(people: Personas) -> None:
    definition = master.process_definition_create(actor=people.qa, values=definition_values(code="IGX9"))
    master.process_definition_approve(definition_id=definition.pk, approver=people.qa, password=PASSWORD)
    definition = master.process_definition_approve(definition_id=definition.pk, approver=people.qp, password=PASSWORD)
    with pytest.raises(PermissionDenied, match="IGX9 v1 names no controlled procedure for g-csf administration"):
        training.training_require(people.operator, definition, "gcsf")
    version = DocumentVersion.objects.get(document__number="SOP-MFG-001", version=1)
    with pytest.raises(ValidationError, match="is approved; draft a new version"):
        training.procedure_assign(
            actor=people.qa, definition_id=definition.pk, activity="gcsf", document_version_id=version.pk
        )
    ours = walk_batch(people, "registered").process_definition
    named = set(ours.procedures.values_list("activity", flat=True))
    assert named == {a for p in demo_people.DEMO_PROCEDURES for a in p.activities}


@pytest.mark.urs("URS-301")
def test_the_procedures_of_a_definition_are_named_in_one_act_all_or_none(people: Personas) -> None:
    definition = master.process_definition_create(actor=people.qa, values=definition_values(code="IGX8"))
    approved = DocumentVersion.objects.get(document__number="SOP-MFG-001", version=1)
    draft = training.document_version_create(
        actor=people.qa,
        number="SOP-MFG-009",
        title="Apheresis bag handling",
        file_name="SOP-MFG-009.pdf",
        content=b"%PDF-1.4 SOP-MFG-009",
        effective_from=timezone.localdate(),
    )
    before = gmp_row_counts()
    with pytest.raises(ValidationError, match="SOP-MFG-009 v1 is not approved"):
        training.procedures_assign(
            actor=people.qa, definition_id=definition.pk, versions={"gcsf": approved.pk, "apheresis": draft.pk}
        )
    assert_nothing_written(before, "a refused naming of procedures")
    named = training.procedures_assign(
        actor=people.qa, definition_id=definition.pk, versions={"gcsf": approved.pk, "apheresis": approved.pk}
    )
    assert {(p.activity, p.document_version_id) for p in named} == {("gcsf", approved.pk), ("apheresis", approved.pk)}
    assert training.procedure_assign(
        actor=people.qa, definition_id=definition.pk, activity="apheresis", document_version_id=approved.pk
    ).pk == next(p.pk for p in named if p.activity == "apheresis")  # naming again replaces, never adds
    assert definition.procedures.count() == 2


@pytest.mark.urs("URS-302")
def test_the_trainee_signs_their_training_on_a_page_in_their_language(people: Personas, newcomer: User) -> None:
    version = DocumentVersion.objects.get(document__number="SOP-MFG-001", version=1)
    record = read_training(people.qa, newcomer, version)
    account_language_set(actor=newcomer, user=newcomer, language="es")
    client = client_for(newcomer)
    url = reverse("admin:batches_trainingrecord_acknowledge", args=[record.pk])
    page = client.get(url).content.decode()
    assert "Firme su formación en SOP-MFG-001 v1 (" in page
    signed = client.post(url, {"password": PASSWORD}, follow=True).content.decode()
    assert "Ha firmado su formación en SOP-MFG-001 v1." in signed
    assert TrainingRecord.objects.get(pk=record.pk).is_signed
