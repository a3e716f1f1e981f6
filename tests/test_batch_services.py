"""Batch life cycle through the services: registered → quarantine, and what is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from batches import demo, demo_chain
from batches.exceptions import StateConflict
from batches.models import Batch, Cd133Selection, GcsfAdministration
from batches.services import batch as batch_services
from batches.services import steps
from tests.factories import (
    PASSWORD,
    Personas,
    cast,
    scans,
    selection_values,
    selection_with_an_expired_reagent,
    walk_batch,
)
from tests.helpers import assert_nothing_written, gmp_row_counts

pytestmark = pytest.mark.django_db


@pytest.mark.urs("URS-001", "URS-002", "URS-009")
def test_batch_walks_from_registration_to_quarantine(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    assert batch.status == "quarantine"
    assert batch.end_of_processing_at == batch.selection.ended_at
    assert [t.to_status for t in batch.transitions.all()] == ["mobilization", "collection", "processing", "quarantine"]
    assert batch.selection.recovery_pct == Decimal("68.95")
    assert batch.gcsf_administrations.first().dose_ug == 625  # 10 µg/kg × 62.5 kg


@pytest.mark.urs("URS-003")
def test_selection_cannot_be_recorded_before_collection(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=r"only when batch .* is processing"):
        steps.step_record(
            kind="selection",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=selection_values(),
        )
    assert_nothing_written(before)


@pytest.mark.urs("URS-004")
def test_nobody_verifies_their_own_step(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    step = steps.step_record(
        kind="selection",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=selection_values(),
        **scans(people, batch, "selection", selection_values()),
    )
    people.operator.groups.add(people.verifier.groups.get())
    people.operator._cellbatch_roles = None  # type: ignore[attr-defined]
    with pytest.raises(PermissionDenied, match="second person"):
        steps.step_verify(kind="selection", step_id=step.pk, verifier=people.operator, password=PASSWORD)
    step.refresh_from_db()
    assert step.verified_by is None


@pytest.mark.urs("URS-005")
def test_verified_step_is_read_only_in_service_and_database(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    step = steps.step_record(
        kind="selection",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=selection_values(),
        **scans(people, batch, "selection", selection_values()),
    )
    steps.step_verify(kind="selection", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    with pytest.raises(ValidationError, match="verified and read-only"):
        steps.step_correct(
            kind="selection",
            step_id=step.pk,
            actor=people.operator,
            password=PASSWORD,
            values={"final_volume_ml": 12},
            reason="typo in volume",
        )
    with pytest.raises(IntegrityError, match="read-only"), transaction.atomic():
        Cd133Selection.objects.filter(pk=step.pk).update(final_volume_ml=99)
    step.refresh_from_db()
    assert step.final_volume_ml == 10


def processing_through_midnight(people: Personas) -> tuple[Batch, datetime]:
    """A batch in processing, its G-CSF and apheresis timed before ``midnight``: the latest local midnight
    at least 45 minutes ago, so that a selection from 23:30 to 00:40 has ended."""
    local = timezone.localtime(timezone.now() - timedelta(minutes=45))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    batch = walk_batch(people, "mobilization")
    days = batch.process_definition.gcsf_days_min
    for day in range(1, days + 1):
        given = demo.gcsf_values(day, at=midnight - timedelta(days=days - day, hours=10))
        demo.record_step(cast(people), batch, "gcsf", given)
    batch_services.batch_start_collection(actor=people.operator, batch_id=batch.pk)
    bag = demo_chain.collection_label(cast(people), batch)
    collected = {"started_at": midnight - timedelta(hours=5), "ended_at": midnight - timedelta(hours=1)}
    demo.record_step(cast(people), batch, "apheresis", demo.apheresis_values(collection_bag_id=bag, **collected))
    return batch_services.batch_start_processing(actor=people.operator, batch_id=batch.pk), midnight


@pytest.mark.urs("URS-006")
def test_a_reagent_expiring_during_a_run_through_midnight_is_refused(people: Personas) -> None:
    """Valid on the day the run starts, expired on the day it ends: the reagent is used until the end."""
    batch, midnight = processing_through_midnight(people)
    started, ended = midnight - timedelta(minutes=30), midnight + timedelta(minutes=40)
    last_valid_day = timezone.localdate(started)
    values = selection_values(started_at=started, ended_at=ended, reagent_expiry=last_valid_day)
    found = scans(people, batch, "selection", values)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(
            kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values, **found
        )
    assert caught.value.message_dict == {
        "reagent_expiry": [
            f"CD133 reagent lot CD133-7781 expired on {last_valid_day:%Y-%m-%d}, before its use on "
            f"{timezone.localdate(ended):%Y-%m-%d}."
        ]
    }
    assert_nothing_written(before)
    values["reagent_expiry"] = timezone.localdate(ended)  # valid until the end of the run: accepted
    steps.step_record(
        kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values, **found
    )


@pytest.mark.urs("URS-006")
def test_expired_reagent_lot_is_refused_with_its_lot_and_date(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    before = gmp_row_counts()
    values = selection_with_an_expired_reagent()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values)
    assert "CD133 reagent lot CD133-7781 expired on" in str(caught.value.message_dict["reagent_expiry"])
    assert_nothing_written(before)


@pytest.mark.urs("URS-006")
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"ended_at": timezone.now() - timedelta(hours=4)}, "ended_at", "after the start"),
        ({"output_cd133_cells": -5}, "output_cd133_cells", "negative"),
        ({"ended_at": timezone.now() + timedelta(hours=1)}, "ended_at", "in the future"),
    ],
)
def test_impossible_values_are_refused(people: Personas, overrides: dict, field: str, message: str) -> None:
    batch = walk_batch(people, "processing")
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(
            kind="selection",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=selection_values(**overrides),
        )
    assert message in " ".join(caught.value.message_dict[field])
    assert_nothing_written(before)


@pytest.mark.urs("URS-007")
def test_dose_off_the_regimen_is_refused(people: Personas) -> None:

    from tests.factories import gcsf_values

    batch = walk_batch(people, "mobilization")
    with pytest.raises(ValidationError) as caught:
        steps.step_record(
            kind="gcsf",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=gcsf_values(1, prescribed_ug_per_kg=Decimal("15")),
        )
    assert "off the regimen" in caught.value.message_dict["prescribed_ug_per_kg"][0]
    assert not GcsfAdministration.objects.exists()


@pytest.mark.urs("URS-008")
def test_database_refuses_an_illegal_status_jump(people: Personas) -> None:
    batch = walk_batch(people, "registered")
    with pytest.raises(IntegrityError, match="illegal batch status change"), transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(status="released")
    with (
        pytest.raises(IntegrityError, match="illegal batch status change"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE batches_batch SET status = 'quarantine' WHERE id = %s", [batch.pk])
    batch.refresh_from_db()
    assert batch.status == "registered"


@pytest.mark.urs("URS-008")
def test_cancel_needs_a_reason_and_is_impossible_after_release(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    with pytest.raises(ValidationError, match="reason"):
        batch_services.batch_cancel(actor=people.operator, batch_id=batch.pk, reason="")
    cancelled = batch_services.batch_cancel(actor=people.operator, batch_id=batch.pk, reason="patient withdrew consent")
    assert cancelled.status == "cancelled"
    with pytest.raises(StateConflict):
        batch_services.batch_start_collection(actor=people.operator, batch_id=batch.pk)


def test_wrong_password_records_nothing(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    with pytest.raises(PermissionDenied, match="password"):
        steps.step_record(
            kind="selection",
            batch_id=batch.pk,
            actor=people.operator,
            password="wrong",
            values=selection_values(),
        )
    assert not Cd133Selection.objects.exists()


@pytest.mark.urs("URS-009")
def test_no_personal_identifier_is_stored_for_a_patient() -> None:
    from batches.models import Patient

    forbidden = ("name", "national", "hospital", "birth", "address", "phone", "email", "nhs", "dni", "passport")
    fields = [f.name for f in Patient._meta.get_fields()]
    assert not [f for f in fields if any(word in f.lower() for word in forbidden)]


@pytest.mark.urs("URS-009")
@pytest.mark.parametrize("code", ["maria garcia", "12345678Z x", "a"])
def test_subject_code_must_be_a_pseudonym_code(people: Personas, code: str) -> None:
    from tests.factories import enrolled_patient

    with pytest.raises(ValidationError, match="subject code"):
        enrolled_patient(people.operator, subject_code=code)
