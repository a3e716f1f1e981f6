"""Specifications, samples, results and deviations through the QC services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone, translation

from batches.models import ElectronicSignature
from qc.history import batch_changes
from qc.models import Deviation, QcResult, Specification, SpecificationLimit
from qc.selectors import release_gate, specification_for_batch
from qc.services import deviations, specifications
from qc.services.investigations import retest_approve
from qc.services.testing import qc_result_record, qc_result_review
from tests.factories import (
    PASSWORD,
    Personas,
    approved_specification,
    qc_sample,
    quarantined_batch,
    record_result,
    scans,
    walk_batch,
)

pytestmark = pytest.mark.django_db


@pytest.mark.urs("URS-063")
def test_specification_defaults_come_from_the_domain_and_need_two_different_approvers(people: Personas) -> None:
    spec = specifications.specification_create(
        actor=people.qa, product="igx1", title="Release spec", requested_effective_from=timezone.now()
    )
    limits = {limit.test: str(limit) for limit in spec.limits.all()}
    assert limits == {
        "cd133_purity": "CD133+ purity: ≥ 70 %",
        "viability": "Viability: ≥ 80 %",
        "viable_cd133_dose": "Viable CD133+ dose: 37–166 × 10⁶ cells",
        "gram_stain": "Gram stain: no organisms seen",
        "endotoxin": "Endotoxin: < 0.5 EU/mL",
        "sterility": "Sterility: no growth",
        "mycoplasma": "Mycoplasma: not detected",
    }
    assert not spec.limits.get(test="sterility").blocks_release
    specifications.specification_approve(specification_id=spec.pk, approver=people.qa, password=PASSWORD)
    with pytest.raises(PermissionDenied, match="different person"):
        specifications.specification_approve(specification_id=spec.pk, approver=people.qa, password=PASSWORD)
    spec.refresh_from_db()
    assert spec.status == "draft"
    assert spec.effective_from is None
    specifications.specification_approve(specification_id=spec.pk, approver=people.qp, password=PASSWORD)
    spec.refresh_from_db()
    assert spec.status == "approved"
    assert spec.effective_from is not None
    assert ElectronicSignature.objects.on(spec).filter(meaning="approved").count() == 2
    assert spec.limits_snapshot[0]["limit"] == "≥ 70 %"


@pytest.mark.urs("URS-063")
def test_limits_are_editable_per_version_and_frozen_once_approved(people: Personas) -> None:
    rows = specifications.default_limit_values()
    rows[0] |= {"value": "75"}
    rows[-1] |= {"blocks_release": False}
    spec = specifications.specification_create(
        actor=people.qa, product="IGX1", title="Tighter purity", requested_effective_from=timezone.now(), limits=rows
    )
    assert str(spec.limits.get(test="cd133_purity")) == "CD133+ purity: ≥ 75 %"
    assert not spec.limits.get(test="mycoplasma").blocks_release
    with pytest.raises(ValidationError, match="expected result"):
        specifications.specification_create(
            actor=people.qa,
            product="IGX1",
            title="Bad",
            requested_effective_from=timezone.now(),
            limits=[{"test": "sterility", "method": "culture", "expected_result": "maybe"}],
        )
    specifications.specification_approve(specification_id=spec.pk, approver=people.qa, password=PASSWORD)
    with pytest.raises(DatabaseError, match="read-only"), transaction.atomic():
        SpecificationLimit.objects.filter(specification=spec, test="cd133_purity").update(value=50)


@pytest.mark.urs("URS-064")
def test_batch_uses_the_version_effective_when_it_entered_processing(people: Personas) -> None:
    first = approved_specification(people)
    batch = quarantined_batch(people)
    later = specifications.specification_create(
        actor=people.qa, product="IGX1", title="v2", requested_effective_from=timezone.now() - timedelta(days=3)
    )
    specifications.specification_approve(specification_id=later.pk, approver=people.qa, password=PASSWORD)
    specifications.specification_approve(specification_id=later.pk, approver=people.qp, password=PASSWORD)
    later.refresh_from_db()
    assert later.effective_from > batch.transitions.get(to_status="processing").at  # never retroactive
    assert specification_for_batch(batch) == first
    newer_batch = quarantined_batch(people, subject_code="IGX1-S002")
    assert specification_for_batch(newer_batch) == later
    assert specification_for_batch(walk_batch(people, "collection", subject_code="IGX1-S003")) is None


@pytest.mark.urs("URS-065")
def test_result_verdict_is_computed_and_the_dose_calculated_from_viability(people: Personas) -> None:
    batch = quarantined_batch(people)
    result = record_result(people, batch, "viability", "81.5", "%", review=False)
    assert result.verdict == "pass"
    dose = QcResult.objects.get(batch=batch, test="viable_cd133_dose")
    assert dose.numeric_value == Decimal("106765000")  # 131e6 × 81.5 %
    assert "131000000 CD133+ cells" in dose.computed_from
    assert dose.verdict == "pass"
    with pytest.raises(ValidationError, match="calculated from viability"):
        record_result(people, batch, "viable_cd133_dose", "100000000", "cells")
    with pytest.raises(ValidationError, match="not the specification unit"):
        record_result(people, batch, "cd133_purity", "0.9", "fraction")
    with pytest.raises(ValidationError, match="reports one of"):
        record_result(people, batch, "gram_stain", "looks clean")


@pytest.mark.urs("URS-066")
def test_a_second_person_reviews_a_result_and_it_is_then_read_only(people: Personas) -> None:
    batch = quarantined_batch(people)
    result = record_result(people, batch, "endotoxin", "0.2", "EU/mL", review=False)
    people.qc_analyst.groups.add(people.verifier.groups.get())
    people.qc_analyst._cellbatch_roles = None  # type: ignore[attr-defined]
    with pytest.raises(PermissionDenied, match="second person"):
        qc_result_review(reviewer=people.qc_analyst, result_id=result.pk, password=PASSWORD)
    qc_result_review(reviewer=people.qc_reviewer, result_id=result.pk, password=PASSWORD)
    assert ElectronicSignature.objects.on(result).filter(meaning="verified").exists()
    with pytest.raises(DatabaseError, match="read-only"), transaction.atomic():
        QcResult.objects.filter(pk=result.pk).update(numeric_value=Decimal("0.1"))


@pytest.mark.urs("URS-067")
def test_an_oos_result_opens_a_deviation_in_the_same_transaction(people: Personas) -> None:
    batch = quarantined_batch(people)
    with translation.override("es"):  # a Spanish-speaking analyst: the description is stored as the service writes it
        result = record_result(people, batch, "cd133_purity", "64.2", "%")
    assert result.verdict == "oos"
    deviation = Deviation.objects.get(source_result=result)
    assert (deviation.kind, deviation.classification, deviation.status) == ("oos", "major", "open")
    assert deviation.description.startswith("CD133+ purity result 64.2 % is out of specification (")
    assert not deviation.raised_after_release


@pytest.mark.urs("URS-068")
def test_a_repeat_after_a_failing_result_needs_an_open_investigation(people: Personas) -> None:
    batch = quarantined_batch(people)
    failing = record_result(people, batch, "endotoxin", "0.7", "EU/mL")
    deviation = Deviation.objects.get(source_result=failing)
    count = QcResult.objects.count()
    with pytest.raises(ValidationError, match="only under an open investigation"):
        record_result(people, batch, "endotoxin", "0.1", "EU/mL")
    assert QcResult.objects.count() == count
    # Only under the OOS result's own investigation, after QA's signed approval (URS-360, URS-361).
    retest_approve(
        actor=people.qa,
        investigation_id=deviation.oos_investigation.pk,
        kind="retest",
        plan="Retest the retained sample in duplicate with a fresh LAL lot.",
        password=PASSWORD,
    )
    retest = record_result(people, batch, "endotoxin", "0.1", "EU/mL", investigation_id=deviation.pk)
    assert retest.investigation == deviation
    gate = release_gate(batch)
    assert "result_oos_superseded" in [f.code for f in gate.exceptions]
    assert any(f.message.startswith(f"Deviation {deviation.number}") for f in gate.blocking)


@pytest.mark.urs("URS-069")
def test_deviation_closure_needs_the_investigation_and_qa(people: Personas) -> None:
    batch = quarantined_batch(people)
    deviation = deviations.deviation_open(
        actor=people.qc_analyst,
        batch_id=batch.pk,
        kind="unplanned",
        classification="minor",
        description="Sample transported at room temperature.",
    )
    with pytest.raises(ValidationError) as missing:
        deviations.deviation_close(actor=people.qa, deviation_id=deviation.pk, password=PASSWORD, closure_summary="ok")
    # Every deviation, whatever its class, records investigation, root cause, impact and CAPA (URS-364).
    assert set(missing.value.message_dict) == {"investigation", "root_cause", "impact", "capa"}
    deviations.deviation_update(
        actor=people.qc_analyst,
        deviation_id=deviation.pk,
        values={
            "investigation": "Courier used the wrong box.",
            "root_cause": "Two box types look alike.",
            "impact": "None: stable 4 h at RT.",
            "capa": "Boxes labelled by temperature.",
        },
    )
    with pytest.raises(ValidationError, match="reason"):
        deviations.deviation_update(
            actor=people.qc_analyst, deviation_id=deviation.pk, values={"impact": "Different text."}
        )
    with pytest.raises(ValidationError, match="QA reclassifies with a reason and a signature"):
        deviations.deviation_update(
            actor=people.qc_analyst, deviation_id=deviation.pk, values={"classification": "major"}, reason="worse"
        )
    with pytest.raises(PermissionDenied, match="QA reviewer"):
        deviations.deviation_close(
            actor=people.qc_analyst, deviation_id=deviation.pk, password=PASSWORD, closure_summary="Closed fine."
        )
    closed = deviations.deviation_close(
        actor=people.qa, deviation_id=deviation.pk, password=PASSWORD, closure_summary="Accepted, no impact."
    )
    assert closed.status == "closed"
    assert closed.closed_by == people.qa
    with pytest.raises(DatabaseError), transaction.atomic():
        Deviation.objects.filter(pk=deviation.pk).update(impact="rewritten")


@pytest.mark.urs("URS-079")
def test_changes_after_first_entry_are_read_from_the_audit_trail_with_their_reason(people: Personas) -> None:
    from batches.services import steps
    from tests.factories import gcsf_values

    approved_specification(people)
    batch = walk_batch(people, "mobilization")
    step = steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(1),
        **scans(people, batch, "gcsf", gcsf_values(1)),
    )
    steps.step_correct(
        kind="gcsf",
        step_id=step.pk,
        actor=people.operator,
        password=PASSWORD,
        values={"drug_lot": "FIL-24-118"},
        reason="lot number misread from the vial",
    )
    changes = batch_changes(batch)
    assert len(changes) == 1
    assert changes[0].reason == "lot number misread from the vial"
    assert changes[0].fields["drug_lot"] == ("FIL-24-117", "FIL-24-118")
    assert changes[0].actor == "operator"


@pytest.mark.urs("URS-065")
def test_results_are_refused_before_processing_and_without_a_sample_of_the_batch(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    with pytest.raises(PermissionDenied, match="password"):
        qc_result_record(
            actor=people.qc_analyst,
            sample_id=sample.pk,
            test="endotoxin",
            value="0.1",
            unit="EU/mL",
            tested_at=timezone.now(),
            password="nope",
        )
    with pytest.raises(ValidationError, match="in the future"):
        qc_result_record(
            actor=people.qc_analyst,
            sample_id=sample.pk,
            test="endotoxin",
            value="0.1",
            unit="EU/mL",
            tested_at=timezone.now() + timedelta(hours=1),
            password=PASSWORD,
        )
    assert not QcResult.objects.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        Specification.objects.filter(pk=specification_for_batch(batch).pk).delete()
