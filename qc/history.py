"""Changes made after first entry, read from the audit trail (pghistory events of kind update)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import models

from batches.models import ApheresisCollection, Batch, Cd133Selection, GcsfAdministration
from qc.models import QcResult, QcSample

# Fields that move with the workflow (verification, status); their change is no data correction.
WORKFLOW_FIELDS = frozenset(
    {"verified_by_id", "verified_at", "status", "status_changed_at", "end_of_processing_at", "din", "cancel_reason"}
)

RECORDS: tuple[tuple[type[models.Model], str, str], ...] = (
    (Batch, "pgh_obj_id", "Batch"),
    (GcsfAdministration, "batch_id", "G-CSF administration"),
    (ApheresisCollection, "batch_id", "Apheresis collection"),
    (Cd133Selection, "batch_id", "CD133+ selection"),
    (QcSample, "batch_id", "QC sample"),
    (QcResult, "batch_id", "QC result"),
)


@dataclass(frozen=True)
class Change:
    record: str
    object_id: int
    at: datetime
    actor: str
    reason: str
    fields: dict[str, tuple[Any, Any]]

    def describe(self) -> str:
        changed = "; ".join(f"{name}: {old!s} → {new!s}" for name, (old, new) in sorted(self.fields.items()))
        reason = self.reason or "no reason recorded"
        return f"{self.record} #{self.object_id} changed by {self.actor or 'unknown'} ({reason}): {changed}"


def _event_model(model: type[models.Model]) -> type[models.Model]:
    return apps.get_model(model._meta.app_label, f"{model.__name__}Event")


def batch_changes(batch: Batch) -> list[Change]:
    """Every update of the batch's records after first entry that changed data, with its reason."""
    changes: list[Change] = []
    for model, key, label in RECORDS:
        event_model: Any = _event_model(model)
        tracked = [
            f.attname
            for f in event_model._meta.concrete_fields
            if not f.name.startswith("pgh_") and f.attname not in WORKFLOW_FIELDS
        ]
        events = event_model.objects.filter(**{key: batch.pk}).select_related("pgh_context").order_by("pgh_id")
        previous: dict[int, dict[str, Any]] = {}
        for event in events:
            snapshot = {name: getattr(event, name) for name in tracked}
            before = previous.get(event.pgh_obj_id)
            if event.pgh_label == "update" and before is not None:
                diff = {name: (before[name], value) for name, value in snapshot.items() if before[name] != value}
                if diff:
                    metadata = event.pgh_context.metadata if event.pgh_context else {}
                    changes.append(
                        Change(
                            record=label,
                            object_id=event.pgh_obj_id,
                            at=event.pgh_created_at,
                            actor=str(metadata.get("actor", "")),
                            reason=str(metadata.get("reason", "")),
                            fields=diff,
                        )
                    )
            previous[event.pgh_obj_id] = snapshot
    return sorted(changes, key=lambda c: c.at)
