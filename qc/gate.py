"""The release gate: what blocks release of a batch, and what QA must look at (review by exception).

Each check returns findings; a blocking finding refuses release, the others are exceptions that
QA sees first on the review page and that are kept on the disposition record.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from batches.models import Batch, ElectronicSignature, RecordException, SignatureStatus
from batches.signature_checks import signature_is_intact
from qc.evaluation import TEST_LABELS, QcTest, Verdict
from qc.history import batch_changes
from qc.models import (
    Deviation,
    DeviationReclassification,
    DeviationStatus,
    InvestigationStatus,
    OosInvestigation,
    QcResult,
    QcSample,
    Specification,
    SpecificationLimit,
)
from qc.queries import specification_for_batch


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    blocking: bool

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "blocking": self.blocking}


@dataclass(frozen=True)
class TestStatus:
    limit: SpecificationLimit
    result: QcResult | None
    earlier: tuple[QcResult, ...] = ()

    @property
    def test(self) -> QcTest:
        return QcTest(self.limit.test)

    @property
    def label(self) -> str:
        return _(TEST_LABELS[self.test])

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.result.verdict) if self.result else Verdict.PENDING


@dataclass
class ReleaseGate:
    batch: Batch
    specification: Specification | None
    tests: list[TestStatus] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    pending_tests: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def exceptions(self) -> list[Finding]:
        return [f for f in self.findings if not f.blocking]

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch.batch_number,
            "specification": str(self.specification) if self.specification else None,
            "blocking": [f.as_dict() for f in self.blocking],
            "exceptions": [f.as_dict() for f in self.exceptions],
            "pending_tests": self.pending_tests,
            "tests": [
                {
                    "test": str(t.test),
                    "limit": t.limit.as_limit().describe(),
                    "result": t.result.display_value if t.result else None,
                    "verdict": str(t.verdict),
                }
                for t in self.tests
            ],
        }


def production_people(batch: Batch) -> set[int]:
    """Ids of everyone who performed or verified a manufacturing step of the batch."""
    people: set[int | None] = set()
    steps: list[Any] = [*batch.gcsf_administrations.all()]
    steps += [s for s in (getattr(batch, "apheresis", None), getattr(batch, "selection", None)) if s is not None]
    for step in steps:
        people |= {step.performed_by_id, step.verified_by_id}
    return {p for p in people if p is not None}


def participants(batch: Batch) -> set[int]:
    """Ids of everyone who performed or verified a step, took a sample or recorded or reviewed a result."""
    people: set[int | None] = {batch.registered_by_id, *production_people(batch)}
    people |= set(QcSample.objects.filter(batch=batch).values_list("taken_by_id", flat=True))
    for analyst, reviewer in QcResult.objects.filter(batch=batch).values_list("analyst_id", "verified_by_id"):
        people |= {analyst, reviewer}
    return {p for p in people if p is not None}


def _tests(gate: ReleaseGate, conditional: bool) -> None:
    if gate.specification is None:
        gate.findings.append(
            Finding(
                "no_specification",
                _("No approved QC specification of this product was effective when the batch entered processing."),
                True,
            )
        )
        return
    results = list(QcResult.objects.filter(batch=gate.batch).select_related("verified_by").order_by("recorded_at"))
    for limit in gate.specification.limits.order_by("pk"):
        mine = [r for r in results if r.test == limit.test]
        status = TestStatus(limit=limit, result=mine[-1] if mine else None, earlier=tuple(mine[:-1]))
        gate.tests.append(status)
        label = status.label
        if status.result is None:
            if limit.blocks_release:
                gate.findings.append(
                    Finding("result_missing", _("%(test)s: no result (blocks release).") % {"test": label}, True)
                )
            elif conditional:
                gate.pending_tests.append(str(limit.test))
                gate.findings.append(
                    Finding(
                        "result_pending",
                        _("%(test)s: result pending; released under the written plan.") % {"test": label},
                        False,
                    )
                )
            else:
                gate.pending_tests.append(str(limit.test))
                gate.findings.append(
                    Finding(
                        "result_pending",
                        _("%(test)s: result pending; full release needs every result (release conditionally instead).")
                        % {"test": label},
                        True,
                    )
                )
            continue
        result = status.result
        if result.verdict == Verdict.OOS:
            gate.findings.append(
                Finding(
                    "result_oos",
                    _("%(test)s: %(value)s is out of specification (%(limit)s).")
                    % {"test": label, "value": result.display_value, "limit": limit.as_limit().describe()},
                    True,
                )
            )
        if not result.is_verified:
            gate.findings.append(
                Finding(
                    "result_unverified", _("%(test)s: result not reviewed by a second person.") % {"test": label}, True
                )
            )
        for earlier in status.earlier:
            if earlier.verdict == Verdict.OOS:
                gate.findings.append(
                    Finding(
                        "result_oos_superseded",
                        _("%(test)s: earlier result %(value)s was out of specification; repeated under investigation.")
                        % {"test": label, "value": earlier.display_value},
                        False,
                    )
                )
    if conditional and not gate.pending_tests:
        gate.findings.append(
            Finding(
                "nothing_pending",
                _("Every result is in: release the batch instead of releasing it conditionally."),
                True,
            )
        )


def _deviations(gate: ReleaseGate) -> None:
    for deviation in Deviation.objects.filter(batch=gate.batch, status=DeviationStatus.OPEN).order_by("raised_at"):
        name = (
            f"Deviation {deviation.number} ({deviation.get_classification_display().lower()}, "
            f"{deviation.get_kind_display().lower()})"
        )
        gate.findings.append(
            Finding("deviation_open", f"{name} is open: {deviation.description[:200]}", deviation.blocks_release)
        )
        if deviation.impact.strip():
            gate.findings.append(Finding("deviation_impact", f"{name}: impact on the batch: {deviation.impact}", False))
        else:
            gate.findings.append(
                Finding(
                    "deviation_no_impact",
                    f"{name} is open without an impact assessment on the batch; record it before a release decision.",
                    True,
                )
            )
    investigations = OosInvestigation.objects.filter(batch=gate.batch, status=InvestigationStatus.OPEN)
    for investigation in investigations.select_related("deviation", "result").order_by("opened_at"):
        gate.findings.append(
            Finding(
                "oos_investigation_open",
                f"The OOS investigation of {investigation.result.get_test_display()} "
                f"{investigation.result.display_value} ({investigation.deviation.number}, "
                f"{investigation.get_phase_display().lower()}) is open; release needs it closed with a conclusion.",
                True,
            )
        )
    changes = DeviationReclassification.objects.filter(deviation__batch=gate.batch).select_related(
        "deviation", "decided_by"
    )
    for change in changes:
        gate.findings.append(
            Finding(
                "deviation_reclassified",
                f"{change} by {change.decided_by.get_username()} on {change.decided_at:%Y-%m-%d %H:%M} UTC "
                f"(signed): {change.reason}",
                False,
            )
        )


def _steps(gate: ReleaseGate) -> None:
    batch = gate.batch
    definition = batch.process_definition
    administrations = list(batch.gcsf_administrations.order_by("day"))
    required = set(definition.required_steps or [])
    if "gcsf" in required and len(administrations) < definition.gcsf_days_min:
        gate.findings.append(
            Finding(
                "step_missing",
                _("G-CSF: %(count)s administration(s); at least %(minimum)s required.")
                % {"count": len(administrations), "minimum": definition.gcsf_days_min},
                True,
            )
        )
    for kind, label in (("apheresis", _("Apheresis collection")), ("selection", _("CD133+ selection"))):
        if kind in required and getattr(batch, kind, None) is None:
            gate.findings.append(Finding("step_missing", _("%(step)s is not recorded.") % {"step": label}, True))
    for step, label in _recorded_steps(batch, administrations):
        if not step.is_verified:
            gate.findings.append(
                Finding("step_unverified", _("%(step)s is not verified by a second person.") % {"step": label}, True)
            )
        if step.late_entry_reason:
            gate.findings.append(
                Finding(
                    "late_entry",
                    _("%(step)s was entered late: %(reason)s") % {"step": label, "reason": step.late_entry_reason},
                    False,
                )
            )


def _recorded_steps(batch: Batch, administrations: list[Any]) -> list[tuple[Any, str]]:
    steps = [(a, _("G-CSF day %(day)s") % {"day": a.day}) for a in administrations]
    apheresis = getattr(batch, "apheresis", None)
    selection = getattr(batch, "selection", None)
    if apheresis is not None:
        steps.append((apheresis, _("Apheresis collection")))
    if selection is not None:
        steps.append((selection, _("CD133+ selection")))
    return steps


def _materials(gate: ReleaseGate) -> None:
    batch = gate.batch
    used: list[tuple[str, str, date, date]] = [
        (_("Filgrastim"), a.drug_lot, a.drug_expiry, timezone.localdate(a.administered_at))
        for a in batch.gcsf_administrations.all()
    ]
    selection = getattr(batch, "selection", None)
    if selection is not None:
        on = timezone.localdate(selection.started_at)
        used += [
            (_("CD133 reagent"), selection.reagent_lot, selection.reagent_expiry, on),
            (_("Tubing set"), selection.tubing_set_lot, selection.tubing_set_expiry, on),
            (_("Buffer"), selection.buffer_lot, selection.buffer_expiry, on),
            (_("Human serum albumin"), selection.albumin_lot, selection.albumin_expiry, on),
        ]
    for label, lot, expiry, on in used:
        if expiry < on:
            gate.findings.append(
                Finding("expired_material", f"{label} lot {lot} expired {expiry:%Y-%m-%d}, used {on:%Y-%m-%d}.", False)
            )


def _time_windows(gate: ReleaseGate) -> None:
    batch = gate.batch
    days = list(batch.gcsf_administrations.order_by("day"))
    for before, after in itertools.pairwise(days):
        gap = (timezone.localdate(after.administered_at) - timezone.localdate(before.administered_at)).days
        if after.day != before.day + 1 or gap != 1:
            gate.findings.append(
                Finding(
                    "time_window",
                    f"G-CSF days not consecutive: day {before.day} on "
                    f"{timezone.localdate(before.administered_at):%Y-%m-%d}, day {after.day} on "
                    f"{timezone.localdate(after.administered_at):%Y-%m-%d}.",
                    False,
                )
            )
    apheresis = getattr(batch, "apheresis", None)
    selection = getattr(batch, "selection", None)
    if gate.specification and apheresis is not None and selection is not None:
        allowed = timedelta(hours=gate.specification.max_collection_to_processing_hours)
        waited = selection.started_at - apheresis.ended_at
        if waited > allowed:
            hours = waited.total_seconds() / 3600
            gate.findings.append(
                Finding(
                    "time_window",
                    f"Processing started {hours:.1f} h after the end of collection "
                    f"(at most {gate.specification.max_collection_to_processing_hours} h).",
                    False,
                )
            )


def _changes(gate: ReleaseGate) -> None:
    for change in batch_changes(gate.batch):
        gate.findings.append(Finding("changed_after_entry", change.describe(), False))
    for result in QcResult.objects.filter(batch=gate.batch).exclude(late_entry_reason=""):
        gate.findings.append(Finding("late_entry", f"{result} was entered late: {result.late_entry_reason}", False))


def _signatures(gate: ReleaseGate) -> None:
    for signature in ElectronicSignature.objects.filter(batch=gate.batch).select_related("content_type"):
        if signature.status == SignatureStatus.INVALIDATED:
            gate.findings.append(
                Finding(
                    "signature_invalidated",
                    f"Signature of {signature.printed_name} ({signature.get_meaning_display().lower()}) on "
                    f"{signature.content_type.name} #{signature.object_id} was invalidated: "
                    f"{signature.invalidated_reason}",
                    False,
                )
            )
        elif not signature_is_intact(signature):
            gate.findings.append(
                Finding(
                    "signature_broken",
                    f"Signature of {signature.printed_name} ({signature.get_meaning_display().lower()}) on "
                    f"{signature.content_type.name} #{signature.object_id} no longer matches the record.",
                    True,
                )
            )


def _record_exceptions(gate: ReleaseGate) -> None:
    """Values accepted in their alert range and preliminary results, with the reason given (batches.models)."""
    for e in RecordException.objects.filter(batch=gate.batch).select_related("recorded_by").order_by("recorded_at"):
        gate.findings.append(
            Finding(
                e.kind,
                f"{e.source}: {e.parameter} {e.value} is outside its {e.limit}; accepted by "
                f"{e.recorded_by.get_username()} because: {e.reason}",
                False,
            )
        )


def release_gate(batch: Batch, *, releaser: User | None = None, conditional: bool = False) -> ReleaseGate:
    """Everything that blocks release of ``batch`` (by ``releaser``) and every exception QA must see."""
    gate = ReleaseGate(batch=batch, specification=specification_for_batch(batch))
    _tests(gate, conditional)
    _deviations(gate)
    _steps(gate)
    _materials(gate)
    _time_windows(gate)
    _changes(gate)
    _signatures(gate)
    _record_exceptions(gate)
    if releaser is not None and releaser.pk in participants(batch):
        gate.findings.append(
            Finding(
                "releaser_took_part",
                f"{releaser.get_username()} took part in making or testing this batch; "
                "someone independent must decide its release.",
                True,
            )
        )
    # Blocking first: the review page and the refusal message read in this order.
    gate.findings.sort(key=lambda f: not f.blocking)
    return gate
