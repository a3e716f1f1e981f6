"""Changes made after first entry, with their reasons: the data corrections QA reviews.

Read from the batch's audit trail (batches.ledger.trail); status and verification fields move
with the workflow and are not corrections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from batches.ledger.trail import batch_trail
from batches.models import ApheresisCollection, Batch, Cd133Selection, GcsfAdministration
from qc.models import QcResult, QcSample

StrOrPromise = str | Promise
WORKFLOW_FIELDS = frozenset(
    {"verified_by_id", "verified_at", "status", "status_changed_at", "end_of_processing_at", "din", "cancel_reason"}
)
# Each record's name is read when shown (verbose names are lazy), so that it is in the reader's language.
DATA_RECORDS: dict[str, StrOrPromise] = {
    model._meta.label: model._meta.verbose_name or model._meta.model_name or model._meta.label
    for model in (Batch, GcsfAdministration, ApheresisCollection, Cd133Selection, QcSample, QcResult)
}


@dataclass(frozen=True)
class Change:
    record: StrOrPromise
    object_id: int
    at: datetime
    actor: str
    reason: str
    fields: dict[str, tuple[str | None, str | None]]

    def describe(self) -> str:
        changed = "; ".join(f"{name}: {old!s} → {new!s}" for name, (old, new) in sorted(self.fields.items()))
        return _("%(record)s #%(id)s changed by %(actor)s (%(reason)s): %(changes)s") % {
            "record": str(self.record).capitalize(),
            "id": self.object_id,
            "actor": self.actor or _("unknown"),
            "reason": self.reason or _("no reason recorded"),
            "changes": changed,
        }


def batch_changes(batch: Batch) -> list[Change]:
    """Every update of the batch's data records after first entry that changed data, with its reason."""
    changes = []
    for entry in batch_trail(batch):
        if entry.action != "update" or entry.record not in DATA_RECORDS:
            continue
        fields = {c.field: (c.old, c.new) for c in entry.changes if c.field not in WORKFLOW_FIELDS}
        if fields:
            changes.append(
                Change(
                    record=DATA_RECORDS[entry.record],
                    object_id=entry.object_id,
                    at=entry.at,
                    actor=entry.actor,
                    reason=entry.reason,
                    fields=fields,
                )
            )
    return changes
