"""Barcodes of the record, each drawn once as a PDF form XObject and placed wherever needed.

A QR code costs tens of milliseconds to encode and draw; drawing it once per document and
referencing the form on each page keeps an 8-page record fast and the file small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import qrcode
import qrcode.constants
from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

QUIET_ZONE = 4.0  # points of white space kept around a Code 128 symbol


@dataclass(frozen=True)
class Form:
    """A named form XObject: its size is known before any canvas exists, its drawing comes later."""

    name: str
    width: float
    height: float
    paint: Callable[[Canvas], None]

    def define(self, canvas: Canvas) -> None:
        canvas.beginForm(self.name, 0, 0, self.width, self.height)
        self.paint(canvas)
        canvas.endForm()


def code128(name: str, value: str, *, bar_height: float, bar_width: float = 0.75) -> Form:
    """``value`` as a Code 128 symbol (the caller prints the human-readable text)."""
    symbol = Code128(value, barHeight=bar_height, barWidth=bar_width, quiet=0)
    return Form(
        name,
        float(symbol.width) + 2 * QUIET_ZONE,
        bar_height,
        lambda canvas: symbol.drawOn(canvas, QUIET_ZONE, 0),
    )


def qr(name: str, value: str, *, size: float) -> Form:
    """``value`` as a QR code (error correction M), ``size`` points square."""
    # A fixed mask pattern: every mask is a valid QR code, and searching for the "best" of eight
    # costs about 70 ms per code for no gain in readability at this size.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=2)
    code.add_data(value.encode())
    code.make(fit=True)
    matrix = code.get_matrix()
    module = size / len(matrix)

    def paint(canvas: Canvas) -> None:
        canvas.setFillColorRGB(0, 0, 0)
        path = canvas.beginPath()
        for r, row in enumerate(matrix):
            y = size - (r + 1) * module
            c = 0
            while c < len(row):
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < len(row) and row[c]:
                    c += 1
                # One rectangle per horizontal run of dark modules: far fewer drawing operations.
                path.rect(start * module, y, (c - start) * module, module)
        canvas.drawPath(path, stroke=0, fill=1)

    return Form(name, size, size, paint)


class FormFlowable(Flowable):
    """Place a form XObject in the story, scaled to ``width`` (keeps its aspect ratio)."""

    def __init__(self, form: Form, width: float | None = None) -> None:
        super().__init__()
        self.form = form
        self.scale = (width / form.width) if width else 1.0
        self.width = form.width * self.scale
        self.height = form.height * self.scale

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.saveState()
        self.canv.scale(self.scale, self.scale)
        self.canv.doForm(self.form.name)
        self.canv.restoreState()
