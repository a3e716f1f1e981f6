"""Read-only queries of QC; the batches app imports only this module (the release gate, the batch record)."""

from __future__ import annotations

from qc.evaluation import Verdict
from qc.gate import Finding, ReleaseGate, TestStatus, participants, release_gate
from qc.models import DeviationStatus
from qc.models.testing import VerdictChoices
from qc.queries import (
    batch_alerts,
    final_product_sampled_ml,
    latest_sample,
    processing_started_at,
    results_in,
    samples_awaiting_review,
    specification_for_batch,
    was_released,
)
from qc.reconciliation import Reconciliation, infusion_balance_errors, reconcile
from qc.record import batch_record_deviations, batch_record_qc_results, test_names

__all__ = [
    "DeviationStatus",
    "Finding",
    "Reconciliation",
    "ReleaseGate",
    "TestStatus",
    "Verdict",
    "VerdictChoices",
    "batch_alerts",
    "batch_record_deviations",
    "batch_record_qc_results",
    "final_product_sampled_ml",
    "infusion_balance_errors",
    "latest_sample",
    "participants",
    "processing_started_at",
    "reconcile",
    "release_gate",
    "results_in",
    "samples_awaiting_review",
    "specification_for_batch",
    "test_names",
    "was_released",
]
