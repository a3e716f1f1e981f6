"""Bag labels: one 100 × 100 mm PDF page per bag, ISBT 128 layout with Code 128 barcodes (ReportLab).

Quadrants as on an ISBT 128 base label: DIN (upper left), product (upper right), dates (lower left),
patient and chain of identity (lower right). Dates print in the facility's time zone, with its name.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from reportlab.lib.units import mm

from batches import formatting, isbt128
from batches.models import Batch, PatientIdentity

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

PAGE = (100 * mm, 100 * mm)
MARGIN = 3 * mm
HALF = PAGE[0] / 2
BAR_HEIGHT = 10 * mm
MAX_MODULE = 0.33 * mm
# Quiet zone each side, in modules (Code 128 asks for 10).
QUIET_MODULES = 10


@dataclass(frozen=True)
class LabelData:
    bag: str
    din: str
    product_code: str
    product_name: str
    subject_code: str
    coi_identifier: str
    collected_at: datetime | None
    expires_at: datetime | None
    facility: str
    volume: str = ""
    cell_dose: str = ""
    storage: str = ""
    trial: str = ""
    label_id: str = ""

    @property
    def barcodes(self) -> dict[str, str]:
        """What each barcode on the label encodes, by role."""
        codes = {
            "din": isbt128.Din(self.din).barcode_data,
            "product": isbt128.product_code_barcode_data(self.product_code),
            "coi": self.coi_identifier,
        }
        if self.collected_at is not None:
            codes["collection"] = isbt128.collection_barcode_data(timezone.localtime(self.collected_at))
        if self.expires_at is not None:
            codes["expiry"] = isbt128.expiry_barcode_data(timezone.localtime(self.expires_at))
        if self.label_id:
            codes["label"] = self.label_id
        return codes

    @property
    def particulars(self) -> list[str]:
        """The lines the standards ask for beyond the barcodes: content, storage and the trial."""
        lines = [
            f"Volume: {self.volume}" if self.volume else "",
            f"CD133+ cells: {self.cell_dose}" if self.cell_dose else "",
        ]
        lines += [self.storage, self.trial]
        return [line for line in lines if line]


def product_code_for(batch: Batch) -> str:
    """The process definition's product code, else the facility default (a clinical-trial Y code)."""
    return isbt128.validate_product_code(batch.process_definition.product_code or settings.CELLBATCH_PRODUCT_CODE)


def labels_for_batch(batch: Batch) -> list[LabelData]:
    """The labels of a batch's bags: the apheresis collection bag and, once processed, the final product."""
    from batches.services.custody import expires_at

    if not batch.din:
        raise ValueError(f"Batch {batch.batch_number} has no DIN yet; labels are printed from collection on.")
    identity = PatientIdentity.objects.filter(patient_id=batch.patient_id).first()
    apheresis = getattr(batch, "apheresis", None)
    selection = getattr(batch, "selection", None)
    definition = batch.process_definition
    storage = f"Store and transport at {definition.transport_range.describe('°C')}"
    trial = f"Clinical trial {definition.trial_reference}".strip() if definition.trial_reference else ""
    collection = LabelData(
        bag="Apheresis collection (for processing)",
        din=batch.din,
        product_code=product_code_for(batch),
        product_name="HPC, Apheresis: starting material",
        subject_code=batch.patient.subject_code,
        coi_identifier=identity.coi_identifier if identity else "",
        collected_at=apheresis.ended_at if apheresis else None,
        expires_at=None,
        facility=settings.CELLBATCH_ORGANISATION_NAME,
        volume=f"{apheresis.product_volume_ml} mL" if apheresis else "",
        storage=storage,
        trial=trial,
    )
    labels = [collection]
    if batch.end_of_processing_at is not None:
        labels.append(
            replace(
                collection,
                bag="Final product (for infusion)",
                product_name=f"{batch.process_definition.code}: autologous CD133+ cells",
                expires_at=expires_at(batch),
                volume=f"{selection.final_volume_ml} mL" if selection else "",
                cell_dose=f"{selection.output_cd133_cells / 1e6:.1f} × 10⁶" if selection else "",
            )
        )
    return labels


def _format_time(moment: datetime | None) -> str:
    if moment is None:
        return "not applicable"
    return formatting.moment_both(moment, seconds=False)


def _barcode(canvas: Canvas, data: str, *, x: float, top: float, width: float, height: float = BAR_HEIGHT) -> float:
    """Draw a Code 128 barcode of ``data`` below ``top``, its module sized to fit ``width`` with quiet zones.

    Returns the y of its lower edge.
    """
    from reportlab.graphics.barcode.code128 import Code128  # drawing only (see render_labels)

    modules = Code128(data, barWidth=1, barHeight=height, humanReadable=False, quiet=0).width + 2 * QUIET_MODULES
    module = min(MAX_MODULE, width / modules)
    quiet = QUIET_MODULES * module
    symbol = Code128(data, barWidth=module, barHeight=height, humanReadable=False, lquiet=quiet, rquiet=quiet)
    symbol.drawOn(canvas, x, top - height)
    return top - height


def _text(canvas: Canvas, x: float, y: float, text: str, size: float = 7, bold: bool = False) -> float:
    """Draw ``text`` with its top at ``y``; returns the y below it (one line)."""
    canvas.setFont("Helvetica-Bold" if bold else "Helvetica", size)
    canvas.drawString(x, y - size * 0.8, text)
    return y - size * 1.25


def _fit(canvas: Canvas, text: str, width: float, size: float, font: str = "Helvetica-Bold") -> float:
    while size > 5 and canvas.stringWidth(text, font, size) > width:
        size -= 0.25
    return size


def _draw_din(canvas: Canvas, label: LabelData) -> None:
    din = isbt128.Din(label.din)
    left, width = MARGIN, HALF - 2 * MARGIN
    y = _text(canvas, left, PAGE[1] - MARGIN, "Donation Identification Number (ISBT 128)", 5.5)
    y = _barcode(canvas, din.barcode_data, x=left, top=y - 1 * mm, width=width) - 2 * mm
    size = _fit(canvas, din.eye_readable, width - 9 * mm, 11)
    _text(canvas, left, y, din.eye_readable, size, bold=True)
    text_width = canvas.stringWidth(din.eye_readable, "Helvetica-Bold", size)
    # Flag characters print rotated beside the DIN; the check character sits in its box.
    canvas.saveState()
    canvas.translate(left + text_width + 2.6 * mm, y - 4.6 * mm)
    canvas.rotate(90)
    canvas.setFont("Helvetica", 5)
    canvas.drawString(0, 0, din.flags)
    canvas.restoreState()
    box_x = left + text_width + 3.2 * mm
    canvas.setLineWidth(0.8)
    canvas.rect(box_x, y - 5 * mm, 5 * mm, 5 * mm)
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawCentredString(box_x + 2.5 * mm, y - 3.8 * mm, din.check_character)


def _draw_product(canvas: Canvas, label: LabelData) -> None:
    left, width = HALF + MARGIN, HALF - 2 * MARGIN
    y = _text(canvas, left, PAGE[1] - MARGIN, "Product code", 5.5)
    y = _barcode(canvas, isbt128.product_code_barcode_data(label.product_code), x=left, top=y - 1 * mm, width=width)
    y = _text(canvas, left, y - 2 * mm, label.product_code, 11, bold=True) - 1 * mm
    y = _text(canvas, left, y, label.product_name, _fit(canvas, label.product_name, width, 6.5, "Helvetica"))
    y = _text(canvas, left, y, label.bag, _fit(canvas, label.bag, width, 6.5), bold=True)
    y = _text(canvas, left, y, "For clinical trial use only", 6.5)
    for line in label.particulars:
        y = _text(canvas, left, y, line, _fit(canvas, line, width, 6, "Helvetica"))


def _draw_dates(canvas: Canvas, label: LabelData) -> None:
    left, width = MARGIN, HALF - 2 * MARGIN
    codes = label.barcodes
    y = _text(canvas, left, HALF - MARGIN, "Collection date and time", 5.5)
    if "collection" in codes:
        y = _barcode(canvas, codes["collection"], x=left, top=y - 1 * mm, width=width, height=7 * mm) - 1 * mm
    y = _text(canvas, left, y, _format_time(label.collected_at), 6.5) - 2 * mm
    y = _text(canvas, left, y, "EXPIRY date and time", 6, bold=True)
    if "expiry" in codes:
        y = _barcode(canvas, codes["expiry"], x=left, top=y - 1 * mm, width=width, height=7 * mm) - 1 * mm
    _text(canvas, left, y, _format_time(label.expires_at), 6.5, bold=label.expires_at is not None)


def _draw_patient(canvas: Canvas, label: LabelData) -> None:
    left, width = HALF + MARGIN, HALF - 2 * MARGIN
    top = HALF - MARGIN
    warning = "FOR AUTOLOGOUS USE ONLY"
    canvas.setLineWidth(1.2)
    canvas.rect(left, top - 7 * mm, width, 7 * mm)
    size = _fit(canvas, warning, width - 2 * mm, 9)
    canvas.setFont("Helvetica-Bold", size)
    canvas.drawCentredString(left + width / 2, top - 4.6 * mm, warning)
    y = _text(canvas, left, top - 9 * mm, "Patient (trial subject code)", 5.5)
    y = _text(canvas, left, y, label.subject_code, 11, bold=True) - 1.5 * mm
    y = _text(canvas, left, y, "Chain of identity", 5.5)
    if label.coi_identifier:
        y = _barcode(canvas, label.coi_identifier, x=left, top=y - 1 * mm, width=width, height=7 * mm) - 1 * mm
        y = _text(canvas, left, y, label.coi_identifier, 7.5, bold=True)
    if label.label_id:
        y = _barcode(canvas, label.label_id, x=left, top=y - 1 * mm, width=width, height=5 * mm) - 0.5 * mm
        _text(canvas, left, y, f"Label {label.label_id}", 6)
    _text(canvas, left, MARGIN + 2 * mm, label.facility[:48], 5)


def _cross_out(canvas: Canvas) -> None:
    """A band across the page: a preview of a label is never a label (labels are issued, with an id)."""
    canvas.saveState()
    canvas.translate(PAGE[0] / 2, PAGE[1] / 2)
    canvas.rotate(45)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(-80 * mm, -6 * mm, 160 * mm, 12 * mm, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawCentredString(0, -1.5 * mm, "SPECIMEN: NOT A LABEL, DO NOT USE ON A BAG")
    canvas.restoreState()


def render_labels(labels: list[LabelData], *, specimen: bool = False) -> bytes:
    """A PDF with one label page per bag; a ``specimen`` is crossed out so that it cannot go on a bag."""
    # ReportLab's canvas and barcodes are imported when labels are drawn, not by every process that
    # imports the label data (docs/decisions.md D-startup-2).
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, pageCompression=1)
    canvas.setTitle(f"Labels {labels[0].din if labels else ''}")
    for label in labels:
        canvas.setLineWidth(0.6)
        canvas.line(HALF, MARGIN, HALF, PAGE[1] - MARGIN)
        canvas.line(MARGIN, HALF, PAGE[0] - MARGIN, HALF)
        _draw_din(canvas, label)
        _draw_product(canvas, label)
        _draw_dates(canvas, label)
        _draw_patient(canvas, label)
        if specimen:
            _cross_out(canvas)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def batch_labels_pdf(batch: Batch) -> bytes:
    """The batch's labels as they stand, as a crossed-out specimen: labels that go on a bag are issued
    through ``batches.release.labelling.label_print``, each with its own id and the print on record."""
    return render_labels(labels_for_batch(batch), specimen=True)
