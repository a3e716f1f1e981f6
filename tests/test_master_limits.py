"""Limits in the master record: hard ranges refused, alert ranges accepted only with a reason, the infusion balance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from batches.master_limits import default_limits
from batches.models import Batch, RecordException
from batches.pdf.collect import take_snapshot
from batches.release import delivery, documents
from batches.services import batch as batch_services
from batches.services import master, receipt, steps
from qc.services.testing import qc_result_record
from tests.custody_helpers import checked_batch, dispatched_batch, infusion_values, released_batch, scan_of
from tests.factories import (
    PASSWORD,
    Personas,
    apheresis_values,
    approved_definition,
    cast,
    definition_values,
    make_user,
    qc_sample,
    quarantined_batch,
    scans,
    selection_values,
    walk_batch,
)
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def second_clinician(people: Personas):
    return make_user("clinician_b", "clinician")


def messages(error: ValidationError, field: str) -> str:
    return " ".join(error.message_dict[field])


def apheresis_refused(people: Personas, **overrides) -> ValidationError:
    """Record the apheresis of a collecting batch with ``overrides``: refused, nothing written."""
    batch = walk_batch(people, "collection")
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(
            kind="apheresis",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=apheresis_values(**overrides),
        )
    assert_nothing_written(before)
    return caught.value


@pytest.mark.urs("URS-320")
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda limits: limits["parameters"]["qc.cd133_purity"].update(hard=["0", "150"]), None),
        (lambda limits: limits["parameters"]["selection.final_volume_ml"].update(hard=["20", "1"]), "above the high"),
        (lambda limits: limits["parameters"]["apheresis.acd_a_ml"].update(alert=["0", "3000"]), "within the hard"),
        (lambda limits: limits["order"].append({"before": "lunch", "after": "closed"}), "'lunch' is not one of"),
        (lambda limits: limits["qc_minimum_minutes"].update(sterility=-1), "non-negative number of minutes"),
        (lambda limits: limits["required_hand_offs"].update(collection_to_lab="released"), "required_hand_offs"),
    ],
)
def test_the_limits_are_validated_data_of_the_process_definition(people: Personas, change, message) -> None:
    limits = default_limits()
    change(limits)
    if message is None:  # a valid change is simply part of the drafted version
        drafted = master.process_definition_create(actor=people.qa, values=definition_values(limits=limits))
        assert drafted.parsed_limits.parameter("qc.cd133_purity").hard.high == 150
        return
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        master.process_definition_create(actor=people.qa, values=definition_values(limits=limits))
    assert message in messages(caught.value, "limits")
    assert_nothing_written(before)


@pytest.mark.urs("URS-321")
def test_a_percentage_above_100_is_refused_with_its_limit(people: Personas) -> None:
    batch = quarantined_batch(people)
    sample = qc_sample(people, batch)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        qc_result_record(
            actor=people.qc_analyst,
            sample_id=sample.pk,
            test="cd133_purity",
            value="150",
            unit="%",
            tested_at=timezone.now() - timedelta(minutes=2),
            password=PASSWORD,
        )
    assert (
        messages(caught.value, "value")
        == f"CD133+ purity 150 % is outside the limit 0–100 % of {batch.process_definition}."
    )
    assert_nothing_written(before)


@pytest.mark.urs("URS-321")
def test_an_output_above_its_input_is_refused(people: Personas) -> None:
    refused = apheresis_refused(people, total_nucleated_cells=100_000_000, cd133_cells_before_selection=190_000_000)
    assert "cannot exceed the total nucleated cells" in messages(refused, "cd133_cells_before_selection")


@pytest.mark.urs("URS-322")
def test_cells_infused_above_what_the_product_holds_are_refused(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        delivery.infusion_record(
            actor=people.clinician,
            batch_id=batch.pk,
            password=PASSWORD,
            **infusion_values(left_cells=200_000_000, right_cells=200_000_000),
        )
    assert messages(caught.value, "left_cells") == (
        f"Cells infused (400 × 10⁶) exceed what the product of batch {batch.batch_number} holds: 117.9 × 10⁶ "
        "(131 × 10⁶ formulated in 10.0 mL, 1.0 mL drawn for QC)."
    )
    assert_nothing_written(before)


@pytest.mark.urs("URS-322")
def test_the_record_reconciles_cells_and_volume_from_formulation_to_infusion(
    people: Personas, second_clinician
) -> None:
    batch = checked_batch(people, second_clinician)
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **infusion_values())
    rows = take_snapshot(batch, kind="on_request", revision=1).infusion
    balance = {e.item: e.value for e in rows}
    assert "Balance: infused" in balance, rows
    assert balance["Balance: formulated (CD133+ selection)"] == "131 × 10⁶ CD133+ cells in 10.0 mL"
    assert balance["Balance: drawn for QC samples"] == "1.0 mL"
    assert balance["Balance: remaining for infusion"] == "117.9 × 10⁶ CD133+ cells in 9.0 mL"
    assert balance["Balance: infused"] == "116 × 10⁶ CD133+ cells in 9.0 mL"


@pytest.mark.urs("URS-322")
def test_a_dose_outside_the_dose_range_needs_a_reason(people: Personas, second_clinician) -> None:
    batch = checked_batch(people, second_clinician)
    low = infusion_values(left_cells=15_000_000, right_cells=15_000_000)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, **low)
    assert "Total CD133+ cells infused 30 × 10⁶ is outside its dose range 37 × 10⁶–166 × 10⁶" in messages(
        caught.value, "alert_reason"
    )
    assert_nothing_written(before)
    reason = "Vasospasm of the left uterine artery: the interventional radiologist stopped the left side."
    delivery.infusion_record(actor=people.clinician, batch_id=batch.pk, password=PASSWORD, alert_reason=reason, **low)
    exception = RecordException.objects.get(batch=batch, source="Infusion")
    assert (exception.kind, exception.reason) == ("alert_range", reason)


@pytest.mark.urs("URS-323")
def test_a_transport_temperature_outside_the_range_is_refused(people: Personas) -> None:
    batch = released_batch(people)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        delivery.batch_dispatch(
            actor=people.operator,
            batch_id=batch.pk,
            to_location="Interventional radiology",
            temperature_c=Decimal("37.0"),
            password=PASSWORD,
        )
    assert messages(caught.value, "temperature_c") == (
        f"Transport temperature (final product) 37 °C is outside the limit 2–25 °C of {batch.process_definition}."
    )
    assert_nothing_written(before)
    assert Batch.objects.get(pk=batch.pk).status == "released"


@pytest.mark.urs("URS-323")
def test_a_receipt_temperature_outside_the_range_is_refused(people: Personas) -> None:
    batch = dispatched_batch(people, receive=False)
    event = batch.custody_events.get(kind="lab_to_radiology")
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        receipt.custody_receive(
            actor=people.clinician,
            custody_event_id=event.pk,
            scanned_data=scan_of(batch),
            received_at=timezone.now(),
            temperature_c=Decimal("36.5"),
        )
    assert "36.5 °C is outside the limit 2–25 °C" in messages(caught.value, "temperature_c")
    assert_nothing_written(before)


@pytest.mark.urs("URS-324")
def test_a_selection_shorter_than_its_minimum_run_time_is_refused(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    now = timezone.now()
    short = selection_values(started_at=now - timedelta(minutes=50), ended_at=now - timedelta(minutes=20))
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=short)
    message = messages(caught.value, "ended_at")
    assert "The end of the CD133+ selection" in message
    assert "must follow the start of the CD133+ selection" in message
    assert "by at least 1 h (selection run)" in message
    assert_nothing_written(before)


def labelled_apheresis(
    people: Personas, batch: Batch, **overrides: object
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Apheresis values on the collection bag label the system issued for ``batch``, and the step's scans."""
    from batches import demo_chain

    values = apheresis_values(collection_bag_id=demo_chain.collection_label(cast(people), batch), **overrides)
    return values, scans(people, batch, "apheresis", values)


def collection_in_alert_range(people: Personas, *, reason: str) -> Batch:
    """A batch whose apheresis processed 4.5 blood volumes (alert range 2–4), walked to quarantine."""
    batch = walk_batch(people, "collection")
    values, scanned = labelled_apheresis(people, batch, blood_volumes_processed=Decimal("4.50"))
    step = steps.step_record(
        kind="apheresis",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values={**values, "alert_reason": reason},
        **scanned,
    )
    steps.step_verify(kind="apheresis", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    batch_services.batch_start_processing(actor=people.operator, batch_id=batch.pk)
    selection = selection_values()
    step = steps.step_record(
        kind="selection",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=selection,
        **scans(people, batch, "selection", selection),
    )
    steps.step_verify(kind="selection", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    return batch_services.batch_quarantine(actor=people.operator, batch_id=batch.pk)


@pytest.mark.urs("URS-325")
def test_a_value_in_the_alert_range_without_a_reason_is_refused(people: Personas) -> None:
    refused = apheresis_refused(people, blood_volumes_processed=Decimal("4.50"))
    assert messages(refused, "alert_reason").startswith(
        "Blood volumes processed 4.5 blood volumes is outside its alert range 2–4 blood volumes. Give a reason"
    )


@pytest.mark.urs("URS-325")
def test_a_value_in_the_alert_range_is_shown_on_the_qa_review_and_in_the_signed_record(
    people: Personas, media, signing_pki
) -> None:
    reason = "Low CD34+ pre-count: the physician extended the run to 4.5 blood volumes."
    batch = collection_in_alert_range(people, reason=reason)
    exception = RecordException.objects.get(batch=batch, kind="alert_range")
    assert (exception.source, exception.parameter, exception.value) == (
        "Apheresis collection",
        "Blood volumes processed",
        "4.5 blood volumes",
    )
    page = client_for(people.qa).get(reverse("admin:qc_review_batch", args=[batch.pk])).content.decode()
    assert "Exceptions to review" in page
    assert "Blood volumes processed 4.5 blood volumes is outside its alert range 2–4 blood volumes" in page
    assert reason in page
    document = documents.document_request(batch=batch, kind="on_request", actor=people.qa)
    documents.document_build(document_id=document.pk)
    _, file = documents.document_download(document_id=document.pk, actor=people.qa, channel="test")
    with file:
        text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(BytesIO(file.read())).pages)
    assert "Exceptions accepted with a reason" in text
    assert "Blood volumes processed: 4.5 blood volumes" in text
    assert "physician extended the run to 4.5 blood volumes" in text
    # The record states the limits it was checked against (the master record's section).
    assert "Limit: Blood volumes processed" in text
    assert "alert outside 2–4" in text


@pytest.mark.urs("URS-330")
def test_the_step_form_shows_the_range_of_each_field(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    page = client_for(people.operator).get(reverse("admin:batches_batch_change", args=[batch.pk])).content.decode()
    assert "Allowed 0–6 blood volumes; outside 2–4 blood volumes only with a reason (alert range)." in page
    assert "Reason to accept a value in its alert range" in page


@pytest.mark.urs("URS-325")
@pytest.mark.urs("URS-330")
def test_the_api_takes_the_alert_reason_and_documents_the_ranges(people: Personas) -> None:
    from tests.test_api_batches import as_json

    batch = walk_batch(people, "collection")
    url = f"/api/v1/batches/{batch.pk}/steps/apheresis/"
    values, scanned = labelled_apheresis(people, batch, blood_volumes_processed=Decimal("4.50"))
    body = as_json({**values, **scanned}, password=PASSWORD)
    operator = client_for(people.operator, "api")
    before = gmp_row_counts()
    refused = operator.post(url, body, format="json")
    assert refused.status_code == 400
    assert "outside its alert range 2–4 blood volumes" in refused.json()["alert_reason"][0]
    assert_nothing_written(before)
    reason = "Run extended on the physician's order: low CD34+ pre-count."
    assert operator.post(url, {**body, "alert_reason": reason}, format="json").status_code == 201
    assert RecordException.objects.get(batch=batch).reason == reason
    schema = client_for(people.qa, "api").get("/api/v1/schema/?format=json").json()
    field = schema["components"]["schemas"]["ApheresisCollection"]["properties"]["blood_volumes_processed"]
    assert field["description"].startswith("Allowed 0–6 blood volumes; outside 2–4 blood volumes only with a reason")


@pytest.mark.urs("URS-320")
def test_the_process_definition_page_shows_its_limits_as_checked(people: Personas) -> None:
    definition = approved_definition(people.qa, people.qp)
    page = client_for(people.qa).get(reverse("admin:batches_processdefinition_change", args=[definition.pk]))
    body = page.content.decode()
    assert "<td>Limit: Blood volumes processed</td><td>0–6; alert outside 2–4</td><td>blood volumes</td>" in body
    assert "<td>QC method minimum: Sterility</td><td>14 day(s)</td>" in body
    # In words only: the stored JSON is for the history, not for the reviewer reading the page.
    assert "G-CSF administration, Apheresis collection, CD133+ selection" in body
    assert '"parameters"' not in body
    assert "&quot;parameters&quot;" not in body
    assert "[&quot;gcsf&quot;" not in body


@pytest.mark.urs("URS-325")
def test_a_correction_that_keeps_an_accepted_alert_value_asks_no_second_reason(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    values, scanned = labelled_apheresis(people, batch, blood_volumes_processed=Decimal("4.50"))
    step = steps.step_record(
        kind="apheresis",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values={**values, "alert_reason": "Extended run."},
        **scanned,
    )
    steps.step_correct(
        kind="apheresis",
        step_id=step.pk,
        actor=people.operator,
        password=PASSWORD,
        values={"device_serial": "OPT-2232"},
        reason="device serial misread",
    )
    assert RecordException.objects.filter(batch=batch).count() == 1
    with pytest.raises(ValidationError) as caught:  # another value in the alert range needs its own reason
        steps.step_correct(
            kind="apheresis",
            step_id=step.pk,
            actor=people.operator,
            password=PASSWORD,
            values={"blood_volumes_processed": Decimal("4.80")},
            reason="volume misread",
        )
    assert "4.8 blood volumes is outside its alert range" in messages(caught.value, "alert_reason")
