"""QA disposition: release, conditional release, rejection, QP certification, and every refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import Batch, BatchDisposition, ElectronicSignature
from batches.release import disposition as release
from batches.signature_checks import signature_is_intact
from qc.models import QcResult
from qc.selectors import release_gate
from qc.services import deviations
from tests.factories import (
    PASSWORD,
    Personas,
    approved_definition,
    make_user,
    quarantined_batch,
    record_passing_qc,
    record_result,
    release_batch,
)
from tests.helpers import assert_nothing_written, gmp_row_counts

pytestmark = pytest.mark.django_db


@pytest.mark.urs("URS-070")
def test_batch_walks_from_quarantine_to_released_and_certified(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    assert release_gate(batch, releaser=people.qa).blocking == []

    disposition = release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    batch.refresh_from_db()
    # QA's decision precedes the certification under its own name: not yet released for administration.
    assert batch.status == "awaiting_certification"
    assert disposition.decision == "released"
    assert disposition.specification.startswith("IGX1 QC specification v1")
    assert batch.transitions.last().to_status == "awaiting_certification"
    signature = ElectronicSignature.objects.on(disposition).get(meaning="released")
    assert signature.signer == people.qa
    assert signature_is_intact(signature)
    assert release.release_outstanding(batch) == ["QP certification"]

    certification = release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    assert ElectronicSignature.objects.on(certification).get(meaning="certified").signer == people.qp
    assert release.release_outstanding(batch) == []
    batch.refresh_from_db()
    assert batch.status == "released"
    assert certification.decision == "certified"  # final: nothing pending
    dose = QcResult.objects.get(batch=batch, test="viable_cd133_dose")
    assert dose.numeric_value == Decimal("124450000")  # 131e6 × 95 %
    assert dose.verdict == "pass"


@pytest.mark.urs("URS-071")
def test_batch_is_released_conditionally_while_sterility_is_pending_with_a_written_plan(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch)  # sterility pending
    with pytest.raises(StateConflict, match="Sterility: result pending"):
        release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    before = gmp_row_counts()
    with pytest.raises(ValidationError, match="written plan"):
        release.batch_release_conditionally(
            actor=people.qa, batch_id=batch.pk, password=PASSWORD, positive_result_plan="tbd"
        )
    assert_nothing_written(before)

    disposition = release.batch_release_conditionally(
        actor=people.qa,
        batch_id=batch.pk,
        password=PASSWORD,
        positive_result_plan="Alert the clinician at once; blood cultures and antibiotics per protocol.",
    )
    batch.refresh_from_db()
    assert batch.status == "awaiting_certification"
    assert disposition.pending_tests == ["sterility"]
    assert ElectronicSignature.objects.on(disposition).filter(meaning="conditionally_released").exists()


@pytest.mark.urs("URS-072")
def test_batch_is_rejected_with_a_signed_reason_even_when_results_fail(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_result(people, batch, "endotoxin", "0.9", "EU/mL")
    before = gmp_row_counts()
    with pytest.raises(ValidationError, match="reason"):
        release.batch_reject(actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="")
    assert_nothing_written(before)
    disposition = release.batch_reject(
        actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="Endotoxin above limit; product not usable."
    )
    batch.refresh_from_db()
    assert batch.status == "rejected"
    assert ElectronicSignature.objects.on(disposition).get(meaning="rejected").signer == people.qa
    assert any(f["code"] == "result_oos" for f in disposition.gate["blocking"])


@pytest.mark.urs("URS-073")
def test_release_is_refused_when_a_blocking_result_is_missing(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=("endotoxin", "sterility"))
    before = gmp_row_counts()
    for action in (release.batch_release, release.batch_release_conditionally):
        extra = {"positive_result_plan": "Alert the clinician at once and follow the protocol."}
        kwargs = extra if action is release.batch_release_conditionally else {}
        with pytest.raises(StateConflict, match="Endotoxin: no result"):
            action(actor=people.qa, batch_id=batch.pk, password=PASSWORD, **kwargs)
    assert_nothing_written(before)


@pytest.mark.urs("URS-073")
def test_release_is_refused_when_a_result_is_out_of_specification(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=("cd133_purity",))
    record_result(people, batch, "cd133_purity", "65", "%")
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=r"CD133\+ purity: 65 % is out of specification"):
        release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)


@pytest.mark.urs("URS-074")
def test_release_is_refused_while_a_major_deviation_is_open_and_allowed_after_qa_closes_it(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    deviation = deviations.deviation_open(
        actor=people.operator,
        batch_id=batch.pk,
        kind="unplanned",
        classification="major",
        description="Selection bag label printed twice.",
    )
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=f"Deviation {deviation.number} \\(major"):
        release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)

    deviations.deviation_update(
        actor=people.operator,
        deviation_id=deviation.pk,
        values={
            "investigation": "Printer queue retried the job.",
            "root_cause": "Printer driver retry setting.",
            "impact": "None: both labels carry the same DIN.",
            "capa": "Retry disabled; label reconciliation added.",
        },
    )
    with pytest.raises(ValidationError, match="closure summary"):
        deviations.deviation_close(actor=people.qa, deviation_id=deviation.pk, password=PASSWORD, closure_summary="")
    deviations.deviation_close(
        actor=people.qa, deviation_id=deviation.pk, password=PASSWORD, closure_summary="No product impact."
    )
    assert ElectronicSignature.objects.on(deviation).filter(meaning="approved", batch=batch).exists()
    release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)


@pytest.mark.urs("URS-074")
def test_an_open_minor_deviation_is_an_exception_not_a_block(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    deviation = deviations.deviation_open(
        actor=people.operator, batch_id=batch.pk, kind="planned", classification="minor", description="Planned delay."
    )
    # Every open deviation needs its impact assessment before a release decision (URS-363).
    deviations.deviation_update(
        actor=people.operator, deviation_id=deviation.pk, values={"impact": "None: within the validated hold time."}
    )
    gate = release_gate(batch, releaser=people.qa)
    assert gate.blocking == []
    assert [f.code for f in gate.exceptions if f.code == "deviation_open"] == ["deviation_open"]


@pytest.mark.urs("URS-075")
def test_release_is_refused_when_a_result_is_not_reviewed(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=("endotoxin",))
    record_result(people, batch, "endotoxin", "0.1", "EU/mL", review=False)
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match="Endotoxin: result not reviewed"):
        release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)


@pytest.mark.urs("URS-075")
def test_gate_blocks_an_unverified_manufacturing_step(people: Personas) -> None:
    batch = quarantined_batch(people)
    # The database keeps a verified step read-only; withdrawing the verification is what a correction does.
    with audit_context("system:test", reason="verification withdrawn for a correction"):
        batch.selection.__class__.objects.filter(pk=batch.selection.pk).update(verified_by=None, verified_at=None)
    gate = release_gate(Batch.objects.get(pk=batch.pk))
    assert "CD133+ selection is not verified by a second person." in [f.message for f in gate.blocking]


@pytest.mark.urs("URS-076")
def test_release_is_refused_to_someone_who_took_part_in_the_batch(people: Personas) -> None:
    batch = quarantined_batch(people)
    record_passing_qc(people, batch, skip=())
    # The verifier also holds the QA role; it verified the steps and reviewed the results.
    people.verifier.groups.add(people.qa.groups.get())
    people.verifier._cellbatch_roles = None  # type: ignore[attr-defined]
    before = gmp_row_counts()
    with pytest.raises(PermissionDenied, match="took part"):
        release.batch_release(actor=people.verifier, batch_id=batch.pk, password=PASSWORD)
    with pytest.raises(PermissionDenied, match="password"):
        release.batch_release(actor=people.qa, batch_id=batch.pk, password="wrong-password")
    with pytest.raises(PermissionDenied, match="QA reviewer"):
        release.batch_release(actor=people.qc_analyst, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)


@pytest.mark.urs("URS-076")
def test_qp_certification_is_refused_to_the_releaser_and_when_not_required(people: Personas) -> None:
    batch = quarantined_batch(people)
    both = make_user("qa_and_qp", "qa_reviewer", "qualified_person")
    record_passing_qc(people, batch, skip=())
    release.batch_release(actor=both, batch_id=batch.pk, password=PASSWORD)
    with pytest.raises(PermissionDenied, match="different Qualified Person"):
        release.batch_certify(actor=both, batch_id=batch.pk, password=PASSWORD)
    assert not BatchDisposition.objects.filter(batch=batch, decision="certified").exists()

    definition = approved_definition(people.qa, people.qp, requires_qp_certification=False)
    other = quarantined_batch(people, subject_code="IGX1-S002", definition=definition)
    release_batch(people, other, certify=False)
    assert other.status == "released"  # no QP certification required: QA's decision releases
    with pytest.raises(StateConflict, match=r"Certify .* is possible only when batch .* is qa decided, awaiting"):
        release.batch_certify(actor=people.qp, batch_id=other.pk, password=PASSWORD)


@pytest.mark.urs("URS-070")
def test_a_batch_is_decided_only_once_and_only_from_quarantine(people: Personas) -> None:
    batch = quarantined_batch(people)
    release_batch(people, batch)
    with pytest.raises(StateConflict, match=r"only when batch .* is quarantine"):
        release.batch_reject(actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="Second thoughts.")
    assert BatchDisposition.objects.filter(batch=batch).count() == 2  # release + certification
