"""Time that makes sense: each recorded time against the times it depends on; required hand-overs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from batches import demo, demo_chain
from batches.admin.workflow import next_actions
from batches.exceptions import StateConflict
from batches.master_limits import default_limits
from batches.models import BatchDisposition, Decision, RecordException
from batches.release import delivery
from batches.services import batch as batch_services
from batches.services import custody, steps
from qc.models import QcResult
from qc.services.testing import qc_result_record, qc_sample_record
from tests.custody_helpers import checked_batch, infusion_values, scan_of
from tests.factories import (
    PASSWORD,
    Personas,
    apheresis_values,
    approved_definition,
    cast,
    enrolled_patient,
    gcsf_values,
    make_user,
    quarantined_batch,
    scans,
    walk_batch,
)
from tests.helpers import assert_nothing_written, gmp_row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_clinician(people: Personas):
    return make_user("clinician_b", "clinician")


def infusion_refused(people: Personas, batch, started_at) -> str:
    """Record an infusion started at ``started_at``; return the refusal of its start, nothing written."""
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        delivery.infusion_record(
            actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values(started_at=started_at)
        )
    assert_nothing_written(before)
    return " ".join(caught.value.message_dict["started_at"])


def at(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


@pytest.mark.urs("URS-326")
def test_an_infusion_before_the_qp_certification_is_refused_naming_both_events(
    people: Personas, second_clinician
) -> None:
    batch = checked_batch(people, second_clinician)
    certified = BatchDisposition.objects.get(batch=batch, decision=Decision.CERTIFIED).decided_at
    started = certified - timedelta(minutes=30)
    message = infusion_refused(people, batch, started)
    assert f"The start of the infusion ({at(started)}) must follow the QP certification ({at(certified)})" in message
    assert "must follow the bedside identity check" in message


@pytest.mark.urs("URS-326")
def test_an_infusion_before_the_bedside_check_is_refused_naming_both_events(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    confirmed = batch.bedside_check.confirmed_at
    message = infusion_refused(people, batch, confirmed - timedelta(minutes=10))
    assert f"must follow the bedside identity check ({at(confirmed)})" in message


def sterility_now(people: Personas, sample, value: str, **extra):
    """A sterility result read now on ``sample``."""
    return qc_result_record(
        actor=people.qc_analyst,
        sample_id=sample.pk,
        test="sterility",
        value=value,
        tested_at=timezone.now(),
        password=PASSWORD,
        **extra,
    )


def sample_taken(people: Personas, minutes_ago: int):
    batch = quarantined_batch(people)
    return qc_sample_record(
        actor=people.qc_analyst,
        batch_id=batch.pk,
        step="final_product",
        sample_code="S-EARLY",
        taken_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.mark.urs("URS-327")
def test_a_result_before_its_methods_minimum_duration_is_refused_naming_both_events(people: Personas) -> None:
    sample = sample_taken(people, 10)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        sterility_now(people, sample, "no growth")
    message = " ".join(caught.value.message_dict["tested_at"])
    assert "The Sterility result (" in message
    assert "cannot precede the end of its method's minimum duration, 14 day(s) after sample S-EARLY was taken (" in (
        message
    )
    assert "Record it as preliminary, with a reason" in message
    assert_nothing_written(before)


@pytest.mark.urs("URS-327")
def test_a_result_before_its_methods_minimum_is_recorded_as_preliminary_with_a_reason(people: Personas) -> None:
    sample = sample_taken(people, 10)
    reason = "Day-0 reading of the culture bottles for the conditional release; final reading on day 14."
    result = sterility_now(people, sample, "no growth", preliminary_reason=reason)
    assert QcResult.objects.get(pk=result.pk).preliminary
    exception = RecordException.objects.get(batch=sample.batch)
    assert (exception.kind, exception.parameter, exception.reason) == ("preliminary_result", "Sterility result", reason)
    assert exception.limit.startswith("method minimum 14 day(s) after sampling")


@pytest.mark.urs("URS-327")
@pytest.mark.urs("URS-445")
def test_a_result_before_its_methods_minimum_is_refused_in_the_readers_language(people: Personas) -> None:
    """The refusal names the duration in the reader's language; the exception it stores stays in English."""
    sample = sample_taken(people, 10)
    with translation.override("es"), pytest.raises(ValidationError) as caught:
        sterility_now(people, sample, "no growth")
    message = " ".join(caught.value.message_dict["tested_at"])
    assert "de su método, 14 días después de tomarse la muestra S-EARLY (" in message
    assert "day(s)" not in message
    assert message.endswith(". Si es una lectura preliminar, regístrela como preliminar, con un motivo.")
    with translation.override("es"):
        sterility_now(people, sample, "no growth", preliminary_reason="Lectura del día 0.")
    exception = RecordException.objects.get(batch=sample.batch)
    assert exception.limit.startswith("method minimum 14 day(s) after sampling")


@pytest.mark.urs("URS-327")
def test_a_growing_culture_is_reported_when_seen(people: Personas) -> None:
    sample = sample_taken(people, 10)
    result = sterility_now(people, sample, "growth")
    assert (result.verdict, result.preliminary) == ("oos", False)


@pytest.mark.urs("URS-328")
def test_a_closure_inside_the_observation_period_is_refused_naming_both_events(
    people: Personas, second_clinician
) -> None:
    approved_definition(people.qa, people.qp, limits=default_limits())  # observation 120 min after infusion
    batch = checked_batch(people, second_clinician)
    infusion = delivery.infusion_record(
        actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values()
    )
    before = gmp_row_counts()
    with pytest.raises(StateConflict) as caught:
        delivery.batch_close(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    message = caught.value.messages[0]
    assert "The closure of the batch record (" in message
    assert f"must follow the end of the infusion ({timezone.localtime(infusion.ended_at):%Y-%m-%d %H:%M})" in message
    assert "by at least 2 h (post-infusion observation)" in message
    assert_nothing_written(before)


def labelled_apheresis(people: Personas, batch, **overrides: object) -> dict[str, object]:
    """Apheresis values on the collection bag label the system issued for ``batch``, and the step's scans."""
    values = apheresis_values(collection_bag_id=demo_chain.collection_label(cast(people), batch), **overrides)
    return {"values": values, **scans(people, batch, "apheresis", values)}


@pytest.mark.urs("URS-329")
def test_an_apheresis_before_the_last_gcsf_dose_is_refused(people: Personas) -> None:
    batch = walk_batch(people, "collection")  # the last G-CSF dose 22 h ago
    now = timezone.now()
    early = labelled_apheresis(people, batch, started_at=now - timedelta(hours=23), ended_at=now - timedelta(hours=19))
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(kind="apheresis", batch_id=batch.pk, actor=people.operator, password=PASSWORD, **early)
    assert "The start of the apheresis (" in caught.value.message_dict["started_at"][0]
    assert "must follow the last G-CSF dose (" in caught.value.message_dict["started_at"][0]
    assert_nothing_written(before)


@pytest.mark.urs("URS-329")
def test_an_apheresis_too_long_after_the_last_gcsf_dose_is_refused(people: Personas) -> None:
    definition = approved_definition(people.qa, people.qp)
    batch = demo.register(cast(people), enrolled_patient(people.operator), definition)
    batch_services.batch_start_mobilization(actor=people.operator, batch_id=batch.pk)
    for day in range(1, 5):  # the last dose two days before the apheresis
        given = timezone.now() - timedelta(days=6 - day)
        dose = gcsf_values(day, at=given)
        step = steps.step_record(
            kind="gcsf",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=dose,
            **scans(people, batch, "gcsf", dose),
        )
        steps.step_verify(kind="gcsf", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    batch_services.batch_start_collection(actor=people.operator, batch_id=batch.pk)
    values = labelled_apheresis(people, batch)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(kind="apheresis", batch_id=batch.pk, actor=people.operator, password=PASSWORD, **values)
    message = caught.value.message_dict["started_at"][0]
    assert "is more than 36 h after the last G-CSF dose" in message
    assert_nothing_written(before)


@pytest.mark.urs("URS-331")
def test_a_required_hand_over_is_needed_next_and_blocks_processing(people: Personas) -> None:
    limits = default_limits()
    limits["required_hand_offs"] = {"collection_to_lab": "processing"}
    approved_definition(people.qa, people.qp, limits=limits)
    batch = walk_batch(people, "collection")
    step = steps.step_record(
        kind="apheresis",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        **labelled_apheresis(people, batch),
    )
    steps.step_verify(kind="apheresis", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    batch.refresh_from_db()
    assert next_actions(batch) == ["Hand over and receive: Collection → laboratory", "Start processing"]
    before = gmp_row_counts()
    with pytest.raises(StateConflict) as caught:
        batch_services.batch_start_processing(actor=people.operator, batch_id=batch.pk)
    assert caught.value.messages == [
        f"Batch {batch.batch_number} cannot enter processing: {batch.process_definition} requires the hand-over "
        "Collection → laboratory (handed over and received by scan) first."
    ]
    assert_nothing_written(before)
    event = custody.custody_hand_over(
        actor=people.operator,
        batch_id=batch.pk,
        kind="collection_to_lab",
        from_location="Apheresis unit",
        to_location="Cell processing laboratory",
        handed_over_at=timezone.now() - timedelta(minutes=10),
        temperature_c=Decimal("21.0"),
    )
    assert next_actions(batch) == ["Hand over and receive: Collection → laboratory", "Start processing"]
    demo_chain.receive(
        first=make_user("operator_b", "operator"),
        receiver=make_user("operator_c", "operator"),
        event=event,
        scan=scan_of(batch),
        celsius="20.5",
    )
    assert next_actions(batch) == ["Start processing"]
    assert batch_services.batch_start_processing(actor=people.operator, batch_id=batch.pk).status == "processing"


@pytest.mark.urs("URS-326")
def test_a_sample_of_the_final_product_before_it_exists_is_refused(people: Personas) -> None:
    batch = quarantined_batch(people)
    ended = batch.selection.ended_at
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        qc_sample_record(
            actor=people.qc_analyst,
            batch_id=batch.pk,
            step="final_product",
            sample_code="S-BEFORE",
            taken_at=ended - timedelta(minutes=30),
            late_entry_reason="Entered from the sampling sheet.",
        )
    message = caught.value.message_dict["taken_at"][0]
    assert f"The sampling of the final product ({at(ended - timedelta(minutes=30))})" in message
    assert f"must follow the end of the CD133+ selection ({at(ended)})" in message
    assert_nothing_written(before)
