"""The delivery desk's forms for what only the API could do before: hand-overs and receipts, dispatch,
expired-use authorisation, adverse events, embryo transfers and their outcomes, and closure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from batches import demo_chain
from batches.exceptions import StateConflict
from batches.models import (
    AdverseEvent,
    Batch,
    BatchDocument,
    CustodyEvent,
    ElectronicSignature,
    EmbryoTransfer,
    ExpiredUseAuthorization,
    IdentityScan,
)
from batches.release import adverse_events, delivery
from batches.services import custody, followup
from qc import demo as qc_demo
from tests.audit_helpers import last_event
from tests.custody_helpers import checked_batch, infusion_values, scan_of
from tests.factories import PASSWORD, Personas, crew, make_user, quarantined_batch, release_batch, walk_batch
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db


def desk(batch: Batch) -> str:
    return reverse("admin:batches_delivery_desk", args=[batch.pk])


def local(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")


def refused(response: Any) -> str:
    """A refusal re-renders the desk (200) with the reason on the form."""
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was recorded" in body
    return body


def hand_over(kind: str, **extra: str) -> dict[str, str]:
    return {
        "action": kind,
        "from_location": "Cell processing laboratory",
        "to_location": "QC laboratory",
        "handed_over_at": local(timezone.now() - timedelta(minutes=1)),
        "temperature_c": "4.0",
        **extra,
    }


@pytest.mark.urs("URS-124")
def test_hand_overs_to_the_laboratory_and_to_qc_are_recorded_and_received_at_the_desk(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    operator, second_operator = client_for(people.operator), client_for(make_user("operator_b", "operator"))
    analyst, clinician = client_for(people.qc_analyst), client_for(people.clinician)
    assert 'value="handover_lab"' not in clinician.get(desk(batch)).content.decode()

    before = gmp_row_counts()
    body = refused(clinician.post(desk(batch), hand_over("handover_lab", to_location="Cell processing laboratory")))
    assert "requires the role Operator" in body
    assert_nothing_written(before)

    assert operator.post(desk(batch), hand_over("handover_lab", to_location="Cell lab")).status_code == 302
    lab = CustodyEvent.objects.get(batch=batch, kind="collection_to_lab")
    first = {"action": "receipt_scan", "custody_event": str(lab.pk), "scanned_data": scan_of(batch)}
    before = gmp_row_counts()
    assert "someone else receives it" in refused(operator.post(desk(batch), first))
    assert_nothing_written(before)
    assert second_operator.post(desk(batch), first).status_code == 302
    csv = demo_chain.logger_csv(lab.handed_over_at - timedelta(minutes=1), timezone.now())
    lab_receipt = {
        "action": "receive",
        "custody_event": str(lab.pk),
        "scanned_data": scan_of(batch),
        "temperature_c": "5",
        "logger_model": demo_chain.demo_logger_model().name,
        "logger_file": SimpleUploadedFile("logger.csv", csv, content_type="text/csv"),
    }
    assert client_for(make_user("operator_c", "operator")).post(desk(batch), lab_receipt).status_code == 302
    assert CustodyEvent.objects.get(pk=lab.pk).received_by is not None
    receipt = {"action": "receive", "scanned_data": scan_of(batch), "temperature_c": "5"}

    # A QC sample hand-off names the sample; the QC analyst receives it, and a wrong scan blocks the receipt.
    body = refused(operator.post(desk(batch), hand_over("handover_qc")))
    assert "This field is required" in body
    assert 'value="QC laboratory"' in body
    assert operator.post(desk(batch), hand_over("handover_qc", sample_reference="QC-0001")).status_code == 302
    sample = CustodyEvent.objects.get(batch=batch, kind="lab_to_qc")
    page = analyst.get(desk(batch)).content.decode()
    assert "Receive: Laboratory → QC sample (sample QC-0001)" in page
    wrong = {**receipt, "custody_event": str(sample.pk), "scanned_data": "=G12341765432170"}
    before = gmp_row_counts()
    body = refused(analyst.post(desk(batch), wrong))
    assert "Wrong product" in body
    assert 'value="=G12341765432170"' in body
    # The refused scan is kept and, naming another product, opens its deviation and alert; nothing else is written.
    identity = {"batches.IdentityScan": 1, "batches.IdentityScanEvent": 1, "qc.Deviation": 1, "qc.DeviationEvent": 1}
    assert_nothing_written(before, but={**identity, "qc.Notification": 1, "qc.NotificationEvent": 1})
    assert IdentityScan.objects.filter(batch=batch, matched=False, custody_event=sample).count() == 1
    assert analyst.post(desk(batch), {**wrong, "scanned_data": scan_of(batch)}).status_code == 302
    assert CustodyEvent.objects.get(pk=sample.pk).received_by == people.qc_analyst


@pytest.mark.urs("URS-124")
def test_dispatch_and_expired_use_authorisation_sign_with_the_password_at_the_desk(people: Personas) -> None:
    batch = release_batch(people, quarantined_batch(people))
    operator, qa, clinician = client_for(people.operator), client_for(people.qa), client_for(people.clinician)
    assert 'value="dispatch"' not in clinician.get(desk(batch)).content.decode()
    dispatch = {
        "action": "dispatch",
        "to_location": "Interventional radiology, room 4",
        "from_location": "Cell processing laboratory",
        "temperature_c": "4.0",
        "password": "wrong password",
    }
    before = gmp_row_counts()
    body = refused(operator.post(desk(batch), dispatch))
    assert "password" in body.lower()
    assert 'value="Interventional radiology, room 4"' in body
    assert_nothing_written(before)
    assert operator.post(desk(batch), {**dispatch, "password": PASSWORD}).status_code == 302
    batch.refresh_from_db()
    assert batch.status == "dispatched"

    expiry = custody.expires_at(batch)
    assert expiry is not None
    authorise = {
        "action": "expired_use",
        "deviation_reference": "DEV-2026-014",
        "reason": "Infusion delayed by the patient's fever; physician's written request, risk evaluated.",
        "valid_until": local(expiry - timedelta(hours=1)),
        "password": PASSWORD,
    }
    assert 'value="expired_use"' not in operator.get(desk(batch)).content.decode()
    before = gmp_row_counts()
    body = refused(qa.post(desk(batch), authorise))
    assert "beyond the product" in body
    assert 'value="DEV-2026-014"' in body
    assert_nothing_written(before)
    assert qa.post(desk(batch), {**authorise, "valid_until": local(expiry + timedelta(hours=6))}).status_code == 302
    authorization = ExpiredUseAuthorization.objects.get(batch=batch)
    assert authorization.authorized_by == people.qa
    assert ElectronicSignature.objects.on(authorization).filter(meaning="approved").exists()


@pytest.mark.urs("URS-124")
def test_adverse_events_embryo_transfers_their_outcomes_and_closure_at_the_desk(people: Personas) -> None:
    batch = checked_batch(people, make_user("clinician_b", "clinician"))
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    clinician, qa = client_for(people.clinician), client_for(people.qa)
    onset = timezone.now() - timedelta(minutes=5)
    event = {
        "action": "adverse_event",
        "phase": "follow_up",
        "term": "Pelvic pain",
        "ctcae_grade": "1",
        "relatedness": "possible",
        "onset_at": local(onset),
        "resolved_at": local(onset - timedelta(hours=1)),
    }
    before = gmp_row_counts()
    body = refused(clinician.post(desk(batch), event))
    assert "Resolution cannot be before onset" in body
    assert 'value="Pelvic pain"' in body
    assert_nothing_written(before)
    assert clinician.post(desk(batch), {**event, "resolved_at": ""}).status_code == 302
    assert AdverseEvent.objects.get(batch=batch).reported_by == people.clinician

    today = timezone.localdate().isoformat()
    transfer_form = {"action": "embryo_transfer", "transfer_date": today, "embryos_transferred": "1"}
    assert clinician.post(desk(batch), transfer_form).status_code == 302
    transfer = EmbryoTransfer.objects.get(batch=batch)
    outcome = {"action": "outcome", "transfer": str(transfer.pk), "implantation": "yes", "clinical_pregnancy": "yes"}
    assert clinician.post(desk(batch), outcome).status_code == 302
    transfer.refresh_from_db()
    assert (transfer.implantation, transfer.clinical_pregnancy, transfer.live_birth) == (True, True, None)

    changed = {**outcome, "clinical_pregnancy": "no"}
    before = gmp_row_counts()
    body = refused(clinician.post(desk(batch), changed))
    assert "reason" in body.lower()
    assert_nothing_written(before)
    reason = "Beta-hCG fell at week 5: biochemical pregnancy only."
    assert clinician.post(desk(batch), {**changed, "reason": reason}).status_code == 302
    transfer.refresh_from_db()
    assert transfer.clinical_pregnancy is False
    assert (last_event(transfer).reason, last_event(transfer).diff) == (
        reason,
        {"clinical_pregnancy": ("true", "false")},
    )

    close = {"action": "close", "reason": "", "password": PASSWORD}
    assert "requires the role QA reviewer" in refused(clinician.post(desk(batch), close))
    assert qa.post(desk(batch), close).status_code == 302
    batch.refresh_from_db()
    assert batch.status == "closed"
    # Follow-up goes on after closure; a form that no longer applies is refused with a message.
    assert 'value="embryo_transfer"' in clinician.get(desk(batch)).content.decode()
    gone = clinician.post(desk(batch), {"action": "bedside_scan"}, follow=True).content.decode()
    assert "not open for this batch now" in gone


@pytest.mark.urs("URS-124")
def test_the_desk_list_shows_every_batch_between_collection_and_closure(people: Personas) -> None:
    in_collection = walk_batch(people, "collection", subject_code="IGX1-S010")
    registered = walk_batch(people, "registered", subject_code="IGX1-S011")
    body = client_for(people.clinician).get(reverse("admin:batches_delivery_desk_index")).content.decode()
    assert desk(in_collection) in body
    assert desk(registered) not in body
    assert client_for(people.admin).get(reverse("admin:batches_delivery_desk_index")).status_code == 403


@pytest.mark.urs("URS-099")
def test_qa_closes_a_rejected_batch_at_the_desk_with_a_signature_and_a_final_record(people: Personas) -> None:
    batch = qc_demo.reject_batch(crew(people), quarantined_batch(people))
    qa, clinician = client_for(people.qa), client_for(people.clinician)
    assert batch.batch_number in qa.get(reverse("admin:batches_delivery_desk_index")).content.decode()
    page = qa.get(desk(batch)).content.decode()
    assert 'value="close_rejected"' in page
    assert "Close the rejected batch" in page
    assert 'value="close"' not in page  # the closure of an infused batch does not apply
    assert "Expires" not in page  # a rejected product's shelf life no longer matters

    close = {
        "action": "close_rejected",
        "reason": "Bag destroyed as clinical waste, form CW-118.",
        "password": PASSWORD,
    }
    before = gmp_row_counts()
    assert "requires the role QA reviewer" in refused(clinician.post(desk(batch), close))
    assert "password" in refused(qa.post(desk(batch), {**close, "password": "wrong"})).lower()
    assert_nothing_written(before)

    assert qa.post(desk(batch), close).status_code == 302
    batch.refresh_from_db()
    assert batch.status == "closed"
    signature = ElectronicSignature.objects.filter(batch=batch).latest("pk")
    assert (signature.signer, signature.meaning) == (people.qa, "reviewed")
    assert BatchDocument.objects.filter(batch=batch, kind="final_record", revision=1).exists()
    assert batch.transitions.latest("at", "pk").reason == close["reason"]
    # Never infused: no follow-up, embryo transfer or adverse event, at the desk or through the services.
    assert "Nothing for you to record" in clinician.get(desk(batch)).content.decode()
    with pytest.raises(StateConflict, match="never infused"):
        followup.follow_up_visit_record(
            actor=people.clinician, batch_id=batch.pk, visit_date=timezone.localdate(), menses="normal"
        )
    with pytest.raises(StateConflict, match="closed without an infusion"):
        adverse_events.adverse_event_record(
            actor=people.clinician,
            batch_id=batch.pk,
            phase="follow_up",
            term="Pelvic pain",
            ctcae_grade=1,
            relatedness="unrelated",
            onset_at=timezone.now(),
        )
