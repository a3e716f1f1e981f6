"""Bedside identity check by two clinicians, infusion within shelf life, adverse events, closure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import AdverseEvent, Batch, BedsideCheck, IdentityScan, Infusion
from batches.release import adverse_events, bedside, delivery
from batches.services import custody
from tests.custody_helpers import checked_batch, dispatched_batch, infusion_values, scan_of
from tests.factories import PASSWORD, Personas, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_clinician(people: Personas):
    return make_user("clinician_b", "clinician")


@pytest.mark.urs("URS-108")
def test_wrong_bag_at_the_bedside_blocks_the_check_and_is_audited(people: Personas) -> None:
    batch = dispatched_batch(people, subject_code="IGX1-S001")
    wrong = "=" + "G123417654321" + "70"
    with pytest.raises(ValidationError, match="Wrong product"):
        bedside.bedside_check_scan(
            actor=people.clinician,
            batch_id=batch.pk,
            scanned_data=wrong,
            patient_subject_code="IGX1-S001",
            password=PASSWORD,
        )
    assert not BedsideCheck.objects.exists()
    refused = IdentityScan.objects.get(batch=batch, matched=False)
    assert refused.point == "bedside"
    audit = IdentityScan.pgh_event_model.objects.get(pgh_obj_id=refused.pk)  # type: ignore[attr-defined]
    assert audit.pgh_context["actor"] == "clinician"


@pytest.mark.urs("URS-108")
def test_wrong_patient_at_the_bedside_blocks_the_check_and_is_audited(people: Personas) -> None:
    batch = dispatched_batch(people, subject_code="IGX1-S001")
    with pytest.raises(ValidationError, match="Wrong patient"):
        bedside.bedside_check_scan(
            actor=people.clinician,
            batch_id=batch.pk,
            scanned_data=scan_of(batch),
            patient_subject_code="IGX1-S009",
            password=PASSWORD,
        )
    assert not BedsideCheck.objects.exists()
    assert IdentityScan.objects.get(batch=batch, matched=False).scanned_data == "patient:IGX1-S009"


@pytest.mark.urs("URS-109")
def test_one_clinician_cannot_do_both_halves_of_the_bedside_check(people: Personas) -> None:
    batch = dispatched_batch(people)
    bedside.bedside_check_scan(
        actor=people.clinician,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code="IGX1-S001",
        password=PASSWORD,
    )
    with pytest.raises(PermissionDenied, match="second clinician"):
        bedside.bedside_check_confirm(
            actor=people.clinician,
            batch_id=batch.pk,
            scanned_data=scan_of(batch),
            patient_subject_code="IGX1-S001",
            password=PASSWORD,
        )
    check = BedsideCheck.objects.get(batch=batch)
    assert check.confirmed_by is None
    with pytest.raises(StateConflict, match="two clinicians"):
        delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())


@pytest.mark.urs("URS-109")
def test_second_clinician_scanning_the_wrong_bag_is_refused_and_recorded(people: Personas, second_clinician) -> None:
    batch = dispatched_batch(people)
    bedside.bedside_check_scan(
        actor=people.clinician,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code="IGX1-S001",
        password=PASSWORD,
    )
    with pytest.raises(ValidationError):
        bedside.bedside_check_confirm(
            actor=second_clinician,
            batch_id=batch.pk,
            scanned_data="=G12341765432170",
            patient_subject_code="IGX1-S001",
            password=PASSWORD,
        )
    assert BedsideCheck.objects.get(batch=batch).confirmed_by is None
    assert IdentityScan.objects.filter(batch=batch, matched=False, point="bedside_confirmation").count() == 1


@pytest.mark.urs("URS-110")
def test_infusion_records_both_sides_and_the_time_from_end_of_processing(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    infusion = delivery.infusion_record(
        actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values()
    )
    batch.refresh_from_db()
    assert batch.status == "infused"
    assert infusion.total_cells == 116_000_000
    expected = (infusion.started_at - batch.end_of_processing_at).total_seconds() // 60
    assert infusion.minutes_from_end_of_processing == expected
    assert batch.signatures.filter(object_id=infusion.pk, meaning="performed").exists()


@pytest.mark.urs("URS-111")
def test_an_expired_product_cannot_be_infused(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    with audit_context("system:test", reason="processing ended 30 h ago"):
        Batch.objects.filter(pk=batch.pk).update(end_of_processing_at=timezone.now() - timedelta(hours=30))
    with pytest.raises(StateConflict, match="expired"):
        delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    assert not Infusion.objects.exists()
    batch.refresh_from_db()
    assert batch.status == "dispatched"


@pytest.mark.urs("URS-111")
def test_an_expired_product_is_infused_only_under_a_qa_authorised_deviation(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    with audit_context("system:test", reason="processing ended 25 h ago"):
        Batch.objects.filter(pk=batch.pk).update(end_of_processing_at=timezone.now() - timedelta(hours=25))
    authorization = custody.expired_use_authorize(
        actor=people.qa,
        batch_id=batch.pk,
        deviation_reference="DEV-2026-007",
        reason="transport delay; physician's documented request, risk evaluated",
        valid_until=timezone.now() + timedelta(hours=2),
        password=PASSWORD,
    )
    infusion = delivery.infusion_record(
        actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values()
    )
    assert infusion.expired_use_authorization == authorization


@pytest.mark.urs("URS-110")
def test_infusion_refuses_impossible_values(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    now = timezone.now()
    with pytest.raises(ValidationError) as caught:
        delivery.infusion_record(
            actor=people.clinician,
            batch_id=batch.pk,
            password=PASSWORD,
            **infusion_values(ended_at=now - timedelta(minutes=5), left_cells=-1),
        )
    assert set(caught.value.message_dict) == {"ended_at", "left_cells"}
    with pytest.raises(PermissionDenied, match="password"):
        delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password="nope", **infusion_values())
    assert not Infusion.objects.exists()


@pytest.mark.urs("URS-112")
def test_adverse_events_carry_a_ctcae_grade_and_relatedness(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    event = adverse_events.adverse_event_record(
        actor=people.clinician,
        batch_id=batch.pk,
        phase="infusion",
        term="Pelvic pain",
        ctcae_grade=1,
        relatedness="possible",
        onset_at=timezone.now() - timedelta(minutes=1),
    )
    assert event.ctcae_grade == 1
    assert not event.serious
    with pytest.raises(ValidationError) as caught:
        adverse_events.adverse_event_record(
            actor=people.clinician,
            batch_id=batch.pk,
            phase="infusion",
            term="Fatigue",
            ctcae_grade=6,
            relatedness="maybe",
            onset_at=timezone.now(),
        )
    assert set(caught.value.message_dict) == {"ctcae_grade", "relatedness"}
    assert AdverseEvent.objects.count() == 1


@pytest.mark.urs("URS-113")
def test_qa_closes_an_infused_batch(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    with pytest.raises(StateConflict):
        delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    with pytest.raises(PermissionDenied):
        delivery.batch_close(actor=people.clinician, batch_id=batch.pk, password=PASSWORD)
    closed = delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert closed.status == "closed"
    assert [t.to_status for t in closed.transitions.all()][-3:] == ["dispatched", "infused", "closed"]
