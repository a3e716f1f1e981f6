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

from batches import demo, demo_chain, register_demo
from batches.isbt128 import Din
from batches.models import Batch
from batches.release import bedside, conditional, delivery, disposition
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
    # Conditional release: the medical director authorises it (the clinician acknowledges it).
    medical_director: User | None = None
    # QC results are reviewed by someone independent of production (not the steps' verifier).
    qc_reviewer: User | None = None

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


# Read before day 14 of the culture: the result is recorded as preliminary, an exception QA sees.
PRELIMINARY_STERILITY = "Culture read before day 14 for release of a fresh product: no growth so far."


def qc_sample(analyst: User, batch: Batch, *, volume_ml: Decimal = Decimal("1.0"), code: str = "") -> QcSample:
    """The release sample, drawn from the formulated product five minutes after the selection ended."""
    selection = getattr(batch, "selection", None)
    taken = selection.ended_at + timedelta(minutes=5) if selection else timezone.now() - timedelta(minutes=4)
    return qc_sample_record(
        actor=analyst,
        batch_id=batch.pk,
        step="final_product",
        sample_code=code or f"{batch.batch_number}-QC{QcSample.objects.filter(batch=batch).count() + 1}",
        taken_at=taken,
        volume_ml=volume_ml,
        late_entry_reason="Sampling entered when the samples reached the QC laboratory."
        if timezone.now() - taken > timedelta(minutes=45)
        else "",
    )


def record_qc(crew: Crew, batch: Batch, results: dict[str, tuple[Any, str]]) -> list[QcResult]:
    """Sample the final product, record ``results`` (signed by the analyst), review them (verifier)."""
    sample = qc_sample(crew.analyst, batch)
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
            preliminary_reason=PRELIMINARY_STERILITY if test == "sterility" else "",
        )
        for test, (value, unit) in results.items()
    ]
    # Recording viability also records the calculated viable dose: every new result gets its review.
    for result in QcResult.objects.filter(batch=batch, verified_by__isnull=True):
        qc_result_review(reviewer=crew.qc_reviewer or crew.cast.verifier, result_id=result.pk, password=crew.password)
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
    if conditionally and crew.medical_director is not None:
        conditional.conditional_release_authorise(
            actor=crew.medical_director, batch_id=batch.pk, password=cast.password
        )
        conditional.conditional_release_acknowledge(actor=crew.clinician, batch_id=batch.pk, password=cast.password)
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


# A warm shipper: inside the transport range (2–25 °C) but outside its alert range (2–8 °C), so a reason.
WARM_TRANSPORT = (
    Decimal("9.5"),
    "Shipper conditioned at room temperature by mistake; the logger shows the product below 10 °C "
    "throughout the 20-minute transfer. QA informed; no impact expected on a fresh cell product.",
)


def dispatch_batch(crew: Crew, batch: Batch, *, warm: bool = False) -> Batch:
    """Dispatch and receipt in radiology; ``warm`` sends it in a warm shipper, accepted with a reason."""
    temperature, reason = WARM_TRANSPORT if warm else (Decimal("4.0"), "")
    event = delivery.batch_dispatch(
        actor=crew.cast.operator,
        batch_id=batch.pk,
        to_location="Interventional radiology, room 2",
        temperature_c=temperature,
        password=crew.password,
        alert_reason=reason,
    )
    din = _din(batch)
    demo_chain.receive(
        first=crew.second_clinician,
        receiver=crew.clinician,
        event=event,
        scan=Din(din).barcode_data,
        celsius=str(temperature) if warm else "5.5",
        alert_reason=reason,
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
    bedside.bedside_check_scan(
        actor=crew.clinician,
        batch_id=batch.pk,
        scanned_data=scan,
        patient_subject_code=batch.patient.subject_code,
        password=crew.password,
    )
    bedside.bedside_check_confirm(
        actor=crew.second_clinician,
        batch_id=batch.pk,
        scanned_data=scan,
        patient_subject_code=batch.patient.subject_code,
        password=crew.password,
    )
    now = timezone.now()
    delivery.infusion_record(
        actor=crew.clinician,
        batch_id=batch.pk,
        password=crew.password,
        started_at=now - timedelta(minutes=1),
        ended_at=now,
        # 131 × 10⁶ cells formulated in 10 mL, 1 mL drawn for QC: 117.9 × 10⁶ cells in 9 mL remain.
        left_cells=58_000_000,
        left_volume_ml=Decimal("4.5"),
        right_cells=59_000_000,
        right_volume_ml=Decimal("4.5"),
        notes="Bilateral uterine artery catheterization via right femoral access; no immediate events.",
    )
    batch.refresh_from_db()
    return batch


def close_batch(crew: Crew, batch: Batch) -> Batch:
    delivery.batch_close(actor=crew.cast.qa, batch_id=batch.pk, password=crew.password)
    batch.refresh_from_db()
    return batch
