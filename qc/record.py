"""QC sections of the signed batch record: results against specification, and deviations.

Re-exported by qc.selectors (the only qc module the batches app imports). Each function reads its
rows with the related people and limits joined in, so a section costs a fixed number of queries.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext

from batches import formatting
from batches.models import Batch
from batches.selectors import person
from batches.snapshot import Deviation as DeviationEntry
from batches.snapshot import QcResult as QcResultEntry
from batches.snapshot import text
from qc.evaluation import TEST_LABELS, QcTest, Verdict
from qc.models import Deviation, DeviationKind, QcResult, SpecificationLimit
from qc.queries import specification_for_batch

LONG_NUMBER = re.compile(r"\d{6,}")


def _grouped(value: str) -> str:
    """Cell counts as ``124.45 × 10⁶`` (batches.formatting): never ``124,450,000``, which a Spanish
    reader takes for a decimal."""
    # Spaces around a range's dash let a narrow table cell wrap there rather than inside a number.
    return LONG_NUMBER.sub(lambda m: formatting.cells(int(m.group())), value).replace("–", " – ")


def _label(test: str) -> str:
    return gettext(TEST_LABELS[QcTest(test)])


def test_names() -> dict[str, str]:
    """Each QC test's name in the active language, by its code (the process definition's limits name tests by code)."""
    return {test.value: _label(test) for test in QcTest}


def _comment(result: QcResult, superseded: bool) -> str:
    notes = [gettext("sample %(code)s") % {"code": result.sample.sample_code}]
    if result.instrument:
        notes.append(gettext("instrument %(instrument)s") % {"instrument": result.instrument})
    if result.computed_from:
        notes.append(gettext("calculated from %(results)s") % {"results": _grouped(result.computed_from)})
    if result.investigation is not None:
        notes.append(gettext("repeated under investigation %(number)s") % {"number": result.investigation.number})
    if superseded:
        notes.append(gettext("superseded by the repeat below (not reportable)"))
    if result.recorded_after_release:
        notes.append(gettext("recorded after release"))
    if result.late_entry_reason:
        notes.append(gettext("late entry: %(reason)s") % {"reason": result.late_entry_reason})
    return "; ".join(notes)


def _result(result: QcResult, *, superseded: bool) -> QcResultEntry:
    return QcResultEntry(
        test=_label(result.test),
        method=result.method,
        specification=_grouped(result.limit.as_limit().describe(localized=True)),
        result=_grouped(result.shown_value(localized=True)),
        unit="",  # display_value carries the unit
        verdict=result.get_verdict_display(),
        verdict_code=result.verdict,
        analyst=person(result.analyst),
        performed_at=text(result.tested_at),
        verified_by=person(result.verified_by),
        verified_at=text(result.verified_at),
        comment=_comment(result, superseded),
    )


def _pending(limit: SpecificationLimit) -> QcResultEntry:
    return QcResultEntry(
        test=_label(limit.test),
        method=limit.method,
        specification=_grouped(limit.as_limit().describe(localized=True)),
        result=gettext("no result at the time of issue"),
        verdict=gettext("Pending"),
        verdict_code=Verdict.PENDING.value,
        comment=gettext("a missing result blocks release")
        if limit.blocks_release
        else gettext("does not block a conditional release"),
    )


def batch_record_qc_results(batch: Batch) -> list[QcResultEntry]:
    """Every result in specification order (repeats after the result they repeat), and each test still pending."""
    specification = specification_for_batch(batch)
    limits = list(specification.limits.order_by("pk")) if specification else []
    results = list(
        QcResult.objects.filter(batch=batch)
        .select_related("limit", "sample", "analyst", "verified_by", "investigation")
        .order_by("recorded_at", "pk")
    )
    tests = [limit.test for limit in limits]
    tests += sorted({r.test for r in results} - set(tests))
    pending = {limit.test: limit for limit in limits}
    entries: list[QcResultEntry] = []
    for test in tests:
        mine = [r for r in results if r.test == test]
        if not mine and test in pending:
            entries.append(_pending(pending[test]))
        entries += [_result(r, superseded=i < len(mine) - 1) for i, r in enumerate(mine)]
    return entries


def _title(deviation: Deviation) -> str:
    if deviation.kind == DeviationKind.OOS and deviation.source_result is not None:
        result = deviation.source_result
        return gettext("Out of specification: %(test)s %(result)s") % {
            "test": _label(result.test),
            "result": _grouped(result.shown_value(localized=True)),
        }
    return gettext("%(kind)s deviation") % {"kind": deviation.get_kind_display()}


def batch_record_deviations(batch: Batch) -> list[DeviationEntry]:
    """Deviations of the batch, oldest first, with their investigation and closure."""
    deviations = (
        Deviation.objects.filter(batch=batch)
        .select_related("raised_by", "closed_by", "source_result")
        .order_by("raised_at", "pk")
    )
    return [
        DeviationEntry(
            number=d.number,
            title=gettext("%(title)s (raised after release)") % {"title": _title(d)}
            if d.raised_after_release
            else _title(d),
            classification=d.get_classification_display(),
            status=d.get_status_display(),
            description=d.description,
            investigation=d.investigation,
            root_cause=d.root_cause,
            impact=d.impact,
            conclusion=d.closure_summary,
            capa=d.capa,
            opened_at=text(d.raised_at),
            opened_by=person(d.raised_by),
            closed_at=text(d.closed_at),
            closed_by=person(d.closed_by),
            status_code=d.status,
        )
        for d in deviations
    ]
