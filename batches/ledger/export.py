"""Exports of a batch's audit trail: CSV and JSON, byte-for-byte reproducible, with their SHA-256."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass

from batches.ledger.trail import Entry
from batches.models import Batch

CSV_COLUMNS = [
    "event",
    "at_utc",
    "at_local",
    "actor",
    "db_role",
    "action",
    "record",
    "object_id",
    "field",
    "old",
    "new",
    "reason",
]


@dataclass(frozen=True)
class Export:
    content: bytes
    content_type: str
    filename: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def trail_csv(batch: Batch, entries: list[Entry]) -> Export:
    """One line per changed field (an event without field changes still has its line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        common = [entry.event, entry.at_utc_iso, entry.at_local_iso, entry.actor, entry.db_role, entry.action]
        changes = entry.changes or ()
        if not changes:
            writer.writerow([*common, entry.record, entry.object_id, "", "", "", entry.reason])
        for change in changes:
            writer.writerow(
                [*common, entry.record, entry.object_id, change.field, change.old, change.new, entry.reason]
            )
    return Export(buffer.getvalue().encode(), "text/csv; charset=utf-8", f"{batch.batch_number}-audit-trail.csv")


def trail_json(batch: Batch, entries: list[Entry]) -> Export:
    document = {
        "batch": batch.batch_number,
        "batch_id": batch.pk,
        "event_count": len(entries),
        "events": [entry.as_json() for entry in entries],
    }
    content = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1).encode()
    return Export(content, "application/json", f"{batch.batch_number}-audit-trail.json")


EXPORTS = {"csv": trail_csv, "json": trail_json}
