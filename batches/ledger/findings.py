"""What a verification run reports: where it started, what it counted, and each broken thing it found."""

from __future__ import annotations

from dataclasses import dataclass, field

from batches.ledger.chain import GENESIS_HASH
from batches.models.integrity import FindingKind
from batches.models.ledger import VerificationMode

# Broken events or rows listed per table and check; beyond that they are counted in one more line.
LIST_LIMIT = 200


@dataclass(frozen=True)
class Start:
    """Where a run starts: the chain head already verified (genesis for a full run), and per event
    table the last event already reconciled and the first one that was awaiting a seal."""

    sequence: int = 0
    hash: str = GENESIS_HASH
    marks: dict[str, list[int]] | None = None

    def last_event(self, label: str) -> int:
        return self.marks.get(label, [0, 0])[0] if self.marks is not None else 0

    def first_unsealed(self, label: str) -> int:
        return self.marks.get(label, [0, 0])[1] if self.marks is not None else 0


@dataclass(frozen=True)
class Finding:
    """One broken thing: the line printed, and where it is (table, row or event id, batch)."""

    kind: FindingKind
    text: str
    table: str = ""
    object_id: int | None = None
    batch_id: int | None = None


@dataclass
class Report:
    sealed: int = 0
    unsealed: int = 0
    rows: int = 0
    checkpoint: str = "none"
    findings: list[Finding] = field(default_factory=list)
    mode: str = VerificationMode.FULL
    from_sequence: int = 1
    head_hash: str = GENESIS_HASH
    seals_checked: int = 0
    marks: dict[str, list[int]] = field(default_factory=dict)
    ddl_recorded: bool = True
    run_id: int | None = None
    # Incremental runs: per event table with seals after the start, its smallest sealed event id there
    # (the other tables have nothing to compare).
    new_seal_labels: dict[str, int] | None = None

    def touched(self, label: str, start: Start) -> bool:
        """Does an incremental run have anything to check in this event table?"""
        if self.new_seal_labels is None or label in self.new_seal_labels:
            return True
        return self.marks.get(label, [0, 0])[0] > start.last_event(label)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> list[str]:
        return [finding.text for finding in self.findings]

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def problem(self, text: str, kind: FindingKind = FindingKind.CHAIN) -> None:
        self.findings.append(Finding(kind, text))

    @property
    def batch_ids(self) -> list[int]:
        return sorted({f.batch_id for f in self.findings if f.batch_id is not None})
