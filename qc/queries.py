"""Queries shared by the gate, the services and the pages (re-exported by qc.selectors)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Sum

from batches.models import ApprovalStatus, Batch, BatchTransition
from batches.states import BatchStatus
from qc.models import Deviation, QcResult, QcSample, SampleStep, Specification

# A result recorded in these states arrives after the product was released.
RELEASED_STATES = frozenset(
    {
        BatchStatus.RELEASED,
        BatchStatus.CONDITIONALLY_RELEASED,
        BatchStatus.DISPATCHED,
        BatchStatus.INFUSED,
    }
)


def processing_started_at(batch: Batch) -> datetime | None:
    """When the batch entered processing (its BatchTransition), or None if it has not yet."""
    moved = BatchTransition.objects.filter(batch=batch, to_status=BatchStatus.PROCESSING).order_by("at").first()
    return moved.at if moved else None


def specification_for_batch(batch: Batch) -> Specification | None:
    """The approved specification version of the batch's product effective when it entered processing."""
    started = processing_started_at(batch)
    if started is None:
        return None
    return (
        Specification.objects.filter(
            product=batch.process_definition.code,
            status__in=[ApprovalStatus.APPROVED, ApprovalStatus.RETIRED],
            effective_from__lte=started,
        )
        .order_by("-effective_from", "-version")
        .first()
    )


def was_released(batch: Batch) -> bool:
    """True once the batch has been released or conditionally released (also after closure)."""
    if batch.status in RELEASED_STATES:
        return True
    return BatchTransition.objects.filter(
        batch=batch, to_status__in=[BatchStatus.RELEASED, BatchStatus.CONDITIONALLY_RELEASED]
    ).exists()


def batch_alerts(batch: Batch) -> list[Deviation]:
    """Critical deviations raised by a late result after release: the batch is flagged while any exists."""
    return list(Deviation.objects.filter(batch=batch, raised_after_release=True).order_by("-raised_at"))


def final_product_sampled_ml(batch: Batch) -> Decimal:
    """The volume drawn from the formulated product for QC (it is not infused)."""
    total = QcSample.objects.filter(batch=batch, step=SampleStep.FINAL_PRODUCT).aggregate(v=Sum("volume_ml"))["v"]
    return Decimal(total or 0)


def results_in(batch: Batch, tests: list[str]) -> dict[str, bool]:
    """For each test: whether its latest result is in and reviewed by a second person."""
    latest: dict[str, bool] = {}
    for result in QcResult.objects.filter(batch=batch, test__in=tests).order_by("recorded_at", "pk"):
        latest[result.test] = result.is_verified
    return {test: latest.get(test, False) for test in tests}


def samples_awaiting_review() -> list[tuple[QcSample, int]]:
    """Samples with results not yet reviewed by a second person, oldest first, with how many."""
    counts: dict[int, int] = {}
    for sample_id in QcResult.objects.filter(verified_by__isnull=True).values_list("sample_id", flat=True):
        counts[sample_id] = counts.get(sample_id, 0) + 1
    samples = QcSample.objects.filter(pk__in=counts).select_related("batch").order_by("taken_at")
    return [(sample, counts[sample.pk]) for sample in samples]


def latest_sample(batch: Batch) -> QcSample | None:
    return QcSample.objects.filter(batch=batch).order_by("-taken_at", "-pk").first()
