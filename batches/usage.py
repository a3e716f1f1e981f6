"""Where materials and equipment went: reads for recalls, use logs, the batch page, the QA review and the record.

Nothing here writes; the rows are written by the step guards (batches.services.step_inputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet

from batches.models import Batch, Equipment, EquipmentUse, LotUse, MaterialLot, MonitoringSample


@dataclass(frozen=True)
class RecallHit:
    """One use of a recalled lot: which batch, which patient, which step, when, how much."""

    batch_id: int
    batch_number: str
    batch_status: str
    subject_code: str
    step_kind: str
    used_at: datetime
    quantity: str


def lot_recall(lot: MaterialLot) -> list[RecallHit]:
    """Every batch and patient that received ``lot``, in order of use."""
    uses = lot.uses.select_related("batch__patient").order_by("used_at", "pk")
    return [
        RecallHit(
            batch_id=use.batch_id,
            batch_number=use.batch.batch_number,
            batch_status=use.batch.get_status_display(),
            subject_code=use.batch.patient.subject_code,
            step_kind=use.step_kind,
            used_at=use.used_at,
            quantity=f"{use.quantity} {use.lot.material.unit}",
        )
        for use in uses.select_related("lot__material")
    ]


def equipment_log(item: Equipment) -> QuerySet[EquipmentUse]:
    """The use log of an item: every batch it touched, newest first."""
    return item.uses.select_related("batch__patient").order_by("-used_from", "-pk")


def batch_lot_uses(batch: Batch) -> QuerySet[LotUse]:
    return LotUse.objects.filter(batch=batch).select_related("lot").order_by("used_at", "step_kind", "material_code")


def batch_equipment_uses(batch: Batch) -> QuerySet[EquipmentUse]:
    return EquipmentUse.objects.filter(batch=batch).select_related("equipment").order_by("used_from", "pk")


StepKey = tuple[int, int]  # (content type id, object id) of a step or QC result


def batch_step_inputs(batch: Batch) -> dict[StepKey, tuple[list[LotUse], list[EquipmentUse]]]:
    """The lot and equipment uses of every step of the batch, by step, in two queries (the record's steps)."""
    found: dict[StepKey, tuple[list[LotUse], list[EquipmentUse]]] = {}
    for use in LotUse.objects.filter(batch=batch).select_related("lot").order_by("material_code", "pk"):
        found.setdefault((use.content_type_id, use.object_id), ([], []))[0].append(use)
    items = EquipmentUse.objects.filter(batch=batch).select_related("equipment").order_by("equipment__code", "pk")
    for item in items:
        found.setdefault((item.content_type_id, item.object_id), ([], []))[1].append(item)
    return found


def step_inputs(step: Model) -> tuple[list[LotUse], list[EquipmentUse]]:
    """The lot and equipment uses recorded with one step (or QC result)."""
    content_type = ContentType.objects.get_for_model(step)
    where = {"content_type": content_type, "object_id": step.pk}
    lots = list(LotUse.objects.filter(**where).select_related("lot").order_by("material_code"))
    items = list(EquipmentUse.objects.filter(**where).select_related("equipment").order_by("equipment__code"))
    return lots, items


def batch_monitoring_results(batch: Batch) -> list[MonitoringSample]:
    """Every read sample of the monitoring sessions that covered the batch's steps."""
    found: set[MonitoringSample] = set()
    for use in batch_equipment_uses(batch):
        found |= set(
            MonitoringSample.objects.filter(
                session__workstation=use.equipment, session__opened_at__lte=use.used_until, cfu__isnull=False
            )
            .filter(Q(session__closed_at__isnull=True) | Q(session__closed_at__gte=use.used_from))
            .select_related("session__workstation")
        )
    return sorted(found, key=lambda s: (s.session_id, s.sample_code))
