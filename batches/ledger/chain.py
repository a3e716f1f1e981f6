"""The hash chain's formulas: what bytes are hashed and signed, in one place."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from django.db import models

from batches.audit import GMP_MODELS, event_model

# The hash before the first seal.
GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key serialising sealers ("CBLEDGER" as an integer, any constant would do).
SEAL_LOCK_KEY = int.from_bytes(b"CBLEDGER", "big") & 0x7FFFFFFFFFFFFFFF
STATEMENT_VERSION = "cellbatch-audit-checkpoint/1"


def seal_header(
    *, sequence: int, event_model: str, event_id: int, previous_hash: str, event_xmin: int | None = None
) -> bytes:
    """What binds a payload to its place in the chain, to its event table and row, and (seals written
    since the row version is recorded) to that row version's xmin."""
    header = f"{sequence}\n{event_model}\n{event_id}\n{previous_hash}\n"
    if event_xmin is not None:
        header += f"xmin {event_xmin}\n"
    return header.encode()


def seal_hash(
    *, sequence: int, event_model: str, event_id: int, previous_hash: str, payload: bytes, event_xmin: int | None = None
) -> str:
    header = seal_header(
        sequence=sequence,
        event_model=event_model,
        event_id=event_id,
        previous_hash=previous_hash,
        event_xmin=event_xmin,
    )
    return hashlib.sha256(header + payload).hexdigest()


def checkpoint_statement(
    *, head_sequence: int, head_hash: str, event_count: int, created_at: datetime, certificate_sha256: str
) -> bytes:
    """The canonical JSON that the organisation key signs for a checkpoint."""
    document = {
        "statement": STATEMENT_VERSION,
        "head_sequence": head_sequence,
        "head_hash": head_hash,
        "event_count": event_count,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "certificate_sha256": certificate_sha256,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def event_tables() -> list[tuple[str, type[models.Model], type[models.Model]]]:
    """(label, tracked model, event model) for every GMP table, in a stable order."""
    pairs = [(event_model(m)._meta.label, m, event_model(m)) for m in GMP_MODELS]
    return sorted(pairs, key=lambda item: item[0])
