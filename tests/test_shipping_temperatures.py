"""Shipping temperatures: the shipper from the register, the logger file read at receipt against the
transport range, an excursion holding the receipt under a deviation, and no file without QA's waiver."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from batches import demo_chain
from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import (
    CustodyEvent,
    ElectronicSignature,
    Equipment,
    ShipmentTemperatureLog,
    TemperatureLoggerModel,
)
from batches.models.custody import HandOff
from batches.services import custody, receipt
from batches.services.temperature import judge, logger_readings
from qc.models import Deviation
from tests.custody_helpers import scan_of
from tests.factories import PASSWORD, Personas, make_user, walk_batch
from tests.helpers import assert_nothing_written, gmp_row_counts

pytestmark = pytest.mark.django_db


def shipper(code: str = "SHIP-07", status: str = "in_service") -> Equipment:
    with audit_context("system:test", reason="shipper in the register"):
        return Equipment.objects.create(code=code, name="Validated 2–8 °C shipper", kind="shipper", status=status)


def lab_hand_over(people: Personas, batch, *, hours_ago: float = 3, shipper_code: str = "") -> CustodyEvent:
    """Collection → laboratory, handed over ``hours_ago`` (recorded late, with its reason)."""
    return custody.custody_hand_over(
        actor=people.operator,
        batch_id=batch.pk,
        kind=HandOff.COLLECTION_TO_LAB,
        from_location="Apheresis unit",
        to_location="Cell processing laboratory",
        handed_over_at=timezone.now() - timedelta(hours=hours_ago),
        temperature_c=Decimal("4.0"),
        notes="Recorded after the transport: the courier left before the terminal was free.",
        shipper_code=shipper_code,
    )


def receive(receiver, event: CustodyEvent, batch, csv: bytes | None) -> CustodyEvent:
    upload = receipt.LoggerFile("SHIP-07.csv", csv, demo_chain.demo_logger_model().name) if csv is not None else None
    return receipt.custody_receive(
        actor=receiver,
        custody_event_id=event.pk,
        scanned_data=scan_of(batch),
        received_at=timezone.now(),
        temperature_c=Decimal("5.0"),
        logger_file=upload,
    )


@pytest.fixture
def lab_receipt(people: Personas):
    """A batch in processing handed over to the lab three hours ago in shipper SHIP-07, first scan made."""
    batch = walk_batch(people, "processing")
    shipper()
    event = lab_hand_over(people, batch, shipper_code="SHIP-07")
    receipt.custody_receipt_scan(
        actor=make_user("operator_b", "operator"), custody_event_id=event.pk, scanned_data=scan_of(batch)
    )
    return batch, event, make_user("operator_c", "operator")


@pytest.mark.urs("URS-409")
def test_a_logger_file_with_a_two_hour_excursion_holds_the_receipt_and_opens_a_deviation(
    people: Personas, lab_receipt
) -> None:
    batch, event, receiver = lab_receipt
    assert event.shipper.code == "SHIP-07"
    csv = demo_chain.logger_csv(event.handed_over_at, timezone.now(), excursion=(30, 150))  # 2 h at 30 °C
    received = receive(receiver, event, batch, csv)
    assert received.received_by == receiver
    assert received.held
    assert "Temperature excursion in transport" in received.hold_reason
    log = ShipmentTemperatureLog.objects.get(custody_event=event)
    assert (log.excursion, log.minutes_outside, log.maximum_c, log.minimum_c) == (
        True,
        120,
        Decimal("30.0"),
        Decimal("4.6"),
    )
    assert (log.range_low_c, log.range_high_c, log.allowed_minutes_outside) == (Decimal("2.0"), Decimal("8.0"), 30)
    assert log.content == csv.decode()
    assert len(log.readings) == len(csv.decode().splitlines()) - 1
    deviation = Deviation.objects.get(batch=batch)
    assert (deviation.kind, deviation.classification) == ("excursion", "major")
    assert "120 min outside 2.0 to 8.0 °C" in deviation.description

    with pytest.raises(PermissionDenied):
        receipt.custody_hold_release(
            actor=people.operator, custody_event_id=event.pk, reason="assessed by QA", password=PASSWORD
        )
    lifted = receipt.custody_hold_release(
        actor=people.qa,
        custody_event_id=event.pk,
        reason="Cells assessed: viability within specification; see the deviation",
        password=PASSWORD,
    )
    assert not lifted.held
    signature = ElectronicSignature.objects.on(event).get()
    assert (signature.signer, signature.meaning) == (people.qa, "approved")


@pytest.mark.urs("URS-409")
def test_a_file_within_range_receives_without_hold(people: Personas, lab_receipt) -> None:
    batch, event, receiver = lab_receipt
    csv = demo_chain.logger_csv(event.handed_over_at, timezone.now(), excursion=(30, 50))  # 20 min: allowed
    received = receive(receiver, event, batch, csv)
    assert not received.held
    assert ShipmentTemperatureLog.objects.get(custody_event=event).minutes_outside == 20
    assert not Deviation.objects.exists()


@pytest.mark.urs("URS-410")
def test_no_logger_file_blocks_receipt_unless_qa_signs_a_waiver(people: Personas, lab_receipt) -> None:
    batch, event, receiver = lab_receipt
    demo_chain.demo_logger_model()
    before = gmp_row_counts()
    with pytest.raises(ValidationError, match="Upload the temperature logger's file"):
        receive(receiver, event, batch, None)
    stale = demo_chain.logger_csv(event.handed_over_at - timedelta(days=2), event.handed_over_at - timedelta(days=1))
    with pytest.raises(ValidationError, match="must cover the journey"):
        receive(receiver, event, batch, stale)
    assert_nothing_written(before)

    with pytest.raises(PermissionDenied):
        receipt.logger_waiver_grant(
            actor=people.operator, custody_event_id=event.pk, reason="logger lost", password=PASSWORD
        )
    waiver = receipt.logger_waiver_grant(
        actor=people.qa,
        custody_event_id=event.pk,
        reason="Logger lost in transit; probe reading at receipt 5.0 °C, courier's log reviewed",
        password=PASSWORD,
    )
    signature = ElectronicSignature.objects.on(waiver).get()
    assert (signature.signer, signature.meaning) == (people.qa, "approved")
    received = receive(receiver, event, batch, None)
    assert received.received_by == receiver
    assert not ShipmentTemperatureLog.objects.exists()
    with pytest.raises(StateConflict):
        receipt.logger_waiver_grant(
            actor=people.qa, custody_event_id=event.pk, reason="again please", password=PASSWORD
        )


@pytest.mark.urs("URS-410")
def test_the_shipper_comes_from_the_register(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    shipper("SHIP-09", status="out_of_service")
    with pytest.raises(ValidationError, match="'FRIDGE-1' is not a shipper of the equipment register"):
        lab_hand_over(people, batch, shipper_code="FRIDGE-1")
    with pytest.raises(ValidationError, match="Shipper SHIP-09 is out of service"):
        lab_hand_over(people, batch, shipper_code="SHIP-09")


@pytest.mark.urs("URS-411")
def test_the_csv_layout_is_configured_per_logger_model() -> None:
    with audit_context("system:test", reason="logger model"):
        model = TemperatureLoggerModel.objects.create(
            name="TempTale-like export",
            delimiter=";",
            skip_rows=2,
            time_column="Fecha/hora",
            temperature_column="Temp (°C)",
            time_format="%d/%m/%Y %H:%M",
            time_zone="Europe/Madrid",
            decimal_comma=True,
        )
    content = (
        "Serial;LOG-123\nStart;01/03/2026 09:00\nFecha/hora;Temp (°C)\n"
        "01/03/2026 09:00;4,5\n01/03/2026 09:10;9,5\n01/03/2026 09:40;5,0\n"
    ).encode()
    readings = logger_readings(content, model)
    assert [(at.isoformat(), str(value)) for at, value in readings] == [
        ("2026-03-01T09:00:00+01:00", "4.5"),
        ("2026-03-01T09:10:00+01:00", "9.5"),
        ("2026-03-01T09:40:00+01:00", "5.0"),
    ]
    verdict = judge(readings, low=Decimal("2"), high=Decimal("8"), allowed_minutes=15)
    assert (verdict.minutes_outside, verdict.excursion, verdict.maximum) == (30, True, Decimal("9.5"))
    with pytest.raises(ValidationError, match="Columns Fecha/hora, Temp \\(°C\\) not found"):
        logger_readings(b"a;b\n1;2\n3;4\n", model)
    with pytest.raises(ValidationError, match="Line 5: '4,x' is not a temperature"):
        logger_readings(content.replace(b"9,5", b"4,x"), model)


@pytest.mark.urs("URS-409")
def test_a_receipt_on_hold_blocks_the_bedside_check(people: Personas) -> None:
    from batches.release import bedside
    from tests.custody_helpers import dispatched_batch

    batch = dispatched_batch(people)
    event = CustodyEvent.objects.get(batch=batch, kind="lab_to_radiology")
    # The state an excursion leaves (a journey of hours cannot be waited for in a test).
    with audit_context("system:test", reason="receipt held for an excursion"):
        CustodyEvent.objects.filter(pk=event.pk).update(held=True, hold_reason="Temperature excursion in transport.")
    with pytest.raises(StateConflict, match=r"was received on hold\. Temperature excursion in transport"):
        bedside.bedside_check_scan(
            actor=people.clinician,
            batch_id=batch.pk,
            scanned_data=scan_of(batch),
            patient_subject_code="IGX1-S001",
            password=PASSWORD,
        )


@pytest.mark.urs("URS-409")
def test_the_readings_are_kept_with_the_record_and_plotted_in_the_pdf(people: Personas, lab_receipt) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    from batches.pdf.collect import take_snapshot
    from batches.pdf.render import render
    from batches.snapshot import Snapshot

    batch, event, receiver = lab_receipt
    receive(receiver, event, batch, demo_chain.logger_csv(event.handed_over_at, timezone.now(), excursion=(30, 150)))
    snapshot = take_snapshot(batch, kind="release_record", revision=1)
    [log] = snapshot.temperature_logs
    assert log.file_name == "SHIP-07.csv"
    assert log.verdict.startswith("EXCURSION: 120 min outside 2.0 to 8.0 °C")
    assert len(log.readings) == ShipmentTemperatureLog.objects.get().readings.__len__()
    assert Snapshot.from_dict(snapshot.to_dict()) == snapshot  # survives the stored JSON
    pdf, _ = render(snapshot)
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert "Transport temperatures, Collection → laboratory: logger file SHIP-07.csv" in text
    assert "minutes from the first reading" in text
