"""Materials at the step: a lot must be released, of the required grade, and in date until the step ends;
each use is its own row, so a recall finds every batch and patient that received a lot."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from batches.exceptions import StateConflict
from batches.models import Cd133Selection, ElectronicSignature, LotStatus, LotUse, MaterialLot
from batches.pdf.collect import take_snapshot
from batches.services import materials, steps
from batches.usage import lot_recall
from tests.factories import PASSWORD, Personas, gcsf_values, scans, selection_values, walk_batch
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db


def scanned_with(people: Personas, batch: Any, values: dict[str, Any], lot: str) -> dict[str, list[str]]:
    """The selection's usual scans with the CD133 reagent lot replaced by ``lot``."""
    found = scans(people, batch, "selection", values)
    return {**found, "lots": [lot if code.startswith("L-CD133-") else code for code in found["lots"]]}


def refused_selection(people: Personas, lot: str) -> ValidationError:
    batch = walk_batch(people, "processing")
    values = selection_values()
    scanned = scanned_with(people, batch, values, lot)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(
            kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values, **scanned
        )
    assert_nothing_written(before)
    assert not Cd133Selection.objects.filter(batch=batch).exists()
    return caught.value


@pytest.mark.urs("URS-340")
def test_a_lot_in_quarantine_is_refused_at_the_step(people: Personas) -> None:
    error = refused_selection(people, "L-CD133-7802")
    assert error.message_dict["lots"] == [
        "Lot L-CD133-7802 (CliniMACS CD133 Reagent, supplier lot CD133-7802) is quarantine, not released by QA; "
        "it cannot be used."
    ]


@pytest.mark.urs("URS-340")
def test_a_research_use_only_lot_is_refused_where_the_step_requires_gmp_grade(people: Personas) -> None:
    error = refused_selection(people, "L-CD133-RUO-0042")
    assert error.message_dict["lots"] == [
        "Lot L-CD133-RUO-0042 (CD133 MicroBead Kit (research use only), supplier lot 130-097-049-42) is "
        "research use only; this step requires gmp grade or higher."
    ]


@pytest.mark.urs("URS-340")
def test_a_lot_expiring_before_the_step_ends_is_refused_naming_both_dates(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    lot = MaterialLot.objects.get(code="L-CD133-7781")
    values = selection_values()
    yesterday = timezone.localdate(values["ended_at"]) - timedelta(days=1)  # the day before the step ends
    materials.lot_expiry_correct(
        actor=people.qa,
        lot_id=lot.pk,
        expiry_date=yesterday,
        reason="Supplier notice: shelf life shortened.",
        password=PASSWORD,
    )
    found = scans(people, batch, "selection", values)  # the operator still finds the lot on the shelf
    scanned = {**found, "lots": [*(c for c in found["lots"] if not c.startswith("L-CD133")), "L-CD133-7781"]}
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(
            kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values, **scanned
        )
    assert caught.value.message_dict["lots"] == [
        f"Lot L-CD133-7781 (CliniMACS CD133 Reagent, supplier lot CD133-7781) expires on {yesterday:%Y-%m-%d}, "
        f"before the step ends on {timezone.localdate(values['ended_at']):%Y-%m-%d}."
    ]
    assert_nothing_written(before)


@pytest.mark.urs("URS-340")
def test_a_missing_or_foreign_scan_is_refused_and_names_what_is_missing(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    values = selection_values()
    scanned = scans(people, batch, "selection", values)
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_record(
            kind="selection",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=values,
            lots=[*(c for c in scanned["lots"] if c != "L-HSA-9912"), "L-FIL-0117", "NO-SUCH-LOT"],
            equipment=scanned["equipment"],
        )
    messages = caught.value.message_dict["lots"]
    assert "No lot NO-SUCH-LOT in the register." in messages
    assert any("L-FIL-0117 (Filgrastim" in m and "is not a material of this step" in m for m in messages)
    assert "Scan the lot of Human serum albumin this step uses (1.00 vial)." in messages
    assert_nothing_written(before)


@pytest.mark.urs("URS-341")
def test_a_use_copies_the_lot_as_it_was_and_a_recall_finds_three_batches_with_their_patients(people: Personas) -> None:
    batches = [walk_batch(people, "quarantine", subject_code=f"IGX1-S00{n}") for n in (1, 2, 3)]
    lot = MaterialLot.objects.get(code="L-CD133-7781")
    uses = LotUse.objects.filter(lot=lot).order_by("used_at")
    assert [u.batch_id for u in uses] == [b.pk for b in batches]
    first = uses[0]
    assert (first.supplier_lot, first.expiry_date, first.status_at_use, first.grade) == (
        "CD133-7781",
        lot.expiry_date,
        LotStatus.RELEASED,
        "gmp",
    )
    assert first.quantity == Decimal("1.00")
    assert first.used_at == batches[0].selection.ended_at

    # The signed record carries the lot as used, whatever happens to the lot afterwards.
    selection = take_snapshot(batches[0], kind="on_request", revision=1).steps[-1]
    assert any(row.lot.startswith("L-CD133-7781 · supplier lot CD133-7781") for row in selection.lots)
    assert any("released at use" in row.expiry for row in selection.lots)

    materials.lot_status_set(
        actor=people.qa, lot_id=lot.pk, status=LotStatus.RECALLED, password=PASSWORD, reason="Supplier recall R-24-9."
    )
    hits = lot_recall(lot)
    assert [(h.batch_number, h.subject_code, h.step_kind) for h in hits] == [
        (b.batch_number, b.patient.subject_code, "selection") for b in batches
    ]
    assert [h.used_at for h in hits] == [b.selection.ended_at for b in batches]
    # The rows keep the status at use; the lot itself is now recalled and refused at any further step.
    assert set(LotUse.objects.filter(lot=lot).values_list("status_at_use", flat=True)) == {"released"}

    answer = client_for(people.qa, "api").get(f"/api/v1/material-lots/{lot.pk}/recall/")
    assert answer.status_code == 200, answer.content
    assert [(row["batch_number"], row["subject_code"]) for row in answer.json()["uses"]] == [
        (b.batch_number, b.patient.subject_code) for b in batches
    ]
    page = client_for(people.qa).get(f"/admin/batches/materiallot/{lot.pk}/recall/")
    assert page.status_code == 200
    text = page.content.decode()
    assert all(b.batch_number in text and b.patient.subject_code in text for b in batches)


@pytest.mark.urs("URS-342")
def test_lot_status_decisions_are_qa_signed_and_refused_to_others(people: Personas) -> None:
    lot = MaterialLot.objects.get(code="L-CD133-7802") if MaterialLot.objects.exists() else None
    if lot is None:
        walk_batch(people, "registered")
        lot = MaterialLot.objects.get(code="L-CD133-7802")
    before = gmp_row_counts()
    with pytest.raises(PermissionDenied, match="requires the role QA reviewer"):
        materials.lot_status_set(actor=people.materials, lot_id=lot.pk, status="released", password=PASSWORD)
    with pytest.raises(ValidationError, match="reason"):
        materials.lot_status_set(actor=people.qa, lot_id=lot.pk, status="rejected", password=PASSWORD, reason=" ")
    assert_nothing_written(before)
    released = materials.lot_status_set(actor=people.qa, lot_id=lot.pk, status="released", password=PASSWORD)
    assert released.status == LotStatus.RELEASED
    signature = ElectronicSignature.objects.on(lot).get()
    assert (signature.signer, signature.meaning) == (people.qa, "approved")
    with pytest.raises(StateConflict, match="is released; it cannot become rejected"):
        materials.lot_status_set(actor=people.qa, lot_id=lot.pk, status="rejected", password=PASSWORD, reason="x")


@pytest.mark.urs("URS-340")
def test_a_correction_cannot_move_a_step_past_the_expiry_its_lots_had_at_use(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    lot = MaterialLot.objects.get(code="L-FIL-0117")
    yesterday = timezone.localdate() - timedelta(days=1)
    materials.lot_expiry_correct(
        actor=people.qa,
        lot_id=lot.pk,
        expiry_date=yesterday,
        reason="Supplier notice: last day yesterday.",
        password=PASSWORD,
    )
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time()))
    values = gcsf_values(1, at=midnight - timedelta(hours=1), late_entry_reason="Transcribed from the ward's log.")
    step = steps.step_record(
        kind="gcsf", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values, lots=["L-FIL-0117"]
    )
    before = gmp_row_counts()
    with pytest.raises(ValidationError) as caught:
        steps.step_correct(
            kind="gcsf",
            step_id=step.pk,
            actor=people.operator,
            password=PASSWORD,
            values={"administered_at": midnight + timedelta(seconds=1)},
            reason="Time read again from the ward's log.",
        )
    assert caught.value.message_dict["administered_at"] == [
        f"Lot L-FIL-0117 expires on {yesterday:%Y-%m-%d}, before the corrected end on {timezone.localdate():%Y-%m-%d}."
    ]
    assert_nothing_written(before)
