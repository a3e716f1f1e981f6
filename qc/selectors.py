"""Read-only queries of QC; the batches app imports only this module (the release gate)."""

from __future__ import annotations

from qc.gate import Finding, ReleaseGate, TestStatus, participants, release_gate
from qc.queries import batch_alerts, processing_started_at, specification_for_batch, was_released

__all__ = [
    "Finding",
    "ReleaseGate",
    "TestStatus",
    "batch_alerts",
    "participants",
    "processing_started_at",
    "release_gate",
    "specification_for_batch",
    "was_released",
]
