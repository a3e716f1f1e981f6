"""Scans that prove themselves: scanned or keyed, the keyed override, two independent scans at receipt,
and a mismatch at any identity check opening a chain-of-identity deviation with an alert at once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from batches import demo_chain
from batches.exceptions import StateConflict
from batches.isbt128 import din_check_character
from batches.models import BedsideCheck, CustodyEvent, ElectronicSignature, IdentityScan
from batches.release import bedside
from batches.selectors import batch_record_identity_scans
from batches.services import receipt
from batches.services.scans import KeyedOverride, scan_entry
from batches.snapshot import SCAN_MATCH, SCAN_REFUSED
from qc.models import Deviation, Notification
from qc.services.notifications import notification_deliver
from tests.custody_helpers import dispatched_batch, scan_of
from tests.factories import PASSWORD, Personas, make_user
from tests.helpers import assert_nothing_written, gmp_row_counts, staff_client_for

pytestmark = pytest.mark.django_db


def test_scanner_input_carries_the_data_identifier_and_flags() -> None:
    assert scan_entry("=G12341765432170") == "scanned"
    for keyed in ("G123417654321", "G123417654321A", "=G123417654321", " g1234 17 654321 "):
        assert scan_entry(keyed) == "keyed"


@pytest.mark.urs("URS-405")
def test_a_keyed_din_without_an_override_is_refused_and_with_one_is_signed_by_the_second_person(
    people: Personas,
) -> None:
    batch = dispatched_batch(people)
    second = make_user("clinician_b", "clinician")
    keyed = batch.din + din_check_character(batch.din)  # typed from the eye-readable DIN and its boxed check
    scan = {"batch_id": batch.pk, "scanned_data": keyed, "patient_subject_code": "IGX1-S001", "password": PASSWORD}
    with pytest.raises(ValidationError, match=r"keyed by hand .* needs a second person's override signature"):
        bedside.bedside_check_scan(actor=people.clinician, **scan)
    assert not BedsideCheck.objects.exists()
    refused = IdentityScan.objects.get(batch=batch, matched=False)
    assert (refused.entry, refused.point) == ("keyed", "bedside")
    assert not Deviation.objects.exists()  # a keyed entry is not a mismatch

    with pytest.raises(PermissionDenied, match="second person, not by the person who keyed it"):
        bedside.bedside_check_scan(
            actor=people.clinician, override=KeyedOverride("clinician", PASSWORD, "barcode damaged"), **scan
        )
    with pytest.raises(PermissionDenied):
        bedside.bedside_check_scan(
            actor=people.clinician, override=KeyedOverride("clinician_b", "wrong", "barcode damaged"), **scan
        )
    assert not BedsideCheck.objects.exists()

    override = KeyedOverride("clinician_b", PASSWORD, "DIN barcode smudged; read and typed from the label")
    bedside.bedside_check_scan(actor=people.clinician, override=override, **scan)
    accepted = IdentityScan.objects.get(batch=batch, matched=True, point="bedside")
    assert (accepted.entry, accepted.override_by, accepted.scanned_by) == ("keyed", second, people.clinician)
    assert accepted.override_reason.startswith("DIN barcode smudged")
    signature = ElectronicSignature.objects.on(accepted).get()
    assert (signature.signer, signature.meaning) == (second, "verified")


@pytest.mark.urs("URS-406")
def test_receipt_needs_two_independent_scans_and_a_second_scan_by_the_same_person_is_refused(
    people: Personas,
) -> None:
    batch = dispatched_batch(people, receive=False)
    event = CustodyEvent.objects.get(batch=batch, kind="lab_to_radiology")
    other = make_user("clinician_b", "clinician")
    with pytest.raises(StateConflict, match="needs two independent scans"):
        demo_chain_receive(people.clinician, event, scan_of(batch))
    with translation.override("es"), pytest.raises(StateConflict, match="necesita dos escaneos independientes"):
        demo_chain_receive(people.clinician, event, scan_of(batch))
    receipt.custody_receipt_scan(actor=people.clinician, custody_event_id=event.pk, scanned_data=scan_of(batch))

    before = gmp_row_counts()
    with pytest.raises(PermissionDenied, match="a second scan by the same person is not independent"):
        demo_chain_receive(people.clinician, event, scan_of(batch))
    with pytest.raises(StateConflict, match="The first scan was made by"):
        receipt.custody_receipt_scan(actor=other, custody_event_id=event.pk, scanned_data=scan_of(batch))
    assert_nothing_written(before)
    assert CustodyEvent.objects.get(pk=event.pk).received_at is None

    with translation.override("es"):  # a Spanish-speaking receiver: the audit reason stays as the service writes it
        received = demo_chain_receive(other, event, scan_of(batch))
    assert received.received_by == other
    taken = CustodyEvent.pgh_event_model.objects.filter(pgh_obj_id=event.pk).latest("pgh_id")  # type: ignore[attr-defined]
    assert taken.pgh_context["reason"] == "custody received: Laboratory → interventional radiology"
    scans = IdentityScan.objects.filter(custody_event=event, matched=True).order_by("pk")
    assert [s.scanned_by for s in scans] == [people.clinician, other]


def demo_chain_receive(receiver, event: CustodyEvent, scan: str, document: str = "") -> CustodyEvent:
    """The second scan (and the document's, when the process asks for it), with the logger file of the journey."""
    now = timezone.now()
    upload = receipt.LoggerFile(
        "logger.csv",
        demo_chain.logger_csv(event.handed_over_at - timedelta(minutes=1), now),
        demo_chain.demo_logger_model().name,
    )
    return receipt.custody_receive(
        actor=receiver,
        custody_event_id=event.pk,
        scanned_data=scan,
        document_scan=document,
        received_at=now,
        temperature_c=Decimal("5.0"),
        logger_file=upload,
    )


def with_emails(people: Personas) -> None:
    for user, address in ((people.qa, "qa@example.org"), (people.clinician, "physician@example.org")):
        user.email = address
        user.save()


@pytest.mark.urs("URS-407")
def test_a_bedside_mismatch_opens_a_deviation_and_notifies_qa_and_the_physician_at_once(people: Personas) -> None:
    with_emails(people)
    batch = dispatched_batch(people)
    with pytest.raises(ValidationError, match="Wrong patient: the wristband reads IGX1-S009"):
        bedside.bedside_check_scan(
            actor=people.clinician,
            batch_id=batch.pk,
            scanned_data=scan_of(batch),
            patient_subject_code="IGX1-S009",
            password=PASSWORD,
        )
    assert not BedsideCheck.objects.exists()
    deviation = Deviation.objects.get(batch=batch)
    assert (deviation.kind, deviation.classification, deviation.status) == ("identity", "critical", "open")
    assert "IGX1-S009" in deviation.description
    assert "bedside identity check" in deviation.description
    notification = Notification.objects.get(deviation=deviation)
    assert notification.recipients == ["physician@example.org", "qa@example.org"]
    assert notification.subject.startswith(f"URGENT: identity mismatch, batch {batch.batch_number}")
    assert notification_deliver(notification_id=notification.pk)
    assert mail.outbox[-1].to == ["physician@example.org", "qa@example.org"]
    assert deviation.number in mail.outbox[-1].body


@pytest.mark.urs("URS-407")
def test_the_second_clinician_scans_bag_and_wristband_and_a_wrong_bag_at_receipt_opens_a_deviation(
    people: Personas,
) -> None:
    batch = dispatched_batch(people)
    second = make_user("clinician_b", "clinician")
    bedside.bedside_check_scan(
        actor=people.clinician,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code="IGX1-S001",
        password=PASSWORD,
    )
    with pytest.raises(ValidationError, match="Wrong patient"):
        bedside.bedside_check_confirm(
            actor=second, batch_id=batch.pk, scanned_data=scan_of(batch), patient_subject_code="", password=PASSWORD
        )
    assert Deviation.objects.filter(batch=batch, kind="identity").count() == 1
    check = bedside.bedside_check_confirm(
        actor=second,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code="IGX1-S001",
        password=PASSWORD,
    )
    assert check.confirmation_patient_subject_code == "IGX1-S001"

    other = dispatched_batch(people, subject_code="IGX1-S002", receive=False)
    event = CustodyEvent.objects.get(batch=other, kind="lab_to_radiology")
    with pytest.raises(ValidationError, match="Wrong product"):
        receipt.custody_receipt_scan(actor=people.clinician, custody_event_id=event.pk, scanned_data=scan_of(batch))
    assert Deviation.objects.get(batch=other).kind == "identity"


@pytest.mark.urs("URS-408")
def test_the_scanner_check_answers_one_field_and_records_a_refusal(people: Personas) -> None:
    batch = dispatched_batch(people)
    url = f"/admin/scan-check/{batch.pk}/"
    clinician = staff_client_for(people.clinician)
    ok = clinician.post(url, {"point": "bedside", "kind": "din", "value": scan_of(batch)}).json()
    assert ok == {"ok": True, "message": f"DIN {batch.din}: matches batch {batch.batch_number}.", "keyed": False}
    keyed = clinician.post(url, {"point": "bedside", "kind": "din", "value": batch.din}).json()
    assert keyed["ok"]
    assert keyed["keyed"]
    wrong = clinician.post(url, {"point": "bedside", "kind": "wristband", "value": "IGX1-S777"}).json()
    assert not wrong["ok"]
    assert "Wrong patient" in wrong["message"]
    assert Deviation.objects.filter(batch=batch, kind="identity").count() == 1
    refused = staff_client_for(people.operator).post(url, {"point": "bedside", "kind": "din", "value": "x"})
    assert refused.status_code == 403
    assert IdentityScan.objects.filter(batch=batch, matched=False).count() == 1
    assert clinician.get(url).status_code == 405
    # The record lists both, in its own language; the refusal's message as it was recorded.
    for language, matched, refused_word in (("en-gb", "match", "REFUSED: "), ("es", "coincide", "RECHAZADO: ")):
        with translation.override(language):
            rows = {row.outcome_code: row.outcome for row in batch_record_identity_scans(batch)}
        assert rows[SCAN_MATCH] == matched
        assert rows[SCAN_REFUSED] == f"{refused_word}{wrong['message']}"


@pytest.mark.urs("URS-406")
def test_bag_and_document_receipt_scans_both_and_refuses_a_document_of_another_product(people: Personas) -> None:
    from batches.models.custody import HandOff
    from batches.services import custody
    from tests.factories import approved_definition, walk_batch

    definition = approved_definition(people.qa, people.qp, code="IGX2", receipt_check="bag_and_document")
    assert definition.trial_reference.startswith("EudraCT")
    batch = walk_batch(people, "processing", definition=definition)
    event = custody.custody_hand_over(
        actor=people.operator,
        batch_id=batch.pk,
        kind=HandOff.COLLECTION_TO_LAB,
        from_location="Apheresis unit",
        to_location="Cell processing laboratory",
        handed_over_at=timezone.now() - timedelta(minutes=5),
        temperature_c=Decimal("4.0"),
    )
    receiver = make_user("operator_b", "operator")
    with pytest.raises(StateConflict, match="bag and its accompanying document; no first scan"):
        receipt.custody_receipt_scan(actor=receiver, custody_event_id=event.pk, scanned_data=scan_of(batch))
    with pytest.raises(ValidationError) as refused:
        demo_chain_receive(receiver, event, scan_of(batch), "=G12341765432170")
    assert "Wrong product" in refused.value.message_dict["document_scan"][0]
    assert Deviation.objects.get(batch=batch).kind == "identity"
    received = demo_chain_receive(receiver, event, scan_of(batch), scan_of(batch))
    assert received.received_by == receiver
    matched = IdentityScan.objects.filter(custody_event=event, matched=True)
    assert [s.scanned_by for s in matched] == [receiver, receiver]
