"""Label issuance and reconciliation: every label has its own id, a reprint voids, release waits for the count;
the ZPL II label's barcodes parse back to the same data as the PDF label's (decoded with zxing-cpp)."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from batches.exceptions import StateConflict
from batches.models import BatchDisposition, ElectronicSignature, Label, LabelPrint, LabelReconciliation
from batches.release import disposition, labelling
from tests.factories import PASSWORD, Personas, quarantined_batch, record_passing_qc
from tests.helpers import assert_nothing_written, gmp_row_counts
from tests.test_labels import decoded_pages, page_text

pytestmark = pytest.mark.django_db


def print_final(people: Personas, batch, copies: int, *, fmt: str = "pdf", reason: str = "labels for the final bag"):
    return labelling.label_print(
        actor=people.operator,
        batch_id=batch.pk,
        bag="final",
        copies=copies,
        printer="ZD621-LAB-01",
        reason=reason,
        label_format=fmt,
    )


def inspect(people: Personas, batch, **overrides):
    values = {
        "container_type": "50 mL transfer bag",
        "container_lot": "TB-2291",
        "container_expiry": timezone.localdate() + timedelta(days=200),
        "appearance_ok": True,
        "integrity_ok": True,
        "label_ok": True,
        **overrides,
    }
    return labelling.final_container_record(actor=people.operator, batch_id=batch.pk, password=PASSWORD, **values)


@pytest.mark.urs("URS-400")
def test_six_printed_and_four_applied_refuse_release_until_reconciled(people: Personas) -> None:
    batch = quarantined_batch(people, labelled=False)  # only the collection bag's label, applied at collection
    record_passing_qc(people, batch, skip=())
    printed = print_final(people, batch, 6)
    ids = list(printed.event.labels.values_list("label_id", flat=True))
    assert len(set(ids)) == 6
    assert all(i.startswith(f"L{batch.din}") for i in ids)
    for label_id in ids[:4]:
        labelling.label_account(actor=people.operator, label_id=label_id, status="applied")

    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=r"cannot be released: its 7 labels are not reconciled \(2 unaccounted"):
        disposition.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    assert_nothing_written(before)
    with pytest.raises(StateConflict, match=r"issued 7 ≠ applied 5 \+ destroyed 0 \+ returned 0; 2 unaccounted"):
        labelling.label_reconcile(actor=people.operator, batch_id=batch.pk, password=PASSWORD)
    assert not LabelReconciliation.objects.exists()
    assert not BatchDisposition.objects.filter(batch=batch).exists()

    labelling.label_account(actor=people.operator, label_id=ids[4], status="destroyed")
    labelling.label_account(actor=people.operator, label_id=ids[5], status="returned")
    count = labelling.label_reconcile(actor=people.operator, batch_id=batch.pk, password=PASSWORD)
    assert (count.issued, count.applied, count.destroyed, count.returned) == (7, 5, 1, 1)
    signed = ElectronicSignature.objects.on(count).filter()
    assert [(s.signer, s.meaning) for s in signed] == [(people.operator, "performed")]
    inspect(people, batch)
    disposition.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    disposition.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)  # the QP certifies first
    batch.refresh_from_db()
    assert batch.status == "released"


@pytest.mark.urs("URS-400")
def test_a_label_printed_after_the_reconciliation_refuses_release_again(people: Personas) -> None:
    batch = quarantined_batch(people)  # labelled and reconciled on the way
    record_passing_qc(people, batch, skip=())
    on_bag = Label.objects.get(batch=batch, bag="collection")
    with pytest.raises(ValidationError, match="reason"):
        labelling.label_account(actor=people.operator, label_id=on_bag.label_id, status="destroyed")
    labelling.label_account(
        actor=people.operator, label_id=on_bag.label_id, status="destroyed", reason="label torn when the bag was moved"
    )
    labelling.label_print(
        actor=people.operator, batch_id=batch.pk, bag="collection", copies=1, printer="P1", reason="torn label replaced"
    )
    with pytest.raises(StateConflict, match=r"1 label\(s\) were printed after the reconciliation"):
        disposition.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)


@pytest.mark.urs("URS-401")
def test_a_reprint_voids_the_earlier_ids_which_can_never_be_applied(people: Personas) -> None:
    batch = quarantined_batch(people, labelled=False)
    first = print_final(people, batch, 2)
    old = list(first.event.labels.values_list("label_id", flat=True))
    with pytest.raises(ValidationError, match="reason"):
        print_final(people, batch, 1, reason="")
    second = print_final(people, batch, 1, reason="reprint: the first labels smudged in the printer")
    assert second.event.is_reprint
    assert set(Label.objects.filter(voided=True).values_list("label_id", flat=True)) == set(old)
    assert Label.objects.get(label_id=old[0]).voided_by == second.event

    before = gmp_row_counts()
    with pytest.raises(StateConflict, match=f"Label {old[0]} was voided by the reprint .* may never be applied"):
        labelling.label_account(actor=people.operator, label_id=old[0], status="applied")
    assert_nothing_written(before)
    new = second.event.labels.get().label_id
    labelling.label_account(actor=people.operator, label_id=new, status="applied")
    with pytest.raises(StateConflict, match=f"Label {new} is on the bag"):
        print_final(people, batch, 1, reason="another reprint")
    with pytest.raises(ValidationError, match="No label 'LXYZ' was ever issued"):
        labelling.label_account(actor=people.operator, label_id="LXYZ", status="applied")


@pytest.mark.urs("URS-402")
def test_every_print_is_an_event_with_its_specimen_kept(people: Personas) -> None:
    batch = quarantined_batch(people, labelled=False)
    with pytest.raises(Exception, match="role"):
        labelling.label_print(
            actor=people.qa, batch_id=batch.pk, bag="final", copies=1, printer="P", reason="labels for the bag"
        )
    printed = print_final(people, batch, 3, fmt="zpl")
    event = LabelPrint.objects.get(pk=printed.event.pk)
    assert (event.printed_by, event.copies, event.printer, event.label_format) == (
        people.operator,
        3,
        "ZD621-LAB-01",
        "zpl",
    )
    first_id = event.labels.order_by("label_id").first().label_id
    assert first_id in event.specimen_zpl
    assert event.specimen_zpl.count("^XA") == 1
    specimen = base64.b64decode(event.specimen_pdf)
    assert specimen.startswith(b"%PDF")
    assert first_id in page_text(specimen, 0)
    assert printed.content.decode().count("^XA") == 3  # one format per copy goes to the printer
    with pytest.raises(ValidationError, match="1 to 20"):
        print_final(people, batch, 21)


# --- ZPL: the barcodes read back from the commands -----------------------------------------------------------


def zpl_formats(zpl: str) -> list[str]:
    assert zpl.count("^XA") == zpl.count("^XZ")
    return re.findall(r"\^XA(.*?)\^XZ", zpl, flags=re.S)


def zpl_fields(label: str) -> tuple[list[str], list[str]]:
    """(barcode data, text) of one ZPL format: ^BC then ^FD…^FS is a Code 128 symbol; ^FH^FD…^FS is text."""
    barcodes, texts = [], []
    commands = re.split(r"(?=\^)", label)
    pending_barcode = pending_hex = False
    for command in commands:
        if command.startswith("^BC"):
            pending_barcode = True
        elif command.startswith("^FH"):
            pending_hex = True
        elif command.startswith("^FD"):
            data = command[3:]
            if pending_barcode:
                barcodes.append(decode_code128_subset_b(data))
            else:
                texts.append(unhex(data) if pending_hex else data)
            pending_barcode = pending_hex = False
    return barcodes, texts


def unhex(data: str) -> str:
    """^FH field data: ``_`` and two hex digits is one character."""
    return re.sub(r"_([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), data)


def decode_code128_subset_b(field: str) -> str:
    """ZPL II ^BC field data: '>:' starts subset B, where '><' is the '>' character (ZPL II guide, table 6)."""
    assert field.startswith(">:"), field
    body = field[2:]
    out, i = [], 0
    while i < len(body):
        if body[i] == ">":
            assert body[i + 1] == "<", f"unexpected invocation code in {field!r}"
            out.append(">")
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


@pytest.mark.urs("URS-403")
def test_zpl_label_barcodes_parse_to_the_same_data_the_pdf_label_decodes_to(people: Personas) -> None:
    batch = quarantined_batch(people, labelled=False)
    printed = print_final(people, batch, 1, fmt="zpl")
    zpl = printed.content.decode()
    pdf = base64.b64decode(printed.event.specimen_pdf)
    [label] = zpl_formats(zpl)
    barcodes, texts = zpl_fields(label)
    label_id = printed.event.labels.get().label_id
    [pdf_codes] = decoded_pages(pdf)  # rendered at 300 dpi and decoded with zxing-cpp
    assert set(barcodes) == set(pdf_codes)
    assert {code[:2] for code in barcodes} >= {"=G", "=<", "&>", "&*", "CH", "LG"}
    assert f"={batch.din}" in "".join(barcodes)
    assert label_id in barcodes
    text = " ".join(texts)
    for printed in ("FOR AUTOLOGOUS USE ONLY", batch.patient.subject_code, f"Label {label_id}", "EXPIRY", "Volume"):
        assert printed in text
    assert "^CI28" in label  # UTF-8
    assert "^PW800" in label  # 100 mm at 203 dpi


@pytest.mark.urs("URS-403")
def test_zpl_text_cannot_inject_commands(people: Personas) -> None:
    from batches.zpl import code128_field, text_field

    assert text_field("A^XZ~JA_") == "A_5EXZ_7EJA_5F"
    assert code128_field("&>0260011200") == ">:&><0260011200"
    with pytest.raises(ValueError, match="cannot be encoded"):
        code128_field("^XZ")


@pytest.mark.urs("URS-415")
def test_the_collection_bag_carries_a_label_issued_for_this_batch_never_another_patients(people: Personas) -> None:
    from batches import demo_chain
    from batches.services import steps
    from tests.factories import apheresis_values, cast, scans, walk_batch

    batch = walk_batch(people, "collection", subject_code="IGX1-S001")
    other = walk_batch(people, "collection", subject_code="IGX1-S002")
    assert batch.din  # allocated when the collection started, so the bag is labelled before use
    others_label = demo_chain.collection_label(cast(people), other)

    def record(bag_id: str):
        values = apheresis_values(collection_bag_id=bag_id)
        return steps.step_record(
            kind="apheresis",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=values,
            **scans(people, batch, "apheresis", values),
        )

    before = gmp_row_counts()
    with pytest.raises(ValidationError, match="'BAG-0001' is not a collection bag label issued by the system"):
        record("BAG-0001")
    with pytest.raises(ValidationError, match=f"Label {others_label} was issued for batch .* \\(patient IGX1-S002\\)"):
        record(others_label)
    assert_nothing_written(before)
    mine = demo_chain.collection_label(cast(people), batch)
    assert record(mine).collection_bag_id == mine


@pytest.mark.urs("URS-416")
def test_release_waits_for_the_final_container_and_a_passed_visual_inspection(people: Personas) -> None:
    batch = quarantined_batch(people, labelled=False)
    record_passing_qc(people, batch, skip=())
    printed = print_final(people, batch, 1)
    labelling.label_account(actor=people.operator, label_id=printed.event.labels.get().label_id, status="applied")
    labelling.label_reconcile(actor=people.operator, batch_id=batch.pk, password=PASSWORD)
    with pytest.raises(StateConflict, match="final container and its visual inspection are not recorded"):
        disposition.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    with pytest.raises(ValidationError, match="expired on"):
        inspect(people, batch, container_expiry=timezone.localdate() - timedelta(days=1))
    with pytest.raises(ValidationError, match=r"Describe what the inspection found \(integrity\)"):
        inspect(people, batch, integrity_ok=False)
    failed = inspect(people, batch, integrity_ok=False, notes="Port cap cracked; a drop of leak at the port")
    assert not failed.passed
    signature = ElectronicSignature.objects.on(failed).get()
    assert (signature.signer, signature.meaning) == (people.operator, "performed")
    with pytest.raises(StateConflict, match="visual inspection of the final container failed"):
        disposition.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    with pytest.raises(StateConflict, match="already recorded"):
        inspect(people, batch)
    assert (
        disposition.batch_reject(
            actor=people.qa, batch_id=batch.pk, password=PASSWORD, reason="Final container leaking at the port"
        ).decision
        == "rejected"
    )


@pytest.mark.urs("URS-417")
def test_the_expiry_with_its_zone_is_shown_wherever_the_product_is_identified(people: Personas) -> None:
    from batches.services.custody import expires_at
    from tests.helpers import staff_client_for

    batch = quarantined_batch(people)
    expiry = timezone.localtime(expires_at(batch))
    shown = f"{expiry:%Y-%m-%d %H:%M} {expiry:%Z}"
    client = staff_client_for(people.operator)
    page = client.get(f"/admin/batches/batch/{batch.pk}/change/").content.decode()
    assert f'id="batch-expiry">{shown}</strong>' in page
    assert shown in client.get(f"/admin/delivery-desk/{batch.pk}/").content.decode()
    label = LabelPrint.objects.filter(batch=batch, bag="final").get()
    assert f"{expiry:%Y-%m-%d %H:%M} {expiry:%Z}" in page_text(base64.b64decode(label.specimen_pdf), 0)
