"""Demonstration chain of identity: labels printed, applied and reconciled; receipts with two scans and a logger file.

``label_and_reconcile`` is called by ``batches.demo.walk_to`` so that every walked batch (demo data and
tests) can be released; ``receive`` is how the demo and the tests receive a hand-off.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from batches.audit import audit_context
from batches.models import Batch, CustodyEvent, Label, LabelBag, LabelStatus, TemperatureLoggerModel
from batches.release import labelling
from batches.services import receipt


def _print_and_apply(cast: Any, batch: Batch, bag: str) -> str:
    printed = labelling.label_print(
        actor=cast.operator,
        batch_id=batch.pk,
        bag=bag,
        copies=1,
        printer="ZD621-LAB-01",
        reason="labels for the bag",
        label_format="zpl",
    )
    label_id = printed.event.labels.get().label_id
    labelling.label_account(actor=cast.operator, label_id=label_id, status=LabelStatus.APPLIED)
    return label_id


def collection_label(cast: Any, batch: Batch) -> str:
    """The collection bag's label, printed and applied before the apheresis; its id is what the step records."""
    return _print_and_apply(cast, batch, LabelBag.COLLECTION)


def label_and_reconcile(cast: Any, batch: Batch) -> None:
    """Label the bags that have no label on them yet, sign the reconciliation, and record the final container
    and its visual inspection (the operator)."""
    for bag in (LabelBag.COLLECTION, LabelBag.FINAL):
        if not Label.objects.filter(batch=batch, bag=bag, status=LabelStatus.APPLIED, voided=False).exists():
            _print_and_apply(cast, batch, bag)
    labelling.label_reconcile(actor=cast.operator, batch_id=batch.pk, password=cast.password)
    labelling.final_container_record(
        actor=cast.operator,
        batch_id=batch.pk,
        container_type="50 mL transfer bag",
        container_lot="TB-2291",
        container_expiry=timezone.localdate() + timedelta(days=300),
        appearance_ok=True,
        integrity_ok=True,
        label_ok=True,
        password=cast.password,
    )


DEMO_LOGGER = "Generic CSV logger (timestamp, temperature_c)"


def demo_logger_model() -> TemperatureLoggerModel:
    """The logger model of the demo shippers: ISO times in UTC, °C with a decimal point."""
    found = TemperatureLoggerModel.objects.filter(name=DEMO_LOGGER).first()
    if found is not None:
        return found
    with audit_context("system:seed", reason="temperature logger model for the demo shippers"):
        return TemperatureLoggerModel.objects.create(name=DEMO_LOGGER)


def logger_csv(
    start: datetime, end: datetime, *, celsius: str = "4.6", excursion: tuple[int, int] | None = None
) -> bytes:
    """A logger export, one reading every 5 minutes from ``start`` to ``end``; ``excursion`` = minutes
    (from, to) after ``start`` spent at 30 °C."""
    lines = ["timestamp,temperature_c"]
    at, step = start, timedelta(minutes=5)
    while at <= end + step:
        minute = (at - start).total_seconds() / 60
        value = "30.0" if excursion and excursion[0] <= minute < excursion[1] else celsius
        lines.append(f"{at.astimezone(UTC).isoformat()},{value}")
        at += step
    return ("\n".join(lines) + "\n").encode()


def receive(
    *, first: User, receiver: User, event: CustodyEvent, scan: str, celsius: str = "5.5", alert_reason: str = ""
) -> CustodyEvent:
    """Two independent scans (a first person, then the receiver) and the logger file of the journey."""
    receipt.custody_receipt_scan(actor=first, custody_event_id=event.pk, scanned_data=scan)
    now = timezone.now()
    upload = receipt.LoggerFile(
        name=f"logger-{event.pk}.csv",
        content=logger_csv(event.handed_over_at - timedelta(minutes=1), now),
        logger_model=demo_logger_model().name,
    )
    return receipt.custody_receive(
        actor=receiver,
        custody_event_id=event.pk,
        scanned_data=scan,
        received_at=now,
        temperature_c=Decimal(celsius),
        logger_file=upload,
        alert_reason=alert_reason,
    )
