"""Equipment at the step (in service, calibrated until the step ends), one patient per workstation with a
verified line clearance between patients, and environmental monitoring that opens deviations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from batches import demo, demo_chain, formatting
from batches.models import Batch, Cd133Selection, Equipment, EquipmentUse, LineClearance, MonitoringSample
from batches.services import batch as batch_services
from batches.services import equipment as equipment_services
from batches.services import steps, workstations
from batches.services.step_inputs import Window
from batches.usage import equipment_log
from qc.models import Deviation
from qc.services.environment import monitoring_result_record
from tests.factories import (
    PASSWORD,
    Personas,
    apheresis_values,
    cast,
    qc_sample,
    quarantined_batch,
    record_result,
    scans,
    selection_values,
    walk_batch,
)
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db


def selection(people: Personas, batch: Batch, *, swap: dict[str, str] | None = None, **overrides: Any) -> Any:
    """Record the batch's selection with its usual scans, an item swapped for another (kind prefix → code)."""
    values = selection_values(**overrides)
    found = scans(people, batch, "selection", values)
    for prefix, code in (swap or {}).items():
        found["equipment"] = [*(c for c in found["equipment"] if not c.startswith(prefix)), code]
    return lambda: steps.step_record(
        kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values, **found
    )


def processing_after_an_early_collection(people: Personas, subject_code: str) -> Batch:
    """A batch in processing whose apheresis ended five hours ago, so its selection can run well before now."""
    now = timezone.now()
    batch = walk_batch(people, "collection", subject_code=subject_code)
    values = apheresis_values(
        started_at=now - timedelta(hours=9),
        ended_at=now - timedelta(hours=5),
        late_entry_reason="Transcribed from the apheresis unit's log.",
        collection_bag_id=demo_chain.collection_label(cast(people), batch),
    )
    demo.record_step(cast(people), batch, "apheresis", values)
    return batch_services.batch_start_processing(actor=people.operator, batch_id=batch.pk)


def early_selection(people: Personas, subject_code: str) -> tuple[Batch, Equipment]:
    """A batch whose selection ran 280 to 200 minutes ago; returns it and the cabinet it used."""
    now = timezone.now()
    batch = processing_after_an_early_collection(people, subject_code)
    selection(people, batch, started_at=now - timedelta(minutes=280), ended_at=now - timedelta(minutes=200))()
    return batch, EquipmentUse.objects.get(batch=batch, equipment__kind="cabinet").equipment


def after_the_clearance() -> dict[str, Any]:
    """A second patient's selection times: after the first patient's (280–200 min ago) and the clearance (150)."""
    now = timezone.now()
    return {"started_at": now - timedelta(minutes=140), "ended_at": now - timedelta(minutes=70)}


def refused(people: Personas, record: Any) -> list[str]:
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        record()
    assert_nothing_written(before)
    return caught.value.message_dict["equipment"]


@pytest.mark.urs("URS-343")
def test_equipment_out_of_service_is_refused_at_the_step(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    item = Equipment.objects.get(code="CMP-01")
    equipment_services.equipment_status_set(
        actor=people.qa, equipment_id=item.pk, status="out_of_service", reason="Pump error E-17.", password=PASSWORD
    )
    assert refused(people, selection(people, batch, swap={"CMP-": "CMP-01"})) == [
        "CMP-01 (CliniMACS Plus) is out of service; it cannot be used."
    ]
    assert not Cd133Selection.objects.filter(batch=batch).exists()


@pytest.mark.urs("URS-343")
def test_equipment_past_its_calibration_date_is_refused_naming_the_date(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    due = Equipment.objects.get(code="CMP-02").calibration_due
    times = {key: selection_values()[key] for key in ("started_at", "ended_at")}
    step_day = timezone.localdate(times["ended_at"])  # the day before today's when run just after midnight
    assert due is not None
    assert due < step_day
    assert refused(people, selection(people, batch, swap={"CMP-": "CMP-02"}, **times)) == [
        f"CMP-02 (CliniMACS Plus) was due for calibration on {due:%Y-%m-%d}, before the step ends on "
        f"{step_day:%Y-%m-%d}; it cannot be used."
    ]


@pytest.mark.urs("URS-344")
def test_a_calibration_record_sets_the_due_date_or_takes_the_item_out_of_service(people: Personas) -> None:
    walk_batch(people, "registered")
    item = Equipment.objects.get(code="CMP-02")
    today = timezone.localdate()
    record = equipment_services.equipment_record_add(
        actor=people.materials,
        equipment_id=item.pk,
        kind="calibration",
        performed_on=today,
        outcome="pass",
        next_due=today + timedelta(days=365),
        certificate_reference="CAL-2026-0412",
        password=PASSWORD,
    )
    item.refresh_from_db()
    assert (item.calibration_due, item.status) == (today + timedelta(days=365), "in_service")
    assert record.recorded_by == people.materials
    equipment_services.equipment_record_add(
        actor=people.materials,
        equipment_id=item.pk,
        kind="maintenance",
        performed_on=today,
        outcome="fail",
        next_due=None,
        certificate_reference="WO-8812",
        password=PASSWORD,
    )
    item.refresh_from_db()
    assert item.status == "out_of_service"
    with pytest.raises(ValidationError, match="A pass sets the next due date"):
        equipment_services.equipment_record_add(
            actor=people.materials,
            equipment_id=item.pk,
            kind="calibration",
            performed_on=today,
            outcome="pass",
            next_due=None,
            certificate_reference="CAL-X",
            password=PASSWORD,
        )


@pytest.mark.urs("URS-344")
def test_the_use_log_lists_every_batch_an_item_touched(people: Personas) -> None:
    first = walk_batch(people, "quarantine", subject_code="IGX1-S001")
    second = walk_batch(people, "quarantine", subject_code="IGX1-S002")
    item = Equipment.objects.get(code="APH-01")
    assert [u.batch_id for u in equipment_log(item)] == [second.pk, first.pk]
    answer = client_for(people.auditor, "api").get(f"/api/v1/equipment/{item.pk}/uses/")
    assert [row["batch_number"] for row in answer.json()] == [second.batch_number, first.batch_number]
    page = client_for(people.auditor).get(reverse("admin:batches_equipment_uses", args=[item.pk]))
    assert first.batch_number in page.content.decode()
    assert second.batch_number in page.content.decode()


@pytest.mark.urs("URS-345")
def test_a_step_window_past_midnight_names_both_days() -> None:
    start = timezone.make_aware(datetime(2026, 11, 30, 23, 30))  # the facility's time
    assert Window(start, start + timedelta(minutes=70)).describe() == "2026-11-30 23:30–2026-12-01 00:40"
    assert Window(start - timedelta(hours=2), start).describe() == "2026-11-30 21:30–23:30"


@pytest.mark.urs("URS-345")
def test_a_second_patients_step_on_an_occupied_cabinet_is_refused_naming_the_batch(people: Personas) -> None:
    first = walk_batch(people, "quarantine", subject_code="IGX1-S001")
    cabinet = EquipmentUse.objects.get(batch=first, equipment__kind="cabinet").equipment
    second = walk_batch(people, "processing", subject_code="IGX1-S002")
    messages = refused(people, selection(people, second, swap={"BSC-": cabinet.code}))
    assert len(messages) == 1
    assert messages[0].startswith(f"{cabinet.code} holds the open product of batch {first.batch_number} (selection, ")
    assert messages[0].endswith("a second patient's step cannot run on it.")


@pytest.mark.urs("URS-345")
def test_another_patients_step_waits_for_a_line_clearance_verified_by_qa(people: Personas) -> None:
    now = timezone.now()
    first, cabinet = early_selection(people, "IGX1-S001")
    second = walk_batch(people, "processing", subject_code="IGX1-S002")
    record = selection(people, second, swap={"BSC-": cabinet.code}, **after_the_clearance())

    [message] = refused(people, record)
    assert message.startswith(f"{cabinet.code} was last used for batch {first.batch_number} (until ")
    assert message.endswith("a line clearance must be recorded and verified by QA before another patient's step.")

    clearance = workstations.line_clearance_record(
        actor=people.operator,
        workstation_id=cabinet.pk,
        performed_at=now - timedelta(minutes=150),
        late_entry_reason="Entered from the clean-room log at the end of the session.",
        product_removed=True,
        surfaces_cleaned=True,
        password=PASSWORD,
    )
    assert clearance.previous_batch == first
    [message] = refused(people, record)
    assert "is not verified by QA yet" in message
    assert second.batch_number in message

    workstations.line_clearance_verify(actor=people.qa, clearance_id=clearance.pk, password=PASSWORD)
    step = record()
    assert EquipmentUse.objects.filter(batch=second, equipment=cabinet, object_id=step.pk).exists()


@pytest.mark.urs("URS-346")
def test_an_action_level_result_opens_a_deviation_on_each_batch_of_its_session(people: Personas) -> None:
    now = timezone.now()
    first, cabinet = early_selection(people, "IGX1-S001")
    clearance = workstations.line_clearance_record(
        actor=people.operator,
        workstation_id=cabinet.pk,
        performed_at=now - timedelta(minutes=150),
        late_entry_reason="Entered from the clean-room log at the end of the session.",
        product_removed=True,
        surfaces_cleaned=True,
        password=PASSWORD,
    )
    with translation.override("es"):  # a Spanish-speaking reviewer: what the service stores stays as written
        workstations.line_clearance_verify(actor=people.qa, clearance_id=clearance.pk, password=PASSWORD)
    verified = LineClearance.pgh_event_model.objects.filter(pgh_obj_id=clearance.pk).latest("pgh_id")  # type: ignore[attr-defined]
    assert verified.pgh_context["reason"] == f"verify line clearance #{clearance.pk} of {cabinet.code}"
    second = walk_batch(people, "processing", subject_code="IGX1-S002")
    selection(people, second, swap={"BSC-": cabinet.code}, **after_the_clearance())()
    elsewhere = walk_batch(people, "quarantine", subject_code="IGX1-S003")  # another cabinet, another session

    air, settle = (MonitoringSample.objects.get(session__workstation=cabinet, kind=kind) for kind in ("air", "settle"))
    sample, opened = monitoring_result_record(
        actor=people.qc_analyst, sample_id=air.pk, cfu=0, read_at=timezone.now(), password=PASSWORD
    )
    assert (sample.level, opened) == ("within", [])
    with translation.override("es"):
        sample, opened = monitoring_result_record(
            actor=people.qc_analyst, sample_id=settle.pk, cfu=3, read_at=timezone.now(), password=PASSWORD
        )
        # Names on pages: the reader's language, the facility's local time with its zone (never a bare UTC time).
        assert str(clearance) == (
            f"Despeje de línea n.º {clearance.pk} de {cabinet.code} el {formatting.moment(clearance.performed_at)}"
        )
        assert str(settle.session) == (
            f"Sesión de monitorización n.º {settle.session.pk} en {cabinet.code} "
            f"desde {formatting.moment(settle.session.opened_at)}"
        )
    assert formatting.moment(clearance.performed_at).endswith((" CET", " CEST"))
    assert str(clearance).startswith(f"Line clearance #{clearance.pk} of {cabinet.code} at ")
    assert sample.level == "action"
    assert sorted(d.batch_id for d in opened) == sorted([first.pk, second.pk])
    assert not Deviation.objects.filter(batch=elsewhere).exists()
    for deviation in opened:
        assert (deviation.kind, deviation.classification, deviation.status) == ("unplanned", "major", "open")
        assert deviation.description.startswith(
            f"Settle plate {settle.sample_code} on {cabinet.code} (Monitoring session #{settle.session.pk} on "
        )
        assert "CFU reaches the action level" in deviation.description
        review = client_for(people.qa).get(reverse("admin:qc_review_batch", args=[deviation.batch_id]))
        text = review.content.decode()
        assert deviation.number in text
        assert settle.sample_code in text
        assert "Action level reached" in text


@pytest.mark.urs("URS-343", "URS-344")
def test_a_qc_result_names_its_instrument_by_scan_and_joins_its_use_log(people: Personas) -> None:
    batch = quarantined_batch(people)
    cytometer = Equipment.objects.get(code="FC-01")
    equipment_services.equipment_status_set(
        actor=people.qa,
        equipment_id=cytometer.pk,
        status="quarantined",
        reason="Laser alignment drift.",
        password=PASSWORD,
    )
    sample = qc_sample(people, batch)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        record_result(people, batch, "cd133_purity", "92.5", "%", sample=sample, equipment=["FC-01"], review=False)
    assert caught.value.message_dict["equipment"] == ["FC-01 (FACSCanto II) is quarantined; it cannot be used."]
    assert_nothing_written(before)

    equipment_services.equipment_status_set(
        actor=people.qa,
        equipment_id=cytometer.pk,
        status="in_service",
        reason="Realigned and verified.",
        password=PASSWORD,
    )
    result = record_result(people, batch, "cd133_purity", "92.5", "%", sample=sample, equipment=["FC-01"])
    [use] = EquipmentUse.objects.filter(equipment=cytometer, object_id=result.pk, step_kind="qc:cd133_purity")
    assert use.batch == batch
    assert equipment_log(cytometer).first() == use


@pytest.mark.urs("URS-346")
def test_a_count_between_the_definitions_alert_and_action_levels_is_shown_without_a_deviation(
    people: Personas,
) -> None:
    from batches.demo_people import procedures_assign
    from batches.services import master

    crew = cast(people)
    draft = master.process_definition_create(actor=people.qa, values=demo.definition_values(code="IGX2"))
    demo.register_demo.declare_requirements(crew, draft)
    procedures_assign(qa=people.qa, qp=people.qp, password=PASSWORD, definition=draft)
    workstations.monitoring_limit_set(actor=people.qa, definition_id=draft.pk, kind="settle", alert_cfu=1, action_cfu=5)
    with pytest.raises(ValidationError, match="alert level is at least 1 CFU"):
        workstations.monitoring_limit_set(
            actor=people.qa, definition_id=draft.pk, kind="air", alert_cfu=3, action_cfu=2
        )
    for approver in (people.qa, people.qp):
        master.process_definition_approve(definition_id=draft.pk, approver=approver, password=PASSWORD)
    batch = walk_batch(people, "quarantine", subject_code="IGX2-S001", definition=draft)
    cabinet = EquipmentUse.objects.get(batch=batch, equipment__kind="cabinet").equipment
    settle = MonitoringSample.objects.get(session__workstation=cabinet, kind="settle")

    sample, opened = monitoring_result_record(
        actor=people.qc_analyst, sample_id=settle.pk, cfu=2, read_at=timezone.now(), password=PASSWORD
    )
    assert (sample.level, opened) == ("alert", [])
    text = client_for(people.qa).get(reverse("admin:qc_review_batch", args=[batch.pk])).content.decode()
    assert settle.sample_code in text
    assert "Alert level reached" in text
