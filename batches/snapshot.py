"""The frozen snapshot a batch record is drawn from: plain data, no ORM objects.

Every section is a list of small dataclasses whose fields are display-ready strings (times as
ISO 8601 UTC), so the snapshot serialises to canonical JSON, hashes to a stable SHA-256 and can be
rendered again, byte for byte, years later. Sections owned by other parts of the system (QC results,
deviations, release, custody and delivery, the audit checkpoint) are filled by the functions named in
:mod:`batches.pdf.providers`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

# 2: custody, identity scans, adverse events and expired-use authorisations; release signatures.
# 3: who corrected a step and when (StepSection.corrected_by / corrected_at).
# 4: the procedure (SOP version) each step followed; for a transcribed step, who recorded it and from what;
#    each signer's role in plain words.
# 5: the codes the record decides by, next to the labels it prints (which are in the record's language):
#    each release entry's decision (ReleaseEntry.decision_code), each deviation's status (Deviation.status_code),
#    each QC result's verdict (QcResult.verdict_code), each identity scan's outcome (ScanEntry.outcome_code).
SCHEMA_VERSION = 5
T = TypeVar("T")
# What a demonstration batch's page and every page of its record say.
DEMONSTRATION_MARK = "DEMONSTRATION DATA, NOT FOR CLINICAL USE"


def text(value: Any) -> str:
    """A display string for one value: UTC ISO time, plain decimal, '' for nothing."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class ValueRow:
    label: str
    value: str
    unit: str = ""


@dataclass(frozen=True)
class LotRow:
    material: str
    lot: str
    expiry: str = ""


@dataclass(frozen=True)
class EquipmentRow:
    name: str
    serial: str = ""
    note: str = ""


@dataclass(frozen=True)
class StepSection:
    title: str
    kind: str = ""
    performed_by: str = ""
    performed_at: str = ""
    corrected_by: str = ""
    corrected_at: str = ""
    verified_by: str = ""
    verified_at: str = ""
    procedure: str = ""
    recorded_by: str = ""
    source: str = ""
    values: list[ValueRow] = field(default_factory=list)
    lots: list[LotRow] = field(default_factory=list)
    equipment: list[EquipmentRow] = field(default_factory=list)
    late_entry_reason: str = ""
    notes: str = ""


@dataclass(frozen=True)
class QcResult:
    test: str
    method: str = ""
    specification: str = ""
    result: str = ""
    unit: str = ""
    verdict: str = ""
    analyst: str = ""
    performed_at: str = ""
    verified_by: str = ""
    comment: str = ""
    verified_at: str = ""
    verdict_code: str = ""  # qc.evaluation.Verdict: "pass", "oos" or "pending"


@dataclass(frozen=True)
class Deviation:
    number: str
    title: str = ""
    classification: str = ""
    status: str = ""
    description: str = ""
    investigation: str = ""
    conclusion: str = ""
    capa: str = ""
    root_cause: str = ""
    impact: str = ""
    opened_at: str = ""
    opened_by: str = ""
    closed_at: str = ""
    closed_by: str = ""
    status_code: str = ""  # qc.models.DeviationStatus: "open" or "closed"


@dataclass(frozen=True)
class ReleaseEntry:
    decision: str
    by: str = ""
    at: str = ""
    statement: str = ""
    conditions: str = ""
    signature: str = ""
    specification: str = ""
    signed_at: str = ""
    decision_code: str = ""  # batches.models.release.Decision: "released", "certified", …


@dataclass(frozen=True)
class InfusionEntry:
    item: str
    value: str = ""
    by: str = ""
    at: str = ""
    comment: str = ""


@dataclass(frozen=True)
class CustodyEntry:
    hand_off: str
    from_location: str = ""
    to_location: str = ""
    handed_over_by: str = ""
    handed_over_at: str = ""
    temperature_out: str = ""
    received_by: str = ""
    received_at: str = ""
    temperature_in: str = ""
    scanned: str = ""
    sample: str = ""
    notes: str = ""


@dataclass(frozen=True)
class TemperatureLogEntry:
    """The logger file read at a receipt: its verdict and its readings ("<UTC ISO time> <°C>")."""

    hand_off: str
    file_name: str = ""
    sha256: str = ""
    low: str = ""
    high: str = ""
    verdict: str = ""
    readings: list[str] = field(default_factory=list)


# An identity scan's outcome code (ScanEntry.outcome_code).
SCAN_MATCH, SCAN_REFUSED = "match", "refused"


@dataclass(frozen=True)
class ScanEntry:
    point: str
    scanned: str = ""
    expected: str = ""
    outcome: str = ""
    by: str = ""
    at: str = ""
    outcome_code: str = ""  # SCAN_MATCH or SCAN_REFUSED


@dataclass(frozen=True)
class AdverseEventEntry:
    term: str
    grade: str = ""
    serious: str = ""
    relatedness: str = ""
    phase: str = ""
    onset_at: str = ""
    resolved_at: str = ""
    reported_by: str = ""
    notes: str = ""


@dataclass(frozen=True)
class ExpiredUseEntry:
    deviation: str
    reason: str = ""
    valid_until: str = ""
    authorized_by: str = ""
    authorized_at: str = ""


@dataclass(frozen=True)
class ExceptionEntry:
    """A value accepted outside its expected range (or a preliminary result), with the reason."""

    source: str
    parameter: str
    value: str = ""
    limit: str = ""
    reason: str = ""
    by: str = ""
    at: str = ""


@dataclass(frozen=True)
class SignatureEntry:
    printed_name: str
    meaning: str
    signed_at: str
    record: str = ""
    username: str = ""
    content_sha256: str = ""
    status: str = ""
    role: str = ""  # the signer's role at signing, in plain words


@dataclass(frozen=True)
class TransitionEntry:
    from_status: str
    to_status: str
    actor: str = ""
    at: str = ""
    reason: str = ""


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    record: str
    action: str
    changes: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Checkpoint:
    sequence: str
    sealed_at: str = ""
    chain_sha256: str = ""


@dataclass(frozen=True)
class Cover:
    organisation: str
    product_name: str
    product_code: str
    process_definition: str
    batch_number: str
    batch_status: str
    subject_code: str
    din: str
    din_check: str
    coi_id: str
    registered_at: str = ""
    registered_by: str = ""
    # DEMONSTRATION_MARK for a demonstration batch (printed on every page), empty for a real one.
    demonstration: str = ""


@dataclass(frozen=True)
class Snapshot:
    cover: Cover
    document_kind: str
    revision: int
    taken_at: str
    time_zone: str
    schema: int = SCHEMA_VERSION
    # The language chosen at issue (a code of settings.LANGUAGES): the labels stored in the snapshot
    # were written in it, and the record is drawn in it, again, whenever it is re-rendered.
    language: str = "en-gb"
    process: list[ValueRow] = field(default_factory=list)
    steps: list[StepSection] = field(default_factory=list)
    qc_results: list[QcResult] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)
    release: list[ReleaseEntry] = field(default_factory=list)
    infusion: list[InfusionEntry] = field(default_factory=list)
    custody: list[CustodyEntry] = field(default_factory=list)
    identity_scans: list[ScanEntry] = field(default_factory=list)
    temperature_logs: list[TemperatureLogEntry] = field(default_factory=list)
    adverse_events: list[AdverseEventEntry] = field(default_factory=list)
    expired_use: list[ExpiredUseEntry] = field(default_factory=list)
    exceptions: list[ExceptionEntry] = field(default_factory=list)
    signatures: list[SignatureEntry] = field(default_factory=list)
    transitions: list[TransitionEntry] = field(default_factory=list)
    audit_trail: list[AuditEntry] = field(default_factory=list)
    checkpoint: Checkpoint | None = None

    def to_dict(self) -> dict[str, Any]:
        return typing.cast(dict[str, Any], _plain(self))

    def canonical_json(self) -> bytes:
        return canonical_json(self.to_dict())

    def sha256(self) -> str:
        return digest(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        return from_mapping(cls, data)


def _plain(value: Any) -> Any:
    """A snapshot as JSON-ready dicts and lists (its leaves are already str, int or None).

    Same result as ``dataclasses.asdict``, without its deep copy of every leaf: a record has
    thousands of them and this runs at every request and every build.
    """
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if dataclasses.is_dataclass(value):
        return {name: _plain(getattr(value, name)) for name, _ in _fields(typing.cast(type, type(value)))}
    return value


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The bytes a snapshot's hash is taken over: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(data: Mapping[str, Any]) -> str:
    """SHA-256 of a snapshot's dict form (``Snapshot.to_dict()`` or the stored JSON)."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def from_mapping(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build dataclass ``cls`` from a mapping: unknown keys are dropped, values become strings.

    Providers hand in plain dicts (from other apps' models); this keeps the snapshot's shape fixed
    whatever extra keys they carry.
    """
    values: dict[str, Any] = {}
    for name, hint in _fields(typing.cast(type, cls)):
        if name in data:
            values[name] = _convert(hint, data[name])
    return cls(**values)


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """Field names and resolved types of a dataclass (resolving string annotations is slow: once per class)."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _convert(hint: Any, raw: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, r) for r in raw or []]
    if origin in (typing.Union, types.UnionType):
        if raw is None:
            return None
        inner = next(a for a in typing.get_args(hint) if a is not type(None))
        return _convert(inner, raw)
    if dataclasses.is_dataclass(hint):
        return raw if isinstance(raw, hint) else from_mapping(hint, raw)  # type: ignore[arg-type]
    if hint is int:
        return int(raw)
    return text(raw)


def rows(cls: type[T], items: typing.Iterable[Mapping[str, Any] | T]) -> list[T]:
    """Provider output (dicts or ready dataclasses) as a list of ``cls``."""
    return [i if isinstance(i, cls) else from_mapping(cls, i) for i in items]  # type: ignore[arg-type]
