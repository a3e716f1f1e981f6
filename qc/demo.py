"""Demo QC, release and delivery, through the real services (used by seed_demo).

Lives in qc because it drives QC services; batches may import only qc.selectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from batches import demo, register_demo
from batches.isbt128 import Din
from batches.models import Batch
from batches.release import delivery, disposition
from batches.services import custody
from qc.models import QcResult, QcSample, Specification
from qc.services import specifications
from qc.services.testing import qc_result_record, qc_result_review, qc_sample_record

PASSING_RESULTS: dict[str, tuple[Any, str]] = {
    "cd133_purity": (Decimal("92.5"), "%"),
    "viability": (Decimal("95"), "%"),  # 131e6 selected cells × 95 % = 124.45e6 viable CD133+ cells
    "gram_stain": ("no organisms seen", ""),
    "endotoxin": (Decimal("0.12"), "EU/mL"),
    "sterility": ("no growth", ""),
    "mycoplasma": ("not detected", ""),
}


@dataclass(frozen=True)
class Crew:
    """Everyone who takes a batch past quarantine, with the shared demo password."""

    cast: demo.Cast
    analyst: User
    clinician: User
    second_clinician: User

    @property
    def password(self) -> str:
        return self.cast.password


def approved_specification(cast: demo.Cast, *, product: str = "IGX1") -> Specification:
    existing = Specification.objects.filter(status="approved", product=product).first()
    if existing is not None:
        return existing
    spec = specifications.specification_create(
        actor=cast.qa,
        product=product,
        title=f"{product} release specification",
        requested_effective_from=timezone.now() - timedelta(days=60),
    )
    specifications.specification_approve(specification_id=spec.pk, approver=cast.qa, password=cast.password)
    return specifications.specification_approve(specification_id=spec.pk, approver=cast.qp, password=cast.password)


def record_qc(crew: Crew, batch: Batch, results: dict[str, tuple[Any, str]]) -> list[QcResult]:
    """Sample the final product, record ``results`` (signed by the analyst), review them (verifier)."""
    sample = qc_sample_record(
        actor=crew.analyst,
        batch_id=batch.pk,
        step="final_product",
        sample_code=f"{batch.batch_number}-QC{QcSample.objects.filter(batch=batch).count() + 1}",
        taken_at=timezone.now() - timedelta(minutes=4),
    )
    recorded = [
        qc_result_record(
            actor=crew.analyst,
            sample_id=sample.pk,
            test=test,
            value=value,
            unit=unit,
            instrument="FACSCanto II" if unit == "%" else "",
            equipment=register_demo.qc_scans(test),
            tested_at=timezone.now() - timedelta(minutes=2),
            password=crew.password,
        )
        for test, (value, unit) in results.items()
    ]
    # Recording viability also records the calculated viable dose: every new result gets its review.
    for result in QcResult.objects.filter(batch=batch, verified_by__isnull=True):
        qc_result_review(reviewer=crew.cast.verifier, result_id=result.pk, password=crew.password)
    return recorded


def release_batch(crew: Crew, batch: Batch, *, conditionally: bool = False, certify: bool = True) -> Batch:
    """Passing QC, then QA release (conditional while sterility is pending) and QP certification."""
    cast = crew.cast
    if conditionally:
        record_qc(crew, batch, {k: v for k, v in PASSING_RESULTS.items() if k != "sterility"})
        disposition.batch_release_conditionally(
            actor=cast.qa,
            batch_id=batch.pk,
            password=cast.password,
            positive_result_plan=(
                "If the 14-day culture turns positive: inform the treating physician and the sponsor at once, "
                "identify the organism and its sensitivity, start empirical antibiotics per protocol."
            ),
        )
    else:
        record_qc(crew, batch, PASSING_RESULTS)
        disposition.batch_release(actor=cast.qa, batch_id=batch.pk, password=cast.password)
    if certify and batch.process_definition.requires_qp_certification:
        disposition.batch_certify(actor=cast.qp, batch_id=batch.pk, password=cast.password)
    batch.refresh_from_db()
    return batch


def reject_batch(crew: Crew, batch: Batch) -> Batch:
    """An out-of-specification purity opens a deviation; QA rejects the batch."""
    record_qc(crew, batch, {**PASSING_RESULTS, "cd133_purity": (Decimal("61.0"), "%")})
    disposition.batch_reject(
        actor=crew.cast.qa,
        batch_id=batch.pk,
        password=crew.password,
        reason="CD133+ purity 61.0 % is below the 70 % limit (OOS); the product is not suitable for infusion.",
    )
    batch.refresh_from_db()
    return batch


def dispatch_batch(crew: Crew, batch: Batch) -> Batch:
    event = delivery.batch_dispatch(
        actor=crew.cast.operator,
        batch_id=batch.pk,
        to_location="Interventional radiology, room 2",
        temperature_c=Decimal("4.0"),
        password=crew.password,
    )
    din = _din(batch)
    custody.custody_receive(
        actor=crew.clinician,
        custody_event_id=event.pk,
        scanned_data=Din(din).barcode_data,
        received_at=timezone.now(),
        temperature_c=Decimal("5.5"),
    )
    batch.refresh_from_db()
    return batch


def _din(batch: Batch) -> str:
    """The batch's DIN, allocated at collection: a demo batch past collection always has one."""
    if not batch.din:
        raise ValueError(f"Batch {batch.batch_number} has no DIN; it was never collected.")
    return batch.din


def infuse_batch(crew: Crew, batch: Batch) -> Batch:
    scan = Din(_din(batch)).barcode_data
    delivery.bedside_check_scan(
        actor=crew.clinician,
        batch_id=batch.pk,
        scanned_data=scan,
        patient_subject_code=batch.patient.subject_code,
        password=crew.password,
    )
    delivery.bedside_check_confirm(
        actor=crew.second_clinician, batch_id=batch.pk, scanned_data=scan, password=crew.password
    )
    now = timezone.now()
    delivery.infusion_record(
        actor=crew.clinician,
        batch_id=batch.pk,
        password=crew.password,
        started_at=now - timedelta(minutes=1),
        ended_at=now,
        left_cells=61_000_000,
        left_volume_ml=Decimal("5.0"),
        right_cells=63_000_000,
        right_volume_ml=Decimal("5.0"),
        notes="Bilateral uterine artery catheterization via right femoral access; no immediate events.",
    )
    batch.refresh_from_db()
    return batch


def close_batch(crew: Crew, batch: Batch) -> Batch:
    delivery.batch_close(actor=crew.cast.qa, batch_id=batch.pk, password=crew.password)
    batch.refresh_from_db()
    return batch
