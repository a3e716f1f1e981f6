"""What the record decides by: the code each entry carries next to the label it prints.

The labels are written in the record's language ("Final certification by the Qualified Person",
"Certificación final por la Persona Cualificada"), so nothing is decided by them. A snapshot stored
before the codes were carried (schema 4 and earlier) has the labels only: for it the code is read back
from the label, by the current labels in the record's language (the one drawing it) and by the
English words of the earliest records.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext

from batches.models.release import CERTIFICATIONS, Decision
from batches.snapshot import SCAN_MATCH, SCAN_REFUSED, Deviation, QcResult, ReleaseEntry, ScanEntry
from qc.selectors import DeviationStatus, Verdict, VerdictChoices


def _from_label(label: str, choices: Iterable[tuple[str, str]]) -> str:
    """The code whose label, in the record's language, is ``label`` ('' for none)."""
    key = label.strip().lower()
    return next((code for code, name in choices if gettext(name).lower() == key), "")


def decision(entry: ReleaseEntry) -> str:
    """The decision's code (batches.models.release.Decision)."""
    if entry.decision_code:
        return entry.decision_code
    # The earliest records said "Certified (QP)", then "Certified by the Qualified Person".
    earliest = Decision.CERTIFIED if entry.decision.lower().startswith("certified") else ""
    return _from_label(entry.decision, Decision.choices) or earliest


def is_certification(entry: ReleaseEntry) -> bool:
    """The Qualified Person's certification (initial or final), not one of QA's decisions."""
    return decision(entry) in CERTIFICATIONS


def deviation_status(deviation: Deviation) -> str:
    """The deviation's status code (qc.models.DeviationStatus)."""
    if deviation.status_code:
        return deviation.status_code
    # The earliest records wrote the code itself ("closed").
    return _from_label(deviation.status, DeviationStatus.choices) or deviation.status.strip().lower()


def is_open(deviation: Deviation) -> bool:
    return deviation_status(deviation) != DeviationStatus.CLOSED


def verdict(result: QcResult) -> str:
    """The result's verdict code (qc.evaluation.Verdict)."""
    if result.verdict_code:
        return result.verdict_code
    key = result.verdict.strip().lower()
    # The earliest records' English words: "pass", "fail (OOS)", "pending".
    if "oos" in key or key.startswith(("fail", "out of")):
        return Verdict.OOS
    return _from_label(key, VerdictChoices.choices) or next((v for v in Verdict if key.startswith(v)), "")


def scan_outcome(scan: ScanEntry) -> str:
    """The identity scan's outcome code (SCAN_MATCH or SCAN_REFUSED)."""
    if scan.outcome_code:
        return scan.outcome_code
    # The outcome was written in English whatever the record's language: "match", "REFUSED: <why>".
    key = scan.outcome.strip().lower()
    return SCAN_MATCH if key == SCAN_MATCH else SCAN_REFUSED if key.startswith(SCAN_REFUSED) else ""
