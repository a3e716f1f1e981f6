"""The release gate: what blocks release of a batch, and what QA must look at (review by exception).

Each check returns findings; a blocking finding refuses release, the others are exceptions that
QA sees first on the review page and that are kept on the disposition record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from batches import formatting
from batches.models import Batch, ElectronicSignature, RecordException, SignatureStatus
from batches.signature_checks import signature_is_intact
from qc.evaluation import TEST_LABELS, QcTest, Verdict
from qc.findings import Finding
from qc.gate_steps import materials_findings, steps_findings, time_window_findings
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
        name = _("Deviation %(number)s (%(classification)s, %(kind)s)") % {
            "number": deviation.number,
            "classification": deviation.get_classification_display().lower(),
            "kind": deviation.get_kind_display().lower(),
        }
        opened = _("%(deviation)s is open: %(description)s") % {
            "deviation": name,
            "description": deviation.description[:200],
        }
        gate.findings.append(Finding("deviation_open", opened, deviation.blocks_release))
        if deviation.impact.strip():
            impact = _("%(deviation)s: impact on the batch: %(impact)s") % {
                "deviation": name,
                "impact": deviation.impact,
            }
            gate.findings.append(Finding("deviation_impact", impact, False))
        else:
            missing = _(
                "%(deviation)s is open without an impact assessment on the batch; record it before a release decision."
            ) % {"deviation": name}
            gate.findings.append(Finding("deviation_no_impact", missing, True))
    investigations = OosInvestigation.objects.filter(batch=gate.batch, status=InvestigationStatus.OPEN)
    for investigation in investigations.select_related("deviation", "result").order_by("opened_at"):
        message = _(
            "The OOS investigation of %(test)s %(value)s (%(deviation)s, %(phase)s) is open; "
            "release needs it closed with a conclusion."
        ) % {
            "test": investigation.result.get_test_display(),
            "value": investigation.result.display_value,
            "deviation": investigation.deviation.number,
            "phase": investigation.get_phase_display().lower(),
        }
        gate.findings.append(Finding("oos_investigation_open", message, True))
    changes = DeviationReclassification.objects.filter(deviation__batch=gate.batch).select_related(
        "deviation", "decided_by"
    )
    for change in changes:
        message = _("%(change)s by %(user)s on %(when)s (signed): %(reason)s") % {
            "change": change,
            "user": change.decided_by.get_username(),
            "when": formatting.moment(change.decided_at),
            "reason": change.reason,
        }
        gate.findings.append(Finding("deviation_reclassified", message, False))


def _changes(gate: ReleaseGate) -> None:
    for change in batch_changes(gate.batch):
        gate.findings.append(Finding("changed_after_entry", change.describe(), False))
    for result in QcResult.objects.filter(batch=gate.batch).exclude(late_entry_reason=""):
        gate.findings.append(
            Finding(
                "late_entry",
                _("%(result)s was entered late: %(reason)s") % {"result": result, "reason": result.late_entry_reason},
                False,
            )
        )


def _signatures(gate: ReleaseGate) -> None:
    for signature in ElectronicSignature.objects.filter(batch=gate.batch).select_related("content_type"):
        names = {
            "signer": signature.printed_name,
            "meaning": signature.get_meaning_display().lower(),
            "record": f"{signature.content_type.name} #{signature.object_id}",
        }
        if signature.status == SignatureStatus.INVALIDATED:
            message = _("Signature of %(signer)s (%(meaning)s) on %(record)s was invalidated: %(reason)s") % {
                **names,
                "reason": signature.invalidated_reason,
            }
            gate.findings.append(Finding("signature_invalidated", message, False))
        elif not signature_is_intact(signature):
            message = _("Signature of %(signer)s (%(meaning)s) on %(record)s no longer matches the record.") % names
            gate.findings.append(Finding("signature_broken", message, True))


def _record_exceptions(gate: ReleaseGate) -> None:
    """Values accepted in their alert range and preliminary results, with the reason given (batches.models)."""
    for e in RecordException.objects.filter(batch=gate.batch).select_related("recorded_by").order_by("recorded_at"):
        gate.findings.append(
            Finding(
                e.kind,
                _(
                    "%(source)s: %(parameter)s %(value)s is outside its %(limit)s; "
                    "accepted by %(user)s because: %(reason)s"
                )
                % {
                    "source": e.source,
                    "parameter": e.parameter,
                    "value": e.value,
                    "limit": e.limit,
                    "user": e.recorded_by.get_username(),
                    "reason": e.reason,
                },
                False,
            )
        )


def release_gate(batch: Batch, *, releaser: User | None = None, conditional: bool = False) -> ReleaseGate:
    """Everything that blocks release of ``batch`` (by ``releaser``) and every exception QA must see."""
    gate = ReleaseGate(batch=batch, specification=specification_for_batch(batch))
    _tests(gate, conditional)
    _deviations(gate)
    gate.findings += steps_findings(batch)
    gate.findings += materials_findings(batch)
    gate.findings += time_window_findings(batch, gate.specification)
    _changes(gate)
    _signatures(gate)
    _record_exceptions(gate)
    if releaser is not None and releaser.pk in participants(batch):
        gate.findings.append(
            Finding(
                "releaser_took_part",
                _("%(user)s took part in making or testing this batch; someone independent must decide its release.")
                % {"user": releaser.get_username()},
                True,
            )
        )
    # Blocking first: the review page and the refusal message read in this order.
    gate.findings.sort(key=lambda f: not f.blocking)
    return gate
