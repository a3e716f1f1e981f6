"""The batch state machine: statuses and the one table of allowed transitions (21 CFR 11.10(f)).

Pure Python, no database: the services, the database trigger (batches.models.batch) and the
admin all read this table. docs/domain.md §Batch states draws it.
"""

from __future__ import annotations

from django.db import models


class BatchStatus(models.TextChoices):
    REGISTERED = "registered", "Registered"
    MOBILIZATION = "mobilization", "Mobilization"
    COLLECTION = "collection", "Collection"
    PROCESSING = "processing", "Processing"
    QUARANTINE = "quarantine", "Quarantine"
    # QA has decided (full or conditional); the product is not released for administration until the
    # Qualified Person certifies it (EU GMP for ATMPs, Part IV ch. 11).
    AWAITING_CERTIFICATION = "awaiting_certification", "QA decided, awaiting QP certification"
    RELEASED = "released", "Released"
    CONDITIONALLY_RELEASED = "conditionally_released", "Conditionally released"
    REJECTED = "rejected", "Rejected"
    DISPATCHED = "dispatched", "Dispatched"
    INFUSED = "infused", "Infused"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


S = BatchStatus
_BEFORE_RELEASE = (S.REGISTERED, S.MOBILIZATION, S.COLLECTION, S.PROCESSING, S.QUARANTINE)

TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    S.REGISTERED: frozenset({S.MOBILIZATION}),
    S.MOBILIZATION: frozenset({S.COLLECTION}),
    S.COLLECTION: frozenset({S.PROCESSING}),
    S.PROCESSING: frozenset({S.QUARANTINE}),
    # Straight to released only for a process definition that requires no QP certification.
    S.QUARANTINE: frozenset({S.AWAITING_CERTIFICATION, S.RELEASED, S.CONDITIONALLY_RELEASED, S.REJECTED}),
    # Final certification → released; initial certification (results pending) → conditionally released.
    S.AWAITING_CERTIFICATION: frozenset({S.RELEASED, S.CONDITIONALLY_RELEASED}),
    S.RELEASED: frozenset({S.DISPATCHED}),
    # The final certification of a conditionally released batch not yet dispatched.
    S.CONDITIONALLY_RELEASED: frozenset({S.DISPATCHED, S.RELEASED}),
    S.REJECTED: frozenset({S.CLOSED}),
    S.DISPATCHED: frozenset({S.INFUSED}),
    S.INFUSED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}
for _state in _BEFORE_RELEASE:
    TRANSITIONS[_state] = TRANSITIONS[_state] | {S.CANCELLED}

TERMINAL: frozenset[BatchStatus] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)

# The manufacturing step that may be recorded in each state (21 CFR 11.10(f) sequence check).
STEP_STATE: dict[str, BatchStatus] = {
    "gcsf": S.MOBILIZATION,
    "apheresis": S.COLLECTION,
    "selection": S.PROCESSING,
}


def can_transition(source: str, target: str) -> bool:
    return BatchStatus(target) in TRANSITIONS[BatchStatus(source)]


def allowed_pairs() -> list[tuple[str, str]]:
    """Every allowed (from, to) pair, sorted: the database trigger is generated from this."""
    return sorted((str(s), str(t)) for s, targets in TRANSITIONS.items() for t in targets)
