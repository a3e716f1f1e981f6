"""Read-only queries of QC; the batches app imports only this module (the release gate, the batch record)."""

from __future__ import annotations

from qc.gate import Finding, ReleaseGate, TestStatus, participants, release_gate
from qc.queries import (
    batch_alerts,
    latest_sample,
    processing_started_at,
    samples_awaiting_review,
    specification_for_batch,
    was_released,
)
from qc.record import batch_record_deviations, batch_record_qc_results

__all__ = [
    "Finding",
    "ReleaseGate",
    "TestStatus",
    "batch_alerts",
    "batch_record_deviations",
    "batch_record_qc_results",
    "latest_sample",
    "participants",
    "processing_started_at",
    "release_gate",
    "samples_awaiting_review",
    "specification_for_batch",
    "was_released",
]
