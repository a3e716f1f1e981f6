"""Chain of custody: DIN at collection, hand-offs proved by a scan, refused scans on record."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from batches import demo_chain, isbt128
from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import Batch, BatchTransition, CustodyEvent, IdentityScan, PatientIdentity
from batches.models.custody import HandOff
from batches.release import delivery
from batches.services import custody, receipt
from tests.custody_helpers import dispatched_batch, released_batch, scan_of
from tests.factories import PASSWORD, Personas, make_user, walk_batch

pytestmark = pytest.mark.django_db


def audit_events_for(model: type, **filters: object) -> list:
    return list(model.pgh_event_model.objects.filter(**filters))  # type: ignore[attr-defined]


@pytest.mark.urs("URS-103")
def test_din_and_chain_of_identity_are_allocated_when_the_apheresis_is_recorded(people: Personas) -> None:
    assert walk_batch(people, "mobilization", subject_code="IGX1-S001").din is None
    first = walk_batch(people, "collection", subject_code="IGX1-S002")  # allocated when the collection starts
    second = walk_batch(people, "processing", subject_code="IGX1-S003")
    year = timezone.localdate().year % 100
    assert first.din == f"G1234{year:02d}000001"
    assert second.din == f"G1234{year:02d}000002"
    assert isbt128.din_check_character(first.din)
    identity = PatientIdentity.objects.get(patient=first.patient)
    assert isbt128.validate_coi(identity.coi_identifier).startswith(f"CHG1234{year:02d}")
    assert PatientIdentity.objects.get(patient=second.patient).coi_identifier != identity.coi_identifier


def _hand_over_to_lab(people: Personas, batch: Batch) -> CustodyEvent:
    return custody.custody_hand_over(
        actor=people.operator,
        batch_id=batch.pk,
        kind=HandOff.COLLECTION_TO_LAB,
        from_location="Apheresis unit",
        to_location="Cell processing laboratory",
        handed_over_at=timezone.now() - timedelta(minutes=10),
        temperature_c=Decimal("21.0"),
    )


@pytest.mark.urs("URS-104")
def test_hand_off_from_collection_to_lab_is_received_with_the_matching_scan(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    event = _hand_over_to_lab(people, batch)
    receiver = make_user("lab_receiver", "operator")
    first = make_user("lab_first", "operator")
    received = demo_chain.receive(first=first, receiver=receiver, event=event, scan=scan_of(batch), celsius="20.5")
    assert received.received_by == receiver
    assert received.scanned_identifier == scan_of(batch)
    scans = IdentityScan.objects.filter(batch=batch).order_by("pk")
    assert [(s.scanned_by, s.matched, s.entry) for s in scans] == [
        (first, True, "scanned"),
        (receiver, True, "scanned"),
    ]


@pytest.mark.urs("URS-104")
def test_qc_sample_hand_off_names_the_sample_and_is_received_by_qc(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    with pytest.raises(ValidationError, match="names the sample"):
        custody.custody_hand_over(
            actor=people.operator,
            batch_id=batch.pk,
            kind=HandOff.LAB_TO_QC,
            from_location="Cell processing laboratory",
            to_location="QC laboratory",
            handed_over_at=timezone.now(),
            temperature_c=Decimal("4"),
        )
    event = custody.custody_hand_over(
        actor=people.operator,
        batch_id=batch.pk,
        kind=HandOff.LAB_TO_QC,
        from_location="Cell processing laboratory",
        to_location="QC laboratory",
        sample_reference="QC-S-01",
        handed_over_at=timezone.now(),
        temperature_c=Decimal("4"),
    )
    with pytest.raises(PermissionDenied, match="QC analyst"):
        receipt.custody_receive(
            actor=people.clinician,
            custody_event_id=event.pk,
            scanned_data=scan_of(batch),
            received_at=timezone.now(),
            temperature_c=Decimal("4"),
        )
    receipt.custody_receive(
        actor=people.qc_analyst,
        custody_event_id=event.pk,
        scanned_data=scan_of(batch),
        received_at=timezone.now(),
        temperature_c=Decimal("4.5"),
    )


@pytest.mark.urs("URS-105")
def test_wrong_bag_scanned_at_receipt_blocks_the_receipt_and_leaves_an_audited_record(people: Personas) -> None:
    batch = walk_batch(people, "processing", subject_code="IGX1-S001")
    other = walk_batch(people, "processing", subject_code="IGX1-S002")
    event = _hand_over_to_lab(people, batch)
    receiver = make_user("lab_receiver", "operator")
    with pytest.raises(ValidationError) as caught:
        receipt.custody_receive(
            actor=receiver,
            custody_event_id=event.pk,
            scanned_data=scan_of(other),
            received_at=timezone.now(),
            temperature_c=Decimal("20.5"),
        )
    assert "Wrong product" in caught.value.message_dict["scanned_data"][0]
    event.refresh_from_db()
    assert event.received_at is None
    assert event.received_by is None
    refused = IdentityScan.objects.get(batch=batch)
    assert (refused.matched, refused.expected, refused.scanned_data) == (False, batch.din, scan_of(other))
    [audit] = audit_events_for(IdentityScan, pgh_obj_id=refused.pk)
    assert audit.pgh_label == "insert"
    assert audit.pgh_context["actor"] == "lab_receiver"
    assert "identity scan refused" in audit.pgh_context["reason"]


@pytest.mark.urs("URS-105")
@pytest.mark.parametrize("scan", ["garbage", "=G12341765432171", ""])
def test_unreadable_or_corrupt_scan_blocks_the_receipt(people: Personas, scan: str) -> None:
    batch = walk_batch(people, "processing")
    event = _hand_over_to_lab(people, batch)
    with pytest.raises(ValidationError):
        receipt.custody_receive(
            actor=make_user("lab_receiver", "operator"),
            custody_event_id=event.pk,
            scanned_data=scan,
            received_at=timezone.now(),
            temperature_c=Decimal("20"),
        )
    assert not CustodyEvent.objects.filter(received_at__isnull=False).exists()
    assert IdentityScan.objects.filter(batch=batch, matched=False).count() == 1


@pytest.mark.urs("URS-104")
def test_the_person_who_hands_over_cannot_receive(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    event = _hand_over_to_lab(people, batch)
    with pytest.raises(PermissionDenied, match="someone else receives"):
        receipt.custody_receive(
            actor=people.operator,
            custody_event_id=event.pk,
            scanned_data=scan_of(batch),
            received_at=timezone.now(),
            temperature_c=Decimal("20"),
        )
    assert not IdentityScan.objects.exists()


@pytest.mark.urs("URS-106")
def test_dispatch_needs_a_released_batch(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    with pytest.raises(StateConflict, match="released or conditionally released"):
        delivery.batch_dispatch(
            actor=people.operator, batch_id=batch.pk, to_location="IR", temperature_c=Decimal("4"), password=PASSWORD
        )
    assert not CustodyEvent.objects.exists()
    batch.refresh_from_db()
    assert batch.status == "quarantine"


@pytest.mark.urs("URS-106")
def test_dispatch_moves_the_batch_and_opens_the_radiology_hand_off(people: Personas) -> None:
    batch = dispatched_batch(people, receive=False)
    assert batch.status == "dispatched"
    event = CustodyEvent.objects.get(batch=batch, kind=HandOff.LAB_TO_RADIOLOGY)
    assert event.handed_over_by == people.operator
    assert not event.is_received
    assert batch.signatures.filter(meaning="performed", object_id=event.pk).exists()


@pytest.mark.urs("URS-107")
def test_expired_product_cannot_be_dispatched_without_a_qa_authorised_deviation(people: Personas) -> None:
    batch = released_batch(people)
    with audit_context("system:test", reason="processing ended 25 h ago"):
        Batch.objects.filter(pk=batch.pk).update(end_of_processing_at=timezone.now() - timedelta(hours=25))
    transitions = BatchTransition.objects.count()
    with pytest.raises(StateConflict, match="expired"):
        delivery.batch_dispatch(
            actor=people.operator, batch_id=batch.pk, to_location="IR", temperature_c=Decimal("4"), password=PASSWORD
        )
    assert BatchTransition.objects.count() == transitions
    assert not CustodyEvent.objects.exists()
    with pytest.raises(PermissionDenied):
        custody.expired_use_authorize(
            actor=people.operator,
            batch_id=batch.pk,
            deviation_reference="DEV-2026-001",
            reason="physician request, risk evaluated",
            valid_until=timezone.now() + timedelta(hours=3),
            password=PASSWORD,
        )
    custody.expired_use_authorize(
        actor=people.qa,
        batch_id=batch.pk,
        deviation_reference="DEV-2026-001",
        reason="treating physician's documented request; risk evaluated",
        valid_until=timezone.now() + timedelta(hours=3),
        password=PASSWORD,
    )
    delivery.batch_dispatch(
        actor=people.operator, batch_id=batch.pk, to_location="IR", temperature_c=Decimal("4"), password=PASSWORD
    )
    batch.refresh_from_db()
    assert batch.status == "dispatched"
