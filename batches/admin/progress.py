"""What is needed next, for every state: manufacturing steps, then QC, release, delivery and closure.

Read-only: QC and release status come from the release gate (qc.selectors, the only qc module the
batches app imports) and release_outstanding; each item links to the page where the work is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from batches import formatting
from batches.admin.workflow import next_actions
from batches.models import Batch, BedsideCheck
from batches.models.custody import HandOff
from batches.release.disposition import release_outstanding
from batches.services import custody
from batches.states import STEP_STATE, BatchStatus
from qc.selectors import ReleaseGate, batch_alerts, release_gate

S = BatchStatus
MANUFACTURING = frozenset({S.REGISTERED, *STEP_STATE.values()})
AWAITING_RESULTS = frozenset({S.QUARANTINE, S.RELEASED, S.CONDITIONALLY_RELEASED, S.DISPATCHED, S.INFUSED})


@dataclass(frozen=True)
class NextStep:
    label: str
    detail: str = ""
    url: str = ""

    def __str__(self) -> str:
        return f"{self.label}: {self.detail}" if self.detail else self.label


def _review_url(batch: Batch) -> str:
    return reverse("admin:qc_review_batch", args=[batch.pk])


def _desk_url(batch: Batch) -> str:
    return reverse("admin:batches_delivery_desk", args=[batch.pk])


def _search(name: str, batch: Batch) -> str:
    return f"{reverse(name)}?q={batch.batch_number}"


def alert_steps(batch: Batch) -> list[NextStep]:
    """A late result after release comes before anything else (EU GMP for ATMPs §11.5)."""
    return [
        NextStep(
            "Handle the late result",
            f"deviation {d.number} ({d.get_classification_display().lower()}, "
            f"{d.get_status_display().lower()}): {d.description[:160]}",
            _review_url(batch),
        )
        for d in batch_alerts(batch)
    ]


def qc_steps(batch: Batch, gate: ReleaseGate) -> list[NextStep]:
    """Results still to record (blocking ones first) and results still to review."""
    steps = []
    missing = [t.label for t in gate.tests if t.result is None and t.limit.blocks_release]
    pending = [t.label for t in gate.tests if t.result is None and not t.limit.blocks_release]
    if missing or (pending and batch.status != S.QUARANTINE):
        detail = ", ".join(missing + [f"{label} (pending)" for label in pending])
        steps.append(NextStep("Record QC results", detail, reverse("admin:qc_qcresult_add")))
    unreviewed = [t.label for t in gate.tests if t.result is not None and not t.result.is_verified]
    if unreviewed:
        steps.append(
            NextStep(
                "Review QC results (second person)",
                ", ".join(unreviewed),
                _search("admin:qc_qcresult_changelist", batch),
            )
        )
    return steps


def quarantine_steps(batch: Batch, gate: ReleaseGate) -> list[NextStep]:
    steps = qc_steps(batch, gate)
    deviations = [f for f in gate.blocking if f.code == "deviation_open"]
    if deviations:
        steps.append(
            NextStep(
                "Investigate and close deviations",
                f"{len(deviations)} open major or critical deviation(s) block release",
                _search("admin:qc_deviation_changelist", batch),
            )
        )
    if gate.specification is None:
        detail = "no approved QC specification applies to this batch; it can only be rejected"
    elif gate.blocking:
        detail = f"{len(gate.blocking)} finding(s) block release"
        if not [f for f in gate.blocking if f.code != "result_pending"]:
            detail = "release conditionally while " + ", ".join(t.label for t in gate.tests if t.result is None)
            detail += " is pending, or wait for the result"
    else:
        detail = "nothing blocks release"
        if gate.exceptions:
            detail += f"; {len(gate.exceptions)} exception(s) to review"
    steps.append(NextStep("QA review and release", detail, _review_url(batch)))
    return steps


def delivery_steps(batch: Batch) -> list[NextStep]:
    desk = _desk_url(batch)
    status = BatchStatus(batch.status)
    if status in (S.RELEASED, S.CONDITIONALLY_RELEASED):
        steps = []
        if "QP certification" in release_outstanding(batch):
            steps.append(NextStep("QP certification", "the Qualified Person certifies the release", _review_url(batch)))
        expiry = custody.expires_at(batch)
        until = f" before {formatting.moment(expiry)} (expiry)" if expiry else ""
        steps.append(NextStep("Dispatch", f"to interventional radiology{until}", desk))
        return steps
    if status == S.DISPATCHED:
        if batch.custody_events.filter(kind=HandOff.LAB_TO_RADIOLOGY, received_at__isnull=True).exists():
            return [NextStep("Receipt in radiology", "a clinician scans the bag on arrival", desk)]
        check = BedsideCheck.objects.filter(batch=batch).first()
        if check is None:
            return [NextStep("Bedside identity check", "bag and wristband scanned by a clinician", desk)]
        if not check.is_confirmed:
            return [NextStep("Bedside identity check", "confirmation by a second clinician", desk)]
        return [NextStep("Record infusion", "cells and volume per uterine artery", desk)]
    if status == S.INFUSED:
        return [NextStep("Close the batch", "QA reviews and closes the record (signed)", desk)]
    if status == S.REJECTED:
        return [
            NextStep("Close the rejected batch", "after destruction or return, QA closes the record (signed)", desk)
        ]
    return []


def batch_gate(batch: Batch) -> ReleaseGate | None:
    """The release gate once the batch has left manufacturing (QC applies), else None."""
    if batch.status in MANUFACTURING or batch.status == S.CANCELLED:
        return None
    return release_gate(batch)


def next_steps(batch: Batch, gate: ReleaseGate | None = None) -> list[NextStep]:
    """What is needed next, in words a busy operator reads at a glance, each with where to do it."""
    status = BatchStatus(batch.status)
    if status in MANUFACTURING:
        return [NextStep(label) for label in next_actions(batch)]
    steps = alert_steps(batch)
    if status in AWAITING_RESULTS:
        gate = gate or release_gate(batch)
        if status == S.QUARANTINE:
            return steps + quarantine_steps(batch, gate)
        steps += qc_steps(batch, gate)
    steps += delivery_steps(batch)
    return steps or [NextStep(f"Nothing: the batch is {status.label.lower()}.")]
