"""What is needed next, for every state: manufacturing steps, then QC, release, delivery and closure.

Read-only: QC and release status come from the release gate (qc.selectors, the only qc module the
batches app imports) and release_outstanding; each item links to the page where the work is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from batches import formatting
from batches.admin.workflow import next_actions
from batches.models import Batch, BedsideCheck
from batches.models.custody import HandOff
from batches.release.disposition import release_outstanding
from batches.services import custody
from batches.states import STEP_STATE, BatchStatus
from qc.selectors import ReleaseGate, batch_alerts, latest_sample, release_gate

S = BatchStatus
MANUFACTURING = frozenset({S.REGISTERED, *STEP_STATE.values()})
AWAITING_RESULTS = frozenset(
    {S.QUARANTINE, S.AWAITING_CERTIFICATION, S.RELEASED, S.CONDITIONALLY_RELEASED, S.DISPATCHED, S.INFUSED}
)


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
            _("Handle the late result"),
            _("deviation %(number)s (%(classification)s, %(status)s): %(description)s")
            % {
                "number": d.number,
                "classification": d.get_classification_display().lower(),
                "status": d.get_status_display().lower(),
                "description": d.description[:160],
            },
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
        # The latest sample's page, or a new sample with its results (one signature for all of them).
        sample = latest_sample(batch)
        url = (
            reverse("admin:qc_sample_results", args=[sample.pk])
            if sample
            else reverse("admin:qc_batch_results", args=[batch.pk])
        )
        steps.append(NextStep(_("Record QC results"), detail, url))
    unreviewed = [t.result for t in gate.tests if t.result is not None and not t.result.is_verified]
    if unreviewed:
        steps.append(
            NextStep(
                _("Review QC results (second person)"),
                ", ".join(result.get_test_display() for result in unreviewed),
                reverse("admin:qc_sample_results", args=[unreviewed[0].sample_id]),
            )
        )
    return steps


def quarantine_steps(batch: Batch, gate: ReleaseGate) -> list[NextStep]:
    steps = qc_steps(batch, gate)
    deviations = [f for f in gate.blocking if f.code == "deviation_open"]
    if deviations:
        steps.append(
            NextStep(
                _("Investigate and close deviations"),
                _("%(count)s open major or critical deviation(s) block release") % {"count": len(deviations)},
                _search("admin:qc_deviation_changelist", batch),
            )
        )
    if gate.specification is None:
        detail = _("no approved QC specification applies to this batch; it can only be rejected")
    elif gate.blocking:
        detail = _("%(count)s finding(s) block release") % {"count": len(gate.blocking)}
        if not [f for f in gate.blocking if f.code != "result_pending"]:
            pending = ", ".join(t.label for t in gate.tests if t.result is None)
            detail = _("release conditionally while %(tests)s is pending, or wait for the result") % {"tests": pending}
    else:
        detail = _("nothing blocks release")
        if gate.exceptions:
            detail += _("; %(count)s exception(s) to review") % {"count": len(gate.exceptions)}
    steps.append(NextStep(_("QA review and release"), detail, _review_url(batch)))
    return steps


def delivery_steps(batch: Batch) -> list[NextStep]:
    desk = _desk_url(batch)
    status = BatchStatus(batch.status)
    if status == S.AWAITING_CERTIFICATION:
        missing = [m for m in release_outstanding(batch) if m != _("QP certification")]
        steps = []
        if missing:
            url = reverse("admin:batches_conditional_batch", args=[batch.pk])
            steps.append(NextStep(_("Conditional release signatures"), "; ".join(missing), url))
        steps.append(NextStep(_("QP certification"), _("the Qualified Person certifies the batch"), _review_url(batch)))
        return [*steps, NextStep(_("Dispatch"), _("after the QP's certification"), desk)]

    if status in (S.RELEASED, S.CONDITIONALLY_RELEASED):
        steps = []
        if _("QP certification") in release_outstanding(batch):
            steps.append(
                NextStep(_("QP certification"), _("the Qualified Person certifies the release"), _review_url(batch))
            )
        expiry = custody.expires_at(batch)
        where = (
            _("to interventional radiology before %(expiry)s (expiry)") % {"expiry": formatting.moment(expiry)}
            if expiry
            else _("to interventional radiology")
        )
        steps.append(NextStep(_("Dispatch"), where, desk))
        return steps
    if status == S.DISPATCHED:
        if batch.custody_events.filter(kind=HandOff.LAB_TO_RADIOLOGY, received_at__isnull=True).exists():
            return [NextStep(_("Receipt in radiology"), _("a clinician scans the bag on arrival"), desk)]
        check = BedsideCheck.objects.filter(batch=batch).first()
        if check is None:
            return [NextStep(_("Bedside identity check"), _("bag and wristband scanned by a clinician"), desk)]
        if not check.is_confirmed:
            return [NextStep(_("Bedside identity check"), _("confirmation by a second clinician"), desk)]
        return [NextStep(_("Record infusion"), _("cells and volume per uterine artery"), desk)]
    if status == S.INFUSED:
        return [NextStep(_("Close the batch"), _("QA reviews and closes the record (signed)"), desk)]
    if status == S.REJECTED:
        return [
            NextStep(
                _("Close the rejected batch"), _("after destruction or return, QA closes the record (signed)"), desk
            )
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
    return steps or [NextStep(_("Nothing: the batch is %(status)s.") % {"status": _(status.label).lower()})]
