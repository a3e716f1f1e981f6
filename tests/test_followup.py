"""Follow-up per treated patient: visits, embryo transfers and their outcomes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from batches.exceptions import StateConflict
from batches.models import EmbryoTransfer, FollowUpVisit
from batches.release import delivery
from batches.services import followup
from tests.custody_helpers import checked_batch, dispatched_batch, infusion_values
from tests.factories import PASSWORD, Personas, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def infused(people: Personas):
    batch = checked_batch(people, make_user("clinician_b", "clinician"))
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    return batch


@pytest.mark.urs("URS-115")
def test_follow_up_visit_records_menses_thickness_and_adhesion_score(people: Personas, infused) -> None:
    visit = followup.follow_up_visit_record(
        actor=people.clinician,
        batch_id=infused.pk,
        visit_date=timezone.localdate(),
        menses="normal",
        endometrial_thickness_mm=Decimal("7.5"),
        adhesion_score=4,
    )
    assert visit.batch.patient.subject_code == "IGX1-S001"
    with pytest.raises(ValidationError) as caught:
        followup.follow_up_visit_record(
            actor=people.clinician,
            batch_id=infused.pk,
            visit_date=timezone.localdate(),
            menses="normal",
            adhesion_score=13,
        )
    assert "adhesion_score" in caught.value.message_dict
    with pytest.raises(ValidationError, match="future"):
        followup.follow_up_visit_record(
            actor=people.clinician,
            batch_id=infused.pk,
            visit_date=timezone.localdate() + timedelta(days=2),
            menses="normal",
        )
    with pytest.raises(PermissionDenied):
        followup.follow_up_visit_record(
            actor=people.auditor, batch_id=infused.pk, visit_date=timezone.localdate(), menses="normal"
        )
    assert FollowUpVisit.objects.count() == 1


@pytest.mark.urs("URS-115")
def test_follow_up_needs_an_infused_batch(people: Personas) -> None:
    batch = dispatched_batch(people)
    with pytest.raises(StateConflict, match="after the infusion"):
        followup.embryo_transfer_record(actor=people.clinician, batch_id=batch.pk, transfer_date=timezone.localdate())
    assert not EmbryoTransfer.objects.exists()


@pytest.mark.urs("URS-116")
def test_embryo_transfer_outcomes_are_filled_in_and_corrected_only_with_a_reason(people: Personas, infused) -> None:
    transfer = followup.embryo_transfer_record(
        actor=people.clinician, batch_id=infused.pk, transfer_date=timezone.localdate()
    )
    followup.embryo_transfer_record_outcome(actor=people.clinician, transfer_id=transfer.pk, implantation=True)
    followup.embryo_transfer_record_outcome(
        actor=people.clinician, transfer_id=transfer.pk, implantation=True, clinical_pregnancy=True
    )
    with pytest.raises(ValidationError, match="reason"):
        followup.embryo_transfer_record_outcome(
            actor=people.clinician, transfer_id=transfer.pk, implantation=True, clinical_pregnancy=False
        )
    with pytest.raises(ValidationError) as caught:
        followup.embryo_transfer_record_outcome(
            actor=people.clinician, transfer_id=transfer.pk, implantation=False, live_birth=True
        )
    assert set(caught.value.message_dict) == {"live_birth"}
    transfer.refresh_from_db()
    assert (transfer.implantation, transfer.clinical_pregnancy, transfer.live_birth) == (True, True, None)
    followup.embryo_transfer_record_outcome(
        actor=people.clinician,
        transfer_id=transfer.pk,
        implantation=True,
        clinical_pregnancy=False,
        reason="ultrasound at 7 weeks: no heartbeat; biochemical only",
    )
    event = EmbryoTransfer.pgh_event_model.objects.filter(pgh_obj_id=transfer.pk).order_by("pgh_id").last()  # type: ignore[attr-defined]
    assert "no heartbeat" in event.pgh_context["reason"]


@pytest.mark.urs("URS-116")
def test_database_refuses_a_live_birth_without_a_pregnancy(people: Personas, infused) -> None:
    transfer = followup.embryo_transfer_record(
        actor=people.clinician, batch_id=infused.pk, transfer_date=timezone.localdate()
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        EmbryoTransfer.objects.filter(pk=transfer.pk).update(live_birth=True)
