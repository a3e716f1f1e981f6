"""The PDF document around the sections: page furniture, barcodes, and the single build pass.

Page furniture (header with the batch barcode, footer with "Page X of Y", the batch number and the
snapshot hash) is drawn by a canvas that holds pages back until the total is known, so one pass
suffices. Barcodes are form XObjects defined once per document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate

from batches.pdf import barcodes, fonts
from batches.pdf.render import audit, cover, custody, quality, signatures, steps
from batches.pdf.render.layout import FOOTER_H, FRAME_W, GRID, HEADER_H, KIND_TITLES, MARGIN, PAGE_H, PAGE_W, Writer
from batches.snapshot import Snapshot

DEMO_RED = colors.HexColor("#b42318")
DEMO_BAND = colors.HexColor("#f6d5d2")

# The record's sections in the order they print.
SECTIONS: tuple[Callable[[Writer], None], ...] = (
    cover.cover,
    cover.process,
    steps.steps,
    quality.qc,
    quality.deviations,
    quality.release,
    custody.infusion,
    signatures.signatures,
    signatures.transitions,
    audit.audit,
)


def story(snapshot: Snapshot, forms: dict[str, barcodes.Form], digest: str) -> list[Flowable]:
    writer = Writer(snapshot, forms, digest)
    for section in SECTIONS:
        section(writer)
    return writer.story


def pdf_date(iso: str) -> str:
    """The PDF date string (ISO 32000-1, 7.9.4) of an ISO 8601 time, in UTC: ``D:20260504091203+00'00'``."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")


def _canvas_class(
    forms: Sequence[barcodes.Form], footer: Callable[[Canvas, int, int], None], issued: str
) -> type[Canvas]:
    class RecordCanvas(Canvas):
        """Holds pages back until the end, then draws each footer with the page total."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # The document's creation and modification dates are the time of issue (when the
            # snapshot was taken), not the build's clock: the same snapshot still gives the same bytes.
            self.setDateFormatter(lambda *_: issued)
            self._held: list[dict[str, Any]] = []
            for form in forms:
                form.define(self)

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, 1):
                self.__dict__.update(state)
                footer(self, number, total)
                Canvas.showPage(self)
            Canvas.save(self)

    return RecordCanvas


def demonstration_mark(canvas: Canvas, mark: str, baseline: float) -> None:
    """A demonstration batch's mark: a red line in the header and a pale diagonal band under the page."""
    canvas.saveState()
    canvas.setFillColor(DEMO_RED)
    canvas.setFont(fonts.BOLD, 9)
    canvas.drawString(MARGIN, baseline, fonts.plain(mark))
    # Drawn before the page's content, so the band lies under the text and never hides a value.
    canvas.setFillColor(DEMO_BAND)
    canvas.translate(PAGE_W / 2, PAGE_H / 2)
    canvas.rotate(45)
    canvas.setFont(fonts.BOLD, 28)
    canvas.drawCentredString(0, 0, fonts.plain(mark))
    canvas.restoreState()


def _forms(s: Snapshot, digest: str) -> dict[str, barcodes.Form]:
    c = s.cover
    forms = {
        "code_batch": barcodes.code128("CodeBatch", c.batch_number, bar_height=14 * mm),
        "header_batch": barcodes.code128("HeaderBatch", c.batch_number, bar_height=7 * mm, bar_width=0.55),
        "qr": barcodes.qr(
            "QrRecord",
            f"BATCH:{c.batch_number}|DIN:{c.din}{c.din_check}|COI:{c.coi_id}|SHA256:{digest}",
            size=30 * mm,
        ),
    }
    if c.din_check:
        forms["code_din"] = barcodes.code128("CodeDin", f"={c.din}", bar_height=14 * mm)
    return forms


def render(snapshot: Snapshot) -> tuple[bytes, int]:
    """The record as PDF bytes, and its page count. The same snapshot always gives the same bytes.

    Drawn in the language the record was issued in (``snapshot.language``), whoever renders it."""
    with translation.override(snapshot.language):
        return _render(snapshot)


def _render(snapshot: Snapshot) -> tuple[bytes, int]:
    fonts.register()
    digest = snapshot.sha256()  # hashing the whole snapshot is not free: once per record
    forms = _forms(snapshot, digest)
    c = snapshot.cover
    title = KIND_TITLES.get(snapshot.document_kind, "Batch record")
    header_code = forms["header_batch"]
    pages: list[int] = []

    def header(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        top = PAGE_H - MARGIN
        canvas.setFont(fonts.BOLD, 9)
        canvas.drawString(
            MARGIN, top - 9, fonts.plain(_("%(title)s · batch %(batch)s") % {"title": title, "batch": c.batch_number})
        )
        canvas.setFont(fonts.REGULAR, 7.5)
        canvas.drawString(
            MARGIN,
            top - 19,
            fonts.plain(
                _("%(organisation)s · subject %(subject)s · revision %(revision)s")
                % {"organisation": c.organisation, "subject": c.subject_code, "revision": snapshot.revision}
            ),
        )
        if c.demonstration:
            demonstration_mark(canvas, c.demonstration, top - 31)
        canvas.translate(PAGE_W - MARGIN - header_code.width, top - header_code.height)
        canvas.doForm(header_code.name)
        canvas.restoreState()
        canvas.setStrokeColor(GRID)
        canvas.line(MARGIN, PAGE_H - MARGIN - HEADER_H + 3 * mm, PAGE_W - MARGIN, PAGE_H - MARGIN - HEADER_H + 3 * mm)

    def footer(canvas: Canvas, number: int, total: int) -> None:
        pages.append(total)
        canvas.saveState()
        canvas.setStrokeColor(GRID)
        canvas.line(MARGIN, MARGIN + FOOTER_H - 4 * mm, PAGE_W - MARGIN, MARGIN + FOOTER_H - 4 * mm)
        canvas.setFont(fonts.REGULAR, 7.5)
        canvas.drawString(
            MARGIN,
            MARGIN + 2 * mm,
            fonts.plain(
                _("Batch %(batch)s · %(title)s, revision %(revision)s")
                % {"batch": c.batch_number, "title": title, "revision": snapshot.revision}
            ),
        )
        canvas.drawCentredString(PAGE_W / 2, MARGIN - 2 * mm, f"{_('Snapshot SHA-256')} {digest}")
        canvas.setFont(fonts.BOLD, 8)
        canvas.drawRightString(
            PAGE_W - MARGIN, MARGIN + 2 * mm, _("Page %(number)s of %(total)s") % {"number": number, "total": total}
        )
        canvas.restoreState()

    buffer = BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_H,
        bottomMargin=MARGIN + FOOTER_H,
        title=_("%(title)s %(batch)s revision %(revision)s")
        % {"title": title, "batch": c.batch_number, "revision": snapshot.revision},
        author=c.organisation,
        subject=f"{_('Snapshot SHA-256')} {digest}",
        creator="CellBatch",
        invariant=1,
        # Every font of the record is embedded: the canvas starts in the record's own font, not in
        # ReportLab's default Helvetica (a base-14 font that is never embedded).
        initialFontName=fonts.REGULAR,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, FRAME_W, doc.height, id="body", leftPadding=0, rightPadding=0)
    doc.addPageTemplates([PageTemplate(id="record", frames=[frame], onPage=header)])
    doc.build(
        story(snapshot, forms, digest),
        canvasmaker=_canvas_class(list(forms.values()), footer, pdf_date(snapshot.taken_at)),
    )
    return buffer.getvalue(), pages[-1] if pages else 0
