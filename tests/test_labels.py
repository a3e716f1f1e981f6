"""Bag labels: the PDF is rendered to pixels and its Code 128 barcodes decoded back (zxing-cpp)."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
import zxingcpp
from django.utils import timezone

from batches import isbt128
from batches.labels import batch_labels_pdf, labels_for_batch, render_labels
from batches.models import PatientIdentity
from batches.services.custody import expires_at
from tests.factories import Personas, walk_batch
from tests.helpers import staff_client_for

pytestmark = pytest.mark.django_db


def decoded_pages(pdf: bytes, dpi: int = 300) -> list[dict[str, str]]:
    """Render each page as a label printer would (300 dpi) and decode every barcode on it."""
    document = pdfium.PdfDocument(pdf)
    pages = []
    for page in document:
        image = page.render(scale=dpi / 72).to_pil().convert("L")
        pages.append({r.text: r.format.name for r in zxingcpp.read_barcodes(image)})
    return pages


def page_text(pdf: bytes, index: int) -> str:
    return pdfium.PdfDocument(pdf)[index].get_textpage().get_text_range()


@pytest.mark.urs("URS-114")
def test_final_product_label_barcodes_decode_to_din_product_dates_and_chain_of_identity(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    pdf = render_labels(labels_for_batch(batch))
    collection_page, final_page = decoded_pages(pdf)
    din = isbt128.Din(batch.din)
    coi = PatientIdentity.objects.get(patient=batch.patient).coi_identifier
    expiry = timezone.localtime(expires_at(batch))
    expected = {
        din.barcode_data,
        "=<YA001100",
        coi,
        isbt128.collection_barcode_data(timezone.localtime(batch.apheresis.ended_at)),
        isbt128.expiry_barcode_data(expiry),
    }
    assert set(final_page) == expected
    assert set(final_page.values()) == {"Code128"}
    assert din.barcode_data in collection_page
    assert coi in collection_page
    assert isbt128.parse_din_scan(din.barcode_data).value == batch.din

    text = page_text(pdf, 1)
    for printed in (
        "FOR AUTOLOGOUS USE ONLY",
        "IGX1-S001",
        din.eye_readable,
        din.check_character,
        "YA001",
        coi,
        f"{expiry:%Y-%m-%d %H:%M} {expiry:%Z}",
    ):
        assert printed in text


@pytest.mark.urs("URS-114")
def test_label_data_lists_one_label_per_bag(people: Personas) -> None:
    processing = walk_batch(people, "processing", subject_code="IGX1-S002")
    assert [label.bag.split(" ")[0] for label in labels_for_batch(processing)] == ["Apheresis"]
    with pytest.raises(ValueError, match="no DIN"):
        labels_for_batch(walk_batch(people, "mobilization", subject_code="IGX1-S003"))


@pytest.mark.urs("URS-114")
def test_admin_prints_the_label_pdf_for_staff_with_a_role_only(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    client = staff_client_for(people.operator)
    response = client.get(f"/admin/batches/batch/{batch.pk}/labels/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    # The preview is crossed out: the labels that go on a bag are issued and counted (batches.release.labelling).
    assert "SPECIMEN: NOT A LABEL" in page_text(response.content, 0)
    assert "SPECIMEN" in page_text(batch_labels_pdf(batch), 1)
    people.admin.is_staff = True
    client.force_login(people.admin)
    assert client.get(f"/admin/batches/batch/{batch.pk}/labels/").status_code == 403
    assert client.get("/admin/batches/batch/999999/labels/").status_code in {403, 404}
